/*
 * fuzz_ocsp.c - libFuzzer target of cm_ocsp_validate: the input is the
 * OCSP response to a fixed request about a fixed certificate.
 *
 * At start-up it mints, in-process and deterministically (Ed25519 keys from
 * fixed seeds, fixed validity periods, a fixed `now`), a CA, a leaf, a
 * delegated responder and a designated responder, and a request with a
 * fixed nonce. Each input is validated as the answer to that request, to
 * the same request made by cm_ocsp_request_build (which must give the
 * same answer: that path skips step 0 and matches the request's CertID),
 * as a stapled response, and in Common Criteria mode (with a CRL hook),
 * with a shared context (the caches of decoded certificates and verified
 * signatures; the unit tests cover the paths without one). It is also
 * validated by cm_ocsp_validate_many (ocsp_int.h) as the answer to a
 * request about two leaves of the CA at once (two CertIDs, made by
 * cm_ocsp_request_build_many).
 * Besides crashes and leaks (ASan, UBSan) it checks what ocsp.h promises:
 * a failure is CM_REV_ERROR, never good or revoked; a reason is always one
 * line of UTF-8; an answer has a trust model, a responder and times. Of
 * the request about two it checks what ocsp_int.h promises: each member
 * gets what cm_ocsp_validate says of it alone (with the same request),
 * and ask_alone is 0 or 1, set exactly where the responder refused the
 * request (malformedRequest, unauthorized) or sent no SingleResponse for
 * the member.
 *
 * Seeds: FUZZ_OCSP_SEEDS=DIR ./build-fuzz/fuzz_ocsp -runs=0 writes valid
 * responses (good, revoked, unknown; by the CA, the delegate and the
 * designated responder; with and without the nonce) into DIR, to the
 * request about the leaf (seed-NN.der) and to the request about both
 * leaves (multi-NN.der: two SingleResponses of mixed statuses):
 *   mkdir -p fuzz/corpus/ocsp && FUZZ_OCSP_SEEDS=fuzz/corpus/ocsp \
 *       ./build-fuzz/fuzz_ocsp -runs=0
 *   ./build-fuzz/fuzz_ocsp -max_total_time=60 fuzz/corpus/ocsp
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certmon/ocsp.h"
#include "ocsp_int.h"
#include "pki.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW ((cm_time)1800000000)       /* 2027-01-15 */
#define T2020 ((cm_time)1577836800)
#define T2040 ((cm_time)2208988800)

enum { CA, LEAF, DELEG, DESIG, LEAF2, N };

static X509 *X[N];
static EVP_PKEY *K[N];
static struct cm_cert *C[N];
static struct cm_cert_list trusted;
static struct cm_cert *trusted_v[1];
static struct cm_ocsp_request req;      /* made by hand: step 0 runs */
static struct cm_ocsp_request built;    /* by cm_ocsp_request_build */
static struct cm_ocsp_ctx *ctx;
/* the request about LEAF and LEAF2 (cm_ocsp_request_build_many), and its
 * members as it left them (both asked about) */
static struct cm_ocsp_request multi;
static struct cm_ocsp_member members[2];
static const int member_cert[2] = {LEAF, LEAF2};

/* The DER response (OPENSSL_free it; NULL on failure, *len its length)
 * answering certs[0..n) (issued by CA) with status[0..n), signed by
 * signer, carrying the nonce of q when nonce is set. */
