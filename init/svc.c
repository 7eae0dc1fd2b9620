/* svc.c: supervision: each service's state and what each event does to it (start when requirements are
 * ready, readiness, restart with backoff, scheduled jobs, stop in reverse order, the boot summary line). */
#include "svc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define LOG_READS_PER_EVENT 4 /* a chatty service cannot keep the loop to itself */

struct svc *svcs;
int nsvcs;
int shutting_down;
int64_t boot_offset;
static int summary_done;
static int summary_result = -1; /* the boot summary: 1 ready, 0 degraded; -1 not said yet */
static long long summary_cs;     /* its time, in hundredths of a second */
static int summary_taken;        /* svc_summary_take handed it over */
#define BOOT_CRASHES_TOLERATED 3
#define BOOT_STABLE_MS 10000

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

int svc_is_job(const struct svc *s) { return s->d.every > 0; }

/* Whether the boot summary can be printed now; fills the counts and the failed names. */
static int summary_state(int *n, int *ready, char *failed, size_t len)
{
	*n = *ready = 0;
	failed[0] = '\0';
	for (int i = 0; i < nsvcs; i++) {
		struct svc *s = &svcs[i];
		if (svc_is_job(s) || s->state == ST_DISABLED)
			continue;
		(*n)++;
		/* A component may crash while what it needs settles (an API still slow to answer): after a crash it
		 * counts as ready once it has stayed up BOOT_STABLE_MS since its restart; a third crash makes it failed,
		 * even if it is up again by then. */
		if ((s->state == ST_READY || s->state == ST_DONE) &&
		    (!s->restarts || (s->restarts < BOOT_CRASHES_TOLERATED && now_ms() - s->started >= BOOT_STABLE_MS))) {
			(*ready)++;
			continue;
		}
		if (s->restarts < BOOT_CRASHES_TOLERATED && s->state != ST_FAILED && s->state != ST_STOPPED &&
		    !(s->state == ST_WAITING && s->blocked))
			return 0;
		if (strlen(failed) + strlen(s->d.name) + 2 < len) {
			if (*failed)
				strcat(failed, " ");
			strcat(failed, s->d.name);
		}
	}
	return 1;
}

static void check_summary(void)
{
	int n, ready;
	char failed[512];
	int64_t cs;
	if (summary_done || shutting_down || !summary_state(&n, &ready, failed, sizeof failed))
		return;
	summary_done = 1;
	cs = (boot_ms() - boot_offset + 5) / 10; /* hundredths, printed without floating point (smaller init) */
	if (ready == n)
		say("kiln: ready: %d services in %lld.%02llds", n, (long long)(cs / 100), (long long)(cs % 100));
	else
		say("kiln: degraded: %d of %d services ready in %lld.%02llds (failed: %s)", ready, n, (long long)(cs / 100),
		    (long long)(cs % 100), failed);
	summary_result = ready == n;
	summary_cs = cs;
}

int svc_summary_get(long long *cs)
{
	*cs = summary_cs;
	return summary_result;
}

int svc_summary_take(void)
{
	if (summary_taken || summary_result < 0)
		return -1;
	summary_taken = 1;
	return summary_result;
}

void svc_set_ready(struct svc *s)
{
	s->state = s->d.type == TYPE_ONESHOT && s->pid <= 0 ? ST_DONE : ST_READY;
	s->reason[0] = '\0';
	if (s->started > 0)
		s->ready_after = now_ms() - s->started;
	probe_cancel(s);
	notify_close(s);
}

static void give_up(struct svc *s)
{
	s->state = ST_FAILED;
	say("kiln: %s: %s", s->d.name, s->reason);
}

char svc_disabled[256];

/* Every condition holds; the first that does not is the reason the service is skipped. A service named by
 * kiln.disable= on the kernel command line is skipped too. */
