/* main.c: the `kiln` command line: check, render, pki status, enroll-certs. Only main decides to exit. */
#include "kilntool.h"

#include <stdlib.h>
#include <string.h>

static int usage(void)
{
	fprintf(stderr, "usage: kiln check FILE\n"
			"       kiln render FILE --out DIR --pki DIR [--rootfs DIR]\n"
			"       kiln pki status --pki DIR\n"
			"       kiln enroll-certs FILE --pki DIR --machine NAME --request FILE --out DIR\n");
	return 2;
}

static int cmd_check(int argc, char **argv)
{
	struct cluster c;
	struct diag d = {.out = stderr};
	int rc;
	if (argc != 3)
		return usage();
	d.file = argv[2];
	rc = cluster_load_file(argv[2], &c, &d);
	if (rc == 0)
		printf("%s: cluster %s: %zu masters, %zu nodes%s\n", argv[2], c.name, c.nmasters, c.nnodes,
		       d.warnings ? " (with warnings)" : "");
	cluster_free(&c);
	return rc ? 1 : 0;
}

/* --name VALUE options after the positional FILE */
static const char *opt(int argc, char **argv, int from, const char *name, const char *dflt, int *bad)
{
	for (int i = from; i < argc; i++)
		if (!strcmp(argv[i], name)) {
			if (i + 1 < argc)
				return argv[i + 1];
			*bad = 1;
		}
	return dflt;
}

static int known_opts(int argc, char **argv, int from, const char *const *names)
{
	for (int i = from; i < argc; i += 2) {
		int ok = 0;
		for (const char *const *n = names; *n; n++)
			ok |= !strcmp(argv[i], *n);
		if (!ok || i + 1 >= argc) {
			fprintf(stderr, "kiln: unexpected argument '%s'\n", argv[i]);
			return 0;
		}
	}
	return 1;
}

static int cmd_render(int argc, char **argv)
{
	static const char *const names[] = {"--out", "--pki", "--rootfs", NULL};
	struct cluster c;
	struct diag d = {.out = stderr};
	const char *out, *pki, *rootfs;
	int bad = 0, rc;
	if (argc < 3 || !known_opts(argc, argv, 3, names))
		return usage();
	out = opt(argc, argv, 3, "--out", NULL, &bad);
	pki = opt(argc, argv, 3, "--pki", NULL, &bad);
	rootfs = opt(argc, argv, 3, "--rootfs", "rootfs", &bad);
	if (bad || !out || !pki)
		return usage();
	d.file = argv[2];
	if (cluster_load_file(argv[2], &c, &d)) {
		cluster_free(&c);
		return 1;
	}
	rc = render(&c, out, pki, rootfs);
	cluster_free(&c);
	return rc ? 1 : 0;
}

static int cmd_pki(int argc, char **argv)
{
	static const char *const names[] = {"--pki", NULL};
	int bad = 0;
	const char *dir;
	if (argc < 3 || strcmp(argv[2], "status") || !known_opts(argc, argv, 3, names))
		return usage();
	dir = opt(argc, argv, 3, "--pki", NULL, &bad);
	if (bad || !dir)
		return usage();
	return pki_status(dir, stdout) ? 1 : 0;
}

/* A PXE machine's own certificates for the keys its request holds (enroll.c, enrollcerts.c). */
static int cmd_enroll_certs(int argc, char **argv)
{
	static const char *const names[] = {"--pki", "--machine", "--request", "--out", NULL};
	struct cluster c;
	struct diag d = {.out = stderr};
	const char *pki, *machine, *request, *out;
	int bad = 0, rc;
	if (argc < 3 || !known_opts(argc, argv, 3, names))
		return usage();
	pki = opt(argc, argv, 3, "--pki", NULL, &bad);
	machine = opt(argc, argv, 3, "--machine", NULL, &bad);
	request = opt(argc, argv, 3, "--request", NULL, &bad);
	out = opt(argc, argv, 3, "--out", NULL, &bad);
	if (bad || !pki || !machine || !request || !out)
		return usage();
	d.file = argv[2];
	if (cluster_load_file(argv[2], &c, &d)) {
		cluster_free(&c);
		return 1;
	}
	rc = enroll_certs(&c, pki, machine, request, out);
	cluster_free(&c);
	return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	if (!strcmp(argv[1], "check"))
		return cmd_check(argc, argv);
	if (!strcmp(argv[1], "render"))
		return cmd_render(argc, argv);
	if (!strcmp(argv[1], "pki"))
		return cmd_pki(argc, argv);
	if (!strcmp(argv[1], "enroll-certs"))
		return cmd_enroll_certs(argc, argv);
	return usage();
}
