/*
 * tls.c - the TLS verify hook: certmon's revocation policy on an OpenSSL
 * SSL_CTX / SSL (see include/certmon/tls.h for the contract).
 *
 * Where each check runs:
 *   - certmon's certificate-verify callback (SSL_CTX_set_cert_verify_
 *     callback) replaces OpenSSL's call to X509_verify_cert: it runs
 *     X509_verify_cert itself at the context's `now`, with a per-certificate
 *     callback that records every failure (chain, expiry, purpose) and lets
 *     the verification go on, then checks the host name, the EKU and the
 *     Common Criteria rules, and decides;
 *   - for a client that asked for a stapled response, the revocation check
 *     waits for the status callback (in TLS 1.2 the CertificateStatus
 *     message comes after the Certificate message); it runs whether a
 *     staple came or not;
 *   - for a server checking its client (no staples), or a client that
 *     asked for none, the revocation check runs in the verify callback.
 * Per-connection state lives in the SSL's ex_data, the context in the
 * SSL_CTX's; both are freed with their owners.
 */
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <arpa/inet.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certmon/log.h"
#include "certmon/tls.h"
#include "ocsp_int.h"
#include "tls_int.h"
#include "x509_int.h"

/* ---- small helpers ------------------------------------------------------ */

static void textf(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
textf(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
	for (char *p = buf; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
}

static uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The RFC 2253 text of n, ASCII only (other bytes escaped), one line. */
static void
name_text(const X509_NAME *n, char *buf, size_t cap)
{
	BIO *b = NULL;
	char *data = NULL;
	long len;

	textf(buf, cap, "(unprintable name)");
	if (n == NULL || (b = BIO_new(BIO_s_mem())) == NULL)
		goto out;
	if (X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253) >= 0 &&
	    (len = BIO_get_mem_data(b, &data)) >= 0)
		textf(buf, cap, "%.*s", (int)(len > INT_MAX ? INT_MAX : len),
		    data != NULL ? data : "");
	if (buf[0] == '\0')
		textf(buf, cap, "(empty name)");
out:
	BIO_free(b);
}

static int
is_ip_literal(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* ---- the context ---------------------------------------------------------- */

struct cm_tls {
	atomic_int refs;
	struct cm_tls_opts o;           /* resolved */
	char *ocsp_url;                 /* o.ocsp_url points here */
	struct cm_ocsp_ctx *octx;
	struct cm_tlscache *cache;      /* NULL: no cache */
	EVP_MD *sha256;
};

static void
tls_ref(struct cm_tls *t)
{
	if (t != NULL)
		atomic_fetch_add(&t->refs, 1);
}

static void
tls_unref(struct cm_tls *t)
{
	if (t == NULL || atomic_fetch_sub(&t->refs, 1) != 1)
		return;
	cm_ocsp_ctx_free(t->octx);
	cm_tlscache_free(t->cache);
	EVP_MD_free(t->sha256);
	free(t->ocsp_url);
	free(t);
}

enum cm_status
cm_tls_new(const struct cm_tls_opts *opts, struct cm_tls **out,
    struct cm_err *err)
{
	static const struct cm_tls_opts defaults;
	struct cm_tls *t = NULL;
	enum cm_status st = CM_OK;

	*out = NULL;
	if (opts == NULL)
		opts = &defaults;
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		st = cm_err_set(err, CM_ERR_NOMEM, "tls: out of memory");
		goto out;
	}
	atomic_init(&t->refs, 1);
	t->o = *opts;
	t->o.ocsp.common_criteria = opts->common_criteria;
	if (t->o.cache_max == 0)
		t->o.cache_max = CM_TLS_CACHE_DEFAULT;
	if (t->o.cache_max_age <= 0)
		t->o.cache_max_age = CM_TLS_CACHE_MAX_AGE_DEFAULT;
	if (opts->ocsp_url != NULL && opts->ocsp_url[0] != '\0') {
		if ((t->ocsp_url = strdup(opts->ocsp_url)) == NULL) {
			st = cm_err_set(err, CM_ERR_NOMEM, "tls: out of memory");
			goto out;
		}
	}
	t->o.ocsp_url = t->ocsp_url;
	if ((st = cm_ocsp_ctx_new(&t->octx, err)) != CM_OK)
		goto out;
	if (!t->o.no_cache &&
	    (t->cache = cm_tlscache_new(t->o.cache_max)) == NULL) {
		st = cm_err_set(err, CM_ERR_NOMEM, "tls: out of memory for a "
		    "cache of %zu entries", t->o.cache_max);
		goto out;
	}
	if ((t->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL) {
		st = cm_err_set(err, CM_ERR_INTERNAL, "tls: OpenSSL has no "
		    "SHA-256");
		goto out;
	}
	*out = t;
	t = NULL;
out:
	tls_unref(t);
	return st;
}

void
cm_tls_free(struct cm_tls *t)
{
	tls_unref(t);
}

static cm_time
tls_now(const struct cm_tls *t)
{
	return t->o.clock != NULL ? t->o.clock(t->o.clock_arg) : cm_clock_now();
}

void
cm_tls_cache_stats(struct cm_tls *t, uint64_t *hits, uint64_t *misses,
    size_t *entries)
{
	cm_tlscache_stats(t != NULL ? t->cache : NULL, hits, misses, entries);
}

void
cm_tls_cache_clear(struct cm_tls *t)
{
	if (t != NULL)
		cm_tlscache_clear(t->cache);
}

/* ---- names ---------------------------------------------------------------- */

const char *
cm_tls_check_name(enum cm_tls_check check)
{
	switch (check) {
	case CM_TLS_CHECK_CHAIN:      return "chain";
	case CM_TLS_CHECK_HOST:       return "host";
	case CM_TLS_CHECK_EXPIRY:     return "expiry";
	case CM_TLS_CHECK_EKU:        return "eku";
	case CM_TLS_CHECK_CC:         return "common_criteria";
	case CM_TLS_CHECK_REVOCATION: return "revocation";
	case CM_TLS_CHECK_COUNT:      break;
	}
	return "unknown";
}

const char *
cm_tls_outcome_name(enum cm_tls_outcome outcome)
{
	switch (outcome) {
	case CM_TLS_PASSED:  return "pass";
	case CM_TLS_WARNED:  return "warn";
	case CM_TLS_FAILED:  return "fail";
	case CM_TLS_NOT_RUN: break;
	}
	return "not run";
}

const char *
cm_tls_source_name(enum cm_tls_source source)
{
	switch (source) {
	case CM_TLS_SOURCE_STAPLE:    return "staple";
	case CM_TLS_SOURCE_CACHE:     return "cache";
	case CM_TLS_SOURCE_RESPONDER: return "responder";
	case CM_TLS_SOURCE_CRL:       return "crl";
	case CM_TLS_SOURCE_NONE:      break;
	}
	return NULL;
}

/* ---- the interval rule -------------------------------------------------- */

int64_t
cm_tls_recheck_interval(int validity_check, int64_t validity_frequency,
    int revocation_check, int64_t check_every)
{
	int64_t v;

	if (!validity_check)
		return 0;
	v = revocation_check ? check_every : validity_frequency;
	return v > 0 ? v : CM_TLS_INTERVAL_DEFAULT;
}

/* ---- per-connection state and ex_data ------------------------------------ */

/* What an SSL_CTX carries: the context (NULL when only attach_ssl put the
 * callbacks there) and the status callback we replaced (for servers,
 * which use it to staple their own responses). */
typedef int (*status_fn)(SSL *ssl, void *arg);

struct ctx_link {
	struct cm_tls *t;
	status_fn prev_cb;
	void *prev_arg;
};

struct conn {
	struct cm_tls *t;               /* a reference */
	char host[CM_TLS_HOST_MAX + 1];
	int host_is_ip;
	int pending;                    /* revocation waits for the status cb */
	int chain_err;                  /* first X509_V_ERR_* of the chain */
	int expiry_err;                 /* ... about the leaf's validity */
	int purpose_err;                /* ... about the leaf's purpose */
	int self_anchor;                /* the leaf is itself a trust anchor */
	X509 *leaf, *issuer, *anchor;   /* references */
	unsigned char lfp[CM_FP_LEN], ifp[CM_FP_LEN];
	int described;                  /* r's names are filled in */
	struct cm_tls_result r;
};

static int ssl_idx = -1, ctx_idx = -1;
static pthread_once_t idx_once = PTHREAD_ONCE_INIT;

static void
conn_forget_peer(struct conn *cn)
{
	X509_free(cn->leaf);
	X509_free(cn->issuer);
	X509_free(cn->anchor);
	cn->leaf = cn->issuer = cn->anchor = NULL;
	cn->described = 0;
}

static void
conn_free(struct conn *cn)
{
	if (cn == NULL)
		return;
	conn_forget_peer(cn);
	tls_unref(cn->t);
	free(cn);
}

static void
ssl_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
    void *argp)
{
	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	conn_free(ptr);
}

/* SSL_dup: the copy is not attached (the state is per connection). */
static int
ssl_ex_dup(CRYPTO_EX_DATA *to, const CRYPTO_EX_DATA *from, void **from_d,
    int idx, long argl, void *argp)
{
	(void)to;
	(void)from;
	(void)idx;
	(void)argl;
	(void)argp;
	*from_d = NULL;
	return 1;
}

static void
ctx_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
    void *argp)
{
	struct ctx_link *l = ptr;

	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	if (l == NULL)
		return;
	tls_unref(l->t);
	free(l);
}

