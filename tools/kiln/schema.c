/* schema.c: the cluster file's schema: which keys exist at each level, their types, which are required,
 * and the syntax of each value (names, CIDRs, MACs, addresses). Relations between values are validate.c's. */
#include "kilntool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const top_keys[] = {"name", "domain", "kubernetes_version", "networks", "masters", "nodes",
				       "backup", "pki", "image", "time", NULL};
static const char *const net_keys[] = {"infrastructure", "gateway", "services", "pods", NULL};
static const char *const machine_keys[] = {"name", "mac", "address", NULL};
static const char *const backup_keys[] = {"interval", "keep", "copy_to", NULL};
static const char *const pki_keys[] = {"ca_days", "leaf_days", NULL};
static const char *const time_keys[] = {"servers", NULL};
static const char *const image_keys[] = {"console_shell", "boot_mib", "slot_mib", "data_mib", "data_format_blank",
					 "diskless_masters", "data_wait", NULL};

static const char *kind_name(const struct ynode *n)
{
	return n->kind == Y_MAP ? "a map" : n->kind == Y_SEQ ? "a list" : "a scalar";
}

static int is_null(const struct ynode *n)
{
	return n->kind == Y_SCALAR && n->plain &&
	       (!*n->value || !strcmp(n->value, "~") || !strcmp(n->value, "null"));
}

/* Check a map's keys: scalars, known, not repeated. Returns 0 when the map can be read. */
static int map_check(const struct ynode *map, const char *where, const char *const *allowed, struct diag *d)
{
	int rc = 0;
	for (size_t i = 0; i + 1 < map->nkids; i += 2) {
		const struct ynode *k = map->kids[i];
		int known = 0;
		if (k->kind != Y_SCALAR) {
			diag_error(d, k->line, "%s: a key must be a plain word, found %s", where, kind_name(k));
			rc = -1;
			continue;
		}
		for (const char *const *a = allowed; *a; a++)
			known |= !strcmp(*a, k->value);
		if (!known) {
			diag_error(d, k->line, "%s: unknown key '%s'", where, k->value);
			rc = -1;
		}
		for (size_t j = 0; j < i; j += 2)
			if (map->kids[j]->kind == Y_SCALAR && !strcmp(map->kids[j]->value, k->value)) {
				diag_error(d, k->line, "%s: duplicate key '%s' (first at line %d)", where, k->value,
					   map->kids[j]->line);
				rc = -1;
				break;
			}
	}
	return rc;
}

/* The value of KEY, or NULL when absent or null. */
static const struct ynode *map_get(const struct ynode *map, const char *key)
{
	for (size_t i = 0; i + 1 < map->nkids; i += 2)
		if (map->kids[i]->kind == Y_SCALAR && !strcmp(map->kids[i]->value, key))
			return is_null(map->kids[i + 1]) ? NULL : map->kids[i + 1];
	return NULL;
}

static int need_kind(const struct ynode *n, enum ynode_kind kind, const char *where, struct diag *d)
{
	if (n->kind == kind)
		return 0;
	diag_error(d, n->line, "%s: expected %s, found %s", where,
		   kind == Y_MAP ? "a map" : kind == Y_SEQ ? "a list" : "a single value", kind_name(n));
	return -1;
}

/* A string field: 1 found, 0 absent (missing reported when required), -1 wrong. */
static int get_str(const struct ynode *map, const char *key, const char *where, int required, char *out,
		   size_t len, int *line, struct diag *d)
{
	const struct ynode *v = map_get(map, key);
	char w[160];
	snprintf(w, sizeof w, "%s%s%s", where, *where ? "." : "", key);
	if (!v) {
		if (required)
			diag_error(d, map->line, "%s: missing required key '%s'", *where ? where : "cluster", key);
		return required ? -1 : 0;
	}
	if (line)
		*line = v->line;
	if (need_kind(v, Y_SCALAR, w, d))
		return -1;
	if (strlen(v->value) >= len) {
		diag_error(d, v->line, "%s: value too long", w);
		return -1;
	}
	strcpy(out, v->value);
	return 1;
}

