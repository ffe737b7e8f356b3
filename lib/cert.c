/*
 * cert.c - parsing X.509 certificates from uploaded bytes, and their fields.
 *
 * The bytes are untrusted. Everything is bounded: the input size, the number
 * of certificates, RSA key sizes, and the iteration counts of the PKCS#12
 * MAC and of the password-based encryption of PKCS#12 certificate safes
 * (checked before any key derivation runs). Private keys are never decoded:
 * PKCS#12 key bags are recognised by type and skipped, PEM key blocks are
 * wiped. A parse works on a temporary list, moved into the caller's list
 * only on success. No static mutable state: thread-safe.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/asn1t.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/pkcs7.h>
#include <openssl/provider.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certmon/cert.h"
#include "x509_int.h"

#define MAX_CERTS_PER_INPUT 10000   /* certificates in one input */
#define MAX_P12_NESTING 4           /* nested safeContents bags */
#define MAX_P12_DECRYPTS 64         /* decryptions tried in a PKCS#12 */
#define P12_WORK_FACTOR 4           /* all key derivations of a PKCS#12:
                                     * at most 4 times max_p12_iter */
#define MAX_OID_BYTES 64            /* longer OIDs are not turned to text */
#define READ_CHUNK (64 * 1024)

/* The state of one cm_cert_parse call. */
struct parse_ctx {
	const char *name;               /* starts every error message */
	const char *password;
	size_t max_bytes;
	int max_rsa_bits;
	long max_p12_iter;
	BIO *scratch;                   /* memory BIO to print names into */
	struct cm_cert_list list;       /* what this input gave so far */
	struct cm_err *err;
};

static const char hexdig_lower[] = "0123456789abcdef";
static const char hexdig_upper[] = "0123456789ABCDEF";

typedef struct {                /* RFC 8017 RSAPublicKey */
	ASN1_INTEGER *n;
	ASN1_INTEGER *e;
} CM_RSA_PUB;

ASN1_SEQUENCE(CM_RSA_PUB) = {
	ASN1_SIMPLE(CM_RSA_PUB, n, ASN1_INTEGER),
	ASN1_SIMPLE(CM_RSA_PUB, e, ASN1_INTEGER)
} static_ASN1_SEQUENCE_END(CM_RSA_PUB)

/* Named curves whose size is known without loading them. */
static const struct {
	int nid;
	int bits;
} ec_curves[] = {
	{ NID_X9_62_prime256v1, 256 },
	{ NID_secp384r1, 384 },
	{ NID_secp521r1, 521 },
	{ NID_secp256k1, 256 },
	{ NID_secp224r1, 224 },
	{ NID_X9_62_prime192v1, 192 },
	{ NID_brainpoolP256r1, 256 },
	{ NID_brainpoolP384r1, 384 },
	{ NID_brainpoolP512r1, 512 },
};

