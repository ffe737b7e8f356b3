/*
 * web_certs.c - Certificate Management: the table of certificates (filter,
 * search, sort, pages), a page per certificate (fields, PEM, history,
 * events), upload, delete with confirmation, the OCSP responder mark; and
 * the units (add, remove, export a unit's bundle).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certmon/cert.h"
#include "certmon/expiry.h"
#include "certmon/revocation_run.h"
#include "web.h"

#define PER_PAGE_DEFAULT 50
#define SORT_ROWS_MAX 20000     /* rows sorted in memory by name or unit */

/* ---- the list ------------------------------------------------------------------ */

struct listq {
	const char *unit;
	const char *state;
	const char *q;
	int history;
	const char *sort;        /* "not_after", "days", "cn", "unit" */
	int desc;
	long long page;
	long long per;
};

struct lrow {
	char unit[CM_UNIT_NAME_MAX + 1];
	enum cm_unit_kind kind;
	char fp[CM_FP_HEX_LEN];
	char *cn;
	char *issuer;
	cm_time not_after;
	char rev[24];
	cm_time replaced_at;
};

struct lrows {
	struct lrow *v;
	size_t n, cap;
	int oom;
};

static int
collect(const struct cm_cert_row *r, void *arg)
{
	struct lrows *rs = arg;
	struct lrow *e;

	if (rs->n == rs->cap) {
		size_t ncap = rs->cap ? rs->cap * 2 : 64;
		struct lrow *nv = realloc(rs->v, ncap * sizeof(*nv));

		if (nv == NULL) {
			rs->oom = 1;
			return 1;
		}
		rs->v = nv;
		rs->cap = ncap;
	}
	e = &rs->v[rs->n];
	memset(e, 0, sizeof(*e));
	snprintf(e->unit, sizeof(e->unit), "%s", r->unit);
	e->kind = r->unit_kind;
	snprintf(e->fp, sizeof(e->fp), "%s", r->fingerprint);
	e->cn = strdup(r->subject_cn);
	e->issuer = strdup(r->issuer_cn && r->issuer_cn[0] ? r->issuer_cn :
	    r->issuer ? r->issuer : "");
	e->not_after = r->not_after;
	snprintf(e->rev, sizeof(e->rev), "%s", r->revocation ? r->revocation :
	    "unchecked");
	e->replaced_at = r->replaced_at;
	if (e->cn == NULL || e->issuer == NULL) {
		free(e->cn);
		free(e->issuer);
		rs->oom = 1;
		return 1;
	}
	rs->n++;
	return 0;
}

static void
lrows_free(struct lrows *rs)
{
	for (size_t i = 0; i < rs->n; i++) {
		free(rs->v[i].cn);
		free(rs->v[i].issuer);
	}
	free(rs->v);
	memset(rs, 0, sizeof(*rs));
}

static int
by_cn(const void *a, const void *b)
{
	const struct lrow *x = a, *y = b;
	int c = strcasecmp(x->cn, y->cn);

	return c != 0 ? c : (x->not_after > y->not_after) - (x->not_after <
	    y->not_after);
}

static int
by_unit(const void *a, const void *b)
{
	const struct lrow *x = a, *y = b;
	int c = strcasecmp(x->unit, y->unit);

	return c != 0 ? c : (x->not_after > y->not_after) - (x->not_after <
	    y->not_after);
}

/* The list's URL with its query (sort/dir/page overridable). */
static char *
list_href(const struct listq *q, const char *sort, int desc, long long page,
    char *out, size_t len)
{
	char a[200], b[200], c[400];
	size_t n;

	n = (size_t)snprintf(out, len, "/certs?sort=%s&dir=%s", sort,
	    desc ? "desc" : "asc");
	if (q->unit != NULL && q->unit[0] != '\0' && n < len)
		n += (size_t)snprintf(out + n, len - n, "&unit=%s",
		    url_enc(q->unit, a, sizeof(a)));
	if (q->state != NULL && q->state[0] != '\0' && n < len)
		n += (size_t)snprintf(out + n, len - n, "&state=%s",
		    url_enc(q->state, b, sizeof(b)));
	if (q->q != NULL && q->q[0] != '\0' && n < len)
		n += (size_t)snprintf(out + n, len - n, "&q=%s",
		    url_enc(q->q, c, sizeof(c)));
	if (q->history && n < len)
		n += (size_t)snprintf(out + n, len - n, "&history=1");
	if (q->per != PER_PAGE_DEFAULT && n < len)
		n += (size_t)snprintf(out + n, len - n, "&per=%lld", q->per);
	if (page > 1 && n < len)
		snprintf(out + n, len - n, "&page=%lld", page);
	return out;
}

static void
sort_th(struct html *h, const struct listq *q, const char *key,
    const char *label, const char *cls)
{
	int active = strcmp(q->sort, key) == 0;
	char href[1200];

	h_raw(h, "<th scope=\"col\"");
	if (cls != NULL)
		h_printf(h, " class=\"%s\"", cls);
	if (active)
		h_printf(h, " aria-sort=\"%s\"", q->desc ? "descending" :
		    "ascending");
	h_printf(h, "><a class=\"sort%s\" href=\"%s\">%s<span class=\"arrow\" "
	    "aria-hidden=\"true\">%s</span>", active ? " sorted" : "",
	    list_href(q, key, active ? !q->desc : 0, 1, href, sizeof(href)),
	    label, active ? (q->desc ? " ▼" : " ▲") : " ↕");
	if (!active)
		h_printf(h, "<span class=\"visually-hidden\"> (sort)</span>");
	h_raw(h, "</a></th>");
}

static const char *
kind_label(enum cm_unit_kind k)
{
	return k == CM_UNIT_TRUST ? "trust" : k == CM_UNIT_LSC ? "LSC" :
	    "identity";
}

static void
unit_options(struct html *h, struct cm_unit *units, size_t n,
    const char *selected, int with_all)
{
	if (with_all)
		h_printf(h, "<option value=\"\"%s>All units</option>",
		    selected == NULL || selected[0] == '\0' ? " selected" : "");
	for (size_t i = 0; i < n; i++)
		h_printf(h, "<option value=\"%s\"%s>%s (%s)</option>", units[i].name,
		    selected != NULL && strcmp(selected, units[i].name) == 0 ?
		    " selected" : "", units[i].name, kind_label(units[i].kind));
}

static long long
query_num(struct request *r, const char *key, long long def, long long lo,
    long long hi)
{
	const char *v = req_query(r, key);
	char *end;
	long long n;

	if (v == NULL)
		return def;
	n = strtoll(v, &end, 10);
	if (end == v || *end != '\0' || n < lo || n > hi)
		return def;
	return n;
}

