/* json.c - the JSON shapes of certmon's output. */
#include "certmon/expiry.h"
#include "certmon/json.h"

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
