/* util.c: console messages, clocks, small file helpers and user lookup shared by init and initctl. */
#include "kiln.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static unsigned long say_dropped; /* lines the console did not take since the last one it did */
static int say_gone;               /* the console failed otherwise than by being full: not waited for */

/* The count of lines the console missed, written when there is one: 0 when none is pending or it went through, -1
 * when the console did not take it (one that fails otherwise than by being full is not polled for again). */
static int say_notice(void)
{
	char d[96];
	int m;
	ssize_t w;
	if (!say_dropped)
		return 0;
	m = snprintf(d, sizeof d, "kiln: console: %lu messages dropped (the console was not reading)\n", say_dropped);
	w = write(2, d, (size_t)m);
	if (w == m) {
		say_dropped = 0;
		return 0;
	}
	if (w < 0 && errno != EAGAIN)
		say_gone = 1;
	return -1;
}

/* One line to init's stderr (the console): messages never interleave mid-line. PID 1's console is non-blocking
 * (console_nonblock): a line it cannot take now (a serial line held by XOFF, a BMC that stopped reading) is dropped
 * and counted, and the count is said as soon as the console takes a line again (say_flush, or this). */
void say(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof buf - 2)
		n = (int)sizeof buf - 2;
	buf[n++] = '\n';
	if (say_notice() || write(2, buf, (size_t)n) != n)
		say_dropped++;
	else
		say_gone = 0;
}

int say_pending(void)
{
	return say_dropped && !say_gone;
}

void say_flush(short revents)
{
	if (revents & (POLLERR | POLLHUP | POLLNVAL)) /* no reader at all: poll would say so again at once */
		say_gone = 1;
	else
		say_notice();
}

void console_nonblock(void)
{
	int fl = fcntl(2, F_GETFL);
	if (fl >= 0)
		fcntl(2, F_SETFL, fl | O_NONBLOCK);
}

int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds since the kernel started (CLOCK_BOOTTIME counts from boot, suspend included). */
int64_t boot_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *read_text(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t cap = 4096, n = 0;
	char *buf;
	if (fd < 0)
		return NULL;
	if (!(buf = malloc(cap))) {
		close(fd);
		return NULL;
	}
	for (;;) {
		ssize_t r;
		if (n + 1 >= cap) {
			char *b = realloc(buf, cap *= 2);
			if (!b) {
				free(buf);
				close(fd);
				return NULL;
			}
			buf = b;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			close(fd);
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

int mkdir_p(const char *path, mode_t mode)
{
	char buf[512];
	size_t len = strlen(path);
	if (len >= sizeof buf) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			if (mkdir(buf, 0755) && errno != EEXIST)
				return -1;
			*p = '/';
		}
	return mkdir(buf, mode) && errno != EEXIST ? -1 : 0;
}

/* A path from the environment (tests run init in a sandbox) or its default. */
const char *kiln_path(const char *var, const char *dflt)
{
	const char *v = getenv(var);
	return v && *v ? v : dflt;
}