static void
idx_init(void)
{
	ssl_idx = SSL_get_ex_new_index(0, NULL, NULL, ssl_ex_dup, ssl_ex_free);
	ctx_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, ctx_ex_free);
}

static int
idx_ready(void)
{
	pthread_once(&idx_once, idx_init);
	return ssl_idx >= 0 && ctx_idx >= 0;
}

static struct conn *
conn_new(struct cm_tls *t)
{
	struct conn *cn = calloc(1, sizeof(*cn));

	if (cn != NULL) {
		tls_ref(t);
		cn->t = t;
	}
	return cn;
}

/* The state of ssl; created from its SSL_CTX's context when create is set
 * and the SSL_CTX is attached. NULL: not ours. */
static struct conn *
conn_get(SSL *ssl, int create)
{
	struct conn *cn;
	struct ctx_link *l;

	if (ssl == NULL || !idx_ready())
		return NULL;
	if ((cn = SSL_get_ex_data(ssl, ssl_idx)) != NULL || !create)
		return cn;
	l = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ctx_idx);
	if (l == NULL || l->t == NULL || (cn = conn_new(l->t)) == NULL)
		return NULL;
	if (!SSL_set_ex_data(ssl, ssl_idx, cn)) {
		conn_free(cn);
		return NULL;
	}
	return cn;
}

/* ---- recording the checks --------------------------------------------------- */

static struct cm_tls_check_result *
ck(struct conn *cn, enum cm_tls_check which)
{
	return &cn->r.check[which];
}

static void set_check(struct conn *cn, enum cm_tls_check which,
    enum cm_tls_outcome outcome, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
set_check(struct conn *cn, enum cm_tls_check which,
    enum cm_tls_outcome outcome, const char *fmt, ...)
{
	struct cm_tls_check_result *c = ck(cn, which);
	va_list ap;

	c->outcome = outcome;
	va_start(ap, fmt);
	vsnprintf(c->text, sizeof(c->text), fmt, ap);
	va_end(ap);
	for (char *p = c->text; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
}

/* Starts a new verdict (a handshake). */
static void
conn_begin(struct conn *cn, SSL *ssl, cm_time now)
{
	char host[sizeof(cn->host)];

	memcpy(host, cn->host, sizeof(host));
	conn_forget_peer(cn);
	memset(&cn->r, 0, sizeof(cn->r));
	cn->pending = 0;
	cn->chain_err = cn->expiry_err = cn->purpose_err = 0;
	cn->self_anchor = 0;
	cn->r.peer_is_server = !SSL_is_server(ssl);
	cn->r.status = CM_REV_ERROR;
	cn->r.ocsp.status = CM_REV_ERROR;
	cn->r.checked_at = now;
	memcpy(cn->r.host, host, sizeof(cn->r.host));
}

/* The per-certificate callback inside X509_verify_cert: records each
 * failure and lets the verification go on; the decision is ours, at the
 * end, from what was recorded. */
static int
record_cb(int ok, X509_STORE_CTX *xs)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(xs,
	    SSL_get_ex_data_X509_STORE_CTX_idx());
	struct conn *cn = conn_get(ssl, 0);
	int e = X509_STORE_CTX_get_error(xs);
	int depth = X509_STORE_CTX_get_error_depth(xs);
	X509 *cur = X509_STORE_CTX_get_current_cert(xs);
	char who[CM_OCSP_TEXT_MAX];

	if (ok || cn == NULL)
		return cn == NULL ? ok : 1;
	if (depth == 0 && (e == X509_V_ERR_CERT_HAS_EXPIRED ||
	    e == X509_V_ERR_CERT_NOT_YET_VALID ||
	    e == X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD ||
	    e == X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD)) {
		if (cn->expiry_err == 0)
			cn->expiry_err = e;
		return 1;
	}
	if (depth == 0 && e == X509_V_ERR_INVALID_PURPOSE) {
		if (cn->purpose_err == 0)
			cn->purpose_err = e;
		return 1;
	}
	if (e == X509_V_ERR_HOSTNAME_MISMATCH || e == X509_V_ERR_IP_ADDRESS_MISMATCH
	    || e == X509_V_ERR_EMAIL_MISMATCH)
		return 1;               /* the host check is ours */
	if (cn->chain_err == 0) {
		cn->chain_err = e;
		name_text(cur != NULL ? X509_get_subject_name(cur) : NULL, who,
		    sizeof(who));
		set_check(cn, CM_TLS_CHECK_CHAIN, CM_TLS_FAILED,
		    "chain: %s (depth %d, %s)", X509_verify_cert_error_string(e),
		    depth, who);
	}
	return 1;
}

/* Lists the DNS and IP names of x into buf (for a host mismatch). */
static void
names_of(X509 *x, char *buf, size_t cap)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL,
	    NULL);
	size_t o = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens) &&
	    o + 8 < cap; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		const unsigned char *d;
		char ip[64];
		int len;

		if (g->type == GEN_DNS) {
			d = ASN1_STRING_get0_data(g->d.dNSName);
			len = ASN1_STRING_length(g->d.dNSName);
			o += (size_t)snprintf(buf + o, cap - o, "%sDNS:%.*s",
			    o ? ", " : "", len > 100 ? 100 : len, (const char *)d);
		} else if (g->type == GEN_IPADD) {
			len = ASN1_STRING_length(g->d.iPAddress);
			d = ASN1_STRING_get0_data(g->d.iPAddress);
			if ((len == 4 && inet_ntop(AF_INET, d, ip, sizeof(ip))) ||
			    (len == 16 && inet_ntop(AF_INET6, d, ip, sizeof(ip))))
				o += (size_t)snprintf(buf + o, cap - o, "%sIP:%s",
				    o ? ", " : "", ip);
		}
		if (o >= cap)
			o = cap - 1;
	}
	GENERAL_NAMES_free(gens);
	if (buf[0] == '\0') {
		char cn[CM_OCSP_TEXT_MAX];

		name_text(X509_get_subject_name(x), cn, sizeof(cn));
		textf(buf, cap, "no DNS or IP names; subject %s", cn);
	}
}

