/* kiln.h: the types and entry points shared by kiln's init (PID 1), its pure logic and initctl.
 * Pure logic (parsers, ordering, backoff, naming) lives in files without syscalls beyond plain file I/O,
 * so the unit tests link it on the host. */
#ifndef KILN_H
#define KILN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define KILN_NAME_MAX 64
#define KILN_ARGS_MAX 256

/* ---- service definitions (svcfile.c) ---- */
enum ready_kind { READY_NONE, READY_TCP, READY_UNIX, READY_EXEC, READY_NOTIFY, READY_SD_NOTIFY };
enum svc_type { TYPE_LONGRUN, TYPE_ONESHOT };
enum restart_policy { RESTART_ALWAYS, RESTART_ON_FAILURE, RESTART_NEVER };
enum cond_kind { COND_NONE, COND_EXISTS, COND_MISSING };
#define KILN_CONDS_MAX 4

struct env_item {
	int is_file;  /* envfile = PATH */
	int optional; /* envfile = -PATH */
	char *text;   /* KEY=VALUE, or the path */
};

struct dir_item {
	char *path;
	mode_t mode;
	char user[KILN_NAME_MAX];
};

struct svc_def {
	char name[KILN_NAME_MAX];
	char *command;
	char user[KILN_NAME_MAX];
	char **requires;
	int nrequires;
	enum ready_kind ready;
	char *ready_arg;
	int ready_timeout; /* seconds */
	enum svc_type type;
	enum restart_policy restart;
	int every; /* seconds; 0 = not a scheduled job */
	int timeout; /* a job's longest run, seconds; 0 = its interval, at least 60 s */
	char every_var[64]; /* every = ${NAME:-N}: the interval from the service's environment, N without it */
	int stop_signal;
	int stop_timeout;
	struct env_item *env;
	int nenv;
	struct dir_item *dirs;
	int ndirs;
	enum cond_kind cond[KILN_CONDS_MAX]; /* every one must hold for the service to run */
	char *cond_path[KILN_CONDS_MAX];
	int nconds;
	char *tty;
	long log_size;
	int log_keep;
	int data_required; /* data = required: keeps on DATA what must survive, so runs only where DATA is usable */
	unsigned long long caps; /* capabilities = NAME...: kept (ambient) across the switch to user; bit = CAP_ number */
	long long memory_max;    /* bytes, 0 = no limit (cgroup memory.max) */
	int pids_max;            /* 0 = no limit (cgroup pids.max) */
	int kill_process;        /* kill = process: what the main process started outlives it (not killed with it) */
};

int svcdef_parse(const char *name, const char *text, struct svc_def *d, char *err, size_t errlen);
void svcdef_free(struct svc_def *d);
int signal_by_name(const char *s);
int capability_by_name(const char *s);

/* ---- strings and environments (strutil.c) ---- */
int split_args(char *s, char **argv, int max);
/* Whether S matches the glob PAT as modules.alias writes them: '*', '?', '[a-z]' ('!' or '^' first negates). */
int glob_match(const char *pat, const char *s);
int env_set(char ***env, int *n, const char *kv);
const char *env_get(char **env, int n, const char *key);
int env_load_file(char ***env, int *n, const char *path);
char *expand_vars(const char *s, char **env, int n);
int line_is_error(const char *s, size_t len);
void env_free(char **env, int n);

/* ---- dependency order (deps.c) ---- */
/* Fills order[] with the indexes of the services that can start, requirements first; returns their count.
 * bad[i] is set for services that cannot start: 1 unknown requirement, 2 in or behind a cycle. */
int deps_order(struct svc_def **defs, int n, int *order, int *bad, char *err, size_t errlen);
int deps_find(struct svc_def **defs, int n, const char *name);

