/* unreaped.c (tests): unreaped PID: become the tracer of PID and never wait for it. Once PID dies, its parent
 * cannot reap it until this program ends: a service that SIGKILL does not end, as one in uninterruptible sleep.
 * Prints "held" when it holds the process. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: unreaped PID\n");
		return 2;
	}
	if (ptrace(PTRACE_SEIZE, (pid_t)atoi(argv[1]), NULL, NULL)) {
		perror("unreaped: ptrace");
		return 1;
	}
	printf("held\n");
	fflush(stdout);
	for (;;)
		pause();
}
