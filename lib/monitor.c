/* monitor.c - one run of the Certificate Expiry Monitor. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "certmon/log.h"
#include "certmon/mail.h"
#include "certmon/monitor.h"
#include "certmon/outbox.h"
#include "certmon/settings.h"
#include "certmon/text.h"

const char *
cm_monitor_mail_name(enum cm_monitor_mail mail)
{
	static const char *const names[] = {"disabled", "none", "queued", "sent",
	    "failed"};

	return (unsigned)mail < 5 ? names[mail] : "?";
}

void
cm_monitor_report_free(struct cm_monitor_report *rep)
{
	if (rep == NULL)
		return;
	for (size_t i = 0; i < rep->n; i++) {
		free(rep->v[i].subject_cn);
		free(rep->v[i].issuer_cn);
		free(rep->v[i].serial_hex);
	}
	free(rep->v);
	rep->v = NULL;
	rep->n = 0;
}

/* ---- composing the message ------------------------------------------------ */

struct text {
	char *s;
	size_t len, cap;
	int nomem;
};

static void __attribute__((format(printf, 2, 3)))
text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	size_t need, ncap;
	char *ns;
	int n;

	if (t->nomem)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		t->nomem = 1;
		return;
	}
	need = t->len + (size_t)n + 1;
	if (need > t->cap) {
		ncap = need * 2 + 256;
		if ((ns = realloc(t->s, ncap)) == NULL) {
			t->nomem = 1;
			return;
		}
		t->s = ns;
		t->cap = ncap;
	}
	va_start(ap, fmt);
	vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	t->len += (size_t)n;
}

/* "12 days 3 hours", "5 hours 10 minutes", "expired 3 days ago". */
static void
time_left(cm_time not_after, cm_time now, char *buf, size_t len)
{
	int64_t d = not_after - now, a = d < 0 ? -d : d;
	int64_t days = a / 86400, hours = a % 86400 / 3600, mins = a % 3600 / 60;
	char span[64];

	if (days > 0)
		snprintf(span, sizeof(span), "%" PRId64 " day%s %" PRId64 " hour%s",
		    days, days == 1 ? "" : "s", hours, hours == 1 ? "" : "s");
	else
		snprintf(span, sizeof(span), "%" PRId64 " hour%s %" PRId64
		    " minute%s", hours, hours == 1 ? "" : "s", mins,
		    mins == 1 ? "" : "s");
	if (d < 0)
		snprintf(buf, len, "expired %s ago", span);
	else
		snprintf(buf, len, "%s", span);
}

enum cm_status
cm_monitor_compose(const struct cm_monitor_notice *v, size_t n, cm_time now,
    char **subject, char **body, struct cm_err *err)
{
	static const enum cm_expiry_state order[] = {CM_STATE_EXPIRED,
	    CM_STATE_CRITICAL, CM_STATE_EXPIRING};
	static const char *const heading[] = {
	    [CM_STATE_EXPIRED] = "EXPIRED",
	    [CM_STATE_CRITICAL] = "CRITICAL: one day or less left",
	    [CM_STATE_EXPIRING] = "EXPIRING within the notification window"};
	struct text t = {NULL, 0, 0, 0}, s = {NULL, 0, 0, 0};
	size_t count[4] = {0, 0, 0, 0};
	char when[CM_TIME_TEXT_LEN], left[96], *cn, *issuer;

	*subject = *body = NULL;
	for (size_t i = 0; i < n; i++)
		count[v[i].state]++;
	text_add(&s, "[certmon] certificates: %zu expiring, %zu critical, %zu "
	    "expired", count[CM_STATE_EXPIRING], count[CM_STATE_CRITICAL],
	    count[CM_STATE_EXPIRED]);
	text_add(&t, "certmon checked the certificates at %s.\n"
	    "%zu certificate%s need%s attention.\n", cm_time_format(now, when), n,
	    n == 1 ? "" : "s", n == 1 ? "s" : "");
	for (size_t k = 0; k < 3; k++) {
		enum cm_expiry_state st = order[k];

		if (count[st] == 0)
			continue;
		text_add(&t, "\n%s (%zu)\n", heading[st], count[st]);
		for (size_t i = 0; i < n; i++) {
			if (v[i].state != st)
				continue;
			/* names come from certificates: escaped so that they
			 * cannot forge lines of the notice */
			cn = cm_text_escape(v[i].subject_cn);
			issuer = cm_text_escape(v[i].issuer_cn);
			if (cn == NULL || issuer == NULL)
				t.nomem = 1;
			time_left(v[i].not_after, now, left, sizeof(left));
			text_add(&t, "\n  unit:        %s\n  subject CN:  %s\n"
			    "  issuer:      %s\n  serial:      %s\n  notAfter:    %s\n"
			    "  time left:   %s\n  fingerprint: %s\n", v[i].unit,
			    cn ? cn : "", issuer ? issuer : "", v[i].serial_hex,
			    cm_time_format(v[i].not_after, when), left,
			    v[i].fingerprint);
			free(cn);
			free(issuer);
		}
	}
	text_add(&t, "\nRenew and upload the certificates, or see them with "
	    "`certmon cert list --state expiring`.\n");
	if (t.nomem || s.nomem) {
		free(t.s);
		free(s.s);
		return cm_err_set(err, CM_ERR_NOMEM, "out of memory");
	}
	*subject = s.s;
	*body = t.s;
	return CM_OK;
}

