/* control.c: init's control socket: one request line per connection, one reply, then close.
 * A reply starts with a status digit line (0 ok, 1 refused), then text. A slow client is cut off. */
#include "svc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

int control_open(const char *path)
{
	struct sockaddr_un a;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	char dir[sizeof a.sun_path];
	if (fd < 0)
		return -1;
	memset(&a, 0, sizeof a);
	a.sun_family = AF_UNIX;
	snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
	snprintf(dir, sizeof dir, "%s", path);
	if (strrchr(dir, '/'))
		*strrchr(dir, '/') = '\0';
	mkdir_p(dir, 0755);
	unlink(path);
	if (bind(fd, (struct sockaddr *)&a, sizeof a) || chmod(path, 0600) || listen(fd, 16)) {
		close(fd);
		return -1;
	}
	return fd;
}

static void reply(int fd, int code, const char *text)
{
	char head[4];
	snprintf(head, sizeof head, "%d\n", code);
	(void)!write(fd, head, strlen(head));
	(void)!write(fd, text, strlen(text));
}

static void handle(int fd, char *req)
{
	char *w[3], text[32768];
	int n = split_args(req, w, 3);
	struct svc *s = n >= 2 ? svc_find(w[1]) : NULL;
	if (n < 1) {
		reply(fd, 2, "empty request\n");
	} else if (!strcmp(w[0], "status")) {
		if (n >= 2 && !s) {
			snprintf(text, sizeof text, "no service %s\n", w[1]);
			reply(fd, 1, text);
			return;
		}
		svc_status(text, sizeof text, n >= 2 ? w[1] : NULL);
		reply(fd, 0, text);
	} else if (!strcmp(w[0], "poweroff") || !strcmp(w[0], "reboot") || !strcmp(w[0], "halt")) {
		reply(fd, 0, "");
		svc_begin_shutdown(!strcmp(w[0], "reboot") ? (int)RB_AUTOBOOT : !strcmp(w[0], "halt") ? (int)RB_HALT_SYSTEM : (int)RB_POWER_OFF);
	} else if (n < 2 || (strcmp(w[0], "start") && strcmp(w[0], "stop") && strcmp(w[0], "restart"))) {
		reply(fd, 2, "usage: status [NAME] | start NAME | stop NAME | restart NAME | poweroff | reboot | halt\n");
	} else if (!s) {
		snprintf(text, sizeof text, "no service %s\n", w[1]);
		reply(fd, 1, text);
	} else if (shutting_down) {
		reply(fd, 1, "shutting down\n");
	} else if (!strcmp(w[0], "start")) {
		svc_start_request(s);
		reply(fd, 0, "");
	} else if (!strcmp(w[0], "stop")) {
		svc_stop(s, now_ms());
		reply(fd, 0, "");
	} else {
		if (s->pid > 0) {
			svc_stop(s, now_ms());
			s->attempt = -1; /* start again once it has exited */
		} else {
			svc_start_request(s);
		}
		reply(fd, 0, "");
	}
}

void control_accept(int lfd)
{
	struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
	char req[512];
	ssize_t r;
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	/* Bounded: a client that sends nothing within 200 ms is dropped; replies are small. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	r = read(fd, req, sizeof req - 1);
	if (r > 0) {
		req[r] = '\0';
		req[strcspn(req, "\n")] = '\0';
		handle(fd, req);
	}
	close(fd);
}
