/*
 * web_ops.c - the Services pages: Network Services (state, runs, Start /
 * Stop / Restart), the Mail Queue (the outbox, deliver now) and Events
 * (the alarm and audit log, filtered and paged).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certmon/monitor.h"
#include "certmon/outbox.h"
#include "certmon/service.h"
#include "certmon/settings.h"
#include "web.h"

/* ---- Network Services ------------------------------------------------------------ */

static const char *const service_names[] = {CM_SERVICE_EXPIRY,
    CM_SERVICE_REVOCATION};

static void
service_button(struct page *p, const char *name, const char *action,
    const char *label, int disabled, const char *cls)
{
	h_printf(&p->h, "<form method=\"post\" action=\"/services/%s/%s\" "
	    "class=\"inline-form\">", name, action);
	h_csrf(p);
	h_printf(&p->h, "<button type=\"submit\" class=\"btn %s\"%s>%s<span "
	    "class=\"visually-hidden\"> %s</span></button></form>", cls,
	    disabled ? " disabled" : "", label, cm_service_display_name(name));
}

static enum MHD_Result
services_page(struct page *p)
{
	struct daemon_ctx *d = p->r->d;
	struct html *h = &p->h;
	struct cm_err err = {CM_OK, ""};
	cm_time now = daemon_now(d);

	page_begin(p, "Network Services", "services");
	h_raw(h, "<h1>Network Services</h1>\n<p class=\"lead\">Starting or "
	    "restarting a service restarts its 24-hour cycle; a service whose "
	    "last run is more than a day old runs at once.</p>\n");
	h_raw(h, "<div class=\"table-wrap\" role=\"region\" aria-labelledby="
	    "\"svc-caption\" tabindex=\"0\"><table class=\"data services\">\n"
	    "<caption id=\"svc-caption\">Services</caption>\n<thead><tr><th "
	    "scope=\"col\">Service</th><th scope=\"col\">State</th><th "
	    "scope=\"col\">Last (re)start</th><th scope=\"col\">Last run</th>"
	    "<th scope=\"col\">Next run</th><th scope=\"col\">Last result</th>"
	    "<th scope=\"col\">Actions</th></tr></thead>\n<tbody>\n");
	for (size_t i = 0; i < 2; i++) {
		struct cm_service svc;
		struct cm_monitor_status ms;
		char a[40], b[40], c[40];
		cm_time next;

		if (cm_store_service_get(d->st, service_names[i], &svc, &err) !=
		    CM_OK)
			continue;
		next = svc.next_run;
		if (strcmp(service_names[i], CM_SERVICE_EXPIRY) == 0 &&
		    cm_monitor_status(d->st, now, &ms, &err) == CM_OK)
			next = ms.next_run;
		h_printf(h, "<tr id=\"svc-%s\"><th scope=\"row\">%s</th><td "
		    "data-label=\"State\"><span class=\"badge badge-%s\">%s</span>"
		    "</td><td class=\"nowrap\" data-label=\"Last (re)start\">%s</td>"
		    "<td class=\"nowrap\" data-label=\"Last run\">%s</td><td "
		    "class=\"nowrap\" data-label=\"Next run\">%s%s</td><td "
		    "class=\"result\" data-label=\"Last result\">%s</td><td "
		    "class=\"row-actions nowrap\">", service_names[i],
		    cm_service_display_name(service_names[i]), svc.running ?
		    "running" : "stopped", svc.running ? "Running" : "Stopped",
		    web_time(svc.started_at, a, sizeof(a)), web_time(svc.last_run, b,
		    sizeof(b)), !svc.running ? "—" : next == 0 ? "not scheduled" :
		    web_time(next, c, sizeof(c)),
		    svc.running && next != 0 && next <= now ? " (due now)" : "",
		    svc.last_result[0] ? svc.last_result : "—");
		service_button(p, service_names[i], "start", "Start", svc.running,
		    "btn-small");
		service_button(p, service_names[i], "stop", "Stop", !svc.running,
		    "btn-small");
		service_button(p, service_names[i], "restart", "Restart", 0,
		    "btn-small");
		h_raw(h, "</td></tr>\n");
	}
	h_raw(h, "</tbody></table></div>\n");
	page_end(p);
	return page_send(p, 200);
}

