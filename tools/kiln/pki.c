/* pki.c: the cluster's certificate authority with libcrypto: two CAs, ECDSA P-256 keys, SHA-256 signatures,
 * leaves issued from a spec and reused while they still certify the same thing. The folder is state: keys are
 * made once, a leaf is reissued only when its subject, SANs, usages or issuer change, or it nears expiry. */
#include "kilntool.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static const char *const ca_stem[2] = {"kubernetes-ca", "etcd-ca"};
static const char *const ca_cn[2] = {"kiln-kubernetes-ca", "kiln-etcd-ca"};

static int ssl_fail(const char *what, const char *id)
{
	unsigned long e = ERR_get_error();
	fprintf(stderr, "kiln: pki: %s: %s: %s\n", id, what, e ? ERR_reason_error_string(e) : "failed");
	ERR_clear_error();
	return -1;
}

static void path_of(const struct pki *p, const char *id, const char *ext, char *out, size_t len)
{
	snprintf(out, len, "%s/%s.%s", p->dir, id, ext);
}

static EVP_PKEY *key_load(const char *path)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k;
	if (!f)
		return NULL;
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	return k;
}

static X509 *cert_load(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x;
	if (!f)
		return NULL;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	return x;
}

/* PEM to memory, then X.new + rename, so an interrupted run never leaves half a key. */
static int pem_save(const char *path, mode_t mode, EVP_PKEY *key, X509 *cert, int pub)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long len;
	int ok, rc = -1;
	if (!b)
		return -1;
	ok = cert ? PEM_write_bio_X509(b, cert) : pub ? PEM_write_bio_PUBKEY(b, key)
						       : PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL);
	len = BIO_get_mem_data(b, &data);
	if (ok && len > 0)
		rc = write_file_atomic(path, data, (size_t)len, mode);
	BIO_free(b);
	if (rc)
		fprintf(stderr, "kiln: pki: cannot write %s: %s\n", path, strerror(errno));
	return rc;
}

static EVP_PKEY *key_new(void)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

/* The key of ID: the one on disk, or a new one saved now. */
static EVP_PKEY *key_get(struct pki *p, const char *id)
{
	char path[PATH_MAX];
	EVP_PKEY *k;
	path_of(p, id, "key", path, sizeof path);
	if ((k = key_load(path)))
		return k;
	if (!(k = key_new())) {
		ssl_fail("key generation", id);
		return NULL;
	}
	if (pem_save(path, 0600, k, NULL, 0)) {
		EVP_PKEY_free(k);
		return NULL;
	}
	return k;
}

static X509_NAME *name_make(const char *cn, const char *org)
{
	X509_NAME *n = X509_NAME_new();
	if (!n)
		return NULL;
	if ((org && *org && !X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8, (const unsigned char *)org, -1, -1, 0)) ||
	    !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0)) {
		X509_NAME_free(n);
		return NULL;
	}
	return n;
}

static int serial_random(X509 *x)
{
	unsigned char r[16];
	BIGNUM *bn;
	int ok;
	if (RAND_bytes(r, sizeof r) != 1)
		return 0;
	r[0] = (r[0] & 0x7f) | 0x40; /* positive, 16 bytes long */
	if (!(bn = BN_bin2bn(r, sizeof r, NULL)))
		return 0;
	ok = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	return ok;
}

static int ext_add(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;
	int ok;
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	if (!(e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)))
		return 0;
	ok = X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	return ok;
}

static void eku_text(int eku, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s", eku & EKU_SERVER ? "serverAuth" : "", eku == (EKU_SERVER | EKU_CLIENT) ? "," : "",
		 eku & EKU_CLIENT ? "clientAuth" : "");
}

