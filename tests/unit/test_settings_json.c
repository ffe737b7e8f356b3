/* Unit tests of the JSON side of lib/settings: the monitor and SMTP
 * settings as the REST API reads and writes them (table of bodies: what
 * applies, what is refused and with which one-line message), and the SMTP
 * password never in a serialisation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "certmon/settings.h"

static json_t *
parse(const char *text)
{
	json_error_t jerr;
	json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);

	assert_non_null(j);
	return j;
}

static const struct {
	const char *body;
	const char *error;       /* NULL: applies */
} monitor_cases[] = {
	{"{}", NULL},
	{"{\"start_days\":45,\"frequency\":\"12h\",\"email\":true,"
	    "\"emails\":\"a@example.com\",\"retry_cap\":\"2h\","
	    "\"give_up_after\":\"3d\",\"unknown\":1}", NULL},
	{"{\"start_days\":\"45\"}", "\"start_days\" must be a number"},
	{"{\"frequency\":3600}", "\"frequency\" must be a duration like "
	    "\"12h\" or \"1d\""},
	{"{\"frequency\":\"90m\"}", "\"frequency\" must be a duration like "
	    "\"12h\" or \"1d\""},
	{"{\"email\":1}", "\"email\" must be true or false"},
	{"{\"lsc\":null}", "\"lsc\" must be true or false"},
	{"{\"emails\":[]}", "\"emails\" must be a string of at most 4095 "
	    "bytes"},
	{"{\"give_up_after\":\"\"}", "\"give_up_after\" must be a duration "
	    "like \"12h\" or \"1d\""},
};

static void
test_monitor_from_json(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(monitor_cases) / sizeof(monitor_cases[0]);
	    i++) {
		struct cm_monitor_settings s;
		struct cm_err err = {CM_OK, ""};
		json_t *body = parse(monitor_cases[i].body);
		enum cm_status rc;

		cm_monitor_settings_default(&s);
		rc = cm_monitor_settings_from_json(body, &s, &err);
		if (monitor_cases[i].error == NULL) {
			assert_int_equal(rc, CM_OK);
		} else {
			assert_int_equal(rc, CM_ERR_INVALID);
			assert_string_equal(err.msg, monitor_cases[i].error);
		}
		json_decref(body);
	}
}

static void
test_monitor_values_and_round_trip(void **state)
{
	struct cm_monitor_settings s, again;
	struct cm_err err = {CM_OK, ""};
	json_t *body = parse("{\"start_days\":45,\"frequency\":\"12h\","
	    "\"email\":true,\"lsc\":true,\"emails\":\"a@example.com\","
	    "\"retry_cap\":\"2h\",\"give_up_after\":\"3d\"}"), *back, *big;

	(void)state;
	cm_monitor_settings_default(&s);
	assert_int_equal(cm_monitor_settings_from_json(body, &s, &err), CM_OK);
	assert_int_equal(s.start_days, 45);
	assert_int_equal(s.frequency, 12 * 3600);
	assert_true(s.email_enabled && s.lsc_enabled);
	assert_string_equal(s.emails, "a@example.com");
	assert_int_equal(s.retry_cap, 7200);
	assert_int_equal(s.give_up_after, 3 * 86400);
	assert_int_equal(cm_monitor_settings_check(&s, &err), CM_OK);
	back = cm_monitor_settings_json(&s);
	cm_monitor_settings_default(&again);
	assert_int_equal(cm_monitor_settings_from_json(back, &again, &err),
	    CM_OK);
	assert_memory_equal(&s, &again, sizeof(s));
	/* a start_days out of any range becomes 0, which validation refuses */
	big = parse("{\"start_days\":9999999999}");
	assert_int_equal(cm_monitor_settings_from_json(big, &s, &err), CM_OK);
	assert_int_equal(s.start_days, 0);
	assert_int_equal(cm_monitor_settings_check(&s, &err), CM_ERR_INVALID);
	json_decref(big);
	json_decref(back);
	json_decref(body);
}

static const struct {
	const char *body;
	const char *error;
} smtp_cases[] = {
	{"{}", NULL},
	{"{\"host\":\"smtp.example.com\",\"port\":587,\"tls\":\"tls\"}", NULL},
	{"{\"port\":65536}", "\"port\" must be 0-65535"},
	{"{\"port\":-1}", "\"port\" must be 0-65535"},
	{"{\"port\":\"25\"}", "\"port\" must be 0-65535"},
	{"{\"tls\":\"ssl\"}", "\"tls\" must be none, starttls or tls"},
	{"{\"tls\":\"starttls-and-more\"}", "\"tls\" must be a string of at "
	    "most 15 bytes"},
	{"{\"host\":1}", "\"host\" must be a string of at most 255 bytes"},
	{"{\"password\":null}", "\"password\" must be a string of at most 255 "
	    "bytes"},
	{"{\"password_set\":false}", NULL},
};

static void
test_smtp_from_json(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(smtp_cases) / sizeof(smtp_cases[0]); i++) {
		struct cm_smtp_settings s;
		struct cm_err err = {CM_OK, ""};
		json_t *body = parse(smtp_cases[i].body);
		enum cm_status rc;

		cm_smtp_settings_default(&s);
		rc = cm_smtp_settings_from_json(body, &s, &err);
		if (smtp_cases[i].error == NULL) {
			assert_int_equal(rc, CM_OK);
		} else {
			assert_int_equal(rc, CM_ERR_INVALID);
			assert_string_equal(err.msg, smtp_cases[i].error);
		}
		json_decref(body);
	}
}

static void
test_smtp_password_never_serialised(void **state)
{
	struct cm_smtp_settings s;
	struct cm_err err = {CM_OK, ""};
	json_t *body = parse("{\"host\":\"smtp.example.com\",\"tls\":\"tls\","
	    "\"user\":\"certmon\",\"password\":\"hunter2-secret\","
	    "\"from\":\"certmon@example.com\"}"), *back;
	char *text;

	(void)state;
	cm_smtp_settings_default(&s);
	assert_int_equal(cm_smtp_settings_from_json(body, &s, &err), CM_OK);
	assert_string_equal(s.password, "hunter2-secret");
	assert_int_equal(s.tls, CM_SMTP_TLS_IMPLICIT);
	assert_int_equal(cm_smtp_settings_check(&s, &err), CM_OK);
	back = cm_smtp_settings_json(&s);
	text = json_dumps(back, JSON_COMPACT);
	assert_non_null(text);
	assert_null(strstr(text, "hunter2"));
	assert_null(json_object_get(back, "password"));
	assert_true(json_is_true(json_object_get(back, "password_set")));
	free(text);
	json_decref(back);
	json_decref(body);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_monitor_from_json),
		cmocka_unit_test(test_monitor_values_and_round_trip),
		cmocka_unit_test(test_smtp_from_json),
		cmocka_unit_test(test_smtp_password_never_serialised),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
