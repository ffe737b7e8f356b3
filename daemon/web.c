/*
 * web.c - the web admin's front door: routing, login and logout, the
 * static assets, and the dashboard.
 *
 * Every page but /login and /static/... needs a logged-in session; a GET
 * without one is sent to /login, a POST is refused. Every POST must carry
 * the session's CSRF token (403 otherwise) and answers 303 See Other (Post/
 * Redirect/Get), its outcome travelling in the session's one-shot flash.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "certmon/auth.h"
#include "certmon/expiry.h"
#include "certmon/service.h"
#include "certmon/settings.h"
#include "web.h"

#define ADMIN_USER "admin"
#define ACCOUNT_KEY "account:" ADMIN_USER

int
web_start_days(struct daemon_ctx *d)
{
	struct cm_monitor_settings ms;
	struct cm_err err;

	if (cm_monitor_settings_load(d->st, &ms, &err) != CM_OK)
		return CM_MONITOR_START_DAYS_DEFAULT;
	return ms.start_days;
}

const char *
web_actor(struct page *p)
{
	snprintf(p->r->who, sizeof(p->r->who), "web:%s", p->s != NULL &&
	    p->s->user[0] ? p->s->user : "anonymous");
	return p->r->who;
}

/* The client's address as text. */
static void
client_ip(struct request *r, char *buf, size_t len)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn,
	    MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci != NULL ? ci->client_addr : NULL;

	snprintf(buf, len, "unknown");
	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->
		    sin_addr, buf, (socklen_t)len);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)
		    sa)->sin6_addr, buf, (socklen_t)len);
}

static void
audit(struct daemon_ctx *d, const char *name, const char *actor,
    const char *msg)
{
	struct cm_event ev;
	struct cm_err err;

	memset(&ev, 0, sizeof(ev));
	ev.at = daemon_now(d);
	ev.kind = "audit";
	ev.name = name;
	ev.actor = actor;
	ev.message = msg;
	if (cm_store_event_add(d->st, &ev, &err) != CM_OK)
		daemon_log(LOG_WARNING, "web: cannot record %s: %s", name, err.msg);
}

/* A local path to go back to after the login, or "/". */
static const char *
safe_next(const char *next)
{
	if (next == NULL || next[0] != '/' || next[1] == '/' || next[1] == '\\' ||
	    strpbrk(next, "\r\n") != NULL || strlen(next) > 200)
		return "/";
	return next;
}

/* ---- login ---------------------------------------------------------------------- */

static int
password_set(struct daemon_ctx *d)
{
	char *v = NULL;
	struct cm_err err;
	int set;

	if (cm_store_setting_get(d->st, "admin.password_hash", &v, &err) != CM_OK)
		return 0;
	set = v != NULL && v[0] != '\0';
	free(v);
	return set;
}

static enum MHD_Result
login_page(struct page *p)
{
	const char *next = safe_next(req_query(p->r, "next"));
	const char *user;
	struct html *h = &p->h;

	if (p->s != NULL && p->s->authed)
		return web_redirect(p->r, next, NULL);
	if (p->s == NULL) {
		if ((p->s = session_new(0, NULL)) == NULL)
			return reply_error(p->r, 500, "no random numbers");
		session_cookie(p->r, p->s, p->cookie, sizeof(p->cookie));
	}
	page_begin(p, "Log in", NULL);
	h_raw(h, "<div class=\"login-card\">\n<h1>Log in to certmon</h1>\n"
	    "<p class=\"lead\">Certificate administration for this server.</p>\n");
	if (!password_set(p->r->d)) {
		h_printf(h, "<div class=\"notice\" role=\"note\"><h2>No password is "
		    "set yet</h2><p>Set the password of the <strong>admin</strong> "
		    "account on the server, then reload this page:</p>"
		    "<pre><code>certmon --db %s admin passwd</code></pre></div>\n",
		    p->r->d->db_path);
	}
	user = flash_get_value(p->s, "login", "user");
	h_raw(h, "<form method=\"post\" action=\"/login\" class=\"form\">\n");
	h_csrf(p);
	h_printf(h, "<input type=\"hidden\" name=\"next\" value=\"%s\">\n", next);
	h_printf(h, "<div class=\"field\"><label for=\"f-user\">User name</label>"
	    "<input id=\"f-user\" name=\"user\" type=\"text\" value=\"%s\" "
	    "autocomplete=\"username\" autocapitalize=\"none\" spellcheck=\"false\" "
	    "required></div>\n", user ? user : ADMIN_USER);
	h_raw(h, "<div class=\"field\"><label for=\"f-password\">Password</label>"
	    "<input id=\"f-password\" name=\"password\" type=\"password\" "
	    "autocomplete=\"current-password\" required autofocus></div>\n"
	    "<div class=\"actions\"><button type=\"submit\" class=\"btn "
	    "btn-primary btn-block\">Log in</button></div>\n</form>\n");
	h_raw(h, "<p class=\"hint\">Sessions end after 30 minutes without "
	    "activity, and after 8 hours in any case.</p>\n</div>\n");
	page_end(p);
	return page_send(p, 200);
}

