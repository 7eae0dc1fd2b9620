/* cluster.c: a cluster file in, a validated cluster model with its derived values out: service IP, cluster
 * DNS, each node's pod subnet, etcd's initial cluster. */
#include "kilntool.h"

#include <stdlib.h>
#include <string.h>

void cluster_derive(struct cluster *c)
{
	int n = 0;
	c->service_ip = derive_service_ip(&c->services);
	c->dns_ip = derive_dns_ip(&c->services);
	for (size_t i = 0; i < c->nmachines; i++)
		if (c->machines[i].role == ROLE_NODE)
			derive_pod_subnet(&c->pods, ++n, &c->machines[i].pod_subnet);
}

int cluster_load(const char *text, size_t len, struct cluster *c, struct diag *d)
{
	struct ynode *root;
	memset(c, 0, sizeof *c);
	if (!(root = yaml_load(text, len, d)))
		return -1;
	if (schema_read(root, c, d) == -2) { /* not even a map: nothing to validate */
		ynode_free(root);
		return -1;
	}
	ynode_free(root);
	cluster_validate(c, d);
	if (d->errors)
		return -1;
	cluster_derive(c);
	return 0;
}

int cluster_load_file(const char *path, struct cluster *c, struct diag *d)
{
	size_t len;
	char *text = read_file(path, &len);
	int rc;
	memset(c, 0, sizeof *c);
	if (!text) {
		diag_error(d, 0, "cannot read: %m");
		return -1;
	}
	rc = cluster_load(text, len, c, d);
	free(text);
	return rc;
}

void cluster_free(struct cluster *c)
{
	free(c->machines);
	c->machines = NULL;
	c->nmachines = 0;
}

const struct machine *cluster_first_master(const struct cluster *c)
{
	return c->nmasters ? &c->machines[0] : NULL;
}

char *cluster_etcd_initial(const struct cluster *c)
{
	struct buf b = {0};
	char a[16];
	for (size_t i = 0; i < c->nmasters; i++) {
		ip_format(c->machines[i].addr, a, sizeof a);
		buf_printf(&b, "%s%s=https://%s:2380", i ? "," : "", c->machines[i].name, a);
	}
	return b.p ? b.p : strdup("");
}

char *cluster_etcd_servers(const struct cluster *c)
{
	struct buf b = {0};
	char a[16];
	for (size_t i = 0; i < c->nmasters; i++) {
		ip_format(c->machines[i].addr, a, sizeof a);
		buf_printf(&b, "%shttps://%s:2379", i ? "," : "", a);
	}
	return b.p ? b.p : strdup("");
}
