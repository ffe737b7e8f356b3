/* json.c - the JSON shapes of certmon's output. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "certmon/expiry.h"
#include "certmon/json.h"
#include "certmon/revocation.h"

json_t *
cm_json_str(const char *s)
{
	json_t *j;

	if (s == NULL)
		return json_null();
	/* Library strings are valid UTF-8; anything else would be a bug, still
	 * shown rather than dropped. */
	j = json_string(s);
	return j != NULL ? j : json_string("(invalid UTF-8)");
}

json_t *
cm_json_time(cm_time t)
{
	char buf[CM_TIME_TEXT_LEN];

	if (t == 0)
		return json_null();
	return json_string(cm_time_format(t, buf));
}

json_t *
cm_json_cert_row(const struct cm_cert_row *r, cm_time now, int start)
{
	json_t *o = json_object();

	json_object_set_new(o, "unit", cm_json_str(r->unit));
	json_object_set_new(o, "unit_kind",
	    json_string(cm_unit_kind_name(r->unit_kind)));
	json_object_set_new(o, "fingerprint", cm_json_str(r->fingerprint));
	json_object_set_new(o, "subject_cn", cm_json_str(r->subject_cn));
	json_object_set_new(o, "subject", cm_json_str(r->subject));
	json_object_set_new(o, "issuer_cn", cm_json_str(r->issuer_cn));
	json_object_set_new(o, "issuer", cm_json_str(r->issuer));
	json_object_set_new(o, "serial", cm_json_str(r->serial_hex));
	json_object_set_new(o, "not_before", cm_json_time(r->not_before));
	json_object_set_new(o, "not_after", cm_json_time(r->not_after));
	json_object_set_new(o, "days_left",
	    json_integer(cm_expiry_days_left(r->not_after, now)));
	json_object_set_new(o, "state", json_string(cm_expiry_state_name(
	    cm_expiry_state(r->not_after, now, start))));
	json_object_set_new(o, "revocation", cm_json_str(r->revocation));
	json_object_set_new(o, "revocation_checked_at",
	    cm_json_time(r->revocation_checked_at));
	json_object_set_new(o, "revocation_reason",
	    cm_json_str(r->revocation_reason));
	json_object_set_new(o, "key_type", cm_json_str(r->key_type));
	json_object_set_new(o, "key_bits", json_integer(r->key_bits));
	json_object_set_new(o, "sig_alg", cm_json_str(r->sig_alg));
	json_object_set_new(o, "is_ca", json_boolean(r->is_ca));
	json_object_set_new(o, "ocsp_responder", json_boolean(r->ocsp_responder));
	json_object_set_new(o, "added_at", cm_json_time(r->added_at));
	json_object_set_new(o, "current", json_boolean(r->replaced_at == 0));
	json_object_set_new(o, "replaced_at", cm_json_time(r->replaced_at));
	json_object_set_new(o, "replaced_by", cm_json_str(r->replaced_by));
	return o;
}

static json_t *
strlist_json(const struct cm_strlist *l)
{
	json_t *a = json_array();

	for (size_t i = 0; i < l->n; i++)
		json_array_append_new(a, cm_json_str(l->v[i]));
	return a;
}

void
cm_json_cert_fields(json_t *o, const struct cm_cert *x)
{
	json_object_set_new(o, "version", json_integer(x->version));
	json_object_set_new(o, "sans", strlist_json(&x->sans));
	json_object_set_new(o, "ekus", strlist_json(&x->ekus));
	json_object_set_new(o, "ocsp_urls", strlist_json(&x->ocsp_urls));
	json_object_set_new(o, "ca_issuers", strlist_json(&x->ca_issuers));
	json_object_set_new(o, "crl_urls", strlist_json(&x->crl_urls));
	json_object_set_new(o, "ocsp_nocheck", json_boolean(x->ocsp_nocheck));
}

int
cm_json_opt_bool(json_t *o, const char *key, int *out, struct cm_err *err)
{
	json_t *v = json_object_get(o, key);

	if (v == NULL)
		return 0;
	if (!json_is_boolean(v)) {
		cm_err_set(err, CM_ERR_INVALID, "\"%s\" must be true or false", key);
		return -1;
	}
	*out = json_is_true(v);
	return 0;
}

int
cm_json_opt_text(json_t *o, const char *key, char *out, size_t len,
    struct cm_err *err)
{
	json_t *v = json_object_get(o, key);

