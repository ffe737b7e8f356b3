/* Unit tests of lib/store: schema, units, the upload rules (table-driven),
 * lookups by fingerprint prefix, transactions, settings and events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "certmon/store.h"
#include "mint.h"

#define T0 ((cm_time)1800000000)
#define DAY ((cm_time)86400)

struct fixture {
	char dir[64];
	char path[96];
	struct cm_store *st;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct cm_err err;

	snprintf(f->dir, sizeof(f->dir), "/tmp/certmon-store-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/s.db", f->dir);
	assert_int_equal(cm_store_open(f->path, T0, &f->st, &err), CM_OK);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	cm_store_close(f->st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static int
count_rows(const struct cm_cert_row *r, void *arg)
{
	(void)r;
	(*(int *)arg)++;
	return 0;
}

static int
rows(struct cm_store *st, const char *unit, int history)
{
	struct cm_cert_filter flt;
	struct cm_err err;
	int n = 0;

	memset(&flt, 0, sizeof(flt));
	flt.unit = unit;
	flt.include_history = history;
	assert_int_equal(cm_store_cert_list(st, &flt, count_rows, &n, &err), CM_OK);
	return n;
}

/* Uploads one minted certificate; returns the status and the action. */
static enum cm_status
put(struct cm_store *st, const char *unit, const struct mint_spec *s,
    enum cm_upload_action *action, struct cm_err *err)
{
	struct cm_cert_list l = {NULL, 0, 0, 0};
	struct cm_upload_report rep;
	enum cm_status rc;

	assert_int_equal(cm_cert_list_push(&l, mint(s)), CM_OK);
	assert_non_null(l.v[0]);
	rc = cm_store_upload(st, unit, &l, NULL, "test", T0, &rep, err);
	if (rc == CM_OK && action != NULL)
		*action = rep.v[0].action;
	cm_upload_report_free(&rep);
	cm_cert_list_clear(&l);
	return rc;
}

static void
test_seeded_units(void **state)
{
	struct fixture *f = *state;
	struct cm_unit *u = NULL, one;
	struct cm_err err;
	size_t n;

	assert_int_equal(cm_store_unit_list(f->st, &u, &n, &err), CM_OK);
	assert_int_equal(n, 15);
	free(u);
	assert_int_equal(cm_store_unit_get(f->st, "Phone-trust", &one, &err), CM_OK);
	assert_int_equal(one.kind, CM_UNIT_TRUST);
	assert_int_equal(one.created_at, T0);
	assert_int_equal(cm_store_unit_get(f->st, "lsc", &one, &err), CM_OK);
	assert_int_equal(one.kind, CM_UNIT_LSC);
	assert_int_equal(cm_store_unit_get(f->st, "nope", &one, &err),
	    CM_ERR_NOTFOUND);
	assert_int_equal(cm_store_schema_version(f->st), 6);
}

