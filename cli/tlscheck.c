/*
 * tlscheck.c - `certmon tls-check HOST:PORT`: a one-shot check of a TLS
 * server, as a monitoring plugin. Connects (optionally after SMTP or LDAP
 * STARTTLS), runs the handshake with certmon's TLS hook (include/certmon/
 * tls.h) in observe mode, so that every check is reported: the chain
 * against a trust unit, a CA file or the system's trust store, the host
 * name (--servername, else HOST), expiry, the EKU, Common Criteria rules,
 * and revocation (the stapled response, then OCSP, then CRLs). Uses no
 * store unless --trust-unit, no cache, and checks OCSP whatever the
 * store's settings say. Exits 0 pass, 1 pass with a warning (unknown, or
 * no valid answer outside Common Criteria mode), 2 fail (also: the server
 * cannot be reached or the handshake fails), 3 usage or local error.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "certmon/cert.h"
#include "certmon/conn.h"
#include "certmon/crl.h"
#include "certmon/json.h"
#include "certmon/ocsp.h"
#include "certmon/revocation.h"
#include "certmon/tls.h"
#include "cli.h"

static const char usage_line[] = "tls-check HOST:PORT [--servername NAME] "
    "[--starttls smtp|ldap] [--trust-unit UNIT | --ca-file FILE] "
    "[--common-criteria] [--ocsp-url URL] [--timeout SECONDS] [--json]";

/* Everything one check needs. */
struct check {
	struct cli *c;
	char host[CM_TLS_HOST_MAX + 1];
	char port[8];
	const char *servername;         /* the name checked (and sent) */
	const char *starttls;           /* NULL, "smtp" or "ldap" */
	const char *trust_unit, *ca_file, *ocsp_url;
	int cc;
	long timeout_ms;
	char trust_desc[CM_UNIT_NAME_MAX + 300];
	struct cm_cert_list anchors, responders;
	X509_STORE *store;
	struct cm_crl_ctx *crl;
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	struct cm_tls *tls;
};

static int local_error(struct cli *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
local_error(struct cli *c, const char *fmt, ...)
{
	char msg[CM_ERR_MSG_MAX + 256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return cli_fail(c, CHECK_UNKNOWN, "%s", msg);
}

static void whyf(char *why, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
whyf(char *why, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, cap, fmt, ap);
	va_end(ap);
}

/* Splits "host:port" or "[v6]:port" (conn.h). */
static int
parse_target(const char *s, struct check *k)
{
	int port;

	if (cm_conn_parse_target(s, k->host, &port) != 0)
		return -1;
	snprintf(k->port, sizeof(k->port), "%d", port);
	return 0;
}

static int
parse_timeout(const char *s, long *ms)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v > 0) || v > 600)
		return -1;
	*ms = (long)(v * 1000.0 + 0.5);
	return *ms > 0 ? 0 : -1;
}

/* ---- the trust anchors -------------------------------------------------- */

static int
add_anchors(X509_STORE *st, const struct cm_cert_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		const unsigned char *p = l->v[i]->der;
		X509 *x = d2i_X509(NULL, &p, (long)l->v[i]->der_len);
		int ok = x != NULL && X509_STORE_add_cert(st, x) == 1;

		X509_free(x);
		if (!ok)
			return -1;
	}
	return 0;
}

struct unit_rows {
	struct check *k;
	cm_time now;
	enum cm_status st;
	struct cm_err err;
};

static int
on_unit_row(const struct cm_cert_row *row, void *arg)
{
	struct unit_rows *u = arg;
	struct cm_cert *cert = NULL;

	if (row->der == NULL || row->not_before > u->now ||
	    row->not_after < u->now)
		return 0;
	if ((u->st = cm_cert_from_der(row->der, row->der_len, &cert,
	    &u->err)) != CM_OK)
		return 1;
	/* designated OCSP responders are not trust anchors for TLS */
	u->st = cm_cert_list_push(row->ocsp_responder ? &u->k->responders :
	    &u->k->anchors, cert);
	if (u->st != CM_OK)
		cm_err_set(&u->err, u->st, "out of memory");
	return u->st != CM_OK;
}

