/* trial.c: the trial boot of an upgrade (kiln.trial=SECONDS, armed by kiln-upgrade as syslinux's boot-once):
 * ready in time commits this slot as the default; degraded or late reboots, and syslinux, whose boot-once is
 * already spent, boots the old default slot. */
#include "svc.h"

#include <signal.h>
#include <stdio.h>
#include <sys/reboot.h>
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

static void abandon(const char *why)
{
	trial_end = -1;
	say("kiln: upgrade: trial failed (%s): rebooting into the default slot", why);
	svc_begin_shutdown((int)RB_AUTOBOOT);
}

void trial_tick(int64_t now)
{
	if (trial_end >= 0 && now >= trial_end && !shutting_down) {
		char why[64];
		snprintf(why, sizeof why, "not ready within %ds", trial_s);
		abandon(why);
	}
}

/* The boot summary: every service ready commits (kiln-upgrade commit, in a child init reaps like any other) and
 * stops the watchdog; a failed trial keeps feeding it until the reboot. */
void trial_summary(int all_ready)
{
	pid_t pid;
	if (trial_end < 0)
		return;
	if (!all_ready) {
		abandon("degraded");
		return;
	}
	trial_end = -1;
	watchdog_disarm();
	char *argv[] = {UPGRADE_TOOL, "commit", NULL};
	pid = child_start(argv, 0);
	if (pid < 0)
		say("kiln: upgrade: cannot run %s commit: %m", UPGRADE_TOOL);
}

/* At every boot from a disk slot, before the services: the upgrade state on BOOT is brought up to date
 * (a trial now under way, or one that came back to this slot) and the status initctl shows is written. */
void trial_boot_check(void)
{
	char *argv[] = {UPGRADE_TOOL, "boot", NULL};
	if (access(UPGRADE_TOOL, X_OK) == 0 && early_run(argv) != 0)
		say("kiln: upgrade: %s boot failed", UPGRADE_TOOL);
}
