/* imgsig.c: the signature of a system image. scripts/sign-image.sh writes IMG.sig beside out/<role>/system.img: a
 * manifest of what the image is (role, cluster, version, serial, size, sha256), then one last line
 * "signature BASE64" holding the ECDSA P-256 / SHA-256 signature of every byte before it, made with the cluster's
 * image key (secrets/<cluster>/image-signing.key). kiln-verify, in every system image, checks one against the
 * image's /etc/kiln/image-signing.pub before kiln-upgrade writes a byte. The signature is checked before any field
 * is read; the fields are then held to strict shapes (the shell reads them). */
#include "kilntool.h"

#include <openssl/evp.h>
#include <stdarg.h>
#include <string.h>

static int fail(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return -1;
}

/* Every character of V (N bytes) in SET (ranges "a-z" allowed), N from 1 to MAX. */
static int shaped(const char *v, size_t n, size_t max, const char *set)
{
	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++) {
		int okc = 0;
		for (const char *s = set; *s && !okc; s++) {
			if (s[1] == '-' && s[2]) {
				okc = v[i] >= s[0] && v[i] <= s[2];
				s += 2;
			} else
				okc = v[i] == *s;
		}
		if (!okc)
			return 0;
	}
	return 1;
}

struct field {
	const char *name, *set;
	size_t off, size;
};
#define F(n, set) {#n, set, offsetof(struct imgsig, n), sizeof(((struct imgsig *)0)->n)}
static const struct field fields[] = {
	F(role, "a-z"), F(cluster, "a-z0-9-"), F(version, "A-Za-z0-9._+-"),
	F(serial, "0-9"), F(size, "0-9"), F(sha256, "0-9a-f"),
};

static int parse_body(const char *p, const char *end, struct imgsig *s, char *why, size_t whylen)
{
	static const char magic[] = "kiln-image-signature 1\n";
	unsigned seen = 0;
	memset(s, 0, sizeof *s);
	if ((size_t)(end - p) < sizeof magic - 1 || memcmp(p, magic, sizeof magic - 1))
		return fail(why, whylen, "not a kiln image signature (its first line is not '%.*s')", (int)sizeof magic - 2, magic);
	for (p += sizeof magic - 1; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *sp = memchr(p, ' ', (size_t)(nl - p));
		size_t i;
		if (!sp)
			return fail(why, whylen, "a line without 'name value': '%.*s'", (int)(nl - p > 40 ? 40 : nl - p), p);
		for (i = 0; i < sizeof fields / sizeof *fields; i++)
			if ((size_t)(sp - p) == strlen(fields[i].name) && !memcmp(p, fields[i].name, (size_t)(sp - p)))
				break;
		if (i < sizeof fields / sizeof *fields) { /* a name from a later format is signed, and ignored */
			const struct field *f = &fields[i];
			size_t n = (size_t)(nl - sp - 1);
			if (seen & (1u << i))
				return fail(why, whylen, "'%s' given twice", f->name);
			if (!shaped(sp + 1, n, f->size - 1, f->set))
				return fail(why, whylen, "'%s' is not 1 to %zu of [%s]", f->name, f->size - 1, f->set);
			memcpy((char *)s + f->off, sp + 1, n);
			seen |= 1u << i;
		}
		p = nl + 1;
	}
	for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
		if (!(seen & (1u << i)))
			return fail(why, whylen, "no '%s' in the signed manifest", fields[i].name);
	if (strlen(s->sha256) != 64)
		return fail(why, whylen, "'sha256' is not 64 hex digits");
	return 0;
}

int imgsig_check(const char *buf, size_t len, struct evp_pkey_st *key, struct imgsig *s, char *why, size_t whylen)
{
	static const char tag[] = "signature ";
	unsigned char sig[IMGSIG_B64_MAX];
	const char *last, *b64;
	size_t n;
	int dec, pad = 0, rc;
	EVP_MD_CTX *ctx;

	if (len == 0 || len > IMGSIG_MAX)
		return fail(why, whylen, "not a kiln image signature (%zu bytes: from 1 to %d)", len, IMGSIG_MAX);
	if (memchr(buf, '\0', len))
		return fail(why, whylen, "not a kiln image signature (not text)");
	if (buf[len - 1] != '\n')
		return fail(why, whylen, "truncated (its last line does not end)");
	for (last = buf + len - 1; last > buf && last[-1] != '\n'; last--)
		;
	if ((size_t)(buf + len - last) <= sizeof tag - 1 || memcmp(last, tag, sizeof tag - 1))
		return fail(why, whylen, "unsigned (its last line is not 'signature ...')");
	b64 = last + sizeof tag - 1;
	n = (size_t)(buf + len - 1 - b64);
	if (n % 4 || n > IMGSIG_B64_MAX || !shaped(b64, n, IMGSIG_B64_MAX, "A-Za-z0-9+/="))
		return fail(why, whylen, "the signature is not base64 of at most %d characters", IMGSIG_B64_MAX);
	pad = (b64[n - 1] == '=') + (b64[n - 2] == '=');
	dec = EVP_DecodeBlock(sig, (const unsigned char *)b64, (int)n);
	if (dec < pad)
		return fail(why, whylen, "the signature is not base64");
	if (!(ctx = EVP_MD_CTX_new()))
		return fail(why, whylen, "out of memory");
	rc = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
	     EVP_DigestVerify(ctx, sig, (size_t)(dec - pad), (const unsigned char *)buf, (size_t)(last - buf)) == 1;
	EVP_MD_CTX_free(ctx);
	if (!rc)
		return fail(why, whylen, "the signature does not verify with this key: signed by another key, or changed "
					 "since it was signed");
	return parse_body(buf, last, s, why, whylen);
}
