/* net.c: loopback, static IPv4 addresses and routes from the identity's network file or kiln.ip,
 * through the classic ioctls (enough for static configuration, no netlink needed). */
#include "kiln.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static uint32_t mask_of(int prefix)
{
	return prefix ? htonl(0xffffffffu << (32 - prefix)) : 0;
}

static void sin_set(struct sockaddr *sa, uint32_t a)
{
	struct sockaddr_in *s = (struct sockaddr_in *)sa;
	memset(s, 0, sizeof *s);
	s->sin_family = AF_INET;
	s->sin_addr.s_addr = a;
}

static int if_up(int s, const char *dev)
{
	struct ifreq r;
	memset(&r, 0, sizeof r);
	snprintf(r.ifr_name, IFNAMSIZ, "%s", dev);
	if (ioctl(s, SIOCGIFFLAGS, &r))
		return -1;
	r.ifr_flags |= IFF_UP;
	return ioctl(s, SIOCSIFFLAGS, &r);
}

static int if_addr(int s, const char *dev, uint32_t addr, int prefix)
{
	struct ifreq r;
	memset(&r, 0, sizeof r);
	snprintf(r.ifr_name, IFNAMSIZ, "%s", dev);
	sin_set(&r.ifr_addr, addr);
	if (ioctl(s, SIOCSIFADDR, &r))
		return -1;
	sin_set(&r.ifr_netmask, mask_of(prefix));
	if (ioctl(s, SIOCSIFNETMASK, &r))
		return -1;
	return if_up(s, dev);
}

static int add_route(int s, uint32_t dst, int prefix, uint32_t via)
{
	struct rtentry rt;
	memset(&rt, 0, sizeof rt);
	sin_set(&rt.rt_dst, dst & mask_of(prefix));
	sin_set(&rt.rt_genmask, mask_of(prefix));
	sin_set(&rt.rt_gateway, via);
	rt.rt_flags = RTF_UP | RTF_GATEWAY;
	return ioctl(s, SIOCADDRT, &rt) && errno != EEXIST ? -1 : 0;
}

/* A real ethernet card (ARPHRD_ETHER with a device behind it), not a tunnel, bridge or dummy. */
static int is_ethernet(const char *dev)
{
	char path[300], *t;
	int ether;
	snprintf(path, sizeof path, "/sys/class/net/%s/type", dev);
	if (!(t = read_text(path, NULL)))
		return 0;
	ether = atoi(t) == 1;
	free(t);
	snprintf(path, sizeof path, "/sys/class/net/%s/device", dev);
	return ether && access(path, F_OK) == 0;
}

static int if_found(void *arg)
{
	struct poll_want *w = arg; /* key: the MAC, or NULL for the first ethernet interface by name */
	DIR *d = opendir("/sys/class/net");
	struct dirent *e;
	char best[IFNAMSIZ] = "";
	while (d && (e = readdir(d))) {
		char path[300], *a;
		if (e->d_name[0] == '.' || !strcmp(e->d_name, "lo"))
			continue;
		if (!w->key && !is_ethernet(e->d_name))
			continue;
		snprintf(path, sizeof path, "/sys/class/net/%s/address", e->d_name);
		if (!(a = read_text(path, NULL)))
			continue;
		if (w->key ? !strncasecmp(a, w->key, 17) : (!*best || strcmp(e->d_name, best) < 0))
			snprintf(best, sizeof best, "%s", e->d_name);
		free(a);
		if (w->key && *best)
			break;
	}
	if (d)
		closedir(d);
	if (*best)
		snprintf(w->out, w->outlen, "%s", best);
	return *best != 0;
}

/* The interface with MAC, or the first ethernet interface by name when MAC is NULL; waits for it. */
static int find_if(const char *mac, char *dev, size_t len, int wait_ms)
{
	struct poll_want w = {mac, dev, len};
	return poll_until(if_found, &w, wait_ms, 100) ? 0 : -1;
}

static int dev_present(void *path)
{
	return access(path, F_OK) == 0;
}

static int wait_dev(const char *dev, int wait_ms)
{
	char path[300];
	snprintf(path, sizeof path, "/sys/class/net/%s", dev);
	return poll_until(dev_present, path, wait_ms, 100) ? 0 : -1;
}

int net_setup(const struct cmdline *c)
{
	struct netconf nc;
	char err[200], dev[IFNAMSIZ];
	char *text = NULL;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), configured = 0;
	if (s < 0)
		return -1;
	if (if_up(s, "lo"))
		say("kiln: net: lo: %m");
	memset(&nc, 0, sizeof nc);
	if (c->ip[0]) {
		if (netconf_from_ip(c->ip, &nc))
			say("kiln: net: kiln.ip=%s is not ADDRESS/PREFIX[,GATEWAY]", c->ip);
	} else if ((text = read_text("/etc/kiln/identity/network", NULL))) {
		if (netconf_parse(text, &nc, err, sizeof err))
			say("kiln: net: /etc/kiln/identity/network: %s", err);
	}
	free(text);
	for (int i = 0; i < nc.naddrs; i++) {
		struct net_addr *a = &nc.addrs[i];
		char ip[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &a->addr, ip, sizeof ip);
		if (a->dev[0] ? wait_dev(a->dev, 5000) : find_if(a->mac[0] ? a->mac : NULL, dev, sizeof dev, 5000)) {
			say("kiln: net: no interface for %s/%d %s", ip, a->prefix, a->mac[0] ? a->mac : a->dev);
			continue;
		}
		if (a->dev[0])
			snprintf(dev, sizeof dev, "%s", a->dev);
		if (if_addr(s, dev, a->addr, a->prefix))
			say("kiln: net: %s %s/%d: %m", dev, ip, a->prefix);
		else
			configured++;
	}
	for (int i = 0; i < nc.nroutes; i++)
		if (add_route(s, nc.routes[i].dst, nc.routes[i].prefix, nc.routes[i].via)) {
			char ip[INET_ADDRSTRLEN];
			inet_ntop(AF_INET, &nc.routes[i].via, ip, sizeof ip);
			say("kiln: net: route via %s: %m", ip);
		}
	close(s);
	if (configured) {
		int fd;
		mkdir_p("/run/kiln", 0755);
		fd = open("/run/kiln/net-static", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (fd >= 0)
			close(fd);
	}
	return 0;
}
