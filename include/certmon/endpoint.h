/*
 * endpoint.h - the long-lived connections of the reference system (CTI,
 * IPsec, LDAP peers): TLS peers whose certificates are re-checked - expiry
 * and revocation, with the chain, host name, EKU and Common Criteria rules
 * of tls.h - at the interval of DESIGN.md (cm_tls_recheck_interval over the
 * store's Enterprise Parameters and Certificate Revocation settings).
 *
 * A check connects (TCP within the settings' timeout, then SMTP or LDAP
 * STARTTLS when configured), runs the handshake with certmon's TLS hook in
 * observe mode, records the verdict, the reason and the peer's chain in the
 * store, and raises an alarm on a transition to fail
 * (CM_ALARM_ENDPOINT_FAILED, once per transition), an alarm on a
 * transition to a soft-fail (CM_ALARM_REVOCATION_FAILED), and an audit
 * event "endpoint.recovered" when a failed peer passes again. Every check
 * is a fresh connection: the peer is judged on the chain it presents now.
 */
#ifndef CERTMON_ENDPOINT_H
#define CERTMON_ENDPOINT_H

#include <stdint.h>

#include <jansson.h>

#include "certmon/clock.h"
#include "certmon/err.h"
#include "certmon/store.h"

/* What one check found (and recorded). */
struct cm_endpoint_report {
	struct cm_endpoint ep;          /* the endpoint as recorded */
	int alarm;                      /* an alarm was raised */
	int recovered;                  /* fail -> pass/warn */
	char alarm_name[40];            /* "" = none */
	char alarm_message[CM_ERR_MSG_MAX + 500];
	char tls_version[24];           /* "" = no handshake */
};

/* Reads the settings and returns, in *interval, the re-check interval of
 * long-lived connections in seconds (0: Certificate Validity Check is off,
 * they are not re-checked). */
enum cm_status cm_endpoint_interval(struct cm_store *st, int64_t *interval,
    struct cm_err *err);

/* Returns when ep is due next under interval: 0 when interval is 0 (never),
 * added_at when it was never checked (at once), else checked_at +
 * interval. Pure. */
cm_time cm_endpoint_next(const struct cm_endpoint *ep, int64_t interval);

/* Checks endpoint `name` at now (blocking for at most about three times
 * the settings' timeout: connect, handshake, one OCSP or CRL fetch) and
 * records the outcome under the rules above. A peer that cannot be reached
 * or fails the handshake is a fail, not an error. Returns CM_OK with *rep
 * filled; CM_ERR_NOTFOUND for an unknown endpoint; other errors are local
 * (store, memory) and record nothing. */
enum cm_status cm_endpoint_check(struct cm_store *st, const char *name,
    const char *actor, cm_time now, struct cm_endpoint_report *rep,
    struct cm_err *err);

/* Returns the JSON object of an endpoint (CLI --json and the REST API):
 * name, address, host, port, starttls, trust_unit, added_at, verdict,
 * reason, status, leaf_subject, leaf_cn, leaf_fingerprint, not_after,
 * last_check, next_check (from cm_endpoint_next), changed_at; chain_pem
 * only when chain_pem is not NULL. The caller owns the reference. */
json_t *cm_endpoint_json(const struct cm_endpoint *ep, int64_t interval,
    const char *chain_pem);

/* Writes "host:port" (or "[v6]:port") into buf; returns buf. */
char *cm_endpoint_address(const struct cm_endpoint *ep, char *buf,
    size_t len);

#endif