/* Takes the name an application gave OpenSSL (SSL_set1_host, or an IP
 * address in the verify parameters) when it gave certmon none. */
static void
host_from_param(struct conn *cn, SSL *ssl)
{
	X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
	const char *h = vp != NULL ? X509_VERIFY_PARAM_get0_host(vp, 0) : NULL;
	char *ip = NULL;

	if (h == NULL && vp != NULL)
		h = ip = X509_VERIFY_PARAM_get1_ip_asc(vp);
	if (h != NULL && h[0] != '\0' && strlen(h) <= CM_TLS_HOST_MAX) {
		textf(cn->host, sizeof(cn->host), "%s", h);
		cn->host_is_ip = is_ip_literal(cn->host);
		textf(cn->r.host, sizeof(cn->r.host), "%s", cn->host);
	}
	OPENSSL_free(ip);
}

static void
check_host(struct conn *cn, X509 *leaf)
{
	char names[300];
	int rc;

	if (cn->host[0] == '\0') {
		if (cn->r.peer_is_server)
			set_check(cn, CM_TLS_CHECK_HOST, CM_TLS_FAILED, "host name: "
			    "none was given to check the server's certificate "
			    "against");
		return;                 /* a client peer: nothing to check */
	}
	if (cn->host_is_ip)
		rc = X509_check_ip_asc(leaf, cn->host, 0);
	else
		rc = X509_check_host(leaf, cn->host, 0,
		    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL);
	if (rc == 1) {
		set_check(cn, CM_TLS_CHECK_HOST, CM_TLS_PASSED, "%s matches the "
		    "certificate", cn->host);
		return;
	}
	names_of(leaf, names, sizeof(names));
	set_check(cn, CM_TLS_CHECK_HOST, CM_TLS_FAILED, "host name: %s does not "
	    "match the certificate (%s)", cn->host, names);
}

static void
check_eku(struct conn *cn, X509 *leaf, int cc)
{
	uint32_t flags = X509_get_extension_flags(leaf);
	uint32_t want = cn->r.peer_is_server ? XKU_SSL_SERVER : XKU_SSL_CLIENT;
	const char *name = cn->r.peer_is_server ? "serverAuth" : "clientAuth";
	const char *role = cn->r.peer_is_server ? "server" : "client";

	if (flags & EXFLAG_XKUSAGE) {
		if (!(X509_get_extended_key_usage(leaf) & want)) {
			set_check(cn, CM_TLS_CHECK_EKU, CM_TLS_FAILED, "EKU: the "
			    "certificate lacks the %s EKU that a TLS %s needs",
			    name, role);
			return;
		}
	} else if (cc) {
		set_check(cn, CM_TLS_CHECK_EKU, CM_TLS_FAILED, "EKU: the certificate "
		    "has no EKU extension; Common Criteria mode requires %s for "
		    "a TLS %s", name, role);
		return;
	}
	if (cn->purpose_err != 0) {
		set_check(cn, CM_TLS_CHECK_EKU, CM_TLS_FAILED, "EKU: %s (the key "
		    "usage or EKU does not allow a TLS %s)",
		    X509_verify_cert_error_string(cn->purpose_err), role);
		return;
	}
	set_check(cn, CM_TLS_CHECK_EKU, CM_TLS_PASSED, "%s", flags &
	    EXFLAG_XKUSAGE ? name : "no EKU extension (any use)");
}

static void
check_expiry(struct conn *cn, cm_time now)
{
	char t[CM_TIME_TEXT_LEN];

	if (cn->expiry_err == X509_V_ERR_CERT_NOT_YET_VALID ||
	    (cn->r.not_before != 0 && now < cn->r.not_before))
		set_check(cn, CM_TLS_CHECK_EXPIRY, CM_TLS_FAILED, "certificate not "
		    "valid yet (notBefore %s)", cm_time_format(cn->r.not_before,
		    t));
	else if (cn->expiry_err == X509_V_ERR_CERT_HAS_EXPIRED ||
	    (cn->r.not_after != 0 && now > cn->r.not_after))
		set_check(cn, CM_TLS_CHECK_EXPIRY, CM_TLS_FAILED, "certificate "
		    "expired (notAfter %s)", cm_time_format(cn->r.not_after, t));
	else if (cn->expiry_err != 0 || cn->r.not_after == 0)
		set_check(cn, CM_TLS_CHECK_EXPIRY, CM_TLS_FAILED, "certificate "
		    "validity: %s", cn->expiry_err != 0 ?
		    X509_verify_cert_error_string(cn->expiry_err) :
		    "malformed validity period");
	else
		set_check(cn, CM_TLS_CHECK_EXPIRY, CM_TLS_PASSED, "valid until %s",
		    cm_time_format(cn->r.not_after, t));
}

static const char *
proto_name(int v)
{
	switch (v) {
	case TLS1_3_VERSION: return "TLSv1.3";
	case TLS1_2_VERSION: return "TLSv1.2";
	case TLS1_1_VERSION: return "TLSv1.1";
	case TLS1_VERSION:   return "TLSv1";
	}
	return "an old protocol";
}

