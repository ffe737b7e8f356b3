/*
 * tls_hook.c - the cost of certmon's TLS hook per handshake, measured in
 * process (bench/tls_hook.sh builds and runs it; docs/BENCHMARKS.md has
 * the method and the figures).
 *
 * Real TLS 1.3 handshakes between a client SSL (certmon's hook attached)
 * and a server SSL in the same process, joined by a BIO pair; the PKI
 * (root -> intermediate -> leaf, ECDSA P-256) and the OCSP responses are
 * made in-process. For each handshake the hook reports (struct
 * cm_tls_result) hook_ns - the time in certmon's callbacks, not counting
 * OpenSSL's own chain verification, which a client runs with or without
 * the hook - and chain_ns, that verification.
 *
 *   warm cache   the first handshake staples a response (nextUpdate in a
 *                day); the server then staples nothing, so every measured
 *                handshake takes the leaf's status from the cache
 *   staple       every handshake staples the response; the hook validates
 *                it every time (a staple comes first)
 *   baseline     OCSP_basic_verify(bs, {intermediate}, {root}, 0) on the
 *                same staple, decoded once (the cheapest OpenSSL-only
 *                check: no decoding, no status look-up, no freshness)
 *
 * Usage: tls_hook [N]   (N handshakes per case, default 10000)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certmon/tls.h"

#define DAY 86400L

static X509 *root, *inter, *leaf, *deleg;
static EVP_PKEY *root_key, *int_key, *leaf_key, *deleg_key;
static unsigned char *staple;           /* what the server staples now */
static long staple_len;

static void
die(const char *what)
{
	fprintf(stderr, "tls_hook: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static X509 *
mk_cert(const char *cn, long serial, EVP_PKEY *key, X509 *issuer,
    EVP_PKEY *issuer_key, const char *const *exts)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	X509V3_CTX v3;
	time_t t = time(NULL);

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8,
	    (const unsigned char *)"certmon bench", -1, -1, 0);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) :
	    n);
	ASN1_TIME_set(X509_getm_notBefore(x), t - DAY);
	ASN1_TIME_set(X509_getm_notAfter(x), t + 365 * DAY);
	X509_set_pubkey(x, key);
	X509V3_set_ctx(&v3, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
	for (size_t i = 0; exts != NULL && exts[i] != NULL; i += 2) {
		X509_EXTENSION *e = X509V3_EXT_nconf(NULL, &v3, exts[i],
		    exts[i + 1]);

		if (e == NULL)
			die("bad extension");
		X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
	}
	if (X509_sign(x, issuer_key, EVP_sha256()) <= 0)
		die("cannot sign");
	X509_NAME_free(n);
	return x;
}

static void
make_pki(void)
{
	static const char *const ca[] = {"basicConstraints", "critical,CA:TRUE",
	    "keyUsage", "critical,keyCertSign,cRLSign", NULL};
	static const char *const lf[] = {"basicConstraints", "CA:FALSE",
	    "keyUsage", "critical,digitalSignature", "extendedKeyUsage",
	    "serverAuth", "subjectAltName", "DNS:bench.test",
	    "authorityInfoAccess", "OCSP;URI:http://127.0.0.1:9/", NULL};
	static const char *const dl[] = {"extendedKeyUsage", "OCSPSigning",
	    "noCheck", "ignored", NULL};

	root_key = EVP_EC_gen("P-256");
	int_key = EVP_EC_gen("P-256");
	leaf_key = EVP_EC_gen("P-256");
	deleg_key = EVP_EC_gen("P-256");
	root = mk_cert("Bench Root", 1, root_key, NULL, root_key, ca);
	inter = mk_cert("Bench Intermediate", 2, int_key, root, root_key, ca);
	leaf = mk_cert("Bench Leaf", 3, leaf_key, inter, int_key, lf);
	deleg = mk_cert("Bench Responder", 4, deleg_key, inter, int_key, dl);
}

/* A good response about the leaf, signed by the intermediate (delegated
 * = 0) or by a delegated responder whose certificate it carries. */
