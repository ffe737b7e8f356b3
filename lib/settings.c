/* settings.c - typed, validated settings kept in the store. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "certmon/json.h"
#include "certmon/settings.h"

/* ---- generic key/value helpers -------------------------------------------- */

/* Reads an integer setting; leaves *v alone when unset. */
static enum cm_status
get_int(struct cm_store *st, const char *key, int64_t *v, struct cm_err *err)
{
	char *text = NULL, *end = NULL;
	enum cm_status rc;
	long long n;

	if ((rc = cm_store_setting_get(st, key, &text, err)) != CM_OK ||
	    text == NULL)
		goto out;
	errno = 0;
	n = strtoll(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0') {
		rc = cm_err_set(err, CM_ERR_STORE, "setting %s holds '%.40s', "
		    "not a number", key, text);
		goto out;
	}
	*v = n;
out:
	free(text);
	return rc;
}

/* Reads a text setting into buf; leaves buf alone when unset. */
static enum cm_status
get_text(struct cm_store *st, const char *key, char *buf, size_t len,
    struct cm_err *err)
{
	char *text = NULL;
	enum cm_status rc;

	if ((rc = cm_store_setting_get(st, key, &text, err)) == CM_OK &&
	    text != NULL)
		snprintf(buf, len, "%s", text);
	free(text);
	return rc;
}

/* Changed settings collected for one cm_store_settings_set. */
struct changes {
	const char *keys[16];
	const char *vals[16];
	char buf[16][32];
	size_t n;
};

static void
change_text(struct changes *c, const char *key, const char *old,
    const char *new)
{
	if (strcmp(old, new) != 0 && c->n < 16) {
		c->keys[c->n] = key;
		c->vals[c->n++] = new;
	}
}

static void
change_int(struct changes *c, const char *key, int64_t old, int64_t new)
{
	if (old != new && c->n < 16) {
		snprintf(c->buf[c->n], sizeof(c->buf[0]), "%" PRId64, new);
		c->keys[c->n] = key;
		c->vals[c->n] = c->buf[c->n];
		c->n++;
	}
}

int
cm_bool_parse(const char *text, int *out)
{
	if (strcmp(text, "on") == 0 || strcmp(text, "true") == 0 ||
	    strcmp(text, "1") == 0)
		*out = 1;
	else if (strcmp(text, "off") == 0 || strcmp(text, "false") == 0 ||
	    strcmp(text, "0") == 0)
		*out = 0;
	else
		return -1;
	return 0;
}

/* ---- monitor ------------------------------------------------------------- */

void
cm_monitor_settings_default(struct cm_monitor_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->start_days = CM_MONITOR_START_DAYS_DEFAULT;
	s->frequency = CM_MONITOR_FREQUENCY_DEFAULT;
	s->retry_cap = CM_MONITOR_RETRY_CAP_DEFAULT;
	s->give_up_after = CM_MONITOR_GIVE_UP_DEFAULT;
}

enum cm_status
cm_monitor_settings_load(struct cm_store *st, struct cm_monitor_settings *s,
    struct cm_err *err)
{
	int64_t start, email, lsc;
	enum cm_status rc;

	cm_monitor_settings_default(s);
	start = s->start_days;
	email = s->email_enabled;
	lsc = s->lsc_enabled;
	if ((rc = get_int(st, "monitor.start_days", &start, err)) != CM_OK ||
	    (rc = get_int(st, "monitor.frequency", &s->frequency, err)) != CM_OK ||
	    (rc = get_int(st, "monitor.email", &email, err)) != CM_OK ||
	    (rc = get_int(st, "monitor.lsc", &lsc, err)) != CM_OK ||
	    (rc = get_int(st, "monitor.retry_cap", &s->retry_cap, err)) != CM_OK ||
	    (rc = get_int(st, "monitor.give_up_after", &s->give_up_after, err))
	    != CM_OK ||
	    (rc = get_text(st, "monitor.emails", s->emails, sizeof(s->emails),
	    err)) != CM_OK)
		return rc;
	s->start_days = (int)start;
	s->email_enabled = email != 0;
	s->lsc_enabled = lsc != 0;
	return CM_OK;
}

