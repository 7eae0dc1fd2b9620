/* users.c: who a service runs as: uid, gid and home from /etc/passwd, supplementary groups from /etc/group.
 * A static musl init has no NSS, so both files are parsed here; the text parsers are pure. */
#include "kiln.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Splits one colon-separated line (NUL-terminated, modified in place) into at most MAX fields. */
static int fields(char *line, char **f, int max)
{
	int n = 0;
	for (char *p = line; n < max;) {
		f[n++] = p;
		if (!(p = strchr(p, ':')))
			break;
		*p++ = '\0';
	}
	return n;
}

/* A uid or gid: digits only (strtoul would take "-1" and " 7"), and below (uid_t)-1, which means "none"; a value
 * beyond 32 bits would otherwise wrap, 4294967296 to root. */
static int parse_id(const char *s, unsigned long *out)
{
	char *end;
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno || *end || *out >= 0xffffffffUL ? -1 : 0;
}

/* Calls FN on each line of TEXT split into fields, until FN returns non-zero (which is returned). */
static int each_line(const char *text, int max, int (*fn)(char **f, int n, void *arg), void *arg)
{
	char *copy = strdup(text), *line, *next;
	int rc = 0;
	if (!copy)
		return -1;
	for (line = copy; line && !rc; line = next) {
		char *f[8];
		if ((next = strchr(line, '\n')))
			*next++ = '\0';
		if (*line && *line != '#')
			rc = fn(f, fields(line, f, max), arg);
	}
	free(copy);
	return rc;
}

struct pw_query {
	const char *name;
	uid_t *uid;
	gid_t *gid;
	char *home;
	size_t homelen;
};

static int pw_match(char **f, int n, void *arg)
{
	struct pw_query *q = arg;
	unsigned long u, g;
	if (n < 6 || strcmp(f[0], q->name) || parse_id(f[2], &u) || parse_id(f[3], &g))
		return 0;
	*q->uid = (uid_t)u;
	*q->gid = (gid_t)g;
	if (q->home)
		snprintf(q->home, q->homelen, "%s", *f[5] ? f[5] : "/");
	return 1;
}

/* NAME's entry in passwd TEXT (name:pw:uid:gid:gecos:home:shell). 0 found, -1 not (errno ENOENT). */
int passwd_find(const char *text, const char *name, uid_t *uid, gid_t *gid, char *home, size_t homelen)
{
	struct pw_query q = {name, uid, gid, home, homelen};
	if (each_line(text, 7, pw_match, &q) == 1)
		return 0;
	errno = ENOENT;
	return -1;
}

struct gr_query {
	const char *name;
	gid_t *out;
	int n, max;
};

static int gr_match(char **f, int n, void *arg)
{
	struct gr_query *q = arg;
	unsigned long g;
	if (n < 3 || parse_id(f[2], &g) || strcmp(f[0], q->name))
		return 0;
	q->out[0] = (gid_t)g;
	return 1;
}

/* The gid of group NAME in group TEXT (name:pw:gid:members). */
int group_find(const char *text, const char *name, gid_t *gid)
{
	struct gr_query q = {name, gid, 0, 1};
	if (each_line(text, 4, gr_match, &q) == 1)
		return 0;
	errno = ENOENT;
	return -1;
}

static int gr_member(char **f, int n, void *arg)
{
	struct gr_query *q = arg;
	unsigned long g;
	if (n < 4 || parse_id(f[2], &g))
		return 0;
	for (char *m = f[3], *end; m && *m; m = end) {
		size_t len = strcspn(m, ",");
		end = m[len] ? m + len + 1 : NULL;
		if (len != strlen(q->name) || strncmp(m, q->name, len))
			continue;
		for (int i = 0; i < q->n; i++)
			if (q->out[i] == (gid_t)g)
				return 0;
		if (q->n >= q->max)
			return 1; /* full: stop looking */
		q->out[q->n++] = (gid_t)g;
		return 0;
	}
	return 0;
}

/* USER's groups from group TEXT: PRIMARY first, then every group that lists USER. Returns the count. */
int group_list(const char *text, const char *user, gid_t primary, gid_t *out, int max)
{
	struct gr_query q = {user, out, 0, max};
	if (max < 1)
		return 0;
	out[q.n++] = primary;
	if (text && each_line(text, 4, gr_member, &q) < 0)
		return -1;
	return q.n;
}

/* NAME from /etc/passwd, or a numeric UID[:GID] for users the image does not name. */
int lookup_user(const char *name, uid_t *uid, gid_t *gid, char *home, size_t homelen)
{
	unsigned long u, g;
	char num[KILN_NAME_MAX], *colon, *text;
	int rc;
	snprintf(num, sizeof num, "%s", name);
	if ((colon = strchr(num, ':')))
		*colon++ = '\0';
	if (parse_id(num, &u) == 0 && (!colon || parse_id(colon, &g) == 0)) {
		*uid = (uid_t)u;
		*gid = (gid_t)(colon ? g : u);
		if (home)
			snprintf(home, homelen, "/");
		return 0;
	}
	if (!(text = read_text("/etc/passwd", NULL)))
		return -1;
	rc = passwd_find(text, name, uid, gid, home, homelen);
	free(text);
	return rc;
}

int lookup_groups(const char *user, gid_t primary, gid_t *out, int max)
{
	char *text = read_text("/etc/group", NULL);
	int n = group_list(text, user, primary, out, max);
	free(text);
	return n;
}
