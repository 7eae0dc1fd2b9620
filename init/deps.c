/* deps.c: the order services start in (requirements first) and the ones that can never start:
 * unknown requirements and dependency cycles, reported by name. Pure. */
#include "kiln.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int deps_find(struct svc_def **defs, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(defs[i]->name, name))
			return i;
	return -1;
}

static void append(char *err, size_t errlen, const char *fmt, const char *a, const char *b)
{
	size_t l = strlen(err);
	if (l < errlen)
		snprintf(err + l, errlen - l, fmt, a, b);
}

/* Walks requirement edges from START among the unordered services to name one cycle in ERR. */
static void name_cycle(struct svc_def **defs, int n, const int *left, int start, char *err, size_t errlen)
{
	int *seen = calloc((size_t)n, sizeof(int)), cur = start, step = 1;
	if (!seen)
		return;
	while (!seen[cur]) {
		int nx = -1;
		seen[cur] = step++;
		for (int r = 0; r < defs[cur]->nrequires && nx < 0; r++) {
			int j = deps_find(defs, n, defs[cur]->requires[r]);
			if (j >= 0 && left[j])
				nx = j;
		}
		if (nx < 0)
			break;
		cur = nx;
	}
	if (seen[cur]) {
		int first = cur;
		append(err, errlen, "%scycle: %s", *err ? "; " : "", defs[first]->name);
		do {
			int nx = -1;
			for (int r = 0; r < defs[cur]->nrequires && nx < 0; r++) {
				int j = deps_find(defs, n, defs[cur]->requires[r]);
				if (j >= 0 && left[j] && seen[j])
					nx = j;
			}
			if (nx < 0)
				break;
			cur = nx;
			append(err, errlen, "%s%s", " -> ", defs[cur]->name);
		} while (cur != first);
	}
	free(seen);
}

int deps_order(struct svc_def **defs, int n, int *order, int *bad, char *err, size_t errlen)
{
	int *left = calloc((size_t)n + 1, sizeof(int)), count = 0, progress = 1;
	if (!left)
		return -1;
	if (errlen)
		err[0] = '\0';
	for (int i = 0; i < n; i++) {
		bad[i] = 0;
		left[i] = 1;
		for (int r = 0; r < defs[i]->nrequires; r++)
			if (deps_find(defs, n, defs[i]->requires[r]) < 0) {
				bad[i] = 1;
				append(err, errlen, "%s%s requires unknown service ", *err ? "; " : "", defs[i]->name);
				append(err, errlen, "%s%s", defs[i]->requires[r], "");
			}
	}
	/* Kahn's algorithm in file order, so the order is stable for equal standing. */
	while (progress) {
		progress = 0;
		for (int i = 0; i < n; i++) {
			int ready = left[i] && !bad[i];
			for (int r = 0; ready && r < defs[i]->nrequires; r++) {
				int j = deps_find(defs, n, defs[i]->requires[r]);
				if (j < 0 || left[j])
					ready = 0;
			}
			if (ready) {
				left[i] = 0;
				order[count++] = i;
				progress = 1;
			}
		}
	}
	/* Whatever is left is in a cycle or waits on one (or on an unknown requirement). */
	for (int i = 0; i < n; i++)
		if (left[i] && !bad[i]) {
			int in_cycle = 0;
			/* A service is in a cycle if following left requirements comes back to it. */
			int *seen = calloc((size_t)n, sizeof(int)), cur = i;
			while (seen && !seen[cur]) {
				int nx = -1;
				seen[cur] = 1;
				for (int r = 0; r < defs[cur]->nrequires && nx < 0; r++) {
					int j = deps_find(defs, n, defs[cur]->requires[r]);
					if (j >= 0 && left[j] && !bad[j])
						nx = j;
				}
				if (nx < 0)
					break;
				cur = nx;
				if (cur == i)
					in_cycle = 1;
			}
			free(seen);
			bad[i] = 2;
			if (in_cycle && !strstr(err, defs[i]->name))
				name_cycle(defs, n, left, i, err, errlen);
		}
	free(left);
	return count;
}
