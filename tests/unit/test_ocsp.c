/*
 * test_ocsp.c - unit tests of ocsp.c (request, validation steps 0-5),
 * revocation.c (the verdict table) and fetch.c (against a real HTTP server
 * thread on the loopback, no mocks).
 *
 * The PKI and every OCSP response are made in-process with OpenSSL's
 * X509_* and OCSP_* APIs, table-driven: each row says how to build a
 * response and what the validation must answer. OCSP_basic_sign stamps
 * producedAt with the real time, so the tests take `now` from time() once
 * and shift it per row where they need to.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certmon/fetch.h"
#include "certmon/ocsp.h"
#include "certmon/revocation.h"
#include "ocsp_int.h"       /* requests about several certificates */
#include "pki.h"

#define DAY 86400L
#define NO_NEXT LONG_MIN

static cm_time NOW;

/* ---- the PKI ----------------------------------------------------------- */

enum who {
	CA, LEAF, OTHER_LEAF, DELEG, DELEG_CDP, DELEG_NOCDP, NOEKU,
	DELEG_EXPIRED, ROGUE, DESIG, DESIG_EXPIRED, FAKE_CA, OTHER_CA,
	THIRD_LEAF, FORGED_LEAF,
	N_WHO
};

struct party {
	X509 *x;
	EVP_PKEY *key;
	struct cm_cert *c;
};

static struct party P[N_WHO];

static void
party(enum who w, const char *cn, long serial, enum who issuer, cm_time nb,
    cm_time na, const char *const *exts)
{
	const struct pki_cert s = {"certmon tests", cn, serial, nb, na, exts, 0};

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
	static const char *const leaf_ext[] = {"basicConstraints", "CA:FALSE",
	    NULL};
	static const char *const deleg_ext[] = {"extendedKeyUsage",
	    "OCSPSigning", "noCheck", "ignored", NULL};
	static const char *const cdp_ext[] = {"extendedKeyUsage", "OCSPSigning",
	    "crlDistributionPoints", "URI:http://127.0.0.1:9/ca.crl", NULL};
	static const char *const eku_ext[] = {"extendedKeyUsage", "OCSPSigning",
	    NULL};

	(void)state;
	NOW = (cm_time)time(NULL);
	party(CA, "Test CA", 1, CA, NOW - 10 * DAY, NOW + 3650 * DAY, ca_ext);
	party(LEAF, "Leaf", 0x1001, CA, NOW - DAY, NOW + 365 * DAY, leaf_ext);
	party(OTHER_LEAF, "Other Leaf", 0x1002, CA, NOW - DAY, NOW + 365 * DAY,
	    leaf_ext);
	party(DELEG, "Delegated", 0x2001, CA, NOW - DAY, NOW + 365 * DAY,
	    deleg_ext);
	party(DELEG_CDP, "Delegated CDP", 0x2002, CA, NOW - DAY, NOW + 365 * DAY,
	    cdp_ext);
	party(DELEG_NOCDP, "Delegated bare", 0x2003, CA, NOW - DAY,
	    NOW + 365 * DAY, eku_ext);
	party(NOEKU, "No EKU", 0x2004, CA, NOW - DAY, NOW + 365 * DAY, leaf_ext);
	party(DELEG_EXPIRED, "Delegated expired", 0x2005, CA, NOW - 30 * DAY,
	    NOW - DAY, deleg_ext);
	party(ROGUE, "Rogue", 7, ROGUE, NOW - DAY, NOW + 365 * DAY, eku_ext);
	party(DESIG, "Designated", 8, DESIG, NOW - DAY, NOW + 365 * DAY, eku_ext);
	party(DESIG_EXPIRED, "Designated expired", 9, DESIG_EXPIRED,
	    NOW - 30 * DAY, NOW - DAY, eku_ext);
	party(FAKE_CA, "Test CA", 1, FAKE_CA, NOW - DAY, NOW + 365 * DAY,
	    ca_ext);    /* the CA's name, another key */
	party(OTHER_CA, "Other CA", 2, OTHER_CA, NOW - DAY, NOW + 365 * DAY,
	    ca_ext);
	party(THIRD_LEAF, "Third Leaf", 0x1003, CA, NOW - DAY, NOW + 365 * DAY,
	    leaf_ext);
	/* named as issued by the CA, signed by FAKE_CA's key: fails step 0 */
	party(FORGED_LEAF, "Forged Leaf", 0x1004, FAKE_CA, NOW - DAY,
	    NOW + 365 * DAY, leaf_ext);
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

/* ---- building responses ------------------------------------------------- */

enum certid { ID_OURS = 0, ID_OTHER_SERIAL, ID_SHA256, ID_DUP_SAME,
	ID_DUP_CONFLICT, ID_EXTRA_OTHER, ID_NONE };
enum nonce_mode { N_ECHO = 0, N_OTHER, N_NONE };
enum ext_mode { X_NONE = 0, X_CRIT_RESP, X_NONCRIT_RESP, X_CRIT_SINGLE };
enum mangle { M_NONE = 0, M_BADSIG, M_TRAILING };
enum req_mode { R_NONCE = 0, R_NO_NONCE, R_STAPLED, R_SHA256 };
enum trusted_mode { T_NONE = 0, T_DESIG, T_NOEKU, T_DESIG_EXPIRED };
enum crl_mode { CRL_NONE = 0, CRL_GOOD, CRL_REVOKED };

struct row {
	const char *name;
	/* the response */
	enum who signer;
	int key_id;                     /* ResponderID byKey */
	int cert_status;                /* V_OCSP_CERTSTATUS_* */
	int rev_reason;                 /* with REVOKED */
	enum certid certid;
	long this_off, next_off;        /* both 0: -1 h and +1 d */
	enum nonce_mode nonce;
	enum ext_mode ext;
	enum mangle mangle;
	/* the validation */
	enum req_mode req;
	int cc, require_nonce;
	enum trusted_mode trusted;
	enum crl_mode crl;
	long now_off;
	/* expected */
	enum cm_rev_status want;
	enum cm_ocsp_trust want_trust;
	const char *want_reason;        /* a substring of the reason */
};

static void
add_status(OCSP_BASICRESP *bs, const EVP_MD *md, X509 *cert, int status,
    int reason, cm_time thisu, long next_off)
{
	OCSP_CERTID *id = OCSP_cert_to_id(md, cert, P[CA].x);
	ASN1_TIME *tu = ASN1_TIME_set(NULL, (time_t)thisu);
	ASN1_TIME *nu = next_off == NO_NEXT ? NULL :
	    ASN1_TIME_set(NULL, (time_t)(NOW + next_off));
	ASN1_TIME *rt = ASN1_TIME_set(NULL, (time_t)(NOW - 2 * DAY));

	assert_non_null(id);
	assert_non_null(OCSP_basic_add1_status(bs, id, status,
	    status == V_OCSP_CERTSTATUS_REVOKED ? reason : 0, rt, tu, nu));
	OCSP_CERTID_free(id);
	ASN1_TIME_free(tu);
	ASN1_TIME_free(nu);
	ASN1_TIME_free(rt);
}

static X509_EXTENSION *
private_ext(int critical)
{
	ASN1_OBJECT *o = OBJ_txt2obj("1.3.6.1.4.1.55555.1", 1);
	ASN1_OCTET_STRING *v = ASN1_OCTET_STRING_new();
	X509_EXTENSION *e;

	ASN1_OCTET_STRING_set(v, (const unsigned char *)"\x05\x00", 2);
	e = X509_EXTENSION_create_by_OBJ(NULL, o, critical, v);
	ASN1_OBJECT_free(o);
	ASN1_OCTET_STRING_free(v);
	return e;
}

/* Signs bs as signer (ResponderID byKey with key_id), mangles it, and
 * returns the DER of the successful OCSPResponse holding it; frees bs. */
static unsigned char *
sign_response(OCSP_BASICRESP *bs, enum who signer, int key_id,
    enum mangle mangle, size_t *len)
{
	OCSP_RESPONSE *rsp;
	unsigned char *der = NULL, *out;
	unsigned long flags = 0;
	int n;

	if (key_id)
		flags |= OCSP_RESPID_KEY;
	if (signer == CA || mangle == M_BADSIG)
		flags |= OCSP_NOCERTS;  /* the signature ends the DER */
	assert_true(OCSP_basic_sign(bs, P[signer].x, P[signer].key,
	    EVP_sha256(), NULL, flags));
	rsp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs);
	assert_non_null(rsp);
	n = i2d_OCSP_RESPONSE(rsp, &der);
	assert_true(n > 0);
	out = malloc((size_t)n + 1);
	assert_non_null(out);
	memcpy(out, der, (size_t)n);
	*len = (size_t)n;
	if (mangle == M_BADSIG)
		out[n - 1] ^= 0x01;     /* the last octet of the ECDSA s */
	if (mangle == M_TRAILING)
		out[(*len)++] = 0;
	OPENSSL_free(der);
	OCSP_RESPONSE_free(rsp);
	OCSP_BASICRESP_free(bs);
	return out;
}

/* Builds the DER response of row r answering req (NULL = stapled). */
static unsigned char *
make_response(const struct row *r, const struct cm_ocsp_request *req,
    size_t *len)
{
	OCSP_BASICRESP *bs = OCSP_BASICRESP_new();
	const EVP_MD *md = r->certid == ID_SHA256 ? EVP_sha256() : EVP_sha1();
	long this_off = r->this_off, next_off = r->next_off;

	if (this_off == 0 && next_off == 0) {
		this_off = -3600;
		next_off = DAY;
	}
	if (r->certid == ID_EXTRA_OTHER)
		add_status(bs, md, P[OTHER_LEAF].x, V_OCSP_CERTSTATUS_REVOKED, 1,
		    NOW + this_off, next_off);
	if (r->certid == ID_OTHER_SERIAL)
		add_status(bs, md, P[OTHER_LEAF].x, r->cert_status, r->rev_reason,
		    NOW + this_off, next_off);
	else if (r->certid != ID_NONE)
		add_status(bs, md, P[LEAF].x, r->cert_status, r->rev_reason,
		    NOW + this_off, next_off);
	if (r->certid == ID_DUP_SAME)
		add_status(bs, md, P[LEAF].x, r->cert_status, r->rev_reason,
		    NOW + this_off - 60, next_off);
	if (r->certid == ID_DUP_CONFLICT)
		add_status(bs, md, P[LEAF].x, V_OCSP_CERTSTATUS_REVOKED, 1,
		    NOW + this_off, next_off);
	if (r->nonce == N_ECHO && req != NULL && req->nonce_len > 0)
		assert_true(OCSP_basic_add1_nonce(bs, (unsigned char *)req->nonce,
		    (int)req->nonce_len));
	if (r->nonce == N_OTHER) {
		unsigned char other[32];

		RAND_bytes(other, sizeof(other));
		assert_true(OCSP_basic_add1_nonce(bs, other, sizeof(other)));
	}
	if (r->ext != X_NONE) {
		X509_EXTENSION *e = private_ext(r->ext != X_NONCRIT_RESP);

		if (r->ext == X_CRIT_SINGLE)
			OCSP_SINGLERESP_add_ext(OCSP_resp_get0(bs, 0), e, -1);
		else
			OCSP_BASICRESP_add_ext(bs, e, -1);
		X509_EXTENSION_free(e);
	}
	return sign_response(bs, r->signer, r->key_id, r->mangle, len);
}

