/*
 * mint.h - in-memory certificates for unit tests (libcrypto), so that
 * table-driven tests can state notBefore/notAfter/CN/serial exactly.
 * Header-only: each test program includes it once.
 */
#ifndef CERTMON_TEST_MINT_H
#define CERTMON_TEST_MINT_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certmon/cert.h"

struct mint_spec {
	const char *cn;          /* NULL = no CN (subject O=certmon only) */
	const char *issuer_cn;   /* NULL = self-signed */
	long serial;
	cm_time not_before;
	cm_time not_after;
	int is_ca;
};

/* One key for everything: tests need distinct certificates, not keys.
 * Ed25519 signatures are deterministic, so the same spec mints the same
 * certificate twice. */
static EVP_PKEY *
mint_key(void)
{
	static EVP_PKEY *key;

	if (key == NULL)
		key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	return key;
}

/* Returns a parsed certificate for spec (caller frees), or NULL. */
static struct cm_cert *
mint(const struct mint_spec *s)
{
	X509 *x = X509_new();
	X509_NAME *subj = X509_NAME_new(), *iss = X509_NAME_new();
	unsigned char *der = NULL;
	struct cm_cert *out = NULL;
	int len;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), s->serial);
	X509_NAME_add_entry_by_txt(subj, "O", MBSTRING_UTF8,
	    (const unsigned char *)"certmon", -1, -1, 0);
	if (s->cn != NULL)
		X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8,
		    (const unsigned char *)s->cn, -1, -1, 0);
	X509_NAME_add_entry_by_txt(iss, "CN", MBSTRING_UTF8,
	    (const unsigned char *)(s->issuer_cn ? s->issuer_cn : "self"), -1,
	    -1, 0);
	X509_set_subject_name(x, subj);
	X509_set_issuer_name(x, iss);
	ASN1_TIME_set(X509_getm_notBefore(x), (time_t)s->not_before);
	ASN1_TIME_set(X509_getm_notAfter(x), (time_t)s->not_after);
	X509_set_pubkey(x, mint_key());
	if (s->is_ca) {
		X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL,
		    NID_basic_constraints, "critical,CA:TRUE");
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	X509_sign(x, mint_key(), NULL);
	if ((len = i2d_X509(x, &der)) > 0)
		cm_cert_from_der(der, (size_t)len, &out, NULL);
	OPENSSL_free(der);
	X509_NAME_free(subj);
	X509_NAME_free(iss);
	X509_free(x);
	return out;
}

#endif
