/*
 * cert.h - parsing X.509 certificates from uploaded bytes, and their fields.
 *
 * Accepts PEM (one or a bundle), DER, PKCS#7 (.p7b, PEM or DER) and PKCS#12
 * (with a password). The bytes are untrusted: they are size-bounded and this
 * is the one place that parses them. Private keys inside PKCS#12 files or PEM
 * bundles are never kept. Strings taken from a certificate are valid UTF-8
 * without NUL bytes but may hold any other character: whoever prints them
 * escapes them for where they go.
 */
#ifndef CERTMON_CERT_H
#define CERTMON_CERT_H

#include <stddef.h>
#include <stdint.h>

#include "certmon/clock.h"
#include "certmon/err.h"

#define CM_FP_LEN 32                 /* SHA-256 */
#define CM_FP_HEX_LEN (2 * CM_FP_LEN + 1)

#define CM_DEFAULT_MAX_FILE_BYTES (1024 * 1024)
#define CM_DEFAULT_MAX_RSA_BITS 4096
#define CM_DEFAULT_MAX_P12_ITER 1000000

struct cm_strlist {
	char **v;
	size_t n;
};

struct cm_cert {
	unsigned char fp[CM_FP_LEN];    /* SHA-256 of the DER: the identity */
	char fp_hex[CM_FP_HEX_LEN];     /* lower-case hex of fp */
	char *subject;                  /* RFC 2253 distinguished name */
	char *issuer;
	char *subject_cn;               /* "" when there is no CN */
	char *issuer_cn;
	char *serial_hex;               /* upper-case hex, no separators */
	cm_time not_before;
	cm_time not_after;
	char key_type[16];              /* "RSA", "EC", "Ed25519", ... */
	int key_bits;
	char *sig_alg;                  /* e.g. "sha256WithRSAEncryption" */
	int is_ca;                      /* basicConstraints cA */
	int version;                    /* 1 or 3 */
	struct cm_strlist sans;         /* "DNS:x", "IP:1.2.3.4", "email:..." */
	struct cm_strlist ekus;         /* "serverAuth", "OCSPSigning", or OID */
	struct cm_strlist ocsp_urls;    /* AIA id-ad-ocsp URIs */
	struct cm_strlist ca_issuers;   /* AIA id-ad-caIssuers URIs */
	struct cm_strlist crl_urls;     /* CRL distribution point URIs */
	int ocsp_nocheck;               /* id-pkix-ocsp-nocheck present */
	unsigned char *der;
	size_t der_len;
};

struct cm_cert_list {
	struct cm_cert **v;
	size_t n;
	size_t cap;
	int had_private_key;            /* a key was present and dropped */
};

struct cm_parse_opts {
	const char *password;           /* PKCS#12 password, NULL = none */
	size_t max_bytes;               /* 0 = CM_DEFAULT_MAX_FILE_BYTES */
	int max_rsa_bits;               /* 0 = CM_DEFAULT_MAX_RSA_BITS */
	long max_p12_iter;              /* 0 = CM_DEFAULT_MAX_P12_ITER */
};

/* Parses every certificate in buf (any accepted format) and appends them to
 * out (which the caller owns; it may already hold certificates). `name`
 * (e.g. the file name) starts every error message. Returns CM_OK, or an
 * error with nothing appended. Thread-safe. */
enum cm_status cm_cert_parse(const unsigned char *buf, size_t len,
    const char *name, const struct cm_parse_opts *opts,
    struct cm_cert_list *out, struct cm_err *err);

/* Reads the file at path (refusing it above opts->max_bytes without reading
 * it whole) and parses it like cm_cert_parse. */
enum cm_status cm_cert_parse_file(const char *path,
    const struct cm_parse_opts *opts, struct cm_cert_list *out,
    struct cm_err *err);

/* Builds a certificate from exactly one DER certificate (e.g. one read back
 * from the store). On success *out is owned by the caller. */
enum cm_status cm_cert_from_der(const unsigned char *der, size_t len,
    struct cm_cert **out, struct cm_err *err);

/* Returns a newly allocated PEM text of the certificate, or NULL. */
char *cm_cert_to_pem(const struct cm_cert *cert);

/* Frees a certificate; NULL is fine. */
void cm_cert_free(struct cm_cert *cert);

/* Appends cert to list (taking ownership); returns CM_OK or CM_ERR_NOMEM
 * (then cert is freed). */
enum cm_status cm_cert_list_push(struct cm_cert_list *list,
    struct cm_cert *cert);

/* Frees every certificate in list and the array; leaves list empty. */
void cm_cert_list_clear(struct cm_cert_list *list);

/* Returns 1 when `subject` was signed by `issuer` (issuer's public key
 * verifies subject's signature), 0 otherwise (also on parse failure). */
int cm_cert_signed_by(const struct cm_cert *subject,
    const struct cm_cert *issuer);

#endif