/* ---- restart backoff (backoff.c) ---- */
#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS 30000
#define BACKOFF_RESET_MS 60000
int64_t backoff_delay(int attempt);
int64_t backoff_after_exit(int *attempt, int64_t ran_ms);
extern int64_t backoff_fixed_ms; /* 0, or every delay (a sandboxed fault test) */
int64_t probe_interval(int64_t started_for); /* ms between readiness checks */

/* ---- scheduled jobs (sched.c) ---- */
int64_t sched_first(int64_t boot_ms, int every_s);
int64_t sched_next(int64_t started_ms, int every_s, int64_t now_ms);

/* ---- service logs (logfile.c) ---- */
struct logfile {
	char path[512];
	int fd;
	long size;
	long max;
	int keep;
};
int logfile_open(struct logfile *l, const char *dir, const char *name, long max, int keep);
int logfile_write(struct logfile *l, const char *buf, size_t len);
int logfile_rotate(struct logfile *l);
void logfile_close(struct logfile *l);

/* ---- records to the log writer and their queue (logrec.c) ---- */
#define LOGREC_MAX 4096 /* PIPE_BUF: a record written to a pipe at once is read whole, never mixed with another */
#define LOGREC_HEAD 8
struct logrec {
	char name[KILN_NAME_MAX];
	long max;
	int keep;
	const char *data;
	size_t len;
};
/* What a service's output has cost in the queue: lines dropped (all, and not said yet); skip: the rest of a line
 * whose start was dropped is dropped too; open: the last record kept ends inside a line. */
struct logslot {
	char name[KILN_NAME_MAX];
	long max;
	int keep;
	unsigned long dropped, unsaid;
	int skip, open;
};
struct logq {
	char *buf;
	size_t cap, start, end;
};
/* How much of BUF the next record takes when ROOM bytes fit: up to its last whole line, or ROOM of a longer line. */
size_t logrec_cut(const char *buf, size_t len, size_t room);
size_t logrec_pack(char *out, const char *name, long max, int keep, const char *data, size_t len); /* 0: too long */
long logrec_parse(const char *buf, size_t len, struct logrec *r); /* its length; 0 incomplete; -1 malformed */
/* Queues LEN bytes of S's output as records; what does not fit is dropped by whole lines: their count. */
unsigned long logq_add(struct logq *q, struct logslot *s, const char *buf, size_t len);
const char *logq_front(const struct logq *q, size_t *n);
void logq_pop(struct logq *q);
size_t logq_used(const struct logq *q);

/* ---- kernel command line and network file (netconf.c) ---- */
struct cmdline {
	char root[64];
	char ip[64];
	int shell;
	int data_format_blank; /* kiln.data_format_blank: make DATA on a blank disk when there is none */
	int trial;             /* kiln.trial=SECONDS: a trial boot of an upgrade, to be ready within that time */
	char disable[256];     /* kiln.disable=NAME[,NAME...]: services left out of this boot (",a,b," once parsed) */
	int data_disk;         /* kiln.data=disk: DATA must be a disk's kiln-data (a master's etcd), never a tmpfs */
	int data_wait;         /* kiln.data_wait=SECONDS (1-3600): how long kiln.data=disk waits for it; default 60 */
};
#define DATA_WAIT_DEFAULT 60
int disable_list_has(const char *list, const char *service); /* LIST as cmdline_parse keeps kiln.disable */
void cmdline_parse(const char *s, struct cmdline *c);

/* ---- syslinux's auxiliary data vector (adv.c) ---- */
#define ADV_SIZE 512     /* one copy; the vector is two, the last 1 KiB of ldlinux.sys */
#define ADV_END 0
#define ADV_BOOTONCE 1   /* a command line run once at the next boot, then cleared by syslinux */
int adv_valid(const unsigned char adv[2 * ADV_SIZE]);
int adv_get(const unsigned char adv[2 * ADV_SIZE], int tag, char *val, size_t len); /* 0 found, 1 absent, -1 bad */
int adv_set(unsigned char adv[2 * ADV_SIZE], int tag, const char *val);

