/*
 * endpoint.c - the long-lived connections (endpoint.h): one check of a
 * peer with the TLS hook (tls.h) in observe mode over conn.c's connection,
 * the verdict recorded in the store, alarms on transitions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "certmon/cert.h"
#include "certmon/conn.h"
#include "certmon/crl.h"
#include "certmon/endpoint.h"
#include "certmon/json.h"
#include "certmon/log.h"
#include "certmon/settings.h"
#include "certmon/tls.h"

enum cm_status
cm_endpoint_interval(struct cm_store *st, int64_t *interval,
    struct cm_err *err)
{
	struct cm_revocation_settings rs;
	struct cm_params_settings ps;
	enum cm_status rc;

	*interval = 0;
	if ((rc = cm_revocation_settings_load(st, &rs, err)) != CM_OK ||
	    (rc = cm_params_settings_load(st, &ps, err)) != CM_OK)
		return rc;
	*interval = cm_tls_recheck_interval(ps.cert_validity_check,
	    ps.validity_check_frequency, rs.check, rs.every);
	return CM_OK;
}

cm_time
cm_endpoint_next(const struct cm_endpoint *ep, int64_t interval)
{
	if (interval <= 0)
		return 0;
	if (ep->checked_at == 0)
		return ep->added_at;
	return ep->checked_at + interval;
}

char *
cm_endpoint_address(const struct cm_endpoint *ep, char *buf, size_t len)
{
	int v6 = strchr(ep->host, ':') != NULL;

	snprintf(buf, len, "%s%s%s:%d", v6 ? "[" : "", ep->host, v6 ? "]" : "",
	    ep->port);
	return buf;
}

json_t *
cm_endpoint_json(const struct cm_endpoint *ep, int64_t interval,
    const char *chain_pem)
{
	char addr[CM_ENDPOINT_HOST_MAX + 16];
	json_t *o = json_object();

	json_object_set_new(o, "name", cm_json_str(ep->name));
	json_object_set_new(o, "address", cm_json_str(cm_endpoint_address(ep,
	    addr, sizeof(addr))));
	json_object_set_new(o, "host", cm_json_str(ep->host));
	json_object_set_new(o, "port", json_integer(ep->port));
	json_object_set_new(o, "starttls", ep->starttls[0] ?
	    cm_json_str(ep->starttls) : json_null());
	json_object_set_new(o, "trust_unit", ep->trust_unit[0] ?
	    cm_json_str(ep->trust_unit) : json_null());
	json_object_set_new(o, "added_at", cm_json_time(ep->added_at));
	json_object_set_new(o, "verdict", cm_json_str(ep->verdict));
	json_object_set_new(o, "reason", ep->reason[0] ?
	    cm_json_str(ep->reason) : json_null());
	json_object_set_new(o, "status", ep->status[0] ?
	    cm_json_str(ep->status) : json_null());
	json_object_set_new(o, "leaf_subject", ep->leaf_subject[0] ?
	    cm_json_str(ep->leaf_subject) : json_null());
	json_object_set_new(o, "leaf_cn", ep->leaf_fingerprint[0] ?
	    cm_json_str(ep->leaf_cn) : json_null());
	json_object_set_new(o, "leaf_fingerprint", ep->leaf_fingerprint[0] ?
	    cm_json_str(ep->leaf_fingerprint) : json_null());
	json_object_set_new(o, "not_after", cm_json_time(ep->leaf_not_after));
	json_object_set_new(o, "last_check", cm_json_time(ep->checked_at));
	json_object_set_new(o, "next_check", cm_json_time(cm_endpoint_next(ep,
	    interval)));
	json_object_set_new(o, "changed_at", cm_json_time(ep->changed_at));
	if (chain_pem != NULL)
		json_object_set_new(o, "chain_pem", cm_json_str(chain_pem));
	return o;
}

/* ---- one check ------------------------------------------------------------ */

struct probe {
	struct cm_store *st;
	cm_time now;
	struct cm_endpoint ep;
	struct cm_revocation_settings rs;
	struct cm_params_settings ps;
	struct cm_strlist allow, crl_urls;
	struct cm_cert_list anchors, responders;
	X509_STORE *xs;
	struct cm_crl_ctx *crl;
	struct cm_tls *tls;
	SSL_CTX *ctx;
	SSL *ssl;
	int fd;
	struct cm_tls_result r;
	char fail[CM_ERR_MSG_MAX];      /* "" = the handshake gave a verdict */
	char *chain_pem;
};

