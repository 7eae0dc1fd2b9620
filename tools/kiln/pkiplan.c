/* pkiplan.c: the identities a cluster needs (DESIGN.md's PKI table as data): which CA signs each, its
 * subject, names and usages. pki.c issues or reuses them; identity.c decides which machine gets what. */
#include "kilntool.h"

#include <stdlib.h>
#include <string.h>

static struct cert_spec *spec_add(struct cert_spec *v, size_t *n, const char *id, enum ca_id ca, const char *cn,
				  const char *org, int eku)
{
	struct cert_spec *s = &v[(*n)++];
	memset(s, 0, sizeof *s);
	snprintf(s->id, sizeof s->id, "%s", id);
	s->ca = ca;
	snprintf(s->cn, sizeof s->cn, "%s", cn);
	snprintf(s->org, sizeof s->org, "%s", org ? org : "");
	s->eku = eku;
	return s;
}

static void apiserver_sans(struct cert_spec *s, const struct cluster *c, const struct machine *m)
{
	char a[16];
	ip_format(m->addr, a, sizeof a);
	cert_spec_add_san(s, "DNS:%s", m->name);
	cert_spec_add_san(s, "IP:%s", a);
	ip_format(c->service_ip, a, sizeof a);
	cert_spec_add_san(s, "IP:%s", a);
	cert_spec_add_san(s, "DNS:kubernetes");
	cert_spec_add_san(s, "DNS:kubernetes.default");
	cert_spec_add_san(s, "DNS:kubernetes.default.svc");
	cert_spec_add_san(s, "DNS:kubernetes.default.svc.%s", c->domain);
	cert_spec_add_san(s, "IP:127.0.0.1");
	cert_spec_add_san(s, "DNS:localhost");
}

static void machine_sans(struct cert_spec *s, const struct machine *m, int local)
{
	char a[16];
	ip_format(m->addr, a, sizeof a);
	cert_spec_add_san(s, "DNS:%s", m->name);
	cert_spec_add_san(s, "IP:%s", a);
	if (local) {
		cert_spec_add_san(s, "DNS:localhost");
		cert_spec_add_san(s, "IP:127.0.0.1");
	}
}

struct cert_spec *pkiplan_build(const struct cluster *c, size_t *n)
{
	struct cert_spec *v = calloc(5 * c->nmasters + 3 * c->nnodes + 16, sizeof *v), *s;
	char id[96], cn[128];
	*n = 0;
	if (!v)
		return NULL;
	/* in no group: addons/apiserver-kubelet.yaml binds it to the kubelet API alone */
	spec_add(v, n, "apiserver-kubelet-client", CA_KUBE, "kube-apiserver-kubelet-client", NULL, EKU_CLIENT);
	spec_add(v, n, "apiserver-etcd-client", CA_ETCD, "kube-apiserver-etcd-client", NULL, EKU_CLIENT);
	spec_add(v, n, "controller-manager", CA_KUBE, "system:kube-controller-manager", NULL, EKU_CLIENT);
	spec_add(v, n, "scheduler", CA_KUBE, "system:kube-scheduler", NULL, EKU_CLIENT);
	/* CoreDNS runs on the masters as a host service; RBAC for this user comes with addons/coredns.yaml. */
	spec_add(v, n, "coredns", CA_KUBE, "system:coredns", NULL, EKU_CLIENT);
	spec_add(v, n, "admin", CA_KUBE, "kubernetes-admin", "system:masters", EKU_CLIENT);
	spec_add(v, n, "kube-proxy", CA_KUBE, "system:kube-proxy", "system:node-proxier", EKU_CLIENT);
	/* the scraper's client (metrics of every machine); in no image: it stays with the operator. Its name is in no
	 * RBAC binding, so the apiserver, which trusts the same CA, lets it do nothing. */
	spec_add(v, n, "monitoring", CA_KUBE, "kiln:monitoring", NULL, EKU_CLIENT);
	for (size_t i = 0; i < c->nmachines; i++) {
		const struct machine *m = &c->machines[i];
		/* every machine's metrics endpoint (a server only: it cannot log in anywhere) */
		snprintf(id, sizeof id, "machines/%s/metrics", m->name);
		snprintf(cn, sizeof cn, "kiln:metrics:%s", m->name);
		s = spec_add(v, n, id, CA_KUBE, cn, NULL, EKU_SERVER);
		machine_sans(s, m, 1);
		/* every machine's log forwarder (a client), and a master's log receiver (a server): the peers check the
		 * machine's name in it */
		snprintf(id, sizeof id, "machines/%s/log", m->name);
		snprintf(cn, sizeof cn, "kiln:log:%s", m->name);
		s = spec_add(v, n, id, CA_KUBE, cn, NULL, EKU_SERVER | EKU_CLIENT);
		machine_sans(s, m, 0);
		if (m->role == ROLE_MASTER) {
			snprintf(id, sizeof id, "machines/%s/apiserver", m->name);
			s = spec_add(v, n, id, CA_KUBE, "kube-apiserver", NULL, EKU_SERVER);
			apiserver_sans(s, c, m);
			snprintf(id, sizeof id, "machines/%s/etcd", m->name);
			s = spec_add(v, n, id, CA_ETCD, m->name, NULL, EKU_SERVER | EKU_CLIENT);
			machine_sans(s, m, 1);
			/* each master's own backup client: the snapshots, and the copies it may send (of its own name only) */
			snprintf(id, sizeof id, "machines/%s/etcd-backup", m->name);
			snprintf(cn, sizeof cn, "etcd-backup:%s", m->name);
			spec_add(v, n, id, CA_ETCD, cn, NULL, EKU_CLIENT);
		} else {
			snprintf(id, sizeof id, "machines/%s/kubelet", m->name);
			snprintf(cn, sizeof cn, "system:node:%s", m->name);
			s = spec_add(v, n, id, CA_KUBE, cn, "system:nodes", EKU_SERVER | EKU_CLIENT);
			machine_sans(s, m, 0);
		}
	}
	return v;
}

void pkiplan_free(struct cert_spec *specs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		cert_spec_free(&specs[i]);
	free(specs);
}

int pkiplan_ensure(struct pki *p, const struct cluster *c)
{
	size_t n;
	struct cert_spec *v = pkiplan_build(c, &n);
	int rc = v ? 0 : -1;
	for (size_t i = 0; v && i < n && rc == 0; i++)
		if (pki_ensure(p, &v[i]) < 0)
			rc = -1;
	if (rc == 0)
		rc = pki_ensure_keypair(p, "service-account");
	if (rc == 0)
		rc = pki_ensure_secret(p, "encryption");
	if (rc == 0) /* signs the system images (out/<role>/system.img.sig); its public half is in every image */
		rc = pki_ensure_keypair(p, "image-signing");
	pkiplan_free(v, n);
	return rc;
}