static unsigned char *
sign_response(const int *certs, const int *status, int n, int signer,
    const struct cm_ocsp_request *q, int nonce, int *len)
{
	OCSP_BASICRESP *bs = OCSP_BASICRESP_new();
	ASN1_TIME *tu = ASN1_TIME_set(NULL, (time_t)(NOW - 3600));
	ASN1_TIME *nu = ASN1_TIME_set(NULL, (time_t)(NOW + 86400));
	OCSP_RESPONSE *rsp = NULL;
	unsigned char *der = NULL;

	for (int i = 0; i < n; i++) {
		OCSP_CERTID *id = OCSP_cert_to_id(EVP_sha1(), X[certs[i]], X[CA]);

		OCSP_basic_add1_status(bs, id, status[i], status[i] ==
		    V_OCSP_CERTSTATUS_REVOKED ? 1 : 0, tu, tu, nu);
		OCSP_CERTID_free(id);
	}
	if (nonce)
		OCSP_basic_add1_nonce(bs, (unsigned char *)q->nonce,
		    (int)q->nonce_len);
	OCSP_basic_sign(bs, X[signer], K[signer], NULL, NULL,
	    signer == CA ? OCSP_NOCERTS : 0);
	rsp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs);
	if (rsp == NULL || (*len = i2d_OCSP_RESPONSE(rsp, &der)) <= 0)
		der = NULL;
	OCSP_RESPONSE_free(rsp);
	OCSP_BASICRESP_free(bs);
	ASN1_TIME_free(tu);
	ASN1_TIME_free(nu);
	return der;
}

/* Writes der[0..len) into dir as PREFIX-NN.der. */
static void
save_seed(const char *dir, const char *prefix, int n,
    const unsigned char *der, int len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s-%02d.der", dir, prefix, n);
	if ((f = fopen(path, "wb")) != NULL) {
		fwrite(der, 1, (size_t)len, f);
		fclose(f);
	}
}

static const enum cm_rev_status want_status[] = {CM_REV_GOOD,
    CM_REV_REVOKED, CM_REV_UNKNOWN};

/* Writes one valid response (seed) into dir. */
static void
write_seed(const char *dir, int signer, int status, int nonce, int n)
{
	static const int leaf[1] = {LEAF};
	struct cm_ocsp_opts o;
	struct cm_ocsp_result r;
	int len = 0;
	unsigned char *der = sign_response(leaf, &status, 1, signer, &req,
	    nonce, &len);

	if (der == NULL)
		return;
	/* every seed is a valid answer */
	memset(&o, 0, sizeof(o));
	o.trusted = &trusted;
	if (cm_ocsp_validate(NULL, &req, der, (size_t)len, C[LEAF], C[CA], &o,
	    NOW, &r) != want_status[status] || r.trust_model != (signer ==
	    DESIG ? CM_OCSP_TRUST_RESPONDER : CM_OCSP_TRUST_DELEGATED)) {
		fprintf(stderr, "seed %d: %s\n", n, r.reason);
		abort();
	}
	save_seed(dir, "seed", n, der, len);
	OPENSSL_free(der);
}

/* Writes one valid response to the request about both leaves (seed)
 * into dir: LEAF's status st0, LEAF2's st1. */
