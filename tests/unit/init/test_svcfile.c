/* test_svcfile.c: the service file parser, good files and malformed ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <string.h>
#include "kiln.h"

static char err[256];

static void full_file(void **state)
{
	struct svc_def d;
	(void)state;
	const char *text = "# etcd\n"
			   "command = /usr/bin/etcd --name ${HOSTNAME} \\\n"
			   "          --data-dir /data/etcd   # a comment\n"
			   "user = etcd\n"
			   "requires = net   dns\n"
			   "ready = exec /usr/bin/etcdctl endpoint health\n"
			   "ready_timeout = 90\n"
			   "restart = on-failure\n"
			   "stop_signal = INT\n"
			   "stop_timeout = 15\n"
			   "env = A=1\n"
			   "envfile = -/etc/kiln/identity/env/etcd.env\n"
			   "dir = /data/etcd 0700 etcd\n"
			   "condition = missing /run/kiln/net-static\n"
			   "condition = exists /usr/bin/etcd\n"
			   "log_size = 4096\n"
			   "log_keep = 5\n"
			   "data = required\n"
			   "capabilities = net_bind_service  sys_time\n"
			   "memory_max = 512M\n"
			   "pids_max = 100\n"
			   "kill = process\n";
	assert_int_equal(svcdef_parse("etcd", text, &d, err, sizeof err), 0);
	/* the continuation joins the lines; the trailing comment is gone */
	assert_non_null(strstr(d.command, "/usr/bin/etcd --name ${HOSTNAME} "));
	assert_non_null(strstr(d.command, " --data-dir /data/etcd"));
	assert_null(strchr(d.command, '#'));
	assert_null(strchr(d.command, '\\'));
	assert_string_equal(d.user, "etcd");
	assert_int_equal(d.data_required, 1);
	assert_true(d.caps == (1ULL << 10 | 1ULL << 25)); /* CAP_NET_BIND_SERVICE, CAP_SYS_TIME */
	assert_true(d.memory_max == 512LL << 20);
	assert_int_equal(d.pids_max, 100);
	assert_int_equal(d.kill_process, 1);
	assert_int_equal(d.nrequires, 2);
	assert_string_equal(d.requires[1], "dns");
	assert_int_equal(d.ready, READY_EXEC);
	assert_string_equal(d.ready_arg, "/usr/bin/etcdctl endpoint health");
	assert_int_equal(d.ready_timeout, 90);
	assert_int_equal(d.restart, RESTART_ON_FAILURE);
	assert_int_equal(d.stop_signal, SIGINT);
	assert_int_equal(d.stop_timeout, 15);
	assert_int_equal(d.nenv, 2);
	assert_true(d.env[1].is_file && d.env[1].optional);
	assert_string_equal(d.env[1].text, "/etc/kiln/identity/env/etcd.env");
	assert_int_equal(d.ndirs, 1);
	assert_int_equal(d.dirs[0].mode, 0700);
	assert_string_equal(d.dirs[0].user, "etcd");
	assert_int_equal(d.nconds, 2);
	assert_int_equal(d.cond[0], COND_MISSING);
	assert_int_equal(d.cond[1], COND_EXISTS);
	assert_string_equal(d.cond_path[1], "/usr/bin/etcd");
	assert_int_equal(d.log_size, 4096);
	assert_int_equal(d.log_keep, 5);
	svcdef_free(&d);
}

static void defaults(void **state)
{
	struct svc_def d;
	(void)state;
	assert_int_equal(svcdef_parse("x", "command = /bin/true\n", &d, err, sizeof err), 0);
	assert_int_equal(d.ready, READY_NONE);
	assert_int_equal(d.restart, RESTART_ALWAYS);
	assert_int_equal(d.type, TYPE_LONGRUN);
	assert_int_equal(d.stop_signal, SIGTERM);
	assert_int_equal(d.ready_timeout, 60);
	assert_int_equal(d.log_size, 1048576);
	assert_true(d.memory_max == 0 && d.pids_max == 0 && d.kill_process == 0); /* no limits, the group killed */
	svcdef_free(&d);
	/* a scheduled job is a oneshot */
	assert_int_equal(svcdef_parse("job", "command = /bin/true\nevery = 3600\n", &d, err, sizeof err), 0);
	assert_int_equal(d.every, 3600);
	assert_int_equal(d.type, TYPE_ONESHOT);
	assert_string_equal(d.every_var, "");
	svcdef_free(&d);
	/* the interval from the environment, with its default */
	assert_int_equal(svcdef_parse("job", "command = /bin/true\nevery = ${BACKUP_INTERVAL:-600}\n", &d, err, sizeof err), 0);
	assert_int_equal(d.every, 600);
	assert_string_equal(d.every_var, "BACKUP_INTERVAL");
	svcdef_free(&d);
	assert_int_equal(svcdef_parse("t", "command = a\nready = tcp 127.0.0.1:2379\n", &d, err, sizeof err), 0);
	assert_int_equal(d.ready, READY_TCP);
	svcdef_free(&d);
	assert_int_equal(svcdef_parse("n", "command = a\nready = notify 3\n", &d, err, sizeof err), 0);
	assert_int_equal(d.ready, READY_NOTIFY);
	svcdef_free(&d);
	assert_int_equal(svcdef_parse("s", "command = a\nready = sd_notify\n", &d, err, sizeof err), 0);
	assert_int_equal(d.ready, READY_SD_NOTIFY);
	svcdef_free(&d);
}

