/*
 * web.h - the web admin: server-rendered HTML pages behind a login, served
 * by certmond next to the REST API (http.c routes every path that is not
 * /healthz, /metrics or /api/... to web_handle).
 *
 * The parts, one file each:
 *   web.c          routing, login/logout, the static assets, the dashboard
 *   web_html.c     the HTML buffer (every %s is escaped), the page layout,
 *                  form fields, responses (redirects, downloads)
 *   web_session.c  sessions (in memory), CSRF tokens, one-shot flash
 *                  messages, the login lock-out
 *   web_certs.c    Certificate Management: list, details, upload, delete,
 *                  units
 *   web_config.c   Certificate Monitor (+ SMTP), Certificate Revocation,
 *                  Enterprise Parameters
 *   web_ops.c      Network Services, Mail Queue, Events
 *   web_settings.c the revocation and enterprise settings in the store
 *                  (web_settings.h)
 *
 * Every request is handled on the daemon's one thread, so none of this
 * needs locks.
 */
#ifndef CERTMOND_WEB_H
#define CERTMOND_WEB_H

#include <stdarg.h>
#include <stddef.h>

#include "http.h"

/* ---- entry points for http.c ---------------------------------------------- */

/* Serves a page of the web admin (anything but /healthz, /metrics, /api). */
enum MHD_Result web_handle(struct request *r);

/* Returns 1 when the request carries the session cookie of a logged-in
 * admin (and sets r->who); *csrf_ok tells whether its X-CSRF-Token header
 * holds the session's CSRF token. */
int web_api_session(struct request *r, int *csrf_ok);

/* ---- assets (generated from web/ by the Makefile) --------------------------- */

struct web_asset {
	const char *path;                /* "/static/style.css" */
	const char *type;                /* Content-Type */
	const unsigned char *data;
	size_t len;
};

/* Ends with an entry whose path is NULL. */
extern const struct web_asset web_assets[];

/* ---- HTML ------------------------------------------------------------------ */

struct html {
	char *buf;
	size_t len, cap;
	int oom;
};

/* Appends trusted text (literals of this program) as it is. */
void h_raw(struct html *h, const char *s);

/* Appends s with &, <, >, " and ' escaped and control characters
 * replaced: safe in text and in quoted attributes. NULL appends nothing. */
void h_esc(struct html *h, const char *s);

/* printf into the page: every %s argument is escaped with h_esc (the
 * format itself is trusted markup). Supports the integer conversions,
 * %s (also %.Ns and %.*s), %c and %%. */
