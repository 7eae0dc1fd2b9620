/* svcfile.c: parses a service file (docs/CONTRACT.md, "Service file") into a struct svc_def.
 * Pure: no syscalls; errors name the line and the reason. */
#include "kiln.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t errlen, int line, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(err, errlen, "line %d: ", line);
	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < errlen)
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
	errno = EINVAL;
	return -1;
}

static char *trim(char *s)
{
	char *e;
	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int parse_int(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int signal_by_name(const char *s)
{
	static const struct { const char *n; int sig; } t[] = {
		{"TERM", SIGTERM}, {"INT", SIGINT}, {"HUP", SIGHUP}, {"QUIT", SIGQUIT},
		{"KILL", SIGKILL}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2},
	};
	if (!strncmp(s, "SIG", 3))
		s += 3;
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		if (!strcmp(s, t[i].n))
			return t[i].sig;
	return -1;
}

/* The capabilities a service may keep after init switches it to its user (capabilities(7) numbers): the few
 * kiln's services need, by the name capabilities(7) gives them without CAP_, lower case. */
int capability_by_name(const char *s)
{
	static const struct { const char *n; int cap; } t[] = {
		{"chown", 0}, {"dac_override", 1}, {"dac_read_search", 2}, {"kill", 5}, {"setgid", 6}, {"setuid", 7},
		{"net_bind_service", 10}, {"net_admin", 12}, {"net_raw", 13}, {"ipc_lock", 14},
		{"sys_chroot", 18}, {"sys_ptrace", 19}, {"sys_admin", 21}, {"sys_resource", 24}, {"sys_time", 25},
		{"syslog", 34},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		if (!strcmp(s, t[i].n))
			return t[i].cap;
	return -1;
}

/* Strips a comment: '#' at the start or after white space (values like URLs keep theirs). */
static void strip_comment(char *s)
{
	for (char *p = s; *p; p++)
		if (*p == '#' && (p == s || isspace((unsigned char)p[-1]))) {
			*p = '\0';
			return;
		}
}

static int add_str(char ***list, int *n, const char *s)
{
	char **l = realloc(*list, sizeof(char *) * (size_t)(*n + 1));
	if (!l)
		return -1;
	*list = l;
	if (!(l[*n] = strdup(s)))
		return -1;
	(*n)++;
	return 0;
}

static int set_ready(struct svc_def *d, char *v, char *err, size_t errlen, int line)
{
	char *arg = v;
	while (*arg && !isspace((unsigned char)*arg))
		arg++;
	if (*arg)
		*arg++ = '\0';
	arg = trim(arg);
	if (!strcmp(v, "none") || !strcmp(v, "sd_notify")) {
		d->ready = !strcmp(v, "none") ? READY_NONE : READY_SD_NOTIFY;
		return *arg ? fail(err, errlen, line, "ready %s takes no argument", v) : 0;
	}
	if (!*arg)
		return fail(err, errlen, line, "ready %s needs an argument", v);
	if (!strcmp(v, "tcp")) {
		char *colon = strrchr(arg, ':');
		long port;
		if (!colon || colon == arg || parse_int(colon + 1, 1, 65535, &port))
			return fail(err, errlen, line, "ready tcp wants HOST:PORT, not '%s'", arg);
		d->ready = READY_TCP;
	} else if (!strcmp(v, "unix")) {
		if (arg[0] != '/')
			return fail(err, errlen, line, "ready unix wants an absolute path");
		d->ready = READY_UNIX;
	} else if (!strcmp(v, "exec")) {
		d->ready = READY_EXEC;
	} else if (!strcmp(v, "notify")) {
		long fd;
		if (parse_int(arg, 3, 255, &fd))
			return fail(err, errlen, line, "ready notify wants a file descriptor from 3 to 255");
		d->ready = READY_NOTIFY;
	} else {
		return fail(err, errlen, line, "unknown readiness check '%s' (tcp, unix, exec, notify, sd_notify, none)", v);
	}
	free(d->ready_arg);
	d->ready_arg = strdup(arg);
	return d->ready_arg ? 0 : -1;
}

static int set_dir(struct svc_def *d, char *v, char *err, size_t errlen, int line)
{
	char *w[4];
	char tmp[512];
	struct dir_item *n;
	int k;
	snprintf(tmp, sizeof tmp, "%s", v);
	k = split_args(tmp, w, 4);
	if (k < 1 || k > 3 || w[0][0] != '/')
		return fail(err, errlen, line, "dir wants PATH [MODE [USER]] with an absolute path");
	n = realloc(d->dirs, sizeof *n * (size_t)(d->ndirs + 1));
	if (!n)
		return -1;
	d->dirs = n;
	n = &d->dirs[d->ndirs];
	memset(n, 0, sizeof *n);
	n->mode = 0755;
	if (k >= 2) {
		char *end;
		unsigned long m = strtoul(w[1], &end, 8);
		if (*end || m > 07777)
			return fail(err, errlen, line, "dir mode '%s' is not octal", w[1]);
		n->mode = (mode_t)m;
	}
	if (k == 3)
		snprintf(n->user, sizeof n->user, "%s", w[2]);
	if (!(n->path = strdup(w[0])))
		return -1;
	d->ndirs++;
	return 0;
}

static int add_env(struct svc_def *d, const char *v, int is_file)
{
	struct env_item *e = realloc(d->env, sizeof *e * (size_t)(d->nenv + 1));
	if (!e)
		return -1;
	d->env = e;
	e = &d->env[d->nenv];
	e->is_file = is_file;
	e->optional = is_file && v[0] == '-';
	if (!(e->text = strdup(e->optional ? v + 1 : v)))
		return -1;
	d->nenv++;
	return 0;
}

/* The keys whose value is a number in a range, stored in an int field (a long for log_size). */
static const struct num_key {
	const char *key;
	long lo, hi;
	size_t off;
	int is_long;
	const char *what; /* the error: KEY 'VALUE' is not WHAT */
} num_keys[] = {
	{"ready_timeout", 1, 3600, offsetof(struct svc_def, ready_timeout), 0, "a number of seconds (1-3600)"},
	{"timeout", 1, 86400, offsetof(struct svc_def, timeout), 0, "a number of seconds"},
	{"stop_timeout", 1, 3600, offsetof(struct svc_def, stop_timeout), 0, "a number of seconds"},
	{"pids_max", 1, 4194304, offsetof(struct svc_def, pids_max), 0, "a count from 1 to 4194304"},
	{"log_size", 1024, 1L << 30, offsetof(struct svc_def, log_size), 1, "a size in bytes (1024 or more)"},
	{"log_keep", 1, 100, offsetof(struct svc_def, log_keep), 0, "a count from 1 to 100"},
};

/* The keys whose value is one of a few words, each standing for a value of an int (or int-sized enum) field. */
_Static_assert(sizeof(enum svc_type) == sizeof(int) && sizeof(enum restart_policy) == sizeof(int), "int-sized enums");
static const struct word_key {
	const char *key;
	size_t off;
	const char *words[3];
	int values[3];
	const char *what; /* the error: KEY 'VALUE'WHAT */
} word_keys[] = {
	{"type", offsetof(struct svc_def, type), {"longrun", "oneshot"}, {TYPE_LONGRUN, TYPE_ONESHOT},
	 " is neither longrun nor oneshot"},
	{"restart", offsetof(struct svc_def, restart), {"always", "on-failure", "never"},
	 {RESTART_ALWAYS, RESTART_ON_FAILURE, RESTART_NEVER}, " is not always, on-failure or never"},
	{"kill", offsetof(struct svc_def, kill_process), {"group", "process"}, {0, 1}, " is neither group nor process"},
	{"data", offsetof(struct svc_def, data_required), {"required"}, {1}, ": the only value is required"},
};

static int set_command(struct svc_def *d, char *v, char *err, size_t errlen, int line)
{
	(void)err, (void)errlen, (void)line;
	free(d->command);
	return (d->command = strdup(v)) ? 0 : -1;
}

static int set_tty(struct svc_def *d, char *v, char *err, size_t errlen, int line)
{
	(void)err, (void)errlen, (void)line;
	free(d->tty);
	return (d->tty = strdup(v)) ? 0 : -1;
}

static int set_user(struct svc_def *d, char *v, char *err, size_t errlen, int line)
{
	if (strlen(v) >= sizeof d->user)
		return fail(err, errlen, line, "user name too long");
	strcpy(d->user, v);
	return 0;
}

static int set_requires(struct svc_def *d, char *v, char *err, size_t errlen, int line)
{
	char *w[64];
	int c = split_args(v, w, 64);
	if (c < 0)
		return fail(err, errlen, line, "too many requirements");
	for (int i = 0; i < c; i++)
		if (add_str(&d->requires, &d->nrequires, w[i]))
			return -1;
	return 0;
}

/* every = N, or ${NAME:-N}: a per-machine interval from an env file (e.g. the cluster's backup policy) */
static int set_every(struct svc_def *d, char *v, char *err, size_t errlen, int line)
{
	const char *num = v;
	char dflt_num[16];
	long n;
	if (!strncmp(v, "${", 2)) {
		const char *dflt = strstr(v, ":-"), *end = strchr(v, '}');
		size_t len = dflt ? (size_t)(dflt - v - 2) : 0;
		if (!dflt || !end || end < dflt || end[1] || len < 1 || len >= sizeof d->every_var)
			return fail(err, errlen, line, "every '%s' is not N or ${NAME:-N}", v);
		memcpy(d->every_var, v + 2, len);
		d->every_var[len] = '\0';
		snprintf(dflt_num, sizeof dflt_num, "%.*s", (int)(end - dflt - 2), dflt + 2);
		num = dflt_num;
	}
	if (parse_int(num, 1, 86400 * 366, &n))
		return fail(err, errlen, line, "every '%s' is not a number of seconds", v);
	d->every = (int)n;
	return 0;
}

static int set_stop_signal(struct svc_def *d, char *v, char *err, size_t errlen, int line)
{
	if ((d->stop_signal = signal_by_name(v)) < 0)
		return fail(err, errlen, line, "unknown signal '%s'", v);
	return 0;
}

static int set_env(struct svc_def *d, char *v, char *err, size_t errlen, int line)
{
	char *eq = strchr(v, '=');
	if (!eq || eq == v)
		return fail(err, errlen, line, "env wants KEY=VALUE");
	return add_env(d, v, 0);
}

static int set_envfile(struct svc_def *d, char *v, char *err, size_t errlen, int line)
{
	if (v[v[0] == '-'] != '/')
		return fail(err, errlen, line, "envfile wants an absolute path");
	return add_env(d, v, 1);
}

static int set_condition(struct svc_def *d, char *v, char *err, size_t errlen, int line)
{
	char *p = strchr(v, ' ');
	if (!p)
		return fail(err, errlen, line, "condition wants 'exists PATH' or 'missing PATH'");
	*p++ = '\0';
	p = trim(p);
	if (d->nconds == KILN_CONDS_MAX)
		return fail(err, errlen, line, "more than %d conditions", KILN_CONDS_MAX);
	if (!strcmp(v, "exists"))
		d->cond[d->nconds] = COND_EXISTS;
	else if (!strcmp(v, "missing"))
		d->cond[d->nconds] = COND_MISSING;
	else
		return fail(err, errlen, line, "condition '%s' is neither exists nor missing", v);
	return (d->cond_path[d->nconds++] = strdup(p)) ? 0 : -1;
}

static int set_capabilities(struct svc_def *d, char *v, char *err, size_t errlen, int line)
{
	char *w[16];
	int c = split_args(v, w, 16), cap;
	if (c < 1)
		return fail(err, errlen, line, "capabilities: a list of at most 16 names");
	for (int i = 0; i < c; i++) {
		if ((cap = capability_by_name(w[i])) < 0)
			return fail(err, errlen, line, "unknown capability '%s'", w[i]);
		d->caps |= 1ULL << cap;
	}
	return 0;
}

static int set_memory_max(struct svc_def *d, char *v, char *err, size_t errlen, int line)
{
	char *end;
	int shift = 0;
	long long m;
	errno = 0;
	m = strtoll(v, &end, 10);
	if (end != v && *end && strchr("KMG", *end) && !end[1])
		shift = *end == 'K' ? 10 : *end == 'M' ? 20 : 30, end++;
	if (errno || end == v || *end || m < 0 || m > (1LL << 40) >> shift || m << shift < (1LL << 20))
		return fail(err, errlen, line, "memory_max '%s' is not a size from 1M to 1024G (bytes, or K, M, G)", v);
	d->memory_max = m << shift;
	return 0;
}

/* The keys with a parser of their own. */
static const struct fn_key {
	const char *key;
	int (*set)(struct svc_def *d, char *v, char *err, size_t errlen, int line);
} fn_keys[] = {
	{"command", set_command}, {"user", set_user}, {"requires", set_requires}, {"ready", set_ready},
	{"every", set_every}, {"stop_signal", set_stop_signal}, {"env", set_env}, {"envfile", set_envfile},
	{"dir", set_dir}, {"condition", set_condition}, {"capabilities", set_capabilities},
	{"memory_max", set_memory_max}, {"tty", set_tty},
};

static int set_key(struct svc_def *d, const char *k, char *v, char *err, size_t errlen, int line)
{
	char *base = (char *)d;
	if (!*v)
		return fail(err, errlen, line, "%s has no value", k);
	for (size_t i = 0; i < sizeof fn_keys / sizeof *fn_keys; i++)
		if (!strcmp(k, fn_keys[i].key))
			return fn_keys[i].set(d, v, err, errlen, line);
	for (size_t i = 0; i < sizeof num_keys / sizeof *num_keys; i++) {
		const struct num_key *nk = &num_keys[i];
		long n;
		if (strcmp(k, nk->key))
			continue;
		if (parse_int(v, nk->lo, nk->hi, &n))
			return fail(err, errlen, line, "%s '%s' is not %s", k, v, nk->what);
		if (nk->is_long)
			*(long *)(base + nk->off) = n;
		else
			*(int *)(base + nk->off) = (int)n;
		return 0;
	}
	for (size_t i = 0; i < sizeof word_keys / sizeof *word_keys; i++) {
		const struct word_key *wk = &word_keys[i];
		if (strcmp(k, wk->key))
			continue;
		for (size_t w = 0; w < 3 && wk->words[w]; w++)
			if (!strcmp(v, wk->words[w])) {
				*(int *)(base + wk->off) = wk->values[w];
				return 0;
			}
		return fail(err, errlen, line, "%s '%s'%s", k, v, wk->what);
	}
	return fail(err, errlen, line, "unknown key '%s'", k);
}

static int valid_name(const char *s)
{
	if (!*s || strlen(s) >= KILN_NAME_MAX)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
			return 0;
	return 1;
}

int svcdef_parse(const char *name, const char *text, struct svc_def *d, char *err, size_t errlen)
{
	char *buf, *line, *next, *joined = NULL;
	int lineno = 0, start = 0, rc = 0;

	memset(d, 0, sizeof *d);
	d->ready_timeout = 60;
	d->stop_signal = SIGTERM;
	d->stop_timeout = 10;
	d->log_size = 1048576;
	d->log_keep = 3;
	if (!valid_name(name))
		return fail(err, errlen, 0, "invalid service name '%s'", name);
	strcpy(d->name, name);
	if (!(buf = strdup(text)))
		return -1;
	for (line = buf; line && rc == 0; line = next) {
		size_t len;
		char *l, *eq;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		/* Continuation lines: a trailing backslash joins the next line. */
		len = strlen(line);
		if (!joined)
			start = lineno;
		{
			size_t jl = joined ? strlen(joined) : 0;
			char *j = realloc(joined, jl + len + 2);
			if (!j) {
				rc = -1;
				break;
			}
			if (!joined)
				j[0] = '\0';
			joined = j;
			strcat(joined, line);
		}
		len = strlen(joined);
		if (len && joined[len - 1] == '\\') {
			joined[len - 1] = ' ';
			if (next)
				continue;
		}
		strip_comment(joined);
		l = trim(joined);
		if (*l) {
			eq = strchr(l, '=');
			if (!eq) {
				rc = fail(err, errlen, start, "expected 'key = value'");
			} else {
				*eq = '\0';
				rc = set_key(d, trim(l), trim(eq + 1), err, errlen, start);
			}
		}
		free(joined);
		joined = NULL;
	}
	free(joined);
	free(buf);
	if (rc == 0 && !d->command)
		rc = fail(err, errlen, lineno, "no command");
	if (rc == 0 && d->caps && !d->user[0])
		rc = fail(err, errlen, lineno, "capabilities without a user: a service run as root has them all");
	if (rc == 0 && d->every && d->type != TYPE_ONESHOT)
		d->type = TYPE_ONESHOT; /* a scheduled job runs to completion each time */
	if (rc)
		svcdef_free(d);
	return rc;
}

void svcdef_free(struct svc_def *d)
{
	free(d->command);
	for (int i = 0; i < d->nrequires; i++)
		free(d->requires[i]);
	free(d->requires);
	free(d->ready_arg);
	for (int i = 0; i < d->nenv; i++)
		free(d->env[i].text);
	free(d->env);
	for (int i = 0; i < d->ndirs; i++)
		free(d->dirs[i].path);
	free(d->dirs);
	for (int i = 0; i < d->nconds; i++)
		free(d->cond_path[i]);
	free(d->tty);
	memset(d, 0, sizeof *d);
}