/* Sets *c->err to "<name>: <message>" and returns code. */
static enum cm_status fail(struct parse_ctx *c, enum cm_status code,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static enum cm_status
fail(struct parse_ctx *c, enum cm_status code, const char *fmt, ...)
{
	char msg[CM_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return cm_err_set(c->err, code, "%s: %s", c->name, msg);
}

/* The reason of the newest OpenSSL error, or "unknown reason". */
static const char *
ossl_reason(void)
{
	const char *r = ERR_reason_error_string(ERR_peek_last_error());

	return r != NULL ? r : "unknown reason";
}

/* Whether the newest OpenSSL error is (lib, reason). */
static int
last_error_is(int lib, int reason)
{
	unsigned long e = ERR_peek_last_error();

	return ERR_GET_LIB(e) == lib && ERR_GET_REASON(e) == reason;
}

/* ---- UTF-8 ------------------------------------------------------------ */

/* Length of the well-formed UTF-8 sequence at s (RFC 3629), 0 when s starts
 * an ill-formed one or a NUL byte. */
static size_t
utf8_seq_len(const unsigned char *s, size_t left)
{
	unsigned char b = s[0], lo = 0x80, hi = 0xBF;
	size_t n, i;

	if (b == 0)
		return 0;
	if (b < 0x80)
		return 1;
	if (b >= 0xC2 && b <= 0xDF)
		n = 2;
	else if (b >= 0xE0 && b <= 0xEF) {
		n = 3;
		if (b == 0xE0)
			lo = 0xA0;
		else if (b == 0xED)
			hi = 0x9F;
	} else if (b >= 0xF0 && b <= 0xF4) {
		n = 4;
		if (b == 0xF0)
			lo = 0x90;
		else if (b == 0xF4)
			hi = 0x8F;
	} else
		return 0;
	if (left < n || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return n;
}

/* Returns a malloc'ed NUL-terminated copy of s[0..len) where each NUL byte
 * and each byte starting an ill-formed UTF-8 sequence became U+FFFD. */
static char *
utf8_clean(const unsigned char *s, size_t len)
{
	size_t i, n, o = 0;
	char *r;

	for (i = 0; i < len; i += n)
		if ((n = utf8_seq_len(s + i, len - i)) == 0)
			break;
	if (i >= len) {                 /* the common case: already clean */
		if ((r = malloc(len + 1)) == NULL)
			return NULL;
		memcpy(r, s, len);
		r[len] = '\0';
		return r;
	}
	if (len > (SIZE_MAX - 1) / 3 || (r = malloc(3 * len + 1)) == NULL)
		return NULL;
	for (i = 0; i < len; i += n) {
		if ((n = utf8_seq_len(s + i, len - i)) == 0) {
			memcpy(r + o, "\xEF\xBF\xBD", 3);
			o += 3;
			n = 1;
		} else {
			memcpy(r + o, s + i, n);
			o += n;
		}
	}
	r[o] = '\0';
	return r;
}

/* ---- small lists -------------------------------------------------------- */

/* Appends s (taking ownership; NULL means out of memory) to l. The capacity
 * follows from l->n: 4, then the next power of two. */
static enum cm_status
strlist_push(struct cm_strlist *l, char *s)
{
	char **v;
	size_t cap;

	if (s == NULL)
		return CM_ERR_NOMEM;
	if (l->n == 0 || (l->n >= 4 && (l->n & (l->n - 1)) == 0)) {
		cap = l->n == 0 ? 4 : 2 * l->n;
		if ((v = realloc(l->v, cap * sizeof(*v))) == NULL) {
			free(s);
			return CM_ERR_NOMEM;
		}
		l->v = v;
	}
	l->v[l->n++] = s;
	return CM_OK;
}

/* Appends prefix followed by the cleaned bytes s[0..len). */
static enum cm_status
strlist_push_pfx(struct cm_strlist *l, const char *prefix,
    const unsigned char *s, size_t len)
{
	char *clean = NULL, *r = NULL;
	size_t pl = strlen(prefix), cl;

	if ((clean = utf8_clean(s, len)) == NULL)
		goto out;
	cl = strlen(clean);
	if ((r = malloc(pl + cl + 1)) == NULL)
		goto out;
	memcpy(r, prefix, pl);
	memcpy(r + pl, clean, cl + 1);
out:
	free(clean);
	return strlist_push(l, r);
}

static void
strlist_free(struct cm_strlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* Makes room for `need` certificates in list. */
static enum cm_status
list_reserve(struct cm_cert_list *list, size_t need)
{
	struct cm_cert **v;
	size_t cap;

	if (need <= list->cap)
		return CM_OK;
	cap = list->cap < 8 ? 8 : list->cap;
	while (cap < need) {
		if (cap > SIZE_MAX / 2 / sizeof(struct cm_cert *))
			return CM_ERR_NOMEM;
		cap *= 2;
	}
	if ((v = realloc(list->v, cap * sizeof(struct cm_cert *))) == NULL)
		return CM_ERR_NOMEM;
	list->v = v;
	list->cap = cap;
	return CM_OK;
}

/* ---- fields --------------------------------------------------------------- */

/* Returns the text of an OID: its short (or long) name when OpenSSL knows
 * it, else the dotted form; malloc'ed, NULL when out of memory. */
static char *
oid_text(const ASN1_OBJECT *o, int long_name)
{
	char buf[MAX_OID_BYTES * 4];
	int nid = OBJ_obj2nid(o);
	const char *s;

	if (nid != NID_undef) {
		s = long_name ? OBJ_nid2ln(nid) : OBJ_nid2sn(nid);
		if (s != NULL)
			return strdup(s);
	}
	/* Refuse to convert huge OIDs: their arcs go through bignums. */
	if (o == NULL || OBJ_length(o) == 0 || OBJ_length(o) > MAX_OID_BYTES)
		return strdup("(unknown OID)");
	if (OBJ_obj2txt(buf, sizeof(buf), o, 1) <= 0)
		return strdup("(unknown OID)");
	return strdup(buf);
}

/* Whether every attribute type of n is short enough to print. */
static int
name_oids_ok(const X509_NAME *n)
{
	int i, count = X509_NAME_entry_count(n);

	for (i = 0; i < count; i++) {
		const X509_NAME_ENTRY *e = X509_NAME_get_entry(n, i);

		if (OBJ_length(X509_NAME_ENTRY_get_object(e)) > MAX_OID_BYTES)
			return 0;
	}
	return 1;
}

/* Returns n as an RFC 2253 UTF-8 string (malloc'ed), NULL when out of
 * memory. Values that cannot be converted to UTF-8 are hex-dumped. */
static char *
name_text(BIO *scratch, const X509_NAME *n)
{
	const unsigned long flags = XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB;
	char *data = NULL;
	long len;

	if (!name_oids_ok(n))
		return strdup("(name with an overlong attribute type)");
	(void)BIO_reset(scratch);
	if (X509_NAME_print_ex(scratch, n, 0, flags) < 0) {
		(void)BIO_reset(scratch);
		if (X509_NAME_print_ex(scratch, n, 0,
		    XN_FLAG_RFC2253 | ASN1_STRFLGS_DUMP_ALL) < 0)
			return strdup("(unprintable name)");
	}
	len = BIO_get_mem_data(scratch, &data);
	if (len <= 0)
		return strdup("");
	return utf8_clean((const unsigned char *)data, (size_t)len);
}

/* Returns the last CN of n as UTF-8 (malloc'ed; "" when there is none). */
static char *
last_cn(const X509_NAME *n)
{
	const ASN1_STRING *s;
	unsigned char *u = NULL;
	char *r;
	int i = -1, last = -1, ulen;

	while ((i = X509_NAME_get_index_by_NID(n, NID_commonName, i)) >= 0)
		last = i;
	if (last < 0)
		return strdup("");
	s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, last));
	if (s == NULL)
		return strdup("");
	ulen = ASN1_STRING_to_UTF8(&u, s);
	if (ulen >= 0)
		r = utf8_clean(u, (size_t)ulen);
	else                            /* not convertible: clean the bytes */
		r = utf8_clean(ASN1_STRING_get0_data(s),
		    (size_t)ASN1_STRING_length(s));
	OPENSSL_free(u);
	return r;
}

/* Upper-case hex of an INTEGER, as BN_bn2hex prints it ("0" for zero, a
 * leading '-' when negative). */
static char *
serial_hex(const ASN1_INTEGER *sn)
{
	const unsigned char *d = ASN1_STRING_get0_data(sn);
	int len = ASN1_STRING_length(sn), i = 0;
	char *r, *p;

	while (i < len && d[i] == 0)
		i++;
	if ((r = malloc(2 * (size_t)(len - i) + 3)) == NULL)
		return NULL;
	p = r;
	if (i == len) {
		memcpy(r, "0", 2);
		return r;
	}
	if (ASN1_STRING_type(sn) == V_ASN1_NEG_INTEGER)
		*p++ = '-';
	for (; i < len; i++) {
		*p++ = hexdig_upper[d[i] >> 4];
		*p++ = hexdig_upper[d[i] & 0x0f];
	}
	*p = '\0';
	return r;
}

/* Appends "<prefix><text>" for each GENERAL_NAME of gens that fits:
 * all kinds when uri_only is 0 (SANs), else only URIs, without prefix. */
static enum cm_status
push_general_names(struct cm_strlist *l, const GENERAL_NAMES *gens,
    int uri_only, BIO *scratch)
{
	enum cm_status st = CM_OK;
	char addr[INET6_ADDRSTRLEN], *s;
	const ASN1_STRING *a;
	int i;

	for (i = 0; i < sk_GENERAL_NAME_num(gens) && st == CM_OK; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);

		if (uri_only) {
			if (g->type == GEN_URI)
				st = strlist_push_pfx(l, "",
				    ASN1_STRING_get0_data(g->d.ia5),
				    (size_t)ASN1_STRING_length(g->d.ia5));
			continue;
		}
		switch (g->type) {
		case GEN_DNS:
		case GEN_EMAIL:
		case GEN_URI:
			a = g->d.ia5;
			st = strlist_push_pfx(l, g->type == GEN_DNS ? "DNS:" :
			    g->type == GEN_EMAIL ? "email:" : "URI:",
			    ASN1_STRING_get0_data(a), (size_t)ASN1_STRING_length(a));
			break;
		case GEN_IPADD:
			a = g->d.iPAddress;
			if ((ASN1_STRING_length(a) == 4 && inet_ntop(AF_INET,
			    ASN1_STRING_get0_data(a), addr, sizeof(addr))) ||
			    (ASN1_STRING_length(a) == 16 && inet_ntop(AF_INET6,
			    ASN1_STRING_get0_data(a), addr, sizeof(addr)))) {
				st = strlist_push_pfx(l, "IP:",
				    (const unsigned char *)addr, strlen(addr));
			} else {        /* not an address: show it in hex */
				char *h = NULL;
				int j, n = ASN1_STRING_length(a);
				const unsigned char *d = ASN1_STRING_get0_data(a);

				if ((h = malloc(2 * (size_t)n + 5)) != NULL) {
					memcpy(h, "IP:#", 4);
					for (j = 0; j < n; j++) {
						h[4 + 2 * j] = hexdig_lower[d[j] >> 4];
						h[5 + 2 * j] = hexdig_lower[d[j] & 15];
					}
					h[4 + 2 * n] = '\0';
				}
				st = strlist_push(l, h);
			}
			break;
		case GEN_DIRNAME:
			if ((s = name_text(scratch, g->d.directoryName)) != NULL) {
				char *r = NULL;

				if (asprintf(&r, "DirName:%s", s) < 0)
					r = NULL;
				free(s);
				s = r;
			}
			st = strlist_push(l, s);
			break;
		case GEN_RID:
		case GEN_OTHERNAME:
			s = oid_text(g->type == GEN_RID ? g->d.registeredID :
			    g->d.otherName->type_id, 0);
			if (s != NULL) {
				char *r = NULL;

				if (asprintf(&r, "%s:%s", g->type == GEN_RID ?
				    "RID" : "othername", s) < 0)
					r = NULL;
				free(s);
				s = r;
			}
			st = strlist_push(l, s);
			break;
		default:                /* X400, EDI party: not shown */
			break;
		}
	}
	return st;
}

/* Fills the extension fields of cert from exts. */
static enum cm_status
read_extensions(struct cm_cert *cert, const STACK_OF(X509_EXTENSION) *exts,
    BIO *scratch)
{
	enum cm_status st = CM_OK;
	BASIC_CONSTRAINTS *bc = NULL;
	GENERAL_NAMES *sans = NULL;
	EXTENDED_KEY_USAGE *eku = NULL;
	AUTHORITY_INFO_ACCESS *aia = NULL;
	CRL_DIST_POINTS *cdp = NULL;
	int i;

	/* Nothing to look for in a certificate without extensions (v1). */
	if (X509v3_get_ext_count(exts) == 0)
		goto out;

	if ((bc = X509V3_get_d2i(exts, NID_basic_constraints, NULL, NULL)))
		cert->is_ca = bc->ca != 0;
	if ((sans = X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL)) &&
	    (st = push_general_names(&cert->sans, sans, 0, scratch)) != CM_OK)
		goto out;
	if ((eku = X509V3_get_d2i(exts, NID_ext_key_usage, NULL, NULL))) {
		for (i = 0; i < sk_ASN1_OBJECT_num(eku); i++)
			if ((st = strlist_push(&cert->ekus,
			    oid_text(sk_ASN1_OBJECT_value(eku, i), 0))) != CM_OK)
				goto out;
	}
	if ((aia = X509V3_get_d2i(exts, NID_info_access, NULL, NULL))) {
		for (i = 0; i < sk_ACCESS_DESCRIPTION_num(aia); i++) {
			const ACCESS_DESCRIPTION *ad =
			    sk_ACCESS_DESCRIPTION_value(aia, i);
			int nid = OBJ_obj2nid(ad->method);
			const ASN1_IA5STRING *u;

			if (ad->location == NULL || ad->location->type != GEN_URI)
				continue;
			u = ad->location->d.uniformResourceIdentifier;
			if (nid == NID_ad_OCSP)
				st = strlist_push_pfx(&cert->ocsp_urls, "",
				    ASN1_STRING_get0_data(u),
				    (size_t)ASN1_STRING_length(u));
			else if (nid == NID_ad_ca_issuers)
				st = strlist_push_pfx(&cert->ca_issuers, "",
				    ASN1_STRING_get0_data(u),
				    (size_t)ASN1_STRING_length(u));
			if (st != CM_OK)
				goto out;
		}
	}
	if ((cdp = X509V3_get_d2i(exts, NID_crl_distribution_points, NULL,
	    NULL))) {
		for (i = 0; i < sk_DIST_POINT_num(cdp); i++) {
			const DIST_POINT *dp = sk_DIST_POINT_value(cdp, i);

			if (dp->distpoint == NULL || dp->distpoint->type != 0)
				continue;
			if ((st = push_general_names(&cert->crl_urls,
			    dp->distpoint->name.fullname, 1, scratch)) != CM_OK)
				goto out;
		}
	}
	cert->ocsp_nocheck =
	    X509v3_get_ext_by_NID(exts, NID_id_pkix_OCSP_noCheck, -1) >= 0;
out:
	BASIC_CONSTRAINTS_free(bc);
	GENERAL_NAMES_free(sans);
	EXTENDED_KEY_USAGE_free(eku);
	AUTHORITY_INFO_ACCESS_free(aia);
	CRL_DIST_POINTS_free(cdp);
	return st;
}