static int condition_holds(struct svc *s)
{
	if (disable_list_has(svc_disabled, s->d.name)) {
		snprintf(s->reason, sizeof s->reason, "skipped: kiln.disable on the kernel command line");
		say("kiln: %s: %s", s->d.name, s->reason);
		return 0;
	}
	for (int i = 0; i < s->d.nconds; i++) {
		int exists = access(s->d.cond_path[i], F_OK) == 0;
		if (exists == (s->d.cond[i] == COND_EXISTS))
			continue;
		snprintf(s->reason, sizeof s->reason, "skipped: %s %s", s->d.cond[i] == COND_EXISTS ? "no" : "found",
			 s->d.cond_path[i]);
		say("kiln: %s: %s", s->d.name, s->reason);
		return 0;
	}
	return 1;
}

/* The output pipe lives as long as the service, so a restart never loses what the last run wrote. Its file is the
 * log writer's: PID 1 never opens or writes one itself (a hung /data would hang it). */
static int open_log(struct svc *s)
{
	int p[2];
	if (s->d.tty || s->log_r >= 0)
		return 0;
	if (pipe2(p, O_CLOEXEC)) {
		snprintf(s->reason, sizeof s->reason, "pipe: %s", strerror(errno));
		return -1;
	}
	s->log_r = p[0];
	s->log_w = p[1];
	fcntl(s->log_r, F_SETFL, O_NONBLOCK);
	if (s->log_slot < 0)
		s->log_slot = logd_slot(s->d.name, s->d.log_size, s->d.log_keep);
	return 0;
}

static void svc_start(struct svc *s, int64_t now)
{
	int notify[2] = {-1, -1};
	if (!condition_holds(s)) {
		s->state = ST_DISABLED;
		return;
	}
	if (s->d.data_required && data_problem[0]) {
		snprintf(s->reason, sizeof s->reason, "not started: it keeps its data on DATA, and %s", data_problem);
		give_up(s);
		return;
	}
	s->reason[0] = '\0';
	s->last_line[0] = '\0';
	s->last_error[0] = '\0';
	if (open_log(s) || cgroup_prepare(s)) {
		give_up(s);
		return;
	}
	if (s->d.ready == READY_NOTIFY && s->d.type == TYPE_LONGRUN && pipe2(notify, O_CLOEXEC | O_NONBLOCK) == 0)
		s->notify_r = notify[0];
	if (s->d.ready == READY_SD_NOTIFY && s->d.type == TYPE_LONGRUN) {
		char path[300];
		if ((s->notify_r = notify_socket_open(s, path, sizeof path)) < 0) {
			snprintf(s->reason, sizeof s->reason, "ready sd_notify: socket %s: %s", path, strerror(errno));
			give_up(s);
			return;
		}
	}
	s->pid = spawn_service(s, notify[1]);
	if (notify[1] >= 0)
		close(notify[1]);
	if (s->pid < 0) {
		s->pid = 0;
		notify_close(s);
		give_up(s); /* not found, unknown user, missing envfile: a restart would not help */
		return;
	}
	s->started = now;
	s->ready_after = -1;
	s->timed_out = 0;
	s->state = ST_STARTING;
	s->ready_deadline = now + (int64_t)s->d.ready_timeout * 1000;
	s->next_probe = now;
	if (svc_is_job(s)) {
		/* A job that hangs would hold every later run back: it is killed after its timeout. */
		int every = svc_every(s);
		s->job_timeout_s = s->d.timeout ? s->d.timeout : every > 60 ? every : 60;
		s->job_last_start = now;
		s->ready_deadline = now + (int64_t)s->job_timeout_s * 1000;
	}
	if (s->d.type == TYPE_LONGRUN && s->d.ready == READY_NONE)
		svc_set_ready(s);
}

static int required_by_running(const struct svc *s)
{
	for (int i = 0; i < nsvcs; i++) {
		const struct svc *t = &svcs[i];
		if (t == s || t->pid <= 0)
			continue;
		for (int r = 0; r < t->d.nrequires; r++)
			if (!strcmp(t->d.requires[r], s->d.name))
				return 1;
	}
	return 0;
}