static enum MHD_Result
certs_list(struct page *p)
{
	static const char *const states[] = {"valid", "expiring", "critical",
	    "expired", "revoked"};
	struct request *r = p->r;
	struct daemon_ctx *d = r->d;
	struct html *h = &p->h;
	struct listq q;
	struct cm_cert_filter f;
	struct cm_err err = {CM_OK, ""};
	struct lrows rs = {NULL, 0, 0, 0};
	struct cm_unit *units = NULL, u;
	size_t nunits = 0, from = 0, to = 0;
	int64_t total = 0;
	cm_time now = daemon_now(d);
	int start = web_start_days(d), capped = 0;
	const char *problem = NULL;
	char problem_buf[CM_ERR_MSG_MAX], href[1200], when[40], unitq[200], fpq[80];
	enum cm_expiry_state es;
	long long pages;

	memset(&q, 0, sizeof(q));
	memset(&f, 0, sizeof(f));
	q.unit = req_query(r, "unit");
	q.state = req_query(r, "state");
	q.q = req_query(r, "q");
	q.history = req_query(r, "history") != NULL &&
	    strcmp(req_query(r, "history"), "1") == 0;
	q.sort = req_query(r, "sort");
	if (q.sort == NULL || (strcmp(q.sort, "cn") != 0 &&
	    strcmp(q.sort, "unit") != 0 && strcmp(q.sort, "days") != 0))
		q.sort = "not_after";
	q.desc = req_query(r, "dir") != NULL && strcmp(req_query(r, "dir"),
	    "desc") == 0;
	q.page = query_num(r, "page", 1, 1, 1000000);
	q.per = query_num(r, "per", PER_PAGE_DEFAULT, 10, 200);
	if (cm_store_unit_list(d->st, &units, &nunits, &err) != CM_OK)
		return web_error_page(p, 503, "Store error", "%s", err.msg);
	if (q.unit != NULL && q.unit[0] != '\0') {
		if (cm_store_unit_get(d->st, q.unit, &u, &err) != CM_OK) {
			snprintf(problem_buf, sizeof(problem_buf), "%s", err.msg);
			problem = problem_buf;
		}
		f.unit = q.unit;
	}
	if (q.q != NULL && q.q[0] != '\0')
		f.search = q.q;
	f.include_history = q.history;
	if (q.state != NULL && q.state[0] != '\0') {
		if (strcmp(q.state, "revoked") == 0)
			f.revocation = "revoked";
		else if (cm_expiry_state_parse(q.state, &es) == 0)
			cm_expiry_state_window(es, now, start, &f.not_after_min,
			    &f.not_after_max);
		else {
			snprintf(problem_buf, sizeof(problem_buf), "Unknown state '%.40s'",
			    q.state);
			problem = problem_buf;
		}
	}
	if (problem == NULL &&
	    cm_store_cert_count(d->st, &f, &total, &err) != CM_OK) {
		free(units);
		return web_error_page(p, 503, "Store error", "%s", err.msg);
	}
	pages = total > 0 ? (total + q.per - 1) / q.per : 1;
	if (q.page > pages)
		q.page = pages;
	if (problem == NULL && total > 0) {
		if (strcmp(q.sort, "cn") == 0 || strcmp(q.sort, "unit") == 0) {
			/* sorted here: every match (bounded), then one page of it */
			f.limit = SORT_ROWS_MAX;
			capped = total > SORT_ROWS_MAX;
			if (cm_store_cert_list(d->st, &f, collect, &rs, &err) == CM_OK &&
			    !rs.oom)
				qsort(rs.v, rs.n, sizeof(rs.v[0]), strcmp(q.sort, "cn") ==
				    0 ? by_cn : by_unit);
			from = (size_t)((q.page - 1) * q.per);
			to = from + (size_t)q.per;
			if (q.desc) {
				for (size_t i = 0; i < rs.n / 2; i++) {
					struct lrow t = rs.v[i];

					rs.v[i] = rs.v[rs.n - 1 - i];
					rs.v[rs.n - 1 - i] = t;
				}
			}
		} else {
			/* the store lists soonest first: page it there */
			long long off = (q.page - 1) * q.per, lim = q.per;

			if (q.desc) {
				off = total - q.page * q.per;
				if (off < 0) {
					lim += off;
					off = 0;
				}
			}
			f.offset = off;
			f.limit = lim;
			if (cm_store_cert_list(d->st, &f, collect, &rs, &err) == CM_OK &&
			    q.desc)
				for (size_t i = 0; i < rs.n / 2; i++) {
					struct lrow t = rs.v[i];

					rs.v[i] = rs.v[rs.n - 1 - i];
					rs.v[rs.n - 1 - i] = t;
				}
			from = 0;
			to = rs.n;
		}
		if (err.code != CM_OK) {
			lrows_free(&rs);
			free(units);
			return web_error_page(p, 503, "Store error", "%s", err.msg);
		}
	}
	if (to > rs.n)
		to = rs.n;
	if (from > to)
		from = to;

	page_begin(p, "Certificate Management", "certs");
	h_raw(h, "<div class=\"page-head\"><h1>Certificate Management</h1>"
	    "<div class=\"page-actions\"><a class=\"btn btn-primary\" "
	    "href=\"/certs/upload\">Upload Certificate</a></div></div>\n");
	/* filters */
	h_raw(h, "<form class=\"filters\" method=\"get\" action=\"/certs\" "
	    "role=\"search\" aria-label=\"Filter certificates\">\n");
	h_printf(h, "<input type=\"hidden\" name=\"sort\" value=\"%s\">"
	    "<input type=\"hidden\" name=\"dir\" value=\"%s\">\n", q.sort,
	    q.desc ? "desc" : "asc");
	h_raw(h, "<div class=\"field\"><label for=\"f-unit\">Unit</label>"
	    "<select id=\"f-unit\" name=\"unit\">");
	unit_options(h, units, nunits, q.unit, 1);
	h_raw(h, "</select></div>\n<div class=\"field\"><label for=\"f-state\">"
	    "State</label><select id=\"f-state\" name=\"state\">");
	h_printf(h, "<option value=\"\"%s>All states</option>",
	    q.state == NULL || q.state[0] == '\0' ? " selected" : "");
	for (size_t i = 0; i < 5; i++)
		h_printf(h, "<option value=\"%s\"%s>%c%s</option>", states[i],
		    q.state != NULL && strcmp(q.state, states[i]) == 0 ?
		    " selected" : "", states[i][0] - 32, states[i] + 1);
	h_printf(h, "</select></div>\n<div class=\"field field-grow\"><label "
	    "for=\"f-q\">Search by name</label><input id=\"f-q\" name=\"q\" "
	    "type=\"search\" value=\"%s\" placeholder=\"Common name contains…\">"
	    "</div>\n", q.q ? q.q : "");
	h_printf(h, "<div class=\"field field-check\"><input id=\"f-history\" "
	    "name=\"history\" type=\"checkbox\" value=\"1\"%s><label "
	    "for=\"f-history\">Include history</label></div>\n",
	    q.history ? " checked" : "");
	h_raw(h, "<div class=\"filter-actions\"><button type=\"submit\" "
	    "class=\"btn\">Apply</button> <a class=\"btn btn-ghost\" "
	    "href=\"/certs\">Reset</a></div>\n</form>\n");
	if (problem != NULL)
		h_printf(h, "<div class=\"flash flash-error\" role=\"alert\">%s</div>\n",
		    problem);
	/* the table */
	h_printf(h, "<div class=\"table-wrap\" role=\"region\" "
	    "aria-labelledby=\"certs-caption\" tabindex=\"0\">\n<table "
	    "class=\"data certs\">\n<caption id=\"certs-caption\">%lld "
	    "certificate%s", (long long)total, total == 1 ? "" : "s");
	if (total > 0)
		h_printf(h, " · showing %lld–%lld", (long long)((q.page - 1) * q.per +
		    1), (long long)((q.page - 1) * q.per + (long long)(to - from)));
	h_raw(h, "</caption>\n<thead><tr>");
	sort_th(h, &q, "unit", "Unit", NULL);
	sort_th(h, &q, "cn", "Common name", NULL);
	h_raw(h, "<th scope=\"col\">Type</th><th scope=\"col\">Issuer</th>");
	sort_th(h, &q, "not_after", "Expires", NULL);
	sort_th(h, &q, "days", "Days left", "num");
	h_raw(h, "<th scope=\"col\">State</th><th scope=\"col\">Revocation</th>"
	    "</tr></thead>\n<tbody>\n");
	for (size_t i = from; i < to; i++) {
		const struct lrow *e = &rs.v[i];
		enum cm_expiry_state st = cm_expiry_state(e->not_after, now, start);
		char iso[CM_TIME_TEXT_LEN];

		web_time(e->not_after, when, sizeof(when));
		url_enc(e->unit, unitq, sizeof(unitq));
		url_enc(e->fp, fpq, sizeof(fpq));
		h_printf(h, "<tr class=\"%s\"><td>%s</td><td class=\"cn\"><a "
		    "href=\"/certs/%s/%s\">%s</a>", e->replaced_at ? "history" :
		    "current", e->unit,
		    unitq, fpq, e->cn[0] ? e->cn : "(no common name)");
		if (e->replaced_at)
			h_raw(h, " <span class=\"tag\">history</span>");
		h_printf(h, "</td><td>%s</td><td class=\"issuer\" title=\"%s\">%s</td><td "
		    "class=\"nowrap\"><time datetime=\"%s\" title=\"%s\">%.10s</time>"
		    "</td><td class=\"num\">%lld</td><td>", kind_label(e->kind),
		    e->issuer, e->issuer, cm_time_format(e->not_after, iso), when, when,
		    (long long)cm_expiry_days_left(e->not_after, now));
		h_state_badge(h, cm_expiry_state_name(st));
		h_raw(h, "</td><td>");
		h_revocation_badge(h, e->rev);
		h_raw(h, "</td></tr>\n");
	}
	if (from == to)
		h_raw(h, "<tr><td colspan=\"8\" class=\"empty\">No certificate "
		    "matches.</td></tr>\n");
	h_raw(h, "</tbody>\n</table>\n</div>\n");
	if (capped)
		h_printf(h, "<p class=\"hint\">Sorting by name or unit covers the "
		    "first %d matches by expiry; narrow the filter to see the rest."
		    "</p>\n", SORT_ROWS_MAX);
	if (pages > 1) {
		h_raw(h, "<nav class=\"pager\" aria-label=\"Pages\">");
		if (q.page > 1)
			h_printf(h, "<a class=\"btn\" rel=\"prev\" href=\"%s\">← Previous"
			    "</a>", list_href(&q, q.sort, q.desc, q.page - 1, href,
			    sizeof(href)));
		h_printf(h, "<span>Page %lld of %lld</span>", q.page, pages);
		if (q.page < pages)
			h_printf(h, "<a class=\"btn\" rel=\"next\" href=\"%s\">Next →"
			    "</a>", list_href(&q, q.sort, q.desc, q.page + 1, href,
			    sizeof(href)));
		h_raw(h, "</nav>\n");
	}
	page_end(p);
	lrows_free(&rs);
	free(units);
	return page_send(p, 200);
}

