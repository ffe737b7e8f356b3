/*
 * Unit tests of the Certificate Revocation service's pieces that need no
 * network: the replacement rules of answers (table-driven, then through
 * the store functions), the CRL cache and issuer look-up of the store, the
 * typed settings (validation, save/load, JSON), and the schedule.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "certmon/revocation_run.h"
#include "certmon/settings.h"
#include "certmon/store.h"
#include "mint.h"

#define T0 ((cm_time)1800000000)
#define DAY ((cm_time)86400)

struct fixture {
	char dir[64];
	char path[96];
	struct cm_store *st;
	struct cm_cert *leaf, *ca;
};

static int
setup(void **state)
{
	static const struct mint_spec ca = {"Rev CA", NULL, 1, T0 - DAY,
	    T0 + 3650 * DAY, 1};
	static const struct mint_spec leaf = {"rev.example", "Rev CA", 0x42,
	    T0 - DAY, T0 + 365 * DAY, 0};
	struct fixture *f = calloc(1, sizeof(*f));
	struct cm_cert_list l = {NULL, 0, 0, 0};
	struct cm_upload_report rep = {NULL, 0};
	struct cm_err err;

	snprintf(f->dir, sizeof(f->dir), "/tmp/certmon-rev-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/s.db", f->dir);
	assert_int_equal(cm_store_open(f->path, T0, &f->st, &err), CM_OK);
	f->leaf = mint(&leaf);
	f->ca = mint(&ca);
	assert_non_null(f->leaf);
	assert_non_null(f->ca);
	/* the list borrows them for the upload */
	l.v = (struct cm_cert *[]){f->leaf};
	l.n = 1;
	assert_int_equal(cm_store_upload(f->st, "tomcat", &l, NULL, "test", T0,
	    &rep, &err), CM_OK);
	cm_upload_report_free(&rep);
	l.v = (struct cm_cert *[]){f->ca};
	assert_int_equal(cm_store_upload(f->st, "tomcat-trust", &l, NULL, "test",
	    T0, &rep, &err), CM_OK);
	cm_upload_report_free(&rep);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	cm_store_close(f->st);
	cm_cert_free(f->leaf);
	cm_cert_free(f->ca);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* ---- the rules ---------------------------------------------------------------- */

static struct cm_rev_record
rec(enum cm_rev_status s, cm_time this_update, cm_time produced,
    const char *reason)
{
	struct cm_rev_record r;

	memset(&r, 0, sizeof(r));
	r.status = s;
	r.this_update = this_update;
	r.produced_at = produced;
	snprintf(r.source, sizeof(r.source), "ocsp");
	if (reason != NULL)
		snprintf(r.revocation_reason, sizeof(r.revocation_reason), "%s",
		    reason);
	return r;
}

#define G CM_REV_GOOD
#define R CM_REV_REVOKED
#define U CM_REV_UNKNOWN
#define E CM_REV_ERROR

