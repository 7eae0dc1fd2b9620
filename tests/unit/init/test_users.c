/* test_users.c: /etc/passwd and /etc/group parsing: a service's uid, gid, home and supplementary groups. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>
#include "kiln.h"

static const char *passwd = "root:x:0:0:root:/root:/bin/sh\n"
			    "# a comment\n"
			    "broken line\n"
			    "etcd:x:120:130:etcd:/var/lib/etcd:/sbin/nologin\n"
			    "nohome:x:121:131:::/bin/false\n"
			    "badid:x:12a:1::/:/bin/sh\n";
static const char *group = "root:x:0:\n"
			   "etcd:x:130:\n"
			   "disk:x:6:etcd,other\n"
			   "ssl:x:140:other,etcd\n"
			   "etcdx:x:150:etcdx\n"
			   "dup:x:6:etcd\n"
			   "bad:x:zz:etcd\n";

static void passwd_entries(void **state)
{
	uid_t u;
	gid_t g;
	char home[64];
	(void)state;
	assert_int_equal(passwd_find(passwd, "etcd", &u, &g, home, sizeof home), 0);
	assert_int_equal(u, 120);
	assert_int_equal(g, 130);
	assert_string_equal(home, "/var/lib/etcd");
	assert_int_equal(passwd_find(passwd, "root", &u, &g, home, sizeof home), 0);
	assert_int_equal(u, 0);
	assert_int_equal(passwd_find(passwd, "nohome", &u, &g, home, sizeof home), 0);
	assert_string_equal(home, "/"); /* an empty home is / */
	assert_int_equal(passwd_find(passwd, "badid", &u, &g, home, sizeof home), -1);
	assert_int_equal(passwd_find(passwd, "etc", &u, &g, home, sizeof home), -1); /* no prefix matches */
	assert_int_equal(passwd_find(passwd, "broken line", &u, &g, home, sizeof home), -1);
}

/* A numeric user: past 32 bits or signed it is refused, never wrapped to root. */
static void numeric_users(void **state)
{
	uid_t u = 99;
	gid_t g = 99;
	(void)state;
	assert_int_equal(lookup_user("4294967296", &u, &g, NULL, 0), -1);
	assert_int_equal(lookup_user("4294967295", &u, &g, NULL, 0), -1); /* (uid_t)-1: no user */
	assert_int_equal(lookup_user("-1", &u, &g, NULL, 0), -1);
	assert_int_equal(lookup_user("1000:4294967296", &u, &g, NULL, 0), -1);
	assert_int_equal(u, 99);
	assert_int_equal(lookup_user("1000:1001", &u, &g, NULL, 0), 0);
	assert_int_equal(u, 1000);
	assert_int_equal(g, 1001);
}

static void groups(void **state)
{
	gid_t g[8];
	(void)state;
	assert_int_equal(group_find(group, "ssl", &g[0]), 0);
	assert_int_equal(g[0], 140);
	assert_int_equal(group_find(group, "nosuch", &g[0]), -1);
	/* primary first, then every group listing the user, each gid once */
	assert_int_equal(group_list(group, "etcd", 130, g, 8), 3);
	assert_int_equal(g[0], 130);
	assert_int_equal(g[1], 6);
	assert_int_equal(g[2], 140);
	assert_int_equal(group_list(group, "other", 1000, g, 8), 3);
	/* bounded by the room given */
	assert_int_equal(group_list(group, "etcd", 130, g, 2), 2);
	/* no group file: just the primary group */
	assert_int_equal(group_list(NULL, "etcd", 130, g, 8), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(passwd_entries),
		cmocka_unit_test(numeric_users),
		cmocka_unit_test(groups),
	};
	return cmocka_run_group_tests_name("users", tests, NULL, NULL);
}