static void
write_multi_seed(const char *dir, int signer, int st0, int st1, int nonce,
    int n)
{
	const int st[2] = {st0, st1};
	struct cm_ocsp_member m[2];
	struct cm_ocsp_opts o;
	int len = 0;
	unsigned char *der = sign_response(member_cert, st, 2, signer, &multi,
	    nonce, &len);

	if (der == NULL)
		return;
	/* every seed is a valid answer about both */
	memset(&o, 0, sizeof(o));
	o.trusted = &trusted;
	memcpy(m, members, sizeof(m));
	cm_ocsp_validate_many(NULL, &multi, der, (size_t)len, m, 2, C[CA], &o,
	    NOW);
	for (int i = 0; i < 2; i++)
		if (m[i].res.status != want_status[st[i]] || m[i].ask_alone ||
		    m[i].res.trust_model != (signer == DESIG ?
		    CM_OCSP_TRUST_RESPONDER : CM_OCSP_TRUST_DELEGATED)) {
			fprintf(stderr, "multi seed %d, member %d: %s\n", n, i,
			    m[i].res.reason);
			abort();
		}
	save_seed(dir, "multi", n, der, len);
	OPENSSL_free(der);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const int signers[] = {CA, DELEG, DESIG};
	static const int pairs[][2] = {
		{V_OCSP_CERTSTATUS_GOOD, V_OCSP_CERTSTATUS_REVOKED},
		{V_OCSP_CERTSTATUS_UNKNOWN, V_OCSP_CERTSTATUS_GOOD},
		{V_OCSP_CERTSTATUS_REVOKED, V_OCSP_CERTSTATUS_UNKNOWN},
	};
	static const char *const ca_ext[] = {"basicConstraints",
	    "critical,CA:TRUE", NULL};
	static const char *const responder_ext[] = {"extendedKeyUsage",
	    "OCSPSigning", NULL};
	static const struct pki_cert spec[N] = {
		[CA] = {NULL, "Fuzz CA", 1, T2020, T2040, ca_ext, 0},
		[LEAF] = {NULL, "Fuzz Leaf", 0x1001, T2020, T2040, NULL, 0},
		[DELEG] = {NULL, "Fuzz Delegate", 0x2001, T2020, T2040,
		    responder_ext, 0},
		[DESIG] = {NULL, "Fuzz Designated", 3, T2020, T2040,
		    responder_ext, 0},
		[LEAF2] = {NULL, "Fuzz Leaf 2", 0x1002, T2020, T2040, NULL, 0},
	};
	static const int issuer[N] = {[CA] = CA, [LEAF] = CA, [DELEG] = CA,
	    [DESIG] = DESIG, [LEAF2] = CA};
	const char *seeds = getenv("FUZZ_OCSP_SEEDS");
	int n = 0, nm = 0;

	(void)argc;
	(void)argv;
	/* each issuer comes before what it issues */
	for (int i = 0; i < N; i++) {
		int is = issuer[i];

		if ((K[i] = pki_fixed_key((unsigned char)(0x41 + i))) == NULL ||
		    (X[i] = pki_mint(&spec[i], K[i], is == i ? NULL : X[is],
		    K[is])) == NULL || (C[i] = pki_to_cm(X[i])) == NULL)
			abort();
	}
	trusted_v[0] = C[DESIG];
	trusted.v = trusted_v;
	trusted.n = 1;
	req.hash = CM_OCSP_HASH_SHA1;
	req.nonce_len = 32;
	memset(req.nonce, 0x5a, req.nonce_len);
	if (cm_ocsp_ctx_new(&ctx, NULL) != CM_OK)
		abort();
	/* the same request, built for the pair: its validation skips step 0
	 * and matches the request's CertID (nonce fixed like req's) */
	if (cm_ocsp_request_build(ctx, C[LEAF], C[CA], NULL, &built, NULL) !=
	    CM_OK || built.nonce_len != req.nonce_len)
		abort();
	memcpy(built.nonce, req.nonce, req.nonce_len);
	/* the request about both leaves (nonce fixed too) */
	for (int i = 0; i < 2; i++) {
		members[i].der = C[member_cert[i]]->der;
		members[i].der_len = C[member_cert[i]]->der_len;
		members[i].fp = C[member_cert[i]]->fp;
	}
	if (cm_ocsp_request_build_many(ctx, members, 2, C[CA], NULL, &multi,
	    NULL) != CM_OK || members[0].built != CM_OK ||
	    members[1].built != CM_OK || multi.nonce_len != req.nonce_len)
		abort();
	memcpy(multi.nonce, req.nonce, req.nonce_len);
	for (size_t s = 0; seeds != NULL && s < sizeof(signers) /
	    sizeof(signers[0]); s++)
		for (int st = 0; st < 3; st++)
			for (int nonce = 0; nonce < 2; nonce++) {
				write_seed(seeds, signers[s], st, nonce, n++);
				write_multi_seed(seeds, signers[s], pairs[st][0],
				    pairs[st][1], nonce, nm++);
			}
	return 0;
}