/* Bits of a positive INTEGER, 0 when it is zero or negative. */
static int
integer_bits(const ASN1_INTEGER *a)
{
	const unsigned char *d = ASN1_STRING_get0_data(a);
	int len = ASN1_STRING_length(a), i = 0, bits;

	if (ASN1_STRING_type(a) != V_ASN1_INTEGER)
		return 0;
	while (i < len && d[i] == 0)
		i++;
	if (i == len || len - i > INT_MAX / 8)
		return 0;
	bits = 8 * (len - i);
	for (unsigned char top = d[i]; !(top & 0x80); top <<= 1)
		bits--;
	return bits;
}

/* Reads the type and size of the common keys (RSA, named-curve EC, EdDSA)
 * from their encoding; returns 0 when key_slow must decide. An EC point is
 * not checked to lie on its curve (20 us): such a broken key still shows
 * as EC of its curve's size, where OpenSSL would not load it. */
static int
key_fast(const CM_SPKI *k, struct cm_cert *cert)
{
	const unsigned char *d = ASN1_STRING_get0_data(k->public_key), *p;
	int len = ASN1_STRING_length(k->public_key), ptype, bits = 0;
	const ASN1_OBJECT *obj = NULL;
	const void *pval = NULL;
	CM_RSA_PUB *rsa;
	size_t i, bytes;

	X509_ALGOR_get0(&obj, &ptype, &pval, k->algor);
	switch (OBJ_obj2nid(obj)) {
	case NID_rsaEncryption:
		p = d;
		rsa = (CM_RSA_PUB *)ASN1_item_d2i(NULL, &p, len,
		    ASN1_ITEM_rptr(CM_RSA_PUB));
		if (rsa != NULL && p == d + len &&
		    integer_bits(rsa->e) > 0)
			bits = integer_bits(rsa->n);
		ASN1_item_free((ASN1_VALUE *)rsa, ASN1_ITEM_rptr(CM_RSA_PUB));
		if (bits <= 0)
			return 0;
		strcpy(cert->key_type, "RSA");
		break;
	case NID_X9_62_id_ecPublicKey:
		if (ptype != V_ASN1_OBJECT)
			return 0;       /* explicit parameters */
		for (i = 0; i < sizeof(ec_curves) / sizeof(ec_curves[0]); i++)
			if (ec_curves[i].nid == OBJ_obj2nid(pval))
				bits = ec_curves[i].bits;
		bytes = (size_t)(bits + 7) / 8;
		if (bits == 0 || len < 1 ||
		    !((d[0] == 4 && (size_t)len == 1 + 2 * bytes) ||
		    ((d[0] == 2 || d[0] == 3) && (size_t)len == 1 + bytes)))
			return 0;
		strcpy(cert->key_type, "EC");
		break;
	case NID_ED25519:
		if (len != 32 || ptype != V_ASN1_UNDEF)
			return 0;
		strcpy(cert->key_type, "Ed25519");
		bits = 256;
		break;
	case NID_ED448:
		if (len != 57 || ptype != V_ASN1_UNDEF)
			return 0;
		strcpy(cert->key_type, "Ed448");
		bits = 456;
		break;
	default:
		return 0;
	}
	cert->key_bits = bits;
	return 1;
}

/* Fills key_type and key_bits through OpenSSL's key loading (slow; for
 * what key_fast does not know). A key OpenSSL cannot load gets the name of
 * its algorithm and 0 bits. */
