/*
 * metrics.c - GET /metrics in the Prometheus text format (0.0.4).
 *
 * Certificate counts by unit x state x revocation status; per certificate
 * notAfter, time left and revocation status - by default only for the
 * certificates that are not valid or whose revocation status is revoked,
 * unknown or error (label cardinality), every certificate with
 * --metrics-all; the services' last and next runs and run duration; the
 * outbox depth; mail counters since the daemon started.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "certmon/auth.h"
#include "certmon/expiry.h"
#include "certmon/settings.h"
#include "http.h"

struct buf {
	char *s;
	size_t len, cap;
	int nomem;
};

static void
add(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
add(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (int tries = 0; tries < 2 && !b->nomem; tries++) {
		va_start(ap, fmt);
		n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0,
		    fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->nomem = 1;
			return;
		}
		if (b->s != NULL && (size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		size_t ncap = (b->cap + (size_t)n + 1) * 2;
		char *ns = realloc(b->s, ncap);

		if (ns == NULL) {
			b->nomem = 1;
			return;
		}
		b->s = ns;
		b->cap = ncap;
	}
}

/* Appends v as a label value: backslash, double quote and newline
 * escaped as the text format says. */
static void
add_label(struct buf *b, const char *v)
{
	char tmp[1024];
	size_t o = 0;

	for (; *v != '\0' && o + 3 < sizeof(tmp); v++) {
		if (*v == '\\' || *v == '"') {
			tmp[o++] = '\\';
			tmp[o++] = *v;
		} else if (*v == '\n') {
			tmp[o++] = '\\';
			tmp[o++] = 'n';
		} else {
			tmp[o++] = *v;
		}
	}
	tmp[o] = '\0';
	add(b, "%s", tmp);
}

struct certs {
	struct buf not_after, expires_in, revocation;
	cm_time now;
	int start;
	int skip_nonvalid;       /* second pass: already emitted */
};

static void
cert_labels(struct buf *b, const struct cm_cert_row *r)
{
	add(b, "{unit=\"");
	add_label(b, r->unit);
	add(b, "\",cn=\"");
	add_label(b, r->subject_cn);
	add(b, "\",serial=\"");
	add_label(b, r->serial_hex);
	add(b, "\",fingerprint=\"%s\"", r->fingerprint);
}

static int
cert_row(const struct cm_cert_row *r, void *arg)
{
	struct certs *c = arg;

	if (c->skip_nonvalid && cm_expiry_state(r->not_after, c->now, c->start) !=
	    CM_STATE_VALID)
		return 0;
	add(&c->not_after, "certmon_cert_not_after_seconds");
	cert_labels(&c->not_after, r);
	add(&c->not_after, "} %" PRId64 "\n", r->not_after);
	add(&c->expires_in, "certmon_cert_expires_in_seconds");
	cert_labels(&c->expires_in, r);
	add(&c->expires_in, "} %" PRId64 "\n", r->not_after - c->now);
	add(&c->revocation, "certmon_cert_revocation_status");
	cert_labels(&c->revocation, r);
	add(&c->revocation, ",status=\"%s\"} 1\n", r->revocation);
	return 0;
}

static int
stat_row(const struct cm_cert_stat *s, void *arg)
{
	struct buf *b = arg;

	add(b, "certmon_certificates{unit=\"");
	add_label(b, s->unit);
	add(b, "\",state=\"%s\",revocation=\"", cm_expiry_state_name(s->state));
	add_label(b, s->revocation);
	add(b, "\"} %" PRId64 "\n", s->count);
	return 0;
}

static int
authorised(struct request *r)
{
	const char *h;
	char hash[CM_FP_HEX_LEN];

	if (r->d->metrics_token_hash[0] == '\0')
		return 1;
	h = req_header(r, "Authorization");
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0 || strlen(h) > 300)
		return 0;
	cm_auth_token_hash(h + 7, hash);
	return CRYPTO_memcmp(hash, r->d->metrics_token_hash, 64) == 0;
}

static void
service_metrics(struct buf *b, struct daemon_ctx *d)
{
	static const char *const names[] = {CM_SERVICE_EXPIRY,
	    CM_SERVICE_REVOCATION};
	struct cm_service svc[2];
	struct cm_err err;

	for (int i = 0; i < 2; i++)
		if (cm_store_service_get(d->st, names[i], &svc[i], &err) != CM_OK)
			memset(&svc[i], 0, sizeof(svc[i]));
	add(b, "# HELP certmon_service_running 1 when the service is Running.\n"
	    "# TYPE certmon_service_running gauge\n");
	for (int i = 0; i < 2; i++)
		add(b, "certmon_service_running{service=\"%s\"} %d\n", names[i],
		    svc[i].running);
	add(b, "# HELP certmon_service_last_run_timestamp_seconds When the "
	    "service last completed a run (0 = never).\n"
	    "# TYPE certmon_service_last_run_timestamp_seconds gauge\n");
	for (int i = 0; i < 2; i++)
		add(b, "certmon_service_last_run_timestamp_seconds{service=\"%s\"} %"
		    PRId64 "\n", names[i], svc[i].last_run);
	add(b, "# HELP certmon_service_next_run_timestamp_seconds When the "
	    "service runs next (0 = not scheduled).\n"
	    "# TYPE certmon_service_next_run_timestamp_seconds gauge\n");
	add(b, "certmon_service_next_run_timestamp_seconds{service=\"%s\"} %"
	    PRId64 "\n", names[0], d->next_expiry);
	add(b, "certmon_service_next_run_timestamp_seconds{service=\"%s\"} %"
	    PRId64 "\n", names[1], svc[1].next_run);
	add(b, "# HELP certmon_service_last_run_duration_seconds How long the "
	    "last run took.\n"
	    "# TYPE certmon_service_last_run_duration_seconds gauge\n");
	for (int i = 0; i < 2; i++)
		add(b, "certmon_service_last_run_duration_seconds{service=\"%s\"} "
		    "%.3f\n", names[i], (double)svc[i].last_duration_ms / 1000.0);
}

