/* modules.c: loads the kernel modules an image lists, each after its dependencies (modules.dep) and
 * its pre-softdeps; built-in modules are skipped. The image's drivers load only for a device that is there (a
 * device's modalias against the image's modules.alias). Resolution is pure; loading is finit_module(2). */
#include "kiln.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

/* The module name of a path: basename without .ko, with '-' as '_'. */
static void mod_name(const char *path, size_t len, char *out, size_t outlen)
{
	const char *b = path, *end = path + len;
	size_t n;
	for (const char *p = path; p < end; p++)
		if (*p == '/')
			b = p + 1;
	n = (size_t)(end - b);
	if (n > 3 && !strncmp(end - 3, ".ko", 3))
		n -= 3;
	if (n >= outlen)
		n = outlen - 1;
	for (size_t i = 0; i < n; i++)
		out[i] = b[i] == '-' ? '_' : b[i];
	out[n] = '\0';
}

/* Finds the line of TEXT whose first word (up to ':' or end of line) names module NAME. */
static const char *find_line(const char *text, const char *name, int with_colon)
{
	char m[128];
	for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		size_t n = strcspn(l, with_colon ? ":\n" : "\n");
		mod_name(l, n, m, sizeof m);
		if (!strcmp(m, name))
			return l;
	}
	return NULL;
}

static int listed(char **out, int nout, const char *path, size_t len)
{
	for (int i = 0; i < nout; i++)
		if (strlen(out[i]) == len && !strncmp(out[i], path, len))
			return 1;
	return 0;
}

/* How deep dependencies may nest, and the chain of modules being resolved: a module met again inside its own
 * chain (a softdep cycle, `softdep a pre: b` and `softdep b pre: a`) ends that branch instead of recursing
 * without bound; nesting deeper than any real kernel's is an error (ELOOP). */
#define DEPTH_MAX 32

static int resolve(const char *dep, const char *softdep, const char *builtin, const char *name_in, char **out,
		   int *nout, int max, const char **chain, int depth)
{
	char name[128], pre[1024];
	const char *line, *p;
	size_t plen;
	int added = 0;

	snprintf(name, sizeof name, "%s", name_in);
	for (char *c = name; *c; c++)
		if (*c == '-')
			*c = '_';
	if (!(line = find_line(dep, name, 1)))
		return builtin && find_line(builtin, name, 0) ? 0 : -1;
	plen = strcspn(line, ":\n");
	if (listed(out, *nout, line, plen))
		return 0;
	for (int i = 0; i < depth; i++)
		if (chain[i] == line)
			return 0; /* being resolved further up: it comes after what it needs anyway */
	if (depth >= DEPTH_MAX) {
		errno = ELOOP;
		return -1;
	}
	chain[depth] = line;
	/* Pre-softdeps first: `softdep NAME pre: a b`. */
	if (softdep) {
		char key[160];
		snprintf(key, sizeof key, "softdep %s pre:", name);
		for (p = softdep; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
			if (!strncmp(p, key, strlen(key))) {
				char *w[32];
				int n;
				size_t l = strcspn(p, "\n") - strlen(key);
				snprintf(pre, sizeof pre, "%.*s", (int)l, p + strlen(key));
				n = split_args(pre, w, 32);
				for (int i = 0; i < n; i++) {
					int r = resolve(dep, softdep, builtin, w[i], out, nout, max, chain, depth + 1);
					if (r > 0)
						added += r;
				}
			}
	}
	/* Each dependency has its own line in modules.dep: recursing on it orders them all. */
	for (p = line + plen + (line[plen] == ':'); *p && *p != '\n';) {
		char dn[128];
		size_t wl;
		while (*p == ' ')
			p++;
		wl = strcspn(p, " \n");
		if (!wl)
			break;
		mod_name(p, wl, dn, sizeof dn);
		{
			int r = resolve(dep, softdep, builtin, dn, out, nout, max, chain, depth + 1);
			if (r < 0)
				return -1;
			added += r;
		}
		p += wl;
	}
	if (*nout >= max) {
		errno = E2BIG;
		return -1;
	}
	if (!(out[*nout] = strndup(line, plen)))
		return -1;
	(*nout)++;
	return added + 1;
}

int modules_resolve(const char *dep, const char *softdep, const char *builtin, const char *name, char **out,
		    int *nout, int max)
{
	const char *chain[DEPTH_MAX];
	return resolve(dep, softdep, builtin, name, out, nout, max, chain, 0);
}

/* Whether module NAME is loaded already (a second pass after switch_root, a driver two devices want). */
static int loaded(const char *name)
{
	char p[200];
	snprintf(p, sizeof p, "/sys/module/%s/initstate", name);
	return access(p, F_OK) == 0;
}

/* Loads NAMES (N of them) with their dependencies and pre-softdeps; a module loaded already is skipped. With ASYNC,
 * each but the last one loaded gets the kernel's `async_probe`: its load returns without waiting for its devices'
 * probes and for the other async work (ata_piix's look at empty IDE ports: a quarter of a second under QEMU), which
 * every other load waits for at its end; the last one waits for all of it, so the devices are all there on return.
 * Says what failed; returns -1 if anything did. */
static int load_names(char **names, int n, int async)
{
	struct utsname u;
	char dir[300], path[600], *dep, *soft, *builtin, *todo[512];
	int ntodo = 0, failed = 0;
	size_t len;

	uname(&u);
	snprintf(dir, sizeof dir, "/lib/modules/%s", u.release);
	snprintf(path, sizeof path, "%s/modules.dep", dir);
	if (!(dep = read_text(path, &len))) {
		say("kiln: modules: %s: %m", path);
		return -1;
	}
	snprintf(path, sizeof path, "%s/modules.softdep", dir);
	soft = read_text(path, &len);
	snprintf(path, sizeof path, "%s/modules.builtin", dir);
	builtin = read_text(path, &len);
	for (int i = 0; i < n; i++)
		if (modules_resolve(dep, soft, builtin, names[i], todo, &ntodo, 512) < 0) {
			say("kiln: module %s: not in this kernel", names[i]);
			failed++;
		}
	for (int i = 0; i < ntodo; i++) {
		char name[128];
		mod_name(todo[i], strlen(todo[i]), name, sizeof name);
		if (loaded(name)) {
			free(todo[i]);
			todo[i] = NULL;
		}
	}
	for (int i = 0, last = ntodo - 1; i < ntodo; i++) {
		char name[128];
		int fd;
		while (last >= 0 && !todo[last])
			last--;
		if (!todo[i])
			continue;
		mod_name(todo[i], strlen(todo[i]), name, sizeof name);
		snprintf(path, sizeof path, "%s/%s", dir, todo[i]);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || (syscall(SYS_finit_module, fd, async && i < last ? "async_probe" : "", 0) && errno != EEXIST)) {
			/* ENODEV: hardware-specific variants (crc32c_intel on a CPU without SSE4.2) */
			if (errno != ENODEV) {
				say("kiln: module %s: %m", name);
				failed++;
			}
		}
		if (fd >= 0)
			close(fd);
		free(todo[i]);
	}
	free(dep);
	free(soft);
	free(builtin);
	return failed ? -1 : 0;
}