static void
check_cc(struct conn *cn, SSL *ssl, STACK_OF(X509) *chain)
{
	char who[CM_OCSP_TEXT_MAX];
	int v = SSL_version(ssl), i;

	if (!SSL_is_dtls(ssl) && v < TLS1_2_VERSION) {
		set_check(cn, CM_TLS_CHECK_CC, CM_TLS_FAILED, "Common Criteria: %s "
		    "was negotiated; at least TLS 1.2 is required", proto_name(v));
		return;
	}
	for (i = 0; chain != NULL && i < sk_X509_num(chain); i++) {
		X509 *x = sk_X509_value(chain, i);

		if (X509_get_version(x) != X509_VERSION_3) {
			name_text(X509_get_subject_name(x), who, sizeof(who));
			set_check(cn, CM_TLS_CHECK_CC, CM_TLS_FAILED, "Common "
			    "Criteria: %s is an X.509 v%ld certificate; only v3 is "
			    "accepted", who, X509_get_version(x) + 1);
			return;
		}
	}
	set_check(cn, CM_TLS_CHECK_CC, CM_TLS_PASSED, "X.509 v3 chain, %s",
	    SSL_get_version(ssl));
}

/* Reads the leaf's validity period into the result (the expiry check
 * needs it at once). */
static void
leaf_times(struct conn *cn, X509 *leaf)
{
	if (cm_asn1_time_epoch(X509_get0_notBefore(leaf), &cn->r.not_before) != 0)
		cn->r.not_before = 0;
	if (cm_asn1_time_epoch(X509_get0_notAfter(leaf), &cn->r.not_after) != 0)
		cn->r.not_after = 0;
}

/* Fills in the texts of the result that only a reader needs (names, the
 * serial, the fingerprint, the chain's anchor): formatting them costs
 * more than the rest of the hook, so it waits until the result is read,
 * logged or reported. */
static void
describe(struct conn *cn)
{
	static const char hex[] = "0123456789abcdef";
	struct cm_tls_check_result *chain = &cn->r.check[CM_TLS_CHECK_CHAIN];
	BIGNUM *bn = NULL;
	char *h = NULL, who[CM_OCSP_TEXT_MAX];

	if (cn->described || cn->leaf == NULL)
		return;
	cn->described = 1;
	name_text(X509_get_subject_name(cn->leaf), cn->r.subject,
	    sizeof(cn->r.subject));
	name_text(X509_get_issuer_name(cn->leaf), cn->r.issuer,
	    sizeof(cn->r.issuer));
	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cn->leaf), NULL);
	h = bn != NULL ? BN_bn2hex(bn) : NULL;
	textf(cn->r.serial_hex, sizeof(cn->r.serial_hex), "%s", h != NULL ? h :
	    "");
	for (size_t i = 0; i < CM_FP_LEN; i++) {
		cn->r.fingerprint[2 * i] = hex[cn->lfp[i] >> 4];
		cn->r.fingerprint[2 * i + 1] = hex[cn->lfp[i] & 15];
	}
	cn->r.fingerprint[2 * CM_FP_LEN] = '\0';
	if (chain->outcome == CM_TLS_PASSED && chain->text[0] == '\0' &&
	    cn->anchor != NULL) {
		name_text(X509_get_subject_name(cn->anchor), who, sizeof(who));
		textf(chain->text, sizeof(chain->text), "verified to %s", who);
	}
	OPENSSL_free(h);
	BN_free(bn);
}

/* The SHA-256 fingerprint of x (X509_digest is several times slower: it
 * looks the digest up by name and allocates). */
static int
fingerprint(const struct cm_tls *t, X509 *x, unsigned char fp[CM_FP_LEN])
{
	unsigned char buf[4096], *p = buf, *heap = NULL, *q;
	int len = i2d_X509(x, NULL), ok = -1;

	if (len <= 0)
		goto out;
	if ((size_t)len > sizeof(buf) && (p = heap = malloc((size_t)len)) == NULL)
		goto out;
	q = p;
	if (i2d_X509(x, &q) != len)
		goto out;
	ok = EVP_Digest(p, (size_t)len, fp, NULL, t->sha256, NULL) == 1 ? 0 : -1;
out:
	free(heap);
	return ok;
}

/* ---- revocation --------------------------------------------------------- */

static enum cm_status
cert_of(X509 *x, struct cm_cert **out)
{
	unsigned char *der = NULL;
	enum cm_status st = CM_ERR_INVALID;
	int len;

	*out = NULL;
	if ((len = i2d_X509(x, &der)) > 0)
		st = cm_cert_from_der(der, (size_t)len, out, NULL);
	OPENSSL_free(der);
	return st;
}

static int
is_http_url(const char *u)
{
	return strncasecmp(u, "http://", 7) == 0 ||
	    strncasecmp(u, "https://", 8) == 0;
}

/* Asks the responder about the leaf; fills *res (status CM_REV_ERROR with
 * a reason on any failure). */
static void
ask_responder(struct conn *cn, cm_time now, struct cm_ocsp_result *res)
{
	struct cm_tls *t = cn->t;
	struct cm_cert *lc = NULL, *ic = NULL;
	const char *url = t->o.ocsp_url;

	if (cert_of(cn->leaf, &lc) != CM_OK || cert_of(cn->issuer, &ic) != CM_OK) {
		cm_ocsp_result_error(res, "the peer's certificates cannot be read "
		    "for an OCSP request");
		goto out;
	}
	for (size_t i = 0; url == NULL && i < lc->ocsp_urls.n; i++)
		if (is_http_url(lc->ocsp_urls.v[i]))
			url = lc->ocsp_urls.v[i];
	if (url == NULL) {
		cm_ocsp_result_error(res, "no OCSP URL: the certificate has no "
		    "http(s) AIA OCSP URL and none is configured");
		goto out;
	}
	textf(cn->r.url, sizeof(cn->r.url), "%s", url);
	cm_revocation_check_ocsp(t->octx, lc, ic, url, &t->o.ocsp, &t->o.fetch,
	    now, res);
out:
	cm_cert_free(lc);
	cm_cert_free(ic);
}

/* Step 4 of the validation (freshness) again, for a staple validated
 * before: 1 when the answer is still fresh at now. */
static int
fresh_at(const struct cm_tls *t, const struct cm_ocsp_result *r, cm_time now)
{
	int64_t skew = t->o.ocsp.skew, max_age = t->o.ocsp.max_age;

	if (skew == 0)
		skew = CM_OCSP_DEFAULT_SKEW;
	else if (skew < 0)
		skew = 0;
	if (max_age <= 0)
		max_age = CM_OCSP_DEFAULT_MAX_AGE;
	if (r->produced_at > now + skew || r->this_update > now + skew)
		return 0;
	if (r->next_update != 0 && r->next_update < now - skew)
		return 0;
	return r->next_update != 0 || r->this_update >= now - max_age;
}

/* Whether a validated staple may be reused by its bytes, and when: only
 * when the validation depends on the time through freshness and the
 * validity of the certificates it carries - the delegated model, and in
 * Common Criteria mode only when it carries no certificate (signed by the
 * CA itself: no CRL check of a responder). Fills w with the period in
 * which every certificate it carries is valid; 0, or -1: no reuse. */