static enum MHD_Result
login_post(struct page *p)
{
	const char *user = form_get(p->f, "user"), *pw = form_get(p->f,
	    "password"), *next = safe_next(form_get(p->f, "next"));
	char ip[64], ipkey[80], msg[200], cookie[200], again[700], enc[600];
	char *stored = NULL;
	long long wait;
	struct cm_err err;
	struct session *ns;
	int ok;

	client_ip(p->r, ip, sizeof(ip));
	snprintf(ipkey, sizeof(ipkey), "ip:%s", ip);
	if (strcmp(next, "/") == 0)
		snprintf(again, sizeof(again), "/login");
	else
		snprintf(again, sizeof(again), "/login?next=%s", url_enc(next, enc,
		    sizeof(enc)));
	if (p->s == NULL || !session_csrf_ok(p->s, form_get(p->f, "csrf"))) {
		/* the login form's session expired (or never was): start over */
		if ((ns = session_new(0, NULL)) == NULL)
			return reply_error(p->r, 500, "no random numbers");
		flash_msg(ns, 1, "The login form had expired. Please log in again.");
		session_cookie(p->r, ns, cookie, sizeof(cookie));
		return web_redirect(p->r, "/login", cookie);
	}
	flash_clear(&p->s->flash);
	flash_form(p->s, "login");
	flash_value(p->s, "user", user ? user : "");
	if ((wait = throttle_locked(ipkey)) > 0 ||
	    (wait = throttle_locked(ACCOUNT_KEY)) > 0) {
		flash_msg(p->s, 1, "Too many failed logins. Try again in %lld "
		    "minute%s.", (wait + 59) / 60, (wait + 59) / 60 == 1 ? "" : "s");
		snprintf(msg, sizeof(msg), "login refused from %s: locked out after "
		    "repeated failures", ip);
		audit(p->r->d, "web.login_locked", "web", msg);
		return web_redirect(p->r, again, NULL);
	}
	if (cm_store_setting_get(p->r->d->st, "admin.password_hash", &stored,
	    &err) != CM_OK) {
		flash_msg(p->s, 1, "Cannot read the password: %s", err.msg);
		return web_redirect(p->r, again, NULL);
	}
	ok = user != NULL && pw != NULL && strcmp(user, ADMIN_USER) == 0 &&
	    stored != NULL && cm_auth_password_verify(pw, stored);
	free(stored);
	if (!ok) {
		throttle_fail(ipkey);
		throttle_fail(ACCOUNT_KEY);
		flash_msg(p->s, 1, "Wrong user name or password.");
		snprintf(msg, sizeof(msg), "failed login as '%.40s' from %s",
		    user ? user : "", ip);
		audit(p->r->d, "web.login_failed", "web", msg);
		return web_redirect(p->r, again, NULL);
	}
	throttle_reset(ipkey);
	throttle_reset(ACCOUNT_KEY);
	/* a new session id at login: no session fixation */
	session_end(p->s);
	p->s = NULL;
	if ((ns = session_new(1, ADMIN_USER)) == NULL)
		return reply_error(p->r, 500, "no random numbers");
	snprintf(msg, sizeof(msg), "logged in from %s", ip);
	audit(p->r->d, "web.login", "web:" ADMIN_USER, msg);
	session_cookie(p->r, ns, cookie, sizeof(cookie));
	return web_redirect(p->r, next, cookie);
}

