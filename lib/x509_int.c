/* x509_int.c - helpers shared by cert, ocsp, crl and tls. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <limits.h>

#include <openssl/asn1t.h>
#include <openssl/bio.h>

#include "x509_int.h"

int
cm_asn1_time_epoch(const ASN1_TIME *t, cm_time *out)
{
	struct tm tm;

	if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
		return -1;
	*out = cm_time_from_utc((int64_t)tm.tm_year + 1900, tm.tm_mon + 1,
	    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	return 0;
}

/* Length of the well-formed UTF-8 sequence at s, 0 when ill-formed. */
static size_t
utf8_len(const unsigned char *s, size_t left)
{
	unsigned char lo = 0x80, hi = 0xBF;
	size_t n, i;

	if (s[0] < 0x80)
		return s[0] != 0;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		n = 2;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
		n = 3;
		lo = s[0] == 0xE0 ? 0xA0 : 0x80;
		hi = s[0] == 0xED ? 0x9F : 0xBF;
	} else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
		n = 4;
		lo = s[0] == 0xF0 ? 0x90 : 0x80;
		hi = s[0] == 0xF4 ? 0x8F : 0xBF;
	} else
		return 0;
	if (left < n || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return n;
}

int
cm_utf8_copy(char *dst, size_t cap, const char *src, size_t len)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t i = 0, n, keep = 0;

	while (i < len) {
		if ((n = utf8_len(s + i, len - i)) == 0 || s[i] < 0x20 ||
		    s[i] == 0x7f)
			return -1;
		if (i + n < cap)
			keep = i + n;
		i += n;
	}
	memcpy(dst, src, keep);
	dst[keep] = '\0';
	return 0;
}

void
cm_x509_name_text(const X509_NAME *n, char *buf, size_t cap)
{
	static const unsigned long utf8_flags =
	    XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB;
	BIO *b = NULL;
	char *data = NULL;
	long len;

	snprintf(buf, cap, "(unprintable name)");
	if (n == NULL || (b = BIO_new(BIO_s_mem())) == NULL)
		goto out;
	if (X509_NAME_print_ex(b, n, 0, utf8_flags) >= 0 &&
	    (len = BIO_get_mem_data(b, &data)) >= 0 &&
	    cm_utf8_copy(buf, cap, data, (size_t)len) == 0)
		goto out;
	(void)BIO_reset(b);
	if (X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253) >= 0 &&
	    (len = BIO_get_mem_data(b, &data)) >= 0)
		(void)cm_utf8_copy(buf, cap, data, (size_t)len);
out:
	if (buf[0] == '\0')
		snprintf(buf, cap, "(empty name)");
	BIO_free(b);
}


/* ---- the light certificate decoder ------------------------------------ */

ASN1_SEQUENCE(CM_SPKI) = {
	ASN1_SIMPLE(CM_SPKI, algor, X509_ALGOR),
	ASN1_SIMPLE(CM_SPKI, public_key, ASN1_BIT_STRING)
} static_ASN1_SEQUENCE_END(CM_SPKI)

ASN1_SEQUENCE(CM_TBS) = {
	ASN1_EXP_OPT(CM_TBS, version, ASN1_INTEGER, 0),
	ASN1_SIMPLE(CM_TBS, serial, ASN1_INTEGER),
	ASN1_SIMPLE(CM_TBS, signature, X509_ALGOR),
	ASN1_SIMPLE(CM_TBS, issuer, X509_NAME),
	ASN1_SIMPLE(CM_TBS, validity, X509_VAL),
	ASN1_SIMPLE(CM_TBS, subject, X509_NAME),
	ASN1_SIMPLE(CM_TBS, key, CM_SPKI),
	ASN1_IMP_OPT(CM_TBS, issuer_uid, ASN1_BIT_STRING, 1),
	ASN1_IMP_OPT(CM_TBS, subject_uid, ASN1_BIT_STRING, 2),
	ASN1_EXP_SEQUENCE_OF_OPT(CM_TBS, extensions, X509_EXTENSION, 3)
} static_ASN1_SEQUENCE_END(CM_TBS)

