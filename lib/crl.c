/*
 * crl.c - certificate revocation lists: parsing (the one place CRL bytes
 * are parsed), validation step by step, serial look-ups, and the CRL check
 * of a certificate (download through fetch.c, cache in the store).
 *
 * OpenSSL 3 decodes the format and verifies the single signature
 * (X509_CRL_verify); which steps run, in which order, and what each failure
 * says is ours (crl.h lists them). X509_verify_cert and its CRL machinery
 * are never used.
 */
#include <ctype.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certmon/crl.h"
#include "x509_int.h"

#define URL_SHOWN 200

/* snprintf that truncates on purpose (reasons and names are bounded). */
static void textf(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
textf(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
}

struct cm_crl {
	X509_CRL *x;
	unsigned char *der;
	size_t der_len;
};

/* ---- small helpers -------------------------------------------------------- */

/* Replaces control bytes so that s stays one line. */
static void
one_line(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
}

/* Upper-case hex of a non-negative INTEGER without leading zeros ("0" for
 * zero); "" (and -1) when negative or too long. */
static int
int_hex(const ASN1_INTEGER *a, char *buf, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *d;
	size_t o = 0;
	int len, i = 0;

	buf[0] = '\0';
	if (a == NULL || ASN1_STRING_type(a) == V_ASN1_NEG_INTEGER)
		return -1;
	d = ASN1_STRING_get0_data(a);
	len = ASN1_STRING_length(a);
	while (i < len && d[i] == 0)
		i++;
	if (i == len) {
		textf(buf, cap, "0");
		return 0;
	}
	if ((size_t)(len - i) * 2 + 1 > cap)
		return -1;
	if ((d[i] >> 4) == 0) {
		buf[o++] = hex[d[i] & 0x0f];
		i++;
	}
	for (; i < len; i++) {
		buf[o++] = hex[d[i] >> 4];
		buf[o++] = hex[d[i] & 0x0f];
	}
	buf[o] = '\0';
	return 0;
}

static const char *
tfmt(cm_time t, char buf[CM_TIME_TEXT_LEN])
{
	return cm_time_format(t, buf);
}

static const char *
reason_name(long r)
{
	static const char *const names[] = {"unspecified", "keyCompromise",
	    "cACompromise", "affiliationChanged", "superseded",
	    "cessationOfOperation", "certificateHold", NULL, "removeFromCRL",
	    "privilegeWithdrawn", "aACompromise"};

	if (r >= 0 && (size_t)r < sizeof(names) / sizeof(names[0]) &&
	    names[r] != NULL)
		return names[r];
	return "unrecognized";
}

/* The dotted OID (or short name) of ext's type. */
static void
ext_name(const X509_EXTENSION *ext, char *buf, size_t cap)
{
	const ASN1_OBJECT *o = X509_EXTENSION_get_object(
	    (X509_EXTENSION *)ext);

	if (OBJ_obj2txt(buf, (int)cap, o, 1) <= 0)
		textf(buf, cap, "(unreadable OID)");
	one_line(buf);
}

/* ---- parsing ---------------------------------------------------------------- */

static int
looks_pem(const unsigned char *buf, size_t len)
{
	static const char tag[] = "-----BEGIN X509 CRL-----";
	size_t i = 0;

	while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' ||
	    buf[i] == '\n'))
		i++;
	return len - i >= sizeof(tag) - 1 &&
	    memcmp(buf + i, tag, sizeof(tag) - 1) == 0;
}

enum cm_status
cm_crl_parse(const unsigned char *buf, size_t len, size_t max_bytes,
    struct cm_crl **out, struct cm_err *err)
{
	struct cm_crl *c = NULL;
	const unsigned char *p;
	unsigned char *der = NULL;
	BIO *b = NULL;
	enum cm_status rc = CM_OK;
	int n;

