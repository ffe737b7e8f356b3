/* Unit tests of the pure monitor logic of lib/expiry: who is due, and when
 * the next run is, over simulated weeks (no sleeping, no I/O). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "certmon/expiry.h"

#define T0 ((cm_time)1800000000)   /* a store created at T0 */
#define H CM_HOUR
#define D CM_DAY

/* Simulates the monitor over [T0, T0 + days) for one certificate: runs at
 * every scheduled run (cm_expiry_next_run), records a notice whenever due,
 * and returns the notice times in out (at most max). */
static size_t
simulate(cm_time not_after, int start_days, int64_t frequency, int days,
    cm_time *out, enum cm_expiry_state *states, size_t max)
{
	struct cm_notice_record last = {0, CM_STATE_VALID};
	struct cm_schedule s = {T0, 0, 0};
	enum cm_expiry_state st;
	size_t n = 0;

	for (cm_time now = cm_expiry_next_run(&s); now < T0 + days * D;
	    now = cm_expiry_next_run(&s)) {
		if (cm_expiry_due(not_after, now, start_days, frequency, &last, &st)) {
			if (n < max) {
				out[n] = now;
				states[n] = st;
			}
			n++;
			last.notified_at = now;
			last.notified_state = st;
		}
		s.last_run = now;
		s.hourly = cm_expiry_state(not_after, now, start_days) >=
		    CM_STATE_CRITICAL;
	}
	return n;
}

static void
test_notices_over_weeks(void **state)
{
	cm_time at[200];
	enum cm_expiry_state st[200];
	size_t n;

	(void)state;
	/* notAfter at day 40 + 6 h; window 30 d; daily: notices on days 10..39
	 * at T0 + k days (the 24 h grid), then critical at day 39 + 6 h ... */
	n = simulate(T0 + 40 * D + 6 * H, 30, D, 45, at, st, 200);
	/* day 11 is the first grid point within 30 days of 40 d 6 h */
	assert_int_equal(at[0], T0 + 11 * D);
	assert_int_equal(st[0], CM_STATE_EXPIRING);
	/* then once a day while expiring */
	for (size_t i = 1; i < 29; i++) {
		assert_int_equal(at[i], at[i - 1] + D);
		assert_int_equal(st[i], CM_STATE_EXPIRING);
	}
	/* critical from day 39 + 6 h: the daily run at day 40 is the first to
	 * see it (the cadence is daily until then) - a transition notice */
	assert_int_equal(at[29], T0 + 40 * D);
	assert_int_equal(st[29], CM_STATE_CRITICAL);
	/* hourly now: expired at day 40 + 6 h + 1 s, seen at day 40 + 7 h
	 * although the last notice is only 7 h old */
	assert_int_equal(at[30], T0 + 40 * D + 7 * H);
	assert_int_equal(st[30], CM_STATE_EXPIRED);
	/* then daily (Frequency) although runs are hourly */
	assert_int_equal(at[31], T0 + 41 * D + 7 * H);
	assert_int_equal(at[32], T0 + 42 * D + 7 * H);
	assert_int_equal(n, 35);   /* days 42+7h, 43+7h, 44+7h */
}

static void
test_frequency_three_days(void **state)
{
	cm_time at[64];
	enum cm_expiry_state st[64];
	size_t n;

	(void)state;
	n = simulate(T0 + 20 * D + 12 * H, 10, 3 * D, 21, at, st, 64);
	assert_true(n >= 4);
	assert_int_equal(at[0], T0 + 11 * D);
	assert_int_equal(at[1], T0 + 14 * D);
	assert_int_equal(at[2], T0 + 17 * D);
	/* critical at 19 d 12 h: the run at day 20 sees it, 3 days or not */
	assert_int_equal(at[3], T0 + 20 * D);
	assert_int_equal(st[3], CM_STATE_CRITICAL);
}

static void
test_valid_is_never_due(void **state)
{
	cm_time at[4];
	enum cm_expiry_state st[4];

	(void)state;
	assert_int_equal(simulate(T0 + 400 * D, 30, D, 60, at, st, 4), 0);
}