static int
staple_window(const struct cm_tls *t, const unsigned char *der, size_t len,
    const struct cm_ocsp_result *r, struct cm_tlscache_staple *w)
{
	const unsigned char *p = der;
	OCSP_RESPONSE *rsp = NULL;
	OCSP_BASICRESP *bs = NULL;
	const STACK_OF(X509) *certs;
	cm_time nb, na;
	int ok = -1, n;

	if (r->trust_model != CM_OCSP_TRUST_DELEGATED || len > LONG_MAX ||
	    (rsp = d2i_OCSP_RESPONSE(NULL, &p, (long)len)) == NULL ||
	    (bs = OCSP_response_get1_basic(rsp)) == NULL)
		goto out;
	certs = OCSP_resp_get0_certs(bs);
	n = certs != NULL ? sk_X509_num(certs) : 0;
	if (n > 0 && t->o.common_criteria)
		goto out;
	w->not_before = INT64_MIN;
	w->not_after = INT64_MAX;
	for (int i = 0; i < n; i++) {
		X509 *x = sk_X509_value(certs, i);

		if (cm_asn1_time_epoch(X509_get0_notBefore(x), &nb) != 0 ||
		    cm_asn1_time_epoch(X509_get0_notAfter(x), &na) != 0)
			goto out;
		if (nb > w->not_before)
			w->not_before = nb;
		if (na < w->not_after)
			w->not_after = na;
	}
	ok = 0;
out:
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(rsp);
	ERR_clear_error();
	return ok;
}

/* The revocation check of the leaf: the staple (when staple != NULL), the
 * cache (answers younger than max_answer_age, < 0: any fresh one), the
 * responder, then the CRL hook; then the verdict table. */
static void
check_revocation(struct conn *cn, const unsigned char *staple,
    size_t staple_len, cm_time now, int64_t max_answer_age)
{
	struct cm_tls *t = cn->t;
	struct cm_ocsp_result res;
	struct cm_rev_verdict v;
	enum cm_tls_source src = CM_TLS_SOURCE_NONE;
	enum cm_rev_status st = CM_REV_ERROR;
	char why[CM_ERR_MSG_MAX], crl_why[CM_ERR_MSG_MAX] = "";
	char prefix[300] = "";

	cm_ocsp_result_error(&res, "OCSP is off");
	cn->r.status = CM_REV_ERROR;
	cn->r.source = CM_TLS_SOURCE_NONE;
	if (cn->leaf == NULL) {
		set_check(cn, CM_TLS_CHECK_REVOCATION, CM_TLS_NOT_RUN,
		    "not checked: no peer certificate");
		goto out;
	}
	if (cn->issuer == NULL && cn->self_anchor) {
		set_check(cn, CM_TLS_CHECK_REVOCATION, CM_TLS_NOT_RUN,
		    "not checked: the peer's certificate is itself a trust "
		    "anchor");
		goto out;
	}
	if (cn->issuer == NULL) {
		cm_ocsp_result_error(&res, "no issuer: the peer's chain gives no "
		    "issuer certificate for its leaf");
		goto verdict;
	}
	if (t->o.ocsp_off)
		goto crl;
	if (staple != NULL && staple_len > 0) {
		unsigned char h[CM_FP_LEN];
		struct cm_tlscache_staple memo;
		struct cm_ocsp_result newer;
		int hashed = EVP_Digest(staple, staple_len, h, NULL, t->sha256,
		    NULL) == 1;

		cn->r.staple_seen = 1;
		/* the very bytes validated before: only the rules that depend
		 * on the time are applied again */
		if (hashed && cm_tlscache_get_staple(t->cache, cn->lfp, cn->ifp, h,
		    now, &res) && fresh_at(t, &res, now)) {
			cn->r.staple_reused = 1;
			src = CM_TLS_SOURCE_STAPLE;
			goto verdict;
		}
		cm_ocsp_validate_x509(t->octx, NULL, staple, staple_len, cn->leaf,
		    cn->lfp, cn->issuer, cn->ifp, &t->o.ocsp, now, &res);
		if (res.status != CM_REV_ERROR) {
			if (cm_tlscache_preferred(t->cache, cn->lfp, cn->ifp, now,
			    &res, &newer)) {
				res = newer;
				src = CM_TLS_SOURCE_CACHE;
				textf(prefix, sizeof(prefix), "a newer cached answer "
				    "supersedes the stapled response; ");
				goto verdict;
			}
			src = CM_TLS_SOURCE_STAPLE;
			memcpy(memo.hash, h, sizeof(h));
			if (t->cache != NULL && res.next_update != 0)
				cm_tlscache_put(t->cache, cn->lfp, cn->ifp, &res,
				    now, t->o.cache_max_age, hashed &&
				    staple_window(t, staple, staple_len, &res,
				    &memo) == 0 ? &memo : NULL);
			goto verdict;
		}
		cn->r.staple_ignored = 1;
		textf(cn->r.staple_reason, sizeof(cn->r.staple_reason), "%s",
		    res.reason);
		describe(cn);
		cm_log(CM_LOG_WARNING, "TLS peer %s (%s): invalid stapled OCSP "
		    "response ignored: %s", cn->host[0] ? cn->host : "(no name)",
		    cn->r.subject, res.reason);
		textf(prefix, sizeof(prefix), "stapled response ignored; ");
	}
	if (cm_tlscache_get(t->cache, cn->lfp, cn->ifp, now, max_answer_age,
	    &res)) {
		src = CM_TLS_SOURCE_CACHE;
		goto verdict;
	}
	if (t->o.no_fetch) {
		cm_ocsp_result_error(&res, "no valid answer: no staple or cached "
		    "answer, and the responder is not asked (no_fetch)");
		goto crl;
	}
	ask_responder(cn, now, &res);
	if (res.status != CM_REV_ERROR) {
		src = CM_TLS_SOURCE_RESPONDER;
		cm_tlscache_put(t->cache, cn->lfp, cn->ifp, &res, now,
		    t->o.cache_max_age, NULL);
		goto verdict;
	}
crl:
	if (t->o.crl_check == NULL) {
		if (t->o.ocsp_off) {
			set_check(cn, CM_TLS_CHECK_REVOCATION, CM_TLS_NOT_RUN,
			    "not checked: OCSP is off and there is no CRL check");
			goto out;
		}
		goto verdict;
	}
	st = t->o.crl_check(cn->leaf, cn->issuer, now, t->o.crl_arg, crl_why,
	    sizeof(crl_why));
	if (st != CM_REV_ERROR) {
		src = CM_TLS_SOURCE_CRL;
		textf(why, sizeof(why), "CRL: %s", crl_why);
		goto decide;
	}
	textf(res.reason + strlen(res.reason), sizeof(res.reason) -
	    strlen(res.reason), "; CRL: %s", crl_why[0] ? crl_why :
	    "no answer");
verdict:
	st = res.status;
	switch (src) {
	case CM_TLS_SOURCE_STAPLE:
		textf(why, sizeof(why), "stapled response: %s", res.reason);
		break;
	case CM_TLS_SOURCE_CACHE:
		textf(why, sizeof(why), "%scached response: %s", prefix,
		    res.reason);
		break;
	case CM_TLS_SOURCE_RESPONDER:
		textf(why, sizeof(why), "%sresponder %s: %s", prefix, cn->r.url,
		    res.reason);
		break;
	default:
		textf(why, sizeof(why), "%sno valid OCSP answer%s%s: %s", prefix,
		    cn->r.url[0] ? " from " : "", cn->r.url, res.reason);
		break;
	}
decide:
	cn->r.ocsp = res;
	cn->r.status = st;
	cn->r.source = src;
	cm_revocation_verdict(st, why, t->o.common_criteria, 0, now, &v);
	set_check(cn, CM_TLS_CHECK_REVOCATION, v.verdict == CM_VERDICT_FAIL ?
	    CM_TLS_FAILED : v.verdict == CM_VERDICT_WARN ? CM_TLS_WARNED :
	    CM_TLS_PASSED, "%s", v.reason);
	cn->r.alarm = v.alarm;
out:
	return;
}

