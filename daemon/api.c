/*
 * api.c - the REST API, /api/v1/...: certificates, units, settings,
 * services, events, the mail queue, long-lived connections (endpoints). JSON in and out; every call needs an
 * API token (401 otherwise, never a redirect). Validation is the library's,
 * the same as the CLI's.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "certmon/conn.h"
#include "certmon/endpoint.h"
#include "certmon/expiry.h"
#include "certmon/json.h"
#include "certmon/monitor.h"
#include "certmon/revocation_run.h"
#include "certmon/service.h"
#include "certmon/settings.h"
#include "http.h"

#define API "/api/v1/"
#define PAGE_MAX 1000

/* The HTTP status that fits a library status. */
static unsigned
http_status(enum cm_status rc)
{
	switch (rc) {
	case CM_OK:           return 200;
	case CM_ERR_INVALID:  return 400;
	case CM_ERR_NOTFOUND: return 404;
	case CM_ERR_CONFLICT: return 409;
	case CM_ERR_TOOBIG:   return 413;
	case CM_ERR_STORE:    return 503;
	default:              return 500;
	}
}

static enum MHD_Result
reply_err(struct request *r, const struct cm_err *err)
{
	return reply_error(r, http_status(err->code), "%s", err->msg);
}

static const char *
actor(struct request *r)
{
	return r->who[0] ? r->who : "api";
}

/* Parses the body as a JSON object; NULL after replying 400. */
static json_t *
body_json(struct request *r, enum MHD_Result *ret)
{
	json_error_t jerr;
	json_t *j;

	j = json_loadb(r->body ? r->body : "", r->len, JSON_REJECT_DUPLICATES,
	    &jerr);
	if (j == NULL || !json_is_object(j)) {
		json_decref(j);
		*ret = reply_error(r, 400, "the body must be a JSON object%s%s",
		    j == NULL ? ": " : "", j == NULL ? jerr.text : "");
		return NULL;
	}
	return j;
}

static int
query_int(struct request *r, const char *key, int64_t def, int64_t lo,
    int64_t hi, int64_t *out)
{
	const char *v = req_query(r, key);
	char *end;
	long long n;

	*out = def;
	if (v == NULL)
		return 0;
	n = strtoll(v, &end, 10);
	if (end == v || *end != '\0' || n < lo || n > hi)
		return -1;
	*out = n;
	return 0;
}

static int
start_days(struct daemon_ctx *d)
{
	struct cm_monitor_settings ms;
	struct cm_err err;

	if (cm_monitor_settings_load(d->st, &ms, &err) != CM_OK)
		return CM_MONITOR_START_DAYS_DEFAULT;
	return ms.start_days;
}

/* ---- certificates -------------------------------------------------------- */

struct rows {
	json_t *arr;
	cm_time now;
	int start;
};

static int
collect_row(const struct cm_cert_row *row, void *arg)
{
	struct rows *rs = arg;

	json_array_append_new(rs->arr, cm_json_cert_row(row, rs->now, rs->start));
	return 0;
}

/* The total of a listing, counted once per second and store version: a
 * dashboard or a scraper paging through the same filter does not count
 * 10,000 rows per page. */
static enum cm_status
cached_total(struct request *r, const struct cm_cert_filter *f, cm_time now,
    int64_t *total, struct cm_err *err)
{
	static struct {
		char key[600];
		cm_time now;
		int64_t version;
		uint64_t writes;
		int64_t total;
	} cache;
	char key[600];
	int64_t version = cm_store_data_version(r->d->st);
	enum cm_status rc;

	snprintf(key, sizeof(key), "%s|%s|%s|%d|%lld|%lld", f->unit ? f->unit :
	    "", f->search ? f->search : "", f->revocation ? f->revocation : "",
	    f->include_history, (long long)f->not_after_min,
	    (long long)f->not_after_max);
	if (strcmp(key, cache.key) == 0 && cache.now == now &&
	    cache.version == version && cache.writes == r->d->writes) {
		*total = cache.total;
		return CM_OK;
	}
	if ((rc = cm_store_cert_count(r->d->st, f, total, err)) != CM_OK)
		return rc;
	snprintf(cache.key, sizeof(cache.key), "%s", key);
	cache.now = now;
	cache.version = version;
	cache.writes = r->d->writes;
	cache.total = *total;
	return CM_OK;
}

