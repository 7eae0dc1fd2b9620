/* logfile.c: a service's captured output: appended to DIR/NAME.log, rotated to NAME.log.1 ... NAME.log.KEEP
 * once it passes its size cap, the oldest dropped. */
#include "kiln.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int logfile_open(struct logfile *l, const char *dir, const char *name, long max, int keep)
{
	struct stat st;
	memset(l, 0, sizeof *l);
	l->fd = -1;
	l->max = max;
	l->keep = keep;
	if (snprintf(l->path, sizeof l->path, "%s/%s.log", dir, name) >= (int)sizeof l->path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	l->fd = open(l->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (l->fd < 0)
		return -1;
	l->size = fstat(l->fd, &st) == 0 ? (long)st.st_size : 0;
	return 0;
}

int logfile_rotate(struct logfile *l)
{
	char from[sizeof l->path + 8], to[sizeof l->path + 8];
	for (int i = l->keep; i >= 1; i--) {
		snprintf(to, sizeof to, "%s.%d", l->path, i);
		if (i == 1)
			snprintf(from, sizeof from, "%s", l->path);
		else
			snprintf(from, sizeof from, "%s.%d", l->path, i - 1);
		if (rename(from, to) && errno != ENOENT)
			return -1;
	}
	if (l->fd >= 0)
		close(l->fd);
	l->fd = open(l->path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0640);
	l->size = 0;
	return l->fd < 0 ? -1 : 0;
}

/* Writes BUF, rotating whenever the file would pass its cap; lines are kept whole unless one alone is larger. */
int logfile_write(struct logfile *l, const char *buf, size_t len)
{
	if (l->fd < 0) {
		errno = EBADF;
		return -1;
	}
	while (len > 0) {
		size_t take = len;
		long room = l->max - l->size;
	again:
		if (room <= 0) {
			if (logfile_rotate(l))
				return -1;
			room = l->max;
		}
		if ((long)take > room) {
			const char *nl = memrchr(buf, '\n', (size_t)room);
			if (!nl && l->size > 0) {
				room = 0; /* the next line does not fit: start a new file rather than split it */
				goto again;
			}
			take = nl ? (size_t)(nl - buf) + 1 : (size_t)room;
		}
		if (write(l->fd, buf, take) != (ssize_t)take)
			return -1;
		l->size += (long)take;
		buf += take;
		len -= take;
	}
	return 0;
}

void logfile_close(struct logfile *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
}