	*out = NULL;
	if (max_bytes == 0)
		max_bytes = CM_CRL_MAX_BYTES;
	if (buf == NULL || len == 0) {
		rc = cm_err_set(err, CM_ERR_INVALID, "CRL parse: the body is "
		    "empty");
		goto out;
	}
	if (len > max_bytes || len > INT_MAX) {
		rc = cm_err_set(err, CM_ERR_TOOBIG, "CRL parse: %zu bytes, above "
		    "the %zu-byte cap", len, max_bytes);
		goto out;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		rc = cm_err_set(err, CM_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (looks_pem(buf, len)) {
		if ((b = BIO_new_mem_buf(buf, (int)len)) == NULL ||
		    (c->x = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL)) == NULL) {
			rc = cm_err_set(err, CM_ERR_INVALID, "CRL parse: not a PEM "
			    "X509 CRL (%s)", ERR_reason_error_string(
			    ERR_peek_last_error()) ? ERR_reason_error_string(
			    ERR_peek_last_error()) : "unknown reason");
			goto out;
		}
	} else {
		p = buf;
		if ((c->x = d2i_X509_CRL(NULL, &p, (long)len)) == NULL) {
			rc = cm_err_set(err, CM_ERR_INVALID, "CRL parse: not a DER "
			    "CertificateList (%s)", ERR_reason_error_string(
			    ERR_peek_last_error()) ? ERR_reason_error_string(
			    ERR_peek_last_error()) : "unknown reason");
			goto out;
		}
		if (p != buf + len) {
			rc = cm_err_set(err, CM_ERR_INVALID, "CRL parse: %zu trailing "
			    "bytes after the CertificateList", (size_t)(buf + len - p));
			goto out;
		}
	}
	if ((n = i2d_X509_CRL(c->x, &der)) <= 0) {
		rc = cm_err_set(err, CM_ERR_INVALID, "CRL parse: the CRL cannot be "
		    "re-encoded");
		goto out;
	}
	c->der = der;
	c->der_len = (size_t)n;
	der = NULL;
	*out = c;
	c = NULL;
out:
	ERR_clear_error();
	OPENSSL_free(der);
	BIO_free(b);
	cm_crl_free(c);
	return rc;
}

void
cm_crl_free(struct cm_crl *crl)
{
	if (crl == NULL)
		return;
	X509_CRL_free(crl->x);
	OPENSSL_free(crl->der);
	free(crl);
}

const unsigned char *
cm_crl_der(const struct cm_crl *crl, size_t *len)
{
	*len = crl->der_len;
	return crl->der;
}

void
cm_crl_get_info(const struct cm_crl *crl, struct cm_crl_info *out)
{
	ASN1_INTEGER *num;
	int crit = -1;

	memset(out, 0, sizeof(*out));
	cm_x509_name_text(X509_CRL_get_issuer(crl->x), out->issuer, sizeof(out->issuer));
	if (cm_asn1_time_epoch(X509_CRL_get0_lastUpdate(crl->x), &out->this_update) != 0)
		out->this_update = 0;
	if (cm_asn1_time_epoch(X509_CRL_get0_nextUpdate(crl->x), &out->next_update) != 0)
		out->next_update = 0;
	num = X509_CRL_get_ext_d2i(crl->x, NID_crl_number, &crit, NULL);
	if (num != NULL)
		(void)int_hex(num, out->number, sizeof(out->number));
	ASN1_INTEGER_free(num);
	out->entries = (size_t)sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl->x));
	out->delta = X509_CRL_get_ext_by_NID(crl->x, NID_delta_crl, -1) >= 0;
	ERR_clear_error();
}

int
cm_crl_number_cmp(const char *a, const char *b)
{
	size_t la = a != NULL ? strlen(a) : 0, lb = b != NULL ? strlen(b) : 0;

	if (la != lb)
		return la < lb ? -1 : 1;
	return la == 0 ? 0 : strcmp(a, b);
}

/* ---- validation --------------------------------------------------------------- */

static X509 *
decode(const struct cm_cert *c)
{
	const unsigned char *p;

	if (c == NULL || c->der == NULL || c->der_len == 0 ||
	    c->der_len > LONG_MAX)
		return NULL;
	p = c->der;
	return d2i_X509(NULL, &p, (long)c->der_len);
}

/* The URLs a and b name the same resource: scheme and host compared
 * without case, the rest exactly. */
static int
url_equal(const char *a, size_t alen, const char *b)
{
	size_t blen = strlen(b), i, auth_end = 0;
	const char *sep;

	if (alen != blen)
		return 0;
	if ((sep = strstr(b, "://")) != NULL) {
		auth_end = (size_t)(sep - b) + 3;
		while (auth_end < blen && b[auth_end] != '/' && b[auth_end] != '?'
		    && b[auth_end] != '#')
			auth_end++;
	}
	for (i = 0; i < blen; i++) {
		if (i < auth_end) {
			if (tolower((unsigned char)a[i]) != tolower((unsigned char)b[i]))
				return 0;
		} else if (a[i] != b[i]) {
			return 0;
		}
	}
	return 1;
}

/* Whether the names of dpn (a full name) include url; -1 when it is a name
 * relative to the CRL issuer. */