/* ---- the run -------------------------------------------------------------- */

struct alarm {
	char fingerprint[CM_FP_HEX_LEN];
	char unit[CM_UNIT_NAME_MAX + 1];
	enum cm_expiry_state state;
	char message[300];
};

struct scan {
	const struct cm_monitor_settings *ms;
	cm_time now;
	struct cm_monitor_report *rep;
	size_t cap;
	struct alarm *alarms;
	size_t nalarms, alarms_cap;
	int nomem;
};

static int
push_notice(struct scan *sc, const struct cm_monitor_row *r,
    enum cm_expiry_state state)
{
	struct cm_monitor_report *rep = sc->rep;
	struct cm_monitor_notice *nv, *nt;

	if (rep->n == sc->cap) {
		sc->cap = sc->cap ? sc->cap * 2 : 64;
		if ((nv = realloc(rep->v, sc->cap * sizeof(*nv))) == NULL)
			return -1;
		rep->v = nv;
	}
	nt = &rep->v[rep->n++];
	memset(nt, 0, sizeof(*nt));
	snprintf(nt->fingerprint, sizeof(nt->fingerprint), "%s", r->fingerprint);
	snprintf(nt->unit, sizeof(nt->unit), "%s", r->unit);
	nt->not_after = r->not_after;
	nt->state = state;
	nt->subject_cn = strdup(r->subject_cn);
	nt->issuer_cn = strdup(r->issuer_cn);
	nt->serial_hex = strdup(r->serial_hex);
	if (nt->subject_cn == NULL || nt->issuer_cn == NULL ||
	    nt->serial_hex == NULL)
		return -1;
	rep->count[state]++;
	return 0;
}

static int
push_alarm(struct scan *sc, const struct cm_monitor_row *r,
    enum cm_expiry_state state)
{
	struct alarm *nv, *a;
	char when[CM_TIME_TEXT_LEN];

	if (sc->nalarms == sc->alarms_cap) {
		sc->alarms_cap = sc->alarms_cap ? sc->alarms_cap * 2 : 16;
		if ((nv = realloc(sc->alarms, sc->alarms_cap * sizeof(*nv))) == NULL)
			return -1;
		sc->alarms = nv;
	}
	a = &sc->alarms[sc->nalarms++];
	snprintf(a->fingerprint, sizeof(a->fingerprint), "%s", r->fingerprint);
	snprintf(a->unit, sizeof(a->unit), "%s", r->unit);
	a->state = state;
	snprintf(a->message, sizeof(a->message), "certificate CN '%.80s' serial "
	    "%.64s in unit %s %s %s", r->subject_cn, r->serial_hex, r->unit,
	    state == CM_STATE_EXPIRED ? "expired at" : "expires at",
	    cm_time_format(r->not_after, when));
	return 0;
}

static int
scan_row(const struct cm_monitor_row *r, void *arg)
{
	struct scan *sc = arg;
	enum cm_expiry_state state;
	int due;

	due = cm_expiry_due(r->not_after, sc->now, sc->ms->start_days,
	    sc->ms->frequency, &r->notice, &state);
	if (state == CM_STATE_CRITICAL || state == CM_STATE_EXPIRED) {
		sc->rep->hourly = 1;
		if (r->alarm_state != (int)state && push_alarm(sc, r, state) != 0)
			goto nomem;
	}
	if (due && push_notice(sc, r, state) != 0)
		goto nomem;
	return 0;
nomem:
	sc->nomem = 1;
	return 1;
}

/* The domain of the From address, for the Message-ID. */
static const char *
from_domain(const char *from)
{
	const char *at = strrchr(from, '@');

	return at != NULL ? at + 1 : NULL;
}

