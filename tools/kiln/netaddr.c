/* netaddr.c: IPv4 addresses, CIDR ranges, MACs and DNS names, strictly parsed; and the addresses kiln
 * derives from the ranges (service IP, cluster DNS, pod subnets). Pure: no I/O, no allocation. */
#include "kilntool.h"

#include <stdio.h>
#include <string.h>

/* Dotted quad, four decimal parts 0..255, no leading zeros (010 is octal to some tools), nothing else. */
int ip_parse(const char *s, uint32_t *ip)
{
	uint32_t v = 0;
	for (int part = 0; part < 4; part++) {
		unsigned n = 0;
		int digits = 0;
		if (part && *s++ != '.')
			return -1;
		if (s[0] == '0' && s[1] >= '0' && s[1] <= '9')
			return -1;
		while (*s >= '0' && *s <= '9' && digits < 4) {
			n = n * 10 + (unsigned)(*s++ - '0');
			digits++;
		}
		if (!digits || digits > 3 || n > 255)
			return -1;
		v = v << 8 | n;
	}
	if (*s)
		return -1;
	*ip = v;
	return 0;
}

void ip_format(uint32_t ip, char *buf, size_t len)
{
	snprintf(buf, len, "%u.%u.%u.%u", ip >> 24, ip >> 16 & 255, ip >> 8 & 255, ip & 255);
}

uint32_t cidr_mask(int prefix)
{
	return prefix <= 0 ? 0 : prefix >= 32 ? 0xffffffffu : ~(0xffffffffu >> prefix);
}

int cidr_parse(const char *s, struct cidr *c)
{
	char ip[16];
	const char *slash = strchr(s, '/');
	int prefix = 0, digits = 0;
	uint32_t addr;
	if (!slash || slash - s >= (long)sizeof ip)
		return -1;
	memcpy(ip, s, (size_t)(slash - s));
	ip[slash - s] = '\0';
	for (const char *p = slash + 1; *p; p++) {
		if (*p < '0' || *p > '9' || ++digits > 2)
			return -1;
		prefix = prefix * 10 + (*p - '0');
	}
	if (!digits || prefix > 32 || (digits == 2 && slash[1] == '0') || ip_parse(ip, &addr))
		return -1;
	c->prefix = prefix;
	c->net = addr & cidr_mask(prefix);
	return c->net == addr ? 0 : -2;
}

void cidr_format(const struct cidr *c, char *buf, size_t len)
{
	char ip[16];
	ip_format(c->net, ip, sizeof ip);
	snprintf(buf, len, "%s/%d", ip, c->prefix);
}

uint64_t cidr_size(const struct cidr *c)
{
	return (uint64_t)1 << (32 - c->prefix);
}

uint32_t cidr_last(const struct cidr *c)
{
	return c->net | ~cidr_mask(c->prefix);
}

int cidr_contains(const struct cidr *c, uint32_t ip)
{
	return (ip & cidr_mask(c->prefix)) == c->net;
}

int cidr_overlap(const struct cidr *a, const struct cidr *b)
{
	int p = a->prefix < b->prefix ? a->prefix : b->prefix;
	return (a->net & cidr_mask(p)) == (b->net & cidr_mask(p));
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Six colon-separated pairs of hex digits, as `ip link` prints them. */
int mac_parse(const char *s, uint8_t mac[6])
{
	if (strlen(s) != 17)
		return -1;
	for (int i = 0; i < 6; i++) {
		int hi = hexval(s[3 * i]), lo = hexval(s[3 * i + 1]);
		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			return -1;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

void mac_format(const uint8_t mac[6], char *buf, size_t len)
{
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

/* RFC 1123 label, lowercase as Kubernetes node names must be. */
int dns_label_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
	return 1;
}

int dns_name_valid(const char *s)
{
	char label[64];
	size_t n = strlen(s);
	if (n == 0 || n > 253)
		return 0;
	while (*s) {
		size_t l = strcspn(s, ".");
		if (l == 0 || l > 63)
			return 0;
		memcpy(label, s, l);
		label[l] = '\0';
		if (!dns_label_valid(label))
			return 0;
		s += l;
		if (*s == '.' && !*++s)
			return 0;
	}
	return 1;
}

uint32_t derive_service_ip(const struct cidr *services)
{
	return services->net + 1;
}

uint32_t derive_dns_ip(const struct cidr *services)
{
	return services->net + 10;
}

/* A /24 per node inside the pod range; the first /24 stays unused so node n has 10.200.<n>.0/24. */
long pod_subnet_capacity(const struct cidr *pods)
{
	return pods->prefix > 24 ? 0 : (long)(((uint64_t)1 << (24 - pods->prefix)) - 1);
}

int derive_pod_subnet(const struct cidr *pods, int n, struct cidr *out)
{
	if (n < 1 || n > pod_subnet_capacity(pods))
		return -1;
	out->net = pods->net + ((uint32_t)n << 8);
	out->prefix = 24;
	return 0;
}