static enum MHD_Result
logout_post(struct page *p)
{
	char cookie[200];
	struct session *ns;

	audit(p->r->d, "web.logout", web_actor(p), "logged out");
	session_end(p->s);
	p->s = NULL;
	if ((ns = session_new(0, NULL)) != NULL) {
		flash_msg(ns, 0, "You have logged out.");
		session_cookie(p->r, ns, cookie, sizeof(cookie));
	} else
		session_cookie(p->r, NULL, cookie, sizeof(cookie));
	return web_redirect(p->r, "/login", cookie);
}

/* ---- static assets ----------------------------------------------------------------- */

static enum MHD_Result
asset(struct request *r)
{
	for (const struct web_asset *a = web_assets; a->path != NULL; a++)
		if (strcmp(a->path, r->url) == 0) {
			char *body = malloc(a->len + 1);

			if (body == NULL)
				return MHD_NO;
			memcpy(body, a->data, a->len);
			return reply_text(r, 200, a->type, body, a->len);
		}
	return reply_text(r, 404, "text/plain; charset=utf-8",
	    strdup("not found\n"), 10);
}

/* ---- dashboard ------------------------------------------------------------------------ */

struct dash {
	int64_t by_state[4];
	int64_t revoked;
	int64_t total;
};

static int
dash_stat(const struct cm_cert_stat *s, void *arg)
{
	struct dash *d = arg;

	d->by_state[s->state] += s->count;
	d->total += s->count;
	if (s->revocation != NULL && strcmp(s->revocation, "revoked") == 0)
		d->revoked += s->count;
	return 0;
}

#define WEEKS 13

struct upcoming {
	cm_time now;
	int start;
	int64_t bins[WEEKS][3];   /* valid, expiring, critical */
	struct html *list;
	int listed;
};

static int
upcoming_row(const struct cm_cert_row *r, void *arg)
{
	struct upcoming *u = arg;
	enum cm_expiry_state st = cm_expiry_state(r->not_after, u->now, u->start);
	int64_t week = (r->not_after - u->now) / (7 * CM_DAY);
	char fpq[80], unitq[200], when[40];

	if (st == CM_STATE_EXPIRED)
		return 0;
	if (week >= WEEKS)
		week = WEEKS - 1;
	u->bins[week][st == CM_STATE_CRITICAL ? 2 : st == CM_STATE_EXPIRING ?
	    1 : 0]++;
	if (u->listed < 8) {
		u->listed++;
		h_printf(u->list, "<tr><td class=\"cn\"><a href=\"/certs/%s/%s\">%s"
		    "</a></td><td>%s</td><td class=\"nowrap\"><time title=\"%s\">"
		    "%.10s</time></td><td class=\"num\">%lld</td><td>",
		    url_enc(r->unit, unitq, sizeof(unitq)),
		    url_enc(r->fingerprint, fpq, sizeof(fpq)),
		    r->subject_cn[0] ? r->subject_cn : "(no common name)", r->unit,
		    web_time(r->not_after, when, sizeof(when)), when,
		    (long long)cm_expiry_days_left(r->not_after, u->now));
		h_state_badge(u->list, cm_expiry_state_name(st));
		h_raw(u->list, "</td></tr>\n");
	}
	return 0;
}

/* A round upper bound for the chart's axis. */
static int64_t
nice_max(int64_t v)
{
	static const int64_t steps[] = {4, 8, 10, 20, 40, 50, 100, 200, 400, 500,
	    1000, 2000, 4000, 5000, 10000, 20000, 50000, 100000};

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (v <= steps[i])
			return steps[i];
	return ((v / 100000) + 1) * 100000;
}

/* The chart of upcoming expiries, as inline SVG drawn here (attributes and
 * classes only: the CSP allows no inline style). */
