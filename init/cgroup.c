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

static void group_dir(const struct svc *s, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", base, s->d.name);
}

void cgroup_setup(int sandbox)
{
	const char *root = sandbox ? getenv("KILN_CGROUP") : "/sys/fs/cgroup";
	char path[300], *have, *save = NULL;
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
	/* kiln/ holds no process itself, so its children may have the controllers the root hands down */
	snprintf(path, sizeof path, "%s/cgroup.controllers", base);
	if ((have = read_text(path, NULL))) {
		for (char *c = strtok_r(have, " \n", &save); c; c = strtok_r(NULL, " \n", &save))
			if (!strcmp(c, "memory") || !strcmp(c, "pids") || !strcmp(c, "cpu")) {
				char plus[16];
				snprintf(plus, sizeof plus, "+%s", c);
				if (put(base, "cgroup.subtree_control", plus))
					say("kiln: cgroup: enabling %s for the services: %m", c);
			}
		free(have);
	}
}

/* Before a start: the group exists, with the service's limits ("max" where it sets none). */
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
	snprintf(v, sizeof v, s->d.memory_max ? "%lld" : "max", (long long)s->d.memory_max);
	if (put(dir, "memory.max", v) && s->d.memory_max) {
		snprintf(s->reason, sizeof s->reason, "memory_max: %s (no memory controller?)", strerror(errno));
		return -1;
	}
	snprintf(v, sizeof v, s->d.pids_max ? "%d" : "max", s->d.pids_max);
	if (put(dir, "pids.max", v) && s->d.pids_max) {
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
	for (char *p = procs; *p;) {
		long pid = strtol(p, &p, 10);
		if (pid > 1)
			kill((pid_t)pid, SIGKILL);
		while (*p == '\n')
			p++;
		if (*p && (*p < '0' || *p > '9'))
			break;
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