static void
key_slow(const CM_SPKI *k, struct cm_cert *cert)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	EVP_PKEY *pk = NULL;
	const char *type = NULL;
	char *oid = NULL;
	int n, id;

	n = cm_x509_spki_i2d(k, &der);
	if (n > 0) {
		p = der;
		pk = d2i_PUBKEY(NULL, &p, n);
	}
	if (pk != NULL) {
		switch ((id = EVP_PKEY_get_base_id(pk))) {
		case EVP_PKEY_RSA:      type = "RSA"; break;
		case EVP_PKEY_RSA_PSS:  type = "RSA-PSS"; break;
		case EVP_PKEY_EC:       type = "EC"; break;
		case EVP_PKEY_ED25519:  type = "Ed25519"; break;
		case EVP_PKEY_ED448:    type = "Ed448"; break;
		case EVP_PKEY_DSA:      type = "DSA"; break;
		default:
			type = id != NID_undef ? OBJ_nid2sn(id) :
			    EVP_PKEY_get0_type_name(pk);
			break;
		}
		cert->key_bits = EVP_PKEY_get_bits(pk);
	} else {
		type = oid = oid_text(k->algor->algorithm, 0);
		cert->key_bits = 0;
	}
	snprintf(cert->key_type, sizeof(cert->key_type), "%s",
	    type != NULL ? type : "unknown");
	free(oid);
	EVP_PKEY_free(pk);
	OPENSSL_free(der);
}

/* Builds a cm_cert from x, decoded from der[0..der_len) (its exact
 * encoding). max_rsa_bits <= 0 means no cap. On error, sets *why (static
 * text) or *bad_bits (an RSA key above the cap). */
static enum cm_status
cert_build(const CM_X509 *x, const unsigned char *der, size_t der_len,
    int max_rsa_bits, BIO *scratch, struct cm_cert **out,
    const char **why, int *bad_bits)
{
	enum cm_status st = CM_ERR_NOMEM;
	const CM_TBS *tbs = x->tbs;
	struct cm_cert *cert = NULL;
	long version = 0;
	size_t i;

	*why = NULL;
	*bad_bits = 0;
	if ((cert = calloc(1, sizeof(*cert))) == NULL)
		goto out;

	if (tbs->version != NULL)
		version = ASN1_INTEGER_get(tbs->version);
	if (version < 0 || version > 2) {
		*why = "unknown certificate version";
		st = CM_ERR_INVALID;
		goto out;
	}
	cert->version = (int)version + 1;
	if (!key_fast(tbs->key, cert))
		key_slow(tbs->key, cert);
	if (max_rsa_bits > 0 && cert->key_bits > max_rsa_bits &&
	    (strcmp(cert->key_type, "RSA") == 0 ||
	    strcmp(cert->key_type, "RSA-PSS") == 0)) {
		*bad_bits = cert->key_bits;
		st = CM_ERR_TOOBIG;
		goto out;
	}
	if (cm_asn1_time_epoch(tbs->validity->notBefore, &cert->not_before) != 0 ||
	    cm_asn1_time_epoch(tbs->validity->notAfter, &cert->not_after) != 0) {
		*why = "malformed validity time";
		st = CM_ERR_INVALID;
		goto out;
	}

	if ((cert->der = malloc(der_len)) == NULL)
		goto out;
	memcpy(cert->der, der, der_len);
	cert->der_len = der_len;
	SHA256(cert->der, cert->der_len, cert->fp);
	for (i = 0; i < CM_FP_LEN; i++) {
		cert->fp_hex[2 * i] = hexdig_lower[cert->fp[i] >> 4];
		cert->fp_hex[2 * i + 1] = hexdig_lower[cert->fp[i] & 15];
	}
	cert->fp_hex[2 * CM_FP_LEN] = '\0';

	if ((cert->subject = name_text(scratch, tbs->subject)) == NULL ||
	    (cert->issuer = name_text(scratch, tbs->issuer)) == NULL ||
	    (cert->subject_cn = last_cn(tbs->subject)) == NULL ||
	    (cert->issuer_cn = last_cn(tbs->issuer)) == NULL ||
	    (cert->serial_hex = serial_hex(tbs->serial)) == NULL ||
	    (cert->sig_alg = oid_text(x->sig_alg->algorithm, 1)) == NULL)
		goto out;
	if ((st = read_extensions(cert, tbs->extensions, scratch)) != CM_OK)
		goto out;
	st = CM_OK;
out:
	if (st != CM_OK) {
		cm_cert_free(cert);
		cert = NULL;
	}
	*out = cert;
	return st;
}

/* ---- parsing --------------------------------------------------------------- */

/* Adds the certificate x, decoded from der[0..der_len), to c->list. */
static enum cm_status
add_cert(struct parse_ctx *c, const CM_X509 *x, const unsigned char *der,
    size_t der_len)
{
	struct cm_cert *cert = NULL;
	const char *why = NULL;
	char where[48] = "";
	enum cm_status st;
	int bits = 0;

	if (c->list.n > 0)
		snprintf(where, sizeof(where), "certificate %zu: ",
		    c->list.n + 1);
	if (c->list.n >= MAX_CERTS_PER_INPUT)
		return fail(c, CM_ERR_TOOBIG,
		    "more than %d certificates in one input",
		    MAX_CERTS_PER_INPUT);
	st = cert_build(x, der, der_len, c->max_rsa_bits, c->scratch, &cert,
	    &why, &bits);
	if (st == CM_ERR_TOOBIG)
		return fail(c, st, "%sRSA key of %d bits above the cap %d",
		    where, bits, c->max_rsa_bits);
	if (st == CM_ERR_NOMEM)
		return fail(c, st, "%sout of memory", where);
	if (st != CM_OK)
		return fail(c, st, "%s%s", where, why ? why : "invalid");
	if (list_reserve(&c->list, c->list.n + 1) != CM_OK) {
		cm_cert_free(cert);
		return fail(c, CM_ERR_NOMEM, "out of memory");
	}
	c->list.v[c->list.n++] = cert;
	return CM_OK;
}

/* Adds a certificate OpenSSL decoded (from PKCS#7 or PKCS#12). */
static enum cm_status
add_x509(struct parse_ctx *c, X509 *x509)
{
	unsigned char *der = NULL;
	CM_X509 *x = NULL;
	enum cm_status st;
	size_t used = 0;
	int n;

	if ((n = i2d_X509(x509, &der)) <= 0)
		st = fail(c, CM_ERR_INVALID, "cannot encode a certificate");
	else if ((x = cm_x509_light_d2i(der, (size_t)n, &used)) == NULL ||
	    used != (size_t)n)
		st = fail(c, CM_ERR_INVALID, "malformed certificate");
	else
		st = add_cert(c, x, der, (size_t)n);
	cm_x509_light_free(x);
	OPENSSL_free(der);
	return st;
}

/* Adds the certificates of a PKCS#7 signed-data (none when it has none). */
static enum cm_status
take_pkcs7(struct parse_ctx *c, PKCS7 *p7)
{
	STACK_OF(X509) *certs;
	enum cm_status st = CM_OK;
	int i;

	if (!PKCS7_type_is_signed(p7) || p7->d.sign == NULL)
		return fail(c, CM_ERR_INVALID,
		    "PKCS#7 data is not signed-data, it holds no certificate");
	certs = p7->d.sign->cert;
	if (sk_X509_num(certs) > MAX_CERTS_PER_INPUT)
		return fail(c, CM_ERR_TOOBIG,
		    "more than %d certificates in one input",
		    MAX_CERTS_PER_INPUT);
	for (i = 0; i < sk_X509_num(certs) && st == CM_OK; i++)
		st = add_x509(c, sk_X509_value(certs, i));
	return st;
}

