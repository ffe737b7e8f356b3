/*
 * web_session.c - sessions of the web admin, kept in the daemon's memory
 * (a restart logs everyone out): 256-bit random ids from RAND_bytes, an
 * idle expiry of 30 minutes and an absolute one of 8 hours, a CSRF token
 * per session, the one-shot flash message, and the login lock-out.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "web.h"

#define SESSION_MAX      512
#define SESSION_IDLE     (30 * 60)
#define SESSION_ABSOLUTE (8 * 60 * 60)
#define COOKIE_NAME      "certmon_session"

#define THROTTLE_MAX     256
#define THROTTLE_FAILS   5
#define THROTTLE_WINDOW  (5 * 60)

static struct session sessions[SESSION_MAX];

long long
web_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec;
}

static int
random_hex(char out[WEB_ID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[WEB_ID_LEN / 2];

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -1;
	for (size_t i = 0; i < sizeof(raw); i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[WEB_ID_LEN] = '\0';
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}

static int
expired(const struct session *s, long long now)
{
	return now - s->seen > SESSION_IDLE || now - s->created >
	    SESSION_ABSOLUTE;
}

void
session_end(struct session *s)
{
	if (s == NULL)
		return;
	flash_clear(&s->flash);
	OPENSSL_cleanse(s, sizeof(*s));
	memset(s, 0, sizeof(*s));
}

/* The session whose id is `id` (constant-time comparison), or NULL. */
static struct session *
session_find(const char *id)
{
	long long now = web_mono();
	struct session *found = NULL;

	if (id == NULL || strlen(id) != WEB_ID_LEN)
		return NULL;
	for (size_t i = 0; i < SESSION_MAX; i++) {
		struct session *s = &sessions[i];

		if (!s->used)
			continue;
		if (expired(s, now)) {
			session_end(s);
			continue;
		}
		if (CRYPTO_memcmp(s->id, id, WEB_ID_LEN) == 0)
			found = s;
	}
	if (found != NULL)
		found->seen = now;
	return found;
}

struct session *
session_get(struct request *r)
{
	return session_find(MHD_lookup_connection_value(r->conn,
	    MHD_COOKIE_KIND, COOKIE_NAME));
}

struct session *
session_new(int authed, const char *user)
{
	struct session *s = NULL, *oldest = NULL;
	long long now = web_mono();

	for (size_t i = 0; i < SESSION_MAX && s == NULL; i++) {
		if (sessions[i].used && expired(&sessions[i], now))
			session_end(&sessions[i]);
		if (!sessions[i].used)
			s = &sessions[i];
		/* when full, a login form's session goes first, then the
		 * least recently seen */
		else if (oldest == NULL || (oldest->authed && !sessions[i].authed) ||
		    (oldest->authed == sessions[i].authed &&
		    sessions[i].seen < oldest->seen))
			oldest = &sessions[i];
	}
	if (s == NULL) {
		session_end(oldest);
		s = oldest;
	}
	memset(s, 0, sizeof(*s));
	if (random_hex(s->id) != 0 || random_hex(s->csrf) != 0) {
		memset(s, 0, sizeof(*s));
		return NULL;
	}
	s->used = 1;
	s->authed = authed;
	snprintf(s->user, sizeof(s->user), "%s", user ? user : "");
	s->created = s->seen = now;
	return s;
}

void
session_cookie(struct request *r, const struct session *s, char *buf,
    size_t len)
{
	const char *secure = r->d->tls ? "; Secure" : "";

	if (s == NULL)
		snprintf(buf, len, COOKIE_NAME "=; Path=/; Max-Age=0; HttpOnly%s; "
		    "SameSite=Strict", secure);
	else
		snprintf(buf, len, COOKIE_NAME "=%s; Path=/; Max-Age=%d; "
		    "HttpOnly%s; SameSite=Strict", s->id, SESSION_ABSOLUTE, secure);
}

int
session_csrf_ok(const struct session *s, const char *token)
{
	return s != NULL && token != NULL && strlen(token) == WEB_ID_LEN &&
	    CRYPTO_memcmp(s->csrf, token, WEB_ID_LEN) == 0;
}

int
web_api_session(struct request *r, int *csrf_ok)
{
	struct session *s = session_get(r);

	*csrf_ok = 0;
	if (s == NULL || !s->authed)
		return 0;
	*csrf_ok = session_csrf_ok(s, req_header(r, "X-CSRF-Token"));
	snprintf(r->who, sizeof(r->who), "web:%s", s->user);
	return 1;
}

/* ---- flash ------------------------------------------------------------------------ */

