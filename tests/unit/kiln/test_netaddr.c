/* test_netaddr.c: addresses, ranges, MACs and names as the cluster file spells them, and the values kiln
 * derives from them: service IP, cluster DNS, pod subnets, etcd's initial cluster. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "kilntool.h"

static void ipv4(void **state)
{
	uint32_t ip;
	char s[16];
	(void)state;
	assert_int_equal(ip_parse("192.168.0.11", &ip), 0);
	assert_int_equal(ip, 0xc0a8000b);
	ip_format(ip, s, sizeof s);
	assert_string_equal(s, "192.168.0.11");
	assert_int_equal(ip_parse("0.0.0.0", &ip), 0);
	assert_int_equal(ip_parse("255.255.255.255", &ip), 0);
	const char *bad[] = {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.-1", "01.2.3.4", "1.2.3.4 ", " 1.2.3.4",
			     "1..2.3", "a.b.c.d", "1.2.3.4/24", "1234.1.1.1", "1.2.3.0004"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		assert_int_equal(ip_parse(bad[i], &ip), -1);
}

static void cidr(void **state)
{
	struct cidr c;
	char s[24];
	(void)state;
	assert_int_equal(cidr_parse("10.200.0.0/16", &c), 0);
	assert_int_equal(c.net, 0x0ac80000);
	assert_int_equal(c.prefix, 16);
	cidr_format(&c, s, sizeof s);
	assert_string_equal(s, "10.200.0.0/16");
	assert_int_equal(cidr_size(&c), 65536);
	assert_int_equal(cidr_last(&c), 0x0ac8ffff);
	assert_int_equal(cidr_parse("0.0.0.0/0", &c), 0);
	assert_int_equal(cidr_parse("1.2.3.4/32", &c), 0);
	/* host bits set: reported apart, with the network it should have been */
	assert_int_equal(cidr_parse("10.200.1.0/16", &c), -2);
	assert_int_equal(c.net, 0x0ac80000);
	assert_int_equal(cidr_parse("192.168.0.1/24", &c), -2);
	const char *bad[] = {"10.0.0.0", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0/8", "10.0.0.0/08",
			     "10.0.0.0/8x", "10.0.0.0/ 8", "/8", "10.0.0.0/100"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		assert_int_equal(cidr_parse(bad[i], &c), -1);
}

static struct cidr C(const char *s)
{
	struct cidr c;
	assert_int_equal(cidr_parse(s, &c), 0);
	return c;
}

static void overlap(void **state)
{
	struct cidr a = C("10.200.0.0/16"), b = C("10.200.5.0/24"), x = C("10.254.0.0/24"), all = C("0.0.0.0/0");
	struct cidr l = C("10.0.0.0/8"), e = C("10.200.255.0/24"), n = C("10.201.0.0/24");
	uint32_t ip;
	(void)state;
	assert_true(cidr_overlap(&a, &b));
	assert_true(cidr_overlap(&b, &a));
	assert_false(cidr_overlap(&a, &x));
	assert_true(cidr_overlap(&all, &x));
	assert_true(cidr_overlap(&l, &a));
	assert_true(cidr_overlap(&a, &e));
	assert_false(cidr_overlap(&a, &n));
	ip_parse("10.200.255.255", &ip);
	assert_true(cidr_contains(&a, ip));
	ip_parse("10.201.0.0", &ip);
	assert_false(cidr_contains(&a, ip));
}

static void mac(void **state)
{
	uint8_t m[6];
	char s[18];
	(void)state;
	assert_int_equal(mac_parse("52:54:00:AB:cd:11", m), 0);
	mac_format(m, s, sizeof s);
	assert_string_equal(s, "52:54:00:ab:cd:11");
	const char *bad[] = {"", "52:54:00:ab:cd", "52:54:00:ab:cd:11:22", "52-54-00-ab-cd-11", "5254.00ab.cd11",
			     "52:54:00:ab:cd:1g", "52:54:00:ab:cd:1", "52:54:00:ab:cd:111"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		assert_int_equal(mac_parse(bad[i], m), -1);
}

static void names(void **state)
{
	(void)state;
	assert_true(dns_label_valid("m1"));
	assert_true(dns_label_valid("worker-01"));
	assert_true(dns_label_valid("0"));
	char long_ok[64], long_bad[65];
	memset(long_ok, 'a', 63), long_ok[63] = 0;
	memset(long_bad, 'a', 64), long_bad[64] = 0;
	assert_true(dns_label_valid(long_ok));
	assert_false(dns_label_valid(long_bad));
	const char *bad[] = {"", "-m1", "m1-", "M1", "m_1", "m.1", "m 1", "m1\n", "ünï"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		assert_false(dns_label_valid(bad[i]));
	assert_true(dns_name_valid("cluster.local"));
	assert_true(dns_name_valid("k8s.example.com"));
	assert_false(dns_name_valid("cluster..local"));
	assert_false(dns_name_valid(".local"));
	assert_false(dns_name_valid("cluster.local."));
	assert_false(dns_name_valid("Cluster.local"));
}

static void derived(void **state)
{
	struct cidr s = C("10.254.0.0/24"), p = C("10.200.0.0/16"), out, small = C("10.200.0.0/23"), tiny = C("10.9.0.0/25");
	char t[24];
	(void)state;
	ip_format(derive_service_ip(&s), t, sizeof t);
	assert_string_equal(t, "10.254.0.1");
	ip_format(derive_dns_ip(&s), t, sizeof t);
	assert_string_equal(t, "10.254.0.10");
	assert_int_equal(pod_subnet_capacity(&p), 255);
	assert_int_equal(derive_pod_subnet(&p, 1, &out), 0);
	cidr_format(&out, t, sizeof t);
	assert_string_equal(t, "10.200.1.0/24");
	assert_int_equal(derive_pod_subnet(&p, 2, &out), 0);
	cidr_format(&out, t, sizeof t);
	assert_string_equal(t, "10.200.2.0/24");
	assert_int_equal(derive_pod_subnet(&p, 255, &out), 0);
	cidr_format(&out, t, sizeof t);
	assert_string_equal(t, "10.200.255.0/24");
	assert_int_equal(derive_pod_subnet(&p, 256, &out), -1);
	assert_int_equal(derive_pod_subnet(&p, 0, &out), -1);
	assert_int_equal(pod_subnet_capacity(&small), 1);
	assert_int_equal(pod_subnet_capacity(&tiny), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ipv4), cmocka_unit_test(cidr), cmocka_unit_test(overlap),
		cmocka_unit_test(mac), cmocka_unit_test(names), cmocka_unit_test(derived),
	};
	return cmocka_run_group_tests_name("netaddr", tests, NULL, NULL);
}
