/*
 * Unit tests of lib/crl.c: parsing, every validation step and failure
 * (table-driven over CRLs built in-process with OpenSSL), look-ups
 * (reasons, hold, removeFromCRL, scope), CRL numbers, and the CRL check
 * through a context with the store's cache (no network).
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certmon/crl.h"
#include "certmon/store.h"
#include "pki.h"

#define DAY 86400L
#define NO_NEXT LONG_MIN
#define URL "http://crl.test/ca.crl"

static cm_time NOW;

/* ---- the PKI ----------------------------------------------------------- */

enum who { CA, LEAF_REV, LEAF_GOOD, LEAF_HOLD, SUB_CA, FAKE_CA, NOSIGN_CA,
	NOSIGN_LEAF, N_WHO };

struct party {
	X509 *x;
	EVP_PKEY *key;
	struct cm_cert *c;
};

static struct party P[N_WHO];

/* Every certificate is valid from NOW - 10 days to NOW + 365 days. */
static void
party(enum who w, const char *cn, long serial, enum who issuer,
    const char *const *exts)
{
	const struct pki_cert s = {"certmon tests", cn, serial, NOW - 10 * DAY,
	    NOW + 365 * DAY, exts, 0};

	P[w].key = EVP_EC_gen("P-256");
	assert_non_null(P[w].key);
	P[w].x = pki_mint(&s, P[w].key, issuer == w ? NULL : P[issuer].x,
	    issuer == w ? NULL : P[issuer].key);
	assert_non_null(P[w].x);
	P[w].c = pki_to_cm(P[w].x);
	assert_non_null(P[w].c);
}

static int
setup_pki(void **state)
{
	static const char *const ca_ext[] = {"basicConstraints",
	    "critical,CA:TRUE", "keyUsage", "critical,keyCertSign,cRLSign", NULL};
	static const char *const nosign_ext[] = {"basicConstraints",
	    "critical,CA:TRUE", "keyUsage", "critical,keyCertSign", NULL};
	static const char *const leaf_ext[] = {"basicConstraints", "CA:FALSE",
	    "crlDistributionPoints", "URI:" URL, NULL};

	(void)state;
	NOW = (cm_time)time(NULL);
	party(CA, "CRL Test CA", 1, CA, ca_ext);
	party(LEAF_REV, "Revoked", 0x1001, CA, leaf_ext);
	party(LEAF_GOOD, "Good", 0x1002, CA, leaf_ext);
	party(LEAF_HOLD, "Released", 0x1003, CA, leaf_ext);
	party(SUB_CA, "Sub CA", 0x2001, CA, ca_ext);
	party(FAKE_CA, "CRL Test CA", 1, FAKE_CA, ca_ext);
	party(NOSIGN_CA, "No cRLSign CA", 3, NOSIGN_CA, nosign_ext);
	party(NOSIGN_LEAF, "Leaf of No cRLSign", 0x3001, NOSIGN_CA, leaf_ext);
	return 0;
}

static int
teardown_pki(void **state)
{
	(void)state;
	for (int i = 0; i < N_WHO; i++) {
		X509_free(P[i].x);
		EVP_PKEY_free(P[i].key);
		cm_cert_free(P[i].c);
	}
	return 0;
}

/* ---- building CRLs ---------------------------------------------------------- */

enum idp_mode { I_NONE = 0, I_URL, I_OTHER_URL, I_INDIRECT,
	I_SOME_REASONS, I_ONLY_USER, I_ONLY_CA, I_RELATIVE, I_ONLY_ATTR };
enum ext_mode { X_NONE = 0, X_CRIT, X_NONCRIT, X_ENTRY_CRIT, X_CERT_ISSUER,
	X_DELTA, X_DUP_NUMBER };
enum enc { E_DER = 0, E_PEM, E_TRAILING, E_BADSIG };

struct spec {
	enum who signer;                /* key */
	enum who name;                  /* issuer name */
	long this_off, next_off;        /* from NOW; 0/0: -1 h, +1 d */
	long number;                    /* -1 = none */
	enum idp_mode idp;
	enum ext_mode ext;
	enum enc enc;
	int hold_released;              /* LEAF_HOLD listed as removeFromCRL */
};