enum cm_status
cm_monitor_settings_check(const struct cm_monitor_settings *s,
    struct cm_err *err)
{
	struct cm_strlist list = {NULL, 0};
	size_t n;

	if (s->start_days < 1 || s->start_days > 365)
		return cm_err_set(err, CM_ERR_INVALID, "Notification Start Time %d "
		    "is out of range: 1-365 days", s->start_days);
	if (s->frequency < 3600 || s->frequency > 30 * 86400 ||
	    s->frequency % 3600 != 0)
		return cm_err_set(err, CM_ERR_INVALID, "Notification Frequency of "
		    "%" PRId64 " s is out of range: 1 hour to 30 days, in whole "
		    "hours", s->frequency);
	if (s->retry_cap < 60 || s->retry_cap > 86400)
		return cm_err_set(err, CM_ERR_INVALID, "mail retry cap of %" PRId64
		    " s is out of range: 1 minute to 1 day", s->retry_cap);
	if (s->give_up_after < 3600 || s->give_up_after > 30 * 86400)
		return cm_err_set(err, CM_ERR_INVALID, "mail give-up time of %"
		    PRId64 " s is out of range: 1 hour to 30 days",
		    s->give_up_after);
	if (cm_mail_parse_list(s->emails, &list, err) != CM_OK)
		return cm_err_prefix(err, "E-mail IDs");
	n = list.n;
	cm_mail_list_free(&list);
	if (s->email_enabled && n == 0)
		return cm_err_set(err, CM_ERR_INVALID, "Enable E-mail notification "
		    "needs at least one address in E-mail IDs");
	return CM_OK;
}

/* Rewrites an address list as "a@x;b@y": trimmed, no empty entries, no
 * duplicates. */
static enum cm_status
normalise_emails(const char *text, char *out, size_t len, struct cm_err *err)
{
	struct cm_strlist list = {NULL, 0};
	size_t o = 0;
	enum cm_status rc;

	if ((rc = cm_mail_parse_list(text, &list, err)) != CM_OK)
		return rc;
	out[0] = '\0';
	for (size_t i = 0; i < list.n; i++)
		o += (size_t)snprintf(out + o, o < len ? len - o : 0, "%s%s",
		    i ? ";" : "", list.v[i]);
	cm_mail_list_free(&list);
	if (o >= len)
		return cm_err_set(err, CM_ERR_TOOBIG, "E-mail IDs: the list is "
		    "longer than %zu bytes", len - 1);
	return CM_OK;
}

enum cm_status
cm_monitor_settings_save(struct cm_store *st,
    const struct cm_monitor_settings *s, const char *actor, cm_time now,
    struct cm_err *err)
{
	char emails[sizeof(s->emails)];
	struct cm_monitor_settings old;
	struct changes c;
	enum cm_status rc;

	memset(&c, 0, sizeof(c));
	if ((rc = cm_monitor_settings_check(s, err)) != CM_OK ||
	    (rc = normalise_emails(s->emails, emails, sizeof(emails), err)) !=
	    CM_OK ||
	    (rc = cm_monitor_settings_load(st, &old, err)) != CM_OK)
		return rc;
	change_int(&c, "monitor.start_days", old.start_days, s->start_days);
	change_int(&c, "monitor.frequency", old.frequency, s->frequency);
	change_int(&c, "monitor.email", old.email_enabled, s->email_enabled);
	change_int(&c, "monitor.lsc", old.lsc_enabled, s->lsc_enabled);
	change_int(&c, "monitor.retry_cap", old.retry_cap, s->retry_cap);
	change_int(&c, "monitor.give_up_after", old.give_up_after,
	    s->give_up_after);
	change_text(&c, "monitor.emails", old.emails, emails);
	if (c.n == 0)
		return CM_OK;
	return cm_store_settings_set(st, c.keys, c.vals, c.n, actor, now, err);
}

/* ---- JSON (the REST API's bodies and answers) ----------------------------- */

/* Reads an optional duration field ("12h", "1d"); -1 after setting err. */
static int
js_duration(json_t *o, const char *key, int64_t *out, struct cm_err *err)
{
	json_t *v = json_object_get(o, key);

	if (v == NULL)
		return 0;
	if (!json_is_string(v) || cm_duration_parse(json_string_value(v), out)
	    != 0) {
		cm_err_set(err, CM_ERR_INVALID, "\"%s\" must be a duration like "
		    "\"12h\" or \"1d\"", key);
		return -1;
	}
	return 0;
}

