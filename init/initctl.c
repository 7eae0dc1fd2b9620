/* initctl.c: talks to kiln's init over its control socket: status [NAME], start|stop|restart NAME, logs NAME
 * [-n N] (read from the log folder directly), poweroff, reboot, halt. Exit: 0 ok, 1 refused, 2 usage, 3 no init. */
#include "kiln.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int usage(void)
{
	fprintf(stderr, "usage: initctl status [NAME] | start NAME | stop NAME | restart NAME | logs NAME [-n N]\n"
			"       initctl poweroff | reboot | halt\n");
	return 2;
}

static int logs(const char *name, long lines)
{
	char path[512];
	size_t len;
	char *text, *p;
	long seen = 0;
	snprintf(path, sizeof path, "%s/%s.log", kiln_path("KILN_LOG_DIR", "/data/log"), name);
	if (!(text = read_text(path, &len))) {
		fprintf(stderr, "initctl: %s: %s\n", path, strerror(errno));
		return 1;
	}
	/* The last LINES lines. */
	for (p = text + len; p > text; p--)
		if (p[-1] == '\n' && p != text + len && ++seen >= lines)
			break;
	fputs(p, stdout);
	free(text);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_un a;
	char req[512] = "", buf[4096];
	int fd, code = -1;
	ssize_t r;

	if (argc < 2)
		return usage();
	if (!strcmp(argv[1], "logs")) {
		long n = 50;
		if (argc == 5 && !strcmp(argv[3], "-n"))
			n = strtol(argv[4], NULL, 10);
		else if (argc != 3)
			return usage();
		return logs(argv[2], n > 0 ? n : 50);
	}
	for (int i = 1; i < argc && i < 3; i++) {
		strncat(req, argv[i], sizeof req - strlen(req) - 2);
		strcat(req, i + 1 < argc && i < 2 ? " " : "\n");
	}
	if (req[strlen(req) - 1] != '\n')
		strcat(req, "\n");
	memset(&a, 0, sizeof a);
	a.sun_family = AF_UNIX;
	snprintf(a.sun_path, sizeof a.sun_path, "%s/control.sock", kiln_path("KILN_RUN", "/run/kiln"));
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a)) {
		fprintf(stderr, "initctl: cannot reach init at %s: %s\n", a.sun_path, strerror(errno));
		return 3;
	}
	if (write(fd, req, strlen(req)) < 0)
		return 3;
	while ((r = read(fd, buf, sizeof buf)) > 0) {
		char *text = buf;
		size_t tl = (size_t)r;
		if (code < 0) {
			char *nl = memchr(buf, '\n', (size_t)r);
			code = buf[0] - '0';
			if (!nl)
				continue;
			text = nl + 1;
			tl = (size_t)r - (size_t)(text - buf);
		}
		fwrite(text, 1, tl, code ? stderr : stdout);
	}
	close(fd);
	return code < 0 ? 3 : code;
}
