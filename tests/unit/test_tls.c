/*
 * test_tls.c - unit tests of the TLS hook (lib/tls.c) and its cache
 * (lib/tls_cache.c): real TLS handshakes in-process (a client SSL and a
 * server SSL joined by a BIO pair), the PKI and every OCSP response made
 * with OpenSSL, and a real HTTP responder thread on the loopback for the
 * fetch path (no mocks). The clock of the hook is injected.
 *
 * The PKI: root CA -> intermediate CA -> leaves (the server sends leaf +
 * intermediate; the client trusts the root). Responses are signed by the
 * intermediate (the issuing CA) unless a row says otherwise.
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
#include <sys/socket.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certmon/log.h"
#include "certmon/tls.h"
#include "tls_int.h"
#include "pki.h"

#define DAY 86400L
#define NO_NEXT LONG_MIN

static cm_time NOW;             /* real time at setup: OCSP_basic_sign
				 * stamps producedAt with the real clock */
static cm_time CLOCK;           /* what the hook's clock says */

static cm_time
test_clock(void *arg)
{
	(void)arg;
	return CLOCK;
}

/* ---- the responder thread ----------------------------------------------- */

static struct {
	int fd, port;
	pthread_t th;
	atomic_int stop;
	atomic_int requests;
	pthread_mutex_t mu;
	unsigned char *body;            /* the answer; NULL = HTTP 500 */
	size_t len;
} R;

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

static void
serve_one(int fd)
{
	char req[8192], head[256];
	size_t got = 0;
	ssize_t n;
	char *end;
	const char *cl;
	long clen;

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
	atomic_fetch_add(&R.requests, 1);
	pthread_mutex_lock(&R.mu);
	if (R.body == NULL) {
		snprintf(head, sizeof(head), "HTTP/1.1 500 Oops\r\n"
		    "Content-Length: 0\r\nConnection: close\r\n\r\n");
		send_all(fd, head, strlen(head));
	} else {
		snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Type: "
		    "application/ocsp-response\r\nContent-Length: %zu\r\n"
		    "Connection: close\r\n\r\n", R.len);
		send_all(fd, head, strlen(head));
		send_all(fd, R.body, R.len);
	}
	pthread_mutex_unlock(&R.mu);
}

static void *
serve(void *arg)
{
	(void)arg;
	while (!R.stop) {
		int c = accept(R.fd, NULL, NULL);

		if (c < 0)
			continue;
		if (!R.stop)
			serve_one(c);
		close(c);
	}
	return NULL;
}

/* Sets what the responder answers (a copy; NULL = HTTP 500). */
static void
responder_answers(const unsigned char *der, size_t len)
{
	pthread_mutex_lock(&R.mu);
	free(R.body);
	R.body = NULL;
	R.len = 0;
	if (der != NULL) {
		R.body = malloc(len);
		memcpy(R.body, der, len);
		R.len = len;
	}
	pthread_mutex_unlock(&R.mu);
}

/* ---- the PKI ---------------------------------------------------------------- */

enum who {
	ROOT, INT, GOOD, NOEKU, CLIENTONLY, V1, EXPIRED, CLIENT, ROGUE, NOAIA,
	DELEG, N_WHO
};

struct party {
	X509 *x;
	EVP_PKEY *key;
};

static struct party P[N_WHO];

static void
party(enum who w, int version, const char *cn, long serial, enum who issuer,
    cm_time nb, cm_time na, const char *const *exts)
{
	const struct pki_cert s = {"certmon tests", cn, serial, nb, na, exts,
	    version == 0};

	P[w].key = EVP_EC_gen("P-256");
	assert_non_null(P[w].key);
	P[w].x = pki_mint(&s, P[w].key, issuer == w ? NULL : P[issuer].x,
	    issuer == w ? NULL : P[issuer].key);
	assert_non_null(P[w].x);
}

static int
setup(void **state)
{
	static const char *const ca_ext[] = {"basicConstraints",
	    "critical,CA:TRUE", "keyUsage", "critical,keyCertSign,cRLSign",
	    NULL};
	static char aia[96];
	const char *leaf_ext[] = {"basicConstraints", "CA:FALSE",
	    "subjectAltName", "DNS:tls.test,IP:127.0.0.1", "extendedKeyUsage",
	    "serverAuth", "authorityInfoAccess", aia, NULL};
	const char *noeku_ext[] = {"basicConstraints", "CA:FALSE",
	    "subjectAltName", "DNS:tls.test", "authorityInfoAccess", aia, NULL};
	const char *client_only_ext[] = {"subjectAltName", "DNS:tls.test",
	    "extendedKeyUsage", "clientAuth", "authorityInfoAccess", aia, NULL};
	const char *client_ext[] = {"subjectAltName", "DNS:client.test",
	    "extendedKeyUsage", "clientAuth", "authorityInfoAccess", aia, NULL};
	const char *noaia_ext[] = {"subjectAltName", "DNS:tls.test",
	    "extendedKeyUsage", "serverAuth", NULL};
	static const char *const deleg_ext[] = {"extendedKeyUsage",
	    "OCSPSigning", "noCheck", "ignored", NULL};
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	int one = 1;

	(void)state;
	NOW = CLOCK = (cm_time)time(NULL);
	/* the responder first: the leaves carry its URL */
	memset(&R, 0, sizeof(R));
	pthread_mutex_init(&R.mu, NULL);
	R.fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(R.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(R.fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(R.fd, 64) != 0 ||
	    getsockname(R.fd, (struct sockaddr *)&a, &al) != 0)
		return -1;
	R.port = ntohs(a.sin_port);
	if (pthread_create(&R.th, NULL, serve, NULL) != 0)
		return -1;
	snprintf(aia, sizeof(aia), "OCSP;URI:http://127.0.0.1:%d/", R.port);

	party(ROOT, 2, "TLS Test Root", 1, ROOT, NOW - 10 * DAY,
	    NOW + 3650 * DAY, ca_ext);
	party(INT, 2, "TLS Test Intermediate", 2, ROOT, NOW - 10 * DAY,
	    NOW + 3650 * DAY, ca_ext);
	party(GOOD, 2, "Good Leaf", 0x1001, INT, NOW - DAY, NOW + 365 * DAY,
	    leaf_ext);
	party(NOEKU, 2, "No EKU Leaf", 0x1002, INT, NOW - DAY, NOW + 365 * DAY,
	    noeku_ext);
	party(CLIENTONLY, 2, "Client-only Leaf", 0x1003, INT, NOW - DAY,
	    NOW + 365 * DAY, client_only_ext);
	party(V1, 0, "tls.test", 0x1004, INT, NOW - DAY, NOW + 365 * DAY, NULL);
	party(EXPIRED, 2, "Expired Leaf", 0x1005, INT, NOW - 400 * DAY,
	    NOW - 35 * DAY, leaf_ext);
	party(CLIENT, 2, "A Client", 0x1006, INT, NOW - DAY, NOW + 365 * DAY,
	    client_ext);
	party(ROGUE, 2, "Rogue", 0x1007, ROGUE, NOW - DAY, NOW + 365 * DAY,
	    NULL);
	party(NOAIA, 2, "No AIA Leaf", 0x1008, INT, NOW - DAY, NOW + 365 * DAY,
	    noaia_ext);
	party(DELEG, 2, "Delegated Responder", 0x2001, INT, NOW - DAY,
	    NOW + 2 * DAY, deleg_ext);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	R.stop = 1;
	shutdown(R.fd, SHUT_RDWR);
	close(R.fd);
	pthread_join(R.th, NULL);
	free(R.body);
	for (int i = 0; i < N_WHO; i++) {
		X509_free(P[i].x);
		EVP_PKEY_free(P[i].key);
	}
	return 0;
}

/* ---- responses ------------------------------------------------------------ */

#define ST_GOOD V_OCSP_CERTSTATUS_GOOD
#define ST_REVOKED V_OCSP_CERTSTATUS_REVOKED
#define ST_UNKNOWN V_OCSP_CERTSTATUS_UNKNOWN

/* A DER response about `who` (issued by INT) signed by signer; thisUpdate
 * at NOW + this_off, nextUpdate at NOW + next_off (NO_NEXT: none). */
static unsigned char *response_flags(enum who who, int status, int reason,
    enum who signer, long this_off, long next_off, unsigned long flags,
    size_t *len);

static unsigned char *
response(enum who who, int status, int reason, enum who signer,
    long this_off, long next_off, size_t *len)
{
	return response_flags(who, status, reason, signer, this_off, next_off,
	    OCSP_NOCERTS, len);
}

/* The same, with OCSP_basic_sign's flags (0: the signer's certificate is
 * carried in the response, as a delegated responder's must be). */
static unsigned char *
response_flags(enum who who, int status, int reason, enum who signer,
    long this_off, long next_off, unsigned long flags, size_t *len)
{
	OCSP_BASICRESP *bs = OCSP_BASICRESP_new();
	OCSP_CERTID *id = OCSP_cert_to_id(EVP_sha1(), P[who].x, P[INT].x);
	ASN1_TIME *tu = ASN1_TIME_set(NULL, (time_t)(NOW + this_off));
	ASN1_TIME *nu = next_off == NO_NEXT ? NULL :
	    ASN1_TIME_set(NULL, (time_t)(NOW + next_off));
	ASN1_TIME *rt = ASN1_TIME_set(NULL, (time_t)(NOW - 2 * DAY));
	OCSP_RESPONSE *rsp;
	unsigned char *der = NULL, *out;
	int n;

	assert_non_null(OCSP_basic_add1_status(bs, id, status,
	    status == ST_REVOKED ? reason : 0, rt, tu, nu));
	assert_true(OCSP_basic_sign(bs, P[signer].x, P[signer].key,
	    EVP_sha256(), NULL, flags));
	rsp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs);
	n = i2d_OCSP_RESPONSE(rsp, &der);
	assert_true(n > 0);
	out = malloc((size_t)n);
	memcpy(out, der, (size_t)n);
	*len = (size_t)n;
	OPENSSL_free(der);
	OCSP_RESPONSE_free(rsp);
	OCSP_BASICRESP_free(bs);
	OCSP_CERTID_free(id);
	ASN1_TIME_free(tu);
	ASN1_TIME_free(nu);
	ASN1_TIME_free(rt);
	return out;
}