json_t *
cm_monitor_settings_json(const struct cm_monitor_settings *s)
{
	char f[24], cap[24], give[24];

	return json_pack("{s:i, s:s, s:b, s:b, s:o, s:s, s:s}",
	    "start_days", s->start_days,
	    "frequency", cm_duration_format(s->frequency, f, sizeof(f)),
	    "email", s->email_enabled, "lsc", s->lsc_enabled,
	    "emails", cm_json_str(s->emails),
	    "retry_cap", cm_duration_format(s->retry_cap, cap, sizeof(cap)),
	    "give_up_after", cm_duration_format(s->give_up_after, give,
	    sizeof(give)));
}

enum cm_status
cm_monitor_settings_from_json(json_t *o, struct cm_monitor_settings *s,
    struct cm_err *err)
{
	json_t *v;

	if (!json_is_object(o))
		return cm_err_set(err, CM_ERR_INVALID, "the body must be a JSON "
		    "object");
	v = json_object_get(o, "start_days");
	if (v != NULL && !json_is_integer(v))
		return cm_err_set(err, CM_ERR_INVALID, "\"start_days\" must be a "
		    "number");
	/* out of any sane range: 0, which validation refuses by name */
	if (v != NULL)
		s->start_days = json_integer_value(v) < 0 ||
		    json_integer_value(v) > 100000 ? 0 : (int)json_integer_value(v);
	if (js_duration(o, "frequency", &s->frequency, err) != 0 ||
	    cm_json_opt_bool(o, "email", &s->email_enabled, err) != 0 ||
	    cm_json_opt_bool(o, "lsc", &s->lsc_enabled, err) != 0 ||
	    cm_json_opt_text(o, "emails", s->emails, sizeof(s->emails), err) != 0 ||
	    js_duration(o, "retry_cap", &s->retry_cap, err) != 0 ||
	    js_duration(o, "give_up_after", &s->give_up_after, err) != 0)
		return err != NULL ? err->code : CM_ERR_INVALID;
	return CM_OK;
}

/* ---- SMTP ----------------------------------------------------------------- */

static const char *const tls_names[] = {"none", "starttls", "tls"};

const char *
cm_smtp_tls_name(enum cm_smtp_tls tls)
{
	return (unsigned)tls < 3 ? tls_names[tls] : "?";
}

int
cm_smtp_tls_parse(const char *name, enum cm_smtp_tls *out)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(name, tls_names[i]) == 0) {
			*out = (enum cm_smtp_tls)i;
			return 0;
		}
	return -1;
}

void
cm_smtp_settings_default(struct cm_smtp_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->tls = CM_SMTP_TLS_STARTTLS;
}

enum cm_status
cm_smtp_settings_load(struct cm_store *st, struct cm_smtp_settings *s,
    struct cm_err *err)
{
	int64_t port = 0;
	char tls[16] = "starttls";
	enum cm_status rc;

	cm_smtp_settings_default(s);
	if ((rc = get_text(st, "smtp.host", s->host, sizeof(s->host), err)) !=
	    CM_OK ||
	    (rc = get_int(st, "smtp.port", &port, err)) != CM_OK ||
	    (rc = get_text(st, "smtp.tls", tls, sizeof(tls), err)) != CM_OK ||
	    (rc = get_text(st, "smtp.user", s->user, sizeof(s->user), err)) !=
	    CM_OK ||
	    (rc = get_text(st, "smtp.password", s->password, sizeof(s->password),
	    err)) != CM_OK ||
	    (rc = get_text(st, "smtp.from", s->from, sizeof(s->from), err)) !=
	    CM_OK ||
	    (rc = get_text(st, "smtp.ca_file", s->ca_file, sizeof(s->ca_file),
	    err)) != CM_OK)
		return rc;
	s->port = (int)port;
	if (cm_smtp_tls_parse(tls, &s->tls) != 0)
		return cm_err_set(err, CM_ERR_STORE, "setting smtp.tls holds "
		    "'%.20s', not none, starttls or tls", tls);
	return CM_OK;
}

static int
printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

