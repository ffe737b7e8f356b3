/*
 * pki.h - a test PKI minted in-process with libcrypto, for the unit tests
 * (tests/unit/) and the fuzz targets (fuzz/, built with -Itests/unit):
 * a certificate with a given subject, serial, validity, key, issuer and
 * extensions, and the same certificate as certmon parses it.
 *
 * Header-only. Nothing here asserts or aborts: a function that fails
 * returns NULL and its caller decides (assert_non_null in a cmocka test,
 * abort() in a fuzz target). The functions are static inline so that a
 * program may use only some of them (-Werror=unused-function).
 * mint.h is the simpler minter of the store tests (one key, any issuer
 * name); this one makes chains whose signatures verify.
 */
#ifndef CERTMON_TEST_PKI_H
#define CERTMON_TEST_PKI_H

#include <stddef.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certmon/cert.h"

/* What a certificate says, apart from its keys and its issuer. */
struct pki_cert {
	const char *org;                /* subject O=; NULL = none */
	const char *cn;                 /* subject CN= */
	long serial;
	cm_time not_before, not_after;
	const char *const *exts;        /* name, value, ..., NULL, as in an
					 * openssl.cnf section; NULL = none */
	int v1;                         /* 1 = an X.509 v1 certificate */
};

/* Returns the Ed25519 key whose 32-byte seed is `tag` repeated (the same
 * key in every run; caller frees), or NULL. */
static inline EVP_PKEY *
pki_fixed_key(unsigned char tag)
{
	unsigned char seed[32];

	memset(seed, tag, sizeof(seed));
	return EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed,
	    sizeof(seed));
}

/* Returns a new certificate for s with the public key of key (caller
 * frees), or NULL when OpenSSL cannot make an extension or the signature.
 * Its issuer name is the subject of issuer (NULL: its own subject), its
 * extensions are made in that issuer's context (authorityKeyIdentifier),
 * and it is signed with issuer_key (NULL: key itself): with SHA-256, or
 * with no separate digest for an Ed25519 or Ed448 key. */
static inline X509 *
pki_mint(const struct pki_cert *s, EVP_PKEY *key, X509 *issuer,
    EVP_PKEY *issuer_key)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	EVP_PKEY *signer = issuer_key != NULL ? issuer_key : key;
	const EVP_MD *md = EVP_PKEY_is_a(signer, "ED25519") ||
	    EVP_PKEY_is_a(signer, "ED448") ? NULL : EVP_sha256();
	X509V3_CTX v3;
	int ok = x != NULL && n != NULL;

	if (ok) {
		X509_set_version(x, s->v1 ? 0 : 2);
		ASN1_INTEGER_set(X509_get_serialNumber(x), s->serial);
		if (s->org != NULL)
			X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8,
			    (const unsigned char *)s->org, -1, -1, 0);
		X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
		    (const unsigned char *)s->cn, -1, -1, 0);
		X509_set_subject_name(x, n);
		X509_set_issuer_name(x, issuer != NULL ?
		    X509_get_subject_name(issuer) : n);
		ASN1_TIME_set(X509_getm_notBefore(x), (time_t)s->not_before);
		ASN1_TIME_set(X509_getm_notAfter(x), (time_t)s->not_after);
		X509_set_pubkey(x, key);
		X509V3_set_ctx(&v3, issuer != NULL ? issuer : x, x, NULL, NULL,
		    0);
	}
	for (size_t i = 0; ok && s->exts != NULL && s->exts[i] != NULL;
	    i += 2) {
		X509_EXTENSION *e = X509V3_EXT_nconf(NULL, &v3, s->exts[i],
		    s->exts[i + 1]);

		ok = e != NULL && X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
	}
	ok = ok && X509_sign(x, signer, md) > 0;
	X509_NAME_free(n);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* Returns x as certmon parses its DER (cm_cert_from_der; caller frees
 * with cm_cert_free), or NULL when it cannot be encoded or parsed. */
static inline struct cm_cert *
pki_to_cm(X509 *x)
{
	unsigned char *der = NULL;
	struct cm_cert *c = NULL;
	int len = i2d_X509(x, &der);

	if (len <= 0 || cm_cert_from_der(der, (size_t)len, &c, NULL) != CM_OK)
		c = NULL;
	OPENSSL_free(der);
	return c;
}

#endif
