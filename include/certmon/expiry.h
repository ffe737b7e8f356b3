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

#endif