enum cm_status
cm_smtp_settings_check(const struct cm_smtp_settings *s, struct cm_err *err)
{
	if (s->host[0] == '\0' || !printable(s->host))
		return cm_err_set(err, CM_ERR_INVALID, "SMTP host '%.80s' is "
		    "invalid: give a host name or address", s->host);
	if (s->port < 0 || s->port > 65535)
		return cm_err_set(err, CM_ERR_INVALID, "SMTP port %d is out of "
		    "range: 1-65535", s->port);
	if (!cm_mail_address_valid(s->from))
		return cm_err_set(err, CM_ERR_INVALID, "SMTP From '%.80s' is not a "
		    "valid address", s->from);
	if (s->user[0] != '\0' && s->tls == CM_SMTP_TLS_NONE)
		return cm_err_set(err, CM_ERR_INVALID, "SMTP authentication needs "
		    "TLS (--tls starttls or tls): a password is never sent in "
		    "clear text");
	if (s->user[0] != '\0' && !printable(s->user))
		return cm_err_set(err, CM_ERR_INVALID, "SMTP user is invalid");
	if (s->password[0] != '\0' && s->user[0] == '\0')
		return cm_err_set(err, CM_ERR_INVALID, "an SMTP password needs a "
		    "user");
	return CM_OK;
}

enum cm_status
cm_smtp_settings_save(struct cm_store *st, const struct cm_smtp_settings *s,
    const char *actor, cm_time now, struct cm_err *err)
{
	struct cm_smtp_settings old;
	struct changes c;
	enum cm_status rc;

	memset(&c, 0, sizeof(c));
	if ((rc = cm_smtp_settings_check(s, err)) != CM_OK ||
	    (rc = cm_smtp_settings_load(st, &old, err)) != CM_OK)
		return rc;
	change_text(&c, "smtp.host", old.host, s->host);
	change_int(&c, "smtp.port", old.port, s->port);
	change_text(&c, "smtp.tls", cm_smtp_tls_name(old.tls),
	    cm_smtp_tls_name(s->tls));
	change_text(&c, "smtp.user", old.user, s->user);
	change_text(&c, "smtp.password", old.password, s->password);
	change_text(&c, "smtp.from", old.from, s->from);
	change_text(&c, "smtp.ca_file", old.ca_file, s->ca_file);
	if (c.n == 0)
		return CM_OK;
	return cm_store_settings_set(st, c.keys, c.vals, c.n, actor, now, err);
}

void
cm_smtp_settings_config(const struct cm_smtp_settings *s,
    struct cm_smtp_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->host = s->host;
	cfg->port = s->port;
	cfg->tls = s->tls;
	cfg->user = s->user[0] ? s->user : NULL;
	cfg->password = s->password[0] ? s->password : NULL;
	cfg->from = s->from;
	cfg->ca_file = s->ca_file[0] ? s->ca_file : NULL;
	cfg->timeout_ms = 30000;
}

json_t *
cm_smtp_settings_json(const struct cm_smtp_settings *s)
{
	/* the password never leaves: only whether one is set */
	return json_pack("{s:o, s:i, s:s, s:o, s:b, s:o, s:o}",
	    "host", cm_json_str(s->host), "port", s->port,
	    "tls", cm_smtp_tls_name(s->tls), "user", cm_json_str(s->user),
	    "password_set", s->password[0] != '\0', "from", cm_json_str(s->from),
	    "ca_file", cm_json_str(s->ca_file));
}

enum cm_status
cm_smtp_settings_from_json(json_t *o, struct cm_smtp_settings *s,
    struct cm_err *err)
{
	char tls[16] = "";
	json_t *v;