/* The names of a list file (one a line, `#` comments): up to MAX into W, pointing into TEXT. */
static int list_names(char *text, char **w, int max)
{
	int n = 0;
	for (char *l = strtok(text, "\n"); l && n < max; l = strtok(NULL, "\n")) {
		char *a[2];
		if (split_args(l, a, 2) >= 1 && a[0][0] != '#')
			w[n++] = a[0];
	}
	return n;
}

int modules_load_all(const char *list_path)
{
	char *list, *names[256];
	int n, r;
	if (!(list = read_text(list_path, NULL)))
		return 0; /* no modules to load */
	n = list_names(list, names, 256);
	r = load_names(names, n, 0);
	free(list);
	return r;
}

/* One line of modules.alias, "alias PATTERN MODULE", for one of the image's drivers. */
struct alias {
	const char *pat; /* a glob (glob_match), matched against the whole modalias as modprobe does */
	size_t bus;      /* the length of its "bus:" prefix, compared first */
	int drv;         /* its index in the drivers */
};

/* Reads a device's modalias into BUF; 0 if it has none. */
static int read_modalias(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, len - 1);
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return buf[0] != '\0';
}

int drivers_wanted(const char *sysfs, const char *alias_text, char **drivers, int ndrivers, unsigned char *want)
{
	struct alias *a = NULL;
	char *text = strdup(alias_text ? alias_text : ""), p[600], ma[512];
	int na = 0, cap = 0, marked = 0;
	DIR *buses;
	struct dirent *b;

	if (!text)
		return -1;
	/* Only the lines of drivers not wanted yet: each pattern is tried at most once per device. */
	for (char *l = strtok(text, "\n"); l; l = strtok(NULL, "\n")) {
		char *w[4];
		int d = -1;
		if (split_args(l, w, 4) != 3 || strcmp(w[0], "alias"))
			continue;
		for (int i = 0; i < ndrivers && d < 0; i++)
			if (!want[i] && !strcmp(drivers[i], w[2]))
				d = i;
		if (d < 0 || !strchr(w[1], ':'))
			continue;
		if (na == cap) {
			struct alias *n = realloc(a, (size_t)(cap = cap ? 2 * cap : 64) * sizeof *a);
			if (!n) {
				free(a);
				free(text);
				return -1;
			}
			a = n;
		}
		a[na++] = (struct alias){w[1], (size_t)(strchr(w[1], ':') - w[1]) + 1, d};
	}
	snprintf(p, sizeof p, "%s/bus", sysfs);
	buses = na ? opendir(p) : NULL;
	while (buses && (b = readdir(buses))) {
		DIR *devs;
		struct dirent *d;
		if (b->d_name[0] == '.')
			continue;
		snprintf(p, sizeof p, "%s/bus/%s/devices", sysfs, b->d_name);
		if (!(devs = opendir(p)))
			continue;
		while ((d = readdir(devs))) {
			if (d->d_name[0] == '.')
				continue;
			snprintf(p, sizeof p, "%s/bus/%s/devices/%s/modalias", sysfs, b->d_name, d->d_name);
			if (!read_modalias(p, ma, sizeof ma))
				continue;
			for (int i = 0; i < na; i++)
				if (!want[a[i].drv] && !strncmp(a[i].pat, ma, a[i].bus) && glob_match(a[i].pat, ma)) {
					want[a[i].drv] = 1;
					marked++;
				}
		}
		closedir(devs);
	}
	if (buses)
		closedir(buses);
	free(a);
	free(text);
	return marked;
}