static void
responder_says(enum who who, int status, long next_off)
{
	size_t len;
	unsigned char *der = response(who, status, 1, INT, -60, next_off,
	    &len);

	responder_answers(der, len);
	free(der);
}

/* ---- handshakes -------------------------------------------------------------- */

/* The staple the server sends (NULL: none). */
static unsigned char *STAPLE;
static size_t STAPLE_LEN;

static int
server_status_cb(SSL *s, void *arg)
{
	unsigned char *copy;

	(void)arg;
	if (STAPLE == NULL)
		return SSL_TLSEXT_ERR_NOACK;
	copy = OPENSSL_memdup(STAPLE, STAPLE_LEN);
	SSL_set_tlsext_status_ocsp_resp(s, copy, (long)STAPLE_LEN);
	return SSL_TLSEXT_ERR_OK;
}

static void
set_staple(unsigned char *der, size_t len)
{
	free(STAPLE);
	STAPLE = der;
	STAPLE_LEN = len;
}

static X509_STORE *
trust_root(void)
{
	X509_STORE *st = X509_STORE_new();

	X509_STORE_add_cert(st, P[ROOT].x);
	return st;
}

static SSL_CTX *
server_ctx(enum who leaf, int max_version)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	assert_int_equal(SSL_CTX_use_certificate(ctx, P[leaf].x), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(ctx, P[leaf].key), 1);
	assert_int_equal(SSL_CTX_add1_chain_cert(ctx, P[INT].x), 1);
	SSL_CTX_set_tlsext_status_cb(ctx, server_status_cb);
	if (max_version != 0)
		SSL_CTX_set_max_proto_version(ctx, max_version);
	if (max_version != 0 && max_version < TLS1_2_VERSION) {
		SSL_CTX_set_security_level(ctx, 0);
		SSL_CTX_set_cipher_list(ctx, "DEFAULT@SECLEVEL=0");
	}
	return ctx;
}

static SSL_CTX *
client_ctx(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	SSL_CTX_set_cert_store(ctx, trust_root());
	return ctx;
}

/* Runs the handshake of c and s over a BIO pair; returns 1 when both
 * finished it. */
static int
drive(SSL *c, SSL *s)
{
	int cd = 0, sd = 0;

	for (int i = 0; i < 200 && !(cd && sd); i++) {
		int rc;

		if (!cd) {
			rc = SSL_do_handshake(c);
			if (rc == 1)
				cd = 1;
			else if (SSL_get_error(c, rc) != SSL_ERROR_WANT_READ &&
			    SSL_get_error(c, rc) != SSL_ERROR_WANT_WRITE)
				return 0;
		}
		if (!sd) {
			rc = SSL_do_handshake(s);
			if (rc == 1)
				sd = 1;
			else if (SSL_get_error(s, rc) != SSL_ERROR_WANT_READ &&
			    SSL_get_error(s, rc) != SSL_ERROR_WANT_WRITE)
				return 0;
		}
	}
	return cd && sd;
}

struct conn {
	SSL_CTX *cctx, *sctx;
	SSL *c, *s;
	int ok;                         /* the handshake finished */
	struct cm_tls_result r;         /* the client's verdict */
};

/* One handshake of a client attached to t against a server with leaf. */
static void
connect_to(struct conn *k, struct cm_tls *t, enum who leaf, const char *host,
    int max_version)
{
	BIO *b1 = NULL, *b2 = NULL;
	struct cm_err err = {CM_OK, ""};

	memset(k, 0, sizeof(*k));
	k->sctx = server_ctx(leaf, max_version);
	k->cctx = client_ctx();
	if (max_version != 0 && max_version < TLS1_2_VERSION) {
		SSL_CTX_set_security_level(k->cctx, 0);
		SSL_CTX_set_cipher_list(k->cctx, "DEFAULT@SECLEVEL=0");
	}
	assert_int_equal(cm_tls_attach_ctx(t, k->cctx, &err), CM_OK);
	k->c = SSL_new(k->cctx);
	k->s = SSL_new(k->sctx);
	assert_int_equal(BIO_new_bio_pair(&b1, 0, &b2, 0), 1);
	SSL_set_bio(k->c, b1, b1);
	SSL_set_bio(k->s, b2, b2);
	SSL_set_connect_state(k->c);
	SSL_set_accept_state(k->s);
	assert_int_equal(cm_tls_attach_ssl(t, k->c, host, &err), CM_OK);
	k->ok = drive(k->c, k->s);
	cm_tls_result_get(k->c, &k->r);
	ERR_clear_error();
}

static void
conn_done(struct conn *k)
{
	SSL_free(k->c);
	SSL_free(k->s);
	SSL_CTX_free(k->cctx);
	SSL_CTX_free(k->sctx);
}

static struct cm_tls *
new_tls(int cc, int observe)
{
	struct cm_tls_opts o;
	struct cm_tls *t = NULL;
	struct cm_err err = {CM_OK, ""};

	memset(&o, 0, sizeof(o));
	o.common_criteria = cc;
	o.observe = observe;
	o.clock = test_clock;
	o.fetch.timeout_ms = 2000;
	assert_int_equal(cm_tls_new(&o, &t, &err), CM_OK);
	return t;
}

/* ---- tests: pure parts ------------------------------------------------------- */

