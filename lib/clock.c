/* clock.c - the wall clock, and ISO 8601 / duration text. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "certmon/clock.h"

cm_time
cm_clock_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (cm_time)ts.tv_sec;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (Howard Hinnant's days_from_civil): no time zone, no libc state. */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

cm_time
cm_time_from_utc(int64_t year, int month, int day, int hour, int min, int sec)
{
	return days_from_civil(year, month, day) * 86400 + (int64_t)hour * 3600 +
	    (int64_t)min * 60 + sec;
}

static int
days_in_month(int64_t y, int m)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : mdays[m - 1];
}

/* Reads exactly n digits at *p into *v. */
static int
digits(const char **p, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		*v = *v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return 0;
}

int
cm_time_parse(const char *text, cm_time *out)
{
	const char *p = text;
	int y, mo, d, h, mi, s;

	if (text == NULL || strlen(text) != 20)
		return -1;
	if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) ||
	    *p++ != '-' || digits(&p, 2, &d) || *p++ != 'T' ||
	    digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) ||
	    *p++ != ':' || digits(&p, 2, &s) || *p != 'Z')
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) ||
	    h > 23 || mi > 59 || s > 59)
		return -1;
	*out = cm_time_from_utc(y, mo, d, h, mi, s);
	return 0;
}

char *
cm_time_format(cm_time t, char buf[CM_TIME_TEXT_LEN])
{
	int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
	int64_t secs = t - days * 86400;
	/* civil_from_days (Hinnant) */
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t y = yoe + era * 400;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int64_t d = doy - (153 * mp + 2) / 5 + 1;
	int64_t m = mp < 10 ? mp + 3 : mp - 9;
	char tmp[64];

	y += m <= 2;
	if (y < 0 || y > 9999) {
		snprintf(buf, CM_TIME_TEXT_LEN, "%s", y < 0 ? "0000-01-01T00:00:00Z"
		    : "9999-12-31T23:59:59Z");
		return buf;
	}
	snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02dZ",
	    (int)y, (int)m, (int)d, (int)(secs / 3600), (int)(secs / 60 % 60),
	    (int)(secs % 60));
	memcpy(buf, tmp, CM_TIME_TEXT_LEN);
	buf[CM_TIME_TEXT_LEN - 1] = '\0';
	return buf;
}

int
cm_duration_parse(const char *text, int64_t *seconds)
{
	char *end = NULL;
	long long n;
	int64_t unit;

	if (text == NULL || !isdigit((unsigned char)text[0]))
		return -1;
	errno = 0;
	n = strtoll(text, &end, 10);
	if (errno != 0 || end == text || n <= 0)
		return -1;
	if (strcmp(end, "h") == 0)
		unit = 3600;
	else if (strcmp(end, "d") == 0)
		unit = 86400;
	else
		return -1;
	if (n > INT64_MAX / unit / 1000)  /* keep room for arithmetic */
		return -1;
	*seconds = (int64_t)n * unit;
	return 0;
}

char *
cm_duration_format(int64_t seconds, char *buf, size_t len)
{
	if (seconds % 86400 == 0)
		snprintf(buf, len, "%" PRId64 "d", seconds / 86400);
	else
		snprintf(buf, len, "%" PRId64 "h", seconds / 3600);
	return buf;
}
