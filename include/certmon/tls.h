/*
 * tls.h - certmon's revocation policy for any OpenSSL TLS program: a
 * verify hook for an SSL_CTX or an SSL (the only public header of
 * libcertmon that mentions OpenSSL types).
 *
 * Attached to an SSL_CTX (cm_tls_attach_ctx) and, per connection, to an
 * SSL with the host name it must present (cm_tls_attach_ssl), the hook
 * checks the peer's certificates during the handshake:
 *
 *   chain       to a trust anchor of the SSL_CTX's X509_STORE, at `now`
 *   host        the host name (or IP address) given to cm_tls_attach_ssl;
 *               always checked for a server peer
 *   expiry      the leaf is within its validity period at `now`
 *   eku         the EKU that fits the role: serverAuth for a server peer,
 *               clientAuth for a client peer (outside Common Criteria
 *               mode a leaf without an EKU extension passes)
 *   cc          Common Criteria mode only: every certificate of the chain
 *               is X.509 v3, and TLS >= 1.2 was negotiated
 *   revocation  of the leaf by OCSP: a stapled response first (validated
 *               by every step of ocsp.h; an invalid staple is ignored with
 *               a warning, as if none came; a valid one older than an
 *               answer in the cache gives way to it), then the context's
 *               cache, then the responder (the leaf's AIA URL or a
 *               configured one); then, when OCSP gives no valid answer (or
 *               is off), the CRL hook of the options, if any
 *
 * and decides with the verdict table of revocation.h: any failed check
 * fails the handshake (a TLS alert, certificate_revoked for a revoked
 * peer); unknown passes with a warning and "no valid answer" passes with an
 * alarm (soft-fail) outside Common Criteria mode, and both fail in it.
 *
 * A context (struct cm_tls) holds the policy and a cache of validated OCSP
 * answers (by the leaf's SHA-256 fingerprint, until nextUpdate, bounded by
 * a maximum age and a number of entries, least recently used evicted;
 * answers without nextUpdate are never cached), shared by every SSL_CTX and
 * SSL attached to it. The cache also remembers which staple an answer came
 * from: a staple byte for byte identical to one validated before for the
 * same leaf and issuer is not verified again - only the rules that depend
 * on the time are (freshness, and the validity of the certificates it
 * carries); staples of designated responders, and in Common Criteria mode
 * staples that carry a responder certificate, are always validated in
 * full. Contexts are thread-safe: any number of threads may
 * run handshakes on SSL objects attached to one context. An SSL object is
 * used by one thread at a time, as OpenSSL requires.
 *
 * The hook runs inside SSL_connect/SSL_accept/SSL_do_handshake: asking a
 * responder blocks the handshake for at most the fetch deadline (default
 * 5 s). Warnings (an ignored staple, a soft-fail) go to cm_log (log.h) and
 * to the on_verdict callback; the library never prints.
 *
 * Link with `pkg-config --cflags --libs certmon`. See docs/TLS.md.
 */
#ifndef CERTMON_TLS_H
#define CERTMON_TLS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "certmon/clock.h"
#include "certmon/err.h"
#include "certmon/fetch.h"
#include "certmon/ocsp.h"
#include "certmon/revocation.h"

#define CM_TLS_CACHE_DEFAULT 1024                /* entries */
#define CM_TLS_CACHE_MAX_AGE_DEFAULT (7 * 86400) /* seconds */
#define CM_TLS_INTERVAL_DEFAULT 86400            /* seconds (24 h) */
#define CM_TLS_HOST_MAX 253

struct cm_tls;

/* The checks of one verdict, in the order they are reported. */
enum cm_tls_check {
	CM_TLS_CHECK_CHAIN = 0,
	CM_TLS_CHECK_HOST,
	CM_TLS_CHECK_EXPIRY,
	CM_TLS_CHECK_EKU,
	CM_TLS_CHECK_CC,
	CM_TLS_CHECK_REVOCATION,
	CM_TLS_CHECK_COUNT
};

enum cm_tls_outcome {
	CM_TLS_NOT_RUN = 0,     /* not applicable, or not reached */
	CM_TLS_PASSED,
	CM_TLS_WARNED,          /* passed with a warning (revocation only) */
	CM_TLS_FAILED
};

/* Where the revocation status came from. */
enum cm_tls_source {
	CM_TLS_SOURCE_NONE = 0,         /* no valid answer, or not checked */
	CM_TLS_SOURCE_STAPLE,           /* the peer's stapled OCSP response */
	CM_TLS_SOURCE_CACHE,            /* an answer cached in the context */
	CM_TLS_SOURCE_RESPONDER,        /* asked the OCSP responder now */
	CM_TLS_SOURCE_CRL               /* the CRL hook of the options */
};

struct cm_tls_check_result {
	enum cm_tls_outcome outcome;
	char text[CM_ERR_MSG_MAX];      /* one line, "" when not run */
};

