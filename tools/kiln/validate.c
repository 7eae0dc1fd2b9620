/* validate.c: what a cluster must satisfy beyond its schema: ranges that do not overlap and are big enough,
 * machines inside the infrastructure range and unique, enough pod subnets, an etcd quorum that makes sense. */
#include "kilntool.h"

#include <string.h>

static const char *range_name[3] = {"infrastructure", "services", "pods"};

static void check_ranges(struct cluster *c, struct diag *d)
{
	const struct cidr *r[3] = {&c->infra, &c->services, &c->pods};
	const int line[3] = {c->infra_line, c->services_line, c->pods_line};
	const int ok[3] = {NET_INFRA_OK, NET_SERVICES_OK, NET_PODS_OK};
	char a[24], b[24];

	for (int i = 0; i < 3; i++)
		for (int j = i + 1; j < 3; j++) {
			if (!(c->nets_ok & ok[i]) || !(c->nets_ok & ok[j]) || !cidr_overlap(r[i], r[j]))
				continue;
			cidr_format(r[i], a, sizeof a);
			cidr_format(r[j], b, sizeof b);
			diag_error(d, line[j] ? line[j] : line[i], "networks: the %s range %s overlaps the %s range %s",
				   range_name[j], b, range_name[i], a);
			c->nets_ok &= ~ok[j];
		}
	if ((c->nets_ok & NET_INFRA_OK) && c->infra.prefix > 30) {
		cidr_format(&c->infra, a, sizeof a);
		diag_error(d, c->infra_line, "networks.infrastructure: %s is too small for machines (at most a /30)", a);
		c->nets_ok &= ~NET_INFRA_OK;
	}
	/* The cluster DNS service is the .10 of the range, so the range needs at least 16 addresses. */
	if ((c->nets_ok & NET_SERVICES_OK) && c->services.prefix > 28) {
		cidr_format(&c->services, a, sizeof a);
		diag_error(d, c->services_line, "networks.services: the services range %s is too small for the "
			   "derived addresses (.1 kubernetes, .10 cluster DNS): at least a /28", a);
		c->nets_ok &= ~NET_SERVICES_OK;
	}
	if ((c->nets_ok & NET_GATEWAY_OK) && (c->nets_ok & NET_INFRA_OK)) {
		ip_format(c->gateway, a, sizeof a);
		cidr_format(&c->infra, b, sizeof b);
		if (!cidr_contains(&c->infra, c->gateway))
			diag_error(d, c->gateway_line, "networks.gateway: %s is outside the infrastructure range %s", a, b);
		else if (c->gateway == c->infra.net || c->gateway == cidr_last(&c->infra))
			diag_error(d, c->gateway_line, "networks.gateway: %s is the %s address of %s", a,
				   c->gateway == c->infra.net ? "network" : "broadcast", b);
	}
}

static void check_address(const struct cluster *c, const struct machine *m, struct diag *d)
{
	char a[16], r[24];
	ip_format(m->addr, a, sizeof a);
	if ((c->nets_ok & NET_SERVICES_OK) && cidr_contains(&c->services, m->addr)) {
		cidr_format(&c->services, r, sizeof r);
		diag_error(d, m->addr_line, "address %s of %s is inside the services range %s", a, m->name, r);
	} else if ((c->nets_ok & NET_PODS_OK) && cidr_contains(&c->pods, m->addr)) {
		cidr_format(&c->pods, r, sizeof r);
		diag_error(d, m->addr_line, "address %s of %s is inside the pods range %s", a, m->name, r);
	} else if (c->nets_ok & NET_INFRA_OK) {
		cidr_format(&c->infra, r, sizeof r);
		if (!cidr_contains(&c->infra, m->addr))
			diag_error(d, m->addr_line, "address %s of %s is outside the infrastructure range %s", a, m->name, r);
		else if (m->addr == c->infra.net || m->addr == cidr_last(&c->infra))
			diag_error(d, m->addr_line, "address %s of %s is the %s address of %s", a, m->name,
				   m->addr == c->infra.net ? "network" : "broadcast", r);
		else if ((c->nets_ok & NET_GATEWAY_OK) && m->addr == c->gateway)
			diag_error(d, m->addr_line, "address %s of %s is the gateway's", a, m->name);
	}
}

/* Duplicates: the later machine is reported, naming the earlier one and its line. O(n^2) is fine for a
 * few thousand machines. */
static void check_unique(const struct cluster *c, size_t i, struct diag *d)
{
	const struct machine *m = &c->machines[i];
	char s[24];
	for (size_t j = 0; j < i; j++) {
		const struct machine *o = &c->machines[j];
		if ((m->ok & o->ok & M_NAME_OK) && !strcmp(m->name, o->name))
			diag_error(d, m->name_line, "duplicate name '%s' (first at line %d)", m->name, o->name_line);
		if ((m->ok & o->ok & M_MAC_OK) && !memcmp(m->mac, o->mac, 6)) {
			mac_format(m->mac, s, sizeof s);
			diag_error(d, m->mac_line, "duplicate MAC %s of %s (also %s at line %d)", s, m->name, o->name,
				   o->mac_line);
		}
		if ((m->ok & o->ok & M_ADDR_OK) && m->addr == o->addr) {
			ip_format(m->addr, s, sizeof s);
			diag_error(d, m->addr_line, "duplicate address %s of %s (also %s at line %d)", s, m->name, o->name,
				   o->addr_line);
		}
	}
}

static void check_counts(const struct cluster *c, struct diag *d)
{
	char r[24];
	long cap;
	if (c->nmasters == 0) {
		if (!c->masters_bad)
			diag_error(d, c->masters_line, "no masters: a cluster needs at least one (etcd and the control plane)");
	} else if (c->nmasters % 2 == 0)
		diag_warn(d, c->masters_line, "an even number of masters (%zu): etcd then tolerates no more failures "
			  "than with %zu", c->nmasters, c->nmasters - 1);
	if (c->nets_ok & NET_PODS_OK) {
		cap = pod_subnet_capacity(&c->pods);
		cidr_format(&c->pods, r, sizeof r);
		if ((long)c->nnodes > cap)
			diag_error(d, c->nodes_line, "more nodes (%zu) than pod subnets: the pods range %s holds %ld "
				   "(a /24 per node, the first one unused)", c->nnodes, r, cap);
	}
}

static void check_backup(const struct cluster *c, struct diag *d)
{
	if (!strcmp(c->backup_copy_to, "next"))
		return;
	for (size_t i = 0; i < c->nmachines; i++)
		if (!strcmp(c->machines[i].name, c->backup_copy_to)) {
			if (c->machines[i].role != ROLE_MASTER)
				diag_error(d, c->backup_copy_line, "backup.copy_to: '%s' is a node, not a master",
					   c->backup_copy_to);
			else if (c->nmasters < 2)
				diag_error(d, c->backup_copy_line, "backup.copy_to: needs another master to copy to");
			return;
		}
	diag_error(d, c->backup_copy_line, "backup.copy_to: '%s' is neither 'next' nor a master's name",
		   c->backup_copy_to);
}

void cluster_validate(struct cluster *c, struct diag *d)
{
	check_ranges(c, d);
	for (size_t i = 0; i < c->nmachines; i++) {
		if (c->machines[i].ok & M_ADDR_OK)
			check_address(c, &c->machines[i], d);
		check_unique(c, i, d);
	}
	check_counts(c, d);
	check_backup(c, d);
}