static enum cm_rev_status
crl_good(const struct cm_cert *responder, const struct cm_cert *issuer,
    cm_time now, void *arg, char *why, size_t why_len)
{
	(void)responder; (void)issuer; (void)now; (void)arg;
	snprintf(why, why_len, "listed as good");
	return CM_REV_GOOD;
}

static enum cm_rev_status
crl_revoked(const struct cm_cert *responder, const struct cm_cert *issuer,
    cm_time now, void *arg, char *why, size_t why_len)
{
	(void)responder; (void)issuer; (void)now; (void)arg;
	snprintf(why, why_len, "on the CRL since yesterday");
	return CM_REV_REVOKED;
}

/* ---- the table ------------------------------------------------------------- */

#define GOOD V_OCSP_CERTSTATUS_GOOD
#define REVOKED V_OCSP_CERTSTATUS_REVOKED
#define UNKNOWN V_OCSP_CERTSTATUS_UNKNOWN
#define DLG CM_OCSP_TRUST_DELEGATED
#define TRS CM_OCSP_TRUST_RESPONDER
#define NON CM_OCSP_TRUST_NONE

static const struct row rows[] = {
	/* answers, signed by the issuing CA */
	{"good by the CA", .signer = CA, .want = CM_REV_GOOD, .want_trust = DLG,
	    .want_reason = "good (signed by the issuing CA CN=Test CA"},
	{"revoked by the CA", .signer = CA, .cert_status = REVOKED,
	    .rev_reason = 1, .want = CM_REV_REVOKED, .want_trust = DLG,
	    .want_reason = "reason keyCompromise"},
	{"on hold", .signer = CA, .cert_status = REVOKED, .rev_reason = 6,
	    .want = CM_REV_REVOKED, .want_trust = DLG,
	    .want_reason = "certificateHold"},
	{"unknown", .signer = CA, .cert_status = UNKNOWN,
	    .want = CM_REV_UNKNOWN, .want_trust = DLG, .want_reason = "unknown"},
	{"CA by key id", .signer = CA, .key_id = 1, .want = CM_REV_GOOD,
	    .want_trust = DLG},
	/* step 2: delegated responders */
	{"delegated", .signer = DELEG, .want = CM_REV_GOOD, .want_trust = DLG,
	    .want_reason = "signed by CN=Delegated"},
	{"delegated by key id", .signer = DELEG, .key_id = 1,
	    .want = CM_REV_GOOD, .want_trust = DLG},
	{"delegated revoked", .signer = DELEG, .cert_status = REVOKED,
	    .rev_reason = 4, .want = CM_REV_REVOKED, .want_trust = DLG,
	    .want_reason = "superseded"},
	{"delegated nocheck, CC", .signer = DELEG, .cc = 1,
	    .want = CM_REV_GOOD, .want_trust = DLG},
	{"delegated CDP, not CC", .signer = DELEG_CDP, .want = CM_REV_GOOD,
	    .want_trust = DLG},
	{"delegated CDP, CC, no CRL check", .signer = DELEG_CDP, .cc = 1,
	    .want = CM_REV_ERROR, .want_trust = NON, .want_reason =
	    "responder certificate revocation unchecked (Common Criteria)"},
	{"delegated CDP, CC, CRL good", .signer = DELEG_CDP, .cc = 1,
	    .crl = CRL_GOOD, .want = CM_REV_GOOD, .want_trust = DLG},
	{"delegated CDP, CC, CRL revoked", .signer = DELEG_CDP, .cc = 1,
	    .crl = CRL_REVOKED, .want = CM_REV_ERROR, .want_trust = NON,
	    .want_reason = "its CRL check says revoked"},
	{"delegated bare, CC", .signer = DELEG_NOCDP, .cc = 1,
	    .want = CM_REV_ERROR, .want_trust = NON, .want_reason =
	    "neither id-pkix-ocsp-nocheck nor a CRL distribution point"},
	{"delegated bare, not CC", .signer = DELEG_NOCDP, .want = CM_REV_GOOD,
	    .want_trust = DLG},
	{"no EKU", .signer = NOEKU, .want = CM_REV_ERROR, .want_trust = NON,
	    .want_reason = "step 2/3 signer: responder CN=No EKU"},
	{"no EKU: reason", .signer = NOEKU, .want = CM_REV_ERROR,
	    .want_trust = NON, .want_reason = "lacks the id-kp-OCSPSigning EKU"},
	{"delegated expired", .signer = DELEG_EXPIRED, .want = CM_REV_ERROR,
	    .want_trust = NON, .want_reason = "responder CN=Delegated expired,"
	    "O=certmon tests not accepted: its certificate expired"},
	{"rogue", .signer = ROGUE, .want = CM_REV_ERROR, .want_trust = NON,
	    .want_reason = "step 2/3 signer: response signed by an unknown "
	    "responder (CN=Rogue,O=certmon tests)"},
	{"rogue by key id", .signer = ROGUE, .key_id = 1, .want = CM_REV_ERROR,
	    .want_trust = NON, .want_reason = "unknown responder"},
	{"the CA's name, another key", .signer = FAKE_CA, .want = CM_REV_ERROR,
	    .want_trust = NON, .want_reason = "does not verify with the key of "
	    "the issuing CA"},
	{"bad signature", .signer = CA, .mangle = M_BADSIG,
	    .want = CM_REV_ERROR, .want_trust = NON,
	    .want_reason = "does not verify"},
	/* step 3: trusted responders */
	{"designated, trusted", .signer = DESIG, .trusted = T_DESIG,
	    .want = CM_REV_GOOD, .want_trust = TRS,
	    .want_reason = "trusted-responder model"},
	{"designated, trusted, CC", .signer = DESIG, .trusted = T_DESIG,
	    .cc = 1, .want = CM_REV_GOOD, .want_trust = TRS},
	{"designated, not trusted", .signer = DESIG, .want = CM_REV_ERROR,
	    .want_trust = NON, .want_reason = "unknown responder (CN=Designated"},
	{"no EKU, trusted", .signer = NOEKU, .trusted = T_NOEKU,
	    .want = CM_REV_GOOD, .want_trust = TRS},
	{"designated expired", .signer = DESIG_EXPIRED,
	    .trusted = T_DESIG_EXPIRED, .want = CM_REV_ERROR, .want_trust = NON,
	    .want_reason = "responder CN=Designated expired,O=certmon tests not "
	    "accepted: its certificate is not certified by the issuing CA (CN="
	    "Test CA,O=certmon tests) (delegated model); its certificate "
	    "expired"},
	{"rogue, another trusted", .signer = ROGUE, .trusted = T_DESIG,
	    .want = CM_REV_ERROR, .want_trust = NON,
	    .want_reason = "unknown responder"},
	/* step 1: the response answers the request */
	{"wrong CertID (another serial)", .signer = CA,
	    .certid = ID_OTHER_SERIAL, .want = CM_REV_ERROR, .want_trust = NON,
	    .want_reason = "step 1 response: no SingleResponse matches our "
	    "CertID (serial 1001): the response answers 1 other, e.g. serial "
	    "1002"},
	{"SHA-256 CertID to a SHA-1 request", .signer = CA,
	    .certid = ID_SHA256, .want = CM_REV_ERROR, .want_trust = NON,
	    .want_reason = "hashed with SHA256"},
	{"SHA-256 request and CertID", .signer = CA, .certid = ID_SHA256,
	    .req = R_SHA256, .want = CM_REV_GOOD, .want_trust = DLG},
	{"stapled SHA-256", .signer = CA, .certid = ID_SHA256, .req = R_STAPLED,
	    .nonce = N_NONE, .want = CM_REV_GOOD, .want_trust = DLG},
	{"stapled with a foreign nonce", .signer = CA, .req = R_STAPLED,
	    .nonce = N_OTHER, .require_nonce = 1, .want = CM_REV_GOOD,
	    .want_trust = DLG},
	{"ours among others", .signer = CA, .certid = ID_EXTRA_OTHER,
	    .want = CM_REV_GOOD, .want_trust = DLG},
	{"duplicates that agree", .signer = CA, .certid = ID_DUP_SAME,
	    .want = CM_REV_GOOD, .want_trust = DLG},
	{"conflicting duplicates", .signer = CA, .certid = ID_DUP_CONFLICT,
	    .want = CM_REV_ERROR, .want_trust = NON,
	    .want_reason = "conflicting SingleResponses"},
	{"no SingleResponse", .signer = CA, .certid = ID_NONE,
	    .want = CM_REV_ERROR, .want_trust = NON,
	    .want_reason = "no SingleResponse at all"},
	{"unknown critical extension", .signer = CA, .ext = X_CRIT_RESP,
	    .want = CM_REV_ERROR, .want_trust = NON, .want_reason =
	    "unknown critical response extension 1.3.6.1.4.1.55555.1"},
	{"unknown critical single extension", .signer = CA,
	    .ext = X_CRIT_SINGLE, .want = CM_REV_ERROR, .want_trust = NON,
	    .want_reason = "unknown critical SingleResponse extension"},
	{"unknown non-critical extension", .signer = CA, .ext = X_NONCRIT_RESP,
	    .want = CM_REV_GOOD, .want_trust = DLG},
	{"trailing data", .signer = CA, .mangle = M_TRAILING,
	    .want = CM_REV_ERROR, .want_trust = NON,
	    .want_reason = "1 bytes of trailing data"},
	/* step 4: freshness */
	{"stale: nextUpdate passed", .signer = CA, .this_off = -2 * DAY,
	    .next_off = -3600, .want = CM_REV_ERROR, .want_trust = DLG,
	    .want_reason = "step 4 freshness: stale response: nextUpdate"},
	{"nextUpdate passed within skew", .signer = CA, .this_off = -DAY,
	    .next_off = -100, .want = CM_REV_GOOD, .want_trust = DLG},
	{"thisUpdate in the future", .signer = CA, .this_off = 3600,
	    .next_off = DAY, .want = CM_REV_ERROR, .want_trust = DLG,
	    .want_reason = "step 4 freshness: thisUpdate"},
	{"thisUpdate in the future within skew", .signer = CA, .this_off = 100,
	    .next_off = DAY, .want = CM_REV_GOOD, .want_trust = DLG},
	{"producedAt in the future", .signer = CA, .this_off = -3 * 3600,
	    .next_off = DAY, .now_off = -3600, .want = CM_REV_ERROR,
	    .want_trust = DLG, .want_reason = "step 4 freshness: producedAt"},
	{"no nextUpdate, 6 days old", .signer = CA, .this_off = -6 * DAY,
	    .next_off = NO_NEXT, .want = CM_REV_GOOD, .want_trust = DLG},
	{"no nextUpdate, 8 days old", .signer = CA, .this_off = -8 * DAY,
	    .next_off = NO_NEXT, .want = CM_REV_ERROR, .want_trust = DLG,
	    .want_reason = "older than the maximum age of 7d"},
	{"nextUpdate before thisUpdate", .signer = CA, .this_off = -3600,
	    .next_off = -7200, .want = CM_REV_ERROR, .want_trust = DLG,
	    .want_reason = "is before thisUpdate"},
	{"stale revoked is an error", .signer = CA, .cert_status = REVOKED,
	    .rev_reason = 1, .this_off = -9 * DAY, .next_off = -8 * DAY,
	    .want = CM_REV_ERROR, .want_trust = DLG, .want_reason = "stale"},
	/* step 5: nonce */
	{"nonce echoed", .signer = CA, .nonce = N_ECHO, .require_nonce = 1,
	    .want = CM_REV_GOOD, .want_trust = DLG},
	{"nonce mismatch", .signer = CA, .nonce = N_OTHER,
	    .want = CM_REV_ERROR, .want_trust = DLG, .want_reason =
	    "step 5 nonce: the response's nonce does not match"},
	{"no nonce, accepted", .signer = CA, .nonce = N_NONE,
	    .want = CM_REV_GOOD, .want_trust = DLG},
	{"no nonce, required", .signer = CA, .nonce = N_NONE,
	    .require_nonce = 1, .want = CM_REV_ERROR, .want_trust = DLG,
	    .want_reason = "step 5 nonce: the response carries no nonce"},
	{"nonce we did not send", .signer = CA, .nonce = N_OTHER,
	    .req = R_NO_NONCE, .want = CM_REV_ERROR, .want_trust = DLG,
	    .want_reason = "our request had none"},
	{"no nonce either way", .signer = CA, .nonce = N_NONE,
	    .req = R_NO_NONCE, .want = CM_REV_GOOD, .want_trust = DLG},
	/* the order of the steps: a stale response with a rogue signer fails
	 * at the signer, a revoked one with a wrong nonce at the nonce */
	{"rogue and stale", .signer = ROGUE, .this_off = -9 * DAY,
	    .next_off = -8 * DAY, .want = CM_REV_ERROR, .want_trust = NON,
	    .want_reason = "step 2/3 signer"},
	{"revoked with a wrong nonce", .signer = CA, .cert_status = REVOKED,
	    .rev_reason = 1, .nonce = N_OTHER, .want = CM_REV_ERROR,
	    .want_trust = DLG, .want_reason = "step 5 nonce"},
};

