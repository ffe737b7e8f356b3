/* settings.c - typed, validated settings kept in the store. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certmon/settings.h"

void
cm_monitor_settings_default(struct cm_monitor_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->start_days = CM_MONITOR_START_DAYS_DEFAULT;
	s->frequency = CM_MONITOR_FREQUENCY_DEFAULT;
}

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

enum cm_status
cm_monitor_settings_load(struct cm_store *st, struct cm_monitor_settings *s,
    struct cm_err *err)
{
	int64_t start, email, lsc;
	char *emails = NULL;
	enum cm_status rc;

	cm_monitor_settings_default(s);
	start = s->start_days;
	email = s->email_enabled;
	lsc = s->lsc_enabled;
	if ((rc = get_int(st, "monitor.start_days", &start, err)) != CM_OK ||
	    (rc = get_int(st, "monitor.frequency", &s->frequency, err)) != CM_OK ||
	    (rc = get_int(st, "monitor.email", &email, err)) != CM_OK ||
	    (rc = get_int(st, "monitor.lsc", &lsc, err)) != CM_OK ||
	    (rc = cm_store_setting_get(st, "monitor.emails", &emails, err))
	    != CM_OK)
		goto out;
	s->start_days = (int)start;
	s->email_enabled = email != 0;
	s->lsc_enabled = lsc != 0;
	if (emails != NULL)
		snprintf(s->emails, sizeof(s->emails), "%s", emails);
out:
	free(emails);
	return rc;
}
