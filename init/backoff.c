/* backoff.c: how long a failed service waits before its next start: 1 s, 2 s, 4 s ... capped at 30 s,
 * back to the first step once a run has lasted a healthy minute (constants in kiln.h). Pure. */
#include "kiln.h"

/* Every delay, when set: a sandboxed init's fault test (KILN_BACKOFF_MS, main.c) makes a thousand restarts in seconds. */
int64_t backoff_fixed_ms;

/* The delay before start number ATTEMPT+1 of a service that has failed ATTEMPT+1 times in a row. */
int64_t backoff_delay(int attempt)
{
	int64_t d = BACKOFF_FIRST_MS;
	if (backoff_fixed_ms > 0)
		return backoff_fixed_ms;
	for (int i = 0; i < attempt && d < BACKOFF_MAX_MS; i++)
		d *= 2;
	return d > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : d;
}

/* A run of RAN_MS has just ended in failure: returns the delay before the next start and counts the attempt. */
int64_t backoff_after_exit(int *attempt, int64_t ran_ms)
{
	int64_t d;
	if (ran_ms >= BACKOFF_RESET_MS || *attempt < 0)
		*attempt = 0;
	d = backoff_delay(*attempt);
	if (*attempt < 30) /* the delay is capped long before; this only keeps the counter bounded */
		(*attempt)++;
	return d;
}

/* The pause before the next readiness check of a service started STARTED_FOR ms ago: quick at first (most are
 * ready in seconds), then sparser, so a service that takes minutes is not slowed further by its own probe (an exec
 * probe is a whole program run each time). */
int64_t probe_interval(int64_t started_for)
{
	if (started_for < 10000)
		return 250;
	if (started_for < 60000)
		return 1000;
	return 2000;
}