static enum MHD_Result
certs_list(struct request *r)
{
	struct cm_cert_filter f;
	struct cm_err err = {CM_OK, ""};
	struct rows rs;
	const char *state = req_query(r, "state"), *h = req_query(r, "history");
	enum cm_expiry_state es;
	struct cm_unit u;
	int64_t total = 0;

	memset(&f, 0, sizeof(f));
	f.unit = req_query(r, "unit");
	f.search = req_query(r, "search");
	f.include_history = h != NULL && strcmp(h, "1") == 0;
	if (query_int(r, "limit", 100, 1, PAGE_MAX, &f.limit) != 0 ||
	    query_int(r, "offset", 0, 0, INT64_MAX / 2, &f.offset) != 0)
		return reply_error(r, 400, "limit must be 1-%d and offset >= 0",
		    PAGE_MAX);
	rs.now = daemon_now(r->d);
	rs.start = start_days(r->d);
	if (state != NULL && strcmp(state, "revoked") == 0)
		f.revocation = "revoked";
	else if (state != NULL) {
		if (cm_expiry_state_parse(state, &es) != 0)
			return reply_error(r, 400, "unknown state '%.40s' (valid, "
			    "expiring, critical, expired, revoked)", state);
		cm_expiry_state_window(es, rs.now, rs.start, &f.not_after_min,
		    &f.not_after_max);
	}
	if (f.unit != NULL && cm_store_unit_get(r->d->st, f.unit, &u, &err) !=
	    CM_OK)
		return reply_err(r, &err);
	rs.arr = json_array();
	if (cached_total(r, &f, rs.now, &total, &err) != CM_OK ||
	    cm_store_cert_list(r->d->st, &f, collect_row, &rs, &err) != CM_OK) {
		json_decref(rs.arr);
		return reply_err(r, &err);
	}
	return reply_json(r, 200, json_pack("{s:s, s:o, s:I, s:I, s:I}", "status",
	    "ok", "certs", rs.arr, "total", (json_int_t)total, "limit",
	    (json_int_t)f.limit, "offset", (json_int_t)f.offset));
}

struct detail {
	struct daemon_ctx *d;
	json_t *doc;
};

static int
collect_event(const struct cm_event *ev, void *arg)
{
	json_array_append_new(arg, json_pack("{s:I, s:o, s:s, s:s, s:s, s:o, "
	    "s:o, s:o}", "id", (json_int_t)ev->id, "at", cm_json_time(ev->at),
	    "kind", ev->kind, "name", ev->name, "actor", ev->actor, "unit",
	    cm_json_str(ev->unit), "fingerprint", cm_json_str(ev->fingerprint),
	    "message", cm_json_str(ev->message)));
	return 0;
}

static int
detail_row(const struct cm_cert_row *row, void *arg)
{
	struct detail *dt = arg;
	struct cm_event_filter ef;
	struct cm_cert *x = NULL;
	struct cm_err err;
	json_t *events = json_array();
	char *pem = NULL;

	dt->doc = cm_json_cert_row(row, daemon_now(dt->d), start_days(dt->d));
	if (cm_cert_from_der(row->der, row->der_len, &x, &err) == CM_OK) {
		cm_json_cert_fields(dt->doc, x);
		pem = cm_cert_to_pem(x);
		json_object_set_new(dt->doc, "pem", cm_json_str(pem));
	}
	memset(&ef, 0, sizeof(ef));
	ef.fingerprint = row->fingerprint;
	ef.limit = 100;
	cm_store_event_list(dt->d->st, &ef, collect_event, events, &err);
	json_object_set_new(dt->doc, "events", events);
	free(pem);
	cm_cert_free(x);
	return 0;
}

static enum MHD_Result
cert_show(struct request *r, const char *fp)
{
	struct detail dt = {r->d, NULL};
	struct cm_err err = {CM_OK, ""};

	if (cm_store_cert_find(r->d->st, fp, req_query(r, "unit"), detail_row,
	    &dt, &err) != CM_OK)
		return reply_err(r, &err);
	return reply_json(r, 200, json_pack("{s:s, s:o}", "status", "ok", "cert",
	    dt.doc));
}

static enum MHD_Result
cert_delete(struct request *r, const char *fp)
{
	struct cm_err err = {CM_OK, ""};
	char full[CM_FP_HEX_LEN], unit[CM_UNIT_NAME_MAX + 1];

	if (cm_store_cert_delete(r->d->st, fp, req_query(r, "unit"), actor(r),
	    daemon_now(r->d), full, unit, &err) != CM_OK)
		return reply_err(r, &err);
	return reply_json(r, 200, json_pack("{s:s, s:s, s:s}", "status", "ok",
	    "deleted", full, "unit", unit));
}

/* A multipart/form-data upload: the file and the form fields. */
struct form {
	char *file;
	size_t file_len;
	char filename[128];
	char unit[CM_UNIT_NAME_MAX + 1];
	char password[256];
	int ocsp_responder;
	int too_big;
};