/* ---- one certificate --------------------------------------------------------------- */

struct detail {
	struct page *p;
	cm_time now;
	int start;
	int found;
	char unit[CM_UNIT_NAME_MAX + 1];
	char fp[CM_FP_HEX_LEN];
	char cn[256];
	char issuer_cn[256];
	int ocsp_responder;
	char *pem;
	enum cm_status rc;
	struct cm_err err;
};

static void
dl_item(struct html *h, const char *term, const char *value)
{
	h_printf(h, "<div><dt>%s</dt><dd>%s</dd></div>\n", term,
	    value != NULL && value[0] != '\0' ? value : "—");
}

static void
dl_list(struct html *h, const char *term, const struct cm_strlist *l)
{
	h_printf(h, "<div><dt>%s</dt><dd>", term);
	if (l->n == 0)
		h_raw(h, "—");
	else {
		h_raw(h, "<ul class=\"plain\">");
		for (size_t i = 0; i < l->n; i++)
			h_printf(h, "<li>%s</li>", l->v[i]);
		h_raw(h, "</ul>");
	}
	h_raw(h, "</dd></div>\n");
}

static int
detail_row(const struct cm_cert_row *r, void *arg)
{
	struct detail *dt = arg;
	struct html *h = &dt->p->h;
	struct cm_cert *x = NULL;
	enum cm_expiry_state st = cm_expiry_state(r->not_after, dt->now,
	    dt->start);
	char a[40], b[40], buf[300], unitq[200], fpq[80];

	dt->found = 1;
	snprintf(dt->unit, sizeof(dt->unit), "%s", r->unit);
	snprintf(dt->fp, sizeof(dt->fp), "%s", r->fingerprint);
	/* the store gives "" for a certificate without CN, never NULL */
	snprintf(dt->cn, sizeof(dt->cn), "%s", r->subject_cn);
	snprintf(dt->issuer_cn, sizeof(dt->issuer_cn), "%s", r->issuer_cn);
	dt->ocsp_responder = r->ocsp_responder;
	if ((dt->rc = cm_cert_from_der(r->der, r->der_len, &x, &dt->err)) !=
	    CM_OK)
		return 1;
	dt->pem = cm_cert_to_pem(x);
	url_enc(r->unit, unitq, sizeof(unitq));
	url_enc(r->fingerprint, fpq, sizeof(fpq));

	page_begin(dt->p, r->subject_cn[0] ? r->subject_cn : "Certificate",
	    "certs");
	h_printf(h, "<nav class=\"crumbs\" aria-label=\"Breadcrumb\"><a "
	    "href=\"/certs\">Certificate Management</a> › <a "
	    "href=\"/certs?unit=%s\">%s</a> › <span aria-current=\"page\">%s"
	    "</span></nav>\n", unitq, r->unit, r->subject_cn[0] ? r->subject_cn :
	    "(no common name)");
	h_printf(h, "<div class=\"page-head\"><h1 class=\"cert-title\">%s</h1>"
	    "<div class=\"page-actions\">", r->subject_cn[0] ? r->subject_cn :
	    "(no common name)");
	h_printf(h, "<a class=\"btn\" href=\"/certs/%s/%s/pem\" download>"
	    "Download PEM</a> <a class=\"btn btn-danger\" "
	    "href=\"/certs/%s/%s/delete\">Delete…</a></div></div>\n", unitq, fpq,
	    unitq, fpq);
	h_raw(h, "<p class=\"status-line\">");
	h_state_badge(h, cm_expiry_state_name(st));
	h_raw(h, " ");
	h_revocation_badge(h, r->revocation);
	if (r->replaced_at)
		h_raw(h, " <span class=\"tag\">history</span>");
	if (r->ocsp_responder)
		h_raw(h, " <span class=\"tag\">designated OCSP responder</span>");
	h_printf(h, " <span class=\"muted\">%lld days left</span></p>\n",
	    (long long)cm_expiry_days_left(r->not_after, dt->now));

	h_raw(h, "<section class=\"panel\" aria-labelledby=\"fields-h\">\n<h2 "
	    "id=\"fields-h\">Certificate</h2>\n<dl class=\"fields\">\n");
	snprintf(buf, sizeof(buf), "%s (%s)", r->unit, kind_label(r->unit_kind));
	dl_item(h, "Unit", buf);
	dl_item(h, "Subject", r->subject);
	dl_item(h, "Issuer", r->issuer);
	dl_item(h, "Serial number", r->serial_hex);
	dl_item(h, "Valid from", web_time(r->not_before, a, sizeof(a)));
	dl_item(h, "Valid until", web_time(r->not_after, b, sizeof(b)));
	dl_item(h, "State", cm_expiry_state_name(st));
	snprintf(buf, sizeof(buf), "%s%s%s%s", r->revocation ? r->revocation :
	    "unchecked", r->revocation_checked_at ? " (checked " : "",
	    r->revocation_checked_at ? web_time(r->revocation_checked_at, a,
	    sizeof(a)) : "", r->revocation_checked_at ? ")" : "");
	dl_item(h, "Revocation status", buf);
	if (r->revocation_reason != NULL)
		dl_item(h, "Revocation detail", r->revocation_reason);
	snprintf(buf, sizeof(buf), "%s %d bits", x->key_type, x->key_bits);
	dl_item(h, "Public key", buf);
	dl_item(h, "Signature algorithm", x->sig_alg);
	dl_item(h, "Certificate authority", x->is_ca ? "yes" : "no");
	snprintf(buf, sizeof(buf), "%d", x->version);
	dl_item(h, "Version", buf);
	dl_list(h, "Subject alternative names", &x->sans);
	dl_list(h, "Extended key usage", &x->ekus);
	dl_list(h, "OCSP URLs", &x->ocsp_urls);
	dl_list(h, "CA issuers", &x->ca_issuers);
	dl_list(h, "CRL distribution points", &x->crl_urls);
	dl_item(h, "OCSP no-check", x->ocsp_nocheck ? "yes" : "no");
	dl_item(h, "Designated OCSP responder", r->ocsp_responder ? "yes" : "no");
	h_printf(h, "<div class=\"wide\"><dt>SHA-256 fingerprint</dt><dd><code "
	    "class=\"fp\">%s</code></dd></div>\n", r->fingerprint);
	dl_item(h, "Added", web_time(r->added_at, a, sizeof(a)));
	if (r->replaced_at) {
		dl_item(h, "Replaced", web_time(r->replaced_at, b, sizeof(b)));
		if (r->replaced_by != NULL)
			h_printf(h, "<div><dt>Replaced by</dt><dd><a href=\"/certs/%s/%s\">"
			    "%.16s…</a></dd></div>\n", unitq, r->replaced_by,
			    r->replaced_by);
	}
	h_raw(h, "</dl>\n</section>\n");
	h_printf(h, "<section class=\"panel\" aria-labelledby=\"ocsp-h\"><h2 "
	    "id=\"ocsp-h\">OCSP responder mark</h2><form method=\"post\" "
	    "action=\"/certs/%s/%s/mark\" class=\"inline-form\">", unitq, fpq);
	h_csrf(dt->p);
	h_printf(h, "<input type=\"hidden\" name=\"ocsp_responder\" value=\"%s\">"
	    "<p>%s</p><button type=\"submit\" class=\"btn\">%s</button></form>"
	    "</section>\n", r->ocsp_responder ? "0" : "1", r->ocsp_responder ?
	    "This certificate is trusted to sign OCSP answers (trusted "
	    "responder model)." : "Mark this certificate as a designated OCSP "
	    "responder to trust the answers it signs (trusted responder model).",
	    r->ocsp_responder ? "Remove the OCSP responder mark" :
	    "Mark as designated OCSP responder");
	cm_cert_free(x);
	return 0;
}