static void
run_row(const struct row *r, struct cm_ocsp_ctx *ctx)
{
	struct cm_ocsp_opts o;
	struct cm_ocsp_request req;
	struct cm_ocsp_result res;
	struct cm_cert_list trusted = {NULL, 0, 0, 0};
	struct cm_cert *t = NULL;
	struct cm_err err;
	unsigned char *der;
	size_t len;

	memset(&o, 0, sizeof(o));
	o.common_criteria = r->cc;
	o.require_nonce = r->require_nonce;
	o.no_nonce = r->req == R_NO_NONCE;
	o.hash = r->req == R_SHA256 ? CM_OCSP_HASH_SHA256 : CM_OCSP_HASH_SHA1;
	o.crl_check = r->crl == CRL_GOOD ? crl_good :
	    r->crl == CRL_REVOKED ? crl_revoked : NULL;
	if (r->trusted != T_NONE) {
		t = P[r->trusted == T_DESIG ? DESIG : r->trusted == T_NOEKU ? NOEKU :
		    DESIG_EXPIRED].c;
		trusted.v = &t;
		trusted.n = 1;
		o.trusted = &trusted;
	}
	assert_int_equal(cm_ocsp_request_build(NULL, P[LEAF].c, P[CA].c, &o, &req,
	    &err), CM_OK);
	der = make_response(r, r->req == R_STAPLED ? NULL : &req, &len);
	cm_ocsp_validate(ctx, r->req == R_STAPLED ? NULL : &req, der, len,
	    P[LEAF].c, P[CA].c, &o, NOW + r->now_off, &res);
	if (res.status != r->want || res.trust_model != r->want_trust ||
	    (r->want_reason != NULL && strstr(res.reason, r->want_reason) ==
	    NULL))
		fail_msg("row '%s': status %s trust %d reason '%s'; want %s trust "
		    "%d reason with '%s'", r->name,
		    cm_revocation_status_name(res.status), res.trust_model,
		    res.reason, cm_revocation_status_name(r->want), r->want_trust,
		    r->want_reason ? r->want_reason : "");
	/* never good or revoked on a failure, always a reason */
	assert_true(res.reason[0] != '\0');
	assert_null(strchr(res.reason, '\n'));
	if (res.status == CM_REV_ERROR) {
		assert_int_equal(res.revocation_time, 0);
		assert_string_equal(res.revocation_reason, "");
	}
	if (res.status == CM_REV_REVOKED) {
		assert_int_equal(res.revocation_time, NOW - 2 * DAY);
		assert_true(res.revocation_reason[0] != '\0');
	}
	if (res.status != CM_REV_ERROR) {
		assert_true(res.this_update != 0);
		assert_true(res.produced_at != 0);
		assert_true(res.responder[0] != '\0');
	}
	free(der);
	cm_ocsp_request_clear(&req);
}

static void
test_table(void **state)
{
	struct cm_ocsp_ctx *ctx = NULL;

	(void)state;
	assert_int_equal(cm_ocsp_ctx_new(&ctx, NULL), CM_OK);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		run_row(&rows[i], NULL);        /* without a cache */
		run_row(&rows[i], ctx);         /* with it: twice, for hits */
		run_row(&rows[i], ctx);
	}
	cm_ocsp_ctx_free(ctx);
}

/* ---- raw bytes (garbage, caps, status) ------------------------------------ */

static void
raw_case(const unsigned char *b, size_t len, const char *want)
{
	struct cm_ocsp_request req;
	struct cm_ocsp_result res;

	assert_int_equal(cm_ocsp_request_build(NULL, P[LEAF].c, P[CA].c, NULL, &req,
	    NULL), CM_OK);
	assert_int_equal(cm_ocsp_validate(NULL, &req, b, len, P[LEAF].c,
	    P[CA].c, NULL, NOW, &res), CM_REV_ERROR);
	if (strstr(res.reason, want) == NULL)
		fail_msg("reason '%s' lacks '%s'", res.reason, want);
	assert_int_equal(res.trust_model, CM_OCSP_TRUST_NONE);
	cm_ocsp_request_clear(&req);
}

static void
test_raw(void **state)
{
	static const unsigned char try_later[] = {0x30, 0x03, 0x0a, 0x01, 0x03};
	static const unsigned char unauthorized[] = {0x30, 0x03, 0x0a, 0x01,
	    0x06};
	static const unsigned char success_empty[] = {0x30, 0x03, 0x0a, 0x01,
	    0x00};
	/* successful, responseType 1.2.3.4, response "" */
	static const unsigned char not_basic[] = {0x30, 0x0e, 0x0a, 0x01, 0x00,
	    0xa0, 0x09, 0x30, 0x07, 0x06, 0x03, 0x2a, 0x03, 0x04, 0x04, 0x00};
	/* successful, basic, but the response is not a BasicOCSPResponse */
	static const unsigned char bad_basic[] = {0x30, 0x17, 0x0a, 0x01, 0x00,
	    0xa0, 0x12, 0x30, 0x10, 0x06, 0x09, 0x2b, 0x06, 0x01, 0x05, 0x05,
	    0x07, 0x30, 0x01, 0x01, 0x04, 0x03, 0x30, 0x01, 0x00};
	unsigned char *big;

	(void)state;
	raw_case((const unsigned char *)"hello, world", 12,
	    "step 1 response: not a DER OCSPResponse");
	raw_case(NULL, 0, "step 1 response: the body is empty");
	raw_case(try_later, sizeof(try_later),
	    "the responder answered tryLater (3)");
	raw_case(unauthorized, sizeof(unauthorized), "unauthorized");
	raw_case(success_empty, sizeof(success_empty),
	    "without responseBytes");
	raw_case(not_basic, sizeof(not_basic), "not id-pkix-ocsp-basic");
	raw_case(bad_basic, sizeof(bad_basic), "does not decode");
	big = calloc(1, 70000);
	assert_non_null(big);
	raw_case(big, 70000, "70000 bytes, above the 65536-byte cap");
	free(big);
}

/* ---- step 0 ----------------------------------------------------------------- */

static void
test_issuer(void **state)
{
	struct cm_err err;
	struct cm_ocsp_result res;
	struct row r = {"good", .signer = CA};
	struct cm_ocsp_request req;
	unsigned char *der;
	size_t len;

	(void)state;
	assert_int_equal(cm_ocsp_check_issuer(NULL, P[LEAF].c, P[CA].c, &err),
	    CM_OK);
	assert_int_equal(cm_ocsp_check_issuer(NULL, P[LEAF].c, P[OTHER_CA].c,
	    &err), CM_ERR_INVALID);
	assert_non_null(strstr(err.msg, "step 0 issuer: the certificate's "
	    "issuer (CN=Test CA,O=certmon tests) is not the issuer "
	    "certificate's subject (CN=Other CA"));
	/* same name, another key: the name alone never makes an issuer */
	assert_int_equal(cm_ocsp_check_issuer(NULL, P[LEAF].c, P[FAKE_CA].c,
	    &err), CM_ERR_INVALID);
	assert_non_null(strstr(err.msg, "does not verify the certificate's "
	    "signature"));
	assert_int_equal(cm_ocsp_check_issuer(NULL, P[LEAF].c, NULL, &err),
	    CM_ERR_INVALID);
	/* no request is built for a pair that fails step 0 */
	assert_int_equal(cm_ocsp_request_build(NULL, P[LEAF].c, P[FAKE_CA].c,
	    NULL, &req, &err), CM_ERR_INVALID);
	assert_non_null(strstr(err.msg, "step 0 issuer: the key of the issuer "
	    "certificate"));
	assert_null(req.der);
	/* the validation runs step 0 too, before looking at the response,
	 * unless the request was built for the same pair */
	assert_int_equal(cm_ocsp_request_build(NULL, P[LEAF].c, P[CA].c, NULL, &req,
	    NULL), CM_OK);
	der = make_response(&r, &req, &len);
	assert_int_equal(cm_ocsp_validate(NULL, &req, der, len, P[LEAF].c,
	    P[FAKE_CA].c, NULL, NOW, &res), CM_REV_ERROR);
	assert_non_null(strstr(res.reason, "step 0 issuer"));
	assert_int_equal(cm_ocsp_validate(NULL, &req, der, len, P[LEAF].c,
	    P[CA].c, NULL, NOW, &res), CM_REV_GOOD);
	free(der);
	cm_ocsp_request_clear(&req);
}

/* ---- requests ---------------------------------------------------------------- */

