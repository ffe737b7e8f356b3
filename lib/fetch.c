/*
 * fetch.c - bounded HTTP for OCSP and CRLs through libcurl (the only file
 * that includes curl.h for HTTP; lib/mail.c uses curl for SMTP).
 *
 * Each transfer: http or https only (checked on the parsed URL that curl
 * then uses, so the host checked is the host contacted), no redirects, no
 * proxy (not even from the environment), no content encoding, a capped
 * body, one attempt under an overall deadline, no signals.
 */
#include <ctype.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "certmon/cancel.h"
#include "certmon/fetch.h"

#define URL_SHOWN 200           /* characters of a URL in a message */

/* snprintf that truncates on purpose (reasons and names are bounded). */
static void textf(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
textf(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void
curl_init_once(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static enum cm_status
curl_ready(struct cm_err *err)
{
	pthread_once(&curl_once, curl_init_once);
	if (curl_init_rc != CURLE_OK)
		return cm_err_set(err, CM_ERR_INTERNAL, "fetch: libcurl does not "
		    "initialise (%s)", curl_easy_strerror(curl_init_rc));
	return CM_OK;
}

/* One transfer. */
struct xfer {
	CURL *h;
	CURLU *u;
	struct curl_slist *hdrs;
	const char *url;
	size_t cap;
	long timeout_ms;
	unsigned char *buf;
	size_t len, alloc;
	long long content_length;       /* -1 = not announced */
	int too_big;
	int cancelled;
	char bad_encoding[64];          /* refused encoding, "" = none */
	char content_type[128];
	char errbuf[CURL_ERROR_SIZE];
	size_t host;                    /* index into the host table */
	size_t next;                    /* many: the next pending job of its
					 * host, or NONE */
	int state;                      /* many: 0 pending, 1 running, 2 done */
};

#define NONE ((size_t)-1)

static void
xfer_free(struct xfer *x)
{
	if (x == NULL)
		return;
	curl_easy_cleanup(x->h);
	curl_url_cleanup(x->u);
	curl_slist_free_all(x->hdrs);
	free(x->buf);
	x->h = NULL;
	x->u = NULL;
	x->hdrs = NULL;
	x->buf = NULL;
}

static void
resolve_opts(const struct cm_fetch_opts *in, struct cm_fetch_opts *o)
{
	static const struct cm_fetch_opts defaults;

	*o = in != NULL ? *in : defaults;
	if (o->max_bytes == 0)
		o->max_bytes = CM_FETCH_OCSP_MAX_BYTES;
	if (o->timeout_ms <= 0)
		o->timeout_ms = CM_FETCH_DEFAULT_TIMEOUT_MS;
}

/* ---- URLs -------------------------------------------------------------- */

static int
host_allowed(const char *host, const struct cm_strlist *allow)
{
	size_t i, hl = strlen(host), el;

	if (allow == NULL || allow->n == 0)
		return 1;
	for (i = 0; i < allow->n; i++) {
		const char *e = allow->v[i];

		if (e == NULL)
			continue;
		if (strcasecmp(e, host) == 0)
			return 1;
		/* "*.example.com": any name under example.com */
		if (e[0] == '*' && e[1] == '.' && (el = strlen(e + 1)) < hl &&
		    strcasecmp(host + hl - el, e + 1) == 0)
			return 1;
	}
	return 0;
}

/* Parses and checks url; on CM_OK *out is the parsed URL (caller frees)
 * and key (when not NULL, keylen bytes) is "scheme://host:port". */
static enum cm_status
parse_url(const char *url, const struct cm_fetch_opts *o, CURLU **out,
    char *key, size_t keylen, struct cm_err *err)
{
	CURLU *u = NULL;
	char *scheme = NULL, *host = NULL, *port = NULL;
	enum cm_status st = CM_OK;
	CURLUcode rc;

	*out = NULL;
	if (url == NULL || url[0] == '\0') {
		st = cm_err_set(err, CM_ERR_INVALID, "fetch: no URL");
		goto out;
	}
	if ((st = curl_ready(err)) != CM_OK)
		goto out;
	if ((u = curl_url()) == NULL) {
		st = cm_err_set(err, CM_ERR_NOMEM, "fetch: out of memory");
		goto out;
	}
	/* No default scheme, no guessing: an absolute URL or nothing. */
	if ((rc = curl_url_set(u, CURLUPART_URL, url, 0)) != CURLUE_OK) {
		st = cm_err_set(err, CM_ERR_INVALID, "fetch %.*s: not a usable "
		    "URL (%s)", URL_SHOWN, url, curl_url_strerror(rc));
		goto out;
	}
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
		st = cm_err_set(err, CM_ERR_INVALID, "fetch %.*s: only http and "
		    "https URLs are fetched, not %s", URL_SHOWN, url,
		    scheme != NULL ? scheme : "this");
		goto out;
	}
	if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    host[0] == '\0') {
		st = cm_err_set(err, CM_ERR_INVALID, "fetch %.*s: the URL has no "
		    "host", URL_SHOWN, url);
		goto out;
	}
	if (!host_allowed(host, o->allow_hosts)) {
		st = cm_err_set(err, CM_ERR_CONFLICT, "fetch %.*s: host %.*s is "
		    "not on the allow-list", URL_SHOWN, url, URL_SHOWN, host);
		goto out;
	}
	if (key != NULL) {
		if (curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) !=
		    CURLUE_OK)
			port = NULL;
		textf(key, keylen, "%s://%s:%s", scheme, host,
		    port != NULL ? port : "");
	}
	*out = u;
	u = NULL;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return st;
}

