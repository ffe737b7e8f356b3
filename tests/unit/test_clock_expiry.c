/* Unit tests of lib/clock and lib/expiry (pure): table-driven. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "certmon/clock.h"
#include "certmon/expiry.h"

static void
test_time_parse_format(void **state)
{
	static const struct {
		const char *text;
		cm_time t;
	} ok[] = {
		{"1970-01-01T00:00:00Z", 0},
		{"2000-02-29T12:34:56Z", 951827696},
		{"2027-01-31T12:00:00Z", 1801396800},
		{"2038-01-19T03:14:08Z", 2147483648LL},
		{"2100-03-01T00:00:00Z", 4107542400LL},
		{"1969-12-31T23:59:59Z", -1},
	};
	static const char *const bad[] = {
		"", "2027-01-31", "2027-01-31T12:00:00", "2027-01-31 12:00:00Z",
		"2027-13-01T00:00:00Z", "2027-02-29T00:00:00Z", "2100-02-29T00:00:00Z",
		"2027-01-31T24:00:00Z", "2027-01-31T12:60:00Z", "2027-01-31T12:00:60Z",
		"2027-01-31T12:00:00+01:00", "2027-01-31T12:00:00Zjunk", "tomorrow",
		"+027-01-31T12:00:00Z",
	};
	char buf[CM_TIME_TEXT_LEN];
	cm_time t;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(cm_time_parse(ok[i].text, &t), 0);
		assert_int_equal(t, ok[i].t);
		assert_string_equal(cm_time_format(ok[i].t, buf), ok[i].text);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cm_time_parse(bad[i], &t), -1);
	assert_int_equal(cm_time_parse(NULL, &t), -1);
}

static void
test_duration(void **state)
{
	static const struct {
		const char *text;
		int rc;
		int64_t secs;
	} cases[] = {
		{"1h", 0, 3600}, {"24h", 0, 86400}, {"30d", 0, 2592000},
		{"1d", 0, 86400}, {"0h", -1, 0}, {"-1d", -1, 0}, {"5x", -1, 0},
		{"h", -1, 0}, {"12", -1, 0}, {"1.5d", -1, 0}, {" 1d", -1, 0},
		{"1d ", -1, 0}, {"99999999999999999999d", -1, 0}, {"", -1, 0},
	};
	char buf[32];
	int64_t s;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s = 0;
		assert_int_equal(cm_duration_parse(cases[i].text, &s), cases[i].rc);
		if (cases[i].rc == 0)
			assert_int_equal(s, cases[i].secs);
	}
	assert_string_equal(cm_duration_format(86400, buf, sizeof(buf)), "1d");
	assert_string_equal(cm_duration_format(7200, buf, sizeof(buf)), "2h");
	assert_string_equal(cm_duration_format(90000, buf, sizeof(buf)), "25h");
}

static void
test_expiry_state(void **state)
{
	const cm_time now = 1800000000;
	static const struct {
		int64_t left;     /* notAfter - now */
		int start_days;
		enum cm_expiry_state want;
		int64_t days;
	} cases[] = {
		{400 * CM_DAY, 30, CM_STATE_VALID, 400},
		{30 * CM_DAY + 1, 30, CM_STATE_VALID, 30},
		{30 * CM_DAY, 30, CM_STATE_EXPIRING, 30},
		{2 * CM_DAY, 30, CM_STATE_EXPIRING, 2},
		{CM_DAY + 1, 30, CM_STATE_EXPIRING, 1},
		{CM_DAY, 30, CM_STATE_CRITICAL, 1},
		{1, 30, CM_STATE_CRITICAL, 0},
		{0, 30, CM_STATE_CRITICAL, 0},      /* notAfter is still valid */
		{-1, 30, CM_STATE_EXPIRED, -1},
		{-CM_DAY, 30, CM_STATE_EXPIRED, -1},
		{-CM_DAY - 1, 30, CM_STATE_EXPIRED, -2},
		{2 * CM_DAY, 1, CM_STATE_VALID, 2},
		{CM_DAY, 1, CM_STATE_CRITICAL, 1},
		{364 * CM_DAY, 365, CM_STATE_EXPIRING, 364},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cm_time na = now + cases[i].left, lo, hi;
		enum cm_expiry_state s = cm_expiry_state(na, now, cases[i].start_days);

		assert_int_equal(s, cases[i].want);
		assert_int_equal(cm_expiry_days_left(na, now), cases[i].days);
		/* the listing window of that state holds exactly that notAfter */
		for (int st = CM_STATE_VALID; st <= CM_STATE_EXPIRED; st++) {
			int inside;

			cm_expiry_state_window((enum cm_expiry_state)st, now,
			    cases[i].start_days, &lo, &hi);
			inside = (lo == 0 || na >= lo) && (hi == 0 || na <= hi);
			assert_int_equal(inside, st == (int)s);
		}
	}
}

static void
test_state_names(void **state)
{
	enum cm_expiry_state s;

	(void)state;
	for (int i = CM_STATE_VALID; i <= CM_STATE_EXPIRED; i++) {
		assert_int_equal(cm_expiry_state_parse(
		    cm_expiry_state_name((enum cm_expiry_state)i), &s), 0);
		assert_int_equal(s, i);
	}
	assert_int_equal(cm_expiry_state_parse("revoked", &s), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time_parse_format),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_expiry_state),
		cmocka_unit_test(test_state_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
