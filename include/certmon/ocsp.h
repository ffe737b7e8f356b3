/*
 * ocsp.h - OCSP requests and the validation of OCSP responses (RFC 6960,
 * RFC 5019), pure over bytes, certificates, options and `now`: no I/O, no
 * clock. Fetching is fetch.h; the one-shot check that joins both and the
 * verdict table are revocation.h.
 *
 * A response is validated in the order of DESIGN.md, and the first step
 * that fails makes the status CM_REV_ERROR with a one-line reason naming it:
 *   step 0 issuer     the issuer certificate's key verifies the certificate
 *   step 1 response   successful, basic, no unknown critical extension,
 *                     exactly one SingleResponse for our CertID
 *   step 2/3 signer   delegated model (the issuing CA, or a responder it
 *                     certified with id-kp-OCSPSigning, valid at now; in
 *                     Common Criteria mode also id-pkix-ocsp-nocheck or a
 *                     CRL check), else trusted-responder model (a
 *                     designated responder certificate, valid at now)
 *   step 4 freshness  producedAt/thisUpdate/nextUpdate against now +- skew,
 *                     thisUpdate within max_age when nextUpdate is absent
 *   step 5 nonce      ours when the response carries one; required only
 *                     with require_nonce
 * The response bytes are untrusted; they are parsed here and nowhere else.
 */
#ifndef CERTMON_OCSP_H
#define CERTMON_OCSP_H

#include <stddef.h>
#include <stdint.h>

#include "certmon/cert.h"
#include "certmon/clock.h"
#include "certmon/err.h"
#include "certmon/revocation.h"

#define CM_OCSP_MAX_RESPONSE_BYTES (64 * 1024)
#define CM_OCSP_DEFAULT_SKEW 300                 /* seconds */
#define CM_OCSP_DEFAULT_MAX_AGE (7 * 86400)      /* seconds */
#define CM_OCSP_NONCE_MIN 16
#define CM_OCSP_NONCE_MAX 32
#define CM_OCSP_NONCE_DEFAULT 32
#define CM_OCSP_TEXT_MAX 512

/* The hash of the CertID in our requests. */
enum cm_ocsp_hash {
	CM_OCSP_HASH_SHA1 = 0,  /* what RFC 5019 responders expect */
	CM_OCSP_HASH_SHA256
};

/* Which trust model accepted the response's signer. */
enum cm_ocsp_trust {
	CM_OCSP_TRUST_NONE = 0,
	CM_OCSP_TRUST_DELEGATED,        /* the issuing CA or its delegate */
	CM_OCSP_TRUST_RESPONDER         /* a designated (trusted) responder */
};

/* Checks a delegated responder certificate by CRL (Common Criteria mode,
 * responder without id-pkix-ocsp-nocheck but with a CRL distribution
 * point). Returns CM_REV_GOOD when the CRL vouches for it; any other status
 * fails the delegated model, with a one-line explanation in why. */
typedef enum cm_rev_status (*cm_ocsp_crl_fn)(const struct cm_cert *responder,
    const struct cm_cert *issuer, cm_time now, void *arg, char *why,
    size_t why_len);

/* Options; all-zero means the defaults. */
struct cm_ocsp_opts {
	int common_criteria;
	int no_nonce;                   /* requests carry no nonce */
	int require_nonce;              /* a response without our nonce fails */
	size_t nonce_len;               /* 16..32 octets; 0 = 32 */
	enum cm_ocsp_hash hash;         /* CertID hash of our requests */
	int64_t skew;                   /* seconds; 0 = 300, < 0 = none */
	int64_t max_age;                /* seconds; 0 = 7 days */
	size_t max_bytes;               /* response cap; 0 = 64 KiB */
	const struct cm_cert_list *trusted;     /* designated responders */
	cm_ocsp_crl_fn crl_check;       /* NULL: Common Criteria fails a
					 * responder that needs a CRL check */
	void *crl_arg;
};

/* A request to send (DER, "application/ocsp-request"). */
struct cm_ocsp_request {
	unsigned char *der;
	size_t der_len;
	enum cm_ocsp_hash hash;
	unsigned char nonce[CM_OCSP_NONCE_MAX];
	size_t nonce_len;               /* 0: sent without a nonce */
	unsigned char cert_fp[CM_FP_LEN];       /* the pair it was built */
	unsigned char issuer_fp[CM_FP_LEN];     /* for (step 0 passed) */
};