/* ---- the verdict --------------------------------------------------------------- */

/* The X509_V_ERR_* that reports the first failed check. */
static int
fail_code(const struct conn *cn)
{
	if (cn->r.check[CM_TLS_CHECK_CHAIN].outcome == CM_TLS_FAILED)
		return cn->chain_err != 0 ? cn->chain_err :
		    X509_V_ERR_APPLICATION_VERIFICATION;
	if (cn->r.check[CM_TLS_CHECK_HOST].outcome == CM_TLS_FAILED)
		return cn->host_is_ip ? X509_V_ERR_IP_ADDRESS_MISMATCH :
		    X509_V_ERR_HOSTNAME_MISMATCH;
	if (cn->r.check[CM_TLS_CHECK_EXPIRY].outcome == CM_TLS_FAILED)
		return cn->expiry_err != 0 ? cn->expiry_err :
		    X509_V_ERR_CERT_HAS_EXPIRED;
	if (cn->r.check[CM_TLS_CHECK_EKU].outcome == CM_TLS_FAILED)
		return X509_V_ERR_INVALID_PURPOSE;
	if (cn->r.check[CM_TLS_CHECK_REVOCATION].outcome == CM_TLS_FAILED &&
	    cn->r.status == CM_REV_REVOKED)
		return X509_V_ERR_CERT_REVOKED;
	return X509_V_ERR_APPLICATION_VERIFICATION;
}

/* Combines the checks into the verdict, logs and reports it. */
static void
conclude(struct conn *cn, SSL *ssl)
{
	struct cm_tls_result *r = &cn->r;
	size_t o = 0;
	int failed = 0;

	r->reason[0] = '\0';
	for (int i = 0; i < CM_TLS_CHECK_COUNT; i++) {
		if (r->check[i].outcome != CM_TLS_FAILED)
			continue;
		failed = 1;
		if (o + 3 < sizeof(r->reason))
			o += (size_t)snprintf(r->reason + o, sizeof(r->reason) - o,
			    "%s%s", o ? "; " : "", r->check[i].text);
		if (o >= sizeof(r->reason))
			o = sizeof(r->reason) - 1;
	}
	if (failed) {
		r->verdict = CM_VERDICT_FAIL;
		r->alarm = 0;
	} else {
		r->verdict = r->check[CM_TLS_CHECK_REVOCATION].outcome ==
		    CM_TLS_WARNED ? CM_VERDICT_WARN : CM_VERDICT_PASS;
		textf(r->reason, sizeof(r->reason), "%s",
		    r->check[CM_TLS_CHECK_REVOCATION].text[0] != '\0' ?
		    r->check[CM_TLS_CHECK_REVOCATION].text : "every check passed");
	}
	r->done = 1;
	if (r->verdict == CM_VERDICT_FAIL || r->alarm ||
	    cn->t->o.on_verdict != NULL)
		describe(cn);
	if (r->verdict == CM_VERDICT_FAIL)
		cm_log(CM_LOG_WARNING, "TLS peer %s (%s): %s: %s", r->host[0] ?
		    r->host : "(no name)", r->subject, r->recheck ?
		    "re-check fails" : "refused", r->reason);
	else if (r->alarm)
		cm_log(CM_LOG_WARNING, "TLS peer %s (%s): soft-fail: %s",
		    r->host[0] ? r->host : "(no name)", r->subject, r->reason);
	if (cn->t->o.on_verdict != NULL)
		cn->t->o.on_verdict(ssl, r, cn->t->o.verdict_arg);
}

static int
any_failed(const struct conn *cn)
{
	for (int i = 0; i < CM_TLS_CHECK_COUNT; i++)
		if (cn->r.check[i].outcome == CM_TLS_FAILED)
			return 1;
	return 0;
}

static int status_cb(SSL *ssl, void *arg);

/* Whether the revocation check waits for the status callback: a client
 * that asked for a stapled response, with our callback in place. */
static int
defer_to_status(SSL *ssl)
{
	status_fn cb = NULL;

	if (SSL_is_server(ssl) ||
	    SSL_get_tlsext_status_type(ssl) != TLSEXT_STATUSTYPE_ocsp)
		return 0;
	SSL_CTX_get_tlsext_status_cb(SSL_get_SSL_CTX(ssl), &cb);
	return cb == status_cb;
}

