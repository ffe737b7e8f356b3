/*
 * http.h - one HTTP request as the handlers see it, and the responses
 * they give. Bodies are bounded (HTTP_BODY_MAX); every response carries
 * the security headers.
 */
#ifndef CERTMOND_HTTP_H
#define CERTMOND_HTTP_H

#include <stddef.h>

#include <jansson.h>
#include <microhttpd.h>

#include "certmond.h"

#define HTTP_BODY_MAX (2 * 1024 * 1024)

struct request {
	struct daemon_ctx *d;
	struct MHD_Connection *conn;
	const char *method;
	const char *url;
	char *body;              /* NUL-terminated copy of the upload */
	size_t len;
	size_t cap;
	int too_big;             /* the body passed HTTP_BODY_MAX */
	char who[96];            /* "token:NAME" once authenticated */
	const char *allow;       /* the Allow header of a 405 answer */
};

/* Sends doc (taking it) as JSON with status; adds "status":"ok" for 2xx
 * objects without one. */
enum MHD_Result reply_json(struct request *r, unsigned status, json_t *doc);

/* Sends {"status":"error","error":...} with status. */
enum MHD_Result reply_error(struct request *r, unsigned status,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Sends body (taking it, malloc'd) with the given content type. */
enum MHD_Result reply_text(struct request *r, unsigned status,
    const char *content_type, char *body, size_t len);

/* Adds the headers every response carries (security headers, CSP, and
 * HSTS over TLS) to resp. */
void http_add_headers(struct request *r, struct MHD_Response *resp);

/* Answers 405 with an Allow header listing allow ("GET, PUT"). */
enum MHD_Result reply_method(struct request *r, const char *allow);

/* A query parameter or request header, or NULL. */
const char *req_query(struct request *r, const char *key);
const char *req_header(struct request *r, const char *key);

/* Returns 1 when the request carries a valid API token, or no
 * Authorization header but the session cookie of a logged-in admin of the
 * web admin (and sets r->who). */
int req_authenticated(struct request *r);

/* Starts the HTTP(S) server like http_start (same handlers, limits and
 * event loop), but without a listening socket: connections are handed to
 * it with MHD_add_connection (the fuzz target fuzz/fuzz_http.c does).
 * Returns 0, or -1 after logging why. */
int http_start_unbound(struct daemon_ctx *d);

/* The handlers. */
enum MHD_Result api_handle(struct request *r);
enum MHD_Result metrics_handle(struct request *r);

#endif
