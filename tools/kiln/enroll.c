/* enroll.c: a PXE-booted machine's enrollment request: its name, role, MAC and the public halves of the keys it
 * made, as text the operator approves by its sha256. kiln-enroll writes it on the machine, kiln enroll-certs reads
 * it on the build host; there is one form only, so the same keys always give the same bytes (and fingerprint). */
#include "kilntool.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC "kiln-enroll-request 1"
#define PEM_BEGIN "-----BEGIN PUBLIC KEY-----"
#define PEM_END "-----END PUBLIC KEY-----"

static int fail(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	ERR_clear_error();
	return -1;
}

int enroll_name_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 63 || s[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
	return 1;
}

int enroll_id_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > ENROLL_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '-'))
			return 0;
	return 1;
}

static int hexlower(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int enroll_mac_parse(const char *s, uint8_t mac[6])
{
	if (strlen(s) != 17)
		return -1;
	for (int i = 0; i < 6; i++) {
		int hi = hexlower(s[3 * i]), lo = hexlower(s[3 * i + 1]);
		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			return -1;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int enroll_key_p256(EVP_PKEY *k)
{
	char group[32];
	size_t n;
	int ok = k && EVP_PKEY_is_a(k, "EC") && EVP_PKEY_get_group_name(k, group, sizeof group, &n) == 1 &&
		 !strcmp(group, "prime256v1");
	ERR_clear_error();
	return ok;
}

/* A named curve and an uncompressed point: libcrypto keeps the form a key was read in and writes it back so. */
static int key_form_ok(EVP_PKEY *k)
{
	char enc[32], form[32];
	int ok = EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_EC_ENCODING, enc, sizeof enc, NULL) == 1 &&
		 EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, form, sizeof form,
						NULL) == 1 &&
		 !strcmp(enc, OSSL_PKEY_EC_ENCODING_GROUP) && !strcmp(form, OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED);
	ERR_clear_error();
	return ok;
}

/* K's SubjectPublicKeyInfo in PEM, appended to B. */
static int pub_pem(BIO *b, EVP_PKEY *k)
{
	return PEM_write_bio_PUBKEY(b, k) == 1;
}

char *enroll_format(const struct enroll_req *r, size_t *len, char *why, size_t whylen)
{
	BIO *b;
	char *data, *out = NULL, mac[18];
	long n;
	int ok;
	if (!enroll_name_valid(r->name))
		return fail(why, whylen, "the name is not [a-z0-9-], 1 to 63 long"), NULL;
	if (r->nkeys < 1 || r->nkeys > ENROLL_KEYS_MAX || strcmp(r->keys[0].id, "enroll"))
		return fail(why, whylen, "the keys must be \"enroll\" then up to %d others", ENROLL_KEYS_MAX - 1), NULL;
	for (size_t i = 0; i < r->nkeys; i++)
		if (!enroll_id_valid(r->keys[i].id) || !enroll_key_p256(r->keys[i].key) || !key_form_ok(r->keys[i].key))
			return fail(why, whylen, "key %zu: a bad id or not an EC P-256 key", i), NULL;
	if (!(b = BIO_new(BIO_s_mem())))
		return fail(why, whylen, "out of memory"), NULL;
	snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", r->mac[0], r->mac[1], r->mac[2], r->mac[3],
		 r->mac[4], r->mac[5]);
	ok = BIO_printf(b, MAGIC "\nname %s\nrole %s\nmac %s\n", r->name, r->role == ROLE_MASTER ? "master" : "node",
			mac) > 0;
	for (size_t i = 0; ok && i < r->nkeys; i++)
		ok = BIO_printf(b, "key %s\n", r->keys[i].id) > 0 && pub_pem(b, r->keys[i].key);
	n = BIO_get_mem_data(b, &data);
	if (!ok || n <= 0)
		fail(why, whylen, "cannot encode the keys");
	else if (n > ENROLL_MAX)
		fail(why, whylen, "larger than %d bytes", ENROLL_MAX);
	else if (!(out = malloc((size_t)n + 1)))
		fail(why, whylen, "out of memory");
	else {
		memcpy(out, data, (size_t)n);
		out[n] = '\0';
		*len = (size_t)n;
	}
	BIO_free(b);
	return out;
}