/* The certificate-verify callback (in place of X509_verify_cert). */
static int
verify_cb(X509_STORE_CTX *xs, void *arg)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(xs,
	    SSL_get_ex_data_X509_STORE_CTX_idx());
	struct conn *cn = conn_get(ssl, 1);
	STACK_OF(X509) *chain;
	X509 *leaf;
	uint64_t t0, c0;
	cm_time now;
	int rc, ok = 0, n;

	(void)arg;
	if (cn == NULL)
		return X509_verify_cert(xs);
	t0 = mono_ns();
	now = tls_now(cn->t);
	conn_begin(cn, ssl, now);
	X509_STORE_CTX_set_time(xs, 0, (time_t)now);
	X509_STORE_CTX_set_verify_cb(xs, record_cb);
	c0 = mono_ns();
	rc = X509_verify_cert(xs);
	cn->r.chain_ns = mono_ns() - c0;
	leaf = X509_STORE_CTX_get0_cert(xs);
	chain = X509_STORE_CTX_get0_chain(xs);
	if (leaf == NULL) {
		set_check(cn, CM_TLS_CHECK_CHAIN, CM_TLS_FAILED, "chain: the peer "
		    "sent no certificate");
		goto decide;
	}
	if (fingerprint(cn->t, leaf, cn->lfp) != 0) {
		set_check(cn, CM_TLS_CHECK_CHAIN, CM_TLS_FAILED, "chain: cannot "
		    "hash the peer's certificate");
		goto decide;
	}
	X509_up_ref(leaf);
	cn->leaf = leaf;
	leaf_times(cn, leaf);
	if (rc <= 0 && cn->chain_err == 0 && cn->expiry_err == 0 &&
	    cn->purpose_err == 0) {
		cn->chain_err = X509_STORE_CTX_get_error(xs);
		set_check(cn, CM_TLS_CHECK_CHAIN, CM_TLS_FAILED, "chain: %s",
		    X509_verify_cert_error_string(cn->chain_err));
	}
	n = chain != NULL ? sk_X509_num(chain) : 0;
	if (ck(cn, CM_TLS_CHECK_CHAIN)->outcome != CM_TLS_FAILED) {
		/* "verified to <anchor>", written when read (describe) */
		ck(cn, CM_TLS_CHECK_CHAIN)->outcome = CM_TLS_PASSED;
		ck(cn, CM_TLS_CHECK_CHAIN)->text[0] = '\0';
		if (n > 0 && X509_up_ref(sk_X509_value(chain, n - 1)))
			cn->anchor = sk_X509_value(chain, n - 1);
	}
	if (n >= 2 && fingerprint(cn->t, sk_X509_value(chain, 1), cn->ifp) == 0 &&
	    X509_up_ref(sk_X509_value(chain, 1)))
		cn->issuer = sk_X509_value(chain, 1);
	else if (n == 1 && ck(cn, CM_TLS_CHECK_CHAIN)->outcome == CM_TLS_PASSED)
		cn->self_anchor = 1;
	if (cn->host[0] == '\0')
		host_from_param(cn, ssl);
	check_host(cn, leaf);
	check_expiry(cn, now);
	check_eku(cn, leaf, cn->t->o.common_criteria);
	if (cn->t->o.common_criteria)
		check_cc(cn, ssl, chain);
	if (any_failed(cn) && !cn->t->o.observe)
		goto decide;            /* refused: no need to ask anyone */
	if (defer_to_status(ssl)) {
		cn->pending = 1;
		ok = 1;
		X509_STORE_CTX_set_error(xs, any_failed(cn) ? fail_code(cn) :
		    X509_V_OK);
		goto out;
	}
	check_revocation(cn, NULL, 0, now, -1);
decide:
	conclude(cn, ssl);
	ok = cn->r.verdict != CM_VERDICT_FAIL || cn->t->o.observe;
	X509_STORE_CTX_set_error(xs, cn->r.verdict == CM_VERDICT_FAIL ?
	    fail_code(cn) : X509_V_OK);
out:
	cn->r.hook_ns = mono_ns() - t0 - cn->r.chain_ns;
	return ok;
}

/* The status callback: a client's revocation check, with the staple (or
 * without one); for servers, whatever callback was there before. */
static int
status_cb(SSL *ssl, void *arg)
{
	struct conn *cn = conn_get(ssl, 0);
	struct ctx_link *l;
	const unsigned char *resp = NULL;
	uint64_t t0 = mono_ns();
	long len;
	int ok;

	(void)arg;
	if (SSL_is_server(ssl)) {
		l = idx_ready() ? SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl),
		    ctx_idx) : NULL;
		if (l != NULL && l->prev_cb != NULL)
			return l->prev_cb(ssl, l->prev_arg);
		return SSL_TLSEXT_ERR_NOACK;
	}
	if (cn == NULL || !cn->pending)
		return 1;
	cn->pending = 0;
	len = SSL_get_tlsext_status_ocsp_resp(ssl, &resp);
	check_revocation(cn, resp, resp != NULL && len > 0 ? (size_t)len : 0,
	    cn->r.checked_at, -1);
	conclude(cn, ssl);
	ok = cn->r.verdict != CM_VERDICT_FAIL || cn->t->o.observe;
	if (cn->r.verdict == CM_VERDICT_FAIL)
		SSL_set_verify_result(ssl, fail_code(cn));
	cn->r.hook_ns += mono_ns() - t0;
	return ok;
}

/* ---- attaching ------------------------------------------------------------- */

/* Puts certmon's callbacks on ctx and makes t (may be NULL: callbacks
 * only) its context, unless it has one already and t is NULL. */
static enum cm_status
link_ctx(struct cm_tls *t, SSL_CTX *ctx, struct cm_err *err)
{
	struct ctx_link *l;
	status_fn cb = NULL;

	if (!idx_ready())
		return cm_err_set(err, CM_ERR_INTERNAL, "tls: OpenSSL has no "
		    "ex_data index for certmon");
	if ((l = SSL_CTX_get_ex_data(ctx, ctx_idx)) == NULL) {
		if ((l = calloc(1, sizeof(*l))) == NULL)
			return cm_err_set(err, CM_ERR_NOMEM, "tls: out of memory");
		if (!SSL_CTX_set_ex_data(ctx, ctx_idx, l)) {
			free(l);
			return cm_err_set(err, CM_ERR_INTERNAL, "tls: cannot "
			    "attach to the SSL_CTX");
		}
	}
	if (t != NULL && l->t != t) {
		tls_ref(t);
		tls_unref(l->t);
		l->t = t;
	}
	SSL_CTX_get_tlsext_status_cb(ctx, &cb);
	if (cb != status_cb) {
		l->prev_cb = cb;
		l->prev_arg = NULL;
		SSL_CTX_get_tlsext_status_arg(ctx, &l->prev_arg);
		SSL_CTX_set_tlsext_status_cb(ctx, status_cb);
		SSL_CTX_set_tlsext_status_arg(ctx, NULL);
	}
	SSL_CTX_set_cert_verify_callback(ctx, verify_cb, NULL);
	return CM_OK;
}

enum cm_status
cm_tls_attach_ctx(struct cm_tls *t, SSL_CTX *ctx, struct cm_err *err)
{
	enum cm_status st;
	int minv;

	if (t == NULL || ctx == NULL)
		return cm_err_set(err, CM_ERR_INVALID, "tls: no context or no "
		    "SSL_CTX to attach");
	if ((st = link_ctx(t, ctx, err)) != CM_OK)
		return st;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	if (!t->o.ocsp_off && !t->o.no_staple &&
	    !SSL_CTX_set_tlsext_status_type(ctx, TLSEXT_STATUSTYPE_ocsp))
		return cm_err_set(err, CM_ERR_INTERNAL, "tls: cannot ask for "
		    "stapled OCSP responses");
	minv = (int)SSL_CTX_get_min_proto_version(ctx);
	if (t->o.common_criteria && (minv == 0 || minv < TLS1_2_VERSION) &&
	    !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION))
		return cm_err_set(err, CM_ERR_INTERNAL, "tls: cannot require TLS "
		    "1.2");
	return CM_OK;
}

enum cm_status
cm_tls_attach_ssl(struct cm_tls *t, SSL *ssl, const char *host,
    struct cm_err *err)
{
	struct conn *cn;
	enum cm_status st;
	size_t hl = host != NULL ? strlen(host) : 0;
	int minv;

