/* test_logic.c: dependency order and cycles, backoff, argument splitting, environments and ${VAR}. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <fnmatch.h>
#include <string.h>
#include <unistd.h>
#include "kiln.h"

static char err[512];

static void mk(struct svc_def *d, const char *name, const char *reqs)
{
	char text[256];
	snprintf(text, sizeof text, "command = /bin/true\n%s%s\n", reqs ? "requires = " : "", reqs ? reqs : "");
	assert_int_equal(svcdef_parse(name, text, d, err, sizeof err), 0);
}

static int pos(const int *order, int n, int idx)
{
	for (int i = 0; i < n; i++)
		if (order[i] == idx)
			return i;
	return -1;
}

static void order_requirements_first(void **state)
{
	struct svc_def d[4], *p[4];
	int order[4], bad[4], n;
	(void)state;
	mk(&d[0], "apiserver", "etcd net");
	mk(&d[1], "etcd", "net");
	mk(&d[2], "net", NULL);
	mk(&d[3], "console", NULL);
	for (int i = 0; i < 4; i++)
		p[i] = &d[i];
	n = deps_order(p, 4, order, bad, err, sizeof err);
	assert_int_equal(n, 4);
	assert_true(pos(order, n, 2) < pos(order, n, 1));
	assert_true(pos(order, n, 1) < pos(order, n, 0));
	assert_string_equal(err, "");
	for (int i = 0; i < 4; i++)
		svcdef_free(&d[i]);
}

static void cycles_and_unknown(void **state)
{
	struct svc_def d[5], *p[5];
	int order[5], bad[5], n;
	(void)state;
	mk(&d[0], "a", "b");
	mk(&d[1], "b", "c");
	mk(&d[2], "c", "a");
	mk(&d[3], "d", "ghost");
	mk(&d[4], "e", NULL);
	for (int i = 0; i < 5; i++)
		p[i] = &d[i];
	n = deps_order(p, 5, order, bad, err, sizeof err);
	assert_int_equal(n, 1);
	assert_int_equal(order[0], 4);
	assert_int_equal(bad[0], 2);
	assert_int_equal(bad[2], 2);
	assert_int_equal(bad[3], 1);
	assert_int_equal(bad[4], 0);
	assert_non_null(strstr(err, "d requires unknown service ghost"));
	assert_non_null(strstr(err, "cycle: a -> b -> c -> a"));
	for (int i = 0; i < 5; i++)
		svcdef_free(&d[i]);
}

static void probe_spacing(void **state)
{
	(void)state;
	assert_int_equal(probe_interval(0), 250);
	assert_int_equal(probe_interval(9999), 250);
	assert_int_equal(probe_interval(10000), 1000);
	assert_int_equal(probe_interval(59999), 1000);
	assert_int_equal(probe_interval(60000), 2000);
	assert_int_equal(probe_interval(3600000), 2000);
}

static void backoff_sequence(void **state)
{
	int a = 0;
	int64_t expect[] = {1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000};
	(void)state;
	for (int i = 0; i < 8; i++)
		assert_int_equal(backoff_after_exit(&a, 500), expect[i]);
	for (int i = 0; i < 100; i++) /* a long crash loop stays capped */
		assert_int_equal(backoff_after_exit(&a, 10), BACKOFF_MAX_MS);
	/* a run just short of a healthy minute does not reset it ... */
	assert_int_equal(backoff_after_exit(&a, BACKOFF_RESET_MS - 1), BACKOFF_MAX_MS);
	/* ... a healthy minute does: back to 1 s, then 2 s */
	assert_int_equal(backoff_after_exit(&a, BACKOFF_RESET_MS), BACKOFF_FIRST_MS);
	assert_int_equal(backoff_after_exit(&a, 100), 2 * BACKOFF_FIRST_MS);
	assert_int_equal(backoff_delay(0), BACKOFF_FIRST_MS);
	/* the sandbox's fault test: every delay the one it sets, however long the crash loop */
	backoff_fixed_ms = 10;
	for (int i = 0; i < 40; i++)
		assert_int_equal(backoff_after_exit(&a, 1), 10);
	backoff_fixed_ms = 0;
	assert_int_equal(backoff_after_exit(&a, BACKOFF_RESET_MS), BACKOFF_FIRST_MS);
}

static void schedule(void **state)
{
	(void)state;
	/* first run N seconds after boot */
	assert_int_equal(sched_first(5000, 3600), 5000 + 3600000);
	/* then every N seconds from the last start, however long the run took */
	assert_int_equal(sched_next(10000, 60, 10500), 70000);
	assert_int_equal(sched_next(10000, 60, 69999), 70000);
	/* a run that overlapped slots skips them: the next slot of the same cadence, never back to back */
	assert_int_equal(sched_next(10000, 60, 70000), 130000);
	assert_int_equal(sched_next(10000, 60, 200000), 250000);
	/* a zero period (never parsed, but defended) does not loop forever */
	assert_true(sched_next(0, 0, 5000) > 5000);
}

