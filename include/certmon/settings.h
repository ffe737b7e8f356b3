/*
 * settings.h - the typed, validated settings of the services, kept in the
 * store. Defaults come from DESIGN.md; a setting never written reads as its
 * default. Saving validates everything first and writes only what changed,
 * in one transaction (one audit event per changed key).
 */
#ifndef CERTMON_SETTINGS_H
#define CERTMON_SETTINGS_H

#include <stdint.h>

#include <jansson.h>

#include "certmon/err.h"
#include "certmon/mail.h"
#include "certmon/store.h"

/* Certificate Expiry Monitor ("Certificate Monitor" page). */
struct cm_monitor_settings {
	int start_days;          /* Notification Start Time, 1-365 */
	int64_t frequency;       /* Notification Frequency, seconds, 1 h-30 d */
	int email_enabled;       /* Enable E-mail notification */
	int lsc_enabled;         /* Enable LSC Monitoring */
	char emails[4096];       /* E-mail IDs, ';'-separated, validated */
	int64_t retry_cap;       /* outbox backoff cap, seconds, 1 min-1 d */
	int64_t give_up_after;   /* outbox: stop retrying after, 1 h-30 d */
};

#define CM_MONITOR_START_DAYS_DEFAULT 30
#define CM_MONITOR_FREQUENCY_DEFAULT  86400
#define CM_MONITOR_RETRY_CAP_DEFAULT  3600
#define CM_MONITOR_GIVE_UP_DEFAULT    (7 * 86400)

/* Fills *s with the defaults. */
void cm_monitor_settings_default(struct cm_monitor_settings *s);

/* Reads the monitor settings (defaults for those never set). */
enum cm_status cm_monitor_settings_load(struct cm_store *st,
    struct cm_monitor_settings *s, struct cm_err *err);

/* Returns CM_OK when every field is valid, else CM_ERR_INVALID with a
 * message naming the field, the value and the rule. Pure. */
enum cm_status cm_monitor_settings_check(const struct cm_monitor_settings *s,
    struct cm_err *err);

/* Validates s and writes the fields that differ from the store. */
enum cm_status cm_monitor_settings_save(struct cm_store *st,
    const struct cm_monitor_settings *s, const char *actor, cm_time now,
    struct cm_err *err);

/* Returns the settings as an object (the REST API's and `certmon monitor
 * show --json`'s shape): start_days, frequency ("1d"), email, lsc, emails,
 * retry_cap ("1h"), give_up_after ("7d"). Caller owns the reference; NULL
 * when out of memory. */
json_t *cm_monitor_settings_json(const struct cm_monitor_settings *s);

/* Applies the fields present in obj (the shape above; durations as "12h" or
 * "1d" text, a start_days out of 0-100000 becomes 0) to *s. CM_ERR_INVALID
 * naming the field when one has the wrong type or form (*s may then be
 * partly changed); other keys are ignored. Validation of the values is
 * cm_monitor_settings_check's. */
enum cm_status cm_monitor_settings_from_json(json_t *obj,
    struct cm_monitor_settings *s, struct cm_err *err);

/* SMTP server for notifications. */
struct cm_smtp_settings {
	char host[256];
	int port;                /* 0 = the default of the TLS mode */
	enum cm_smtp_tls tls;
	char user[256];
	char password[256];
	char from[CM_MAIL_ADDR_MAX + 1];
	char ca_file[1024];      /* PEM CA bundle; "" = system store */
};

/* Fills *s with the defaults (nothing configured, STARTTLS). */
void cm_smtp_settings_default(struct cm_smtp_settings *s);

enum cm_status cm_smtp_settings_load(struct cm_store *st,
    struct cm_smtp_settings *s, struct cm_err *err);

/* Validates: host set (no spaces or control characters), port 0-65535,
 * From a valid mailbox, a user only with TLS, a password only with a
 * user. Pure. */