static unsigned char *
make_staple(int delegated, long *len)
{
	OCSP_BASICRESP *bs = OCSP_BASICRESP_new();
	OCSP_CERTID *id = OCSP_cert_to_id(EVP_sha1(), leaf, inter);
	time_t t = time(NULL);
	ASN1_TIME *tu = ASN1_TIME_set(NULL, t - 60);
	ASN1_TIME *nu = ASN1_TIME_set(NULL, t + DAY);
	OCSP_RESPONSE *rsp;
	unsigned char *der = NULL;
	int n;

	OCSP_basic_add1_status(bs, id, V_OCSP_CERTSTATUS_GOOD, 0, NULL, tu, nu);
	if (!OCSP_basic_sign(bs, delegated ? deleg : inter, delegated ?
	    deleg_key : int_key, EVP_sha256(), NULL, delegated ? 0 :
	    OCSP_NOCERTS))
		die("cannot sign the response");
	rsp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs);
	if ((n = i2d_OCSP_RESPONSE(rsp, &der)) <= 0)
		die("cannot encode the response");
	*len = n;
	OCSP_RESPONSE_free(rsp);
	OCSP_BASICRESP_free(bs);
	OCSP_CERTID_free(id);
	ASN1_TIME_free(tu);
	ASN1_TIME_free(nu);
	return der;
}

