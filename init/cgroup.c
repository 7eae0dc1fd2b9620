/* cgroup.c: each service in a cgroup (v2) of its own, <root>/kiln/<name>: when its main process ends, whatever it
 * started that is still in the group is killed (a forked daemon, a shell's children), so a restart never runs beside
 * survivors; its memory and CPU time are read from the group for initctl status; its limits (memory_max, pids_max)
 * are set on it. <root> is /sys/fs/cgroup (early.c mounts cgroup2 there); a sandboxed init uses KILN_CGROUP only. */
#include "svc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char base[256]; /* <root>/kiln, or empty: services are not grouped */

static int put(const char *dir, const char *file, const char *text)
{
	char path[512];
	int fd, rc = -1;
	snprintf(path, sizeof path, "%s/%s", dir, file);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return -1;
	if (write(fd, text, strlen(text)) == (ssize_t)strlen(text))
		rc = 0;
	close(fd);
	return rc;
}

/* Every controller the kernel offers at DIR, made available to the cgroups below it. At the root: containerd, runc
 * and the kubelet (cgroupfs driver) create their groups there and need cpu, memory, pids, io... (the root cgroup
 * itself is exempt from the no-internal-processes rule, so init may stay in it). At kiln/, which holds no process
 * itself: the services' groups. */
void cgroup_delegate(const char *dir)
{
	char path[300], *have, *save = NULL, want[512];
	size_t n = 0;
	snprintf(path, sizeof path, "%s/cgroup.controllers", dir);
	if (!(have = read_text(path, NULL)))
		return;
	want[0] = '\0';
	for (char *c = strtok_r(have, " \n", &save); c && n + strlen(c) + 3 < sizeof want; c = strtok_r(NULL, " \n", &save))
		n += (size_t)snprintf(want + n, sizeof want - n, "%s+%s", n ? " " : "", c);
	if (n && put(dir, "cgroup.subtree_control", want))
		say("kiln: cgroup: enabling %s in %s: %m", want, dir);
	free(have);
}

static void group_dir(const struct svc *s, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", base, s->d.name);
}

void cgroup_setup(int sandbox)
{
	const char *root = sandbox ? getenv("KILN_CGROUP") : "/sys/fs/cgroup";
	char path[300];
	if (!root || !*root)
		return;
	snprintf(path, sizeof path, "%s/cgroup.procs", root);
	if (access(path, F_OK)) {
		say("kiln: cgroup: no cgroup2 at %s: services are not grouped (a service's leftovers outlive it)", root);
		return;
	}
	snprintf(base, sizeof base, "%s/kiln", root);
	if (mkdir(base, 0755) && errno != EEXIST) {
		say("kiln: cgroup: %s: %m: services are not grouped", base);
		base[0] = '\0';
		return;
	}
	cgroup_delegate(base);
}

/* Before a start: the group exists, with the service's limits (a group init made has none otherwise). */
int cgroup_prepare(struct svc *s)
{
	char dir[512], v[32];
	if (!base[0])
		return 0;
	group_dir(s, dir, sizeof dir);
	if (mkdir(dir, 0755) && errno != EEXIST) {
		snprintf(s->reason, sizeof s->reason, "cgroup %s: %s", dir, strerror(errno));
		return -1;
	}
	snprintf(v, sizeof v, "%lld", (long long)s->d.memory_max);
	if (s->d.memory_max && put(dir, "memory.max", v)) {
		snprintf(s->reason, sizeof s->reason, "memory_max: %s (no memory controller?)", strerror(errno));
		return -1;
	}
	snprintf(v, sizeof v, "%d", s->d.pids_max);
	if (s->d.pids_max && put(dir, "pids.max", v)) {
		snprintf(s->reason, sizeof s->reason, "pids_max: %s (no pids controller?)", strerror(errno));
		return -1;
	}
	return 0;
}

/* In the child, before it drops root: into its service's group. */
int cgroup_enter(const struct svc *s)
{
	char dir[512];
	if (!base[0])
		return 0;
	group_dir(s, dir, sizeof dir);
	return put(dir, "cgroup.procs", "0");
}

/* The main process has ended: everything left in its group is killed (init reaps them as orphans). A service with
 * kill = process keeps them (containerd's shims hold running containers across its restart). */
void cgroup_kill(const struct svc *s)
{
	char dir[512], path[600], *procs;
	if (!base[0] || s->d.kill_process)
		return;
	group_dir(s, dir, sizeof dir);
	if (put(dir, "cgroup.kill", "1") == 0)
		return;
	/* before Linux 5.14: each process the group lists (one pass: a fork racing it is caught at the next stop) */
	snprintf(path, sizeof path, "%s/cgroup.procs", dir);
	if (!(procs = read_text(path, NULL)))
		return;
	for (char *p = procs, *end;; p = end) {
		long pid = strtol(p, &end, 10);
		if (end == p)
			break;
		if (pid > 1)
			kill((pid_t)pid, SIGKILL);
	}
	free(procs);
}

/* Memory in use (bytes, -1 unknown) and CPU time used (microseconds, -1 unknown) by the service's group. */
void cgroup_usage(const struct svc *s, long long *mem, long long *cpu_us)
{
	char dir[512], path[600], *t, *u;
	*mem = *cpu_us = -1;
	if (!base[0])
		return;
	group_dir(s, dir, sizeof dir);
	snprintf(path, sizeof path, "%s/memory.current", dir);
	if ((t = read_text(path, NULL))) {
		*mem = strtoll(t, NULL, 10);
		free(t);
	}
	snprintf(path, sizeof path, "%s/cpu.stat", dir);
	if ((t = read_text(path, NULL))) {
		if ((u = strstr(t, "usage_usec ")))
			*cpu_us = strtoll(u + 11, NULL, 10);
		free(t);
	}
}