static void
test_request(void **state)
{
	struct cm_ocsp_opts o;
	struct cm_ocsp_request a, b;
	OCSP_REQUEST *req;
	OCSP_ONEREQ *one;
	ASN1_OBJECT *alg = NULL;
	ASN1_INTEGER *serial = NULL;
	const unsigned char *p;
	char *url;
	int idx;

	(void)state;
	memset(&o, 0, sizeof(o));
	assert_int_equal(cm_ocsp_request_build(NULL, P[LEAF].c, P[CA].c, &o, &a, NULL),
	    CM_OK);
	assert_int_equal(cm_ocsp_request_build(NULL, P[LEAF].c, P[CA].c, &o, &b, NULL),
	    CM_OK);
	assert_int_equal(a.nonce_len, CM_OCSP_NONCE_DEFAULT);
	assert_memory_not_equal(a.nonce, b.nonce, a.nonce_len);   /* fresh */
	p = a.der;
	req = d2i_OCSP_REQUEST(NULL, &p, (long)a.der_len);
	assert_non_null(req);
	assert_int_equal(OCSP_request_onereq_count(req), 1);
	one = OCSP_request_onereq_get0(req, 0);
	OCSP_id_get0_info(NULL, &alg, NULL, &serial, OCSP_onereq_get0_id(one));
	assert_int_equal(OBJ_obj2nid(alg), NID_sha1);      /* RFC 5019 */
	assert_int_equal(ASN1_INTEGER_get(serial), 0x1001);
	idx = OCSP_REQUEST_get_ext_by_NID(req, NID_id_pkix_OCSP_Nonce, -1);
	assert_true(idx >= 0);
	OCSP_REQUEST_free(req);
	cm_ocsp_request_clear(&b);

	o.no_nonce = 1;
	assert_int_equal(cm_ocsp_request_build(NULL, P[LEAF].c, P[CA].c, &o, &b, NULL),
	    CM_OK);
	assert_int_equal(b.nonce_len, 0);
	p = b.der;
	req = d2i_OCSP_REQUEST(NULL, &p, (long)b.der_len);
	assert_int_equal(OCSP_REQUEST_get_ext_by_NID(req, NID_id_pkix_OCSP_Nonce,
	    -1), -1);
	OCSP_REQUEST_free(req);
	cm_ocsp_request_clear(&b);

	o.no_nonce = 0;
	o.nonce_len = 16;
	assert_int_equal(cm_ocsp_request_build(NULL, P[LEAF].c, P[CA].c, &o, &b, NULL),
	    CM_OK);
	assert_int_equal(b.nonce_len, 16);
	cm_ocsp_request_clear(&b);
	o.nonce_len = 8;
	assert_int_equal(cm_ocsp_request_build(NULL, P[LEAF].c, P[CA].c, &o, &b, NULL),
	    CM_ERR_INVALID);
	o.nonce_len = 33;
	assert_int_equal(cm_ocsp_request_build(NULL, P[LEAF].c, P[CA].c, &o, &b, NULL),
	    CM_ERR_INVALID);

	/* GET: base64, URL-encoded, one slash */
	url = cm_ocsp_request_get_url("http://ocsp.test", &a);
	assert_non_null(url);
	assert_true(strncmp(url, "http://ocsp.test/M", 18) == 0);
	assert_null(strchr(url + 17, '/'));
	assert_null(strchr(url + 17, '+'));
	assert_null(strchr(url + 17, '='));
	free(url);
	url = cm_ocsp_request_get_url("http://ocsp.test/", &a);
	assert_true(strncmp(url, "http://ocsp.test/M", 18) == 0);
	assert_null(strstr(url, "//M"));
	free(url);
	cm_ocsp_request_clear(&a);
	cm_ocsp_request_clear(NULL);
}

/* ---- the verdict table ------------------------------------------------------ */

static void
test_verdict(void **state)
{
	static const struct {
		enum cm_rev_status st;
		int cc;
		enum cm_verdict want;
		int alarm;
	} t[] = {
		{CM_REV_GOOD, 1, CM_VERDICT_PASS, 0},
		{CM_REV_GOOD, 0, CM_VERDICT_PASS, 0},
		{CM_REV_REVOKED, 1, CM_VERDICT_FAIL, 0},
		{CM_REV_REVOKED, 0, CM_VERDICT_FAIL, 0},
		{CM_REV_UNKNOWN, 1, CM_VERDICT_FAIL, 0},
		{CM_REV_UNKNOWN, 0, CM_VERDICT_WARN, 0},
		{CM_REV_ERROR, 1, CM_VERDICT_FAIL, 0},
		{CM_REV_ERROR, 0, CM_VERDICT_WARN, 1},
	};
	struct cm_rev_verdict v;

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		cm_revocation_verdict(t[i].st, "why", t[i].cc, NOW + DAY, NOW, &v);
		assert_int_equal(v.verdict, t[i].want);
		assert_int_equal(v.alarm, t[i].alarm);
		assert_int_equal(v.expired, 0);
		assert_non_null(strstr(v.reason, "why"));
		/* an expired certificate fails whatever its status */
		cm_revocation_verdict(t[i].st, "why", t[i].cc, NOW - 1, NOW, &v);
		assert_int_equal(v.verdict, CM_VERDICT_FAIL);
		assert_int_equal(v.expired, 1);
		assert_int_equal(v.alarm, 0);
		assert_true(strncmp(v.reason, "certificate expired", 19) == 0);
	}
	cm_revocation_verdict(CM_REV_ERROR, NULL, 0, 0, NOW, &v);
	assert_non_null(strstr(v.reason, "soft-fail"));
	assert_string_equal(cm_revocation_verdict_name(CM_VERDICT_WARN), "pass");
	assert_string_equal(cm_revocation_verdict_name(CM_VERDICT_FAIL), "fail");
	assert_string_equal(cm_ocsp_trust_name(CM_OCSP_TRUST_RESPONDER),
	    "trusted-responder");
	assert_null(cm_ocsp_trust_name(CM_OCSP_TRUST_NONE));
}

/* ---- the cache, from several threads ----------------------------------------- */

struct worker {
	struct cm_ocsp_ctx *ctx;
	const unsigned char *der;
	size_t len;
	const struct cm_ocsp_request *req;
	int bad;
};

static void *
work(void *arg)
{
	struct worker *w = arg;
	struct cm_ocsp_result res;

	for (int i = 0; i < 40; i++)
		if (cm_ocsp_validate(w->ctx, w->req, w->der, w->len, P[LEAF].c,
		    P[CA].c, NULL, NOW, &res) != CM_REV_GOOD ||
		    res.trust_model != CM_OCSP_TRUST_DELEGATED)
			w->bad++;
	return NULL;
}

static void
test_cache_threads(void **state)
{
	struct row r = {"delegated", .signer = DELEG};
	struct cm_ocsp_ctx *ctx = NULL;
	struct cm_ocsp_request req;
	struct worker w[4];
	pthread_t th[4];
	uint64_t hits = 0, misses = 0;
	unsigned char *der;
	size_t len;

	(void)state;
	assert_int_equal(cm_ocsp_ctx_new(&ctx, NULL), CM_OK);
	assert_int_equal(cm_ocsp_request_build(NULL, P[LEAF].c, P[CA].c, NULL, &req,
	    NULL), CM_OK);
	der = make_response(&r, &req, &len);
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ctx, der, len, &req, 0};
		assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].bad, 0);
	}
	/* 160 validations, 1 signed-by fact each (the responder's; step 0
	 * passed when the request was built for this pair): all but the
	 * first few are hits */
	cm_ocsp_ctx_stats(ctx, &hits, &misses);
	assert_int_equal(hits + misses, 160);
	assert_true(misses <= 8);
	free(der);
	cm_ocsp_request_clear(&req);
	cm_ocsp_ctx_free(ctx);
}

/* ---- requests about several certificates (ocsp_int.h) ----------------------
 *
 * cm_ocsp_request_build_many / cm_ocsp_validate_many: one request about
 * several certificates of one issuer (RFC 6960 4.1.1), one response. */

/* One SingleResponse of a response about several certificates. */
struct entry {
	enum who w;
	int status;                     /* V_OCSP_CERTSTATUS_* */
	int reason;                     /* with REVOKED */
	long this_off, next_off;        /* both 0: -1 h and +1 d */
};

/* Points m[0..n) at the certificates P[w[i]], outputs zeroed. */
static void
members_of(struct cm_ocsp_member *m, const enum who *w, size_t n)
{
	memset(m, 0, n * sizeof(*m));
	for (size_t i = 0; i < n; i++) {
		m[i].der = P[w[i]].c->der;
		m[i].der_len = P[w[i]].c->der_len;
		m[i].fp = P[w[i]].c->fp;
	}
}

/* The response answering e[0..ne) (SHA-1 CertIDs under the CA), signed
 * by signer, with req's nonce (N_ECHO), another one or none. */
static unsigned char *
make_multi(const struct entry *e, size_t ne, enum who signer,
    enum nonce_mode nonce, enum mangle mangle,
    const struct cm_ocsp_request *req, size_t *len)
{
	OCSP_BASICRESP *bs = OCSP_BASICRESP_new();

	assert_non_null(bs);
	for (size_t i = 0; i < ne; i++) {
		long t = e[i].this_off, nx = e[i].next_off;

		if (t == 0 && nx == 0) {
			t = -3600;
			nx = DAY;
		}
		add_status(bs, EVP_sha1(), P[e[i].w].x, e[i].status, e[i].reason,
		    NOW + t, nx);
	}
	if (nonce == N_ECHO && req != NULL && req->nonce_len > 0)
		assert_true(OCSP_basic_add1_nonce(bs, (unsigned char *)req->nonce,
		    (int)req->nonce_len));
	if (nonce == N_OTHER) {
		unsigned char other[32];

		RAND_bytes(other, sizeof(other));
		assert_true(OCSP_basic_add1_nonce(bs, other, sizeof(other)));
	}
	return sign_response(bs, signer, 0, mangle, len);
}

/* Fails unless a and b say the same in every field. */
static void
same_result(const struct cm_ocsp_result *a, const struct cm_ocsp_result *b,
    const char *what)
{
	if (a->status != b->status || a->trust_model != b->trust_model ||
	    strcmp(a->reason, b->reason) != 0 ||
	    a->this_update != b->this_update ||
	    a->next_update != b->next_update ||
	    a->produced_at != b->produced_at ||
	    a->revocation_time != b->revocation_time ||
	    strcmp(a->revocation_reason, b->revocation_reason) != 0 ||
	    strcmp(a->responder, b->responder) != 0)
		fail_msg("%s: validate_many says %s/%d '%s' (this %lld next %lld "
		    "produced %lld revoked %lld '%s' by '%s'); alone %s/%d '%s' "
		    "(this %lld next %lld produced %lld revoked %lld '%s' by "
		    "'%s')", what, cm_revocation_status_name(a->status),
		    a->trust_model, a->reason, (long long)a->this_update,
		    (long long)a->next_update, (long long)a->produced_at,
		    (long long)a->revocation_time, a->revocation_reason,
		    a->responder, cm_revocation_status_name(b->status),
		    b->trust_model, b->reason, (long long)b->this_update,
		    (long long)b->next_update, (long long)b->produced_at,
		    (long long)b->revocation_time, b->revocation_reason,
		    b->responder);
}

/* The request's DER, decoded (all of it). */
static OCSP_REQUEST *
decode_request(const struct cm_ocsp_request *req)
{
	const unsigned char *p = req->der;
	OCSP_REQUEST *q;

	assert_non_null(p);
	q = d2i_OCSP_REQUEST(NULL, &p, (long)req->der_len);
	assert_non_null(q);
	assert_ptr_equal(p, req->der + req->der_len);
	return q;
}

