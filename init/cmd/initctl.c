/* initctl.c: talks to kiln's init over its control socket: status [NAME], metrics (Prometheus text), start|stop|restart
 * NAME, logs [MACHINE] NAME [-n N] (read from the log folders directly: on a master, MACHINE's as its log receiver
 * files them), poweroff, reboot, halt; upgrade FILE|URL runs kiln-upgrade, and status also prints the slots, the last
 * upgrade (its file) and the clock's state. Exit: 0 ok, 1 refused, 2 usage, 3 no init. */
#include "kiln.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define UPGRADE_TOOL "/usr/sbin/kiln-upgrade"
#define REPLY_WAIT_S 10 /* init answers at once; longer means it is stuck */

static int usage(void)
{
	fprintf(stderr, "usage: initctl status [NAME] | metrics | start NAME | stop NAME | restart NAME | logs [MACHINE] NAME [-n N]\n"
			"       initctl poweroff | reboot | halt | upgrade IMAGE|URL [--deadline SECONDS]\n");
	return 2;
}

/* A name a log file may have: letters, digits, '.', '-', '_', '@', not starting with '.'; a source may also be
 * "pod/NAMESPACE_POD_CONTAINER" (a container's log on a master). Nothing that leaves the folder. */
static int log_name_ok(const char *s, int source)
{
	if (source && !strncmp(s, "pod/", 4))
		s += 4;
	if (!*s || *s == '.' || strlen(s) > 255)
		return 0;
	for (; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '.' || *s == '-' || *s == '_' || *s == '@'))
			return 0;
	return 1;
}

/* The last LINES lines of a service's log (the current file only): this machine's (/data/log/NAME.log), or on a
 * master another machine's, as its log receiver files them (/data/logs/MACHINE/NAME.log). */
static int logs(const char *machine, const char *name, long lines)
{
	char path[512], self[65] = "";
	size_t len;
	char *text, *p;
	long seen = 0;
	FILE *h;
	if (!log_name_ok(name, 1) || (machine && !log_name_ok(machine, 0)))
		return usage();
	if ((h = fopen("/proc/sys/kernel/hostname", "re"))) {
		if (fgets(self, sizeof self, h))
			self[strcspn(self, "\n")] = '\0';
		fclose(h);
	}
	if (!machine || !strcmp(machine, self))
		snprintf(path, sizeof path, "%s/%s.log", kiln_path("KILN_LOG_DIR", "/data/log"), name);
	else
		snprintf(path, sizeof path, "%s/%s/%s.log", kiln_path("KILN_LOGS_DIR", "/data/logs"), machine, name);
	if (!(text = read_text(path, &len))) {
		fprintf(stderr, "initctl: %s: %s\n", path, strerror(errno));
		return 1;
	}
	for (p = text + len; p > text; p--)
		if (p[-1] == '\n' && p != text + len && ++seen >= lines)
			break;
	fputs(p, stdout);
	free(text);
	return 0;
}

/* How many words (after the command) each request takes: min and max. */
static int arity_ok(const char *cmd, int nargs)
{
	if (!strcmp(cmd, "status"))
		return nargs <= 1;
	if (!strcmp(cmd, "start") || !strcmp(cmd, "stop") || !strcmp(cmd, "restart"))
		return nargs == 1;
	if (!strcmp(cmd, "poweroff") || !strcmp(cmd, "reboot") || !strcmp(cmd, "halt") || !strcmp(cmd, "metrics"))
		return nargs == 0;
	return 0;
}

static int request(const char *req)
{
	struct sockaddr_un a;
	struct timeval tv = {.tv_sec = REPLY_WAIT_S};
	char buf[4096];
	int fd, code = -1;
	ssize_t r;
	memset(&a, 0, sizeof a);
	a.sun_family = AF_UNIX;
	snprintf(a.sun_path, sizeof a.sun_path, "%s/control.sock", kiln_path("KILN_RUN", "/run/kiln"));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a)) {
		fprintf(stderr, "initctl: cannot reach init at %s: %s\n", a.sun_path, strerror(errno));
		return 3;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		fprintf(stderr, "initctl: sending to init: %s\n", strerror(errno));
		return 3;
	}
	while ((r = read(fd, buf, sizeof buf)) > 0) {
		char *text = buf;
		size_t tl = (size_t)r;
		if (code < 0) { /* the first byte is the status digit, then a newline */
			char *nl = memchr(buf, '\n', (size_t)r);
			code = buf[0] >= '0' && buf[0] <= '2' ? buf[0] - '0' : 3;
			text = nl ? nl + 1 : buf + r;
			tl = (size_t)(buf + r - text);
		}
		fwrite(text, 1, tl, code ? stderr : stdout);
	}
	if (r < 0 || code < 0) {
		fprintf(stderr, "initctl: no answer from init: %s\n", r < 0 ? strerror(errno) : "connection closed");
		code = 3;
	}
	close(fd);
	return code;
}

/* The clock's state, one line written by the ntpd service's clock-event (its first line, 200 bytes at most:
 * the file belongs to the service's user). Nothing when the machine runs no time service. */
static void print_clock(void)
{
	char path[512], line[201];
	snprintf(path, sizeof path, "%s/clock/state", kiln_path("KILN_RUN", "/run/kiln"));
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	if (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = 0;
		for (char *p = line; *p; p++)
			if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
				*p = '?';
		printf("clock: %s\n", line);
	}
	fclose(f);
}

int main(int argc, char **argv)
{
	char req[512];
	if (argc < 2)
		return usage();
	if (!strcmp(argv[1], "logs")) { /* logs [MACHINE] NAME [-n N] */
		long n = 50;
		char *end = NULL;
		int words = argc - 2;
		if (words >= 3 && !strcmp(argv[argc - 2], "-n")) {
			n = strtol(argv[argc - 1], &end, 10);
			words -= 2;
		}
		if (words < 1 || words > 2 || (end && *end) || n < 1)
			return usage();
		return words == 2 ? logs(argv[2], argv[3], n) : logs(NULL, argv[2], n);
	}
	if (!strcmp(argv[1], "upgrade")) {
		if (argc < 3)
			return usage();
		argv[1] = "install";
		execv(UPGRADE_TOOL, argv); /* argv[0] is initctl: kiln-upgrade names itself */
		fprintf(stderr, "initctl: %s: %s\n", UPGRADE_TOOL, strerror(errno));
		return 1;
	}
	if (!arity_ok(argv[1], argc - 2))
		return usage();
	if (snprintf(req, sizeof req, "%s%s%s\n", argv[1], argc > 2 ? " " : "", argc > 2 ? argv[2] : "") >=
	    (int)sizeof req)
		return usage();
	int rc = request(req);
	if (rc == 0 && argc == 2 && !strcmp(argv[1], "status")) {
		char path[512], *up;
		snprintf(path, sizeof path, "%s/upgrade", kiln_path("KILN_RUN", "/run/kiln"));
		if ((up = read_text(path, NULL))) {
			fputs(up, stdout);
			free(up);
		}
		print_clock();
	}
	return rc;
}