static void
test_keep_rules(void **state)
{
	static const struct {
		const char *name;
		int have_old;
		enum cm_rev_status os;
		cm_time ot, op;
		const char *oreason;
		enum cm_rev_status ns;
		cm_time nt, np;
		const char *nreason;
		enum cm_rev_keep want;
	} t[] = {
		{"no old answer", 0, G, 0, 0, NULL, G, 100, 100, NULL,
		    CM_REV_REPLACED},
		{"newer good", 1, G, 100, 100, NULL, G, 200, 200, NULL,
		    CM_REV_REPLACED},
		{"older good never replaces", 1, G, 200, 200, NULL, G, 100, 300,
		    NULL, CM_REV_KEPT_NEWER},
		{"same thisUpdate, older producedAt", 1, G, 200, 250, NULL, U, 200,
		    240, NULL, CM_REV_KEPT_NEWER},
		{"same thisUpdate, same producedAt", 1, G, 200, 250, NULL, G, 200,
		    250, NULL, CM_REV_REPLACED},
		{"same thisUpdate, no producedAt (CRL)", 1, G, 200, 250, NULL, G,
		    200, 0, NULL, CM_REV_REPLACED},
		{"older revoked never replaces good", 1, G, 200, 200, NULL, R, 100,
		    100, "keyCompromise", CM_REV_KEPT_NEWER},
		{"newer revoked replaces good", 1, G, 100, 100, NULL, R, 200, 200,
		    "keyCompromise", CM_REV_REPLACED},
		{"good never replaces revoked", 1, R, 100, 100, "keyCompromise", G,
		    200, 200, NULL, CM_REV_KEPT_REVOKED},
		{"good never replaces revoked without reason", 1, R, 100, 100, "",
		    G, 200, 200, NULL, CM_REV_KEPT_REVOKED},
		{"unknown never replaces revoked", 1, R, 100, 100, "superseded", U,
		    200, 200, NULL, CM_REV_KEPT_REVOKED},
		{"good replaces certificateHold", 1, R, 100, 100,
		    "certificateHold", G, 200, 200, NULL, CM_REV_REPLACED},
		{"older good does not replace hold", 1, R, 200, 200,
		    "certificateHold", G, 100, 100, NULL, CM_REV_KEPT_NEWER},
		{"newer revoked replaces revoked", 1, R, 100, 100,
		    "certificateHold", R, 200, 200, "keyCompromise",
		    CM_REV_REPLACED},
		{"older revoked keeps revoked", 1, R, 200, 200, "keyCompromise", R,
		    100, 100, "keyCompromise", CM_REV_KEPT_NEWER},
		{"error never replaces revoked", 1, R, 100, 100, "keyCompromise", E,
		    0, 0, NULL, CM_REV_KEPT_REVOKED},
		{"error never replaces hold", 1, R, 100, 100, "certificateHold", E,
		    0, 0, NULL, CM_REV_KEPT_REVOKED},
		{"error replaces good", 1, G, 100, 100, NULL, E, 0, 0, NULL,
		    CM_REV_REPLACED},
		{"error replaces unknown", 1, U, 100, 100, NULL, E, 0, 0, NULL,
		    CM_REV_REPLACED},
		{"anything replaces error", 1, E, 0, 0, NULL, G, 50, 50, NULL,
		    CM_REV_REPLACED},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct cm_rev_record o = rec(t[i].os, t[i].ot, t[i].op, t[i].oreason);
		struct cm_rev_record n = rec(t[i].ns, t[i].nt, t[i].np, t[i].nreason);
		enum cm_rev_keep k = cm_rev_record_keep(t[i].have_old ? &o : NULL,
		    &n);

		if (k != t[i].want)
			fail_msg("%s: got %d, want %d", t[i].name, k, t[i].want);
	}
}

/* ---- the store ------------------------------------------------------------------ */

static void
put(struct fixture *f, struct cm_rev_record r, cm_time checked,
    enum cm_rev_keep want)
{
	struct cm_err err = {CM_OK, ""};
	enum cm_rev_keep k;

	r.checked_at = checked;
	r.next_check = checked + DAY;
	r.cache_until = r.status == E ? 0 : checked + 3600;
	snprintf(r.reason, sizeof(r.reason), "%s at %lld",
	    cm_revocation_status_name(r.status), (long long)r.this_update);
	assert_int_equal(cm_store_revocation_put(f->st, f->leaf->fp_hex, &r, &k,
	    &err), CM_OK);
	assert_int_equal(k, want);
}

static struct cm_rev_record
get(struct fixture *f)
{
	struct cm_rev_record r;
	struct cm_err err = {CM_OK, ""};
	int found = 0;

	assert_int_equal(cm_store_revocation_get(f->st, f->leaf->fp_hex, &r,
	    &found, &err), CM_OK);
	assert_true(found);
	return r;
}

static int
count_revoked(const struct cm_cert_row *row, void *arg)
{
	if (strcmp(row->revocation, "revoked") == 0)
		(*(int *)arg)++;
	return 0;
}