static int get_long(const struct ynode *map, const char *key, const char *where, long min, long max, long *out,
		    struct diag *d)
{
	const struct ynode *v = map_get(map, key);
	char *end, w[96];
	long n;
	if (!v)
		return 0;
	snprintf(w, sizeof w, "%s.%s", where, key);
	if (need_kind(v, Y_SCALAR, w, d))
		return -1;
	errno = 0;
	n = strtol(v->value, &end, 10);
	if (!v->plain || !*v->value || *end || errno || v->value[0] == '+' || v->value[0] == ' ') {
		diag_error(d, v->line, "%s.%s: expected an integer, found '%s'", where, key, v->value);
		return -1;
	}
	if (n < min || n > max) {
		diag_error(d, v->line, "%s.%s: %ld is out of range (%ld to %ld)", where, key, n, min, max);
		return -1;
	}
	*out = n;
	return 1;
}

static int get_bool(const struct ynode *map, const char *key, const char *where, int *out, struct diag *d)
{
	const struct ynode *v = map_get(map, key);
	if (!v)
		return 0;
	if (v->kind == Y_SCALAR && v->plain && (!strcmp(v->value, "true") || !strcmp(v->value, "false"))) {
		*out = !strcmp(v->value, "true");
		return 1;
	}
	diag_error(d, v->line, "%s.%s: expected true or false, found %s%s%s", where, key,
		   v->kind == Y_SCALAR ? "'" : kind_name(v), v->kind == Y_SCALAR ? v->value : "",
		   v->kind == Y_SCALAR ? "'" : "");
	return -1;
}

static int get_cidr(const struct ynode *map, const char *key, struct cidr *c, int *line, struct diag *d)
{
	char s[64], w[32], net[24];
	int rc;
	snprintf(w, sizeof w, "networks.%s", key);
	if ((rc = get_str(map, key, "networks", 0, s, sizeof s, line, d)) <= 0)
		return rc;
	rc = cidr_parse(s, c);
	if (rc == -1) {
		diag_error(d, *line, "%s: invalid CIDR '%s' (expected a.b.c.d/prefix)", w, s);
		return -1;
	}
	if (rc == -2) {
		cidr_format(c, net, sizeof net);
		diag_error(d, *line, "%s: CIDR '%s' has host bits set (the network is %s)", w, s, net);
		return -1;
	}
	return 1;
}

static void read_networks(const struct ynode *n, struct cluster *c, struct diag *d)
{
	char s[64];
	int rc;
	c->nets_ok = NET_INFRA_OK | NET_SERVICES_OK | NET_PODS_OK;
	if (!n)
		return;
	if (need_kind(n, Y_MAP, "networks", d)) {
		c->nets_ok = 0;
		return;
	}
	map_check(n, "networks", net_keys, d);
	if (get_cidr(n, "infrastructure", &c->infra, &c->infra_line, d) < 0)
		c->nets_ok &= ~NET_INFRA_OK;
	if (get_cidr(n, "services", &c->services, &c->services_line, d) < 0)
		c->nets_ok &= ~NET_SERVICES_OK;
	if (get_cidr(n, "pods", &c->pods, &c->pods_line, d) < 0)
		c->nets_ok &= ~NET_PODS_OK;
	rc = get_str(n, "gateway", "networks", 0, s, sizeof s, &c->gateway_line, d);
	if (rc > 0 && ip_parse(s, &c->gateway))
		diag_error(d, c->gateway_line, "networks.gateway: invalid IPv4 address '%s'", s);
	else if (rc > 0)
		c->has_gateway = 1, c->nets_ok |= NET_GATEWAY_OK;
}