static X509_EXTENSION *
private_ext(int critical)
{
	ASN1_OBJECT *o = OBJ_txt2obj("1.3.6.1.4.1.55555.7", 1);
	ASN1_OCTET_STRING *v = ASN1_OCTET_STRING_new();
	X509_EXTENSION *e;

	ASN1_OCTET_STRING_set(v, (const unsigned char *)"\x05\x00", 2);
	e = X509_EXTENSION_create_by_OBJ(NULL, o, critical, v);
	ASN1_OBJECT_free(o);
	ASN1_OCTET_STRING_free(v);
	return e;
}

static void
add_entry(X509_CRL *crl, long serial, int reason, int ext)
{
	X509_REVOKED *r = X509_REVOKED_new();
	ASN1_INTEGER *sn = ASN1_INTEGER_new();
	ASN1_TIME *t = ASN1_TIME_set(NULL, (time_t)(NOW - 2 * DAY));

	ASN1_INTEGER_set(sn, serial);
	X509_REVOKED_set_serialNumber(r, sn);
	X509_REVOKED_set_revocationDate(r, t);
	if (reason >= 0) {
		ASN1_ENUMERATED *e = ASN1_ENUMERATED_new();

		ASN1_ENUMERATED_set(e, reason);
		X509_REVOKED_add1_ext_i2d(r, NID_crl_reason, e, 0, 0);
		ASN1_ENUMERATED_free(e);
	}
	if (ext == X_ENTRY_CRIT) {
		X509_EXTENSION *e = private_ext(1);

		X509_REVOKED_add_ext(r, e, -1);
		X509_EXTENSION_free(e);
	}
	if (ext == X_CERT_ISSUER) {
		GENERAL_NAMES *g = sk_GENERAL_NAME_new_null();
		GENERAL_NAME *gn = GENERAL_NAME_new();

		gn->type = GEN_DIRNAME;
		gn->d.directoryName = X509_NAME_dup(X509_get_subject_name(
		    P[NOSIGN_CA].x));
		sk_GENERAL_NAME_push(g, gn);
		X509_REVOKED_add1_ext_i2d(r, NID_certificate_issuer, g, 1, 0);
		GENERAL_NAMES_free(g);
	}
	X509_CRL_add0_revoked(crl, r);
	ASN1_INTEGER_free(sn);
	ASN1_TIME_free(t);
}

static void
add_idp(X509_CRL *crl, enum idp_mode m)
{
	ISSUING_DIST_POINT *idp = ISSUING_DIST_POINT_new();

	if (m == I_URL || m == I_OTHER_URL || m == I_ONLY_USER ||
	    m == I_ONLY_CA) {
		GENERAL_NAME *gn = GENERAL_NAME_new();
		ASN1_IA5STRING *u = ASN1_IA5STRING_new();
		const char *url = m == I_OTHER_URL ? "http://crl.test/other.crl" :
		    URL;

		ASN1_STRING_set(u, url, (int)strlen(url));
		GENERAL_NAME_set0_value(gn, GEN_URI, u);
		idp->distpoint = DIST_POINT_NAME_new();
		idp->distpoint->type = 0;
		idp->distpoint->name.fullname = sk_GENERAL_NAME_new_null();
		sk_GENERAL_NAME_push(idp->distpoint->name.fullname, gn);
	}
	if (m == I_RELATIVE) {
		X509_NAME_ENTRY *ne = X509_NAME_ENTRY_create_by_txt(NULL, "CN",
		    MBSTRING_UTF8, (const unsigned char *)"part1", -1);

		idp->distpoint = DIST_POINT_NAME_new();
		idp->distpoint->type = 1;
		idp->distpoint->name.relativename =
		    sk_X509_NAME_ENTRY_new_null();
		sk_X509_NAME_ENTRY_push(idp->distpoint->name.relativename, ne);
	}
	if (m == I_INDIRECT)
		idp->indirectCRL = 1;
	if (m == I_ONLY_USER)
		idp->onlyuser = 1;
	if (m == I_ONLY_CA)
		idp->onlyCA = 1;
	if (m == I_ONLY_ATTR)
		idp->onlyattr = 1;
	if (m == I_SOME_REASONS) {
		idp->onlysomereasons = ASN1_BIT_STRING_new();
		ASN1_BIT_STRING_set_bit(idp->onlysomereasons, 1, 1);
	}
	assert_int_equal(X509_CRL_add1_ext_i2d(crl,
	    NID_issuing_distribution_point, idp, 1, 0), 1);
	ISSUING_DIST_POINT_free(idp);
}

