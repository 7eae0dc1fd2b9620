/* blockdev.c: block devices as early boot finds them: a device node made from sysfs when devtmpfs has none, and
 * the ext4 filesystem with a given label (the system slots, DATA), waited for a bounded time. */
#include "kiln.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* Reads the ext4 label of DEV: superblock at 1024, magic 0xEF53 at +0x38, name at +0x78. */
static int ext4_label(const char *dev, char *label, size_t len)
{
	unsigned char sb[1024];
	int fd = open(dev, O_RDONLY | O_CLOEXEC);
	ssize_t r;
	if (fd < 0)
		return -1;
	r = pread(fd, sb, sizeof sb, 1024);
	close(fd);
	if (r != (ssize_t)sizeof sb || sb[0x38] != 0x53 || sb[0x39] != 0xEF)
		return -1;
	snprintf(label, len, "%.16s", (const char *)sb + 0x78);
	return 0;
}

/* devtmpfs normally has the node; without it, make one from the numbers sysfs gives. */
void block_dev_node(const char *name, const char *path)
{
	char sys[300], *t, *colon;
	if (access(path, F_OK) == 0)
		return;
	snprintf(sys, sizeof sys, "/sys/class/block/%s/dev", name);
	if ((t = read_text(sys, NULL)) && (colon = strchr(t, ':')))
		mknod(path, S_IFBLK | 0600, makedev(strtoul(t, NULL, 10), strtoul(colon + 1, NULL, 10)));
	free(t);
}

static int label_found(void *arg)
{
	struct poll_want *w = arg; /* key: the label */
	DIR *d = opendir("/sys/class/block");
	struct dirent *e;
	int found = 0;
	while (d && !found && (e = readdir(d))) {
		char l[32], path[300];
		if (e->d_name[0] == '.' || !strncmp(e->d_name, "loop", 4) || !strncmp(e->d_name, "ram", 3))
			continue;
		snprintf(path, sizeof path, "/dev/%s", e->d_name);
		block_dev_node(e->d_name, path);
		if (ext4_label(path, l, sizeof l) == 0 && !strcmp(l, w->key)) {
			snprintf(w->out, w->outlen, "%s", path);
			found = 1;
		}
	}
	if (d)
		closedir(d);
	return found;
}

int find_ext4_label(const char *label, char *dev, size_t devlen, int wait_ms)
{
	struct poll_want w = {label, dev, devlen};
	if (poll_until(label_found, &w, wait_ms, 100))
		return 0;
	errno = ENOENT;
	return -1;
}
