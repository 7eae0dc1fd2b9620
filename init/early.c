/* early.c: what PID 1 does before supervising: the API filesystems, switching from the first-stage
 * initramfs into a system slot, the DATA partition and the identity on it, hostname and sysctls. */
#include "kiln.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

/* A folder that is already a mount point (after switch_root) is left alone. */
static int is_mountpoint(const char *path)
{
	struct stat a, b;
	char parent[256];
	snprintf(parent, sizeof parent, "%s/..", path);
	return stat(path, &a) == 0 && stat(parent, &b) == 0 && a.st_dev != b.st_dev;
}

static int mount_once(const char *src, const char *dst, const char *type, unsigned long flags, const char *data)
{
	mkdir_p(dst, 0755);
	if (is_mountpoint(dst))
		return 0;
	if (mount(src, dst, type, flags, data) && errno != EBUSY) {
		say("kiln: mount %s on %s: %m", type, dst);
		return -1;
	}
	return 0;
}

int early_mounts(void)
{
	int rc = 0;
	rc |= mount_once("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	rc |= mount_once("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	rc |= mount_once("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
	rc |= mount_once("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "mode=0620,ptmxmode=0666");
	rc |= mount_once("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
	rc |= mount_once("run", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
	rc |= mount_once("tmp", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
	rc |= mount_once("cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	cgroup_delegate("/sys/fs/cgroup");
	return rc ? -1 : 0;
}

/* Deletes the first stage's files (they are in RAM) without crossing into other mounts. */
static void delete_tree(int dirfd, dev_t rootdev)
{
	DIR *d = fdopendir(dirfd);
	struct dirent *e;
	if (!d)
		return;
	while ((e = readdir(d))) {
		struct stat st;
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) || st.st_dev != rootdev)
			continue;
		if (S_ISDIR(st.st_mode)) {
			int fd = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd >= 0)
				delete_tree(fd, rootdev);
			unlinkat(dirfd, e->d_name, AT_REMOVEDIR);
		} else {
			unlinkat(dirfd, e->d_name, 0);
		}
	}
	closedir(d);
}

/* The initramfs is the kernel's initial rootfs mount, which pivot_root(2) can never leave, so runc (which pivots
 * into every container's root) fails on it. Running from a bind mount of it, a mount with a parent, lifts that
 * limit and copies nothing: the early mounts move along, then the bind mount becomes /. */
int early_root_bind(void)
{
	static const char *moves[] = {"/dev", "/proc", "/sys", "/run", "/tmp"};
	char dst[64];
	mkdir_p("/newroot", 0755);
	if (mount("/", "/newroot", NULL, MS_BIND, NULL)) {
		say("kiln: bind-mount / on /newroot: %m (containers cannot pivot_root)");
		return -1;
	}
	for (size_t i = 0; i < sizeof moves / sizeof moves[0]; i++) {
		snprintf(dst, sizeof dst, "/newroot%s", moves[i]);
		if (mount(moves[i], dst, NULL, MS_MOVE, NULL))
			say("kiln: move %s: %m", moves[i]);
	}
	if (chdir("/newroot") || mount(".", "/", NULL, MS_MOVE, NULL) || chroot(".") || chdir("/")) {
		say("kiln: switching to the bind-mounted root: %m");
		return -1;
	}
	return 0;
}

int early_switch_root(const char *label, char **argv)
{
	static const char *moves[] = {"/dev", "/proc", "/sys", "/run"};
	char dev[300], dst[64];
	struct stat st;
	if (find_ext4_label(label, dev, sizeof dev, 10000)) {
		say("kiln: fatal: no ext4 filesystem labelled %s", label);
		return -1;
	}
	mkdir_p("/newroot", 0755);
	if (mount(dev, "/newroot", "ext4", MS_RDONLY, NULL)) {
		say("kiln: fatal: mount %s (%s) on /newroot: %m", dev, label);
		return -1;
	}
	for (size_t i = 0; i < sizeof moves / sizeof moves[0]; i++) {
		snprintf(dst, sizeof dst, "/newroot%s", moves[i]);
		if (mount(moves[i], dst, NULL, MS_MOVE, NULL))
			say("kiln: move %s: %m", moves[i]);
	}
	if (stat("/", &st) == 0) {
		int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0)
			delete_tree(fd, st.st_dev);
	}
	if (chdir("/newroot") || mount(".", "/", NULL, MS_MOVE, NULL) || chroot(".") || chdir("/")) {
		say("kiln: fatal: switching into %s: %m", label);
		return -1;
	}
	execv("/sbin/init", argv);
	say("kiln: fatal: exec /sbin/init in %s: %m", label);
	return -1;
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
	int first = c->data_disk && !c->data_format_blank ? c->data_wait * 1000 : 300;
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

void early_hostname(void)
{
	static const char *files[] = {"/etc/kiln/identity/hostname", "/etc/hostname"};
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		char *t = read_text(files[i], NULL);
		if (t) {
			t[strcspn(t, " \t\r\n")] = '\0';
			if (*t && sethostname(t, strlen(t)) == 0) {
				free(t);
				return;
			}
			free(t);
		}
	}
	(void)!sethostname("kiln", 4);
}

void early_sysctl(const char *path)
{
	char *text = read_text(path, NULL), *line, *next;
	for (line = text; line; line = next) {
		char *eq, *k, *v, file[256];
		int fd;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		line[strcspn(line, "#")] = '\0';
		if (!(eq = strchr(line, '=')))
			continue;
		*eq = '\0';
		k = line + strspn(line, " \t");
		k[strcspn(k, " \t")] = '\0';
		v = eq + 1 + strspn(eq + 1, " \t");
		v[strcspn(v, " \t\r")] = '\0';
		snprintf(file, sizeof file, "/proc/sys/%s", k);
		for (char *p = file + 10; *p; p++)
			if (*p == '.')
				*p = '/';
		fd = open(file, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, v, strlen(v)) < 0)
			say("kiln: sysctl %s: %m", k);
		if (fd >= 0)
			close(fd);
	}
	free(text);
}

/* A shell on the console, in a child: PID 1 goes on reaping (and supervising whatever it can). */
void emergency_shell(void)
{
	char *argv[] = {"/bin/sh", "-l", NULL};
	if (access("/etc/kiln/console-shell", F_OK)) {
		say("kiln: no emergency shell: this image has no console shell (image.console_shell: false)");
		return;
	}
	if (access("/bin/sh", X_OK)) {
		say("kiln: no /bin/sh for an emergency shell");
		return;
	}
	say("kiln: opening a shell on the console");
	if (child_start(argv, 1) < 0)
		say("kiln: cannot start the emergency shell: %m");
}