static void
test_interval(void **state)
{
	static const struct {
		int validity_check;
		int64_t validity_frequency;
		int revocation_check;
		int64_t check_every, want;
	} rows[] = {
		{0, 3600, 0, 7200, 0},          /* validity check off */
		{0, 3600, 1, 7200, 0},          /* ... whatever the rest */
		{1, 3600, 0, 7200, 3600},       /* Validity Check Frequency */
		{1, 3600, 1, 7200, 7200},       /* Check Every takes precedence */
		{1, 0, 0, 7200, 86400},         /* a value <= 0: 24 h */
		{1, 3600, 1, -5, 86400},
		{1, 2 * 86400, 0, 0, 2 * 86400},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		assert_int_equal(cm_tls_recheck_interval(rows[i].validity_check,
		    rows[i].validity_frequency, rows[i].revocation_check,
		    rows[i].check_every), rows[i].want);
}

static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(cm_tls_check_name(CM_TLS_CHECK_CHAIN), "chain");
	assert_string_equal(cm_tls_check_name(CM_TLS_CHECK_CC),
	    "common_criteria");
	assert_string_equal(cm_tls_outcome_name(CM_TLS_WARNED), "warn");
	assert_string_equal(cm_tls_outcome_name(CM_TLS_NOT_RUN), "not run");
	assert_string_equal(cm_tls_source_name(CM_TLS_SOURCE_STAPLE), "staple");
	assert_null(cm_tls_source_name(CM_TLS_SOURCE_NONE));
}

/* ---- tests: the cache ---------------------------------------------------------- */

static void
fp_of(int n, unsigned char fp[CM_FP_LEN])
{
	memset(fp, 0, CM_FP_LEN);
	/* spread over buckets, and some sharing one */
	fp[0] = (unsigned char)(n * 37);
	fp[1] = (unsigned char)(n >> 3);
	fp[31] = (unsigned char)n;
	fp[30] = (unsigned char)(n >> 8);
}

static struct cm_ocsp_result
answer(enum cm_rev_status st, cm_time thisu, cm_time nextu,
    const char *reason)
{
	struct cm_ocsp_result r;

	memset(&r, 0, sizeof(r));
	r.status = st;
	r.this_update = thisu;
	r.next_update = nextu;
	snprintf(r.revocation_reason, sizeof(r.revocation_reason), "%s",
	    reason != NULL ? reason : "");
	snprintf(r.reason, sizeof(r.reason), "answer at %lld",
	    (long long)thisu);
	return r;
}

static void
test_cache(void **state)
{
	struct cm_tlscache *c = cm_tlscache_new(3);
	unsigned char fp[5][CM_FP_LEN], ifp[CM_FP_LEN], other[CM_FP_LEN];
	struct cm_ocsp_result r, got;
	const cm_time t = 1800000000;
	uint64_t hits, misses;
	size_t n;

	(void)state;
	assert_non_null(c);
	for (int i = 0; i < 5; i++)
		fp_of(i + 1, fp[i]);
	memset(ifp, 0xAA, sizeof(ifp));
	memset(other, 0xBB, sizeof(other));
	/* never cached: no nextUpdate, an error, already past nextUpdate */
	r = answer(CM_REV_GOOD, t - 60, 0, NULL);
	assert_int_equal(cm_tlscache_put(c, fp[0], ifp, &r, t, 0, NULL), 0);
	r = answer(CM_REV_ERROR, t - 60, t + 3600, NULL);
	assert_int_equal(cm_tlscache_put(c, fp[0], ifp, &r, t, 0, NULL), 0);
	r = answer(CM_REV_GOOD, t - 7200, t - 1, NULL);
	assert_int_equal(cm_tlscache_put(c, fp[0], ifp, &r, t, 0, NULL), 0);
	assert_false(cm_tlscache_get(c, fp[0], ifp, t, -1, &got));
	/* cached until nextUpdate */
	r = answer(CM_REV_GOOD, t - 60, t + 3600, NULL);
	assert_int_equal(cm_tlscache_put(c, fp[0], ifp, &r, t, 0, NULL), 1);
	assert_true(cm_tlscache_get(c, fp[0], ifp, t + 3599, -1, &got));
	assert_int_equal(got.status, CM_REV_GOOD);
	assert_string_equal(got.reason, r.reason);
	/* another issuer: not this answer */
	assert_false(cm_tlscache_get(c, fp[0], other, t, -1, &got));
	/* younger than max_answer_age only */
	assert_true(cm_tlscache_get(c, fp[0], ifp, t, 61, &got));
	assert_false(cm_tlscache_get(c, fp[0], ifp, t, 60, &got));
	assert_false(cm_tlscache_get(c, fp[0], ifp, t, 0, &got));
	/* at nextUpdate it is gone */
	assert_false(cm_tlscache_get(c, fp[0], ifp, t + 3600, -1, &got));
	cm_tlscache_stats(c, NULL, NULL, &n);
	assert_int_equal(n, 0);
	/* max_keep bounds a far nextUpdate */
	r = answer(CM_REV_GOOD, t - 60, t + 30 * DAY, NULL);
	assert_int_equal(cm_tlscache_put(c, fp[0], ifp, &r, t, 7 * DAY, NULL),
	    1);
	assert_true(cm_tlscache_get(c, fp[0], ifp, t + 7 * DAY - 1, -1, &got));
	assert_false(cm_tlscache_get(c, fp[0], ifp, t + 7 * DAY, -1, &got));
	/* an older answer never replaces a newer one */
	r = answer(CM_REV_GOOD, t, t + DAY, NULL);
	assert_int_equal(cm_tlscache_put(c, fp[1], ifp, &r, t, 0, NULL), 1);
	r = answer(CM_REV_REVOKED, t - 100, t + DAY, "keyCompromise");
	assert_int_equal(cm_tlscache_put(c, fp[1], ifp, &r, t, 0, NULL), -1);
	/* a newer revoked replaces good; good never replaces revoked ... */
	r = answer(CM_REV_REVOKED, t + 10, t + DAY, "keyCompromise");
	assert_int_equal(cm_tlscache_put(c, fp[1], ifp, &r, t + 10, 0, NULL),
	    1);
	r = answer(CM_REV_GOOD, t + 20, t + DAY, NULL);
	assert_int_equal(cm_tlscache_put(c, fp[1], ifp, &r, t + 20, 0, NULL),
	    -1);
	assert_true(cm_tlscache_get(c, fp[1], ifp, t + 20, -1, &got));
	assert_int_equal(got.status, CM_REV_REVOKED);
	/* ... unless it was on hold */
	r = answer(CM_REV_REVOKED, t + 30, t + DAY, "certificateHold");
	assert_int_equal(cm_tlscache_put(c, fp[1], ifp, &r, t + 30, 0, NULL),
	    1);
	r = answer(CM_REV_GOOD, t + 40, t + DAY, NULL);
	assert_int_equal(cm_tlscache_put(c, fp[1], ifp, &r, t + 40, 0, NULL),
	    1);
	assert_true(cm_tlscache_get(c, fp[1], ifp, t + 40, -1, &got));
	assert_int_equal(got.status, CM_REV_GOOD);
	/* LRU eviction at the cap of 3 */
	cm_tlscache_clear(c);
	for (int i = 0; i < 3; i++) {
		r = answer(CM_REV_GOOD, t, t + DAY, NULL);
		assert_int_equal(cm_tlscache_put(c, fp[i], ifp, &r, t, 0, NULL),
		    1);
	}
	assert_true(cm_tlscache_get(c, fp[0], ifp, t, -1, &got)); /* 0 used */
	r = answer(CM_REV_GOOD, t, t + DAY, NULL);
	/* evicts 1 */
	assert_int_equal(cm_tlscache_put(c, fp[3], ifp, &r, t, 0, NULL), 1);
	assert_true(cm_tlscache_get(c, fp[0], ifp, t, -1, &got));
	assert_false(cm_tlscache_get(c, fp[1], ifp, t, -1, &got));
	assert_true(cm_tlscache_get(c, fp[2], ifp, t, -1, &got));
	assert_true(cm_tlscache_get(c, fp[3], ifp, t, -1, &got));
	/* evicts 0 */
	assert_int_equal(cm_tlscache_put(c, fp[4], ifp, &r, t, 0, NULL), 1);
	assert_false(cm_tlscache_get(c, fp[0], ifp, t, -1, &got));
	cm_tlscache_stats(c, &hits, &misses, &n);
	assert_int_equal(n, 3);
	assert_true(hits > 0 && misses > 0);
	cm_tlscache_free(c);
	cm_tlscache_free(NULL);
	assert_null(cm_tlscache_new(0));
}

