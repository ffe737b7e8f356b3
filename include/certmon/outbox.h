/*
 * outbox.h - delivering queued mail with retries.
 *
 * Messages are composed once and queued in the store (in the transaction
 * that records what they notify); delivery sends them byte for byte, marks
 * each sent right after the server's 250, and retries failures with
 * exponential backoff. Delivery is at-least-once: a crash between the 250
 * and the mark can repeat a message, always with the same Message-ID.
 */
#ifndef CERTMON_OUTBOX_H
#define CERTMON_OUTBOX_H

#include "certmon/settings.h"
#include "certmon/store.h"

struct cm_outbox_result {
	int attempted;
	int sent;
	int failed;
	char last_error[CM_ERR_MSG_MAX];
};

/* Seconds to wait after the n-th failed attempt (n >= 1): 1 min doubling,
 * at most cap. Pure. */
int64_t cm_outbox_backoff(int attempts, int64_t cap);

/* Delivers every unsent message due by now through the SMTP server of
 * smtp, following the retry policy of ms (backoff cap, give-up time).
 * Raises MailDeliveryFailed on a message's first failure and when it is
 * given up. Returns CM_OK when the outbox could be worked through (even if
 * deliveries failed: see *res), an error only for store failures. */
enum cm_status cm_outbox_deliver(struct cm_store *st,
    const struct cm_smtp_settings *smtp,
    const struct cm_monitor_settings *ms, cm_time now, const char *actor,
    struct cm_outbox_result *res, struct cm_err *err);

#endif
