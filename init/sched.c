/* sched.c: when a scheduled job (`every = N`) runs: first N seconds after boot, then every N seconds from
 * its last start, skipping the slots a long run overlapped rather than running back to back. Pure. */
#include "kiln.h"

int64_t sched_first(int64_t boot_ms, int every_s)
{
	return boot_ms + (int64_t)every_s * 1000;
}

int64_t sched_next(int64_t started_ms, int every_s, int64_t now_ms)
{
	int64_t every = (int64_t)(every_s > 0 ? every_s : 1) * 1000, next = started_ms + every;
	if (next <= now_ms)
		next += ((now_ms - next) / every + 1) * every;
	return next;
}
