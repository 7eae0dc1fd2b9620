/* test_imgsig.c: the signature of a system image (imgsig.c, what kiln-verify runs in the images): a manifest signed
 * here with a fresh P-256 key the way scripts/sign-image.sh signs (SHA-256 ECDSA, DER, base64) verifies and yields
 * its fields; another key, a changed byte, a missing or misplaced signature line, a field missing, given twice or
 * out of shape, and sizes out of bounds are each refused with their reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kilntool.h"

static EVP_PKEY *key, *other;
static const char body_ok[] = "kiln-image-signature 1\nrole master\ncluster demo\nversion 51a2d2c-dirty\nserial 412\n"
			      "size 100663296\nsha256 " "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n";

static int setup(void **state)
{
	(void)state;
	key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	other = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	return key && other ? 0 : -1;
}
static int teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
	return 0;
}

/* BODY signed by K: the whole .sig file in OUT (static buffer). */
static const char *signed_file(const char *body, EVP_PKEY *k)
{
	static char out[8192];
	unsigned char der[128], b64[200];
	size_t dlen = sizeof der;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	assert_non_null(ctx);
	assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k), 1);
	assert_int_equal(EVP_DigestSign(ctx, der, &dlen, (const unsigned char *)body, strlen(body)), 1);
	EVP_MD_CTX_free(ctx);
	EVP_EncodeBlock(b64, der, (int)dlen);
	snprintf(out, sizeof out, "%ssignature %s\n", body, b64);
	return out;
}

static int check(const char *buf, size_t len, EVP_PKEY *k, struct imgsig *s, char *why)
{
	return imgsig_check(buf, len, k, s, why, 256);
}

static void good(void **state)
{
	struct imgsig s;
	char why[256];
	const char *f = signed_file(body_ok, key);
	(void)state;
	assert_int_equal(check(f, strlen(f), key, &s, why), 0);
	assert_string_equal(s.role, "master");
	assert_string_equal(s.cluster, "demo");
	assert_string_equal(s.version, "51a2d2c-dirty");
	assert_string_equal(s.serial, "412");
	assert_string_equal(s.size, "100663296");
	assert_string_equal(s.sha256, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	/* a name a later format adds is covered by the signature and ignored */
	char body[1024];
	snprintf(body, sizeof body, "%snote built-on-ci\n", body_ok);
	f = signed_file(body, key);
	assert_int_equal(check(f, strlen(f), key, &s, why), 0);
}

static void wrong_key_or_changed(void **state)
{
	struct imgsig s;
	char why[256], copy[8192];
	const char *f = signed_file(body_ok, other);
	(void)state;
	assert_int_equal(check(f, strlen(f), key, &s, why), -1);
	assert_non_null(strstr(why, "does not verify with this key"));
	f = signed_file(body_ok, key);
	/* every byte of the manifest is covered: change each one in turn */
	size_t n = strlen(body_ok);
	for (size_t i = 0; i < n; i++) {
		strcpy(copy, f);
		copy[i] = copy[i] == 'x' ? 'y' : 'x';
		assert_int_equal(check(copy, strlen(copy), key, &s, why), -1);
	}
	/* the signature itself changed */
	strcpy(copy, f);
	char *sig = strstr(copy, "signature ") + 12;
	*sig = *sig == 'A' ? 'B' : 'A';
	assert_int_equal(check(copy, strlen(copy), key, &s, why), -1);
}

static void unsigned_or_malformed(void **state)
{
	struct imgsig s;
	char why[256], copy[8192];
	const char *f = signed_file(body_ok, key);
	(void)state;
	assert_int_equal(check(body_ok, strlen(body_ok), key, &s, why), -1);
	assert_non_null(strstr(why, "unsigned"));
	assert_int_equal(check(f, strlen(f) - 1, key, &s, why), -1); /* the last newline cut */
	assert_non_null(strstr(why, "truncated"));
	assert_int_equal(check("", 0, key, &s, why), -1);
	/* a line after the signature: the signature line is not the last one */
	snprintf(copy, sizeof copy, "%srole node\n", f);
	assert_int_equal(check(copy, strlen(copy), key, &s, why), -1);
	assert_non_null(strstr(why, "unsigned"));
	/* a NUL inside */
	memcpy(copy, f, strlen(f) + 1);
	copy[5] = '\0';
	assert_int_equal(check(copy, strlen(f), key, &s, why), -1);
	assert_non_null(strstr(why, "not text"));
	/* larger than a signature may be */
	static char big[IMGSIG_MAX + 2];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 2] = '\n';
	assert_int_equal(check(big, sizeof big - 1, key, &s, why), -1);
	/* not base64, or too long */
	snprintf(copy, sizeof copy, "%ssignature !!!!\n", body_ok);
	assert_int_equal(check(copy, strlen(copy), key, &s, why), -1);
	assert_non_null(strstr(why, "base64"));
	snprintf(copy, sizeof copy, "%ssignature %0200d\n", body_ok, 0);
	assert_int_equal(check(copy, strlen(copy), key, &s, why), -1);
}

/* Signed, but not what a manifest must be: each refused with its reason. */
static void fields(void **state)
{
	struct { const char *body, *why; } cases[] = {
		{"kiln-image-signature 2\nrole master\n", "first line"},
		{"kiln-image-signature 1\nrole master\ncluster demo\nversion v\nserial 1\nsize 1\n", "no 'sha256'"},
		{"kiln-image-signature 1\nrole master\nrole node\n", "'role' given twice"},
		{"kiln-image-signature 1\nrole Master\n", "'role' is not"},
		{"kiln-image-signature 1\nrole master\ncluster demo\nversion v 1\n", "'version' is not"},
		{"kiln-image-signature 1\nrole master\ncluster demo;rm\n", "'cluster' is not"},
		{"kiln-image-signature 1\nserial 12a\n", "'serial' is not"},
		{"kiln-image-signature 1\nserial 1234567890123\n", "'serial' is not"},
		{"kiln-image-signature 1\nrole master\ncluster demo\nversion v\nserial 1\nsize 1\nsha256 abc\n", "64 hex"},
		{"kiln-image-signature 1\nrole\n", "without 'name value'"},
		{"kiln-image-signature 1\nrole \n", "'role' is not"},
	};
	struct imgsig s;
	char why[256];
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		const char *f = signed_file(cases[i].body, key);
		assert_int_equal(check(f, strlen(f), key, &s, why), -1);
		if (!strstr(why, cases[i].why))
			fail_msg("case %zu: '%s' does not say '%s'", i, why, cases[i].why);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(good), cmocka_unit_test(wrong_key_or_changed), cmocka_unit_test(unsigned_or_malformed),
		cmocka_unit_test(fields),
	};
	return cmocka_run_group_tests_name("imgsig", tests, setup, teardown);
}
