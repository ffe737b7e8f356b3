/* settings.c - typed, validated settings kept in the store. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	enum cm_status rc;
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
	if ((rc = cm_mail_parse_list(s->emails, &list, err)) != CM_OK)
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