static int provides(const struct svc *q) { return q && (q->state == ST_READY || q->state == ST_DONE); }

/* What a skipped service would have provided is absent by design (e.g. an image without a component's binary): its
 * dependents are skipped too, not failed, saying so. */
static int skipped_by_design(const struct svc *q) { return q && q->state == ST_DISABLED && q->reason[0]; }
static void skip_with(struct svc *s, const struct svc *q)
{
	s->state = ST_DISABLED;
	snprintf(s->reason, sizeof s->reason, "skipped: requires %s (%.60s)", q->d.name, q->reason);
	say("kiln: %s: %s", s->d.name, s->reason);
}

/* A waiting service starts once every requirement is ready; it is blocked when one never will be. */
static void waiting_tick(struct svc *s, int64_t now)
{
	int ready = 1, blocked = 0;
	for (int r = 0; r < s->d.nrequires; r++) {
		struct svc *q = svc_find(s->d.requires[r]);
		if (provides(q))
			continue;
		if (skipped_by_design(q)) {
			if (condition_holds(s)) /* else its own reason: it says what this image lacks */
				skip_with(s, q);
			else
				s->state = ST_DISABLED;
			return;
		}
		ready = 0;
		if (!q || q->state == ST_FAILED || q->state == ST_BACKOFF || q->state == ST_DISABLED ||
		    q->state == ST_STOPPED || (q->state == ST_WAITING && q->blocked))
			blocked = 1;
	}
	/* One that could not run anyway (its own condition is false) is skipped, not counted as blocked. */
	if (blocked && !condition_holds(s)) {
		s->state = ST_DISABLED;
		return;
	}
	s->blocked = blocked;
	if (ready)
		svc_start(s, now);
}

/* A job runs only while what it requires is ready: a run that falls due before is left out (no failure; the next
 * one is at its usual time), and one whose requirement is skipped by design is skipped too, saying why. */
static int job_may_run(struct svc *s, int64_t now)
{
	for (int r = 0; r < s->d.nrequires; r++) {
		struct svc *q = svc_find(s->d.requires[r]);
		if (provides(q))
			continue;
		if (skipped_by_design(q))
			skip_with(s, q);
		else
			s->next_run = sched_next(s->next_run, svc_every(s), now);
		return 0;
	}
	return 1;
}

/* Not ready in time: killed, and its exit then goes through the restart policy. */
static void starting_tick(struct svc *s, int64_t now)
{
	if (svc_is_job(s)) {
		if (now >= s->ready_deadline) { /* its run timeout */
			s->timed_out = 1;
			kill(-s->pid, SIGKILL);
			s->ready_deadline = INT64_MAX;
		}
		return;
	}
	if (now >= s->ready_deadline) {
		s->timed_out = 1; /* its exit is reported as "not ready after Ns" */
		probe_cancel(s);
		kill(-s->pid, SIGKILL);
		s->ready_deadline = INT64_MAX;
		return;
	}
	if (s->d.type == TYPE_LONGRUN && (s->d.ready == READY_TCP || s->d.ready == READY_UNIX || s->d.ready == READY_EXEC))
		if (probe_run(s, now))
			svc_set_ready(s);
}

/* A service past its stop deadline gets SIGKILL, then again every KILL_AGAIN_MS while it is still there (a process
 * in uninterruptible sleep dies only when it wakes): not on every tick, which would spin the loop. */
#define KILL_AGAIN_MS 5000
static void kill_overdue(struct svc *s, int64_t now)
{
	if (s->pid <= 0 || now < s->stop_deadline)
		return;
	kill(-s->pid, SIGKILL);
	s->stop_deadline = now + KILL_AGAIN_MS;
}

