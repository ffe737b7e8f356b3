/*
 * ocsp_int.h - libcertmon-internal OCSP entry points: over OpenSSL types
 * for the TLS verify hook (lib/tls.c), which holds the peer's certificates
 * as X509 already, and over DER for the revocation run. Not a public
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

/* cm_ocsp_request_build and cm_ocsp_validate for the certificate
 * der[0..der_len) whose SHA-256 is fp, the only parts of a cm_cert they
 * read: a revocation run builds no cm_cert for what OCSP answers. */
enum cm_status cm_ocsp_request_build_der(struct cm_ocsp_ctx *ctx,
    const unsigned char *der, size_t der_len,
    const unsigned char fp[CM_FP_LEN], const struct cm_cert *issuer,
    const struct cm_ocsp_opts *opts, struct cm_ocsp_request *out,
    struct cm_err *err);

enum cm_rev_status cm_ocsp_validate_der(struct cm_ocsp_ctx *ctx,
    const struct cm_ocsp_request *req, const unsigned char *resp, size_t len,
    const unsigned char *der, size_t der_len,
    const unsigned char fp[CM_FP_LEN], const struct cm_cert *issuer,
    const struct cm_ocsp_opts *opts, cm_time now,
    struct cm_ocsp_result *out);

#endif