void h_printf(struct html *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Frees the buffer. */
void h_free(struct html *h);

/* Percent-encodes s for a URL query value or path segment into out. */
char *url_enc(const char *s, char *out, size_t len);

/* ---- sessions, flash, lock-out ---------------------------------------------- */

#define WEB_FIELDS_MAX 32

struct kv {
	char *key;
	char *value;
};

/* What one POST leaves for the next GET: a message, and for a form that
 * was refused, its values and the error of each field. */
struct flash {
	char *message;
	int error;                       /* the message is an error */
	char form[32];                   /* the form the values belong to */
	struct kv values[WEB_FIELDS_MAX];
	size_t nvalues;
	struct kv errors[WEB_FIELDS_MAX];
	size_t nerrors;
};

#define WEB_ID_LEN 64                    /* hex of 256 random bits */

struct session {
	char id[WEB_ID_LEN + 1];
	char csrf[WEB_ID_LEN + 1];
	int used;
	int authed;                      /* logged in (else a login form's) */
	char user[32];
	long long created;               /* monotonic seconds */
	long long seen;
	struct flash flash;
};

/* The session of the request's cookie when it is valid (not expired), or
 * NULL. Touches its last-seen time. */
struct session *session_get(struct request *r);

/* Creates a session (evicting the oldest when the table is full); NULL
 * when the random generator fails. */
struct session *session_new(int authed, const char *user);

/* Forgets a session. */
void session_end(struct session *s);

/* Writes the Set-Cookie value for s (or, with s NULL, one that clears
 * the cookie) into buf. */
void session_cookie(struct request *r, const struct session *s, char *buf,
    size_t len);

/* Returns 1 when token is the session's CSRF token (constant time). */
int session_csrf_ok(const struct session *s, const char *token);

/* Sets the flash message (replacing any). */
void flash_msg(struct session *s, int error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Keeps a refused form's value / a field's error for the next GET. */
void flash_form(struct session *s, const char *form);
void flash_value(struct session *s, const char *key, const char *value);
void flash_field_error(struct session *s, const char *key, const char *msg);

/* The kept value/error of a field of form, or NULL. */
const char *flash_get_value(struct session *s, const char *form,
    const char *key);
const char *flash_get_error(struct session *s, const char *form,
    const char *key);

/* Frees the flash (after the page that shows it was rendered). */
void flash_clear(struct flash *f);

/* Login lock-out: 5 failures within 5 minutes for a key (a client
 * address, or the account) lock it for the rest of those 5 minutes.
 * throttle_locked returns the seconds left, or 0. */
long long throttle_locked(const char *key);
void throttle_fail(const char *key);
void throttle_reset(const char *key);

/* Monotonic seconds. */
long long web_mono(void);

/* ---- forms ------------------------------------------------------------------- */

struct form {
	struct kv v[64];
	size_t n;
	char *file;                      /* the "file" part of a multipart form */
	size_t file_len;
	char filename[128];
	int too_big;
	int bad;                         /* malformed */
};

/* Parses the request body (urlencoded or multipart/form-data). */
void form_read(struct request *r, struct form *f);

/* The value of a field, or NULL when absent. */
const char *form_get(const struct form *f, const char *key);

/* Frees the form. */
void form_free(struct form *f);

/* ---- pages --------------------------------------------------------------------- */

/* What a page handler gets. */
struct page {
	struct request *r;
	struct session *s;
	struct form *f;                  /* POST only */
	struct html h;
	const char *path;                /* r->url */
	char cookie[200];                /* Set-Cookie to send, or "" */
};

/* Starts a page: the document head, the header bar, the navigation (with
 * `active` marked), the flash message; then the <main> content begins. */
void page_begin(struct page *p, const char *title, const char *active);

/* Ends the page begun by page_begin. */
void page_end(struct page *p);

/* Sends the page's HTML with status (and clears the flash it showed). */
enum MHD_Result page_send(struct page *p, unsigned status);

/* Answers 303 See Other to location (and sets cookie when not NULL). */
enum MHD_Result web_redirect(struct request *r, const char *location,
    const char *cookie);

/* Sends a file for download. */
enum MHD_Result web_download(struct request *r, const char *type,
    const char *filename, const char *data, size_t len);

/* An error page (with the layout when s is a logged-in session). */
enum MHD_Result web_error_page(struct page *p, unsigned status,
    const char *title, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Form fields: label bound to the input, the kept value or `value`, the
 * field's error next to it (aria-describedby), an optional hint. */
void field_text(struct page *p, const char *form, const char *name,
    const char *label, const char *type, const char *value,
    const char *hint, const char *extra);
void field_checkbox(struct page *p, const char *form, const char *name,
    const char *label, int checked, const char *hint);
void field_textarea(struct page *p, const char *form, const char *name,
    const char *label, const char *value, const char *hint);

/* A duration as a number and a unit select (Hours/Days, and Minutes when
 * with_minutes): the fields NAME and NAME_unit. */
void field_duration(struct page *p, const char *form, const char *name,
    const char *label, long long seconds, int with_minutes,
    const char *hint);

/* Parses the NAME + NAME_unit fields of a duration into seconds; on
 * failure returns -1 and writes why into msg. */
int form_duration(const struct form *f, const char *name, long long *out,
    char *msg, size_t len);

/* The hidden CSRF field of every form. */
void h_csrf(struct page *p);

/* Keeps the submitted fields of a refused form in the flash and sets its
 * message; the caller then adds the field errors and redirects. */
void flash_refuse(struct page *p, const char *form, const char *msg);

/* Time as "2027-01-31 12:00 UTC" (or "never" for 0); web_time_sec with
 * seconds ("2027-01-31 12:00:05"). */
const char *web_time(long long t, char *buf, size_t len);
const char *web_time_sec(long long t, char *buf, size_t len);

/* The badge of an expiry state / a revocation status. */
void h_state_badge(struct html *h, const char *state);
void h_revocation_badge(struct html *h, const char *status);

/* ---- the handlers ---------------------------------------------------------- */

enum MHD_Result web_certs(struct page *p);
enum MHD_Result web_units(struct page *p);
enum MHD_Result web_monitor(struct page *p);
enum MHD_Result web_revocation(struct page *p);
enum MHD_Result web_params(struct page *p);
enum MHD_Result web_services(struct page *p);
enum MHD_Result web_mail(struct page *p);
enum MHD_Result web_events(struct page *p);
enum MHD_Result web_dashboard(struct page *p);

/* Returns the Notification Start Time in days (the default on error). */
int web_start_days(struct daemon_ctx *d);

/* "web:USER" for the audit log. */
const char *web_actor(struct page *p);

#endif
