/* child.c: the one way PID 1 starts a program of its own (early boot's tools, the emergency shell, the upgrade's
 * commit): fork, signals back to what any program expects, exec; early_run waits for one to end. Services have
 * spawn.c, which builds on child_reset. */
#include "kiln.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* In a child of PID 1: every signal default and none blocked (PID 1 blocks and catches them). */
void child_reset(void)
{
	sigset_t none;
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* In the child: no descriptor of init's crosses exec but 0, 1, 2 and KEEP (the readiness fd, or -1). Most are
 * close-on-exec already; this holds for any that is not (a pipe end, /dev/null, a log file). */
void child_close_fds(int keep)
{
	struct rlimit rl;
	int max = 65536;
	if (keep < 3) {
		if (syscall(SYS_close_range, 3u, ~0u, 0u) == 0)
			return;
	} else if ((keep == 3 || syscall(SYS_close_range, 3u, (unsigned)keep - 1, 0u) == 0) &&
		   syscall(SYS_close_range, (unsigned)keep + 1, ~0u, 0u) == 0) {
		return;
	}
	/* a kernel before 5.9: one close per possible descriptor */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)max)
		max = (int)rl.rlim_cur;
	for (int fd = 3; fd < max; fd++)
		if (fd != keep)
			close(fd);
}

pid_t child_start(char *const argv[], int on_console)
{
	pid_t pid = fork();
	if (pid)
		return pid;
	child_reset();
	if (on_console) {
		int fd;
		setsid();
		if ((fd = open("/dev/console", O_RDWR)) >= 0) {
			ioctl(fd, TIOCSCTTY, 1); /* job control and Ctrl-C work in it */
			dup2(fd, 0), dup2(fd, 1), dup2(fd, 2);
			if (fd > 2)
				close(fd);
		}
	}
	child_close_fds(-1);
	execv(argv[0], argv);
	_exit(127);
}

/* ARGV run to its end (a child of PID 1 during early boot); its exit status, 128+signal, or -1. */
int early_run(char *const argv[])
{
	int status;
	pid_t pid = child_start(argv, 0);
	if (pid < 0)
		return -1;
	/* e2fsck or mke2fs of a large DATA may take minutes: the watchdog of a trial boot is fed meanwhile */
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR)
			return -1;
		watchdog_tick(now_ms());
		usleep(50 * 1000);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
