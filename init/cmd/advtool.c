/* kiln-adv: reads or sets the boot-once command in syslinux's auxiliary data vector, the last 1 KiB of
 * ldlinux.sys (on the mounted BOOT partition), in place: the file keeps its sectors, which syslinux knows.
 * kiln-adv LDLINUX.SYS [once CMD | clear-once]. Exit 0 ok, 1 failed, 2 usage. */
#include "kiln.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fail(const char *file, const char *what)
{
	fprintf(stderr, "kiln-adv: %s: %s%s%s\n", file, what, errno ? ": " : "", errno ? strerror(errno) : "");
	return 1;
}

int main(int argc, char **argv)
{
	unsigned char adv[2 * ADV_SIZE], back[2 * ADV_SIZE];
	char once[256];
	struct stat st;
	int set = argc == 4 && !strcmp(argv[2], "once"), clear = argc == 3 && !strcmp(argv[2], "clear-once"), fd;
	off_t at;
	if (argc != 2 && !set && !clear) {
		fprintf(stderr, "usage: kiln-adv LDLINUX.SYS [once CMD | clear-once]\n");
		return 2;
	}
	errno = 0;
	if ((fd = open(argv[1], (set || clear ? O_RDWR : O_RDONLY) | O_CLOEXEC)) < 0 || fstat(fd, &st))
		return fail(argv[1], "open");
	if (st.st_size < (off_t)sizeof adv)
		return errno = 0, fail(argv[1], "too small to hold syslinux's auxiliary data vector");
	at = st.st_size - (off_t)sizeof adv;
	if (pread(fd, adv, sizeof adv, at) != (ssize_t)sizeof adv)
		return fail(argv[1], "read");
	if (!adv_valid(adv))
		return errno = 0, fail(argv[1], "no valid auxiliary data vector (not syslinux's ldlinux.sys?)");
	if (set || clear) {
		if (adv_set(adv, ADV_BOOTONCE, set ? argv[3] : NULL))
			return errno = 0, fail(argv[1], "boot-once command too long");
		if (pwrite(fd, adv, sizeof adv, at) != (ssize_t)sizeof adv || fsync(fd))
			return fail(argv[1], "write");
		if (pread(fd, back, sizeof back, at) != (ssize_t)sizeof back || memcmp(adv, back, sizeof adv))
			return errno = 0, fail(argv[1], "the vector does not read back as written");
	}
	if (adv_get(adv, ADV_BOOTONCE, once, sizeof once) < 0)
		return errno = 0, fail(argv[1], "malformed auxiliary data vector");
	if (!set && !clear)
		printf("%s\n", once);
	close(fd);
	return 0;
}
