/*
 * scheduler.c - the daemon's timers: the Certificate Expiry Monitor on its
 * schedule (the same pure schedule code as `certmon monitor run`), and
 * outbox delivery with backoff, the Certificate Revocation Check, and the
 * re-checks of long-lived connections (endpoint.h: one deadline per
 * endpoint from the interval rule; one endpoint per pass of the event
 * loop, so that a pass blocks for at most one endpoint's connect and fetch
 * deadlines, and HTTP is served between them). Deadlines are recomputed when the store
 * changes (another process wrote it), on SIGHUP, and when one passes.
 */
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "certmon/cancel.h"
#include "certmon/endpoint.h"
#include "certmon/monitor.h"
#include "certmon/outbox.h"
#include "certmon/revocation_run.h"
#include "certmon/service.h"
#include "certmon/settings.h"
#include "certmond.h"

#define ACTOR "certmond"

int
scheduler_start(struct daemon_ctx *d, cm_time now)
{
	static const char *const names[] = {CM_SERVICE_EXPIRY,
	    CM_SERVICE_REVOCATION};
	struct cm_err err = {CM_OK, ""};
	struct cm_service svc;

	/* Starting the daemon (re)starts the services that are Running: their
	 * 24-hour cycle counts from now. */
	for (size_t i = 0; i < 2; i++) {
		if (cm_store_service_get(d->st, names[i], &svc, &err) != CM_OK ||
		    (svc.running && cm_service_control(d->st, names[i],
		    CM_SERVICE_RESTART, ACTOR, now, &err) != CM_OK)) {
			daemon_log(LOG_ERR, "starting services: %s", err.msg);
			return -1;
		}
	}
	d->reschedule = 1;
	return 0;
}

static void
run_expiry(struct daemon_ctx *d, cm_time now)
{
	struct cm_monitor_report rep;
	struct cm_err err = {CM_OK, ""};

	if (cm_monitor_run(d->st, now, 0, ACTOR, &rep, &err) != CM_OK) {
		daemon_log(LOG_ERR, "Certificate Expiry Monitor run failed: %s",
		    err.msg);
		return;
	}
	d->count.expiry_runs++;
	if (rep.mail == CM_MONITOR_MAIL_SENT)
		d->count.mail_sent++;
	else if (rep.mail == CM_MONITOR_MAIL_FAILED)
		d->count.mail_failed++;
	daemon_log(LOG_INFO, "Certificate Expiry Monitor ran: %zu notified, "
	    "mail %s%s%s, %d alarm(s)", rep.n, cm_monitor_mail_name(rep.mail),
	    rep.mail_error[0] ? ": " : "", rep.mail_error, rep.alarms);
	cm_monitor_report_free(&rep);
}

static void
deliver_outbox(struct daemon_ctx *d, cm_time now)
{
	struct cm_monitor_settings ms;
	struct cm_smtp_settings smtp;
	struct cm_outbox_result res;
	struct cm_err err = {CM_OK, ""};

	if (cm_monitor_settings_load(d->st, &ms, &err) != CM_OK ||
	    cm_smtp_settings_load(d->st, &smtp, &err) != CM_OK ||
	    cm_smtp_settings_check(&smtp, &err) != CM_OK) {
		daemon_log(LOG_WARNING, "mail waits in the outbox: %s", err.msg);
		return;
	}
	if (cm_outbox_deliver(d->st, &smtp, &ms, now, ACTOR, &res, &err) !=
	    CM_OK) {
		daemon_log(LOG_ERR, "delivering mail: %s", err.msg);
		return;
	}
	d->count.mail_sent += (uint64_t)res.sent;
	d->count.mail_failed += (uint64_t)res.failed;
	if (res.attempted > 0)
		daemon_log(LOG_INFO, "outbox: %d sent, %d failed%s%s", res.sent,
		    res.failed, res.failed ? ": " : "", res.last_error);
}

/* The Certificate Revocation Check: one run (revocation_run.c). A failed
 * run is retried after REVOCATION_RETRY seconds, not on every tick. */
