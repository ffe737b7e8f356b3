/* expiry.c - the expiry state of a certificate (pure). */
#include <string.h>

#include "certmon/expiry.h"

enum cm_expiry_state
cm_expiry_state(cm_time not_after, cm_time now, int start_days)
{
	if (not_after < now)
		return CM_STATE_EXPIRED;
	if (not_after - now <= CM_DAY)
		return CM_STATE_CRITICAL;
	if (not_after - now <= (int64_t)start_days * CM_DAY)
		return CM_STATE_EXPIRING;
	return CM_STATE_VALID;
}

int64_t
cm_expiry_days_left(cm_time not_after, cm_time now)
{
	int64_t left = not_after - now;

	if (left >= 0)
		return left / CM_DAY;
	return -((-left + CM_DAY - 1) / CM_DAY);
}

void
cm_expiry_state_window(enum cm_expiry_state state, cm_time now,
    int start_days, cm_time *lo, cm_time *hi)
{
	cm_time start = now + (int64_t)start_days * CM_DAY;

	switch (state) {
	case CM_STATE_EXPIRED:
		*lo = 0;
		*hi = now - 1;
		break;
	case CM_STATE_CRITICAL:
		*lo = now;
		*hi = now + CM_DAY;
		break;
	case CM_STATE_EXPIRING:
		*lo = now + CM_DAY + 1;
		*hi = start;
		break;
	case CM_STATE_VALID:
	default:
		*lo = (start > now + CM_DAY ? start : now + CM_DAY) + 1;
		*hi = 0;
		break;
	}
}

static const char *const state_names[] = {
	"valid", "expiring", "critical", "expired"
};

const char *
cm_expiry_state_name(enum cm_expiry_state state)
{
	if ((unsigned)state < sizeof(state_names) / sizeof(state_names[0]))
		return state_names[state];
	return "unknown";
}

int
cm_expiry_state_parse(const char *name, enum cm_expiry_state *out)
{
	for (size_t i = 0; i < sizeof(state_names) / sizeof(state_names[0]); i++)
		if (strcmp(name, state_names[i]) == 0) {
			*out = (enum cm_expiry_state)i;
			return 0;
		}
	return -1;
}

int
cm_expiry_due(cm_time not_after, cm_time now, int start_days,
    int64_t frequency, const struct cm_notice_record *last,
    enum cm_expiry_state *state)
{
	*state = cm_expiry_state(not_after, now, start_days);
	if (*state == CM_STATE_VALID)
		return 0;
	if (last == NULL || last->notified_at == 0)
		return 1;
	if (last->notified_at > now)           /* a clock that went back */
		return 1;
	if (now - last->notified_at >= frequency)
		return 1;
	return last->notified_state != *state;
}

cm_time
cm_expiry_next_run(const struct cm_schedule *s)
{
	int64_t period = s->hourly ? CM_HOUR : CM_DAY;
	int64_t k;

	if (s->last_run == 0 || s->started_at - s->last_run > CM_DAY)
		return s->started_at;
	if (s->last_run < s->started_at)
		return s->started_at + period;
	k = (s->last_run - s->started_at) / period + 1;
	return s->started_at + k * period;
}
