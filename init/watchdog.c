/* watchdog.c: the hardware watchdog that resets a trial boot which hangs. The first stage arms /dev/watchdog and
 * closes it without the magic 'V', so the timer runs on through switch_root; the slot's init feeds it from its
 * loop until the trial is decided, and stops it with the magic close when the trial commits. */
#include "kiln.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/watchdog.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define WATCHDOG_DEV "/dev/watchdog"
#define WATCHDOG_ARMED "/run/kiln/watchdog" /* the first stage's word to the slot's init: armed, with this timeout */

static int wd_fd = -1;
static int64_t wd_every = 1000, wd_next = -1;

/* A hang is reset within WATCHDOG_TIMEOUT_S, or by the trial's deadline when that is sooner; never under
 * WATCHDOG_MIN_S, the room a healthy boot needs between two feeds (switch_root, one step of the slot's early boot). */
int watchdog_timeout(int trial_s)
{
	int t = trial_s < WATCHDOG_TIMEOUT_S ? trial_s : WATCHDOG_TIMEOUT_S;
	return t < WATCHDOG_MIN_S ? WATCHDOG_MIN_S : t;
}

/* Three feeds a timeout: one late wakeup (a slow machine, a busy loop) is no reset. */
int64_t watchdog_feed_ms(int timeout_s)
{
	int64_t ms = (int64_t)timeout_s * 1000 / 3;
	return ms < 500 ? 500 : ms;
}

/* The magic close: the driver stops the timer. */
static void stop_and_close(int fd)
{
	(void)!write(fd, "V", 1);
	close(fd);
}

static int mark_armed(int timeout_s)
{
	char text[16];
	int fd, n = snprintf(text, sizeof text, "%d\n", timeout_s), rc;
	mkdir_p("/run/kiln", 0755);
	if ((fd = open(WATCHDOG_ARMED, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		return -1;
	rc = write(fd, text, (size_t)n) == n ? 0 : -1;
	close(fd);
	return rc;
}

int watchdog_arm(const char *modules, int trial_s)
{
	struct watchdog_info info;
	int fd, want = watchdog_timeout(trial_s), t = want;

	modules_load_all(modules); /* says which failed; a built-in driver needs none */
	if ((fd = open(WATCHDOG_DEV, O_WRONLY | O_CLOEXEC)) < 0) {
		say("kiln: watchdog: none (%s: %m): nothing resets this trial boot if it hangs", WATCHDOG_DEV);
		return -1;
	}
	memset(&info, 0, sizeof info);
	ioctl(fd, WDIOC_GETSUPPORT, &info);
	if (!(info.options & WDIOF_MAGICCLOSE)) { /* closing it would stop it: nothing to hand over */
		close(fd);
		say("kiln: watchdog: %.32s stops when closed: nothing resets this trial boot if it hangs", info.identity);
		return -1;
	}
	/* The driver may round or refuse the value: what counts is what it reads back. */
	ioctl(fd, WDIOC_SETTIMEOUT, &t);
	if (ioctl(fd, WDIOC_GETTIMEOUT, &t))
		t = 0;
	if (t < WATCHDOG_MIN_S) {
		stop_and_close(fd);
		say("kiln: watchdog: %.32s: timeout %ds for %ds asked, too short to reach the slot's init: not armed",
		    info.identity, t, want);
		return -1;
	}
	if (mark_armed(t)) { /* the slot's init would not feed it */
		say("kiln: watchdog: %s: %m: not armed", WATCHDOG_ARMED);
		stop_and_close(fd);
		return -1;
	}
	ioctl(fd, WDIOC_KEEPALIVE, 0);
	close(fd); /* no magic 'V': the timer runs on ("watchdog did not stop!", says the kernel) */
	say("kiln: watchdog: armed for the trial boot: %.32s resets the machine unless fed within %ds", info.identity, t);
	return 0;
}

void watchdog_trial_open(void)
{
	char *armed = read_text(WATCHDOG_ARMED, NULL);
	int t = 0;
	if (!armed)
		return; /* the first stage armed none, and said why */
	free(armed);
	if ((wd_fd = open(WATCHDOG_DEV, O_WRONLY | O_CLOEXEC)) < 0) {
		say("kiln: watchdog: %s: %m: it resets this trial boot unfed", WATCHDOG_DEV);
		return;
	}
	if (ioctl(wd_fd, WDIOC_GETTIMEOUT, &t) || t <= 0)
		t = WATCHDOG_MIN_S;
	wd_every = watchdog_feed_ms(t);
	wd_next = 0; /* fed at once */
	watchdog_tick(now_ms());
	say("kiln: watchdog: fed every %llds until the trial is decided", (long long)(wd_every / 1000));
}

int64_t watchdog_next_deadline(void) { return wd_next; }

void watchdog_tick(int64_t now)
{
	if (wd_fd < 0 || now < wd_next)
		return;
	if (ioctl(wd_fd, WDIOC_KEEPALIVE, 0))
		say("kiln: watchdog: feeding it: %m");
	wd_next = now + wd_every;
}

void watchdog_disarm(void)
{
	if (wd_fd < 0)
		return;
	stop_and_close(wd_fd);
	wd_fd = -1;
	wd_next = -1;
	unlink(WATCHDOG_ARMED);
	say("kiln: watchdog: disarmed: the trial is committed");
}