struct churn {
	struct cm_tlscache *c;
	int seed;
	int bad;
};

static void *
churn(void *arg)
{
	struct churn *w = arg;
	unsigned char fp[CM_FP_LEN], ifp[CM_FP_LEN];
	struct cm_ocsp_result r, got;
	unsigned int s = (unsigned int)w->seed;

	memset(ifp, 1, sizeof(ifp));
	for (int i = 0; i < 20000; i++) {
		int k = (int)(rand_r(&s) % 200);

		fp_of(k, fp);
		if (rand_r(&s) % 2) {
			r = answer(CM_REV_GOOD, 1000 + k, 100000, NULL);
			cm_tlscache_put(w->c, fp, ifp, &r, 2000, 0, NULL);
		} else if (cm_tlscache_get(w->c, fp, ifp, 2000, -1, &got) &&
		    got.this_update != 1000 + k) {
			w->bad++;       /* an answer under another key */
		}
	}
	return NULL;
}

static void
test_cache_threads(void **state)
{
	struct cm_tlscache *c = cm_tlscache_new(64);
	struct churn w[4];
	pthread_t th[4];
	size_t n;

	(void)state;
	for (int i = 0; i < 4; i++) {
		w[i].c = c;
		w[i].seed = i + 1;
		w[i].bad = 0;
		assert_int_equal(pthread_create(&th[i], NULL, churn, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].bad, 0);
	}
	cm_tlscache_stats(c, NULL, NULL, &n);
	assert_true(n <= 64 && n > 0);
	cm_tlscache_free(c);
}

/* ---- tests: handshakes ----------------------------------------------------------- */

enum staple_kind { S_NONE = 0, S_GOOD, S_REVOKED, S_UNKNOWN, S_STALE,
	S_ROGUE, S_GARBAGE };

static void
staple(enum who who, enum staple_kind k)
{
	static const unsigned char garbage[] = "not an OCSP response";
	size_t len = 0;
	unsigned char *der = NULL;

	switch (k) {
	case S_NONE:
		break;
	case S_GOOD:
		der = response(who, ST_GOOD, 0, INT, -3600, DAY, &len);
		break;
	case S_REVOKED:
		der = response(who, ST_REVOKED, 1, INT, -3600, DAY, &len);
		break;
	case S_UNKNOWN:
		der = response(who, ST_UNKNOWN, 0, INT, -3600, DAY, &len);
		break;
	case S_STALE:
		der = response(who, ST_GOOD, 0, INT, -10 * DAY, -9 * DAY, &len);
		break;
	case S_ROGUE:
		der = response(who, ST_GOOD, 0, ROGUE, -3600, DAY, &len);
		break;
	case S_GARBAGE:
		der = malloc(sizeof(garbage));
		memcpy(der, garbage, sizeof(garbage));
		len = sizeof(garbage);
		break;
	}
	set_staple(der, len);
}

struct srow {
	const char *name;
	enum staple_kind staple;
	int responder;                  /* what the responder says: -1 = 500 */
	int cc;
	int max_version;
	enum cm_verdict want;
	enum cm_rev_status want_status;
	enum cm_tls_source want_source;
	int want_ignored;
	const char *want_reason;
};

#define V_PASS CM_VERDICT_PASS
#define V_WARN CM_VERDICT_WARN
#define V_FAIL CM_VERDICT_FAIL
#define SRC_ST CM_TLS_SOURCE_STAPLE
#define SRC_RESP CM_TLS_SOURCE_RESPONDER
#define SRC_NONE CM_TLS_SOURCE_NONE

static const struct srow staple_rows[] = {
	{"good staple", S_GOOD, -1, 0, 0, V_PASS, CM_REV_GOOD, SRC_ST, 0,
	    "stapled response: good"},
	{"good staple, TLS 1.2", S_GOOD, -1, 1, TLS1_2_VERSION, V_PASS,
	    CM_REV_GOOD, SRC_ST, 0, "stapled response: good"},
	{"revoked staple", S_REVOKED, ST_GOOD, 0, 0, V_FAIL, CM_REV_REVOKED,
	    SRC_ST, 0, "stapled response: revoked"},
	{"revoked staple, TLS 1.2", S_REVOKED, ST_GOOD, 0, TLS1_2_VERSION,
	    V_FAIL, CM_REV_REVOKED, SRC_ST, 0, "keyCompromise"},
	{"unknown staple", S_UNKNOWN, -1, 0, 0, V_WARN, CM_REV_UNKNOWN, SRC_ST,
	    0, "passes with a warning outside Common Criteria"},
	{"unknown staple, CC", S_UNKNOWN, -1, 1, 0, V_FAIL, CM_REV_UNKNOWN,
	    SRC_ST, 0, "fails in Common Criteria mode"},
	{"stale staple, good responder", S_STALE, ST_GOOD, 0, 0, V_PASS,
	    CM_REV_GOOD, SRC_RESP, 1, "stapled response ignored; responder"},
	{"stale staple, revoked responder", S_STALE, ST_REVOKED, 1, 0, V_FAIL,
	    CM_REV_REVOKED, SRC_RESP, 1, "revoked"},
	{"rogue staple, revoked responder", S_ROGUE, ST_REVOKED, 0, 0, V_FAIL,
	    CM_REV_REVOKED, SRC_RESP, 1, "revoked"},
	{"rogue staple, TLS 1.2", S_ROGUE, ST_REVOKED, 0, TLS1_2_VERSION, V_FAIL,
	    CM_REV_REVOKED, SRC_RESP, 1, "revoked"},
	{"garbage staple, responder down", S_GARBAGE, -1, 0, 0, V_WARN,
	    CM_REV_ERROR, SRC_NONE, 1, "soft-fail"},
	{"garbage staple, responder down, CC", S_GARBAGE, -1, 1, 0, V_FAIL,
	    CM_REV_ERROR, SRC_NONE, 1, "no valid answer fails in Common "
	    "Criteria mode"},
	{"no staple, good responder", S_NONE, ST_GOOD, 0, 0, V_PASS,
	    CM_REV_GOOD, SRC_RESP, 0, "responder http://127.0.0.1:"},
	{"no staple, unknown responder, CC", S_NONE, ST_UNKNOWN, 1, 0, V_FAIL,
	    CM_REV_UNKNOWN, SRC_RESP, 0, "unknown"},
	{"no staple, responder down", S_NONE, -1, 0, 0, V_WARN, CM_REV_ERROR,
	    SRC_NONE, 0, "HTTP status 500"},
};

static int log_warnings;
static char log_last[1024];

static void
count_sink(enum cm_log_level level, const char *line, void *arg)
{
	(void)arg;
	if (level == CM_LOG_WARNING)
		log_warnings++;
	snprintf(log_last, sizeof(log_last), "%s", line);
}

