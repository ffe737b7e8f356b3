/*
 * fuzz_crl.c - libFuzzer target of crl.c: the input is a CRL (DER or PEM)
 * as downloaded from a distribution point.
 *
 * At start-up it mints, in-process and deterministically (Ed25519 keys from
 * fixed seeds, fixed validity periods, a fixed `now`), a CA, a leaf and a
 * sub-CA of it. Each input is parsed (cm_crl_parse), described
 * (cm_crl_get_info), validated as the CA's CRL from a URL (with and
 * without a cached CRL number, with and without the scope URL) and, parsed
 * or not valid, looked up for both certificates (cm_crl_lookup must be safe
 * on anything that parses). Besides crashes and leaks (ASan, UBSan) it
 * checks what crl.h promises: every reason is one non-empty line of UTF-8;
 * a look-up gives good, revoked or error, with a revocation time only for
 * revoked; a CRL that validates has its thisUpdate.
 *
 * Seeds: FUZZ_CRL_SEEDS=DIR ./fuzz/build/fuzz_crl -runs=0 writes valid CRLs
 * (empty, with entries and reasons, with a CRL number, an issuing
 * distribution point, DER and PEM) into DIR:
 *   mkdir -p fuzz/corpus/crl && FUZZ_CRL_SEEDS=fuzz/corpus/crl \
 *       ./fuzz/build/fuzz_crl -runs=0
 *   ./fuzz/build/fuzz_crl -max_total_time=60 fuzz/corpus/crl
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certmon/crl.h"
#include "pki.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW ((cm_time)1800000000)       /* 2027-01-15 */
#define T2020 ((cm_time)1577836800)
#define T2040 ((cm_time)2208988800)
#define URL "http://crl.fuzz/ca.crl"

enum { CA, LEAF, SUB, N };

static X509 *X[N];
static EVP_PKEY *K[N];
static struct cm_cert *C[N];

static void
add_entry(X509_CRL *crl, long serial, int reason)
{
	X509_REVOKED *r = X509_REVOKED_new();
	ASN1_INTEGER *sn = ASN1_INTEGER_new();
	ASN1_TIME *t = ASN1_TIME_set(NULL, (time_t)(NOW - 86400));

	ASN1_INTEGER_set(sn, serial);
	X509_REVOKED_set_serialNumber(r, sn);
	X509_REVOKED_set_revocationDate(r, t);
	if (reason >= 0) {
		ASN1_ENUMERATED *e = ASN1_ENUMERATED_new();

		ASN1_ENUMERATED_set(e, reason);
		X509_REVOKED_add1_ext_i2d(r, NID_crl_reason, e, 0, 0);
		ASN1_ENUMERATED_free(e);
	}
	X509_CRL_add0_revoked(crl, r);
	ASN1_INTEGER_free(sn);
	ASN1_TIME_free(t);
}

