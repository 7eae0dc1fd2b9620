/* test_earlywait.c: early boot's waits feed a trial boot's watchdog: early_run while its program runs (e2fsck or
 * mke2fs of a large DATA may take minutes), poll_until while a device is awaited. Linked with child.c, pollwait.c
 * and util.c alone: watchdog_tick here is a stand-in that counts the feeds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include "kiln.h"

static int ticks;
static int64_t first_tick, last_tick;

void watchdog_tick(int64_t now)
{
	if (!ticks++)
		first_tick = now;
	last_tick = now;
}

static int reset(void **state)
{
	(void)state;
	ticks = 0;
	first_tick = last_tick = -1;
	return 0;
}

static void fed_while_running(void **state)
{
	char *argv[] = {"/bin/sleep", "0.5", NULL};
	int64_t t0 = now_ms(), took;
	(void)state;
	assert_int_equal(early_run(argv), 0);
	took = now_ms() - t0;
	assert_true(took >= 500);
	/* fed all along: about every 50 ms, from the start to the end of the run */
	assert_in_range(ticks, 5, took / 10);
	assert_true(first_tick - t0 < 100);
	assert_true(last_tick - first_tick >= 400);
}

static void exit_status(void **state)
{
	char *fail[] = {"/bin/sh", "-c", "exit 3", NULL};
	char *killed[] = {"/bin/sh", "-c", "kill -9 $$", NULL};
	char *missing[] = {"/nonexistent/e2fsck", NULL};
	(void)state;
	assert_int_equal(early_run(fail), 3);
	assert_int_equal(early_run(killed), 128 + 9);
	assert_int_equal(early_run(missing), 127);
}

static int found_after;

static int third_time(void *arg)
{
	(void)arg;
	return ++found_after >= 3;
}

static int never(void *arg)
{
	(void)arg;
	return 0;
}

static void poll_fed(void **state)
{
	int64_t t0;
	(void)state;
	found_after = 0;
	assert_int_equal(poll_until(third_time, NULL, 5000, 10), 1);
	assert_int_equal(found_after, 3);
	assert_int_equal(ticks, 2); /* fed before each sleep */
	ticks = 0;
	t0 = now_ms();
	assert_int_equal(poll_until(never, NULL, 300, 20), 0);
	assert_true(now_ms() - t0 >= 300);
	assert_in_range(ticks, 5, 16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(fed_while_running, reset),
		cmocka_unit_test_setup(exit_status, reset),
		cmocka_unit_test_setup(poll_fed, reset),
	};
	return cmocka_run_group_tests_name("earlywait", tests, NULL, NULL);
}
