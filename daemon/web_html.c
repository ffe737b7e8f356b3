/*
 * web_html.c - HTML output of the web admin: the buffer (every string from
 * outside is escaped by h_esc, the one escape helper; h_printf applies it
 * to every %s), the page layout with the navigation, form fields, form
 * parsing, and the responses (pages, redirects, downloads).
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "web.h"

/* ---- the buffer -------------------------------------------------------------- */

static void
h_put(struct html *h, const char *s, size_t n)
{
	char *nb;
	size_t ncap;

	if (h->oom || n == 0)
		return;
	if (h->len + n + 1 > h->cap) {
		ncap = h->cap ? h->cap : 8192;
		while (ncap < h->len + n + 1)
			ncap *= 2;
		if ((nb = realloc(h->buf, ncap)) == NULL) {
			h->oom = 1;
			return;
		}
		h->buf = nb;
		h->cap = ncap;
	}
	memcpy(h->buf + h->len, s, n);
	h->len += n;
	h->buf[h->len] = '\0';
}

void
h_raw(struct html *h, const char *s)
{
	if (s != NULL)
		h_put(h, s, strlen(s));
}

/* Escapes at most max bytes of s (cut at a UTF-8 boundary). */
static void
h_esc_n(struct html *h, const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0;

	if (s == NULL)
		return;
	while (i < max && p[i] != '\0') {
		const char *rep = NULL;

		switch (p[i]) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&#39;"; break;
		default:
			if ((p[i] < 0x20 && p[i] != '\n' && p[i] != '\t') ||
			    p[i] == 0x7f)
				rep = "\xef\xbf\xbd";   /* U+FFFD */
		}
		if (rep != NULL) {
			h_put(h, (const char *)p + run, i - run);
			h_raw(h, rep);
			run = i + 1;
		}
		i++;
	}
	/* do not end inside a UTF-8 sequence */
	while (i > run && p[i] != '\0' && (p[i] & 0xc0) == 0x80)
		i--;
	h_put(h, (const char *)p + run, i - run);
}

void
h_esc(struct html *h, const char *s)
{
	h_esc_n(h, s, (size_t)-1);
}

void
h_printf(struct html *h, const char *fmt, ...)
{
	va_list ap;
	const char *p = fmt, *pct, *q;
	char spec[32], out[128];

	va_start(ap, fmt);
	while (*p != '\0') {
		int len_mod = 0;   /* 0 int, 1 long, 2 long long, 3 size_t */
		long prec = -1;
		size_t sl;

		if ((pct = strchr(p, '%')) == NULL) {
			h_raw(h, p);
			break;
		}
		h_put(h, p, (size_t)(pct - p));
		q = pct + 1;
		if (*q == '%') {
			h_put(h, "%", 1);
			p = q + 1;
			continue;
		}
		while (*q != '\0' && strchr("-+ #0", *q) != NULL)
			q++;
		while (isdigit((unsigned char)*q))
			q++;
		if (q[0] == '.' && q[1] == '*') {
			prec = va_arg(ap, int);
			q += 2;
		} else if (*q == '.') {
			prec = strtol(q + 1, NULL, 10);
			q++;
			while (isdigit((unsigned char)*q))
				q++;
		}
		if (q[0] == 'l' && q[1] == 'l') {
			len_mod = 2;
			q += 2;
		} else if (*q == 'l' || *q == 'j') {
			len_mod = 1;
			q++;
		} else if (*q == 'z') {
			len_mod = 3;
			q++;
		}
		sl = (size_t)(q - pct + 1);
		if (sl >= sizeof(spec) || *q == '\0')
			break;    /* malformed: the format is ours, so a bug */
		memcpy(spec, pct, sl);
		spec[sl] = '\0';
		out[0] = '\0';
		/* va_arg needs each exact type; long, long long and size_t
		 * coincide on some platforms only, which the check calls clones */
		/* NOLINTBEGIN(bugprone-branch-clone) */
		switch (*q) {
		case 's':
			h_esc_n(h, va_arg(ap, const char *), prec >= 0 ? (size_t)prec :
			    (size_t)-1);
			break;
		case 'c': {
			char c[2] = {(char)va_arg(ap, int), '\0'};

			h_esc(h, c);
			break;
		}
		case 'd': case 'i':
			if (len_mod == 2)
				snprintf(out, sizeof(out), spec, va_arg(ap, long long));
			else if (len_mod == 1)
				snprintf(out, sizeof(out), spec, va_arg(ap, long));
			else if (len_mod == 3)
				snprintf(out, sizeof(out), spec, va_arg(ap, size_t));
			else
				snprintf(out, sizeof(out), spec, va_arg(ap, int));
			break;
		case 'u': case 'x': case 'X': case 'o':
			if (len_mod == 2)
				snprintf(out, sizeof(out), spec,
				    va_arg(ap, unsigned long long));
			else if (len_mod == 1)
				snprintf(out, sizeof(out), spec, va_arg(ap, unsigned long));
			else if (len_mod == 3)
				snprintf(out, sizeof(out), spec, va_arg(ap, size_t));
			else
				snprintf(out, sizeof(out), spec, va_arg(ap, unsigned));
			break;
		case 'f': case 'g': case 'e':
			snprintf(out, sizeof(out), spec, va_arg(ap, double));
			break;
		default:
			va_end(ap);
			return;   /* unsupported (never %n): the format is a bug */
		}
		/* NOLINTEND(bugprone-branch-clone) */
		h_raw(h, out);
		p = q + 1;
	}
	va_end(ap);
}