struct rows {
	struct probe *p;
	int anchors;                    /* collect anchors (else responders) */
};

static int
on_row(const struct cm_cert_row *row, void *arg)
{
	struct rows *u = arg;
	struct cm_cert *c = NULL;
	struct cm_cert_list *l;

	if (row->der == NULL || row->not_before > u->p->now ||
	    row->not_after < u->p->now)
		return 0;
	if (!u->anchors && !row->ocsp_responder)
		return 0;
	l = row->ocsp_responder ? &u->p->responders : &u->p->anchors;
	if (cm_cert_from_der(row->der, row->der_len, &c, NULL) == CM_OK &&
	    cm_cert_list_push(l, c) != CM_OK)
		cm_cert_free(c);
	return 0;
}

/* Loads the trust anchors into p->xs; returns 0, or -1 with p->fail. */
static int
load_trust(struct probe *p, struct cm_err *err)
{
	struct cm_cert_filter f;
	struct rows u = {p, 0};

	if ((p->xs = X509_STORE_new()) == NULL) {
		cm_err_set(err, CM_ERR_NOMEM, "out of memory");
		return -2;
	}
	memset(&f, 0, sizeof(f));
	f.want_der = 1;
	/* the designated OCSP responders of the revocation settings */
	if (p->rs.trust_unit[0] != '\0') {
		f.unit = p->rs.trust_unit;
		if (cm_store_cert_list(p->st, &f, on_row, &u, err) != CM_OK)
			return -2;
	}
	if (p->ep.trust_unit[0] == '\0') {
		if (X509_STORE_set_default_paths(p->xs) != 1) {
			snprintf(p->fail, sizeof(p->fail), "the system's trust store "
			    "cannot be loaded");
			return -1;
		}
		return 0;
	}
	if (strcmp(p->ep.trust_unit, p->rs.trust_unit) == 0) {
		/* responders are in already: take the anchors only */
		cm_cert_list_clear(&p->responders);
	}
	f.unit = p->ep.trust_unit;
	u.anchors = 1;
	if (cm_store_cert_list(p->st, &f, on_row, &u, err) != CM_OK)
		return -2;
	if (p->anchors.n == 0) {
		snprintf(p->fail, sizeof(p->fail), "trust unit %s holds no "
		    "current, valid certificate to trust", p->ep.trust_unit);
		return -1;
	}
	for (size_t i = 0; i < p->anchors.n; i++) {
		const unsigned char *d = p->anchors.v[i]->der;
		X509 *x = d2i_X509(NULL, &d, (long)p->anchors.v[i]->der_len);
		int ok = x != NULL && X509_STORE_add_cert(p->xs, x) == 1;

		X509_free(x);
		if (!ok) {
			snprintf(p->fail, sizeof(p->fail), "a certificate of trust "
			    "unit %s cannot be added to the X509 store",
			    p->ep.trust_unit);
			return -1;
		}
	}
	/* every certificate of the unit is a trust anchor */
	X509_STORE_set_flags(p->xs, X509_V_FLAG_PARTIAL_CHAIN);
	return 0;
}

static cm_time
probe_clock(void *arg)
{
	return ((struct probe *)arg)->now;
}

/* The peer's chain as PEM (leaf first), or NULL. */
static char *
chain_pem(SSL *ssl)
{
	STACK_OF(X509) *sk = SSL_get_peer_cert_chain(ssl);
	BIO *b;
	char *mem = NULL, *out = NULL;
	long n;

	if (sk == NULL || (b = BIO_new(BIO_s_mem())) == NULL)
		return NULL;
	for (int i = 0; i < sk_X509_num(sk); i++)
		if (PEM_write_bio_X509(b, sk_X509_value(sk, i)) != 1)
			goto out;
	if ((n = BIO_get_mem_data(b, &mem)) > 0 &&
	    (out = malloc((size_t)n + 1)) != NULL) {
		memcpy(out, mem, (size_t)n);
		out[n] = '\0';
	}
out:
	BIO_free(b);
	return out;
}