#define NET_MAX 64          /* addresses on one machine */
#define NET_MAX_ROUTES 4096 /* a route to every other node's pod subnet: 255 nodes in the default /16 */
struct net_addr {
	char dev[32];
	char mac[18];
	uint32_t addr; /* network order */
	int prefix;
};
struct net_route {
	uint32_t dst; /* network order; 0 with prefix 0 = default */
	int prefix;
	uint32_t via;
};
struct netconf {
	struct net_addr addrs[NET_MAX];
	int naddrs;
	struct net_route routes[NET_MAX_ROUTES];
	int nroutes;
};
int netconf_parse(const char *text, struct netconf *nc, char *err, size_t errlen);
int netconf_from_ip(const char *ip, struct netconf *nc);
int parse_cidr(const char *s, uint32_t *addr, int *prefix);
int parse_ipv4(const char *s, uint32_t *addr);

/* ---- kernel modules (modules.c) ---- */
/* Resolves NAME against a modules.dep text: appends the .ko paths to load, dependencies first.
 * Returns the count appended, 0 if built in or already listed, -1 if unknown. */
int modules_resolve(const char *dep, const char *softdep, const char *builtin, const char *name,
		    char **out, int *nout, int max);
int modules_load_all(const char *list_path);
/* Marks in WANT each of DRIVERS (NDRIVERS, not marked yet) that a device's modalias under SYSFS/bus/<bus>/devices
 * matches by one of ALIAS_TEXT's lines (modules.alias). Returns how many it marked, -1 out of memory. */
int drivers_wanted(const char *sysfs, const char *alias_text, char **drivers, int ndrivers, unsigned char *want);
/* Loads the drivers of DRIVERS_PATH (/etc/kiln/drivers) that the devices under SYSFS want, in rounds. */
void modules_load_drivers(const char *sysfs, const char *drivers_path);
/* ext4's modules (/etc/kiln/fs-modules), loaded once, just before init's first ext4 mount. */
void modules_load_fs(void);
/* 1 when a disk may still appear once the modules are loaded (an NVMe controller, USB or MMC), else 0. */
int disks_may_come_later(const char *sysfs);

/* ---- the hardware watchdog of a trial boot (watchdog.c) ---- */
#define WATCHDOG_TIMEOUT_S 60 /* a hung trial boot is reset within a minute */
#define WATCHDOG_MIN_S 30
int watchdog_timeout(int trial_s);    /* the timeout to ask the driver for */
int64_t watchdog_feed_ms(int timeout_s); /* how often to feed it */
int watchdog_arm(const char *modules, int trial_s); /* the first stage: load MODULES' drivers, arm, leave it running */
void watchdog_trial_open(void);       /* the slot's init of a trial boot: feed what the first stage armed */
void watchdog_tick(int64_t now);
int64_t watchdog_next_deadline(void);
void watchdog_disarm(void);           /* the trial committed: the magic close stops it */

/* ---- a blank disk and its DATA partition (mbr.c: pure; data.c) ---- */
#define MBR_FIRST_SECTOR 2048u  /* DATA starts at 1 MiB, aligned for any disk */
#define MBR_MIN_SECTORS 131072u /* and has at least 64 MiB */
#define BLANK_HEAD (2u << 20)   /* blank = the first 2 MiB (tables, signatures, a first partition's start) */
#define BLANK_TAIL (1u << 20)   /* and the last MiB (GPT backup, RAID and ZFS labels) read as zero */
int region_is_zero(const unsigned char *buf, size_t len);
/* One primary Linux partition from MBR_FIRST_SECTOR to the end of the disk (at most 2^32-1 sectors);
 * -1 when the disk is too small. */