struct hist {
	struct html *h;
	const char *cn;
	const char *fp;
	cm_time now;
	int start;
	int n;
};

static int
hist_row(const struct cm_cert_row *r, void *arg)
{
	struct hist *hs = arg;
	char a[40], b[40], unitq[200];

	if (strcmp(r->subject_cn, hs->cn) != 0 ||
	    strcmp(r->fingerprint, hs->fp) == 0)
		return 0;
	if (hs->n++ == 0)
		h_raw(hs->h, "<div class=\"table-wrap\"><table class=\"data\">"
		    "<thead><tr><th scope=\"col\">Serial</th><th scope=\"col\">Valid "
		    "from</th><th scope=\"col\">Valid until</th><th scope=\"col\">"
		    "Status</th></tr></thead><tbody>\n");
	h_printf(hs->h, "<tr><td><a href=\"/certs/%s/%s\">%s</a></td><td>%s</td>"
	    "<td>%s</td><td>%s</td></tr>\n", url_enc(r->unit, unitq,
	    sizeof(unitq)), r->fingerprint, r->serial_hex, web_time(r->not_before,
	    a, sizeof(a)), web_time(r->not_after, b, sizeof(b)),
	    r->replaced_at ? "replaced (history)" : "current");
	return 0;
}

static int
event_row(const struct cm_event *ev, void *arg)
{
	struct hist *hs = arg;
	char a[40];

	if (hs->n++ == 0)
		h_raw(hs->h, "<div class=\"table-wrap\"><table class=\"data\">"
		    "<thead><tr><th scope=\"col\">When</th><th scope=\"col\">Kind"
		    "</th><th scope=\"col\">Event</th><th scope=\"col\">By</th>"
		    "<th scope=\"col\">Message</th></tr></thead><tbody>\n");
	h_printf(hs->h, "<tr><td class=\"nowrap\">%s</td><td><span class=\"tag "
	    "tag-%s\">%s</span></td><td>%s</td><td>%s</td><td class=\"message\">"
	    "%s</td></tr>\n", web_time_sec(ev->at, a, sizeof(a)), ev->kind,
	    ev->kind, ev->name,
	    ev->actor, ev->message ? ev->message : "");
	return 0;
}

