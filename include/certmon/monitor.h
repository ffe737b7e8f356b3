/*
 * monitor.h - one run of the Certificate Expiry Monitor: the thin layer of
 * I/O around the pure decisions of expiry.h.
 *
 * A run computes each monitored certificate's state at `now`, decides who is
 * due, records the notices and queues one message for all of them in one
 * transaction (the outbox), raises CertValidLessthanADay / CertExpired once
 * per transition, records the run and the next one, then delivers the
 * outbox.
 */
#ifndef CERTMON_MONITOR_H
#define CERTMON_MONITOR_H

#include "certmon/expiry.h"
#include "certmon/store.h"

struct cm_monitor_notice {
	char fingerprint[CM_FP_HEX_LEN];
	char unit[CM_UNIT_NAME_MAX + 1];
	char *subject_cn;
	char *issuer_cn;
	char *serial_hex;
	cm_time not_after;
	enum cm_expiry_state state;
};

enum cm_monitor_mail {
	CM_MONITOR_MAIL_DISABLED = 0,  /* e-mail notification is off */
	CM_MONITOR_MAIL_NONE,          /* nothing was due */
	CM_MONITOR_MAIL_QUEUED,        /* queued, not (yet) delivered */
	CM_MONITOR_MAIL_SENT,          /* the server said 250 */
	CM_MONITOR_MAIL_FAILED         /* could not be queued or delivered */
};

struct cm_monitor_report {
	struct cm_monitor_notice *v;   /* the certificates notified (due) */
	size_t n;
	size_t count[4];               /* by state, over the notices */
	enum cm_monitor_mail mail;
	char message_id[300];          /* of the queued message, or "" */
	char mail_error[CM_ERR_MSG_MAX];
	int alarms;                    /* alarms raised by this run */
	int hourly;                    /* a monitored certificate is critical
					  or expired: hourly cadence */
	cm_time ran_at;
	cm_time next_run;
};

/* Performs one run at `now` (which stands for "now" in every decision and
 * every stored timestamp). With dry_run, only fills *rep with what a run
 * would notify, writing and sending nothing. *rep is owned by the caller
 * (cm_monitor_report_free). */
enum cm_status cm_monitor_run(struct cm_store *st, cm_time now, int dry_run,
    const char *actor, struct cm_monitor_report *rep, struct cm_err *err);

/* Frees the notices of a report. */
void cm_monitor_report_free(struct cm_monitor_report *rep);

/* Composes the subject and the text body of the notification for the n
 * notices at now (newly allocated; caller frees). Pure. */
enum cm_status cm_monitor_compose(const struct cm_monitor_notice *v,
    size_t n, cm_time now, char **subject, char **body, struct cm_err *err);

/* What `monitor status` shows. */
struct cm_monitor_status {
	struct cm_service svc;
	int64_t urgent;          /* monitored certificates critical or expired */
	int hourly;              /* urgent > 0 */
	cm_time next_run;        /* from the schedule; <= now means "due now" */
	int64_t outbox_pending;
	int64_t outbox_failed;
};

/* Fills *out for the Certificate Expiry Monitor at `now`. */
enum cm_status cm_monitor_status(struct cm_store *st, cm_time now,
    struct cm_monitor_status *out, struct cm_err *err);

/* Returns "disabled", "none", "queued", "sent" or "failed". */
const char *cm_monitor_mail_name(enum cm_monitor_mail mail);

#endif
