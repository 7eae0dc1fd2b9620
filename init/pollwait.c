/* pollwait.c: early boot's waits for the kernel (a disk, a partition, a filesystem label, a network link): ask,
 * sleep, ask again until a deadline, feeding a trial boot's watchdog meanwhile. Not in util.c, which initctl links
 * too and which calls nothing of init's. */
#include "kiln.h"

#include <unistd.h>

int poll_until(int (*found)(void *), void *arg, int wait_ms, int step_ms)
{
	int64_t end = now_ms() + wait_ms;
	for (;;) {
		if (found(arg))
			return 1;
		if (now_ms() >= end)
			return 0;
		watchdog_tick(now_ms()); /* a trial boot's watchdog: waiting for a device is not a hang */
		usleep((useconds_t)step_ms * 1000);
	}
}
