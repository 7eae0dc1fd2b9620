/* early.c: what PID 1 does before supervising: the API filesystems, switching from the first-stage
 * initramfs into a system slot (or onto a bind mount of the initramfs), hostname and sysctls, the emergency shell.
 * DATA is data.c's, block devices blockdev.c's. */
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
	modules_load_fs();
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