static void shutdown_tick(int64_t now)
{
	/* Reverse order: a service stops once nothing running requires it. */
	for (int i = nsvcs - 1; i >= 0; i--) {
		struct svc *s = &svcs[i];
		probe_cancel(s);
		if (s->pid > 0 && s->state != ST_STOPPING && !required_by_running(s))
			svc_stop(s, now);
		else if (s->pid <= 0 && (s->state == ST_WAITING || s->state == ST_BACKOFF || s->state == ST_SCHEDULED))
			s->state = ST_STOPPED;
		if (s->state == ST_STOPPING)
			kill_overdue(s, now);
	}
}

void svc_tick(int64_t now)
{
	if (shutting_down) {
		shutdown_tick(now);
		return;
	}
	for (int i = 0; i < nsvcs; i++) {
		struct svc *s = &svcs[i];
		switch (s->state) {
		case ST_WAITING: waiting_tick(s, now); break;
		case ST_SCHEDULED: if (now >= s->next_run && job_may_run(s, now)) svc_start(s, now); break;
		case ST_BACKOFF: if (now >= s->restart_at) svc_start(s, now); break;
		case ST_STARTING: starting_tick(s, now); break;
		case ST_STOPPING: kill_overdue(s, now); break;
		default: break;
		}
	}
	check_summary();
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
		case ST_READY: /* a restarted one counts for the boot summary once it has stayed up; once that time has
				* passed, only another event can change the summary (a past deadline would wake every ms) */
			if (!summary_done && s->restarts && s->restarts < BOOT_CRASHES_TOLERATED &&
			    s->started + BOOT_STABLE_MS > now_ms())
				CONSIDER(s->started + BOOT_STABLE_MS);
			break;
		case ST_STOPPING: CONSIDER(s->stop_deadline); break;
		case ST_STARTING:
			if (s->ready_deadline != INT64_MAX) /* a job's: its run timeout */
				CONSIDER(s->ready_deadline);
			if (s->probe_pid > 0 || s->probe_fd >= 0)
				CONSIDER(s->probe_deadline);
			else if (s->d.ready == READY_TCP || s->d.ready == READY_UNIX || s->d.ready == READY_EXEC)
				CONSIDER(s->next_probe);
			break;
		default: break;
		}
	}
	if (shutting_down) /* stopping is a chain of exits; a slow tick catches what no event announces */
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

static void log_readable(struct svc *s);

static void job_exited(struct svc *s, int status, int64_t now)
{
	/* The console hears of a job when its result changes (a first failure, another reason, back to ok), not at
	 * every run of a job that keeps failing the same way: initctl status and its log have each run. */
	int was_failing = s->job_fail_streak > 0;
	log_readable(s); /* what it wrote last may still be in the pipe: its reason */
	s->job_runs++;
	s->job_last_status = exit_code(status);
	if (s->job_last_status) {
		char d[64], old[sizeof s->job_fail_reason];
		snprintf(old, sizeof old, "%s", s->job_fail_reason);
		s->job_failures++;
		s->job_fail_streak++;
		s->job_last_fail = now;
		describe(status, d, sizeof d);
		if (s->timed_out)
			snprintf(s->job_fail_reason, sizeof s->job_fail_reason, "still running after its timeout of %ds",
				 s->job_timeout_s);
		else
			snprintf(s->job_fail_reason, sizeof s->job_fail_reason, "%s", s->last_line[0] ? s->last_line : d);
		if (!was_failing || strcmp(old, s->job_fail_reason) != 0)
			say("kiln: %s: job failed: %s: %s", s->d.name, d, s->job_fail_reason);
	} else {
		if (was_failing)
			say("kiln: %s: job ok again after %d failed run%s", s->d.name, s->job_fail_streak,
			    s->job_fail_streak == 1 ? "" : "s");
		s->job_fail_streak = 0;
		s->job_last_ok = now;
	}
	s->state = ST_SCHEDULED;
	s->next_run = sched_next(s->started, svc_every(s), now);
}