/* Queues the message for rep's notices; sets rep->mail / message_id. */
static enum cm_status
queue_message(struct cm_store *st, const struct cm_monitor_settings *ms,
    const struct cm_smtp_settings *smtp, cm_time now,
    struct cm_monitor_report *rep, struct cm_err *err)
{
	struct cm_strlist to = {NULL, 0};
	struct cm_mail_message m;
	char *subject = NULL, *body = NULL, *msg = NULL, *mid = NULL;
	size_t len = 0;
	enum cm_status rc;

	if ((rc = cm_mail_parse_list(ms->emails, &to, err)) != CM_OK ||
	    (rc = cm_monitor_compose(rep->v, rep->n, now, &subject, &body, err))
	    != CM_OK)
		goto out;
	if ((mid = cm_mail_new_message_id(from_domain(smtp->from))) == NULL) {
		rc = cm_err_set(err, CM_ERR_INTERNAL, "cannot make a Message-ID");
		goto out;
	}
	memset(&m, 0, sizeof(m));
	m.from = smtp->from;
	m.to = &to;
	m.subject = subject;
	m.body = body;
	m.message_id = mid;
	m.date = now;
	if ((rc = cm_mail_compose(&m, &msg, &len, err)) != CM_OK ||
	    (rc = cm_store_outbox_add(st, mid, ms->emails, subject, msg, len, now,
	    err)) != CM_OK)
		goto out;
	rep->mail = CM_MONITOR_MAIL_QUEUED;
	snprintf(rep->message_id, sizeof(rep->message_id), "%s", mid);
out:
	cm_mail_list_free(&to);
	free(subject);
	free(body);
	free(msg);
	free(mid);
	return rc;
}

/* Records notices, alarms, the queued message and the schedule: one
 * transaction. */
static enum cm_status
record(struct cm_store *st, struct scan *sc,
    const struct cm_smtp_settings *smtp, struct cm_service *svc,
    const char *actor, struct cm_err *err)
{
	struct cm_monitor_report *rep = sc->rep;
	enum cm_status rc;

	if ((rc = cm_store_begin(st, err)) != CM_OK)
		return rc;
	for (size_t i = 0; i < sc->nalarms; i++) {
		struct alarm *a = &sc->alarms[i];

		if ((rc = cm_alarm_record(st, sc->now, a->state == CM_STATE_EXPIRED ?
		    CM_ALARM_EXPIRED : CM_ALARM_VALID_LESS_THAN_A_DAY, actor, a->unit,
		    a->fingerprint, a->message, err)) != CM_OK ||
		    (rc = cm_store_alarm_state_set(st, a->unit, a->fingerprint,
		    a->state, err)) != CM_OK)
			goto fail;
	}
	if (rep->mail == CM_MONITOR_MAIL_QUEUED) {
		if ((rc = queue_message(st, sc->ms, smtp, sc->now, rep, err)) !=
		    CM_OK)
			goto fail;
		for (size_t i = 0; i < rep->n; i++)
			if ((rc = cm_store_notice_set(st, rep->v[i].unit,
			    rep->v[i].fingerprint, sc->now, rep->v[i].state, err)) !=
			    CM_OK)
				goto fail;
	}
	if ((rc = cm_store_service_put(st, svc, err)) != CM_OK)
		goto fail;
	return cm_store_commit(st, err);
fail:
	cm_store_rollback(st);
	return rc;
}

static int
find_message(const struct cm_outbox_msg *m, void *arg)
{
	struct cm_monitor_report *rep = arg;

	if (strcmp(m->message_id, rep->message_id) != 0)
		return 0;
	if (strcmp(m->state, "sent") == 0)
		rep->mail = CM_MONITOR_MAIL_SENT;
	else if (m->attempts > 0)
		rep->mail = CM_MONITOR_MAIL_FAILED;
	return 1;
}

/* Sets rep->mail from what became of the queued message. */
static enum cm_status
message_outcome(struct cm_store *st, struct cm_monitor_report *rep,
    struct cm_err *err)
{
	return cm_store_outbox_list(st, 0, 1, find_message, rep, err);
}