static void
expiry_chart(struct html *h, const struct upcoming *u)
{
	static const char *const cls[] = {"bar-valid", "bar-expiring",
	    "bar-critical"};
	const int W = 760, H = 280, L = 48, R = 12, T = 16, B = 48;
	const double bw = (double)(W - L - R) / WEEKS;
	int64_t max = 0, total = 0, axis;
	char label[40];

	for (int w = 0; w < WEEKS; w++) {
		int64_t s = u->bins[w][0] + u->bins[w][1] + u->bins[w][2];

		total += s;
		if (s > max)
			max = s;
	}
	axis = nice_max(max);
	h_printf(h, "<figure class=\"chart\">\n<div class=\"chart-scroll\">"
	    "<svg viewBox=\"0 0 %d %d\" "
	    "role=\"img\" aria-labelledby=\"chart-title chart-desc\" "
	    "preserveAspectRatio=\"xMidYMid meet\">\n<title id=\"chart-title\">"
	    "Certificates expiring in the next 90 days, by week</title>\n"
	    "<desc id=\"chart-desc\">%lld certificate%s expire%s within 90 days. "
	    "Bars show each week's count, coloured by state.</desc>\n", W, H,
	    (long long)total, total == 1 ? "" : "s", total == 1 ? "s" : "");
	/* grid and y axis */
	for (int i = 0; i <= 4; i++) {
		double y = T + (double)(H - T - B) * (4 - i) / 4.0;

		h_printf(h, "<line class=\"grid\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" "
		    "y2=\"%.1f\"/><text class=\"axis\" x=\"%d\" y=\"%.1f\" "
		    "text-anchor=\"end\">%lld</text>\n", L, W - R, y, y, L - 8, y + 4,
		    (long long)(axis * i / 4));
	}
	for (int w = 0; w < WEEKS; w++) {
		double x = L + bw * w + bw * 0.15, width = bw * 0.7;
		double base = H - B;
		int64_t sum = 0;
		cm_time from = u->now + (cm_time)w * 7 * CM_DAY;
		struct tm tm;
		time_t tt = (time_t)from;

		for (int k = 0; k < 3; k++) {
			double hgt;

			if (u->bins[w][k] == 0)
				continue;
			hgt = (double)(H - T - B) * (double)u->bins[w][k] / (double)axis;
			base -= hgt;
			h_printf(h, "<rect class=\"%s\" x=\"%.1f\" y=\"%.1f\" "
			    "width=\"%.1f\" height=\"%.1f\" rx=\"2\"><title>%lld %s"
			    "</title></rect>\n", cls[k], x, base, width, hgt,
			    (long long)u->bins[w][k], k == 0 ? "valid" : k == 1 ?
			    "expiring" : "critical");
			sum += u->bins[w][k];
		}
		if (sum > 0)
			h_printf(h, "<text class=\"value\" x=\"%.1f\" y=\"%.1f\" "
			    "text-anchor=\"middle\">%lld</text>\n", x + width / 2,
			    base - 5, (long long)sum);
		gmtime_r(&tt, &tm);
		strftime(label, sizeof(label), "%b %d", &tm);
		if (w % 2 == 0)
			h_printf(h, "<text class=\"axis\" x=\"%.1f\" y=\"%d\" "
			    "text-anchor=\"middle\">%s</text>\n", x + width / 2,
			    H - B + 18, label);
	}
	h_printf(h, "<line class=\"baseline\" x1=\"%d\" x2=\"%d\" y1=\"%d\" "
	    "y2=\"%d\"/>\n<text class=\"axis-title\" x=\"%d\" y=\"%d\" "
	    "text-anchor=\"middle\">Week starting (UTC)</text>\n</svg></div>\n", L,
	    W - R, H - B, H - B, (L + W - R) / 2, H - 8);
	h_raw(h, "<figcaption class=\"legend\"><span class=\"key key-valid\">"
	    "</span>Valid <span class=\"key key-expiring\"></span>Expiring "
	    "<span class=\"key key-critical\"></span>Critical (1 day or less)"
	    "</figcaption>\n</figure>\n");
}