/* Loads the trust anchors; returns 0, or an exit code after reporting. */
static int
load_trust(struct check *k)
{
	struct cm_err err = {CM_OK, ""};
	struct cm_cert_filter f;
	struct unit_rows u;
	struct cm_unit unit;
	struct cm_store *st;

	if ((k->store = X509_STORE_new()) == NULL)
		return local_error(k->c, "out of memory");
	if (k->ca_file != NULL) {
		if (cm_cert_parse_file(k->ca_file, NULL, &k->anchors, &err) !=
		    CM_OK)
			return local_error(k->c, "--ca-file: %s", err.msg);
		snprintf(k->trust_desc, sizeof(k->trust_desc), "file %s",
		    k->ca_file);
	} else if (k->trust_unit != NULL) {
		if (access(k->c->db_path, F_OK) != 0)
			return local_error(k->c, "--trust-unit %s: no store at %s "
			    "(give --db PATH, or --ca-file FILE)", k->trust_unit,
			    k->c->db_path);
		if ((st = cli_store(k->c)) == NULL)
			return CHECK_UNKNOWN;
		if (cm_store_unit_get(st, k->trust_unit, &unit, &err) != CM_OK)
			return local_error(k->c, "--trust-unit: %s", err.msg);
		memset(&f, 0, sizeof(f));
		memset(&u, 0, sizeof(u));
		f.unit = k->trust_unit;
		f.want_der = 1;
		u.k = k;
		u.now = k->c->now;
		u.st = CM_OK;
		if (cm_store_cert_list(st, &f, on_unit_row, &u, &err) != CM_OK)
			return local_error(k->c, "--trust-unit: %s", err.msg);
		if (u.st != CM_OK)
			return local_error(k->c, "--trust-unit %s: %s", k->trust_unit,
			    u.err.msg);
		if (k->anchors.n == 0)
			return local_error(k->c, "--trust-unit %s: the unit holds no "
			    "current, valid certificate to trust", k->trust_unit);
		snprintf(k->trust_desc, sizeof(k->trust_desc), "unit %s",
		    k->trust_unit);
	} else {
		if (X509_STORE_set_default_paths(k->store) != 1)
			return local_error(k->c, "the system's trust store cannot be "
			    "loaded");
		snprintf(k->trust_desc, sizeof(k->trust_desc), "system");
		return 0;
	}
	if (add_anchors(k->store, &k->anchors) != 0)
		return local_error(k->c, "a trust anchor cannot be added to the "
		    "X509 store");
	/* every certificate of the unit or file is a trust anchor */
	X509_STORE_set_flags(k->store, X509_V_FLAG_PARTIAL_CHAIN);
	return 0;
}

/* ---- the clock ------------------------------------------------------------ */

static cm_time
cli_clock(void *arg)
{
	return ((struct cli *)arg)->now;
}

/* ---- output ------------------------------------------------------------ */