static enum MHD_Result
service_post(struct page *p, const char *name, const char *action)
{
	struct daemon_ctx *d = p->r->d;
	struct cm_err err = {CM_OK, ""};
	enum cm_service_action act;
	const char *key = cm_service_resolve(name), *done;

	if (key == NULL)
		return web_error_page(p, 404, "Unknown service", "There is no "
		    "service %.60s.", name);
	if (strcmp(action, "start") == 0) {
		act = CM_SERVICE_START;
		done = "started";
	} else if (strcmp(action, "stop") == 0) {
		act = CM_SERVICE_STOP;
		done = "stopped";
	} else if (strcmp(action, "restart") == 0) {
		act = CM_SERVICE_RESTART;
		done = "restarted";
	} else
		return web_error_page(p, 404, "Unknown action", "Use Start, Stop "
		    "or Restart.");
	if (cm_service_control(d->st, key, act, web_actor(p), daemon_now(d),
	    &err) != CM_OK)
		flash_msg(p->s, 1, "%s: %s", cm_service_display_name(key), err.msg);
	else {
		d->reschedule = 1;
		flash_msg(p->s, 0, "%s %s.", cm_service_display_name(key), done);
	}
	return web_redirect(p->r, "/services", NULL);
}

enum MHD_Result
web_services(struct page *p)
{
	char path[200], *slash;

	if (strcmp(p->path, "/services") == 0 && p->f == NULL)
		return services_page(p);
	if (p->f != NULL && strlen(p->path) < sizeof(path) &&
	    strncmp(p->path, "/services/", 10) == 0) {
		snprintf(path, sizeof(path), "%s", p->path + 10);
		if ((slash = strchr(path, '/')) != NULL) {
			*slash = '\0';
			return service_post(p, path, slash + 1);
		}
	}
	return web_error_page(p, 404, "Page not found", "There is no page at "
	    "%.200s.", p->path);
}

/* ---- Mail Queue ------------------------------------------------------------------- */

struct mailq {
	struct page *p;
	int n;
};

static int
mail_row(const struct cm_outbox_msg *m, void *arg)
{
	struct mailq *mq = arg;
	struct html *h = &mq->p->h;
	char a[40], b[40];

	mq->n++;
	h_printf(h, "<tr><td><span class=\"badge badge-mail-%s\">%s</span></td>"
	    "<td class=\"nowrap\">%s</td><td class=\"subject\">%s</td><td>"
	    "<ul class=\"plain\">", m->state, m->state, web_time(m->created_at, a,
	    sizeof(a)), m->subject);
	for (const char *r = m->recipients; r != NULL && *r != '\0';) {
		size_t n = strcspn(r, ";");

		h_printf(h, "<li>%.*s</li>", (int)n, r);
		r += n;
		if (*r == ';')
			r++;
	}
	h_printf(h, "</ul></td><td class=\"num\">%d</td><td class=\"nowrap\">%s"
	    "</td><td class=\"message\">%s</td></tr>\n", m->attempts,
	    strcmp(m->state, "sent") == 0 ?
	    web_time(m->sent_at, b, sizeof(b)) : web_time(m->next_attempt_at, b,
	    sizeof(b)), m->last_error ? m->last_error : "—");
	return 0;
}

