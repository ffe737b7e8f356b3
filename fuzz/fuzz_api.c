/*
 * fuzz_api.c - libFuzzer target of the REST API's JSON bodies: the bytes
 * are parsed as certmond parses a PUT body (jansson, duplicate keys
 * refused) and applied to the revocation settings and the Enterprise
 * Parameters as the API applies them, then validated.
 *
 * Besides crashes (ASan, UBSan) it checks that whatever the body, the
 * settings that pass validation serialise to JSON that applies, passes
 * validation and serialises to the same JSON again, and that error
 * messages are one line.
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
	json_decref(body);
	return 0;
}
