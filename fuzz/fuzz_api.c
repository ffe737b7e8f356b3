/*
 * fuzz_api.c - libFuzzer target of the REST API's JSON bodies: the bytes
 * are parsed as certmond parses a PUT body (jansson, duplicate keys
 * refused) and applied to the revocation settings, the Enterprise
 * Parameters, the monitor settings and the SMTP settings as the API
 * applies them (cm_*_settings_from_json), then validated.
 *
 * Besides crashes (ASan, UBSan) it checks that whatever the body, the
 * settings that pass validation serialise to JSON that applies, passes
 * validation and serialises to the same JSON again, that the SMTP
 * password never appears in a serialisation, and that error messages are
 * one line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "certmon/revocation_run.h"
#include "certmon/settings.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
one_line(const struct cm_err *err)
{
	if (strchr(err->msg, '\n') != NULL || strchr(err->msg, '\r') != NULL)
		abort();
}

static int
monitor_equal(const struct cm_monitor_settings *a,
    const struct cm_monitor_settings *b)
{
	return a->start_days == b->start_days && a->frequency == b->frequency &&
	    a->email_enabled == b->email_enabled &&
	    a->lsc_enabled == b->lsc_enabled &&
	    strcmp(a->emails, b->emails) == 0 && a->retry_cap == b->retry_cap &&
	    a->give_up_after == b->give_up_after;
}

static int
smtp_equal(const struct cm_smtp_settings *a, const struct cm_smtp_settings *b)
{
	return strcmp(a->host, b->host) == 0 && a->port == b->port &&
	    a->tls == b->tls && strcmp(a->user, b->user) == 0 &&
	    strcmp(a->password, b->password) == 0 &&
	    strcmp(a->from, b->from) == 0 && strcmp(a->ca_file, b->ca_file) == 0;
}

/* The monitor settings: what validates round-trips through JSON. */
static void
monitor(json_t *body)
{
	struct cm_monitor_settings ms, again;
	struct cm_err err = {CM_OK, ""};
	json_t *back = NULL, *again_json = NULL;

	cm_monitor_settings_default(&ms);
	if (cm_monitor_settings_from_json(body, &ms, &err) != CM_OK ||
	    cm_monitor_settings_check(&ms, &err) != CM_OK) {
		one_line(&err);
		return;
	}
	back = cm_monitor_settings_json(&ms);
	cm_monitor_settings_default(&again);
	if (back == NULL ||
	    cm_monitor_settings_from_json(back, &again, &err) != CM_OK ||
	    cm_monitor_settings_check(&again, &err) != CM_OK ||
	    !monitor_equal(&ms, &again))
		abort();
	again_json = cm_monitor_settings_json(&again);
	if (again_json == NULL || !json_equal(back, again_json))
		abort();
	json_decref(again_json);
	json_decref(back);
}

/* The SMTP settings: what validates round-trips through JSON (but for the
 * password, which a serialisation never carries: the store keeps it when
 * a PUT leaves it out). */
static void
smtp(json_t *body)
{
	struct cm_smtp_settings ss, again, other;
	struct cm_err err = {CM_OK, ""};
	json_t *back = NULL, *again_json = NULL, *other_json = NULL;

	cm_smtp_settings_default(&ss);
	if (cm_smtp_settings_from_json(body, &ss, &err) != CM_OK ||
	    cm_smtp_settings_check(&ss, &err) != CM_OK) {
		one_line(&err);
		return;
	}
	back = cm_smtp_settings_json(&ss);
	if (back == NULL || json_object_get(back, "password") != NULL ||
	    !json_is_boolean(json_object_get(back, "password_set")) ||
	    json_is_true(json_object_get(back, "password_set")) !=
	    (ss.password[0] != '\0'))
		abort();
	/* nor anywhere else in it: the same settings with another password
	 * serialise to the same JSON */
	other = ss;
	snprintf(other.password, sizeof(other.password), "%s",
	    ss.password[0] != '\0' ? "x" : "");
	if ((other_json = cm_smtp_settings_json(&other)) == NULL ||
	    !json_equal(back, other_json))
		abort();
	cm_smtp_settings_default(&again);
	memcpy(again.password, ss.password, sizeof(again.password));
	if (cm_smtp_settings_from_json(back, &again, &err) != CM_OK ||
	    cm_smtp_settings_check(&again, &err) != CM_OK ||
	    !smtp_equal(&ss, &again))
		abort();
	again_json = cm_smtp_settings_json(&again);
	if (again_json == NULL || !json_equal(back, again_json))
		abort();
	json_decref(other_json);
	json_decref(again_json);
	json_decref(back);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cm_revocation_settings rs, again;
	struct cm_params_settings ps;
	struct cm_err err = {CM_OK, ""};
	json_error_t jerr;
	json_t *body, *back, *again_json;

	if (size > 64 * 1024)
		return 0;
	body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
	if (body == NULL || !json_is_object(body)) {
		json_decref(body);
		return 0;
	}
	cm_revocation_settings_default(&rs);
	if (cm_revocation_settings_from_json(body, &rs, &err) == CM_OK &&
	    cm_revocation_settings_check(&rs, &err) == CM_OK) {
		/* what validates serialises to JSON that applies and
		 * serialises to the same JSON again (lists are normalised on
		 * the way out: trimmed, empty lines dropped) */
		back = cm_revocation_settings_json(&rs);
		cm_revocation_settings_default(&again);
		if (back == NULL ||
		    cm_revocation_settings_from_json(back, &again, &err) != CM_OK ||
		    cm_revocation_settings_check(&again, &err) != CM_OK)
			abort();
		again_json = cm_revocation_settings_json(&again);
		if (again_json == NULL || !json_equal(back, again_json))
			abort();
		json_decref(again_json);
		json_decref(back);
	} else {
		one_line(&err);
	}
	cm_err_clear(&err);
	cm_params_settings_default(&ps);
	if (cm_params_settings_from_json(body, &ps, &err) != CM_OK ||
	    cm_params_settings_check(&ps, &err) != CM_OK)
		one_line(&err);
	monitor(body);
	smtp(body);
	json_decref(body);
	return 0;
}
