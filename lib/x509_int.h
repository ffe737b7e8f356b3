/*
 * x509_int.h - helpers shared by the modules of libcertmon that read
 * OpenSSL objects (cert, ocsp, crl, tls). Internal: not installed.
 */
#ifndef CERTMON_X509_INT_H
#define CERTMON_X509_INT_H

#include <stddef.h>

#include <openssl/asn1.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "certmon/clock.h"

/* Converts t to seconds since the epoch without libc's time zone state:
 * 0, or -1 when t is NULL or malformed. */
int cm_asn1_time_epoch(const ASN1_TIME *t, cm_time *out);

/* Copies the UTF-8 text src[0..len) into dst (cap bytes), cutting at a
 * character boundary; returns 0, or -1 (dst untouched) when src is not
 * well-formed UTF-8 or holds control bytes. */
int cm_utf8_copy(char *dst, size_t cap, const char *src, size_t len);

/* Writes the RFC 2253 text of n into buf (UTF-8 when it is clean, else
 * with every non-ASCII byte escaped; "(empty name)" or "(unprintable
 * name)" when there is nothing to show). */
void cm_x509_name_text(const X509_NAME *n, char *buf, size_t cap);

/* ---- the light certificate decoder ----------------------------------------
 *
 * d2i_X509 of OpenSSL 3.0 loads every public key through the provider
 * decoders: about 100 us a certificate, most of a parse, behind global
 * locks. CM_X509 is X509's own template (crypto/x509/x_x509.c) with the
 * SubjectPublicKeyInfo kept as its two fields, so it accepts the same
 * bytes and leaves the key undecoded.
 */
typedef struct {
	X509_ALGOR *algor;
	ASN1_BIT_STRING *public_key;
} CM_SPKI;

typedef struct {
	ASN1_INTEGER *version;
	ASN1_INTEGER *serial;
	X509_ALGOR *signature;
	X509_NAME *issuer;
	X509_VAL *validity;
	X509_NAME *subject;
	CM_SPKI *key;
	ASN1_BIT_STRING *issuer_uid;
	ASN1_BIT_STRING *subject_uid;
	STACK_OF(X509_EXTENSION) *extensions;
} CM_TBS;

typedef struct {
	CM_TBS *tbs;
	X509_ALGOR *sig_alg;
	ASN1_BIT_STRING *signature;
} CM_X509;

/* Decodes the certificate at the start of buf (len bytes); *used is its
 * length. NULL when it does not decode. Free with cm_x509_light_free. */
CM_X509 *cm_x509_light_d2i(const unsigned char *buf, size_t len,
    size_t *used);

/* Frees x; NULL is fine. */
void cm_x509_light_free(CM_X509 *x);

/* DER of k (a SubjectPublicKeyInfo) into *der, as i2d functions do. */
int cm_x509_spki_i2d(const CM_SPKI *k, unsigned char **der);

/* ---- the signature-only decoder ------------------------------------------
 *
 * What an OCSP check needs of the certificate it asks about: its serial,
 * its issuer name, and its signature checked against the issuer's key
 * (step 0). Every other field stays as received, undecoded (ASN1_ANY), even
 * the issuer name, whose decoding costs more than the rest (OpenSSL
 * computes its canonical form): ~2 us a certificate, where the light
 * decoder takes ~11 and d2i_X509 ~100. The same bytes are accepted as
 * CM_X509 accepts, but the fields kept as ANY are not checked.
 */
typedef struct {
	ASN1_INTEGER *version;
	ASN1_INTEGER *serial;
	X509_ALGOR *signature;
	ASN1_TYPE *issuer;              /* the Name as received */
	ASN1_TYPE *validity;
	ASN1_TYPE *subject;
	ASN1_TYPE *key;
	ASN1_BIT_STRING *issuer_uid;
	ASN1_BIT_STRING *subject_uid;
	ASN1_TYPE *extensions;
	ASN1_ENCODING enc;              /* the bytes as received */
} CM_SIG_TBS;

typedef struct {
	CM_SIG_TBS *tbs;
	X509_ALGOR *sig_alg;
	ASN1_BIT_STRING *signature;
} CM_X509_SIG;

/* Decodes the certificate der[0..len), which it must fill exactly; NULL
 * when it does not decode. Free with cm_x509_sig_free. */
CM_X509_SIG *cm_x509_sig_d2i(const unsigned char *der, size_t len);

/* Frees x; NULL is fine. */
void cm_x509_sig_free(CM_X509_SIG *x);

/* The DER of x's issuer name (inside x). */
void cm_x509_sig_issuer_der(const CM_X509_SIG *x, const unsigned char **der,
    size_t *len);

/* Returns 1 when key verifies x's signature, as X509_verify does (the
 * outer and the inner signature algorithm must be the same), else 0. */
int cm_x509_sig_verify(const CM_X509_SIG *x, EVP_PKEY *key);

#endif