static int
dp_names_url(const DIST_POINT_NAME *dpn, const char *url)
{
	int i;

	if (dpn->type != 0)
		return -1;
	for (i = 0; i < sk_GENERAL_NAME_num(dpn->name.fullname); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(dpn->name.fullname, i);

		if (g->type == GEN_URI && url_equal((const char *)
		    ASN1_STRING_get0_data(g->d.uniformResourceIdentifier),
		    (size_t)ASN1_STRING_length(g->d.uniformResourceIdentifier),
		    url))
			return 1;
	}
	return 0;
}

/* The CRL-level extensions: known ones, delta and indirect refused,
 * duplicates and unknown critical ones refused. 0, or -1 with why. */
static int
check_crl_extensions(X509_CRL *x, char *why, size_t cap)
{
	const STACK_OF(X509_EXTENSION) *exts = X509_CRL_get0_extensions(x);
	char oid[80];
	int i, j, nid;

	for (i = 0; i < sk_X509_EXTENSION_num(exts); i++) {
		X509_EXTENSION *e = sk_X509_EXTENSION_value(exts, i);

		nid = OBJ_obj2nid(X509_EXTENSION_get_object(e));
		for (j = 0; j < i; j++)
			if (OBJ_cmp(X509_EXTENSION_get_object(e),
			    X509_EXTENSION_get_object(sk_X509_EXTENSION_value(exts,
			    j))) == 0) {
				ext_name(e, oid, sizeof(oid));
				textf(why, cap, "CRL extensions: extension %s appears "
				    "twice", oid);
				return -1;
			}
		switch (nid) {
		case NID_delta_crl:
			textf(why, cap, "CRL kind: a delta CRL (deltaCRLIndicator) "
			    "is refused: certmon uses complete CRLs only");
			return -1;
		case NID_authority_key_identifier:
		case NID_crl_number:
		case NID_issuing_distribution_point:
		case NID_freshest_crl:
		case NID_issuer_alt_name:
			break;
		default:
			if (X509_EXTENSION_get_critical(e)) {
				ext_name(e, oid, sizeof(oid));
				textf(why, cap, "CRL extensions: unknown critical CRL "
				    "extension %s", oid);
				return -1;
			}
		}
	}
	return 0;
}

/* The entry-level extensions of every entry (RFC 5280: a CRL with a
 * critical entry extension we cannot process is not used at all). */
static int
check_entry_extensions(X509_CRL *x, char *why, size_t cap)
{
	STACK_OF(X509_REVOKED) *revs = X509_CRL_get_REVOKED(x);
	char oid[80], serial[CM_CRL_NUMBER_MAX];
	int i, j, nid;

	for (i = 0; i < sk_X509_REVOKED_num(revs); i++) {
		X509_REVOKED *r = sk_X509_REVOKED_value(revs, i);
		const STACK_OF(X509_EXTENSION) *exts =
		    X509_REVOKED_get0_extensions(r);

		for (j = 0; j < sk_X509_EXTENSION_num(exts); j++) {
			X509_EXTENSION *e = sk_X509_EXTENSION_value(exts, j);

			nid = OBJ_obj2nid(X509_EXTENSION_get_object(e));
			if (nid == NID_crl_reason || nid == NID_invalidity_date ||
			    nid == NID_hold_instruction_code)
				continue;
			if (int_hex(X509_REVOKED_get0_serialNumber(r), serial,
			    sizeof(serial)) != 0)
				textf(serial, sizeof(serial), "(unreadable)");
			if (nid == NID_certificate_issuer) {
				textf(why, cap, "CRL kind: an indirect CRL (the entry for "
				    "serial %s names another certificate issuer) is "
				    "refused", serial);
				return -1;
			}
			if (X509_EXTENSION_get_critical(e)) {
				ext_name(e, oid, sizeof(oid));
				textf(why, cap, "CRL extensions: unknown critical entry "
				    "extension %s (entry for serial %s)", oid, serial);
				return -1;
			}
		}
	}
	return 0;
}

/* The issuingDistributionPoint: indirect refused, only some reasons
 * refused, attribute certificates only refused, the DP name (when given)
 * must name url. */