static void
test_store_answers(void **state)
{
	struct fixture *f = *state;
	struct cm_rev_record r, full;
	struct cm_cert_filter flt;
	struct cm_err err = {CM_OK, ""};
	int found = 1, n = 0;

	assert_int_equal(cm_store_revocation_get(f->st, f->leaf->fp_hex, &r,
	    &found, &err), CM_OK);
	assert_false(found);

	/* every field round-trips */
	full = rec(G, T0 - 60, T0 - 30, NULL);
	full.next_update = T0 + DAY;
	snprintf(full.trust_model, sizeof(full.trust_model), "delegated");
	snprintf(full.responder, sizeof(full.responder), "CN=Resp");
	put(f, full, T0, CM_REV_REPLACED);
	r = get(f);
	assert_int_equal(r.status, G);
	assert_string_equal(r.source, "ocsp");
	assert_int_equal(r.checked_at, T0);
	assert_int_equal(r.this_update, T0 - 60);
	assert_int_equal(r.next_update, T0 + DAY);
	assert_int_equal(r.produced_at, T0 - 30);
	assert_int_equal(r.cache_until, T0 + 3600);
	assert_int_equal(r.next_check, T0 + DAY);
	assert_string_equal(r.trust_model, "delegated");
	assert_string_equal(r.responder, "CN=Resp");
	assert_string_equal(r.reason, "good at 1799999940");

	/* an older answer never replaces a newer one: only the check times
	 * move */
	put(f, rec(R, T0 - 3600, T0 - 3600, "keyCompromise"), T0 + 10,
	    CM_REV_KEPT_NEWER);
	r = get(f);
	assert_int_equal(r.status, G);
	assert_int_equal(r.this_update, T0 - 60);
	assert_int_equal(r.checked_at, T0 + 10);
	assert_int_equal(r.next_check, T0 + 10 + DAY);
	assert_int_equal(r.cache_until, T0 + 3600);     /* kept */

	/* revoked, then good never replaces it; an error neither */
	put(f, rec(R, T0 + 100, T0 + 100, "keyCompromise"), T0 + 100,
	    CM_REV_REPLACED);
	put(f, rec(G, T0 + 200, T0 + 200, NULL), T0 + 200, CM_REV_KEPT_REVOKED);
	put(f, rec(E, 0, 0, NULL), T0 + 300, CM_REV_KEPT_REVOKED);
	r = get(f);
	assert_int_equal(r.status, R);
	assert_string_equal(r.revocation_reason, "keyCompromise");
	assert_int_equal(r.checked_at, T0 + 300);
	/* cert list --state revoked sees it */
	memset(&flt, 0, sizeof(flt));
	flt.revocation = "revoked";
	assert_int_equal(cm_store_cert_list(f->st, &flt, count_revoked, &n,
	    &err), CM_OK);
	assert_int_equal(n, 1);

	/* certificateHold: a newer good answer releases it */
	put(f, rec(R, T0 + 400, T0 + 400, "certificateHold"), T0 + 400,
	    CM_REV_REPLACED);
	put(f, rec(G, T0 + 300, T0 + 300, NULL), T0 + 450, CM_REV_KEPT_NEWER);
	put(f, rec(G, T0 + 500, T0 + 500, NULL), T0 + 500, CM_REV_REPLACED);
	r = get(f);
	assert_int_equal(r.status, G);
	assert_string_equal(r.revocation_reason, "");

	/* an error replaces good, and a later answer the error */
	put(f, rec(E, 0, 0, NULL), T0 + 600, CM_REV_REPLACED);
	r = get(f);
	assert_int_equal(r.status, E);
	assert_int_equal(r.this_update, 0);
	assert_int_equal(r.cache_until, 0);
	put(f, rec(U, T0 + 100, T0 + 100, NULL), T0 + 700, CM_REV_REPLACED);
	assert_int_equal(get(f).status, U);

	/* an unknown fingerprint (a certificate deleted meanwhile) leaves the
	 * caller's transaction usable */
	r = rec(G, T0 + 800, T0 + 800, NULL);
	assert_int_equal(cm_store_begin(f->st, &err), CM_OK);
	assert_int_equal(cm_store_revocation_put(f->st, "00", &r, NULL, &err),
	    CM_ERR_NOTFOUND);
	assert_int_equal(cm_store_revocation_put(f->st, f->leaf->fp_hex, &r,
	    NULL, &err), CM_OK);
	assert_int_equal(cm_store_commit(f->st, &err), CM_OK);
	assert_int_equal(get(f).this_update, T0 + 800);
}

