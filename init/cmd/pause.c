/* kiln-pause: the process that holds a pod's namespaces (containerd's sandbox image on kiln nodes, which
 * cannot pull one). It does nothing but wait: TERM or INT ends it with status 0, and as PID 1 of its pod it
 * reaps any orphaned child. Built static with musl, like the init. */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void quit(int sig)
{
	(void)sig;
	_exit(0);
}

static void reap(int sig)
{
	(void)sig;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	if (argc > 1 && !strcmp(argv[1], "-v")) {
		static const char v[] = "kiln-pause\n";
		return write(1, v, sizeof v - 1) < 0;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = quit;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = reap;
	sa.sa_flags = SA_NOCLDSTOP | SA_RESTART;
	sigaction(SIGCHLD, &sa, NULL);
	for (;;)
		pause();
}
