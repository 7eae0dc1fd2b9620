/* test_enroll.c: a PXE machine's enrollment request (enroll.c): written then read back to the same fields and the
 * same bytes; each malformed request refused with its reason; the host's checks against the cluster file (name,
 * role, MAC, key ids) and its answer: certificates issued for the request's public keys from an existing PKI only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "kilntool.h"

#define NKEYS 9
static EVP_PKEY *keys[NKEYS], *p384;
static char *pems[NKEYS], *pem384, *pem_compressed;

static const char head[] = "kiln-enroll-request 1\nname p2\nrole node\nmac 52:54:00:00:02:21\n";
static const char *pxe =
	"name: pxe\n"
	"kubernetes_version: v1.30.0\n"
	"networks:\n"
	"  infrastructure: 192.168.0.0/24\n"
	"masters:\n"
	"  - {name: p1, mac: '52:54:00:00:02:11', address: 192.168.0.31}\n"
	"nodes:\n"
	"  - {name: p2, mac: '52:54:00:00:02:21', address: 192.168.0.41}\n";

static char *pem_of(EVP_PKEY *k)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *out;
	long n;
	assert_non_null(b);
	assert_int_equal(PEM_write_bio_PUBKEY(b, k), 1);
	n = BIO_get_mem_data(b, &data);
	out = strndup(data, (size_t)n);
	BIO_free(b);
	return out;
}

static int setup(void **state)
{
	(void)state;
	for (int i = 0; i < NKEYS; i++) {
		if (!(keys[i] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")))
			return -1;
		pems[i] = pem_of(keys[i]);
	}
	if (!(p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384")))
		return -1;
	pem384 = pem_of(p384);
	/* key 8's point written compressed: the same key in another form */
	EVP_PKEY *c = EVP_PKEY_dup(keys[8]);
	if (!c || EVP_PKEY_set_utf8_string_param(c, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "compressed") != 1)
		return -1;
	pem_compressed = pem_of(c);
	EVP_PKEY_free(c);
	return strcmp(pem_compressed, pems[8]) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < NKEYS; i++) {
		EVP_PKEY_free(keys[i]);
		free(pems[i]);
	}
	EVP_PKEY_free(p384);
	free(pem384);
	free(pem_compressed);
	return 0;
}

/* HEAD then "key ID" + PEM for each of IDS (space-separated) with the keys of IDX (-1: P-384, -2: a compressed
 * point): a static buffer. */
static const char *req(const char *hd, const char *ids, const int *idx)
{
	static char out[32768];
	char copy[256], *save, *id;
	size_t n = (size_t)snprintf(out, sizeof out, "%s", hd);
	snprintf(copy, sizeof copy, "%s", ids);
	id = strtok_r(copy, " ", &save);
	for (int i = 0; id; i++, id = strtok_r(NULL, " ", &save))
		n += (size_t)snprintf(out + n, sizeof out - n, "key %s\n%s", id, idx[i] == -1 ? pem384 : idx[i] == -2 ? pem_compressed : pems[idx[i]]);
	return out;
}

static const int seq[] = {0, 1, 2, 3, 4, 5, 6, 7, 8};

static void round_trip(void **state)
{
	struct enroll_req w = {0}, r, r2;
	const char *ids[] = {"enroll", "kubelet", "metrics", "log"};
	char why[256], *text, *again;
	size_t len, len2;
	(void)state;
	snprintf(w.name, sizeof w.name, "p2");
	w.role = ROLE_NODE;
	assert_int_equal(enroll_mac_parse("52:54:00:00:02:21", w.mac), 0);
	for (int i = 0; i < 4; i++) {
		snprintf(w.keys[i].id, sizeof w.keys[i].id, "%s", ids[i]);
		w.keys[i].key = keys[i]; /* private keys: their public halves are written */
	}
	w.nkeys = 4;
	text = enroll_format(&w, &len, why, sizeof why);
	assert_non_null(text);
	assert_int_equal(len, strlen(text));
	assert_string_equal(text, req(head, "enroll kubelet metrics log", seq));
	assert_int_equal(enroll_parse(text, len, &r, why, sizeof why), 0);
	assert_string_equal(r.name, "p2");
	assert_int_equal(r.role, ROLE_NODE);
	assert_memory_equal(r.mac, w.mac, 6);
	assert_int_equal(r.nkeys, 4);
	for (int i = 0; i < 4; i++) {
		assert_string_equal(r.keys[i].id, ids[i]);
		assert_int_equal(EVP_PKEY_eq(r.keys[i].key, keys[i]), 1);
	}
	/* the parsed (public) keys write the very same bytes: the fingerprint holds */
	again = enroll_format(&r, &len2, why, sizeof why);
	assert_non_null(again);
	assert_int_equal(len2, len);
	assert_memory_equal(again, text, len);
	/* name, role and mac in another order; a master */
	const char *f = req("kiln-enroll-request 1\nmac 52:54:00:00:02:11\nrole master\nname p1\n",
			    "enroll apiserver etcd etcd-backup metrics log", seq);
	assert_int_equal(enroll_parse(f, strlen(f), &r2, why, sizeof why), 0);
	assert_int_equal(r2.role, ROLE_MASTER);
	assert_int_equal(r2.nkeys, 6);
	assert_string_equal(r2.keys[3].id, "etcd-backup");
	enroll_req_free(&r2);
	/* eight keys, the most */
	f = req(head, "enroll a b c d e f g", seq);
	assert_int_equal(enroll_parse(f, strlen(f), &r2, why, sizeof why), 0);
	assert_int_equal(r2.nkeys, 8);
	enroll_req_free(&r2);
	enroll_req_free(&r);
	free(text);
	free(again);
}