/* The iteration count of a password-based encryption algorithm (for scrypt
 * N*r*p), or -1 when its parameters are unreadable or unknown. */
static int64_t
pbe_cost(const X509_ALGOR *alg)
{
	PBEPARAM *pbe = NULL;
	PBE2PARAM *pbe2 = NULL;
	PBKDF2PARAM *kdf = NULL;
	SCRYPT_PARAMS *sc = NULL;
	int64_t cost = -1, n, r, p;

	if (alg == NULL || alg->algorithm == NULL)
		goto out;
	if (OBJ_obj2nid(alg->algorithm) != NID_pbes2) {
		/* PKCS#12 and PKCS#5 v1.5 schemes: PBEParameter */
		pbe = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBEPARAM),
		    alg->parameter);
		if (pbe == NULL || !ASN1_INTEGER_get_int64(&cost, pbe->iter))
			cost = -1;
		goto out;
	}
	pbe2 = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBE2PARAM),
	    alg->parameter);
	if (pbe2 == NULL || pbe2->keyfunc == NULL)
		goto out;
	switch (OBJ_obj2nid(pbe2->keyfunc->algorithm)) {
	case NID_id_pbkdf2:
		kdf = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBKDF2PARAM),
		    pbe2->keyfunc->parameter);
		if (kdf == NULL || !ASN1_INTEGER_get_int64(&cost, kdf->iter))
			cost = -1;
		break;
	case NID_id_scrypt:
		sc = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(SCRYPT_PARAMS),
		    pbe2->keyfunc->parameter);
		if (sc == NULL ||
		    !ASN1_INTEGER_get_int64(&n, sc->costParameter) ||
		    !ASN1_INTEGER_get_int64(&r, sc->blockSize) ||
		    !ASN1_INTEGER_get_int64(&p, sc->parallelizationParameter) ||
		    n < 0 || r < 0 || p < 0)
			break;
		if (n > 0 && r > 0 && p > 0 &&
		    (n > INT64_MAX / r || n * r > INT64_MAX / p))
			cost = INT64_MAX;
		else
			cost = n * r * p;
		break;
	default:
		break;
	}
out:
	PBEPARAM_free(pbe);
	PBE2PARAM_free(pbe2);
	PBKDF2PARAM_free(kdf);
	SCRYPT_PARAMS_free(sc);
	return cost;
}

/* Adds the certificates of a stack of PKCS#12 bags; notes key bags. */
static enum cm_status
take_bags(struct parse_ctx *c, const STACK_OF(PKCS12_SAFEBAG) *bags,
    int depth)
{
	enum cm_status st = CM_OK;
	X509 *x = NULL;
	int i;

	for (i = 0; i < sk_PKCS12_SAFEBAG_num(bags) && st == CM_OK; i++) {
		const PKCS12_SAFEBAG *bag = sk_PKCS12_SAFEBAG_value(bags, i);

		switch (PKCS12_SAFEBAG_get_nid(bag)) {
		case NID_certBag:
			if (PKCS12_SAFEBAG_get_bag_nid(bag) != NID_x509Certificate)
				break;  /* SDSI certificates: not X.509 */
			if ((x = PKCS12_SAFEBAG_get1_cert(bag)) == NULL) {
				st = fail(c, CM_ERR_INVALID,
				    "malformed certificate in the PKCS#12 file");
				break;
			}
			st = add_x509(c, x);
			X509_free(x);
			x = NULL;
			break;
		case NID_keyBag:
		case NID_pkcs8ShroudedKeyBag:
			/* Never decoded nor decrypted: just noted. */
			c->list.had_private_key = 1;
			break;
		case NID_safeContentsBag:
			if (depth >= MAX_P12_NESTING)
				st = fail(c, CM_ERR_INVALID,
				    "PKCS#12 bags nested too deep");
			else
				st = take_bags(c, PKCS12_SAFEBAG_get0_safes(bag),
				    depth + 1);
			break;
		default:                /* CRL and secret bags */
			break;
		}
	}
	return st;
}

/* Counts `iter` more key-derivation iterations against the budget of a
 * PKCS#12 file (so many encrypted safes cannot add up); returns 0 when the
 * budget is exceeded (then the error is set). */
static int
p12_spend(struct parse_ctx *c, int64_t *work, int64_t iter)
{
	int64_t budget = (int64_t)c->max_p12_iter * P12_WORK_FACTOR;

	if (iter > budget - *work) {
		fail(c, CM_ERR_TOOBIG, "PKCS#12 needs more than %lld "
		    "key-derivation iterations in all", (long long)budget);
		return 0;
	}
	*work += iter;
	return 1;
}

/* A library context with OpenSSL's legacy provider, where RC2 (the
 * certificate cipher of many older PKCS#12 exports) lives: made at most
 * once per file, on demand, and apart from the process-wide one. */
struct legacy {
	OSSL_LIB_CTX *ctx;
	OSSL_PROVIDER *def;
	OSSL_PROVIDER *leg;
	int tried;
};

static void
legacy_free(struct legacy *l)
{
	if (l->leg != NULL)
		OSSL_PROVIDER_unload(l->leg);
	if (l->def != NULL)
		OSSL_PROVIDER_unload(l->def);
	OSSL_LIB_CTX_free(l->ctx);
	l->ctx = NULL;
	l->def = l->leg = NULL;
}

static OSSL_LIB_CTX *
legacy_ctx(struct legacy *l)
{
	if (l->tried)
		return l->ctx;
	l->tried = 1;
	if ((l->ctx = OSSL_LIB_CTX_new()) == NULL ||
	    (l->def = OSSL_PROVIDER_load(l->ctx, "default")) == NULL ||
	    (l->leg = OSSL_PROVIDER_load(l->ctx, "legacy")) == NULL)
		legacy_free(l);
	return l->ctx;
}

