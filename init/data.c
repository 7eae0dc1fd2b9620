/* data.c: the DATA partition: found (the ext4 labelled kiln-data), checked (e2fsck), mounted on /data with
 * what lives there, or a tmpfs; and made on a diskless (PXE) machine's blank disk when the cluster file allows it
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

static int part_found(void *arg)
{
	struct poll_want *w = arg; /* key: the disk */
	char path[300];
	DIR *d;
	struct dirent *e;
	int found = 0;
	snprintf(path, sizeof path, "/sys/class/block/%s", w->key);
	if (!(d = opendir(path)))
		return 0;
	while (!found && (e = readdir(d)))
		if (!strncmp(e->d_name, w->key, strlen(w->key))) {
			snprintf(path, sizeof path, "%s/%s", w->key, e->d_name);
			if (block_attr(path, "partition") == 1) {
				snprintf(w->out, w->outlen, "%s", e->d_name);
				found = 1;
			}
		}
	closedir(d);
	return found;
}

/* The partition numbered 1 of DISK, once the kernel has read the new table: its name in PART. */
static int first_partition(const char *disk, char *part, size_t len, int wait_ms)
{
	struct poll_want w = {disk, part, len};
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

static int dir_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int empty = 1;
	if (!d)
		return 1;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			empty = 0;
	closedir(d);
	return empty;
}

/* What lives on DATA from the first boot: logs, state, and on a disk system the identity. */
static int early_data_dirs(void)
{
	mkdir_p("/data/log", 0755); /* /var/log and /var/lib point here */
	mkdir_p("/data/lib", 0755);
	/* On a disk system the identity lives on DATA; an identity archive in the initramfs wins. */
	if (access("/data/identity", F_OK) == 0 && dir_empty("/etc/kiln/identity")) {
		mkdir_p("/etc/kiln/identity", 0755);
		if (mount("/data/identity", "/etc/kiln/identity", NULL, MS_BIND, NULL))
			say("kiln: identity: bind /data/identity: %m");
	}
	return 0;
}

char data_problem[160];

/* DATA: the ext4 labelled kiln-data on any disk; with kiln.data_format_blank, made on a blank disk when no
 * disk has one; else a tmpfs, said on the console (a diskless machine keeps nothing across a reboot). With
 * kiln.data=disk (a master's etcd: a member that forgot its votes breaks raft's safety) init waits up to
 * kiln.data_wait seconds for the disk, and without one the services marked `data = required` do not start. A
 * filesystem e2fsck could not repair (exit 4 or more) is mounted read-only, and those services do not start either. */
int early_data(const struct cmdline *c)
{
	char dev[300];
	int64_t t0 = now_ms();
	/* Without kiln.data=disk, one look, unless a disk may still come from a driver that finds its disks after its
	 * module has loaded (NVMe, USB, MMC): 300 ms for those. */
	int first = c->data_disk && !c->data_format_blank ? c->data_wait * 1000 : disks_may_come_later("/sys") ? 300 : 0;
	unsigned long ro = 0;
	mkdir_p("/data", 0755);
	if (c->data_disk)
		say("kiln: data: waiting up to %d s for the kiln-data disk (kiln.data=disk)", c->data_wait);
	if (find_ext4_label("kiln-data", dev, sizeof dev, first) == 0 ||
	    (c->data_format_blank && data_format_blank("kiln-data", dev, sizeof dev) == 0) ||
	    (c->data_disk && find_ext4_label("kiln-data", dev, sizeof dev, (int)(t0 + c->data_wait * 1000LL - now_ms())) == 0)) {
		if (c->data_disk)
			say("kiln: data: %s found in %lld ms", dev, (long long)(now_ms() - t0));
		if (access("/sbin/e2fsck", X_OK) == 0) {
			char *argv[] = {"/sbin/e2fsck", "-p", dev, NULL};
			int rc = early_run(argv);
			if (rc >= 4) {
				ro = MS_RDONLY;
				snprintf(data_problem, sizeof data_problem,
					 "DATA (%s) is read-only: e2fsck -p exited %d, run e2fsck %s by hand",
					 dev, rc, dev);
				say("kiln: data: e2fsck %s exited %d: errors left, mounting it read-only", dev, rc);
			}
		}
		modules_load_fs();
		if (mount(dev, "/data", "ext4", MS_NOATIME | MS_NODEV | MS_NOSUID | ro, NULL) == 0)
			goto mounted;
		say("kiln: data: mount %s: %m", dev);
		snprintf(data_problem, sizeof data_problem, "DATA (%s) could not be mounted: %s", dev, strerror(errno));
	} else if (c->data_disk) {
		snprintf(data_problem, sizeof data_problem, "no disk has kiln-data after %d s (kiln.data=disk)", c->data_wait);
	}
	if (mount("data", "/data", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")) {
		say("kiln: data: tmpfs: %m");
		return -1;
	}
	say("kiln: no data partition, /data is tmpfs%s%s", data_problem[0] ? ": " : "", data_problem);
	return early_data_dirs();
mounted:
	if (ro)
		say("kiln: data: %s mounted read-only: %s", dev, data_problem);
	return early_data_dirs();
}
