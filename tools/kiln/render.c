/* render.c: `kiln render`: the PKI brought up to date, then the whole output folder (cluster.env, the admin
 * kubeconfig, the addons manifest, every machine's identity tree) written to a temporary folder and swapped
 * into place, so a failure leaves the previous output as it was. Files that did not change keep their times. */
#include "kilntool.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void env_name(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s", name);
	for (char *p = buf; *p; p++)
		if (*p == '-')
			*p = '_';
}

char *cluster_env(const struct cluster *c)
{
	struct buf b = {0};
	char a[16], r[24], v[NAME_MAX_LEN], *s;
	buf_printf(&b, "# kiln: the cluster, for shell scripts (. cluster.env); written by kiln render\n");
	buf_printf(&b, "CLUSTER_NAME=%s\nCLUSTER_DOMAIN=%s\nKUBERNETES_VERSION=%s\n", c->name, c->domain, c->version);
	cidr_format(&c->infra, r, sizeof r);
	buf_printf(&b, "INFRA_CIDR=%s\n", r);
	if (c->has_gateway)
		ip_format(c->gateway, a, sizeof a);
	buf_printf(&b, "INFRA_GATEWAY=%s\n", c->has_gateway ? a : "");
	cidr_format(&c->services, r, sizeof r);
	buf_printf(&b, "SERVICE_CIDR=%s\n", r);
	cidr_format(&c->pods, r, sizeof r);
	buf_printf(&b, "POD_CIDR=%s\n", r);
	ip_format(c->service_ip, a, sizeof a);
	buf_printf(&b, "SERVICE_IP=%s\n", a);
	ip_format(c->dns_ip, a, sizeof a);
	buf_printf(&b, "DNS_IP=%s\n", a);
	ip_format(cluster_first_master(c)->addr, a, sizeof a);
	buf_printf(&b, "APISERVER_URL=https://%s:6443\n", a);
	s = cluster_etcd_initial(c);
	buf_printf(&b, "ETCD_INITIAL_CLUSTER=%s\n", s);
	free(s);
	s = cluster_etcd_servers(c);
	buf_printf(&b, "ETCD_SERVERS=%s\n", s);
	free(s);
	buf_printf(&b, "BACKUP_INTERVAL=%ld\nBACKUP_KEEP=%ld\nBACKUP_COPY_TO=%s\n", c->backup_interval, c->backup_keep,
		   c->backup_copy_to);
	buf_printf(&b, "PKI_CA_DAYS=%ld\nPKI_LEAF_DAYS=%ld\n", c->ca_days, c->leaf_days);
	buf_printf(&b, "IMAGE_CONSOLE_SHELL=%s\nIMAGE_BOOT_MIB=%ld\nIMAGE_SLOT_MIB=%ld\nIMAGE_DATA_MIB=%ld\n",
		   c->console_shell ? "yes" : "no", c->boot_mib, c->slot_mib, c->data_mib);
	buf_printf(&b, "IMAGE_DATA_FORMAT_BLANK=%s\nIMAGE_DISKLESS_MASTERS=%s\nIMAGE_DATA_WAIT=%ld\n",
		   c->data_format_blank ? "yes" : "no", c->diskless_masters ? "yes" : "no", c->data_wait);
	for (int role = ROLE_MASTER; role <= ROLE_NODE; role++) {
		buf_printf(&b, "%s=\"", role == ROLE_MASTER ? "MASTERS" : "NODES");
		for (size_t i = 0, n = 0; i < c->nmachines; i++)
			if (c->machines[i].role == (enum role)role)
				buf_printf(&b, "%s%s", n++ ? " " : "", c->machines[i].name);
		buf_printf(&b, "\"\n");
	}
	for (size_t i = 0; i < c->nmachines; i++) {
		const struct machine *m = &c->machines[i];
		env_name(m->name, v, sizeof v);
		mac_format(m->mac, r, sizeof r);
		ip_format(m->addr, a, sizeof a);
		buf_printf(&b, "MACHINE_%s_ROLE=%s\nMACHINE_%s_MAC=%s\nMACHINE_%s_ADDRESS=%s\n", v,
			   m->role == ROLE_MASTER ? "master" : "node", v, r, v, a);
		if (m->role == ROLE_NODE)
			cidr_format(&m->pod_subnet, r, sizeof r);
		buf_printf(&b, "MACHINE_%s_POD_CIDR=%s\n", v, m->role == ROLE_NODE ? r : "");
	}
	return b.p;
}