enum MHD_Result
metrics_handle(struct request *r)
{
	struct daemon_ctx *d = r->d;
	struct cm_monitor_settings ms;
	struct cm_cert_filter f;
	struct certs c;
	struct buf b = {NULL, 0, 0, 0};
	struct cm_err err = {CM_OK, ""};
	static const char *const bad[] = {"revoked", "unknown", "error"};
	int64_t pending = 0, failed = 0;
	char *text = NULL;

	if (strcmp(r->method, "GET") != 0)
		return reply_method(r, "GET");
	if (!authorised(r))
		return reply_error(r, 401, "a bearer token is required for "
		    "/metrics");
	memset(&c, 0, sizeof(c));
	c.now = daemon_now(d);
	if (cm_monitor_settings_load(d->st, &ms, &err) != CM_OK)
		goto fail;
	c.start = ms.start_days;
	add(&b, "# HELP certmon_certificates Current certificates by unit, "
	    "expiry state and revocation status.\n"
	    "# TYPE certmon_certificates gauge\n");
	if (cm_store_cert_stats(d->st, c.now, c.start, stat_row, &b, &err) !=
	    CM_OK)
		goto fail;
	memset(&f, 0, sizeof(f));
	if (!d->metrics_all)
		f.not_after_max = c.now + (int64_t)c.start * CM_DAY;
	if (cm_store_cert_list(d->st, &f, cert_row, &c, &err) != CM_OK)
		goto fail;
	for (size_t i = 0; !d->metrics_all && i < 3; i++) {
		memset(&f, 0, sizeof(f));
		f.revocation = bad[i];
		c.skip_nonvalid = 1;
		if (cm_store_cert_list(d->st, &f, cert_row, &c, &err) != CM_OK)
			goto fail;
	}
	add(&b, "# HELP certmon_cert_not_after_seconds The certificate's "
	    "notAfter (Unix time).\n"
	    "# TYPE certmon_cert_not_after_seconds gauge\n%s",
	    c.not_after.s ? c.not_after.s : "");
	add(&b, "# HELP certmon_cert_expires_in_seconds Seconds until notAfter "
	    "(negative once expired).\n"
	    "# TYPE certmon_cert_expires_in_seconds gauge\n%s",
	    c.expires_in.s ? c.expires_in.s : "");
	add(&b, "# HELP certmon_cert_revocation_status The last revocation "
	    "answer (the status label) of the certificate.\n"
	    "# TYPE certmon_cert_revocation_status gauge\n%s",
	    c.revocation.s ? c.revocation.s : "");
	service_metrics(&b, d);
	if (cm_store_outbox_depth(d->st, &pending, &failed, &err) != CM_OK)
		goto fail;
	add(&b, "# HELP certmon_outbox_messages Mail waiting in the outbox.\n"
	    "# TYPE certmon_outbox_messages gauge\n"
	    "certmon_outbox_messages{state=\"pending\"} %" PRId64 "\n"
	    "certmon_outbox_messages{state=\"failed\"} %" PRId64 "\n",
	    pending, failed);
	add(&b, "# HELP certmon_mail_sent_total Messages delivered since the "
	    "daemon started.\n# TYPE certmon_mail_sent_total counter\n"
	    "certmon_mail_sent_total %" PRIu64 "\n"
	    "# HELP certmon_mail_failed_total Failed deliveries since the daemon "
	    "started.\n# TYPE certmon_mail_failed_total counter\n"
	    "certmon_mail_failed_total %" PRIu64 "\n"
	    "# HELP certmon_expiry_runs_total Expiry monitor runs since the "
	    "daemon started.\n# TYPE certmon_expiry_runs_total counter\n"
	    "certmon_expiry_runs_total %" PRIu64 "\n",
	    d->count.mail_sent, d->count.mail_failed, d->count.expiry_runs);
	add(&b, "# HELP certmon_ocsp_checks_total Certificates checked by OCSP "
	    "requests since the daemon started, by responder and outcome (good, "
	    "revoked, unknown, error).\n# TYPE certmon_ocsp_checks_total counter\n");
	for (size_t i = 0; i < d->count.n_ocsp; i++) {
		add(&b, "certmon_ocsp_checks_total{responder=\"");
		add_label(&b, d->count.ocsp[i].responder);
		add(&b, "\",outcome=\"%s\"} %" PRIu64 "\n", d->count.ocsp[i].outcome,
		    d->count.ocsp[i].count);
	}
	add(&b, "# HELP certmon_revocation_runs_total Revocation check runs since "
	    "the daemon started.\n# TYPE certmon_revocation_runs_total counter\n"
	    "certmon_revocation_runs_total %" PRIu64 "\n",
	    d->count.revocation_runs);
	if (b.nomem || c.not_after.nomem || c.expires_in.nomem ||
	    c.revocation.nomem) {
		cm_err_set(&err, CM_ERR_NOMEM, "out of memory");
		goto fail;
	}
	text = b.s;
	b.s = NULL;
fail:
	free(b.s);
	free(c.not_after.s);
	free(c.expires_in.s);
	free(c.revocation.s);
	if (text == NULL)
		return reply_error(r, 500, "metrics: %s", err.msg);
	return reply_text(r, 200, "text/plain; version=0.0.4; charset=utf-8",
	    text, strlen(text));
}