void
h_free(struct html *h)
{
	free(h->buf);
	memset(h, 0, sizeof(*h));
}

char *
url_enc(const char *s, char *out, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	if (len == 0)
		return out;
	for (const unsigned char *p = (const unsigned char *)(s ? s : "");
	    *p != '\0' && o + 4 < len; p++) {
		if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~')
			out[o++] = (char)*p;
		else {
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		}
	}
	out[o] = '\0';
	return out;
}

const char *
web_time(long long t, char *buf, size_t len)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (t == 0) {
		snprintf(buf, len, "never");
		return buf;
	}
	if (gmtime_r(&tt, &tm) == NULL || strftime(buf, len, "%Y-%m-%d %H:%M UTC",
	    &tm) == 0)
		snprintf(buf, len, "%lld", t);
	return buf;
}

const char *
web_time_sec(long long t, char *buf, size_t len)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL || strftime(buf, len, "%Y-%m-%d %H:%M:%S",
	    &tm) == 0)
		snprintf(buf, len, "%lld", t);
	return buf;
}

/* ---- layout -------------------------------------------------------------------- */

static const struct {
	const char *group;
	const char *href;
	const char *label;
	const char *key;
} nav[] = {
	{NULL, "/", "Dashboard", "dashboard"},
	{"Security", "/certs", "Certificate Management", "certs"},
	{"Security", "/units", "Certificate Units", "units"},
	{"Security", "/monitor", "Certificate Monitor", "monitor"},
	{"Security", "/revocation", "Certificate Revocation", "revocation"},
	{"Security", "/params", "Enterprise Parameters", "params"},
	{"Services", "/services", "Network Services", "services"},
	{"Services", "/mail", "Mail Queue", "mail"},
	{"Services", "/events", "Events", "events"},
};

static const char logo_svg[] =
    "<svg class=\"logo\" viewBox=\"0 0 24 24\" width=\"26\" height=\"26\" "
    "aria-hidden=\"true\" focusable=\"false\"><path d=\"M12 2 4 5v6c0 5 3.4 "
    "9.4 8 11 4.6-1.6 8-6 8-11V5l-8-3z\" fill=\"#5aa9ff\"/><path d=\"m8.5 "
    "12 2.5 2.5 4.5-5\" fill=\"none\" stroke=\"#0f1f33\" stroke-width=\"2.2\" "
    "stroke-linecap=\"round\" stroke-linejoin=\"round\"/></svg>";