static enum MHD_Result
form_field(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *filename, const char *content_type,
    const char *transfer_encoding, const char *data, uint64_t off,
    size_t size)
{
	struct form *fm = cls;
	char *nf;

	(void)kind;
	(void)content_type;
	(void)transfer_encoding;
	if (key == NULL)     /* a part without a name: malformed */
		return MHD_NO;
	if (strcmp(key, "file") == 0) {
		if (filename != NULL)
			snprintf(fm->filename, sizeof(fm->filename), "%s", filename);
		if (off + size > HTTP_BODY_MAX) {
			fm->too_big = 1;
			return MHD_NO;
		}
		if ((nf = realloc(fm->file, (size_t)off + size + 1)) == NULL)
			return MHD_NO;
		fm->file = nf;
		memcpy(fm->file + off, data, size);
		fm->file_len = (size_t)off + size;
		return MHD_YES;
	}
	if (off + size >= 256)
		return MHD_NO;
	if (strcmp(key, "unit") == 0 && off + size < sizeof(fm->unit)) {
		memcpy(fm->unit + off, data, size);
		fm->unit[off + size] = '\0';
	} else if (strcmp(key, "password") == 0) {
		memcpy(fm->password + off, data, size);
		fm->password[off + size] = '\0';
	} else if (strcmp(key, "ocsp_responder") == 0) {
		fm->ocsp_responder = size > 0 && data[0] == '1';
	}
	return MHD_YES;
}

static json_t *
report_json(const char *unit, const struct cm_upload_report *rep)
{
	static const char *const actions[] = {"added", "unchanged", "replaced"};
	json_t *arr = json_array();
	size_t count[3] = {0, 0, 0};

	for (size_t i = 0; i < rep->n; i++) {
		const struct cm_upload_item *it = &rep->v[i];

		count[it->action]++;
		json_array_append_new(arr, json_pack("{s:s, s:o, s:s, s:o, s:b}",
		    "fingerprint", it->fingerprint, "subject_cn",
		    cm_json_str(it->subject_cn), "action", actions[it->action],
		    "replaced", it->replaced[0] ? json_string(it->replaced) :
		    json_null(), "expired", it->expired));
	}
	return json_pack("{s:s, s:s, s:I, s:I, s:I, s:o}", "status", "ok", "unit",
	    unit, "added", (json_int_t)count[CM_UPLOAD_ADDED], "replaced",
	    (json_int_t)count[CM_UPLOAD_REPLACED], "unchanged",
	    (json_int_t)count[CM_UPLOAD_UNCHANGED], "certs", arr);
}

static enum MHD_Result
certs_upload(struct request *r)
{
	struct form fm;
	struct cm_parse_opts popts;
	struct cm_upload_opts uopts;
	struct cm_cert_list list = {NULL, 0, 0, 0};
	struct cm_upload_report rep = {NULL, 0};
	struct cm_err err = {CM_OK, ""};
	const char *ctype = req_header(r, "Content-Type"), *data, *q;
	struct MHD_PostProcessor *pp = NULL;
	enum MHD_Result ret;
	size_t len;

	memset(&fm, 0, sizeof(fm));
	memset(&popts, 0, sizeof(popts));
	memset(&uopts, 0, sizeof(uopts));
	if (ctype != NULL && strncasecmp(ctype, "multipart/form-data", 19) == 0) {
		pp = MHD_create_post_processor(r->conn, 16 * 1024, form_field, &fm);
		if (pp == NULL || MHD_post_process(pp, r->body ? r->body : "",
		    r->len) != MHD_YES) {
			ret = fm.too_big ? reply_error(r, 413, "the file is too large") :
			    reply_error(r, 400, "malformed multipart/form-data body");
			goto out;
		}
		data = fm.file;
		len = fm.file_len;
	} else {
		data = r->body;
		len = r->len;
		if ((q = req_query(r, "unit")) != NULL)
			snprintf(fm.unit, sizeof(fm.unit), "%s", q);
		if ((q = req_query(r, "password")) != NULL)
			snprintf(fm.password, sizeof(fm.password), "%s", q);
		q = req_query(r, "ocsp_responder");
		fm.ocsp_responder = q != NULL && strcmp(q, "1") == 0;
		snprintf(fm.filename, sizeof(fm.filename), "request body");
	}
	if (fm.unit[0] == '\0') {
		ret = reply_error(r, 400, "the unit is missing (?unit=NAME or a "
		    "'unit' form field)");
		goto out;
	}
	if (fm.filename[0] == '\0')
		snprintf(fm.filename, sizeof(fm.filename), "upload");
	popts.password = fm.password[0] ? fm.password : NULL;
	uopts.ocsp_responder = fm.ocsp_responder;
	if (data == NULL || len == 0) {
		ret = reply_error(r, 400, "%s: empty file", fm.filename);
		goto out;
	}
	if (cm_cert_parse((const unsigned char *)data, len, fm.filename, &popts,
	    &list, &err) != CM_OK ||
	    cm_revocation_upload(r->d->st, fm.unit, &list, fm.filename, &uopts,
	    actor(r), daemon_now(r->d), &rep, &err) != CM_OK) {
		ret = reply_err(r, &err);
		goto out;
	}
	ret = reply_json(r, 201, report_json(fm.unit, &rep));
out:
	if (pp != NULL)
		MHD_destroy_post_processor(pp);
	cm_upload_report_free(&rep);
	cm_cert_list_clear(&list);
	free(fm.file);
	return ret;
}