	if (v == NULL)
		return 0;
	if (!json_is_string(v) || strlen(json_string_value(v)) >= len) {
		cm_err_set(err, CM_ERR_INVALID, "\"%s\" must be a string of at most "
		    "%zu bytes", key, len - 1);
		return -1;
	}
	snprintf(out, len, "%s", json_string_value(v));
	return 0;
}

/* "a, b" as ["a", "b"] */
static json_t *
units_json(const char *units)
{
	json_t *a = json_array();
	const char *p = units != NULL ? units : "", *q;

	while (*p != '\0') {
		q = strstr(p, ", ");
		json_array_append_new(a, json_stringn(p, q != NULL ?
		    (size_t)(q - p) : strlen(p)));
		if (q == NULL)
			break;
		p = q + 2;
	}
	return a;
}

json_t *
cm_json_rev_result(const struct cm_rev_result *r)
{
	json_t *o;

	o = json_pack("{s:s, s:o, s:o, s:o, s:s, s:o, s:o, s:s, s:b, s:o, s:b, "
	    "s:b, s:b}",
	    "fingerprint", r->fingerprint,
	    "units", units_json(r->units),
	    "cn", cm_json_str(r->subject_cn),
	    "serial", cm_json_str(r->serial_hex),
	    "status", r->status,
	    "source", r->source[0] ? json_string(r->source) : json_null(),
	    "reason", r->reason[0] ? cm_json_str(r->reason) : json_null(),
	    "verdict", cm_revocation_verdict_name(r->verdict.verdict),
	    "warning", r->verdict.verdict == CM_VERDICT_WARN,
	    "verdict_reason", cm_json_str(r->verdict.reason),
	    "checked", r->checked,
	    "from_cache", r->from_cache,
	    "changed", r->changed);
	json_object_set_new(o, "not_after", cm_json_time(r->not_after));
	return o;
}

/* ---- the fast writer ------------------------------------------------------- */

struct out {
	char *p, *end;
	int full;
};

static void
put(struct out *o, const char *s, size_t n)
{
	if (o->full || (size_t)(o->end - o->p) < n) {
		o->full = 1;
		return;
	}
	memcpy(o->p, s, n);
	o->p += n;
}

static void
put_escape(struct out *o, unsigned cp)
{
	char seq[16];

	if (cp >= 0x10000) {          /* a surrogate pair, as jansson writes */
		cp -= 0x10000;
		snprintf(seq, sizeof(seq), "\\u%04X\\u%04X", 0xD800 | (cp >> 10),
		    0xDC00 | (cp & 0x3FF));
	} else {
		snprintf(seq, sizeof(seq), "\\u%04X", cp);
	}
	put(o, seq, strlen(seq));
}

/* A JSON string of UTF-8 s with only ASCII output (strings from the
 * library are valid UTF-8). */
static void
put_str(struct out *o, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	const unsigned char *run = p;

	put(o, "\"", 1);
	while (*p != '\0') {
		unsigned c = *p, cp;
		int n;

		if (c >= 0x20 && c <= 0x7f && c != '"' && c != '\\') {
			p++;
			continue;
		}
		put(o, (const char *)run, (size_t)(p - run));
		if (c == '"')
			put(o, "\\\"", 2);
		else if (c == '\\')
			put(o, "\\\\", 2);
		else if (c == '\b')
			put(o, "\\b", 2);
		else if (c == '\f')
			put(o, "\\f", 2);
		else if (c == '\n')
			put(o, "\\n", 2);
		else if (c == '\r')
			put(o, "\\r", 2);
		else if (c == '\t')
			put(o, "\\t", 2);
		else if (c < 0x80) {
			put_escape(o, c);
		} else {
			n = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : 1;
			cp = c & (n == 3 ? 0x07 : n == 2 ? 0x0f : 0x1f);
			for (int i = 1; i <= n && p[i] != '\0'; i++)
				cp = (cp << 6) | (p[i] & 0x3f);
			put_escape(o, cp);
			for (int i = 0; i < n && p[1] != '\0'; i++)
				p++;
		}
		run = ++p;
	}
	put(o, (const char *)run, (size_t)(p - run));
	put(o, "\"", 1);
}

static void
put_key(struct out *o, const char *key, int first)
{
	if (!first)
		put(o, ",", 1);
	put(o, "\"", 1);
	put(o, key, strlen(key));
	put(o, "\":", 2);
}

static void
put_kstr(struct out *o, const char *key, const char *v)
{
	put_key(o, key, 0);
	if (v == NULL)
		put(o, "null", 4);
	else
		put_str(o, v);
}