/* Returns the encoded CRL of s (malloc'ed) and its length. */
static unsigned char *
build(const struct spec *s, size_t *len)
{
	X509_CRL *crl = X509_CRL_new();
	long this_off = s->this_off, next_off = s->next_off;
	ASN1_TIME *tu, *nu = NULL;
	unsigned char *der = NULL, *out;
	int n;

	if (this_off == 0 && next_off == 0) {
		this_off = -3600;
		next_off = DAY;
	}
	X509_CRL_set_version(crl, 1);
	X509_CRL_set_issuer_name(crl, X509_get_subject_name(P[s->name].x));
	tu = ASN1_TIME_set(NULL, (time_t)(NOW + this_off));
	X509_CRL_set1_lastUpdate(crl, tu);
	if (next_off != NO_NEXT) {
		nu = ASN1_TIME_set(NULL, (time_t)(NOW + next_off));
		X509_CRL_set1_nextUpdate(crl, nu);
	}
	add_entry(crl, 0x1001, 1, s->ext);      /* keyCompromise */
	add_entry(crl, 0x5555, -1, X_NONE);     /* someone else */
	if (s->hold_released)
		add_entry(crl, 0x1003, 8, X_NONE);  /* removeFromCRL */
	else
		add_entry(crl, 0x1003, 6, X_NONE);  /* certificateHold */
	add_entry(crl, 0x2001, 4, X_NONE);      /* the sub CA: superseded */
	if (s->number >= 0) {
		ASN1_INTEGER *num = ASN1_INTEGER_new();

		ASN1_INTEGER_set(num, s->number);
		X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0);
		if (s->ext == X_DUP_NUMBER)
			X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0,
			    X509V3_ADD_APPEND);
		ASN1_INTEGER_free(num);
	}
	if (s->ext == X_DELTA) {
		ASN1_INTEGER *num = ASN1_INTEGER_new();

		ASN1_INTEGER_set(num, 1);
		X509_CRL_add1_ext_i2d(crl, NID_delta_crl, num, 1, 0);
		ASN1_INTEGER_free(num);
	}
	if (s->ext == X_CRIT || s->ext == X_NONCRIT) {
		X509_EXTENSION *e = private_ext(s->ext == X_CRIT);

		X509_CRL_add_ext(crl, e, -1);
		X509_EXTENSION_free(e);
	}
	if (s->idp != I_NONE)
		add_idp(crl, s->idp);
	X509_CRL_sort(crl);
	assert_true(X509_CRL_sign(crl, P[s->signer].key, EVP_sha256()) > 0);
	if (s->enc == E_PEM) {
		BIO *b = BIO_new(BIO_s_mem());
		char *data;
		long blen;

		PEM_write_bio_X509_CRL(b, crl);
		blen = BIO_get_mem_data(b, &data);
		out = malloc((size_t)blen);
		memcpy(out, data, (size_t)blen);
		*len = (size_t)blen;
		BIO_free(b);
	} else {
		n = i2d_X509_CRL(crl, &der);
		assert_true(n > 0);
		out = malloc((size_t)n + 4);
		memcpy(out, der, (size_t)n);
		*len = (size_t)n;
		if (s->enc == E_TRAILING) {
			memcpy(out + n, "\0\0\0\0", 4);
			*len += 4;
		}
		if (s->enc == E_BADSIG)
			out[n - 3] ^= 0x55;
		OPENSSL_free(der);
	}
	X509_CRL_free(crl);
	ASN1_TIME_free(tu);
	ASN1_TIME_free(nu);
	return out;
}

/* ---- the table ---------------------------------------------------------------- */

struct row {
	const char *name;
	struct spec s;
	enum who issuer;                /* the issuer certificate given */
	const char *url;                /* NULL = no scope URL */
	const char *min_number;
	long min_this_off;              /* 0 = none */
	long now_off;
	enum who cert;                  /* looked up when valid */
	enum cm_status want_rc;
	const char *want_reason;        /* substring: of the validation error,
					 * else of the look-up */
	enum cm_rev_status want_status;
	const char *want_rev_reason;
};