ASN1_SEQUENCE(CM_X509) = {
	ASN1_SIMPLE(CM_X509, tbs, CM_TBS),
	ASN1_SIMPLE(CM_X509, sig_alg, X509_ALGOR),
	ASN1_SIMPLE(CM_X509, signature, ASN1_BIT_STRING)
} static_ASN1_SEQUENCE_END(CM_X509)

CM_X509 *
cm_x509_light_d2i(const unsigned char *buf, size_t len, size_t *used)
{
	const unsigned char *p = buf;
	CM_X509 *x;

	if (len > LONG_MAX)
		return NULL;
	x = (CM_X509 *)ASN1_item_d2i(NULL, &p, (long)len,
	    ASN1_ITEM_rptr(CM_X509));
	if (x != NULL)
		*used = (size_t)(p - buf);
	return x;
}

void
cm_x509_light_free(CM_X509 *x)
{
	ASN1_item_free((ASN1_VALUE *)x, ASN1_ITEM_rptr(CM_X509));
}

int
cm_x509_spki_i2d(const CM_SPKI *k, unsigned char **der)
{
	return ASN1_item_i2d((const ASN1_VALUE *)k, der, ASN1_ITEM_rptr(CM_SPKI));
}

/* ---- the signature-only decoder ---------------------------------------- */

ASN1_SEQUENCE_enc(CM_SIG_TBS, enc, 0) = {
	ASN1_EXP_OPT(CM_SIG_TBS, version, ASN1_INTEGER, 0),
	ASN1_SIMPLE(CM_SIG_TBS, serial, ASN1_INTEGER),
	ASN1_SIMPLE(CM_SIG_TBS, signature, X509_ALGOR),
	ASN1_SIMPLE(CM_SIG_TBS, issuer, ASN1_ANY),
	ASN1_SIMPLE(CM_SIG_TBS, validity, ASN1_ANY),
	ASN1_SIMPLE(CM_SIG_TBS, subject, ASN1_ANY),
	ASN1_SIMPLE(CM_SIG_TBS, key, ASN1_ANY),
	ASN1_IMP_OPT(CM_SIG_TBS, issuer_uid, ASN1_BIT_STRING, 1),
	ASN1_IMP_OPT(CM_SIG_TBS, subject_uid, ASN1_BIT_STRING, 2),
	ASN1_EXP_OPT(CM_SIG_TBS, extensions, ASN1_ANY, 3)
} static_ASN1_SEQUENCE_END_ref(CM_SIG_TBS, CM_SIG_TBS)

ASN1_SEQUENCE(CM_X509_SIG) = {
	ASN1_SIMPLE(CM_X509_SIG, tbs, CM_SIG_TBS),
	ASN1_SIMPLE(CM_X509_SIG, sig_alg, X509_ALGOR),
	ASN1_SIMPLE(CM_X509_SIG, signature, ASN1_BIT_STRING)
} static_ASN1_SEQUENCE_END(CM_X509_SIG)

CM_X509_SIG *
cm_x509_sig_d2i(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	CM_X509_SIG *x;

	if (der == NULL || len == 0 || len > LONG_MAX)
		return NULL;
	x = (CM_X509_SIG *)ASN1_item_d2i(NULL, &p, (long)len,
	    ASN1_ITEM_rptr(CM_X509_SIG));
	if (x != NULL && (p != der + len ||
	    x->tbs->issuer->type != V_ASN1_SEQUENCE)) {
		cm_x509_sig_free(x);
		return NULL;
	}
	return x;
}

void
cm_x509_sig_free(CM_X509_SIG *x)
{
	ASN1_item_free((ASN1_VALUE *)x, ASN1_ITEM_rptr(CM_X509_SIG));
}

void
cm_x509_sig_issuer_der(const CM_X509_SIG *x, const unsigned char **der,
    size_t *len)
{
	const ASN1_STRING *n = x->tbs->issuer->value.sequence;

	*der = ASN1_STRING_get0_data(n);
	*len = (size_t)ASN1_STRING_length(n);
}

int
cm_x509_sig_verify(const CM_X509_SIG *x, EVP_PKEY *key)
{
	if (x == NULL || key == NULL ||
	    X509_ALGOR_cmp(x->sig_alg, x->tbs->signature) != 0)
		return 0;
	return ASN1_item_verify(ASN1_ITEM_rptr(CM_SIG_TBS), x->sig_alg,
	    x->signature, x->tbs, key) == 1;
}