/* The verdict on a peer, from a handshake or from cm_tls_recheck. Strings
 * are one line each and hold text from the peer's certificates: escape
 * them for where they go. */
struct cm_tls_result {
	int done;                       /* 0: no verdict (yet) */
	int recheck;                    /* 1: from cm_tls_recheck */
	enum cm_verdict verdict;        /* PASS, WARN (pass with a warning),
					 * FAIL */
	int alarm;                      /* soft-fail: raise an alarm */
	char reason[CM_ERR_MSG_MAX];    /* the failed checks ("; "-joined),
					 * else the revocation reason */
	struct cm_tls_check_result check[CM_TLS_CHECK_COUNT];
	int peer_is_server;             /* 1: we are the client */
	char host[CM_TLS_HOST_MAX + 1]; /* the name checked, "" = none */
	/* the peer's leaf */
	char subject[CM_OCSP_TEXT_MAX];
	char issuer[CM_OCSP_TEXT_MAX];
	char serial_hex[80];
	char fingerprint[CM_FP_HEX_LEN];
	cm_time not_before, not_after;
	/* revocation */
	enum cm_rev_status status;      /* CM_REV_ERROR when not known */
	enum cm_tls_source source;
	struct cm_ocsp_result ocsp;     /* the OCSP answer used or the last
					 * failure (status CM_REV_ERROR) */
	char url[256];                  /* the responder asked, "" = none */
	int staple_seen;                /* the peer stapled a response */
	int staple_ignored;             /* ... and it was invalid */
	int staple_reused;              /* ... byte for byte one validated
					 * before: only the rules that depend
					 * on the time (freshness, the
					 * validity of the responder's
					 * certificate) were applied again */
	char staple_reason[CM_ERR_MSG_MAX];     /* why it was ignored */
	/* when, and the cost */
	cm_time checked_at;             /* `now` of the verdict */
	uint64_t hook_ns;               /* time in certmon's callbacks, not
					 * counting OpenSSL's chain
					 * verification (X509_verify_cert) */
	uint64_t chain_ns;              /* time in X509_verify_cert */
};

/* Returns the current time for the hook (default cm_clock_now). */
typedef cm_time (*cm_tls_clock_fn)(void *arg);

/* Checks the leaf by CRL when OCSP gives no valid answer (or is off).
 * Returns the status (CM_REV_ERROR: no answer either) with a one-line
 * explanation in why. */
typedef enum cm_rev_status (*cm_tls_crl_fn)(X509 *leaf, X509 *issuer,
    cm_time now, void *arg, char *why, size_t why_len);

/* A cm_tls_crl_fn over lib/crl.c (arg: a struct cm_crl_ctx *): checks the
 * leaf by the CRLs of its http(s) distribution points (or the context's
 * configured URLs); CM_REV_ERROR with why when it has none or no CRL
 * answers. Implemented in lib/conn.c. */
enum cm_rev_status cm_tls_crl_fallback(X509 *leaf, X509 *issuer, cm_time now,
    void *arg, char *why, size_t why_len);

/* Called once per verdict (handshake or re-check), in the thread that runs
 * it. */
typedef void (*cm_tls_verdict_fn)(SSL *ssl, const struct cm_tls_result *r,
    void *arg);

/* Options of a context; all-zero means the defaults. They are copied by
 * cm_tls_new, except what the pointers inside ocsp and fetch point to
 * (designated responders, the allow-list, ca_file), which must outlive the
 * context. */
struct cm_tls_opts {
	int common_criteria;            /* Common Criteria mode */
	int ocsp_off;                   /* Enable OCSP off: no OCSP at all
					 * (the CRL hook is still asked) */
	int no_staple;                  /* do not ask for stapled responses */
	int no_fetch;                   /* never ask a responder (staples and
					 * the cache only) */
	int observe;                    /* never fail a handshake: only record
					 * the verdict (monitoring tools such
					 * as `certmon tls-check`; never for
					 * a client that then sends data) */
	const char *ocsp_url;           /* "Use configured OCSP URI"; NULL =
					 * the leaf's first http(s) AIA URL */
	struct cm_ocsp_opts ocsp;       /* validation options (its
					 * common_criteria is set from the
					 * field above) */
	struct cm_fetch_opts fetch;     /* deadline, allow-list, https trust */
	size_t cache_max;               /* entries; 0 = 1024 */
	int no_cache;                   /* no cache at all */
	int64_t cache_max_age;          /* seconds an answer may be kept even
					 * when its nextUpdate is later;
					 * 0 = 7 days */
	cm_tls_clock_fn clock;          /* NULL = cm_clock_now */
	void *clock_arg;
	cm_tls_crl_fn crl_check;        /* NULL = no CRL fallback */
	void *crl_arg;
	cm_tls_verdict_fn on_verdict;   /* NULL = none */
	void *verdict_arg;
};

/* Creates a context (opts NULL = defaults). On success *out holds one
 * reference, owned by the caller. */