/* The upload rules, as a sequence of uploads into one store. */
static void
test_upload_rules(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *unit;
		struct mint_spec cert;
		enum cm_status rc;
		enum cm_upload_action action;
		const char *unit_check;
		int current, all;   /* rows in unit_check afterwards */
	} steps[] = {
		/* identity: first, again, newer replaces, older refused */
		{"tomcat", {"a.example", "CA", 1, T0, T0 + 90 * DAY, 0},
		    CM_OK, CM_UPLOAD_ADDED, "tomcat", 1, 1},
		{"tomcat", {"a.example", "CA", 1, T0, T0 + 90 * DAY, 0},
		    CM_OK, CM_UPLOAD_UNCHANGED, "tomcat", 1, 1},
		{"tomcat", {"a.example", "CA", 2, T0 + DAY, T0 + 91 * DAY, 0},
		    CM_OK, CM_UPLOAD_REPLACED, "tomcat", 1, 2},
		{"tomcat", {"a.example", "CA", 3, T0 - DAY, T0 + 95 * DAY, 0},
		    CM_ERR_CONFLICT, 0, "tomcat", 1, 2},
		/* same notBefore is not newer */
		{"tomcat", {"a.example", "CA", 4, T0 + DAY, T0 + 92 * DAY, 0},
		    CM_ERR_CONFLICT, 0, "tomcat", 1, 2},
		/* same issuer + serial, other contents: refused */
		{"tomcat", {"a.example", "CA", 2, T0 + 2 * DAY, T0 + 99 * DAY, 0},
		    CM_ERR_CONFLICT, 0, "tomcat", 1, 2},
		/* another issuer is another certificate line */
		{"tomcat", {"a.example", "Other CA", 5, T0, T0 + 90 * DAY, 0},
		    CM_OK, CM_UPLOAD_ADDED, "tomcat", 2, 3},
		/* trust units keep both */
		{"tomcat-trust", {"root", NULL, 7, T0, T0 + 900 * DAY, 1},
		    CM_OK, CM_UPLOAD_ADDED, "tomcat-trust", 1, 1},
		{"tomcat-trust", {"root", NULL, 8, T0 + DAY, T0 + 990 * DAY, 1},
		    CM_OK, CM_UPLOAD_ADDED, "tomcat-trust", 2, 2},
		{"tomcat-trust", {"root", NULL, 9, T0 - DAY, T0 + 99 * DAY, 1},
		    CM_OK, CM_UPLOAD_ADDED, "tomcat-trust", 3, 3},
		/* lsc units follow the identity rule */
		{"lsc", {"SEP001122", "CAPF", 10, T0, T0 + 90 * DAY, 0},
		    CM_OK, CM_UPLOAD_ADDED, "lsc", 1, 1},
		{"lsc", {"SEP001122", "CAPF", 11, T0 + DAY, T0 + 90 * DAY, 0},
		    CM_OK, CM_UPLOAD_REPLACED, "lsc", 1, 2},
		/* without a CN, the whole subject names the line */
		{"ipsec", {NULL, "CA", 12, T0, T0 + 90 * DAY, 0},
		    CM_OK, CM_UPLOAD_ADDED, "ipsec", 1, 1},
		{"ipsec", {NULL, "CA", 13, T0 + DAY, T0 + 90 * DAY, 0},
		    CM_OK, CM_UPLOAD_REPLACED, "ipsec", 1, 2},
		/* expired certificates are accepted */
		{"TVS", {"old.example", "CA", 14, T0 - 90 * DAY, T0 - DAY, 0},
		    CM_OK, CM_UPLOAD_ADDED, "TVS", 1, 1},
		/* unknown unit */
		{"nope", {"x.example", "CA", 15, T0, T0 + DAY, 0},
		    CM_ERR_NOTFOUND, 0, "tomcat", 2, 3},
	};

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		enum cm_upload_action action = 99;
		struct cm_err err = {CM_OK, ""};
		enum cm_status rc = put(f->st, steps[i].unit, &steps[i].cert,
		    &action, &err);

		if (rc != steps[i].rc)
			fail_msg("step %zu: status %d, want %d (%s)", i, rc,
			    steps[i].rc, err.msg);
		if (rc == CM_OK)
			assert_int_equal(action, steps[i].action);
		else
			assert_true(strlen(err.msg) > 10);
		assert_int_equal(rows(f->st, steps[i].unit_check, 0),
		    steps[i].current);
		assert_int_equal(rows(f->st, steps[i].unit_check, 1), steps[i].all);
	}
}

static void
test_upload_is_one_transaction(void **state)
{
	struct fixture *f = *state;
	struct mint_spec ok = {"ok.example", "CA", 1, T0, T0 + DAY * 9, 0};
	struct mint_spec v2 = {"dup.example", "CA", 3, T0 + DAY, T0 + DAY * 9, 0};
	struct mint_spec v1 = {"dup.example", "CA", 2, T0, T0 + DAY * 9, 0};
	struct cm_cert_list l = {NULL, 0, 0, 0};
	struct cm_upload_report rep;
	struct cm_err err;

	/* the third certificate is older than the second: all refused */
	cm_cert_list_push(&l, mint(&ok));
	cm_cert_list_push(&l, mint(&v2));
	cm_cert_list_push(&l, mint(&v1));
	assert_int_equal(cm_store_upload(f->st, "tomcat", &l, NULL, "t", T0, &rep,
	    &err), CM_ERR_CONFLICT);
	assert_non_null(strstr(err.msg, "not newer"));
	assert_int_equal(rows(f->st, NULL, 1), 0);
	/* and inside an outer transaction, the outer commit rolls back too */
	assert_int_equal(cm_store_begin(f->st, &err), CM_OK);
	assert_int_equal(put(f->st, "tomcat", &ok, NULL, &err), CM_OK);
	assert_int_equal(put(f->st, "tomcat", &v2, NULL, &err), CM_OK);
	assert_int_equal(put(f->st, "tomcat", &v1, NULL, &err), CM_ERR_CONFLICT);
	assert_int_equal(cm_store_commit(f->st, &err), CM_ERR_STORE);
	assert_int_equal(rows(f->st, NULL, 1), 0);
	cm_cert_list_clear(&l);
}

