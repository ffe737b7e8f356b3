/*
 * settings.h - the typed, validated settings of the services, kept in the
 * store. Defaults come from DESIGN.md; a setting never written reads as its
 * default.
 */
#ifndef CERTMON_SETTINGS_H
#define CERTMON_SETTINGS_H

#include <stdint.h>

#include "certmon/err.h"
#include "certmon/store.h"

/* Certificate Expiry Monitor ("Certificate Monitor" page). */
struct cm_monitor_settings {
	int start_days;          /* Notification Start Time, 1-365 */
	int64_t frequency;       /* Notification Frequency, seconds, 1 h-30 d */
	int email_enabled;       /* Enable E-mail notification */
	int lsc_enabled;         /* Enable LSC Monitoring */
	char emails[4096];       /* E-mail IDs, ';'-separated, validated */
};

#define CM_MONITOR_START_DAYS_DEFAULT 30
#define CM_MONITOR_FREQUENCY_DEFAULT  86400

/* Fills *s with the defaults. */
void cm_monitor_settings_default(struct cm_monitor_settings *s);

/* Reads the monitor settings (defaults for those never set). */
enum cm_status cm_monitor_settings_load(struct cm_store *st,
    struct cm_monitor_settings *s, struct cm_err *err);

#endif