enum cm_status
cm_fetch_check_url(const char *url, const struct cm_fetch_opts *opts,
    struct cm_err *err)
{
	struct cm_fetch_opts o;
	CURLU *u = NULL;
	enum cm_status st;

	resolve_opts(opts, &o);
	st = parse_url(url, &o, &u, NULL, 0, err);
	curl_url_cleanup(u);
	return st;
}

/* ---- callbacks ------------------------------------------------------- */

static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb, na;
	unsigned char *nb;

	if (n > x->cap - x->len) {
		x->too_big = 1;
		return 0;               /* aborts the transfer at once */
	}
	if (x->len + n > x->alloc) {
		na = x->alloc ? x->alloc : 4096;
		while (na < x->len + n)
			na *= 2;
		if (na > x->cap)
			na = x->cap;
		if ((nb = realloc(x->buf, na)) == NULL)
			return 0;
		x->buf = nb;
		x->alloc = na;
	}
	memcpy(x->buf + x->len, data, n);
	x->len += n;
	return n;
}

/* If line is "Name: value", returns the trimmed value (in buf). */
static const char *
header_value(const char *line, size_t len, const char *name, char *buf,
    size_t cap)
{
	size_t nl = strlen(name), i, j;

	if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return NULL;
	for (i = nl + 1; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
		;
	for (j = len; j > i && isspace((unsigned char)line[j - 1]); j--)
		;
	textf(buf, cap, "%.*s", (int)(j - i), line + i);
	return buf;
}

static size_t
on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb;
	char v[128];
	char *end;
	unsigned long long cl;

	if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {     /* a new answer */
		x->content_length = -1;
		x->content_type[0] = '\0';
		return n;
	}
	if (header_value(data, n, "Content-Length", v, sizeof(v)) != NULL) {
		cl = strtoull(v, &end, 10);
		if (end != v && *end == '\0') {
			x->content_length = cl > LLONG_MAX ? LLONG_MAX : (long long)cl;
			if (cl > x->cap) {
				x->too_big = 1;
				return 0;       /* refused before the body */
			}
		}
	} else if (header_value(data, n, "Content-Encoding", v,
	    sizeof(v)) != NULL) {
		if (v[0] != '\0' && strcasecmp(v, "identity") != 0) {
			textf(x->bad_encoding, sizeof(x->bad_encoding),
			    "Content-Encoding %s", v);
			return 0;
		}
	} else if (header_value(data, n, "Transfer-Encoding", v,
	    sizeof(v)) != NULL) {
		if (strcasecmp(v, "chunked") != 0 &&
		    strcasecmp(v, "identity") != 0) {
			textf(x->bad_encoding, sizeof(x->bad_encoding),
			    "Transfer-Encoding %s", v);
			return 0;
		}
	} else if (header_value(data, n, "Content-Type", v, sizeof(v)) !=
	    NULL) {
		textf(x->content_type, sizeof(x->content_type), "%s", v);
	}
	return n;
}