void
h_csrf(struct page *p)
{
	if (p->s != NULL)
		h_printf(&p->h, "<input type=\"hidden\" name=\"csrf\" value=\"%s\">",
		    p->s->csrf);
}

void
page_begin(struct page *p, const char *title, const char *active)
{
	struct html *h = &p->h;
	int authed = p->s != NULL && p->s->authed;
	const char *group = "";

	h_raw(h, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
	    "<meta charset=\"utf-8\">\n"
	    "<meta name=\"viewport\" content=\"width=device-width, "
	    "initial-scale=1\">\n");
	if (authed)
		h_printf(h, "<meta name=\"csrf-token\" content=\"%s\">\n",
		    p->s->csrf);
	h_printf(h, "<title>%s · certmon</title>\n", title);
	h_raw(h, "<link rel=\"stylesheet\" href=\"/static/style.css\">\n"
	    "<link rel=\"icon\" href=\"/static/favicon.svg\" "
	    "type=\"image/svg+xml\">\n</head>\n");
	h_printf(h, "<body class=\"%s\">\n", authed ? "app" : "bare");
	h_raw(h, "<a class=\"skip\" href=\"#main\">Skip to content</a>\n"
	    "<header class=\"topbar\">\n<a class=\"brand\" href=\"/\">");
	h_raw(h, logo_svg);
	h_raw(h, "<span class=\"brand-name\">certmon</span>"
	    "<span class=\"brand-sub\">Certificate administration</span></a>\n");
	if (authed) {
		h_printf(h, "<div class=\"user\"><span class=\"who\">Signed in as "
		    "<strong>%s</strong></span>", p->s->user);
		h_raw(h, "<form method=\"post\" action=\"/logout\">");
		h_csrf(p);
		h_raw(h, "<button type=\"submit\" class=\"btn btn-ghost\">Log out"
		    "</button></form></div>\n");
	}
	h_raw(h, "</header>\n<div class=\"layout\">\n");
	if (authed) {
		h_raw(h, "<nav class=\"sidenav\" aria-label=\"Main menu\">\n");
		for (size_t i = 0; i < sizeof(nav) / sizeof(nav[0]); i++) {
			const char *g = nav[i].group ? nav[i].group : "";

			if (i == 0 || strcmp(g, group) != 0) {
				if (i > 0)
					h_raw(h, "</ul>\n");
				if (g[0] != '\0')
					h_printf(h, "<h2 class=\"nav-group\" id=\"nav-%s\">%s"
					    "</h2>\n<ul aria-labelledby=\"nav-%s\">\n", g, g, g);
				else
					h_raw(h, "<ul>\n");
				group = g;
			}
			h_printf(h, "<li><a href=\"%s\"", nav[i].href);
			if (active != NULL && strcmp(active, nav[i].key) == 0)
				h_raw(h, " aria-current=\"page\"");
			h_printf(h, ">%s</a></li>\n", nav[i].label);
		}
		h_raw(h, "</ul>\n</nav>\n");
	}
	h_raw(h, "<main id=\"main\" tabindex=\"-1\">\n");
	if (p->s != NULL && p->s->flash.message != NULL)
		h_printf(h, "<div class=\"flash %s\" role=\"%s\">%s</div>\n",
		    p->s->flash.error ? "flash-error" : "flash-ok",
		    p->s->flash.error ? "alert" : "status", p->s->flash.message);
}

void
page_end(struct page *p)
{
	char now[40];

	h_printf(&p->h, "</main>\n</div>\n<footer class=\"footer\">certmon · "
	    "server time %s</footer>\n</body>\n</html>\n",
	    web_time(daemon_now(p->r->d), now, sizeof(now)));
}

/* ---- responses ------------------------------------------------------------------ */