void enroll_req_free(struct enroll_req *r)
{
	for (size_t i = 0; i < r->nkeys; i++)
		EVP_PKEY_free(r->keys[i].key);
	memset(r, 0, sizeof *r);
}

/* The line at *POS (its length without the newline in *N), moving *POS past it; NULL at the end. */
static const char *line_next(const char *buf, size_t len, size_t *pos, size_t *n)
{
	const char *p = buf + *pos, *nl;
	if (*pos >= len)
		return NULL;
	nl = memchr(p, '\n', len - *pos);
	*n = (size_t)(nl - p);
	*pos += *n + 1;
	return p;
}

/* "WORD value": VALUE copied (at most CAP-1 bytes) when the line starts with WORD and one space. */
static int field(const char *l, size_t n, const char *word, char *value, size_t cap)
{
	size_t w = strlen(word);
	if (n <= w || memcmp(l, word, w) || l[w] != ' ')
		return 0;
	if (n - w - 1 >= cap)
		snprintf(value, cap, "%s", ""); /* too long: an empty value, refused as bad */
	else {
		memcpy(value, l + w + 1, n - w - 1);
		value[n - w - 1] = '\0';
	}
	return 1;
}

static int line_is(const char *l, size_t n, const char *text)
{
	return n == strlen(text) && !memcmp(l, text, n);
}

/* The PEM block from the BEGIN line at *POS to its END line, one public key: parsed, held to P-256 and to the one
 * encoding enroll_format writes. */
static int key_read(const char *buf, size_t len, size_t *pos, int *lineno, struct enroll_key *k, char *why,
		    size_t whylen)
{
	size_t start = *pos, n, plen;
	const char *l;
	char *pem;
	BIO *in, *out;
	long have;
	int same;
	if (!(l = line_next(buf, len, pos, &n)) || !line_is(l, n, PEM_BEGIN))
		return fail(why, whylen, "line %d: key %s: no \"" PEM_BEGIN "\" line", *lineno + 1, k->id);
	++*lineno;
	do {
		if (!(l = line_next(buf, len, pos, &n)))
			return fail(why, whylen, "key %s: no \"" PEM_END "\" line", k->id);
		++*lineno;
	} while (!line_is(l, n, PEM_END));
	if (!(in = BIO_new_mem_buf(buf + start, (int)(*pos - start))))
		return fail(why, whylen, "out of memory");
	k->key = PEM_read_bio_PUBKEY(in, NULL, NULL, NULL);
	BIO_free(in);
	if (!k->key)
		return fail(why, whylen, "key %s: not a PEM public key", k->id);
	if (!enroll_key_p256(k->key))
		return fail(why, whylen, "key %s: not an EC P-256 key", k->id);
	if (!key_form_ok(k->key))
		return fail(why, whylen, "key %s: not a named curve with an uncompressed point", k->id);
	if (!(out = BIO_new(BIO_s_mem())) || !pub_pem(out, k->key)) {
		BIO_free(out);
		return fail(why, whylen, "key %s: cannot encode it", k->id);
	}
	have = BIO_get_mem_data(out, &pem);
	plen = *pos - start;
	same = have > 0 && (size_t)have == plen && !memcmp(pem, buf + start, plen);
	BIO_free(out);
	if (!same)
		return fail(why, whylen, "key %s: not in the one form a request uses (PEM lines of 64, LF only)", k->id);
	return 0;
}