enum MHD_Result
web_dashboard(struct page *p)
{
	static const char *const names[] = {"valid", "expiring", "critical",
	    "expired"};
	struct daemon_ctx *d = p->r->d;
	struct dash ds;
	struct upcoming u;
	struct cm_cert_filter f;
	struct cm_err err = {CM_OK, ""};
	struct html list = {NULL, 0, 0, 0};
	struct html *h = &p->h;
	cm_time now = daemon_now(d);
	static const char *const svcs[] = {CM_SERVICE_EXPIRY,
	    CM_SERVICE_REVOCATION};

	memset(&ds, 0, sizeof(ds));
	memset(&u, 0, sizeof(u));
	u.now = now;
	u.start = web_start_days(d);
	u.list = &list;
	if (cm_store_cert_stats(d->st, now, u.start, dash_stat, &ds, &err) !=
	    CM_OK)
		return web_error_page(p, 503, "Store error", "%s", err.msg);
	memset(&f, 0, sizeof(f));
	f.not_after_min = now;
	f.not_after_max = now + 90 * CM_DAY;
	if (cm_store_cert_list(d->st, &f, upcoming_row, &u, &err) != CM_OK) {
		h_free(&list);
		return web_error_page(p, 503, "Store error", "%s", err.msg);
	}
	page_begin(p, "Dashboard", "dashboard");
	h_raw(h, "<h1>Dashboard</h1>\n<section aria-labelledby=\"cards-h\">\n"
	    "<h2 id=\"cards-h\" class=\"visually-hidden\">Certificates by state"
	    "</h2>\n<ul class=\"cards\">\n");
	h_printf(h, "<li class=\"card card-total\"><a href=\"/certs\"><span "
	    "class=\"card-num\">%lld</span><span class=\"card-label\">"
	    "Certificates</span></a></li>\n", (long long)ds.total);
	for (int i = 0; i < 4; i++)
		h_printf(h, "<li class=\"card card-%s\"><a href=\"/certs?state=%s\">"
		    "<span class=\"card-num\">%lld</span><span class=\"card-label\">"
		    "%c%s</span></a></li>\n", names[i], names[i],
		    (long long)ds.by_state[i], names[i][0] - 32, names[i] + 1);
	h_printf(h, "<li class=\"card card-revoked\"><a href=\"/certs?state="
	    "revoked\"><span class=\"card-num\">%lld</span><span "
	    "class=\"card-label\">Revoked</span></a></li>\n</ul>\n</section>\n",
	    (long long)ds.revoked);
	h_raw(h, "<div class=\"grid-2\">\n<section class=\"panel panel-wide\" "
	    "aria-labelledby=\"chart-h\">\n<h2 id=\"chart-h\">Upcoming expiries "
	    "<span class=\"muted\">next 90 days</span></h2>\n");
	expiry_chart(h, &u);
	h_raw(h, "</section>\n<section class=\"panel\" aria-labelledby=\"svc-h\">"
	    "\n<h2 id=\"svc-h\">Services</h2>\n<ul class=\"svc-list\">\n");
	for (size_t i = 0; i < 2; i++) {
		struct cm_service svc;
		char when[40];

		if (cm_store_service_get(d->st, svcs[i], &svc, &err) != CM_OK)
			continue;
		h_printf(h, "<li><span class=\"svc-name\">%s</span> <span "
		    "class=\"badge badge-%s\">%s</span><span class=\"svc-meta\">"
		    "Last run: %s</span></li>\n", cm_service_display_name(svcs[i]),
		    svc.running ? "running" : "stopped", svc.running ? "Running" :
		    "Stopped", web_time(svc.last_run, when, sizeof(when)));
	}
	h_raw(h, "</ul>\n<p><a href=\"/services\">Manage services</a></p>\n"
	    "</section>\n</div>\n");
	h_raw(h, "<section class=\"panel\" aria-labelledby=\"next-h\">\n"
	    "<h2 id=\"next-h\">Next to expire</h2>\n");
	if (u.listed == 0)
		h_raw(h, "<p class=\"empty\">No certificate expires in the next 90 "
		    "days.</p>\n");
	else {
		h_raw(h, "<div class=\"table-wrap\"><table class=\"data\">\n<thead>"
		    "<tr><th scope=\"col\">Common name</th><th scope=\"col\">Unit"
		    "</th><th scope=\"col\">Expires</th><th scope=\"col\" "
		    "class=\"num\">Days left</th><th scope=\"col\">State</th></tr>"
		    "</thead>\n<tbody>\n");
		h_raw(h, list.buf);
		h_raw(h, "</tbody></table></div>\n<p><a href=\"/certs\">All "
		    "certificates</a></p>\n");
	}
	h_raw(h, "</section>\n");
	h_free(&list);
	page_end(p);
	return page_send(p, 200);
}