/* Aborts the transfer once the program asked to stop (cancel.h). */
static int
on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut,
    curl_off_t un)
{
	struct xfer *x = arg;

	(void)dt;
	(void)dn;
	(void)ut;
	(void)un;
	if (cm_cancel_requested())
		x->cancelled = 1;
	return x->cancelled;
}

/* ---- one transfer ---------------------------------------------------- */

/* Starts x for url: checks it and parses it (its host:port in key). */
static enum cm_status
xfer_url(struct xfer *x, const char *url, const struct cm_fetch_opts *o,
    char *key, size_t keylen, struct cm_err *err)
{
	memset(x, 0, sizeof(*x));
	x->url = url;
	x->cap = o->max_bytes;
	x->timeout_ms = o->timeout_ms;
	x->content_length = -1;
	return parse_url(url, o, &x->u, key, keylen, err);
}

/* Gives x (its URL parsed) an easy handle: POST when body != NULL. */
static enum cm_status
xfer_handle(struct xfer *x, const char *content_type,
    const unsigned char *body, size_t len, const struct cm_fetch_opts *o,
    struct cm_err *err)
{
	const char *url = x->url;
	char ct[160];
	enum cm_status st = CM_OK;
	int ok = 1;

	if ((x->h = curl_easy_init()) == NULL ||
	    (x->hdrs = curl_slist_append(NULL, "Expect:")) == NULL) {
		st = cm_err_set(err, CM_ERR_NOMEM, "fetch: out of memory");
		goto out;
	}
	ok &= curl_easy_setopt(x->h, CURLOPT_CURLU, x->u) == CURLE_OK;
	ok &= curl_easy_setopt(x->h, CURLOPT_PROTOCOLS_STR, "http,https") ==
	    CURLE_OK;
	ok &= curl_easy_setopt(x->h, CURLOPT_REDIR_PROTOCOLS_STR,
	    "http,https") == CURLE_OK;
	ok &= curl_easy_setopt(x->h, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK;
	ok &= curl_easy_setopt(x->h, CURLOPT_MAXREDIRS, 0L) == CURLE_OK;
	ok &= curl_easy_setopt(x->h, CURLOPT_PROXY, "") == CURLE_OK;
	ok &= curl_easy_setopt(x->h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK;
	ok &= curl_easy_setopt(x->h, CURLOPT_TIMEOUT_MS, o->timeout_ms) ==
	    CURLE_OK;
	ok &= curl_easy_setopt(x->h, CURLOPT_CONNECTTIMEOUT_MS, o->timeout_ms)
	    == CURLE_OK;
	ok &= curl_easy_setopt(x->h, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)o->max_bytes) == CURLE_OK;
	ok &= curl_easy_setopt(x->h, CURLOPT_HTTP_CONTENT_DECODING, 0L) ==
	    CURLE_OK;
	ok &= curl_easy_setopt(x->h, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK;
	ok &= curl_easy_setopt(x->h, CURLOPT_WRITEDATA, x) == CURLE_OK;
	ok &= curl_easy_setopt(x->h, CURLOPT_HEADERFUNCTION, on_header) ==
	    CURLE_OK;
	ok &= curl_easy_setopt(x->h, CURLOPT_HEADERDATA, x) == CURLE_OK;
	ok &= curl_easy_setopt(x->h, CURLOPT_ERRORBUFFER, x->errbuf) == CURLE_OK;
	ok &= curl_easy_setopt(x->h, CURLOPT_USERAGENT, "certmon") == CURLE_OK;
	ok &= curl_easy_setopt(x->h, CURLOPT_PRIVATE, x) == CURLE_OK;
	ok &= curl_easy_setopt(x->h, CURLOPT_NOPROGRESS, 0L) == CURLE_OK;
	ok &= curl_easy_setopt(x->h, CURLOPT_XFERINFOFUNCTION, on_progress) ==
	    CURLE_OK;
	ok &= curl_easy_setopt(x->h, CURLOPT_XFERINFODATA, x) == CURLE_OK;
	if (o->ca_file != NULL)
		ok &= curl_easy_setopt(x->h, CURLOPT_CAINFO, o->ca_file) ==
		    CURLE_OK;
	if (body != NULL) {
		struct curl_slist *nh;

		textf(ct, sizeof(ct), "Content-Type: %s", content_type != NULL ?
		    content_type : "application/octet-stream");
		if ((nh = curl_slist_append(x->hdrs, ct)) == NULL) {
			st = cm_err_set(err, CM_ERR_NOMEM, "fetch: out of memory");
			goto out;
		}
		x->hdrs = nh;
		ok &= curl_easy_setopt(x->h, CURLOPT_POSTFIELDS, body) == CURLE_OK;
		ok &= curl_easy_setopt(x->h, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)len) == CURLE_OK;
	} else {
		ok &= curl_easy_setopt(x->h, CURLOPT_HTTPGET, 1L) == CURLE_OK;
	}
	ok &= curl_easy_setopt(x->h, CURLOPT_HTTPHEADER, x->hdrs) == CURLE_OK;
	if (!ok)
		st = cm_err_set(err, CM_ERR_INTERNAL, "fetch %.*s: libcurl refuses "
		    "an option", URL_SHOWN, url);
out:
	if (st != CM_OK)
		xfer_free(x);
	return st;
}

/* Prepares x for url (POST when body != NULL). */
static enum cm_status
xfer_setup(struct xfer *x, const char *url, const char *content_type,
    const unsigned char *body, size_t len, const struct cm_fetch_opts *o,
    struct cm_err *err)
{
	enum cm_status st;

