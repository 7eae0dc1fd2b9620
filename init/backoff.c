/* backoff.c: how long a failed service waits before its next start: 1 s, 2 s, 4 s ... capped at 30 s,
 * back to the first step once it has run healthy for a minute. Pure. */
#include "kiln.h"

int64_t backoff_delay(int attempt)
{
	int64_t d = BACKOFF_FIRST_MS;
	for (int i = 0; i < attempt && d < BACKOFF_MAX_MS; i++)
		d *= 2;
	return d > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : d;
}

/* The attempt number after a run of RAN_MS that ended in failure. */
int backoff_next_attempt(int attempt, int64_t ran_ms)
{
	if (ran_ms >= BACKOFF_RESET_MS)
		return 0;
	return attempt < 30 ? attempt + 1 : attempt;
}