/* Writes one valid CRL (a seed) into dir; aborts unless it validates. */
static void
write_seed(const char *dir, int n, int entries, int number, int idp, int pem)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *tu = ASN1_TIME_set(NULL, (time_t)(NOW - 3600));
	ASN1_TIME *nu = ASN1_TIME_set(NULL, (time_t)(NOW + 86400));
	unsigned char *der = NULL;
	struct cm_crl *parsed = NULL;
	char path[512];
	BIO *b = NULL;
	char *data;
	long len;
	FILE *f;

	X509_CRL_set_version(crl, 1);
	X509_CRL_set_issuer_name(crl, X509_get_subject_name(X[CA]));
	X509_CRL_set1_lastUpdate(crl, tu);
	X509_CRL_set1_nextUpdate(crl, nu);
	if (entries) {
		add_entry(crl, 0x1001, 1);
		add_entry(crl, 0x2001, 6);
		add_entry(crl, 0x7777, -1);
		add_entry(crl, 0x1002, 8);
	}
	if (number) {
		ASN1_INTEGER *num = ASN1_INTEGER_new();

		ASN1_INTEGER_set(num, 42);
		X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0);
		ASN1_INTEGER_free(num);
	}
	if (idp) {
		ISSUING_DIST_POINT *ip = ISSUING_DIST_POINT_new();
		GENERAL_NAME *gn = GENERAL_NAME_new();
		ASN1_IA5STRING *u = ASN1_IA5STRING_new();

		ASN1_STRING_set(u, URL, (int)strlen(URL));
		GENERAL_NAME_set0_value(gn, GEN_URI, u);
		ip->distpoint = DIST_POINT_NAME_new();
		ip->distpoint->type = 0;
		ip->distpoint->name.fullname = sk_GENERAL_NAME_new_null();
		sk_GENERAL_NAME_push(ip->distpoint->name.fullname, gn);
		ip->onlyuser = idp > 1;
		X509_CRL_add1_ext_i2d(crl, NID_issuing_distribution_point, ip, 1,
		    0);
		ISSUING_DIST_POINT_free(ip);
	}
	X509_CRL_sort(crl);
	X509_CRL_sign(crl, K[CA], NULL);
	snprintf(path, sizeof(path), "%s/seed-%02d.%s", dir, n,
	    pem ? "pem" : "der");
	if (pem) {
		b = BIO_new(BIO_s_mem());
		PEM_write_bio_X509_CRL(b, crl);
		len = BIO_get_mem_data(b, &data);
	} else {
		len = i2d_X509_CRL(crl, &der);
		data = (char *)der;
	}
	if (len <= 0 || cm_crl_parse((const unsigned char *)data, (size_t)len, 0,
	    &parsed, NULL) != CM_OK || cm_crl_validate(parsed, C[CA], URL, NULL,
	    0, NULL, NOW, NULL) != CM_OK) {
		fprintf(stderr, "seed %d does not validate\n", n);
		abort();
	}
	if ((f = fopen(path, "wb")) != NULL) {
		fwrite(data, 1, (size_t)len, f);
		fclose(f);
	}
	cm_crl_free(parsed);
	OPENSSL_free(der);
	BIO_free(b);
	X509_CRL_free(crl);
	ASN1_TIME_free(tu);
	ASN1_TIME_free(nu);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const ca_ext[] = {"basicConstraints",
	    "critical,CA:TRUE", "keyUsage", "critical,keyCertSign,cRLSign", NULL};
	static const struct pki_cert spec[N] = {
		[CA] = {NULL, "Fuzz CRL CA", 1, T2020, T2040, ca_ext, 0},
		[LEAF] = {NULL, "Fuzz Leaf", 0x1001, T2020, T2040, NULL, 0},
		[SUB] = {NULL, "Fuzz Sub CA", 0x2001, T2020, T2040, ca_ext, 0},
	};
	const char *seeds = getenv("FUZZ_CRL_SEEDS");
	int n = 0;

	(void)argc;
	(void)argv;
	/* the CA (self-signed) first: it issues the others */
	for (int i = 0; i < N; i++)
		if ((K[i] = pki_fixed_key((unsigned char)(0x61 + i))) == NULL ||
		    (X[i] = pki_mint(&spec[i], K[i], i == CA ? NULL : X[CA],
		    K[CA])) == NULL || (C[i] = pki_to_cm(X[i])) == NULL)
			abort();
	if (seeds != NULL)
		for (int entries = 0; entries < 2; entries++)
			for (int number = 0; number < 2; number++)
				for (int idp = 0; idp < 3; idp++)
					for (int pem = 0; pem < 2; pem++)
						write_seed(seeds, n++, entries, number, idp,
						    pem);
	return 0;
}

/* Aborts unless s is one non-empty line of well-formed UTF-8. */
static void
check_text(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	if (*p == '\0')
		abort();
	while (*p != '\0') {
		size_t n, i;

		if (*p < 0x20 || *p == 0x7f)
			abort();
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
		p += n;
	}
}

static void
lookup(const struct cm_crl *crl, const struct cm_cert *c)
{
	struct cm_crl_result r;

	memset(&r, 0, sizeof(r));
	switch (cm_crl_lookup(crl, c, &r)) {
	case CM_REV_GOOD:
		if (r.revocation_time != 0 || r.revocation_reason[0] != '\0')
			abort();
		break;
	case CM_REV_REVOKED:
		break;
	case CM_REV_ERROR:
		if (r.revocation_time != 0)
			abort();
		break;
	default:
		abort();        /* a CRL never says unknown */
	}
	check_text(r.reason);
	if (r.revocation_reason[0] != '\0')
		check_text(r.revocation_reason);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct cm_crl_opts no_skew = {-1, 0, 0};
	struct cm_crl *crl = NULL;
	struct cm_crl_info info;
	struct cm_err err = {CM_OK, ""};
	enum cm_status rc;

	if (cm_crl_parse(data, size, 0, &crl, &err) != CM_OK) {
		check_text(err.msg);
		return 0;
	}
	cm_crl_get_info(crl, &info);
	check_text(info.issuer);
	rc = cm_crl_validate(crl, C[CA], URL, NULL, 0, NULL, NOW, &err);
	if (rc != CM_OK)
		check_text(err.msg);
	else if (info.this_update == 0)
		abort();
	if (cm_crl_validate(crl, C[CA], NULL, "2A", NOW - 7200, &no_skew, NOW,
	    &err) != CM_OK)
		check_text(err.msg);
	/* nothing signed by the sub-CA's key exists: never valid for it */
	if (cm_crl_validate(crl, C[SUB], URL, NULL, 0, NULL, NOW, &err) == CM_OK)
		abort();
	check_text(err.msg);
	lookup(crl, C[LEAF]);
	lookup(crl, C[SUB]);
	cm_crl_free(crl);
	return 0;
}