enum cm_status cm_smtp_settings_check(const struct cm_smtp_settings *s,
    struct cm_err *err);

enum cm_status cm_smtp_settings_save(struct cm_store *st,
    const struct cm_smtp_settings *s, const char *actor, cm_time now,
    struct cm_err *err);

/* Returns the settings as an object: host, port, tls ("starttls"), user,
 * password_set (a boolean: the password itself is never in it), from,
 * ca_file. Caller owns the reference; NULL when out of memory. */
json_t *cm_smtp_settings_json(const struct cm_smtp_settings *s);

/* Applies the fields present in obj (the shape above, with "password" as a
 * string to set it; "password_set" is ignored) to *s. CM_ERR_INVALID
 * naming the field when one has the wrong type, is too long, a port outside
 * 0-65535 or a tls other than none, starttls or tls (*s may then be partly
 * changed); other keys are ignored. Validation is
 * cm_smtp_settings_check's. */
enum cm_status cm_smtp_settings_from_json(json_t *obj,
    struct cm_smtp_settings *s, struct cm_err *err);

/* Points cfg at the fields of s (valid while s lives). */
void cm_smtp_settings_config(const struct cm_smtp_settings *s,
    struct cm_smtp_config *cfg);

/* "none", "starttls", "tls"; and the reverse (0, or -1 when unknown). */
const char *cm_smtp_tls_name(enum cm_smtp_tls tls);
int cm_smtp_tls_parse(const char *name, enum cm_smtp_tls *out);

/* Parses "on"/"off" (also "true"/"false", "1"/"0"); 0 or -1. */
int cm_bool_parse(const char *text, int *out);

/* ---- Certificate Revocation and Enterprise Parameters ------------------- */

/* Where the OCSP URL of a check comes from. */
enum cm_uri_source {
	CM_URI_FROM_CERT = 0,    /* "Use OCSP URI from Certificate" (AIA) */
	CM_URI_CONFIGURED        /* "Use configured OCSP URI" */
};

#define CM_REV_URI_MAX 1024
#define CM_REV_LIST_MAX 4096

#define CM_REV_EVERY_DEFAULT      86400          /* Check Every: 24 h */
#define CM_REV_SKEW_DEFAULT       300            /* 5 minutes */
#define CM_REV_TIMEOUT_DEFAULT    5              /* seconds */
#define CM_REV_CACHE_MAX_DEFAULT  (7 * 86400)    /* 7 days */
#define CM_REV_TRUST_UNIT_DEFAULT "tomcat-trust"

/* Certificate Revocation ("Certificate Revocation" page) plus certmon's
 * own options. Store keys (text values): revocation.ocsp "1"/"0",
 * revocation.uri_source "cert"|"configured", revocation.uri,
 * revocation.check "1"/"0", revocation.every (seconds), revocation.crl
 * "1"/"0", revocation.crl_uris (one URL a line), revocation.trust_unit,
 * revocation.require_nonce "1"/"0", revocation.skew, revocation.timeout,
 * revocation.cache_max (seconds), revocation.allow_hosts (one host a
 * line). */
struct cm_revocation_settings {
	int ocsp;                        /* Enable OCSP [off] */
	enum cm_uri_source uri_source;   /* [from the certificate] */
	char uri[CM_REV_URI_MAX];        /* OCSP Configured URI: http(s);
					  * needed with CM_URI_CONFIGURED */
	int check;                       /* Enable Revocation Check [off] */
	int64_t every;                   /* Check Every, seconds: whole hours,
					  * 1 h-30 d [24 h] */
	int crl;                         /* Enable CRL [off] */
	char crl_uris[CM_REV_LIST_MAX];  /* CRL URIs, one a line; "" = the
					  * certificate's CDP */
	char trust_unit[CM_UNIT_NAME_MAX + 1];  /* the unit of the designated
					  * OCSP responders; must exist
					  * [tomcat-trust] */
	int require_nonce;               /* [off] */
	int64_t skew;                    /* clock skew, seconds, 0-3600 [300] */
	int64_t timeout;                 /* deadline of one exchange, seconds,
					  * 1-60 [5] */
	int64_t cache_max;               /* longest an answer is cached,
					  * seconds, 1 h-30 d [7 d] */
	char allow_hosts[CM_REV_LIST_MAX];   /* hosts that may be contacted,
					  * one a line ("*.example.com" for
					  * any name under it); "" = any */
};