/* ---- routing ------------------------------------------------------------------------------- */

static int
prefix(const char *path, const char *pre)
{
	size_t n = strlen(pre);

	return strncmp(path, pre, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

enum MHD_Result
web_handle(struct request *r)
{
	struct page p;
	struct form f;
	enum MHD_Result ret;
	int post = strcmp(r->method, "POST") == 0;
	int get = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
	char loc[600], enc[520];

	memset(&p, 0, sizeof(p));
	memset(&f, 0, sizeof(f));
	p.r = r;
	p.path = r->url;
	if (strncmp(r->url, "/static/", 8) == 0 || strcmp(r->url,
	    "/favicon.ico") == 0) {
		if (strcmp(r->url, "/favicon.ico") == 0)
			return web_redirect(r, "/static/favicon.svg", NULL);
		return asset(r);
	}
	if (!get && !post)
		return reply_text(r, 405, "text/plain; charset=utf-8",
		    strdup("use GET or POST\n"), 16);
	p.s = session_get(r);
	if (r->too_big) {
		/* the body was dropped unread (so no CSRF token to check): only
		 * say so, change nothing */
		if (p.s != NULL && p.s->authed) {
			flash_msg(p.s, 1, "Not uploaded: the upload is larger than %d "
			    "MiB.", HTTP_BODY_MAX / (1024 * 1024));
			return web_redirect(r, "/certs/upload", NULL);
		}
		return web_error_page(&p, 413, "Too large", "The request is larger "
		    "than %d MiB.", HTTP_BODY_MAX / (1024 * 1024));
	}
	if (post) {
		form_read(r, &f);
		p.f = &f;
	}
	if (strcmp(r->url, "/login") == 0) {
		ret = post ? login_post(&p) : login_page(&p);
		goto out;
	}
	if (p.s == NULL || !p.s->authed) {
		if (post) {
			ret = web_error_page(&p, 403, "Not logged in", "Your session has "
			    "ended: log in again, then repeat what you did. Nothing was "
			    "changed.");
			goto out;
		}
		snprintf(loc, sizeof(loc), "/login?next=%s", url_enc(r->url, enc,
		    sizeof(enc)));
		ret = web_redirect(r, loc, NULL);
		goto out;
	}
	if (post && (f.bad || !session_csrf_ok(p.s, form_get(&f, "csrf")))) {
		ret = web_error_page(&p, 403, "Request refused", "This form was "
		    "refused: its security token is missing or out of date (CSRF "
		    "protection). Reload the page and try again. Nothing was "
		    "changed.");
		goto out;
	}
	if (post && f.too_big) {
		flash_msg(p.s, 1, "Not saved: a field is longer than allowed.");
		ret = web_redirect(r, "/", NULL);
		goto out;
	}
	if (strcmp(r->url, "/logout") == 0 && post)
		ret = logout_post(&p);
	else if (strcmp(r->url, "/") == 0 || strcmp(r->url, "/dashboard") == 0)
		ret = web_dashboard(&p);
	else if (prefix(r->url, "/certs"))
		ret = web_certs(&p);
	else if (prefix(r->url, "/units"))
		ret = web_units(&p);
	else if (prefix(r->url, "/monitor"))
		ret = web_monitor(&p);
	else if (prefix(r->url, "/revocation"))
		ret = web_revocation(&p);
	else if (prefix(r->url, "/params"))
		ret = web_params(&p);
	else if (prefix(r->url, "/services"))
		ret = web_services(&p);
	else if (prefix(r->url, "/mail"))
		ret = web_mail(&p);
	else if (prefix(r->url, "/events"))
		ret = web_events(&p);
	else
		ret = web_error_page(&p, 404, "Page not found", "There is no page "
		    "at %.200s.", r->url);
out:
	h_free(&p.h);
	form_free(&f);
	return ret;
}