/* A run ended: done, failed for good, or a restart after the backoff delay. */
static void service_exited(struct svc *s, int status, int64_t now)
{
	char d[64];
	int64_t delay;
	if (s->timed_out)
		snprintf(d, sizeof d, "not ready after %ds", s->d.ready_timeout);
	else
		describe(status, d, sizeof d);
	if (s->d.type == TYPE_ONESHOT && s->last_status == 0 && !s->timed_out) {
		svc_set_ready(s);
		return;
	}
	log_readable(s); /* its last words are its reason; one killed for being late, only if they name an error */
	if (s->last_status && (s->last_error[0] || (s->last_line[0] && !s->timed_out))) {
		snprintf(s->reason, sizeof s->reason, "%s: %s", d, s->last_error[0] ? s->last_error : s->last_line);
		snprintf(d, sizeof d, "%.63s", s->reason);
	} else {
		snprintf(s->reason, sizeof s->reason, "%s", d);
	}
	if (s->d.restart == RESTART_NEVER || (s->d.restart == RESTART_ON_FAILURE && s->last_status == 0)) {
		if (s->last_status == 0) {
			s->state = ST_STOPPED;
			say("kiln: %s: %s", s->d.name, d);
		} else {
			give_up(s);
		}
		return;
	}
	delay = backoff_after_exit(&s->attempt, now - s->started);
	say("kiln: %s: %s, restarting in %llds", s->d.name, d, (long long)(delay / 1000));
	s->state = ST_BACKOFF;
	s->restart_at = now + delay;
	s->restarts++;
}

void svc_child_exited(pid_t pid, int status)
{
	int64_t now = now_ms();
	for (int i = 0; i < nsvcs; i++) {
		struct svc *s = &svcs[i];
		if (pid == s->probe_pid) {
			if (probe_exec_exited(s, status, now))
				svc_set_ready(s);
			return;
		}
		if (pid != s->pid)
			continue;
		s->pid = 0;
		cgroup_kill(s); /* what it started dies with it */
		s->last_status = exit_code(status);
		probe_cancel(s);
		notify_close(s);
		if (s->state == ST_STOPPING || shutting_down) {
			s->state = ST_STOPPED;
			if (s->restart_pending && !shutting_down) {
				s->restart_pending = 0;
				svc_start_request(s);
			}
		} else if (svc_is_job(s)) {
			job_exited(s, status, now);
		} else {
			service_exited(s, status, now);
		}
		return;
	}
	/* an orphan that was reparented to us: reaped, nothing else to do */
}

int svc_fill_poll(struct pollfd *p, int max)
{
	int n = 0;
	for (int i = 0; i < nsvcs && n + 3 <= max; i++) {
		if (svcs[i].log_r >= 0)
			p[n++] = (struct pollfd){.fd = svcs[i].log_r, .events = POLLIN};
		if (svcs[i].notify_r >= 0)
			p[n++] = (struct pollfd){.fd = svcs[i].notify_r, .events = POLLIN};
		if (svcs[i].probe_fd >= 0)
			p[n++] = (struct pollfd){.fd = svcs[i].probe_fd, .events = POLLOUT};
	}
	return n;
}

/* The last complete, non-empty line of output (a failed job's reason in `initctl status`), and the last one that
 * reads as an error: a Go program that refuses a flag prints "Error: ..." and then its whole usage, so the
 * reason a service exited is that line, not the last. */
static void remember_last_line(struct svc *s, const char *buf, size_t len)
{
	size_t end = len, start;
	while (end > 0 && (buf[end - 1] == '\n' || buf[end - 1] == '\r' || buf[end - 1] == ' '))
		end--;
	if (!end)
		return;
	for (start = end; start > 0 && buf[start - 1] != '\n'; start--)
		;
	snprintf(s->last_line, sizeof s->last_line, "%.*s", (int)(end - start), buf + start);
	for (size_t b = 0; b < end;) {
		size_t e = b;
		while (e < end && buf[e] != '\n')
			e++;
		if (line_is_error(buf + b, e - b))
			snprintf(s->last_error, sizeof s->last_error, "%.*s", (int)(e - b), buf + b);
		b = e + 1;
	}
}

