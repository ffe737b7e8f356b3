/*
 * log.h - where libcertmon's log lines and alarms go.
 *
 * The library never prints: it hands log lines to a sink the program
 * installs (syslog, stderr, nothing). Alarms are also appended to the
 * store's event log (kind "alarm").
 */
#ifndef CERTMON_LOG_H
#define CERTMON_LOG_H

#include "certmon/clock.h"
#include "certmon/err.h"
#include "certmon/store.h"

enum cm_log_level {
	CM_LOG_ERR = 3,          /* the syslog(3) priorities */
	CM_LOG_WARNING = 4,
	CM_LOG_NOTICE = 5,
	CM_LOG_INFO = 6
};

typedef void (*cm_log_sink)(enum cm_log_level level, const char *line,
    void *arg);

/* Installs the sink for every later log line (NULL = drop them). */
void cm_log_set_sink(cm_log_sink sink, void *arg);

/* Hands one line (printf-style, made one line) to the sink. */
void cm_log(enum cm_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The alarms certmon raises (names as in the reference system). */
#define CM_ALARM_VALID_LESS_THAN_A_DAY "CertValidLessthanADay"
#define CM_ALARM_EXPIRED               "CertExpired"
#define CM_ALARM_REVOKED               "CertificateRevoked"
#define CM_ALARM_MAIL_FAILED           "MailDeliveryFailed"
#define CM_ALARM_REVOCATION_FAILED     "RevocationCheckFailed"
/* a long-lived connection's peer turned to fail (revoked, expired, chain,
 * host name, unreachable...: the message says which) */
#define CM_ALARM_ENDPOINT_FAILED       "EndpointCertificateFailed"

/* Appends alarm `name` to the event log of st (inside the caller's
 * transaction, if any). Log it with cm_alarm_log once committed. */
enum cm_status cm_alarm_record(struct cm_store *st, cm_time at,
    const char *name, const char *actor, const char *unit, const char *fp,
    const char *message, struct cm_err *err);

/* Hands an alarm to the log sink at warning level. */
void cm_alarm_log(const char *name, const char *message);

#endif
