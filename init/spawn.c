/* spawn.c: how a service's process (or its exec readiness probe) is made: the checks before fork, its
 * environment, user and groups, limits, a clean signal state, its own session and its output pipe. */
#include "svc.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SERVICE_PATH "/usr/sbin:/usr/bin:/sbin:/bin"
#define NOFILE_HARD 1048576 /* Go services (etcd, containerd) raise their soft limit to this themselves */

struct who {
	uid_t uid;
	gid_t gid;
	gid_t groups[KILN_GROUPS_MAX];
	int ngroups; /* 0: keep init's credentials */
	char home[256];
};

static int command_path(const char *cmd, char *out, size_t len)
{
	if (strchr(cmd, '/')) {
		snprintf(out, len, "%s", cmd);
		return access(out, X_OK);
	}
	for (const char *d = SERVICE_PATH; *d;) {
		size_t l = strcspn(d, ":");
		snprintf(out, len, "%.*s/%s", (int)l, d, cmd);
		if (access(out, X_OK) == 0)
			return 0;
		d += l + (d[l] == ':');
	}
	snprintf(out, len, "%s", cmd);
	return -1;
}

void notify_socket_path(const struct svc *s, char *path, size_t len)
{
	snprintf(path, len, "%s/notify/%s", kiln_path("KILN_RUN", "/run/kiln"), s->d.name);
}

/* PATH, HOME, HOSTNAME, then the service's env and envfile lines in file order (a later key wins). */
static int build_env(struct svc *s, char ***env, int *n, const char *home)
{
	char kv[512], host[256] = "";
	gethostname(host, sizeof host - 1);
	env_set(env, n, "PATH=" SERVICE_PATH);
	snprintf(kv, sizeof kv, "HOME=%s", home);
	env_set(env, n, kv);
	snprintf(kv, sizeof kv, "HOSTNAME=%s", host);
	env_set(env, n, kv);
	for (int i = 0; i < s->d.nenv; i++) {
		struct env_item *e = &s->d.env[i];
		if (!e->is_file)
			env_set(env, n, e->text);
		else if (env_load_file(env, n, e->text) && !e->optional) {
			snprintf(s->reason, sizeof s->reason, "envfile %s: %s", e->text, strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* A scheduled job's interval: every = ${NAME:-N} reads NAME from the service's environment at each scheduling,
 * so the machine's identity (env files) sets it; N when it is absent or not a number of seconds. */
int svc_every(struct svc *s)
{
	char **env = NULL, reason[sizeof s->reason];
	int n = 0, every = s->d.every;
	size_t klen = strlen(s->d.every_var);
	if (!klen)
		return every;
	memcpy(reason, s->reason, sizeof reason); /* a missing optional env file is no failure of the job */
	if (build_env(s, &env, &n, "/") == 0)
		for (int i = 0; i < n; i++)
			if (!strncmp(env[i], s->d.every_var, klen) && env[i][klen] == '=') {
				char *end;
				long v = strtol(env[i] + klen + 1, &end, 10);
				if (end != env[i] + klen + 1 && !*end && v >= 1 && v <= 86400L * 366)
					every = (int)v;
			}
	memcpy(s->reason, reason, sizeof reason);
	for (int i = 0; i < n; i++)
		free(env[i]);
	free(env);
	return every;
}

static int resolve_user(struct svc *s, struct who *w)
{
	memset(w, 0, sizeof *w);
	snprintf(w->home, sizeof w->home, "/");
	if (!s->d.user[0])
		return 0;
	if (lookup_user(s->d.user, &w->uid, &w->gid, w->home, sizeof w->home)) {
		snprintf(s->reason, sizeof s->reason, "unknown user %s", s->d.user);
		return -1;
	}
	w->ngroups = lookup_groups(s->d.user, w->gid, w->groups, KILN_GROUPS_MAX);
	if (w->ngroups < 1) {
		w->groups[0] = w->gid;
		w->ngroups = 1;
	}
	return 0;
}

static void make_dirs(const struct svc *s)
{
	for (int i = 0; i < s->d.ndirs; i++) {
		const struct dir_item *d = &s->d.dirs[i];
		uid_t u;
		gid_t g;
		if (mkdir_p(d->path, d->mode))
			dprintf(2, "kiln: %s: dir %s: %s\n", s->d.name, d->path, strerror(errno));
		chmod(d->path, d->mode);
		if (d->user[0] && lookup_user(d->user, &u, &g, NULL, 0) == 0 && chown(d->path, u, g))
			dprintf(2, "kiln: %s: chown %s: %s\n", s->d.name, d->path, strerror(errno));
	}
}

/* Standard input, output and error: the tty, or /dev/null and the log pipe (probes: /dev/null). */
static void child_stdio(const struct svc *s, int probe)
{
	int null = open("/dev/null", O_RDWR);
	if (s->d.tty && !probe) {
		int fd = open(s->d.tty, O_RDWR);
		if (fd >= 0) {
			ioctl(fd, TIOCSCTTY, 1);
			dup2(fd, 0), dup2(fd, 1), dup2(fd, 2);
			return;
		}
	}
	dup2(null, 0);
	dup2(probe || s->log_w < 0 ? null : s->log_w, 1);
	dup2(probe || s->log_w < 0 ? null : s->log_w, 2);
}

/* In the child, as root: keep the permitted capabilities through setuid (the ones asked for are set after it). */
static int keep_caps(unsigned long long caps)
{
	return caps ? prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) : 0;
}

/* In the child, now the service's user: the capabilities it asked for and no other, permitted, effective,
 * inheritable and ambient, so they survive execve of a program that has no file capabilities. */
static int raise_caps(unsigned long long caps)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct c[2];
	if (!caps)
		return 0;
	memset(c, 0, sizeof c);
	for (int i = 0; i < 2; i++)
		c[i].permitted = c[i].effective = c[i].inheritable = (__u32)(caps >> (32 * i));
	if (syscall(SYS_capset, &h, c))
		return -1;
	for (int cap = 0; cap < 64; cap++)
		if (caps >> cap & 1 && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, (long)cap, 0L, 0L))
			return -1;
	return prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L);
}