static json_t *
doc_new(struct check *k, const struct cm_tls_result *r, const char *fail)
{
	json_t *doc = json_object(), *checks = json_object();
	enum cm_verdict v = fail != NULL ? CM_VERDICT_FAIL : r->verdict;
	int have = fail == NULL && r->done;
	const char *staple = "none";
	char target[CM_TLS_HOST_MAX + 16];

	if (r->staple_ignored)
		staple = "ignored";
	else if (r->staple_seen)
		staple = "valid";
	json_object_set_new(doc, "verdict", json_string(
	    cm_revocation_verdict_name(v)));
	json_object_set_new(doc, "warning", json_boolean(v == CM_VERDICT_WARN));
	json_object_set_new(doc, "alarm", json_boolean(have && r->alarm));
	json_object_set_new(doc, "reason", cm_json_str(fail != NULL ? fail :
	    r->reason));
	snprintf(target, sizeof(target), "%s%s%s:%s", strchr(k->host, ':') ?
	    "[" : "", k->host, strchr(k->host, ':') ? "]" : "", k->port);
	json_object_set_new(doc, "target", cm_json_str(target));
	json_object_set_new(doc, "host", cm_json_str(k->host));
	json_object_set_new(doc, "port", json_integer(atoi(k->port)));
	json_object_set_new(doc, "servername", cm_json_str(k->servername));
	json_object_set_new(doc, "starttls", cm_json_str(k->starttls));
	json_object_set_new(doc, "trust", cm_json_str(k->trust_desc));
	json_object_set_new(doc, "common_criteria", json_boolean(k->cc));
	json_object_set_new(doc, "tls_version", k->ssl != NULL && have ?
	    cm_json_str(SSL_get_version(k->ssl)) : json_null());
	json_object_set_new(doc, "cipher", k->ssl != NULL && have ?
	    cm_json_str(SSL_get_cipher_name(k->ssl)) : json_null());
	for (int i = 0; i < CM_TLS_CHECK_COUNT; i++) {
		enum cm_tls_outcome o = have ? r->check[i].outcome :
		    CM_TLS_NOT_RUN;

		json_object_set_new(checks, cm_tls_check_name(i), json_pack(
		    "{s:s, s:o}", "result", cm_tls_outcome_name(o), "detail",
		    have && r->check[i].text[0] ? cm_json_str(r->check[i].text) :
		    json_null()));
	}
	json_object_set_new(doc, "checks", checks);
	have = have && r->check[CM_TLS_CHECK_REVOCATION].outcome !=
	    CM_TLS_NOT_RUN;
	json_object_set_new(doc, "status", have ? json_string(
	    cm_revocation_status_name(r->status)) : json_null());
	json_object_set_new(doc, "source", have ?
	    cm_json_str(cm_tls_source_name(r->source)) : json_null());
	json_object_set_new(doc, "staple", json_string(fail != NULL ? "none" :
	    staple));
	json_object_set_new(doc, "staple_reason", fail == NULL &&
	    r->staple_ignored ? cm_json_str(r->staple_reason) : json_null());
	json_object_set_new(doc, "ocsp_reason", have ?
	    cm_json_str(r->ocsp.reason) : json_null());
	json_object_set_new(doc, "url", have && r->url[0] ? cm_json_str(r->url) :
	    json_null());
	json_object_set_new(doc, "responder", have && r->ocsp.responder[0] ?
	    cm_json_str(r->ocsp.responder) : json_null());
	json_object_set_new(doc, "trust_model", have ?
	    cm_json_str(cm_ocsp_trust_name(r->ocsp.trust_model)) : json_null());
	json_object_set_new(doc, "this_update", cm_json_time(have ?
	    r->ocsp.this_update : 0));
	json_object_set_new(doc, "next_update", cm_json_time(have ?
	    r->ocsp.next_update : 0));
	json_object_set_new(doc, "produced_at", cm_json_time(have ?
	    r->ocsp.produced_at : 0));
	json_object_set_new(doc, "revocation_time", cm_json_time(have &&
	    r->status == CM_REV_REVOKED ? r->ocsp.revocation_time : 0));
	json_object_set_new(doc, "revocation_reason", have &&
	    r->status == CM_REV_REVOKED && r->ocsp.revocation_reason[0] ?
	    cm_json_str(r->ocsp.revocation_reason) : json_null());
	have = fail == NULL && r->done && r->subject[0] != '\0';
	json_object_set_new(doc, "subject", have ? cm_json_str(r->subject) :
	    json_null());
	json_object_set_new(doc, "issuer", have ? cm_json_str(r->issuer) :
	    json_null());
	json_object_set_new(doc, "serial", have ? cm_json_str(r->serial_hex) :
	    json_null());
	json_object_set_new(doc, "fingerprint", have ?
	    cm_json_str(r->fingerprint) : json_null());
	json_object_set_new(doc, "not_before", cm_json_time(have ?
	    r->not_before : 0));
	json_object_set_new(doc, "not_after", cm_json_time(have ?
	    r->not_after : 0));
	json_object_set_new(doc, "expired", json_boolean(have &&
	    r->not_after != 0 && r->not_after < k->c->now));
	return doc;
}

static void
print_line(const char *key, const char *value)
{
	char *esc = cm_text_escape(value);

	printf("%-18s %s\n", key, esc != NULL ? esc : "");
	free(esc);
}