/* Fails unless req asks, in this order, about P[w[0..n)] issued by the
 * CA (CertIDs hashed with md). */
static void
assert_asks(const struct cm_ocsp_request *req, const EVP_MD *md,
    const enum who *w, size_t n)
{
	OCSP_REQUEST *q = decode_request(req);

	assert_int_equal(OCSP_request_onereq_count(q), (int)n);
	for (size_t i = 0; i < n; i++) {
		OCSP_CERTID *want = OCSP_cert_to_id(md, P[w[i]].x, P[CA].x);

		assert_non_null(want);
		if (OCSP_id_cmp(OCSP_onereq_get0_id(OCSP_request_onereq_get0(q,
		    (int)i)), want) != 0)
			fail_msg("CertID %zu of the request is not the one of "
			    "P[%d]", i, (int)w[i]);
		OCSP_CERTID_free(want);
	}
	OCSP_REQUEST_free(q);
}

/* The cert_fp of a request about P[w[0..n)]: SHA-256 of their
 * fingerprints in order (ocsp_int.h). */
static void
fp_of_several(const enum who *w, size_t n, unsigned char out[CM_FP_LEN])
{
	unsigned char buf[8 * CM_FP_LEN];
	unsigned int olen = 0;

	assert_true(n <= 8);
	for (size_t i = 0; i < n; i++)
		memcpy(buf + i * CM_FP_LEN, P[w[i]].c->fp, CM_FP_LEN);
	assert_true(EVP_Digest(buf, n * CM_FP_LEN, out, &olen, EVP_sha256(),
	    NULL));
	assert_int_equal(olen, CM_FP_LEN);
}

static void
assert_step0_failed(const struct cm_ocsp_member *m, const char *why)
{
	assert_int_equal(m->built, CM_ERR_INVALID);
	assert_int_equal(m->res.status, CM_REV_ERROR);
	assert_int_equal(m->res.trust_model, CM_OCSP_TRUST_NONE);
	assert_int_equal(m->ask_alone, 0);
	if (strncmp(m->res.reason, "step 0 issuer:", 14) != 0 ||
	    strstr(m->res.reason, why) == NULL)
		fail_msg("step 0 reason '%s' lacks '%s'", m->res.reason, why);
}

/* Promise 1: step 0 for each member, the others asked about in order. */
static void
test_many_build(void **state)
{
	static const char not_signed[] = "does not verify the certificate's "
	    "signature";
	static const char not_named[] = "is not the issuer certificate's "
	    "subject";
	const enum who four[] = {LEAF, FORGED_LEAF, OTHER_LEAF, ROGUE};
	const enum who asked[] = {LEAF, OTHER_LEAF};
	const enum who three[] = {LEAF, OTHER_LEAF, THIRD_LEAF};
	const enum who bad[] = {FORGED_LEAF, ROGUE};
	const enum who one_of_two[] = {FORGED_LEAF, THIRD_LEAF};
	struct cm_ocsp_member m[4];
	struct cm_ocsp_request req, one;
	struct cm_ocsp_opts o;
	struct cm_err err;
	unsigned char want_fp[CM_FP_LEN];
	OCSP_REQUEST *q;

	(void)state;
	memset(&o, 0, sizeof(o));
	/* two of four pass step 0: asked about, in order */
	members_of(m, four, 4);
	assert_int_equal(cm_ocsp_request_build_many(NULL, m, 4, P[CA].c, &o,
	    &req, &err), CM_OK);
	assert_int_equal(m[0].built, CM_OK);
	assert_step0_failed(&m[1], not_signed);
	assert_int_equal(m[2].built, CM_OK);
	assert_step0_failed(&m[3], not_named);
	assert_int_equal(m[0].ask_alone + m[2].ask_alone, 0);
	assert_asks(&req, EVP_sha1(), asked, 2);
	fp_of_several(asked, 2, want_fp);
	assert_memory_equal(req.cert_fp, want_fp, CM_FP_LEN);
	assert_memory_equal(req.issuer_fp, P[CA].c->fp, CM_FP_LEN);
	assert_int_equal(req.hash, CM_OCSP_HASH_SHA1);
	assert_int_equal(req.nonce_len, CM_OCSP_NONCE_DEFAULT);
	q = decode_request(&req);     /* one nonce for the whole request */
	assert_true(OCSP_REQUEST_get_ext_by_NID(q, NID_id_pkix_OCSP_Nonce, -1)
	    >= 0);
	OCSP_REQUEST_free(q);
	cm_ocsp_request_clear(&req);

	/* with a context (cached step 0 facts) and SHA-256 CertIDs */
	{
		struct cm_ocsp_ctx *ctx = NULL;

		assert_int_equal(cm_ocsp_ctx_new(&ctx, NULL), CM_OK);
		o.hash = CM_OCSP_HASH_SHA256;
		for (int pass = 0; pass < 2; pass++) {
			members_of(m, three, 3);
			assert_int_equal(cm_ocsp_request_build_many(ctx, m, 3,
			    P[CA].c, &o, &req, &err), CM_OK);
			for (size_t i = 0; i < 3; i++)
				assert_int_equal(m[i].built, CM_OK);
			assert_asks(&req, EVP_sha256(), three, 3);
			assert_int_equal(req.hash, CM_OCSP_HASH_SHA256);
			fp_of_several(three, 3, want_fp);
			assert_memory_equal(req.cert_fp, want_fp, CM_FP_LEN);
			cm_ocsp_request_clear(&req);
		}
		o.hash = CM_OCSP_HASH_SHA1;
		cm_ocsp_ctx_free(ctx);
	}

	/* one passes of two: a request about it alone, whose cert_fp is its
	 * fingerprint, like cm_ocsp_request_build's */
	members_of(m, one_of_two, 2);
	assert_int_equal(cm_ocsp_request_build_many(NULL, m, 2, P[CA].c, &o,
	    &req, &err), CM_OK);
	assert_step0_failed(&m[0], not_signed);
	assert_int_equal(m[1].built, CM_OK);
	assert_asks(&req, EVP_sha1(), &one_of_two[1], 1);
	assert_memory_equal(req.cert_fp, P[THIRD_LEAF].c->fp, CM_FP_LEN);
	assert_int_equal(cm_ocsp_request_build(NULL, P[THIRD_LEAF].c, P[CA].c,
	    &o, &one, &err), CM_OK);
	assert_memory_equal(req.cert_fp, one.cert_fp, CM_FP_LEN);
	assert_memory_equal(req.issuer_fp, one.issuer_fp, CM_FP_LEN);
	cm_ocsp_request_clear(&one);
	cm_ocsp_request_clear(&req);

	/* none passes: CM_ERR_INVALID with the first failure, no request */
	members_of(m, bad, 2);
	memset(&err, 0, sizeof(err));
	assert_int_equal(cm_ocsp_request_build_many(NULL, m, 2, P[CA].c, &o,
	    &req, &err), CM_ERR_INVALID);
	assert_step0_failed(&m[0], not_signed);
	assert_step0_failed(&m[1], not_named);
	assert_int_equal(err.code, CM_ERR_INVALID);
	assert_true(strncmp(err.msg, "step 0 issuer:", 14) == 0);
	assert_non_null(strstr(err.msg, not_signed));      /* the first */
	assert_null(req.der);
	assert_int_equal(req.der_len, 0);

	/* the CA's leaves under another CA: none passes */
	members_of(m, three, 3);
	assert_int_equal(cm_ocsp_request_build_many(NULL, m, 3, P[OTHER_CA].c,
	    &o, &req, &err), CM_ERR_INVALID);
	for (size_t i = 0; i < 3; i++)
		assert_step0_failed(&m[i], not_named);
	assert_null(req.der);
	/* the CA's name with another key */
	members_of(m, three, 3);
	assert_int_equal(cm_ocsp_request_build_many(NULL, m, 3, P[FAKE_CA].c,
	    &o, &req, &err), CM_ERR_INVALID);
	for (size_t i = 0; i < 3; i++)
		assert_step0_failed(&m[i], not_signed);
	/* no issuer */
	members_of(m, three, 3);
	assert_int_equal(cm_ocsp_request_build_many(NULL, m, 3, NULL, &o, &req,
	    &err), CM_ERR_INVALID);
	for (size_t i = 0; i < 3; i++)
		assert_step0_failed(&m[i], "no issuer certificate");
	assert_null(req.der);
	/* no member */
	assert_int_equal(cm_ocsp_request_build_many(NULL, m, 0, P[CA].c, &o,
	    &req, &err), CM_ERR_INVALID);
	assert_null(req.der);

	/* an error not of step 0 (a bad nonce length): CM_ERR_INVALID, the
	 * members that passed step 0 share it and are not marked as step 0
	 * failures */
	o.nonce_len = 8;
	members_of(m, four, 4);
	assert_int_equal(cm_ocsp_request_build_many(NULL, m, 4, P[CA].c, &o,
	    &req, &err), CM_ERR_INVALID);
	assert_non_null(strstr(err.msg, "a nonce of 8 octets"));
	assert_null(req.der);
	for (size_t i = 0; i < 4; i += 2) {
		assert_int_not_equal(m[i].built, CM_OK);
		assert_int_not_equal(m[i].built, CM_ERR_INVALID);
		assert_int_equal(m[i].res.status, CM_REV_ERROR);
		assert_non_null(strstr(m[i].res.reason, "a nonce of 8 octets"));
	}
	assert_step0_failed(&m[1], not_signed);
	assert_step0_failed(&m[3], not_named);
}

/* The members of the table rows: three leaves of the CA. */
static const enum who many_w[] = {LEAF, OTHER_LEAF, THIRD_LEAF};
#define NM 3

/* How one response about several is validated: the response is made by
 * make_multi from the entries (or is raw bytes), the members are
 * many_w. */
struct mrow {
	const char *name;
	struct entry e[5];
	size_t ne;
	enum who signer;
	enum nonce_mode nonce;
	enum mangle mangle;
	const char *raw;                /* not NULL: the response, raw_len */
	size_t raw_len;
	int require_nonce;
	enum trusted_mode trusted;
	/* expected, per member */
	enum cm_rev_status want[NM];
	const char *want_reason[NM];    /* substrings */
	int want_alone[NM];
	int same_error;                 /* every member the same reason */
};

#define E3(a, b, c) {{LEAF, a}, {OTHER_LEAF, b}, {THIRD_LEAF, c}}, .ne = 3
#define ALL3(x) {x, x, x}