static enum MHD_Result
cert_detail(struct page *p, const char *unit, const char *fp)
{
	struct daemon_ctx *d = p->r->d;
	struct detail dt;
	struct hist hs;
	struct cm_cert_filter f;
	struct cm_event_filter ef;
	struct cm_err err = {CM_OK, ""};
	struct html *h = &p->h;

	memset(&dt, 0, sizeof(dt));
	dt.p = p;
	dt.now = daemon_now(d);
	dt.start = web_start_days(d);
	if (cm_store_cert_find(d->st, fp, unit, detail_row, &dt, &err) != CM_OK)
		return web_error_page(p, err.code == CM_ERR_NOTFOUND ? 404 : 400,
		    "Certificate not found", "%s", err.msg);
	if (dt.rc != CM_OK) {
		free(dt.pem);
		return web_error_page(p, 500, "Cannot read the certificate", "%s",
		    dt.err.msg);
	}
	memset(&hs, 0, sizeof(hs));
	hs.h = h;
	hs.cn = dt.cn;
	hs.fp = dt.fp;
	h_raw(h, "<section class=\"panel\" aria-labelledby=\"hist-h\"><h2 "
	    "id=\"hist-h\">History</h2>\n<p class=\"hint\">Other certificates "
	    "of this unit with the same common name (an identity unit keeps "
	    "the ones a newer upload replaced).</p>\n");
	memset(&f, 0, sizeof(f));
	f.unit = dt.unit;
	f.search = dt.cn[0] ? dt.cn : NULL;
	f.include_history = 1;
	f.limit = 200;
	if (dt.cn[0] != '\0')
		cm_store_cert_list(d->st, &f, hist_row, &hs, &err);
	if (hs.n == 0)
		h_raw(h, "<p class=\"empty\">None.</p>\n");
	else
		h_raw(h, "</tbody></table></div>\n");
	h_raw(h, "</section>\n<section class=\"panel\" aria-labelledby=\"ev-h\">"
	    "<h2 id=\"ev-h\">Events</h2>\n");
	hs.n = 0;
	memset(&ef, 0, sizeof(ef));
	ef.fingerprint = dt.fp;
	ef.limit = 100;
	cm_store_event_list(d->st, &ef, event_row, &hs, &err);
	if (hs.n == 0)
		h_raw(h, "<p class=\"empty\">No events.</p>\n");
	else
		h_raw(h, "</tbody></table></div>\n");
	h_printf(h, "</section>\n<section class=\"panel\" aria-labelledby=\"pem-h\">"
	    "<h2 id=\"pem-h\">PEM</h2>\n<details><summary>Show the certificate "
	    "in PEM format</summary><pre class=\"pem\">%s</pre></details>\n"
	    "</section>\n", dt.pem ? dt.pem : "");
	free(dt.pem);
	page_end(p);
	return page_send(p, 200);
}

static int
pem_row(const struct cm_cert_row *r, void *arg)
{
	struct detail *dt = arg;
	struct cm_cert *x = NULL;

	dt->found = 1;
	snprintf(dt->fp, sizeof(dt->fp), "%s", r->fingerprint);
	snprintf(dt->unit, sizeof(dt->unit), "%s", r->unit);
	if ((dt->rc = cm_cert_from_der(r->der, r->der_len, &x, &dt->err)) ==
	    CM_OK)
		dt->pem = cm_cert_to_pem(x);
	cm_cert_free(x);
	return 0;
}

static enum MHD_Result
cert_pem(struct page *p, const char *unit, const char *fp)
{
	struct detail dt;
	struct cm_err err = {CM_OK, ""};
	char name[128];
	enum MHD_Result ret;

	memset(&dt, 0, sizeof(dt));
	if (cm_store_cert_find(p->r->d->st, fp, unit, pem_row, &dt, &err) !=
	    CM_OK)
		return web_error_page(p, 404, "Certificate not found", "%s",
		    err.msg);
	if (dt.pem == NULL)
		return web_error_page(p, 500, "Cannot read the certificate", "%s",
		    dt.err.msg);
	snprintf(name, sizeof(name), "%s-%.16s.pem", dt.unit, dt.fp);
	ret = web_download(p->r, "application/x-pem-file", name, dt.pem,
	    strlen(dt.pem));
	free(dt.pem);
	return ret;
}

static int
confirm_row(const struct cm_cert_row *r, void *arg)
{
	struct detail *dt = arg;
	char when[40];

	dt->found = 1;
	snprintf(dt->fp, sizeof(dt->fp), "%s", r->fingerprint);
	snprintf(dt->unit, sizeof(dt->unit), "%s", r->unit);
	snprintf(dt->cn, sizeof(dt->cn), "%s", r->subject_cn);
	snprintf(dt->issuer_cn, sizeof(dt->issuer_cn), "%s",
	    web_time(r->not_after, when, sizeof(when)));
	return 0;
}

static enum MHD_Result
cert_delete(struct page *p, const char *unit, const char *fp)
{
	struct daemon_ctx *d = p->r->d;
	struct html *h = &p->h;
	struct detail dt;
	struct cm_err err = {CM_OK, ""};
	char full[CM_FP_HEX_LEN], unit_out[CM_UNIT_NAME_MAX + 1], back[300],
	    unitq[200];

	memset(&dt, 0, sizeof(dt));
	if (cm_store_cert_find(d->st, fp, unit, confirm_row, &dt, &err) != CM_OK) {
		if (p->f != NULL) {
			flash_msg(p->s, 1, "Not deleted: %s", err.msg);
			return web_redirect(p->r, "/certs", NULL);
		}
		return web_error_page(p, 404, "Certificate not found", "%s",
		    err.msg);
	}
	url_enc(dt.unit, unitq, sizeof(unitq));
	if (p->f == NULL) {
		page_begin(p, "Delete certificate", "certs");
		h_printf(h, "<h1>Delete certificate</h1>\n<div class=\"panel "
		    "panel-danger\">\n<p>Delete <strong>%s</strong> from unit "
		    "<strong>%s</strong>?</p>\n<dl class=\"fields\"><div><dt>Expires"
		    "</dt><dd>%s</dd></div><div class=\"wide\"><dt>SHA-256 "
		    "fingerprint</dt><dd><code class=\"fp\">%s</code></dd></div>"
		    "</dl>\n<p>The certificate stops being monitored and leaves the "
		    "unit's exported bundle. This cannot be undone (upload the file "
		    "again to bring it back).</p>\n<form method=\"post\" "
		    "action=\"/certs/%s/%s/delete\" class=\"actions\">",
		    dt.cn[0] ? dt.cn : "(no common name)", dt.unit, dt.issuer_cn,
		    dt.fp, unitq, dt.fp);
		h_csrf(p);
		h_printf(h, "<button type=\"submit\" class=\"btn btn-danger\">"
		    "Delete certificate</button> <a class=\"btn btn-ghost\" "
		    "href=\"/certs/%s/%s\">Cancel</a></form>\n</div>\n", unitq, dt.fp);
		page_end(p);
		return page_send(p, 200);
	}
	if (cm_store_cert_delete(d->st, dt.fp, dt.unit, web_actor(p),
	    daemon_now(d), full, unit_out, &err) != CM_OK) {
		flash_msg(p->s, 1, "Not deleted: %s", err.msg);
		snprintf(back, sizeof(back), "/certs/%s/%s", unitq, dt.fp);
		return web_redirect(p->r, back, NULL);
	}
	d->reschedule = 1;
	flash_msg(p->s, 0, "Deleted %s (%.16s…) from unit %s.", dt.cn[0] ? dt.cn :
	    "the certificate", full, unit_out);
	snprintf(back, sizeof(back), "/certs?unit=%s", unitq);
	return web_redirect(p->r, back, NULL);
}