static void
print_human(json_t *doc)
{
	static const char *const keys[] = {"target", "servername", "starttls",
	    "trust", "tls_version", NULL};
	static const char *const tail[] = {"status", "source", "staple",
	    "staple_reason", "url", "responder", "trust_model", "this_update",
	    "next_update", "revocation_time", "revocation_reason", "subject",
	    "issuer", "serial", "not_after", NULL};
	const char *verdict = json_string_value(json_object_get(doc, "verdict"));
	json_t *checks = json_object_get(doc, "checks"), *v;
	char buf[CM_ERR_MSG_MAX + 32];
	char *esc;

	esc = cm_text_escape(json_string_value(json_object_get(doc, "reason")));
	printf("TLS %s: %s\n", strcmp(verdict, "fail") == 0 ? "FAIL" :
	    json_is_true(json_object_get(doc, "warning")) ? "PASS (WARNING)" :
	    "PASS", esc != NULL ? esc : "");
	free(esc);
	for (size_t i = 0; keys[i] != NULL; i++)
		if (json_is_string(v = json_object_get(doc, keys[i])))
			print_line(keys[i], json_string_value(v));
	for (int i = 0; i < CM_TLS_CHECK_COUNT; i++) {
		json_t *ck = json_object_get(checks, cm_tls_check_name(i));
		const char *d = json_string_value(json_object_get(ck, "detail"));

		snprintf(buf, sizeof(buf), "%s%s%s", json_string_value(
		    json_object_get(ck, "result")), d != NULL ? ": " : "",
		    d != NULL ? d : "");
		print_line(cm_tls_check_name(i), buf);
	}
	for (size_t i = 0; tail[i] != NULL; i++)
		if (json_is_string(v = json_object_get(doc, tail[i])))
			print_line(tail[i], json_string_value(v));
}

/* Prints the outcome; returns the exit code. */
static int
report(struct check *k, const struct cm_tls_result *r, const char *fail)
{
	json_t *doc = doc_new(k, r, fail);
	enum cm_verdict v = fail != NULL ? CM_VERDICT_FAIL : r->verdict;

	if (k->c->json)
		cli_print_json(doc);
	else {
		print_human(doc);
		json_decref(doc);
	}
	return (int)v;
}

static void
ssl_error_text(char *buf, size_t cap)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;

	snprintf(buf, cap, "%s", r != NULL ? r : "the connection closed");
}

/* ---- the command ---------------------------------------------------------- */