/* A certificate for KEY signed by ISSUER_KEY (self-signed when ISSUER is NULL). */
static X509 *cert_make(const struct cert_spec *s, int is_ca, long days, EVP_PKEY *key, X509 *issuer,
		       EVP_PKEY *issuer_key)
{
	X509 *x = X509_new();
	X509_NAME *name = name_make(s->cn, s->org);
	struct buf sans = {0};
	char eku[32];
	int ok;
	if (!x || !name)
		goto fail;
	for (int i = 0; i < s->nsans; i++)
		buf_printf(&sans, "%s%s", i ? "," : "", s->sans[i]);
	eku_text(s->eku, eku, sizeof eku);
	ok = X509_set_version(x, 2) && serial_random(x) && X509_set_subject_name(x, name) &&
	     X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) &&
	     X509_gmtime_adj(X509_getm_notBefore(x), -3600) && X509_time_adj_ex(X509_getm_notAfter(x), (int)days, 0, NULL) &&
	     X509_set_pubkey(x, key);
	if (ok && is_ca)
		ok = ext_add(x, x, NID_basic_constraints, "critical,CA:TRUE") &&
		     ext_add(x, x, NID_key_usage, "critical,digitalSignature,keyCertSign,cRLSign") &&
		     ext_add(x, x, NID_subject_key_identifier, "hash") &&
		     ext_add(x, x, NID_authority_key_identifier, "keyid:always");
	else if (ok)
		ok = ext_add(x, issuer, NID_basic_constraints, "critical,CA:FALSE") &&
		     ext_add(x, issuer, NID_key_usage,
			     s->key_agreement ? "critical,keyAgreement" : "critical,digitalSignature") &&
		     (!s->eku || ext_add(x, issuer, NID_ext_key_usage, eku)) &&
		     (!s->nsans || ext_add(x, issuer, NID_subject_alt_name, sans.p)) &&
		     ext_add(x, issuer, NID_subject_key_identifier, "hash") &&
		     ext_add(x, issuer, NID_authority_key_identifier, "keyid:always");
	if (!ok || !X509_sign(x, issuer_key, EVP_sha256()))
		goto fail;
	X509_NAME_free(name);
	buf_free(&sans);
	return x;
fail:
	ssl_fail("cannot make the certificate", s->id);
	X509_free(x);
	X509_NAME_free(name);
	buf_free(&sans);
	return NULL;
}

static int ca_open(struct pki *p, int ca)
{
	char crt[PATH_MAX], key[PATH_MAX];
	struct cert_spec s = {.ca = CA_NONE};
	struct stat st;
	int have_crt, have_key;
	path_of(p, ca_stem[ca], "crt", crt, sizeof crt);
	path_of(p, ca_stem[ca], "key", key, sizeof key);
	have_crt = stat(crt, &st) == 0;
	have_key = stat(key, &st) == 0;
	if (have_crt && have_key) {
		p->ca_cert[ca] = cert_load(crt);
		p->ca_key[ca] = key_load(key);
		if (!p->ca_cert[ca] || !p->ca_key[ca] || X509_check_private_key(p->ca_cert[ca], p->ca_key[ca]) != 1)
			return ssl_fail("CA certificate and key unreadable or not a pair", ca_stem[ca]);
		return 0;
	}
	/* Half a CA is an accident to look at, not something to paper over with a new CA. */
	if (have_crt || have_key) {
		fprintf(stderr, "kiln: pki: %s: found the %s but not the %s; restore it or remove both\n", ca_stem[ca],
			have_crt ? "certificate" : "key", have_crt ? "key" : "certificate");
		return -1;
	}
	snprintf(s.id, sizeof s.id, "%s", ca_stem[ca]);
	snprintf(s.cn, sizeof s.cn, "%s", ca_cn[ca]);
	if (!(p->ca_key[ca] = key_get(p, ca_stem[ca])) ||
	    !(p->ca_cert[ca] = cert_make(&s, 1, p->ca_days, p->ca_key[ca], NULL, p->ca_key[ca])))
		return -1;
	p->issued++;
	return pem_save(crt, 0644, NULL, p->ca_cert[ca], 0);
}

