/*
 * revocation_run.c - the Certificate Revocation service: a run over the
 * store, the check on upload, the schedule (revocation_run.h).
 *
 * Both a run and an upload check go through the same engine: decide per
 * certificate whether a stored answer may be reused, send every OCSP
 * request at once (cm_fetch_many, bounded per responder), validate the
 * answers (ocsp.c), fall back to CRLs (crl.c), then record everything in
 * one transaction. Network first, transaction after: the store's write lock
 * is never held while waiting for a responder.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "certmon/cancel.h"
#include "certmon/crl.h"
#include "certmon/json.h"
#include "certmon/fetch.h"
#include "certmon/log.h"
#include "certmon/ocsp.h"
#include "certmon/revocation_run.h"
#include "certmon/settings.h"
#include "ocsp_int.h"

#define PER_RESPONDER 4         /* concurrent requests per responder */
#define ASK_MAX 16              /* certificates one OCSP request asks about */
#define RUN_BATCH 1024          /* certificates checked, then recorded, at
				 * once by a run (bounds its memory) */

static void textf(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
textf(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
	for (char *p = buf; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
}

/* ---- the engine ------------------------------------------------------------- */

/* One certificate to check. */
struct job {
	const unsigned char *der;       /* the certificate (not owned) */
	size_t der_len;
	unsigned char fp[CM_FP_LEN];
	const char *ocsp_urls;          /* its AIA OCSP URLs, one per line;
					 * NULL: read them from cert */
	const struct cm_cert *cert;     /* parsed, or NULL until job_cert */
	struct cm_cert *parsed;         /* owned: what job_cert parsed */
	const struct cm_cert *issuer;
	int issuer_checked;             /* step 0 passed for the pair */
	struct cm_rev_result *res;      /* where the outcome goes */
	const char *first_unit;         /* for events, or NULL */
	struct cm_rev_record old;       /* the stored answer */
	int have_old;
	struct cm_rev_record rec;       /* the new answer */
	int reuse;                      /* old is reused */
	int answered;                   /* rec holds a valid answer */
	int settled;                    /* rec is final: no CRL fallback */
	int ocsp_tried;
	int ask_alone;                  /* a request about several certificates
					 * got no answer for it */
	char why[CM_ERR_MSG_MAX];       /* why OCSP gave no valid answer */
	char url[CM_REV_URI_MAX];
};

struct engine {
	struct cm_store *st;
	struct cm_revocation_settings rs;
	struct cm_params_settings ps;
	cm_time now;
	struct cm_ocsp_ctx *octx;
	struct cm_crl_ctx *cctx;
	struct cm_ocsp_opts oo;
	struct cm_fetch_opts fo;
	struct cm_cert_list designated;
	struct cm_strlist allow, crl_urls;
	size_t ocsp_requests;
	struct cm_rev_check_count *by;     /* checks by responder/outcome */
	size_t n_by, cap_by;
	struct responder {              /* what the run learnt of a URL */
		char url[CM_REV_URI_MAX];
		int down;               /* none of the first `seen` requests
					 * got an answer, the last for why */
		size_t seen;
		char why[CM_ERR_MSG_MAX];
		int alone;              /* it refuses requests about several
					 * certificates: ask about one */
	} *resp;
	size_t n_resp, cap_resp;
};

static int
collect_designated(const struct cm_cert_row *row, void *arg)
{
	struct cm_cert_list *l = arg;
	struct cm_cert *c = NULL;

	if (row->ocsp_responder && row->der != NULL &&
	    cm_cert_from_der(row->der, row->der_len, &c, NULL) == CM_OK)
		(void)cm_cert_list_push(l, c);
	return 0;
}

static void
engine_free(struct engine *e)
{
	cm_ocsp_ctx_free(e->octx);
	cm_crl_ctx_free(e->cctx);
	cm_cert_list_clear(&e->designated);
	cm_setting_lines_free(&e->allow);
	cm_setting_lines_free(&e->crl_urls);
	free(e->by);
	free(e->resp);
	memset(e, 0, sizeof(*e));
}

/* Loads the settings and prepares the contexts; on failure e is freed. */
static enum cm_status
engine_init(struct engine *e, struct cm_store *st, cm_time now,
    struct cm_err *err)
{
	struct cm_crl_ctx_opts co;
	struct cm_cert_filter f;
	enum cm_status rc;

	memset(e, 0, sizeof(*e));
	e->st = st;
	e->now = now;
	if ((rc = cm_revocation_settings_load(st, &e->rs, err)) != CM_OK ||
	    (rc = cm_params_settings_load(st, &e->ps, err)) != CM_OK ||
	    (rc = cm_ocsp_ctx_new(&e->octx, err)) != CM_OK ||
	    (rc = cm_setting_lines(e->rs.allow_hosts, &e->allow, err)) != CM_OK ||
	    (rc = cm_setting_lines(e->rs.crl_uris, &e->crl_urls, err)) != CM_OK)
		goto out;
	memset(&f, 0, sizeof(f));
	f.unit = e->rs.trust_unit;
	f.want_der = 1;
	if ((rc = cm_store_cert_list(st, &f, collect_designated, &e->designated,
	    err)) != CM_OK)
		goto out;
	e->fo.timeout_ms = (long)e->rs.timeout * 1000;
	e->fo.allow_hosts = e->allow.n > 0 ? &e->allow : NULL;
	memset(&co, 0, sizeof(co));
	co.store = st;
	co.urls = &e->crl_urls;
	co.fetch = e->fo;
	co.fetch.max_bytes = CM_FETCH_CRL_MAX_BYTES;
	co.crl.skew = e->rs.skew == 0 ? -1 : e->rs.skew;
	if ((rc = cm_crl_ctx_new(&co, &e->cctx, err)) != CM_OK)
		goto out;
	e->oo.common_criteria = e->ps.common_criteria;
	e->oo.require_nonce = e->rs.require_nonce;
	e->oo.skew = e->rs.skew == 0 ? -1 : e->rs.skew;
	e->oo.trusted = &e->designated;
	e->oo.crl_check = cm_crl_ocsp_hook;
	e->oo.crl_arg = e->cctx;
out:
	if (rc != CM_OK)
		engine_free(e);
	return rc;
}

/* Whether the stored answer may stand for a new check: a valid answer
 * still cached and, for periodic runs, younger than Check Every. */
static int
reusable(const struct engine *e, const struct cm_rev_record *old,
    int periodic)
{
	return old->status != CM_REV_ERROR && old->cache_until > e->now &&
	    old->checked_at <= e->now &&
	    (!periodic || e->now - old->checked_at < e->rs.every);
}

/* Sets the bookkeeping of a new answer: when it was checked, until when
 * it is cached, when it is checked again. */
static void
rec_finish(const struct engine *e, struct cm_rev_record *r)
{
	cm_time cap = e->now + e->rs.cache_max;

	r->checked_at = e->now;
	r->next_check = e->now + e->rs.every;
	r->cache_until = 0;
	if (r->status != CM_REV_ERROR && r->next_update != 0)
		r->cache_until = r->next_update < cap ? r->next_update : cap;
}

static void
rec_from_ocsp(const struct engine *e, struct cm_rev_record *r,
    const struct cm_ocsp_result *o)
{
	const char *tm = cm_ocsp_trust_name(o->trust_model);

	memset(r, 0, sizeof(*r));
	r->status = o->status;
	textf(r->source, sizeof(r->source), "ocsp");
	textf(r->reason, sizeof(r->reason), "%s", o->reason);
	if (o->status != CM_REV_ERROR) {
		r->this_update = o->this_update;
		r->next_update = o->next_update;
		r->produced_at = o->produced_at;
		r->revocation_time = o->revocation_time;
		textf(r->revocation_reason, sizeof(r->revocation_reason), "%s",
		    o->revocation_reason);
		textf(r->trust_model, sizeof(r->trust_model), "%s",
		    tm != NULL ? tm : "");
		textf(r->responder, sizeof(r->responder), "%s", o->responder);
	}
	rec_finish(e, r);
}

static void
rec_from_crl(const struct engine *e, struct cm_rev_record *r,
    const struct cm_crl_result *c)
{
	memset(r, 0, sizeof(*r));
	r->status = c->status;
	textf(r->source, sizeof(r->source), "crl");
	textf(r->reason, sizeof(r->reason), "%s", c->reason);
	if (c->status != CM_REV_ERROR) {
		r->this_update = c->this_update;
		r->next_update = c->next_update;
		r->revocation_time = c->revocation_time;
		textf(r->revocation_reason, sizeof(r->revocation_reason), "%s",
		    c->revocation_reason);
		textf(r->trust_model, sizeof(r->trust_model), "crl");
		textf(r->responder, sizeof(r->responder), "%s", c->issuer);
	}
	rec_finish(e, r);
}

/* The parsed certificate of j (parsed now when it was not), or NULL when
 * it does not parse (stored, so parsed once: short of memory). */
static const struct cm_cert *
job_cert(struct job *j)
{
	if (j->cert == NULL &&
	    cm_cert_from_der(j->der, j->der_len, &j->parsed, NULL) == CM_OK)
		j->cert = j->parsed;
	return j->cert;
}

static void
job_clear(struct job *j)
{
	cm_cert_free(j->parsed);
	j->parsed = NULL;
	j->cert = NULL;
}

static int
http_url(const char *u, size_t n)
{
	return (n > 7 && strncasecmp(u, "http://", 7) == 0) ||
	    (n > 8 && strncasecmp(u, "https://", 8) == 0);
}

/* Fills j->url with where to ask: the configured URI, or the first
 * http(s) AIA OCSP URL. 0, or -1 when there is none. */
static int
ocsp_url(const struct engine *e, struct job *j)
{
	const struct cm_cert *c;
	const char *p, *q;

	j->url[0] = '\0';
	if (e->rs.uri_source == CM_URI_CONFIGURED) {
		textf(j->url, sizeof(j->url), "%s", e->rs.uri);
	} else if (j->ocsp_urls != NULL) {
		for (p = j->ocsp_urls; *p != '\0' && j->url[0] == '\0'; p = q) {
			q = p + strcspn(p, "\n");
			if (http_url(p, (size_t)(q - p)) &&
			    (size_t)(q - p) < sizeof(j->url))
				textf(j->url, sizeof(j->url), "%.*s", (int)(q - p), p);
			q += *q == '\n';
		}
	} else if ((c = job_cert(j)) != NULL) {
		for (size_t i = 0; i < c->ocsp_urls.n && j->url[0] == '\0'; i++)
			if (http_url(c->ocsp_urls.v[i], strlen(c->ocsp_urls.v[i])))
				textf(j->url, sizeof(j->url), "%s", c->ocsp_urls.v[i]);
	}
	return j->url[0] != '\0' ? 0 : -1;
}

static enum cm_status
cancelled(struct cm_err *err)
{
	return cm_err_set(err, CM_ERR_IO, "revocation check cancelled (the "
	    "program is stopping); the answers of the batch in progress are "
	    "not recorded");
}

static int
same_url(const struct cm_fetch_job *a, const struct cm_fetch_job *b)
{
	return strcmp(a->url, b->url) == 0;
}

/* What the run knows of the responder at url, or NULL. */
static struct responder *
responder_find(const struct engine *e, const char *url)
{
	for (size_t i = 0; i < e->n_resp; i++)
		if (strcmp(e->resp[i].url, url) == 0)
			return &e->resp[i];
	return NULL;
}

/* What the run knows of the responder at url, added when new; NULL when
 * out of memory. */
static struct responder *
responder_get(struct engine *e, const char *url)
{
	struct responder *r = responder_find(e, url), *nv;

	if (r != NULL)
		return r;
	if (e->n_resp == e->cap_resp) {
		size_t ncap = e->cap_resp ? e->cap_resp * 2 : 4;

		if ((nv = realloc(e->resp, ncap * sizeof(*nv))) == NULL)
			return NULL;
		e->resp = nv;
		e->cap_resp = ncap;
	}
	r = &e->resp[e->n_resp++];
	memset(r, 0, sizeof(*r));
	textf(r->url, sizeof(r->url), "%s", url);
	return r;
}

static const struct responder *
responder_down(const struct engine *e, const char *url)
{
	const struct responder *r = responder_find(e, url);

	return r != NULL && r->down ? r : NULL;
}

/* Moves fj[i] to the front part fj[0..*front) (swapping). */
static void
to_front(struct cm_fetch_job *fj, size_t i, size_t *front)
{
	struct cm_fetch_job tmp = fj[*front];

	fj[*front] = fj[i];
	fj[i] = tmp;
	(*front)++;
}

/* One OCSP request: about up to ASK_MAX certificates of one issuer, to
 * one URL. */
struct ask {
	struct job **jobs;              /* jobs[0..n) */
	struct cm_ocsp_member *m;       /* m[0..n), the same certificates */
	size_t n;
	struct cm_ocsp_request req;
	int not_sent;                   /* its responder was found down */
};

/* Runs the OCSP requests fj[0..n) (reordered; each user an ask). A
 * responder that does not answer would cost a timeout per PER_RESPONDER
 * requests and hold a run for as long, so a first wave sends at most
 * PER_RESPONDER requests to each URL; a URL none of whose first requests
 * got an answer (network errors, timeouts, HTTP errors) is down for the
 * rest of the run (later batches too): its other requests are not sent
 * and fail with that reason; the rest go in a second wave. */
static enum cm_status
fetch_all(struct engine *e, struct cm_fetch_job *fj, size_t n,
    const struct cm_fetch_many_opts *mo, struct cm_err *err)
{
	const struct responder *d;
	struct responder *r;
	size_t first = 0, live, i, k, seen, answered;
	enum cm_status rc;

	/* partition: the first PER_RESPONDER jobs of each URL not known to
	 * be down to the front */
	for (i = 0; i < n; i++) {
		if (responder_down(e, fj[i].url) != NULL)
			continue;
		for (seen = 0, k = 0; k < first; k++)
			seen += same_url(&fj[k], &fj[i]);
		if (seen < PER_RESPONDER)
			to_front(fj, i, &first);
	}
	if (first > 0 && ((rc = cm_fetch_many(fj, first, mo, err)) != CM_OK ||
	    cm_cancel_requested()))
		return rc;
	/* the URLs of the first wave that answered nothing are down */
	for (i = 0; i < first; i++) {
		const struct cm_fetch_job *last = NULL;

		if (responder_down(e, fj[i].url) != NULL)
			continue;
		for (seen = 0, answered = 0, k = 0; k < first; k++)
			if (same_url(&fj[k], &fj[i])) {
				seen++;
				answered += fj[k].status == CM_OK ||
				    fj[k].status == CM_ERR_TOOBIG;
				last = &fj[k];
			}
		if (answered > 0 || last->status != CM_ERR_IO)
			continue;
		if ((r = responder_get(e, fj[i].url)) == NULL)
			return cm_err_set(err, CM_ERR_NOMEM, "out of memory");
		r->down = 1;
		r->seen = seen;
		textf(r->why, sizeof(r->why), "%s", last->err.msg);
	}
	/* the rest: to live responders, in a second wave */
	live = first;
	for (i = first; i < n; i++) {
		if ((d = responder_down(e, fj[i].url)) != NULL) {
			((struct ask *)fj[i].user)->not_sent = 1;
			fj[i].status = CM_ERR_IO;
			cm_err_set(&fj[i].err, CM_ERR_IO, "not sent: the responder "
			    "answered none of the first %zu request(s) of this run "
			    "(%.300s)", d->seen, d->why);
			continue;
		}
		to_front(fj, i, &live);
	}
	return live > first ? cm_fetch_many(fj + first, live - first, mo, err) :
	    CM_OK;
}

/* Counts one certificate asked about at url whose answer ended in status;
 * 0 or -1 (memory). */
static int
count_check(struct engine *e, const char *url, enum cm_rev_status status)
{
	const char *outcome = cm_revocation_status_name(status);
	struct cm_rev_check_count *nv;

	for (size_t i = 0; i < e->n_by; i++)
		if (strcmp(e->by[i].responder, url) == 0 &&
		    strcmp(e->by[i].outcome, outcome) == 0) {
			e->by[i].count++;
			return 0;
		}
	if (e->n_by == e->cap_by) {
		size_t ncap = e->cap_by ? e->cap_by * 2 : 8;

		if ((nv = realloc(e->by, ncap * sizeof(*nv))) == NULL)
			return -1;
		e->by = nv;
		e->cap_by = ncap;
	}
	memset(&e->by[e->n_by], 0, sizeof(e->by[0]));
	textf(e->by[e->n_by].responder, sizeof(e->by[0].responder), "%s", url);
	textf(e->by[e->n_by].outcome, sizeof(e->by[0].outcome), "%s", outcome);
	e->by[e->n_by++].count = 1;
	return 0;
}

/* The order that groups what one OCSP request asks about: by URL, then
 * by issuer. */
static int
cmp_ask(const void *a, const void *b)
{
	const struct job *x = *(struct job *const *)a;
	const struct job *y = *(struct job *const *)b;
	uintptr_t ix = (uintptr_t)x->issuer, iy = (uintptr_t)y->issuer;
	int c = strcmp(x->url, y->url);

	return c != 0 ? c : (ix > iy) - (ix < iy);
}

/* Takes in what OCSP said of j. */
static void
job_ocsp(const struct engine *e, struct job *j,
    const struct cm_ocsp_result *res)
{
	rec_from_ocsp(e, &j->rec, res);
	if (res->status != CM_REV_ERROR)
		j->answered = 1;
	else
		textf(j->why, sizeof(j->why), "%s", res->reason);
}

/* Asks OCSP about todo[0..n) (reordered): with `several`, one request
 * about up to ASK_MAX certificates of one issuer at one URL (RFC 6960
 * 4.1.1), unless that URL refused such a request in this run; else one
 * request each. Fills each job's rec, or sets its ask_alone when a
 * request about several got no answer for it. CM_OK unless the requests
 * could not run or a stop was requested. */
static enum cm_status
ocsp_round(struct engine *e, struct job **todo, size_t n, int several,
    struct cm_err *err)
{
	struct cm_fetch_many_opts mo;
	struct cm_ocsp_member *m = NULL;
	struct ask *asks = NULL;
	struct cm_fetch_job *fj = NULL;
	struct cm_err lerr;
	struct responder *r;
	enum cm_status rc = CM_OK;
	size_t na = 0, i, k, lim;

	if (n == 0)
		goto out;
	if ((m = calloc(n, sizeof(*m))) == NULL ||
	    (asks = calloc(n, sizeof(*asks))) == NULL ||
	    (fj = calloc(n, sizeof(*fj))) == NULL) {
		rc = cm_err_set(err, CM_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (several)
		/* NOLINTNEXTLINE(bugprone-sizeof-expression): of pointers */
		qsort(todo, n, sizeof(*todo), cmp_ask);
	for (i = 0; i < n;) {
		struct ask *a = &asks[na];

		r = responder_find(e, todo[i]->url);
		lim = several && (r == NULL || !r->alone) ? ASK_MAX : 1;
		a->jobs = &todo[i];
		a->m = &m[i];
		a->n = 0;
		do {
			m[i].der = todo[i]->der;
			m[i].der_len = todo[i]->der_len;
			m[i].fp = todo[i]->fp;
			a->n++;
			i++;
		} while (i < n && a->n < lim && cmp_ask(&todo[i], a->jobs) == 0);
		/* step 0 first: no request asks about a pair that fails it */
		(void)cm_ocsp_request_build_many(e->octx, a->m, a->n,
		    a->jobs[0]->issuer, &e->oo, &a->req, &lerr);
		for (k = 0; k < a->n; k++) {
			struct job *j = a->jobs[k];

			if (a->m[k].built == CM_OK) {
				j->issuer_checked = 1;
				continue;
			}
			job_ocsp(e, j, &a->m[k].res);
			j->settled = a->m[k].built == CM_ERR_INVALID;  /* step 0 */
		}
		if (a->req.der == NULL)
			continue;
		fj[na].url = a->jobs[0]->url;
		fj[na].content_type = "application/ocsp-request";
		fj[na].body = a->req.der;
		fj[na].body_len = a->req.der_len;
		fj[na++].user = a;
	}
	memset(&mo, 0, sizeof(mo));
	mo.fetch = e->fo;
	mo.fetch.max_bytes = CM_FETCH_OCSP_MAX_BYTES;
	mo.max_per_host = PER_RESPONDER;
	if ((rc = fetch_all(e, fj, na, &mo, err)) != CM_OK)
		goto out;
	if (cm_cancel_requested()) {
		rc = cancelled(err);
		goto out;
	}
	for (i = 0; i < na; i++) {
		struct ask *a = fj[i].user;
		/* a refused URL (scheme, allow-list) or a responder found
		 * down sent nothing */
		int sent = fj[i].status != CM_ERR_INVALID &&
		    fj[i].status != CM_ERR_CONFLICT && !a->not_sent;

		e->ocsp_requests += sent;
		if (fj[i].status == CM_OK)
			cm_ocsp_validate_many(e->octx, &a->req, fj[i].resp.body,
			    fj[i].resp.len, a->m, a->n, a->jobs[0]->issuer,
			    &e->oo, e->now);
		for (k = 0; k < a->n; k++) {
			struct job *j = a->jobs[k];

			if (a->m[k].built != CM_OK)
				continue;
			if (fj[i].status != CM_OK)
				cm_ocsp_result_error(&a->m[k].res, "fetch: %s",
				    fj[i].err.msg);
			if (a->m[k].ask_alone) {
				j->ask_alone = 1;
				if ((r = responder_get(e, j->url)) == NULL)
					goto nomem;
				r->alone = 1;
				continue;
			}
			if (sent && count_check(e, j->url, a->m[k].res.status) != 0)
				goto nomem;
			job_ocsp(e, j, &a->m[k].res);
		}
	}
	goto out;
nomem:
	rc = cm_err_set(err, CM_ERR_NOMEM, "out of memory");
out:
	for (i = 0; asks != NULL && i < na; i++)
		cm_ocsp_request_clear(&asks[i].req);
	for (i = 0; fj != NULL && i < na; i++)
		cm_fetch_resp_clear(&fj[i].resp);
	free(fj);
	free(asks);
	free(m);
	return rc;
}

/* Checks jobs[0..n): fills each job's rec (or reuse). CM_OK unless the
 * batch could not run or a stop was requested. */
static enum cm_status
engine_check(struct engine *e, struct job *jobs, size_t n, int periodic,
    struct cm_err *err)
{
	struct job **todo = NULL;
	struct cm_crl_result cres;
	struct cm_err lerr = {CM_OK, ""};
	enum cm_status rc = CM_OK;
	size_t nt = 0, na = 0;

	if (n == 0)
		goto out;
	/* NOLINTNEXTLINE(bugprone-sizeof-expression): of pointers */
	if ((todo = calloc(n, sizeof(*todo))) == NULL) {
		rc = cm_err_set(err, CM_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct job *j = &jobs[i];

		if (j->reuse || (j->have_old && reusable(e, &j->old, periodic))) {
			j->reuse = 1;
			continue;
		}
		if (!e->rs.ocsp) {
			textf(j->why, sizeof(j->why), "OCSP is off");
			continue;
		}
		if (ocsp_url(e, j) != 0) {
			textf(j->why, sizeof(j->why), "no OCSP URL: the certificate has "
			    "no http(s) AIA OCSP URL and no OCSP URI is configured");
			continue;
		}
		j->ocsp_tried = 1;
		todo[nt++] = j;
	}
	if ((rc = ocsp_round(e, todo, nt, 1, err)) != CM_OK)
		goto out;
	/* those a request about several left unanswered: one by one */
	for (size_t i = 0; i < nt; i++)
		if (todo[i]->ask_alone)
			todo[na++] = todo[i];
	if ((rc = ocsp_round(e, todo, na, 0, err)) != CM_OK)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct job *j = &jobs[i];
		char both[CM_ERR_MSG_MAX];

		if (j->reuse || j->answered || j->settled)
			continue;
		if (cm_cancel_requested()) {
			rc = cancelled(err);
			goto out;
		}
		if (e->rs.crl && job_cert(j) == NULL)
			cm_err_set(&lerr, CM_ERR_NOMEM, "out of memory (parsing the "
			    "certificate)");
		if (e->rs.crl && (j->cert == NULL || (!j->issuer_checked &&
		    cm_ocsp_check_issuer(e->octx, j->cert, j->issuer, &lerr) !=
		    CM_OK))) {
			memset(&j->rec, 0, sizeof(j->rec));
			j->rec.status = CM_REV_ERROR;
			textf(j->rec.source, sizeof(j->rec.source), "crl");
			textf(j->rec.reason, sizeof(j->rec.reason), "%s", lerr.msg);
			rec_finish(e, &j->rec);
			continue;
		}
		if (e->rs.crl) {
			cm_crl_check(e->cctx, j->cert, j->issuer, e->now, &cres);
			rec_from_crl(e, &j->rec, &cres);
			if (cres.status != CM_REV_ERROR) {
				j->answered = 1;
				continue;
			}
			if (e->rs.ocsp) {
				textf(both, sizeof(both), "OCSP: %s; %s", j->why,
				    cres.reason);
				textf(j->rec.reason, sizeof(j->rec.reason), "%s", both);
			}
			continue;
		}
		if (!j->ocsp_tried) {
			memset(&j->rec, 0, sizeof(j->rec));
			j->rec.status = CM_REV_ERROR;
			textf(j->rec.source, sizeof(j->rec.source), "ocsp");
			textf(j->rec.reason, sizeof(j->rec.reason), "%s", j->why);
			rec_finish(e, &j->rec);
		}
	}
	if (cm_cancel_requested())
		rc = cancelled(err);
out:
	free(todo);
	return rc;
}

static size_t
engine_requests(struct engine *e)
{
	uint64_t crl = 0;

	cm_crl_ctx_stats(e->cctx, &crl, NULL);
	return e->ocsp_requests + (size_t)crl;
}

/* ---- recording ------------------------------------------------------------- */

struct alarm {
	const char *name;
	char message[400];
};

struct alarms {
	struct alarm *v;
	size_t n, cap;
};

static int
alarm_push(struct alarms *a, const char *name, const char *msg)
{
	struct alarm *nv;

	if (a->n == a->cap) {
		size_t ncap = a->cap ? a->cap * 2 : 16;

		if ((nv = realloc(a->v, ncap * sizeof(*nv))) == NULL)
			return -1;
		a->v = nv;
		a->cap = ncap;
	}
	a->v[a->n].name = name;
	textf(a->v[a->n].message, sizeof(a->v[a->n].message), "%s", msg);
	a->n++;
	return 0;
}

static void
result_set(struct cm_rev_result *res, const struct cm_rev_record *r)
{
	textf(res->status, sizeof(res->status), "%s",
	    cm_revocation_status_name(r->status));
	textf(res->source, sizeof(res->source), "%s", r->source);
	textf(res->reason, sizeof(res->reason), "%s", r->reason);
}

/* Records one job's answer (inside the caller's transaction): the
 * record, an event when the status changed, the alarms of a transition. */
static enum cm_status
record_job(struct cm_store *st, struct job *j, const char *actor,
    cm_time now, struct alarms *al, struct cm_err *err)
{
	const struct cm_rev_record *eff;
	struct cm_rev_result *res = j->res;
	enum cm_rev_status before = j->have_old ? j->old.status : CM_REV_ERROR;
	const char *was = j->have_old ? cm_revocation_status_name(j->old.status) :
	    "unchecked";
	struct cm_event ev;
	char msg[CM_ERR_MSG_MAX + 200];
	enum cm_status rc;

	res->checked = 1;
	if (j->reuse) {
		res->from_cache = 1;
		res->kept = CM_REV_KEPT_NEWER;
		result_set(res, &j->old);
		return CM_OK;
	}
	rc = cm_store_revocation_put(st, res->fingerprint, &j->rec, &res->kept,
	    err);
	if (rc == CM_ERR_NOTFOUND) {    /* deleted meanwhile: nothing to do */
		res->checked = 0;
		textf(res->reason, sizeof(res->reason), "the certificate was "
		    "deleted during the check");
		cm_err_clear(err);
		return CM_OK;
	}
	if (rc != CM_OK)
		return rc;
	eff = res->kept == CM_REV_REPLACED ? &j->rec : &j->old;
	result_set(res, eff);
	if (res->kept != CM_REV_REPLACED)
		textf(res->reason, sizeof(res->reason), "%s (kept: %s; this check "
		    "said %s: %s)", j->old.reason, res->kept == CM_REV_KEPT_REVOKED ?
		    "a revocation stands" : "the stored answer is newer",
		    cm_revocation_status_name(j->rec.status), j->rec.reason);
	res->changed = !j->have_old || before != eff->status;
	if (!res->changed)
		return CM_OK;
	textf(msg, sizeof(msg), "revocation status of certificate CN '%.80s' "
	    "serial %.64s: %s -> %s (%s: %.300s)", res->subject_cn,
	    res->serial_hex, was, cm_revocation_status_name(eff->status),
	    eff->source[0] ? eff->source : "check", eff->reason);
	ev = (struct cm_event){0, now, "audit", "cert.revocation", actor,
	    j->first_unit, res->fingerprint, msg};
	if ((rc = cm_store_event_add(st, &ev, err)) != CM_OK)
		return rc;
	if (eff->status == CM_REV_REVOKED || eff->status == CM_REV_ERROR) {
		const char *name = eff->status == CM_REV_REVOKED ? CM_ALARM_REVOKED :
		    CM_ALARM_REVOCATION_FAILED;

		if (eff->status == CM_REV_REVOKED)
			textf(msg, sizeof(msg), "certificate CN '%.80s' serial %.64s "
			    "in unit(s) %.120s is revoked: %.300s", res->subject_cn,
			    res->serial_hex, res->units ? res->units : "",
			    eff->reason);
		else
			textf(msg, sizeof(msg), "revocation check of certificate CN "
			    "'%.80s' serial %.64s in unit(s) %.120s got no valid "
			    "answer: %.300s", res->subject_cn, res->serial_hex,
			    res->units ? res->units : "", eff->reason);
		if ((rc = cm_alarm_record(st, now, name, actor, j->first_unit,
		    res->fingerprint, msg, err)) != CM_OK)
			return rc;
		if (alarm_push(al, name, msg) != 0)
			return cm_err_set(err, CM_ERR_NOMEM, "out of memory");
	}
	return CM_OK;
}

static void
alarms_log(const struct alarms *al)
{
	for (size_t i = 0; i < al->n; i++)
		cm_alarm_log(al->v[i].name, al->v[i].message);
}

/* ---- results ------------------------------------------------------------- */

static void
result_clear(struct cm_rev_result *r)
{
	free(r->units);
	free(r->subject_cn);
	free(r->serial_hex);
	free(r->file);
}

void
cm_revocation_report_free(struct cm_revocation_report *rep)
{
	if (rep == NULL)
		return;
	for (size_t i = 0; rep->v != NULL && i < rep->n; i++)
		result_clear(&rep->v[i]);
	free(rep->v);
	rep->v = NULL;
	rep->n = 0;
	free(rep->checks_by);
	rep->checks_by = NULL;
	rep->n_checks_by = 0;
}

/* Starts the result about the certificate fp_hex (CN cn, serial serial,
 * notAfter not_after). 0, or -1 when out of memory. */
static int
result_init(struct cm_rev_result *r, const char *fp_hex, const char *cn,
    const char *serial, cm_time not_after, const char *units,
    const char *file)
{
	memset(r, 0, sizeof(*r));
	memcpy(r->fingerprint, fp_hex, CM_FP_HEX_LEN);
	r->not_after = not_after;
	textf(r->status, sizeof(r->status), "unchecked");
	r->units = strdup(units != NULL ? units : "");
	r->subject_cn = strdup(cn);
	r->serial_hex = strdup(serial);
	r->file = file != NULL ? strdup(file) : NULL;
	return r->units != NULL && r->subject_cn != NULL &&
	    r->serial_hex != NULL && (file == NULL || r->file != NULL) ? 0 : -1;
}

/* ---- the certificates of the store ---------------------------------------- */

/* A current certificate of the store, read from the store's columns with
 * its stored answer: what a reused answer needs. Its DER is read and
 * parsed only when it is checked (item_cert). */
struct item {
	char fp[CM_FP_HEX_LEN];
	char first_unit[CM_UNIT_NAME_MAX + 1];
	char *units;                    /* "a, b" */
	const char *subject, *issuer, *subject_cn, *serial_hex; /* in mem */
	const char *ocsp_urls;          /* in mem; NULL: not recorded */
	cm_time not_after;
	struct cm_rev_record *old;      /* in mem; NULL: never checked */
	char *mem;
	unsigned char *der;             /* NULL until item_der */
	size_t der_len;
	struct cm_cert *cert;           /* NULL until item_cert */
};

struct items {
	struct item *v;                 /* in the order of the report */
	size_t n;
	struct item **by_subject;       /* v sorted by subject */
};

static void
items_free(struct items *it)
{
	for (size_t i = 0; it->v != NULL && i < it->n; i++) {
		cm_cert_free(it->v[i].cert);
		free(it->v[i].der);
		free(it->v[i].units);
		free(it->v[i].mem);
	}
	free(it->v);
	free(it->by_subject);
	memset(it, 0, sizeof(*it));
}

/* One (unit, certificate) row. */
struct row {
	char unit[CM_UNIT_NAME_MAX + 1];
	struct item it;                 /* its certificate (mem owned) */
};

struct rows {
	struct row *v;
	size_t n, cap;
	int nomem;
};

/* Copies the row's columns and its record into one block. */
static int
collect_row(const struct cm_cert_row *r, const struct cm_rev_record *rec,
    void *arg)
{
	struct rows *rs = arg;
	struct row *nv, *x;
	size_t lr = rec != NULL ? sizeof(*rec) : 0, ls = strlen(r->subject) + 1,
	    li = strlen(r->issuer) + 1, lc = strlen(r->subject_cn) + 1,
	    ln = strlen(r->serial_hex) + 1,
	    lu = r->ocsp_urls != NULL ? strlen(r->ocsp_urls) + 1 : 0;
	char *m;

	if (rs->n == rs->cap) {
		size_t ncap = rs->cap ? rs->cap * 2 : 64;

		if ((nv = realloc(rs->v, ncap * sizeof(*nv))) == NULL)
			goto nomem;
		rs->v = nv;
		rs->cap = ncap;
	}
	if ((m = malloc(lr + ls + li + lc + ln + lu)) == NULL)
		goto nomem;
	x = &rs->v[rs->n++];
	memset(x, 0, sizeof(*x));
	textf(x->unit, sizeof(x->unit), "%s", r->unit);
	textf(x->it.fp, sizeof(x->it.fp), "%s", r->fingerprint);
	x->it.mem = m;
	if (rec != NULL)        /* first: the block is malloc-aligned */
		x->it.old = memcpy(m, rec, lr);
	x->it.subject = memcpy(m += lr, r->subject, ls);
	x->it.issuer = memcpy(m += ls, r->issuer, li);
	x->it.subject_cn = memcpy(m += li, r->subject_cn, lc);
	x->it.serial_hex = memcpy(m += lc, r->serial_hex, ln);
	if (r->ocsp_urls != NULL)
		x->it.ocsp_urls = memcpy(m + ln, r->ocsp_urls, lu);
	x->it.not_after = r->not_after;
	return 0;
nomem:
	rs->nomem = 1;
	return 1;
}

static int
cmp_row(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	int c = strcmp(x->it.fp, y->it.fp);

	return c != 0 ? c : strcmp(x->unit, y->unit);
}

static int
cmp_item_show(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	int c = strcmp(x->units, y->units);

	if (c == 0)
		c = strcmp(x->subject_cn, y->subject_cn);
	return c != 0 ? c : strcmp(x->fp, y->fp);
}

static int
cmp_item_subject(const void *a, const void *b)
{
	const struct item *const *x = a, *const *y = b;

	return strcmp((*x)->subject, (*y)->subject);
}

/* Reads every current certificate once, with its units, without parsing
 * any: in the order of the report, and indexed by subject. */
static enum cm_status
load_items(struct cm_store *st, struct items *out, struct cm_err *err)
{
	struct rows rs = {NULL, 0, 0, 0};
	struct items it = {NULL, 0, NULL};
	size_t i, k;
	enum cm_status rc;

	memset(out, 0, sizeof(*out));
	if ((rc = cm_store_revocation_scan(st, collect_row, &rs, err)) != CM_OK)
		goto out;
	if (rs.nomem) {
		rc = cm_err_set(err, CM_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (rs.n > 0)
		qsort(rs.v, rs.n, sizeof(*rs.v), cmp_row);
	if ((it.v = calloc(rs.n + 1, sizeof(*it.v))) == NULL) {
		rc = cm_err_set(err, CM_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < rs.n; i = k) {
		struct item *x = &it.v[it.n];
		size_t len = 0, o = 0;

		for (k = i; k < rs.n && strcmp(rs.v[k].it.fp, rs.v[i].it.fp) == 0;
		    k++)
			len += strlen(rs.v[k].unit) + 2;
		*x = rs.v[i].it;                /* takes its mem */
		rs.v[i].it.mem = NULL;
		it.n++;
		if ((x->units = malloc(len + 1)) == NULL) {
			rc = cm_err_set(err, CM_ERR_NOMEM, "out of memory");
			goto out;
		}
		x->units[0] = '\0';
		for (size_t u = i; u < k; u++)
			o += (size_t)snprintf(x->units + o, len + 1 - o, "%s%s",
			    u > i ? ", " : "", rs.v[u].unit);
		textf(x->first_unit, sizeof(x->first_unit), "%s", rs.v[i].unit);
	}
	if (it.n > 0)
		qsort(it.v, it.n, sizeof(*it.v), cmp_item_show);
	if ((it.by_subject = malloc((it.n + 1) * sizeof(struct item *))) ==
	    NULL) {
		rc = cm_err_set(err, CM_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < it.n; i++)
		it.by_subject[i] = &it.v[i];
	if (it.n > 0)
		qsort(it.by_subject, it.n, sizeof(struct item *),
		    cmp_item_subject);
	*out = it;
	memset(&it, 0, sizeof(it));
out:
	items_free(&it);
	for (i = 0; i < rs.n; i++)
		free(rs.v[i].it.mem);
	free(rs.v);
	return rc;
}

/* Reads x's DER from the store (once); 0, or -1. */
static int
item_der(struct cm_store *st, struct item *x)
{
	if (x->der == NULL &&
	    cm_store_cert_der(st, x->fp, &x->der, &x->der_len, NULL) != CM_OK)
		return -1;
	return 0;
}

/* The parsed certificate of x, or NULL (stored, so parsed once already:
 * cannot happen short of memory or a store error). */
static const struct cm_cert *
item_cert(struct cm_store *st, struct item *x)
{
	if (x->cert == NULL && item_der(st, x) == 0)
		(void)cm_cert_from_der(x->der, x->der_len, &x->cert, NULL);
	return x->cert;
}

static unsigned
nibble(char h)
{
	return h >= 'a' ? (unsigned)(h - 'a' + 10) : (unsigned)(h - '0');
}

/* The 32 bytes of a fingerprint in (the store's lower-case) hex. */
static void
fp_from_hex(const char *hex, unsigned char fp[CM_FP_LEN])
{
	for (size_t i = 0; i < CM_FP_LEN; i++)
		fp[i] = (unsigned char)(nibble(hex[2 * i]) << 4 |
		    nibble(hex[2 * i + 1]));
}

/* The items whose subject is x's issuer name, x itself left out:
 * by_subject[*lo..*hi) (x may sit inside). Returns their number. */
static size_t
issuer_candidates(const struct items *it, const struct item *x, size_t *lo,
    size_t *hi)
{
	size_t l = 0, h = it->n, mid, n = 0;

	while (l < h) {                 /* first subject >= x's issuer */
		mid = l + (h - l) / 2;
		if (strcmp(it->by_subject[mid]->subject, x->issuer) < 0)
			l = mid + 1;
		else
			h = mid;
	}
	*lo = l;
	for (h = l; h < it->n && strcmp(it->by_subject[h]->subject,
	    x->issuer) == 0; h++)
		n += it->by_subject[h] != x;
	*hi = h;
	return n;
}

/* Step 0 over the candidates: the first whose key verifies x's signature,
 * or NULL. */
static struct item *
verified_issuer(struct engine *e, const struct items *it, struct item *x,
    size_t lo, size_t hi)
{
	const struct cm_cert *c = item_cert(e->st, x), *ic;

	for (size_t k = lo; c != NULL && k < hi; k++) {
		struct item *cand = it->by_subject[k];

		if (cand != x && (ic = item_cert(e->st, cand)) != NULL &&
		    cm_ocsp_check_issuer(e->octx, c, ic, NULL) == CM_OK)
			return cand;
	}
	return NULL;
}

static int64_t
elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 +
	    (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

/* ---- a run -------------------------------------------------------------------- */

/* Records a batch of a run: its answers and events in one transaction,
 * counted into rep; alarms collected in al. */
static enum cm_status
record_batch(struct engine *e, struct job *jobs, size_t n, const char *actor,
    struct cm_revocation_report *rep, struct alarms *al, struct cm_err *err)
{
	enum cm_status rc;

	if ((rc = cm_store_begin(e->st, err)) != CM_OK)
		return rc;
	for (size_t i = 0; i < n; i++) {
		struct cm_rev_result *res = jobs[i].res;
		enum cm_rev_status s;

		if ((rc = record_job(e->st, &jobs[i], actor, e->now, al, err)) !=
		    CM_OK) {
			cm_store_rollback(e->st);
			return rc;
		}
		if (!res->checked)
			continue;       /* deleted during the check */
		rep->checked++;
		rep->from_cache += (size_t)res->from_cache;
		s = res->kept == CM_REV_REPLACED ? jobs[i].rec.status :
		    jobs[i].old.status;
		rep->count[s]++;
		cm_revocation_verdict(s, res->reason, e->ps.common_criteria,
		    res->not_after, e->now, &res->verdict);
	}
	return cm_store_commit(e->st, err);
}

/* Checks and records the batch jobs[0..n) (the certificates of items
 * batch[0..n)), then empties it. */
static enum cm_status
run_batch(struct engine *e, struct job *jobs, struct item **batch, size_t n,
    const char *actor, struct cm_revocation_report *rep, struct alarms *al,
    struct cm_err *err)
{
	size_t logged = al->n;
	enum cm_status rc;

	if ((rc = engine_check(e, jobs, n, 1, err)) == CM_OK &&
	    (rc = record_batch(e, jobs, n, actor, rep, al, err)) == CM_OK) {
		for (size_t i = logged; i < al->n; i++)
			cm_alarm_log(al->v[i].name, al->v[i].message);
	}
	for (size_t i = 0; i < n; i++) {
		job_clear(&jobs[i]);
		memset(&jobs[i], 0, sizeof(jobs[i]));
		free(batch[i]->der);    /* read again if it is an issuer */
		batch[i]->der = NULL;
	}
	return rc;
}

enum cm_status
cm_revocation_run(struct cm_store *st, cm_time now, const char *actor,
    struct cm_revocation_report *rep, struct cm_err *err)
{
	struct engine e;
	struct items items = {NULL, 0, NULL};
	struct job *jobs = NULL;
	struct item *batch[RUN_BATCH];
	struct alarms al = {NULL, 0, 0};
	struct cm_service svc;
	struct timespec t0;
	size_t njobs = 0, lo, hi, ncand;
	int engine_ready = 0, in_txn = 0;
	enum cm_status rc;

	clock_gettime(CLOCK_MONOTONIC, &t0);    /* only for the duration */
	memset(rep, 0, sizeof(*rep));
	rep->ran_at = now;
	if ((rc = engine_init(&e, st, now, err)) != CM_OK)
		goto out;
	engine_ready = 1;
	rep->ocsp = e.rs.ocsp;
	rep->crl = e.rs.crl;
	rep->next_run = now + e.rs.every;
	if ((rc = cm_store_service_get(st, CM_SERVICE_REVOCATION, &svc, err)) !=
	    CM_OK ||
	    (rc = load_items(st, &items, err)) != CM_OK)
		goto out;
	if ((rep->v = calloc(items.n + 1, sizeof(*rep->v))) == NULL ||
	    (jobs = calloc(RUN_BATCH, sizeof(*jobs))) == NULL) {
		rc = cm_err_set(err, CM_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < items.n; i++) {
		struct item *it = &items.v[i], *issuer = NULL;
		struct cm_rev_result *res;
		struct job *j;

		/* Skipped: no certificate of the store bears its issuer's
		 * name, or it is self-issued and none of the others signed it
		 * (a root). Otherwise the issuer is found by step 0 only when
		 * the certificate is checked anew: a reused answer was
		 * validated with its issuer when it was received. */
		ncand = issuer_candidates(&items, it, &lo, &hi);
		if (ncand > 0 && strcmp(it->subject, it->issuer) == 0 &&
		    (issuer = verified_issuer(&e, &items, it, lo, hi)) == NULL)
			ncand = 0;
		if (ncand == 0) {
			rep->skipped++;
			continue;
		}
		res = &rep->v[rep->n];
		if (result_init(res, it->fp, it->subject_cn, it->serial_hex,
		    it->not_after, it->units, NULL) != 0) {
			rep->n++;
			rc = cm_err_set(err, CM_ERR_NOMEM, "out of memory");
			goto out;
		}
		rep->n++;
		if (it->not_after < now) {
			/* expired: fails every trust decision whatever its
			 * status, which stays as it was */
			rep->expired++;
			if (it->old != NULL)
				result_set(res, it->old);
			cm_revocation_verdict(it->old != NULL ? it->old->status :
			    CM_REV_GOOD,
			    NULL, e.ps.common_criteria, it->not_after, now,
			    &res->verdict);
			if (it->old == NULL)
				textf(res->verdict.reason, sizeof(res->verdict.reason),
				    "certificate expired (notAfter %s); revocation "
				    "status never checked", cm_time_format(
				    it->not_after, (char[CM_TIME_TEXT_LEN]){0}));
			continue;
		}
		if (!e.rs.ocsp && !e.rs.crl)
			continue;       /* nothing to check with */
		batch[njobs] = it;
		j = &jobs[njobs++];
		j->res = res;
		j->first_unit = it->first_unit;
		if (it->old != NULL)
			j->old = *it->old;
		j->have_old = it->old != NULL;
		if (j->have_old && reusable(&e, &j->old, 1)) {
			j->reuse = 1;
		} else {
			/* checked anew: with the candidate whose key verifies
			 * its signature (with a single one, step 0 runs as the
			 * request is built); none verifying fails step 0 there */
			if (issuer == NULL && ncand > 1)
				issuer = verified_issuer(&e, &items, it, lo, hi);
			for (size_t k = lo; issuer == NULL && k < hi; k++)
				if (items.by_subject[k] != it)
					issuer = items.by_subject[k];
			if (issuer == NULL || item_der(st, it) != 0 ||
			    (j->issuer = item_cert(st, issuer)) == NULL) {
				rc = cm_err_set(err, CM_ERR_NOMEM, "out of memory "
				    "(reading the stored certificates)");
				goto out;
			}
			j->der = it->der;
			j->der_len = it->der_len;
			fp_from_hex(it->fp, j->fp);
			j->ocsp_urls = it->ocsp_urls;
			j->cert = it->cert;     /* when step 0 parsed it */
		}
		if (njobs == RUN_BATCH) {
			rc = run_batch(&e, jobs, batch, njobs, actor, rep, &al, err);
			njobs = 0;
			if (rc != CM_OK)
				goto out;
		}
	}
	rc = run_batch(&e, jobs, batch, njobs, actor, rep, &al, err);
	njobs = 0;
	if (rc != CM_OK)
		goto out;
	rep->requests = engine_requests(&e);
	rep->checks_by = e.by;         /* the report owns them now */
	rep->n_checks_by = e.n_by;
	e.by = NULL;
	e.n_by = e.cap_by = 0;
	rep->alarms = (int)al.n;
	svc.last_run = now;
	svc.next_run = rep->next_run;
	svc.last_duration_ms = elapsed_ms(&t0);
	if (!e.rs.ocsp && !e.rs.crl)
		textf(svc.last_result, sizeof(svc.last_result), "nothing checked: "
		    "OCSP and CRL are both off");
	else
		textf(svc.last_result, sizeof(svc.last_result), "%zu checked (%zu "
		    "good, %zu revoked, %zu unknown, %zu error), %zu from cache, %zu "
		    "request(s), %zu skipped, %zu expired", rep->checked,
		    rep->count[CM_REV_GOOD], rep->count[CM_REV_REVOKED],
		    rep->count[CM_REV_UNKNOWN], rep->count[CM_REV_ERROR],
		    rep->from_cache, rep->requests, rep->skipped, rep->expired);
	if ((rc = cm_store_begin(st, err)) != CM_OK)
		goto out;
	in_txn = 1;
	if ((rc = cm_store_service_put(st, &svc, err)) != CM_OK)
		goto out;
	in_txn = 0;
	rc = cm_store_commit(st, err);
out:
	if (in_txn)
		cm_store_rollback(st);
	if (rc != CM_OK)
		cm_revocation_report_free(rep);
	for (size_t i = 0; jobs != NULL && i < njobs; i++)
		job_clear(&jobs[i]);
	free(jobs);
	free(al.v);
	items_free(&items);
	if (engine_ready)
		engine_free(&e);
	return rc;
}

cm_time
cm_revocation_next_run(const struct cm_service *svc, int64_t every)
{
	cm_time t;

	if (svc->last_run == 0)
		return svc->started_at;
	if (svc->next_run != 0) {
		t = svc->last_run + every;
		return t < svc->next_run ? t : svc->next_run;
	}
	if (svc->started_at - svc->last_run >= every)
		return svc->started_at;
	return svc->started_at + every;
}

/* ---- the check on upload --------------------------------------------------- */

struct issuer_find {
	struct engine *e;
	const struct cm_cert *cert;
	struct cm_cert *found;          /* owned */
};

static int
try_issuer(const struct cm_cert_row *row, void *arg)
{
	struct issuer_find *f = arg;
	struct cm_cert *c = NULL;

	if (row->der == NULL || strcmp(row->fingerprint, f->cert->fp_hex) == 0 ||
	    cm_cert_from_der(row->der, row->der_len, &c, NULL) != CM_OK)
		return 0;
	if (cm_ocsp_check_issuer(f->e->octx, f->cert, c, NULL) == CM_OK) {
		f->found = c;
		return 1;
	}
	cm_cert_free(c);
	return 0;
}

struct upcheck {
	struct engine e;
	int ready;
	struct job *jobs;
	size_t njobs;
	struct cm_rev_result *res;
	size_t nres;
	struct cm_cert_list store_issuers;      /* issuers read from the store */
};

static void
upcheck_free(struct upcheck *u)
{
	for (size_t i = 0; i < u->nres; i++)
		result_clear(&u->res[i]);
	free(u->res);
	for (size_t i = 0; u->jobs != NULL && i < u->njobs; i++)
		job_clear(&u->jobs[i]);
	free(u->jobs);
	cm_cert_list_clear(&u->store_issuers);
	if (u->ready)
		engine_free(&u->e);
	memset(u, 0, sizeof(*u));
}

/* Checks certs (names[i]: where certs->v[i] came from) when Enable OCSP is
 * on. CM_OK: accepted (u holds the answers to record, possibly none);
 * CM_ERR_CONFLICT: refused, err says what and why. */
static enum cm_status
upcheck_run(struct upcheck *u, struct cm_store *st,
    const struct cm_cert_list *certs, const char *const *names, cm_time now,
    struct cm_err *err)
{
	struct issuer_find f;
	enum cm_status rc;
	int found;

	memset(u, 0, sizeof(*u));
	if ((rc = engine_init(&u->e, st, now, err)) != CM_OK)
		return rc;
	u->ready = 1;
	if (!u->e.rs.ocsp || certs->n == 0)
		return CM_OK;
	if ((u->jobs = calloc(certs->n, sizeof(*u->jobs))) == NULL ||
	    (u->res = calloc(certs->n, sizeof(*u->res))) == NULL)
		return cm_err_set(err, CM_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < certs->n; i++) {
		const struct cm_cert *c = certs->v[i], *issuer = NULL;
		struct job *j;

		for (size_t k = 0; k < certs->n && issuer == NULL; k++)
			if (k != i && strcmp(certs->v[k]->fp_hex, c->fp_hex) != 0 &&
			    strcmp(certs->v[k]->subject, c->issuer) == 0 &&
			    cm_ocsp_check_issuer(u->e.octx, c, certs->v[k], NULL) ==
			    CM_OK)
				issuer = certs->v[k];
		if (issuer == NULL) {
			f.e = &u->e;
			f.cert = c;
			f.found = NULL;
			if ((rc = cm_store_cert_by_subject(st, c->issuer, try_issuer,
			    &f, err)) != CM_OK)
				return rc;
			if (f.found != NULL) {
				if (cm_cert_list_push(&u->store_issuers, f.found) !=
				    CM_OK)
					return cm_err_set(err, CM_ERR_NOMEM, "out of "
					    "memory");
				issuer = f.found;
			}
		}
		if (issuer == NULL)
			continue;       /* a root, or an issuer we do not have */
		if (result_init(&u->res[u->nres], c->fp_hex, c->subject_cn,
		    c->serial_hex, c->not_after, "", names != NULL ? names[i] :
		    NULL) != 0) {
			u->nres++;
			return cm_err_set(err, CM_ERR_NOMEM, "out of memory");
		}
		j = &u->jobs[u->njobs++];
		j->cert = c;
		j->der = c->der;
		j->der_len = c->der_len;
		memcpy(j->fp, c->fp, CM_FP_LEN);
		j->issuer = issuer;
		j->issuer_checked = 1;
		j->res = &u->res[u->nres++];
		if ((rc = cm_store_revocation_get(st, c->fp_hex, &j->old, &found,
		    err)) != CM_OK)
			return rc;
		j->have_old = found;
	}
	if ((rc = engine_check(&u->e, u->jobs, u->njobs, 0, err)) != CM_OK)
		return rc;
	for (size_t i = 0; i < u->njobs; i++) {
		struct job *j = &u->jobs[i];
		const struct cm_rev_record *eff = &j->rec;

		if (j->reuse || cm_rev_record_keep(j->have_old ? &j->old : NULL,
		    &j->rec) != CM_REV_REPLACED)
			eff = &j->old;
		/* expiry alone never refuses an upload: not_after 0 */
		cm_revocation_verdict(eff->status, eff->reason,
		    u->e.ps.common_criteria, 0, now, &j->res->verdict);
		if (j->res->verdict.verdict == CM_VERDICT_FAIL)
			return cm_err_set(err, CM_ERR_CONFLICT, "%s: certificate CN "
			    "'%.80s' (%.16s) refused by the revocation check: %s",
			    j->res->file != NULL ? j->res->file : "upload",
			    j->cert->subject_cn, j->cert->fp_hex,
			    j->res->verdict.reason);
	}
	return CM_OK;
}

/* Records the answers of an accepted upload (inside the caller's
 * transaction), naming the unit. */
static enum cm_status
upcheck_record(struct upcheck *u, struct cm_store *st, const char *unit,
    const char *actor, cm_time now, struct alarms *al, struct cm_err *err)
{
	enum cm_status rc;

	for (size_t i = 0; i < u->njobs; i++) {
		free(u->jobs[i].res->units);
		if ((u->jobs[i].res->units = strdup(unit)) == NULL)
			return cm_err_set(err, CM_ERR_NOMEM, "out of memory");
		u->jobs[i].first_unit = unit;
		if ((rc = record_job(st, &u->jobs[i], actor, now, al, err)) !=
		    CM_OK)
			return rc;
	}
	return CM_OK;
}

enum cm_status
cm_revocation_upload(struct cm_store *st, const char *unit,
    const struct cm_cert_list *certs, const char *name,
    const struct cm_upload_opts *uopts, const char *actor, cm_time now,
    struct cm_upload_report *report, struct cm_err *err)
{
	struct upcheck u;
	struct alarms al = {NULL, 0, 0};
	struct cm_unit un;
	const char **names = NULL;
	enum cm_status rc;
	int in_txn = 0;

	memset(report, 0, sizeof(*report));
	memset(&u, 0, sizeof(u));
	/* an unknown unit is refused before any network exchange */
	if ((rc = cm_store_unit_get(st, unit, &un, err)) != CM_OK)
		goto out;
	if (certs->n > 0 && (names = calloc(certs->n, sizeof(*names))) == NULL) {
		rc = cm_err_set(err, CM_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < certs->n; i++)
		names[i] = name;
	if ((rc = upcheck_run(&u, st, certs, names, now, err)) != CM_OK)
		goto out;
	if ((rc = cm_store_begin(st, err)) != CM_OK)
		goto out;
	in_txn = 1;
	if ((rc = cm_store_upload(st, unit, certs, uopts, actor, now, report,
	    err)) != CM_OK ||
	    (rc = upcheck_record(&u, st, unit, actor, now, &al, err)) != CM_OK)
		goto out;
	in_txn = 0;
	if ((rc = cm_store_commit(st, err)) != CM_OK)
		goto out;
	alarms_log(&al);
out:
	if (in_txn)
		cm_store_rollback(st);
	if (rc != CM_OK)
		cm_upload_report_free(report);
	free(names);
	free(al.v);
	upcheck_free(&u);
	return rc;
}

enum cm_status
cm_revocation_import_files(struct cm_store *st, const char *unit,
    const char *const *paths, size_t n, const struct cm_parse_opts *popts,
    const struct cm_upload_opts *uopts, int threads, const char *actor,
    cm_time now, struct cm_upload_report *report, struct cm_err *err)
{
	struct cm_revocation_settings rs;
	struct cm_cert_list all = {NULL, 0, 0, 0};
	struct alarms al = {NULL, 0, 0};
	struct cm_unit un;
	struct upcheck u;
	const char **names = NULL, **nv;
	size_t before;
	enum cm_status rc;
	int in_txn = 0;

	memset(report, 0, sizeof(*report));
	memset(&u, 0, sizeof(u));
	if ((rc = cm_revocation_settings_load(st, &rs, err)) != CM_OK)
		goto out;
	if (!rs.ocsp) {
		rc = cm_import_files(st, unit, paths, n, popts, uopts, threads,
		    actor, now, report, err);
		goto out;
	}
	if ((rc = cm_store_unit_get(st, unit, &un, err)) != CM_OK)
		goto out;
	for (size_t i = 0; i < n; i++) {
		before = all.n;
		if ((rc = cm_cert_parse_file(paths[i], popts, &all, err)) != CM_OK)
			goto out;
		if ((nv = realloc(names, (all.n + 1) * sizeof(*nv))) == NULL) {
			rc = cm_err_set(err, CM_ERR_NOMEM, "out of memory");
			goto out;
		}
		names = nv;
		for (size_t k = before; k < all.n; k++)
			names[k] = paths[i];
	}
	if ((rc = upcheck_run(&u, st, &all, names, now, err)) != CM_OK)
		goto out;
	if ((rc = cm_store_begin(st, err)) != CM_OK)
		goto out;
	in_txn = 1;
	if ((rc = cm_import_files(st, unit, paths, n, popts, uopts, threads,
	    actor, now, report, err)) != CM_OK ||
	    (rc = upcheck_record(&u, st, unit, actor, now, &al, err)) != CM_OK)
		goto out;
	in_txn = 0;
	if ((rc = cm_store_commit(st, err)) != CM_OK)
		goto out;
	alarms_log(&al);
out:
	if (in_txn)
		cm_store_rollback(st);
	if (rc != CM_OK)
		cm_upload_report_free(report);
	free(names);
	free(al.v);
	upcheck_free(&u);
	cm_cert_list_clear(&all);
	return rc;
}

/* ---- JSON -------------------------------------------------------------------- */

static json_t *
lines_json(const char *text)
{
	struct cm_strlist l = {NULL, 0};
	json_t *a = json_array();

	if (cm_setting_lines(text, &l, NULL) == CM_OK)
		for (size_t i = 0; i < l.n; i++)
			json_array_append_new(a, json_string(l.v[i]));
	cm_setting_lines_free(&l);
	return a;
}

json_t *
cm_revocation_settings_json(const struct cm_revocation_settings *s)
{
	char every[24], skew[24], cache[24];

	return json_pack("{s:b, s:s, s:o, s:b, s:s, s:b, s:o, s:o, s:b, s:s, "
	    "s:I, s:s, s:o}",
	    "ocsp", s->ocsp,
	    "uri_source", s->uri_source == CM_URI_CONFIGURED ? "configured" :
	    "cert",
	    "uri", cm_json_str(s->uri),
	    "check", s->check,
	    "every", cm_duration_format(s->every, every, sizeof(every)),
	    "crl", s->crl,
	    "crl_uris", lines_json(s->crl_uris),
	    "trust_unit", cm_json_str(s->trust_unit),
	    "require_nonce", s->require_nonce,
	    "skew", cm_duration_format_any(s->skew, skew, sizeof(skew)),
	    "timeout", (json_int_t)s->timeout,
	    "cache_max", cm_duration_format_any(s->cache_max, cache,
	    sizeof(cache)),
	    "allow_hosts", lines_json(s->allow_hosts));
}

json_t *
cm_params_settings_json(const struct cm_params_settings *s)
{
	char f[24];

	return json_pack("{s:b, s:s, s:b}",
	    "cert_validity_check", s->cert_validity_check,
	    "validity_check_frequency", cm_duration_format(
	    s->validity_check_frequency, f, sizeof(f)),
	    "common_criteria", s->common_criteria);
}

/* A duration: "24h"-style text (any_unit: also s and m) or seconds. */
static int
js_duration(json_t *o, const char *key, int any_unit, int64_t *out,
    struct cm_err *err)
{
	json_t *v = json_object_get(o, key);

	if (v == NULL)
		return 0;
	if (json_is_integer(v) && json_integer_value(v) >= 0 &&
	    json_integer_value(v) <= (json_int_t)3650 * 86400) {
		*out = (int64_t)json_integer_value(v);
		return 0;
	}
	if (json_is_string(v) && (any_unit ?
	    cm_duration_parse_any(json_string_value(v), out) :
	    cm_duration_parse(json_string_value(v), out)) == 0)
		return 0;
	cm_err_set(err, CM_ERR_INVALID, "\"%s\" must be a duration like %s or "
	    "a number of seconds", key, any_unit ? "\"300s\", \"5m\" or \"1h\"" :
	    "\"12h\" or \"1d\"");
	return -1;
}

/* A list: an array of strings, or one string of lines. */
static int
js_lines(json_t *o, const char *key, char *out, size_t len,
    struct cm_err *err)
{
	json_t *v = json_object_get(o, key), *e;
	size_t used = 0, i;

	if (v == NULL)
		return 0;
	if (json_is_string(v))
		return cm_json_opt_text(o, key, out, len, err);
	if (!json_is_array(v))
		goto bad;
	out[0] = '\0';
	json_array_foreach(v, i, e) {
		const char *t = json_string_value(e);

		if (t == NULL || strchr(t, '\n') != NULL)
			goto bad;
		used += (size_t)snprintf(out + used, used < len ? len - used : 0,
		    "%s%s", i ? "\n" : "", t);
		if (used >= len) {
			cm_err_set(err, CM_ERR_INVALID, "\"%s\" is longer than %zu "
			    "bytes", key, len - 1);
			return -1;
		}
	}
	return 0;
bad:
	cm_err_set(err, CM_ERR_INVALID, "\"%s\" must be an array of strings",
	    key);
	return -1;
}

enum cm_status
cm_revocation_settings_from_json(json_t *o, struct cm_revocation_settings *s,
    struct cm_err *err)
{
	json_t *v;
	char source[16] = "";

	if (!json_is_object(o))
		return cm_err_set(err, CM_ERR_INVALID, "the body must be a JSON "
		    "object");
	v = json_object_get(o, "timeout");
	if (v != NULL && (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > 100000))
		return cm_err_set(err, CM_ERR_INVALID, "\"timeout\" must be a "
		    "number of seconds (1-60)");
	if (v != NULL)
		s->timeout = (int64_t)json_integer_value(v);
	if (cm_json_opt_bool(o, "ocsp", &s->ocsp, err) != 0 ||
	    cm_json_opt_text(o, "uri_source", source, sizeof(source), err) != 0 ||
	    cm_json_opt_text(o, "uri", s->uri, sizeof(s->uri), err) != 0 ||
	    cm_json_opt_bool(o, "check", &s->check, err) != 0 ||
	    js_duration(o, "every", 0, &s->every, err) != 0 ||
	    cm_json_opt_bool(o, "crl", &s->crl, err) != 0 ||
	    js_lines(o, "crl_uris", s->crl_uris, sizeof(s->crl_uris), err) != 0 ||
	    cm_json_opt_text(o, "trust_unit", s->trust_unit, sizeof(s->trust_unit), err) !=
	    0 ||
	    cm_json_opt_bool(o, "require_nonce", &s->require_nonce, err) != 0 ||
	    js_duration(o, "skew", 1, &s->skew, err) != 0 ||
	    js_duration(o, "cache_max", 0, &s->cache_max, err) != 0 ||
	    js_lines(o, "allow_hosts", s->allow_hosts, sizeof(s->allow_hosts),
	    err) != 0)
		return err != NULL ? err->code : CM_ERR_INVALID;
	if (strcmp(source, "cert") == 0)
		s->uri_source = CM_URI_FROM_CERT;
	else if (strcmp(source, "configured") == 0)
		s->uri_source = CM_URI_CONFIGURED;
	else if (source[0] != '\0')
		return cm_err_set(err, CM_ERR_INVALID, "\"uri_source\" must be "
		    "\"cert\" or \"configured\"");
	return CM_OK;
}

enum cm_status
cm_params_settings_from_json(json_t *o, struct cm_params_settings *s,
    struct cm_err *err)
{
	if (!json_is_object(o))
		return cm_err_set(err, CM_ERR_INVALID, "the body must be a JSON "
		    "object");
	if (cm_json_opt_bool(o, "cert_validity_check", &s->cert_validity_check, err) !=
	    0 ||
	    js_duration(o, "validity_check_frequency", 0,
	    &s->validity_check_frequency, err) != 0 ||
	    cm_json_opt_bool(o, "common_criteria", &s->common_criteria, err) != 0)
		return err != NULL ? err->code : CM_ERR_INVALID;
	return CM_OK;
}

json_t *
cm_revocation_report_json(const struct cm_revocation_report *rep)
{
	json_t *doc = cm_revocation_summary_json(rep), *arr = json_array();

	for (size_t i = 0; i < rep->n; i++)
		json_array_append_new(arr, cm_json_rev_result(&rep->v[i]));
	json_object_set_new(doc, "results", arr);
	return doc;
}

json_t *
cm_revocation_summary_json(const struct cm_revocation_report *rep)
{
	return json_pack("{s:o, s:I, s:I, s:I, s:I, s:I, s:{s:I, s:I, s:I, s:I}, "
	    "s:i, s:b, s:b, s:o}",
	    "ran_at", cm_json_time(rep->ran_at),
	    "checked", (json_int_t)rep->checked,
	    "from_cache", (json_int_t)rep->from_cache,
	    "requests", (json_int_t)rep->requests,
	    "skipped", (json_int_t)rep->skipped,
	    "expired", (json_int_t)rep->expired,
	    "counts",
	    "good", (json_int_t)rep->count[CM_REV_GOOD],
	    "revoked", (json_int_t)rep->count[CM_REV_REVOKED],
	    "unknown", (json_int_t)rep->count[CM_REV_UNKNOWN],
	    "error", (json_int_t)rep->count[CM_REV_ERROR],
	    "alarms", rep->alarms,
	    "ocsp", rep->ocsp, "crl", rep->crl,
	    "next_run", cm_json_time(rep->next_run));
}