static int
check_idp(X509_CRL *x, const char *url, char *why, size_t cap)
{
	ISSUING_DIST_POINT *idp;
	int crit = -1, ok = -1, m;

	idp = X509_CRL_get_ext_d2i(x, NID_issuing_distribution_point, &crit,
	    NULL);
	if (idp == NULL) {
		if (crit == -1) {
			ok = 0;         /* absent */
			goto out;
		}
		textf(why, cap, "CRL scope: the issuingDistributionPoint cannot be "
		    "decoded");
		goto out;
	}
	if (idp->indirectCRL) {
		textf(why, cap, "CRL kind: an indirect CRL (indirectCRL in the "
		    "issuingDistributionPoint) is refused");
		goto out;
	}
	if (idp->onlysomereasons != NULL) {
		textf(why, cap, "CRL scope: the CRL covers only some reasons "
		    "(onlySomeReasons); partitioned CRLs are refused");
		goto out;
	}
	if (idp->onlyattr) {
		textf(why, cap, "CRL scope: the CRL covers only attribute "
		    "certificates (onlyContainsAttributeCerts)");
		goto out;
	}
	if (idp->distpoint != NULL && url != NULL) {
		m = dp_names_url(idp->distpoint, url);
		if (m < 0) {
			textf(why, cap, "CRL scope: the issuingDistributionPoint names "
			    "the distribution point relative to the CRL issuer, which "
			    "cannot be matched to %.*s", URL_SHOWN, url);
			goto out;
		}
		if (m == 0) {
			textf(why, cap, "CRL scope: the issuingDistributionPoint does "
			    "not name %.*s, the URL the CRL came from (a CRL of "
			    "another partition?)", URL_SHOWN, url);
			goto out;
		}
	}
	ok = 0;
out:
	ISSUING_DIST_POINT_free(idp);
	return ok;
}