static void expect_refused(const char *text, size_t len, const char *reason, int line)
{
	struct enroll_req r;
	char why[256] = "";
	if (enroll_parse(text, len, &r, why, sizeof why) != -1)
		fail_msg("line %d: accepted", line);
	if (!strstr(why, reason))
		fail_msg("line %d: '%s' does not say '%s'", line, why, reason);
	assert_int_equal(r.nkeys, 0); /* freed */
}
#define REFUSED(text, reason) expect_refused(text, strlen(text), reason, __LINE__)

static void refused(void **state)
{
	static const int dup[] = {0, 1, 1}, p384at[] = {0, -1}, p384first[] = {-1}, compressed[] = {0, -2};
	static char ok[32768], copy[32768], big[ENROLL_MAX + 2];
	char *p;
	(void)state;
	snprintf(ok, sizeof ok, "%s", req(head, "enroll kubelet", seq));
	REFUSED(req("kiln-enroll-request 2\nname p2\nrole node\nmac 52:54:00:00:02:21\n", "enroll", seq), "line 1");
	REFUSED(req("kiln-enroll-request 1 \nname p2\nrole node\nmac 52:54:00:00:02:21\n", "enroll", seq), "line 1");
	REFUSED(req("kiln-enroll-request 1\nrole node\nmac 52:54:00:00:02:21\n", "enroll", seq), "no name line");
	REFUSED(req("kiln-enroll-request 1\nname p2\nmac 52:54:00:00:02:21\n", "enroll", seq), "no role line");
	REFUSED(req("kiln-enroll-request 1\nname p2\nrole node\n", "enroll", seq), "no mac line");
	REFUSED(req("kiln-enroll-request 1\nname p2\nname p2\nrole node\nmac 52:54:00:00:02:21\n", "enroll", seq),
		"line 3: a second name line");
	REFUSED(req("kiln-enroll-request 1\nname p2\nrole node\nrole node\nmac 52:54:00:00:02:21\n", "enroll", seq),
		"a second role line");
	REFUSED(req("kiln-enroll-request 1\nname p2\nrole node\nmac 52:54:00:00:02:21\nmac 52:54:00:00:02:21\n",
		    "enroll", seq), "a second mac line");
	REFUSED(req("kiln-enroll-request 1\nname -p2\nrole node\nmac 52:54:00:00:02:21\n", "enroll", seq), "the name");
	REFUSED(req("kiln-enroll-request 1\nname P2\nrole node\nmac 52:54:00:00:02:21\n", "enroll", seq), "the name");
	REFUSED(req("kiln-enroll-request 1\nname \nrole node\nmac 52:54:00:00:02:21\n", "enroll", seq), "the name");
	REFUSED(req("kiln-enroll-request 1\nname p2\nrole worker\nmac 52:54:00:00:02:21\n", "enroll", seq), "the role");
	REFUSED(req("kiln-enroll-request 1\nname p2\nrole node\nmac 52:54:00:00:02:2A\n", "enroll", seq), "the MAC");
	REFUSED(req("kiln-enroll-request 1\nname p2\nrole node\nmac 52-54-00-00-02-21\n", "enroll", seq), "the MAC");
	REFUSED(req("kiln-enroll-request 1\nname p2\nrole node\nmac 52:54:00:00:02\n", "enroll", seq), "the MAC");
	REFUSED(req("kiln-enroll-request 1\nname p2\nrole node\nmac 52:54:00:00:02:21\nfoo bar\n", "enroll", seq),
		"line 5: not a name");
	REFUSED(head, "no keys");
	REFUSED(req(head, "kubelet enroll", seq), "the first key is not \"enroll\"");
	REFUSED(req(head, "enroll Kubelet", seq), "the key id");
	REFUSED(req(head, "enroll kube1", seq), "the key id");
	REFUSED(req(head, "enroll abcdefghijklmnopqrstuvwxyzabcdefg", seq), "the key id"); /* 33 */
	REFUSED(req(head, "enroll kubelet kubelet", seq), "key kubelet given twice");
	REFUSED(req(head, "enroll kubelet log", dup), "keys kubelet and log are the same key");
	REFUSED(req(head, "enroll a b c d e f g h", seq), "more than 8 keys");
	REFUSED(req(head, "enroll kubelet", p384at), "key kubelet: not an EC P-256 key");
	REFUSED(req(head, "enroll", p384first), "key enroll: not an EC P-256 key");
	REFUSED(req(head, "enroll log", compressed), "key log: not a named curve with an uncompressed point");
	/* a key that does not parse: a character of its point changed (off the curve), or the block cut short */
	snprintf(copy, sizeof copy, "%s", ok);
	p = strstr(strstr(copy, "key kubelet\n"), "-----\n") + 6 + 70;
	*p = *p == 'A' ? 'B' : 'A';
	REFUSED(copy, "key kubelet: not a PEM public key");
	snprintf(copy, sizeof copy, "%s", ok);
	*strstr(strstr(copy, "key kubelet\n"), "-----END") = '\0';
	REFUSED(copy, "no \"-----END PUBLIC KEY-----\" line");
	snprintf(copy, sizeof copy, "%skey log\n", ok);
	REFUSED(copy, "key log: no \"-----BEGIN PUBLIC KEY-----\" line");
	/* something after the keys */
	snprintf(copy, sizeof copy, "%sx\n", ok);
	REFUSED(copy, "something after the keys");
	snprintf(copy, sizeof copy, "%s\n", ok);
	REFUSED(copy, "something after the keys");
	snprintf(copy, sizeof copy, "%sx", ok);
	REFUSED(copy, "no newline");
	/* a carriage return, or the PEM lines wrapped otherwise: not the one form */
	snprintf(copy, sizeof copy, "%s", ok);
	p = strstr(strstr(copy, "key kubelet\n"), "-----\n") + 6 + 64;
	memmove(p + 1, p, strlen(p) + 1);
	*p = '\r';
	expect_refused(copy, strlen(copy), "key kubelet:", __LINE__);
	/* a NUL byte */
	snprintf(copy, sizeof copy, "%s", ok);
	size_t len = strlen(copy);
	copy[10] = '\0';
	expect_refused(copy, len, "NUL", __LINE__);
	/* too large: a valid request padded past the limit is refused before anything is read */
	memset(big, 'a', sizeof big - 1);
	memcpy(big, ok, strlen(ok));
	big[sizeof big - 2] = '\n';
	expect_refused(big, sizeof big - 1, "larger than 16384", __LINE__);
}