int pki_open(struct pki *p, const char *dir, long ca_days, long leaf_days)
{
	memset(p, 0, sizeof *p);
	snprintf(p->dir, sizeof p->dir, "%s", dir);
	p->ca_days = ca_days;
	p->leaf_days = leaf_days;
	if (mkdir_p(dir, 0700) || chmod(dir, 0700)) {
		fprintf(stderr, "kiln: pki: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	if (ca_open(p, CA_KUBE) || ca_open(p, CA_ETCD)) {
		pki_close(p);
		return -1;
	}
	return 0;
}

int pki_open_existing(struct pki *p, const char *dir, long ca_days, long leaf_days)
{
	char crt[PATH_MAX], key[PATH_MAX];
	struct stat st;
	for (int ca = 0; ca < 2; ca++) {
		snprintf(crt, sizeof crt, "%s/%s.crt", dir, ca_stem[ca]);
		snprintf(key, sizeof key, "%s/%s.key", dir, ca_stem[ca]);
		/* half a CA is left to ca_open, which names the missing half */
		if (stat(crt, &st) && stat(key, &st)) {
			fprintf(stderr, "kiln: pki: %s: no %s here: run kiln render first\n", dir, ca_stem[ca]);
			return -1;
		}
	}
	return pki_open(p, dir, ca_days, leaf_days);
}

void pki_close(struct pki *p)
{
	for (int i = 0; i < 2; i++) {
		X509_free(p->ca_cert[i]);
		EVP_PKEY_free(p->ca_key[i]);
		p->ca_cert[i] = p->ca_key[i] = NULL;
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The cert's SANs as "DNS:x" / "IP:a.b.c.d", sorted, joined by commas. */
static void sans_of_cert(X509 *x, struct buf *out)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	char *items[SANS_MAX * 2];
	int n = 0;
	for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens) && n < SANS_MAX * 2; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		struct buf b = {0};
		if (g->type == GEN_DNS)
			buf_printf(&b, "DNS:%.*s", ASN1_STRING_length(g->d.dNSName), ASN1_STRING_get0_data(g->d.dNSName));
		else if (g->type == GEN_IPADD && ASN1_STRING_length(g->d.iPAddress) == 4) {
			const unsigned char *a = ASN1_STRING_get0_data(g->d.iPAddress);
			buf_printf(&b, "IP:%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
		} else
			buf_printf(&b, "OTHER:%d", g->type);
		items[n++] = b.p;
	}
	GENERAL_NAMES_free(gens);
	qsort(items, (size_t)n, sizeof *items, cmp_str);
	for (int i = 0; i < n; i++) {
		buf_printf(out, "%s%s", i ? "," : "", items[i]);
		free(items[i]);
	}
}

static void sans_of_spec(const struct cert_spec *s, struct buf *out)
{
	char *items[SANS_MAX];
	memcpy(items, s->sans, sizeof(char *) * (size_t)s->nsans);
	qsort(items, (size_t)s->nsans, sizeof *items, cmp_str);
	for (int i = 0; i < s->nsans; i++)
		buf_printf(out, "%s%s", i ? "," : "", items[i]);
}

/* Why X does not (or no longer) certify what S asks for, or NULL when it does. */
static const char *cert_mismatch(struct pki *p, const struct cert_spec *s, X509 *x, EVP_PKEY *key)
{
	X509 *ca = p->ca_cert[s->ca];
	X509_NAME *want = name_make(s->cn, s->org);
	struct buf have = {0}, need = {0};
	const char *why = NULL;
	uint32_t xku;
	time_t soon = time(NULL) + (time_t)RENEW_DAYS * 86400;
	if (X509_check_private_key(x, key) != 1)
		why = "its key changed";
	else if (X509_NAME_cmp(X509_get_issuer_name(x), X509_get_subject_name(ca)) ||
		 X509_verify(x, X509_get0_pubkey(ca)) != 1)
		why = "its CA changed";
	else if (!want || X509_NAME_cmp(X509_get_subject_name(x), want))
		why = "its subject changed";
	else if (X509_cmp_time(X509_get0_notAfter(x), &soon) <= 0)
		why = "it expires in less than 30 days";
	else {
		xku = X509_get_extended_key_usage(x);
		if (!!(xku & XKU_SSL_SERVER) != !!(s->eku & EKU_SERVER) || !!(xku & XKU_SSL_CLIENT) != !!(s->eku & EKU_CLIENT))
			why = "its key usage changed";
		sans_of_cert(x, &have);
		sans_of_spec(s, &need);
		if (!why && strcmp(have.p ? have.p : "", need.p ? need.p : ""))
			why = "its names (SANs) changed";
	}
	ERR_clear_error();
	X509_NAME_free(want);
	buf_free(&have);
	buf_free(&need);
	return why;
}

int pki_cert_matches(struct pki *p, const struct cert_spec *s, char *why, size_t whylen)
{
	char crt[PATH_MAX], key[PATH_MAX];
	X509 *x;
	EVP_PKEY *k;
	const char *reason = "no certificate yet";
	path_of(p, s->id, "crt", crt, sizeof crt);
	path_of(p, s->id, "key", key, sizeof key);
	x = cert_load(crt);
	k = key_load(key);
	if (x && !k)
		reason = "its key is missing";
	else if (x)
		reason = cert_mismatch(p, s, x, k);
	X509_free(x);
	EVP_PKEY_free(k);
	ERR_clear_error();
	if (why)
		snprintf(why, whylen, "%s", reason ? reason : "");
	return reason == NULL;
}

/* Create a spec's subfolders (machines/NAME/) in the PKI folder. */
static int spec_dirs(struct pki *p, const char *id)
{
	char path[PATH_MAX], *slash;
	snprintf(path, sizeof path, "%s/%s", p->dir, id);
	if (!(slash = strrchr(path, '/')) || slash - path <= (long)strlen(p->dir))
		return 0;
	*slash = '\0';
	return mkdir_p(path, 0700);
}

int pki_ensure(struct pki *p, const struct cert_spec *s)
{
	char crt[PATH_MAX], why[64];
	EVP_PKEY *key;
	X509 *x;
	int rc;
	if (pki_cert_matches(p, s, why, sizeof why)) {
		p->reused++;
		return 0;
	}
	if (spec_dirs(p, s->id) || !(key = key_get(p, s->id)))
		return -1;
	x = cert_make(s, 0, p->leaf_days, key, p->ca_cert[s->ca], p->ca_key[s->ca]);
	path_of(p, s->id, "crt", crt, sizeof crt);
	rc = x ? pem_save(crt, 0644, NULL, x, 0) : -1;
	if (rc == 0 && strcmp(why, "no certificate yet"))
		fprintf(stderr, "kiln: pki: %s: reissued: %s\n", s->id, why);
	X509_free(x);
	EVP_PKEY_free(key);
	if (rc)
		return -1;
	p->issued++;
	return 1;
}

int pki_issue_for_key(struct pki *p, const struct cert_spec *s, EVP_PKEY *pub, const char *path)
{
	X509 *x = cert_make(s, 0, p->leaf_days, pub, p->ca_cert[s->ca], p->ca_key[s->ca]);
	int rc = x ? pem_save(path, 0644, NULL, x, 0) : -1;
	X509_free(x);
	return rc;
}

int pki_ensure_keypair(struct pki *p, const char *id)
{
	char pub[PATH_MAX];
	EVP_PKEY *k = key_get(p, id);
	int rc;
	if (!k)
		return -1;
	path_of(p, id, "pub", pub, sizeof pub);
	rc = pem_save(pub, 0644, k, NULL, 1);
	EVP_PKEY_free(k);
	return rc;
}

/* A cluster secret of 32 random bytes, kept base64-encoded on one line in ID.secret (0600): made once, then
 * only checked (a damaged one is an error naming the file, never silently replaced: the data it encrypts would
 * be lost with it). */
int pki_ensure_secret(struct pki *p, const char *id)
{
	char path[PATH_MAX], line[64];
	unsigned char raw[PKI_SECRET_BYTES], dec[sizeof line];
	size_t len;
	char *have;
	path_of(p, id, "secret", path, sizeof path);
	if ((have = read_file(path, &len))) {
		int n = -1;
		if (len == 4 * ((PKI_SECRET_BYTES + 2) / 3) + 1 && have[len - 1] == '\n')
			n = EVP_DecodeBlock(dec, (const unsigned char *)have, (int)len - 1);
		OPENSSL_cleanse(have, len);
		OPENSSL_cleanse(dec, sizeof dec);
		free(have);
		/* EVP_DecodeBlock counts the padding's zero bytes: 32 bytes are 44 characters, decoded to 33 */
		if (n != 3 * ((PKI_SECRET_BYTES + 2) / 3)) {
			fprintf(stderr, "kiln: pki: %s: not %d bytes in base64 on one line (it encrypts cluster data: "
				"restore it from a backup of the PKI folder)\n", path, PKI_SECRET_BYTES);
			return -1;
		}
		return 0;
	}
	if (errno != ENOENT) {
		fprintf(stderr, "kiln: pki: cannot read %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (RAND_bytes(raw, sizeof raw) != 1)
		return ssl_fail("random bytes", id);
	len = (size_t)EVP_EncodeBlock((unsigned char *)line, raw, sizeof raw);
	OPENSSL_cleanse(raw, sizeof raw);
	line[len++] = '\n';
	if (write_file_atomic(path, line, len, 0600)) {
		fprintf(stderr, "kiln: pki: cannot write %s: %s\n", path, strerror(errno));
		return -1;
	}
	OPENSSL_cleanse(line, sizeof line);
	return 0;
}

void cert_spec_add_san(struct cert_spec *s, const char *fmt, ...)
{
	va_list ap;
	char *v;
	if (s->nsans >= SANS_MAX)
		return;
	va_start(ap, fmt);
	if (vasprintf(&v, fmt, ap) >= 0)
		s->sans[s->nsans++] = v;
	va_end(ap);
}

void cert_spec_free(struct cert_spec *s)
{
	for (int i = 0; i < s->nsans; i++)
		free(s->sans[i]);
	s->nsans = 0;
}