/* ---- units --------------------------------------------------------------- */

static enum MHD_Result
units(struct request *r, const char *name)
{
	struct cm_err err = {CM_OK, ""};
	struct cm_unit *v = NULL;
	enum MHD_Result ret;
	size_t n = 0;
	json_t *arr, *body;
	const char *kind, *force;
	enum cm_unit_kind k;

	if (name == NULL && strcmp(r->method, "GET") == 0) {
		if (cm_store_unit_list(r->d->st, &v, &n, &err) != CM_OK)
			return reply_err(r, &err);
		arr = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, json_pack("{s:s, s:s, s:I, s:I, s:o}",
			    "name", v[i].name, "kind", cm_unit_kind_name(v[i].kind),
			    "certs", (json_int_t)v[i].n_current, "history",
			    (json_int_t)v[i].n_history, "created_at",
			    cm_json_time(v[i].created_at)));
		free(v);
		return reply_json(r, 200, json_pack("{s:s, s:o}", "status", "ok",
		    "units", arr));
	}
	if (name == NULL && strcmp(r->method, "POST") == 0) {
		if ((body = body_json(r, &ret)) == NULL)
			return ret;
		name = json_string_value(json_object_get(body, "name"));
		kind = json_string_value(json_object_get(body, "kind"));
		if (name == NULL) {
			json_decref(body);
			return reply_error(r, 400, "\"name\" is missing");
		}
		k = cm_unit_kind_for_name(name);
		if (kind != NULL && strcmp(kind, "trust") == 0)
			k = CM_UNIT_TRUST;
		else if (kind != NULL && strcmp(kind, "lsc") == 0)
			k = CM_UNIT_LSC;
		else if (kind != NULL && strcmp(kind, "identity") == 0)
			k = CM_UNIT_IDENTITY;
		else if (kind != NULL) {
			json_decref(body);
			return reply_error(r, 400, "\"kind\" must be identity, trust or "
			    "lsc");
		}
		if (cm_store_unit_add(r->d->st, name, k, actor(r), daemon_now(r->d),
		    &err) != CM_OK)
			ret = reply_err(r, &err);
		else
			ret = reply_json(r, 201, json_pack("{s:s, s:s, s:s}", "status",
			    "ok", "name", name, "kind", cm_unit_kind_name(k)));
		json_decref(body);
		return ret;
	}
	if (name != NULL && strcmp(r->method, "DELETE") == 0) {
		force = req_query(r, "force");
		if (cm_store_unit_remove(r->d->st, name, force != NULL &&
		    strcmp(force, "1") == 0, actor(r), daemon_now(r->d), &err) !=
		    CM_OK)
			return reply_err(r, &err);
		return reply_json(r, 200, json_pack("{s:s, s:s}", "status", "ok",
		    "removed", name));
	}
	return reply_method(r, name == NULL ? "GET, POST" : "DELETE");
}

/* ---- settings ------------------------------------------------------------ */

static enum MHD_Result
settings_monitor(struct request *r)
{
	struct cm_monitor_settings s;
	struct cm_err err = {CM_OK, ""};
	enum MHD_Result ret;
	json_t *body;

	if (cm_monitor_settings_load(r->d->st, &s, &err) != CM_OK)
		return reply_err(r, &err);
	if (strcmp(r->method, "GET") == 0)
		return reply_json(r, 200, json_pack("{s:s, s:o}", "status", "ok",
		    "monitor", cm_monitor_settings_json(&s)));
	if (strcmp(r->method, "PUT") != 0)
		return reply_method(r, "GET, PUT");
	if ((body = body_json(r, &ret)) == NULL)
		return ret;
	if (cm_monitor_settings_from_json(body, &s, &err) == CM_OK)
		cm_monitor_settings_save(r->d->st, &s, actor(r), daemon_now(r->d),
		    &err);
	json_decref(body);
	if (err.code != CM_OK ||
	    cm_monitor_settings_load(r->d->st, &s, &err) != CM_OK)
		return reply_err(r, &err);
	return reply_json(r, 200, json_pack("{s:s, s:o}", "status", "ok",
	    "monitor", cm_monitor_settings_json(&s)));
}

static enum MHD_Result
settings_smtp(struct request *r)
{
	struct cm_smtp_settings s;
	struct cm_err err = {CM_OK, ""};
	enum MHD_Result ret;
	json_t *body;

	if (cm_smtp_settings_load(r->d->st, &s, &err) != CM_OK)
		return reply_err(r, &err);
	if (strcmp(r->method, "GET") == 0)
		return reply_json(r, 200, json_pack("{s:s, s:o}", "status", "ok",
		    "smtp", cm_smtp_settings_json(&s)));
	if (strcmp(r->method, "PUT") != 0)
		return reply_method(r, "GET, PUT");
	if ((body = body_json(r, &ret)) == NULL)
		return ret;
	if (cm_smtp_settings_from_json(body, &s, &err) == CM_OK)
		cm_smtp_settings_save(r->d->st, &s, actor(r), daemon_now(r->d),
		    &err);
	json_decref(body);
	if (err.code != CM_OK ||
	    cm_smtp_settings_load(r->d->st, &s, &err) != CM_OK)
		return reply_err(r, &err);
	return reply_json(r, 200, json_pack("{s:s, s:o}", "status", "ok", "smtp",
	    cm_smtp_settings_json(&s)));
}

