/*
 * http.c - the HTTP(S) server (libmicrohttpd, driven by the daemon's event
 * loop through its epoll descriptor): request bodies, routing, security
 * headers, authentication.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include <openssl/crypto.h>

#include "certmon/auth.h"
#include "certmon/json.h"
#include "http.h"
#include "web.h"

void
http_add_headers(struct request *r, struct MHD_Response *resp)
{
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "Content-Security-Policy",
	    "default-src 'self'; style-src 'self'; img-src 'self' data:; "
	    "form-action 'self'; frame-ancestors 'none'");
	if (r->d->tls)
		MHD_add_response_header(resp, "Strict-Transport-Security",
		    "max-age=31536000");
}

enum MHD_Result
reply_text(struct request *r, unsigned status, const char *content_type,
    char *body, size_t len)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", content_type);
	http_add_headers(r, resp);
	if (status == 401)     /* RFC 9110 11.6.1 */
		MHD_add_response_header(resp, "WWW-Authenticate", "Bearer");
	if (status == 405 && r->allow != NULL)
		MHD_add_response_header(resp, "Allow", r->allow);
	ret = MHD_queue_response(r->conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

enum MHD_Result
reply_json(struct request *r, unsigned status, json_t *doc)
{
	char *text;

	if (doc == NULL)
		return reply_error(r, 500, "out of memory");
	if (json_is_object(doc) && json_object_get(doc, "status") == NULL)
		json_object_set_new(doc, "status", json_string(status < 300 ? "ok" :
		    "error"));
	text = json_dumps(doc, JSON_COMPACT | JSON_ENSURE_ASCII |
	    JSON_PRESERVE_ORDER);
	json_decref(doc);
	if (text == NULL)
		return MHD_NO;
	return reply_text(r, status, "application/json", text, strlen(text));
}

enum MHD_Result
reply_error(struct request *r, unsigned status, const char *fmt, ...)
{
	char msg[CM_ERR_MSG_MAX + 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return reply_json(r, status, json_pack("{s:s, s:o}", "status", "error",
	    "error", cm_json_str(msg)));
}

enum MHD_Result
reply_method(struct request *r, const char *allow)
{
	r->allow = allow;
	return reply_error(r, 405, "method %s not allowed here; use %s",
	    r->method, allow);
}

const char *
req_query(struct request *r, const char *key)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *
req_header(struct request *r, const char *key)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, key);
}

int
req_authenticated(struct request *r)
{
	const char *h = req_header(r, "Authorization");
	char hash[CM_FP_HEX_LEN], name[80];
	struct cm_err err;
	int csrf_ok;

	if (h == NULL)   /* a logged-in browser of the web admin */
		return web_api_session(r, &csrf_ok);
	if (strncasecmp(h, "Bearer ", 7) != 0 || strlen(h) > 300)
		return 0;
	cm_auth_token_hash(h + 7, hash);
	if (cm_store_token_find(r->d->st, hash, name, sizeof(name), &err) !=
	    CM_OK)
		return 0;
	snprintf(r->who, sizeof(r->who), "token:%s", name);
	return 1;
}