/* A file of the output outside the identity trees, reusing OLDDIR's copy when unchanged. */
static int write_text(const char *dir, const char *olddir, const char *rel, const char *text, mode_t mode)
{
	char path[PATH_MAX], old[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", dir, rel);
	snprintf(old, sizeof old, "%s/%s", olddir, rel);
	if (emit_file(path, old, text, strlen(text), mode, (uid_t)-1, 0)) {
		fprintf(stderr, "kiln: render: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int write_admin(const struct cluster *c, const char *tmp, const char *olddir, const char *pkidir)
{
	struct buf b = {0};
	char ca[PATH_MAX], cert[PATH_MAX], key[PATH_MAX], a[16], url[64];
	int rc;
	snprintf(ca, sizeof ca, "%s/kubernetes-ca.crt", pkidir);
	snprintf(cert, sizeof cert, "%s/admin.crt", pkidir);
	snprintf(key, sizeof key, "%s/admin.key", pkidir);
	ip_format(cluster_first_master(c)->addr, a, sizeof a);
	snprintf(url, sizeof url, "https://%s:6443", a);
	rc = kubeconfig_embedded(&b, c->name, url, "kubernetes-admin", ca, cert, key) ||
	     write_text(tmp, olddir, "admin.kubeconfig", b.p, 0600);
	buf_free(&b);
	return rc;
}

/* The public half of the cluster's image key, which stage-rootfs.sh puts in every system image. */
static int write_image_key(const char *tmp, const char *olddir, const char *pkidir)
{
	char path[PATH_MAX];
	size_t len;
	char *pub;
	int rc;
	snprintf(path, sizeof path, "%s/image-signing.pub", pkidir);
	if (!(pub = read_file(path, &len))) {
		fprintf(stderr, "kiln: render: %s: %s\n", path, strerror(errno));
		return -1;
	}
	rc = write_text(tmp, olddir, "image-signing.pub", pub, 0644);
	free(pub);
	return rc;
}

static int write_machines(const struct cluster *c, const char *tmp, const char *olddir, const char *pkidir,
			  const struct owners *o)
{
	for (size_t i = 0; i < c->nmachines; i++) {
		const struct machine *m = &c->machines[i];
		struct tree t = {.owners = o, .chown = geteuid() == 0};
		char dir[PATH_MAX], old[PATH_MAX];
		snprintf(dir, sizeof dir, "%s/machines/%s", tmp, m->name);
		snprintf(old, sizeof old, "%s/machines/%s", olddir, m->name);
		snprintf(t.root, sizeof t.root, "%s/identity", dir);
		snprintf(t.old, sizeof t.old, "%s/identity", old);
		if (mkdir_p(t.root, 0755) ||
		    write_text(dir, old, "role", m->role == ROLE_MASTER ? "master\n" : "node\n", 0644) ||
		    identity_write(c, m, pkidir, &t)) {
			buf_free(&t.manifest);
			return -1;
		}
	}
	return 0;
}

int render(const struct cluster *c, const char *outdir, const char *pkidir, const char *rootfs)
{
	struct pki p;
	struct owners *o = owners_load(rootfs);
	char tmp[PATH_MAX], dir[PATH_MAX], addons[PATH_MAX + 8], *env = NULL, *dns = NULL, *kubelet = NULL;
	int rc = -1;

	if (!o && geteuid() == 0) {
		fprintf(stderr, "kiln: render: %s/etc/passwd: %s (needed to give files their owners)\n", rootfs,
			strerror(errno));
		return -1;
	}
	if (pki_open(&p, pkidir, c->ca_days, c->leaf_days)) {
		owners_free(o);
		return -1;
	}
	if (pkiplan_ensure(&p, c))
		goto out;
	snprintf(tmp, sizeof tmp, "%s", outdir);
	for (size_t n = strlen(tmp); n > 1 && tmp[n - 1] == '/'; n--)
		tmp[n - 1] = '\0'; /* "out/" would put "out/.new" inside itself */
	strcat(tmp, ".new");
	rm_rf(tmp);
	if (mkdir_p(tmp, 0755)) {
		fprintf(stderr, "kiln: render: %s: %s\n", tmp, strerror(errno));
		goto out;
	}
	snprintf(dir, sizeof dir, "%.*s", (int)strlen(tmp) - 4, tmp);
	env = cluster_env(c);
	dns = addons_coredns(c);
	kubelet = addons_apiserver_kubelet(c);
	snprintf(addons, sizeof addons, "%s/addons", tmp);
	if (!env || !dns || !kubelet || mkdir_p(addons, 0755) ||
	    write_text(tmp, dir, "cluster.env", env, 0644) || write_text(tmp, dir, "addons/coredns.yaml", dns, 0644) ||
	    write_text(tmp, dir, "addons/apiserver-kubelet.yaml", kubelet, 0644) ||
	    write_admin(c, tmp, dir, pkidir) || write_image_key(tmp, dir, pkidir) ||
	    write_machines(c, tmp, dir, pkidir, o)) {
		rm_rf(tmp);
		goto out;
	}
	if (swap_into_place(tmp, dir)) {
		fprintf(stderr, "kiln: render: cannot move %s into place: %s\n", tmp, strerror(errno));
		rm_rf(tmp);
		goto out;
	}
	printf("kiln: %s: %zu masters, %zu nodes rendered into %s; pki: %d issued, %d reused\n", c->name, c->nmasters,
	       c->nnodes, outdir, p.issued, p.reused);
	rc = 0;
out:
	free(env);
	free(dns);
	free(kubelet);
	pki_close(&p);
	owners_free(o);
	return rc;
}