/* The Certificate Revocation settings and the Enterprise Parameters:
 * GET/PUT, validated like `certmon revocation set` / `params set`. */
static enum MHD_Result
settings_revocation(struct request *r)
{
	struct cm_revocation_settings s;
	struct cm_err err = {CM_OK, ""};
	enum MHD_Result ret;
	json_t *body;

	if (cm_revocation_settings_load(r->d->st, &s, &err) != CM_OK)
		return reply_err(r, &err);
	if (strcmp(r->method, "GET") == 0)
		return reply_json(r, 200, json_pack("{s:s, s:o}", "status", "ok",
		    "revocation", cm_revocation_settings_json(&s)));
	if (strcmp(r->method, "PUT") != 0)
		return reply_method(r, "GET, PUT");
	if ((body = body_json(r, &ret)) == NULL)
		return ret;
	if (cm_revocation_settings_from_json(body, &s, &err) == CM_OK)
		cm_revocation_settings_save(r->d->st, &s, actor(r),
		    daemon_now(r->d), &err);
	json_decref(body);
	if (err.code != CM_OK ||
	    cm_revocation_settings_load(r->d->st, &s, &err) != CM_OK)
		return reply_err(r, &err);
	r->d->reschedule = 1;
	return reply_json(r, 200, json_pack("{s:s, s:o}", "status", "ok",
	    "revocation", cm_revocation_settings_json(&s)));
}

static enum MHD_Result
settings_enterprise(struct request *r)
{
	struct cm_params_settings s;
	struct cm_err err = {CM_OK, ""};
	enum MHD_Result ret;
	json_t *body;

	if (cm_params_settings_load(r->d->st, &s, &err) != CM_OK)
		return reply_err(r, &err);
	if (strcmp(r->method, "GET") == 0)
		return reply_json(r, 200, json_pack("{s:s, s:o}", "status", "ok",
		    "enterprise", cm_params_settings_json(&s)));
	if (strcmp(r->method, "PUT") != 0)
		return reply_method(r, "GET, PUT");
	if ((body = body_json(r, &ret)) == NULL)
		return ret;
	if (cm_params_settings_from_json(body, &s, &err) == CM_OK)
		cm_params_settings_save(r->d->st, &s, actor(r), daemon_now(r->d),
		    &err);
	json_decref(body);
	if (err.code != CM_OK ||
	    cm_params_settings_load(r->d->st, &s, &err) != CM_OK)
		return reply_err(r, &err);
	r->d->reschedule = 1;
	return reply_json(r, 200, json_pack("{s:s, s:o}", "status", "ok",
	    "enterprise", cm_params_settings_json(&s)));
}

/* ---- services, events, mail ---------------------------------------------- */

static json_t *
service_json(struct daemon_ctx *d, const char *name)
{
	struct cm_service svc;
	struct cm_err err;
	cm_time next;

	if (cm_store_service_get(d->st, name, &svc, &err) != CM_OK)
		return NULL;
	next = strcmp(name, CM_SERVICE_EXPIRY) == 0 ? d->next_expiry :
	    d->next_revocation;
	return json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:f, s:o}", "id", name,
	    "name", cm_service_display_name(name), "state", svc.running ?
	    "Running" : "Stopped", "started_at", cm_json_time(svc.started_at),
	    "last_run", cm_json_time(svc.last_run), "next_run",
	    cm_json_time(svc.running ? next : 0), "last_duration_seconds",
	    (double)svc.last_duration_ms / 1000.0, "last_result",
	    svc.last_result[0] ? cm_json_str(svc.last_result) : json_null());
}

/* POST /services/revocation-check/run: one run now (whatever Enable
 * Revocation Check says, like `certmon revocation run`). */
static enum MHD_Result
run_revocation_now(struct request *r)
{
	struct cm_revocation_report rep;
	struct cm_err err = {CM_OK, ""};
	json_t *doc;

	if (cm_revocation_run(r->d->st, daemon_now(r->d), actor(r), &rep, &err)
	    != CM_OK)
		return reply_err(r, &err);
	r->d->reschedule = 1;
	r->d->count.revocation_runs++;
	counters_add_ocsp(r->d, &rep);
	doc = cm_revocation_report_json(&rep);
	json_object_set_new(doc, "status", json_string("ok"));
	cm_revocation_report_free(&rep);
	return reply_json(r, 200, doc);
}