static const struct mrow mrows[] = {
	/* promise 2: each member its own status */
	{"mixed, by the CA",
	    .e = {{LEAF, GOOD}, {OTHER_LEAF, REVOKED, 1}, {THIRD_LEAF, UNKNOWN}},
	    .ne = 3, .signer = CA,
	    .want = {CM_REV_GOOD, CM_REV_REVOKED, CM_REV_UNKNOWN},
	    .want_reason = {"good (signed by the issuing CA CN=Test CA",
	    "revoked at", "unknown: the responder does not know"}},
	{"mixed, by a delegate, answers in another order",
	    .e = {{THIRD_LEAF, UNKNOWN}, {OTHER_LEAF, REVOKED, 6}, {LEAF, GOOD}},
	    .ne = 3, .signer = DELEG,
	    .want = {CM_REV_GOOD, CM_REV_REVOKED, CM_REV_UNKNOWN},
	    .want_reason = {"good (signed by CN=Delegated",
	    "reason certificateHold (signed by CN=Delegated",
	    "unknown: the responder does not know the certificate (signed by "
	    "CN=Delegated"}},
	{"mixed, by a designated responder", .trusted = T_DESIG,
	    .e = {{LEAF, REVOKED, 4}, {OTHER_LEAF, UNKNOWN}, {THIRD_LEAF, GOOD}},
	    .ne = 3, .signer = DESIG,
	    .want = {CM_REV_REVOKED, CM_REV_UNKNOWN, CM_REV_GOOD},
	    .want_reason = {"reason superseded", "trusted-responder model",
	    "good (signed by CN=Designated"}},
	{"answers about others too",
	    .e = {{NOEKU, REVOKED, 1}, {THIRD_LEAF, GOOD}, {LEAF, GOOD},
	    {OTHER_LEAF, GOOD}}, .ne = 4, .signer = CA,
	    .want = ALL3(CM_REV_GOOD), .want_reason = ALL3("good")},
	/* per member failures of step 1 and step 4 */
	{"one answer stale",
	    .e = {{LEAF, GOOD}, {OTHER_LEAF, GOOD, 0, -2 * DAY, -3600},
	    {THIRD_LEAF, REVOKED, 1}}, .ne = 3, .signer = CA,
	    .want = {CM_REV_GOOD, CM_REV_ERROR, CM_REV_REVOKED},
	    .want_reason = {"good", "step 4 freshness: stale response: "
	    "nextUpdate", "reason keyCompromise"}},
	{"conflicting answers about one",
	    .e = {{LEAF, GOOD}, {OTHER_LEAF, GOOD}, {OTHER_LEAF, REVOKED, 1},
	    {THIRD_LEAF, UNKNOWN}}, .ne = 4, .signer = CA,
	    .want = {CM_REV_GOOD, CM_REV_ERROR, CM_REV_UNKNOWN},
	    .want_reason = {"good", "step 1 response: conflicting "
	    "SingleResponses", "unknown"}},
	/* promise 3: no SingleResponse for a member: it alone is asked
	 * about alone */
	{"one not answered",
	    .e = {{THIRD_LEAF, REVOKED, 1}, {LEAF, GOOD}}, .ne = 2, .signer = CA,
	    .want = {CM_REV_GOOD, CM_REV_ERROR, CM_REV_REVOKED},
	    .want_reason = {"good", "step 1 response: no SingleResponse "
	    "matches our CertID (serial 1002): the response answers 2 others",
	    "revoked"}, .want_alone = {0, 1, 0}},
	{"only others answered", .e = {{NOEKU, GOOD}}, .ne = 1, .signer = CA,
	    .want = ALL3(CM_REV_ERROR),
	    .want_reason = {"no SingleResponse matches our CertID (serial 1001)",
	    "(serial 1002)", "(serial 1003)"}, .want_alone = ALL3(1)},
	{"no SingleResponse at all", .ne = 0, .signer = CA,
	    .want = ALL3(CM_REV_ERROR),
	    .want_reason = ALL3("step 1 response: no SingleResponse at all"),
	    .want_alone = ALL3(1), .same_error = 1},
	/* promise 3: a refused request: every member asked about alone */
	{"malformedRequest", .raw = "\x30\x03\x0a\x01\x01", .raw_len = 5,
	    .want = ALL3(CM_REV_ERROR),
	    .want_reason = ALL3("step 1 response: the responder answered "
	    "malformedRequest (1), not successful"),
	    .want_alone = ALL3(1), .same_error = 1},
	{"unauthorized", .raw = "\x30\x03\x0a\x01\x06", .raw_len = 5,
	    .want = ALL3(CM_REV_ERROR),
	    .want_reason = ALL3("the responder answered unauthorized (6)"),
	    .want_alone = ALL3(1), .same_error = 1},
	/* promise 3: any other failure: the same error for all, no asking
	 * alone */
	{"internalError", .raw = "\x30\x03\x0a\x01\x02", .raw_len = 5,
	    .want = ALL3(CM_REV_ERROR),
	    .want_reason = ALL3("answered internalError (2)"), .same_error = 1},
	{"tryLater", .raw = "\x30\x03\x0a\x01\x03", .raw_len = 5,
	    .want = ALL3(CM_REV_ERROR),
	    .want_reason = ALL3("answered tryLater (3)"), .same_error = 1},
	{"sigRequired", .raw = "\x30\x03\x0a\x01\x05", .raw_len = 5,
	    .want = ALL3(CM_REV_ERROR),
	    .want_reason = ALL3("answered sigRequired (5)"), .same_error = 1},
	{"garbage", .raw = "hello, world", .raw_len = 12,
	    .want = ALL3(CM_REV_ERROR),
	    .want_reason = ALL3("step 1 response: not a DER OCSPResponse"),
	    .same_error = 1},
	{"empty", .raw = "", .raw_len = 0, .want = ALL3(CM_REV_ERROR),
	    .want_reason = ALL3("step 1 response: the body is empty"),
	    .same_error = 1},
	{"bad signature", .e = E3(GOOD, GOOD, GOOD), .signer = CA,
	    .mangle = M_BADSIG, .want = ALL3(CM_REV_ERROR),
	    .want_reason = ALL3("step 2/3 signer: responder CN=Test CA,"
	    "O=certmon tests not accepted: the response signature does not "
	    "verify with the key of the issuing CA"), .same_error = 1},
	{"unknown signer", .e = E3(GOOD, REVOKED, GOOD), .signer = ROGUE,
	    .want = ALL3(CM_REV_ERROR),
	    .want_reason = ALL3("step 2/3 signer: response signed by an unknown "
	    "responder (CN=Rogue"), .same_error = 1},
	{"the CA's name, another key", .e = E3(GOOD, GOOD, GOOD),
	    .signer = FAKE_CA, .want = ALL3(CM_REV_ERROR),
	    .want_reason = ALL3("does not verify with the key of the issuing "
	    "CA"), .same_error = 1},
	{"delegate without the EKU", .e = E3(GOOD, GOOD, GOOD), .signer = NOEKU,
	    .want = ALL3(CM_REV_ERROR),
	    .want_reason = ALL3("lacks the id-kp-OCSPSigning EKU"),
	    .same_error = 1},
	{"wrong nonce", .e = E3(GOOD, REVOKED, UNKNOWN), .signer = CA,
	    .nonce = N_OTHER, .want = ALL3(CM_REV_ERROR),
	    .want_reason = ALL3("step 5 nonce: the response's nonce does not "
	    "match our request's"), .same_error = 1},
	{"no nonce, required", .e = E3(GOOD, GOOD, GOOD), .signer = DELEG,
	    .nonce = N_NONE, .require_nonce = 1, .want = ALL3(CM_REV_ERROR),
	    .want_reason = ALL3("step 5 nonce: the response carries no nonce"),
	    .same_error = 1},
	{"no nonce, not required", .e = E3(GOOD, REVOKED, GOOD),
	    .signer = DELEG, .nonce = N_NONE,
	    .want = {CM_REV_GOOD, CM_REV_REVOKED, CM_REV_GOOD},
	    .want_reason = {"good", "revoked", "good"}},
	{"all stale", .e = {{LEAF, GOOD, 0, -2 * DAY, -3600},
	    {OTHER_LEAF, REVOKED, 1, -2 * DAY, -3600},
	    {THIRD_LEAF, UNKNOWN, 0, -2 * DAY, -3600}}, .ne = 3, .signer = CA,
	    .want = ALL3(CM_REV_ERROR),
	    .want_reason = ALL3("step 4 freshness: stale response"),
	    .same_error = 1},
	/* step 1 fails for the unanswered before the signer is looked at
	 * (as validating it alone would) */
	{"bad signature, one not answered",
	    .e = {{LEAF, GOOD}, {THIRD_LEAF, GOOD}}, .ne = 2, .signer = CA,
	    .mangle = M_BADSIG, .want = ALL3(CM_REV_ERROR),
	    .want_reason = {"does not verify", "no SingleResponse matches",
	    "does not verify"}, .want_alone = {0, 1, 0}},
};

/* Checks the outcome r of member i of row w. */
static void
check_member(const struct mrow *w, size_t i, const struct cm_ocsp_result *r,
    int ask_alone, int want_alone)
{
	enum cm_ocsp_trust trust = w->signer == DESIG ?
	    CM_OCSP_TRUST_RESPONDER : CM_OCSP_TRUST_DELEGATED;

	if (r->status != w->want[i] || ask_alone != want_alone ||
	    strstr(r->reason, w->want_reason[i]) == NULL)
		fail_msg("row '%s', member %zu: %s '%s' ask_alone %d; want %s "
		    "'%s' ask_alone %d", w->name, i,
		    cm_revocation_status_name(r->status), r->reason, ask_alone,
		    cm_revocation_status_name(w->want[i]), w->want_reason[i],
		    want_alone);
	assert_true(r->reason[0] != '\0');
	assert_null(strchr(r->reason, '\n'));
	if (r->status == CM_REV_ERROR) {
		assert_int_equal(r->revocation_time, 0);
		assert_string_equal(r->revocation_reason, "");
		return;
	}
	assert_int_equal(r->trust_model, trust);
	assert_true(r->this_update != 0 && r->produced_at != 0);
	assert_true(r->responder[0] != '\0');
	if (r->status == CM_REV_REVOKED) {
		assert_int_equal(r->revocation_time, NOW - 2 * DAY);
		assert_true(r->revocation_reason[0] != '\0');
	} else {
		assert_int_equal(r->revocation_time, 0);
	}
}

