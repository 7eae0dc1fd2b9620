/* status.c: `kiln pki status`: every certificate in the PKI folder with its subject, issuer, expiry and the
 * days it has left, so a renewal is planned before a cluster stops talking to itself. */
#include "kilntool.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

struct list {
	char **v;
	size_t n;
};

static void collect(const char *root, const char *rel, struct list *l)
{
	char path[PATH_MAX];
	DIR *dir;
	struct dirent *e;
	snprintf(path, sizeof path, "%s%s%s", root, *rel ? "/" : "", rel);
	if (!(dir = opendir(path)))
		return;
	while ((e = readdir(dir))) {
		char sub[PATH_MAX];
		size_t n = strlen(e->d_name);
		if (e->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
		if (e->d_type == DT_DIR) {
			collect(root, sub, l);
		} else if (n > 4 && !strcmp(e->d_name + n - 4, ".crt")) {
			char **v = realloc(l->v, (l->n + 1) * sizeof *v);
			if (!v)
				break;
			l->v = v;
			l->v[l->n++] = strdup(sub);
		}
	}
	closedir(dir);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void name_text(const X509_NAME *n, char *buf, size_t len)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long l;
	buf[0] = '\0';
	if (!b)
		return;
	X509_NAME_print_ex(b, n, 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB & ~XN_FLAG_SPC_EQ);
	l = BIO_get_mem_data(b, &p);
	snprintf(buf, len, "%.*s", (int)l, p);
	BIO_free(b);
}

static int show(const char *dir, const char *rel, FILE *out)
{
	char path[PATH_MAX], subject[256], issuer[256], when[32];
	FILE *f;
	X509 *x;
	struct tm tm;
	int days, secs;
	snprintf(path, sizeof path, "%s/%s", dir, rel);
	if (!(f = fopen(path, "r")))
		return -1;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!x) {
		fprintf(out, "%-40s unreadable certificate\n", rel);
		return -1;
	}
	name_text(X509_get_subject_name(x), subject, sizeof subject);
	name_text(X509_get_issuer_name(x), issuer, sizeof issuer);
	ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm);
	strftime(when, sizeof when, "%Y-%m-%d %H:%M", &tm);
	ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x));
	fprintf(out, "%-40s %-52s %-22s %s %5d%s\n", rel, subject, issuer, when, days,
		days < 0 ? " EXPIRED" : days < RENEW_DAYS ? " RENEW" : "");
	X509_free(x);
	return 0;
}

int pki_status(const char *dir, FILE *out)
{
	struct list l = {0};
	int rc = 0;
	if (access(dir, R_OK) != 0) {
		fprintf(stderr, "kiln: pki: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	collect(dir, "", &l);
	qsort(l.v, l.n, sizeof *l.v, cmp_str);
	fprintf(out, "%-40s %-52s %-22s %-16s %5s\n", "CERTIFICATE", "SUBJECT", "ISSUER", "NOT AFTER (UTC)", "DAYS");
	for (size_t i = 0; i < l.n; i++) {
		rc |= show(dir, l.v[i], out);
		free(l.v[i]);
	}
	free(l.v);
	if (!l.n) {
		fprintf(stderr, "kiln: pki: %s: no certificates\n", dir);
		return -1;
	}
	return rc;
}