static enum MHD_Result
services(struct request *r, const char *name, const char *action)
{
	static const char *const names[] = {CM_SERVICE_EXPIRY,
	    CM_SERVICE_REVOCATION};
	struct cm_monitor_report rep;
	struct cm_err err = {CM_OK, ""};
	const char *key = NULL;
	enum cm_service_action act;
	json_t *arr;

	if (name != NULL && (key = cm_service_resolve(name)) == NULL)
		return reply_error(r, 404, "unknown service '%.60s'", name);
	if (action == NULL) {
		if (strcmp(r->method, "GET") != 0)
			return reply_method(r, "GET");
		if (key != NULL)
			return reply_json(r, 200, json_pack("{s:s, s:o}", "status", "ok",
			    "service", service_json(r->d, key)));
		arr = json_array();
		for (size_t i = 0; i < 2; i++)
			json_array_append_new(arr, service_json(r->d, names[i]));
		return reply_json(r, 200, json_pack("{s:s, s:o}", "status", "ok",
		    "services", arr));
	}
	if (strcmp(r->method, "POST") != 0)
		return reply_method(r, "POST");
	if (strcmp(action, "run") == 0 &&
	    strcmp(key, CM_SERVICE_REVOCATION) == 0)
		return run_revocation_now(r);
	if (strcmp(action, "run") == 0) {
		if (cm_monitor_run(r->d->st, daemon_now(r->d), 0, actor(r), &rep,
		    &err) != CM_OK)
			return reply_err(r, &err);
		r->d->reschedule = 1;
		r->d->count.expiry_runs++;
		arr = json_array();
		for (size_t i = 0; i < rep.n; i++)
			json_array_append_new(arr, json_pack("{s:s, s:o, s:s, s:s}",
			    "fingerprint", rep.v[i].fingerprint, "cn",
			    cm_json_str(rep.v[i].subject_cn), "unit", rep.v[i].unit,
			    "state", cm_expiry_state_name(rep.v[i].state)));
		cm_monitor_report_free(&rep);
		return reply_json(r, 200, json_pack("{s:s, s:o, s:s, s:o, s:i}",
		    "status", "ok", "notified", arr, "mail",
		    cm_monitor_mail_name(rep.mail), "next_run",
		    cm_json_time(rep.next_run), "alarms", rep.alarms));
	}
	if (strcmp(action, "start") == 0)
		act = CM_SERVICE_START;
	else if (strcmp(action, "stop") == 0)
		act = CM_SERVICE_STOP;
	else if (strcmp(action, "restart") == 0)
		act = CM_SERVICE_RESTART;
	else
		return reply_error(r, 404, "unknown action '%.40s' (start, stop, "
		    "restart, run)", action);
	if (cm_service_control(r->d->st, key, act, actor(r), daemon_now(r->d),
	    &err) != CM_OK)
		return reply_err(r, &err);
	scheduler_plan(r->d, daemon_now(r->d));   /* answer the new next run */
	return reply_json(r, 200, json_pack("{s:s, s:o}", "status", "ok",
	    "service", service_json(r->d, key)));
}

static enum MHD_Result
events(struct request *r)
{
	struct cm_event_filter f;
	struct cm_err err = {CM_OK, ""};
	json_t *arr;
	int64_t last = 0;

	memset(&f, 0, sizeof(f));
	f.kind = req_query(r, "kind");
	f.name = req_query(r, "name");
	f.fingerprint = req_query(r, "fingerprint");
	if (query_int(r, "limit", 50, 1, PAGE_MAX, &f.limit) != 0 ||
	    query_int(r, "before", 0, 0, INT64_MAX, &f.before_id) != 0)
		return reply_error(r, 400, "limit must be 1-%d, before an event id",
		    PAGE_MAX);
	arr = json_array();
	if (cm_store_event_list(r->d->st, &f, collect_event, arr, &err) != CM_OK) {
		json_decref(arr);
		return reply_err(r, &err);
	}
	if (json_array_size(arr) == (size_t)f.limit)
		last = json_integer_value(json_object_get(json_array_get(arr,
		    json_array_size(arr) - 1), "id"));
	return reply_json(r, 200, json_pack("{s:s, s:o, s:o}", "status", "ok",
	    "events", arr, "next_before", last ? json_integer(last) :
	    json_null()));
}

static int
collect_message(const struct cm_outbox_msg *m, void *arg)
{
	json_array_append_new(arg, json_pack("{s:I, s:s, s:s, s:o, s:s, s:s, "
	    "s:i, s:o, s:o, s:o}", "id", (json_int_t)m->id, "message_id",
	    m->message_id, "state", m->state, "created_at",
	    cm_json_time(m->created_at), "recipients", m->recipients, "subject",
	    m->subject, "attempts", m->attempts, "next_attempt_at",
	    cm_json_time(m->next_attempt_at), "last_error",
	    cm_json_str(m->last_error), "sent_at", cm_json_time(m->sent_at)));
	return 0;
}