static enum MHD_Result
mail_page(struct page *p)
{
	struct daemon_ctx *d = p->r->d;
	struct html *h = &p->h;
	struct mailq mq = {p, 0};
	struct cm_err err = {CM_OK, ""};
	const char *all = req_query(p->r, "all");
	int show_all = all != NULL && strcmp(all, "1") == 0;

	page_begin(p, "Mail Queue", "mail");
	h_raw(h, "<div class=\"page-head\"><h1>Mail Queue</h1><div "
	    "class=\"page-actions\"><form method=\"post\" action=\"/mail/deliver\" "
	    "class=\"inline-form\">");
	h_csrf(p);
	h_raw(h, "<button type=\"submit\" class=\"btn btn-primary\">Deliver now"
	    "</button></form></div></div>\n<p class=\"lead\">Notification mail "
	    "waits here until the mail server accepts it; failures are retried "
	    "with a growing delay.</p>\n");
	h_printf(h, "<p><a href=\"/mail%s\">%s</a></p>\n", show_all ? "" :
	    "?all=1", show_all ? "Show only mail waiting to be sent" :
	    "Also show sent mail");
	h_raw(h, "<div class=\"table-wrap\" role=\"region\" aria-labelledby="
	    "\"mail-caption\" tabindex=\"0\"><table class=\"data\">\n<caption "
	    "id=\"mail-caption\">Messages</caption>\n<thead><tr><th scope=\"col\">"
	    "State</th><th scope=\"col\">Queued</th><th scope=\"col\">Subject"
	    "</th><th scope=\"col\">Recipients</th><th scope=\"col\" "
	    "class=\"num\">Attempts</th><th scope=\"col\">Next attempt / sent"
	    "</th><th scope=\"col\">Last error</th></tr></thead>\n<tbody>\n");
	if (cm_store_outbox_list(d->st, 0, show_all, mail_row, &mq, &err) !=
	    CM_OK)
		h_printf(h, "<tr><td colspan=\"7\">%s</td></tr>\n", err.msg);
	else if (mq.n == 0)
		h_raw(h, "<tr><td colspan=\"7\" class=\"empty\">The queue is empty."
		    "</td></tr>\n");
	h_raw(h, "</tbody></table></div>\n");
	page_end(p);
	return page_send(p, 200);
}

static enum MHD_Result
mail_deliver(struct page *p)
{
	struct daemon_ctx *d = p->r->d;
	struct cm_monitor_settings ms;
	struct cm_smtp_settings ss;
	struct cm_outbox_result res;
	struct cm_err err = {CM_OK, ""};

	if (cm_monitor_settings_load(d->st, &ms, &err) == CM_OK &&
	    cm_smtp_settings_load(d->st, &ss, &err) == CM_OK &&
	    cm_smtp_settings_check(&ss, &err) != CM_OK)
		flash_msg(p->s, 1, "SMTP is not usable: %s", err.msg);
	else if (err.code != CM_OK ||
	    cm_outbox_deliver(d->st, &ss, &ms, daemon_now(d), web_actor(p),
	    &res, &err) != CM_OK)
		flash_msg(p->s, 1, "Not delivered: %s", err.msg);
	else {
		d->count.mail_sent += (uint64_t)res.sent;
		d->count.mail_failed += (uint64_t)res.failed;
		d->reschedule = 1;
		flash_msg(p->s, res.failed > 0, "%d attempted, %d sent, %d failed%s%s",
		    res.attempted, res.sent, res.failed, res.last_error[0] ? ": " :
		    ".", res.last_error);
	}
	return web_redirect(p->r, "/mail", NULL);
}

enum MHD_Result
web_mail(struct page *p)
{
	if (strcmp(p->path, "/mail") == 0 && p->f == NULL)
		return mail_page(p);
	if (strcmp(p->path, "/mail/deliver") == 0 && p->f != NULL)
		return mail_deliver(p);
	return web_error_page(p, 404, "Page not found", "There is no page at "
	    "%.200s.", p->path);
}

/* ---- Events ------------------------------------------------------------------------- */

#define EVENTS_PAGE 50

struct evq {
	struct html *h;
	int n;
	int64_t last_id;
};

static int
ev_row(const struct cm_event *ev, void *arg)
{
	struct evq *q = arg;
	char a[40], unitq[200];

	q->n++;
	q->last_id = ev->id;
	h_printf(q->h, "<tr><td class=\"nowrap\">%s</td><td><span class=\"tag "
	    "tag-%s\">%s</span></td><td>%s</td><td class=\"nowrap\">%s</td><td>",
	    web_time_sec(ev->at, a, sizeof(a)), ev->kind, ev->kind, ev->name,
	    ev->actor);
	if (ev->unit != NULL && ev->fingerprint != NULL)
		h_printf(q->h, "<a href=\"/certs/%s/%s\">%s</a>", url_enc(ev->unit,
		    unitq, sizeof(unitq)), ev->fingerprint, ev->unit);
	else if (ev->unit != NULL)
		h_printf(q->h, "%s", ev->unit);
	h_printf(q->h, "</td><td class=\"message\">%s</td></tr>\n", ev->message ?
	    ev->message : "");
	return 0;
}

