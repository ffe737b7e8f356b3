/*
 * expiry.h - the expiry state of a certificate (pure: no I/O, no clock).
 */
#ifndef CERTMON_EXPIRY_H
#define CERTMON_EXPIRY_H

#include "certmon/clock.h"

enum cm_expiry_state {
	CM_STATE_VALID = 0,
	CM_STATE_EXPIRING,  /* within Notification Start Time */
	CM_STATE_CRITICAL,  /* one day or less left */
	CM_STATE_EXPIRED    /* now is past notAfter */
};

#define CM_DAY  ((int64_t)86400)
#define CM_HOUR ((int64_t)3600)

/* Returns the state of a certificate whose notAfter is not_after at `now`,
 * with Notification Start Time start_days (1-365). notAfter itself is the
 * last valid second (RFC 5280), so the certificate is expired only after it. */
enum cm_expiry_state cm_expiry_state(cm_time not_after, cm_time now,
    int start_days);

/* Returns whole days left until not_after (negative once expired, rounded
 * toward minus infinity so an expired certificate never shows 0). */
int64_t cm_expiry_days_left(cm_time not_after, cm_time now);

/* Sets [*lo, *hi] to the inclusive notAfter window of the certificates
 * that are in `state` at `now` (0 = unbounded), for filtering a listing. */
void cm_expiry_state_window(enum cm_expiry_state state, cm_time now,
    int start_days, cm_time *lo, cm_time *hi);

/* Returns "valid", "expiring", "critical" or "expired". */
const char *cm_expiry_state_name(enum cm_expiry_state state);

/* Parses a state name; returns 0 and sets *out, or -1 when unknown. */
int cm_expiry_state_parse(const char *name, enum cm_expiry_state *out);

/* What the monitor last told about one monitored certificate. */
struct cm_notice_record {
	cm_time notified_at;                 /* 0 = never notified */
	enum cm_expiry_state notified_state; /* state at that notice */
};

/* Decides whether the monitor notifies about a certificate at `now`: it is
 * within Notification Start Time (or expired) and either was never
 * notified, or its last notice is at least `frequency` seconds old (a
 * notice stamped in the future counts as due), or its state changed since
 * that notice. Sets *state to the certificate's state. Pure. */
int cm_expiry_due(cm_time not_after, cm_time now, int start_days,
    int64_t frequency, const struct cm_notice_record *last,
    enum cm_expiry_state *state);

/* The monitor's schedule: runs at started_at + k * 24 h, or every hour
 * (started_at + k * 1 h) while a monitored certificate is critical or
 * expired. */
struct cm_schedule {
	cm_time started_at;   /* last (re)start; a new store's creation */
	cm_time last_run;     /* last completed run, 0 = never */
	int hourly;           /* a monitored certificate is critical/expired */
};

#define CM_SCHEDULE_PERIOD CM_DAY

/* Returns when the next run is due: the first point of the grid
 * started_at + k * period (period 1 h when hourly, else 24 h) after the last
 * run; at once (started_at) when the last completed run is more than 24 h
 * older than the start, or there never was one. Pure. */
cm_time cm_expiry_next_run(const struct cm_schedule *s);

#endif