static enum MHD_Result
mail_queue(struct request *r)
{
	struct cm_err err = {CM_OK, ""};
	const char *all = req_query(r, "all");
	json_t *arr = json_array();

	if (cm_store_outbox_list(r->d->st, 0, all != NULL && strcmp(all, "1") ==
	    0, collect_message, arr, &err) != CM_OK) {
		json_decref(arr);
		return reply_err(r, &err);
	}
	return reply_json(r, 200, json_pack("{s:s, s:o}", "status", "ok",
	    "messages", arr));
}

/* ---- long-lived connections ---------------------------------------------- */

static int
collect_endpoint(const struct cm_endpoint *ep, void *arg)
{
	json_t **a = arg;

	json_array_append_new(a[0], cm_endpoint_json(ep,
	    (int64_t)json_integer_value(a[1]), NULL));
	return 0;
}

static enum MHD_Result
endpoint_add(struct request *r)
{
	struct cm_err err = {CM_OK, ""};
	struct cm_endpoint ep;
	enum MHD_Result ret;
	const char *name, *address, *starttls, *unit;
	json_t *body, *v;
	int64_t interval = 0;

	if ((body = body_json(r, &ret)) == NULL)
		return ret;
	memset(&ep, 0, sizeof(ep));
	name = json_string_value(json_object_get(body, "name"));
	address = json_string_value(json_object_get(body, "address"));
	v = json_object_get(body, "starttls");
	starttls = json_string_value(v);
	unit = json_string_value(json_object_get(body, "trust_unit"));
	if (name == NULL || address == NULL)
		ret = reply_error(r, 400, "\"name\" and \"address\" (HOST:PORT) are "
		    "needed");
	else if (strlen(name) > CM_UNIT_NAME_MAX)
		ret = reply_error(r, 400, "endpoint name '%.80s' is invalid: use "
		    "1-%d of A-Z a-z 0-9 . _ -", name, CM_UNIT_NAME_MAX);
	else if (cm_conn_parse_target(address, ep.host, &ep.port) != 0)
		ret = reply_error(r, 400, "\"address\" '%.200s' is not HOST:PORT (a "
		    "port 1-65535; [ADDRESS]:PORT for IPv6)", address);
	else if ((v != NULL && !json_is_null(v) && starttls == NULL) ||
	    (starttls != NULL && (starttls[0] == '\0' ||
	    !cm_conn_starttls_valid(starttls))))
		ret = reply_error(r, 400, "\"starttls\" must be smtp, ldap or null");
	else if (unit != NULL && strlen(unit) > CM_UNIT_NAME_MAX)
		ret = reply_error(r, 404, "no unit named '%.80s'", unit);
	else {
		snprintf(ep.name, sizeof(ep.name), "%s", name);
		snprintf(ep.starttls, sizeof(ep.starttls), "%s", starttls ?
		    starttls : "");
		snprintf(ep.trust_unit, sizeof(ep.trust_unit), "%s", unit ? unit :
		    "");
		if (cm_store_endpoint_add(r->d->st, &ep, actor(r), daemon_now(r->d),
		    &err) != CM_OK ||
		    cm_store_endpoint_get(r->d->st, ep.name, &ep, NULL, &err) !=
		    CM_OK || cm_endpoint_interval(r->d->st, &interval, &err) !=
		    CM_OK)
			ret = reply_err(r, &err);
		else {
			r->d->reschedule = 1;
			ret = reply_json(r, 201, json_pack("{s:s, s:o}", "status", "ok",
			    "endpoint", cm_endpoint_json(&ep, interval, NULL)));
		}
	}
	json_decref(body);
	return ret;
}

/* POST /endpoints/{name}/check: re-check now (whatever Certificate
 * Validity Check says, like `certmon endpoint check`). */
static enum MHD_Result
endpoint_check_now(struct request *r, const char *name)
{
	struct cm_endpoint_report rep;
	struct cm_err err = {CM_OK, ""};
	json_t *doc;

	if (scheduler_check_endpoint(r->d, name, actor(r), daemon_now(r->d),
	    &rep, &err) != CM_OK)
		return reply_err(r, &err);
	doc = cm_endpoint_json(&rep.ep, r->d->endpoint_interval, NULL);
	json_object_set_new(doc, "alarm", rep.alarm ? cm_json_str(rep.alarm_name)
	    : json_null());
	json_object_set_new(doc, "recovered", json_boolean(rep.recovered));
	json_object_set_new(doc, "tls_version", rep.tls_version[0] ?
	    cm_json_str(rep.tls_version) : json_null());
	return reply_json(r, 200, json_pack("{s:s, s:o}", "status", "ok",
	    "endpoint", doc));
}

