/*
 * fuzz_settings.c - libFuzzer target of the parsers of settings values
 * typed by administrators or sent to the REST API: ISO 8601 times,
 * durations, E-mail ID lists, single addresses, on/off values, fetch URLs.
 *
 * Besides crashes (ASan, UBSan) it checks what the headers promise: a
 * parsed time formats back to the same text, a parsed duration is positive
 * and whole hours, every address of a parsed list is itself valid, and an
 * error message is one line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "certmon/clock.h"
#include "certmon/fetch.h"
#include "certmon/mail.h"
#include "certmon/settings.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_one_line(const struct cm_err *err)
{
	if (strchr(err->msg, '\n') != NULL || strchr(err->msg, '\r') != NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cm_strlist list = {NULL, 0};
	struct cm_err err = {CM_OK, ""};
	char *text, buf[CM_TIME_TEXT_LEN];
	cm_time t;
	int64_t secs;
	int b;

	if (size > 8192)
		return 0;
	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	if (cm_time_parse(text, &t) == 0 &&
	    strcmp(cm_time_format(t, buf), text) != 0)
		abort();
	if (cm_duration_parse(text, &secs) == 0 &&
	    (secs <= 0 || secs % 3600 != 0))
		abort();
	(void)cm_bool_parse(text, &b);
	(void)cm_mail_address_valid(text);
	if (cm_mail_parse_list(text, &list, &err) == CM_OK) {
		for (size_t i = 0; i < list.n; i++)
			if (!cm_mail_address_valid(list.v[i]))
				abort();
	} else {
		check_one_line(&err);
	}
	cm_mail_list_free(&list);
	cm_err_clear(&err);
	if (cm_fetch_check_url(text, NULL, &err) != CM_OK)
		check_one_line(&err);
	free(text);
	return 0;
}