	if ((st = xfer_url(x, url, o, NULL, 0, err)) != CM_OK) {
		xfer_free(x);
		return st;
	}
	return xfer_handle(x, content_type, body, len, o, err);
}

/* Turns a finished transfer into *out or an error; frees x. */
static enum cm_status
xfer_finish(struct xfer *x, CURLcode rc, struct cm_fetch_resp *out,
    struct cm_err *err)
{
	enum cm_status st = CM_OK;
	long code = 0;

	memset(out, 0, sizeof(*out));
	if (x->too_big || rc == CURLE_FILESIZE_EXCEEDED) {
		if (x->content_length >= 0)
			st = cm_err_set(err, CM_ERR_TOOBIG, "%.*s: the body of %lld "
			    "bytes is above the %zu-byte cap", URL_SHOWN, x->url,
			    x->content_length, x->cap);
		else
			st = cm_err_set(err, CM_ERR_TOOBIG, "%.*s: the body is above "
			    "the %zu-byte cap", URL_SHOWN, x->url, x->cap);
		goto out;
	}
	if (x->cancelled) {
		st = cm_err_set(err, CM_ERR_IO, "%.*s: cancelled (the program is "
		    "stopping)", URL_SHOWN, x->url);
		goto out;
	}
	if (x->bad_encoding[0] != '\0') {
		st = cm_err_set(err, CM_ERR_IO, "%.*s: refused %s (no content "
		    "encoding is accepted)", URL_SHOWN, x->url, x->bad_encoding);
		goto out;
	}
	if (rc == CURLE_OPERATION_TIMEDOUT) {
		st = cm_err_set(err, CM_ERR_IO, "%.*s: no complete answer within "
		    "%ld ms (timeout)", URL_SHOWN, x->url, x->timeout_ms);
		goto out;
	}
	if (rc != CURLE_OK) {
		st = cm_err_set(err, CM_ERR_IO, "%.*s: %s", URL_SHOWN, x->url,
		    x->errbuf[0] != '\0' ? x->errbuf : curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &code);
	if (code != 200) {
		st = cm_err_set(err, CM_ERR_IO, "%.*s: HTTP status %ld", URL_SHOWN,
		    x->url, code);
		goto out;
	}
	out->http_status = code;
	out->body = x->buf;
	out->len = x->len;
	textf(out->content_type, sizeof(out->content_type), "%s",
	    x->content_type);
	x->buf = NULL;
out:
	xfer_free(x);
	return st;
}

static enum cm_status
fetch_one(const char *url, const char *content_type,
    const unsigned char *body, size_t len, const struct cm_fetch_opts *opts,
    struct cm_fetch_resp *out, struct cm_err *err)
{
	struct cm_fetch_opts o;
	struct xfer x;
	enum cm_status st;