#define REVOCATION_RETRY 300

static void
run_revocation(struct daemon_ctx *d, cm_time now)
{
	struct cm_revocation_report rep;
	struct cm_err err = {CM_OK, ""};

	if (cm_revocation_run(d->st, now, ACTOR, &rep, &err) != CM_OK) {
		daemon_log(LOG_ERR, "Certificate Revocation Check run failed: %s",
		    err.msg);
		d->revocation_retry = now + REVOCATION_RETRY;
		return;
	}
	d->revocation_retry = 0;
	d->count.revocation_runs++;
	counters_add_ocsp(d, &rep);
	daemon_log(LOG_INFO, "Certificate Revocation Check ran: %zu checked "
	    "(%zu good, %zu revoked, %zu unknown, %zu error), %zu from cache, "
	    "%zu request(s), %d alarm(s)", rep.checked, rep.count[CM_REV_GOOD],
	    rep.count[CM_REV_REVOKED], rep.count[CM_REV_UNKNOWN],
	    rep.count[CM_REV_ERROR], rep.from_cache, rep.requests, rep.alarms);
	cm_revocation_report_free(&rep);
}

void
counters_add_ocsp(struct daemon_ctx *d, const struct cm_revocation_report *rep)
{
	struct ocsp_count *nv;

	for (size_t k = 0; k < rep->n_checks_by; k++) {
		const struct cm_rev_check_count *rc = &rep->checks_by[k];
		size_t i;

		for (i = 0; i < d->count.n_ocsp; i++)
			if (strcmp(d->count.ocsp[i].responder, rc->responder) == 0 &&
			    strcmp(d->count.ocsp[i].outcome, rc->outcome) == 0)
				break;
		if (i == d->count.n_ocsp) {
			if ((nv = realloc(d->count.ocsp, (i + 1) * sizeof(*nv))) ==
			    NULL)
				return;   /* the counters stay as they were */
			d->count.ocsp = nv;
			memset(&nv[i], 0, sizeof(nv[i]));
			snprintf(nv[i].responder, sizeof(nv[i].responder), "%s",
			    rc->responder);
			snprintf(nv[i].outcome, sizeof(nv[i].outcome), "%s",
			    rc->outcome);
			d->count.n_ocsp++;
		}
		d->count.ocsp[i].count += rc->count;
	}
}

/* The next periodic revocation run: while Enable Revocation Check is on
 * and the service is Running, from its stored schedule. */
static cm_time
plan_revocation(struct daemon_ctx *d)
{
	struct cm_revocation_settings rs;
	struct cm_service svc;
	struct cm_err err = {CM_OK, ""};
	cm_time next;

	if (cm_revocation_settings_load(d->st, &rs, &err) != CM_OK ||
	    cm_store_service_get(d->st, CM_SERVICE_REVOCATION, &svc, &err) !=
	    CM_OK) {
		daemon_log(LOG_ERR, "scheduling the revocation check: %s",
		    err.msg);
		return 0;
	}
	if (!rs.check || !svc.running)
		return 0;
	next = cm_revocation_next_run(&svc, rs.every);
	return next < d->revocation_retry ? d->revocation_retry : next;
}

/* ---- long-lived connections ------------------------------------------- */

struct ep_plan {
	int64_t interval;
	cm_time next;
	char name[CM_UNIT_NAME_MAX + 1];        /* the soonest one */
	size_t due;                             /* how many are due at now */
	cm_time now;
};

static int
plan_endpoint(const struct cm_endpoint *ep, void *arg)
{
	struct ep_plan *p = arg;
	cm_time next = cm_endpoint_next(ep, p->interval);

	if (next == 0)
		return 0;
	if (next <= p->now)
		p->due++;
	if (p->next == 0 || next < p->next) {
		p->next = next;
		snprintf(p->name, sizeof(p->name), "%s", ep->name);
	}
	return 0;
}

