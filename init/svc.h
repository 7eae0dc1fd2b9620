/* svc.h: the supervisor's runtime state: one struct svc per service, driven by events from main's loop
 * (child exits, probe results, readable pipes, deadlines, control requests). */
#ifndef KILN_SVC_H
#define KILN_SVC_H

#include "kiln.h"

#include <poll.h>

#define PROBE_EXEC_MAX_MS 15000 /* an exec probe still running then is killed */
#define PROBE_CONNECT_MAX_MS 1000
#define PROBE_KILL_AGAIN_MS 5000 /* a killed probe still there is killed again then */

enum svc_state {
	ST_WAITING,  /* requirements not ready yet */
	ST_STARTING, /* running, readiness not confirmed */
	ST_READY,
	ST_BACKOFF,  /* failed, restart scheduled */
	ST_STOPPING,
	ST_STOPPED,  /* stopped by request or shutdown, or a longrun that ended by policy */
	ST_FAILED,   /* gave up: missing binary, bad user, restart = never ... */
	ST_DONE,     /* oneshot finished with 0 */
	ST_DISABLED, /* condition false */
	ST_SCHEDULED /* a job between runs */
};

struct svc {
	struct svc_def d;
	enum svc_state state;
	pid_t pid, probe_pid;
	int64_t started, ready_deadline, next_probe, probe_deadline, restart_at, stop_deadline, next_run;
	int attempt, restarts, last_status, blocked, restart_pending, timed_out;
	int log_r, log_w; /* the service's output pipe, kept for the service's lifetime */
	int notify_r;     /* ready = notify: the read end; ready = sd_notify: the socket */
	int probe_fd;     /* ready = tcp|unix: a connect under way */
	int log_slot;     /* its output's place in the log writer's queue (logd.c); -1 before */
	char reason[160];
	int job_runs, job_failures, job_last_status, job_fail_streak; /* streak: failed runs since the last ok one */
	int job_timeout_s; /* this run's timeout */
	int64_t job_last_start, job_last_ok, job_last_fail; /* ms; 0 = never */
	char job_fail_reason[120]; /* the failed run's last line of output, or how it ended */
	char last_line[120];       /* the last line the service wrote */
	char last_error[120];      /* the last line that reads as an error (Error:, a fatal log line) */
	int64_t ready_after;       /* ms from this run's start to ready; -1 before */
};

int svc_every(struct svc *s);

extern struct svc *svcs;
extern int nsvcs;
extern int shutting_down;  /* 0, or the reboot(2) command to end with */
extern int64_t boot_offset; /* ms subtracted from boot time: a sandboxed init counts from its own start */
extern char svc_disabled[256]; /* kiln.disable= of the kernel command line, as cmdline_parse keeps it */

/* cgroup.c: a cgroup (v2) per service */
void cgroup_setup(int sandbox);
int cgroup_prepare(struct svc *s);
int cgroup_enter(const struct svc *s);
void cgroup_kill(const struct svc *s);
void cgroup_usage(const struct svc *s, long long *mem, long long *cpu_us);

/* svctab.c: loading and reporting */
void svc_load_all(const char *dir);
void svc_status(char *out, size_t len, const char *only);
void svc_metrics(char *out, size_t len); /* the same, as Prometheus text (initctl metrics) */

/* svc.c: the state machine */
int svc_is_job(const struct svc *s);
void svc_tick(int64_t now);      /* start what can start, probe, restart, stop on deadlines */
int64_t svc_next_deadline(void); /* the nearest deadline, or -1 */
void svc_child_exited(pid_t pid, int status);
int svc_fill_poll(struct pollfd *p, int max);
void svc_fd_event(int fd, short revents);
void svc_set_ready(struct svc *s);
void svc_stop(struct svc *s, int64_t now);
int svc_shutdown_overdue(int64_t now); /* past the shutdown's bound: says what is left, 1 */
void svc_start_request(struct svc *s);
void svc_restart_request(struct svc *s);
struct svc *svc_find(const char *name);
const char *svc_state_name(enum svc_state st);
int svc_all_stopped(void);
void svc_begin_shutdown(int cmd);

/* The boot summary, handed over once when it is said: 1 every service ready, 0 degraded; -1 before, and after. */
int svc_summary_take(void);
/* The boot summary for reports: 1 ready, 0 degraded, -1 not said yet; *cs its time in hundredths of a second. */
int svc_summary_get(long long *cs);
void svc_close_logs(void);

/* logd.c: the log writer (a child of PID 1) and PID 1's non-blocking way to it */
int logd_slot(const char *name, long max, int keep); /* a service's slot; the writer starts with the first */
void logd_send(int slot, const char *buf, size_t len);
unsigned long logd_dropped(int slot);
int logd_fill_poll(struct pollfd *p);
void logd_event(short revents);
void logd_tick(int64_t now);
int64_t logd_next_deadline(void);
int logd_exited(pid_t pid, int status); /* 1 when PID was the writer: said, and started again after a delay */
void logd_finish(int limit_ms);

/* spawn.c: a service's process (or its exec probe) with its user, environment and output */
pid_t spawn_service(struct svc *s, int notify_w);
pid_t spawn_probe(struct svc *s);
/* ready = sd_notify: where the service's socket is, as its NOTIFY_SOCKET says (probe.c binds it) */
void notify_socket_path(const struct svc *s, char *path, size_t len);

/* probe.c: readiness checks; each returns 1 when the service is ready now (svc.c then sets it so) */
int probe_run(struct svc *s, int64_t now);
int probe_connect_done(struct svc *s, int64_t now);
void probe_cancel(struct svc *s);
int probe_notify_readable(struct svc *s);
/* ready = sd_notify: the service's datagram socket, bound at *PATH (LEN) for NOTIFY_SOCKET; -1 if it cannot be. */
int notify_socket_open(const struct svc *s, char *path, size_t len);
/* Closes a starting service's notify fd or socket (and removes the socket's name). */
void notify_close(struct svc *s);
int probe_exec_exited(struct svc *s, int status, int64_t now);

/* control.c: the control socket */
int control_open(const char *path);
int control_fill_poll(int lfd, struct pollfd *p, int max);
void control_event(int lfd, int fd, short revents);
void control_tick(int64_t now);
int64_t control_next_deadline(void);

/* shutdown.c: the end of PID 1 */
void shutdown_final(int cmd, int sandbox);

#endif
