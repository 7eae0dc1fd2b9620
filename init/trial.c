/* trial.c: the trial boot of an upgrade (kiln.trial=SECONDS, armed by kiln-upgrade as syslinux's boot-once):
 * ready in time commits this slot as the default; degraded or late reboots, and syslinux, whose boot-once is
 * already spent, boots the old default slot. */
#include "kiln.h"

#include <errno.h>

#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#define UPGRADE_TOOL "/usr/sbin/kiln-upgrade"

static int trial_s;
static int64_t trial_end = -1; /* -1: not a trial, or decided */

void trial_begin(int seconds)
{
	if (seconds <= 0)
		return;
	trial_s = seconds;
	trial_end = now_ms() + (int64_t)seconds * 1000;
	say("kiln: upgrade: trial boot: this slot becomes the default once ready, within %ds", seconds);
}

int64_t trial_next_deadline(void) { return trial_end; }

static int abandon(const char *why)
{
	trial_end = -1;
	say("kiln: upgrade: trial failed (%s): rebooting into the default slot", why);
	return 1;
}

int trial_tick(int64_t now)
{
	char why[64];
	if (trial_end < 0 || now < trial_end)
		return 0;
	snprintf(why, sizeof why, "not ready within %ds", trial_s);
	return abandon(why);
}

/* The boot summary: every service ready commits (kiln-upgrade commit, in a child init reaps like any other) and
 * stops the watchdog; a failed trial keeps feeding it until the reboot. */
int trial_summary(int all_ready)
{
	char *argv[] = {UPGRADE_TOOL, "commit", NULL};
	if (trial_end < 0)
		return 0;
	if (!all_ready)
		return abandon("degraded");
	trial_end = -1;
	watchdog_disarm();
	if (child_start(argv, 0) < 0)
		say("kiln: upgrade: cannot run %s commit: %m", UPGRADE_TOOL);
	return 0;
}

/* At every boot from a disk slot, before the services: the upgrade state on BOOT is brought up to date
 * (a trial now under way, or one that came back to this slot) and the status initctl shows is written. */
void trial_boot_check(void)
{
	char *argv[] = {UPGRADE_TOOL, "boot", NULL};
	if (access(UPGRADE_TOOL, X_OK) == 0 && early_run(argv) != 0)
		say("kiln: upgrade: %s boot failed", UPGRADE_TOOL);
}
