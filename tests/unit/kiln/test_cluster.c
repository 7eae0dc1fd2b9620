/* test_cluster.c: the cluster file read and validated (messages with their lines), defaults, derived values,
 * cluster.env, the PKI plan, and the PKI's issue-once-then-reuse behaviour in a temporary folder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "kilntool.h"

static const char *demo =
	"name: demo\n"                                  /* 1 */
	"kubernetes_version: v1.30.0\n"                 /* 2 */
	"networks:\n"                                   /* 3 */
	"  infrastructure: 192.168.0.0/24\n"            /* 4 */
	"  gateway: 192.168.0.1\n"                      /* 5 */
	"masters:\n"                                    /* 6 */
	"  - {name: m1, mac: '52:54:00:00:00:11', address: 192.168.0.11}\n"
	"  - {name: m2, mac: '52:54:00:00:00:12', address: 192.168.0.12}\n"
	"  - {name: m3, mac: '52:54:00:00:00:13', address: 192.168.0.13}\n"
	"nodes:\n"                                      /* 10 */
	"  - {name: n-1, mac: '52:54:00:00:00:21', address: 192.168.0.21}\n"
	"  - {name: n2, mac: '52:54:00:00:00:22', address: 192.168.0.22}\n";

/* Load TEXT; the messages land in MSG. */
static int load(const char *text, struct cluster *c, char *msg, size_t len)
{
	char *p = NULL;
	size_t n = 0;
	struct diag d = {.file = "c.yaml", .out = open_memstream(&p, &n)};
	int rc = cluster_load(text, strlen(text), c, &d);
	fclose(d.out);
	snprintf(msg, len, "%s", p ? p : "");
	free(p);
	return rc;
}

static void derived(void **state)
{
	struct cluster c;
	char msg[1024], s[64], *v;
	(void)state;
	assert_int_equal(load(demo, &c, msg, sizeof msg), 0);
	assert_string_equal(msg, "");
	assert_int_equal(c.nmasters, 3);
	assert_int_equal(c.nnodes, 2);
	assert_string_equal(c.domain, "cluster.local"); /* defaults */
	cidr_format(&c.services, s, sizeof s);
	assert_string_equal(s, "10.254.0.0/24");
	cidr_format(&c.pods, s, sizeof s);
	assert_string_equal(s, "10.200.0.0/16");
	ip_format(c.service_ip, s, sizeof s);
	assert_string_equal(s, "10.254.0.1");
	ip_format(c.dns_ip, s, sizeof s);
	assert_string_equal(s, "10.254.0.10");
	cidr_format(&c.machines[3].pod_subnet, s, sizeof s);
	assert_string_equal(s, "10.200.1.0/24");
	cidr_format(&c.machines[4].pod_subnet, s, sizeof s);
	assert_string_equal(s, "10.200.2.0/24");
	v = cluster_etcd_initial(&c);
	assert_string_equal(v, "m1=https://192.168.0.11:2380,m2=https://192.168.0.12:2380,m3=https://192.168.0.13:2380");
	free(v);
	v = cluster_env(&c);
	assert_non_null(strstr(v, "\nMASTERS=\"m1 m2 m3\"\n"));
	assert_non_null(strstr(v, "\nNODES=\"n-1 n2\"\n"));
	assert_non_null(strstr(v, "\nMACHINE_n_1_POD_CIDR=10.200.1.0/24\n"));
	assert_non_null(strstr(v, "\nINFRA_GATEWAY=192.168.0.1\n"));
	assert_non_null(strstr(v, "\nDNS_IP=10.254.0.10\n"));
	assert_non_null(strstr(v, "\nIMAGE_DATA_FORMAT_BLANK=no\n")); /* never format a disk unless asked */
	assert_non_null(strstr(v, "\nIMAGE_DISKLESS_MASTERS=no\nIMAGE_DATA_WAIT=60\n")); /* masters need a disk */
	free(v);
	cluster_free(&c);
}

