/* shutdown.c: the last steps of PID 1 once every service has stopped: TERM and KILL to what is left, sync,
 * writable filesystems unmounted (lazily when busy), / read-only, the final console line, reboot(2). */
#include "svc.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define GRACE_MS 2000
#define KILL_WAIT_MS 5000
#define MOUNTS_MAX 128

static void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

/* Reaps until no child is left (1) or END passes (0). */
static int reap_until(int64_t end)
{
	while (now_ms() < end) {
		pid_t p = waitpid(-1, NULL, WNOHANG);
		if (p < 0 && errno == ECHILD)
			return 1;
		if (p == 0)
			sleep_ms(50);
	}
	return 0;
}

/* Everything that is not a service (stray daemons, shells): TERM, a grace period, then KILL, and a bounded wait
 * for that too: a process in uninterruptible sleep must not keep the machine from going down. */
static void kill_everything(void)
{
	kill(-1, SIGTERM);
	kill(-1, SIGCONT);
	if (reap_until(now_ms() + GRACE_MS))
		return;
	kill(-1, SIGKILL);
	if (!reap_until(now_ms() + KILL_WAIT_MS))
		say("kiln: processes still there %d s after SIGKILL: going on", KILL_WAIT_MS / 1000);
}

/* Kernel and RAM filesystems hold nothing to save; the rest is unmounted. */
static int holds_data(const char *dir, const char *type)
{
	static const char *virt[] = {"proc", "sysfs", "devtmpfs", "devpts", "cgroup2", "cgroup", "securityfs",
				     "debugfs", "tracefs", "bpf", "mqueue", "hugetlbfs", "pstore", "configfs",
				     "fusectl", "efivarfs", "binfmt_misc", "autofs", "rootfs", "tmpfs", "ramfs"};
	if (!strcmp(dir, "/"))
		return 0;
	for (size_t i = 0; i < sizeof virt / sizeof virt[0]; i++)
		if (!strcmp(type, virt[i]))
			return 0;
	return 1;
}

/* /proc/self/mounts lines: "SOURCE DIR TYPE OPTIONS 0 0" (octal escapes in DIR are left: such mounts stay). */
static int writable_mounts(char **dirs, int max)
{
	char *text = read_text("/proc/self/mounts", NULL), *line, *next;
	int n = 0;
	for (line = text; line && n < max; line = next) {
		char *w[8]; /* six fields: split_args refuses a line with more words than it has room for */
		if ((next = strchr(line, '\n')))
			*next++ = '\0';
		if (split_args(line, w, 8) >= 3 && holds_data(w[1], w[2]) && (dirs[n] = strdup(w[1])))
			n++;
	}
	free(text);
	return n;
}

static void unmount_all(void)
{
	char *dirs[MOUNTS_MAX];
	int n = writable_mounts(dirs, MOUNTS_MAX);
	while (n-- > 0) { /* newest first: a mount inside another goes before it */
		if (umount(dirs[n]) && errno != EINVAL && errno != ENOENT) {
			/* busy: make it read-only so the data is safe, then let it go when it is free */
			mount(NULL, dirs[n], NULL, MS_REMOUNT | MS_RDONLY, NULL);
			if (umount2(dirs[n], MNT_DETACH))
				say("kiln: unmount %s: %m", dirs[n]);
		}
		free(dirs[n]);
	}
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY, NULL) && errno != EROFS && errno != EINVAL)
		say("kiln: remount / read-only: %m");
}

void shutdown_final(int cmd, int sandbox)
{
	const char *what = cmd == (int)RB_AUTOBOOT ? "rebooting" : cmd == (int)RB_HALT_SYSTEM ? "halted" : "powering off";
	/* kill(-1) reaches every process we may signal: only PID 1 (of the machine or of a test namespace) may */
	if (getpid() == 1)
		kill_everything();
	sync();
	if (!sandbox) {
		unmount_all();
		sync();
	}
	say("kiln: %s", what);
	if (sandbox)
		exit(0);
	reboot(cmd);
	for (;;) /* reboot(2) failed: nothing is left to do but stay alive */
		pause();
}
