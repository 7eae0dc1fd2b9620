/* test_child.c: a program init starts of its own (child_start: early boot's tools, the emergency shell, the upgrade's
 * commit) gets no descriptor of init's but 0, 1 and 2, even one init left without close-on-exec. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "kiln.h"

/* PID's descriptors, in order, once it runs the program named COMM ("" if it never does) */
static void fds_of(pid_t pid, const char *comm, char *out, size_t len)
{
	char path[64], name[32] = "";
	int have[64] = {0};
	struct dirent *e;
	DIR *d;
	out[0] = '\0';
	snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
	for (int i = 0; i < 200 && strcmp(name, comm); i++) {
		FILE *f = fopen(path, "r");
		name[0] = '\0';
		if (f && fgets(name, sizeof name, f))
			name[strcspn(name, "\n")] = '\0';
		if (f)
			fclose(f);
		usleep(10000);
	}
	snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
	if (strcmp(name, comm) || !(d = opendir(path)))
		return;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && atoi(e->d_name) < 64)
			have[atoi(e->d_name)] = 1;
	closedir(d);
	for (int fd = 0; fd < 64; fd++)
		if (have[fd])
			snprintf(out + strlen(out), len - strlen(out), "%s%d", out[0] ? " " : "", fd);
}

static void only_stdio_crosses(void **state)
{
	char *argv[] = {"/bin/sleep", "10", NULL}, fds[128];
	int status, leak = open("/dev/null", O_RDWR), high = dup2(leak, 17); /* neither close-on-exec */
	pid_t pid;
	(void)state;
	assert_true(leak > 2 && high == 17);
	pid = child_start(argv, 0);
	assert_true(pid > 0);
	fds_of(pid, "sleep", fds, sizeof fds);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(leak), close(high);
	assert_string_equal(fds, "0 1 2");
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(only_stdio_crosses)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