static enum MHD_Result
cert_mark(struct page *p, const char *unit, const char *fp)
{
	struct daemon_ctx *d = p->r->d;
	struct cm_err err = {CM_OK, ""};
	const char *v = form_get(p->f, "ocsp_responder");
	int mark = v != NULL && strcmp(v, "1") == 0;
	char back[300], unitq[200], fpq[80];

	snprintf(back, sizeof(back), "/certs/%s/%s", url_enc(unit, unitq,
	    sizeof(unitq)), url_enc(fp, fpq, sizeof(fpq)));
	if (cm_store_cert_mark(d->st, fp, unit, mark, web_actor(p), daemon_now(d),
	    &err) != CM_OK)
		flash_msg(p->s, 1, "Not changed: %s", err.msg);
	else
		flash_msg(p->s, 0, "%s", mark ? "Marked as a designated OCSP "
		    "responder." : "No longer a designated OCSP responder.");
	return web_redirect(p->r, back, NULL);
}

/* ---- upload ------------------------------------------------------------------------- */

static enum MHD_Result
upload_page(struct page *p)
{
	struct daemon_ctx *d = p->r->d;
	struct html *h = &p->h;
	struct cm_unit *units = NULL;
	struct cm_err err = {CM_OK, ""};
	size_t n = 0;
	const char *unit = flash_get_value(p->s, "upload", "unit"),
	    *e_unit = flash_get_error(p->s, "upload", "unit"),
	    *e_file = flash_get_error(p->s, "upload", "file"),
	    *e_pw = flash_get_error(p->s, "upload", "password");

	if (unit == NULL)
		unit = req_query(p->r, "unit");
	if (cm_store_unit_list(d->st, &units, &n, &err) != CM_OK)
		return web_error_page(p, 503, "Store error", "%s", err.msg);
	page_begin(p, "Upload Certificate", "certs");
	h_raw(h, "<nav class=\"crumbs\" aria-label=\"Breadcrumb\"><a "
	    "href=\"/certs\">Certificate Management</a> › <span "
	    "aria-current=\"page\">Upload Certificate</span></nav>\n"
	    "<h1>Upload Certificate</h1>\n<div class=\"panel panel-narrow\">\n"
	    "<form method=\"post\" action=\"/certs/upload\" "
	    "enctype=\"multipart/form-data\" class=\"form\">\n");
	h_csrf(p);
	h_printf(h, "<div class=\"field%s\"><label for=\"f-unit\">Unit</label>"
	    "<select id=\"f-unit\" name=\"unit\" required aria-describedby="
	    "\"h-unit%s\" aria-invalid=\"%s\">", e_unit ? " has-error" : "",
	    e_unit ? " e-unit" : "", e_unit ? "true" : "false");
	h_printf(h, "<option value=\"\"%s>Choose a unit…</option>", unit == NULL ||
	    unit[0] == '\0' ? " selected" : "");
	unit_options(h, units, n, unit, 0);
	h_raw(h, "</select><p class=\"hint\" id=\"h-unit\">Identity units hold "
	    "this server's own certificates; trust units (names ending in "
	    "-trust) the certificates it trusts; lsc the devices' "
	    "certificates.</p>");
	if (e_unit)
		h_printf(h, "<p class=\"field-error\" id=\"e-unit\"><span "
		    "class=\"visually-hidden\">Error: </span>%s</p>", e_unit);
	h_printf(h, "</div>\n<div class=\"field%s\"><label for=\"f-file\">"
	    "Certificate file</label><input id=\"f-file\" name=\"file\" "
	    "type=\"file\" required accept=\".pem,.crt,.cer,.der,.p7b,.p7c,.p12,"
	    ".pfx\" aria-describedby=\"h-file%s\" aria-invalid=\"%s\"><p "
	    "class=\"hint\" "
	    "id=\"h-file\">PEM (one or a bundle), DER, PKCS#7 (.p7b) or PKCS#12 "
	    "(.p12/.pfx), up to 1 MiB. Private keys are never stored.</p>",
	    e_file ? " has-error" : "", e_file ? " e-file" : "",
	    e_file ? "true" : "false");
	if (e_file)
		h_printf(h, "<p class=\"field-error\" id=\"e-file\"><span "
		    "class=\"visually-hidden\">Error: </span>%s</p>", e_file);
	h_printf(h, "</div>\n<div class=\"field%s\"><label for=\"f-password\">"
	    "PKCS#12 password</label><input id=\"f-password\" name=\"password\" "
	    "type=\"password\" autocomplete=\"off\" aria-describedby=\"h-password"
	    "%s\" aria-invalid=\"%s\"><p class=\"hint\" id=\"h-password\">Only "
	    "for a PKCS#12 file.</p>", e_pw ? " has-error" : "", e_pw ?
	    " e-password" : "", e_pw ? "true" : "false");
	if (e_pw)
		h_printf(h, "<p class=\"field-error\" id=\"e-password\"><span "
		    "class=\"visually-hidden\">Error: </span>%s</p>", e_pw);
	h_raw(h, "</div>\n");
	field_checkbox(p, "upload", "ocsp_responder", "Mark as designated OCSP "
	    "responder", 0, "For an OCSP signing certificate in a trust unit.");
	h_raw(h, "<div class=\"actions\"><button type=\"submit\" class=\"btn "
	    "btn-primary\">Upload</button> <a class=\"btn btn-ghost\" "
	    "href=\"/certs\">Cancel</a></div>\n</form>\n</div>\n");
	free(units);
	page_end(p);
	return page_send(p, 200);
}

