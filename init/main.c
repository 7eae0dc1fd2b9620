/* main.c: kiln's PID 1: early boot, then one poll() loop over a signalfd, a timerfd, the control socket
 * and the services' pipes; an orderly shutdown at the end. PID 1 never exits (except in a test sandbox). */
#include "svc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/statfs.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

int control_open(const char *path);
void control_accept(int lfd);

static void console_setup(void)
{
	int fd = open("/dev/console", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, 0), dup2(fd, 1), dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
}

/* kiln.root applies to the first stage only: after the switch, / is the slot's ext4. */
#define RAMFS_MAGIC 0x858458f6
#define TMPFS_MAGIC 0x01021994
static int root_is_initramfs(void)
{
	struct statfs f;
	return statfs("/", &f) == 0 && ((unsigned long)f.f_type == RAMFS_MAGIC || (unsigned long)f.f_type == TMPFS_MAGIC);
}

static void early_boot(char **argv)
{
	struct cmdline c;
	char *cl;
	early_mounts();
	console_setup();
	cl = read_text("/proc/cmdline", NULL);
	cmdline_parse(cl ? cl : "", &c);
	free(cl);
	reboot(RB_DISABLE_CAD); /* Ctrl-Alt-Del becomes SIGINT: an orderly reboot */
	modules_load_all("/etc/kiln/modules");
	if (c.root[0] && root_is_initramfs()) {
		early_switch_root(c.root, argv);
		emergency_shell();
		return; /* keep going as best we can: supervise what is here */
	}
	early_data();
	early_hostname();
	net_setup(&c);
	early_sysctl("/etc/kiln/sysctl");
	if (c.shell)
		emergency_shell();
}

static void reap(void)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		svc_child_exited(pid, status);
}

/* The last steps: everything else gets TERM, then KILL; filesystems are synced and released. */
static void final_shutdown(int cmd, int sandbox)
{
	int64_t end;
	const char *what = cmd == (int)RB_AUTOBOOT ? "rebooting" : cmd == (int)RB_HALT_SYSTEM ? "halted" : "powering off";
	kill(-1, SIGTERM);
	kill(-1, SIGCONT);
	for (end = now_ms() + 2000; now_ms() < end;) {
		if (waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD)
			break;
		usleep(50 * 1000);
	}
	kill(-1, SIGKILL);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	sync();
	if (!sandbox) {
		if (umount("/etc/kiln/identity") && errno != EINVAL && errno != ENOENT)
			umount2("/etc/kiln/identity", MNT_DETACH);
		if (umount("/data") && errno != EINVAL)
			umount2("/data", MNT_DETACH);
		mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY, NULL);
		sync();
	}
	say("kiln: %s", what);
	if (sandbox)
		exit(0);
	reboot(cmd);
	for (;;)
		pause();
}

static void arm_timer(int tfd, int64_t deadline)
{
	struct itimerspec its;
	int64_t now = now_ms(), d;
	memset(&its, 0, sizeof its);
	if (deadline >= 0) {
		d = deadline - now;
		if (d < 1)
			d = 1;
		its.it_value.tv_sec = d / 1000;
		its.it_value.tv_nsec = (d % 1000) * 1000000;
	}
	timerfd_settime(tfd, 0, &its, NULL);
}

int main(int argc, char **argv)
{
	int sandbox = getenv("KILN_SANDBOX") != NULL, sfd, tfd, cfd;
	sigset_t set;
	char path[512];
	(void)argc;

	sigfillset(&set);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if (sandbox)
		boot_offset = boot_seconds();
	if (getpid() == 1 && !sandbox)
		early_boot(argv);
	sigemptyset(&set);
	for (int sig = 1; sig < 32; sig++)
		if (sig != SIGKILL && sig != SIGSTOP && sig != SIGSEGV && sig != SIGBUS && sig != SIGFPE && sig != SIGILL)
			sigaddset(&set, sig);
	sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	snprintf(path, sizeof path, "%s/control.sock", kiln_path("KILN_RUN", "/run/kiln"));
	if ((cfd = control_open(path)) < 0)
		say("kiln: control socket %s: %m", path);
	snprintf(path, sizeof path, "%s/services", kiln_path("KILN_ETC", "/etc/kiln"));
	svc_load_all(path);

	for (;;) {
		struct pollfd p[3 + 2 * 256];
		int n = 0;
		svc_tick(now_ms());
		if (shutting_down && svc_all_stopped())
			final_shutdown(shutting_down, sandbox);
		arm_timer(tfd, svc_next_deadline());
		p[n++] = (struct pollfd){.fd = sfd, .events = POLLIN};
		p[n++] = (struct pollfd){.fd = tfd, .events = POLLIN};
		p[n++] = (struct pollfd){.fd = cfd, .events = POLLIN};
		for (int i = 0; i < nsvcs && n < (int)(sizeof p / sizeof p[0]) - 1; i++) {
			if (svcs[i].log_r >= 0)
				p[n++] = (struct pollfd){.fd = svcs[i].log_r, .events = POLLIN};
			if (svcs[i].notify_r >= 0)
				p[n++] = (struct pollfd){.fd = svcs[i].notify_r, .events = POLLIN};
		}
		if (poll(p, (nfds_t)n, -1) < 0 && errno != EINTR)
			continue;
		if (p[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof si) == sizeof si) {
				switch (si.ssi_signo) {
				case SIGCHLD: reap(); break;
				case SIGTERM:
				case SIGUSR2: svc_begin_shutdown((int)RB_POWER_OFF); break;
				case SIGINT: svc_begin_shutdown((int)RB_AUTOBOOT); break;
				case SIGUSR1: svc_begin_shutdown((int)RB_HALT_SYSTEM); break;
				default: break;
				}
			}
		}
		if (p[1].revents & POLLIN) {
			uint64_t x;
			(void)!read(tfd, &x, sizeof x);
		}
		if (p[2].revents & POLLIN)
			control_accept(cfd);
		for (int i = 3; i < n; i++)
			if (p[i].revents & (POLLIN | POLLHUP))
				svc_pipe_readable(p[i].fd);
		reap(); /* a child may have exited while its SIGCHLD was coalesced */
	}
}