static int load(const char *text, struct cluster *c)
{
	struct diag d = {.file = "pxe.yaml", .out = stderr};
	return cluster_load(text, strlen(text), c, &d);
}

/* enroll_match on TEXT for NAME: its messages in MSG. */
static int match(const struct cluster *c, const char *name, const char *text, char *msg, size_t len)
{
	struct enroll_req r;
	char why[256], *p = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&p, &n);
	int problems;
	if (enroll_parse(text, strlen(text), &r, why, sizeof why))
		fail_msg("%s", why);
	problems = enroll_match(c, name, &r, f);
	fclose(f);
	snprintf(msg, len, "%s", p ? p : "");
	free(p);
	enroll_req_free(&r);
	return problems;
}

static void host_checks(void **state)
{
	struct cluster c;
	char msg[2048];
	(void)state;
	assert_int_equal(load(pxe, &c), 0);
	assert_int_equal(match(&c, "p2", req(head, "enroll kubelet metrics log", seq), msg, sizeof msg), 0);
	assert_string_equal(msg, "");
	assert_int_equal(match(&c, "p2", req(head, "enroll log kubelet metrics", seq), msg, sizeof msg), 0);
	assert_int_equal(match(&c, "p1", req("kiln-enroll-request 1\nname p1\nrole master\nmac 52:54:00:00:02:11\n",
					     "enroll apiserver etcd etcd-backup metrics log", seq), msg, sizeof msg), 0);
	assert_int_equal(match(&c, "p2", req("kiln-enroll-request 1\nname p2\nrole node\nmac 52:54:00:00:02:99\n",
					     "enroll kubelet metrics log", seq), msg, sizeof msg), 1);
	assert_string_equal(msg, "kiln: enroll: p2: the request's MAC 52:54:00:00:02:99 is not the cluster file's "
				 "52:54:00:00:02:21\n");
	assert_int_equal(match(&c, "p2", req("kiln-enroll-request 1\nname p2\nrole master\nmac 52:54:00:00:02:21\n",
					     "enroll kubelet metrics log", seq), msg, sizeof msg), 1);
	assert_string_equal(msg, "kiln: enroll: p2: the request's role master is not the cluster file's node\n");
	assert_int_equal(match(&c, "p1", req(head, "enroll kubelet metrics log", seq), msg, sizeof msg), 7);
	assert_non_null(strstr(msg, "kiln: enroll: p1: the request's name p2 is not p1\n"));
	assert_int_equal(match(&c, "p2", req(head, "enroll kubelet metrics", seq), msg, sizeof msg), 1);
	assert_string_equal(msg, "kiln: enroll: p2: the request has no key log\n");
	assert_int_equal(match(&c, "p2", req(head, "enroll kubelet metrics log apiserver", seq), msg, sizeof msg), 1);
	assert_string_equal(msg, "kiln: enroll: p2: the request's key apiserver is not one of a node's "
				 "(enroll metrics log kubelet)\n");
	assert_int_equal(match(&c, "p3", req(head, "enroll kubelet metrics log", seq), msg, sizeof msg), 1);
	assert_string_equal(msg, "kiln: enroll: p3: no such machine in the cluster file\n");
	cluster_free(&c);
}