static int
run_check(struct check *k)
{
	struct cm_tls_opts o;
	struct cm_crl_ctx_opts co;
	struct cm_tls_result r;
	struct cm_err err = {CM_OK, ""};
	char why[CM_ERR_MSG_MAX], fail[CM_ERR_MSG_MAX + 64];
	int unresolved = 0, code;

	memset(&r, 0, sizeof(r));
	if ((code = load_trust(k)) != 0)
		return code;
	memset(&co, 0, sizeof(co));
	co.fetch.timeout_ms = k->timeout_ms;
	if (cm_crl_ctx_new(&co, &k->crl, &err) != CM_OK)
		return local_error(k->c, "%s", err.msg);
	memset(&o, 0, sizeof(o));
	o.common_criteria = k->cc;
	o.observe = 1;
	o.ocsp_url = k->ocsp_url;
	o.ocsp.trusted = &k->responders;
	o.ocsp.crl_check = cm_crl_ocsp_hook;    /* CC: delegated responders */
	o.ocsp.crl_arg = k->crl;
	o.fetch.timeout_ms = k->timeout_ms;
	o.no_cache = 1;
	o.clock = cli_clock;
	o.clock_arg = k->c;
	o.crl_check = cm_tls_crl_fallback;
	o.crl_arg = k->crl;
	if (cm_tls_new(&o, &k->tls, &err) != CM_OK)
		return local_error(k->c, "%s", err.msg);
	if ((k->ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		return local_error(k->c, "OpenSSL cannot create a TLS context");
	X509_STORE_up_ref(k->store);
	SSL_CTX_set_cert_store(k->ctx, k->store);
	if (cm_tls_attach_ctx(k->tls, k->ctx, &err) != CM_OK)
		return local_error(k->c, "%s", err.msg);
	k->fd = cm_conn_tcp(k->host, atoi(k->port), k->timeout_ms, why,
	    sizeof(why), &unresolved);
	if (k->fd < 0) {
		if (unresolved)
			return local_error(k->c, "%s", why);
		return report(k, &r, why);
	}
	if (cm_conn_starttls(k->fd, k->starttls, why, sizeof(why)) != 0)
		return report(k, &r, why);
	if ((k->ssl = SSL_new(k->ctx)) == NULL || !SSL_set_fd(k->ssl, k->fd))
		return local_error(k->c, "OpenSSL cannot create a connection");
	SSL_set_connect_state(k->ssl);
	if (cm_tls_attach_ssl(k->tls, k->ssl, k->servername, &err) != CM_OK)
		return local_error(k->c, "%s", err.msg);
	ERR_clear_error();
	if (SSL_connect(k->ssl) != 1) {
		ssl_error_text(why, sizeof(why));
		if (cm_tls_result_get(k->ssl, &r) == CM_OK) {
			/* the verdict came; the handshake failed afterwards */
			whyf(fail, sizeof(fail), "%s; the TLS handshake then "
			    "failed: %s", r.reason, why);
			return report(k, &r, fail);
		}
		whyf(fail, sizeof(fail), "TLS handshake with %s port %s failed: "
		    "%s%s", k->host, k->port, why, k->cc ? " (Common Criteria mode "
		    "requires TLS 1.2 or later)" : "");
		return report(k, &r, fail);
	}
	if (cm_tls_result_get(k->ssl, &r) != CM_OK) {
		whyf(fail, sizeof(fail), "the handshake with %s port %s ran no "
		    "certificate check (a resumed session?)", k->host, k->port);
		return report(k, &r, fail);
	}
	SSL_shutdown(k->ssl);
	return report(k, &r, NULL);
}

int
cmd_tls_check(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"servername", required_argument, NULL, 's'},
		{"starttls", required_argument, NULL, 'S'},
		{"trust-unit", required_argument, NULL, 'u'},
		{"ca-file", required_argument, NULL, 'f'},
		{"common-criteria", no_argument, NULL, 'C'},
		{"ocsp-url", required_argument, NULL, 'o'},
		{"timeout", required_argument, NULL, 'T'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	struct check k;
	const char *target = NULL;
	int o, code = CHECK_UNKNOWN;

	memset(&k, 0, sizeof(k));
	k.c = c;
	k.fd = -1;
	k.timeout_ms = CM_FETCH_DEFAULT_TIMEOUT_MS;
	cli_getopt_reset();
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 's': k.servername = optarg; break;
		case 'S': k.starttls = optarg; break;
		case 'u': k.trust_unit = optarg; break;
		case 'f': k.ca_file = optarg; break;
		case 'C': k.cc = 1; break;
		case 'o': k.ocsp_url = optarg; break;
		case 'T':
			if (parse_timeout(optarg, &k.timeout_ms) != 0) {
				cli_usage(c, usage_line, "--timeout takes seconds (more "
				    "than 0, at most 600), not '%s'", optarg);
				goto out;
			}
			break;
		case 'j': c->json = 1; break;
		case 'h':
			printf("usage: certmon %s\n", usage_line);
			code = CHECK_OK;
			goto out;
		default:
			cli_usage(c, usage_line, "unknown option or missing value "
			    "'%s'", argv[optind - 1]);
			goto out;
		}
	}
	if (optind < argc)
		target = argv[optind++];
	if (optind < argc) {
		cli_usage(c, usage_line, "unexpected argument '%s'", argv[optind]);
		goto out;
	}
	if (target == NULL || parse_target(target, &k) != 0) {
		cli_usage(c, usage_line, target == NULL ? "HOST:PORT is needed" :
		    "'%s' is not HOST:PORT (a port 1-65535; [ADDRESS]:PORT for "
		    "IPv6)", target);
		goto out;
	}
	if (k.trust_unit != NULL && k.ca_file != NULL) {
		cli_usage(c, usage_line, "--trust-unit and --ca-file exclude each "
		    "other");
		goto out;
	}
	if (k.starttls != NULL && strcmp(k.starttls, "smtp") != 0 &&
	    strcmp(k.starttls, "ldap") != 0) {
		cli_usage(c, usage_line, "--starttls takes smtp or ldap, not '%s'",
		    k.starttls);
		goto out;
	}
	if (k.servername != NULL && (k.servername[0] == '\0' ||
	    strlen(k.servername) > CM_TLS_HOST_MAX)) {
		cli_usage(c, usage_line, "--servername takes a host name of 1 to "
		    "%d characters", CM_TLS_HOST_MAX);
		goto out;
	}
	if (k.servername == NULL)
		k.servername = k.host;
	code = run_check(&k);
out:
	SSL_free(k.ssl);
	SSL_CTX_free(k.ctx);
	X509_STORE_free(k.store);
	cm_tls_free(k.tls);
	cm_crl_ctx_free(k.crl);
	if (k.fd >= 0)
		close(k.fd);
	cm_cert_list_clear(&k.anchors);
	cm_cert_list_clear(&k.responders);
	return code;
}
