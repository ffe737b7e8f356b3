/*
 * fuzz_cert.c - libFuzzer target of cm_cert_parse (every upload format).
 *
 * Besides crashes and leaks (ASan, UBSan), it checks what the header
 * promises of a successful parse: strings are UTF-8 without NUL, the
 * fingerprint is the SHA-256 of the kept DER, and cm_cert_from_der reads
 * that DER back to the same fields. Built with -DFUZZ_ORACLE_X509, it also
 * checks that OpenSSL's d2i_X509 accepts every certificate kept and finds
 * the same key size (slow: d2i_X509 loads the key).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>
#ifdef FUZZ_ORACLE_X509
#include <openssl/x509.h>
#endif

#include "certmon/cert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts unless s is well-formed UTF-8 (it ends at its NUL). */
static void
check_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	if (s == NULL)
		abort();
	while (*p != '\0') {
		size_t n, i;

		if (*p < 0x80) {
			p++;
			continue;
		}
		if (*p >= 0xC2 && *p <= 0xDF)
			n = 2;
		else if (*p >= 0xE0 && *p <= 0xEF)
			n = 3;
		else if (*p >= 0xF0 && *p <= 0xF4)
			n = 4;
		else
			abort();
		for (i = 1; i < n; i++)
			if ((p[i] & 0xC0) != 0x80)
				abort();
		if ((p[0] == 0xE0 && p[1] < 0xA0) ||
		    (p[0] == 0xED && p[1] > 0x9F) ||
		    (p[0] == 0xF0 && p[1] < 0x90) ||
		    (p[0] == 0xF4 && p[1] > 0x8F))
			abort();
		p += n;
	}
}

static void
check_list(const struct cm_strlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		check_utf8(l->v[i]);
}

static void
check_cert(const struct cm_cert *c)
{
	unsigned char fp[SHA256_DIGEST_LENGTH];
	struct cm_cert *back = NULL;
	struct cm_err err;
	char *pem;

	check_utf8(c->subject);
	check_utf8(c->issuer);
	check_utf8(c->subject_cn);
	check_utf8(c->issuer_cn);
	check_utf8(c->serial_hex);
	check_utf8(c->sig_alg);
	check_utf8(c->key_type);
	check_list(&c->sans);
	check_list(&c->ekus);
	check_list(&c->ocsp_urls);
	check_list(&c->ca_issuers);
	check_list(&c->crl_urls);
	if (strlen(c->fp_hex) != 2 * CM_FP_LEN || c->version < 1 ||
	    c->version > 3)
		abort();
	SHA256(c->der, c->der_len, fp);
	if (memcmp(fp, c->fp, sizeof(fp)) != 0)
		abort();
	if (cm_cert_from_der(c->der, c->der_len, &back, &err) != CM_OK ||
	    strcmp(back->fp_hex, c->fp_hex) != 0 ||
	    strcmp(back->subject, c->subject) != 0 ||
	    strcmp(back->serial_hex, c->serial_hex) != 0 ||
	    back->not_after != c->not_after || back->sans.n != c->sans.n)
		abort();
	cm_cert_free(back);
	if ((pem = cm_cert_to_pem(c)) == NULL)
		abort();
	free(pem);
#ifdef FUZZ_ORACLE_X509
	{
		const unsigned char *p = c->der;
		X509 *x = d2i_X509(NULL, &p, (long)c->der_len);

		EVP_PKEY *pk;

		if (x == NULL || p != c->der + c->der_len)
			abort();
		/* The key size read without loading the key is OpenSSL's
		 * (when OpenSSL can load it: an EC point off its curve is
		 * still shown with its curve's size). */
		pk = X509_get0_pubkey(x);
		if (pk != NULL && EVP_PKEY_get_bits(pk) != c->key_bits)
			abort();
		X509_free(x);
	}
#endif
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A low PKCS#12 cap keeps each run fast (the seeds use 2048). */
	struct cm_parse_opts opts = { .password = "pass",
	    .max_p12_iter = 4096 };
	struct cm_cert_list list = { 0 };
	struct cm_err err;
	size_t i;

	if (cm_cert_parse(data, size, "fuzz", &opts, &list, &err) == CM_OK) {
		if (list.n == 0)
			abort();
		for (i = 0; i < list.n; i++)
			check_cert(list.v[i]);
		(void)cm_cert_signed_by(list.v[0], list.v[list.n - 1]);
	} else if (list.n != 0 || strncmp(err.msg, "fuzz: ", 6) != 0) {
		abort();
	}
	cm_cert_list_clear(&list);
	return 0;
}