static void
run_mrow(const struct mrow *w, struct cm_ocsp_ctx *ctx)
{
	const enum who alone_w[] = {LEAF, FORGED_LEAF};
	struct cm_ocsp_member m[NM];
	struct cm_ocsp_request req;
	struct cm_ocsp_result alone;
	struct cm_ocsp_opts o;
	struct cm_cert_list trusted = {NULL, 0, 0, 0};
	struct cm_cert *t = P[DESIG].c;
	struct cm_err err;
	unsigned char *der;
	size_t len, i;
	char what[200];

	memset(&o, 0, sizeof(o));
	o.require_nonce = w->require_nonce;
	if (w->trusted == T_DESIG) {
		trusted.v = &t;
		trusted.n = 1;
		o.trusted = &trusted;
	}
	members_of(m, many_w, NM);
	assert_int_equal(cm_ocsp_request_build_many(ctx, m, NM, P[CA].c, &o,
	    &req, &err), CM_OK);
	if (w->raw != NULL) {
		len = w->raw_len;
		der = malloc(len + 1);
		assert_non_null(der);
		memcpy(der, w->raw, len);
	} else {
		der = make_multi(w->e, w->ne, w->signer, w->nonce, w->mangle, &req,
		    &len);
	}
	/* what an earlier validation left is overwritten */
	for (i = 0; i < NM; i++) {
		m[i].ask_alone = 1;
		m[i].res.status = CM_REV_GOOD;
		snprintf(m[i].res.reason, sizeof(m[i].res.reason), "stale");
	}
	cm_ocsp_validate_many(ctx, &req, der, len, m, NM, P[CA].c, &o, NOW);
	for (i = 0; i < NM; i++) {
		assert_int_equal(m[i].built, CM_OK);
		check_member(w, i, &m[i].res, m[i].ask_alone, w->want_alone[i]);
		/* promise 2: what validating it alone says */
		cm_ocsp_validate(ctx, &req, der, len, P[many_w[i]].c, P[CA].c, &o,
		    NOW, &alone);
		snprintf(what, sizeof(what), "row '%s', member %zu", w->name, i);
		same_result(&m[i].res, &alone, what);
		if (w->same_error)
			assert_string_equal(m[i].res.reason, m[0].res.reason);
	}
	free(der);
	cm_ocsp_request_clear(&req);

	/* A request about one (of two members: the other fails step 0):
	 * never ask_alone; the one says what cm_ocsp_validate says with the
	 * same request (built for it: step 0 skipped). */
	members_of(m, alone_w, 2);
	assert_int_equal(cm_ocsp_request_build_many(ctx, m, 2, P[CA].c, &o,
	    &req, &err), CM_OK);
	assert_int_equal(m[0].built, CM_OK);
	assert_int_equal(m[1].built, CM_ERR_INVALID);
	if (w->raw != NULL) {
		len = w->raw_len;
		der = malloc(len + 1);
		assert_non_null(der);
		memcpy(der, w->raw, len);
	} else {
		der = make_multi(w->e, w->ne, w->signer, w->nonce, w->mangle, &req,
		    &len);
	}
	cm_ocsp_validate_many(ctx, &req, der, len, m, 2, P[CA].c, &o, NOW);
	check_member(w, 0, &m[0].res, m[0].ask_alone, 0);
	assert_step0_failed(&m[1], "does not verify the certificate's "
	    "signature");   /* untouched */
	cm_ocsp_validate(ctx, &req, der, len, P[LEAF].c, P[CA].c, &o, NOW,
	    &alone);
	snprintf(what, sizeof(what), "row '%s', asked alone", w->name);
	same_result(&m[0].res, &alone, what);
	/* a request about one made of one member */
	cm_ocsp_validate_many(ctx, &req, der, len, m, 1, P[CA].c, &o, NOW);
	check_member(w, 0, &m[0].res, m[0].ask_alone, 0);
	free(der);
	cm_ocsp_request_clear(&req);
}

/* Promises 2 and 3: per member outcomes, the same as alone; ask_alone. */
static void
test_many_validate(void **state)
{
	struct cm_ocsp_ctx *ctx = NULL;

	(void)state;
	assert_int_equal(cm_ocsp_ctx_new(&ctx, NULL), CM_OK);
	for (size_t i = 0; i < sizeof(mrows) / sizeof(mrows[0]); i++) {
		run_mrow(&mrows[i], NULL);
		run_mrow(&mrows[i], ctx);
		run_mrow(&mrows[i], ctx);       /* cache hits */
	}
	cm_ocsp_ctx_free(ctx);
}

/* Fails unless every member built got the "not built for these" error. */
static void
assert_not_built(const struct cm_ocsp_member *m, size_t n, const char *what)
{
	for (size_t i = 0; i < n; i++) {
		if (m[i].built != CM_OK)
			continue;
		if (m[i].res.status != CM_REV_ERROR || strcmp(m[i].res.reason,
		    "internal error: the request was not built for these "
		    "certificates") != 0)
			fail_msg("%s, member %zu: %s '%s'", what, i,
			    cm_revocation_status_name(m[i].res.status),
			    m[i].res.reason);
		assert_int_equal(m[i].res.trust_model, CM_OCSP_TRUST_NONE);
		assert_int_equal(m[i].res.this_update, 0);
		assert_int_equal(m[i].res.produced_at, 0);
		assert_int_equal(m[i].res.responder[0], '\0');
		assert_int_equal(m[i].ask_alone, 0);
	}
}

/* Promise 4: a request built for other members or another issuer. */
/* Validates der, the answer to req, for the members w[0..n), made into a
 * request of their own by build_many: req was not built for them. */
static void
validate_others(struct cm_ocsp_ctx *ctx, const struct cm_ocsp_request *req,
    const unsigned char *der, size_t len, const enum who *w, size_t n,
    const char *what)
{
	struct cm_ocsp_member other[3];
	struct cm_ocsp_request own;

	assert_true(n <= 3);
	members_of(other, w, n);
	assert_int_equal(cm_ocsp_request_build_many(ctx, other, n, P[CA].c,
	    NULL, &own, NULL), CM_OK);
	cm_ocsp_request_clear(&own);
	cm_ocsp_validate_many(ctx, req, der, len, other, n, P[CA].c, NULL, NOW);
	assert_not_built(other, n, what);
}

static void
test_many_not_built(void **state)
{
	const enum who ab[] = {LEAF, OTHER_LEAF}, ba[] = {OTHER_LEAF, LEAF};
	const enum who ac[] = {LEAF, THIRD_LEAF}, abc[] = {LEAF, OTHER_LEAF,
	    THIRD_LEAF};
	static const struct entry all_good[] = {{LEAF, GOOD, 0, 0, 0},
	    {OTHER_LEAF, GOOD, 0, 0, 0}, {THIRD_LEAF, GOOD, 0, 0, 0}};
	struct cm_ocsp_member m[3];
	struct cm_ocsp_request req, one, copy;
	struct cm_ocsp_ctx *ctx = NULL;
	unsigned char *der;
	size_t len;

	(void)state;
	assert_int_equal(cm_ocsp_ctx_new(&ctx, NULL), CM_OK);
	members_of(m, ab, 2);
	assert_int_equal(cm_ocsp_request_build_many(ctx, m, 2, P[CA].c, NULL,
	    &req, NULL), CM_OK);
	/* a good answer about all three leaves: whoever it is checked
	 * for, a validation that took it would say good */
	der = make_multi(all_good, 3, CA, N_ECHO, M_NONE, &req, &len);
	cm_ocsp_validate_many(ctx, &req, der, len, m, 2, P[CA].c, NULL, NOW);
	assert_int_equal(m[0].res.status, CM_REV_GOOD);
	assert_int_equal(m[1].res.status, CM_REV_GOOD);

	/* other members (each built by its own build_many) */
	validate_others(ctx, &req, der, len, ac, 2, "other members");
	validate_others(ctx, &req, der, len, ba, 2, "another order");
	validate_others(ctx, &req, der, len, abc, 3, "more members");
	/* fewer: one of the two */
	cm_ocsp_validate_many(ctx, &req, der, len, m, 1, P[CA].c, NULL, NOW);
	assert_not_built(m, 1, "the first alone");
	cm_ocsp_validate_many(ctx, &req, der, len, &m[1], 1, P[CA].c, NULL, NOW);
	assert_not_built(&m[1], 1, "the second alone");
	/* fewer: the second marked as not asked about */
	m[1].built = CM_ERR_INVALID;
	snprintf(m[1].res.reason, sizeof(m[1].res.reason), "kept");
	cm_ocsp_validate_many(ctx, &req, der, len, m, 2, P[CA].c, NULL, NOW);
	assert_not_built(m, 2, "the second not built");
	assert_string_equal(m[1].res.reason, "kept");
	m[1].built = CM_OK;
	/* another issuer: another CA, the CA's name with another key, none */
	cm_ocsp_validate_many(ctx, &req, der, len, m, 2, P[OTHER_CA].c, NULL,
	    NOW);
	assert_not_built(m, 2, "another CA");
	cm_ocsp_validate_many(ctx, &req, der, len, m, 2, P[FAKE_CA].c, NULL,
	    NOW);
	assert_not_built(m, 2, "the CA's name, another key");
	cm_ocsp_validate_many(ctx, &req, der, len, m, 2, NULL, NULL, NOW);
	assert_not_built(m, 2, "no issuer");
	/* a request about one of them (cm_ocsp_request_build) */
	assert_int_equal(cm_ocsp_request_build(ctx, P[LEAF].c, P[CA].c, NULL,
	    &one, NULL), CM_OK);
	cm_ocsp_validate_many(ctx, &one, der, len, m, 2, P[CA].c, NULL, NOW);
	assert_not_built(m, 2, "a request about the first");
	/* the two's cert_fp over the DER of a request about one */
	copy = req;
	copy.der = one.der;
	copy.der_len = one.der_len;
	cm_ocsp_validate_many(ctx, &copy, der, len, m, 2, P[CA].c, NULL, NOW);
	assert_not_built(m, 2, "a request of one CertID");
	cm_ocsp_request_clear(&one);
	/* no request, no DER */
	cm_ocsp_validate_many(ctx, NULL, der, len, m, 2, P[CA].c, NULL, NOW);
	assert_not_built(m, 2, "no request");
	copy = req;
	copy.der = NULL;
	cm_ocsp_validate_many(ctx, &copy, der, len, m, 2, P[CA].c, NULL, NOW);
	assert_not_built(m, 2, "no DER");
	/* and the right members still get the answer */
	cm_ocsp_validate_many(ctx, &req, der, len, m, 2, P[CA].c, NULL, NOW);
	assert_int_equal(m[0].res.status, CM_REV_GOOD);
	assert_int_equal(m[1].res.status, CM_REV_GOOD);
	free(der);
	cm_ocsp_request_clear(&req);
	cm_ocsp_ctx_free(ctx);
}

/* ---- fetch, against a real HTTP server thread -------------------------------- */

struct srv {
	int fd;
	int port;
	pthread_t th;
	pthread_mutex_t mu;
	int active, max_active, served;
	atomic_int stop;
};

static struct srv S;

static void
send_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL);

		if (w <= 0)
			return;
		c += w;
		n -= (size_t)w;
	}
}

/* The request is no longer in flight once its answer starts: the client
 * may start another transfer as soon as it has it. */
static void
leave(int *in)
{
	if (!*in)
		return;
	*in = 0;
	pthread_mutex_lock(&S.mu);
	S.active--;
	pthread_mutex_unlock(&S.mu);
}

static void
answer(int fd, int *in, const char *text)
{
	leave(in);
	send_all(fd, text, strlen(text));
}