static enum MHD_Result
send_buf(struct request *r, unsigned status, const char *type, char *body,
    size_t len, const char *location, const char *cookie,
    const char *disposition)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(body);
		return MHD_NO;
	}
	if (type != NULL)
		MHD_add_response_header(resp, "Content-Type", type);
	if (location != NULL)
		MHD_add_response_header(resp, "Location", location);
	if (cookie != NULL && cookie[0] != '\0')
		MHD_add_response_header(resp, "Set-Cookie", cookie);
	if (disposition != NULL)
		MHD_add_response_header(resp, "Content-Disposition", disposition);
	http_add_headers(r, resp);
	ret = MHD_queue_response(r->conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

enum MHD_Result
page_send(struct page *p, unsigned status)
{
	char *body;
	size_t len;

	if (p->h.oom) {
		h_free(&p->h);
		return reply_error(p->r, 500, "out of memory");
	}
	body = p->h.buf != NULL ? p->h.buf : strdup("");
	len = p->h.len;
	p->h.buf = NULL;
	h_free(&p->h);
	if (p->s != NULL)
		flash_clear(&p->s->flash);
	return send_buf(p->r, status, "text/html; charset=utf-8", body, len, NULL,
	    p->cookie, NULL);
}

enum MHD_Result
web_redirect(struct request *r, const char *location, const char *cookie)
{
	char *body = strdup("");

	if (body == NULL)
		return MHD_NO;
	return send_buf(r, 303, "text/plain; charset=utf-8", body, 0, location,
	    cookie, NULL);
}

enum MHD_Result
web_download(struct request *r, const char *type, const char *filename,
    const char *data, size_t len)
{
	char disp[200], *body = malloc(len + 1);

	if (body == NULL)
		return MHD_NO;
	memcpy(body, data, len);
	snprintf(disp, sizeof(disp), "attachment; filename=\"%s\"", filename);
	return send_buf(r, 200, type, body, len, NULL, NULL, disp);
}

enum MHD_Result
web_error_page(struct page *p, unsigned status, const char *title,
    const char *fmt, ...)
{
	char msg[CM_ERR_MSG_MAX + 128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	h_free(&p->h);
	page_begin(p, title, NULL);
	h_printf(&p->h, "<h1>%s</h1>\n<div class=\"panel\"><p>%s</p>\n"
	    "<p><a class=\"btn\" href=\"/\">Back to the dashboard</a></p>"
	    "</div>\n", title, msg);
	page_end(p);
	return page_send(p, status);
}

/* ---- badges ------------------------------------------------------------------------ */

void
h_state_badge(struct html *h, const char *state)
{
	h_printf(h, "<span class=\"badge badge-%s\">%s</span>", state, state);
}

void
h_revocation_badge(struct html *h, const char *status)
{
	const char *cls = "muted";

	if (status == NULL)
		status = "unchecked";
	if (strcmp(status, "good") == 0)
		cls = "good";
	else if (strcmp(status, "revoked") == 0)
		cls = "revoked";
	else if (strcmp(status, "unknown") == 0 || strcmp(status, "error") == 0)
		cls = "warn";
	h_printf(h, "<span class=\"badge badge-rev-%s\">%s</span>", cls, status);
}

/* ---- form fields --------------------------------------------------------------------- */

static int
flash_active(struct session *s, const char *form)
{
	return s != NULL && form != NULL && s->flash.form[0] != '\0' &&
	    strcmp(s->flash.form, form) == 0;
}

static void
field_help(struct page *p, const char *name, const char *hint,
    const char *err)
{
	if (hint != NULL)
		h_printf(&p->h, "<p class=\"hint\" id=\"h-%s\">%s</p>", name, hint);
	if (err != NULL)
		h_printf(&p->h, "<p class=\"field-error\" id=\"e-%s\">"
		    "<span class=\"visually-hidden\">Error: </span>%s</p>", name, err);
}

static void
described_by(struct page *p, const char *name, const char *hint,
    const char *err)
{
	if (hint == NULL && err == NULL)
		return;
	h_raw(&p->h, " aria-describedby=\"");
	if (hint != NULL)
		h_printf(&p->h, "h-%s%s", name, err != NULL ? " " : "");
	if (err != NULL)
		h_printf(&p->h, "e-%s\" aria-invalid=\"true", name);
	h_raw(&p->h, "\"");
}

void
field_text(struct page *p, const char *form, const char *name,
    const char *label, const char *type, const char *value,
    const char *hint, const char *extra)
{
	const char *err = flash_get_error(p->s, form, name);

	if (flash_active(p->s, form))
		value = flash_get_value(p->s, form, name);
	h_printf(&p->h, "<div class=\"field%s\">\n<label for=\"f-%s\">%s</label>\n"
	    "<input id=\"f-%s\" name=\"%s\" type=\"%s\" value=\"%s\"",
	    err ? " has-error" : "", name, label, name, name, type,
	    value ? value : "");
	described_by(p, name, hint, err);
	if (extra != NULL) {
		h_raw(&p->h, " ");
		h_raw(&p->h, extra);
	}
	h_raw(&p->h, ">\n");
	field_help(p, name, hint, err);
	h_raw(&p->h, "</div>\n");
}

void
field_textarea(struct page *p, const char *form, const char *name,
    const char *label, const char *value, const char *hint)
{
	const char *err = flash_get_error(p->s, form, name);

	if (flash_active(p->s, form))
		value = flash_get_value(p->s, form, name);
	h_printf(&p->h, "<div class=\"field%s\">\n<label for=\"f-%s\">%s</label>\n"
	    "<textarea id=\"f-%s\" name=\"%s\" rows=\"3\"", err ? " has-error" : "",
	    name, label, name, name);
	described_by(p, name, hint, err);
	h_printf(&p->h, ">%s</textarea>\n", value ? value : "");
	field_help(p, name, hint, err);
	h_raw(&p->h, "</div>\n");
}

void
field_checkbox(struct page *p, const char *form, const char *name,
    const char *label, int checked, const char *hint)
{
	const char *err = flash_get_error(p->s, form, name);

	if (flash_active(p->s, form))
		checked = flash_get_value(p->s, form, name) != NULL;
	h_printf(&p->h, "<div class=\"field field-check%s\">\n"
	    "<input id=\"f-%s\" name=\"%s\" type=\"checkbox\" value=\"1\"%s",
	    err ? " has-error" : "", name, name, checked ? " checked" : "");
	described_by(p, name, hint, err);
	h_printf(&p->h, ">\n<label for=\"f-%s\">%s</label>\n", name, label);
	field_help(p, name, hint, err);
	h_raw(&p->h, "</div>\n");
}

void
field_duration(struct page *p, const char *form, const char *name,
    const char *label, long long seconds, int with_minutes, const char *hint)
{
	const char *err = flash_get_error(p->s, form, name), *unit;
	char num[32], uname[64];

	snprintf(uname, sizeof(uname), "%s_unit", name);
	if (seconds > 0 && seconds % 86400 == 0) {
		snprintf(num, sizeof(num), "%lld", seconds / 86400);
		unit = "days";
	} else if (seconds > 0 && seconds % 3600 == 0) {
		snprintf(num, sizeof(num), "%lld", seconds / 3600);
		unit = "hours";
	} else if (with_minutes) {
		snprintf(num, sizeof(num), "%lld", seconds / 60);
		unit = "minutes";
	} else {
		snprintf(num, sizeof(num), "%lld", (seconds + 3599) / 3600);
		unit = "hours";
	}
	if (flash_active(p->s, form)) {
		const char *v = flash_get_value(p->s, form, name),
		    *u = flash_get_value(p->s, form, uname);

		snprintf(num, sizeof(num), "%.30s", v ? v : "");
		unit = u ? u : unit;
	}
	h_printf(&p->h, "<div class=\"field%s\">\n<label for=\"f-%s\">%s</label>\n"
	    "<div class=\"duration\">\n<input id=\"f-%s\" name=\"%s\" "
	    "type=\"number\" inputmode=\"numeric\" min=\"1\" step=\"1\" "
	    "value=\"%s\"", err ? " has-error" : "", name, label, name, name, num);
	described_by(p, name, hint, err);
	h_printf(&p->h, ">\n<select id=\"f-%s\" name=\"%s\" aria-label=\"%s "
	    "(unit)\">", uname, uname, label);
	if (with_minutes)
		h_printf(&p->h, "<option value=\"minutes\"%s>Minutes</option>",
		    strcmp(unit, "minutes") == 0 ? " selected" : "");
	h_printf(&p->h, "<option value=\"hours\"%s>Hours</option>"
	    "<option value=\"days\"%s>Days</option></select>\n</div>\n",
	    strcmp(unit, "hours") == 0 ? " selected" : "",
	    strcmp(unit, "days") == 0 ? " selected" : "");
	field_help(p, name, hint, err);
	h_raw(&p->h, "</div>\n");
}

int
form_duration(const struct form *f, const char *name, long long *out,
    char *msg, size_t len)
{
	char uname[64], *end;
	const char *v = form_get(f, name), *u;
	long long n, mult;

	snprintf(uname, sizeof(uname), "%s_unit", name);
	u = form_get(f, uname);
	if (v == NULL || v[0] == '\0') {
		snprintf(msg, len, "give a number");
		return -1;
	}
	n = strtoll(v, &end, 10);
	if (end == v || *end != '\0' || n < 1 || n > 100000) {
		snprintf(msg, len, "'%.20s' is not a whole number of at least 1", v);
		return -1;
	}
	if (u != NULL && strcmp(u, "days") == 0)
		mult = 86400;
	else if (u != NULL && strcmp(u, "hours") == 0)
		mult = 3600;
	else if (u != NULL && strcmp(u, "minutes") == 0)
		mult = 60;
	else {
		snprintf(msg, len, "choose Hours or Days");
		return -1;
	}
	*out = n * mult;
	return 0;
}

void
flash_refuse(struct page *p, const char *form, const char *msg)
{
	flash_clear(&p->s->flash);
	flash_form(p->s, form);
	for (size_t i = 0; p->f != NULL && i < p->f->n; i++)
		if (strcmp(p->f->v[i].key, "csrf") != 0 &&
		    strstr(p->f->v[i].key, "password") == NULL)
			flash_value(p->s, p->f->v[i].key, p->f->v[i].value);
	flash_msg(p->s, 1, "%s", msg);
}

/* ---- form parsing ------------------------------------------------------------------------ */

#define FIELD_MAX (64 * 1024)

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes n bytes of application/x-www-form-urlencoded text; NULL when
 * malformed or holding a NUL byte. */
static char *
url_dec(const char *s, size_t n)
{
	char *out = malloc(n + 1), *o = out;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '+')
			*o++ = ' ';
		else if (s[i] == '%') {
			int a, b;

			if (i + 2 >= n || (a = hexval(s[i + 1])) < 0 ||
			    (b = hexval(s[i + 2])) < 0 || (a == 0 && b == 0)) {
				free(out);
				return NULL;
			}
			*o++ = (char)(a * 16 + b);
			i += 2;
		} else
			*o++ = s[i];
	}
	*o = '\0';
	return out;
}

