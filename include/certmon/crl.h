/*
 * crl.h - certificate revocation lists (RFC 5280 §5): the one place CRL
 * bytes are parsed, their validation, serial look-ups, and the CRL check
 * of a certificate (download, store cache, validation, look-up).
 *
 * A CRL is accepted for a certificate only when, in this order:
 *   parse      one DER CertificateList (or one PEM "X509 CRL"), within the
 *              cap (16 MiB), no trailing bytes
 *   issuer     its issuer name is the issuer certificate's subject
 *   signer     the issuer certificate may sign CRLs: cRLSign in its
 *              keyUsage (when it has a keyUsage extension)
 *   signature  it verifies with the issuer certificate's key
 *   kind       not a delta CRL (deltaCRLIndicator), not an indirect CRL
 *              (indirectCRL, certificateIssuer entries): refused with a
 *              reason saying so
 *   extensions no unknown critical extension, in the CRL or in any entry
 *   scope      an issuingDistributionPoint, when present, names the URL the
 *              CRL was fetched from, covers all reasons, and covers the
 *              kind of certificate checked (onlyContainsUserCerts /
 *              onlyContainsCACerts / onlyContainsAttributeCerts)
 *   freshness  thisUpdate <= now + skew; nextUpdate >= now - skew; without
 *              nextUpdate, thisUpdate within the maximum age (7 days)
 *   order      its CRL number (and thisUpdate) not lower than the cached
 *              CRL's (a replayed, rolled-back CRL is refused)
 * The first step that fails makes the status CM_REV_ERROR (never good, never
 * revoked) with a one-line reason starting "CRL ". A serial on the CRL is
 * revoked (with its reason and date); an entry with reason removeFromCRL
 * counts as not revoked; a serial not on it is good.
 */
#ifndef CERTMON_CRL_H
#define CERTMON_CRL_H

#include <stddef.h>
#include <stdint.h>

#include "certmon/cert.h"
#include "certmon/clock.h"
#include "certmon/err.h"
#include "certmon/fetch.h"
#include "certmon/revocation.h"
#include "certmon/store.h"

#define CM_CRL_MAX_BYTES CM_FETCH_CRL_MAX_BYTES
#define CM_CRL_DEFAULT_SKEW 300                 /* seconds */
#define CM_CRL_DEFAULT_MAX_AGE (7 * 86400)      /* without nextUpdate */
#define CM_CRL_URL_MAX 1024
#define CM_CRL_TEXT_MAX 512

/* A parsed (not yet validated) CRL. */
struct cm_crl;

/* What a CRL says about itself. Strings are UTF-8 without control bytes. */
struct cm_crl_info {
	char issuer[CM_CRL_TEXT_MAX];   /* RFC 2253 */
	cm_time this_update;
	cm_time next_update;            /* 0 = absent */
	char number[CM_CRL_NUMBER_MAX]; /* upper-case hex, "" = none */
	size_t entries;
	int delta;                      /* has a deltaCRLIndicator */
};

/* Options of the validation; all-zero means the defaults. */
struct cm_crl_opts {
	int64_t skew;                   /* seconds; 0 = 300, < 0 = none */
	int64_t max_age;                /* seconds; 0 = 7 days */
	size_t max_bytes;               /* parse cap; 0 = 16 MiB */
};

/* The outcome of a CRL check of one certificate. */
struct cm_crl_result {
	enum cm_rev_status status;      /* good, revoked or error */
	char reason[CM_ERR_MSG_MAX];    /* one line, also for good */
	char url[CM_CRL_URL_MAX];       /* the CRL used, "" = none */
	char issuer[CM_CRL_TEXT_MAX];   /* the CRL's issuer, "" = none */
	cm_time this_update;            /* of the CRL used; 0 on error */
	cm_time next_update;
	cm_time revocation_time;        /* revoked only */
	char revocation_reason[32];     /* RFC 5280 name, "" = none given */
	char number[CM_CRL_NUMBER_MAX];
	int from_cache;                 /* the CRL came from the store's cache
					 * or earlier in this context */
};

/* Parses buf[0..len) (DER, or PEM "-----BEGIN X509 CRL-----"), at most
 * max_bytes (0 = 16 MiB). On success *out is owned by the caller
 * (cm_crl_free); else CM_ERR_INVALID / CM_ERR_TOOBIG with "CRL parse: ...".
 * Validates nothing but the encoding. Thread-safe. */