struct found {
	char unit[80];
	char fp[CM_FP_HEX_LEN];
	size_t der_len;
};

static int
remember(const struct cm_cert_row *r, void *arg)
{
	struct found *fd = arg;

	snprintf(fd->unit, sizeof(fd->unit), "%s", r->unit);
	snprintf(fd->fp, sizeof(fd->fp), "%s", r->fingerprint);
	fd->der_len = r->der_len;
	return 0;
}

static void
test_find_by_prefix(void **state)
{
	struct fixture *f = *state;
	struct mint_spec s = {"find.example", "CA", 1, T0, T0 + DAY * 9, 0};
	struct cm_cert *c = mint(&s);
	struct cm_cert_list l = {NULL, 0, 0, 0};
	struct cm_upload_report rep;
	struct found fd;
	struct cm_err err;
	char prefix[16], upper[CM_FP_HEX_LEN * 2];
	char fp_out[CM_FP_HEX_LEN], unit_out[CM_UNIT_NAME_MAX + 1];

	snprintf(prefix, sizeof(prefix), "%.8s", c->fp_hex);
	/* the colon-separated upper-case form works too */
	for (int i = 0; i < 4; i++)
		sprintf(upper + 3 * i, "%c%c:", c->fp_hex[2 * i] - 32 *
		    (c->fp_hex[2 * i] >= 'a'), c->fp_hex[2 * i + 1] - 32 *
		    (c->fp_hex[2 * i + 1] >= 'a'));
	cm_cert_list_push(&l, c);
	assert_int_equal(cm_store_upload(f->st, "tomcat", &l, NULL, "t", T0, &rep,
	    &err), CM_OK);
	cm_upload_report_free(&rep);
	assert_int_equal(cm_store_upload(f->st, "CAPF", &l, NULL, "t", T0, &rep,
	    &err), CM_OK);
	cm_upload_report_free(&rep);

	assert_int_equal(cm_store_cert_find(f->st, prefix, NULL, remember, &fd,
	    &err), CM_ERR_CONFLICT);
	assert_non_null(strstr(err.msg, "several units"));
	assert_non_null(strstr(err.msg, "CAPF"));
	memset(&fd, 0, sizeof(fd));
	assert_int_equal(cm_store_cert_find(f->st, upper, "CAPF", remember, &fd,
	    &err), CM_OK);
	assert_string_equal(fd.unit, "CAPF");
	assert_string_equal(fd.fp, c->fp_hex);
	assert_int_equal(fd.der_len, c->der_len);
	assert_int_equal(cm_store_cert_find(f->st, "zz", NULL, remember, &fd,
	    &err), CM_ERR_INVALID);
	assert_int_equal(cm_store_cert_find(f->st, prefix, "TVS", remember, &fd,
	    &err), CM_ERR_NOTFOUND);
	assert_int_equal(cm_store_cert_delete(f->st, prefix, "tomcat", "t", T0,
	    fp_out, unit_out, &err), CM_OK);
	assert_string_equal(unit_out, "tomcat");
	assert_int_equal(cm_store_cert_find(f->st, prefix, NULL, remember, &fd,
	    &err), CM_OK);
	assert_string_equal(fd.unit, "CAPF");
	cm_cert_list_clear(&l);
}

