/* kiln-enroll: a PXE-booted machine's side of enrollment, with libcrypto alone. Its keys are made here and never
 * leave DIR; the build host sees their public halves (DIR/request), answers with certificates for them and with the
 * shared secrets encrypted (CMS AuthEnvelopedData, ECDH) to the "enroll" key. Exit 0; 1 with one line per problem
 * on stderr; 2 on bad arguments. */
#include "kilntool.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#define CERT_MAX (64 * 1024)
#define CMS_MAX (8 * 1024 * 1024)

static int usage(void)
{
	fprintf(stderr, "usage: kiln-enroll request DIR NAME ROLE MAC ID...\n"
			"       kiln-enroll certs DIR ANSWERDIR CAFILE...\n"
			"       kiln-enroll decrypt DIR IN OUT\n");
	return 2;
}

static const char *ssl_why(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;
	return r ? r : "failed";
}

/* PATH.new, written, synced and renamed over PATH, then the folder synced: after a power cut at boot the machine
 * finds the old file or the new one, and a key it reported is never lost. */
static int save(const char *path, const void *data, size_t len, mode_t mode)
{
	char tmp[PATH_MAX], dir[PATH_MAX], *slash;
	const char *p = data;
	int fd, dfd, e;
	if (snprintf(tmp, sizeof tmp, "%s.new", path) >= (int)sizeof tmp)
		return errno = ENAMETOOLONG, -1;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode)) < 0)
		return -1;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		p += n, len -= (size_t)n;
	}
	if (fchmod(fd, mode) || fsync(fd) || close(fd)) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path))
		goto fail;
	snprintf(dir, sizeof dir, "%s", path);
	if (!(slash = strrchr(dir, '/')))
		snprintf(dir, sizeof dir, ".");
	else
		slash[slash == dir] = '\0'; /* "/x": the root folder */
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
fail:
	e = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	errno = e;
	return -1;
}

/* PATH's bytes when there are at most MAX of them (malloc'd, NUL after), else NULL with errno (EFBIG: too big). */
static char *slurp(const char *path, size_t max, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *p;
	size_t n = 0;
	ssize_t got;
	if (fd < 0)
		return NULL;
	if (!(p = malloc(max + 2))) {
		close(fd);
		return NULL;
	}
	while (n <= max && ((got = read(fd, p + n, max + 1 - n)) > 0 || (got < 0 && errno == EINTR)))
		if (got > 0)
			n += (size_t)got;
	if (got < 0 || n > max) {
		int e = got < 0 ? errno : EFBIG;
		free(p);
		close(fd);
		errno = e;
		return NULL;
	}
	close(fd);
	p[n] = '\0';
	*len = n;
	return p;
}

static const char *read_why(void)
{
	return errno == EFBIG ? "too large" : strerror(errno);
}

static EVP_PKEY *key_load(const char *path)
{
	EVP_PKEY *k = NULL;
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "kiln-enroll: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (!enroll_key_p256(k)) {
		fprintf(stderr, "kiln-enroll: %s: not a PEM EC P-256 private key\n", path);
		EVP_PKEY_free(k);
		return NULL;
	}
	return k;
}

/* DIR/ID.key: the one there, or a new P-256 key saved now (PKCS#8 PEM, 0600). */
static EVP_PKEY *key_get(const char *dir, const char *id)
{
	char path[PATH_MAX], *pem;
	EVP_PKEY *k;
	BIO *b;
	long len;
	int rc = -1;
	snprintf(path, sizeof path, "%s/%s.key", dir, id);
	if (access(path, F_OK) == 0 || errno != ENOENT)
		return key_load(path);
	if (!(k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"))) {
		fprintf(stderr, "kiln-enroll: %s: cannot make a key: %s\n", id, ssl_why());
		return NULL;
	}
	if ((b = BIO_new(BIO_s_mem())) && PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) == 1 &&
	    (len = BIO_get_mem_data(b, &pem)) > 0) {
		rc = save(path, pem, (size_t)len, 0600);
		if (rc)
			fprintf(stderr, "kiln-enroll: cannot write %s: %s\n", path, strerror(errno));
		OPENSSL_cleanse(pem, (size_t)len);
	} else
		fprintf(stderr, "kiln-enroll: %s: cannot encode the key: %s\n", id, ssl_why());
	BIO_free(b);
	if (rc) {
		EVP_PKEY_free(k);
		return NULL;
	}
	return k;
}