static void data_format_blank(void **state)
{
	struct cluster c;
	char msg[1024], text[2048], *v;
	(void)state;
	snprintf(text, sizeof text, "%simage:\n  data_format_blank: true\n", demo);
	assert_int_equal(load(text, &c, msg, sizeof msg), 0);
	assert_string_equal(msg, "");
	v = cluster_env(&c);
	assert_non_null(strstr(v, "\nIMAGE_DATA_FORMAT_BLANK=yes\n"));
	free(v);
	cluster_free(&c);
	snprintf(text, sizeof text, "%simage:\n  diskless_masters: true\n  data_wait: 600\n", demo);
	assert_int_equal(load(text, &c, msg, sizeof msg), 0);
	v = cluster_env(&c);
	assert_non_null(strstr(v, "\nIMAGE_DISKLESS_MASTERS=yes\nIMAGE_DATA_WAIT=600\n"));
	assert_non_null(strstr(v, "\nIMAGE_CONSOLE_SHELL=no\n")); /* no shell on the console unless the file asks */
	free(v);
	cluster_free(&c);
	snprintf(text, sizeof text, "%simage:\n  data_wait: 0\n", demo);
	assert_int_equal(load(text, &c, msg, sizeof msg), -1);
	assert_non_null(strstr(msg, "c.yaml:14: image.data_wait: 0 is out of range (1 to 3600)"));
	cluster_free(&c);
	snprintf(text, sizeof text, "%simage:\n  data_format_blank: yes\n", demo);
	assert_int_equal(load(text, &c, msg, sizeof msg), -1);
	assert_non_null(strstr(msg, "c.yaml:14: image.data_format_blank: expected true or false, found 'yes'"));
	cluster_free(&c);
}