void
flash_clear(struct flash *f)
{
	free(f->message);
	for (size_t i = 0; i < f->nvalues; i++) {
		free(f->values[i].key);
		free(f->values[i].value);
	}
	for (size_t i = 0; i < f->nerrors; i++) {
		free(f->errors[i].key);
		free(f->errors[i].value);
	}
	memset(f, 0, sizeof(*f));
}

void
flash_msg(struct session *s, int error, const char *fmt, ...)
{
	va_list ap;
	char *m = NULL;

	if (s == NULL)
		return;
	va_start(ap, fmt);
	if (vasprintf(&m, fmt, ap) < 0)
		m = NULL;
	va_end(ap);
	free(s->flash.message);
	s->flash.message = m;
	s->flash.error = error;
}

void
flash_form(struct session *s, const char *form)
{
	snprintf(s->flash.form, sizeof(s->flash.form), "%s", form);
}

static void
kv_add(struct kv *v, size_t *n, const char *key, const char *value)
{
	if (*n >= WEB_FIELDS_MAX)
		return;
	v[*n].key = strdup(key);
	v[*n].value = strdup(value ? value : "");
	if (v[*n].key == NULL || v[*n].value == NULL) {
		free(v[*n].key);
		free(v[*n].value);
		return;
	}
	(*n)++;
}

void
flash_value(struct session *s, const char *key, const char *value)
{
	kv_add(s->flash.values, &s->flash.nvalues, key, value);
}

void
flash_field_error(struct session *s, const char *key, const char *msg)
{
	kv_add(s->flash.errors, &s->flash.nerrors, key, msg);
}

const char *
flash_get_value(struct session *s, const char *form, const char *key)
{
	if (s == NULL || form == NULL || strcmp(s->flash.form, form) != 0)
		return NULL;
	for (size_t i = 0; i < s->flash.nvalues; i++)
		if (strcmp(s->flash.values[i].key, key) == 0)
			return s->flash.values[i].value;
	return NULL;
}

const char *
flash_get_error(struct session *s, const char *form, const char *key)
{
	if (s == NULL || form == NULL || strcmp(s->flash.form, form) != 0)
		return NULL;
	for (size_t i = 0; i < s->flash.nerrors; i++)
		if (strcmp(s->flash.errors[i].key, key) == 0)
			return s->flash.errors[i].value;
	return NULL;
}

/* ---- login lock-out ----------------------------------------------------------------- */

struct throttle {
	char key[64];
	long long fail[THROTTLE_FAILS];   /* ring of the last failures */
	int n;                            /* failures recorded (<= FAILS) */
	int next;
	long long last;
};

static struct throttle throttles[THROTTLE_MAX];

static struct throttle account;   /* the account's own, never evicted */

static struct throttle *
throttle_find(const char *key, int create)
{
	struct throttle *oldest = &throttles[0];

	if (strncmp(key, "account:", 8) == 0) {
		if (strcmp(account.key, key) != 0) {
			if (!create)
				return NULL;
			memset(&account, 0, sizeof(account));
			snprintf(account.key, sizeof(account.key), "%s", key);
		}
		return &account;
	}
	/* client addresses: the least recently failed one makes room */
	for (size_t i = 0; i < THROTTLE_MAX; i++) {
		if (throttles[i].key[0] != '\0' &&
		    strcmp(throttles[i].key, key) == 0)
			return &throttles[i];
		if (throttles[i].last < oldest->last)
			oldest = &throttles[i];
	}
	if (!create)
		return NULL;
	memset(oldest, 0, sizeof(*oldest));
	snprintf(oldest->key, sizeof(oldest->key), "%s", key);
	return oldest;
}

long long
throttle_locked(const char *key)
{
	struct throttle *t = throttle_find(key, 0);
	long long now = web_mono(), first;

	if (t == NULL || t->n < THROTTLE_FAILS)
		return 0;
	/* the oldest of the last five failures */
	first = t->fail[t->next];
	if (now - first >= THROTTLE_WINDOW)
		return 0;
	return THROTTLE_WINDOW - (now - first);
}

void
throttle_fail(const char *key)
{
	struct throttle *t = throttle_find(key, 1);

	t->last = web_mono();
	t->fail[t->next] = t->last;
	t->next = (t->next + 1) % THROTTLE_FAILS;
	if (t->n < THROTTLE_FAILS)
		t->n++;
}

void
throttle_reset(const char *key)
{
	struct throttle *t = throttle_find(key, 0);

	if (t != NULL)
		memset(t, 0, sizeof(*t));
}
