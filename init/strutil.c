/* strutil.c: command-line splitting, service environments (KEY=VALUE lists, env files) and ${VAR}
 * expansion. Pure: plain file reads only. */
#include "kiln.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Splits S in place on white space; "double" and 'single' quotes group words. Returns the count or -1. */
int split_args(char *s, char **argv, int max)
{
	int n = 0;
	char *r = s, *w = s;
	while (*r) {
		while (isspace((unsigned char)*r))
			r++;
		if (!*r)
			break;
		if (n >= max - 1) {
			errno = E2BIG;
			return -1;
		}
		argv[n++] = w;
		while (*r && !isspace((unsigned char)*r)) {
			if (*r == '"' || *r == '\'') {
				char q = *r++;
				while (*r && *r != q)
					*w++ = *r++;
				if (*r != q) {
					errno = EINVAL;
					return -1;
				}
				r++;
			} else {
				*w++ = *r++;
			}
		}
		if (*r)
			r++;
		*w++ = '\0';
	}
	argv[n] = NULL;
	return n;
}

/* One bracket expression at *PP against C: 1 or 0, with *PP past its ']'; -1 if it has no ']' (then a plain '['). */
static int class_match(const char **pp, char c)
{
	const char *p = *pp + 1;
	int neg = 0, hit = 0;
	if (*p == '!' || *p == '^') {
		neg = 1;
		p++;
	}
	if (*p == ']') { /* first, a ']' stands for itself */
		hit = c == ']';
		p++;
	}
	for (; *p && *p != ']'; p++) {
		if (p[1] == '-' && p[2] && p[2] != ']') {
			hit |= (unsigned char)c >= (unsigned char)p[0] && (unsigned char)c <= (unsigned char)p[2];
			p += 2;
		} else {
			hit |= *p == c;
		}
	}
	if (*p != ']')
		return -1;
	*pp = p + 1;
	return hit != neg;
}

/* Iterative, backtracking to the last '*' only: each other item matches exactly one character, so that is enough. */
int glob_match(const char *pat, const char *s)
{
	const char *star = NULL, *resume = NULL;
	while (*s) {
		const char *next = pat + 1;
		int adv;
		if (*pat == '*') {
			star = ++pat;
			resume = s;
			continue;
		}
		if (*pat == '?') {
			adv = 1;
		} else if (*pat == '[') {
			const char *p = pat;
			int m = class_match(&p, *s);
			adv = m >= 0 ? m : *s == '[';
			if (m >= 0)
				next = p;
		} else {
			adv = *pat && *pat == *s;
		}
		if (adv) {
			pat = next;
			s++;
			continue;
		}
		if (!star)
			return 0;
		pat = star;
		s = ++resume;
	}
	while (*pat == '*')
		pat++;
	return !*pat;
}

static size_t key_len(const char *kv)
{
	const char *eq = strchr(kv, '=');
	return eq ? (size_t)(eq - kv) : strlen(kv);
}

/* Sets KEY=VALUE, replacing an earlier value of KEY: a later line wins. */
int env_set(char ***env, int *n, const char *kv)
{
	size_t kl = key_len(kv);
	char *dup = strdup(kv), **e;
	if (!dup)
		return -1;
	for (int i = 0; i < *n; i++)
		if (key_len((*env)[i]) == kl && !strncmp((*env)[i], kv, kl)) {
			free((*env)[i]);
			(*env)[i] = dup;
			return 0;
		}
	e = realloc(*env, sizeof(char *) * (size_t)(*n + 2));
	if (!e) {
		free(dup);
		return -1;
	}
	*env = e;
	e[(*n)++] = dup;
	e[*n] = NULL;
	return 0;
}

const char *env_get(char **env, int n, const char *key)
{
	size_t kl = strlen(key);
	for (int i = 0; i < n; i++)
		if (key_len(env[i]) == kl && !strncmp(env[i], key, kl))
			return env[i] + kl + 1;
	return NULL;
}

/* KEY=VALUE lines; blank lines and '#' comments skipped; no quoting, no expansion. */
int env_load_file(char ***env, int *n, const char *path)
{
	size_t len;
	char *text = read_text(path, &len), *line, *next;
	if (!text)
		return -1;
	for (line = text; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		while (isspace((unsigned char)*line))
			line++;
		if (!*line || *line == '#' || !strchr(line, '=') || *line == '=')
			continue;
		if (env_set(env, n, line)) {
			free(text);
			return -1;
		}
	}
	free(text);
	return 0;
}

/* Expands ${VAR} from ENV (unknown variables expand to nothing). Returns a new string. */
char *expand_vars(const char *s, char **env, int n)
{
	size_t cap = strlen(s) + 1, len = 0;
	char *out = malloc(cap);
	if (!out)
		return NULL;
	while (*s) {
		const char *add = s;
		size_t alen = 1;
		if (s[0] == '$' && s[1] == '{') {
			const char *end = strchr(s + 2, '}');
			if (end) {
				char key[128];
				size_t kl = (size_t)(end - s - 2);
				if (kl < sizeof key) {
					memcpy(key, s + 2, kl);
					key[kl] = '\0';
					add = env_get(env, n, key);
					if (!add)
						add = "";
					alen = strlen(add);
					s = end + 1;
					goto append;
				}
			}
		}
		s++;
	append:
		if (len + alen + 1 > cap) {
			char *o;
			cap = (len + alen + 1) * 2;
			if (!(o = realloc(out, cap))) {
				free(out);
				return NULL;
			}
			out = o;
		}
		memcpy(out + len, add, alen);
		len += alen;
	}
	out[len] = '\0';
	return out;
}

void env_free(char **env, int n)
{
	for (int i = 0; i < n; i++)
		free(env[i]);
	free(env);
}

/* A line that says why a program is ending: "Error: ..." (Go's flag and command errors), "error: ...", a fatal
 * glog/klog line ("F1202 05:50:00.123456 ..."), or one naming itself fatal. */
int line_is_error(const char *s, size_t len)
{
	static const char *const starts[] = {"Error:", "error:", "ERROR:", "fatal", "Fatal", "FATAL"};
	for (size_t i = 0; i < sizeof starts / sizeof *starts; i++)
		if (len >= strlen(starts[i]) && !strncmp(s, starts[i], strlen(starts[i])))
			return 1;
	if (len >= 6 && s[0] == 'F' && isdigit((unsigned char)s[1]) && isdigit((unsigned char)s[2]) &&
	    isdigit((unsigned char)s[3]) && isdigit((unsigned char)s[4]) && s[5] == ' ')
		return 1;
	for (size_t i = 0; i + 6 <= len; i++)
		if (!memcmp(s + i, " fatal", 6) || (i + 11 <= len && !memcmp(s + i, "level=fatal", 11)))
			return 1;
	return 0;
}