enum cm_status
cm_crl_validate(const struct cm_crl *crl, const struct cm_cert *issuer,
    const char *url, const char *min_number, cm_time min_this_update,
    const struct cm_crl_opts *opts, cm_time now, struct cm_err *err)
{
	static const struct cm_crl_opts defaults;
	const struct cm_crl_opts *o = opts != NULL ? opts : &defaults;
	int64_t skew = o->skew == 0 ? CM_CRL_DEFAULT_SKEW : o->skew < 0 ? 0 :
	    o->skew;
	int64_t max_age = o->max_age > 0 ? o->max_age : CM_CRL_DEFAULT_MAX_AGE;
	struct cm_crl_info info;
	char a[CM_CRL_TEXT_MAX], b[CM_CRL_TEXT_MAX], why[CM_ERR_MSG_MAX] = "";
	char t1[CM_TIME_TEXT_LEN], t2[CM_TIME_TEXT_LEN];
	ASN1_INTEGER *num = NULL;
	X509 *ix = NULL;
	EVP_PKEY *key;
	uint32_t ku;
	long version;
	int crit = -1;
	enum cm_status rc = CM_ERR_INVALID;

	if ((ix = decode(issuer)) == NULL) {
		textf(why, sizeof(why), "CRL issuer: the issuer certificate "
		    "cannot be decoded");
		goto out;
	}
	version = X509_CRL_get_version(crl->x);
	if (version != 0 && version != 1) {
		textf(why, sizeof(why), "CRL parse: version %ld is not v1 or v2",
		    version + 1);
		goto out;
	}
	/* issuer */
	if (X509_NAME_cmp(X509_CRL_get_issuer(crl->x),
	    X509_get_subject_name(ix)) != 0) {
		cm_x509_name_text(X509_CRL_get_issuer(crl->x), a, sizeof(a));
		cm_x509_name_text(X509_get_subject_name(ix), b, sizeof(b));
		textf(why, sizeof(why), "CRL issuer: the CRL's issuer (%s) is not "
		    "the issuer certificate's subject (%s)", a, b);
		goto out;
	}
	cm_x509_name_text(X509_get_subject_name(ix), b, sizeof(b));
	/* signer */
	ku = X509_get_key_usage(ix);
	if (ku != UINT32_MAX && !(ku & KU_CRL_SIGN)) {
		textf(why, sizeof(why), "CRL signer: the issuer certificate (%s) "
		    "lacks cRLSign in its keyUsage: it may not sign CRLs", b);
		goto out;
	}
	/* signature */
	if ((key = X509_get0_pubkey(ix)) == NULL ||
	    X509_CRL_verify(crl->x, key) != 1) {
		textf(why, sizeof(why), "CRL signature: the CRL's signature does "
		    "not verify with the key of the issuer certificate (%s)", b);
		goto out;
	}
	/* kind and extensions */
	if (check_crl_extensions(crl->x, why, sizeof(why)) != 0 ||
	    check_entry_extensions(crl->x, why, sizeof(why)) != 0)
		goto out;
	num = X509_CRL_get_ext_d2i(crl->x, NID_crl_number, &crit, NULL);
	if (crit >= 0 && (num == NULL || ASN1_STRING_type(num) ==
	    V_ASN1_NEG_INTEGER || int_hex(num, a, CM_CRL_NUMBER_MAX) != 0)) {
		textf(why, sizeof(why), "CRL extensions: the CRL number is not a "
		    "non-negative integer of at most 20 octets");
		goto out;
	}
	/* scope */
	if (check_idp(crl->x, url, why, sizeof(why)) != 0)
		goto out;
	/* freshness */
	cm_crl_get_info(crl, &info);
	if (cm_asn1_time_epoch(X509_CRL_get0_lastUpdate(crl->x), &info.this_update) !=
	    0) {
		textf(why, sizeof(why), "CRL freshness: thisUpdate is not a valid "
		    "time");
		goto out;
	}
	if (X509_CRL_get0_nextUpdate(crl->x) != NULL &&
	    cm_asn1_time_epoch(X509_CRL_get0_nextUpdate(crl->x), &info.next_update) !=
	    0) {
		textf(why, sizeof(why), "CRL freshness: nextUpdate is not a valid "
		    "time");
		goto out;
	}
	if (info.this_update > now + skew) {
		textf(why, sizeof(why), "CRL freshness: thisUpdate %s is in the "
		    "future (now %s, skew %" PRId64 " s)", tfmt(info.this_update,
		    t1), tfmt(now, t2), skew);
		goto out;
	}
	if (info.next_update != 0 && info.next_update < info.this_update) {
		textf(why, sizeof(why), "CRL freshness: nextUpdate %s is before "
		    "thisUpdate %s", tfmt(info.next_update, t1),
		    tfmt(info.this_update, t2));
		goto out;
	}
	if (info.next_update != 0 && info.next_update < now - skew) {
		textf(why, sizeof(why), "CRL freshness: stale CRL: nextUpdate %s "
		    "has passed (now %s, skew %" PRId64 " s)",
		    tfmt(info.next_update, t1), tfmt(now, t2), skew);
		goto out;
	}
	if (info.next_update == 0 && now - info.this_update > max_age) {
		textf(why, sizeof(why), "CRL freshness: stale CRL: thisUpdate %s is "
		    "older than the maximum age of %" PRId64 "d and there is no "
		    "nextUpdate (now %s)", tfmt(info.this_update, t1),
		    max_age / 86400, tfmt(now, t2));
		goto out;
	}
	/* order */
	if (min_number != NULL && min_number[0] != '\0' &&
	    cm_crl_number_cmp(info.number, min_number) < 0) {
		textf(why, sizeof(why), "CRL order: CRL number %s is lower than "
		    "the cached CRL's %s (a replayed or rolled-back CRL)",
		    info.number[0] ? info.number : "(none)", min_number);
		goto out;
	}
	if (min_this_update != 0 && info.this_update < min_this_update) {
		textf(why, sizeof(why), "CRL order: thisUpdate %s is older than the "
		    "cached CRL's %s (a replayed CRL)", tfmt(info.this_update, t1),
		    tfmt(min_this_update, t2));
		goto out;
	}
	rc = CM_OK;
out:
	if (rc != CM_OK) {
		one_line(why);
		cm_err_set(err, rc, "%s", why);
	}
	ERR_clear_error();
	ASN1_INTEGER_free(num);
	X509_free(ix);
	return rc;
}

/* ---- look-up ------------------------------------------------------------------ */