/* Aborts unless s is one line of well-formed UTF-8. */
static void
check_text(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

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
check_result(const struct cm_ocsp_result *r)
{
	if (r->reason[0] == '\0')
		abort();
	check_text(r->reason);
	check_text(r->responder);
	if (r->status == CM_REV_ERROR) {
		if (r->revocation_time != 0 || r->revocation_reason[0] != '\0')
			abort();
		return;
	}
	if (r->trust_model == CM_OCSP_TRUST_NONE || r->responder[0] == '\0' ||
	    r->this_update == 0 || r->produced_at == 0)
		abort();
	if (r->status != CM_REV_REVOKED && r->revocation_time != 0)
		abort();
}

static enum cm_rev_status
crl_hook(const struct cm_cert *responder, const struct cm_cert *issuer,
    cm_time now, void *arg, char *why, size_t why_len)
{
	(void)issuer;
	(void)now;
	(void)arg;
	snprintf(why, why_len, "fuzz CRL");
	return responder->serial_hex[0] == '2' ? CM_REV_GOOD : CM_REV_REVOKED;
}

/* Whether reason says step 1 found the request refused or no answer
 * about the member (a prefix: what follows may come from the input). */
static int
says_ask_alone(const char *reason)
{
	static const char *const prefix[] = {
		"step 1 response: the responder answered malformedRequest (1)",
		"step 1 response: the responder answered unauthorized (6)",
		"step 1 response: no SingleResponse",
	};

	for (size_t i = 0; i < sizeof(prefix) / sizeof(prefix[0]); i++)
		if (strncmp(reason, prefix[i], strlen(prefix[i])) == 0)
			return 1;
	return 0;
}

/* The input as the answer to the request about both leaves. */
static void
check_many(const uint8_t *data, size_t size, const struct cm_ocsp_opts *o)
{
	struct cm_ocsp_member m[2];
	struct cm_ocsp_result alone;

	memcpy(m, members, sizeof(m));
	cm_ocsp_validate_many(ctx, &multi, data, size, m, 2, C[CA], o, NOW);
	for (int i = 0; i < 2; i++) {
		const struct cm_ocsp_result *r = &m[i].res;

		if (m[i].built != CM_OK)
			abort();
		/* a non-empty line; good/revoked/unknown only with an
		 * accepted signer */
		check_result(r);
		if (m[i].ask_alone != 0 && m[i].ask_alone != 1)
			abort();
		if (m[i].ask_alone != says_ask_alone(r->reason))
			abort();
		if (m[i].ask_alone && r->status != CM_REV_ERROR)
			abort();
		/* what validating the member alone says */
		cm_ocsp_validate(ctx, &multi, data, size, C[member_cert[i]], C[CA],
		    o, NOW, &alone);
		if (alone.status != r->status ||
		    alone.trust_model != r->trust_model ||
		    strcmp(alone.reason, r->reason) != 0 ||
		    alone.this_update != r->this_update ||
		    alone.next_update != r->next_update ||
		    alone.produced_at != r->produced_at ||
		    alone.revocation_time != r->revocation_time ||
		    strcmp(alone.revocation_reason, r->revocation_reason) != 0 ||
		    strcmp(alone.responder, r->responder) != 0)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cm_ocsp_opts o;
	struct cm_ocsp_result r, rb;

	memset(&o, 0, sizeof(o));
	o.trusted = &trusted;
	cm_ocsp_validate(ctx, &req, data, size, C[LEAF], C[CA], &o, NOW, &r);
	check_result(&r);
	/* a request built for the pair gives the same answer */
	cm_ocsp_validate(ctx, &built, data, size, C[LEAF], C[CA], &o, NOW, &rb);
	if (rb.status != r.status || strcmp(rb.reason, r.reason) != 0)
		abort();
	check_many(data, size, &o);
	cm_ocsp_validate(ctx, NULL, data, size, C[LEAF], C[CA], &o, NOW, &r);
	check_result(&r);
	o.common_criteria = 1;
	o.require_nonce = 1;
	o.crl_check = crl_hook;
	cm_ocsp_validate(ctx, &req, data, size, C[LEAF], C[CA], &o, NOW, &r);
	check_result(&r);
	check_many(data, size, &o);
	return 0;
}