	if (!json_is_object(o))
		return cm_err_set(err, CM_ERR_INVALID, "the body must be a JSON "
		    "object");
	v = json_object_get(o, "port");
	if (v != NULL && (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > 65535))
		return cm_err_set(err, CM_ERR_INVALID, "\"port\" must be 0-65535");
	if (v != NULL)
		s->port = (int)json_integer_value(v);
	if (cm_json_opt_text(o, "host", s->host, sizeof(s->host), err) != 0 ||
	    cm_json_opt_text(o, "tls", tls, sizeof(tls), err) != 0 ||
	    cm_json_opt_text(o, "user", s->user, sizeof(s->user), err) != 0 ||
	    cm_json_opt_text(o, "password", s->password, sizeof(s->password), err) != 0 ||
	    cm_json_opt_text(o, "from", s->from, sizeof(s->from), err) != 0 ||
	    cm_json_opt_text(o, "ca_file", s->ca_file, sizeof(s->ca_file), err) != 0)
		return err != NULL ? err->code : CM_ERR_INVALID;
	if (tls[0] != '\0' && cm_smtp_tls_parse(tls, &s->tls) != 0)
		return cm_err_set(err, CM_ERR_INVALID, "\"tls\" must be none, "
		    "starttls or tls");
	return CM_OK;
}

/* ---- Certificate Revocation and Enterprise Parameters --------------------- */

int
cm_duration_parse_any(const char *text, int64_t *seconds)
{
	char *end = NULL;
	long long n;
	int64_t unit = 1;

	if (text == NULL || !isdigit((unsigned char)text[0]))
		return -1;
	errno = 0;
	n = strtoll(text, &end, 10);
	if (errno != 0 || end == text || n < 0)
		return -1;
	if (*end == '\0' || strcmp(end, "s") == 0)
		unit = 1;
	else if (strcmp(end, "m") == 0)
		unit = 60;
	else if (strcmp(end, "h") == 0)
		unit = 3600;
	else if (strcmp(end, "d") == 0)
		unit = 86400;
	else
		return -1;
	if (n > (int64_t)3650 * 86400 / unit)
		return -1;
	*seconds = (int64_t)n * unit;
	return 0;
}

char *
cm_duration_format_any(int64_t seconds, char *buf, size_t len)
{
	if (seconds != 0 && seconds % 86400 == 0)
		snprintf(buf, len, "%" PRId64 "d", seconds / 86400);
	else if (seconds != 0 && seconds % 3600 == 0)
		snprintf(buf, len, "%" PRId64 "h", seconds / 3600);
	else if (seconds != 0 && seconds % 60 == 0)
		snprintf(buf, len, "%" PRId64 "m", seconds / 60);
	else
		snprintf(buf, len, "%" PRId64 "s", seconds);
	return buf;
}