static void
result_error(struct cm_crl_result *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
result_error(struct cm_crl_result *out, const char *fmt, ...)
{
	va_list ap;

	out->status = CM_REV_ERROR;
	out->revocation_time = 0;
	out->revocation_reason[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
	va_end(ap);
	one_line(out->reason);
}

enum cm_rev_status
cm_crl_lookup(const struct cm_crl *crl, const struct cm_cert *cert,
    struct cm_crl_result *out)
{
	ISSUING_DIST_POINT *idp = NULL;
	ASN1_ENUMERATED *code = NULL;
	X509_REVOKED *rev = NULL;
	X509 *cx = NULL;
	char t[CM_TIME_TEXT_LEN];
	long reason = -1;
	int crit = -1, is_ca;

	out->status = CM_REV_ERROR;
	out->revocation_time = 0;
	out->revocation_reason[0] = '\0';
	out->reason[0] = '\0';
	if ((cx = decode(cert)) == NULL) {
		result_error(out, "CRL look-up: the certificate cannot be decoded");
		goto out;
	}
	is_ca = X509_check_ca(cx) != 0;
	idp = X509_CRL_get_ext_d2i(crl->x, NID_issuing_distribution_point,
	    &crit, NULL);
	if (idp != NULL && idp->onlyuser && is_ca) {
		result_error(out, "CRL scope: the CRL covers only end-entity "
		    "certificates (onlyContainsUserCerts) and this one is a CA");
		goto out;
	}
	if (idp != NULL && idp->onlyCA && !is_ca) {
		result_error(out, "CRL scope: the CRL covers only CA certificates "
		    "(onlyContainsCACerts) and this one is not a CA");
		goto out;
	}
	if (X509_CRL_get0_by_serial(crl->x, &rev,
	    X509_get0_serialNumber(cx)) == 0 || rev == NULL) {
		out->status = CM_REV_GOOD;
		textf(out->reason, sizeof(out->reason), "good: serial %s is not on "
		    "the CRL", cert->serial_hex);
		goto out;
	}
	code = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, &crit, NULL);
	if (code != NULL)
		reason = ASN1_ENUMERATED_get(code);
	else if (crit >= 0) {
		result_error(out, "CRL look-up: the reason code of the entry for "
		    "serial %s cannot be decoded", cert->serial_hex);
		goto out;
	}
	if (reason == 8) {      /* removeFromCRL: released from hold */
		out->status = CM_REV_GOOD;
		textf(out->reason, sizeof(out->reason), "good: serial %s is on the "
		    "CRL with reason removeFromCRL (no longer on hold)",
		    cert->serial_hex);
		goto out;
	}
	if (cm_asn1_time_epoch(X509_REVOKED_get0_revocationDate(rev),
	    &out->revocation_time) != 0) {
		result_error(out, "CRL look-up: the revocation date of serial %s "
		    "is not a valid time", cert->serial_hex);
		goto out;
	}
	out->status = CM_REV_REVOKED;
	if (reason >= 0)
		textf(out->revocation_reason, sizeof(out->revocation_reason), "%s",
		    reason_name(reason));
	textf(out->reason, sizeof(out->reason), "revoked at %s%s%s",
	    tfmt(out->revocation_time, t), reason >= 0 ? ", reason " : "",
	    reason >= 0 ? reason_name(reason) : "");
out:
	ERR_clear_error();
	ASN1_ENUMERATED_free(code);
	ISSUING_DIST_POINT_free(idp);
	X509_free(cx);
	return out->status;
}

/* ---- the CRL check, with a context ------------------------------------------ */

/* A CRL validated (or refused) for one issuer. */
struct memo {
	char *url;
	unsigned char ifp[CM_FP_LEN];
	struct cm_crl *crl;             /* NULL when refused */
	char why[CM_ERR_MSG_MAX];
	int from_store;
};

/* A download of this context. */
struct download {
	char *url;
	struct cm_crl *crl;             /* NULL when it failed */
	char why[CM_ERR_MSG_MAX];
};

struct cm_crl_ctx {
	pthread_mutex_t mu;
	struct cm_crl_ctx_opts o;
	struct memo *m;
	size_t nm, capm;
	struct download *d;
	size_t nd, capd;
	uint64_t fetched, from_store;
};

enum cm_status
cm_crl_ctx_new(const struct cm_crl_ctx_opts *opts, struct cm_crl_ctx **out,
    struct cm_err *err)
{
	struct cm_crl_ctx *c;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return cm_err_set(err, CM_ERR_NOMEM, "out of memory");
	if (opts != NULL)
		c->o = *opts;
	if (c->o.fetch.max_bytes == 0)
		c->o.fetch.max_bytes = CM_CRL_MAX_BYTES;
	pthread_mutex_init(&c->mu, NULL);
	*out = c;
	return CM_OK;
}

void
cm_crl_ctx_free(struct cm_crl_ctx *ctx)
{
	if (ctx == NULL)
		return;
	for (size_t i = 0; i < ctx->nm; i++) {
		free(ctx->m[i].url);
		cm_crl_free(ctx->m[i].crl);
	}
	for (size_t i = 0; i < ctx->nd; i++) {
		free(ctx->d[i].url);
		cm_crl_free(ctx->d[i].crl);
	}
	free(ctx->m);
	free(ctx->d);
	pthread_mutex_destroy(&ctx->mu);
	free(ctx);
}

void
cm_crl_ctx_stats(struct cm_crl_ctx *ctx, uint64_t *fetched,
    uint64_t *from_store)
{
	pthread_mutex_lock(&ctx->mu);
	if (fetched != NULL)
		*fetched = ctx->fetched;
	if (from_store != NULL)
		*from_store = ctx->from_store;
	pthread_mutex_unlock(&ctx->mu);
}

/* Duplicates a parsed CRL (the memo and the downloads own theirs). */
static struct cm_crl *
crl_dup(const struct cm_crl *c)
{
	struct cm_crl *d = NULL;

	if (cm_crl_parse(c->der, c->der_len, c->der_len, &d, NULL) != CM_OK)
		return NULL;
	return d;
}

static struct memo *
memo_find(struct cm_crl_ctx *ctx, const char *url, const unsigned char *ifp)
{
	for (size_t i = 0; i < ctx->nm; i++)
		if (strcmp(ctx->m[i].url, url) == 0 &&
		    memcmp(ctx->m[i].ifp, ifp, CM_FP_LEN) == 0)
			return &ctx->m[i];
	return NULL;
}

/* Adds a memo (taking crl); NULL when out of memory (crl freed). */
static struct memo *
memo_add(struct cm_crl_ctx *ctx, const char *url, const unsigned char *ifp,
    struct cm_crl *crl, const char *why, int from_store)
{
	struct memo *nv, *m;

	if (ctx->nm == ctx->capm) {
		size_t ncap = ctx->capm ? ctx->capm * 2 : 8;

		if ((nv = realloc(ctx->m, ncap * sizeof(*nv))) == NULL) {
			cm_crl_free(crl);
			return NULL;
		}
		ctx->m = nv;
		ctx->capm = ncap;
	}
	m = &ctx->m[ctx->nm];
	memset(m, 0, sizeof(*m));
	if ((m->url = strdup(url)) == NULL) {
		cm_crl_free(crl);
		return NULL;
	}
	memcpy(m->ifp, ifp, CM_FP_LEN);
	m->crl = crl;
	m->from_store = from_store;
	textf(m->why, sizeof(m->why), "%s", why != NULL ? why : "");
	ctx->nm++;
	return m;
}

/* The download of url in this context (one per URL). */
static struct download *
download(struct cm_crl_ctx *ctx, const char *url)
{
	struct cm_fetch_resp resp;
	struct cm_err err = {CM_OK, ""};
	struct download *nv, *d;

	for (size_t i = 0; i < ctx->nd; i++)
		if (strcmp(ctx->d[i].url, url) == 0)
			return &ctx->d[i];
	if (ctx->nd == ctx->capd) {
		size_t ncap = ctx->capd ? ctx->capd * 2 : 8;

		if ((nv = realloc(ctx->d, ncap * sizeof(*nv))) == NULL)
			return NULL;
		ctx->d = nv;
		ctx->capd = ncap;
	}
	d = &ctx->d[ctx->nd];
	memset(d, 0, sizeof(*d));
	if ((d->url = strdup(url)) == NULL)
		return NULL;
	ctx->nd++;
	ctx->fetched++;
	memset(&resp, 0, sizeof(resp));
	if (cm_fetch_get(url, &ctx->o.fetch, &resp, &err) != CM_OK)
		textf(d->why, sizeof(d->why), "CRL fetch: %s", err.msg);
	else if (cm_crl_parse(resp.body, resp.len, ctx->o.fetch.max_bytes,
	    &d->crl, &err) != CM_OK)
		textf(d->why, sizeof(d->why), "%s", err.msg);
	cm_fetch_resp_clear(&resp);
	one_line(d->why);
	return d;
}

/* The CRL of url validated for issuer (NULL with why when there is none),
 * through the memo, the store's cache and a download. */
static struct memo *
crl_for(struct cm_crl_ctx *ctx, const char *url, const struct cm_cert *issuer,
    cm_time now)
{
	struct cm_crl_cache_entry cached;
	struct cm_crl_info info;
	struct cm_crl *crl = NULL;
	struct download *dl;
	struct cm_err err = {CM_OK, ""};
	struct memo *m;
	int found = 0;

	memset(&cached, 0, sizeof(cached));
	if ((m = memo_find(ctx, url, issuer->fp)) != NULL)
		goto out;
	if (ctx->o.store != NULL &&
	    cm_store_crl_get(ctx->o.store, url, issuer->fp_hex, &cached, &found,
	    &err) == CM_OK && found && cached.next_update != 0 &&
	    cm_crl_parse(cached.der, cached.der_len, 0, &crl, NULL) == CM_OK) {
		if (cm_crl_validate(crl, issuer, url, NULL, 0, &ctx->o.crl, now,
		    NULL) == CM_OK) {
			ctx->from_store++;
			m = memo_add(ctx, url, issuer->fp, crl, NULL, 1);
			goto out;
		}
		cm_crl_free(crl);       /* stale or no longer valid: download */
		crl = NULL;
	}
	if ((dl = download(ctx, url)) == NULL) {
		m = memo_add(ctx, url, issuer->fp, NULL, "CRL: out of memory", 0);
		goto out;
	}
	if (dl->crl == NULL) {
		m = memo_add(ctx, url, issuer->fp, NULL, dl->why, 0);
		goto out;
	}
	if (cm_crl_validate(dl->crl, issuer, url, found ? cached.crl_number :
	    NULL, found ? cached.this_update : 0, &ctx->o.crl, now, &err) !=
	    CM_OK) {
		m = memo_add(ctx, url, issuer->fp, NULL, err.msg, 0);
		goto out;
	}
	cm_crl_get_info(dl->crl, &info);
	if (ctx->o.store != NULL && info.next_update != 0) {
		struct cm_crl_cache_entry e;

		memset(&e, 0, sizeof(e));
		e.der = dl->crl->der;
		e.der_len = dl->crl->der_len;
		e.this_update = info.this_update;
		e.next_update = info.next_update;
		e.fetched_at = now;
		textf(e.crl_number, sizeof(e.crl_number), "%s", info.number);
		(void)cm_store_crl_put(ctx->o.store, url, issuer->fp_hex, &e, NULL);
	}
	m = memo_add(ctx, url, issuer->fp, crl_dup(dl->crl), NULL, 0);
out:
	free(cached.der);
	return m;
}

static int
is_http(const char *u)
{
	return strncasecmp(u, "http://", 7) == 0 ||
	    strncasecmp(u, "https://", 8) == 0;
}

enum cm_rev_status
cm_crl_check(struct cm_crl_ctx *ctx, const struct cm_cert *cert,
    const struct cm_cert *issuer, cm_time now, struct cm_crl_result *out)
{
	const struct cm_strlist *urls;
	struct cm_crl_info info;
	char whys[CM_ERR_MSG_MAX] = "";
	size_t used = 0, tried = 0;
	struct memo *m;

	memset(out, 0, sizeof(*out));
	out->status = CM_REV_ERROR;
	pthread_mutex_lock(&ctx->mu);
	urls = ctx->o.urls != NULL && ctx->o.urls->n > 0 ? ctx->o.urls :
	    &cert->crl_urls;
	for (size_t i = 0; i < urls->n; i++) {
		const char *url = urls->v[i];

		if (url == NULL || !is_http(url))
			continue;
		tried++;
		m = crl_for(ctx, url, issuer, now);
		if (m != NULL && m->crl != NULL &&
		    cm_crl_lookup(m->crl, cert, out) != CM_REV_ERROR) {
			cm_crl_get_info(m->crl, &info);
			textf(out->url, sizeof(out->url), "%s", url);
			textf(out->issuer, sizeof(out->issuer), "%s", info.issuer);
			out->this_update = info.this_update;
			out->next_update = info.next_update;
			textf(out->number, sizeof(out->number), "%s", info.number);
			out->from_cache = m->from_store;
			/* "good: ..." / "revoked at ..." plus where it came from */
			textf(whys, sizeof(whys), "%s (CRL %.*s of %s, thisUpdate ",
			    out->reason, URL_SHOWN, url, info.issuer);
			textf(out->reason, sizeof(out->reason), "%s%s)", whys,
			    cm_time_format(info.this_update,
			    (char[CM_TIME_TEXT_LEN]){0}));
			one_line(out->reason);
			goto out;
		}
		used += (size_t)snprintf(whys + used, used < sizeof(whys) ?
		    sizeof(whys) - used : 0, "%s%.*s: %s", used ? "; " : "",
		    URL_SHOWN, url, m == NULL ? "out of memory" : m->crl == NULL ?
		    m->why : out->reason);
	}
	memset(out, 0, sizeof(*out));
	if (tried == 0)
		result_error(out, "CRL: no CRL URL: the certificate has no http(s) "
		    "CRL distribution point and no CRL URI is configured");
	else
		result_error(out, "CRL: no valid CRL: %s", whys);
out:
	pthread_mutex_unlock(&ctx->mu);
	return out->status;
}

enum cm_rev_status
cm_crl_ocsp_hook(const struct cm_cert *responder,
    const struct cm_cert *issuer, cm_time now, void *arg, char *why,
    size_t why_len)
{
	struct cm_crl_result r;

	if (arg == NULL) {
		textf(why, why_len, "no CRL check is available");
		return CM_REV_ERROR;
	}
	cm_crl_check(arg, responder, issuer, now, &r);
	textf(why, why_len, "%s", r.reason);
	return r.status;
}