static enum MHD_Result
upload_post(struct page *p)
{
	struct daemon_ctx *d = p->r->d;
	struct form *f = p->f;
	struct cm_parse_opts popts;
	struct cm_upload_opts uopts;
	struct cm_cert_list list = {NULL, 0, 0, 0};
	struct cm_upload_report rep = {NULL, 0};
	struct cm_err err = {CM_OK, ""};
	struct cm_unit u;
	const char *unit = form_get(f, "unit"), *pw = form_get(f, "password"),
	    *resp = form_get(f, "ocsp_responder");
	size_t count[3] = {0, 0, 0}, expired = 0;
	char name[160], back[300], unitq[200];
	enum MHD_Result ret;

	memset(&popts, 0, sizeof(popts));
	memset(&uopts, 0, sizeof(uopts));
	snprintf(name, sizeof(name), "%s", f->filename[0] ? f->filename :
	    "the file");
	if (unit == NULL || unit[0] == '\0') {
		flash_refuse(p, "upload", "Not uploaded: choose a unit.");
		flash_field_error(p->s, "unit", "Choose the unit the certificate "
		    "goes to.");
		return web_redirect(p->r, "/certs/upload", NULL);
	}
	if (cm_store_unit_get(d->st, unit, &u, &err) != CM_OK) {
		flash_refuse(p, "upload", "Not uploaded: the unit does not exist.");
		flash_field_error(p->s, "unit", err.msg);
		return web_redirect(p->r, "/certs/upload", NULL);
	}
	if (f->file == NULL || f->file_len == 0) {
		flash_refuse(p, "upload", "Not uploaded: the file is missing or "
		    "empty.");
		flash_field_error(p->s, "file", f->filename[0] ? "This file is "
		    "empty." : "Choose a certificate file.");
		return web_redirect(p->r, "/certs/upload", NULL);
	}
	popts.password = pw != NULL && pw[0] != '\0' ? pw : NULL;
	uopts.ocsp_responder = resp != NULL && strcmp(resp, "1") == 0;
	if (cm_cert_parse((const unsigned char *)f->file, f->file_len, name,
	    &popts, &list, &err) != CM_OK ||
	    cm_revocation_upload(d->st, unit, &list, name, &uopts, web_actor(p),
	    daemon_now(d), &rep, &err) != CM_OK) {
		int pw_problem = strstr(err.msg, "password") != NULL;

		flash_refuse(p, "upload", "Not uploaded, nothing was changed: "
		    "correct the marked field and choose the file again.");
		flash_field_error(p->s, pw_problem ? "password" : "file", err.msg);
		ret = web_redirect(p->r, "/certs/upload", NULL);
		goto out;
	}
	for (size_t i = 0; i < rep.n; i++) {
		count[rep.v[i].action]++;
		expired += rep.v[i].expired != 0;
	}
	d->reschedule = 1;
	flash_msg(p->s, 0, "Uploaded %s to %s: %zu added, %zu replaced, %zu "
	    "already there.%s%s", name, unit, count[CM_UPLOAD_ADDED],
	    count[CM_UPLOAD_REPLACED], count[CM_UPLOAD_UNCHANGED],
	    expired ? " Warning: expired certificates were accepted; they are "
	    "monitored and reported as expired, never exported." : "",
	    list.had_private_key ? " The private key in the file was not "
	    "stored." : "");
	snprintf(back, sizeof(back), "/certs?unit=%s", url_enc(unit, unitq,
	    sizeof(unitq)));
	ret = web_redirect(p->r, back, NULL);
out:
	cm_upload_report_free(&rep);
	cm_cert_list_clear(&list);
	return ret;
}

/* /certs, /certs/upload, /certs/UNIT/FP[/pem|/delete|/mark] */
enum MHD_Result
web_certs(struct page *p)
{
	char path[400], *seg[4] = {NULL}, *save = NULL, *s;
	int n = 0, post = p->f != NULL;

	if (strcmp(p->path, "/certs") == 0 && !post)
		return certs_list(p);
	if (strcmp(p->path, "/certs/upload") == 0)
		return post ? upload_post(p) : upload_page(p);
	if (strlen(p->path) >= sizeof(path))
		return web_error_page(p, 404, "Page not found", "No such page.");
	snprintf(path, sizeof(path), "%s", p->path + strlen("/certs/"));
	for (s = strtok_r(path, "/", &save); s != NULL && n < 4;
	    s = strtok_r(NULL, "/", &save))
		seg[n++] = s;
	if (n == 2 && !post)
		return cert_detail(p, seg[0], seg[1]);
	if (n == 3 && strcmp(seg[2], "pem") == 0 && !post)
		return cert_pem(p, seg[0], seg[1]);
	if (n == 3 && strcmp(seg[2], "delete") == 0)
		return cert_delete(p, seg[0], seg[1]);
	if (n == 3 && strcmp(seg[2], "mark") == 0 && post)
		return cert_mark(p, seg[0], seg[1]);
	return web_error_page(p, 404, "Page not found", "There is no page at "
	    "%.200s.", p->path);
}

/* ---- units ------------------------------------------------------------------------------- */

struct bundle {
	cm_time now;
	char *pem;
	size_t len;
	int64_t exported, skipped;
};

static int
bundle_row(const struct cm_cert_row *r, void *arg)
{
	struct bundle *b = arg;
	struct cm_cert *x = NULL;
	struct cm_err err;
	char *pem = NULL, *np;
	size_t n;

	if (r->not_after < b->now || strcmp(r->revocation, "revoked") == 0) {
		b->skipped++;
		return 0;
	}
	if (cm_cert_from_der(r->der, r->der_len, &x, &err) == CM_OK &&
	    (pem = cm_cert_to_pem(x)) != NULL &&
	    (np = realloc(b->pem, b->len + (n = strlen(pem)) + 1)) != NULL) {
		b->pem = np;
		memcpy(b->pem + b->len, pem, n + 1);
		b->len += n;
		b->exported++;
	}
	free(pem);
	cm_cert_free(x);
	return 0;
}

static enum MHD_Result
unit_export(struct page *p, const char *name)
{
	struct daemon_ctx *d = p->r->d;
	struct cm_cert_filter f;
	struct cm_err err = {CM_OK, ""};
	struct bundle b;
	struct cm_unit u;
	char fname[100];
	enum MHD_Result ret;

	if (cm_store_unit_get(d->st, name, &u, &err) != CM_OK)
		return web_error_page(p, 404, "Unit not found", "%s", err.msg);
	memset(&b, 0, sizeof(b));
	memset(&f, 0, sizeof(f));
	b.now = daemon_now(d);
	f.unit = name;
	f.want_der = 1;
	if (cm_store_cert_list(d->st, &f, bundle_row, &b, &err) != CM_OK) {
		free(b.pem);
		return web_error_page(p, 503, "Store error", "%s", err.msg);
	}
	snprintf(fname, sizeof(fname), "%s.pem", u.name);
	ret = web_download(p->r, "application/x-pem-file", fname,
	    b.pem ? b.pem : "", b.len);
	free(b.pem);
	return ret;
}