static void
test_ambiguous_prefix(void **state)
{
	struct fixture *f = *state;
	struct found fd;
	struct cm_err err;
	char seen[16] = {0};
	int dup = -1;

	/* 17 certificates: two of them share a first hex digit */
	for (long i = 0; i < 17; i++) {
		struct mint_spec s = {"amb.example", "CA", 100 + i, T0, T0 + DAY, 0};
		struct cm_cert *c = mint(&s);
		struct cm_cert_list l = {NULL, 0, 0, 0};
		struct cm_upload_report rep;
		int d = c->fp_hex[0] <= '9' ? c->fp_hex[0] - '0' : c->fp_hex[0] - 'a' + 10;

		if (seen[d]++ && dup < 0)
			dup = d;
		cm_cert_list_push(&l, c);
		assert_int_equal(cm_store_upload(f->st, "tomcat-trust", &l, NULL, "t",
		    T0, &rep, &err), CM_OK);
		cm_upload_report_free(&rep);
		cm_cert_list_clear(&l);
	}
	assert_true(dup >= 0);
	char prefix[2] = {"0123456789abcdef"[dup], 0};
	assert_int_equal(cm_store_cert_find(f->st, prefix, NULL, remember, &fd,
	    &err), CM_ERR_CONFLICT);
	assert_non_null(strstr(err.msg, "ambiguous"));
}

static void
test_unit_add_remove(void **state)
{
	struct fixture *f = *state;
	struct mint_spec s = {"u.example", "CA", 1, T0, T0 + DAY, 0};
	struct cm_err err;
	struct cm_unit u;

	assert_int_equal(cm_store_unit_add(f->st, "web", CM_UNIT_IDENTITY, "t", T0,
	    &err), CM_OK);
	assert_int_equal(cm_store_unit_add(f->st, "web", CM_UNIT_IDENTITY, "t", T0,
	    &err), CM_ERR_CONFLICT);
	assert_int_equal(cm_store_unit_add(f->st, "x-trust", CM_UNIT_LSC, "t", T0,
	    &err), CM_ERR_INVALID);
	assert_int_equal(cm_store_unit_add(f->st, "", CM_UNIT_LSC, "t", T0,
	    &err), CM_ERR_INVALID);
	assert_int_equal(cm_store_unit_add(f->st, "a/b", CM_UNIT_LSC, "t", T0,
	    &err), CM_ERR_INVALID);
	assert_int_equal(put(f->st, "web", &s, NULL, &err), CM_OK);
	assert_int_equal(cm_store_unit_remove(f->st, "web", 0, "t", T0, &err),
	    CM_ERR_CONFLICT);
	assert_int_equal(cm_store_unit_remove(f->st, "web", 1, "t", T0, &err),
	    CM_OK);
	assert_int_equal(cm_store_unit_get(f->st, "web", &u, &err),
	    CM_ERR_NOTFOUND);
	assert_int_equal(rows(f->st, NULL, 1), 0);
}

static int
collect_msg(const struct cm_event *ev, void *arg)
{
	strncat(arg, ev->message, 500);
	strcat(arg, "|");
	return 0;
}

static void
test_settings_and_secret_events(void **state)
{
	struct fixture *f = *state;
	const char *keys[] = {"smtp.host", "smtp.password"};
	const char *vals[] = {"mail.example", "hunter2"};
	struct cm_event_filter ef;
	char log[4096] = "", *v = NULL;
	struct cm_err err;

	assert_int_equal(cm_store_setting_get(f->st, "smtp.host", &v, &err), CM_OK);
	assert_null(v);
	assert_int_equal(cm_store_settings_set(f->st, keys, vals, 2, "t", T0,
	    &err), CM_OK);
	assert_int_equal(cm_store_setting_get(f->st, "smtp.host", &v, &err), CM_OK);
	assert_string_equal(v, "mail.example");
	free(v);
	memset(&ef, 0, sizeof(ef));
	ef.name = "setting.changed";
	assert_int_equal(cm_store_event_list(f->st, &ef, collect_msg, log, &err),
	    CM_OK);
	assert_non_null(strstr(log, "mail.example"));
	assert_null(strstr(log, "hunter2"));
}

static void
test_newer_schema_is_refused(void **state)
{
	struct fixture *f = *state;
	struct cm_store *st = NULL;
	struct cm_err err;
	sqlite3 *db;

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL,
	    NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(cm_store_open(f->path, T0, &st, &err), CM_ERR_STORE);
	assert_non_null(strstr(err.msg, "newer"));
	assert_null(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_seeded_units, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upload_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upload_is_one_transaction, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_find_by_prefix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ambiguous_prefix, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_unit_add_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_settings_and_secret_events, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_newer_schema_is_refused, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
