/* control.c: init's control socket: one request line per connection, one reply, then close. Every client is
 * nonblocking and has a deadline, so a slow or silent one is dropped and never holds PID 1. */
#include "svc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define CLIENTS_MAX 8
#define CLIENT_MS 1000 /* a request must arrive within this */
#define REQUEST_MAX 256

struct client {
	int fd;
	int64_t deadline;
	size_t len;
	char req[REQUEST_MAX];
};

static struct client clients[CLIENTS_MAX];
static int nclients;

int control_open(const char *path)
{
	struct sockaddr_un a;
	char dir[sizeof a.sun_path];
	mode_t old;
	int fd, rc;
	memset(&a, 0, sizeof a);
	a.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof a.sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
	snprintf(dir, sizeof dir, "%s", path);
	if (strrchr(dir, '/'))
		*strrchr(dir, '/') = '\0';
	mkdir_p(dir, 0755);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	unlink(path);
	old = umask(0077); /* 0600 from the first moment, not after a chmod */
	rc = bind(fd, (struct sockaddr *)&a, sizeof a);
	umask(old);
	if (rc || listen(fd, 16)) {
		close(fd);
		return -1;
	}
	return fd;
}

static void reply(int fd, int code, const char *text)
{
	char head[4];
	snprintf(head, sizeof head, "%d\n", code);
	/* nonblocking: a reply larger than the socket buffer is cut rather than waited on */
	if (write(fd, head, strlen(head)) > 0)
		(void)!write(fd, text, strlen(text));
}

static int shutdown_cmd(const char *w)
{
	if (!strcmp(w, "poweroff"))
		return (int)RB_POWER_OFF;
	if (!strcmp(w, "reboot"))
		return (int)RB_AUTOBOOT;
	if (!strcmp(w, "halt"))
		return (int)RB_HALT_SYSTEM;
	return 0;
}

static void handle(int fd, char *req)
{
	static char text[65536];
	char *w[4];
	int n = split_args(req, w, 4), cmd;
	struct svc *s = n >= 2 ? svc_find(w[1]) : NULL;
	if (n < 1 || n > 2) {
		reply(fd, 2, "usage: status [NAME] | metrics | start NAME | stop NAME | restart NAME | poweroff | reboot | halt\n");
	} else if (!strcmp(w[0], "status")) {
		if (n == 2 && !s) {
			snprintf(text, sizeof text, "no service %s\n", w[1]);
			reply(fd, 1, text);
			return;
		}
		svc_status(text, sizeof text, n == 2 ? w[1] : NULL);
		reply(fd, 0, text);
	} else if (!strcmp(w[0], "metrics") && n == 1) {
		svc_metrics(text, sizeof text);
		reply(fd, 0, text);
	} else if ((cmd = shutdown_cmd(w[0])) && n == 1) {
		reply(fd, 0, "");
		svc_begin_shutdown(cmd);
	} else if (n != 2 || (strcmp(w[0], "start") && strcmp(w[0], "stop") && strcmp(w[0], "restart"))) {
		reply(fd, 2, "usage: status [NAME] | metrics | start NAME | stop NAME | restart NAME | poweroff | reboot | halt\n");
	} else if (!s) {
		snprintf(text, sizeof text, "no service %s\n", w[1]);
		reply(fd, 1, text);
	} else if (shutting_down) {
		reply(fd, 1, "shutting down\n");
	} else {
		if (!strcmp(w[0], "start"))
			svc_start_request(s);
		else if (!strcmp(w[0], "stop"))
			svc_stop(s, now_ms());
		else
			svc_restart_request(s);
		reply(fd, 0, "");
	}
}

static void drop(int i)
{
	close(clients[i].fd);
	clients[i] = clients[--nclients];
}

/* New connections while there is room. With the table full the rest wait in the listen queue, and the socket is
 * not polled, until one is answered or dropped at its deadline: a request sent is never lost to a burst, and silent
 * clients delay the others by CLIENT_MS at most. */
static void accept_all(int lfd)
{
	int fd;
	while (nclients < CLIENTS_MAX && (fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0)
		clients[nclients++] = (struct client){.fd = fd, .deadline = now_ms() + CLIENT_MS};
}

static void client_readable(int i)
{
	struct client *c = &clients[i];
	ssize_t r = read(c->fd, c->req + c->len, sizeof c->req - 1 - c->len);
	char *nl;
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) {
		drop(i);
		return;
	}
	c->len += (size_t)r;
	c->req[c->len] = '\0';
	if ((nl = strchr(c->req, '\n')) || c->len == sizeof c->req - 1) {
		if (nl)
			*nl = '\0';
		else
			c->req[0] = '\0'; /* too long: answered as a bad request */
		handle(c->fd, c->req);
		drop(i);
	}
}

int control_fill_poll(int lfd, struct pollfd *p, int max)
{
	int n = 0;
	if (lfd < 0 || max < 1 + nclients)
		return 0;
	if (nclients < CLIENTS_MAX)
		p[n++] = (struct pollfd){.fd = lfd, .events = POLLIN};
	for (int i = 0; i < nclients; i++)
		p[n++] = (struct pollfd){.fd = clients[i].fd, .events = POLLIN};
	return n;
}

void control_event(int lfd, int fd, short revents)
{
	if (fd == lfd) {
		accept_all(lfd);
		return;
	}
	for (int i = 0; i < nclients; i++)
		if (clients[i].fd == fd) {
			if (revents & (POLLIN | POLLHUP | POLLERR))
				client_readable(i);
			return;
		}
}

void control_tick(int64_t now)
{
	for (int i = nclients - 1; i >= 0; i--)
		if (now >= clients[i].deadline)
			drop(i);
}

int64_t control_next_deadline(void)
{
	int64_t best = -1;
	for (int i = 0; i < nclients; i++)
		if (best < 0 || clients[i].deadline < best)
			best = clients[i].deadline;
	return best;
}