static void read_machine(const struct ynode *n, const char *list, size_t i, struct machine *m, struct diag *d)
{
	char w[64], s[64];
	snprintf(w, sizeof w, "%s[%zu]", list, i);
	m->line = n->line;
	if (need_kind(n, Y_MAP, w, d))
		return;
	map_check(n, w, machine_keys, d);
	if (get_str(n, "name", w, 1, m->name, sizeof m->name, &m->name_line, d) > 0) {
		if (dns_label_valid(m->name))
			m->ok |= M_NAME_OK;
		else
			diag_error(d, m->name_line, "%s.name: invalid machine name '%s' (a DNS label: lowercase "
				   "letters, digits and '-', at most 63, not starting or ending with '-')", w, m->name);
	}
	if (get_str(n, "mac", w, 1, s, sizeof s, &m->mac_line, d) > 0) {
		if (mac_parse(s, m->mac))
			diag_error(d, m->mac_line, "%s.mac: invalid MAC '%s' (expected six hex pairs, 52:54:00:12:34:56)",
				   w, s);
		else if (m->mac[0] & 1)
			diag_error(d, m->mac_line, "%s.mac: invalid MAC '%s': a multicast address", w, s);
		else
			m->ok |= M_MAC_OK;
	}
	if (get_str(n, "address", w, 1, s, sizeof s, &m->addr_line, d) > 0) {
		if (ip_parse(s, &m->addr))
			diag_error(d, m->addr_line, "%s.address: invalid IPv4 address '%s'", w, s);
		else
			m->ok |= M_ADDR_OK;
	}
}

static void read_machines(const struct ynode *n, const char *list, enum role role, struct cluster *c,
			  struct diag *d)
{
	struct machine *m;
	if (!n)
		return;
	if (need_kind(n, Y_SEQ, list, d)) {
		c->masters_bad |= role == ROLE_MASTER;
		return;
	}
	m = realloc(c->machines, (c->nmachines + n->nkids + 1) * sizeof *m);
	if (!m) {
		diag_error(d, n->line, "out of memory");
		return;
	}
	c->machines = m;
	for (size_t i = 0; i < n->nkids; i++) {
		struct machine *x = &c->machines[c->nmachines++];
		memset(x, 0, sizeof *x);
		x->role = role;
		x->index = (int)i;
		read_machine(n->kids[i], list, i, x, d);
	}
	if (role == ROLE_MASTER)
		c->nmasters = n->nkids;
	else
		c->nnodes = n->nkids;
}

/* An optional map of options: NULL when absent or not a map (reported); unknown keys reported. */
static const struct ynode *options(const struct ynode *root, const char *key, const char *const *keys,
				   struct diag *d)
{
	const struct ynode *n = map_get(root, key);
	if (!n || need_kind(n, Y_MAP, key, d))
		return NULL;
	map_check(n, key, keys, d);
	return n;
}

/* time.servers: a list of IPv4 addresses (the masters need no DNS to reach them), MAX_TIME_SERVERS at most. */
static void read_time_servers(const struct ynode *t, struct cluster *c, struct diag *d)
{
	const struct ynode *l = map_get(t, "servers");
	if (!l || need_kind(l, Y_SEQ, "time.servers", d))
		return;
	if (l->nkids > MAX_TIME_SERVERS) {
		diag_error(d, l->line, "time.servers: %zu servers, at most %d", l->nkids, MAX_TIME_SERVERS);
		return;
	}
	for (size_t i = 0; i < l->nkids; i++) {
		const struct ynode *v = l->kids[i];
		uint32_t ip;
		if (need_kind(v, Y_SCALAR, "time.servers", d))
			continue;
		if (ip_parse(v->value, &ip) || !ip || (ip >> 24) == 127 || (ip >> 28) >= 14) {
			diag_error(d, v->line, "time.servers: '%s' is not a unicast IPv4 address (names are not resolved)",
				   v->value);
			continue;
		}
		for (size_t j = 0; j < c->ntime_servers; j++)
			if (c->time_servers[j] == ip)
				diag_error(d, v->line, "time.servers: '%s' is listed twice", v->value);
		c->time_servers[c->ntime_servers++] = ip;
	}
}