	if (t == NULL || ssl == NULL)
		return cm_err_set(err, CM_ERR_INVALID, "tls: no context or no SSL "
		    "to attach");
	if (host != NULL && (hl == 0 || hl > CM_TLS_HOST_MAX))
		return cm_err_set(err, CM_ERR_INVALID, "tls: host name of %zu "
		    "bytes (1 to %d)", hl, CM_TLS_HOST_MAX);
	if ((st = link_ctx(NULL, SSL_get_SSL_CTX(ssl), err)) != CM_OK)
		return st;
	if ((cn = SSL_get_ex_data(ssl, ssl_idx)) == NULL) {
		if ((cn = conn_new(t)) == NULL)
			return cm_err_set(err, CM_ERR_NOMEM, "tls: out of memory");
		if (!SSL_set_ex_data(ssl, ssl_idx, cn)) {
			conn_free(cn);
			return cm_err_set(err, CM_ERR_INTERNAL, "tls: cannot attach "
			    "to the SSL");
		}
	} else if (cn->t != t) {
		tls_ref(t);
		tls_unref(cn->t);
		cn->t = t;
	}
	cn->host[0] = '\0';
	cn->host_is_ip = 0;
	if (host != NULL) {
		memcpy(cn->host, host, hl + 1);
		cn->host_is_ip = is_ip_literal(host);
		if (!SSL_is_server(ssl) && !cn->host_is_ip &&
		    !SSL_set_tlsext_host_name(ssl, host))
			return cm_err_set(err, CM_ERR_INVALID, "tls: OpenSSL refuses "
			    "the server name %s", host);
	}
	SSL_set_verify(ssl, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
	    NULL);
	if (!t->o.ocsp_off && !t->o.no_staple && !SSL_is_server(ssl) &&
	    !SSL_set_tlsext_status_type(ssl, TLSEXT_STATUSTYPE_ocsp))
		return cm_err_set(err, CM_ERR_INTERNAL, "tls: cannot ask for a "
		    "stapled OCSP response");
	minv = (int)SSL_get_min_proto_version(ssl);
	if (t->o.common_criteria && (minv == 0 || minv < TLS1_2_VERSION) &&
	    !SSL_set_min_proto_version(ssl, TLS1_2_VERSION))
		return cm_err_set(err, CM_ERR_INTERNAL, "tls: cannot require TLS "
		    "1.2");
	return CM_OK;
}

/* ---- results and re-checks ------------------------------------------------ */

enum cm_status
cm_tls_result_get(const SSL *ssl, struct cm_tls_result *out)
{
	struct conn *cn = NULL;

	if (ssl != NULL && idx_ready())
		cn = SSL_get_ex_data(ssl, ssl_idx);
	if (cn == NULL || !cn->r.done) {
		memset(out, 0, sizeof(*out));
		out->status = CM_REV_ERROR;
		return CM_ERR_NOTFOUND;
	}
	describe(cn);
	memcpy(out, &cn->r, sizeof(*out));
	return CM_OK;
}

int
cm_tls_recheck_due(const SSL *ssl, int64_t interval, cm_time now)
{
	const struct conn *cn = NULL;

	if (interval <= 0)
		return 0;
	if (ssl != NULL && idx_ready())
		cn = SSL_get_ex_data(ssl, ssl_idx);
	return cn == NULL || !cn->r.done || now - cn->r.checked_at >= interval;
}

/* For a connection whose handshake ran no verification (a resumed
 * session): the leaf from the session, its issuer from the peer's chain
 * (the first whose key verifies the leaf). */
static void
recover_peer(struct conn *cn, SSL *ssl)
{
	STACK_OF(X509) *sk = SSL_get0_verified_chain(ssl);
	X509 *leaf = SSL_get1_peer_certificate(ssl);

	if (leaf == NULL || fingerprint(cn->t, leaf, cn->lfp) != 0) {
		X509_free(leaf);
		return;
	}
	cn->leaf = leaf;
	leaf_times(cn, leaf);
	if (sk == NULL)
		sk = SSL_get_peer_cert_chain(ssl);
	for (int i = 0; sk != NULL && i < sk_X509_num(sk); i++) {
		X509 *x = sk_X509_value(sk, i);
		EVP_PKEY *k = X509_get0_pubkey(x);

		if (X509_cmp(x, leaf) == 0 || k == NULL ||
		    X509_verify(leaf, k) != 1 ||
		    fingerprint(cn->t, x, cn->ifp) != 0 || !X509_up_ref(x))
			continue;
		cn->issuer = x;
		break;
	}
	ERR_clear_error();
}

enum cm_verdict
cm_tls_recheck(SSL *ssl, int64_t max_answer_age, cm_time now,
    struct cm_tls_result *out)
{
	struct conn *cn = conn_get(ssl, 1);
	uint64_t t0 = mono_ns();
	char t[CM_TIME_TEXT_LEN], who[CM_OCSP_TEXT_MAX];
	cm_time nb, na;

	if (cn == NULL) {
		if (out != NULL) {
			memset(out, 0, sizeof(*out));
			out->done = out->recheck = 1;
			out->verdict = CM_VERDICT_FAIL;
			out->status = CM_REV_ERROR;
			textf(out->reason, sizeof(out->reason), "re-check: the "
			    "connection is not attached to a certmon context");
		}
		return CM_VERDICT_FAIL;
	}
	if (cn->leaf == NULL)
		recover_peer(cn, ssl);
	cn->r.recheck = 1;
	cn->r.checked_at = now;
	cn->r.chain_ns = 0;
	cn->r.staple_seen = cn->r.staple_ignored = cn->r.staple_reused = 0;
	cn->r.staple_reason[0] = '\0';
	cn->r.url[0] = '\0';
	cn->expiry_err = 0;
	if (cn->leaf == NULL) {
		set_check(cn, CM_TLS_CHECK_CHAIN, CM_TLS_FAILED, "re-check: the "
		    "connection has no peer certificate");
	} else {
		check_expiry(cn, now);
		if (cn->issuer != NULL &&
		    cm_asn1_time_epoch(X509_get0_notBefore(cn->issuer), &nb) == 0 &&
		    cm_asn1_time_epoch(X509_get0_notAfter(cn->issuer), &na) == 0 &&
		    (now < nb || now > na)) {
			name_text(X509_get_subject_name(cn->issuer), who,
			    sizeof(who));
			set_check(cn, CM_TLS_CHECK_CHAIN, CM_TLS_FAILED, "chain: the "
			    "issuer %s is %s (%s %s)", who, now < nb ? "not valid "
			    "yet" : "expired", now < nb ? "notBefore" : "notAfter",
			    cm_time_format(now < nb ? nb : na, t));
		}
	}
	check_revocation(cn, NULL, 0, now, max_answer_age > 0 ? max_answer_age :
	    0);
	conclude(cn, ssl);
	cn->r.hook_ns = mono_ns() - t0;
	if (out != NULL) {
		describe(cn);
		memcpy(out, &cn->r, sizeof(*out));
	}
	return cn->r.verdict;
}