static void
test_staples(void **state)
{
	(void)state;
	cm_log_set_sink(count_sink, NULL);
	for (size_t i = 0; i < sizeof(staple_rows) / sizeof(staple_rows[0]);
	    i++) {
		const struct srow *w = &staple_rows[i];
		struct cm_tls *t = new_tls(w->cc, 0);
		struct conn k;

		print_message("row: %s\n", w->name);
		staple(GOOD, w->staple);
		if (w->responder < 0)
			responder_answers(NULL, 0);
		else
			responder_says(GOOD, w->responder, DAY);
		log_warnings = 0;
		connect_to(&k, t, GOOD, "tls.test", w->max_version);
		assert_true(k.r.done);
		assert_int_equal(k.ok, w->want != V_FAIL);
		assert_int_equal(k.r.verdict, w->want);
		assert_int_equal(k.r.status, w->want_status);
		assert_int_equal(k.r.source, w->want_source);
		assert_int_equal(k.r.staple_seen, w->staple != S_NONE);
		assert_int_equal(k.r.staple_ignored, w->want_ignored);
		if (w->want_ignored)
			assert_true(log_warnings >= 1);
		if (strstr(k.r.reason, w->want_reason) == NULL)
			fail_msg("%s: reason '%s' lacks '%s'", w->name, k.r.reason,
			    w->want_reason);
		assert_int_equal(k.r.alarm, w->want == V_WARN &&
		    w->want_status == CM_REV_ERROR);
		assert_true(k.r.peer_is_server);
		assert_string_equal(k.r.subject, "CN=Good Leaf,O=certmon tests");
		if (w->want_status == CM_REV_REVOKED)
			assert_int_equal(SSL_get_verify_result(k.c),
			    X509_V_ERR_CERT_REVOKED);
		conn_done(&k);
		cm_tls_free(t);
	}
	set_staple(NULL, 0);
	cm_log_set_sink(NULL, NULL);
}

/* The order: staple, then the cache, then the responder; answers without
 * nextUpdate are not cached. */
static void
test_cache_then_responder(void **state)
{
	struct cm_tls *t = new_tls(0, 0);
	struct conn k;
	uint64_t hits, misses;
	size_t n;
	int before;

	(void)state;
	set_staple(NULL, 0);
	responder_says(GOOD, ST_GOOD, DAY);
	before = R.requests;
	connect_to(&k, t, GOOD, "tls.test", 0);
	assert_int_equal(k.r.source, CM_TLS_SOURCE_RESPONDER);
	assert_int_equal(R.requests, before + 1);
	conn_done(&k);
	for (int i = 0; i < 3; i++) {
		connect_to(&k, t, GOOD, "tls.test", 0);
		assert_int_equal(k.r.verdict, CM_VERDICT_PASS);
		assert_int_equal(k.r.source, CM_TLS_SOURCE_CACHE);
		assert_non_null(strstr(k.r.reason, "cached response: good"));
		conn_done(&k);
	}
	assert_int_equal(R.requests, before + 1);
	cm_tls_cache_stats(t, &hits, &misses, &n);
	assert_int_equal(hits, 3);
	assert_int_equal(n, 1);
	/* a staple comes first, even with a cached answer */
	{
		size_t len;
		unsigned char *der = response(GOOD, ST_REVOKED, 1, INT, -30, DAY,
		    &len);

		set_staple(der, len);
	}
	connect_to(&k, t, GOOD, "tls.test", 0);
	assert_int_equal(k.r.source, CM_TLS_SOURCE_STAPLE);
	assert_int_equal(k.r.verdict, CM_VERDICT_FAIL);
	conn_done(&k);
	/* ... and, newer, it replaced the cached good */
	set_staple(NULL, 0);
	connect_to(&k, t, GOOD, "tls.test", 0);
	assert_int_equal(k.r.source, CM_TLS_SOURCE_CACHE);
	assert_int_equal(k.r.status, CM_REV_REVOKED);
	conn_done(&k);
	/* past nextUpdate (the clock moves on): asked again */
	cm_tls_cache_clear(t);
	responder_says(GOOD, ST_GOOD, DAY);
	connect_to(&k, t, GOOD, "tls.test", 0);
	conn_done(&k);
	before = R.requests;
	CLOCK = NOW + DAY + 1;
	responder_says(GOOD, ST_GOOD, 2 * DAY);
	connect_to(&k, t, GOOD, "tls.test", 0);
	assert_int_equal(k.r.source, CM_TLS_SOURCE_RESPONDER);
	assert_int_equal(R.requests, before + 1);
	conn_done(&k);
	CLOCK = NOW;
	/* without nextUpdate: never cached */
	cm_tls_cache_clear(t);
	responder_says(GOOD, ST_GOOD, NO_NEXT);
	before = R.requests;
	for (int i = 0; i < 2; i++) {
		connect_to(&k, t, GOOD, "tls.test", 0);
		assert_int_equal(k.r.source, CM_TLS_SOURCE_RESPONDER);
		conn_done(&k);
	}
	assert_int_equal(R.requests, before + 2);
	cm_tls_free(t);
}

struct prow {
	const char *name;
	enum who leaf;
	const char *host;
	int cc;
	enum cm_verdict want;
	unsigned failed;                /* bits 1 << enum cm_tls_check */
	const char *want_reason;
};

#define F(c) (1u << (c))

static const struct prow peer_rows[] = {
	{"good by name", GOOD, "tls.test", 0, V_PASS, 0,
	    "good"},
	{"good by IP", GOOD, "127.0.0.1", 1, V_PASS, 0,
	    "good"},
	{"wrong host", GOOD, "wrong.test", 0, V_FAIL, F(CM_TLS_CHECK_HOST),
	    "host name: wrong.test does not match the certificate (DNS:tls.test, "
	    "IP:127.0.0.1)"},
	{"wrong IP", GOOD, "127.0.0.2", 1, V_FAIL, F(CM_TLS_CHECK_HOST),
	    "host name: 127.0.0.2 does not match"},
	{"no host for a server", GOOD, NULL, 0, V_FAIL, F(CM_TLS_CHECK_HOST),
	    "none was given"},
	{"no EKU", NOEKU, "tls.test", 0, V_PASS, 0, "good"},
	{"no EKU, CC", NOEKU, "tls.test", 1, V_FAIL, F(CM_TLS_CHECK_EKU),
	    "EKU: the certificate has no EKU extension; Common Criteria mode "
	    "requires serverAuth"},
	{"clientAuth only", CLIENTONLY, "tls.test", 0, V_FAIL, F(CM_TLS_CHECK_EKU),
	    "lacks the serverAuth EKU"},
	{"clientAuth only, CC", CLIENTONLY, "tls.test", 1, V_FAIL,
	    F(CM_TLS_CHECK_EKU), "lacks the serverAuth EKU"},
	{"v1 (no AIA)", V1, "tls.test", 0, V_WARN, 0,
	    "no OCSP URL"},
	{"v1, CC", V1, "tls.test", 1, V_FAIL,
	    F(CM_TLS_CHECK_CC) | F(CM_TLS_CHECK_EKU),
	    "is an X.509 v1 certificate; only v3"},
	{"expired", EXPIRED, "tls.test", 0, V_FAIL, F(CM_TLS_CHECK_EXPIRY),
	    "certificate expired (notAfter"},
	{"expired, CC", EXPIRED, "tls.test", 1, V_FAIL, F(CM_TLS_CHECK_EXPIRY),
	    "certificate expired"},
	{"untrusted", ROGUE, "Rogue", 0, V_FAIL, F(CM_TLS_CHECK_CHAIN),
	    "chain: self-signed certificate"},
	{"no AIA, CC", NOAIA, "tls.test", 1, V_FAIL, 0,
	    "no OCSP URL"},
	{"no AIA", NOAIA, "tls.test", 0, V_WARN, 0,
	    "soft-fail"},
};