/* Globs as modules.alias writes them, checked against fnmatch(3) on the same cases. */
static void globs(void **state)
{
	static const struct {
		const char *pat, *s;
		int want;
	} c[] = {
		{"pci:v00001AF4d*sv*sd*bc*sc*i*", "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00", 1},
		{"pci:v00001AF4d*sv*sd*bc*sc*i*", "pci:v00008086d00001000sv00001AF4sd00000001bc02sc00i00", 0},
		{"pci:v*d*sv*sd*bc01sc06i01*", "pci:v00001B21d00000612sv00001B21sd00001060bc01sc06i01", 1},
		{"pci:v*d*sv*sd*bc01sc06i01*", "pci:v00001B21d00000612sv00001B21sd00001060bc01sc06i00", 0},
		{"usb:v13FDp3940d0[0-2]*dc*", "usb:v13FDp3940d0150dc00", 1},
		{"usb:v13FDp3940d0[0-2]*dc*", "usb:v13FDp3940d0350dc00", 0},
		{"usb:v13FDp3940d0[!0-2]*dc*", "usb:v13FDp3940d0350dc00", 1},
		{"usb:v13FDp3940d0[^0-2]*dc*", "usb:v13FDp3940d0150dc00", 0},
		{"mdio:0000001110100001101101001011????", "mdio:00000011101000011011010010110110", 1},
		{"mdio:0000001110100001101101001011????", "mdio:0000001110100001101101001011011", 0},
		{"scsi:t-0x00*", "scsi:t-0x00", 1},
		{"scsi:t-0x00*", "scsi:t-0x0e", 0},
		{"virtio:d00000001v*", "virtio:d00000001v00001AF4", 1},
		{"a*b*c", "aXbYbZc", 1},
		{"a*b*c", "aXbYbZ", 0},
		{"*", "", 1},
		{"", "", 1},
		{"", "x", 0},
		{"x", "", 0},
		{"[]x]y", "]y", 1},
		{"[a-", "[a-", 1}, /* no ']': a plain '[' */
		{"a[bc", "a[bc", 1},
		{"**?", "", 0},
	};
	(void)state;
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
		if (glob_match(c[i].pat, c[i].s) != c[i].want)
			fail_msg("glob_match(\"%s\", \"%s\") != %d", c[i].pat, c[i].s, c[i].want);
		if (strcmp(c[i].pat, "[a-") && (fnmatch(c[i].pat, c[i].s, 0) == 0) != c[i].want)
			fail_msg("fnmatch disagrees on (\"%s\", \"%s\")", c[i].pat, c[i].s);
	}
}

static void split(void **state)
{
	char s[] = "  /bin/sh -c \"echo a  b\" 'x y' plain ";
	char *argv[8];
	(void)state;
	assert_int_equal(split_args(s, argv, 8), 5);
	assert_string_equal(argv[0], "/bin/sh");
	assert_string_equal(argv[2], "echo a  b");
	assert_string_equal(argv[3], "x y");
	assert_string_equal(argv[4], "plain");
	assert_null(argv[5]);
	char u[] = "a \"unterminated";
	assert_int_equal(split_args(u, argv, 8), -1);
	char many[] = "1 2 3 4 5 6 7 8 9";
	assert_int_equal(split_args(many, argv, 4), -1);
}

static void environment(void **state)
{
	char **env = NULL, path[] = "/tmp/kiln-test-env.XXXXXX", *x;
	int n = 0, fd;
	(void)state;
	env_set(&env, &n, "A=1");
	env_set(&env, &n, "B=two");
	env_set(&env, &n, "A=3"); /* later wins */
	assert_int_equal(n, 2);
	assert_string_equal(env_get(env, n, "A"), "3");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_true(write(fd, "# comment\nB=from-file\n\nC=x=y\nnoequals\n", 39) == 39);
	close(fd);
	assert_int_equal(env_load_file(&env, &n, path), 0);
	unlink(path);
	assert_string_equal(env_get(env, n, "B"), "from-file");
	assert_string_equal(env_get(env, n, "C"), "x=y");
	assert_null(env_get(env, n, "noequals"));
	assert_int_equal(env_load_file(&env, &n, "/nonexistent/kiln"), -1);
	x = expand_vars("--name ${B} --a=${A}${A} ${MISSING}$ {B} $B", env, n);
	assert_string_equal(x, "--name from-file --a=33 $ {B} $B");
	free(x);
	env_free(env, n);
}

static void error_lines(void **state)
{
	(void)state;
	const char *yes[] = {"Error: unknown flag: --container-runtime", "error: no such file",
			     "F1202 05:50:00.123456    213 server.go:198] failed to load config", "fatal: no data",
			     "time=\"2026\" level=fatal msg=\"no socket\"", "etcd: a fatal error"};
	const char *no[] = {"I1202 05:50:00.1 x.go:1] started", "E1202 05:50:00.1 x.go:1] retrying",
			    "      --container-runtime string   The container runtime", "Flags:", "F12 short", ""};
	for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
		assert_true(line_is_error(yes[i], strlen(yes[i])));
	for (size_t i = 0; i < sizeof no / sizeof *no; i++)
		assert_false(line_is_error(no[i], strlen(no[i])));
	/* only LEN bytes count */
	assert_false(line_is_error("Err", 3));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(order_requirements_first),
		cmocka_unit_test(cycles_and_unknown),
		cmocka_unit_test(backoff_sequence),
		cmocka_unit_test(probe_spacing),
		cmocka_unit_test(schedule),
		cmocka_unit_test(split), cmocka_unit_test(globs),
		cmocka_unit_test(environment),
		cmocka_unit_test(error_lines),
	};
	return cmocka_run_group_tests_name("logic", tests, NULL, NULL);
}
