/* kiln-verify PUBKEY SIGFILE: in every system image, what kiln-upgrade asks before it writes a byte. SIGFILE (an
 * image's .sig, "-" for stdin, at most 4096 bytes) must be signed by PUBKEY (PEM, the image's
 * /etc/kiln/image-signing.pub); then its manifest is printed, one KILN_IMAGE_NAME=value a line (values of
 * [A-Za-z0-9._+-] only), exit 0. Otherwise one line on stderr naming the file and why, exit 1 (2: usage). */
#include "kilntool.h"

#include <errno.h>
#include <openssl/pem.h>
#include <string.h>

int main(int argc, char **argv)
{
	char buf[IMGSIG_MAX + 1], why[256];
	struct imgsig s;
	size_t len = 0, n;
	FILE *f;
	EVP_PKEY *key;
	int rc;

	if (argc != 3) {
		fprintf(stderr, "usage: kiln-verify PUBKEY SIGFILE|-\n");
		return 2;
	}
	if (!(f = fopen(argv[1], "r"))) {
		fprintf(stderr, "kiln-verify: %s: %s (the key that signs this cluster's images)\n", argv[1], strerror(errno));
		return 1;
	}
	key = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	if (!key) {
		fprintf(stderr, "kiln-verify: %s: not a PEM public key\n", argv[1]);
		return 1;
	}
	f = strcmp(argv[2], "-") ? fopen(argv[2], "r") : stdin;
	if (!f) {
		fprintf(stderr, "kiln-verify: %s: %s\n", argv[2], strerror(errno));
		EVP_PKEY_free(key);
		return 1;
	}
	while (len < sizeof buf && (n = fread(buf + len, 1, sizeof buf - len, f)) > 0)
		len += n;
	rc = ferror(f);
	if (f != stdin)
		fclose(f);
	if (rc) {
		fprintf(stderr, "kiln-verify: %s: cannot read it\n", argv[2]);
		EVP_PKEY_free(key);
		return 1;
	}
	rc = imgsig_check(buf, len, key, &s, why, sizeof why);
	EVP_PKEY_free(key);
	if (rc) {
		fprintf(stderr, "kiln-verify: %s: %s\n", argv[2], why);
		return 1;
	}
	printf("KILN_IMAGE_ROLE=%s\nKILN_IMAGE_CLUSTER=%s\nKILN_IMAGE_VERSION=%s\nKILN_IMAGE_SERIAL=%s\n"
	       "KILN_IMAGE_SIZE=%s\nKILN_IMAGE_SHA256=%s\n", s.role, s.cluster, s.version, s.serial, s.size, s.sha256);
	return 0;
}