#define OK CM_OK
#define BAD CM_ERR_INVALID

static const struct row rows[] = {
	{"good leaf", {CA, CA, 0, 0, 5, I_NONE, X_NONE, E_DER, 0}, CA, URL,
	    NULL, 0, 0, LEAF_GOOD, OK, "good: serial 1002 is not on the CRL",
	    CM_REV_GOOD, ""},
	{"revoked leaf", {CA, CA, 0, 0, 5, I_NONE, X_NONE, E_DER, 0}, CA, URL,
	    NULL, 0, 0, LEAF_REV, OK, "revoked at", CM_REV_REVOKED,
	    "keyCompromise"},
	{"PEM", {CA, CA, 0, 0, 5, I_NONE, X_NONE, E_PEM, 0}, CA, URL, NULL, 0,
	    0, LEAF_REV, OK, "reason keyCompromise", CM_REV_REVOKED,
	    "keyCompromise"},
	{"on hold", {CA, CA, 0, 0, 5, I_NONE, X_NONE, E_DER, 0}, CA, URL,
	    NULL, 0, 0, LEAF_HOLD, OK, "certificateHold", CM_REV_REVOKED,
	    "certificateHold"},
	{"removeFromCRL", {CA, CA, 0, 0, 5, I_NONE, X_NONE, E_DER, 1}, CA, URL,
	    NULL, 0, 0, LEAF_HOLD, OK, "removeFromCRL", CM_REV_GOOD, ""},
	{"sub CA revoked", {CA, CA, 0, 0, 5, I_NONE, X_NONE, E_DER, 0}, CA,
	    URL, NULL, 0, 0, SUB_CA, OK, "superseded", CM_REV_REVOKED,
	    "superseded"},
	{"no CRL number", {CA, CA, 0, 0, -1, I_NONE, X_NONE, E_DER, 0}, CA,
	    URL, NULL, 0, 0, LEAF_GOOD, OK, "good", CM_REV_GOOD, ""},
	{"wrong key", {FAKE_CA, CA, 0, 0, 5, I_NONE, X_NONE, E_DER, 0}, CA,
	    URL, NULL, 0, 0, LEAF_REV, BAD, "CRL signature: the CRL's signature "
	    "does not verify with the key of the issuer certificate",
	    CM_REV_ERROR, NULL},
	{"broken signature", {CA, CA, 0, 0, 5, I_NONE, X_NONE, E_BADSIG, 0},
	    CA, URL, NULL, 0, 0, LEAF_REV, BAD, "CRL signature", CM_REV_ERROR,
	    NULL},
	{"another issuer's CRL", {NOSIGN_CA, NOSIGN_CA, 0, 0, 5, I_NONE,
	    X_NONE, E_DER, 0}, CA, URL, NULL, 0, 0, LEAF_REV, BAD, "CRL issuer: "
	    "the CRL's issuer (CN=No cRLSign CA,O=certmon tests) is not the "
	    "issuer certificate's subject", CM_REV_ERROR, NULL},
	{"signer without cRLSign", {NOSIGN_CA, NOSIGN_CA, 0, 0, 5, I_NONE,
	    X_NONE, E_DER, 0}, NOSIGN_CA, URL, NULL, 0, 0, NOSIGN_LEAF, BAD,
	    "CRL signer: the issuer certificate (CN=No cRLSign CA,O=certmon "
	    "tests) lacks cRLSign", CM_REV_ERROR, NULL},
	{"expired", {CA, CA, -3 * DAY, -DAY, 5, I_NONE, X_NONE, E_DER, 0}, CA,
	    URL, NULL, 0, 0, LEAF_REV, BAD, "CRL freshness: stale CRL: "
	    "nextUpdate", CM_REV_ERROR, NULL},
	{"expired within skew", {CA, CA, -3 * DAY, -200, 5, I_NONE, X_NONE,
	    E_DER, 0}, CA, URL, NULL, 0, 0, LEAF_GOOD, OK, "good", CM_REV_GOOD,
	    ""},
	{"future", {CA, CA, 3600, DAY, 5, I_NONE, X_NONE, E_DER, 0}, CA, URL,
	    NULL, 0, 0, LEAF_REV, BAD, "CRL freshness: thisUpdate", CM_REV_ERROR,
	    NULL},
	{"next before this", {CA, CA, -3600, -7200, 5, I_NONE, X_NONE, E_DER,
	    0}, CA, URL, NULL, 0, 0, LEAF_REV, BAD, "is before thisUpdate",
	    CM_REV_ERROR, NULL},
	{"no nextUpdate, recent", {CA, CA, -DAY, NO_NEXT, 5, I_NONE, X_NONE,
	    E_DER, 0}, CA, URL, NULL, 0, 0, LEAF_REV, OK, "revoked",
	    CM_REV_REVOKED, "keyCompromise"},
	{"no nextUpdate, too old", {CA, CA, -8 * DAY, NO_NEXT, 5, I_NONE,
	    X_NONE, E_DER, 0}, CA, URL, NULL, 0, 0, LEAF_REV, BAD, "older than "
	    "the maximum age", CM_REV_ERROR, NULL},
	{"delta CRL", {CA, CA, 0, 0, 5, I_NONE, X_DELTA, E_DER, 0}, CA, URL,
	    NULL, 0, 0, LEAF_REV, BAD, "CRL kind: a delta CRL "
	    "(deltaCRLIndicator) is refused", CM_REV_ERROR, NULL},
	{"indirect CRL", {CA, CA, 0, 0, 5, I_INDIRECT, X_NONE, E_DER, 0}, CA,
	    URL, NULL, 0, 0, LEAF_REV, BAD, "CRL kind: an indirect CRL",
	    CM_REV_ERROR, NULL},
	{"certificateIssuer entry", {CA, CA, 0, 0, 5, I_NONE, X_CERT_ISSUER,
	    E_DER, 0}, CA, URL, NULL, 0, 0, LEAF_GOOD, BAD, "CRL kind: an "
	    "indirect CRL (the entry for serial 1001", CM_REV_ERROR, NULL},
	{"unknown critical CRL extension", {CA, CA, 0, 0, 5, I_NONE, X_CRIT,
	    E_DER, 0}, CA, URL, NULL, 0, 0, LEAF_GOOD, BAD, "CRL extensions: "
	    "unknown critical CRL extension 1.3.6.1.4.1.55555.7", CM_REV_ERROR,
	    NULL},
	{"unknown non-critical CRL extension", {CA, CA, 0, 0, 5, I_NONE,
	    X_NONCRIT, E_DER, 0}, CA, URL, NULL, 0, 0, LEAF_GOOD, OK, "good",
	    CM_REV_GOOD, ""},
	{"unknown critical entry extension", {CA, CA, 0, 0, 5, I_NONE,
	    X_ENTRY_CRIT, E_DER, 0}, CA, URL, NULL, 0, 0, LEAF_GOOD, BAD,
	    "unknown critical entry extension 1.3.6.1.4.1.55555.7 (entry for "
	    "serial 1001)", CM_REV_ERROR, NULL},
	{"duplicate extension", {CA, CA, 0, 0, 5, I_NONE, X_DUP_NUMBER, E_DER,
	    0}, CA, URL, NULL, 0, 0, LEAF_GOOD, BAD, "appears twice",
	    CM_REV_ERROR, NULL},
	{"IDP names the URL", {CA, CA, 0, 0, 5, I_URL, X_NONE, E_DER, 0}, CA,
	    URL, NULL, 0, 0, LEAF_REV, OK, "revoked", CM_REV_REVOKED,
	    "keyCompromise"},
	{"IDP names the URL, host case", {CA, CA, 0, 0, 5, I_URL, X_NONE,
	    E_DER, 0}, CA, "http://CRL.test/ca.crl", NULL, 0, 0, LEAF_REV, OK,
	    "revoked", CM_REV_REVOKED, "keyCompromise"},
	{"IDP names another URL", {CA, CA, 0, 0, 5, I_OTHER_URL, X_NONE,
	    E_DER, 0}, CA, URL, NULL, 0, 0, LEAF_REV, BAD, "CRL scope: the "
	    "issuingDistributionPoint does not name http://crl.test/ca.crl",
	    CM_REV_ERROR, NULL},
	{"IDP, no URL to match", {CA, CA, 0, 0, 5, I_OTHER_URL, X_NONE, E_DER,
	    0}, CA, NULL, NULL, 0, 0, LEAF_GOOD, OK, "good", CM_REV_GOOD, ""},
	{"IDP relative name", {CA, CA, 0, 0, 5, I_RELATIVE, X_NONE, E_DER, 0},
	    CA, URL, NULL, 0, 0, LEAF_REV, BAD, "relative to the CRL issuer",
	    CM_REV_ERROR, NULL},
	{"IDP only some reasons", {CA, CA, 0, 0, 5, I_SOME_REASONS, X_NONE,
	    E_DER, 0}, CA, URL, NULL, 0, 0, LEAF_REV, BAD, "onlySomeReasons",
	    CM_REV_ERROR, NULL},
	{"IDP only attribute certificates", {CA, CA, 0, 0, 5, I_ONLY_ATTR,
	    X_NONE, E_DER, 0}, CA, URL, NULL, 0, 0, LEAF_REV, BAD,
	    "onlyContainsAttributeCerts", CM_REV_ERROR, NULL},
	{"IDP only user certs, a leaf", {CA, CA, 0, 0, 5, I_ONLY_USER, X_NONE,
	    E_DER, 0}, CA, URL, NULL, 0, 0, LEAF_REV, OK, "revoked",
	    CM_REV_REVOKED, "keyCompromise"},
	{"IDP only user certs, a CA", {CA, CA, 0, 0, 5, I_ONLY_USER, X_NONE,
	    E_DER, 0}, CA, URL, NULL, 0, 0, SUB_CA, OK, "onlyContainsUserCerts",
	    CM_REV_ERROR, NULL},
	{"IDP only CA certs, a leaf", {CA, CA, 0, 0, 5, I_ONLY_CA, X_NONE,
	    E_DER, 0}, CA, URL, NULL, 0, 0, LEAF_GOOD, OK, "onlyContainsCACerts",
	    CM_REV_ERROR, NULL},
	{"number lower than cached", {CA, CA, 0, 0, 5, I_NONE, X_NONE, E_DER,
	    0}, CA, URL, "6", 0, 0, LEAF_GOOD, BAD, "CRL order: CRL number 5 is "
	    "lower than the cached CRL's 6", CM_REV_ERROR, NULL},
	{"number equal to cached", {CA, CA, 0, 0, 5, I_NONE, X_NONE, E_DER,
	    0}, CA, URL, "5", 0, 0, LEAF_GOOD, OK, "good", CM_REV_GOOD, ""},
	{"number above cached (more digits)", {CA, CA, 0, 0, 0x100, I_NONE,
	    X_NONE, E_DER, 0}, CA, URL, "FF", 0, 0, LEAF_GOOD, OK, "good",
	    CM_REV_GOOD, ""},
	{"no number while cached had one", {CA, CA, 0, 0, -1, I_NONE, X_NONE,
	    E_DER, 0}, CA, URL, "3", 0, 0, LEAF_GOOD, BAD, "CRL order: CRL "
	    "number (none)", CM_REV_ERROR, NULL},
	{"thisUpdate older than cached", {CA, CA, 0, 0, 5, I_NONE, X_NONE,
	    E_DER, 0}, CA, URL, NULL, -60, 0, LEAF_GOOD, BAD, "CRL order: "
	    "thisUpdate", CM_REV_ERROR, NULL},
	{"trailing bytes", {CA, CA, 0, 0, 5, I_NONE, X_NONE, E_TRAILING, 0},
	    CA, URL, NULL, 0, 0, LEAF_GOOD, BAD, "CRL parse: 4 trailing bytes",
	    CM_REV_ERROR, NULL},
};

