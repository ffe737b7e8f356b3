/*
 * settings.h - the typed, validated settings of the services, kept in the
 * store. Defaults come from DESIGN.md; a setting never written reads as its
 * default. Saving validates everything first and writes only what changed,
 * in one transaction (one audit event per changed key).
 */
#ifndef CERTMON_SETTINGS_H
#define CERTMON_SETTINGS_H

#include <stdint.h>

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

/* Points cfg at the fields of s (valid while s lives). */
void cm_smtp_settings_config(const struct cm_smtp_settings *s,
    struct cm_smtp_config *cfg);

/* "none", "starttls", "tls"; and the reverse (0, or -1 when unknown). */
const char *cm_smtp_tls_name(enum cm_smtp_tls tls);
int cm_smtp_tls_parse(const char *name, enum cm_smtp_tls *out);

/* Parses "on"/"off" (also "true"/"false", "1"/"0"); 0 or -1. */
int cm_bool_parse(const char *text, int *out);

#endif
