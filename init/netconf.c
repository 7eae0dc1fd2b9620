/* netconf.c: the kernel command line options init reads, and the identity's network file
 * (`address CIDR dev IF | mac MAC`, `route CIDR|default via IP`). Pure. */
#include "kiln.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void disable_parse(const char *v, char *out, size_t len);
static int trial_seconds(const char *v);
static int bounded_seconds(const char *v, int max);

void cmdline_parse(const char *s, struct cmdline *c)
{
	char buf[4096], *w[256];
	int n;
	memset(c, 0, sizeof *c);
	c->data_wait = DATA_WAIT_DEFAULT;
	snprintf(buf, sizeof buf, "%s", s);
	n = split_args(buf, w, 256);
	for (int i = 0; i < n; i++) {
		if (!strncmp(w[i], "kiln.root=", 10))
			snprintf(c->root, sizeof c->root, "%s", w[i] + 10);
		else if (!strncmp(w[i], "kiln.ip=", 8))
			snprintf(c->ip, sizeof c->ip, "%s", w[i] + 8);
		else if (!strcmp(w[i], "kiln.shell"))
			c->shell = 1;
		else if (!strcmp(w[i], "kiln.data_format_blank"))
			c->data_format_blank = 1;
		else if (!strncmp(w[i], "kiln.trial=", 11))
			c->trial = trial_seconds(w[i] + 11);
		else if (!strcmp(w[i], "kiln.data=disk"))
			c->data_disk = 1;
		else if (!strncmp(w[i], "kiln.data_wait=", 15))
			c->data_wait = bounded_seconds(w[i] + 15, 3600) ? bounded_seconds(w[i] + 15, 3600) : DATA_WAIT_DEFAULT;
		else if (!strncmp(w[i], "kiln.disable=", 13))
			disable_parse(w[i] + 13, c->disable, sizeof c->disable);
	}
}

/* kiln.trial=SECONDS: 1 to a day (kiln-upgrade writes a few hundred); digits only, so a value past the range of an
 * int cannot wrap to a short deadline. Anything else is not a trial. */
static int trial_seconds(const char *v)
{
	return bounded_seconds(v, 86400);
}

/* SECONDS from 1 to MAX, digits only (nothing past an int's range can wrap); 0 for anything else. */
static int bounded_seconds(const char *v, int max)
{
	long n = 0;
	if (!*v || strlen(v) > 6 || strspn(v, "0123456789") != strlen(v))
		return 0;
	n = strtol(v, NULL, 10);
	return n >= 1 && n <= max ? (int)n : 0;
}

/* kiln.disable=a,b: kept as ",a,b," so a lookup is one strstr. A list with anything but service-name characters,
 * or longer than the buffer, is ignored whole (a boot with every service is the safe reading of a bad line). */
static void disable_parse(const char *v, char *out, size_t len)
{
	size_t n = strlen(v);
	out[0] = '\0';
	if (!n || n + 3 > len || strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789-_.,") != n)
		return;
	snprintf(out, len, ",%s,", v);
}

int disable_list_has(const char *list, const char *service)
{
	char key[KILN_NAME_MAX + 2];
	if (!list[0] || !service[0])
		return 0;
	snprintf(key, sizeof key, ",%s,", service);
	return strstr(list, key) != NULL;
}

int parse_ipv4(const char *s, uint32_t *addr)
{
	struct in_addr a;
	if (inet_pton(AF_INET, s, &a) != 1)
		return -1;
	*addr = a.s_addr;
	return 0;
}

int parse_cidr(const char *s, uint32_t *addr, int *prefix)
{
	char buf[64], *slash, *end;
	long p;
	snprintf(buf, sizeof buf, "%s", s);
	if (!(slash = strchr(buf, '/')))
		return -1;
	*slash++ = '\0';
	p = strtol(slash, &end, 10);
	if (end == slash || *end || p < 0 || p > 32)
		return -1;
	*prefix = (int)p;
	return parse_ipv4(buf, addr);
}

/* kiln.ip=CIDR[,GATEWAY]: one address on the first ethernet interface (no dev, no MAC), maybe a default route. */
int netconf_from_ip(const char *ip, struct netconf *nc)
{
	char buf[64], *gw;
	memset(nc, 0, sizeof *nc);
	if (snprintf(buf, sizeof buf, "%s", ip) >= (int)sizeof buf)
		goto bad;
	if ((gw = strchr(buf, ',')))
		*gw++ = '\0';
	if (parse_cidr(buf, &nc->addrs[0].addr, &nc->addrs[0].prefix) || (gw && parse_ipv4(gw, &nc->routes[0].via)))
		goto bad;
	nc->naddrs = 1;
	nc->nroutes = gw ? 1 : 0;
	return 0;
bad:
	memset(nc, 0, sizeof *nc);
	errno = EINVAL;
	return -1;
}

static int valid_mac(const char *s)
{
	if (strlen(s) != 17)
		return 0;
	for (int i = 0; i < 17; i++)
		if (i % 3 == 2 ? s[i] != ':' : !isxdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

static int bad(char *err, size_t errlen, int line, const char *what)
{
	snprintf(err, errlen, "line %d: %s", line, what);
	errno = EINVAL;
	return -1;
}

int netconf_parse(const char *text, struct netconf *nc, char *err, size_t errlen)
{
	char *buf = strdup(text), *line, *next;
	int lineno = 0, rc = 0;
	memset(nc, 0, sizeof *nc);
	if (!buf)
		return -1;
	for (line = buf; line && !rc; line = next) {
		char *w[8], *hash;
		int n;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		if ((hash = strchr(line, '#')))
			*hash = '\0';
		n = split_args(line, w, 8);
		if (n <= 0)
			continue;
		if (!strcmp(w[0], "address")) {
			struct net_addr *a = &nc->addrs[nc->naddrs];
			if (nc->naddrs >= NET_MAX)
				rc = bad(err, errlen, lineno, "too many addresses");
			else if (n != 4 || parse_cidr(w[1], &a->addr, &a->prefix))
				rc = bad(err, errlen, lineno, "expected 'address CIDR dev IFNAME' or 'address CIDR mac MAC'");
			else if (!strcmp(w[2], "dev") && strlen(w[3]) < sizeof a->dev)
				strcpy(a->dev, w[3]), nc->naddrs++;
			else if (!strcmp(w[2], "mac") && valid_mac(w[3])) {
				for (int i = 0; i < 17; i++)
					a->mac[i] = (char)tolower((unsigned char)w[3][i]);
				nc->naddrs++;
			} else
				rc = bad(err, errlen, lineno, "address: bad device or MAC");
		} else if (!strcmp(w[0], "route")) {
			struct net_route *r = &nc->routes[nc->nroutes];
			if (nc->nroutes >= NET_MAX_ROUTES)
				rc = bad(err, errlen, lineno, "too many routes");
			else if (n != 4 || strcmp(w[2], "via") || parse_ipv4(w[3], &r->via))
				rc = bad(err, errlen, lineno, "expected 'route CIDR via IP' or 'route default via IP'");
			else if (!strcmp(w[1], "default"))
				r->dst = 0, r->prefix = 0, nc->nroutes++;
			else if (parse_cidr(w[1], &r->dst, &r->prefix))
				rc = bad(err, errlen, lineno, "route: bad destination");
			else
				nc->nroutes++;
		} else {
			rc = bad(err, errlen, lineno, "unknown keyword (address, route)");
		}
	}
	free(buf);
	return rc;
}