/* The leaf's CN from the recorded chain ("" when none). */
static void
leaf_cn(const char *pem, char *cn, size_t len)
{
	struct cm_cert_list l = {0};

	cn[0] = '\0';
	if (pem == NULL || cm_cert_parse((const unsigned char *)pem,
	    strlen(pem), "chain", NULL, &l, NULL) != CM_OK)
		return;
	if (l.n > 0 && l.v[0]->subject_cn != NULL)
		snprintf(cn, len, "%s", l.v[0]->subject_cn);
	cm_cert_list_clear(&l);
}

/* Connects and runs the handshake; fills p->r or p->fail. Returns 0, or -2
 * on a local error (err). */
static int
probe_run(struct probe *p, struct cm_err *err)
{
	struct cm_tls_opts o;
	struct cm_crl_ctx_opts co;
	char why[CM_ERR_MSG_MAX], ossl[200];
	long timeout_ms = (long)p->rs.timeout * 1000;
	int unresolved = 0, rc;
	unsigned long e;

	if ((rc = load_trust(p, err)) != 0)
		return rc == -1 ? 0 : -2;
	if (cm_setting_lines(p->rs.allow_hosts, &p->allow, err) != CM_OK ||
	    cm_setting_lines(p->rs.crl_uris, &p->crl_urls, err) != CM_OK)
		return -2;
	memset(&co, 0, sizeof(co));
	co.store = p->st;
	co.urls = &p->crl_urls;
	co.fetch.timeout_ms = timeout_ms;
	co.fetch.allow_hosts = p->allow.n > 0 ? &p->allow : NULL;
	co.fetch.max_bytes = CM_FETCH_CRL_MAX_BYTES;
	co.crl.skew = p->rs.skew == 0 ? -1 : p->rs.skew;
	if (cm_crl_ctx_new(&co, &p->crl, err) != CM_OK)
		return -2;
	memset(&o, 0, sizeof(o));
	o.common_criteria = p->ps.common_criteria;
	o.observe = 1;
	o.ocsp_off = !p->rs.ocsp;
	o.ocsp_url = p->rs.uri_source == CM_URI_CONFIGURED && p->rs.uri[0] ?
	    p->rs.uri : NULL;
	o.ocsp.require_nonce = p->rs.require_nonce;
	o.ocsp.skew = p->rs.skew == 0 ? -1 : p->rs.skew;
	o.ocsp.trusted = &p->responders;
	o.ocsp.crl_check = cm_crl_ocsp_hook;
	o.ocsp.crl_arg = p->crl;
	o.fetch.timeout_ms = timeout_ms;
	o.fetch.allow_hosts = p->allow.n > 0 ? &p->allow : NULL;
	o.no_cache = 1;
	o.clock = probe_clock;
	o.clock_arg = p;
	if (p->rs.crl) {
		o.crl_check = cm_tls_crl_fallback;
		o.crl_arg = p->crl;
	}
	if (cm_tls_new(&o, &p->tls, err) != CM_OK)
		return -2;
	if ((p->ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		cm_err_set(err, CM_ERR_INTERNAL, "OpenSSL cannot create a TLS "
		    "context");
		return -2;
	}
	X509_STORE_up_ref(p->xs);
	SSL_CTX_set_cert_store(p->ctx, p->xs);
	if (cm_tls_attach_ctx(p->tls, p->ctx, err) != CM_OK)
		return -2;
	p->fd = cm_conn_tcp(p->ep.host, p->ep.port, timeout_ms, p->fail,
	    sizeof(p->fail), &unresolved);
	if (p->fd < 0)
		return 0;
	p->fail[0] = '\0';
	if (cm_conn_starttls(p->fd, p->ep.starttls, p->fail,
	    sizeof(p->fail)) != 0)
		return 0;
	p->fail[0] = '\0';
	if ((p->ssl = SSL_new(p->ctx)) == NULL || !SSL_set_fd(p->ssl, p->fd)) {
		cm_err_set(err, CM_ERR_NOMEM, "OpenSSL cannot create a connection");
		return -2;
	}
	SSL_set_connect_state(p->ssl);
	if (cm_tls_attach_ssl(p->tls, p->ssl, p->ep.host, err) != CM_OK)
		return -2;
	ERR_clear_error();
	if (SSL_connect(p->ssl) != 1) {
		e = ERR_peek_last_error();
		snprintf(ossl, sizeof(ossl), "%s", e != 0 &&
		    ERR_reason_error_string(e) != NULL ?
		    ERR_reason_error_string(e) : "the connection closed");
		ERR_clear_error();
		if (cm_tls_result_get(p->ssl, &p->r) == CM_OK) {
			snprintf(why, sizeof(why), "%s", p->r.reason);
			snprintf(p->fail, sizeof(p->fail), "%.380s; the TLS handshake "
			    "then failed: %.90s", why, ossl);
		} else {
			snprintf(p->fail, sizeof(p->fail), "TLS handshake with %s port "
			    "%d failed: %s", p->ep.host, p->ep.port, ossl);
		}
		return 0;
	}
	if (cm_tls_result_get(p->ssl, &p->r) != CM_OK) {
		snprintf(p->fail, sizeof(p->fail), "the handshake with %s port %d "
		    "ran no certificate check", p->ep.host, p->ep.port);
		return 0;
	}
	p->chain_pem = chain_pem(p->ssl);
	SSL_shutdown(p->ssl);
	return 0;
}

static void
probe_free(struct probe *p)
{
	SSL_free(p->ssl);
	SSL_CTX_free(p->ctx);
	X509_STORE_free(p->xs);
	cm_tls_free(p->tls);
	cm_crl_ctx_free(p->crl);
	if (p->fd >= 0)
		close(p->fd);
	cm_cert_list_clear(&p->anchors);
	cm_cert_list_clear(&p->responders);
	cm_setting_lines_free(&p->allow);
	cm_setting_lines_free(&p->crl_urls);
	free(p->chain_pem);
}

static const char *
verdict_word(enum cm_verdict v)
{
	return v == CM_VERDICT_FAIL ? "fail" : v == CM_VERDICT_WARN ? "warn" :
	    "pass";
}

/* Fills the check fields of *ep from the probe. Returns 1 when the
 * verdict is a soft-fail (an alarm outside Common Criteria mode). */
static int
fill_result(struct probe *p, struct cm_endpoint *ep, int64_t interval)
{
	int have = p->fail[0] == '\0' && p->r.done;

	ep->checked_at = p->now;
	ep->next_check = interval > 0 ? p->now + interval : 0;
	snprintf(ep->verdict, sizeof(ep->verdict), "%s", have ?
	    verdict_word(p->r.verdict) : "fail");
	snprintf(ep->reason, sizeof(ep->reason), "%s", have ? p->r.reason :
	    p->fail);
	ep->status[0] = '\0';
	ep->leaf_subject[0] = ep->leaf_cn[0] = ep->leaf_fingerprint[0] = '\0';
	ep->leaf_not_after = 0;
	if (p->r.done && p->r.check[CM_TLS_CHECK_REVOCATION].outcome !=
	    CM_TLS_NOT_RUN)
		snprintf(ep->status, sizeof(ep->status), "%s",
		    cm_revocation_status_name(p->r.status));
	if (p->r.done && p->r.subject[0] != '\0') {
		snprintf(ep->leaf_subject, sizeof(ep->leaf_subject), "%s",
		    p->r.subject);
		snprintf(ep->leaf_fingerprint, sizeof(ep->leaf_fingerprint), "%s",
		    p->r.fingerprint);
		ep->leaf_not_after = p->r.not_after;
		leaf_cn(p->chain_pem, ep->leaf_cn, sizeof(ep->leaf_cn));
	}
	return have && p->r.verdict == CM_VERDICT_WARN && p->r.alarm;
}

/* Records the check in one transaction with its alarm or event. */
static enum cm_status
record(struct probe *p, const char *actor, int soft_fail, int64_t interval,
    struct cm_endpoint_report *rep, struct cm_err *err)
{
	struct cm_endpoint old, *nw = &rep->ep;
	struct cm_event ev;
	char addr[CM_ENDPOINT_HOST_MAX + 16], msg[CM_ERR_MSG_MAX + 400];
	enum cm_status rc;

	if ((rc = cm_store_begin(p->st, err)) != CM_OK)
		return rc;
	if ((rc = cm_store_endpoint_get(p->st, p->ep.name, &old, NULL, err)) !=
	    CM_OK)
		goto out;
	*nw = old;
	fill_result(p, nw, interval);
	nw->changed_at = strcmp(old.verdict, nw->verdict) != 0 ? p->now :
	    old.changed_at;
	if ((rc = cm_store_endpoint_put_check(p->st, nw, p->chain_pem, err)) !=
	    CM_OK)
		goto out;
	cm_endpoint_address(nw, addr, sizeof(addr));
	if (strcmp(nw->verdict, "fail") == 0 && strcmp(old.verdict, "fail") !=
	    0) {
		snprintf(rep->alarm_name, sizeof(rep->alarm_name), "%s",
		    CM_ALARM_ENDPOINT_FAILED);
		snprintf(rep->alarm_message, sizeof(rep->alarm_message), "endpoint "
		    "%s (%s) fails: %s", nw->name, addr, nw->reason);
	} else if (soft_fail && strcmp(old.verdict, "warn") != 0) {
		snprintf(rep->alarm_name, sizeof(rep->alarm_name), "%s",
		    CM_ALARM_REVOCATION_FAILED);
		snprintf(rep->alarm_message, sizeof(rep->alarm_message), "endpoint "
		    "%s (%s) passes without a valid revocation answer "
		    "(soft-fail): %s", nw->name, addr, nw->reason);
	}
	if (rep->alarm_name[0] != '\0') {
		rep->alarm = 1;
		if ((rc = cm_alarm_record(p->st, p->now, rep->alarm_name, actor,
		    NULL, nw->leaf_fingerprint[0] ? nw->leaf_fingerprint : NULL,
		    rep->alarm_message, err)) != CM_OK)
			goto out;
	}
	if (strcmp(old.verdict, "fail") == 0 && strcmp(nw->verdict, "fail") !=
	    0) {
		rep->recovered = 1;
		snprintf(msg, sizeof(msg), "endpoint %s (%s) recovered: %s", nw->name,
		    addr, nw->verdict);
		memset(&ev, 0, sizeof(ev));
		ev.at = p->now;
		ev.kind = "audit";
		ev.name = "endpoint.recovered";
		ev.actor = actor;
		ev.fingerprint = nw->leaf_fingerprint[0] ? nw->leaf_fingerprint :
		    NULL;
		ev.message = msg;
		if ((rc = cm_store_event_add(p->st, &ev, err)) != CM_OK)
			goto out;
	}
out:
	if (rc != CM_OK) {
		cm_store_rollback(p->st);
		return rc;
	}
	return cm_store_commit(p->st, err);
}

enum cm_status
cm_endpoint_check(struct cm_store *st, const char *name, const char *actor,
    cm_time now, struct cm_endpoint_report *rep, struct cm_err *err)
{
	struct probe *p;
	int64_t interval = 0;
	enum cm_status rc;
	int soft;

	memset(rep, 0, sizeof(*rep));
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return cm_err_set(err, CM_ERR_NOMEM, "out of memory");
	p->st = st;
	p->now = now;
	p->fd = -1;
	if ((rc = cm_store_endpoint_get(st, name, &p->ep, NULL, err)) != CM_OK ||
	    (rc = cm_revocation_settings_load(st, &p->rs, err)) != CM_OK ||
	    (rc = cm_params_settings_load(st, &p->ps, err)) != CM_OK ||
	    (rc = cm_endpoint_interval(st, &interval, err)) != CM_OK)
		goto out;
	if (probe_run(p, err) != 0) {
		rc = err->code != CM_OK ? err->code : CM_ERR_INTERNAL;
		goto out;
	}
	if (p->ssl != NULL && p->r.done)
		snprintf(rep->tls_version, sizeof(rep->tls_version), "%s",
		    SSL_get_version(p->ssl));
	soft = p->fail[0] == '\0' && p->r.done && p->r.verdict ==
	    CM_VERDICT_WARN && p->r.alarm;
	if ((rc = record(p, actor, soft, interval, rep, err)) != CM_OK)
		goto out;
	if (rep->alarm)
		cm_alarm_log(rep->alarm_name, rep->alarm_message);
	else if (rep->recovered)
		cm_log(CM_LOG_NOTICE, "endpoint %s recovered: %s", rep->ep.name,
		    rep->ep.verdict);
out:
	probe_free(p);
	free(p);
	return rc;
}