static void
form_add(struct form *f, const char *key, const char *value, size_t vlen)
{
	struct kv *e = NULL;
	char *nv;
	size_t old;

	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->v[i].key, key) == 0) {
			e = &f->v[i];
			break;
		}
	if (e == NULL) {
		if (f->n >= sizeof(f->v) / sizeof(f->v[0])) {
			f->bad = 1;
			return;
		}
		e = &f->v[f->n];
		if ((e->key = strdup(key)) == NULL || (e->value = strdup("")) ==
		    NULL) {
			free(e->key);
			e->key = NULL;
			f->bad = 1;
			return;
		}
		f->n++;
	}
	/* multipart parts arrive in pieces: append */
	old = strlen(e->value);
	if (old + vlen > FIELD_MAX ||
	    (nv = realloc(e->value, old + vlen + 1)) == NULL) {
		f->too_big = 1;
		return;
	}
	memcpy(nv + old, value, vlen);
	nv[old + vlen] = '\0';
	e->value = nv;
	/* browsers send the line breaks of a textarea as CRLF: keep LF */
	for (char *r = nv + (old > 0 ? old - 1 : 0), *w = r; ; r++) {
		if (r[0] == '\r' && r[1] == '\n')
			continue;
		if ((*w++ = *r) == '\0')
			break;
	}
}