static enum MHD_Result
endpoints(struct request *r, const char *name, const char *action)
{
	struct cm_err err = {CM_OK, ""};
	struct cm_endpoint ep;
	int64_t interval = 0;
	json_t *a[2];
	char *pem = NULL;
	enum MHD_Result ret;

	if (action != NULL) {
		if (strcmp(action, "check") != 0)
			return reply_error(r, 404, "unknown action '%.40s' (check)",
			    action);
		return strcmp(r->method, "POST") == 0 ? endpoint_check_now(r, name) :
		    reply_method(r, "POST");
	}
	if (cm_endpoint_interval(r->d->st, &interval, &err) != CM_OK)
		return reply_err(r, &err);
	if (name == NULL && strcmp(r->method, "GET") == 0) {
		a[0] = json_array();
		a[1] = json_integer(interval);
		if (cm_store_endpoint_list(r->d->st, collect_endpoint, a, &err) !=
		    CM_OK) {
			json_decref(a[0]);
			json_decref(a[1]);
			return reply_err(r, &err);
		}
		return reply_json(r, 200, json_pack("{s:s, s:o, s:o}", "status",
		    "ok", "endpoints", a[0], "interval_seconds", a[1]));
	}
	if (name == NULL && strcmp(r->method, "POST") == 0)
		return endpoint_add(r);
	if (name == NULL)
		return reply_method(r, "GET, POST");
	if (strcmp(r->method, "GET") == 0) {
		if (cm_store_endpoint_get(r->d->st, name, &ep, &pem, &err) != CM_OK)
			return reply_err(r, &err);
		ret = reply_json(r, 200, json_pack("{s:s, s:o}", "status", "ok",
		    "endpoint", cm_endpoint_json(&ep, interval, pem != NULL ? pem :
		    "")));
		free(pem);
		return ret;
	}
	if (strcmp(r->method, "DELETE") == 0) {
		if (cm_store_endpoint_remove(r->d->st, name, actor(r),
		    daemon_now(r->d), &err) != CM_OK)
			return reply_err(r, &err);
		r->d->reschedule = 1;
		return reply_json(r, 200, json_pack("{s:s, s:s}", "status", "ok",
		    "removed", name));
	}
	return reply_method(r, "GET, DELETE");
}

/* ---- routing ------------------------------------------------------------- */

enum MHD_Result
api_handle(struct request *r)
{
	char path[512], *seg[6] = {NULL}, *save = NULL, *p;
	int n = 0;

	if (!req_authenticated(r))
		return reply_error(r, 401, "authentication required: send "
		    "\"Authorization: Bearer TOKEN\" (certmon token add NAME)");
	if (strncmp(r->url, API, strlen(API)) != 0 ||
	    strlen(r->url) >= sizeof(path))
		return reply_error(r, 404, "no such API path: %.200s", r->url);
	snprintf(path, sizeof(path), "%s", r->url + strlen(API));
	for (p = strtok_r(path, "/", &save); p != NULL && n < 6;
	    p = strtok_r(NULL, "/", &save))
		seg[n++] = p;
	if (n == 0)
		return reply_error(r, 404, "no such API path: %.200s", r->url);
	if (strcmp(seg[0], "certs") == 0 && n == 1) {
		if (strcmp(r->method, "GET") == 0)
			return certs_list(r);
		if (strcmp(r->method, "POST") == 0)
			return certs_upload(r);
		return reply_method(r, "GET, POST");
	}
	if (strcmp(seg[0], "certs") == 0 && n == 2) {
		if (strcmp(r->method, "GET") == 0)
			return cert_show(r, seg[1]);
		if (strcmp(r->method, "DELETE") == 0)
			return cert_delete(r, seg[1]);
		return reply_method(r, "GET, DELETE");
	}
	if (strcmp(seg[0], "units") == 0 && n <= 2)
		return units(r, seg[1]);
	if (strcmp(seg[0], "settings") == 0 && n == 2 &&
	    strcmp(seg[1], "monitor") == 0)
		return settings_monitor(r);
	if (strcmp(seg[0], "settings") == 0 && n == 2 &&
	    strcmp(seg[1], "smtp") == 0)
		return settings_smtp(r);
	if (strcmp(seg[0], "settings") == 0 && n == 2 &&
	    strcmp(seg[1], "revocation") == 0)
		return settings_revocation(r);
	if (strcmp(seg[0], "settings") == 0 && n == 2 &&
	    strcmp(seg[1], "enterprise") == 0)
		return settings_enterprise(r);
	if (strcmp(seg[0], "services") == 0 && n <= 3)
		return services(r, seg[1], seg[2]);
	if (strcmp(seg[0], "endpoints") == 0 && n <= 3)
		return endpoints(r, seg[1], seg[2]);
	if (strcmp(seg[0], "events") == 0 && n == 1)
		return strcmp(r->method, "GET") == 0 ? events(r) :
		    reply_method(r, "GET");
	if (strcmp(seg[0], "mail") == 0 && n == 2 && strcmp(seg[1], "queue") == 0)
		return strcmp(r->method, "GET") == 0 ? mail_queue(r) :
		    reply_method(r, "GET");
	return reply_error(r, 404, "no such API path: %.200s", r->url);
}