static void
test_due_rules(void **state)
{
	const cm_time now = T0 + 100 * D;
	static const struct {
		int64_t left;                 /* notAfter - now */
		cm_time notified_at;          /* relative to now; 1 = never */
		enum cm_expiry_state notified_state;
		int64_t frequency;
		int due;
		enum cm_expiry_state state;
	} cases[] = {
		{40 * D, 1, CM_STATE_VALID, D, 0, CM_STATE_VALID},
		{20 * D, 1, CM_STATE_VALID, D, 1, CM_STATE_EXPIRING},
		{20 * D, -D, CM_STATE_EXPIRING, D, 1, CM_STATE_EXPIRING},
		{20 * D, -D + 1, CM_STATE_EXPIRING, D, 0, CM_STATE_EXPIRING},
		{20 * D, -H, CM_STATE_EXPIRING, H, 1, CM_STATE_EXPIRING},
		{12 * H, -H, CM_STATE_EXPIRING, D, 1, CM_STATE_CRITICAL},
		{12 * H, -H, CM_STATE_CRITICAL, D, 0, CM_STATE_CRITICAL},
		{-1, -H, CM_STATE_CRITICAL, D, 1, CM_STATE_EXPIRED},
		{-5 * D, -H, CM_STATE_EXPIRED, D, 0, CM_STATE_EXPIRED},
		{-5 * D, -D, CM_STATE_EXPIRED, D, 1, CM_STATE_EXPIRED},
		/* a notice stamped in the future counts as due */
		{20 * D, +H, CM_STATE_EXPIRING, D, 1, CM_STATE_EXPIRING},
		/* a wider window after a settings change: valid -> expiring */
		{20 * D, -H, CM_STATE_CRITICAL, D, 1, CM_STATE_EXPIRING},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cm_notice_record r = {
		    cases[i].notified_at == 1 ? 0 : now + cases[i].notified_at,
		    cases[i].notified_state};
		enum cm_expiry_state st;
		int due = cm_expiry_due(now + cases[i].left, now, 30,
		    cases[i].frequency, &r, &st);

		if (due != cases[i].due || st != cases[i].state)
			fail_msg("case %zu: due %d state %d", i, due, st);
	}
}

static void
test_next_run(void **state)
{
	static const struct {
		cm_time started_at, last_run;
		int hourly;
		cm_time want;
	} cases[] = {
		/* never ran: at once */
		{T0, 0, 0, T0},
		/* ran at start: next day on the start grid */
		{T0, T0, 0, T0 + D},
		{T0, T0 + 5 * H, 0, T0 + D},
		{T0, T0 + D, 0, T0 + 2 * D},
		/* the period does not change at 7 days */
		{T0, T0 + 7 * D, 0, T0 + 8 * D},
		/* hourly while critical or expired, on the same grid */
		{T0, T0 + D, 1, T0 + D + H},
		{T0, T0 + D + 30 * 60, 1, T0 + D + H},
		/* restarted after a run less than 24 h before: start + 24 h */
		{T0 + 10 * H, T0, 0, T0 + 34 * H},
		{T0 + 10 * H, T0, 1, T0 + 11 * H},
		/* restarted, last run more than 24 h before the start: at once */
		{T0 + 25 * H, T0, 0, T0 + 25 * H},
		/* exactly 24 h is not "more than": the cycle starts over */
		{T0 + D, T0, 0, T0 + 2 * D},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cm_schedule s = {cases[i].started_at, cases[i].last_run,
		    cases[i].hourly};

		if (cm_expiry_next_run(&s) != cases[i].want)
			fail_msg("case %zu: next %lld, want %lld", i,
			    (long long)cm_expiry_next_run(&s), (long long)cases[i].want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_notices_over_weeks),
		cmocka_unit_test(test_frequency_three_days),
		cmocka_unit_test(test_valid_is_never_due),
		cmocka_unit_test(test_due_rules),
		cmocka_unit_test(test_next_run),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
