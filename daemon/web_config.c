/*
 * web_config.c - the settings pages: Certificate Monitor (with its SMTP
 * form, a run now and a dry-run preview), Certificate Revocation and
 * Enterprise Parameters.
 *
 * A POST validates every field; on a mistake nothing is saved and the
 * redirect back re-shows the form with the submitted values and each
 * field's error next to it (kept in the session's flash). Saving sets
 * d->reschedule so the running services pick the change up at once.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certmon/mail.h"
#include "certmon/monitor.h"
#include "certmon/settings.h"
#include "web.h"
#include "certmon/settings.h"

#define REFUSED "Settings not saved: correct the marked fields."

static int
checked(const struct form *f, const char *key)
{
	const char *v = form_get(f, key);

	return v != NULL && strcmp(v, "1") == 0;
}

/* Adds a field error (the first error of a refused form sets it up). */
static void
refuse(struct page *p, int *nerr, const char *form, const char *field,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void
refuse(struct page *p, int *nerr, const char *form, const char *field,
    const char *fmt, ...)
{
	char msg[CM_ERR_MSG_MAX + 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if ((*nerr)++ == 0)
		flash_refuse(p, form, REFUSED);
	flash_field_error(p->s, field, msg);
}

/* ---- Certificate Monitor ------------------------------------------------------ */

static void
monitor_status_panel(struct page *p)
{
	struct daemon_ctx *d = p->r->d;
	struct html *h = &p->h;
	struct cm_monitor_status ms;
	struct cm_err err = {CM_OK, ""};
	cm_time now = daemon_now(d);
	char a[40], b[40];

	if (cm_monitor_status(d->st, now, &ms, &err) != CM_OK) {
		h_printf(h, "<div class=\"flash flash-error\" role=\"alert\">%s</div>",
		    err.msg);
		return;
	}
	h_raw(h, "<section class=\"panel\" aria-labelledby=\"status-h\">\n<h2 "
	    "id=\"status-h\">Certificate Expiry Monitor service</h2>\n"
	    "<dl class=\"fields fields-compact\">\n");
	h_printf(h, "<div><dt>State</dt><dd><span class=\"badge badge-%s\">%s"
	    "</span></dd></div>\n", ms.svc.running ? "running" : "stopped",
	    ms.svc.running ? "Running" : "Stopped");
	h_printf(h, "<div><dt>Last run</dt><dd>%s</dd></div>\n",
	    web_time(ms.svc.last_run, a, sizeof(a)));
	if (ms.svc.running)
		h_printf(h, "<div><dt>Next run</dt><dd>%s%s</dd></div>\n",
		    web_time(ms.next_run, b, sizeof(b)), ms.next_run <= now ?
		    " (due now)" : "");
	h_printf(h, "<div><dt>Cadence</dt><dd>%s</dd></div>\n", ms.hourly ?
	    "hourly: a monitored certificate is critical or expired" :
	    "every 24 hours from the last (re)start");
	h_printf(h, "<div><dt>Mail queue</dt><dd><a href=\"/mail\">%lld pending, "
	    "%lld failed</a></dd></div>\n", (long long)ms.outbox_pending,
	    (long long)ms.outbox_failed);
	if (ms.svc.last_result[0])
		h_printf(h, "<div class=\"wide\"><dt>Last result</dt><dd>%s</dd>"
		    "</div>\n", ms.svc.last_result);
	h_raw(h, "</dl>\n<div class=\"actions\"><form method=\"post\" "
	    "action=\"/monitor/run\" class=\"inline-form\">");
	h_csrf(p);
	h_raw(h, "<button type=\"submit\" class=\"btn\">Run now</button></form> "
	    "<a class=\"btn btn-ghost\" href=\"/monitor/preview\">Preview (dry "
	    "run)</a></div>\n</section>\n");
}

static enum MHD_Result
monitor_page(struct page *p)
{
	struct daemon_ctx *d = p->r->d;
	struct html *h = &p->h;
	struct cm_monitor_settings ms;
	struct cm_smtp_settings ss;
	struct cm_err err = {CM_OK, ""};
	char num[16], port[16];
	const char *tls;

	if (cm_monitor_settings_load(d->st, &ms, &err) != CM_OK ||
	    cm_smtp_settings_load(d->st, &ss, &err) != CM_OK)
		return web_error_page(p, 503, "Store error", "%s", err.msg);
	page_begin(p, "Certificate Monitor", "monitor");
	h_raw(h, "<h1>Certificate Monitor</h1>\n<p class=\"lead\">Warns by "
	    "e-mail before certificates expire: once when a certificate enters "
	    "the notification window, then every Notification Frequency, and "
	    "again at each change of state.</p>\n");
	monitor_status_panel(p);

	h_raw(h, "<div class=\"grid-halves\">\n<section class=\"panel\" "
	    "aria-labelledby=\"mon-h\">\n<h2 "
	    "id=\"mon-h\">Notification settings</h2>\n<form method=\"post\" "
	    "action=\"/monitor\" class=\"form\" novalidate>\n");
	h_csrf(p);
	snprintf(num, sizeof(num), "%d", ms.start_days);
	field_text(p, "monitor", "start_days", "Notification Start Time",
	    "number", num, "Days before expiry when notifications begin "
	    "(1–365).", "min=\"1\" max=\"365\" step=\"1\" inputmode=\"numeric\" "
	    "class=\"input-short\"");
	field_duration(p, "monitor", "frequency", "Notification Frequency",
	    ms.frequency, 0, "How often a certificate is notified again "
	    "(1 hour – 30 days).");
	field_checkbox(p, "monitor", "email", "Enable E-mail notification",
	    ms.email_enabled, NULL);
	field_checkbox(p, "monitor", "lsc", "Enable LSC Monitoring",
	    ms.lsc_enabled, "Also monitor the devices' certificates (unit lsc).");
	field_text(p, "monitor", "emails", "E-mail IDs", "text", ms.emails,
	    "Addresses separated by ; (e.g. pki@example.com; oncall@example.com).",
	    "autocomplete=\"off\" spellcheck=\"false\" class=\"input-wide\"");
	h_raw(h, "<fieldset class=\"sub\"><legend>Mail delivery retries</legend>\n");
	field_duration(p, "monitor", "retry_cap", "Retry at most every",
	    ms.retry_cap, 1, "Failed mail is retried with a growing delay up to "
	    "this (1 minute – 1 day).");
	field_duration(p, "monitor", "give_up_after", "Give up after",
	    ms.give_up_after, 0, "Then the message is marked failed (1 hour – 30 "
	    "days).");
	h_raw(h, "</fieldset>\n<div class=\"actions\"><button type=\"submit\" "
	    "class=\"btn btn-primary\">Save</button></div>\n</form>\n"
	    "</section>\n");

	h_raw(h, "<section class=\"panel\" aria-labelledby=\"smtp-h\">\n<h2 "
	    "id=\"smtp-h\">SMTP server</h2>\n<form method=\"post\" "
	    "action=\"/monitor/smtp\" class=\"form\" novalidate>\n");
	h_csrf(p);
	field_text(p, "smtp", "host", "SMTP host", "text", ss.host, NULL,
	    "autocomplete=\"off\" spellcheck=\"false\"");
	snprintf(port, sizeof(port), "%d", ss.port);
	field_text(p, "smtp", "port", "Port", "number", ss.port ? port : "",
	    "Empty: 25, 587 or 465 by the security mode.", "min=\"0\" "
	    "max=\"65535\" inputmode=\"numeric\" class=\"input-short\"");
	tls = flash_get_value(p->s, "smtp", "tls");
	if (tls == NULL)
		tls = cm_smtp_tls_name(ss.tls);
	h_printf(h, "<div class=\"field\"><label for=\"f-tls\">Connection security</label>"
	    "<select id=\"f-tls\" name=\"tls\"><option value=\"starttls\"%s>"
	    "STARTTLS (required)</option><option value=\"tls\"%s>TLS from the "
	    "start (SMTPS)</option><option value=\"none\"%s>None (plain text)"
	    "</option></select></div>\n", strcmp(tls, "starttls") == 0 ?
	    " selected" : "", strcmp(tls, "tls") == 0 ? " selected" : "",
	    strcmp(tls, "none") == 0 ? " selected" : "");
	field_text(p, "smtp", "user", "User", "text", ss.user, "Empty: no "
	    "authentication (authentication needs TLS).", "autocomplete=\"off\"");
	field_text(p, "smtp", "password", "Password", "password", "",
	    ss.password[0] ? "A password is stored: leave empty to keep it." :
	    "No password is stored.", "autocomplete=\"new-password\"");
	if (ss.password[0])
		field_checkbox(p, "smtp", "clear_password", "Remove the stored "
		    "password", 0, NULL);
	field_text(p, "smtp", "from", "From address", "email", ss.from, NULL,
	    "autocomplete=\"off\" spellcheck=\"false\"");
	field_text(p, "smtp", "ca_file", "CA file", "text", ss.ca_file, "PEM CA "
	    "bundle on the server to verify the mail server; empty: the "
	    "system's.", "spellcheck=\"false\"");
	field_text(p, "smtp", "test_to", "Test recipient", "email", "", "For "
	    "Send test e-mail: sent with the values above (saved or not).",
	    "autocomplete=\"off\" spellcheck=\"false\"");
	h_raw(h, "<div class=\"actions\"><button type=\"submit\" class=\"btn "
	    "btn-primary\">Save SMTP settings</button> <button type=\"submit\" "
	    "class=\"btn\" formaction=\"/monitor/smtp/test\">Send test e-mail"
	    "</button></div>\n</form>\n</section>\n</div>\n");
	page_end(p);
	return page_send(p, 200);
}

static enum MHD_Result
monitor_post(struct page *p)
{
	struct daemon_ctx *d = p->r->d;
	struct form *f = p->f;
	struct cm_monitor_settings ms;
	struct cm_strlist list = {NULL, 0};
	struct cm_err err = {CM_OK, ""};
	const char *v;
	char msg[200], *end;
	long long n, secs;
	int nerr = 0;

	if (cm_monitor_settings_load(d->st, &ms, &err) != CM_OK) {
		flash_msg(p->s, 1, "Settings not saved: %s", err.msg);
		return web_redirect(p->r, "/monitor", NULL);
	}
	v = form_get(f, "start_days");
	n = v != NULL ? strtoll(v, &end, 10) : 0;
	if (v == NULL || end == v || *end != '\0' || n < 1 || n > 365)
		refuse(p, &nerr, "monitor", "start_days", "Give a number of days "
		    "from 1 to 365.");
	else
		ms.start_days = (int)n;
	if (form_duration(f, "frequency", &secs, msg, sizeof(msg)) != 0)
		refuse(p, &nerr, "monitor", "frequency", "Notification Frequency: "
		    "%s.", msg);
	else if (secs < 3600 || secs > 30 * 86400)
		refuse(p, &nerr, "monitor", "frequency", "Give 1 hour to 30 days.");
	else
		ms.frequency = secs;
	ms.email_enabled = checked(f, "email");
	ms.lsc_enabled = checked(f, "lsc");
	v = form_get(f, "emails");
	if (v == NULL)
		v = "";
	if (strlen(v) >= sizeof(ms.emails))
		refuse(p, &nerr, "monitor", "emails", "The list is longer than %zu "
		    "bytes.", sizeof(ms.emails) - 1);
	else if (cm_mail_parse_list(v, &list, &err) != CM_OK)
		refuse(p, &nerr, "monitor", "emails", "%s", err.msg);
	else if (ms.email_enabled && list.n == 0)
		refuse(p, &nerr, "monitor", "emails", "Enable E-mail notification "
		    "needs at least one address.");
	else
		snprintf(ms.emails, sizeof(ms.emails), "%s", v);
	cm_mail_list_free(&list);
	if (form_duration(f, "retry_cap", &secs, msg, sizeof(msg)) != 0)
		refuse(p, &nerr, "monitor", "retry_cap", "%s.", msg);
	else if (secs < 60 || secs > 86400)
		refuse(p, &nerr, "monitor", "retry_cap", "Give 1 minute to 1 day.");
	else
		ms.retry_cap = secs;
	if (form_duration(f, "give_up_after", &secs, msg, sizeof(msg)) != 0)
		refuse(p, &nerr, "monitor", "give_up_after", "%s.", msg);
	else if (secs < 3600 || secs > 30 * 86400)
		refuse(p, &nerr, "monitor", "give_up_after", "Give 1 hour to 30 "
		    "days.");
	else
		ms.give_up_after = secs;
	if (nerr > 0)
		return web_redirect(p->r, "/monitor", NULL);
	if (cm_monitor_settings_save(d->st, &ms, web_actor(p), daemon_now(d),
	    &err) != CM_OK) {
		flash_refuse(p, "monitor", "Settings not saved.");
		flash_msg(p->s, 1, "Settings not saved: %s", err.msg);
		return web_redirect(p->r, "/monitor", NULL);
	}
	d->reschedule = 1;
	flash_msg(p->s, 0, "Certificate Monitor settings saved.");
	return web_redirect(p->r, "/monitor", NULL);
}

/* Which SMTP field a message of cm_smtp_settings_check is about. */
static const char *
smtp_field(const char *msg)
{
	if (strncmp(msg, "SMTP host", 9) == 0)
		return "host";
	if (strncmp(msg, "SMTP port", 9) == 0)
		return "port";
	if (strncmp(msg, "SMTP From", 9) == 0)
		return "from";
	if (strncmp(msg, "an SMTP password", 16) == 0)
		return "password";
	return "user";
}

/* Reads the SMTP form into *ss (over the stored settings); returns the
 * number of field errors (already in the flash). */
static int
smtp_read(struct page *p, struct cm_smtp_settings *ss)
{
	struct form *f = p->f;
	struct cm_err err = {CM_OK, ""};
	static const struct {
		const char *field;
		size_t off, len;
		const char *label;
	} texts[] = {
		{"host", offsetof(struct cm_smtp_settings, host),
		    sizeof(((struct cm_smtp_settings *)0)->host), "SMTP host"},
		{"user", offsetof(struct cm_smtp_settings, user),
		    sizeof(((struct cm_smtp_settings *)0)->user), "User"},
		{"from", offsetof(struct cm_smtp_settings, from),
		    sizeof(((struct cm_smtp_settings *)0)->from), "From address"},
		{"ca_file", offsetof(struct cm_smtp_settings, ca_file),
		    sizeof(((struct cm_smtp_settings *)0)->ca_file), "CA file"},
	};
	const char *v, *pw = form_get(f, "password");
	char *end;
	long n;
	int nerr = 0;

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		v = form_get(f, texts[i].field);
		if (v == NULL)
			v = "";
		if (strlen(v) >= texts[i].len)
			refuse(p, &nerr, "smtp", texts[i].field, "%s is longer than %zu "
			    "bytes.", texts[i].label, texts[i].len - 1);
		else
			snprintf((char *)ss + texts[i].off, texts[i].len, "%s", v);
	}
	v = form_get(f, "port");
	if (v == NULL || v[0] == '\0')
		ss->port = 0;
	else {
		n = strtol(v, &end, 10);
		if (end == v || *end != '\0' || n < 0 || n > 65535)
			refuse(p, &nerr, "smtp", "port", "Give a port number from 1 to "
			    "65535, or leave it empty.");
		else
			ss->port = (int)n;
	}
	v = form_get(f, "tls");
	if (v == NULL || cm_smtp_tls_parse(v, &ss->tls) != 0)
		refuse(p, &nerr, "smtp", "tls", "Choose a security mode.");
	if (checked(f, "clear_password") || ss->user[0] == '\0')
		ss->password[0] = '\0';
	if (pw != NULL && pw[0] != '\0') {
		if (strlen(pw) >= sizeof(ss->password))
			refuse(p, &nerr, "smtp", "password", "The password is longer "
			    "than %zu bytes.", sizeof(ss->password) - 1);
		else
			snprintf(ss->password, sizeof(ss->password), "%s", pw);
	}
	if (nerr == 0 && cm_smtp_settings_check(ss, &err) != CM_OK)
		refuse(p, &nerr, "smtp", smtp_field(err.msg), "%s.", err.msg);
	return nerr;
}

static enum MHD_Result
smtp_post(struct page *p, int test)
{
	struct daemon_ctx *d = p->r->d;
	struct cm_smtp_settings ss;
	struct cm_smtp_config cfg;
	struct cm_mail_message m;
	struct cm_strlist to = {NULL, 0};
	struct cm_err err = {CM_OK, ""};
	char reply[CM_MAIL_REPLY_MAX] = "", *msg = NULL, *mid = NULL;
	const char *addr = form_get(p->f, "test_to"), *at;
	size_t len;
	int nerr = 0;

	if (cm_smtp_settings_load(d->st, &ss, &err) != CM_OK) {
		flash_msg(p->s, 1, "SMTP settings not saved: %s", err.msg);
		return web_redirect(p->r, "/monitor", NULL);
	}
	if (test && (addr == NULL || cm_mail_parse_list(addr, &to, &err) !=
	    CM_OK || to.n != 1))
		refuse(p, &nerr, "smtp", "test_to", "%s", addr == NULL ||
		    addr[0] == '\0' ? "Give the address to send the test to." :
		    to.n > 1 ? "Give one address." : err.msg);
	if (nerr == 0)
		nerr = smtp_read(p, &ss);
	else
		smtp_read(p, &ss);
	if (nerr > 0) {
		if (p->s->flash.message != NULL && test) {
			free(p->s->flash.message);
			p->s->flash.message = strdup("Test e-mail not sent: correct the "
			    "marked fields.");
		}
		cm_mail_list_free(&to);
		return web_redirect(p->r, "/monitor#smtp-h", NULL);
	}
	if (!test) {
		if (cm_smtp_settings_save(d->st, &ss, web_actor(p), daemon_now(d),
		    &err) != CM_OK) {
			flash_refuse(p, "smtp", "SMTP settings not saved.");
			flash_msg(p->s, 1, "SMTP settings not saved: %s", err.msg);
		} else {
			d->reschedule = 1;   /* waiting mail may go out now */
			flash_msg(p->s, 0, "SMTP settings saved.");
		}
		return web_redirect(p->r, "/monitor#smtp-h", NULL);
	}
	/* the test: keep the form as it was typed, for a save afterwards */
	flash_refuse(p, "smtp", "");
	at = strrchr(ss.from, '@');
	mid = cm_mail_new_message_id(at != NULL ? at + 1 : NULL);
	memset(&m, 0, sizeof(m));
	m.from = ss.from;
	m.to = &to;
	m.subject = "[certmon] test message";
	m.body = "This is a test message from the certmon web admin.\n"
	    "Certificate expiry notifications will reach this address.\n";
	m.message_id = mid;
	m.date = daemon_now(d);
	cm_smtp_settings_config(&ss, &cfg);
	cfg.timeout_ms = 20000;
	if (mid == NULL || cm_mail_compose(&m, &msg, &len, &err) != CM_OK)
		flash_msg(p->s, 1, "Test e-mail not sent: cannot compose it: %s",
		    err.msg);
	else if (cm_mail_send(&cfg, &to, msg, len, reply, sizeof(reply), NULL,
	    &err) != CM_OK)
		flash_msg(p->s, 1, "Test e-mail not delivered: %s", err.msg);
	else
		flash_msg(p->s, 0, "Test e-mail delivered to %s; the server said: "
		    "%s", to.v[0], reply);
	cm_mail_list_free(&to);
	free(msg);
	free(mid);
	return web_redirect(p->r, "/monitor#smtp-h", NULL);
}

static enum MHD_Result
monitor_run_post(struct page *p)
{
	struct daemon_ctx *d = p->r->d;
	struct cm_monitor_report rep;
	struct cm_err err = {CM_OK, ""};
	char when[40];

	if (cm_monitor_run(d->st, daemon_now(d), 0, web_actor(p), &rep, &err) !=
	    CM_OK) {
		flash_msg(p->s, 1, "The run failed: %s", err.msg);
		return web_redirect(p->r, "/monitor", NULL);
	}
	d->reschedule = 1;
	d->count.expiry_runs++;
	if (rep.mail == CM_MONITOR_MAIL_SENT)
		d->count.mail_sent++;
	else if (rep.mail == CM_MONITOR_MAIL_FAILED)
		d->count.mail_failed++;
	flash_msg(p->s, rep.mail == CM_MONITOR_MAIL_FAILED, "Run done: %zu "
	    "certificate%s notified; mail: %s%s%s; %d alarm%s. Next run: %s.",
	    rep.n, rep.n == 1 ? "" : "s", cm_monitor_mail_name(rep.mail),
	    rep.mail_error[0] ? " – " : "", rep.mail_error, rep.alarms,
	    rep.alarms == 1 ? "" : "s", web_time(rep.next_run, when, sizeof(when)));
	cm_monitor_report_free(&rep);
	return web_redirect(p->r, "/monitor", NULL);
}

static enum MHD_Result
monitor_preview(struct page *p)
{
	struct daemon_ctx *d = p->r->d;
	struct html *h = &p->h;
	struct cm_monitor_report rep;
	struct cm_err err = {CM_OK, ""};
	char when[40], unitq[200];

	if (cm_monitor_run(d->st, daemon_now(d), 1, web_actor(p), &rep, &err) !=
	    CM_OK)
		return web_error_page(p, 500, "Preview failed", "%s", err.msg);
	page_begin(p, "Monitor preview", "monitor");
	h_raw(h, "<nav class=\"crumbs\" aria-label=\"Breadcrumb\"><a "
	    "href=\"/monitor\">Certificate Monitor</a> › <span "
	    "aria-current=\"page\">Preview</span></nav>\n<h1>Preview of the next "
	    "run</h1>\n");
	h_printf(h, "<p class=\"lead\">A run now would notify %zu certificate%s "
	    "(mail: %s). Nothing was sent or recorded.</p>\n", rep.n,
	    rep.n == 1 ? "" : "s", cm_monitor_mail_name(rep.mail));
	if (rep.n > 0) {
		h_raw(h, "<div class=\"table-wrap\"><table class=\"data\"><thead><tr>"
		    "<th scope=\"col\">State</th><th scope=\"col\">Unit</th><th "
		    "scope=\"col\">Common name</th><th scope=\"col\">Issuer</th><th "
		    "scope=\"col\">Expires</th></tr></thead><tbody>\n");
		for (size_t i = 0; i < rep.n; i++) {
			const struct cm_monitor_notice *nt = &rep.v[i];

			h_raw(h, "<tr><td>");
			h_state_badge(h, cm_expiry_state_name(nt->state));
			h_printf(h, "</td><td>%s</td><td><a href=\"/certs/%s/%s\">%s</a>"
			    "</td><td>%s</td><td>%s</td></tr>\n", nt->unit,
			    url_enc(nt->unit, unitq, sizeof(unitq)), nt->fingerprint,
			    nt->subject_cn, nt->issuer_cn, web_time(nt->not_after, when,
			    sizeof(when)));
		}
		h_raw(h, "</tbody></table></div>\n");
	}
	h_raw(h, "<p><a class=\"btn\" href=\"/monitor\">Back</a></p>\n");
	cm_monitor_report_free(&rep);
	page_end(p);
	return page_send(p, 200);
}

enum MHD_Result
web_monitor(struct page *p)
{
	int post = p->f != NULL;

	if (strcmp(p->path, "/monitor") == 0)
		return post ? monitor_post(p) : monitor_page(p);
	if (strcmp(p->path, "/monitor/smtp") == 0 && post)
		return smtp_post(p, 0);
	if (strcmp(p->path, "/monitor/smtp/test") == 0 && post)
		return smtp_post(p, 1);
	if (strcmp(p->path, "/monitor/run") == 0 && post)
		return monitor_run_post(p);
	if (strcmp(p->path, "/monitor/preview") == 0 && !post)
		return monitor_preview(p);
	return web_error_page(p, 404, "Page not found", "There is no page at "
	    "%.200s.", p->path);
}

/* ---- Certificate Revocation ------------------------------------------------------ */

static void
radio(struct page *p, const char *name, const char *value, const char *label,
    int on)
{
	h_printf(&p->h, "<div class=\"field field-check\"><input type=\"radio\" "
	    "id=\"f-%s-%s\" name=\"%s\" value=\"%s\"%s><label for=\"f-%s-%s\">%s"
	    "</label></div>\n", name, value, name, value, on ? " checked" : "",
	    name, value, label);
}

static enum MHD_Result
revocation_page(struct page *p)
{
	struct daemon_ctx *d = p->r->d;
	struct html *h = &p->h;
	struct cm_revocation_settings rs;
	struct cm_err err = {CM_OK, ""};
	const char *src = flash_get_value(p->s, "revocation", "uri_source");
	const char *e_src = flash_get_error(p->s, "revocation", "uri_source");
	int configured;

	if (cm_revocation_settings_load(d->st, &rs, &err) != CM_OK)
		return web_error_page(p, 503, "Store error", "%s", err.msg);
	configured = src != NULL ? strcmp(src, "configured") == 0 :
	    rs.uri_source == CM_URI_CONFIGURED;
	page_begin(p, "Certificate Revocation", "revocation");
	h_raw(h, "<h1>Certificate Revocation</h1>\n<p class=\"lead\"><strong>"
	    "Enable OCSP</strong> checks certificates when they are uploaded and "
	    "when TLS clients connect; <strong>Enable Revocation Check</strong> "
	    "re-checks the stored certificates every <em>Check Every</em>.</p>\n");
	h_raw(h, "<section class=\"panel panel-narrow\">\n<form method=\"post\" "
	    "action=\"/revocation\" class=\"form\" novalidate>\n");
	h_csrf(p);
	h_raw(h, "<fieldset><legend>Online Certificate Status Protocol (OCSP)"
	    "</legend>\n");
	field_checkbox(p, "revocation", "ocsp", "Enable OCSP", rs.ocsp, NULL);
	h_printf(h, "<fieldset class=\"radios%s\"><legend>OCSP responder"
	    "</legend>\n", e_src ? " has-error" : "");
	radio(p, "uri_source", "cert", "Use OCSP URI from Certificate",
	    !configured);
	radio(p, "uri_source", "configured", "Use configured OCSP URI",
	    configured);
	h_raw(h, "</fieldset>\n");
	field_text(p, "revocation", "uri", "OCSP Configured URI", "url", rs.uri,
	    "An http:// or https:// URL; used with \"Use configured OCSP URI\".",
	    "spellcheck=\"false\" class=\"input-wide\"");
	h_raw(h, "</fieldset>\n<fieldset><legend>Periodic check</legend>\n");
	field_checkbox(p, "revocation", "check", "Enable Revocation Check",
	    rs.check, NULL);
	field_duration(p, "revocation", "every", "Check Every", rs.every, 0,
	    "1 hour – 30 days.");
	h_raw(h, "</fieldset>\n<fieldset><legend>Certificate Revocation Lists "
	    "(CRL)</legend>\n");
	field_checkbox(p, "revocation", "crl", "Enable CRL", rs.crl, "Answers "
	    "when OCSP is off or gives no valid answer.");
	field_textarea(p, "revocation", "crl_uris", "CRL URIs", rs.crl_uris,
	    "One http(s) URL a line. Empty: the certificates' CRL distribution "
	    "points.");
	h_raw(h, "</fieldset>\n<div class=\"actions\"><button type=\"submit\" "
	    "class=\"btn btn-primary\">Save</button></div>\n</form>\n"
	    "</section>\n");
	page_end(p);
	return page_send(p, 200);
}

/* The form field a refused revocation setting belongs to: the library
 * validates the whole set; the page shows the message next to the field. */
static const char *
revocation_field(const struct cm_revocation_settings *rs)
{
	struct cm_strlist urls = {NULL, 0};
	struct cm_err err;
	int crl_ok = 1;

	if (rs->uri_source == CM_URI_CONFIGURED &&
	    !cm_revocation_url_valid(rs->uri))
		return "uri";
	if (rs->uri[0] != '\0' && !cm_revocation_url_valid(rs->uri))
		return "uri";
	if (cm_setting_lines(rs->crl_uris, &urls, &err) != CM_OK)
		return "crl_uris";
	for (size_t i = 0; i < urls.n; i++)
		crl_ok &= cm_revocation_url_valid(urls.v[i]);
	cm_setting_lines_free(&urls);
	return crl_ok ? "every" : "crl_uris";
}

static enum MHD_Result
revocation_post(struct page *p)
{
	struct daemon_ctx *d = p->r->d;
	struct form *f = p->f;
	struct cm_revocation_settings rs;
	struct cm_err err = {CM_OK, ""};
	const char *v, *field = NULL;
	char msg[200];
	long long secs;
	int nerr = 0;

	if (cm_revocation_settings_load(d->st, &rs, &err) != CM_OK) {
		flash_msg(p->s, 1, "Settings not saved: %s", err.msg);
		return web_redirect(p->r, "/revocation", NULL);
	}
	rs.ocsp = checked(f, "ocsp");
	rs.check = checked(f, "check");
	rs.crl = checked(f, "crl");
	v = form_get(f, "uri_source");
	if (v == NULL || (strcmp(v, "cert") != 0 && strcmp(v, "configured") != 0))
		refuse(p, &nerr, "revocation", "uri", "Choose where the OCSP URI "
		    "comes from.");
	else
		rs.uri_source = strcmp(v, "configured") == 0 ? CM_URI_CONFIGURED :
		    CM_URI_FROM_CERT;
	v = form_get(f, "uri");
	if (v == NULL)
		v = "";
	while (*v == ' ')
		v++;
	if (strlen(v) >= sizeof(rs.uri))
		refuse(p, &nerr, "revocation", "uri", "The URI is too long.");
	else
		snprintf(rs.uri, sizeof(rs.uri), "%s", v);
	if (form_duration(f, "every", &secs, msg, sizeof(msg)) != 0)
		refuse(p, &nerr, "revocation", "every", "Check Every: %s.", msg);
	else
		rs.every = secs;
	v = form_get(f, "crl_uris");
	if (v == NULL)
		v = "";
	if (strlen(v) >= sizeof(rs.crl_uris))
		refuse(p, &nerr, "revocation", "crl_uris", "The list is too long.");
	else
		snprintf(rs.crl_uris, sizeof(rs.crl_uris), "%s", v);
	if (cm_revocation_settings_check(&rs, &err) != CM_OK) {
		field = revocation_field(&rs);
		if (flash_get_error(p->s, "revocation", field) == NULL)
			refuse(p, &nerr, "revocation", field, "%s.", err.msg);
	}
	if (nerr > 0)
		return web_redirect(p->r, "/revocation", NULL);
	if (cm_revocation_settings_save(d->st, &rs, web_actor(p), daemon_now(d),
	    &err) !=
	    CM_OK) {
		flash_refuse(p, "revocation", "Settings not saved.");
		flash_msg(p->s, 1, "Settings not saved: %s", err.msg);
		return web_redirect(p->r, "/revocation", NULL);
	}
	d->reschedule = 1;
	flash_msg(p->s, 0, "Certificate Revocation settings saved.");
	return web_redirect(p->r, "/revocation", NULL);
}

enum MHD_Result
web_revocation(struct page *p)
{
	if (strcmp(p->path, "/revocation") == 0)
		return p->f != NULL ? revocation_post(p) : revocation_page(p);
	return web_error_page(p, 404, "Page not found", "There is no page at "
	    "%.200s.", p->path);
}

/* ---- Enterprise Parameters ------------------------------------------------------- */

static enum MHD_Result
params_page(struct page *p)
{
	struct daemon_ctx *d = p->r->d;
	struct html *h = &p->h;
	struct cm_params_settings ps;
	struct cm_err err = {CM_OK, ""};

	if (cm_params_settings_load(d->st, &ps, &err) != CM_OK)
		return web_error_page(p, 503, "Store error", "%s", err.msg);
	page_begin(p, "Enterprise Parameters", "params");
	h_raw(h, "<h1>Enterprise Parameters</h1>\n<p class=\"lead\">Long-lived "
	    "connections (CTI, IPsec, LDAP) re-check their peer's certificate "
	    "only when Certificate Validity Check is on: every Check Every of "
	    "Certificate Revocation when Enable Revocation Check is on, else "
	    "every Validity Check Frequency.</p>\n");
	h_raw(h, "<section class=\"panel panel-narrow\">\n<form method=\"post\" "
	    "action=\"/params\" class=\"form\" novalidate>\n");
	h_csrf(p);
	h_raw(h, "<fieldset><legend>Security parameters</legend>\n");
	field_checkbox(p, "params", "cert_validity_check", "Certificate Validity "
	    "Check", ps.cert_validity_check, NULL);
	field_duration(p, "params", "validity_check_frequency", "Validity Check "
	    "Frequency", ps.validity_check_frequency, 0, "1 hour – 30 days.");
	field_checkbox(p, "params", "common_criteria", "Common Criteria mode",
	    ps.common_criteria, "Strict revocation: an unknown or unavailable "
	    "OCSP answer fails the connection or the upload.");
	h_raw(h, "</fieldset>\n<div class=\"actions\"><button type=\"submit\" "
	    "class=\"btn btn-primary\">Save</button></div>\n</form>\n"
	    "</section>\n");
	page_end(p);
	return page_send(p, 200);
}

static enum MHD_Result
params_post(struct page *p)
{
	struct daemon_ctx *d = p->r->d;
	struct cm_params_settings ps;
	struct cm_err err = {CM_OK, ""};
	char msg[200];
	long long secs;
	int nerr = 0;

	if (cm_params_settings_load(d->st, &ps, &err) != CM_OK) {
		flash_msg(p->s, 1, "Settings not saved: %s", err.msg);
		return web_redirect(p->r, "/params", NULL);
	}
	ps.cert_validity_check = checked(p->f, "cert_validity_check");
	ps.common_criteria = checked(p->f, "common_criteria");
	if (form_duration(p->f, "validity_check_frequency", &secs, msg,
	    sizeof(msg)) != 0)
		refuse(p, &nerr, "params", "validity_check_frequency", "Validity "
		    "Check Frequency: %s.", msg);
	else
		ps.validity_check_frequency = secs;
	if (nerr == 0 && cm_params_settings_check(&ps, &err) != CM_OK)
		refuse(p, &nerr, "params", "validity_check_frequency", "%s.",
		    err.msg);
	if (nerr > 0)
		return web_redirect(p->r, "/params", NULL);
	if (cm_params_settings_save(d->st, &ps, web_actor(p), daemon_now(d),
	    &err) !=
	    CM_OK) {
		flash_refuse(p, "params", "Settings not saved.");
		flash_msg(p->s, 1, "Settings not saved: %s", err.msg);
		return web_redirect(p->r, "/params", NULL);
	}
	d->reschedule = 1;
	flash_msg(p->s, 0, "Enterprise Parameters saved.");
	return web_redirect(p->r, "/params", NULL);
}

enum MHD_Result
web_params(struct page *p)
{
	if (strcmp(p->path, "/params") == 0)
		return p->f != NULL ? params_post(p) : params_page(p);
	return web_error_page(p, 404, "Page not found", "There is no page at "
	    "%.200s.", p->path);
}