	memset(out, 0, sizeof(*out));
	resolve_opts(opts, &o);
	if ((st = xfer_setup(&x, url, content_type, body, len, &o, err)) != CM_OK)
		return st;
	return xfer_finish(&x, curl_easy_perform(x.h), out, err);
}

enum cm_status
cm_fetch_post(const char *url, const char *content_type,
    const unsigned char *body, size_t len, const struct cm_fetch_opts *opts,
    struct cm_fetch_resp *out, struct cm_err *err)
{
	static const unsigned char empty[1];

	return fetch_one(url, content_type, body != NULL ? body : empty, len,
	    opts, out, err);
}

enum cm_status
cm_fetch_get(const char *url, const struct cm_fetch_opts *opts,
    struct cm_fetch_resp *out, struct cm_err *err)
{
	return fetch_one(url, NULL, NULL, 0, opts, out, err);
}

void
cm_fetch_resp_clear(struct cm_fetch_resp *r)
{
	if (r == NULL)
		return;
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* ---- many transfers (curl multi) ------------------------------------------ */

struct host {
	char key[300];
	int active;
	size_t head, tail;              /* its pending jobs, or NONE */
};

struct batch {
	struct cm_fetch_job *jobs;
	struct xfer *x;
	size_t n;
	struct host *hosts;
	size_t nhosts;
	const struct cm_fetch_many_opts *mo;
	struct cm_fetch_opts o;
	CURLM *m;
	int running;
	size_t pending;
};

static void
job_done(struct batch *b, size_t i)
{
	b->x[i].state = 2;
	if (b->mo->done != NULL)
		b->mo->done(&b->jobs[i], b->mo->done_arg);
}

/* Checks every job's URL and queues it by host (a job whose URL is
 * refused is done at once). The easy handles come as the jobs start. */
static enum cm_status
batch_prepare(struct batch *b, struct cm_err *err)
{
	char key[sizeof(b->hosts[0].key)];
	size_t i, h;

	for (i = 0; i < b->n; i++) {
		struct cm_fetch_job *j = &b->jobs[i];
		struct host *hp;
		enum cm_status st;

		j->status = CM_OK;
		cm_err_clear(&j->err);
		memset(&j->resp, 0, sizeof(j->resp));
		st = xfer_url(&b->x[i], j->url, &b->o, key, sizeof(key), &j->err);
		if (st == CM_ERR_NOMEM || st == CM_ERR_INTERNAL) {
			cm_err_set(err, st, "%s", j->err.msg);
			return st;
		}
		if (st != CM_OK) {
			j->status = st;
			job_done(b, i);
			continue;
		}
		for (h = 0; h < b->nhosts; h++)
			if (strcmp(b->hosts[h].key, key) == 0)
				break;
		hp = &b->hosts[h];
		if (h == b->nhosts) {
			textf(hp->key, sizeof(hp->key), "%s", key);
			hp->head = hp->tail = NONE;
			b->nhosts++;
		}
		b->x[i].host = h;
		b->x[i].next = NONE;
		if (hp->tail == NONE)
			hp->head = i;
		else
			b->x[hp->tail].next = i;
		hp->tail = i;
		b->pending++;
	}
	return CM_OK;
}

/* Starts pending jobs within the limits, host by host. */
static enum cm_status
batch_start(struct batch *b, struct cm_err *err)
{
	int per_host = b->mo->max_per_host > 0 ? b->mo->max_per_host :
	    CM_FETCH_DEFAULT_PER_HOST;
	int total = b->mo->max_total > 0 ? b->mo->max_total :
	    CM_FETCH_DEFAULT_TOTAL;
	enum cm_status st;

	for (size_t h = 0; h < b->nhosts && b->running < total; h++) {
		struct host *hp = &b->hosts[h];

		while (hp->head != NONE && hp->active < per_host &&
		    b->running < total) {
			size_t i = hp->head;
			struct cm_fetch_job *j = &b->jobs[i];
			struct xfer *x = &b->x[i];

			hp->head = x->next;
			if (hp->head == NONE)
				hp->tail = NONE;
			b->pending--;
			st = xfer_handle(x, j->content_type, j->body, j->body_len,
			    &b->o, &j->err);
			if (st == CM_ERR_NOMEM || st == CM_ERR_INTERNAL)
				return cm_err_set(err, st, "%s", j->err.msg);
			if (st != CM_OK) {
				j->status = st;
				job_done(b, i);
				continue;
			}
			if (curl_multi_add_handle(b->m, x->h) != CURLM_OK)
				return cm_err_set(err, CM_ERR_INTERNAL, "fetch: "
				    "libcurl refuses a transfer");
			x->state = 1;
			hp->active++;
			b->running++;
		}
	}
	return CM_OK;
}

static void
batch_reap(struct batch *b)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(b->m, &left)) != NULL) {
		struct xfer *x = NULL;
		size_t i;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		if (x == NULL)
			continue;
		i = (size_t)(x - b->x);
		curl_multi_remove_handle(b->m, x->h);
		b->hosts[x->host].active--;
		b->running--;
		b->jobs[i].status = xfer_finish(x, msg->data.result,
		    &b->jobs[i].resp, &b->jobs[i].err);
		job_done(b, i);
	}
}