static void
test_peers(void **state)
{
	(void)state;
	set_staple(NULL, 0);
	for (size_t i = 0; i < sizeof(peer_rows) / sizeof(peer_rows[0]); i++) {
		const struct prow *w = &peer_rows[i];
		struct cm_tls *t = new_tls(w->cc, 0);
		struct conn k;

		print_message("row: %s\n", w->name);
		responder_says(w->leaf, ST_GOOD, DAY);
		connect_to(&k, t, w->leaf, w->host, 0);
		assert_true(k.r.done);
		assert_int_equal(k.ok, w->want != V_FAIL);
		assert_int_equal(k.r.verdict, w->want);
		if (strstr(k.r.reason, w->want_reason) == NULL)
			fail_msg("%s: reason '%s' lacks '%s'", w->name, k.r.reason,
			    w->want_reason);
		for (int c = 0; c < CM_TLS_CHECK_COUNT; c++)
			if (c != CM_TLS_CHECK_REVOCATION)
				assert_int_equal(k.r.check[c].outcome ==
				    CM_TLS_FAILED, (w->failed >> c) & 1);
		assert_int_equal(k.r.check[CM_TLS_CHECK_CC].outcome !=
		    CM_TLS_NOT_RUN, w->cc);
		conn_done(&k);
		cm_tls_free(t);
	}
}

/* Observe mode: the handshake goes on; every check is reported. */
static void
test_observe(void **state)
{
	struct cm_tls *t = new_tls(1, 1);
	struct conn k;

	(void)state;
	staple(EXPIRED, S_REVOKED);
	connect_to(&k, t, EXPIRED, "wrong.test", 0);
	assert_true(k.ok);
	assert_int_equal(k.r.verdict, CM_VERDICT_FAIL);
	assert_int_equal(k.r.check[CM_TLS_CHECK_HOST].outcome, CM_TLS_FAILED);
	assert_int_equal(k.r.check[CM_TLS_CHECK_EXPIRY].outcome, CM_TLS_FAILED);
	assert_int_equal(k.r.check[CM_TLS_CHECK_REVOCATION].outcome,
	    CM_TLS_FAILED);
	assert_int_equal(k.r.check[CM_TLS_CHECK_CHAIN].outcome, CM_TLS_PASSED);
	assert_int_equal(k.r.check[CM_TLS_CHECK_EKU].outcome, CM_TLS_PASSED);
	assert_int_equal(k.r.check[CM_TLS_CHECK_CC].outcome, CM_TLS_PASSED);
	assert_int_equal(k.r.status, CM_REV_REVOKED);
	assert_non_null(strstr(k.r.reason, "host name: wrong.test"));
	assert_non_null(strstr(k.r.reason, "; certificate expired"));
	assert_non_null(strstr(k.r.reason, "; stapled response: revoked"));
	assert_int_equal(SSL_get_verify_result(k.c), X509_V_ERR_HOSTNAME_MISMATCH);
	conn_done(&k);
	set_staple(NULL, 0);
	cm_tls_free(t);
}

/* Common Criteria mode requires TLS 1.2: a TLS 1.1 server is refused by
 * the protocol version (no verdict at all); outside it the hook runs. */
static void
test_tls_version(void **state)
{
	struct cm_tls *t = new_tls(1, 0), *t2 = new_tls(0, 0);
	struct conn k;

	(void)state;
	set_staple(NULL, 0);
	responder_says(GOOD, ST_GOOD, DAY);
	connect_to(&k, t, GOOD, "tls.test", TLS1_1_VERSION);
	assert_false(k.ok);
	assert_false(k.r.done);
	assert_int_equal(SSL_CTX_get_min_proto_version(k.cctx), TLS1_2_VERSION);
	conn_done(&k);
	connect_to(&k, t2, GOOD, "tls.test", TLS1_1_VERSION);
	assert_true(k.ok);
	assert_true(k.r.done);
	assert_int_equal(k.r.verdict, CM_VERDICT_PASS);
	assert_int_equal(SSL_version(k.c), TLS1_1_VERSION);
	conn_done(&k);
	cm_tls_free(t);
	cm_tls_free(t2);
}

/* A server checking its client: clientAuth is the EKU that fits, and the
 * revocation check runs in the verify callback (no staples). */
static void
test_client_peer(void **state)
{
	static const enum who who[] = {CLIENT, GOOD};
	struct cm_err err = {CM_OK, ""};

	(void)state;
	set_staple(NULL, 0);
	for (size_t i = 0; i < 2; i++) {
		struct cm_tls *t = new_tls(1, 0);
		SSL_CTX *sctx = server_ctx(GOOD, 0), *cctx = client_ctx();
		SSL *c, *s;
		BIO *b1, *b2;
		struct cm_tls_result r;
		int ok;

		responder_says(who[i], i == 0 ? ST_REVOKED : ST_GOOD, DAY);
		SSL_CTX_set_cert_store(sctx, trust_root());
		assert_int_equal(cm_tls_attach_ctx(t, sctx, &err), CM_OK);
		SSL_CTX_use_certificate(cctx, P[who[i]].x);
		SSL_CTX_use_PrivateKey(cctx, P[who[i]].key);
		SSL_CTX_add1_chain_cert(cctx, P[INT].x);
		c = SSL_new(cctx);
		s = SSL_new(sctx);
		BIO_new_bio_pair(&b1, 0, &b2, 0);
		SSL_set_bio(c, b1, b1);
		SSL_set_bio(s, b2, b2);
		SSL_set_connect_state(c);
		SSL_set_accept_state(s);
		ok = drive(c, s);
		/* TLS 1.3: the client finishes first; the server decides */
		assert_int_equal(cm_tls_result_get(s, &r), CM_OK);
		assert_false(r.peer_is_server);
		assert_int_equal(r.verdict, CM_VERDICT_FAIL);
		if (i == 0) {
			assert_int_equal(r.status, CM_REV_REVOKED);
			assert_int_equal(r.source, CM_TLS_SOURCE_RESPONDER);
			assert_int_equal(r.check[CM_TLS_CHECK_EKU].outcome,
			    CM_TLS_PASSED);
			assert_int_equal(r.check[CM_TLS_CHECK_HOST].outcome,
			    CM_TLS_NOT_RUN);
		} else {
			assert_non_null(strstr(r.reason, "lacks the clientAuth EKU "
			    "that a TLS client needs"));
		}
		(void)ok;
		ERR_clear_error();
		SSL_free(c);
		SSL_free(s);
		SSL_CTX_free(cctx);
		SSL_CTX_free(sctx);
		cm_tls_free(t);
	}
}

/* A long-lived connection: the peer is revoked after the handshake; the
 * re-check reports it. The interval decides when. */