/* Loads each driver of DRIVERS_PATH that a device under SYSFS wants, by the image's modules.alias, in rounds: a
 * driver's devices (virtio_pci's virtio devices, a disk controller's SCSI disks) may want another. A round's drivers
 * probe side by side (load_names' async), and the round ends when all their probes have. Says on one line what
 * loaded and what had no device. */
void modules_load_drivers(const char *sysfs, const char *drivers_path)
{
	struct utsname u;
	char path[300], *list, *alias, *names[64], *load[64], got[600] = "", none[600] = "";
	unsigned char want[64] = {0}, done[64] = {0};
	int n;

	if (!(list = read_text(drivers_path, NULL)))
		return; /* an image without drivers */
	uname(&u);
	snprintf(path, sizeof path, "/lib/modules/%s/modules.alias", u.release);
	alias = read_text(path, NULL);
	n = list_names(list, names, 64);
	for (int round = 0; round < 8 && drivers_wanted(sysfs, alias, names, n, want) > 0; round++) {
		int nl = 0;
		for (int i = 0; i < n; i++)
			if (want[i] && !done[i]) {
				load[nl++] = names[i];
				done[i] = 1;
			}
		load_names(load, nl, 1); /* says what failed */
	}
	for (int i = 0; i < n; i++) {
		char *s = want[i] ? got : none;
		size_t l = strlen(s);
		snprintf(s + l, sizeof got - l, "%s%s", l ? " " : "", names[i]);
	}
	say("kiln: drivers: %s%s%s%s", got[0] ? got : "none", none[0] ? " (no device for " : "", none, none[0] ? ")" : "");
	free(alias);
	free(list);
}

void modules_load_fs(void)
{
	static int done;
	if (done)
		return;
	done = 1;
	modules_load_all("/etc/kiln/fs-modules"); /* says what failed; the mount then says the rest */
}

/* Any entry but . and .. in DIR; with COLON, only an entry whose name has one (a bound device: "0000:00:04.0"). */
static int dir_has(const char *dir, int colon)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int found = 0;
	while (d && !found && (e = readdir(d)))
		found = e->d_name[0] != '.' && (!colon || strchr(e->d_name, ':'));
	if (d)
		closedir(d);
	return found;
}

/* Whether disks may still appear after every module's finit_module(2) has returned. Each module's init ends by
 * waiting for the kernel's async work (ATA port probes, SCSI scans, async driver probes such as sd's), and virtio's
 * disks are made during the probe: those disks are all there by then. NVMe finds its namespaces from a workqueue
 * after the probe, and USB and MMC enumerate from threads of their own: with an NVMe controller bound, or any USB or
 * MMC device, a disk may come later. SYSFS is /sys (a test's tree in the unit tests). */
int disks_may_come_later(const char *sysfs)
{
	char p[300];
	snprintf(p, sizeof p, "%s/bus/pci/drivers/nvme", sysfs);
	if (dir_has(p, 1))
		return 1;
	snprintf(p, sizeof p, "%s/bus/usb/devices", sysfs);
	if (dir_has(p, 0))
		return 1;
	snprintf(p, sizeof p, "%s/bus/mmc/devices", sysfs);
	return dir_has(p, 0);
}