enum cm_status
cm_fetch_many(struct cm_fetch_job *jobs, size_t n,
    const struct cm_fetch_many_opts *opts, struct cm_err *err)
{
	static const struct cm_fetch_many_opts defaults;
	struct batch b;
	enum cm_status st = CM_OK;
	size_t i;
	int still;

	memset(&b, 0, sizeof(b));
	b.jobs = jobs;
	b.n = n;
	b.mo = opts != NULL ? opts : &defaults;
	resolve_opts(&b.mo->fetch, &b.o);
	if (n == 0)
		goto out;
	if ((st = curl_ready(err)) != CM_OK)
		goto out;
	if ((b.x = calloc(n, sizeof(*b.x))) == NULL ||
	    (b.hosts = calloc(n, sizeof(*b.hosts))) == NULL ||
	    (b.m = curl_multi_init()) == NULL) {
		st = cm_err_set(err, CM_ERR_NOMEM, "fetch: out of memory");
		goto out;
	}
	if ((st = batch_prepare(&b, err)) != CM_OK)
		goto out;
	for (;;) {
		if ((st = batch_start(&b, err)) != CM_OK)
			goto out;
		if (b.running == 0 && b.pending == 0)
			break;
		if (curl_multi_perform(b.m, &still) != CURLM_OK) {
			st = cm_err_set(err, CM_ERR_INTERNAL, "fetch: libcurl multi "
			    "fails");
			goto out;
		}
		batch_reap(&b);
		if (b.running > 0 &&
		    curl_multi_poll(b.m, NULL, 0, 100, NULL) != CURLM_OK) {
			st = cm_err_set(err, CM_ERR_INTERNAL, "fetch: libcurl multi "
			    "poll fails");
			goto out;
		}
	}
out:
	for (i = 0; b.x != NULL && i < n; i++) {
		if (b.x[i].h != NULL && b.m != NULL && b.x[i].state == 1)
			curl_multi_remove_handle(b.m, b.x[i].h);
		if (st != CM_OK && b.x[i].state != 2) {
			jobs[i].status = st;
			cm_err_set(&jobs[i].err, st, "%s", err != NULL ? err->msg :
			    "fetch: the batch failed");
		}
		xfer_free(&b.x[i]);
	}
	curl_multi_cleanup(b.m);
	free(b.x);
	free(b.hosts);
	return st;
}