static void
test_recheck(void **state)
{
	struct cm_tls *t = new_tls(0, 0);
	struct cm_tls_result r;
	struct conn k;
	int64_t iv = cm_tls_recheck_interval(1, 3600, 0, 0);

	(void)state;
	set_staple(NULL, 0);
	responder_says(GOOD, ST_GOOD, DAY);
	connect_to(&k, t, GOOD, "tls.test", 0);
	assert_int_equal(k.r.verdict, CM_VERDICT_PASS);
	assert_false(cm_tls_recheck_due(k.c, iv, NOW + 3599));
	assert_true(cm_tls_recheck_due(k.c, iv, NOW + 3600));
	assert_false(cm_tls_recheck_due(k.c, 0, NOW + 10 * DAY));
	/* revoked at the responder; the cached answer is younger than the
	 * interval, so the re-check still passes */
	responder_says(GOOD, ST_REVOKED, DAY);
	assert_int_equal(cm_tls_recheck(k.c, iv, NOW + 60, &r), CM_VERDICT_PASS);
	assert_int_equal(r.source, CM_TLS_SOURCE_CACHE);
	assert_true(r.recheck);
	/* older than the interval: asked again, and the verdict turns */
	assert_int_equal(cm_tls_recheck(k.c, iv, NOW + 3600, &r),
	    CM_VERDICT_FAIL);
	assert_int_equal(r.status, CM_REV_REVOKED);
	assert_int_equal(r.source, CM_TLS_SOURCE_RESPONDER);
	assert_int_equal(cm_tls_result_get(k.c, &r), CM_OK);
	assert_int_equal(r.verdict, CM_VERDICT_FAIL);
	assert_false(cm_tls_recheck_due(k.c, iv, NOW + 3600 + 10));
	/* the leaf expires during the connection */
	responder_says(GOOD, ST_GOOD, 500 * DAY);
	cm_tls_cache_clear(t);
	assert_int_equal(cm_tls_recheck(k.c, 0, NOW + 400 * DAY, &r),
	    CM_VERDICT_FAIL);
	assert_non_null(strstr(r.reason, "certificate expired"));
	conn_done(&k);
	/* not attached */
	{
		SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
		SSL *ssl = SSL_new(ctx);

		assert_int_equal(cm_tls_recheck(ssl, 0, NOW, &r), CM_VERDICT_FAIL);
		assert_int_equal(cm_tls_result_get(ssl, &r), CM_ERR_NOTFOUND);
		SSL_free(ssl);
		SSL_CTX_free(ctx);
	}
	cm_tls_free(t);
}

static enum cm_rev_status
crl_says(X509 *leaf, X509 *issuer, cm_time now, void *arg, char *why,
    size_t why_len)
{
	(void)leaf;
	(void)issuer;
	(void)now;
	snprintf(why, why_len, "the CRL says so");
	return *(enum cm_rev_status *)arg;
}

static void
test_crl_hook(void **state)
{
	static const struct {
		int ocsp_off, responder;
		enum cm_rev_status crl;
		enum cm_verdict want;
		enum cm_tls_source src;
	} rows[] = {
		{1, ST_GOOD, CM_REV_REVOKED, V_FAIL, CM_TLS_SOURCE_CRL},
		{1, ST_GOOD, CM_REV_GOOD, V_PASS, CM_TLS_SOURCE_CRL},
		{0, -1, CM_REV_GOOD, V_PASS, CM_TLS_SOURCE_CRL},
		{0, -1, CM_REV_ERROR, V_WARN, CM_TLS_SOURCE_NONE},
		{0, ST_REVOKED, CM_REV_GOOD, V_FAIL, CM_TLS_SOURCE_RESPONDER},
	};

	(void)state;
	set_staple(NULL, 0);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct cm_tls_opts o;
		struct cm_tls *t = NULL;
		struct cm_err err = {CM_OK, ""};
		enum cm_rev_status crl = rows[i].crl;
		struct conn k;

		memset(&o, 0, sizeof(o));
		o.ocsp_off = rows[i].ocsp_off;
		o.crl_check = crl_says;
		o.crl_arg = &crl;
		o.clock = test_clock;
		assert_int_equal(cm_tls_new(&o, &t, &err), CM_OK);
		if (rows[i].responder < 0)
			responder_answers(NULL, 0);
		else
			responder_says(GOOD, rows[i].responder, DAY);
		connect_to(&k, t, GOOD, "tls.test", 0);
		assert_int_equal(k.r.verdict, rows[i].want);
		assert_int_equal(k.r.source, rows[i].src);
		if (rows[i].src == CM_TLS_SOURCE_CRL)
			assert_non_null(strstr(k.r.reason, "CRL: the CRL says so"));
		conn_done(&k);
		cm_tls_free(t);
	}
}

/* Attached to one SSL only: other SSL objects of the same SSL_CTX are
 * left to OpenSSL's own verification. */
static void
test_attach_ssl_only(void **state)
{
	struct cm_tls *t = new_tls(0, 0);
	struct cm_err err = {CM_OK, ""};
	SSL_CTX *sctx = server_ctx(GOOD, 0), *cctx = client_ctx();
	struct cm_tls_result r;

	(void)state;
	staple(GOOD, S_REVOKED);
	SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);
	for (int attach = 1; attach >= 0; attach--) {
		SSL *c = SSL_new(cctx), *s = SSL_new(sctx);
		BIO *b1, *b2;

		BIO_new_bio_pair(&b1, 0, &b2, 0);
		SSL_set_bio(c, b1, b1);
		SSL_set_bio(s, b2, b2);
		SSL_set_connect_state(c);
		SSL_set_accept_state(s);
		if (attach)
			assert_int_equal(cm_tls_attach_ssl(t, c, "tls.test", &err),
			    CM_OK);
		assert_int_equal(drive(c, s), !attach);
		assert_int_equal(cm_tls_result_get(c, &r),
		    attach ? CM_OK : CM_ERR_NOTFOUND);
		if (attach)
			assert_int_equal(r.status, CM_REV_REVOKED);
		ERR_clear_error();
		SSL_free(c);
		SSL_free(s);
	}
	/* attached through the SSL_CTX only, with OpenSSL's own host name */
	{
		SSL_CTX *c2 = client_ctx();
		SSL *c, *s;
		BIO *b1, *b2;

		assert_int_equal(cm_tls_attach_ctx(t, c2, &err), CM_OK);
		for (int i = 0; i < 3; i++) {
			c = SSL_new(c2);
			s = SSL_new(sctx);
			BIO_new_bio_pair(&b1, 0, &b2, 0);
			SSL_set_bio(c, b1, b1);
			SSL_set_bio(s, b2, b2);
			SSL_set_connect_state(c);
			SSL_set_accept_state(s);
			if (i == 0)
				SSL_set1_host(c, "tls.test");
			else if (i == 1)
				SSL_set1_host(c, "other.test");
			drive(c, s);
			assert_int_equal(cm_tls_result_get(c, &r), CM_OK);
			/* the staple says revoked; a failed host name ends the
			 * handshake before anyone is asked */
			assert_int_equal(r.status, i == 0 ? CM_REV_REVOKED :
			    CM_REV_ERROR);
			assert_int_equal(r.check[CM_TLS_CHECK_HOST].outcome,
			    i == 0 ? CM_TLS_PASSED : CM_TLS_FAILED);
			if (i == 2)
				assert_non_null(strstr(r.reason, "none was given"));
			ERR_clear_error();
			SSL_free(c);
			SSL_free(s);
		}
		SSL_CTX_free(c2);
	}
	/* bad hosts */
	{
		SSL *c = SSL_new(cctx);
		char longname[300];

		memset(longname, 'a', sizeof(longname) - 1);
		longname[sizeof(longname) - 1] = '\0';
		assert_int_equal(cm_tls_attach_ssl(t, c, "", &err),
		    CM_ERR_INVALID);
		assert_int_equal(cm_tls_attach_ssl(t, c, longname, &err),
		    CM_ERR_INVALID);
		SSL_free(c);
	}
	set_staple(NULL, 0);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	cm_tls_free(t);
}

/* Many threads, one context: the cache is shared and stays right. */
struct hs_worker {
	struct cm_tls *t;
	int pass, other;
};

static void *
hs_work(void *arg)
{
	struct hs_worker *w = arg;

	for (int i = 0; i < 25; i++) {
		struct conn k;
		BIO *b1 = NULL, *b2 = NULL;
		struct cm_err err = {CM_OK, ""};

		memset(&k, 0, sizeof(k));
		k.sctx = server_ctx(GOOD, 0);
		k.cctx = client_ctx();
		cm_tls_attach_ctx(w->t, k.cctx, &err);
		k.c = SSL_new(k.cctx);
		k.s = SSL_new(k.sctx);
		BIO_new_bio_pair(&b1, 0, &b2, 0);
		SSL_set_bio(k.c, b1, b1);
		SSL_set_bio(k.s, b2, b2);
		SSL_set_connect_state(k.c);
		SSL_set_accept_state(k.s);
		cm_tls_attach_ssl(w->t, k.c, "tls.test", &err);
		k.ok = drive(k.c, k.s);
		cm_tls_result_get(k.c, &k.r);
		if (k.ok && k.r.verdict == CM_VERDICT_PASS &&
		    k.r.source == CM_TLS_SOURCE_CACHE)
			w->pass++;
		else
			w->other++;
		conn_done(&k);
	}
	return NULL;
}