/* The earliest endpoint re-check (0: none), and which endpoint. */
static cm_time
plan_endpoints(struct daemon_ctx *d, cm_time now, struct ep_plan *p)
{
	struct cm_err err = {CM_OK, ""};

	memset(p, 0, sizeof(*p));
	p->now = now;
	if (cm_endpoint_interval(d->st, &p->interval, &err) != CM_OK ||
	    (p->interval > 0 && cm_store_endpoint_list(d->st, plan_endpoint, p,
	    &err) != CM_OK)) {
		daemon_log(LOG_ERR, "scheduling the endpoint re-checks: %s",
		    err.msg);
		return 0;
	}
	d->endpoint_interval = p->interval;
	return p->next;
}

enum cm_status
scheduler_check_endpoint(struct daemon_ctx *d, const char *name,
    const char *actor, cm_time now, struct cm_endpoint_report *rep,
    struct cm_err *err)
{
	enum cm_status rc;

	rc = cm_endpoint_check(d->st, name, actor, now, rep, err);
	if (rc != CM_OK)
		return rc;
	d->count.endpoint_checks++;
	d->reschedule = 1;
	daemon_log(rep->ep.verdict[0] == 'f' ? LOG_WARNING : LOG_INFO,
	    "endpoint %s checked: %s%s%s", rep->ep.name, rep->ep.verdict,
	    rep->ep.reason[0] ? ": " : "", rep->ep.reason);
	return CM_OK;
}

/* Re-checks the soonest due endpoint. */
static void
run_endpoint(struct daemon_ctx *d, cm_time now)
{
	struct cm_endpoint_report rep;
	struct cm_err err = {CM_OK, ""};
	struct ep_plan p;

	if (cm_cancel_requested() || plan_endpoints(d, now, &p) == 0 ||
	    p.next > now)
		return;
	if (scheduler_check_endpoint(d, p.name, ACTOR, now, &rep, &err) !=
	    CM_OK)
		daemon_log(LOG_ERR, "endpoint %s: the check failed: %s", p.name,
		    err.msg);
	d->more_due = p.due > 1;
}

/* How often the deadlines are recomputed even without a change: the
 * cadence turns hourly when a certificate becomes critical, which no
 * write announces. */
#define REPLAN_EVERY 60

void
scheduler_plan(struct daemon_ctx *d, cm_time now)
{
	struct cm_monitor_status ms;
	struct cm_err err = {CM_OK, ""};
	struct ep_plan ep;

	d->next_expiry = 0;
	if (cm_monitor_status(d->st, now, &ms, &err) != CM_OK)
		daemon_log(LOG_ERR, "scheduling: %s", err.msg);
	else if (ms.svc.running)
		d->next_expiry = ms.next_run;
	if (cm_store_outbox_next(d->st, &d->next_outbox, &err) != CM_OK)
		daemon_log(LOG_ERR, "scheduling mail: %s", err.msg);
	d->next_revocation = plan_revocation(d);
	d->next_endpoint = plan_endpoints(d, now, &ep);
	d->planned_at = now;
	d->reschedule = 0;
}

void
scheduler_tick(struct daemon_ctx *d, cm_time now)
{
	int due_expiry, due_outbox, due_revocation, due_endpoint;

	if (d->reschedule || now >= d->planned_at + REPLAN_EVERY ||
	    now < d->planned_at)
		scheduler_plan(d, now);
	due_expiry = d->next_expiry != 0 && now >= d->next_expiry;
	due_outbox = d->next_outbox != 0 && now >= d->next_outbox;
	due_revocation = d->next_revocation != 0 && now >= d->next_revocation;
	due_endpoint = d->next_endpoint != 0 && now >= d->next_endpoint;
	d->more_due = 0;
	if (!due_expiry && !due_outbox && !due_revocation && !due_endpoint)
		return;
	if (due_expiry)
		run_expiry(d, now);   /* delivers the outbox too */
	else if (due_outbox)
		deliver_outbox(d, now);
	if (due_revocation)
		run_revocation(d, now);
	if (due_endpoint)
		run_endpoint(d, now);
	scheduler_plan(d, now);
}