/* Adds the certificates of a PKCS#12 file. */
static enum cm_status
take_pkcs12(struct parse_ctx *c, PKCS12 *p12)
{
	STACK_OF(PKCS7) *safes = NULL;
	STACK_OF(PKCS12_SAFEBAG) *bags = NULL;
	const char *cand[2];
	int ncand, i, j, verified = 0, attempts = 0;
	enum cm_status st = CM_OK;
	struct legacy legacy = { 0 };
	OSSL_LIB_CTX *lctx;
	int64_t work = 0;

	if (c->password != NULL) {
		cand[0] = c->password;
		ncand = 1;
	} else {                        /* the two encodings of "no password" */
		cand[0] = NULL;
		cand[1] = "";
		ncand = 2;
	}

	if (PKCS12_mac_present(p12)) {
		const ASN1_INTEGER *iter = NULL;
		int64_t it = 1;

		PKCS12_get0_mac(NULL, NULL, NULL, &iter, p12);
		if (iter != NULL && !ASN1_INTEGER_get_int64(&it, iter))
			it = INT64_MAX;
		if (it < 1)             /* what OpenSSL does with it */
			it = 1;
		if (it > c->max_p12_iter) {
			st = fail(c, CM_ERR_TOOBIG,
			    "PKCS#12 MAC iterations %lld above the cap %ld",
			    (long long)it, c->max_p12_iter);
			goto out;
		}
		for (i = 0; i < ncand && !verified; i++) {
			if (!p12_spend(c, &work, it)) {
				st = CM_ERR_TOOBIG;
				goto out;
			}
			if (PKCS12_verify_mac(p12, cand[i], cand[i] ? -1 : 0))
				verified = 1;
			else if (last_error_is(ERR_LIB_PKCS12,
			    PKCS12_R_MAC_GENERATION_ERROR)) {
				st = fail(c, CM_ERR_INVALID, "cannot compute the "
				    "PKCS#12 MAC (unsupported or malformed "
				    "MAC algorithm)");
				goto out;
			}
		}
		if (!verified) {
			st = fail(c, CM_ERR_INVALID,
			    "wrong or missing PKCS#12 password");
			goto out;
		}
		/* From now on, only the password the MAC proved right. */
		cand[0] = cand[i - 1];
		ncand = 1;
	}

	if ((safes = PKCS12_unpack_authsafes(p12)) == NULL) {
		st = fail(c, CM_ERR_INVALID, "malformed PKCS#12 file (%s)",
		    ossl_reason());
		goto out;
	}
	for (i = 0; i < sk_PKCS7_num(safes) && st == CM_OK; i++) {
		PKCS7 *p7 = sk_PKCS7_value(safes, i);
		const PKCS7_ENC_CONTENT *ec;
		int64_t cost;

		switch (OBJ_obj2nid(p7->type)) {
		case NID_pkcs7_data:
			if ((bags = PKCS12_unpack_p7data(p7)) == NULL) {
				st = fail(c, CM_ERR_INVALID,
				    "malformed PKCS#12 bags (%s)", ossl_reason());
				goto out;
			}
			break;
		case NID_pkcs7_encrypted:
			ec = p7->d.encrypted ? p7->d.encrypted->enc_data : NULL;
			if (ec == NULL || ec->algorithm == NULL ||
			    ec->enc_data == NULL) {
				st = fail(c, CM_ERR_INVALID,
				    "malformed PKCS#12 encrypted bags");
				goto out;
			}
			cost = pbe_cost(ec->algorithm);
			if (cost < 0) {
				st = fail(c, CM_ERR_INVALID, "PKCS#12 certificates "
				    "encrypted with an unknown or malformed "
				    "scheme");
				goto out;
			}
			if (cost > c->max_p12_iter) {
				st = fail(c, CM_ERR_TOOBIG, "PKCS#12 encryption "
				    "iterations %lld above the cap %ld",
				    (long long)cost, c->max_p12_iter);
				goto out;
			}
			for (j = 0; j < ncand && bags == NULL; j++) {
				if (!p12_spend(c, &work, cost)) {
					st = CM_ERR_TOOBIG;
					goto out;
				}
				if (++attempts > MAX_P12_DECRYPTS) {
					st = fail(c, CM_ERR_TOOBIG, "PKCS#12 with "
					    "more than %d encrypted parts",
					    MAX_P12_DECRYPTS);
					goto out;
				}
				bags = PKCS12_unpack_p7encdata(p7, cand[j],
				    cand[j] ? -1 : 0);
				if (bags == NULL && last_error_is(ERR_LIB_EVP,
				    ERR_R_UNSUPPORTED) &&
				    (lctx = legacy_ctx(&legacy)) != NULL)
					bags = PKCS12_item_decrypt_d2i_ex(
					    ec->algorithm,
					    ASN1_ITEM_rptr(PKCS12_SAFEBAGS),
					    cand[j], cand[j] ? -1 : 0,
					    ec->enc_data, 1, lctx, NULL);
			}
			if (bags == NULL) {
				char *alg = oid_text(ec->algorithm->algorithm,
				    0);

				if (verified)
					st = fail(c, CM_ERR_INVALID,
					    "cannot decrypt the PKCS#12 "
					    "certificates (%s: %s)",
					    alg ? alg : "?", ossl_reason());
				else
					st = fail(c, CM_ERR_INVALID,
					    "wrong or missing PKCS#12 password");
				free(alg);
				goto out;
			}
			break;
		default:                /* enveloped data: not supported */
			continue;
		}
		st = take_bags(c, bags, 0);
		sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
		bags = NULL;
	}
	if (st == CM_OK && c->list.n == 0)
		st = fail(c, CM_ERR_INVALID, "no certificate in the PKCS#12 file");
out:
	sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
	sk_PKCS7_pop_free(safes, PKCS7_free);
	legacy_free(&legacy);
	return st;
}

/* Tries buf as DER: a certificate, PKCS#7 or PKCS#12. Sets *recognised when
 * it is one of them (then the result is final). */
static enum cm_status
parse_der(struct parse_ctx *c, const unsigned char *buf, size_t len,
    int *recognised)
{
	const unsigned char *p = buf;
	CM_X509 *x = NULL;
	PKCS7 *p7 = NULL;
	PKCS12 *p12 = NULL;
	enum cm_status st = CM_OK;
	size_t used = 0;

	*recognised = 1;
	/* Each failed attempt's errors are dropped (ERR marks). */
	ERR_set_mark();
	if ((x = cm_x509_light_d2i(buf, len, &used)) != NULL) {
		ERR_clear_last_mark();
		if (used != len)
			st = fail(c, CM_ERR_INVALID, "trailing garbage after the "
			    "DER certificate (%zu extra bytes)", len - used);
		else
			st = add_cert(c, x, buf, len);
		goto out;
	}
	ERR_pop_to_mark();
	p = buf;
	ERR_set_mark();
	if ((p7 = d2i_PKCS7(NULL, &p, (long)len)) != NULL) {
		ERR_clear_last_mark();
		if (p != buf + len)
			st = fail(c, CM_ERR_INVALID, "trailing garbage after the "
			    "PKCS#7 data (%zu extra bytes)",
			    len - (size_t)(p - buf));
		else if ((st = take_pkcs7(c, p7)) == CM_OK && c->list.n == 0)
			st = fail(c, CM_ERR_INVALID,
			    "no certificate in the PKCS#7 data");
		goto out;
	}
	ERR_pop_to_mark();
	p = buf;
	ERR_set_mark();
	if ((p12 = d2i_PKCS12(NULL, &p, (long)len)) != NULL) {
		ERR_clear_last_mark();
		if (p != buf + len)
			st = fail(c, CM_ERR_INVALID, "trailing garbage after the "
			    "PKCS#12 data (%zu extra bytes)",
			    len - (size_t)(p - buf));
		else
			st = take_pkcs12(c, p12);
		goto out;
	}
	ERR_pop_to_mark();
	*recognised = 0;
out:
	cm_x509_light_free(x);
	PKCS7_free(p7);
	PKCS12_free(p12);
	return st;
}

/* Whether a PEM block type is a private key of any kind. */
static int
pem_is_key(const char *type)
{
	size_t n = strlen(type), k = strlen("PRIVATE KEY");

	return n >= k && strcmp(type + n - k, "PRIVATE KEY") == 0;
}

