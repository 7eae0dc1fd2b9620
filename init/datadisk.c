/* datadisk.c: DATA on a diskless (PXE) machine's blank disk, when the cluster file allows it
 * (kiln.data_format_blank): one MBR partition over the disk, ext4 labelled kiln-data by e2fsprogs' mke2fs.
 * A disk is blank only when its first 2 MiB and last MiB read as zero: anything else is left alone. */
#include "kiln.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h> /* BLKRRPART */
#include <unistd.h>

#define MKE2FS "/sbin/mke2fs"

/* A sysfs attribute of a block device as a number; -1 when unreadable. */
static long long block_attr(const char *name, const char *attr)
{
	char path[300], *t;
	long long v = -1;
	snprintf(path, sizeof path, "/sys/class/block/%s/%s", name, attr);
	if ((t = read_text(path, NULL)))
		v = strtoll(t, NULL, 10);
	free(t);
	return v;
}

/* Whole, fixed, writable disks only: never a partition, a removable or read-only device, nor a virtual one. */
static int is_fixed_disk(const char *name)
{
	static const char *skip[] = {"loop", "ram", "zram", "sr", "fd", "md", "dm-", "nbd", NULL};
	char path[300];
	for (const char **s = skip; *s; s++)
		if (!strncmp(name, *s, strlen(*s)))
			return 0;
	snprintf(path, sizeof path, "/sys/class/block/%s/partition", name);
	return access(path, F_OK) != 0 && block_attr(name, "removable") == 0 && block_attr(name, "ro") == 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* The fixed disks, sorted by name (vda before vdb, sda before sdb); the count, or -1. */
static int list_disks(char names[][64], int max)
{
	DIR *d = opendir("/sys/class/block");
	struct dirent *e;
	int n = 0;
	if (!d)
		return -1;
	while ((e = readdir(d)) && n < max)
		if (e->d_name[0] != '.' && strlen(e->d_name) < 64 && is_fixed_disk(e->d_name))
			snprintf(names[n++], 64, "%s", e->d_name);
	closedir(d);
	qsort(names, (size_t)n, sizeof names[0], name_cmp);
	return n;
}

/* 1 when the disk's head and tail read as zero, 0 when not, -1 when unreadable. */
static int disk_blank(int fd, uint64_t bytes)
{
	unsigned char *buf = malloc(BLANK_HEAD);
	int blank = -1;
	if (buf && bytes >= BLANK_HEAD + BLANK_TAIL && pread(fd, buf, BLANK_HEAD, 0) == (ssize_t)BLANK_HEAD) {
		blank = region_is_zero(buf, BLANK_HEAD);
		if (blank)
			blank = pread(fd, buf, BLANK_TAIL, (off_t)(bytes - BLANK_TAIL)) == (ssize_t)BLANK_TAIL
					? region_is_zero(buf, BLANK_TAIL) : -1;
	}
	free(buf);
	return blank;
}

struct disks {
	char names[16][64];
	int n;
};

static int disks_listed(void *arg)
{
	struct disks *ds = arg;
	return (ds->n = list_disks(ds->names, 16)) > 0;
}

/* The first disk (name order) that is blank, opened read-write in *FD; its name in DISK, its size in *SECTORS. */
static int find_blank_disk(char *disk, size_t len, int *fd, uint64_t *sectors)
{
	struct disks ds;
	char (*names)[64] = ds.names, dev[80];
	int n, blank;
	poll_until(disks_listed, &ds, 2000, 100); /* drivers may still be probing */
	n = ds.n;
	for (int i = 0; i < n; i++) {
		snprintf(dev, sizeof dev, "/dev/%s", names[i]);
		block_dev_node(names[i], dev);
		/* O_EXCL: refused while anything holds the disk (a mounted partition, a RAID or LVM member) */
		if ((*fd = open(dev, O_RDWR | O_EXCL | O_CLOEXEC)) < 0) {
			say("kiln: data: %s: %m, left alone", dev);
			continue;
		}
		*sectors = (uint64_t)block_attr(names[i], "size");
		if ((blank = disk_blank(*fd, *sectors * 512)) == 1) {
			snprintf(disk, len, "%s", names[i]);
			return 0;
		}
		say("kiln: data: %s %s, left alone", dev, blank ? "cannot be read" : "is not blank (it has data)");
		close(*fd);
	}
	if (n == 0)
		say("kiln: data: no disk");
	return -1;
}

struct part_want {
	const char *disk;
	char *part;
	size_t len;
};

static int part_found(void *arg)
{
	struct part_want *w = arg;
	char path[300];
	DIR *d;
	struct dirent *e;
	int found = 0;
	snprintf(path, sizeof path, "/sys/class/block/%s", w->disk);
	if (!(d = opendir(path)))
		return 0;
	while (!found && (e = readdir(d)))
		if (!strncmp(e->d_name, w->disk, strlen(w->disk))) {
			snprintf(path, sizeof path, "%s/%s", w->disk, e->d_name);
			if (block_attr(path, "partition") == 1) {
				snprintf(w->part, w->len, "%s", e->d_name);
				found = 1;
			}
		}
	closedir(d);
	return found;
}

/* The partition numbered 1 of DISK, once the kernel has read the new table: its name in PART. */
static int first_partition(const char *disk, char *part, size_t len, int wait_ms)
{
	struct part_want w = {disk, part, len};
	if (poll_until(part_found, &w, wait_ms, 50))
		return 0;
	errno = ENOENT;
	return -1;
}

/* Writes the partition table on the open disk and has the kernel read it. */
static int partition(int fd, const char *dev, uint64_t sectors)
{
	unsigned char mbr[512];
	if (mbr_build(mbr, sectors, (uint32_t)now_ms() ^ 0x6b696c6eu)) {
		say("kiln: data: %s is too small for DATA (%llu MiB)", dev, (unsigned long long)(sectors >> 11));
		return -1;
	}
	if (pwrite(fd, mbr, sizeof mbr, 0) != (ssize_t)sizeof mbr || fsync(fd)) {
		say("kiln: data: writing the partition table on %s: %m", dev);
		return -1;
	}
	if (ioctl(fd, BLKRRPART, 0))
		say("kiln: data: %s: re-reading the partition table: %m", dev);
	return 0;
}

static int make_fs(const char *label, const char *dev)
{
	char lbl[32], *argv[] = {MKE2FS, "-q", "-t", "ext4", "-L", lbl, "-m", "1", (char *)dev, NULL};
	int rc;
	snprintf(lbl, sizeof lbl, "%s", label);
	if ((rc = early_run(argv)) != 0)
		say("kiln: data: %s %s exited %d", MKE2FS, dev, rc);
	return rc ? -1 : 0;
}

/* Makes DATA on the first blank disk: its new filesystem's device in DEV. */
int data_format_blank(const char *label, char *dev, size_t devlen)
{
	char disk[64], part[64];
	uint64_t sectors;
	int fd, rc;
	if (find_blank_disk(disk, sizeof disk, &fd, &sectors))
		return -1;
	say("kiln: data: /dev/%s is blank (%llu MiB): making %s on it (data_format_blank)", disk,
	    (unsigned long long)(sectors >> 11), label);
	snprintf(dev, devlen, "/dev/%s", disk);
	rc = partition(fd, dev, sectors);
	close(fd);
	if (rc)
		return -1;
	if (first_partition(disk, part, sizeof part, 5000)) {
		say("kiln: data: /dev/%s: the new partition did not appear", disk);
		return -1;
	}
	snprintf(dev, devlen, "/dev/%s", part);
	block_dev_node(part, dev);
	if (make_fs(label, dev))
		return -1;
	say("kiln: data: made %s on %s (ext4, %llu MiB)", label, dev,
	    (unsigned long long)((sectors - MBR_FIRST_SECTOR) >> 11));
	return 0;
}