/* The outcome of a validation. Strings are UTF-8 without control bytes,
 * taken from untrusted input: escape them for where they go. */
struct cm_ocsp_result {
	enum cm_rev_status status;
	enum cm_ocsp_trust trust_model; /* NONE unless the signer was accepted */
	char reason[CM_ERR_MSG_MAX];    /* one line, also for good */
	cm_time this_update;            /* 0 = not known */
	cm_time next_update;            /* 0 = absent */
	cm_time produced_at;
	cm_time revocation_time;        /* revoked only */
	char revocation_reason[32];     /* RFC 5280 name, "" = none given */
	char responder[CM_OCSP_TEXT_MAX];       /* accepted signer's subject */
};

/* A context: the caches of verified "certificate X is signed by the key of
 * certificate Y" facts and of decoded certificates (both by SHA-256
 * fingerprints, bounded), so that repeated checks skip re-verifying issuers
 * and responder certificates and re-decoding their keys. One context may be
 * shared by any number of threads. */
struct cm_ocsp_ctx;

/* Creates a context; on success *out is owned by the caller. */
enum cm_status cm_ocsp_ctx_new(struct cm_ocsp_ctx **out, struct cm_err *err);

/* Frees a context; NULL is fine. */
void cm_ocsp_ctx_free(struct cm_ocsp_ctx *ctx);

/* Reads the cache counters (either pointer may be NULL). */
void cm_ocsp_ctx_stats(struct cm_ocsp_ctx *ctx, uint64_t *hits,
    uint64_t *misses);

/* Step 0: returns CM_OK when issuer is the certificate's issuer (its
 * subject is cert's issuer name and its key verifies cert's signature),
 * else CM_ERR_INVALID with "step 0 issuer: ...". ctx may be NULL. */
enum cm_status cm_ocsp_check_issuer(struct cm_ocsp_ctx *ctx,
    const struct cm_cert *cert, const struct cm_cert *issuer,
    struct cm_err *err);

/* Builds a request for cert (issued by issuer) after step 0 (as
 * cm_ocsp_check_issuer; its error when the pair fails): one CertID
 * (opts->hash, SHA-1 by default) and, unless opts->no_nonce, a fresh
 * random nonce. cm_ocsp_validate of an answer to it for the same pair
 * skips step 0. ctx (caches) may be NULL. On success *out owns its DER:
 * release it with cm_ocsp_request_clear. */
enum cm_status cm_ocsp_request_build(struct cm_ocsp_ctx *ctx,
    const struct cm_cert *cert, const struct cm_cert *issuer,
    const struct cm_ocsp_opts *opts, struct cm_ocsp_request *out,
    struct cm_err *err);

/* Frees the DER of req and zeroes it; NULL is fine. */
void cm_ocsp_request_clear(struct cm_ocsp_request *req);

/* Returns the RFC 5019 GET URL of req at the responder base (base, "/",
 * then the URL-encoded base64 of the DER), newly allocated, or NULL when
 * out of memory. RFC 5019 asks for POST when the result exceeds 255 bytes;
 * the caller decides. */
char *cm_ocsp_request_get_url(const char *base,
    const struct cm_ocsp_request *req);

/* Validates the response bytes resp[0..len) for cert (issued by issuer) at
 * `now`. req is the request they answer (its CertID hash and nonce), or
 * NULL for a stapled response (then any SHA-1/SHA-2 CertID is accepted and
 * step 5 is skipped). Fills *out - status CM_REV_ERROR with the reason of
 * the first failed step, never good or revoked on a failure - and returns
 * out->status. ctx may be NULL (no cache). Thread-safe. */
enum cm_rev_status cm_ocsp_validate(struct cm_ocsp_ctx *ctx,
    const struct cm_ocsp_request *req, const unsigned char *resp, size_t len,
    const struct cm_cert *cert, const struct cm_cert *issuer,
    const struct cm_ocsp_opts *opts, cm_time now,
    struct cm_ocsp_result *out);

/* Resets *out to status CM_REV_ERROR with a printf-style reason (made one
 * line): for failures outside the validation (fetching, local errors). */
void cm_ocsp_result_error(struct cm_ocsp_result *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Returns "delegated", "trusted-responder", or NULL for CM_OCSP_TRUST_NONE. */
const char *cm_ocsp_trust_name(enum cm_ocsp_trust trust);

#endif
