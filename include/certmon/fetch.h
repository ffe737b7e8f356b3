/*
 * fetch.h - HTTP for OCSP and CRLs (libcurl; lib/fetch.c is the only file
 * that includes curl.h for HTTP).
 *
 * URLs come from certificates anyone can make, so every fetch is bounded:
 * only http and https, no redirects, no proxy, no content encoding (a
 * Content-Encoding other than identity is refused), the body capped (a
 * Content-Length above the cap is refused before the body; a body that
 * grows past it is aborted at once), one attempt within an overall
 * deadline, and an optional allow-list of hosts. Any non-200 answer is an
 * error. A stop requested through cancel.h aborts running transfers. The
 * library never prints: failures fill a struct cm_err.
 */
#ifndef CERTMON_FETCH_H
#define CERTMON_FETCH_H

#include <stddef.h>

#include "certmon/cert.h"
#include "certmon/err.h"

#define CM_FETCH_OCSP_MAX_BYTES (64 * 1024)
#define CM_FETCH_CRL_MAX_BYTES (16 * 1024 * 1024)
#define CM_FETCH_DEFAULT_TIMEOUT_MS 5000L
#define CM_FETCH_DEFAULT_PER_HOST 4
#define CM_FETCH_DEFAULT_TOTAL 32

/* Options; all-zero means the defaults. */
struct cm_fetch_opts {
	size_t max_bytes;               /* body cap; 0 = 64 KiB (OCSP) */
	long timeout_ms;                /* overall deadline; 0 = 5000 */
	const struct cm_strlist *allow_hosts;   /* NULL or empty = any host;
						 * entries are host names or
						 * "*.domain" (any subdomain),
						 * case-insensitive */
	const char *ca_file;            /* https trust anchors (PEM); NULL =
					 * the system's */
};

/* A successful answer (HTTP 200). */
struct cm_fetch_resp {
	long http_status;
	unsigned char *body;            /* malloc'ed; NULL when empty */
	size_t len;
	char content_type[128];         /* "" when absent */
};

/* Returns CM_OK when url may be fetched under opts: an absolute http or
 * https URL with a host on the allow-list (when there is one); else
 * CM_ERR_INVALID (malformed, other scheme) or CM_ERR_CONFLICT (host not
 * allowed) with a one-line reason naming the URL. */
enum cm_status cm_fetch_check_url(const char *url,
    const struct cm_fetch_opts *opts, struct cm_err *err);

/* POSTs body (content_type, e.g. "application/ocsp-request") to url. On
 * CM_OK *out holds the answer (release it with cm_fetch_resp_clear);
 * otherwise *out is empty and err says what failed: CM_ERR_INVALID /
 * CM_ERR_CONFLICT (URL refused), CM_ERR_TOOBIG (body above the cap),
 * CM_ERR_IO (network, timeout, non-200 status, content encoding).
 * Thread-safe. */
enum cm_status cm_fetch_post(const char *url, const char *content_type,
    const unsigned char *body, size_t len, const struct cm_fetch_opts *opts,
    struct cm_fetch_resp *out, struct cm_err *err);

/* GETs url, like cm_fetch_post. */
enum cm_status cm_fetch_get(const char *url, const struct cm_fetch_opts *opts,
    struct cm_fetch_resp *out, struct cm_err *err);

/* Frees the body of r and zeroes it; NULL is fine. */
void cm_fetch_resp_clear(struct cm_fetch_resp *r);

/* One transfer of a bulk fetch. The caller fills the inputs; cm_fetch_many
 * fills the outputs. */
struct cm_fetch_job {
	/* in */
	const char *url;
	const char *content_type;       /* POST when body != NULL, else GET */
	const unsigned char *body;
	size_t body_len;
	void *user;                     /* the caller's, untouched */
	/* out */
	enum cm_status status;
	struct cm_err err;
	struct cm_fetch_resp resp;      /* release with cm_fetch_resp_clear */
};

/* Called as each job finishes (in the calling thread). */
typedef void (*cm_fetch_done_fn)(struct cm_fetch_job *job, void *arg);

struct cm_fetch_many_opts {
	struct cm_fetch_opts fetch;     /* per transfer; its deadline starts
					 * when the transfer starts */
	int max_per_host;               /* concurrent transfers per host:port;
					 * 0 = CM_FETCH_DEFAULT_PER_HOST */
	int max_total;                  /* 0 = CM_FETCH_DEFAULT_TOTAL */
	cm_fetch_done_fn done;          /* NULL = none */
	void *done_arg;
};

/* Runs jobs[0..n) concurrently (curl multi), at most max_per_host at a
 * time per host:port and max_total in all, each under the rules of
 * cm_fetch_post. Returns CM_OK once every job has its own outcome in
 * job->status/err/resp; an error only when the batch could not run at all
 * (then no job ran). Thread-safe (one batch per call). */
enum cm_status cm_fetch_many(struct cm_fetch_job *jobs, size_t n,
    const struct cm_fetch_many_opts *opts, struct cm_err *err);

#endif
