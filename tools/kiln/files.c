/* files.c: file system helpers: whole-file reads and writes, atomic replacement, trees removed, and the
 * swap that puts a freshly rendered folder where the old one was. */
#include "kilntool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (b->len + (size_t)n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;
		while (cap < b->len + (size_t)n + 1)
			cap *= 2;
		if (!(p = realloc(b->p, cap))) {
			perror("kiln: out of memory");
			exit(1);
		}
		b->p = p, b->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

int mkdir_p(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];
	if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
		return errno = ENAMETOOLONG, -1;
	for (char *p = tmp + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			if (mkdir(tmp, mode) && errno != EEXIST)
				return -1;
			*p = '/';
		}
	return mkdir(tmp, mode) && errno != EEXIST ? -1 : 0;
}

int rm_rf(const char *path)
{
	struct stat st;
	DIR *dir;
	struct dirent *e;
	int rc = 0;
	if (lstat(path, &st))
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlink(path);
	if (!(dir = opendir(path)))
		return -1;
	while ((e = readdir(dir))) {
		char sub[PATH_MAX];
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
		rc |= rm_rf(sub);
	}
	closedir(dir);
	return rmdir(path) || rc ? -1 : 0;
}

char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 65536, n = 0, got;
	char *p = NULL, *q;
	if (!f)
		return NULL;
	for (;;) {
		if (!(q = realloc(p, cap + 1)))
			break;
		p = q;
		got = fread(p + n, 1, cap - n, f);
		n += got;
		if (n < cap) {
			if (ferror(f))
				break;
			fclose(f);
			p[n] = '\0';
			if (len)
				*len = n;
			return p;
		}
		cap *= 2;
	}
	fclose(f);
	free(p);
	return NULL;
}

int write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	const char *p = data;
	if (fd < 0)
		return -1;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			return -1;
		}
		p += n, len -= (size_t)n;
	}
	if (fchmod(fd, mode)) {
		close(fd);
		return -1;
	}
	return close(fd);
}

/* X.new then rename: a reader sees the old file or the new one, never half of one. */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof tmp, "%s.new", path);
	if (write_file(tmp, data, len, mode) || rename(tmp, path)) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

static int same_content(const char *path, const struct stat *st, const void *data, size_t len, mode_t mode,
			uid_t uid, gid_t gid)
{
	size_t have;
	char *old;
	int same;
	if (!S_ISREG(st->st_mode) || (size_t)st->st_size != len || (st->st_mode & 07777) != mode || st->st_uid != uid ||
	    st->st_gid != gid)
		return 0;
	if (!(old = read_file(path, &have)))
		return 0;
	same = have == len && !memcmp(old, data, len);
	free(old);
	return same;
}

int emit_file(const char *path, const char *old, const void *data, size_t len, mode_t mode, uid_t uid, gid_t gid)
{
	struct stat st;
	uid_t u = uid == (uid_t)-1 ? geteuid() : uid;
	gid_t g = uid == (uid_t)-1 ? getegid() : gid;
	if (old && lstat(old, &st) == 0 && same_content(old, &st, data, len, mode, u, g) && link(old, path) == 0)
		return 0;
	if (write_file(path, data, len, mode))
		return -1;
	return uid != (uid_t)-1 ? chown(path, uid, gid) : 0;
}

int swap_into_place(const char *newdir, const char *dir)
{
	if (access(dir, F_OK) != 0)
		return rename(newdir, dir);
	if (renameat2(AT_FDCWD, newdir, AT_FDCWD, dir, RENAME_EXCHANGE))
		return -1;
	return rm_rf(newdir); /* now the old tree */
}