int mbr_build(unsigned char mbr[512], uint64_t disk_sectors, uint32_t disk_id);
int data_format_blank(const char *label, char *dev, size_t devlen);
/* DATA found, checked and mounted on /data (or a tmpfs), with what lives there (data.c). */
int early_data(const struct cmdline *c);
/* Why DATA cannot hold what must survive (no disk under kiln.data=disk, read-only after e2fsck), or "": services
 * with `data = required` then fail with it instead of starting. */
extern char data_problem[160];

/* ---- early boot (early.c: mounts, switch_root, DATA, hostname, sysctls; net.c) ---- */
int early_mounts(void);
int early_switch_root(const char *label, char **argv);
int early_root_bind(void);
void early_hostname(void);
void early_sysctl(const char *path);
int net_setup(const struct cmdline *c);
void emergency_shell(void);
/* blockdev.c: a block device's node (from sysfs when devtmpfs has none); the ext4 filesystem labelled LABEL, waited
 * for up to WAIT_MS (the trial's watchdog fed meanwhile): 0 with its node in DEV, or -1 with ENOENT. */
void block_dev_node(const char *name, const char *path);
int find_ext4_label(const char *label, char *dev, size_t devlen, int wait_ms);
/* pollwait.c: asks FOUND(ARG) until it says yes or WAIT_MS have passed, STEP_MS apart (at least once), feeding a
 * trial boot's watchdog meanwhile: 1 found, 0 not in time. Every "wait for a device in sysfs" of early boot. */
int poll_until(int (*found)(void *), void *arg, int wait_ms, int step_ms);
/* What a FOUND callback looks for (KEY: a label, a disk, a MAC) and where it writes the name it found. */
struct poll_want {
	const char *key;
	char *out;
	size_t outlen;
};
/* child.c: fork and exec ARGV as a child of PID 1 with its signals reset (ON_CONSOLE: in a session of its own with
 * /dev/console as its terminal and stdio); the child's pid, or -1. child_reset: the signals part, for spawn.c.
 * child_close_fds: in a child, every descriptor above 2 closed but KEEP (or -1), whether close-on-exec or not.
 * early_run: ARGV run to its end, feeding the trial's watchdog; its exit status, 128+signal, or -1. */
pid_t child_start(char *const argv[], int on_console);
void child_reset(void);
void child_close_fds(int keep);
int early_run(char *const argv[]);
/* trial.c: the trial boot of an upgrade. main hands it the boot summary (trial_summary) and the time (trial_tick);
 * each returns 1 when the trial failed and the machine must reboot into the default slot. */
void trial_begin(int seconds);
int trial_tick(int64_t now);
int64_t trial_next_deadline(void);
int trial_summary(int all_ready);
void trial_boot_check(void);
/* cgroup.c: every controller DIR's cgroup.controllers offers, enabled for the groups below DIR */
void cgroup_delegate(const char *dir);

/* ---- users and groups (users.c) ---- */
#define KILN_GROUPS_MAX 64
int passwd_find(const char *text, const char *name, uid_t *uid, gid_t *gid, char *home, size_t homelen);
int group_find(const char *text, const char *name, gid_t *gid);
int group_list(const char *text, const char *user, gid_t primary, gid_t *out, int max);
int lookup_user(const char *name, uid_t *uid, gid_t *gid, char *home, size_t homelen);
int lookup_groups(const char *user, gid_t primary, gid_t *out, int max);

/* ---- util.c ---- */
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void console_nonblock(void); /* PID 1: say() never waits for the console (lines it cannot take are counted) */
/* Lines were dropped and the console may take the count now: main polls fd 2 for POLLOUT and calls say_flush with
 * what poll said (a console with no reader at all, POLLERR or POLLHUP, is not polled again until a line gets through). */
int say_pending(void);
void say_flush(short revents);
int64_t now_ms(void);
int64_t boot_ms(void);
char *read_text(const char *path, size_t *len);
int mkdir_p(const char *path, mode_t mode);
const char *kiln_path(const char *var, const char *dflt);

#endif
