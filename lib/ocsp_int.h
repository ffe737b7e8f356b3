/*
 * ocsp_int.h - libcertmon-internal OCSP entry points: over OpenSSL types
 * for the TLS verify hook (lib/tls.c), which holds the peer's certificates
 * as X509 already, and requests about several certificates for the
 * revocation run (lib/revocation_run.c). Not a public
 * header: only include/certmon/tls.h may mention OpenSSL types in public.
 */
#ifndef CERTMON_OCSP_INT_H
#define CERTMON_OCSP_INT_H

#include <openssl/x509.h>

#include "certmon/ocsp.h"

/* cm_ocsp_validate over parsed certificates: cx is the certificate, ix its
 * issuer, cfp/ifp their SHA-256 fingerprints (the cache keys; the caller
 * vouches that they are the fingerprints of cx/ix). Same contract
 * otherwise: fills *out and returns out->status. */
enum cm_rev_status cm_ocsp_validate_x509(struct cm_ocsp_ctx *ctx,
    const struct cm_ocsp_request *req, const unsigned char *resp, size_t len,
    X509 *cx, const unsigned char cfp[CM_FP_LEN], X509 *ix,
    const unsigned char ifp[CM_FP_LEN], const struct cm_ocsp_opts *opts,
    cm_time now, struct cm_ocsp_result *out);

/* One certificate of a request that asks about several of one issuer.
 * RFC 6960 (4.1.1) lets a requestList hold many CertIDs, answered under
 * one signature; RFC 5019's lightweight profile allows one, so a
 * responder may refuse the others (cm_ocsp_validate_many says which to
 * ask about alone). */
struct cm_ocsp_member {
	const unsigned char *der;       /* in: the certificate */
	size_t der_len;
	const unsigned char *fp;        /* in: its SHA-256 */
	enum cm_status built;           /* out (build): CM_OK: asked about;
					 * CM_ERR_INVALID: step 0 failed;
					 * else the request was not built */
	int ask_alone;                  /* out (validate): a request about
					 * several got no answer for it */
	struct cm_ocsp_result res;      /* out: why not built (build), the
					 * outcome (validate) */
};

/* Builds *out, one request about those of m[0..n) issued by issuer that
 * pass step 0 (in order), each member's `built` saying what became of it.
 * CM_OK when at least one is asked about; CM_ERR_INVALID when none passes
 * step 0 (err: the first failure); other errors as cm_ocsp_request_build,
 * with every member not failing step 0 marked with that error. The
 * request's cert_fp is the one member's fingerprint, or for several the
 * SHA-256 of their fingerprints in order. */
enum cm_status cm_ocsp_request_build_many(struct cm_ocsp_ctx *ctx,
    struct cm_ocsp_member *m, size_t n, const struct cm_cert *issuer,
    const struct cm_ocsp_opts *opts, struct cm_ocsp_request *out,
    struct cm_err *err);

/* Validates resp[0..len) as the answer to req, built by
 * cm_ocsp_request_build_many for m[0..n) and issuer: fills the res of
 * each member asked about with what cm_ocsp_validate would say of it
 * alone, and sets ask_alone (req asking about several) where the
 * responder refused the request (malformedRequest, unauthorized) or
 * answered without a SingleResponse for the member. */
void cm_ocsp_validate_many(struct cm_ocsp_ctx *ctx,
    const struct cm_ocsp_request *req, const unsigned char *resp, size_t len,
    struct cm_ocsp_member *m, size_t n, const struct cm_cert *issuer,
    const struct cm_ocsp_opts *opts, cm_time now);

#endif
