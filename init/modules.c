/* modules.c: loads the kernel modules an image lists, each after its dependencies (modules.dep) and
 * its pre-softdeps; built-in modules are skipped. Resolution is pure; loading is finit_module(2). */
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

int modules_load_all(const char *list_path)
{
	struct utsname u;
	char dir[300], path[600], *dep, *soft, *builtin, *list, *todo[512];
	int ntodo = 0, failed = 0;
	size_t len;

	if (!(list = read_text(list_path, &len)))
		return 0; /* no modules to load */
	uname(&u);
	snprintf(dir, sizeof dir, "/lib/modules/%s", u.release);
	snprintf(path, sizeof path, "%s/modules.dep", dir);
	if (!(dep = read_text(path, &len))) {
		say("kiln: modules: %s: %m", path);
		free(list);
		return -1;
	}
	snprintf(path, sizeof path, "%s/modules.softdep", dir);
	soft = read_text(path, &len);
	snprintf(path, sizeof path, "%s/modules.builtin", dir);
	builtin = read_text(path, &len);
	for (char *l = strtok(list, "\n"); l; l = strtok(NULL, "\n")) {
		char *w[2];
		if (split_args(l, w, 2) < 1 || w[0][0] == '#')
			continue;
		if (modules_resolve(dep, soft, builtin, w[0], todo, &ntodo, 512) < 0) {
			say("kiln: module %s: not in this kernel", w[0]);
			failed++;
		}
	}
	for (int i = 0; i < ntodo; i++) {
		int fd;
		snprintf(path, sizeof path, "%s/%s", dir, todo[i]);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || (syscall(SYS_finit_module, fd, "", 0) && errno != EEXIST)) {
			/* ENODEV: hardware-specific variants (crc32c_intel on a CPU without SSE4.2) */
			if (errno != ENODEV) {
				char name[128];
				int e = errno;
				mod_name(todo[i], strlen(todo[i]), name, sizeof name);
				errno = e;
				say("kiln: module %s: %m", name);
				failed++;
			}
		}
		if (fd >= 0)
			close(fd);
		free(todo[i]);
	}
	free(list);
	free(dep);
	free(soft);
	free(builtin);
	return failed ? -1 : 0;
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
