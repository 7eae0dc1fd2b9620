/* enrollcerts.c: the build host's answer to a PXE machine's enrollment request (kiln enroll-certs): the request is
 * held to what the cluster file says of the machine, then the machine's own certificates are issued for the keys
 * it made, with one more for its "enroll" key, the recipient its shared secrets are encrypted to. */
#include "kilntool.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static const struct machine *machine_find(const struct cluster *c, const char *name)
{
	for (size_t i = 0; i < c->nmachines; i++)
		if (!strcmp(c->machines[i].name, name))
			return &c->machines[i];
	return NULL;
}

/* x of the spec "machines/NAME/x", NULL when it is not one of NAME's own. */
static const char *own_base(const struct cert_spec *s, const char *name)
{
	size_t n = strlen(name);
	if (strncmp(s->id, "machines/", 9) || strncmp(s->id + 9, name, n) || s->id[9 + n] != '/')
		return NULL;
	return s->id + 10 + n;
}

static const struct enroll_key *req_key(const struct enroll_req *r, const char *id)
{
	for (size_t i = 0; i < r->nkeys; i++)
		if (!strcmp(r->keys[i].id, id))
			return &r->keys[i];
	return NULL;
}

int enroll_match(const struct cluster *c, const char *name, const struct enroll_req *r, FILE *err)
{
	const struct machine *m = machine_find(c, name);
	struct cert_spec *specs;
	struct buf own = {0};
	char have[18], want[18];
	size_t n;
	int problems = 0;
	if (!m) {
		fprintf(err, "kiln: enroll: %s: no such machine in the cluster file\n", name);
		return 1;
	}
	if (strcmp(r->name, name))
		problems++, fprintf(err, "kiln: enroll: %s: the request's name %s is not %s\n", name, r->name, name);
	if (r->role != m->role)
		problems++, fprintf(err, "kiln: enroll: %s: the request's role %s is not the cluster file's %s\n", name,
				    r->role == ROLE_MASTER ? "master" : "node", m->role == ROLE_MASTER ? "master" : "node");
	if (memcmp(r->mac, m->mac, sizeof r->mac)) {
		mac_format(r->mac, have, sizeof have);
		mac_format(m->mac, want, sizeof want);
		problems++, fprintf(err, "kiln: enroll: %s: the request's MAC %s is not the cluster file's %s\n", name,
				    have, want);
	}
	if (!(specs = pkiplan_build(c, &n))) {
		fprintf(err, "kiln: enroll: %s: out of memory\n", name);
		return problems + 1;
	}
	for (size_t i = 0; i < n; i++) {
		const char *x = own_base(&specs[i], name);
		if (!x)
			continue;
		buf_printf(&own, " %s", x);
		if (!req_key(r, x))
			problems++, fprintf(err, "kiln: enroll: %s: the request has no key %s\n", name, x);
	}
	for (size_t k = 1; k < r->nkeys; k++) {
		int found = 0;
		for (size_t i = 0; i < n && !found; i++) {
			const char *x = own_base(&specs[i], name);
			found = x && !strcmp(x, r->keys[k].id);
		}
		if (!found)
			problems++, fprintf(err, "kiln: enroll: %s: the request's key %s is not one of a %s's (enroll%s)\n",
					    name, r->keys[k].id, m->role == ROLE_MASTER ? "master" : "node", own.p ? own.p : "");
	}
	buf_free(&own);
	pkiplan_free(specs, n);
	return problems;
}

/* The enroll key's certificate: only ever a CMS recipient (ECDH), so key agreement and no extended usage. */
static void enroll_spec(struct cert_spec *s, const char *name)
{
	memset(s, 0, sizeof *s);
	snprintf(s->id, sizeof s->id, "machines/%s/enroll", name);
	s->ca = CA_KUBE;
	snprintf(s->cn, sizeof s->cn, "kiln-enroll:%s", name);
	s->key_agreement = 1;
}

int enroll_certs(const struct cluster *c, const char *pkidir, const char *name, const char *reqfile,
		 const char *outdir)
{
	struct enroll_req r;
	struct cert_spec *specs = NULL, es;
	struct pki p;
	char why[256], path[PATH_MAX];
	size_t len, n = 0;
	char *text;
	int issued = 0, rc = -1;
	if (!(text = read_file(reqfile, &len))) {
		fprintf(stderr, "kiln: enroll: %s: %s\n", reqfile, strerror(errno));
		return -1;
	}
	rc = enroll_parse(text, len, &r, why, sizeof why);
	free(text);
	if (rc) {
		fprintf(stderr, "kiln: enroll: %s: %s\n", reqfile, why);
		return -1;
	}
	rc = -1;
	if (enroll_match(c, name, &r, stderr))
		goto out;
	if (pki_open_existing(&p, pkidir, c->ca_days, c->leaf_days))
		goto out;
	if (mkdir_p(outdir, 0755)) {
		fprintf(stderr, "kiln: enroll: %s: %s\n", outdir, strerror(errno));
		goto close;
	}
	if (!(specs = pkiplan_build(c, &n)))
		goto close;
	for (size_t i = 0; i < n; i++) {
		const char *x = own_base(&specs[i], name);
		if (!x)
			continue;
		snprintf(path, sizeof path, "%s/%s.crt", outdir, x);
		if (pki_issue_for_key(&p, &specs[i], req_key(&r, x)->key, path))
			goto close;
		issued++;
	}
	enroll_spec(&es, name);
	snprintf(path, sizeof path, "%s/enroll.crt", outdir);
	if (pki_issue_for_key(&p, &es, r.keys[0].key, path))
		goto close;
	issued++;
	printf("kiln: enroll: %s: %d certificates issued for its keys\n", name, issued);
	rc = 0;
close:
	pki_close(&p);
out:
	pkiplan_free(specs, n);
	enroll_req_free(&r);
	return rc;
}