static void
test_store_crl_cache(void **state)
{
	struct fixture *f = *state;
	struct cm_crl_cache_entry e, g;
	struct cm_err err = {CM_OK, ""};
	unsigned char der[] = {0x30, 0x03, 0x02, 0x01, 0x05};
	int found = 1;

	assert_int_equal(cm_store_crl_get(f->st, "http://x/a.crl", "ab", &g,
	    &found, &err), CM_OK);
	assert_false(found);
	memset(&e, 0, sizeof(e));
	e.der = der;
	e.der_len = sizeof(der);
	e.this_update = T0;
	e.next_update = T0 + DAY;
	e.fetched_at = T0 + 5;
	snprintf(e.crl_number, sizeof(e.crl_number), "1F");
	assert_int_equal(cm_store_crl_put(f->st, "http://x/a.crl", "ab", &e,
	    &err), CM_OK);
	e.this_update = T0 + 10;
	snprintf(e.crl_number, sizeof(e.crl_number), "20");
	assert_int_equal(cm_store_crl_put(f->st, "http://x/a.crl", "ab", &e,
	    &err), CM_OK);
	assert_int_equal(cm_store_crl_get(f->st, "http://x/a.crl", "ab", &g,
	    &found, &err), CM_OK);
	assert_true(found);
	assert_int_equal(g.der_len, sizeof(der));
	assert_memory_equal(g.der, der, sizeof(der));
	assert_int_equal(g.this_update, T0 + 10);
	assert_int_equal(g.next_update, T0 + DAY);
	assert_string_equal(g.crl_number, "20");
	free(g.der);
	assert_int_equal(cm_store_crl_get(f->st, "http://x/a.crl", "cd", &g,
	    &found, &err), CM_OK);
	assert_false(found);
	e.der_len = 0;
	assert_int_equal(cm_store_crl_put(f->st, "u", "v", &e, &err),
	    CM_ERR_INVALID);
}

static int
first_row(const struct cm_cert_row *row, void *arg)
{
	snprintf(arg, CM_FP_HEX_LEN, "%s", row->fingerprint);
	assert_non_null(row->der);
	return 1;
}

static void
test_store_by_subject(void **state)
{
	struct fixture *f = *state;
	struct cm_err err = {CM_OK, ""};
	char fp[CM_FP_HEX_LEN] = "";

	assert_int_equal(cm_store_cert_by_subject(f->st, f->ca->subject,
	    first_row, fp, &err), CM_OK);
	assert_string_equal(fp, f->ca->fp_hex);
	fp[0] = '\0';
	assert_int_equal(cm_store_cert_by_subject(f->st, "CN=nobody", first_row,
	    fp, &err), CM_OK);
	assert_string_equal(fp, "");
}

/* ---- settings ---------------------------------------------------------------- */

