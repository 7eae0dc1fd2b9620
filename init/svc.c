/* svc.c: supervision: each service's state and what each event does to it (start when requirements are
 * ready, probe readiness, restart with backoff, run scheduled jobs, stop in reverse order). */
#include "svc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROBE_INTERVAL_MS 250
#define PROBE_TIMEOUT_MS 5000

struct svc *svcs;
int nsvcs;
int shutting_down;
double boot_offset;
static int summary_done;

static const char *names[] = {"waiting", "starting", "ready", "backoff", "stopping",
			      "stopped", "failed", "done", "disabled", "scheduled"};

const char *svc_state_name(enum svc_state st) { return names[st]; }

struct svc *svc_find(const char *name)
{
	for (int i = 0; i < nsvcs; i++)
		if (!strcmp(svcs[i].d.name, name))
			return &svcs[i];
	return NULL;
}

static int is_job(const struct svc *s) { return s->d.every > 0; }

static int has_pid_state(const struct svc *s)
{
	return s->pid > 0;
}

static int cmp_names(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

void svc_load_all(const char *dir)
{
	struct dirent **ents;
	struct svc_def *defs, **dp;
	int n = scandir(dir, &ents, NULL, cmp_names), nd = 0, *order, *bad, count;
	char err[512], path[512];

	if (n < 0) {
		say("kiln: services: %s: %m", dir);
		return;
	}
	defs = calloc((size_t)n + 1, sizeof *defs);
	for (int i = 0; i < n; i++) {
		char *text;
		if (ents[i]->d_name[0] == '.') {
			free(ents[i]);
			continue;
		}
		snprintf(path, sizeof path, "%s/%s", dir, ents[i]->d_name);
		text = read_text(path, NULL);
		if (!text)
			say("kiln: %s: %m", path);
		else if (svcdef_parse(ents[i]->d_name, text, &defs[nd], err, sizeof err))
			say("kiln: %s: %s", path, err);
		else
			nd++;
		free(text);
		free(ents[i]);
	}
	free(ents);
	dp = calloc((size_t)nd + 1, sizeof *dp);
	order = calloc((size_t)nd + 1, sizeof *order);
	bad = calloc((size_t)nd + 1, sizeof *bad);
	svcs = calloc((size_t)nd + 1, sizeof *svcs);
	for (int i = 0; i < nd; i++)
		dp[i] = &defs[i];
	count = deps_order(dp, nd, order, bad, err, sizeof err);
	if (*err)
		say("kiln: services: %s", err);
	/* svcs[] is in start order; the services that can never start follow, marked failed. */
	for (int i = 0; i < count; i++)
		svcs[nsvcs++].d = defs[order[i]];
	for (int i = 0; i < nd; i++)
		if (bad[i]) {
			struct svc *s = &svcs[nsvcs++];
			s->d = defs[i];
			s->state = ST_FAILED;
			snprintf(s->reason, sizeof s->reason, "%s", bad[i] == 1 ? "unknown requirement" : "dependency cycle");
		}
	for (int i = 0; i < nsvcs; i++) {
		struct svc *s = &svcs[i];
		s->log_r = s->log_w = s->notify_r = -1;
		s->log.fd = -1;
		if (s->state != ST_FAILED)
			s->state = is_job(s) ? ST_SCHEDULED : ST_WAITING;
		if (is_job(s))
			s->next_run = now_ms() + (int64_t)s->d.every * 1000;
	}
	free(defs);
	free(dp);
	free(order);
	free(bad);
}

static void check_summary(void)
{
	int n = 0, ready = 0;
	char failed[512] = "";
	if (summary_done || shutting_down)
		return;
	for (int i = 0; i < nsvcs; i++) {
		struct svc *s = &svcs[i];
		if (is_job(s) || s->state == ST_DISABLED)
			continue;
		n++;
		switch (s->state) {
		case ST_READY:
		case ST_DONE:
			/* one that already crashed during boot is reported, even if it is up again now */
			if (!s->restarts) {
				ready++;
				continue;
			}
			break;
		case ST_FAILED:
		case ST_BACKOFF:
			break;
		case ST_WAITING:
			if (!s->blocked)
				return;
			break;
		default:
			return;
		}
		if (strlen(failed) + strlen(s->d.name) + 2 < sizeof failed) {
			if (*failed)
				strcat(failed, " ");
			strcat(failed, s->d.name);
		}
	}
	summary_done = 1;
	if (ready == n)
		say("kiln: ready: %d services in %.2fs", n, boot_seconds() - boot_offset);
	else
		say("kiln: degraded: %d of %d services ready in %.2fs (failed: %s)", ready, n, boot_seconds() - boot_offset,
		    failed);
}

static int command_path(const char *cmd, char *out, size_t len)
{
	if (strchr(cmd, '/')) {
		snprintf(out, len, "%s", cmd);
		return access(out, X_OK);
	}
	for (const char *d = "/usr/sbin:/usr/bin:/sbin:/bin"; *d;) {
		size_t l = strcspn(d, ":");
		snprintf(out, len, "%.*s/%s", (int)l, d, cmd);
		if (access(out, X_OK) == 0)
			return 0;
		d += l + (d[l] == ':');
	}
	snprintf(out, len, "%s", cmd);
	return -1;
}

/* The service's environment: PATH, HOME, HOSTNAME, then its env and envfile lines in order. */
static int build_env(struct svc *s, char ***env, int *n, const char *home)
{
	char kv[512], host[256] = "";
	gethostname(host, sizeof host - 1);
	env_set(env, n, "PATH=/usr/sbin:/usr/bin:/sbin:/bin");
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

/* In the child: everything a service starts with. Never returns. */
static void child_exec(struct svc *s, char **argv, char **env, uid_t uid, gid_t gid, const char *home,
		       int notify_w, int probe)
{
	sigset_t all;
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	for (int sig = 1; sig < 32; sig++)
		signal(sig, SIG_DFL);
	setsid();
	if (!probe) {
		for (int i = 0; i < s->d.ndirs; i++) {
			struct dir_item *d = &s->d.dirs[i];
			uid_t du = 0;
			gid_t dg = 0;
			mkdir_p(d->path, d->mode);
			chmod(d->path, d->mode);
			if (d->user[0] && lookup_user(d->user, &du, &dg, NULL, 0) == 0)
				(void)!chown(d->path, du, dg);
		}
	}
	if (s->d.tty && !probe) {
		int fd = open(s->d.tty, O_RDWR);
		if (fd >= 0) {
			ioctl(fd, TIOCSCTTY, 1);
			dup2(fd, 0), dup2(fd, 1), dup2(fd, 2);
		}
	} else {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		if (probe) {
			dup2(null, 1), dup2(null, 2);
		} else {
			dup2(s->log_w, 1), dup2(s->log_w, 2);
		}
	}
	if (notify_w >= 0) {
		int fd = atoi(s->d.ready_arg);
		if (notify_w != fd) {
			dup2(notify_w, fd);
		} else {
			fcntl(fd, F_SETFD, 0);
		}
	}
	if (uid || gid) {
		if (setgroups(1, &gid) || setgid(gid) || setuid(uid)) {
			dprintf(2, "kiln: %s: cannot become %u:%u: %s\n", s->d.name, uid, gid, strerror(errno));
			_exit(126);
		}
	}
	if (chdir(home))
		(void)!chdir("/");
	execve(argv[0], argv, env);
	dprintf(2, "kiln: %s: exec %s: %s\n", s->d.name, argv[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

/* Prepares argv and env for S (the service command, or its exec probe) and forks. */
static pid_t spawn(struct svc *s, const char *cmd, int probe, int notify_w)
{
	uid_t uid = 0;
	gid_t gid = 0;
	char home[256] = "/", **env = NULL, *expanded, *argv[KILN_ARGS_MAX], path[512];
	int nenv = 0;
	pid_t pid = -1;

	if (s->d.user[0] && lookup_user(s->d.user, &uid, &gid, home, sizeof home)) {
		snprintf(s->reason, sizeof s->reason, "unknown user %s", s->d.user);
		return -1;
	}
	if (build_env(s, &env, &nenv, home)) {
		env_free(env, nenv);
		return -1;
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
		child_exec(s, argv, env, uid, gid, home, notify_w, probe);
	if (pid < 0)
		snprintf(s->reason, sizeof s->reason, "fork: %s", strerror(errno));
out:
	free(expanded);
	env_free(env, nenv);
	return pid;
}

static void set_ready(struct svc *s)
{
	s->state = s->d.type == TYPE_ONESHOT && s->pid <= 0 ? ST_DONE : ST_READY;
	s->reason[0] = '\0';
	if (s->notify_r >= 0) {
		close(s->notify_r);
		s->notify_r = -1;
	}
	check_summary();
}

static void give_up(struct svc *s)
{
	s->state = ST_FAILED;
	say("kiln: %s: %s", s->d.name, s->reason);
	check_summary();
}

static void svc_start(struct svc *s, int64_t now)
{
	int notify[2] = {-1, -1};
	if (s->d.cond == COND_EXISTS || s->d.cond == COND_MISSING) {
		int exists = access(s->d.cond_path, F_OK) == 0;
		if (exists != (s->d.cond == COND_EXISTS)) {
			s->state = ST_DISABLED;
			snprintf(s->reason, sizeof s->reason, "skipped: %s %s", s->d.cond == COND_EXISTS ? "no" : "found",
				 s->d.cond_path);
			check_summary();
			return;
		}
	}
	if (!s->d.tty && s->log_r < 0) {
		int p[2];
		if (pipe2(p, O_CLOEXEC)) {
			snprintf(s->reason, sizeof s->reason, "pipe: %s", strerror(errno));
			give_up(s);
			return;
		}
		s->log_r = p[0];
		s->log_w = p[1];
		fcntl(s->log_r, F_SETFL, O_NONBLOCK);
		mkdir_p(kiln_path("KILN_LOG_DIR", "/data/log"), 0755);
		if (logfile_open(&s->log, kiln_path("KILN_LOG_DIR", "/data/log"), s->d.name, s->d.log_size, s->d.log_keep))
			s->log.fd = -1;
	}
	if (s->d.ready == READY_NOTIFY && pipe2(notify, O_CLOEXEC) == 0)
		fcntl(notify[0], F_SETFL, O_NONBLOCK);
	s->reason[0] = '\0';
	s->pid = spawn(s, s->d.command, 0, notify[1]);
	if (notify[1] >= 0)
		close(notify[1]);
	if (s->pid < 0) {
		s->pid = 0;
		if (notify[0] >= 0)
			close(notify[0]);
		give_up(s);
		return;
	}
	s->notify_r = notify[0];
	s->started = now;
	s->state = ST_STARTING;
	s->ready_deadline = now + (int64_t)s->d.ready_timeout * 1000;
	s->next_probe = now + (s->d.ready == READY_EXEC ? 100 : 0);
	if (s->d.type == TYPE_LONGRUN && s->d.ready == READY_NONE)
		set_ready(s);
}

/* Connects to a TCP or unix address without blocking PID 1 for more than a moment. */
static int probe_connect(const struct svc *s)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, ok;
	memset(&ss, 0, sizeof ss);
	if (s->d.ready == READY_UNIX) {
		struct sockaddr_un *u = (struct sockaddr_un *)&ss;
		u->sun_family = AF_UNIX;
		snprintf(u->sun_path, sizeof u->sun_path, "%s", s->d.ready_arg);
		len = sizeof *u;
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		char host[128];
		const char *colon = strrchr(s->d.ready_arg, ':');
		snprintf(host, sizeof host, "%.*s", (int)(colon - s->d.ready_arg), s->d.ready_arg);
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)atoi(colon + 1));
		if (!strcmp(host, "localhost"))
			snprintf(host, sizeof host, "127.0.0.1");
		if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
			return 0;
		len = sizeof *in;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	ok = connect(fd, (struct sockaddr *)&ss, len) == 0;
	if (!ok && errno == EINPROGRESS) {
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		int err = 0;
		socklen_t el = sizeof err;
		ok = poll(&p, 1, 200) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && !err;
	}
	close(fd);
	return ok;
}

static void probe(struct svc *s, int64_t now)
{
	if (s->d.ready == READY_TCP || s->d.ready == READY_UNIX) {
		if (probe_connect(s))
			set_ready(s);
		else
			s->next_probe = now + PROBE_INTERVAL_MS;
	} else if (s->d.ready == READY_EXEC && s->probe_pid <= 0) {
		s->probe_pid = spawn(s, s->d.ready_arg, 1, -1);
		if (s->probe_pid < 0) {
			s->probe_pid = 0;
			say("kiln: %s: readiness check: %s", s->d.name, s->reason);
			s->next_probe = now + 5000;
		} else {
			s->probe_deadline = now + PROBE_TIMEOUT_MS;
		}
	}
}

static int required_by_running(const struct svc *s)
{
	for (int i = 0; i < nsvcs; i++) {
		const struct svc *t = &svcs[i];
		if (t == s || !has_pid_state(t))
			continue;
		for (int r = 0; r < t->d.nrequires; r++)
			if (!strcmp(t->d.requires[r], s->d.name))
				return 1;
	}
	return 0;
}

static void waiting_tick(struct svc *s, int64_t now)
{
	int ready = 1, blocked = 0;
	for (int r = 0; r < s->d.nrequires; r++) {
		struct svc *q = svc_find(s->d.requires[r]);
		if (!q || (q->state != ST_READY && q->state != ST_DONE)) {
			ready = 0;
			if (!q || q->state == ST_FAILED || q->state == ST_BACKOFF || q->state == ST_DISABLED ||
			    q->state == ST_STOPPED || (q->state == ST_WAITING && q->blocked))
				blocked = 1;
		}
	}
	if (blocked != s->blocked) {
		s->blocked = blocked;
		if (blocked)
			check_summary();
	}
	if (ready)
		svc_start(s, now);
}

void svc_tick(int64_t now)
{
	if (shutting_down) {
		/* Reverse order: a service stops once nothing running requires it. */
		for (int i = nsvcs - 1; i >= 0; i--) {
			struct svc *s = &svcs[i];
			if (s->pid > 0 && s->state != ST_STOPPING && !required_by_running(s))
				svc_stop(s, now);
			else if (s->pid <= 0 && (s->state == ST_WAITING || s->state == ST_BACKOFF || s->state == ST_SCHEDULED))
				s->state = ST_STOPPED;
			if (s->state == ST_STOPPING && now >= s->stop_deadline)
				kill(-s->pid, SIGKILL);
			if (s->probe_pid > 0)
				kill(-s->probe_pid, SIGKILL);
		}
		return;
	}
	for (int i = 0; i < nsvcs; i++) {
		struct svc *s = &svcs[i];
		switch (s->state) {
		case ST_WAITING:
			waiting_tick(s, now);
			break;
		case ST_SCHEDULED:
			if (now >= s->next_run)
				svc_start(s, now);
			break;
		case ST_BACKOFF:
			if (now >= s->restart_at)
				svc_start(s, now);
			break;
		case ST_STARTING:
			if (s->probe_pid > 0 && now >= s->probe_deadline)
				kill(-s->probe_pid, SIGKILL);
			if (s->d.type == TYPE_LONGRUN && now >= s->ready_deadline) {
				say("kiln: %s: not ready after %ds", s->d.name, s->d.ready_timeout);
				snprintf(s->reason, sizeof s->reason, "not ready after %ds", s->d.ready_timeout);
				kill(-s->pid, SIGKILL);
				s->ready_deadline = now + 3600 * 1000;
			} else if (s->d.type == TYPE_LONGRUN && now >= s->next_probe) {
				probe(s, now);
			}
			break;
		case ST_STOPPING:
			if (now >= s->stop_deadline)
				kill(-s->pid, SIGKILL);
			break;
		default:
			break;
		}
	}
}

int64_t svc_next_deadline(void)
{
	int64_t best = -1;
#define CONSIDER(t) do { if (best < 0 || (t) < best) best = (t); } while (0)
	for (int i = 0; i < nsvcs; i++) {
		struct svc *s = &svcs[i];
		switch (s->state) {
		case ST_SCHEDULED: CONSIDER(s->next_run); break;
		case ST_BACKOFF: CONSIDER(s->restart_at); break;
		case ST_STOPPING: CONSIDER(s->stop_deadline); break;
		case ST_STARTING:
			if (s->d.type == TYPE_LONGRUN) {
				CONSIDER(s->ready_deadline);
				if (s->probe_pid <= 0 && s->d.ready != READY_NOTIFY && s->d.ready != READY_NONE)
					CONSIDER(s->next_probe);
				if (s->probe_pid > 0)
					CONSIDER(s->probe_deadline);
			}
			break;
		default: break;
		}
	}
	if (shutting_down)
		CONSIDER(now_ms() + 250);
#undef CONSIDER
	return best;
}

static void describe(int status, char *out, size_t len)
{
	if (WIFSIGNALED(status))
		snprintf(out, len, "killed by signal %d", WTERMSIG(status));
	else
		snprintf(out, len, "exited %d", WEXITSTATUS(status));
}

static int exit_code(int status)
{
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

static void job_exited(struct svc *s, int status, int64_t now)
{
	s->job_runs++;
	s->job_last_end = now;
	s->job_last_status = exit_code(status);
	if (s->job_last_status) {
		char d[64];
		s->job_failures++;
		describe(status, d, sizeof d);
		say("kiln: %s: job failed: %s", s->d.name, d);
	}
	s->state = ST_SCHEDULED;
	s->next_run = s->started + (int64_t)s->d.every * 1000;
	if (s->next_run <= now)
		s->next_run = now + (int64_t)s->d.every * 1000;
}

void svc_child_exited(pid_t pid, int status)
{
	int64_t now = now_ms();
	for (int i = 0; i < nsvcs; i++) {
		struct svc *s = &svcs[i];
		if (pid == s->probe_pid) {
			s->probe_pid = 0;
			if (s->state == ST_STARTING && WIFEXITED(status) && WEXITSTATUS(status) == 0)
				set_ready(s);
			else
				s->next_probe = now + PROBE_INTERVAL_MS;
			return;
		}
		if (pid != s->pid)
			continue;
		s->pid = 0;
		s->last_status = exit_code(status);
		if (s->probe_pid > 0)
			kill(-s->probe_pid, SIGKILL);
		if (s->notify_r >= 0) {
			close(s->notify_r);
			s->notify_r = -1;
		}
		if (s->state == ST_STOPPING || shutting_down) {
			s->state = ST_STOPPED;
			if (s->attempt < 0) { /* a restart request: start again at once */
				s->attempt = 0;
				s->state = ST_WAITING;
			}
			return;
		}
		if (is_job(s)) {
			job_exited(s, status, now);
			return;
		}
		if (s->d.type == TYPE_ONESHOT && s->last_status == 0) {
			set_ready(s);
			return;
		}
		if (s->d.restart == RESTART_NEVER || (s->d.restart == RESTART_ON_FAILURE && s->last_status == 0)) {
			char d[64];
			describe(status, d, sizeof d);
			snprintf(s->reason, sizeof s->reason, "%s", d);
			if (s->last_status == 0) {
				s->state = ST_STOPPED;
				say("kiln: %s: %s", s->d.name, d);
				check_summary();
			} else {
				give_up(s);
			}
			return;
		}
		{
			char d[64];
			int64_t delay;
			if (now - s->started >= BACKOFF_RESET_MS)
				s->attempt = 0;
			delay = backoff_delay(s->attempt);
			s->attempt = backoff_next_attempt(s->attempt, 0);
			describe(status, d, sizeof d);
			snprintf(s->reason, sizeof s->reason, "%s", d);
			say("kiln: %s: %s, restarting in %llds", s->d.name, d, (long long)(delay / 1000));
			s->state = ST_BACKOFF;
			s->restart_at = now + delay;
			s->restarts++;
			check_summary();
		}
		return;
	}
}

void svc_pipe_readable(int fd)
{
	char buf[16384];
	for (int i = 0; i < nsvcs; i++) {
		struct svc *s = &svcs[i];
		if (fd == s->log_r) {
			ssize_t r;
			while ((r = read(fd, buf, sizeof buf)) > 0)
				if (s->log.fd >= 0)
					logfile_write(&s->log, buf, (size_t)r);
			return;
		}
		if (fd == s->notify_r) {
			ssize_t r = read(fd, buf, sizeof buf);
			if (r > 0 && memchr(buf, '\n', (size_t)r) && s->state == ST_STARTING)
				set_ready(s);
			else if (r == 0) {
				close(s->notify_r);
				s->notify_r = -1;
			}
			return;
		}
	}
}

void svc_stop(struct svc *s, int64_t now)
{
	if (s->pid <= 0) {
		if (s->state != ST_FAILED || shutting_down)
			s->state = ST_STOPPED;
		return;
	}
	s->state = ST_STOPPING;
	s->stop_deadline = now + (int64_t)s->d.stop_timeout * 1000;
	kill(-s->pid, s->d.stop_signal);
	kill(-s->pid, SIGCONT);
}

void svc_start_request(struct svc *s)
{
	if (s->pid > 0)
		return;
	s->attempt = 0;
	s->state = is_job(s) ? ST_SCHEDULED : ST_WAITING;
	if (is_job(s))
		s->next_run = now_ms();
}

int svc_all_stopped(void)
{
	for (int i = 0; i < nsvcs; i++)
		if (svcs[i].pid > 0 || svcs[i].probe_pid > 0)
			return 0;
	return 1;
}

void svc_begin_shutdown(int cmd)
{
	if (!shutting_down)
		say("kiln: stopping %d services", nsvcs);
	shutting_down = cmd;
}

void svc_status(char *out, size_t len, const char *only)
{
	size_t n = 0;
	int64_t now = now_ms();
#define ADD(...) do { int w = snprintf(out + n, n < len ? len - n : 0, __VA_ARGS__); if (w > 0) n += (size_t)w; } while (0)
	ADD("%-24s %-9s %7s %8s %8s  %s\n", "SERVICE", "STATE", "PID", "RESTARTS", "UPTIME", "LAST");
	for (int i = 0; i < nsvcs; i++) {
		struct svc *s = &svcs[i];
		char up[32] = "-", last[200] = "-";
		if (only && strcmp(only, s->d.name))
			continue;
		if (s->pid > 0)
			snprintf(up, sizeof up, "%llds", (long long)((now - s->started) / 1000));
		if (is_job(s))
			snprintf(last, sizeof last, "job every %ds: %d runs, %d failed, last %s, next in %llds", s->d.every,
				 s->job_runs, s->job_failures, !s->job_runs ? "never" : s->job_last_status ? "failed" : "ok",
				 (long long)((s->next_run - now) / 1000));
		else if (s->reason[0])
			snprintf(last, sizeof last, "%s", s->reason);
		else if (s->restarts)
			snprintf(last, sizeof last, "last exit %d", s->last_status);
		ADD("%-24s %-9s %7d %8d %8s  %s\n", s->d.name, svc_state_name(s->state), s->pid > 0 ? (int)s->pid : 0,
		    s->restarts, up, last);
	}
#undef ADD
	if (n >= len && len)
		out[len - 1] = '\0';
}
