/* test_watchdog.c: the watchdog of a trial boot: the timeout asked for a trial deadline, how often it is fed, and
 * that a boot with no watchdog open never wakes the loop for it. (Nothing here opens /dev/watchdog: on the host,
 * that would start the host's own.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include "kiln.h"

static void timeout_for_deadline(void **state)
{
	(void)state;
	assert_int_equal(watchdog_timeout(300), 60); /* initctl upgrade's default deadline */
	assert_int_equal(watchdog_timeout(600), 60);
	assert_int_equal(watchdog_timeout(60), 60);
	assert_int_equal(watchdog_timeout(40), 40); /* a hang is reset no later than the deadline would end the trial */
	assert_int_equal(watchdog_timeout(30), 30);
	assert_int_equal(watchdog_timeout(10), 30); /* but a healthy boot keeps room to reach the slot's init */
	assert_int_equal(watchdog_timeout(1), 30);
	for (int d = 1; d <= 100000; d += 7) {
		int t = watchdog_timeout(d);
		assert_in_range(t, WATCHDOG_MIN_S, WATCHDOG_TIMEOUT_S);
		if (d >= WATCHDOG_MIN_S)
			assert_true(t <= d);
	}
}

static void feed_interval(void **state)
{
	(void)state;
	assert_int_equal(watchdog_feed_ms(60), 20000);
	assert_int_equal(watchdog_feed_ms(40), 13333);
	assert_int_equal(watchdog_feed_ms(30), 10000);
	assert_int_equal(watchdog_feed_ms(1), 500); /* a driver's odd answer: still fed twice a timeout */
	assert_int_equal(watchdog_feed_ms(0), 500);
	for (int t = 2; t <= 3600; t++) /* at least three feeds fit in every timeout */
		assert_true(3 * watchdog_feed_ms(t) <= (int64_t)t * 1000);
}

static void nothing_open(void **state)
{
	(void)state;
	assert_int_equal(watchdog_next_deadline(), -1);
	watchdog_tick(123456);
	watchdog_disarm();
	assert_int_equal(watchdog_next_deadline(), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(timeout_for_deadline),
		cmocka_unit_test(feed_interval),
		cmocka_unit_test(nothing_open),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