static enum MHD_Result
units_page(struct page *p)
{
	struct daemon_ctx *d = p->r->d;
	struct html *h = &p->h;
	struct cm_unit *units = NULL;
	struct cm_err err = {CM_OK, ""};
	size_t n = 0;
	const char *kind = flash_get_value(p->s, "unit-add", "kind");
	char when[40], q[200];

	if (cm_store_unit_list(d->st, &units, &n, &err) != CM_OK)
		return web_error_page(p, 503, "Store error", "%s", err.msg);
	page_begin(p, "Certificate Units", "units");
	h_raw(h, "<h1>Certificate Units</h1>\n<p class=\"lead\">A unit is a named "
	    "collection of certificates: identity units hold a server's own "
	    "certificates, trust units (names ending in <code>-trust</code>) the "
	    "certificates it trusts, and <code>lsc</code> the devices' "
	    "certificates.</p>\n");
	h_raw(h, "<div class=\"table-wrap\" role=\"region\" aria-labelledby="
	    "\"units-caption\" tabindex=\"0\"><table class=\"data\">\n"
	    "<caption id=\"units-caption\">Units</caption>\n<thead><tr><th "
	    "scope=\"col\">Unit</th><th scope=\"col\">Type</th><th scope=\"col\" "
	    "class=\"num\">Certificates</th><th scope=\"col\" class=\"num\">"
	    "History</th><th scope=\"col\">Created</th><th scope=\"col\"><span "
	    "class=\"visually-hidden\">Actions</span></th></tr></thead>\n"
	    "<tbody>\n");
	for (size_t i = 0; i < n; i++) {
		url_enc(units[i].name, q, sizeof(q));
		h_printf(h, "<tr><th scope=\"row\"><a href=\"/certs?unit=%s\">%s</a>"
		    "</th><td>%s</td><td class=\"num\">%lld</td><td class=\"num\">"
		    "%lld</td><td class=\"nowrap\">%s</td><td class=\"row-actions\">"
		    "<a href=\"/units/%s/export\" download>Export bundle<span "
		    "class=\"visually-hidden\"> of %s</span></a> <a "
		    "href=\"/units/%s/remove\">Remove…<span class=\"visually-hidden\"> "
		    "%s</span></a></td></tr>\n", q, units[i].name,
		    kind_label(units[i].kind), (long long)units[i].n_current,
		    (long long)units[i].n_history, web_time(units[i].created_at, when,
		    sizeof(when)), q, units[i].name, q, units[i].name);
	}
	h_raw(h, "</tbody></table></div>\n<p class=\"hint\">Export bundle: the "
	    "unit's current certificates in PEM, without the expired or revoked "
	    "ones.</p>\n");
	h_raw(h, "<section class=\"panel\" aria-labelledby=\"add-h\"><h2 "
	    "id=\"add-h\">Add a unit</h2>\n<form method=\"post\" action=\"/units\" "
	    "class=\"form form-row\">\n");
	h_csrf(p);
	field_text(p, "unit-add", "name", "Name", "text", "", "1-64 of A-Z a-z "
	    "0-9 . _ -", "required maxlength=\"64\" pattern=\"[A-Za-z0-9._\\-]+\"");
	h_printf(h, "<div class=\"field\"><label for=\"f-kind\">Type</label>"
	    "<select id=\"f-kind\" name=\"kind\"><option value=\"\"%s>From the "
	    "name</option><option value=\"identity\"%s>identity</option><option "
	    "value=\"trust\"%s>trust</option><option value=\"lsc\"%s>LSC</option>"
	    "</select></div>\n", kind == NULL || kind[0] == '\0' ? " selected" :
	    "", kind && strcmp(kind, "identity") == 0 ? " selected" : "",
	    kind && strcmp(kind, "trust") == 0 ? " selected" : "",
	    kind && strcmp(kind, "lsc") == 0 ? " selected" : "");
	h_raw(h, "<div class=\"actions\"><button type=\"submit\" class=\"btn "
	    "btn-primary\">Add unit</button></div>\n</form>\n</section>\n");
	free(units);
	page_end(p);
	return page_send(p, 200);
}

static enum MHD_Result
unit_add(struct page *p)
{
	struct daemon_ctx *d = p->r->d;
	struct cm_err err = {CM_OK, ""};
	const char *name = form_get(p->f, "name"), *kind = form_get(p->f, "kind");
	enum cm_unit_kind k;

	if (name == NULL || name[0] == '\0') {
		flash_refuse(p, "unit-add", "Unit not added: give a name.");
		flash_field_error(p->s, "name", "Give the unit a name.");
		return web_redirect(p->r, "/units", NULL);
	}
	k = cm_unit_kind_for_name(name);
	if (kind != NULL && strcmp(kind, "trust") == 0)
		k = CM_UNIT_TRUST;
	else if (kind != NULL && strcmp(kind, "lsc") == 0)
		k = CM_UNIT_LSC;
	else if (kind != NULL && strcmp(kind, "identity") == 0)
		k = CM_UNIT_IDENTITY;
	if (cm_store_unit_add(d->st, name, k, web_actor(p), daemon_now(d), &err) !=
	    CM_OK) {
		flash_refuse(p, "unit-add", "Unit not added.");
		flash_field_error(p->s, "name", err.msg);
		return web_redirect(p->r, "/units", NULL);
	}
	flash_msg(p->s, 0, "Unit %s (%s) added.", name, kind_label(k));
	return web_redirect(p->r, "/units", NULL);
}

static enum MHD_Result
unit_remove(struct page *p, const char *name)
{
	struct daemon_ctx *d = p->r->d;
	struct html *h = &p->h;
	struct cm_err err = {CM_OK, ""};
	struct cm_unit u;
	const char *force = p->f ? form_get(p->f, "force") : NULL;
	char q[200];

	if (cm_store_unit_get(d->st, name, &u, &err) != CM_OK) {
		if (p->f != NULL) {
			flash_msg(p->s, 1, "Not removed: %s", err.msg);
			return web_redirect(p->r, "/units", NULL);
		}
		return web_error_page(p, 404, "Unit not found", "%s", err.msg);
	}
	url_enc(u.name, q, sizeof(q));
	if (p->f == NULL) {
		page_begin(p, "Remove unit", "units");
		h_printf(h, "<h1>Remove unit %s</h1>\n<div class=\"panel "
		    "panel-danger\">\n<form method=\"post\" action=\"/units/%s/remove\">"
		    "\n", u.name, q);
		h_csrf(p);
		if (u.n_current + u.n_history > 0) {
			h_printf(h, "<p>Unit <strong>%s</strong> holds %lld "
			    "certificate%s (and %lld in its history).</p>\n", u.name,
			    (long long)u.n_current, u.n_current == 1 ? "" : "s",
			    (long long)u.n_history);
			field_checkbox(p, "unit-remove", "force", "Also delete its "
			    "certificates", 0, NULL);
		} else
			h_printf(h, "<p>Unit <strong>%s</strong> is empty.</p>\n", u.name);
		h_raw(h, "<div class=\"actions\"><button type=\"submit\" class=\"btn "
		    "btn-danger\">Remove unit</button> <a class=\"btn btn-ghost\" "
		    "href=\"/units\">Cancel</a></div>\n</form>\n</div>\n");
		page_end(p);
		return page_send(p, 200);
	}
	if (cm_store_unit_remove(d->st, u.name, force != NULL &&
	    strcmp(force, "1") == 0, web_actor(p), daemon_now(d), &err) != CM_OK) {
		flash_msg(p->s, 1, "Not removed: %s", err.msg);
		return web_redirect(p->r, "/units", NULL);
	}
	d->reschedule = 1;
	flash_msg(p->s, 0, "Unit %s removed.", u.name);
	return web_redirect(p->r, "/units", NULL);
}

/* /units, /units/NAME/export, /units/NAME/remove */
enum MHD_Result
web_units(struct page *p)
{
	char path[200], *slash;

	if (strcmp(p->path, "/units") == 0)
		return p->f != NULL ? unit_add(p) : units_page(p);
	if (strlen(p->path) >= sizeof(path))
		return web_error_page(p, 404, "Page not found", "No such page.");
	snprintf(path, sizeof(path), "%s", p->path + strlen("/units/"));
	if ((slash = strchr(path, '/')) != NULL) {
		*slash = '\0';
		if (strcmp(slash + 1, "export") == 0 && p->f == NULL)
			return unit_export(p, path);
		if (strcmp(slash + 1, "remove") == 0)
			return unit_remove(p, path);
	}
	return web_error_page(p, 404, "Page not found", "There is no page at "
	    "%.200s.", p->path);
}