static void
test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		struct cm_crl *crl = NULL;
		struct cm_crl_result res;
		struct cm_err err = {CM_OK, ""};
		unsigned char *buf;
		size_t len;
		enum cm_status rc;

		buf = build(&r->s, &len);
		rc = cm_crl_parse(buf, len, 0, &crl, &err);
		if (rc == CM_OK)
			rc = cm_crl_validate(crl, P[r->issuer].c, r->url,
			    r->min_number, r->min_this_off ? NOW + r->min_this_off :
			    0, NULL, NOW + r->now_off, &err);
		if (rc != r->want_rc || (rc != CM_OK && strstr(err.msg,
		    r->want_reason) == NULL))
			fail_msg("%s: rc %d, want %d: %s", r->name, rc, r->want_rc,
			    err.msg);
		if (rc == CM_OK) {
			memset(&res, 0, sizeof(res));
			cm_crl_lookup(crl, P[r->cert].c, &res);
			if (res.status != r->want_status ||
			    strstr(res.reason, r->want_reason) == NULL ||
			    (r->want_rev_reason != NULL && strcmp(
			    res.revocation_reason, r->want_rev_reason) != 0))
				fail_msg("%s: status %d (want %d), reason '%s', "
				    "revocation reason '%s'", r->name, res.status,
				    r->want_status, res.reason, res.revocation_reason);
			if (res.status == CM_REV_REVOKED)
				assert_int_equal(res.revocation_time, NOW - 2 * DAY);
			else
				assert_int_equal(res.revocation_time, 0);
		} else {
			assert_null(strchr(err.msg, '\n'));
		}
		cm_crl_free(crl);
		free(buf);
	}
}