/* In the child: everything a service starts with. Never returns; exec failure is 127. */
static void child_exec(struct svc *s, char **argv, char **env, const struct who *w, int notify_w, int probe)
{
	struct rlimit rl = {.rlim_cur = 0, .rlim_max = NOFILE_HARD};
	const unsigned long long caps = probe ? 0 : s->d.caps; /* a readiness probe gets none */
	child_reset();
	setsid();
	if (!probe)
		make_dirs(s);
	child_stdio(s, probe);
	if (notify_w >= 0) {
		int fd = atoi(s->d.ready_arg);
		if (notify_w != fd)
			dup2(notify_w, fd);
		else
			fcntl(fd, F_SETFD, 0);
	}
	child_close_fds(notify_w >= 0 ? atoi(s->d.ready_arg) : -1);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max < NOFILE_HARD) {
		rl.rlim_max = NOFILE_HARD;
		setrlimit(RLIMIT_NOFILE, &rl); /* only root may raise it: a sandboxed init keeps what it has */
	}
	if (!probe && s->d.ready == READY_SD_NOTIFY && w->ngroups) { /* its socket: the service's alone */
		char path[300];
		notify_socket_path(s, path, sizeof path);
		if (chown(path, w->uid, w->gid))
			dprintf(2, "kiln: %s: %s: %s\n", s->d.name, path, strerror(errno));
	}
	if (!probe && cgroup_enter(s))
		dprintf(2, "kiln: %s: not in its cgroup: %s\n", s->d.name, strerror(errno));
	if (w->ngroups && (setgroups((size_t)w->ngroups, w->groups) || setgid(w->gid) || keep_caps(caps) ||
			   setuid(w->uid))) {
		dprintf(2, "kiln: %s: cannot become %u:%u: %s\n", s->d.name, (unsigned)w->uid, (unsigned)w->gid,
			strerror(errno));
		_exit(127);
	}
	if (w->ngroups && raise_caps(caps)) {
		dprintf(2, "kiln: %s: cannot keep its capabilities: %s\n", s->d.name, strerror(errno));
		_exit(127);
	}
	if (chdir(w->home))
		(void)!chdir("/");
	execve(argv[0], argv, env);
	dprintf(2, "kiln: %s: exec %s: %s\n", s->d.name, argv[0], strerror(errno));
	_exit(127);
}

/* Prepares argv and env for CMD and forks. -1 with s->reason set when it cannot start. */
static pid_t spawn(struct svc *s, const char *cmd, int probe, int notify_w)
{
	struct who w;
	char **env = NULL, *expanded = NULL, *argv[KILN_ARGS_MAX], path[512];
	int nenv = 0;
	pid_t pid = -1;

	if (resolve_user(s, &w))
		return -1;
	if (build_env(s, &env, &nenv, w.home))
		goto out;
	if (!probe && s->d.ready == READY_SD_NOTIFY) {
		char kv[320];
		snprintf(kv, sizeof kv, "NOTIFY_SOCKET=");
		notify_socket_path(s, kv + strlen(kv), sizeof kv - strlen(kv));
		if (env_set(&env, &nenv, kv))
			goto out;
	}
	expanded = expand_vars(cmd, env, nenv);
	if (!expanded || split_args(expanded, argv, KILN_ARGS_MAX) < 1) {
		snprintf(s->reason, sizeof s->reason, "bad command line");
		goto out;
	}
	if (command_path(argv[0], path, sizeof path)) {
		snprintf(s->reason, sizeof s->reason, "%s: not found", path);
		goto out;
	}
	argv[0] = path;
	pid = fork();
	if (pid == 0)
		child_exec(s, argv, env, &w, notify_w, probe);
	if (pid < 0)
		snprintf(s->reason, sizeof s->reason, "fork: %s", strerror(errno));
out:
	free(expanded);
	env_free(env, nenv);
	return pid;
}

pid_t spawn_service(struct svc *s, int notify_w)
{
	return spawn(s, s->d.command, 0, notify_w);
}

pid_t spawn_probe(struct svc *s)
{
	return spawn(s, s->d.ready_arg, 1, -1);
}
