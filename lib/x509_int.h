/*
 * x509_int.h - helpers shared by the modules of libcertmon that read
 * OpenSSL objects (cert, ocsp, crl, tls). Internal: not installed.
 */
#ifndef CERTMON_X509_INT_H
#define CERTMON_X509_INT_H

#include <stddef.h>

#include <openssl/asn1.h>
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

#endif