/* Enterprise Parameters. Store keys: params.cert_validity_check "1"/"0",
 * params.validity_check_frequency (seconds), params.common_criteria
 * "1"/"0". */
struct cm_params_settings {
	int cert_validity_check;             /* [off] */
	int64_t validity_check_frequency;    /* seconds: whole hours,
					      * 1 h-30 d [24 h] */
	int common_criteria;                 /* Common Criteria mode [off] */
};

/* Fills *s with the defaults of DESIGN.md. */
void cm_revocation_settings_default(struct cm_revocation_settings *s);

/* Reads the revocation settings (defaults for those never set). */
enum cm_status cm_revocation_settings_load(struct cm_store *st,
    struct cm_revocation_settings *s, struct cm_err *err);

/* Returns CM_OK when every field is valid, else CM_ERR_INVALID with a
 * message naming the field, the value and the rule: URLs are absolute
 * http(s) URLs with a host (cm_revocation_url_valid), a configured URI is
 * needed with CM_URI_CONFIGURED, durations are in range, hosts are host
 * names. Does not look at the store (the trust unit's existence is checked
 * by cm_revocation_settings_save). Pure. */
enum cm_status cm_revocation_settings_check(
    const struct cm_revocation_settings *s, struct cm_err *err);

/* Validates s (and that the trust unit exists), and writes the fields that
 * differ from the store in one transaction; lists are stored normalised
 * (trimmed, one entry a line, no empty lines). Nothing is written on
 * failure. */
enum cm_status cm_revocation_settings_save(struct cm_store *st,
    const struct cm_revocation_settings *s, const char *actor, cm_time now,
    struct cm_err *err);

/* Fills *s with the defaults (everything off, 24 h). */
void cm_params_settings_default(struct cm_params_settings *s);

enum cm_status cm_params_settings_load(struct cm_store *st,
    struct cm_params_settings *s, struct cm_err *err);

/* Validates: Validity Check Frequency in whole hours, 1 h-30 d. Pure. */
enum cm_status cm_params_settings_check(const struct cm_params_settings *s,
    struct cm_err *err);

enum cm_status cm_params_settings_save(struct cm_store *st,
    const struct cm_params_settings *s, const char *actor, cm_time now,
    struct cm_err *err);

/* Returns 1 when url is an absolute http:// or https:// URL with a host
 * name (or address), an optional port 1-65535, no user info, no spaces or
 * control characters, shorter than CM_REV_URI_MAX; else 0. */
int cm_revocation_url_valid(const char *url);

/* Splits a one-entry-a-line list into out (trimmed copies, empty lines
 * left out; free with cm_setting_lines_free). CM_ERR_NOMEM only. */
enum cm_status cm_setting_lines(const char *text, struct cm_strlist *out,
    struct cm_err *err);

/* Frees the entries of a list from cm_setting_lines; leaves it empty. */
void cm_setting_lines_free(struct cm_strlist *l);

/* Parses a duration "N" or "Ns" (seconds), "Nm", "Nh", "Nd" (N >= 0) into
 * seconds. Returns 0, or -1 when malformed or above 10 years. */
int cm_duration_parse_any(const char *text, int64_t *seconds);

/* Formats seconds as "Nd", "Nh", "Nm" or "Ns" (the largest whole unit);
 * returns buf (at least 24 bytes). */
char *cm_duration_format_any(int64_t seconds, char *buf, size_t len);

#endif