static void
test_parse(void **state)
{
	static const struct spec s = {CA, CA, 0, 0, 0x1234, I_NONE, X_NONE,
	    E_DER, 0};
	struct cm_crl *crl = NULL;
	struct cm_crl_info info;
	struct cm_err err = {CM_OK, ""};
	unsigned char *buf;
	const unsigned char *der;
	size_t len, dlen;

	(void)state;
	assert_int_equal(cm_crl_parse(NULL, 0, 0, &crl, &err), CM_ERR_INVALID);
	assert_non_null(strstr(err.msg, "empty"));
	assert_int_equal(cm_crl_parse((const unsigned char *)"garbage", 7, 0,
	    &crl, &err), CM_ERR_INVALID);
	assert_non_null(strstr(err.msg, "CRL parse: not a DER"));
	assert_int_equal(cm_crl_parse((const unsigned char *)
	    "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n", 50, 0,
	    &crl, &err), CM_ERR_INVALID);
	assert_non_null(strstr(err.msg, "not a PEM"));
	buf = build(&s, &len);
	assert_int_equal(cm_crl_parse(buf, len, len - 1, &crl, &err),
	    CM_ERR_TOOBIG);
	assert_non_null(strstr(err.msg, "cap"));
	/* truncated */
	assert_int_equal(cm_crl_parse(buf, len - 10, 0, &crl, &err),
	    CM_ERR_INVALID);
	assert_null(crl);
	assert_int_equal(cm_crl_parse(buf, len, 0, &crl, &err), CM_OK);
	cm_crl_get_info(crl, &info);
	assert_string_equal(info.issuer, "CN=CRL Test CA,O=certmon tests");
	assert_string_equal(info.number, "1234");
	assert_int_equal(info.this_update, NOW - 3600);
	assert_int_equal(info.next_update, NOW + DAY);
	assert_int_equal(info.entries, 4);
	assert_int_equal(info.delta, 0);
	der = cm_crl_der(crl, &dlen);
	assert_int_equal(dlen, len);
	assert_memory_equal(der, buf, len);
	cm_crl_free(crl);
	cm_crl_free(NULL);
	free(buf);
}