static void
test_threads(void **state)
{
	struct cm_tls *t = new_tls(1, 0);
	struct hs_worker w[4];
	pthread_t th[4];
	struct conn k;
	int before;

	(void)state;
	set_staple(NULL, 0);
	responder_says(GOOD, ST_GOOD, DAY);
	connect_to(&k, t, GOOD, "tls.test", 0);   /* warms the cache */
	assert_int_equal(k.r.source, CM_TLS_SOURCE_RESPONDER);
	conn_done(&k);
	before = R.requests;
	for (int i = 0; i < 4; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].t = t;
		assert_int_equal(pthread_create(&th[i], NULL, hs_work, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].pass, 25);
		assert_int_equal(w[i].other, 0);
	}
	cm_tls_free(t);
	assert_int_equal(R.requests, before);
}

/* A staple seen before is reused by its bytes: only the rules that depend
 * on the time run again (freshness; the validity of the certificate of a
 * delegated responder); never in Common Criteria mode for a staple that
 * carries a responder certificate. */
static void
test_staple_reuse(void **state)
{
	struct cm_tls *t = new_tls(0, 0), *tcc = new_tls(1, 0);
	struct conn k;
	unsigned char *der;
	size_t len;

	(void)state;
	responder_says(GOOD, ST_REVOKED, DAY);          /* must not be asked */
	/* signed by the CA */
	der = response(GOOD, ST_GOOD, 0, INT, -3600, 5 * DAY, &len);
	set_staple(der, len);
	for (int i = 0; i < 3; i++) {
		connect_to(&k, t, GOOD, "tls.test", 0);
		assert_int_equal(k.r.verdict, CM_VERDICT_PASS);
		assert_int_equal(k.r.source, CM_TLS_SOURCE_STAPLE);
		assert_int_equal(k.r.staple_reused, i > 0);
		conn_done(&k);
	}
	/* past its nextUpdate: validated again, and stale */
	CLOCK = NOW + 5 * DAY + 600;
	connect_to(&k, t, GOOD, "tls.test", 0);
	assert_true(k.r.staple_ignored);
	assert_false(k.r.staple_reused);
	assert_non_null(strstr(k.r.staple_reason, "step 4 freshness: stale"));
	conn_done(&k);
	CLOCK = NOW;
	cm_tls_cache_clear(t);
	/* signed by a delegated responder whose certificate expires in 2
	 * days, while the response is good for 5 */
	der = response_flags(GOOD, ST_GOOD, 0, DELEG, -3600, 5 * DAY, 0, &len);
	set_staple(der, len);
	for (int i = 0; i < 2; i++) {
		connect_to(&k, t, GOOD, "tls.test", 0);
		assert_int_equal(k.r.source, CM_TLS_SOURCE_STAPLE);
		assert_int_equal(k.r.staple_reused, i > 0);
		conn_done(&k);
	}
	CLOCK = NOW + 3 * DAY;
	connect_to(&k, t, GOOD, "tls.test", 0);
	assert_true(k.r.staple_ignored);
	assert_non_null(strstr(k.r.staple_reason, "its certificate expired"));
	conn_done(&k);
	CLOCK = NOW;
	/* Common Criteria mode: a delegated staple is validated every time */
	for (int i = 0; i < 2; i++) {
		connect_to(&k, tcc, GOOD, "tls.test", 0);
		assert_int_equal(k.r.source, CM_TLS_SOURCE_STAPLE);
		assert_false(k.r.staple_reused);
		conn_done(&k);
	}
	set_staple(NULL, 0);
	cm_tls_free(t);
	cm_tls_free(tcc);
}

/* A valid staple older than a cached answer does not override it: the
 * newer answer (here: revoked) wins. */
static void
test_newer_answer_beats_staple(void **state)
{
	struct cm_tls *t = new_tls(0, 0);
	struct conn k;
	unsigned char *der;
	size_t len;

	(void)state;
	set_staple(NULL, 0);
	responder_says(GOOD, ST_REVOKED, DAY);          /* thisUpdate -60 s */
	connect_to(&k, t, GOOD, "tls.test", 0);
	assert_int_equal(k.r.status, CM_REV_REVOKED);
	conn_done(&k);
	der = response(GOOD, ST_GOOD, 0, INT, -3600, DAY, &len);
	set_staple(der, len);
	connect_to(&k, t, GOOD, "tls.test", 0);
	assert_int_equal(k.r.verdict, CM_VERDICT_FAIL);
	assert_int_equal(k.r.status, CM_REV_REVOKED);
	assert_int_equal(k.r.source, CM_TLS_SOURCE_CACHE);
	assert_non_null(strstr(k.r.reason, "a newer cached answer supersedes "
	    "the stapled response; cached response: revoked"));
	conn_done(&k);
	set_staple(NULL, 0);
	cm_tls_free(t);
}

/* The verdict callback, the hook's time, the clock. */
static int verdicts;

static void
on_verdict(SSL *ssl, const struct cm_tls_result *r, void *arg)
{
	(void)arg;
	assert_non_null(ssl);
	assert_true(r->done);
	verdicts++;
}

static void
test_callback_and_timing(void **state)
{
	struct cm_tls_opts o;
	struct cm_tls *t = NULL;
	struct cm_err err = {CM_OK, ""};
	struct conn k;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.on_verdict = on_verdict;
	o.clock = test_clock;
	o.no_cache = 1;
	assert_int_equal(cm_tls_new(&o, &t, &err), CM_OK);
	staple(GOOD, S_GOOD);
	verdicts = 0;
	connect_to(&k, t, GOOD, "tls.test", 0);
	assert_int_equal(verdicts, 1);
	assert_true(k.r.hook_ns > 0 && k.r.chain_ns > 0);
	assert_int_equal(k.r.checked_at, CLOCK);
	cm_tls_recheck(k.c, 0, NOW + 5, NULL);
	assert_int_equal(verdicts, 2);
	conn_done(&k);
	/* the clock says the leaf is not valid yet */
	CLOCK = NOW - 2 * DAY;
	connect_to(&k, t, GOOD, "tls.test", 0);
	assert_int_equal(k.r.verdict, CM_VERDICT_FAIL);
	assert_non_null(strstr(k.r.reason, "certificate not valid yet"));
	conn_done(&k);
	CLOCK = NOW;
	set_staple(NULL, 0);
	cm_tls_free(t);
}

int
main(void)
{
	const struct CMUnitTest pure[] = {
		cmocka_unit_test(test_interval),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_cache_threads),
	};
	const struct CMUnitTest hook[] = {
		cmocka_unit_test(test_staples),
		cmocka_unit_test(test_cache_then_responder),
		cmocka_unit_test(test_peers),
		cmocka_unit_test(test_observe),
		cmocka_unit_test(test_tls_version),
		cmocka_unit_test(test_client_peer),
		cmocka_unit_test(test_recheck),
		cmocka_unit_test(test_crl_hook),
		cmocka_unit_test(test_attach_ssl_only),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_callback_and_timing),
		cmocka_unit_test(test_staple_reuse),
		cmocka_unit_test(test_newer_answer_beats_staple),
	};
	int failed = 0;

	failed += cmocka_run_group_tests_name("tls pure", pure, NULL, NULL);
	failed += cmocka_run_group_tests_name("tls hook", hook, setup, teardown);
	return failed;
}