static void
test_settings_check(void **state)
{
	static const struct {
		const char *name;
		const char *field, *value;
		const char *want;       /* NULL = valid */
	} t[] = {
		{"defaults", NULL, NULL, NULL},
		{"uri http", "uri", "http://ocsp.example:8080/x", NULL},
		{"uri https ipv6", "uri", "https://[::1]:8443/", NULL},
		{"uri ftp", "uri", "ftp://ocsp.example/", "OCSP Configured URI"},
		{"uri with user", "uri", "http://u@ocsp.example/", "OCSP Configured"},
		{"uri with space", "uri", "http://ocsp.example/a b", "OCSP "},
		{"uri bad port", "uri", "http://ocsp.example:0/", "OCSP "},
		{"configured without uri", "source", "configured",
		    "OCSP Configured URI is needed"},
		{"every 30 min", "every", "1800", "Check Every"},
		{"every 90 min", "every", "5400", "whole hours"},
		{"every 31 d", "every", "2678400", "1 hour to 30 days"},
		{"every 30 d", "every", "2592000", NULL},
		{"skew -1", "skew", "-1", "clock skew"},
		{"skew 0", "skew", "0", NULL},
		{"skew 3601", "skew", "3601", "clock skew"},
		{"timeout 0", "timeout", "0", "timeout"},
		{"timeout 61", "timeout", "61", "timeout"},
		{"cache_max 30 min", "cache_max", "1800", "cache maximum"},
		{"crl uri ftp", "crl_uris", "http://a/x.crl\nftp://b/y.crl",
		    "CRL URIs: 'ftp://b/y.crl'"},
		{"crl uris blank lines", "crl_uris", "\n  http://a/x.crl \n\n",
		    NULL},
		{"host with space", "allow_hosts", "a.example\nb c",
		    "allowed hosts: 'b c'"},
		{"host wildcard", "allow_hosts", "*.example.com\n127.0.0.1", NULL},
		{"host bad wildcard", "allow_hosts", "*example.com", "allowed"},
		{"empty trust unit", "trust_unit", "", "trust unit"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct cm_revocation_settings s;
		struct cm_err err = {CM_OK, ""};
		enum cm_status rc;
		const char *fl = t[i].field;

		cm_revocation_settings_default(&s);
		if (fl == NULL)
			;
		else if (strcmp(fl, "uri") == 0)
			snprintf(s.uri, sizeof(s.uri), "%s", t[i].value);
		else if (strcmp(fl, "source") == 0)
			s.uri_source = CM_URI_CONFIGURED;
		else if (strcmp(fl, "every") == 0)
			s.every = atoll(t[i].value);
		else if (strcmp(fl, "skew") == 0)
			s.skew = atoll(t[i].value);
		else if (strcmp(fl, "timeout") == 0)
			s.timeout = atoll(t[i].value);
		else if (strcmp(fl, "cache_max") == 0)
			s.cache_max = atoll(t[i].value);
		else if (strcmp(fl, "crl_uris") == 0)
			snprintf(s.crl_uris, sizeof(s.crl_uris), "%s", t[i].value);
		else if (strcmp(fl, "allow_hosts") == 0)
			snprintf(s.allow_hosts, sizeof(s.allow_hosts), "%s",
			    t[i].value);
		else if (strcmp(fl, "trust_unit") == 0)
			s.trust_unit[0] = '\0';
		rc = cm_revocation_settings_check(&s, &err);
		if (t[i].want == NULL && rc != CM_OK)
			fail_msg("%s: refused: %s", t[i].name, err.msg);
		if (t[i].want != NULL && (rc != CM_ERR_INVALID ||
		    strstr(err.msg, t[i].want) == NULL))
			fail_msg("%s: rc %d, '%s' (want '%s')", t[i].name, rc, err.msg,
			    t[i].want);
	}
}

static int
count_settings_events(const struct cm_event *ev, void *arg)
{
	if (strcmp(ev->name, "setting.changed") == 0)
		(*(int *)arg)++;
	return 0;
}

static int
settings_events(struct fixture *f)
{
	struct cm_event_filter ef;
	struct cm_err err;
	int n = 0;

	memset(&ef, 0, sizeof(ef));
	assert_int_equal(cm_store_event_list(f->st, &ef, count_settings_events,
	    &n, &err), CM_OK);
	return n;
}

static void
test_settings_save(void **state)
{
	struct fixture *f = *state;
	struct cm_revocation_settings s, l;
	struct cm_params_settings p, q;
	struct cm_err err = {CM_OK, ""};
	char *raw = NULL;

	assert_int_equal(cm_revocation_settings_load(f->st, &s, &err), CM_OK);
	assert_false(s.ocsp);
	assert_int_equal(s.uri_source, CM_URI_FROM_CERT);
	assert_int_equal(s.every, 86400);
	assert_string_equal(s.trust_unit, "tomcat-trust");
	assert_int_equal(s.skew, 300);
	assert_int_equal(s.timeout, 5);
	assert_int_equal(s.cache_max, 7 * 86400);
	/* saving the defaults writes nothing */
	assert_int_equal(cm_revocation_settings_save(f->st, &s, "t", T0, &err),
	    CM_OK);
	assert_int_equal(settings_events(f), 0);

	s.ocsp = 1;
	s.every = 2 * 3600;
	snprintf(s.crl_uris, sizeof(s.crl_uris), " http://a/x.crl \n\n"
	    "http://b/y.crl\n");
	assert_int_equal(cm_revocation_settings_save(f->st, &s, "t", T0, &err),
	    CM_OK);
	assert_int_equal(settings_events(f), 3);
	/* the keys and encodings the web admin reads */
	assert_int_equal(cm_store_setting_get(f->st, "revocation.ocsp", &raw,
	    &err), CM_OK);
	assert_string_equal(raw, "1");
	free(raw);
	assert_int_equal(cm_store_setting_get(f->st, "revocation.every", &raw,
	    &err), CM_OK);
	assert_string_equal(raw, "7200");
	free(raw);
	assert_int_equal(cm_store_setting_get(f->st, "revocation.crl_uris", &raw,
	    &err), CM_OK);
	assert_string_equal(raw, "http://a/x.crl\nhttp://b/y.crl");
	free(raw);
	assert_int_equal(cm_revocation_settings_load(f->st, &l, &err), CM_OK);
	assert_true(l.ocsp);
	assert_int_equal(l.every, 7200);

	/* an unknown trust unit: nothing written */
	snprintf(s.trust_unit, sizeof(s.trust_unit), "nope-trust");
	s.check = 1;
	assert_int_equal(cm_revocation_settings_save(f->st, &s, "t", T0, &err),
	    CM_ERR_INVALID);
	assert_non_null(strstr(err.msg, "nope-trust"));
	assert_int_equal(settings_events(f), 3);

	/* configured URI source, as the web admin writes it */
	const char *keys[] = {"revocation.uri_source", "revocation.uri"};
	const char *vals[] = {"configured", "http://ocsp.example/"};
	assert_int_equal(cm_store_settings_set(f->st, keys, vals, 2, "web", T0,
	    &err), CM_OK);
	assert_int_equal(cm_revocation_settings_load(f->st, &l, &err), CM_OK);
	assert_int_equal(l.uri_source, CM_URI_CONFIGURED);
	assert_string_equal(l.uri, "http://ocsp.example/");
	vals[0] = "bogus";
	assert_int_equal(cm_store_settings_set(f->st, keys, vals, 1, "web", T0,
	    &err), CM_OK);
	assert_int_equal(cm_revocation_settings_load(f->st, &l, &err),
	    CM_ERR_STORE);

	/* Enterprise Parameters */
	assert_int_equal(cm_params_settings_load(f->st, &p, &err), CM_OK);
	assert_false(p.cert_validity_check);
	assert_false(p.common_criteria);
	assert_int_equal(p.validity_check_frequency, 86400);
	p.common_criteria = 1;
	p.validity_check_frequency = 1800;
	assert_int_equal(cm_params_settings_save(f->st, &p, "t", T0, &err),
	    CM_ERR_INVALID);
	assert_non_null(strstr(err.msg, "Validity Check Frequency"));
	p.validity_check_frequency = 12 * 3600;
	assert_int_equal(cm_params_settings_save(f->st, &p, "t", T0, &err),
	    CM_OK);
	assert_int_equal(cm_params_settings_load(f->st, &q, &err), CM_OK);
	assert_true(q.common_criteria);
	assert_int_equal(q.validity_check_frequency, 12 * 3600);
	assert_int_equal(cm_store_setting_get(f->st, "params.common_criteria",
	    &raw, &err), CM_OK);
	assert_string_equal(raw, "1");
	free(raw);
}

static void
test_settings_json(void **state)
{
	struct cm_revocation_settings s;
	struct cm_params_settings p;
	struct cm_err err = {CM_OK, ""};
	json_t *j, *o;

	(void)state;
	cm_revocation_settings_default(&s);
	j = json_pack("{s:b, s:s, s:s, s:s, s:[s, s], s:s, s:i, s:s, s:s}",
	    "ocsp", 1, "uri_source", "configured", "uri", "http://o.example/",
	    "every", "2h", "crl_uris", "http://a/1.crl", "http://b/2.crl",
	    "skew", "90s", "timeout", 9, "cache_max", "2d", "allow_hosts",
	    "a.example\nb.example");
	assert_int_equal(cm_revocation_settings_from_json(j, &s, &err), CM_OK);
	json_decref(j);
	assert_true(s.ocsp);
	assert_int_equal(s.uri_source, CM_URI_CONFIGURED);
	assert_int_equal(s.every, 7200);
	assert_string_equal(s.crl_uris, "http://a/1.crl\nhttp://b/2.crl");
	assert_int_equal(s.skew, 90);
	assert_int_equal(s.timeout, 9);
	assert_int_equal(s.cache_max, 2 * 86400);
	if (cm_revocation_settings_check(&s, &err) != CM_OK)
		fail_msg("%s", err.msg);
	o = cm_revocation_settings_json(&s);
	assert_string_equal(json_string_value(json_object_get(o, "every")), "2h");
	assert_string_equal(json_string_value(json_object_get(o, "skew")), "90s");
	assert_string_equal(json_string_value(json_object_get(o, "cache_max")),
	    "2d");
	assert_int_equal(json_array_size(json_object_get(o, "crl_uris")), 2);
	assert_int_equal(json_array_size(json_object_get(o, "allow_hosts")), 2);
	json_decref(o);

	j = json_pack("{s:s}", "ocsp", "yes");
	assert_int_equal(cm_revocation_settings_from_json(j, &s, &err),
	    CM_ERR_INVALID);
	assert_non_null(strstr(err.msg, "\"ocsp\""));
	json_decref(j);
	j = json_pack("{s:s}", "every", "90m");
	assert_int_equal(cm_revocation_settings_from_json(j, &s, &err),
	    CM_ERR_INVALID);
	json_decref(j);
	j = json_pack("{s:s}", "uri_source", "aia");
	assert_int_equal(cm_revocation_settings_from_json(j, &s, &err),
	    CM_ERR_INVALID);
	json_decref(j);
	j = json_pack("{s:[i]}", "crl_uris", 5);
	assert_int_equal(cm_revocation_settings_from_json(j, &s, &err),
	    CM_ERR_INVALID);
	json_decref(j);

	cm_params_settings_default(&p);
	j = json_pack("{s:b, s:s}", "common_criteria", 1,
	    "validity_check_frequency", "3d");
	assert_int_equal(cm_params_settings_from_json(j, &p, &err), CM_OK);
	json_decref(j);
	assert_true(p.common_criteria);
	assert_int_equal(p.validity_check_frequency, 3 * 86400);
}

static void
test_durations_urls(void **state)
{
	int64_t s = -1;
	char buf[24];

	(void)state;
	assert_int_equal(cm_duration_parse_any("300", &s), 0);
	assert_int_equal(s, 300);
	assert_int_equal(cm_duration_parse_any("5m", &s), 0);
	assert_int_equal(s, 300);
	assert_int_equal(cm_duration_parse_any("0s", &s), 0);
	assert_int_equal(s, 0);
	assert_int_equal(cm_duration_parse_any("2d", &s), 0);
	assert_int_equal(s, 172800);
	assert_int_equal(cm_duration_parse_any("-1", &s), -1);
	assert_int_equal(cm_duration_parse_any("5x", &s), -1);
	assert_int_equal(cm_duration_parse_any("", &s), -1);
	assert_int_equal(cm_duration_parse_any("99999999999d", &s), -1);
	assert_string_equal(cm_duration_format_any(300, buf, sizeof(buf)), "5m");
	assert_string_equal(cm_duration_format_any(90, buf, sizeof(buf)), "90s");
	assert_string_equal(cm_duration_format_any(0, buf, sizeof(buf)), "0s");
	assert_string_equal(cm_duration_format_any(7200, buf, sizeof(buf)), "2h");
	assert_string_equal(cm_duration_format_any(86400, buf, sizeof(buf)),
	    "1d");
	assert_true(cm_revocation_url_valid("http://127.0.0.1:8080/"));
	assert_true(cm_revocation_url_valid("HTTPS://ocsp.example.com"));
	assert_true(cm_revocation_url_valid("http://ocsp.example/a?b=c"));
	assert_false(cm_revocation_url_valid("http://"));
	assert_false(cm_revocation_url_valid("http:///x"));
	assert_false(cm_revocation_url_valid("ldap://x/"));
	assert_false(cm_revocation_url_valid("http://x:99999/"));
	assert_false(cm_revocation_url_valid("http://x\n/"));
	assert_false(cm_revocation_url_valid("http://a_b/"));
	assert_false(cm_revocation_url_valid(NULL));
}

static void
test_next_run(void **state)
{
	static const struct {
		const char *name;
		cm_time started, last, next;
		int64_t every;
		cm_time want;
	} t[] = {
		{"never ran: at once", 1000, 0, 0, 3600, 1000},
		{"after a run: the stored next", 1000, 2000, 5600, 3600, 5600},
		{"a shorter Check Every takes effect", 1000, 2000, 2000 + 86400,
		    3600, 5600},
		{"a longer Check Every waits for the stored next", 1000, 2000, 5600,
		    86400, 5600},
		{"restarted: start + every", 3000, 2000, 0, 3600, 6600},
		{"restarted long after the last run: at once", 90000, 2000, 0,
		    3600, 90000},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct cm_service svc;
		cm_time got;

		memset(&svc, 0, sizeof(svc));
		svc.started_at = t[i].started;
		svc.last_run = t[i].last;
		svc.next_run = t[i].next;
		got = cm_revocation_next_run(&svc, t[i].every);
		if (got != t[i].want)
			fail_msg("%s: %lld, want %lld", t[i].name, (long long)got,
			    (long long)t[i].want);
	}
}

/* A run with OCSP and CRL off checks nothing (no network) and records the
 * service's run. */
static void
test_run_nothing_enabled(void **state)
{
	struct fixture *f = *state;
	struct cm_revocation_report rep;
	struct cm_service svc;
	struct cm_err err = {CM_OK, ""};

	assert_int_equal(cm_revocation_run(f->st, T0 + 60, "test", &rep, &err),
	    CM_OK);
	assert_int_equal(rep.checked, 0);
	assert_int_equal(rep.requests, 0);
	/* the self-signed CA, and the leaf (mint.h names its issuer "CN=Rev
	 * CA", not the CA's subject): no issuer in the store */
	assert_int_equal(rep.skipped, 2);
	assert_int_equal(rep.n, 0);
	assert_int_equal(rep.next_run, T0 + 60 + DAY);
	cm_revocation_report_free(&rep);
	assert_int_equal(cm_store_service_get(f->st, CM_SERVICE_REVOCATION, &svc,
	    &err), CM_OK);
	assert_int_equal(svc.last_run, T0 + 60);
	assert_int_equal(svc.next_run, T0 + 60 + DAY);
	assert_non_null(strstr(svc.last_result, "nothing checked"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keep_rules),
		cmocka_unit_test_setup_teardown(test_store_answers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_crl_cache, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_store_by_subject, setup,
		    teardown),
		cmocka_unit_test(test_settings_check),
		cmocka_unit_test_setup_teardown(test_settings_save, setup, teardown),
		cmocka_unit_test(test_settings_json),
		cmocka_unit_test(test_durations_urls),
		cmocka_unit_test(test_next_run),
		cmocka_unit_test_setup_teardown(test_run_nothing_enabled, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
