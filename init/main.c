/* main.c: kiln's PID 1: early boot, then one poll() loop over a signalfd, a timerfd, the control socket and
 * the services' pipes; an orderly shutdown at the end. PID 1 never exits (except in a test sandbox). */
#include "svc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#define ENROLL_TOOL "/usr/libexec/kiln/enroll" /* rootfs/usr/libexec/kiln/enroll */

#define RAMFS_MAGIC 0x858458f6
#define TMPFS_MAGIC 0x01021994

static void console_setup(void)
{
	int fd = open("/dev/console", O_RDWR | O_NOCTTY);
	if (fd >= 0) {
		dup2(fd, 0), dup2(fd, 1), dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
}

/* Pipes and sockets must never land on 0, 1 or 2: a service's dup2() would then clobber them. The first
 * /dev/null above 2 is not kept: a child would inherit it. */
static void std_fds(void)
{
	int fd;
	while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd <= 2)
		;
	if (fd > 2)
		close(fd);
}

/* What init was started with above 2 (a sandboxed init's test harness, a first stage's leftover) stays init's. */
#define CLOSE_RANGE_CLOEXEC (1U << 2)
static void inherited_cloexec(void)
{
	if (syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC) == 0)
		return;
	for (int fd = 3; fd < 1024; fd++) /* a kernel before 5.11 */
		fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/* kiln.root applies to the first stage only: after the switch, / is the slot's ext4. */
static int root_is_initramfs(void)
{
	struct statfs f;
	return statfs("/", &f) == 0 && ((unsigned long)f.f_type == RAMFS_MAGIC || (unsigned long)f.f_type == TMPFS_MAGIC);
}

/* A PXE machine's identity comes without its keys (enroll/conf in it): it makes them and enrolls with the build host
 * before any service starts; the script waits for the operator's approval, saying so on the console. */
static void early_enroll(void)
{
	char *argv[] = {ENROLL_TOOL, NULL};
	int rc;
	if (access("/etc/kiln/identity/enroll/conf", F_OK) != 0)
		return;
	if ((rc = early_run(argv)) != 0)
		say("kiln: enroll: %s exited %d: services that need the machine's keys will fail", ENROLL_TOOL, rc);
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
	memcpy(svc_disabled, c.disable, sizeof svc_disabled);
	reboot(RB_DISABLE_CAD); /* Ctrl-Alt-Del becomes SIGINT: an orderly reboot */
	if (c.trial && !root_is_initramfs())
		watchdog_trial_open(); /* the slot of a trial boot: the first stage left the watchdog running */
	modules_load_drivers("/sys", "/etc/kiln/drivers");
	modules_load_all("/etc/kiln/modules");
	if (c.root[0] && root_is_initramfs()) {
		if (c.trial) /* from here on, a hang resets the machine into the default slot */
			watchdog_arm("/etc/kiln/watchdog-modules", c.trial);
		early_switch_root(c.root, argv); /* returns only on failure, having said why */
		emergency_shell();
		return; /* keep going as best we can: supervise what is here */
	}
	if (root_is_initramfs())
		early_root_bind();
	early_data(&c);
	if (c.root[0])
		trial_boot_check(); /* booted from a disk slot: the upgrade state on BOOT */
	trial_begin(c.trial);
	early_hostname();
	net_setup(&c);
	early_sysctl("/etc/kiln/sysctl");
	early_enroll();
	if (c.shell)
		emergency_shell();
}

static void reap(void)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		if (!logd_exited(pid, status))
			svc_child_exited(pid, status);
}

static void arm_timer(int tfd, int64_t deadline)
{
	struct itimerspec its;
	int64_t d;
	memset(&its, 0, sizeof its);
	if (deadline >= 0) {
		d = deadline - now_ms();
		if (d < 1)
			d = 1; /* an all-zero value would disarm it */
		its.it_value.tv_sec = d / 1000;
		its.it_value.tv_nsec = (d % 1000) * 1000000;
	}
	timerfd_settime(tfd, 0, &its, NULL);
}

