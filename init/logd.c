/* logd.c: the log writer, a child of PID 1 that owns the files of the log directory (logfile.c: open, append,
 * rotation) and reads records (logrec.c) from a pipe. PID 1 never waits for it: its end of the pipe is non-blocking,
 * what the pipe cannot take waits in a bounded queue, and what the queue cannot take is dropped by whole lines,
 * counted per service and said once the writer takes records again. A writer that dies is started again. */
#include "svc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LOGQ_CAP (256 * 1024)

#define LOGQ_KEEP_TOUCHED 4096 /* what the queue may keep in memory once empty */

/* bss: its pages cost memory only as far as the queue fills, and are given back once it is empty again */
static char qbuf[LOGQ_CAP] __attribute__((aligned(4096)));
static struct logq q = {qbuf, sizeof qbuf, 0, 0};
static size_t q_high; /* how far the queue has filled since its pages were last given back */
static struct logslot *slots;
static int nslots;
static pid_t wpid;                 /* the writer, 0 when there is none */
static int wfd = -1;               /* PID 1's end of its pipe */
static int attempt;
static int64_t started_at, restart_at = -1; /* -1: never started, or running */

/* ---- the writer (the child) ---- */

struct wlog {
	char name[KILN_NAME_MAX];
	struct logfile l;
};

static void write_record(const struct logrec *r, const char *dir, struct wlog **logs, int *n)
{
	struct wlog *w = NULL, *nw;
	for (int i = 0; i < *n && !w; i++)
		if (!strcmp((*logs)[i].name, r->name))
			w = &(*logs)[i];
	if (!w) { /* the first record of a service: its file opened once for the writer's life, as init did before */
		if (!(nw = realloc(*logs, sizeof **logs * (size_t)(*n + 1))))
			return;
		*logs = nw;
		w = &nw[(*n)++];
		snprintf(w->name, sizeof w->name, "%s", r->name);
		if (logfile_open(&w->l, dir, r->name, r->max, r->keep))
			say("kiln: %s: log %s/%s.log: %m", r->name, dir, r->name);
	}
	if (w->l.fd >= 0)
		logfile_write(&w->l, r->data, r->len);
}

/* Runs until PID 1 closes its end (shutdown), having written every record it read. */
static void writer_main(int rfd)
{
	static char buf[16 * LOGREC_MAX];
	const char *dir = kiln_path("KILN_LOG_DIR", "/data/log");
	struct wlog *logs = NULL;
	int nlogs = 0;
	size_t have = 0;
	mkdir_p(dir, 0755);
	for (;;) {
		struct logrec r;
		size_t off = 0;
		long n;
		ssize_t got = read(rfd, buf + have, sizeof buf - have);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		have += (size_t)got;
		while ((n = logrec_parse(buf + off, have - off, &r)) > 0) {
			write_record(&r, dir, &logs, &nlogs);
			off += (size_t)n;
		}
		if (n < 0) { /* cannot happen with one writer of whole records; if it did, no later record could be found */
			say("kiln: log writer: a malformed record: %zu bytes skipped", have - off);
			off = have;
		}
		memmove(buf, buf + off, have - off);
		have -= off;
	}
	for (int i = 0; i < nlogs; i++)
		logfile_close(&logs[i].l);
	_exit(0);
}

static void writer_start(int64_t now)
{
	int p[2];
	restart_at = -1;
	if (pipe2(p, O_CLOEXEC)) {
		say("kiln: log writer: pipe: %m");
		restart_at = now + BACKOFF_FIRST_MS;
		return;
	}
	wpid = fork();
	if (wpid == 0) {
		child_reset();
		signal(SIGPIPE, SIG_IGN); /* a log file that is a FIFO whose reader left: an error, not the writer's end */
		prctl(PR_SET_NAME, "kiln-logd");
		child_close_fds(p[0]); /* init's descriptors: services' pipes, the control socket */
		writer_main(p[0]);
	}
	close(p[0]);
	if (wpid < 0) {
		say("kiln: log writer: fork: %m");
		wpid = 0;
		close(p[1]);
		restart_at = now + BACKOFF_FIRST_MS;
		return;
	}
	wfd = p[1];
	fcntl(wfd, F_SETFL, O_NONBLOCK);
	started_at = now;
}

/* ---- PID 1's side ---- */

static void say_dropped(void)
{
	for (int i = 0; i < nslots; i++)
		if (slots[i].unsaid) {
			say("kiln: log: %s: %lu lines dropped (the log writer was not keeping up)", slots[i].name,
			    slots[i].unsaid);
			slots[i].unsaid = 0;
		}
}