static enum MHD_Result
events_page(struct page *p)
{
	struct request *r = p->r;
	struct html *h = &p->h;
	struct cm_event_filter f;
	struct cm_err err = {CM_OK, ""};
	struct evq q = {&p->h, 0, 0};
	const char *kind = req_query(r, "kind"), *name = req_query(r, "name"),
	    *before = req_query(r, "before");
	char kq[40], nq[200];

	memset(&f, 0, sizeof(f));
	if (kind != NULL && (strcmp(kind, "audit") == 0 || strcmp(kind,
	    "alarm") == 0))
		f.kind = kind;
	else
		kind = NULL;
	if (name != NULL && name[0] != '\0')
		f.name = name;
	if (before != NULL)
		f.before_id = strtoll(before, NULL, 10);
	if (f.before_id < 0)
		f.before_id = 0;
	f.limit = EVENTS_PAGE;
	page_begin(p, "Events", "events");
	h_raw(h, "<h1>Events</h1>\n<p class=\"lead\">Alarms (expiry, revocation, "
	    "mail delivery) and the audit log of every change, newest first."
	    "</p>\n");
	h_raw(h, "<form class=\"filters\" method=\"get\" action=\"/events\" "
	    "role=\"search\" aria-label=\"Filter events\">\n");
	h_printf(h, "<div class=\"field\"><label for=\"f-kind\">Kind</label>"
	    "<select id=\"f-kind\" name=\"kind\"><option value=\"\"%s>Alarms and "
	    "audit</option><option value=\"alarm\"%s>Alarms</option><option "
	    "value=\"audit\"%s>Audit</option></select></div>\n", kind == NULL ?
	    " selected" : "", kind && strcmp(kind, "alarm") == 0 ? " selected" :
	    "", kind && strcmp(kind, "audit") == 0 ? " selected" : "");
	h_printf(h, "<div class=\"field field-grow\"><label for=\"f-name\">Event "
	    "name</label><input id=\"f-name\" name=\"name\" type=\"text\" "
	    "value=\"%s\" placeholder=\"e.g. CertExpired, cert.added\" "
	    "spellcheck=\"false\"></div>\n", f.name ? f.name : "");
	h_raw(h, "<div class=\"filter-actions\"><button type=\"submit\" "
	    "class=\"btn\">Apply</button> <a class=\"btn btn-ghost\" "
	    "href=\"/events\">Reset</a></div>\n</form>\n");
	h_raw(h, "<div class=\"table-wrap\" role=\"region\" aria-labelledby="
	    "\"ev-caption\" tabindex=\"0\"><table class=\"data events\">\n"
	    "<caption id=\"ev-caption\">Events</caption>\n<thead><tr><th "
	    "scope=\"col\">When</th><th scope=\"col\">Kind</th><th scope=\"col\">"
	    "Event</th><th scope=\"col\">By</th><th scope=\"col\">Unit</th><th "
	    "scope=\"col\">Message</th></tr></thead>\n<tbody>\n");
	if (cm_store_event_list(r->d->st, &f, ev_row, &q, &err) != CM_OK)
		h_printf(h, "<tr><td colspan=\"6\">%s</td></tr>\n", err.msg);
	else if (q.n == 0)
		h_raw(h, "<tr><td colspan=\"6\" class=\"empty\">No events.</td>"
		    "</tr>\n");
	h_raw(h, "</tbody></table></div>\n<nav class=\"pager\" "
	    "aria-label=\"Pages\">");
	url_enc(kind ? kind : "", kq, sizeof(kq));
	url_enc(f.name ? f.name : "", nq, sizeof(nq));
	if (f.before_id > 0)
		h_printf(h, "<a class=\"btn\" href=\"/events?kind=%s&amp;name=%s\">"
		    "Newest</a>", kq, nq);
	if (q.n == EVENTS_PAGE)
		h_printf(h, "<a class=\"btn\" rel=\"next\" href=\"/events?kind=%s"
		    "&amp;name=%s&amp;before=%lld\">Older →</a>", kq, nq,
		    (long long)q.last_id);
	h_raw(h, "</nav>\n");
	page_end(p);
	return page_send(p, 200);
}

enum MHD_Result
web_events(struct page *p)
{
	if (strcmp(p->path, "/events") == 0 && p->f == NULL)
		return events_page(p);
	return web_error_page(p, 404, "Page not found", "There is no page at "
	    "%.200s.", p->path);
}
