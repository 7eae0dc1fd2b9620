/* test_adv.c: syslinux's auxiliary data vector (the boot-once of an upgrade): an empty vector as syslinux
 * installs it, setting, replacing and clearing the boot-once, other records kept, damaged copies, and
 * kiln.trial on the kernel command line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <string.h>
#include "kiln.h"

/* The last 1 KiB of a freshly installed ldlinux.sys (syslinux 6.04): two empty copies. */
static void empty_adv(unsigned char *adv)
{
	static const unsigned char head[8] = {0xa5, 0x2f, 0x2d, 0x5a, 0x67, 0x17, 0x04, 0xa3};
	static const unsigned char tail[4] = {0x64, 0xbf, 0x28, 0xdd};
	memset(adv, 0, 2 * ADV_SIZE);
	for (int c = 0; c < 2; c++) {
		memcpy(adv + c * ADV_SIZE, head, sizeof head);
		memcpy(adv + c * ADV_SIZE + ADV_SIZE - 4, tail, sizeof tail);
	}
}

static void bootonce(void **state)
{
	unsigned char adv[2 * ADV_SIZE], fresh[2 * ADV_SIZE];
	char v[256];
	(void)state;
	empty_adv(adv);
	assert_true(adv_valid(adv));
	assert_int_equal(adv_get(adv, ADV_BOOTONCE, v, sizeof v), 1);
	assert_string_equal(v, "");
	assert_int_equal(adv_set(adv, ADV_BOOTONCE, "b kiln.trial=300"), 0);
	assert_true(adv_valid(adv));
	assert_int_equal(adv_get(adv, ADV_BOOTONCE, v, sizeof v), 0);
	assert_string_equal(v, "b kiln.trial=300");
	assert_memory_equal(adv, adv + ADV_SIZE, ADV_SIZE); /* both copies */
	/* the layout syslinux reads: tag 1, length, the text */
	assert_int_equal(adv[8], ADV_BOOTONCE);
	assert_int_equal(adv[9], 16);
	assert_memory_equal(adv + 10, "b kiln.trial=300", 16);
	assert_int_equal(adv_set(adv, ADV_BOOTONCE, "a kiln.trial=60"), 0); /* replaced, not added */
	assert_int_equal(adv_get(adv, ADV_BOOTONCE, v, sizeof v), 0);
	assert_string_equal(v, "a kiln.trial=60");
	assert_int_equal(adv[10 + 15], 0);
	assert_int_equal(adv_set(adv, ADV_BOOTONCE, NULL), 0); /* cleared: the same bytes as a fresh vector */
	empty_adv(fresh);
	assert_memory_equal(adv, fresh, sizeof adv);
}

static void other_records_kept(void **state)
{
	unsigned char adv[2 * ADV_SIZE];
	char v[256];
	(void)state;
	empty_adv(adv);
	assert_int_equal(adv_set(adv, 2, "a"), 0); /* ADV_MENUSAVE */
	assert_int_equal(adv_set(adv, ADV_BOOTONCE, "b"), 0);
	assert_int_equal(adv_set(adv, ADV_BOOTONCE, NULL), 0);
	assert_int_equal(adv_get(adv, 2, v, sizeof v), 0);
	assert_string_equal(v, "a");
}

static void damaged(void **state)
{
	unsigned char adv[2 * ADV_SIZE];
	char v[256], big[300];
	(void)state;
	empty_adv(adv);
	assert_int_equal(adv_set(adv, ADV_BOOTONCE, "b"), 0);
	adv[20] ^= 1; /* first copy's checksum broken: the second is used */
	assert_true(adv_valid(adv));
	assert_int_equal(adv_get(adv, ADV_BOOTONCE, v, sizeof v), 0);
	assert_string_equal(v, "b");
	adv[ADV_SIZE + 20] ^= 1; /* both: nothing usable */
	assert_false(adv_valid(adv));
	assert_int_equal(adv_get(adv, ADV_BOOTONCE, v, sizeof v), -1);
	memset(adv, 0, sizeof adv); /* not a vector at all */
	assert_false(adv_valid(adv));
	empty_adv(adv);
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_int_equal(adv_set(adv, ADV_BOOTONCE, big), -1); /* a record holds at most 255 bytes */
	assert_int_equal(adv_set(adv, 0, "x"), -1);
	assert_true(adv_valid(adv)); /* a refused set leaves the vector as it was */
}

static void trial_cmdline(void **state)
{
	struct cmdline c;
	(void)state;
	cmdline_parse("BOOT_IMAGE=/vmlinuz-b quiet kiln.root=kiln-sys-b initrd=/initrd-b.gz kiln.trial=240", &c);
	assert_string_equal(c.root, "kiln-sys-b");
	assert_int_equal(c.trial, 240);
	cmdline_parse("kiln.root=kiln-sys-a", &c);
	assert_int_equal(c.trial, 0);
	cmdline_parse("kiln.trial=-5 kiln.trial", &c);
	assert_int_equal(c.trial, 0);
	cmdline_parse("kiln.trial=4294967297", &c); /* past an int: not a 1 s trial */
	assert_int_equal(c.trial, 0);
	cmdline_parse("kiln.trial=86401 kiln.trial=12x", &c);
	assert_int_equal(c.trial, 0);
	cmdline_parse("kiln.trial=86400", &c);
	assert_int_equal(c.trial, 86400);
}

static void disable_cmdline(void **state)
{
	struct cmdline c;
	(void)state;
	cmdline_parse("quiet kiln.disable=kube-apiserver,cluster-dns panic=10", &c);
	assert_true(disable_list_has(c.disable, "kube-apiserver"));
	assert_true(disable_list_has(c.disable, "cluster-dns"));
	assert_false(disable_list_has(c.disable, "cluster"));    /* whole names only */
	assert_false(disable_list_has(c.disable, "dns"));
	assert_false(disable_list_has(c.disable, "etcd"));
	assert_false(disable_list_has(c.disable, ""));
	cmdline_parse("kiln.disable=etcd;reboot", &c); /* anything but name characters: ignored whole */
	assert_false(disable_list_has(c.disable, "etcd"));
	cmdline_parse("kiln.disable=", &c);
	assert_string_equal(c.disable, "");
	char longv[400] = "kiln.disable=";
	memset(longv + 13, 'a', 300);
	longv[313] = '\0';
	cmdline_parse(longv, &c); /* longer than it keeps: ignored whole, not cut */
	assert_string_equal(c.disable, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bootonce),
		cmocka_unit_test(other_records_kept),
		cmocka_unit_test(damaged),
		cmocka_unit_test(trial_cmdline),
		cmocka_unit_test(disable_cmdline),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