static int cmd_request(int argc, char **argv)
{
	const char *dir = argv[2];
	struct enroll_req r = {0};
	char why[256], path[PATH_MAX], *text;
	size_t len;
	int rc = 1;
	if (argc < 7)
		return usage();
	if (!enroll_name_valid(argv[3])) {
		fprintf(stderr, "kiln-enroll: bad NAME '%s' ([a-z0-9-], 1 to 63 long, a letter or digit first)\n", argv[3]);
		return usage();
	}
	if (strcmp(argv[4], "master") && strcmp(argv[4], "node")) {
		fprintf(stderr, "kiln-enroll: bad ROLE '%s' (master or node)\n", argv[4]);
		return usage();
	}
	if (enroll_mac_parse(argv[5], r.mac)) {
		fprintf(stderr, "kiln-enroll: bad MAC '%s' (six lowercase hex pairs joined by ':')\n", argv[5]);
		return usage();
	}
	if (argc - 6 > ENROLL_KEYS_MAX - 1) {
		fprintf(stderr, "kiln-enroll: more than %d IDs\n", ENROLL_KEYS_MAX - 1);
		return usage();
	}
	for (int i = 6; i < argc; i++) {
		int twice = !strcmp(argv[i], "enroll");
		for (int j = 6; j < i; j++)
			twice |= !strcmp(argv[i], argv[j]);
		if (!enroll_id_valid(argv[i]) || twice) {
			fprintf(stderr, "kiln-enroll: bad ID '%s' ([a-z-], 1 to %d long, given once, not enroll)\n",
				argv[i], ENROLL_ID_MAX);
			return usage();
		}
	}
	snprintf(r.name, sizeof r.name, "%s", argv[3]);
	r.role = strcmp(argv[4], "master") ? ROLE_NODE : ROLE_MASTER;
	if (mkdir_p(dir, 0700)) {
		fprintf(stderr, "kiln-enroll: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	for (int i = 0; i <= argc - 6; i++) {
		const char *id = i ? argv[5 + i] : "enroll";
		snprintf(r.keys[r.nkeys].id, sizeof r.keys[r.nkeys].id, "%s", id);
		if (!(r.keys[r.nkeys].key = key_get(dir, id)))
			goto out;
		r.nkeys++;
	}
	if (!(text = enroll_format(&r, &len, why, sizeof why))) {
		fprintf(stderr, "kiln-enroll: request: %s\n", why);
		goto out;
	}
	snprintf(path, sizeof path, "%s/request", dir);
	if (save(path, text, len, 0644))
		fprintf(stderr, "kiln-enroll: cannot write %s: %s\n", path, strerror(errno));
	else
		rc = 0;
	free(text);
out:
	enroll_req_free(&r);
	return rc;
}

static X509 *cert_read(const char *path, char *why, size_t whylen)
{
	size_t len;
	char *pem = slurp(path, CERT_MAX, &len);
	X509 *x = NULL;
	BIO *b;
	if (!pem) {
		snprintf(why, whylen, "%s: %s", path, read_why());
		return NULL;
	}
	if ((b = BIO_new_mem_buf(pem, (int)len)))
		x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	free(pem);
	if (!x)
		snprintf(why, whylen, "%s: not a PEM certificate", path);
	ERR_clear_error();
	return x;
}

/* Every id's certificate in ANSWERDIR is for DIR's key of that id and signed by one of the CAs. The clock is not
 * asked: a machine's clock at boot may be anything. */
static int cmd_certs(int argc, char **argv)
{
	const char *dir = argv[2], *answers = argv[3];
	X509 *cas[16] = {0};
	struct enroll_req r;
	char why[PATH_MAX + 64], path[PATH_MAX], *text;
	size_t len;
	int ncas = argc - 4, problems = 0, cas_ok = 1;
	if (argc < 5 || ncas > (int)(sizeof cas / sizeof *cas))
		return usage();
	snprintf(path, sizeof path, "%s/request", dir);
	if (!(text = slurp(path, ENROLL_MAX, &len))) {
		fprintf(stderr, "kiln-enroll: %s: %s\n", path, read_why());
		return 1;
	}
	if (enroll_parse(text, len, &r, why, sizeof why)) {
		fprintf(stderr, "kiln-enroll: %s: %s\n", path, why);
		free(text);
		return 1;
	}
	free(text);
	for (int i = 0; i < ncas; i++)
		if (!(cas[i] = cert_read(argv[4 + i], why, sizeof why))) {
			fprintf(stderr, "kiln-enroll: %s\n", why);
			problems++, cas_ok = 0;
		}
	for (size_t k = 0; cas_ok && k < r.nkeys; k++) {
		const char *id = r.keys[k].id;
		EVP_PKEY *key;
		X509 *x;
		int signed_by = 0;
		snprintf(path, sizeof path, "%s/%s.crt", answers, id);
		if (!(x = cert_read(path, why, sizeof why))) {
			fprintf(stderr, "kiln-enroll: %s: %s\n", id, why);
			problems++;
			continue;
		}
		snprintf(path, sizeof path, "%s/%s.key", dir, id);
		if (!(key = key_load(path)))
			problems++;
		else if (X509_check_private_key(x, key) != 1) {
			fprintf(stderr, "kiln-enroll: %s: the certificate is not for this machine's key\n", id);
			problems++;
		} else {
			for (int i = 0; i < ncas && !signed_by; i++)
				signed_by = X509_verify(x, X509_get0_pubkey(cas[i])) == 1;
			if (!signed_by) {
				fprintf(stderr, "kiln-enroll: %s: the certificate is signed by none of the CAs given\n", id);
				problems++;
			}
		}
		ERR_clear_error();
		EVP_PKEY_free(key);
		X509_free(x);
	}
	for (int i = 0; i < ncas; i++)
		X509_free(cas[i]);
	enroll_req_free(&r);
	return problems ? 1 : 0;
}

/* IN, CMS AuthEnvelopedData in DER, decrypted with DIR/enroll.key to OUT (0600). The recipient is found by trying
 * the key on it (no certificate needed); only AuthEnvelopedData is taken, so a changed byte fails the tag instead
 * of decrypting to garbage. */
static int cmd_decrypt(int argc, char **argv)
{
	const char *in = argv[3], *out = argv[4];
	CMS_ContentInfo *cms = NULL;
	const unsigned char *p;
	char path[PATH_MAX], *der = NULL, *plain;
	EVP_PKEY *key;
	BIO *b = NULL;
	size_t len;
	long plen;
	int rc = 1;
	if (argc != 5)
		return usage();
	snprintf(path, sizeof path, "%s/enroll.key", argv[2]);
	if (!(key = key_load(path)))
		return 1;
	if (!(der = slurp(in, CMS_MAX, &len))) {
		fprintf(stderr, "kiln-enroll: %s: %s\n", in, read_why());
		goto out;
	}
	p = (const unsigned char *)der;
	if (!(cms = d2i_CMS_ContentInfo(NULL, &p, (long)len)) || p != (const unsigned char *)der + len) {
		fprintf(stderr, "kiln-enroll: %s: not one CMS structure in DER\n", in);
		goto out;
	}
	if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_id_smime_ct_authEnvelopedData) {
		fprintf(stderr, "kiln-enroll: %s: not CMS AuthEnvelopedData (encrypt with -aes-256-gcm)\n", in);
		goto out;
	}
	if (CMS_decrypt_set1_pkey(cms, key, NULL) != 1) {
		fprintf(stderr, "kiln-enroll: %s: not encrypted to this machine's enroll key (or that part is damaged)\n",
			in);
		goto out;
	}
	if (!(b = BIO_new(BIO_s_mem())) || CMS_decrypt(cms, NULL, NULL, NULL, b, CMS_BINARY) != 1) {
		fprintf(stderr, "kiln-enroll: %s: damaged: its authentication tag does not match its content\n", in);
		goto out;
	}
	plen = BIO_get_mem_data(b, &plain);
	if (save(out, plain, plen > 0 ? (size_t)plen : 0, 0600))
		fprintf(stderr, "kiln-enroll: cannot write %s: %s\n", out, strerror(errno));
	else
		rc = 0;
	if (plen > 0)
		OPENSSL_cleanse(plain, (size_t)plen);
out:
	ERR_clear_error();
	BIO_free(b);
	CMS_ContentInfo_free(cms);
	free(der);
	EVP_PKEY_free(key);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	if (!strcmp(argv[1], "request"))
		return cmd_request(argc, argv);
	if (!strcmp(argv[1], "certs"))
		return cmd_certs(argc, argv);
	if (!strcmp(argv[1], "decrypt"))
		return cmd_decrypt(argc, argv);
	return usage();
}