static int64_t
elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 +
	    (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

enum cm_status
cm_monitor_run(struct cm_store *st, cm_time now, int dry_run,
    const char *actor, struct cm_monitor_report *rep, struct cm_err *err)
{
	struct cm_monitor_settings ms;
	struct cm_smtp_settings smtp;
	struct cm_outbox_result ores;
	struct cm_schedule sched;
	struct cm_service svc;
	struct scan sc;
	struct timespec t0;
	enum cm_status rc;

	clock_gettime(CLOCK_MONOTONIC, &t0);   /* only for the duration */
	memset(rep, 0, sizeof(*rep));
	memset(&sc, 0, sizeof(sc));
	rep->ran_at = now;
	if ((rc = cm_monitor_settings_load(st, &ms, err)) != CM_OK ||
	    (rc = cm_smtp_settings_load(st, &smtp, err)) != CM_OK ||
	    (rc = cm_store_service_get(st, CM_SERVICE_EXPIRY, &svc, err)) != CM_OK)
		goto out;
	sc.ms = &ms;
	sc.now = now;
	sc.rep = rep;
	if ((rc = cm_store_monitor_rows(st, now + (int64_t)ms.start_days * CM_DAY,
	    ms.lsc_enabled, scan_row, &sc, err)) != CM_OK)
		goto out;
	if (sc.nomem) {
		rc = cm_err_set(err, CM_ERR_NOMEM, "out of memory");
		goto out;
	}
	rep->alarms = (int)sc.nalarms;
	sched.started_at = svc.started_at;
	sched.last_run = now;
	sched.hourly = rep->hourly;
	rep->next_run = cm_expiry_next_run(&sched);

	if (!ms.email_enabled)
		rep->mail = CM_MONITOR_MAIL_DISABLED;
	else if (rep->n == 0)
		rep->mail = CM_MONITOR_MAIL_NONE;
	else if (cm_smtp_settings_check(&smtp, err) != CM_OK) {
		/* Nothing is recorded as notified: the certificates stay due and
		 * are mailed once SMTP is configured. */
		rep->mail = CM_MONITOR_MAIL_FAILED;
		snprintf(rep->mail_error, sizeof(rep->mail_error), "SMTP is not "
		    "configured (certmon smtp set): %.400s", err->msg);
	} else
		rep->mail = CM_MONITOR_MAIL_QUEUED;
	if (dry_run)
		goto out;

	svc.last_run = now;
	svc.next_run = rep->next_run;
	svc.last_duration_ms = elapsed_ms(&t0);
	snprintf(svc.last_result, sizeof(svc.last_result), "%zu notified "
	    "(%zu expiring, %zu critical, %zu expired), mail %s", rep->n,
	    rep->count[CM_STATE_EXPIRING], rep->count[CM_STATE_CRITICAL],
	    rep->count[CM_STATE_EXPIRED], cm_monitor_mail_name(rep->mail));
	if ((rc = record(st, &sc, &smtp, &svc, actor, err)) != CM_OK)
		goto out;
	for (size_t i = 0; i < sc.nalarms; i++)
		cm_alarm_log(sc.alarms[i].state == CM_STATE_EXPIRED ?
		    CM_ALARM_EXPIRED : CM_ALARM_VALID_LESS_THAN_A_DAY,
		    sc.alarms[i].message);

	/* Deliver what is due (this message, and older ones still waiting). */
	if (ms.email_enabled && cm_smtp_settings_check(&smtp, NULL) == CM_OK) {
		if ((rc = cm_outbox_deliver(st, &smtp, &ms, now, actor, &ores, err))
		    != CM_OK)
			goto out;
		if (rep->mail == CM_MONITOR_MAIL_QUEUED &&
		    (rc = message_outcome(st, rep, err)) != CM_OK)
			goto out;
		if (rep->mail == CM_MONITOR_MAIL_FAILED)
			snprintf(rep->mail_error, sizeof(rep->mail_error), "%.400s "
			    "(queued; will retry)", ores.last_error);
	}
out:
	free(sc.alarms);
	if (rc != CM_OK)
		cm_monitor_report_free(rep);
	return rc;
}

static int
count_row(const struct cm_monitor_row *r, void *arg)
{
	(void)r;
	(*(int64_t *)arg)++;
	return 0;
}

enum cm_status
cm_monitor_status(struct cm_store *st, cm_time now,
    struct cm_monitor_status *out, struct cm_err *err)
{
	struct cm_monitor_settings ms;
	struct cm_schedule sched;
	enum cm_status rc;

	memset(out, 0, sizeof(*out));
	if ((rc = cm_monitor_settings_load(st, &ms, err)) != CM_OK ||
	    (rc = cm_store_service_get(st, CM_SERVICE_EXPIRY, &out->svc, err)) !=
	    CM_OK ||
	    (rc = cm_store_monitor_rows(st, now + CM_DAY, ms.lsc_enabled,
	    count_row, &out->urgent, err)) != CM_OK ||
	    (rc = cm_store_outbox_depth(st, &out->outbox_pending,
	    &out->outbox_failed, err)) != CM_OK)
		return rc;
	out->hourly = out->urgent > 0;
	sched.started_at = out->svc.started_at;
	sched.last_run = out->svc.last_run;
	sched.hourly = out->hourly;
	out->next_run = cm_expiry_next_run(&sched);
	return CM_OK;
}