/* Each case: a change to the demo file and the message it must give. */
static void messages(void **state)
{
	static const struct {
		const char *from, *to, *expect;
	} cases[] = {
		{"name: demo", "name: Demo", "c.yaml:1: name: invalid cluster name"},
		{"name: demo", "nme: demo", "c.yaml:1: cluster: unknown key 'nme'"},
		{"  gateway: 192.168.0.1", "  gateway: 192.168.0.255", ":5: networks.gateway: 192.168.0.255 is the broadcast"},
		{"n2, mac: '52:54:00:00:00:22'", "n2, mac: '52:54:00:00:00:21'", ":12: duplicate MAC 52:54:00:00:00:21 of n2 (also n-1 at line 11)"},
		{"n2, mac", "m1, mac", ":12: duplicate name 'm1' (first at line 7)"},
		{"address: 192.168.0.22", "address: 192.168.1.22", ":12: address 192.168.1.22 of n2 is outside"},
		{"address: 192.168.0.22", "address: 192.168.0.0", "is the network address"},
		{"address: 192.168.0.22", "address: 10.200.3.4", "inside the pods range"},
		{"  gateway: 192.168.0.1", "  pods: 10.200.0.0/24", ":10: more nodes (2) than pod subnets"},
		{"  gateway: 192.168.0.1", "  services: 192.168.0.0/28", "the services range 192.168.0.0/28 overlaps the infrastructure"},
		{"  gateway: 192.168.0.1", "  services: 10.1.0.0/29", "too small for the derived addresses"},
		{"kubernetes_version: v1.30.0", "kubernetes_version: 1.30", ":2: kubernetes_version: '1.30' is not"},
		{"name: demo\n", "name: demo\n  x: [\n", ":2: YAML:"},
		{"192.168.0.22}\n", "192.168.0.22}\ntime:\n  servers: [192.168.0.1, ntp.example.org]\n",
		 ":14: time.servers: 'ntp.example.org' is not a unicast IPv4 address (names are not resolved)"},
		{"192.168.0.22}\n", "192.168.0.22}\ntime:\n  servers: [10.0.0.1, 10.0.0.2, 10.0.0.3, 10.0.0.4, 10.0.0.5]\n",
		 ":14: time.servers: 5 servers, at most 4"},
		{"192.168.0.22}\n", "192.168.0.22}\ntime:\n  servers: [10.0.0.1, 10.0.0.1]\n", "'10.0.0.1' is listed twice"},
		{"192.168.0.22}\n", "192.168.0.22}\ntime:\n  servers: 10.0.0.1\n", ":14: time.servers: expected a list"},
		{"192.168.0.22}\n", "192.168.0.22}\ntime:\n  servers: [224.0.1.1]\n", "'224.0.1.1' is not a unicast"},
		{"192.168.0.22}\n", "192.168.0.22}\ntime:\n  pool: x\n", ":14: time: unknown key 'pool'"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct cluster c;
		char text[2048], msg[1024];
		const char *at = strstr(demo, cases[i].from);
		assert_non_null(at);
		snprintf(text, sizeof text, "%.*s%s%s", (int)(at - demo), demo, cases[i].to, at + strlen(cases[i].from));
		assert_int_equal(load(text, &c, msg, sizeof msg), -1);
		if (!strstr(msg, cases[i].expect))
			fail_msg("case %zu: expected '%s' in:\n%s", i, cases[i].expect, msg);
		cluster_free(&c);
	}
}

static void time_servers(void **state)
{
	struct cluster c;
	char msg[1024], text[2048], s[16];
	(void)state;
	assert_int_equal(load(demo, &c, msg, sizeof msg), 0);
	assert_int_equal(c.ntime_servers, 0); /* none: the first master's clock is the reference */
	cluster_free(&c);
	snprintf(text, sizeof text, "%stime:\n  servers:\n    - 192.168.0.1\n    - 10.9.8.7\n", demo);
	assert_int_equal(load(text, &c, msg, sizeof msg), 0);
	assert_string_equal(msg, "");
	assert_int_equal(c.ntime_servers, 2);
	ip_format(c.time_servers[1], s, sizeof s);
	assert_string_equal(s, "10.9.8.7");
	cluster_free(&c);
}

static void even_masters_warn(void **state)
{
	struct cluster c;
	char msg[1024], text[2048];
	const char *cut = strstr(demo, "  - {name: m3");
	(void)state;
	snprintf(text, sizeof text, "%.*s%s", (int)(cut - demo), demo, strstr(cut, "nodes:"));
	assert_int_equal(load(text, &c, msg, sizeof msg), 0);
	assert_non_null(strstr(msg, "c.yaml:6: warning: an even number of masters (2)"));
	cluster_free(&c);
}

static void plan(void **state)
{
	struct cluster c;
	struct cert_spec *v;
	size_t n;
	char msg[256];
	int apiservers = 0, kubelets = 0, backups = 0, metrics = 0;
	(void)state;
	assert_int_equal(load(demo, &c, msg, sizeof msg), 0);
	v = pkiplan_build(&c, &n);
	/* 8 shared leaves (monitoring the last); per master its apiserver, etcd member and etcd backup client; per node
	 * its kubelet; per machine its metrics server and its log client (and server) */
	assert_int_equal(n, 8 + 3 * 3 + 2 + 5 + 5);
	for (size_t i = 0; i < n; i++) {
		if (strstr(v[i].id, "/apiserver")) {
			struct buf b = {0};
			for (int j = 0; j < v[i].nsans; j++)
				buf_printf(&b, "%s ", v[i].sans[j]);
			assert_non_null(strstr(b.p, "IP:10.254.0.1 "));
			assert_non_null(strstr(b.p, "DNS:kubernetes.default.svc.cluster.local "));
			assert_int_equal(v[i].ca, CA_KUBE);
			buf_free(&b);
			apiservers++;
		}
		if (!strcmp(v[i].id, "machines/n2/kubelet")) {
			assert_string_equal(v[i].cn, "system:node:n2");
			assert_string_equal(v[i].org, "system:nodes");
			assert_string_equal(v[i].sans[1], "IP:192.168.0.22");
			assert_int_equal(v[i].eku, EKU_SERVER | EKU_CLIENT);
			kubelets++;
		}
		if (!strcmp(v[i].id, "apiserver-etcd-client"))
			assert_int_equal(v[i].ca, CA_ETCD);
		if (!strcmp(v[i].id, "machines/m2/etcd-backup")) {
			assert_string_equal(v[i].cn, "etcd-backup:m2");
			assert_int_equal(v[i].ca, CA_ETCD);
			assert_int_equal(v[i].eku, EKU_CLIENT);
			backups++;
		}
		if (!strcmp(v[i].id, "apiserver-kubelet-client"))
			assert_string_equal(v[i].org, ""); /* no group: addons/apiserver-kubelet.yaml binds it */
		if (!strcmp(v[i].id, "monitoring")) {
			assert_string_equal(v[i].org, ""); /* bound to no role: the apiserver lets it do nothing */
			assert_int_equal(v[i].eku, EKU_CLIENT);
		}
		if (strstr(v[i].id, "/metrics")) {
			assert_int_equal(v[i].ca, CA_KUBE);
			assert_int_equal(v[i].eku, EKU_SERVER); /* it cannot log in anywhere */
			metrics++;
		}
	}
	assert_int_equal(metrics, 5);
	assert_int_equal(backups, 1);
	assert_int_equal(apiservers, 3);
	assert_int_equal(kubelets, 1);
	pkiplan_free(v, n);
	cluster_free(&c);
}

static void pki_reuse(void **state)
{
	char dir[] = "/tmp/kiln-unit-pki.XXXXXX", why[64];
	struct pki p;
	struct cert_spec s = {.id = "machines/x/kubelet", .ca = CA_KUBE, .cn = "system:node:x", .org = "system:nodes",
			      .eku = EKU_SERVER | EKU_CLIENT};
	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(pki_open(&p, dir, 3650, 365), 0);
	cert_spec_add_san(&s, "DNS:x");
	cert_spec_add_san(&s, "IP:192.168.0.30");
	assert_int_equal(pki_ensure(&p, &s), 1);
	assert_int_equal(pki_ensure(&p, &s), 0);
	assert_true(pki_cert_matches(&p, &s, why, sizeof why));
	free(s.sans[1]);
	s.sans[1] = strdup("IP:192.168.0.31");
	assert_false(pki_cert_matches(&p, &s, why, sizeof why));
	assert_string_equal(why, "its names (SANs) changed");
	assert_int_equal(pki_ensure(&p, &s), 1);
	s.eku = EKU_CLIENT;
	assert_false(pki_cert_matches(&p, &s, why, sizeof why));
	s.eku = EKU_SERVER | EKU_CLIENT;
	snprintf(s.cn, sizeof s.cn, "system:node:y");
	assert_false(pki_cert_matches(&p, &s, why, sizeof why));
	assert_string_equal(why, "its subject changed");
	pki_close(&p);
	/* A new etcd CA must not be taken as the signer of kube certs: reopen and check it still matches. */
	assert_int_equal(pki_open(&p, dir, 3650, 365), 0);
	snprintf(s.cn, sizeof s.cn, "system:node:x");
	assert_true(pki_cert_matches(&p, &s, why, sizeof why));
	s.ca = CA_ETCD;
	assert_false(pki_cert_matches(&p, &s, why, sizeof why));
	assert_string_equal(why, "its CA changed");
	pki_close(&p);
	cert_spec_free(&s);
	assert_int_equal(rm_rf(dir), 0);
}

/* The release table: which CRI wiring kubelet gets, and how versions are read. */
static void release_wiring(void **state)
{
	(void)state;
	assert_int_equal(kube_minor("v1.20.2"), 20);
	assert_int_equal(kube_minor("v1.30.0"), 30);
	assert_int_equal(kube_minor("v1.27.0-rc.1"), 27);
	assert_int_equal(kube_minor("v2.0.0"), -1);
	assert_int_equal(kube_minor("1.20.2"), -1);
	assert_int_equal(kube_minor("v1.x"), -1);
	assert_non_null(strstr(kube_wiring("v1.20.2")->kubelet_flags, "--container-runtime=remote"));
	assert_false(kube_wiring("v1.20.2")->kubelet_endpoint_in_config);
	assert_non_null(strstr(kube_wiring("v1.26.9")->kubelet_flags, "--container-runtime-endpoint=unix://"));
	assert_string_equal(kube_wiring("v1.27.0")->kubelet_flags, "");
	assert_true(kube_wiring("v1.27.0")->kubelet_endpoint_in_config);
	assert_true(kube_wiring("v1.34.1")->kubelet_endpoint_in_config);
	/* the insecure HTTP port of the controller-manager and scheduler: off by flag before 1.24, no flag after */
	assert_string_equal(kube_wiring("v1.20.2")->control_plane_flags, "--port=0");
	assert_string_equal(kube_wiring("v1.23.17")->control_plane_flags, "--port=0");
	assert_string_equal(kube_wiring("v1.24.0")->control_plane_flags, "");
	assert_non_null(strstr(kube_wiring("v1.24.0")->kubelet_flags, "--container-runtime=remote"));
	assert_string_equal(kube_wiring("v1.30.0")->control_plane_flags, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(derived), cmocka_unit_test(data_format_blank), cmocka_unit_test(messages), cmocka_unit_test(time_servers), cmocka_unit_test(even_masters_warn),
		cmocka_unit_test(plan), cmocka_unit_test(pki_reuse), cmocka_unit_test(release_wiring),
	};
	return cmocka_run_group_tests_name("cluster", tests, NULL, NULL);
}