enum cm_status cm_crl_parse(const unsigned char *buf, size_t len,
    size_t max_bytes, struct cm_crl **out, struct cm_err *err);

/* Frees a CRL; NULL is fine. */
void cm_crl_free(struct cm_crl *crl);

/* Fills *out from crl. */
void cm_crl_get_info(const struct cm_crl *crl, struct cm_crl_info *out);

/* Returns the DER of crl (valid while crl lives) and its length. */
const unsigned char *cm_crl_der(const struct cm_crl *crl, size_t *len);

/* Validates crl as the CRL fetched from url (NULL = no scope check of the
 * distribution point name) issued by issuer, at now: every step of the
 * list above except the look-up. min_number (NULL or "" = none) and
 * min_this_update (0 = none) are those of the cached CRL it would replace.
 * CM_OK, or CM_ERR_INVALID with a one-line reason starting "CRL ". Pure;
 * thread-safe. */
enum cm_status cm_crl_validate(const struct cm_crl *crl,
    const struct cm_cert *issuer, const char *url, const char *min_number,
    cm_time min_this_update, const struct cm_crl_opts *opts, cm_time now,
    struct cm_err *err);

/* Looks cert up in a validated crl: fills *out (status good or revoked, or
 * error when the CRL's scope does not cover this kind of certificate) and
 * returns out->status. Only out's status, reason and revocation fields are
 * set; the caller sets the others. */
enum cm_rev_status cm_crl_lookup(const struct cm_crl *crl,
    const struct cm_cert *cert, struct cm_crl_result *out);

/* Compares two CRL numbers in upper-case hex ("" = none, lowest):
 * < 0, 0, > 0 like strcmp. */
int cm_crl_number_cmp(const char *a, const char *b);

/* ---- the CRL check of certificates ------------------------------------------ */

/* A context of CRL checks: the CRLs already fetched and validated (by URL
 * and issuer), the store's cache, and counters. One context serves one
 * run (or one upload); a mutex makes it safe to share between threads. */
struct cm_crl_ctx;

struct cm_crl_ctx_opts {
	struct cm_store *store;         /* the CRL cache; NULL = none */
	const struct cm_strlist *urls;  /* configured CRL URLs; NULL or empty
					 * = each certificate's http(s) CDP */
	struct cm_fetch_opts fetch;     /* max_bytes 0 = 16 MiB */
	struct cm_crl_opts crl;
};

/* Creates a context (copies the option values, not the lists: urls and
 * fetch.allow_hosts must outlive it). *out is owned by the caller. */
enum cm_status cm_crl_ctx_new(const struct cm_crl_ctx_opts *opts,
    struct cm_crl_ctx **out, struct cm_err *err);

/* Frees a context; NULL is fine. */
void cm_crl_ctx_free(struct cm_crl_ctx *ctx);

/* Reads the counters: downloads attempted, CRLs taken from the store's
 * cache (either pointer may be NULL). */
void cm_crl_ctx_stats(struct cm_crl_ctx *ctx, uint64_t *fetched,
    uint64_t *from_store);

/* Checks cert (issued by issuer; the caller has verified that) at now: for
 * each CRL URL in turn (configured, else the certificate's http(s) CDP),
 * uses the CRL validated earlier in this context, else the store's cached
 * one while its nextUpdate has not passed, else downloads it (cm_fetch_get,
 * 16 MiB cap), validates it and caches it in the store (only when it has a
 * nextUpdate); the first valid CRL answers. Every failure becomes status
 * CM_REV_ERROR with a reason naming the URL and the step. Fills *out and
 * returns out->status. Honours cm_cancel_requested() (through fetch). */
enum cm_rev_status cm_crl_check(struct cm_crl_ctx *ctx,
    const struct cm_cert *cert, const struct cm_cert *issuer, cm_time now,
    struct cm_crl_result *out);

/* The cm_ocsp_crl_fn of ocsp.h over a context (arg: struct cm_crl_ctx *):
 * the CRL check of a delegated OCSP responder certificate in Common
 * Criteria mode. */
enum cm_rev_status cm_crl_ocsp_hook(const struct cm_cert *responder,
    const struct cm_cert *issuer, cm_time now, void *arg, char *why,
    size_t why_len);

#endif