static int parse(const char *buf, size_t len, struct enroll_req *r, char *why, size_t whylen)
{
	size_t pos = 0, n;
	const char *l;
	char v[80];
	int lineno = 1, have_name = 0, have_role = 0, have_mac = 0;
	if (len > ENROLL_MAX)
		return fail(why, whylen, "larger than %d bytes", ENROLL_MAX);
	if (memchr(buf, '\0', len))
		return fail(why, whylen, "holds a NUL byte");
	if (len == 0 || buf[len - 1] != '\n')
		return fail(why, whylen, "its last line has no newline");
	l = line_next(buf, len, &pos, &n);
	if (!line_is(l, n, MAGIC))
		return fail(why, whylen, "line 1: not \"" MAGIC "\"");
	/* name, role and mac once each, in any order, then the keys */
	while ((l = line_next(buf, len, &pos, &n))) {
		lineno++;
		if (field(l, n, "key", v, sizeof v))
			break;
		if (field(l, n, "name", v, sizeof v)) {
			if (have_name++)
				return fail(why, whylen, "line %d: a second name line", lineno);
			if (!enroll_name_valid(v))
				return fail(why, whylen, "line %d: the name is not [a-z0-9-], 1 to 63 long, a letter or "
					    "digit first", lineno);
			snprintf(r->name, sizeof r->name, "%s", v);
		} else if (field(l, n, "role", v, sizeof v)) {
			if (have_role++)
				return fail(why, whylen, "line %d: a second role line", lineno);
			if (strcmp(v, "master") && strcmp(v, "node"))
				return fail(why, whylen, "line %d: the role is not master or node", lineno);
			r->role = strcmp(v, "master") ? ROLE_NODE : ROLE_MASTER;
		} else if (field(l, n, "mac", v, sizeof v)) {
			if (have_mac++)
				return fail(why, whylen, "line %d: a second mac line", lineno);
			if (enroll_mac_parse(v, r->mac))
				return fail(why, whylen, "line %d: the MAC is not six lowercase hex pairs joined by ':'",
					    lineno);
		} else
			return fail(why, whylen, "line %d: not a name, role, mac or key line", lineno);
	}
	if (!have_name || !have_role || !have_mac)
		return fail(why, whylen, "no %s line", !have_name ? "name" : !have_role ? "role" : "mac");
	if (!l)
		return fail(why, whylen, "no keys");
	/* l is the first key line, v its id */
	for (;;) {
		struct enroll_key *k = &r->keys[r->nkeys];
		if (!enroll_id_valid(v))
			return fail(why, whylen, "line %d: the key id is not [a-z-], 1 to %d long", lineno, ENROLL_ID_MAX);
		if (r->nkeys == 0 && strcmp(v, "enroll"))
			return fail(why, whylen, "line %d: the first key is not \"enroll\"", lineno);
		for (size_t i = 0; i < r->nkeys; i++)
			if (!strcmp(r->keys[i].id, v))
				return fail(why, whylen, "line %d: key %s given twice", lineno, v);
		if (r->nkeys == ENROLL_KEYS_MAX)
			return fail(why, whylen, "line %d: more than %d keys", lineno, ENROLL_KEYS_MAX);
		snprintf(k->id, sizeof k->id, "%s", v);
		r->nkeys++;
		if (key_read(buf, len, &pos, &lineno, k, why, whylen))
			return -1;
		for (size_t i = 0; i + 1 < r->nkeys; i++)
			if (EVP_PKEY_eq(r->keys[i].key, k->key) == 1)
				return fail(why, whylen, "keys %s and %s are the same key", r->keys[i].id, k->id);
		if (!(l = line_next(buf, len, &pos, &n)))
			break;
		lineno++;
		if (!field(l, n, "key", v, sizeof v))
			return fail(why, whylen, "line %d: not a key line (something after the keys)", lineno);
	}
	ERR_clear_error();
	return 0;
}

int enroll_parse(const char *buf, size_t len, struct enroll_req *r, char *why, size_t whylen)
{
	memset(r, 0, sizeof *r);
	if (parse(buf, len, r, why, whylen)) {
		enroll_req_free(r);
		return -1;
	}
	return 0;
}