/* Parses every PEM block of buf. */
static enum cm_status
parse_pem(struct parse_ctx *c, const unsigned char *buf, size_t len)
{
	BIO *in = NULL;
	char *type = NULL, *header = NULL;
	unsigned char *data = NULL;
	const unsigned char *p;
	long dlen = 0;
	size_t block = 0, used = 0, cert_len = 0;
	enum cm_status st = CM_OK;
	CM_X509 *x = NULL;
	X509_CERT_AUX *aux = NULL;
	PKCS7 *p7 = NULL;

	if ((in = BIO_new_mem_buf(buf, (int)len)) == NULL) {
		st = fail(c, CM_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (;;) {
		/* PEM_FLAG_SECURE: the buffers are wiped when freed (keys). */
		if (!PEM_read_bio_ex(in, &type, &header, &data, &dlen,
		    PEM_FLAG_SECURE | PEM_FLAG_EAY_COMPATIBLE)) {
			if (last_error_is(ERR_LIB_PEM, PEM_R_NO_START_LINE))
				break;  /* no more blocks */
			st = fail(c, CM_ERR_INVALID, "truncated or malformed PEM "
			    "block %zu (%s)", block + 1, ossl_reason());
			goto out;
		}
		block++;
		p = data;
		if (strcmp(type, PEM_STRING_X509) == 0 ||
		    strcmp(type, PEM_STRING_X509_OLD) == 0 ||
		    strcmp(type, PEM_STRING_X509_TRUSTED) == 0) {
			int trusted = strcmp(type, PEM_STRING_X509_TRUSTED) == 0;

			/* Trusted: the certificate, then its trust data. */
			if ((x = cm_x509_light_d2i(data, (size_t)dlen, &cert_len)) != NULL)
				used = cert_len;
			if (x != NULL && trusted && used < (size_t)dlen) {
				p = data + used;
				if ((aux = d2i_X509_CERT_AUX(NULL, &p,
				    dlen - (long)used)) != NULL)
					used = (size_t)(p - data);
				X509_CERT_AUX_free(aux);
				aux = NULL;
			}
			if (x == NULL || used != (size_t)dlen) {
				st = fail(c, CM_ERR_INVALID, "PEM block %zu (%s) "
				    "is not a valid certificate (%s)", block,
				    type, x == NULL ? ossl_reason() :
				    "trailing garbage");
				goto out;
			}
			if ((st = add_cert(c, x, data, cert_len)) != CM_OK)
				goto out;
			cm_x509_light_free(x);
			x = NULL;
		} else if (strcmp(type, PEM_STRING_PKCS7) == 0 ||
		    strcmp(type, PEM_STRING_PKCS7_SIGNED) == 0 ||
		    strcmp(type, PEM_STRING_CMS) == 0) {
			if ((p7 = d2i_PKCS7(NULL, &p, dlen)) == NULL ||
			    p != data + dlen) {
				st = fail(c, CM_ERR_INVALID, "PEM block %zu (%s) "
				    "is not valid PKCS#7 data", block, type);
				goto out;
			}
			if ((st = take_pkcs7(c, p7)) != CM_OK)
				goto out;
			PKCS7_free(p7);
			p7 = NULL;
		} else if (pem_is_key(type)) {
			c->list.had_private_key = 1;
		}                       /* other blocks (CRL, CSR...): skipped */
		OPENSSL_secure_free(type);
		OPENSSL_secure_free(header);
		OPENSSL_secure_clear_free(data, (size_t)dlen);
		type = header = NULL;
		data = NULL;
	}
	if (c->list.n == 0)
		st = fail(c, CM_ERR_INVALID, "no certificate in the PEM data%s",
		    c->list.had_private_key ? " (only a private key)" : "");
out:
	cm_x509_light_free(x);
	PKCS7_free(p7);
	OPENSSL_secure_free(type);
	OPENSSL_secure_free(header);
	OPENSSL_secure_clear_free(data, data != NULL ? (size_t)dlen : 0);
	BIO_free(in);
	return st;
}

/* The length a DER header at buf announces (header included), or 0 when
 * it does not parse as a SEQUENCE header. */
static size_t
der_announced(const unsigned char *buf, size_t len)
{
	size_t n, k, v = 0;

	if (len < 2 || buf[0] != 0x30)
		return 0;
	if (buf[1] < 0x80)
		return 2 + (size_t)buf[1];
	n = buf[1] & 0x7f;
	if (n == 0 || n > sizeof(size_t) - 1 || len < 2 + n)
		return 0;
	for (k = 0; k < n; k++)
		v = (v << 8) | buf[2 + k];
	return v + 2 + n;
}

/* Moves every certificate of src to the end of dst; on failure dst is
 * unchanged. */
static enum cm_status
list_move(struct cm_cert_list *dst, struct cm_cert_list *src)
{
	if (list_reserve(dst, dst->n + src->n) != CM_OK)
		return CM_ERR_NOMEM;
	if (src->n > 0)
		memcpy(dst->v + dst->n, src->v, src->n * sizeof(struct cm_cert *));
	dst->n += src->n;
	src->n = 0;
	if (src->had_private_key)
		dst->had_private_key = 1;
	return CM_OK;
}

enum cm_status
cm_cert_parse(const unsigned char *buf, size_t len, const char *name,
    const struct cm_parse_opts *opts, struct cm_cert_list *out,
    struct cm_err *err)
{
	struct parse_ctx c;
	enum cm_status st = CM_OK;
	int recognised = 0;
	size_t want;

	if (out == NULL)
		return cm_err_set(err, CM_ERR_INTERNAL, "%s: no list to parse into",
		    name != NULL ? name : "input");
	memset(&c, 0, sizeof(c));
	c.name = name != NULL ? name : "input";
	c.err = err;
	c.password = opts ? opts->password : NULL;
	c.max_bytes = opts && opts->max_bytes ? opts->max_bytes :
	    CM_DEFAULT_MAX_FILE_BYTES;
	c.max_rsa_bits = opts && opts->max_rsa_bits > 0 ? opts->max_rsa_bits :
	    CM_DEFAULT_MAX_RSA_BITS;
	c.max_p12_iter = opts && opts->max_p12_iter > 0 ? opts->max_p12_iter :
	    CM_DEFAULT_MAX_P12_ITER;
	ERR_set_mark();

	if (buf == NULL && len > 0) {
		st = fail(&c, CM_ERR_INTERNAL, "no buffer or no list");
		goto out;
	}
	if (len == 0) {
		st = fail(&c, CM_ERR_INVALID, "empty file");
		goto out;
	}
	if (len > c.max_bytes || len > INT_MAX) {
		st = fail(&c, CM_ERR_TOOBIG, "%zu bytes above the size cap of "
		    "%zu bytes", len, c.max_bytes);
		goto out;
	}
	if ((c.scratch = BIO_new(BIO_s_mem())) == NULL) {
		st = fail(&c, CM_ERR_NOMEM, "out of memory");
		goto out;
	}

	/* DER starts with a SEQUENCE; anything else can only be PEM. */
	if (buf[0] == 0x30 && ((st = parse_der(&c, buf, len, &recognised)) !=
	    CM_OK || recognised))
		goto out;
	if (memmem(buf, len, "-----BEGIN", 10) != NULL) {
		st = parse_pem(&c, buf, len);
		goto out;
	}
	want = der_announced(buf, len);
	if (want > len)
		st = fail(&c, CM_ERR_INVALID, "truncated DER data (%zu bytes, "
		    "its header announces %zu)", len, want);
	else
		st = fail(&c, CM_ERR_INVALID, "not a certificate (PEM, DER, "
		    "PKCS#7 or PKCS#12 expected)");
out:
	if (st == CM_OK && list_move(out, &c.list) != CM_OK)
		st = fail(&c, CM_ERR_NOMEM, "out of memory");
	cm_cert_list_clear(&c.list);
	BIO_free(c.scratch);
	ERR_pop_to_mark();
	return st;
}

enum cm_status
cm_cert_parse_file(const char *path, const struct cm_parse_opts *opts,
    struct cm_cert_list *out, struct cm_err *err)
{
	size_t max = opts && opts->max_bytes ? opts->max_bytes :
	    CM_DEFAULT_MAX_FILE_BYTES;
	size_t len = 0, cap = 0;
	unsigned char *buf = NULL, *nb;
	enum cm_status st = CM_OK;
	char eb[128];
	struct stat sb;
	ssize_t r;
	int fd = -1;

	if (path == NULL)
		return cm_err_set(err, CM_ERR_INTERNAL, "no file name");
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &sb) < 0) {
		st = cm_err_set(err, CM_ERR_IO, "%s: %s", path,
		    strerror_r(errno, eb, sizeof(eb)));
		goto out;
	}
	if (S_ISDIR(sb.st_mode)) {
		st = cm_err_set(err, CM_ERR_IO, "%s: is a directory", path);
		goto out;
	}
	if (S_ISREG(sb.st_mode)) {
		if ((uintmax_t)sb.st_size > max) {
			st = cm_err_set(err, CM_ERR_TOOBIG, "%s: %jd bytes above "
			    "the size cap of %zu bytes", path,
			    (intmax_t)sb.st_size, max);
			goto out;
		}
		cap = (size_t)sb.st_size + 1;   /* +1 sees a growing file */
	} else
		cap = max < READ_CHUNK ? max + 1 : READ_CHUNK;
	if ((buf = malloc(cap)) == NULL) {
		st = cm_err_set(err, CM_ERR_NOMEM, "%s: out of memory", path);
		goto out;
	}
	for (;;) {
		if (len == cap) {
			if (cap > max) {
				st = cm_err_set(err, CM_ERR_TOOBIG, "%s: more "
				    "than the size cap of %zu bytes", path, max);
				goto out;
			}
			cap = cap > max / 2 ? max + 1 : 2 * cap;
			if ((nb = realloc(buf, cap)) == NULL) {
				st = cm_err_set(err, CM_ERR_NOMEM,
				    "%s: out of memory", path);
				goto out;
			}
			buf = nb;
		}
		r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			st = cm_err_set(err, CM_ERR_IO, "%s: %s", path,
			    strerror_r(errno, eb, sizeof(eb)));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (len > max) {
		st = cm_err_set(err, CM_ERR_TOOBIG, "%s: more than the size cap "
		    "of %zu bytes", path, max);
		goto out;
	}
	st = cm_cert_parse(buf, len, path, opts, out, err);
out:
	if (buf != NULL)
		OPENSSL_cleanse(buf, len);      /* it may hold a private key */
	free(buf);
	if (fd >= 0)
		close(fd);
	return st;
}

enum cm_status
cm_cert_from_der(const unsigned char *der, size_t len, struct cm_cert **out,
    struct cm_err *err)
{
	const char *why = NULL;
	enum cm_status st = CM_OK;
	CM_X509 *x = NULL;
	BIO *scratch = NULL;
	size_t used = 0;
	int bits = 0;

	ERR_set_mark();
	*out = NULL;
	if (der == NULL || len == 0 || len > LONG_MAX) {
		st = cm_err_set(err, CM_ERR_INVALID, "certificate: no DER data");
		goto out;
	}
	if ((x = cm_x509_light_d2i(der, len, &used)) == NULL) {
		st = cm_err_set(err, CM_ERR_INVALID, "certificate: not a DER "
		    "certificate (%s)", ossl_reason());
		goto out;
	}
	if (used != len) {
		st = cm_err_set(err, CM_ERR_INVALID, "certificate: trailing "
		    "garbage after the DER certificate");
		goto out;
	}
	if ((scratch = BIO_new(BIO_s_mem())) == NULL) {
		st = cm_err_set(err, CM_ERR_NOMEM, "certificate: out of memory");
		goto out;
	}
	/* No RSA cap: the certificate was accepted when it came in. */
	st = cert_build(x, der, len, 0, scratch, out, &why, &bits);
	if (st != CM_OK)
		cm_err_set(err, st, "certificate: %s", why ? why :
		    "out of memory");
out:
	cm_x509_light_free(x);
	BIO_free(scratch);
	ERR_pop_to_mark();
	return st;
}

char *
cm_cert_to_pem(const struct cm_cert *cert)
{
	BIO *b = NULL;
	char *data = NULL, *r = NULL;
	long n;

	if (cert == NULL || cert->der == NULL || cert->der_len > LONG_MAX)
		return NULL;
	ERR_set_mark();
	if ((b = BIO_new(BIO_s_mem())) == NULL ||
	    !PEM_write_bio(b, PEM_STRING_X509, "", cert->der,
	    (long)cert->der_len))
		goto out;
	n = BIO_get_mem_data(b, &data);
	if (n <= 0 || (r = malloc((size_t)n + 1)) == NULL)
		goto out;
	memcpy(r, data, (size_t)n);
	r[n] = '\0';
out:
	BIO_free(b);
	ERR_pop_to_mark();
	return r;
}

void
cm_cert_free(struct cm_cert *cert)
{
	if (cert == NULL)
		return;
	free(cert->subject);
	free(cert->issuer);
	free(cert->subject_cn);
	free(cert->issuer_cn);
	free(cert->serial_hex);
	free(cert->sig_alg);
	strlist_free(&cert->sans);
	strlist_free(&cert->ekus);
	strlist_free(&cert->ocsp_urls);
	strlist_free(&cert->ca_issuers);
	strlist_free(&cert->crl_urls);
	free(cert->der);
	free(cert);
}

enum cm_status
cm_cert_list_push(struct cm_cert_list *list, struct cm_cert *cert)
{
	if (list == NULL || list_reserve(list, list->n + 1) != CM_OK) {
		cm_cert_free(cert);
		return CM_ERR_NOMEM;
	}
	list->v[list->n++] = cert;
	return CM_OK;
}

void
cm_cert_list_clear(struct cm_cert_list *list)
{
	size_t i;

	if (list == NULL)
		return;
	for (i = 0; i < list->n; i++)
		cm_cert_free(list->v[i]);
	free(list->v);
	list->v = NULL;
	list->n = 0;
	list->cap = 0;
	list->had_private_key = 0;
}

int
cm_cert_signed_by(const struct cm_cert *subject, const struct cm_cert *issuer)
{
	const unsigned char *p;
	X509 *s = NULL, *i = NULL;
	EVP_PKEY *key;
	int ok = 0;

	if (subject == NULL || issuer == NULL || subject->der == NULL ||
	    issuer->der == NULL || subject->der_len > LONG_MAX ||
	    issuer->der_len > LONG_MAX)
		return 0;
	ERR_set_mark();
	p = subject->der;
	if ((s = d2i_X509(NULL, &p, (long)subject->der_len)) == NULL)
		goto out;
	p = issuer->der;
	if ((i = d2i_X509(NULL, &p, (long)issuer->der_len)) == NULL)
		goto out;
	if ((key = X509_get0_pubkey(i)) == NULL)
		goto out;
	ok = X509_verify(s, key) == 1;
out:
	X509_free(s);
	X509_free(i);
	ERR_pop_to_mark();
	return ok;
}
