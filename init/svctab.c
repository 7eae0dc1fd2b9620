/* svctab.c: the table of services: loaded from the service folder (bad files reported and left out, start
 * order from deps.c, cycles and unknown requirements marked failed) and reported by initctl status. */
#include "svc.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_names(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* Parses every file of DIR; a bad one is reported (file:line: reason) and left out. Returns the count. */
static int load_defs(const char *dir, struct svc_def **out)
{
	struct dirent **ents;
	int n = scandir(dir, &ents, NULL, cmp_names), nd = 0;
	char err[512], path[512];
	struct svc_def *defs;
	if (n < 0) {
		say("kiln: services: %s: %m", dir);
		return 0;
	}
	defs = calloc((size_t)n + 1, sizeof *defs);
	for (int i = 0; i < n; i++) {
		char *text = NULL;
		snprintf(path, sizeof path, "%s/%s", dir, ents[i]->d_name);
		if (ents[i]->d_name[0] == '.' || !defs)
			; /* hidden files (editor leftovers, .keep) are not services */
		else if (!(text = read_text(path, NULL)))
			say("kiln: %s: %m", path);
		else if (svcdef_parse(ents[i]->d_name, text, &defs[nd], err, sizeof err))
			say("kiln: %s:%s", path, strncmp(err, "line ", 5) ? err : err + 5); /* file:N: why */
		else
			nd++;
		free(text);
		free(ents[i]);
	}
	free(ents);
	*out = defs;
	return nd;
}

void svc_load_all(const char *dir)
{
	struct svc_def *defs = NULL, **dp;
	int nd = load_defs(dir, &defs), *order, *bad, count;
	char err[1024];
	int64_t now = now_ms();

	dp = calloc((size_t)nd + 1, sizeof *dp);
	order = calloc((size_t)nd + 1, sizeof *order);
	bad = calloc((size_t)nd + 1, sizeof *bad);
	svcs = calloc((size_t)nd + 1, sizeof *svcs);
	if (!dp || !order || !bad || !svcs) {
		say("kiln: services: out of memory");
		nd = 0;
	}
	for (int i = 0; i < nd; i++)
		dp[i] = &defs[i];
	count = nd ? deps_order(dp, nd, order, bad, err, sizeof err) : 0;
	if (count < 0)
		count = 0;
	if (nd && *err)
		say("kiln: services: %s", err);
	/* svcs[] is in start order; the services that can never start follow, marked failed. */
	for (int i = 0; i < count; i++)
		svcs[nsvcs++].d = defs[order[i]];
	for (int i = 0; i < nd; i++)
		if (bad[i]) {
			struct svc *s = &svcs[nsvcs++];
			s->d = defs[i];
			s->state = ST_FAILED;
			snprintf(s->reason, sizeof s->reason, "%s", bad[i] == 1 ? "unknown requirement" : "dependency cycle");
		}
	for (int i = 0; i < nsvcs; i++) {
		struct svc *s = &svcs[i];
		s->log_r = s->log_w = s->notify_r = s->probe_fd = -1;
		s->ready_after = -1;
		s->log_slot = -1;
		if (s->state != ST_FAILED)
			s->state = svc_is_job(s) ? ST_SCHEDULED : ST_WAITING;
		if (svc_is_job(s))
			s->next_run = sched_first(now, svc_every(s));
	}
	free(defs);
	free(dp);
	free(order);
	free(bad);
}

static void status_last(const struct svc *s, int64_t now, char *out, size_t len)
{
	char run[64] = "never run", ok[48] = "", fail[200] = "";
	if (svc_is_job(s)) {
		if (s->job_runs)
			snprintf(run, sizeof run, "last run %llds ago: %s (%d)", (long long)((now - s->job_last_start) / 1000),
				 s->job_last_status ? "failed" : "ok", s->job_last_status);
		if (s->job_last_ok)
			snprintf(ok, sizeof ok, ", last ok %llds ago", (long long)((now - s->job_last_ok) / 1000));
		if (s->job_last_fail)
			snprintf(fail, sizeof fail, ", last failure %llds ago: %s", (long long)((now - s->job_last_fail) / 1000),
				 s->job_fail_reason);
		snprintf(out, len, "job every %ds, %d runs, %d failed, %s%s%s", svc_every((struct svc *)s), s->job_runs,
			 s->job_failures, run, ok, fail);
		if (s->state == ST_SCHEDULED && strlen(out) + 32 < len)
			snprintf(out + strlen(out), len - strlen(out), ", next in %llds",
				 (long long)((s->next_run - now + 999) / 1000));
	} else if (s->reason[0]) {
		snprintf(out, len, "%s", s->reason);
	} else if (s->restarts) {
		snprintf(out, len, "last exit %d", s->last_status);
	} else {
		snprintf(out, len, "-");
	}
}

/* Prometheus' text format. Service names are [A-Za-z0-9_.-] (svcfile.c), so they need no escaping as label values.
 * Times are ages and durations in seconds (the wall clock may be stepped; init counts on the monotonic one). */