static enum MHD_Result
route(struct request *r)
{
	r->d->count.http_requests++;
	/* a change made through HTTP is not seen by data_version (that counts
	 * other connections only): replan after anything but a read */
	if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
		r->d->reschedule = 1;
		r->d->writes++;
	}
	if (strcmp(r->url, "/healthz") == 0)
		return reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
	if (strcmp(r->url, "/metrics") == 0)
		return metrics_handle(r);
	if (strncmp(r->url, "/api/", 5) == 0 || strcmp(r->url, "/api") == 0) {
		int csrf_ok = 0;

		/* a session cookie authenticates API calls too, but a call that
		 * changes something must also carry the page's CSRF token */
		if (req_header(r, "Authorization") == NULL &&
		    strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0 &&
		    web_api_session(r, &csrf_ok) && !csrf_ok)
			return reply_error(r, 403, "a state-changing API call with a "
			    "session cookie needs the X-CSRF-Token header");
		return api_handle(r);
	}
	return web_handle(r);
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_size, void **con_cls)
{
	struct daemon_ctx *d = cls;
	struct request *r = *con_cls;

	(void)version;
	if (r == NULL) {
		if ((r = calloc(1, sizeof(*r))) == NULL)
			return MHD_NO;
		r->d = d;
		r->conn = conn;
		r->method = method;
		r->url = url;
		*con_cls = r;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		size_t n = *upload_size;

		if (!r->too_big && r->len + n > HTTP_BODY_MAX) {
			r->too_big = 1;
			free(r->body);
			r->body = NULL;
			r->len = r->cap = 0;
		}
		if (!r->too_big) {
			if (r->len + n + 1 > r->cap) {
				size_t ncap = (r->len + n + 1) * 2;
				char *nb;

				if (ncap > HTTP_BODY_MAX + 1)
					ncap = HTTP_BODY_MAX + 1;
				if ((nb = realloc(r->body, ncap)) == NULL)
					return MHD_NO;
				r->body = nb;
				r->cap = ncap;
			}
			memcpy(r->body + r->len, upload_data, n);
			r->len += n;
			r->body[r->len] = '\0';
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (r->too_big && strncmp(r->url, "/api/", 5) != 0 &&
	    strcmp(r->url, "/metrics") != 0)
		return web_handle(r);   /* a page says it in words */
	if (r->too_big)
		return reply_error(r, 413, "the request body is larger than %d "
		    "bytes", HTTP_BODY_MAX);
	return route(r);
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct request *r = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (r != NULL) {
		free(r->body);
		free(r);
		*con_cls = NULL;
	}
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	daemon_log(LOG_WARNING, "http: %s", line);
}

/* Parses "ADDR:PORT" or "[V6]:PORT" into ss. */
static int
parse_listen(const char *text, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[128];
	const char *colon = strrchr(text, ':');
	long port;
	char *end;

	memset(ss, 0, sizeof(*ss));
	if (colon == NULL || (size_t)(colon - text) >= sizeof(host))
		return -1;
	memcpy(host, text, (size_t)(colon - text));
	host[colon - text] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || port < 0 || port > 65535)
		return -1;
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		host[strlen(host) - 1] = '\0';
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*s6);
		return inet_pton(AF_INET6, host + 1, &s6->sin6_addr) == 1 ? 0 : -1;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

	s4->sin_family = AF_INET;
	s4->sin_port = htons((uint16_t)port);
	*len = sizeof(*s4);
	return inet_pton(AF_INET, host, &s4->sin_addr) == 1 ? 0 : -1;
}

/* Starts libmicrohttpd with the daemon's handlers and limits; sa is the
 * address to listen on, or NULL with MHD_USE_NO_LISTEN_SOCKET in flags. */
static struct MHD_Daemon *
start(struct daemon_ctx *d, unsigned flags, const struct sockaddr *sa)
{
	if (d->tls)
		flags |= MHD_USE_TLS;
	return MHD_start_daemon(flags, 0, NULL, NULL, on_request, d,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
	    MHD_OPTION_SOCK_ADDR, sa,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)256,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)64,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
	    /* without TLS the option list ends here */
	    d->tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, d->tls_key_pem,
	    MHD_OPTION_HTTPS_MEM_CERT, d->tls_cert_pem,
	    MHD_OPTION_HTTPS_PRIORITIES,
	    "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2",
	    MHD_OPTION_END);
}

int
http_start(struct daemon_ctx *d)
{
	struct sockaddr_storage ss;
	socklen_t sslen = 0;
	unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;

	if (parse_listen(d->listen, &ss, &sslen) != 0) {
		daemon_log(LOG_ERR, "--listen '%s' is not ADDR:PORT", d->listen);
		return -1;
	}
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	d->mhd = start(d, flags, (const struct sockaddr *)&ss);
	if (d->mhd == NULL) {
		daemon_log(LOG_ERR, "cannot listen on %s (in use, or not an "
		    "address of this machine)", d->listen);
		return -1;
	}
	return 0;
}

int
http_start_unbound(struct daemon_ctx *d)
{
	d->mhd = start(d, MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
	    MHD_USE_NO_LISTEN_SOCKET, NULL);
	if (d->mhd == NULL) {
		daemon_log(LOG_ERR, "cannot start the HTTP server");
		return -1;
	}
	return 0;
}

void
http_stop(struct daemon_ctx *d)
{
	if (d->mhd != NULL)
		MHD_stop_daemon(d->mhd);
	d->mhd = NULL;
}

int
http_fd(struct daemon_ctx *d)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d->mhd,
	    MHD_DAEMON_INFO_EPOLL_FD);

	return info != NULL ? info->epoll_fd : -1;
}

void
http_run(struct daemon_ctx *d)
{
	MHD_run(d->mhd);
}

long long
http_timeout_ms(struct daemon_ctx *d)
{
	MHD_UNSIGNED_LONG_LONG ms;

	if (MHD_get_timeout(d->mhd, &ms) != MHD_YES)
		return -1;
	return (long long)ms;
}