/* A burst (a service's start, a stalled disk) leaves PID 1's RSS as it was before, once the writer caught up. */
static void queue_shrink(void)
{
	if (q.end > q_high)
		q_high = q.end;
	if (logq_used(&q) || q_high <= LOGQ_KEEP_TOUCHED)
		return;
	madvise(qbuf + LOGQ_KEEP_TOUCHED, LOGQ_CAP - LOGQ_KEEP_TOUCHED, MADV_DONTNEED);
	q_high = 0;
}

/* Each record in one write (at most PIPE_BUF bytes: all of it or EAGAIN). Dropped lines are said once the writer
 * has taken most of what was queued. */
static void flush(void)
{
	const char *r;
	size_t n;
	while (wfd >= 0 && (r = logq_front(&q, &n))) {
		if (write(wfd, r, n) != (ssize_t)n) {
			if (errno != EAGAIN) { /* EPIPE: the writer is gone; its exit is reaped, said, and it starts again */
				close(wfd);
				wfd = -1;
			}
			break;
		}
		logq_pop(&q);
	}
	if (wfd >= 0 && logq_used(&q) <= q.cap / 4)
		say_dropped();
	queue_shrink();
}

int logd_slot(const char *name, long max, int keep)
{
	struct logslot *ns = realloc(slots, sizeof *slots * (size_t)(nslots + 1));
	if (!ns)
		return -1;
	slots = ns;
	memset(&slots[nslots], 0, sizeof slots[nslots]);
	snprintf(slots[nslots].name, sizeof slots[nslots].name, "%s", name);
	slots[nslots].max = max;
	slots[nslots].keep = keep;
	if (!wpid && restart_at < 0)
		writer_start(now_ms());
	return nslots++;
}

unsigned long logd_dropped(int slot) { return slot >= 0 && slot < nslots ? slots[slot].dropped : 0; }

void logd_send(int slot, const char *buf, size_t len)
{
	if (slot < 0 || slot >= nslots)
		return;
	logq_add(&q, &slots[slot], buf, len);
	if (q.end > q_high)
		q_high = q.end;
	flush();
}

int logd_fill_poll(struct pollfd *p)
{
	if (wfd < 0 || !logq_used(&q))
		return 0;
	*p = (struct pollfd){.fd = wfd, .events = POLLOUT};
	return 1;
}

void logd_event(short revents)
{
	(void)revents; /* POLLERR: the writer is gone, and flush sees EPIPE */
	flush();
}

void logd_tick(int64_t now)
{
	if (!wpid && restart_at >= 0 && now >= restart_at) {
		writer_start(now);
		flush();
	}
}

int64_t logd_next_deadline(void) { return wpid ? -1 : restart_at; }

int logd_exited(pid_t pid, int status)
{
	int64_t now = now_ms(), delay;
	if (!wpid || pid != wpid)
		return 0;
	wpid = 0;
	if (wfd >= 0)
		close(wfd);
	wfd = -1;
	delay = backoff_after_exit(&attempt, now - started_at);
	restart_at = now + delay;
	if (WIFSIGNALED(status))
		say("kiln: log writer: killed by signal %d, starting it again in %llds", WTERMSIG(status),
		    (long long)(delay / 1000));
	else
		say("kiln: log writer: exited %d, starting it again in %llds", WEXITSTATUS(status), (long long)(delay / 1000));
	return 1;
}

/* The last to stop: what is queued goes to the writer, which writes it, closes its files and exits; all within
 * LIMIT_MS, or init goes on without it (a hung disk must not keep the machine from going down). */
void logd_finish(int limit_ms)
{
	int64_t end = now_ms() + limit_ms;
	int status;
	if (!wpid && nslots)
		writer_start(now_ms()); /* one that died has one more chance to write what is left */
	while (wfd >= 0 && logq_used(&q) && now_ms() < end) {
		struct pollfd p = {.fd = wfd, .events = POLLOUT};
		if (poll(&p, 1, (int)(end - now_ms())) > 0)
			flush();
	}
	if (wfd >= 0)
		close(wfd);
	wfd = -1;
	while (wpid && now_ms() < end) {
		pid_t r = waitpid(wpid, &status, WNOHANG);
		if (r == wpid || (r < 0 && errno != EINTR))
			wpid = 0;
		else
			nanosleep(&(struct timespec){.tv_nsec = 20 * 1000000}, NULL);
	}
	if (wpid)
		say("kiln: log writer: still writing after %ds, going on without it", limit_ms / 1000);
	if (logq_used(&q))
		say("kiln: log writer: %zu bytes of logs not written", logq_used(&q));
	say_dropped();
	restart_at = -1;
}
