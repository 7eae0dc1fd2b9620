/* kiln-snapsum SNAPSHOT: in every master image, the etcd backup job's check of a snapshot it has just taken, in one
 * read of the file. The integrity hash `etcdctl snapshot save` appends must hold, as etcd checks it on restore: the
 * file is 32 bytes more than a multiple of 512, and those last 32 bytes are the SHA-256 of what precedes them. Then
 * the whole file's SHA-256 (hex, what the snapshot's .meta records and its copies are checked against) and its size
 * in bytes are printed on one line, exit 0. A snapshot that fails the check or cannot be read: one line on stdout
 * saying why, exit 1 (2: usage). One pass where the shell took two (openssl for each hash) and five programs. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK (1 << 20)
#define TAIL 32

static void hex(const unsigned char *d, unsigned n, char *out)
{
	for (unsigned i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

/* Reads FD (SIZE bytes) once: the digest of its first SIZE - 32 bytes in HEAD (when SIZE >= 32), of all of it in
 * WHOLE, its last 32 bytes in TAILBUF. 0, or -1 with errno (ERANGE when the file changed size while read). */
static int digest(int fd, off_t size, unsigned char *head, unsigned char *whole, unsigned char *tailbuf)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new(), *hctx = EVP_MD_CTX_new();
	unsigned char *buf = malloc(CHUNK);
	off_t done = 0, head_len = size >= TAIL ? size - TAIL : -1;
	int rc = -1;
	ssize_t n;
	if (!ctx || !hctx || !buf || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
		goto out;
	if (head_len == 0 && (!EVP_MD_CTX_copy_ex(hctx, ctx) || !EVP_DigestFinal_ex(hctx, head, NULL)))
		goto out;
	while ((n = read(fd, buf, CHUNK)) > 0) {
		off_t end = done + n;
		if (end > size) {
			errno = ERANGE;
			goto out;
		}
		if (head_len > 0 && done < head_len && end >= head_len) { /* this chunk crosses the end of the head */
			size_t h = (size_t)(head_len - done);
			if (!EVP_DigestUpdate(ctx, buf, h) || !EVP_MD_CTX_copy_ex(hctx, ctx) ||
			    !EVP_DigestFinal_ex(hctx, head, NULL) || !EVP_DigestUpdate(ctx, buf + h, (size_t)n - h))
				goto out;
		} else if (!EVP_DigestUpdate(ctx, buf, (size_t)n))
			goto out;
		/* the last 32 bytes, which may span two chunks */
		for (off_t i = done > size - TAIL ? done : size - TAIL; i < end; i++)
			tailbuf[i - (size - TAIL)] = buf[i - done];
		done = end;
	}
	if (n < 0)
		goto out;
	if (done != size) {
		errno = ERANGE;
		goto out;
	}
	rc = EVP_DigestFinal_ex(ctx, whole, NULL) ? 0 : -1;
	if (rc)
		errno = EIO;
out:
	free(buf);
	EVP_MD_CTX_free(ctx);
	EVP_MD_CTX_free(hctx);
	return rc;
}

int main(int argc, char **argv)
{
	unsigned char head[32], whole[32], tailbuf[TAIL];
	char sum[65];
	struct stat st;
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: kiln-snapsum SNAPSHOT\n");
		return 2;
	}
	if ((fd = open(argv[1], O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st)) {
		printf("cannot read %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	if (!S_ISREG(st.st_mode)) {
		printf("%s is not a file\n", argv[1]);
		return 1;
	}
	if (st.st_size % 512 != TAIL) {
		printf("no integrity hash appended (%lld bytes)\n", (long long)st.st_size);
		return 1;
	}
	if (digest(fd, st.st_size, head, whole, tailbuf)) {
		printf("cannot read %s: %s\n", argv[1], errno == ERANGE ? "its size changed while it was read" : strerror(errno));
		return 1;
	}
	close(fd);
	if (memcmp(head, tailbuf, TAIL)) {
		printf("its integrity hash does not match its content (damaged)\n");
		return 1;
	}
	hex(whole, 32, sum);
	printf("%s %lld\n", sum, (long long)st.st_size);
	return 0;
}