static void
test_number_cmp(void **state)
{
	(void)state;
	assert_int_equal(cm_crl_number_cmp("", ""), 0);
	assert_true(cm_crl_number_cmp("", "0") < 0);
	assert_true(cm_crl_number_cmp("9", "10") < 0);
	assert_true(cm_crl_number_cmp("FF", "100") < 0);
	assert_true(cm_crl_number_cmp("1A", "19") > 0);
	assert_int_equal(cm_crl_number_cmp("ABCDEF", "ABCDEF"), 0);
	assert_true(cm_crl_number_cmp(NULL, "1") < 0);
}

/* ---- the context with the store's cache (no network) -------------------------- */

static void
test_ctx_cache(void **state)
{
	static const struct spec fresh = {CA, CA, 0, 0, 7, I_NONE, X_NONE,
	    E_DER, 0};
	/* port 9 (discard) on the loopback: nobody answers, connections are
	 * refused at once */
	static const char *url = "http://127.0.0.1:9/ca.crl";
	char dir[64], path[96], cmd[128];
	struct cm_crl_cache_entry e;
	struct cm_crl_ctx_opts o;
	struct cm_crl_ctx *ctx = NULL;
	struct cm_crl_result res;
	struct cm_store *st = NULL;
	struct cm_err err = {CM_OK, ""};
	struct cm_strlist urls;
	char *uv[1];
	uint64_t fetched = 0, from_store = 0;
	char why[256];
	size_t len;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/certmon-crl-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s.db", dir);
	assert_int_equal(cm_store_open(path, NOW, &st, &err), CM_OK);

	memset(&e, 0, sizeof(e));
	e.der = build(&fresh, &len);
	e.der_len = len;
	e.this_update = NOW - 3600;
	e.next_update = NOW + DAY;
	e.fetched_at = NOW - 3600;
	snprintf(e.crl_number, sizeof(e.crl_number), "7");
	assert_int_equal(cm_store_crl_put(st, url, P[CA].c->fp_hex, &e, &err),
	    CM_OK);
	free(e.der);

	uv[0] = (char *)url;
	urls.v = uv;
	urls.n = 1;
	memset(&o, 0, sizeof(o));
	o.store = st;
	o.urls = &urls;
	o.fetch.timeout_ms = 2000;
	assert_int_equal(cm_crl_ctx_new(&o, &ctx, &err), CM_OK);
	/* from the cache: no download */
	assert_int_equal(cm_crl_check(ctx, P[LEAF_REV].c, P[CA].c, NOW, &res),
	    CM_REV_REVOKED);
	assert_int_equal(res.from_cache, 1);
	assert_string_equal(res.revocation_reason, "keyCompromise");
	assert_string_equal(res.url, url);
	assert_string_equal(res.number, "7");
	assert_non_null(strstr(res.reason, "CRL http://127.0.0.1:9/ca.crl of "
	    "CN=CRL Test CA,O=certmon tests"));
	assert_int_equal(cm_crl_check(ctx, P[LEAF_GOOD].c, P[CA].c, NOW, &res),
	    CM_REV_GOOD);
	/* the responder-check hook of ocsp.h */
	assert_int_equal(cm_crl_ocsp_hook(P[LEAF_GOOD].c, P[CA].c, NOW, ctx,
	    why, sizeof(why)), CM_REV_GOOD);
	assert_non_null(strstr(why, "good"));
	cm_crl_ctx_stats(ctx, &fetched, &from_store);
	assert_int_equal(fetched, 0);
	assert_int_equal(from_store, 1);
	cm_crl_ctx_free(ctx);

	/* two days later the cached CRL is stale: a download is tried, and
	 * fails (nobody listens): error, never the stale answer */
	assert_int_equal(cm_crl_ctx_new(&o, &ctx, &err), CM_OK);
	assert_int_equal(cm_crl_check(ctx, P[LEAF_REV].c, P[CA].c, NOW + 2 * DAY,
	    &res), CM_REV_ERROR);
	assert_non_null(strstr(res.reason, "CRL: no valid CRL: "
	    "http://127.0.0.1:9/ca.crl: CRL fetch: "));
	assert_int_equal(res.revocation_time, 0);
	/* the same URL is not downloaded twice in one context */
	assert_int_equal(cm_crl_check(ctx, P[LEAF_GOOD].c, P[CA].c,
	    NOW + 2 * DAY, &res), CM_REV_ERROR);
	cm_crl_ctx_stats(ctx, &fetched, &from_store);
	assert_int_equal(fetched, 1);
	assert_int_equal(from_store, 0);
	cm_crl_ctx_free(ctx);

	/* no URL at all: the certificate's CDP is not http(s) here */
	o.urls = NULL;
	assert_int_equal(cm_crl_ctx_new(&o, &ctx, &err), CM_OK);
	assert_int_equal(cm_crl_check(ctx, P[SUB_CA].c, P[CA].c, NOW, &res),
	    CM_REV_ERROR);
	assert_non_null(strstr(res.reason, "no CRL URL"));
	cm_crl_ctx_free(ctx);

	cm_store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_number_cmp),
		cmocka_unit_test(test_ctx_cache),
	};

	return cmocka_run_group_tests(tests, setup_pki, teardown_pki);
}