static X509 *cert_at(const char *dir, const char *name)
{
	char path[4096];
	FILE *f;
	X509 *x;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (!(f = fopen(path, "r")))
		return NULL;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	return x;
}

/* The answer: no CA is ever made by it; with the PKI render made, one certificate per key, each for that key. */
static void host_answer(void **state)
{
	char dir[] = "/tmp/test_enroll.XXXXXX", pkidir[4096], out[4096], reqfile[4096];
	const char *text = req(head, "enroll kubelet metrics log", seq);
	struct cluster c;
	struct pki p;
	struct stat st;
	X509 *ca, *x;
	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(pkidir, sizeof pkidir, "%s/pki", dir);
	snprintf(out, sizeof out, "%s/answer", dir);
	snprintf(reqfile, sizeof reqfile, "%s/request", dir);
	assert_int_equal(write_file(reqfile, text, strlen(text), 0644), 0);
	assert_int_equal(load(pxe, &c), 0);
	assert_int_equal(enroll_certs(&c, pkidir, "p2", reqfile, out), -1);
	assert_int_not_equal(stat(pkidir, &st), 0); /* nothing created */
	assert_int_not_equal(stat(out, &st), 0);
	assert_int_equal(pki_open(&p, pkidir, c.ca_days, c.leaf_days), 0);
	pki_close(&p);
	assert_int_equal(enroll_certs(&c, pkidir, "p2", reqfile, out), 0);
	ca = cert_at(pkidir, "kubernetes-ca.crt");
	assert_non_null(ca);
	const char *files[] = {"enroll.crt", "kubelet.crt", "metrics.crt", "log.crt"};
	for (int i = 0; i < 4; i++) {
		assert_non_null(x = cert_at(out, files[i]));
		assert_int_equal(X509_check_private_key(x, keys[i]), 1);
		assert_int_equal(X509_verify(x, X509_get0_pubkey(ca)), 1);
		if (i == 0) {
			char cn[64];
			X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn);
			assert_string_equal(cn, "kiln-enroll:p2");
			assert_int_equal(X509_get_key_usage(x), KU_KEY_AGREEMENT);
			assert_int_equal(X509_get_extension_flags(x) & EXFLAG_XKUSAGE, 0);
		}
		X509_free(x);
	}
	/* nothing of the machine's lands in the PKI folder */
	snprintf(out, sizeof out, "%s/machines", pkidir);
	assert_int_not_equal(stat(out, &st), 0);
	X509_free(ca);
	cluster_free(&c);
	assert_int_equal(rm_rf(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip), cmocka_unit_test(refused), cmocka_unit_test(host_checks),
		cmocka_unit_test(host_answer),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