static void
put_kint(struct out *o, const char *key, int64_t v)
{
	char num[24];

	put_key(o, key, 0);
	snprintf(num, sizeof(num), "%" PRId64, v);
	put(o, num, strlen(num));
}

static void
put_kbool(struct out *o, const char *key, int v)
{
	put_key(o, key, 0);
	put(o, v ? "true" : "false", v ? 4 : 5);
}

static void
put_ktime(struct out *o, const char *key, cm_time t)
{
	char buf[CM_TIME_TEXT_LEN];

	put_kstr(o, key, t == 0 ? NULL : cm_time_format(t, buf));
}

size_t
cm_json_cert_row_write(const struct cm_cert_row *r, cm_time now, int start,
    char *buf, size_t len)
{
	struct out o = {buf, buf + len, 0};

	/* the fields and their order are cm_json_cert_row's */
	put(&o, "{", 1);
	put_key(&o, "unit", 1);
	put_str(&o, r->unit);
	put_kstr(&o, "unit_kind", cm_unit_kind_name(r->unit_kind));
	put_kstr(&o, "fingerprint", r->fingerprint);
	put_kstr(&o, "subject_cn", r->subject_cn);
	put_kstr(&o, "subject", r->subject);
	put_kstr(&o, "issuer_cn", r->issuer_cn);
	put_kstr(&o, "issuer", r->issuer);
	put_kstr(&o, "serial", r->serial_hex);
	put_ktime(&o, "not_before", r->not_before);
	put_ktime(&o, "not_after", r->not_after);
	put_kint(&o, "days_left", cm_expiry_days_left(r->not_after, now));
	put_kstr(&o, "state", cm_expiry_state_name(cm_expiry_state(r->not_after,
	    now, start)));
	put_kstr(&o, "revocation", r->revocation);
	put_ktime(&o, "revocation_checked_at", r->revocation_checked_at);
	put_kstr(&o, "revocation_reason", r->revocation_reason);
	put_kstr(&o, "key_type", r->key_type);
	put_kint(&o, "key_bits", r->key_bits);
	put_kstr(&o, "sig_alg", r->sig_alg);
	put_kbool(&o, "is_ca", r->is_ca);
	put_kbool(&o, "ocsp_responder", r->ocsp_responder);
	put_ktime(&o, "added_at", r->added_at);
	put_kbool(&o, "current", r->replaced_at == 0);
	put_ktime(&o, "replaced_at", r->replaced_at);
	put_kstr(&o, "replaced_by", r->replaced_by);
	put(&o, "}", 1);
	return o.full ? 0 : (size_t)(o.p - buf);
}

size_t
cm_json_rev_result_write(const struct cm_rev_result *r, char *buf, size_t len)
{
	struct out o = {buf, buf + len, 0};
	const char *p = r->units != NULL ? r->units : "", *q;

	/* the fields and their order are cm_json_rev_result's */
	put(&o, "{", 1);
	put_key(&o, "fingerprint", 1);
	put_str(&o, r->fingerprint);
	put_key(&o, "units", 0);
	put(&o, "[", 1);
	for (int first = 1; *p != '\0'; first = 0) {
		char unit[CM_UNIT_NAME_MAX + 1];
		size_t n;

		q = strstr(p, ", ");
		n = q != NULL ? (size_t)(q - p) : strlen(p);
		if (n >= sizeof(unit)) {
			o.full = 1;     /* not a unit name: the slow path */
			break;
		}
		memcpy(unit, p, n);
		unit[n] = '\0';
		if (!first)
			put(&o, ",", 1);
		put_str(&o, unit);
		if (q == NULL)
			break;
		p = q + 2;
	}
	put(&o, "]", 1);
	put_kstr(&o, "cn", r->subject_cn);
	put_kstr(&o, "serial", r->serial_hex);
	put_kstr(&o, "status", r->status);
	put_kstr(&o, "source", r->source[0] ? r->source : NULL);
	put_kstr(&o, "reason", r->reason[0] ? r->reason : NULL);
	put_kstr(&o, "verdict", cm_revocation_verdict_name(r->verdict.verdict));
	put_kbool(&o, "warning", r->verdict.verdict == CM_VERDICT_WARN);
	put_kstr(&o, "verdict_reason", r->verdict.reason);
	put_kbool(&o, "checked", r->checked);
	put_kbool(&o, "from_cache", r->from_cache);
	put_kbool(&o, "changed", r->changed);
	put_ktime(&o, "not_after", r->not_after);
	put(&o, "}", 1);
	return o.full ? 0 : (size_t)(o.p - buf);
}