static void *
serve_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char req[8192], head[512], path[128] = "";
	size_t got = 0;
	ssize_t n;
	char *end;
	long clen = 0;
	const char *cl;
	int in = 1;

	pthread_mutex_lock(&S.mu);
	if (++S.active > S.max_active)
		S.max_active = S.active;
	S.served++;
	pthread_mutex_unlock(&S.mu);
	while (got < sizeof(req) - 1 &&
	    (n = recv(fd, req + got, sizeof(req) - 1 - got, 0)) > 0) {
		got += (size_t)n;
		req[got] = '\0';
		if ((end = strstr(req, "\r\n\r\n")) != NULL) {
			cl = strcasestr(req, "Content-Length:");
			clen = cl != NULL ? strtol(cl + 15, NULL, 10) : 0;
			if ((size_t)(end + 4 - req) + (size_t)clen <= got)
				break;
		}
	}
	sscanf(req, "%*s %127s", path);
	if (strcmp(path, "/ok") == 0 || strcmp(path, "/slow") == 0) {
		if (strcmp(path, "/slow") == 0)
			usleep(150 * 1000);
		snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Type: "
		    "application/ocsp-response\r\nContent-Length: 5\r\n"
		    "Connection: close\r\n\r\nhello");
		answer(fd, &in, head);
	} else if (strcmp(path, "/500") == 0) {
		snprintf(head, sizeof(head), "HTTP/1.1 500 Oops\r\n"
		    "Content-Length: 0\r\nConnection: close\r\n\r\n");
		answer(fd, &in, head);
	} else if (strcmp(path, "/redirect") == 0) {
		snprintf(head, sizeof(head), "HTTP/1.1 302 Found\r\nLocation: "
		    "file:///etc/passwd\r\nContent-Length: 0\r\n"
		    "Connection: close\r\n\r\n");
		answer(fd, &in, head);
	} else if (strcmp(path, "/gzip") == 0) {
		snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\n"
		    "Content-Encoding: gzip\r\nContent-Length: 5\r\n"
		    "Connection: close\r\n\r\nhello");
		answer(fd, &in, head);
	} else if (strcmp(path, "/announced") == 0) {
		snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\n"
		    "Content-Length: 10000000\r\nConnection: close\r\n\r\n");
		answer(fd, &in, head);
	} else if (strcmp(path, "/endless") == 0) {
		static char chunk[4096];

		memset(chunk, 'x', sizeof(chunk));
		snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\n"
		    "Connection: close\r\n\r\n");
		answer(fd, &in, head);
		for (int i = 0; i < 256 && !S.stop; i++)    /* 1 MiB at most */
			send_all(fd, chunk, sizeof(chunk));
	} else if (strcmp(path, "/hang") == 0) {
		/* never answers; ends when the client gives up (5 s at most) */
		for (int i = 0; i < 50 && !S.stop; i++) {
			struct pollfd pf = {fd, POLLIN, 0};
			char b;

			if (poll(&pf, 1, 100) > 0 && recv(fd, &b, 1, 0) <= 0)
				break;
		}
	}
	leave(&in);
	close(fd);
	return NULL;
}

static void *
serve(void *arg)
{
	(void)arg;
	while (!S.stop) {
		int c = accept(S.fd, NULL, NULL);
		pthread_t t;

		if (c < 0)
			continue;
		if (S.stop) {
			close(c);
			break;
		}
		if (pthread_create(&t, NULL, serve_conn, (void *)(intptr_t)c) == 0)
			pthread_detach(t);
		else
			close(c);
	}
	return NULL;
}

static int
setup_server(void **state)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	int one = 1;

	(void)state;
	memset(&S, 0, sizeof(S));
	pthread_mutex_init(&S.mu, NULL);
	S.fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(S.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(S.fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(S.fd, 64) != 0 ||
	    getsockname(S.fd, (struct sockaddr *)&a, &al) != 0)
		return -1;
	S.port = ntohs(a.sin_port);
	return pthread_create(&S.th, NULL, serve, NULL) == 0 ? 0 : -1;
}

static int
teardown_server(void **state)
{
	(void)state;
	S.stop = 1;
	shutdown(S.fd, SHUT_RDWR);
	close(S.fd);
	pthread_join(S.th, NULL);
	usleep(200 * 1000);     /* let detached connection threads end */
	return 0;
}

static const char *
url(const char *path)
{
	static char buf[8][128];
	static int i;

	i = (i + 1) % 8;
	snprintf(buf[i], sizeof(buf[i]), "http://127.0.0.1:%d%s", S.port, path);
	return buf[i];
}

static void
fetch_case(const char *path, long timeout_ms, enum cm_status want,
    const char *want_msg)
{
	struct cm_fetch_opts o;
	struct cm_fetch_resp r;
	struct cm_err err = {CM_OK, ""};
	enum cm_status st;

	memset(&o, 0, sizeof(o));
	o.timeout_ms = timeout_ms;
	st = cm_fetch_post(url(path), "application/ocsp-request",
	    (const unsigned char *)"req", 3, &o, &r, &err);
	if (st != want || (want_msg != NULL && strstr(err.msg, want_msg) ==
	    NULL))
		fail_msg("%s: status %d '%s'; want %d '%s'", path, st, err.msg,
		    want, want_msg ? want_msg : "");
	if (st == CM_OK) {
		assert_int_equal(r.http_status, 200);
		assert_int_equal(r.len, 5);
		assert_memory_equal(r.body, "hello", 5);
		assert_string_equal(r.content_type, "application/ocsp-response");
	} else {
		assert_null(r.body);
	}
	cm_fetch_resp_clear(&r);
}

static void
test_fetch(void **state)
{
	struct cm_fetch_opts o;
	struct cm_fetch_resp r;
	struct cm_err err;
	struct cm_strlist allow;
	char *hosts[] = {"ocsp.example.com", "*.pki.test"};
	struct timespec t0, t1;
	double secs;

	(void)state;
	fetch_case("/ok", 0, CM_OK, NULL);
	fetch_case("/500", 0, CM_ERR_IO, "HTTP status 500");
	fetch_case("/redirect", 0, CM_ERR_IO, "HTTP status 302");
	fetch_case("/gzip", 0, CM_ERR_IO, "refused Content-Encoding gzip");
	fetch_case("/announced", 0, CM_ERR_TOOBIG,
	    "the body of 10000000 bytes is above the 65536-byte cap");
	fetch_case("/endless", 0, CM_ERR_TOOBIG,
	    "the body is above the 65536-byte cap");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fetch_case("/hang", 300, CM_ERR_IO, "no complete answer within 300 ms");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_true(secs < 2.0);

	/* GET */
	memset(&o, 0, sizeof(o));
	assert_int_equal(cm_fetch_get(url("/ok"), &o, &r, &err), CM_OK);
	assert_int_equal(r.len, 5);
	cm_fetch_resp_clear(&r);

	/* URLs */
	assert_int_equal(cm_fetch_check_url("http://127.0.0.1/", NULL, &err),
	    CM_OK);
	assert_int_equal(cm_fetch_check_url("HTTPS://ocsp.test/x", NULL, &err),
	    CM_OK);
	assert_int_equal(cm_fetch_check_url("ftp://ocsp.test/", NULL, &err),
	    CM_ERR_INVALID);
	assert_non_null(strstr(err.msg, "only http and https"));
	assert_int_equal(cm_fetch_check_url("file:///etc/passwd", NULL, &err),
	    CM_ERR_INVALID);
	assert_int_equal(cm_fetch_check_url("ldap://x/cn=y", NULL, &err),
	    CM_ERR_INVALID);
	assert_int_equal(cm_fetch_check_url("ocsp.test/x", NULL, &err),
	    CM_ERR_INVALID);
	assert_int_equal(cm_fetch_check_url("", NULL, &err), CM_ERR_INVALID);
	assert_int_equal(cm_fetch_get("gopher://x/", NULL, &r, &err),
	    CM_ERR_INVALID);
	allow.v = hosts;
	allow.n = 2;
	o.allow_hosts = &allow;
	assert_int_equal(cm_fetch_check_url("http://OCSP.example.com/", &o,
	    &err), CM_OK);
	assert_int_equal(cm_fetch_check_url("http://a.b.pki.test/", &o, &err),
	    CM_OK);
	assert_int_equal(cm_fetch_check_url("http://pki.test/", &o, &err),
	    CM_ERR_CONFLICT);
	assert_int_equal(cm_fetch_check_url("http://evilpki.test/", &o, &err),
	    CM_ERR_CONFLICT);
	assert_int_equal(cm_fetch_post(url("/ok"), "x", (const unsigned char *)
	    "r", 1, &o, &r, &err), CM_ERR_CONFLICT);
	assert_non_null(strstr(err.msg, "host 127.0.0.1 is not on the "
	    "allow-list"));
}

struct done_count {
	int n;
};

static void
on_done(struct cm_fetch_job *job, void *arg)
{
	struct done_count *d = arg;

	(void)job;
	d->n++;
}

static void
test_fetch_many(void **state)
{
	struct cm_fetch_job jobs[9];
	struct cm_fetch_many_opts mo;
	struct done_count d = {0};
	struct cm_err err;

	(void)state;
	memset(jobs, 0, sizeof(jobs));
	memset(&mo, 0, sizeof(mo));
	for (int i = 0; i < 6; i++) {
		jobs[i].url = url("/slow");
		jobs[i].body = (const unsigned char *)"req";
		jobs[i].body_len = 3;
		jobs[i].content_type = "application/ocsp-request";
	}
	jobs[6].url = url("/500");
	jobs[7].url = "ftp://127.0.0.1/";
	jobs[8].url = url("/hang");
	mo.max_per_host = 2;
	mo.fetch.timeout_ms = 1000;
	mo.done = on_done;
	mo.done_arg = &d;
	pthread_mutex_lock(&S.mu);
	S.max_active = 0;
	S.served = 0;
	pthread_mutex_unlock(&S.mu);
	assert_int_equal(cm_fetch_many(jobs, 9, &mo, &err), CM_OK);
	assert_int_equal(d.n, 9);
	for (int i = 0; i < 6; i++) {
		assert_int_equal(jobs[i].status, CM_OK);
		assert_int_equal(jobs[i].resp.len, 5);
		assert_memory_equal(jobs[i].resp.body, "hello", 5);
	}
	assert_int_equal(jobs[6].status, CM_ERR_IO);
	assert_non_null(strstr(jobs[6].err.msg, "HTTP status 500"));
	assert_int_equal(jobs[7].status, CM_ERR_INVALID);
	assert_int_equal(jobs[8].status, CM_ERR_IO);
	assert_non_null(strstr(jobs[8].err.msg, "timeout"));
	pthread_mutex_lock(&S.mu);
	assert_true(S.max_active <= 2);         /* one host:port, at most 2 */
	assert_int_equal(S.served, 8);          /* the ftp job never left */
	pthread_mutex_unlock(&S.mu);
	for (int i = 0; i < 9; i++)
		cm_fetch_resp_clear(&jobs[i].resp);
	assert_int_equal(cm_fetch_many(NULL, 0, NULL, &err), CM_OK);
}

int
main(void)
{
	const struct CMUnitTest ocsp_tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_raw),
		cmocka_unit_test(test_issuer),
		cmocka_unit_test(test_request),
		cmocka_unit_test(test_verdict),
		cmocka_unit_test(test_cache_threads),
		cmocka_unit_test(test_many_build),
		cmocka_unit_test(test_many_validate),
		cmocka_unit_test(test_many_not_built),
	};
	const struct CMUnitTest fetch_tests[] = {
		cmocka_unit_test(test_fetch),
		cmocka_unit_test(test_fetch_many),
	};
	int failed = 0;

	failed += cmocka_run_group_tests_name("ocsp", ocsp_tests, setup_pki,
	    teardown_pki);
	failed += cmocka_run_group_tests_name("fetch", fetch_tests,
	    setup_server, teardown_server);
	return failed;
}