static void bad(const char *text, const char *expect)
{
	struct svc_def d;
	err[0] = '\0';
	assert_int_equal(svcdef_parse("bad", text, &d, err, sizeof err), -1);
	if (!strstr(err, expect))
		fail_msg("error '%s' lacks '%s'", err, expect);
}

static void malformed(void **state)
{
	bad("command = a\nready = sd_notify /run/x\n", "ready sd_notify takes no argument");
	(void)state;
	bad("", "no command");
	bad("user = etcd\n", "no command");
	bad("command = a\ncolour = blue\n", "line 2: unknown key 'colour'");
	bad("command = a\njust words\n", "line 2: expected 'key = value'");
	bad("command = a\nready_timeout = soon\n", "line 2: ready_timeout");
	bad("command = a\nready_timeout = 0\n", "ready_timeout");
	bad("command = a\nready = tcp nowhere\n", "HOST:PORT");
	bad("command = a\nready = tcp host:99999\n", "HOST:PORT");
	bad("command = a\nready = smoke signals\n", "unknown readiness check 'smoke'");
	bad("command = a\nready = unix relative.sock\n", "absolute path");
	bad("command = a\nready = notify 1\n", "from 3 to 255");
	bad("command = a\nrestart = sometimes\n", "restart 'sometimes'");
	bad("command = a\ntype = daemon\n", "type 'daemon'");
	bad("command = a\nstop_signal = NOPE\n", "unknown signal");
	bad("command = a\nenv = NOVALUE\n", "KEY=VALUE");
	bad("command = a\nenvfile = relative\n", "absolute path");
	bad("command = a\ndir = /x 999\n", "not octal");
	bad("command = a\ndir = relative\n", "absolute path");
	bad("command = a\ncondition = maybe /x\n", "condition 'maybe'");
	bad("command = a\ncondition = exists /a\ncondition = exists /b\ncondition = exists /c\ncondition = exists /d\n"
	    "condition = exists /e\n", "line 6: more than 4 conditions");
	bad("command = a\nlog_size = 10\n", "log_size");
	bad("command = a\ndata = disk\n", "data 'disk': the only value is required");
	bad("command = a\nuser = dns\ncapabilities = net_bind_service fly\n", "line 3: unknown capability 'fly'");
	bad("command = a\ncapabilities = net_bind_service\n", "capabilities without a user");
	bad("command = a\nmemory_max = 10K\n", "memory_max '10K' is not a size from 1M to 1024G");
	bad("command = a\nmemory_max = 99999999999999G\n", "memory_max");
	bad("command = a\nmemory_max = 5X\n", "memory_max");
	bad("command = a\npids_max = 0\n", "pids_max '0'");
	bad("command = a\nkill = everyone\n", "kill 'everyone' is neither group nor process");
	bad("command =\n", "line 1: command has no value");
	bad("command = a\nevery = ${INTERVAL}\n", "not N or ${NAME:-N}");
	bad("command = a\nevery = ${:-5}\n", "not N or ${NAME:-N}");
	bad("command = a\nevery = ${X:-soon}\n", "not a number of seconds");
	bad("command = a\nevery = ${X:-5}s\n", "not N or ${NAME:-N}");
	/* the line named is where a continued statement starts */
	bad("command = a\nuser = b \\\n c\nbogus = 1\n", "line 4: unknown key 'bogus'");
}

static void bad_name(void **state)
{
	struct svc_def d;
	(void)state;
	assert_int_equal(svcdef_parse("../etc", "command = a\n", &d, err, sizeof err), -1);
	assert_non_null(strstr(err, "invalid service name"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(full_file),
		cmocka_unit_test(defaults),
		cmocka_unit_test(malformed),
		cmocka_unit_test(bad_name),
	};
	return cmocka_run_group_tests_name("svcfile", tests, NULL, NULL);
}
