/*
 * revocation.h - revocation statuses, the verdict table, and the one-shot
 * OCSP check (issuer, request, fetch, validation) of libcertmon.
 *
 * The statuses are shared by OCSP and (later) CRL checking. The verdict is
 * the table of DESIGN.md "Certificate Revocation":
 *
 *   status                  Common Criteria on   Common Criteria off
 *   good                    pass                 pass
 *   revoked (incl. on hold) fail                 fail
 *   unknown                 fail                 pass (warning)
 *   error (no valid answer) fail                 pass, with an alarm
 *
 * and an expired certificate fails whatever its revocation status.
 */
#ifndef CERTMON_REVOCATION_H
#define CERTMON_REVOCATION_H

#include "certmon/cert.h"
#include "certmon/clock.h"
#include "certmon/err.h"

enum cm_rev_status {
	CM_REV_GOOD = 0,
	CM_REV_REVOKED,         /* incl. on hold (certificateHold) */
	CM_REV_UNKNOWN,         /* the responder does not know the certificate */
	CM_REV_ERROR            /* no valid answer */
};

/* The values are the exit codes of checks (monitoring-plugin convention). */
enum cm_verdict {
	CM_VERDICT_PASS = 0,
	CM_VERDICT_WARN = 1,    /* pass with a warning (unknown, or soft-fail) */
	CM_VERDICT_FAIL = 2
};

struct cm_rev_verdict {
	enum cm_verdict verdict;
	int alarm;              /* soft-fail: the caller raises an alarm */
	int expired;            /* failed because the certificate expired */
	char reason[CM_ERR_MSG_MAX];    /* one line */
};

/* Returns "good", "revoked", "unknown" or "error" (static). */
const char *cm_revocation_status_name(enum cm_rev_status status);

/* Returns "pass" for CM_VERDICT_PASS and CM_VERDICT_WARN, "fail" for
 * CM_VERDICT_FAIL (static). */
const char *cm_revocation_verdict_name(enum cm_verdict verdict);

/* Applies the verdict table to `status` (whose one-line explanation is
 * status_reason, NULL = none) in Common Criteria mode or not, then fails a
 * certificate whose not_after lies before now (not_after 0 = not known)
 * with a reason starting "certificate expired". Fills *out; never fails. */
void cm_revocation_verdict(enum cm_rev_status status,
    const char *status_reason, int common_criteria, cm_time not_after,
    cm_time now, struct cm_rev_verdict *out);

struct cm_ocsp_ctx;
struct cm_ocsp_opts;
struct cm_ocsp_result;
struct cm_fetch_opts;

/* One OCSP check of cert, whose issuer is `issuer`, against the responder
 * at url: verifies the issuer (step 0), builds a request (with a nonce
 * unless oopts->no_nonce), POSTs it through cm_fetch_post (fopts NULL =
 * defaults; the body cap defaults to the OCSP cap) and validates the answer
 * at `now` with cm_ocsp_validate. Every failure, local or remote, becomes
 * status CM_REV_ERROR with a reason naming its step ("step 0 issuer: ...",
 * "fetch: ...", "step 1 response: ..."). ctx may be NULL (no cache).
 * Fills *out and returns out->status. Thread-safe. */
enum cm_rev_status cm_revocation_check_ocsp(struct cm_ocsp_ctx *ctx,
    const struct cm_cert *cert, const struct cm_cert *issuer, const char *url,
    const struct cm_ocsp_opts *oopts, const struct cm_fetch_opts *fopts,
    cm_time now, struct cm_ocsp_result *out);

#endif
