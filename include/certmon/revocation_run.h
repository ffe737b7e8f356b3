/*
 * revocation_run.h - the Certificate Revocation service over the store: a
 * run (periodic or on demand), the check of certificates being uploaded,
 * and the schedule. The thin layer of I/O around ocsp.h, crl.h and the
 * verdict of revocation.h.
 *
 * A run checks every current certificate (leaves and intermediates) whose
 * issuer is in the store (found by its subject and verified by its key;
 * self-signed roots and certificates without a stored issuer are skipped;
 * expired certificates are reported, not checked): a stored answer is
 * reused while it is cached (until nextUpdate, at most cache_max) and
 * younger than Check Every; else OCSP (when Enable OCSP is on: the AIA or
 * the configured URL, all requests at once, bounded per responder), then a
 * CRL (when Enable CRL is on and OCSP is off or gave no valid answer). The
 * answers, one event per status change, CertificateRevoked once per
 * transition to revoked, RevocationCheckFailed once per transition to error,
 * and the service's run are recorded in one transaction.
 */
#ifndef CERTMON_REVOCATION_RUN_H
#define CERTMON_REVOCATION_RUN_H

#include <stddef.h>

#include <jansson.h>

#include "certmon/cert.h"
#include "certmon/import.h"
#include "certmon/revocation.h"
#include "certmon/settings.h"
#include "certmon/store.h"

/* One certificate of a run or an upload check. */
struct cm_rev_result {
	char fingerprint[CM_FP_HEX_LEN];
	char *units;                    /* "tomcat, CallManager" */
	char *subject_cn;
	char *serial_hex;
	char *file;                     /* upload checks: where it came from */
	cm_time not_after;
	char status[12];                /* good, revoked, unknown, error, or
					 * "unchecked" (expired, never
					 * checked) */
	char source[CM_REV_SOURCE_MAX]; /* "ocsp", "crl", "" */
	char reason[CM_ERR_MSG_MAX];    /* of the recorded answer */
	struct cm_rev_verdict verdict;  /* at now, expiry included (uploads:
					 * expiry left out) */
	int checked;                    /* answered in this run (cache or
					 * network); 0 for expired ones */
	int from_cache;                 /* the stored answer was reused */
	int changed;                    /* the recorded status changed */
	enum cm_rev_keep kept;          /* what the store did with the answer */
};

/* Certificates of one run that OCSP requests to one responder asked
 * about and that ended one way (a request can ask about several). */
struct cm_rev_check_count {
	char responder[CM_REV_URI_MAX]; /* the request URL */
	char outcome[12];               /* good, revoked, unknown, error */
	size_t count;
};

struct cm_revocation_report {
	struct cm_rev_result *v;
	size_t n;
	struct cm_rev_check_count *checks_by;  /* OCSP checks by responder
						  * and outcome */
	size_t n_checks_by;
	size_t checked;                 /* certificates answered */
	size_t from_cache;              /* ... by a stored answer */
	size_t requests;                /* HTTP requests sent (OCSP and CRL) */
	size_t skipped;                 /* no issuer in the store, or roots */
	size_t expired;                 /* expired: reported, not checked */
	size_t count[4];                /* checked ones by status */
	int alarms;                     /* alarms raised */
	int ocsp, crl;                  /* what was on */
	cm_time ran_at;
	cm_time next_run;               /* now + Check Every */
};

/* Performs one run at `now` (which stands for "now" in every decision and
 * every stored timestamp). *rep is owned by the caller
 * (cm_revocation_report_free). A run stops promptly, recording nothing,
 * when cm_cancel_requested() (CM_ERR_IO "cancelled"). */
enum cm_status cm_revocation_run(struct cm_store *st, cm_time now,
    const char *actor, struct cm_revocation_report *rep, struct cm_err *err);

/* Frees the results of a report; leaves it empty. */
void cm_revocation_report_free(struct cm_revocation_report *rep);

/* When the periodic run is next due for the service svc (read from the
 * store) with Check Every `every`: at once (started_at) when it never ran;
 * with a stored next run, the earlier of it and last run + every (a shorter
 * Check Every takes effect at once); after a (re)start, start + every, or
 * at once when the last run is at least `every` older than the start.
 * Pure. */
cm_time cm_revocation_next_run(const struct cm_service *svc, int64_t every);

/* ---- the check on upload ------------------------------------------------------ */

/* Uploads certs (parsed from `name`, e.g. the file) into unit like
 * cm_store_upload, but first, when Enable OCSP is on, checks the
 * certificates whose issuer is in the store or in certs (cached answers
 * reused) and refuses the whole upload - CM_ERR_CONFLICT, nothing changed,
 * one line naming `name` and the certificate - when the verdict fails
 * (revoked; in Common Criteria mode also unknown and error). Expiry never
 * refuses. The answers of an accepted upload are recorded like a run's
 * (events and alarms included). */
enum cm_status cm_revocation_upload(struct cm_store *st, const char *unit,
    const struct cm_cert_list *certs, const char *name,
    const struct cm_upload_opts *uopts, const char *actor, cm_time now,
    struct cm_upload_report *report, struct cm_err *err);

/* cm_import_files with the same check: when Enable OCSP is on, the files
 * are parsed and checked first (error messages name the file), then
 * imported. */
enum cm_status cm_revocation_import_files(struct cm_store *st,
    const char *unit, const char *const *paths, size_t n,
    const struct cm_parse_opts *popts, const struct cm_upload_opts *uopts,
    int threads, const char *actor, cm_time now,
    struct cm_upload_report *report, struct cm_err *err);

/* ---- JSON (the CLI's --json and the REST API share these shapes) --------------- */

/* Returns the settings as an object: ocsp, uri_source ("cert" or
 * "configured"), uri, check, every ("24h"), crl, crl_uris (array),
 * trust_unit, require_nonce, skew ("5m"), timeout (seconds), cache_max
 * ("7d"), allow_hosts (array). Caller owns the reference. */
json_t *cm_revocation_settings_json(const struct cm_revocation_settings *s);

/* Returns the Enterprise Parameters as an object: cert_validity_check,
 * validity_check_frequency ("24h"), common_criteria. */
json_t *cm_params_settings_json(const struct cm_params_settings *s);

/* Applies the fields present in obj (the shape above; durations also as
 * integer seconds, lists also as one string with a URL/host a line) to *s.
 * CM_ERR_INVALID naming the field when one has the wrong type or form;
 * other keys are ignored. Validation of the values is
 * cm_revocation_settings_save's. */
enum cm_status cm_revocation_settings_from_json(json_t *obj,
    struct cm_revocation_settings *s, struct cm_err *err);

/* The same for the Enterprise Parameters. */
enum cm_status cm_params_settings_from_json(json_t *obj,
    struct cm_params_settings *s, struct cm_err *err);

/* Returns the report of a run as an object: ran_at, checked, from_cache,
 * requests, skipped, expired, counts, alarms, ocsp, crl, next_run, and
 * results, one cm_json_rev_result (json.h) per certificate. */
json_t *cm_revocation_report_json(const struct cm_revocation_report *rep);

/* The same object without results (for writers that stream them). */
json_t *cm_revocation_summary_json(const struct cm_revocation_report *rep);

#endif