static void read_options(const struct ynode *root, struct cluster *c, struct diag *d)
{
	const struct ynode *n;
	if ((n = options(root, "time", time_keys, d)))
		read_time_servers(n, c, d);
	if ((n = options(root, "backup", backup_keys, d))) {
		get_long(n, "interval", "backup", 60, 7L * 86400, &c->backup_interval, d);
		get_long(n, "keep", "backup", 1, 10000, &c->backup_keep, d);
		get_str(n, "copy_to", "backup", 0, c->backup_copy_to, sizeof c->backup_copy_to, &c->backup_copy_line, d);
	}
	if ((n = options(root, "pki", pki_keys, d))) {
		get_long(n, "ca_days", "pki", 1, 36500, &c->ca_days, d);
		get_long(n, "leaf_days", "pki", RENEW_DAYS + 1, 36500, &c->leaf_days, d);
	}
	if ((n = options(root, "image", image_keys, d))) {
		get_bool(n, "console_shell", "image", &c->console_shell, d);
		get_long(n, "boot_mib", "image", 16, 1 << 20, &c->boot_mib, d);
		get_long(n, "slot_mib", "image", 64, 1 << 20, &c->slot_mib, d);
		get_long(n, "data_mib", "image", 64, 1 << 24, &c->data_mib, d);
		get_bool(n, "data_format_blank", "image", &c->data_format_blank, d);
		get_bool(n, "diskless_masters", "image", &c->diskless_masters, d);
		get_long(n, "data_wait", "image", 1, 3600, &c->data_wait, d);
	}
}

static void defaults(struct cluster *c)
{
	strcpy(c->domain, "cluster.local");
	cidr_parse("192.168.0.0/24", &c->infra);
	cidr_parse("10.254.0.0/24", &c->services);
	cidr_parse("10.200.0.0/16", &c->pods);
	c->backup_interval = 3600;
	c->data_wait = 60;
	c->backup_keep = 24;
	strcpy(c->backup_copy_to, "next");
	c->ca_days = 3650;
	c->leaf_days = 365;
	c->console_shell = 0; /* a production machine has no shell on its console */
	c->boot_mib = 64;
	c->slot_mib = 512;
	c->data_mib = 1024;
}

static int version_valid(const char *v)
{
	int dots = 0;
	if (*v++ != 'v' || !(*v >= '0' && *v <= '9'))
		return 0;
	for (; *v && *v != '-' && *v != '+'; v++) {
		if (*v == '.' && v[-1] != '.' && v[1] >= '0' && v[1] <= '9')
			dots++;
		else if (!(*v >= '0' && *v <= '9'))
			return 0;
	}
	for (; *v; v++)
		if (!((*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z') || (*v >= '0' && *v <= '9') ||
		      strchr(".-+", *v)))
			return 0;
	return dots == 2;
}

int schema_read(const struct ynode *root, struct cluster *c, struct diag *d)
{
	int errors = d->errors;
	defaults(c);
	if (need_kind(root, Y_MAP, "cluster file", d))
		return -2;
	map_check(root, "cluster", top_keys, d); /* unknown keys reported; the known ones are still read */
	if (get_str(root, "name", "", 1, c->name, sizeof c->name, &c->name_line, d) > 0 && !dns_label_valid(c->name))
		diag_error(d, c->name_line, "name: invalid cluster name '%s' (a DNS label)", c->name);
	if (get_str(root, "domain", "", 0, c->domain, sizeof c->domain, &c->domain_line, d) > 0 &&
	    !dns_name_valid(c->domain))
		diag_error(d, c->domain_line, "domain: invalid DNS domain '%s'", c->domain);
	if (get_str(root, "kubernetes_version", "", 1, c->version, sizeof c->version, &c->version_line, d) > 0 &&
	    !version_valid(c->version))
		diag_error(d, c->version_line, "kubernetes_version: '%s' is not a release version like v1.30.0",
			   c->version);
	read_networks(map_get(root, "networks"), c, d);
	c->masters_line = c->nodes_line = root->line;
	for (size_t i = 0; i + 1 < root->nkids; i += 2) {
		const char *k = root->kids[i]->kind == Y_SCALAR ? root->kids[i]->value : "";
		if (!strcmp(k, "masters"))
			c->masters_line = root->kids[i]->line;
		else if (!strcmp(k, "nodes"))
			c->nodes_line = root->kids[i]->line;
	}
	read_machines(map_get(root, "masters"), "masters", ROLE_MASTER, c, d);
	read_machines(map_get(root, "nodes"), "nodes", ROLE_NODE, c, d);
	read_options(root, c, d);
	return d->errors > errors ? -1 : 0;
}
