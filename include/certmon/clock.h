/*
 * clock.h - time as a parameter.
 *
 * Every decision in libcertmon takes `now` (seconds since the epoch, UTC)
 * from its caller. Programs get it from cm_clock_now(); tests pass any value.
 */
#ifndef CERTMON_CLOCK_H
#define CERTMON_CLOCK_H

#include <stdint.h>
#include <stddef.h>

/* Seconds since the epoch, UTC (int64: no 2038 problem). */
typedef int64_t cm_time;

#define CM_TIME_TEXT_LEN 21 /* "2027-01-31T12:00:00Z" + NUL */

/* Returns the current wall-clock time. */
cm_time cm_clock_now(void);

/* Parses ISO 8601 UTC with seconds ("2027-01-31T12:00:00Z") into *out.
 * Returns 0 on success, -1 on anything else (no other formats accepted). */
int cm_time_parse(const char *text, cm_time *out);

/* Returns the seconds since the epoch of a UTC calendar time (proleptic
 * Gregorian; no time zone, no libc state; fields are not range-checked). */
cm_time cm_time_from_utc(int64_t year, int month, int day, int hour,
    int min, int sec);

/* Formats t as "YYYY-MM-DDTHH:MM:SSZ" into buf (CM_TIME_TEXT_LEN bytes);
 * returns buf. */
char *cm_time_format(cm_time t, char buf[CM_TIME_TEXT_LEN]);

/* Parses a duration "N" + "h" or "d" (e.g. "12h", "30d") into seconds.
 * Returns 0 on success, -1 when malformed or not positive or overflowing. */
int cm_duration_parse(const char *text, int64_t *seconds);

/* Formats a duration of whole hours as "Nd" when it is a whole number of
 * days, else "Nh"; returns buf (at least 24 bytes). */
char *cm_duration_format(int64_t seconds, char *buf, size_t len);

#endif