void
cm_setting_lines_free(struct cm_strlist *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

enum cm_status
cm_setting_lines(const char *text, struct cm_strlist *out, struct cm_err *err)
{
	const char *p, *nl;
	char **nv, *line;
	size_t n;

	out->v = NULL;
	out->n = 0;
	for (p = text != NULL ? text : ""; *p != '\0'; p = *nl ? nl + 1 : nl) {
		nl = p + strcspn(p, "\n");
		n = (size_t)(nl - p);
		while (n > 0 && isspace((unsigned char)p[n - 1]))
			n--;
		while (n > 0 && isspace((unsigned char)*p)) {
			p++;
			n--;
		}
		if (n == 0)
			continue;
		if ((line = strndup(p, n)) == NULL ||
		    (nv = realloc(out->v, (out->n + 1) * sizeof(*nv))) == NULL) {
			free(line);
			cm_setting_lines_free(out);
			return cm_err_set(err, CM_ERR_NOMEM, "out of memory");
		}
		out->v = nv;
		out->v[out->n++] = line;
	}
	return CM_OK;
}

int
cm_revocation_url_valid(const char *url)
{
	const char *host, *p;
	size_t hlen;

	if (url == NULL || strlen(url) >= CM_REV_URI_MAX)
		return 0;
	if (strncasecmp(url, "http://", 7) == 0)
		host = url + 7;
	else if (strncasecmp(url, "https://", 8) == 0)
		host = url + 8;
	else
		return 0;
	for (p = url; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return 0;
	if (host[0] == '[') {   /* an IPv6 literal */
		const char *close = strchr(host, ']');

		if (close == NULL || close == host + 1)
			return 0;
		for (p = host + 1; p < close; p++)
			if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.')
				return 0;
		hlen = (size_t)(close + 1 - host);
	} else {
		hlen = strcspn(host, ":/?#");
		if (hlen == 0)
			return 0;
		for (size_t i = 0; i < hlen; i++)
			if (!isalnum((unsigned char)host[i]) && host[i] != '-' &&
			    host[i] != '.')
				return 0;
	}
	if (host[hlen] == ':') {
		char *end;
		long port;

		errno = 0;
		port = strtol(host + hlen + 1, &end, 10);
		if (errno != 0 || end == host + hlen + 1 || port < 1 ||
		    port > 65535 || (*end != '\0' && *end != '/' && *end != '?' &&
		    *end != '#'))
			return 0;
	} else if (host[hlen] != '\0' && host[hlen] != '/' && host[hlen] != '?'
	    && host[hlen] != '#') {
		return 0;
	}
	return 1;
}

/* A host of the allow-list: a name, "*.name", or an address. */
static int
host_valid(const char *h)
{
	size_t n = strlen(h);

	if (n == 0 || n > 253)
		return 0;
	if (h[0] == '*') {
		if (h[1] != '.' || h[2] == '\0')
			return 0;
		h += 2;
	}
	for (; *h != '\0'; h++)
		if (!isalnum((unsigned char)*h) && *h != '-' && *h != '.' &&
		    *h != ':' && *h != '[' && *h != ']')
			return 0;
	return 1;
}

void
cm_revocation_settings_default(struct cm_revocation_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->uri_source = CM_URI_FROM_CERT;
	s->every = CM_REV_EVERY_DEFAULT;
	snprintf(s->trust_unit, sizeof(s->trust_unit), "%s",
	    CM_REV_TRUST_UNIT_DEFAULT);
	s->skew = CM_REV_SKEW_DEFAULT;
	s->timeout = CM_REV_TIMEOUT_DEFAULT;
	s->cache_max = CM_REV_CACHE_MAX_DEFAULT;
}

/* Reads a "1"/"0" setting into *v (any other number is on). */
static enum cm_status
get_bool(struct cm_store *st, const char *key, int *v, struct cm_err *err)
{
	int64_t n = *v;
	enum cm_status rc = get_int(st, key, &n, err);

	*v = n != 0;
	return rc;
}

enum cm_status
cm_revocation_settings_load(struct cm_store *st,
    struct cm_revocation_settings *s, struct cm_err *err)
{
	char source[32] = "cert";
	enum cm_status rc;

	cm_revocation_settings_default(s);
	if ((rc = get_bool(st, "revocation.ocsp", &s->ocsp, err)) != CM_OK ||
	    (rc = get_text(st, "revocation.uri_source", source, sizeof(source),
	    err)) != CM_OK ||
	    (rc = get_text(st, "revocation.uri", s->uri, sizeof(s->uri), err)) !=
	    CM_OK ||
	    (rc = get_bool(st, "revocation.check", &s->check, err)) != CM_OK ||
	    (rc = get_int(st, "revocation.every", &s->every, err)) != CM_OK ||
	    (rc = get_bool(st, "revocation.crl", &s->crl, err)) != CM_OK ||
	    (rc = get_text(st, "revocation.crl_uris", s->crl_uris,
	    sizeof(s->crl_uris), err)) != CM_OK ||
	    (rc = get_text(st, "revocation.trust_unit", s->trust_unit,
	    sizeof(s->trust_unit), err)) != CM_OK ||
	    (rc = get_bool(st, "revocation.require_nonce", &s->require_nonce,
	    err)) != CM_OK ||
	    (rc = get_int(st, "revocation.skew", &s->skew, err)) != CM_OK ||
	    (rc = get_int(st, "revocation.timeout", &s->timeout, err)) != CM_OK ||
	    (rc = get_int(st, "revocation.cache_max", &s->cache_max, err)) !=
	    CM_OK ||
	    (rc = get_text(st, "revocation.allow_hosts", s->allow_hosts,
	    sizeof(s->allow_hosts), err)) != CM_OK)
		return rc;
	if (strcmp(source, "cert") == 0)
		s->uri_source = CM_URI_FROM_CERT;
	else if (strcmp(source, "configured") == 0)
		s->uri_source = CM_URI_CONFIGURED;
	else
		return cm_err_set(err, CM_ERR_STORE, "setting revocation.uri_source "
		    "holds '%.20s', not cert or configured", source);
	return CM_OK;
}

static int
hours_in_range(int64_t s)
{
	return s >= 3600 && s <= 30 * 86400 && s % 3600 == 0;
}

enum cm_status
cm_revocation_settings_check(const struct cm_revocation_settings *s,
    struct cm_err *err)
{
	struct cm_strlist l = {NULL, 0};
	enum cm_status rc = CM_OK;

	if (s->uri_source != CM_URI_FROM_CERT && s->uri_source !=
	    CM_URI_CONFIGURED)
		return cm_err_set(err, CM_ERR_INVALID, "OCSP URI source must be "
		    "cert or configured");
	if (s->uri[0] != '\0' && !cm_revocation_url_valid(s->uri))
		return cm_err_set(err, CM_ERR_INVALID, "OCSP Configured URI '%.80s' "
		    "is not an http:// or https:// URL with a host name", s->uri);
	if (s->uri_source == CM_URI_CONFIGURED && s->uri[0] == '\0')
		return cm_err_set(err, CM_ERR_INVALID, "OCSP Configured URI is "
		    "needed with \"Use configured OCSP URI\" (--uri URL)");
	if (!hours_in_range(s->every))
		return cm_err_set(err, CM_ERR_INVALID, "Check Every of %" PRId64
		    " s is out of range: 1 hour to 30 days, in whole hours",
		    s->every);
	if (s->trust_unit[0] == '\0')
		return cm_err_set(err, CM_ERR_INVALID, "the trust unit of the "
		    "designated OCSP responders is empty");
	if (s->skew < 0 || s->skew > 3600)
		return cm_err_set(err, CM_ERR_INVALID, "clock skew of %" PRId64
		    " s is out of range: 0 to 1 hour", s->skew);
	if (s->timeout < 1 || s->timeout > 60)
		return cm_err_set(err, CM_ERR_INVALID, "timeout of %" PRId64
		    " s is out of range: 1 to 60 seconds", s->timeout);
	if (s->cache_max < 3600 || s->cache_max > 30 * 86400)
		return cm_err_set(err, CM_ERR_INVALID, "cache maximum of %" PRId64
		    " s is out of range: 1 hour to 30 days", s->cache_max);
	if ((rc = cm_setting_lines(s->crl_uris, &l, err)) != CM_OK)
		return rc;
	for (size_t i = 0; i < l.n; i++)
		if (!cm_revocation_url_valid(l.v[i])) {
			rc = cm_err_set(err, CM_ERR_INVALID, "CRL URIs: '%.80s' is not "
			    "an http:// or https:// URL with a host name", l.v[i]);
			goto out;
		}
	cm_setting_lines_free(&l);
	if ((rc = cm_setting_lines(s->allow_hosts, &l, err)) != CM_OK)
		return rc;
	for (size_t i = 0; i < l.n; i++)
		if (!host_valid(l.v[i])) {
			rc = cm_err_set(err, CM_ERR_INVALID, "allowed hosts: '%.80s' is "
			    "not a host name, *.domain or an address", l.v[i]);
			goto out;
		}
out:
	cm_setting_lines_free(&l);
	return rc;
}

/* Rewrites a list as its entries joined by "\n". */
static enum cm_status
normalise_lines(const char *text, char *out, size_t len, const char *what,
    struct cm_err *err)
{
	struct cm_strlist l = {NULL, 0};
	size_t o = 0;
	enum cm_status rc;

	if ((rc = cm_setting_lines(text, &l, err)) != CM_OK)
		return rc;
	out[0] = '\0';
	for (size_t i = 0; i < l.n; i++)
		o += (size_t)snprintf(out + o, o < len ? len - o : 0, "%s%s",
		    i ? "\n" : "", l.v[i]);
	cm_setting_lines_free(&l);
	if (o >= len)
		return cm_err_set(err, CM_ERR_TOOBIG, "%s: the list is longer than "
		    "%zu bytes", what, len - 1);
	return CM_OK;
}

enum cm_status
cm_revocation_settings_save(struct cm_store *st,
    const struct cm_revocation_settings *s, const char *actor, cm_time now,
    struct cm_err *err)
{
	static const char *const sources[] = {"cert", "configured"};
	struct cm_revocation_settings old;
	struct cm_unit unit;
	char *crl = NULL, *hosts = NULL;
	struct changes c;
	enum cm_status rc;

	memset(&c, 0, sizeof(c));
	if ((rc = cm_revocation_settings_check(s, err)) != CM_OK)
		return rc;
	if (cm_store_unit_get(st, s->trust_unit, &unit, err) != CM_OK)
		return cm_err_set(err, CM_ERR_INVALID, "trust unit '%.64s' of the "
		    "designated OCSP responders does not exist (see `certmon unit "
		    "list`)", s->trust_unit);
	if ((crl = malloc(CM_REV_LIST_MAX)) == NULL ||
	    (hosts = malloc(CM_REV_LIST_MAX)) == NULL) {
		rc = cm_err_set(err, CM_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = normalise_lines(s->crl_uris, crl, CM_REV_LIST_MAX, "CRL URIs",
	    err)) != CM_OK ||
	    (rc = normalise_lines(s->allow_hosts, hosts, CM_REV_LIST_MAX,
	    "allowed hosts", err)) != CM_OK ||
	    (rc = cm_revocation_settings_load(st, &old, err)) != CM_OK)
		goto out;
	change_int(&c, "revocation.ocsp", old.ocsp, s->ocsp != 0);
	change_text(&c, "revocation.uri_source", sources[old.uri_source],
	    sources[s->uri_source]);
	change_text(&c, "revocation.uri", old.uri, s->uri);
	change_int(&c, "revocation.check", old.check, s->check != 0);
	change_int(&c, "revocation.every", old.every, s->every);
	change_int(&c, "revocation.crl", old.crl, s->crl != 0);
	change_text(&c, "revocation.crl_uris", old.crl_uris, crl);
	change_text(&c, "revocation.trust_unit", old.trust_unit, s->trust_unit);
	change_int(&c, "revocation.require_nonce", old.require_nonce,
	    s->require_nonce != 0);
	change_int(&c, "revocation.skew", old.skew, s->skew);
	change_int(&c, "revocation.timeout", old.timeout, s->timeout);
	change_int(&c, "revocation.cache_max", old.cache_max, s->cache_max);
	change_text(&c, "revocation.allow_hosts", old.allow_hosts, hosts);
	if (c.n > 0)
		rc = cm_store_settings_set(st, c.keys, c.vals, c.n, actor, now, err);
out:
	free(crl);
	free(hosts);
	return rc;
}

void
cm_params_settings_default(struct cm_params_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->validity_check_frequency = 86400;
}

enum cm_status
cm_params_settings_load(struct cm_store *st, struct cm_params_settings *s,
    struct cm_err *err)
{
	enum cm_status rc;

	cm_params_settings_default(s);
	if ((rc = get_bool(st, "params.cert_validity_check",
	    &s->cert_validity_check, err)) != CM_OK ||
	    (rc = get_int(st, "params.validity_check_frequency",
	    &s->validity_check_frequency, err)) != CM_OK ||
	    (rc = get_bool(st, "params.common_criteria", &s->common_criteria,
	    err)) != CM_OK)
		return rc;
	return CM_OK;
}

enum cm_status
cm_params_settings_check(const struct cm_params_settings *s,
    struct cm_err *err)
{
	if (!hours_in_range(s->validity_check_frequency))
		return cm_err_set(err, CM_ERR_INVALID, "Validity Check Frequency of "
		    "%" PRId64 " s is out of range: 1 hour to 30 days, in whole "
		    "hours", s->validity_check_frequency);
	return CM_OK;
}

enum cm_status
cm_params_settings_save(struct cm_store *st,
    const struct cm_params_settings *s, const char *actor, cm_time now,
    struct cm_err *err)
{
	struct cm_params_settings old;
	struct changes c;
	enum cm_status rc;

	memset(&c, 0, sizeof(c));
	if ((rc = cm_params_settings_check(s, err)) != CM_OK ||
	    (rc = cm_params_settings_load(st, &old, err)) != CM_OK)
		return rc;
	change_int(&c, "params.cert_validity_check", old.cert_validity_check,
	    s->cert_validity_check != 0);
	change_int(&c, "params.validity_check_frequency",
	    old.validity_check_frequency, s->validity_check_frequency);
	change_int(&c, "params.common_criteria", old.common_criteria,
	    s->common_criteria != 0);
	if (c.n == 0)
		return CM_OK;
	return cm_store_settings_set(st, c.keys, c.vals, c.n, actor, now, err);
}