enum cm_status cm_tls_new(const struct cm_tls_opts *opts, struct cm_tls **out,
    struct cm_err *err);

/* Drops the caller's reference; the context lives on while an SSL_CTX or
 * SSL is attached to it. NULL is fine. */
void cm_tls_free(struct cm_tls *t);

/* Attaches t to ctx: sets SSL_VERIFY_PEER (and, for servers,
 * SSL_VERIFY_FAIL_IF_NO_PEER_CERT), installs certmon's certificate-verify
 * callback (SSL_CTX_set_cert_verify_callback: it replaces any other) and
 * status callback (SSL_CTX_set_tlsext_status_cb), asks servers for a
 * stapled OCSP response (unless no_staple or ocsp_off), and in Common
 * Criteria mode raises the minimum protocol version to TLS 1.2. ctx holds a
 * reference to t until it is freed. Call it before ctx is shared between
 * threads. Returns CM_OK, or CM_ERR_INTERNAL when OpenSSL refuses. */
enum cm_status cm_tls_attach_ctx(struct cm_tls *t, SSL_CTX *ctx,
    struct cm_err *err);

/* Attaches t to one connection, before its handshake: host is the name (or
 * IP address literal) the peer must present; for a client it is also sent
 * as SNI when it is a name. host is required for a client (a server peer's
 * host name is always verified; without one its verdict fails) and
 * optional for a server (checked against the client's certificate when
 * given). A connection of an attached SSL_CTX that was not attached itself
 * is checked against the name given to OpenSSL (SSL_set1_host), if any.
 * When ssl's SSL_CTX is not attached to a context yet, certmon's
 * callbacks are installed on it (they do nothing for SSL objects that are
 * not attached) - prefer cm_tls_attach_ctx first. Returns CM_OK,
 * CM_ERR_INVALID (host too long or empty), CM_ERR_NOMEM or
 * CM_ERR_INTERNAL. */
enum cm_status cm_tls_attach_ssl(struct cm_tls *t, SSL *ssl, const char *host,
    struct cm_err *err);

/* Copies the latest verdict on ssl's peer (handshake or re-check) into
 * *out. Returns CM_OK, or CM_ERR_NOTFOUND when ssl is not attached or no
 * check ran (then out->done is 0). */
enum cm_status cm_tls_result_get(const SSL *ssl, struct cm_tls_result *out);

/* Re-checks the peer of an established connection at `now`: the leaf's
 * (and its issuer's) validity, and the leaf's revocation - from the cache
 * when the cached answer's thisUpdate is less than max_answer_age seconds
 * old (0: never from the cache), else from the responder, then the CRL
 * hook - under the verdict table. The host name, chain, EKU and Common
 * Criteria results of the handshake are kept. Fills *out (when not NULL),
 * records it as ssl's latest verdict, calls on_verdict, and returns the
 * verdict: on CM_VERDICT_FAIL the caller closes the connection. An SSL
 * that is not attached, or whose handshake gave no certificate, fails
 * (reason says why). Not for concurrent use with I/O on the same SSL from
 * other threads. */
enum cm_verdict cm_tls_recheck(SSL *ssl, int64_t max_answer_age, cm_time now,
    struct cm_tls_result *out);

/* The interval rule of DESIGN.md for long-lived connections (CTI, IPsec,
 * LDAP peers), from the settings' values: returns 0 when they are not
 * re-checked (validity_check, "Certificate Validity Check", off); else
 * check_every ("Check Every") when revocation_check ("Enable Revocation
 * Check") is on, else validity_frequency ("Validity Check Frequency"), in
 * seconds; a chosen value <= 0 means the default of 24 h. Pure. */
int64_t cm_tls_recheck_interval(int validity_check,
    int64_t validity_frequency, int revocation_check, int64_t check_every);

/* Returns 1 when ssl's peer is due for a re-check at `now` under interval
 * (from cm_tls_recheck_interval): interval > 0 and the latest verdict is
 * at least interval seconds old (or there is none); else 0. */
int cm_tls_recheck_due(const SSL *ssl, int64_t interval, cm_time now);

/* Reads the cache counters of t (any pointer may be NULL). */
void cm_tls_cache_stats(struct cm_tls *t, uint64_t *hits, uint64_t *misses,
    size_t *entries);

/* Empties the cache of t. */
void cm_tls_cache_clear(struct cm_tls *t);

/* Returns "chain", "host", "expiry", "eku", "common_criteria" or
 * "revocation" (static). */
const char *cm_tls_check_name(enum cm_tls_check check);

/* Returns "not run", "pass", "warn" or "fail" (static). */
const char *cm_tls_outcome_name(enum cm_tls_outcome outcome);

/* Returns "staple", "cache", "responder", "crl", or NULL for
 * CM_TLS_SOURCE_NONE (static). */
const char *cm_tls_source_name(enum cm_tls_source source);

#endif