static void log_readable(struct svc *s)
{
	char buf[16384];
	for (int i = 0; i < LOG_READS_PER_EVENT; i++) {
		ssize_t r = read(s->log_r, buf, sizeof buf);
		if (r <= 0)
			return;
		logd_send(s->log_slot, buf, (size_t)r);
		remember_last_line(s, buf, (size_t)r);
	}
}

void svc_fd_event(int fd, short revents)
{
	for (int i = 0; i < nsvcs; i++) {
		struct svc *s = &svcs[i];
		int ready = 0;
		if (fd == s->log_r && (revents & (POLLIN | POLLHUP)))
			log_readable(s);
		else if (fd == s->notify_r && (revents & (POLLIN | POLLHUP | POLLERR)))
			ready = probe_notify_readable(s);
		else if (fd == s->probe_fd && (revents & (POLLOUT | POLLHUP | POLLERR)))
			ready = probe_connect_done(s, now_ms());
		else
			continue;
		if (ready)
			svc_set_ready(s);
		return;
	}
}

void svc_stop(struct svc *s, int64_t now)
{
	s->restart_pending = 0;
	probe_cancel(s);
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

/* initctl start: a stopped or failed service waits for its requirements again; a job runs now. One that is still
 * stopping starts again once it has exited (a start right after a stop must not be lost). */
void svc_start_request(struct svc *s)
{
	if (s->pid > 0) {
		if (s->state == ST_STOPPING)
			s->restart_pending = 1;
		return;
	}
	s->attempt = 0;
	s->blocked = 0;
	s->state = svc_is_job(s) ? ST_SCHEDULED : ST_WAITING;
	if (svc_is_job(s))
		s->next_run = now_ms();
}

void svc_restart_request(struct svc *s)
{
	if (s->pid > 0) {
		svc_stop(s, now_ms());
		s->restart_pending = 1; /* start again once it has exited */
	} else {
		svc_start_request(s);
	}
}

int svc_all_stopped(void)
{
	for (int i = 0; i < nsvcs; i++)
		if (svcs[i].pid > 0 || svcs[i].probe_pid > 0)
			return 0;
	return 1;
}

/* The last step before unmounting: the log writer, last to stop, writes what is left and closes its files (one held
 * open keeps /data busy, left uncleanly unmounted). */
#define LOG_FINISH_MS 5000
void svc_close_logs(void)
{
	for (int i = 0; i < nsvcs; i++)
		if (svcs[i].log_r >= 0)
			log_readable(&svcs[i]); /* what the service wrote last */
	logd_finish(LOG_FINISH_MS);
}

/* The whole shutdown is bounded: every service's stop timeout, one after another, and a minute more. Past that,
 * what is left (a process that SIGKILL cannot end) is named and the machine goes down without it. */
static int64_t shutdown_begun = -1, shutdown_limit_ms;

void svc_begin_shutdown(int cmd)
{
	if (!shutting_down) {
		shutdown_limit_ms = 60000;
		for (int i = 0; i < nsvcs; i++)
			shutdown_limit_ms += (int64_t)svcs[i].d.stop_timeout * 1000;
		shutdown_begun = now_ms();
		say("kiln: stopping services");
	}
	shutting_down = cmd;
}

int svc_shutdown_overdue(int64_t now)
{
	char left[256] = "";
	size_t n = 0;
	if (!shutting_down || shutdown_begun < 0 || now < shutdown_begun + shutdown_limit_ms)
		return 0;
	for (int i = 0; i < nsvcs && n < sizeof left; i++)
		if (svcs[i].pid > 0)
			n += (size_t)snprintf(left + n, sizeof left - n, "%s%s (pid %d)", n ? ", " : "", svcs[i].d.name,
					      (int)svcs[i].pid);
	say("kiln: shutdown: still running after %llds: %s; going on without them", (long long)(now - shutdown_begun) / 1000,
	    left[0] ? left : "readiness checks");
	return 1;
}