static enum MHD_Result
multipart_field(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *filename, const char *content_type,
    const char *transfer_encoding, const char *data, uint64_t off,
    size_t size)
{
	struct form *f = cls;
	char *nf;

	(void)kind;
	(void)content_type;
	(void)transfer_encoding;
	if (key == NULL) {
		/* a part without a name (libmicrohttpd passes NULL for a part
		 * whose Content-Disposition it could not read): malformed */
		f->bad = 1;
		return MHD_NO;
	}
	if (strcmp(key, "file") == 0) {
		if (filename != NULL)
			snprintf(f->filename, sizeof(f->filename), "%s", filename);
		if (off + size > HTTP_BODY_MAX) {
			f->too_big = 1;
			return MHD_NO;
		}
		if ((nf = realloc(f->file, (size_t)off + size + 1)) == NULL)
			return MHD_NO;
		f->file = nf;
		memcpy(f->file + off, data, size);
		f->file_len = (size_t)off + size;
		f->file[f->file_len] = '\0';
		return MHD_YES;
	}
	if (memchr(data, '\0', size) != NULL) {
		f->bad = 1;
		return MHD_NO;
	}
	form_add(f, key, data, size);
	return f->bad || f->too_big ? MHD_NO : MHD_YES;
}

void
form_read(struct request *r, struct form *f)
{
	const char *ctype = req_header(r, "Content-Type");
	const char *b = r->body ? r->body : "";
	size_t n = r->len;

	memset(f, 0, sizeof(*f));
	if (ctype != NULL && strncasecmp(ctype, "multipart/form-data", 19) == 0) {
		struct MHD_PostProcessor *pp = MHD_create_post_processor(r->conn,
		    16 * 1024, multipart_field, f);

		if (pp == NULL || MHD_post_process(pp, b, n) != MHD_YES)
			f->bad = 1;
		if (pp != NULL)
			MHD_destroy_post_processor(pp);
		return;
	}
	if (ctype == NULL || strncasecmp(ctype,
	    "application/x-www-form-urlencoded", 33) != 0) {
		f->bad = n > 0;
		return;
	}
	for (size_t i = 0; i < n && !f->bad;) {
		size_t end = i, eq;
		char *k, *v;

		while (end < n && b[end] != '&')
			end++;
		for (eq = i; eq < end && b[eq] != '='; eq++)
			;
		if (end > i) {
			k = url_dec(b + i, eq - i);
			v = eq < end ? url_dec(b + eq + 1, end - eq - 1) : strdup("");
			if (k == NULL || v == NULL)
				f->bad = 1;
			else
				form_add(f, k, v, strlen(v));
			free(k);
			free(v);
		}
		i = end + 1;
	}
}

const char *
form_get(const struct form *f, const char *key)
{
	for (size_t i = 0; f != NULL && i < f->n; i++)
		if (strcmp(f->v[i].key, key) == 0)
			return f->v[i].value;
	return NULL;
}

void
form_free(struct form *f)
{
	for (size_t i = 0; i < f->n; i++) {
		if (f->v[i].value != NULL && strstr(f->v[i].key, "password") != NULL)
			memset(f->v[i].value, 0, strlen(f->v[i].value));
		free(f->v[i].key);
		free(f->v[i].value);
	}
	free(f->file);
	memset(f, 0, sizeof(*f));
}