static int
server_status(SSL *s, void *arg)
{
	(void)arg;
	if (staple == NULL)
		return SSL_TLSEXT_ERR_NOACK;
	SSL_set_tlsext_status_ocsp_resp(s, OPENSSL_memdup(staple, staple_len),
	    staple_len);
	return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *sctx, *cctx;

static void
make_ctxs(struct cm_tls *t)
{
	X509_STORE *st = X509_STORE_new();
	struct cm_err err = {CM_OK, ""};

	sctx = SSL_CTX_new(TLS_server_method());
	if (SSL_CTX_use_certificate(sctx, leaf) != 1 ||
	    SSL_CTX_use_PrivateKey(sctx, leaf_key) != 1 ||
	    SSL_CTX_add1_chain_cert(sctx, inter) != 1)
		die("server context");
	SSL_CTX_set_tlsext_status_cb(sctx, server_status);
	SSL_CTX_set_options(sctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_num_tickets(sctx, 0);
	cctx = SSL_CTX_new(TLS_client_method());
	X509_STORE_add_cert(st, root);
	SSL_CTX_set_cert_store(cctx, st);
	SSL_CTX_set_session_cache_mode(cctx, SSL_SESS_CACHE_OFF);
	if (cm_tls_attach_ctx(t, cctx, &err) != CM_OK)
		die(err.msg);
}

/* One handshake; fills *r with the client's verdict. */
static void
handshake(struct cm_tls *t, struct cm_tls_result *r)
{
	SSL *c = SSL_new(cctx), *s = SSL_new(sctx);
	BIO *b1, *b2;
	struct cm_err err = {CM_OK, ""};
	int cd = 0, sd = 0;

	BIO_new_bio_pair(&b1, 0, &b2, 0);
	SSL_set_bio(c, b1, b1);
	SSL_set_bio(s, b2, b2);
	SSL_set_connect_state(c);
	SSL_set_accept_state(s);
	if (cm_tls_attach_ssl(t, c, "bench.test", &err) != CM_OK)
		die(err.msg);
	for (int i = 0; i < 100 && !(cd && sd); i++) {
		if (!cd && SSL_do_handshake(c) == 1)
			cd = 1;
		if (!sd && SSL_do_handshake(s) == 1)
			sd = 1;
	}
	if (!cd || !sd || cm_tls_result_get(c, r) != CM_OK ||
	    r->verdict != CM_VERDICT_PASS)
		die("a handshake failed");
	SSL_free(c);
	SSL_free(s);
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct stats {
	double median, p90, p99, min;
};

static struct stats
stats_of(uint64_t *v, int n)
{
	struct stats s;

	qsort(v, (size_t)n, sizeof(*v), cmp_u64);
	s.min = v[0] / 1000.0;
	s.median = v[n / 2] / 1000.0;
	s.p90 = v[(int)(n * 0.9)] / 1000.0;
	s.p99 = v[(int)(n * 0.99)] / 1000.0;
	return s;
}

static void
print_row(const char *name, struct stats s)
{
	printf("%-44s %9.2f %9.2f %9.2f %9.2f\n", name, s.median, s.p90, s.p99,
	    s.min);
}

/* Runs n handshakes; hook and total (hook + chain) times in ns. reused:
 * whether every staple must have been reused (1), validated (0), or no
 * matter (-1). */
static void
run_case(struct cm_tls *t, int n, enum cm_tls_source want, int reused,
    uint64_t *hook, uint64_t *total)
{
	struct cm_tls_result r;

	for (int i = 0; i < n; i++) {
		handshake(t, &r);
		if (r.source != want || (reused >= 0 && r.staple_reused != reused))
			die("the status came from an unexpected source");
		hook[i] = r.hook_ns;
		total[i] = r.hook_ns + r.chain_ns;
	}
}

/* OCSP_basic_verify on the staple, n times: decoded once (decode = 0), or
 * decoded each time (d2i_OCSP_RESPONSE + OCSP_response_get1_basic, as a
 * client must for a staple it has not seen). */
static void
run_basic_verify(const unsigned char *der, long len, int n, int decode,
    uint64_t *out)
{
	const unsigned char *p = der;
	OCSP_RESPONSE *rsp = d2i_OCSP_RESPONSE(NULL, &p, len);
	OCSP_BASICRESP *bs = rsp != NULL ? OCSP_response_get1_basic(rsp) : NULL;
	STACK_OF(X509) *certs = sk_X509_new_null();
	X509_STORE *st = X509_STORE_new();

	if (bs == NULL)
		die("the staple does not decode");
	sk_X509_push(certs, inter);
	X509_STORE_add_cert(st, root);
	for (int i = 0; i < n; i++) {
		uint64_t t0 = now_ns();
		OCSP_RESPONSE *r2 = NULL;
		OCSP_BASICRESP *b2 = bs;

		if (decode) {
			p = der;
			r2 = d2i_OCSP_RESPONSE(NULL, &p, len);
			b2 = r2 != NULL ? OCSP_response_get1_basic(r2) : NULL;
		}
		if (b2 == NULL || OCSP_basic_verify(b2, certs, st, 0) != 1)
			die("OCSP_basic_verify refuses the staple");
		if (decode) {
			OCSP_BASICRESP_free(b2);
			OCSP_RESPONSE_free(r2);
		}
		out[i] = now_ns() - t0;
	}
	X509_STORE_free(st);
	sk_X509_free(certs);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(rsp);
}

struct staple_case {
	const char *name;
	struct stats first, first_total, again, again_total, bv, bv_decode;
};

/* The stapled cases for one staple: first sight (a context without a
 * cache: validated every time), again (the same staple: reused), and the
 * baselines. */
static void
staple_case(struct staple_case *c, unsigned char *der, long len, int n,
    uint64_t *hook, uint64_t *total, uint64_t *base)
{
	struct cm_tls_opts o;
	struct cm_tls *t = NULL;
	struct cm_err err = {CM_OK, ""};

	staple = der;
	staple_len = len;
	memset(&o, 0, sizeof(o));
	o.no_cache = 1;
	if (cm_tls_new(&o, &t, &err) != CM_OK)
		die(err.msg);
	make_ctxs(t);
	run_case(t, n, CM_TLS_SOURCE_STAPLE, 0, hook, total);
	c->first = stats_of(hook, n);
	c->first_total = stats_of(total, n);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	cm_tls_free(t);
	t = NULL;
	if (cm_tls_new(NULL, &t, &err) != CM_OK)
		die(err.msg);
	make_ctxs(t);
	run_case(t, 1, CM_TLS_SOURCE_STAPLE, 0, hook, total);
	run_case(t, n, CM_TLS_SOURCE_STAPLE, 1, hook, total);
	c->again = stats_of(hook, n);
	c->again_total = stats_of(total, n);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	cm_tls_free(t);
	run_basic_verify(der, len, n, 0, base);
	c->bv = stats_of(base, n);
	run_basic_verify(der, len, n, 1, base);
	c->bv_decode = stats_of(base, n);
}

static void
print_staple_case(const struct staple_case *c)
{
	char row[80];

	printf("\nstaple signed by %s\n", c->name);
	print_row("hook, first sight (validated)", c->first);
	print_row("  + OpenSSL chain verification", c->first_total);
	print_row("hook, seen before (reused by its bytes)", c->again);
	print_row("  + OpenSSL chain verification", c->again_total);
	print_row("OCSP_basic_verify (decoded once)", c->bv);
	print_row("d2i + OCSP_basic_verify", c->bv_decode);
	snprintf(row, sizeof(row), "ratio first sight / OCSP_basic_verify");
	printf("%-44s %9.2fx\n", row, c->first.median / c->bv.median);
	printf("%-44s %9.2fx\n", "ratio first sight / d2i + OCSP_basic_verify",
	    c->first.median / c->bv_decode.median);
	printf("%-44s %9.2fx\n", "ratio seen before / OCSP_basic_verify",
	    c->again.median / c->bv.median);
}

int
main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 10000;
	uint64_t *hook = calloc((size_t)n, sizeof(uint64_t));
	uint64_t *total = calloc((size_t)n, sizeof(uint64_t));
	uint64_t *base = calloc((size_t)n, sizeof(uint64_t));
	struct cm_tls *t = NULL;
	struct cm_tls_result r;
	struct cm_err err = {CM_OK, ""};
	struct stats warm, warm_total;
	struct staple_case ca, dl;
	unsigned char *ca_staple, *dl_staple;
	long ca_len, dl_len;
	int warm_ok, staple_ok;

	if (n < 100 || hook == NULL || total == NULL || base == NULL)
		die("usage: tls_hook [N >= 100]");
	memset(&ca, 0, sizeof(ca));
	memset(&dl, 0, sizeof(dl));
	ca.name = "the issuing CA";
	dl.name = "a delegated responder (its certificate in the response)";
	make_pki();
	ca_staple = make_staple(0, &ca_len);
	dl_staple = make_staple(1, &dl_len);

	/* warm cache: one stapled handshake fills it, then none */
	if (cm_tls_new(NULL, &t, &err) != CM_OK)
		die(err.msg);
	make_ctxs(t);
	staple = ca_staple;
	staple_len = ca_len;
	handshake(t, &r);
	staple = NULL;
	run_case(t, n, CM_TLS_SOURCE_CACHE, -1, hook, total);
	warm = stats_of(hook, n);
	warm_total = stats_of(total, n);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	cm_tls_free(t);

	staple_case(&ca, ca_staple, ca_len, n, hook, total, base);
	staple_case(&dl, dl_staple, dl_len, n, hook, total, base);

	printf("%d handshakes per case (TLS 1.3, ECDSA P-256), times in us\n", n);
	printf("%-44s %9s %9s %9s %9s\n", "", "median", "p90", "p99", "min");
	printf("warm cache (no staple)\n");
	print_row("hook", warm);
	print_row("  + OpenSSL chain verification", warm_total);
	print_staple_case(&ca);
	print_staple_case(&dl);
	warm_ok = warm.median < 20;
	staple_ok = ca.first.median < 1.2 * ca.bv.median &&
	    dl.again.median < 1.2 * dl.bv.median &&
	    ca.again.median < 1.2 * ca.bv.median &&
	    dl.first.median < 1.2 * dl.bv_decode.median;
	printf("\ntarget: warm cache median < 20 us: %.2f us: %s\n",
	    warm.median, warm_ok ? "met" : "MISSED");
	printf("target: stapled < 1.2 x OCSP_basic_verify: CA-signed %.2fx "
	    "(first sight), %.2fx (seen before); delegated %.2fx (seen "
	    "before), first sight %.2fx of OCSP_basic_verify, %.2fx of d2i + "
	    "OCSP_basic_verify: %s\n", ca.first.median / ca.bv.median,
	    ca.again.median / ca.bv.median, dl.again.median / dl.bv.median,
	    dl.first.median / dl.bv.median,
	    dl.first.median / dl.bv_decode.median, staple_ok ? "met" :
	    "MISSED");
	OPENSSL_free(ca_staple);
	OPENSSL_free(dl_staple);
	free(hook);
	free(total);
	free(base);
	return warm_ok && staple_ok ? 0 : 1;
}