static int64_t nearest(int64_t a, int64_t b)
{
	return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

static void on_signals(int sfd)
{
	struct signalfd_siginfo si;
	while (read(sfd, &si, sizeof si) == sizeof si) {
		switch (si.ssi_signo) {
		case SIGCHLD: reap(); break;
		case SIGTERM:
		case SIGUSR2: svc_begin_shutdown((int)RB_POWER_OFF); break;
		case SIGINT: svc_begin_shutdown((int)RB_AUTOBOOT); break;
		case SIGUSR1: svc_begin_shutdown((int)RB_HALT_SYSTEM); break;
		default: break; /* HUP and the rest: nothing to do yet */
		}
	}
}

/* Every signal is blocked for good (from the first instruction); the ones init acts on arrive through it. */
static int signals_fd(void)
{
	sigset_t set;
	sigemptyset(&set);
	for (int sig = 1; sig < 32; sig++)
		if (sig != SIGKILL && sig != SIGSTOP && sig != SIGSEGV && sig != SIGBUS && sig != SIGFPE && sig != SIGILL)
			sigaddset(&set, sig);
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

static void loop(int sfd, int tfd, int cfd, int sandbox)
{
	struct pollfd *p = NULL;
	int cap = 0;
	for (;;) {
		int n = 0, want = 2 + 1 + 8 + 3 * nsvcs + 2, nc, con = -1, lg = -1;
		int64_t now = now_ms();
		svc_tick(now);
		control_tick(now);
		logd_tick(now);
		/* the trial boot of an upgrade: decided by the boot summary, or failed by its deadline */
		int summary = svc_summary_take();
		if (!shutting_down && ((summary >= 0 && trial_summary(summary)) || trial_tick(now)))
			svc_begin_shutdown((int)RB_AUTOBOOT);
		watchdog_tick(now);
		if (shutting_down && (svc_all_stopped() || svc_shutdown_overdue(now))) {
			svc_close_logs();
			shutdown_final(shutting_down, sandbox);
		}
		arm_timer(tfd, nearest(nearest(nearest(svc_next_deadline(), control_next_deadline()), trial_next_deadline()),
				       nearest(watchdog_next_deadline(), logd_next_deadline())));
		if (want > cap) {
			struct pollfd *np = realloc(p, sizeof *p * (size_t)want);
			if (np)
				p = np, cap = want;
		}
		p[n++] = (struct pollfd){.fd = sfd, .events = POLLIN};
		p[n++] = (struct pollfd){.fd = tfd, .events = POLLIN};
		nc = control_fill_poll(cfd, p + n, cap - n);
		n += nc;
		n += svc_fill_poll(p + n, cap - n);
		if (n < cap && logd_fill_poll(p + n)) /* records queued for the log writer: sent when its pipe has room */
			lg = n++;
		/* the console missed lines: told so as soon as it can take one, not with the next message */
		if (say_pending() && n < cap) {
			con = n;
			p[n++] = (struct pollfd){.fd = 2, .events = POLLOUT};
		}
		if (poll(p, (nfds_t)n, -1) < 0) {
			if (errno != EINTR)
				say("kiln: poll: %m");
			continue;
		}
		if (p[0].revents & POLLIN)
			on_signals(sfd);
		if (p[1].revents & POLLIN) {
			uint64_t x;
			(void)!read(tfd, &x, sizeof x);
		}
		for (int i = 2; i < n; i++) {
			if (!p[i].revents)
				continue;
			if (i == con)
				say_flush(p[i].revents);
			else if (i == lg)
				logd_event(p[i].revents);
			else if (i < 2 + nc)
				control_event(cfd, p[i].fd, p[i].revents);
			else
				svc_fd_event(p[i].fd, p[i].revents);
		}
		reap(); /* a child may have exited while its SIGCHLD was coalesced */
	}
}

int main(int argc, char **argv)
{
	int sandbox = getenv("KILN_SANDBOX") != NULL, sfd, tfd, cfd;
	char path[512];
	(void)argc;

	sigset_t all;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	if (sandbox)
		boot_offset = boot_ms();
	if (getpid() == 1 && !sandbox)
		early_boot(argv);
	if (sandbox && getenv("KILN_CMDLINE")) { /* the tests' stand-in for /proc/cmdline: what services read of it */
		struct cmdline c;
		cmdline_parse(getenv("KILN_CMDLINE"), &c);
		memcpy(svc_disabled, c.disable, sizeof svc_disabled);
	}
	if (sandbox && getenv("KILN_BACKOFF_MS")) /* the fault test's restarts: every delay this short */
		backoff_fixed_ms = strtoll(getenv("KILN_BACKOFF_MS"), NULL, 10);
	console_nonblock();
	std_fds();
	inherited_cloexec();
	sfd = signals_fd();
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (sfd < 0 || tfd < 0)
		say("kiln: signalfd/timerfd: %m"); /* PID 1 goes on: children are still reaped at each wakeup */
	snprintf(path, sizeof path, "%s/control.sock", kiln_path("KILN_RUN", "/run/kiln"));
	if ((cfd = control_open(path)) < 0)
		say("kiln: control socket %s: %m", path);
	snprintf(path, sizeof path, "%s/services", kiln_path("KILN_ETC", "/etc/kiln"));
	cgroup_setup(sandbox);
	svc_load_all(path);
	loop(sfd, tfd, cfd, sandbox);
	return 0;
}
