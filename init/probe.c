/* probe.c: readiness checks of a starting service: a TCP or unix connect (nonblocking, finished by the main
 * loop), an exec probe run as the service (ready on exit 0), a newline on its notify fd, or READY=1 on its
 * sd_notify socket. Each returns the outcome (1: the service is ready now); svc.c acts on it. */
#include "svc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static void again_later(struct svc *s, int64_t now)
{
	s->next_probe = now + probe_interval(now - s->started);
}

static socklen_t probe_addr(const struct svc *s, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof *ss);
	if (s->d.ready == READY_UNIX) {
		struct sockaddr_un *u = (struct sockaddr_un *)ss;
		u->sun_family = AF_UNIX;
		snprintf(u->sun_path, sizeof u->sun_path, "%s", s->d.ready_arg);
		return sizeof *u;
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;
		const char *colon = strrchr(s->d.ready_arg, ':');
		char host[128];
		snprintf(host, sizeof host, "%.*s", (int)(colon - s->d.ready_arg), s->d.ready_arg);
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)atoi(colon + 1));
		if (!strcmp(host, "localhost"))
			snprintf(host, sizeof host, "127.0.0.1");
		return inet_pton(AF_INET, host, &in->sin_addr) == 1 ? sizeof *in : 0;
	}
}

static int connect_begin(struct svc *s, int64_t now)
{
	struct sockaddr_storage ss;
	socklen_t len = probe_addr(s, &ss);
	int fd;
	if (!len || (fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
		again_later(s, now);
		return 0;
	}
	if (connect(fd, (struct sockaddr *)&ss, len) == 0) {
		close(fd);
		return 1;
	} else if (errno == EINPROGRESS || errno == EAGAIN) {
		s->probe_fd = fd; /* main's poll() says when it is done */
		s->probe_deadline = now + PROBE_CONNECT_MAX_MS;
	} else {
		close(fd);
		again_later(s, now);
	}
	return 0;
}

int probe_connect_done(struct svc *s, int64_t now)
{
	int err = 1;
	socklen_t el = sizeof err;
	if (getsockopt(s->probe_fd, SOL_SOCKET, SO_ERROR, &err, &el))
		err = 1;
	close(s->probe_fd);
	s->probe_fd = -1;
	if (err == 0)
		return 1;
	again_later(s, now);
	return 0;
}

int probe_run(struct svc *s, int64_t now)
{
	if (s->probe_fd >= 0 || s->probe_pid > 0) {
		if (now >= s->probe_deadline) /* a probe that hangs counts as not ready */
			probe_cancel(s), again_later(s, now);
		return 0;
	}
	if (now < s->next_probe)
		return 0;
	if (s->d.ready == READY_TCP || s->d.ready == READY_UNIX) {
		return connect_begin(s, now);
	} else if (s->d.ready == READY_EXEC) {
		s->probe_pid = spawn_probe(s);
		if (s->probe_pid < 0) {
			s->probe_pid = 0;
			say("kiln: %s: readiness check: %s", s->d.name, s->reason);
			s->reason[0] = '\0';
			s->next_probe = now + 5000;
		} else {
			s->probe_deadline = now + PROBE_EXEC_MAX_MS;
		}
	}
	return 0;
}

int probe_exec_exited(struct svc *s, int status, int64_t now)
{
	s->probe_pid = 0;
	if (s->state == ST_STARTING && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 1;
	again_later(s, now);
	return 0;
}

void probe_cancel(struct svc *s)
{
	if (s->probe_fd >= 0)
		close(s->probe_fd);
	s->probe_fd = -1;
	if (s->probe_pid > 0) {
		kill(-s->probe_pid, SIGKILL); /* reaped by main; probe_exec_exited finds it then */
		/* one not reaped yet (uninterruptible sleep) is killed again then, not on every tick */
		s->probe_deadline = now_ms() + PROBE_KILL_AGAIN_MS;
	}
}

/* The socket etcd, containerd and others tell READY=1 on (sd_notify(3)'s protocol: a datagram to the unix socket
 * named by NOTIFY_SOCKET). Its name is made the service's own by the child before it drops root (spawn.c); whatever
 * can reach it, only a process in the service's session is listened to (SO_PASSCRED: the kernel says who sent). */
int notify_socket_open(const struct svc *s, char *path, size_t len)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd, on = 1;
	notify_socket_path(s, path, len);
	if (strlen(path) >= sizeof a.sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
	{
		char dir[200];
		snprintf(dir, sizeof dir, "%s/notify", kiln_path("KILN_RUN", "/run/kiln"));
		mkdir_p(dir, 0755);
	}
	unlink(path);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on) || bind(fd, (struct sockaddr *)&a, sizeof a) ||
	    chmod(path, 0600)) {
		int e = errno;
		close(fd);
		unlink(path);
		errno = e;
		return -1;
	}
	return fd;
}

void notify_close(struct svc *s)
{
	if (s->notify_r < 0)
		return;
	close(s->notify_r);
	s->notify_r = -1;
	if (s->d.ready == READY_SD_NOTIFY) {
		char path[300];
		notify_socket_path(s, path, sizeof path);
		unlink(path);
	}
}

/* One datagram: ready when it has a line READY=1 and came from the service's session (its main process, or one it
 * started without a session of its own). Anything else is read and dropped. */
static int sd_notify_readable(struct svc *s)
{
	char buf[4096], ctl[CMSG_SPACE(sizeof(struct ucred))];
	struct iovec io = {buf, sizeof buf - 1};
	struct msghdr m = {.msg_iov = &io, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
	struct ucred *cred = NULL;
	ssize_t r = recvmsg(s->notify_r, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (r <= 0)
		return 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) { /* never ours to keep */
			int *fds = (int *)CMSG_DATA(c);
			for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++)
				close(fds[i]);
		} else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
			cred = (struct ucred *)CMSG_DATA(c);
		}
	}
	if (!cred || s->pid <= 0 || (cred->pid != s->pid && getsid(cred->pid) != s->pid) || s->state != ST_STARTING)
		return 0;
	buf[r] = '\0';
	for (char *l = buf; l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
		if (!strncmp(l, "READY=1", 7) && (l[7] == '\n' || l[7] == '\0'))
			return 1;
	return 0;
}

int probe_notify_readable(struct svc *s)
{
	char buf[256];
	ssize_t r;
	if (s->d.ready == READY_SD_NOTIFY)
		return sd_notify_readable(s);
	r = read(s->notify_r, buf, sizeof buf);
	if (r > 0 && memchr(buf, '\n', (size_t)r) && s->state == ST_STARTING)
		return 1;
	if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
		close(s->notify_r); /* the service closed it without a word: only the timeout is left */
		s->notify_r = -1;
	}
	return 0;
}
