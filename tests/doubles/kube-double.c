/* kube-double.c: a TEST DOUBLE, NOT KUBERNETES. It stands in for kube-apiserver, kube-controller-manager,
 * kube-scheduler, kubelet, kube-proxy and coredns (by the name it is run as) in tests/system/35-components.t,
 * and never goes into a real image. It answers --version like the real binary (the build checks versions),
 * and run as a service it audits its own wiring: it opens every file its flags name, and every identity file
 * those files name (kubeconfigs, configuration files, the Corefile), then reports what it saw on stdout
 * (the init's log for it): its uid and gid, each argument, each file read or not. It then answers HTTP
 * "200 ok" on the port its readiness probe checks, until SIGTERM. As kubectl it only answers `version --client`
 * (the build checks it; nothing in the sandboxed images runs kubectl when a CoreDNS stands in the image).
 * Build: musl-gcc -static -DKUBE_VERSION='"v1.30.0"' -o kube-double kube-double.c */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef KUBE_VERSION
#define KUBE_VERSION "v1.30.0"
#endif
#define COREDNS_VERSION "1.11.1"
#define IDENTITY "/etc/kiln/identity/"

static int failures;

/* The port each component's service file probes (tcp or HTTP): the double listens there. */
static int default_port(const char *name)
{
	static const struct {
		const char *name;
		int port;
	} ports[] = {
		{"kube-apiserver", 6443}, {"kube-controller-manager", 10257}, {"kube-scheduler", 10259},
		{"kubelet", 10248},       {"kube-proxy", 10256},              {"coredns", 8080},
	};
	for (size_t i = 0; i < sizeof ports / sizeof *ports; i++)
		if (!strcmp(ports[i].name, name))
			return ports[i].port;
	return 0;
}

/* Reads PATH whole (NULL when it cannot), reporting it either way. */
static char *read_named(const char *path, const char *why)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *data = NULL;
	size_t len = 0;
	if (fd < 0) {
		printf("double: FAIL cannot read %s (%s): %s\n", path, why, strerror(errno));
		failures++;
		return NULL;
	}
	for (;;) {
		char *more = realloc(data, len + 4097);
		ssize_t n;
		if (!more)
			break;
		data = more;
		n = read(fd, data + len, 4096);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (data)
		data[len] = '\0';
	printf("double: read %s (%s)\n", path, why);
	return data;
}

/* CoreDNS takes {$VAR} from its environment: each one a file uses must be set (the service's envfile). */
static void check_env_refs(const char *text, const char *from)
{
	for (const char *p = strstr(text, "{$"); p; p = strstr(p + 2, "{$")) {
		char var[128];
		size_t n = strcspn(p + 2, "}");
		const char *v;
		if (n == 0 || n >= sizeof var || p[2 + n] != '}')
			continue;
		memcpy(var, p + 2, n);
		var[n] = '\0';
		if ((v = getenv(var)) && *v) {
			printf("double: env %s=%s (%s)\n", var, v, from);
		} else {
			printf("double: FAIL %s uses {$%s}, which is not set\n", from, var);
			failures++;
		}
	}
}

/* Every identity path a file names (kubeconfig, configuration, Corefile) must be readable too, and the
 * files those name (a Corefile names a kubeconfig, which names a cert and a key). */
static void follow_identity_paths(const char *text, const char *from, int depth)
{
	check_env_refs(text, from);
	if (depth > 3)
		return;
	for (const char *p = strstr(text, IDENTITY); p; p = strstr(p + 1, IDENTITY)) {
		char path[512], *inner;
		size_t n = strcspn(p, " \t\r\n\",'}]");
		if (n >= sizeof path)
			continue;
		memcpy(path, p, n);
		path[n] = '\0';
		if ((inner = read_named(path, from)))
			follow_identity_paths(inner, path, depth + 1);
		free(inner);
	}
}

/* A flag's value, for "--flag=value" or "-flag value" forms; NULL for anything else. */
static const char *flag_value(char **argv, int i, int argc)
{
	const char *eq = strchr(argv[i], '=');
	if (argv[i][0] != '-')
		return NULL;
	if (eq)
		return eq + 1;
	if (i + 1 < argc && argv[i + 1][0] == '/')
		return argv[i + 1];
	return NULL;
}

static void audit(int argc, char **argv, int *port)
{
	printf("double: uid %d gid %d\n", (int)getuid(), (int)getgid());
	for (int i = 1; i < argc; i++) {
		const char *v = flag_value(argv, i, argc);
		printf("double: arg %s\n", argv[i]);
		if (strstr(argv[i], "${")) {
			printf("double: FAIL unexpanded variable in %s\n", argv[i]);
			failures++;
		}
		if (!strncmp(argv[i], "--secure-port=", 14))
			*port = atoi(argv[i] + 14);
		if (v && v[0] == '/') {
			char *text = read_named(v, argv[i]);
			if (text)
				follow_identity_paths(text, v, 1);
			free(text);
		}
	}
}

/* CoreDNS serves port 53 as an unprivileged user: its service must give it the capability to bind there. */
static void bind_dns_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(53)};
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a)) {
		printf("double: FAIL cannot bind udp port 53 as uid %d: %s\n", (int)getuid(), strerror(errno));
		failures++;
	} else {
		printf("double: bound udp port 53 as uid %d\n", (int)getuid());
	}
	if (s >= 0)
		close(s);
}

static volatile sig_atomic_t stop;
static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

/* Answers "200 ok" to each connection: enough for a TCP probe and for busybox wget. */
static int serve(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
	static const char reply[] = "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n";
	struct sigaction sa = {.sa_handler = on_term};
	int one = 1, s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sigaction(SIGTERM, &sa, NULL);
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 16)) {
		printf("double: FAIL cannot listen on port %d: %s\n", port, strerror(errno));
		return 1;
	}
	printf("double: listening on port %d\n", port);
	fflush(stdout);
	while (!stop) {
		char req[1024];
		int c = accept(s, NULL, NULL);
		if (c < 0)
			continue;
		(void)!read(c, req, sizeof req);
		(void)!write(c, reply, sizeof reply - 1);
		close(c);
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	int port = default_port(name);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 2 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-version"))) {
		if (!strcmp(name, "coredns"))
			printf("CoreDNS-" COREDNS_VERSION "\nlinux/amd64, kiln test double, not CoreDNS\n");
		else
			printf("Kubernetes " KUBE_VERSION "\n(kiln test double, not Kubernetes)\n");
		return 0;
	}
	if (!strcmp(name, "kubectl") && argc == 3 && !strcmp(argv[1], "version") && !strcmp(argv[2], "--client")) {
		printf("Client Version: " KUBE_VERSION "\n(kiln test double, not kubectl)\n");
		return 0;
	}
	printf("double: %s: a kiln TEST DOUBLE, not the real component\n", name);
	audit(argc, argv, &port);
	if (!strcmp(name, "coredns"))
		bind_dns_port();
	printf("double: %s with %d failures\n", failures ? "FAIL audit" : "audit ok", failures);
	if (failures || !port)
		return 2;
	return serve(port);
}