void svc_metrics(char *out, size_t len)
{
	size_t n = 0;
	int64_t now = now_ms();
	long long cs, m, c;
	int r = svc_summary_get(&cs);
#define ADD(...) do { int w = snprintf(out + n, n < len ? len - n : 0, __VA_ARGS__); if (w > 0) n += (size_t)w; } while (0)
#define HELP(name, type, text) ADD("# HELP " name " " text "\n# TYPE " name " " type "\n")
	HELP("kiln_boot_ready", "gauge", "The boot summary: 1 every service ready, 0 degraded (absent before it is said).");
	HELP("kiln_boot_seconds", "gauge", "Seconds from the kernel's start to the boot summary.");
	if (r >= 0) {
		ADD("kiln_boot_ready %d\n", r);
		ADD("kiln_boot_seconds %lld.%02lld\n", cs / 100, cs % 100);
	}
	HELP("kiln_service_state", "gauge", "1 for the state each service is in.");
	for (int i = 0; i < nsvcs; i++)
		ADD("kiln_service_state{service=\"%s\",state=\"%s\"} 1\n", svcs[i].d.name, svc_state_name(svcs[i].state));
	HELP("kiln_service_restarts_total", "counter", "Restarts of each service since boot.");
	HELP("kiln_service_ready_seconds", "gauge", "Seconds from each running service's start to ready.");
	HELP("kiln_service_memory_bytes", "gauge", "Memory in use by each service's cgroup.");
	HELP("kiln_service_cpu_seconds_total", "counter", "CPU time of each service's cgroup, every run so far.");
	for (int i = 0; i < nsvcs; i++) {
		struct svc *s = &svcs[i];
		if (svc_is_job(s))
			continue;
		ADD("kiln_service_restarts_total{service=\"%s\"} %d\n", s->d.name, s->restarts);
		if (s->pid > 0 && s->ready_after >= 0)
			ADD("kiln_service_ready_seconds{service=\"%s\"} %lld.%03lld\n", s->d.name,
			    (long long)(s->ready_after / 1000), (long long)(s->ready_after % 1000));
		cgroup_usage(s, &m, &c);
		if (m >= 0)
			ADD("kiln_service_memory_bytes{service=\"%s\"} %lld\n", s->d.name, m);
		if (c >= 0)
			ADD("kiln_service_cpu_seconds_total{service=\"%s\"} %lld.%06lld\n", s->d.name, c / 1000000, c % 1000000);
	}
	HELP("kiln_service_log_lines_dropped_total", "counter",
	     "Lines of each service's output dropped because the log writer was not keeping up.");
	for (int i = 0; i < nsvcs; i++)
		if (svcs[i].log_slot >= 0)
			ADD("kiln_service_log_lines_dropped_total{service=\"%s\"} %lu\n", svcs[i].d.name,
			    logd_dropped(svcs[i].log_slot));
	HELP("kiln_job_runs_total", "counter", "Runs of each scheduled job since boot.");
	HELP("kiln_job_failures_total", "counter", "Failed runs of each scheduled job since boot.");
	HELP("kiln_job_last_success_age_seconds", "gauge", "Seconds since each job's last successful run (absent: none).");
	HELP("kiln_job_last_run_age_seconds", "gauge", "Seconds since each job's last run began (absent: none).");
	for (int i = 0; i < nsvcs; i++) {
		struct svc *s = &svcs[i];
		if (!svc_is_job(s))
			continue;
		ADD("kiln_job_runs_total{job=\"%s\"} %d\n", s->d.name, s->job_runs);
		ADD("kiln_job_failures_total{job=\"%s\"} %d\n", s->d.name, s->job_failures);
		if (s->job_last_ok)
			ADD("kiln_job_last_success_age_seconds{job=\"%s\"} %lld\n", s->d.name,
			    (long long)((now - s->job_last_ok) / 1000));
		if (s->job_runs)
			ADD("kiln_job_last_run_age_seconds{job=\"%s\"} %lld\n", s->d.name,
			    (long long)((now - s->job_last_start) / 1000));
	}
#undef HELP
#undef ADD
	if (n >= len && len)
		out[len - 1] = '\0';
}

void svc_status(char *out, size_t len, const char *only)
{
	size_t n = 0;
	int64_t now = now_ms();
#define ADD(...) do { int w = snprintf(out + n, n < len ? len - n : 0, __VA_ARGS__); if (w > 0) n += (size_t)w; } while (0)
	ADD("%-24s %-9s %7s %8s %8s %8s %8s  %s\n", "SERVICE", "STATE", "PID", "RESTARTS", "UPTIME", "MEMORY", "CPU", "LAST");
	for (int i = 0; i < nsvcs && n < len; i++) {
		struct svc *s = &svcs[i];
		char up[32] = "-", last[200], mem[24] = "-", cpu[24] = "-";
		long long m, c;
		if (only && strcmp(only, s->d.name))
			continue;
		if (s->pid > 0)
			snprintf(up, sizeof up, "%llds", (long long)((now - s->started) / 1000));
		/* from the service's cgroup: memory in use now, CPU time of every run so far */
		cgroup_usage(s, &m, &c);
		if (m >= 0)
			snprintf(mem, sizeof mem, "%lld.%lldM", m >> 20, ((m & 0xfffff) * 10) >> 20);
		if (c >= 0)
			snprintf(cpu, sizeof cpu, "%lld.%02llds", c / 1000000, c % 1000000 / 10000);
		status_last(s, now, last, sizeof last);
		if (logd_dropped(s->log_slot) && strlen(last) + 40 < sizeof last)
			snprintf(last + strlen(last), sizeof last - strlen(last), "; log: %lu lines dropped",
				 logd_dropped(s->log_slot));
		ADD("%-24s %-9s %7d %8d %8s %8s %8s  %s\n", s->d.name, svc_state_name(s->state), s->pid > 0 ? (int)s->pid : 0,
		    s->restarts, up, mem, cpu, last);
	}
#undef ADD
	if (n >= len && len)
		out[len - 1] = '\0';
}
