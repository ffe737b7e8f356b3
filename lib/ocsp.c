/*
 * ocsp.c - OCSP requests and response validation (RFC 6960, RFC 5019).
 *
 * OpenSSL 3 decodes and encodes the wire formats and verifies single
 * signatures (X509_verify, ASN1_item_verify); which steps run, in which
 * order, and what each failure says is ours, written out below in the
 * order of DESIGN.md (steps 0 to 5). No step trusts OCSP_basic_verify.
 *
 * Pure: no I/O and no clock; `now` comes from the caller.
 */
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/ocsp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certmon/ocsp.h"
#include "ocsp_int.h"
#include "x509_int.h"

/* At most this many certificates of a response are tried as the signer
 * (each costs a signature verification). */
#define MAX_CANDIDATES 8
#define CACHE_SLOTS 1024
#define X509_SLOTS 256
#define NAME_MAX_TEXT 256

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

/* ---- the context: a cache of verified signatures ------------------------ */

struct cache_slot {
	unsigned char subject[CM_FP_LEN];
	unsigned char signer[CM_FP_LEN];
	int used;
};

/* A decoded certificate (decoding a key costs more than verifying with
 * it in OpenSSL 3), shared by reference. */
struct x509_slot {
	unsigned char fp[CM_FP_LEN];
	X509 *x;
};

struct cm_ocsp_ctx {
	pthread_mutex_t lock;
	uint64_t hits, misses;
	struct cache_slot slot[CACHE_SLOTS];   /* direct-mapped */
	struct x509_slot parsed[X509_SLOTS];   /* direct-mapped */
};

enum cm_status
cm_ocsp_ctx_new(struct cm_ocsp_ctx **out, struct cm_err *err)
{
	struct cm_ocsp_ctx *ctx = NULL;
	enum cm_status st = CM_OK;

	*out = NULL;
	if ((ctx = calloc(1, sizeof(*ctx))) == NULL) {
		st = cm_err_set(err, CM_ERR_NOMEM, "ocsp: out of memory");
		goto out;
	}
	if (pthread_mutex_init(&ctx->lock, NULL) != 0) {
		free(ctx);
		ctx = NULL;
		st = cm_err_set(err, CM_ERR_INTERNAL, "ocsp: cannot create a lock");
		goto out;
	}
	*out = ctx;
out:
	return st;
}

void
cm_ocsp_ctx_free(struct cm_ocsp_ctx *ctx)
{
	if (ctx == NULL)
		return;
	for (size_t i = 0; i < X509_SLOTS; i++)
		X509_free(ctx->parsed[i].x);
	pthread_mutex_destroy(&ctx->lock);
	free(ctx);
}

void
cm_ocsp_ctx_stats(struct cm_ocsp_ctx *ctx, uint64_t *hits, uint64_t *misses)
{
	if (ctx == NULL) {
		if (hits != NULL)
			*hits = 0;
		if (misses != NULL)
			*misses = 0;
		return;
	}
	pthread_mutex_lock(&ctx->lock);
	if (hits != NULL)
		*hits = ctx->hits;
	if (misses != NULL)
		*misses = ctx->misses;
	pthread_mutex_unlock(&ctx->lock);
}

static size_t
slot_index(const unsigned char *a, const unsigned char *b)
{
	uint32_t x, y;

	memcpy(&x, a, sizeof(x));      /* SHA-256 output: already uniform */
	memcpy(&y, b, sizeof(y));
	return (size_t)((x ^ (y * 2654435761u)) % CACHE_SLOTS);
}

/* A certificate whose signature is checked: decoded by OpenSSL (an X509
 * of the TLS hook, or a responder certificate) or by the signature-only
 * decoder (a cm_cert's DER: x509_int.h). */
struct subject {
	X509 *x;                        /* or NULL */
	const CM_X509_SIG *sig;         /* when x is NULL */
	const unsigned char *fp;        /* SHA-256 of its DER */
};

static const ASN1_INTEGER *
subject_serial(const struct subject *s)
{
	return s->x != NULL ? X509_get0_serialNumber(s->x) : s->sig->tbs->serial;
}

/* The issuer name of s, as a decoded name with the same DER: s's own
 * (X509), issuer's subject name when its DER is the same bytes (the usual
 * case: no decoding), or *tmp (decoded; the caller frees it). NULL when
 * it does not decode. */
static const X509_NAME *
subject_issuer(const struct subject *s, X509 *issuer, X509_NAME **tmp)
{
	const unsigned char *der, *ider = NULL;
	size_t len, ilen = 0;

	*tmp = NULL;
	if (s->x != NULL)
		return X509_get_issuer_name(s->x);
	cm_x509_sig_issuer_der(s->sig, &der, &len);
	if (issuer != NULL && X509_NAME_get0_der(X509_get_subject_name(issuer),
	    &ider, &ilen) && ilen == len && memcmp(ider, der, len) == 0)
		return X509_get_subject_name(issuer);
	if (len > LONG_MAX)
		return NULL;
	return *tmp = d2i_X509_NAME(NULL, &der, (long)len);
}

/* Returns 1 when the key of `signer` verifies the signature of x. The
 * positive answers are cached by (fingerprint of x, fingerprint of
 * signer): the fingerprints bind both certificates, so the fact holds for
 * ever. */
static int
signed_by(struct cm_ocsp_ctx *ctx, const struct subject *x, X509 *signer,
    const unsigned char *sfp)
{
	const unsigned char *xfp = x->fp;
	struct cache_slot *s = NULL;
	EVP_PKEY *key;
	int ok = 0;

	if (ctx != NULL) {
		s = &ctx->slot[slot_index(xfp, sfp)];
		pthread_mutex_lock(&ctx->lock);
		ok = s->used && memcmp(s->subject, xfp, CM_FP_LEN) == 0 &&
		    memcmp(s->signer, sfp, CM_FP_LEN) == 0;
		if (ok)
			ctx->hits++;
		else
			ctx->misses++;
		pthread_mutex_unlock(&ctx->lock);
		if (ok)
			goto out;
	}
	if ((key = X509_get0_pubkey(signer)) == NULL)
		goto out;
	ok = x->x != NULL ? X509_verify(x->x, key) == 1 :
	    cm_x509_sig_verify(x->sig, key);
	if (ok && ctx != NULL) {
		pthread_mutex_lock(&ctx->lock);
		memcpy(s->subject, xfp, CM_FP_LEN);
		memcpy(s->signer, sfp, CM_FP_LEN);
		s->used = 1;
		pthread_mutex_unlock(&ctx->lock);
	}
out:
	return ok;
}

/* ---- small helpers -------------------------------------------------------- */

/* Replaces control bytes so that s stays one line. */
static void
one_line(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
}

static const char *
tfmt(cm_time t, char buf[CM_TIME_TEXT_LEN])
{
	return cm_time_format(t, buf);
}

/* The newest OpenSSL error's reason, or "unknown reason". */
static const char *
ossl_reason(void)
{
	const char *r = ERR_reason_error_string(ERR_peek_last_error());

	return r != NULL ? r : "unknown reason";
}

static X509 *
decode(const unsigned char *der, size_t len)
{
	const unsigned char *p = der, *end = der + len;
	X509 *x;

	if (der == NULL || len == 0 || len > LONG_MAX ||
	    (x = d2i_X509(NULL, &p, (long)len)) == NULL)
		return NULL;
	if (p != end) {         /* trailing bytes: not these bytes' X509 */
		X509_free(x);
		return NULL;
	}
	return x;
}

/* Returns der[0..len) (whose SHA-256 is fp) decoded: a reference the
 * caller frees, through the context's cache of decoded certificates when
 * ctx is not NULL. */
static X509 *
x509_of_der(struct cm_ocsp_ctx *ctx, const unsigned char *der, size_t len,
    const unsigned char fp[CM_FP_LEN])
{
	struct x509_slot *s;
	X509 *x = NULL, *old = NULL;
	uint32_t h;

	if (ctx == NULL)
		return decode(der, len);
	memcpy(&h, fp, sizeof(h));
	s = &ctx->parsed[h % X509_SLOTS];
	pthread_mutex_lock(&ctx->lock);
	if (s->x != NULL && memcmp(s->fp, fp, CM_FP_LEN) == 0 &&
	    X509_up_ref(s->x))
		x = s->x;
	pthread_mutex_unlock(&ctx->lock);
	if (x != NULL || (x = decode(der, len)) == NULL)
		return x;
	if (!X509_up_ref(x))
		return x;
	pthread_mutex_lock(&ctx->lock);
	old = s->x;
	memcpy(s->fp, fp, CM_FP_LEN);
	s->x = x;
	pthread_mutex_unlock(&ctx->lock);
	X509_free(old);
	return x;
}

/* c decoded by OpenSSL (see x509_of_der), or NULL. */
static X509 *
x509_of(struct cm_ocsp_ctx *ctx, const struct cm_cert *c)
{
	return c != NULL ? x509_of_der(ctx, c->der, c->der_len, c->fp) : NULL;
}

static const EVP_MD *
hash_md(enum cm_ocsp_hash h)
{
	return h == CM_OCSP_HASH_SHA256 ? EVP_sha256() : EVP_sha1();
}

static const char *
crl_reason_name(int r)
{
	static const char *const names[] = {"unspecified", "keyCompromise",
	    "cACompromise", "affiliationChanged", "superseded",
	    "cessationOfOperation", "certificateHold", NULL, "removeFromCRL",
	    "privilegeWithdrawn", "aACompromise"};

	if (r < 0)
		return "";
	if ((size_t)r < sizeof(names) / sizeof(names[0]) && names[r] != NULL)
		return names[r];
	return "unrecognized";
}

/* The OCSPResponseStatus names of RFC 6960. */
static const char *
response_status_name(int st)
{
	switch (st) {
	case OCSP_RESPONSE_STATUS_SUCCESSFUL:       return "successful";
	case OCSP_RESPONSE_STATUS_MALFORMEDREQUEST: return "malformedRequest";
	case OCSP_RESPONSE_STATUS_INTERNALERROR:    return "internalError";
	case OCSP_RESPONSE_STATUS_TRYLATER:         return "tryLater";
	case OCSP_RESPONSE_STATUS_SIGREQUIRED:      return "sigRequired";
	case OCSP_RESPONSE_STATUS_UNAUTHORIZED:     return "unauthorized";
	}
	return "an unassigned status";
}

/* ---- results ---------------------------------------------------------------- */

static void
result_reset(struct cm_ocsp_result *out)
{
	memset(out, 0, sizeof(*out));
	out->status = CM_REV_ERROR;
	out->trust_model = CM_OCSP_TRUST_NONE;
}

static void
vreason(struct cm_ocsp_result *out, const char *fmt, va_list ap)
{
	vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
	one_line(out->reason);
}

void
cm_ocsp_result_error(struct cm_ocsp_result *out, const char *fmt, ...)
{
	va_list ap;

	result_reset(out);
	va_start(ap, fmt);
	vreason(out, fmt, ap);
	va_end(ap);
}

/* Makes *out an error with the reason; keeps the times, the trust model and
 * the responder already established (they say how far the response got)
 * but never a revocation. Returns -1 so that steps can `return fail(...)`. */
static int fail(struct cm_ocsp_result *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
fail(struct cm_ocsp_result *out, const char *fmt, ...)
{
	va_list ap;

	out->status = CM_REV_ERROR;
	out->revocation_time = 0;
	out->revocation_reason[0] = '\0';
	va_start(ap, fmt);
	vreason(out, fmt, ap);
	va_end(ap);
	return -1;
}

const char *
cm_ocsp_trust_name(enum cm_ocsp_trust trust)
{
	switch (trust) {
	case CM_OCSP_TRUST_DELEGATED: return "delegated";
	case CM_OCSP_TRUST_RESPONDER: return "trusted-responder";
	case CM_OCSP_TRUST_NONE:      break;
	}
	return NULL;
}

/* ---- step 0: the issuer --------------------------------------------------- */

/* Returns 0 when ix is the issuer of cx, else -1 with why filled. */
static int
issuer_ok(struct cm_ocsp_ctx *ctx, const struct subject *cx, X509 *ix,
    const unsigned char *ifp, char *why, size_t cap)
{
	char a[NAME_MAX_TEXT], b[NAME_MAX_TEXT];
	X509_NAME *tmp = NULL;
	const X509_NAME *name = subject_issuer(cx, ix, &tmp);
	int same = name != NULL &&
	    X509_NAME_cmp(name, X509_get_subject_name(ix)) == 0;

	if (!same) {
		if (name != NULL)
			cm_x509_name_text(name, a, sizeof(a));
		else
			textf(a, sizeof(a), "(does not decode)");
		cm_x509_name_text(X509_get_subject_name(ix), b, sizeof(b));
		textf(why, cap, "step 0 issuer: the certificate's issuer (%s) "
		    "is not the issuer certificate's subject (%s)", a, b);
	}
	X509_NAME_free(tmp);
	if (!same)
		return -1;
	if (!signed_by(ctx, cx, ix, ifp)) {
		cm_x509_name_text(X509_get_subject_name(ix), b, sizeof(b));
		textf(why, cap, "step 0 issuer: the key of the issuer "
		    "certificate (%s) does not verify the certificate's "
		    "signature", b);
		return -1;
	}
	return 0;
}

/* The issuer, decoded, into *ix (the caller frees it). CM_OK, or
 * CM_ERR_INVALID with "step 0 issuer: ...". */
static enum cm_status
issuer_x509(struct cm_ocsp_ctx *ctx, const struct cm_cert *issuer, X509 **ix,
    struct cm_err *err)
{
	if ((*ix = issuer != NULL ? x509_of(ctx, issuer) : NULL) == NULL)
		return cm_err_set(err, CM_ERR_INVALID, "step 0 issuer: %s",
		    issuer == NULL ? "no issuer certificate" :
		    "a certificate does not decode");
	return CM_OK;
}

/* Step 0 for the certificate der[0..len) (SHA-256 fp) and ix, the issuer
 * certificate (SHA-256 ifp): decodes the certificate into *cx (the caller
 * frees it, also on failure) and checks that ix issued it. CM_OK, or
 * CM_ERR_INVALID with "step 0 issuer: ...". */
static enum cm_status
step0(struct cm_ocsp_ctx *ctx, const unsigned char *der, size_t len,
    const unsigned char fp[CM_FP_LEN], X509 *ix, const unsigned char *ifp,
    CM_X509_SIG **cx, struct cm_err *err)
{
	char why[CM_ERR_MSG_MAX];

	if ((*cx = cm_x509_sig_d2i(der, len)) == NULL)
		return cm_err_set(err, CM_ERR_INVALID, "step 0 issuer: a "
		    "certificate does not decode");
	if (issuer_ok(ctx, &(struct subject){NULL, *cx, fp}, ix, ifp, why,
	    sizeof(why)) != 0)
		return cm_err_set(err, CM_ERR_INVALID, "%s", why);
	return CM_OK;
}

enum cm_status
cm_ocsp_check_issuer(struct cm_ocsp_ctx *ctx, const struct cm_cert *cert,
    const struct cm_cert *issuer, struct cm_err *err)
{
	CM_X509_SIG *cx = NULL;
	X509 *ix = NULL;
	enum cm_status st;

	if (cert == NULL)
		return cm_err_set(err, CM_ERR_INVALID, "step 0 issuer: no "
		    "certificate");
	ERR_set_mark();
	if ((st = issuer_x509(ctx, issuer, &ix, err)) == CM_OK)
		st = step0(ctx, cert->der, cert->der_len, cert->fp, ix,
		    issuer->fp, &cx, err);
	cm_x509_sig_free(cx);
	X509_free(ix);
	ERR_pop_to_mark();
	return st;
}

/* ---- requests ----------------------------------------------------------- */

enum cm_status
cm_ocsp_request_build(struct cm_ocsp_ctx *ctx, const struct cm_cert *cert,
    const struct cm_cert *issuer, const struct cm_ocsp_opts *opts,
    struct cm_ocsp_request *out, struct cm_err *err)
{
	if (cert == NULL) {
		memset(out, 0, sizeof(*out));
		return cm_err_set(err, CM_ERR_INVALID, "step 0 issuer: no "
		    "certificate");
	}
	return cm_ocsp_request_build_many(ctx, &(struct cm_ocsp_member){
	    cert->der, cert->der_len, cert->fp, CM_OK, 0, {0}}, 1, issuer, opts,
	    out, err);
}

/* What a request about the members m[0..n) built for (`built` CM_OK)
 * records as its cert_fp: the one's fingerprint, or the SHA-256 of all of
 * theirs in order. Returns how many there are. */
static size_t
members_fp(const struct cm_ocsp_member *m, size_t n,
    unsigned char out[CM_FP_LEN])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	size_t k = 0, i;
	int ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL);

	for (i = 0; i < n; i++) {
		if (m[i].built != CM_OK)
			continue;
		if (k++ == 0)
			memcpy(out, m[i].fp, CM_FP_LEN);
		ok = ok && EVP_DigestUpdate(md, m[i].fp, CM_FP_LEN);
	}
	if (k > 1 && !(ok && EVP_DigestFinal_ex(md, out, NULL)))
		memset(out, 0, CM_FP_LEN);      /* matches no request */
	EVP_MD_CTX_free(md);
	return k;
}

/* Adds to req the CertID (OCSP_cert_to_id's) of cx issued by ix. */
static int
add_cert_id(OCSP_REQUEST *req, CM_X509_SIG *cx, X509 *ix,
    enum cm_ocsp_hash hash)
{
	struct subject sub = {NULL, cx, NULL};
	X509_NAME *tmp = NULL;
	const X509_NAME *name = subject_issuer(&sub, ix, &tmp);
	OCSP_CERTID *id = name == NULL ? NULL : OCSP_cert_id_new(hash_md(hash),
	    name, X509_get0_pubkey_bitstr(ix), subject_serial(&sub));
	int ok = id != NULL && OCSP_request_add0_id(req, id) != NULL;

	if (!ok)
		OCSP_CERTID_free(id);
	X509_NAME_free(tmp);
	return ok;
}

enum cm_status
cm_ocsp_request_build_many(struct cm_ocsp_ctx *ctx, struct cm_ocsp_member *m,
    size_t n, const struct cm_cert *issuer, const struct cm_ocsp_opts *opts,
    struct cm_ocsp_request *out, struct cm_err *err)
{
	static const struct cm_ocsp_opts defaults;
	struct cm_err first = {CM_OK, ""}, lerr, whole = {CM_OK, ""};
	CM_X509_SIG *cx = NULL;
	X509 *ix = NULL;
	OCSP_REQUEST *req = NULL;
	unsigned char *enc = NULL;
	enum cm_status st = CM_OK;
	size_t asked = 0, i;
	int len;

	if (opts == NULL)
		opts = &defaults;
	memset(out, 0, sizeof(*out));
	ERR_set_mark();
	for (i = 0; i < n; i++) {
		m[i].built = CM_ERR_INTERNAL;   /* not yet */
		m[i].ask_alone = 0;
		result_reset(&m[i].res);
	}
	if ((req = OCSP_REQUEST_new()) == NULL) {
		st = cm_err_set(&whole, CM_ERR_NOMEM, "ocsp request: out of memory");
		goto out;
	}
	if (issuer_x509(ctx, issuer, &ix, &first) != CM_OK) {
		for (i = 0; i < n; i++) {
			m[i].built = CM_ERR_INVALID;
			cm_ocsp_result_error(&m[i].res, "%s", first.msg);
		}
		st = cm_err_set(&whole, CM_ERR_INVALID, "%s", first.msg);
		goto out;
	}
	for (i = 0; i < n; i++) {
		/* step 0 first: no request asks about a pair that fails it */
		m[i].built = step0(ctx, m[i].der, m[i].der_len, m[i].fp, ix,
		    issuer->fp, &cx, &lerr);
		if (m[i].built == CM_OK && !add_cert_id(req, cx, ix, opts->hash)) {
			st = cm_err_set(&whole, CM_ERR_INTERNAL, "ocsp request: cannot "
			    "build the CertID (%s)", ossl_reason());
			goto out;
		}
		cm_x509_sig_free(cx);
		cx = NULL;
		if (m[i].built == CM_OK) {
			asked++;
			continue;
		}
		if (first.code == CM_OK)
			first = lerr;
		cm_ocsp_result_error(&m[i].res, "%s", lerr.msg);
	}
	if (asked == 0) {
		st = cm_err_set(&whole, CM_ERR_INVALID, "%s", n > 0 ? first.msg :
		    "ocsp request: no certificate");
		goto out;
	}
	members_fp(m, n, out->cert_fp);
	memcpy(out->issuer_fp, issuer->fp, CM_FP_LEN);
	out->hash = opts->hash;
	if (!opts->no_nonce) {
		out->nonce_len = opts->nonce_len == 0 ? CM_OCSP_NONCE_DEFAULT :
		    opts->nonce_len;
		if (out->nonce_len < CM_OCSP_NONCE_MIN ||
		    out->nonce_len > CM_OCSP_NONCE_MAX) {
			st = cm_err_set(&whole, CM_ERR_INVALID, "ocsp request: a nonce "
			    "of %zu octets is outside %d..%d", out->nonce_len,
			    CM_OCSP_NONCE_MIN, CM_OCSP_NONCE_MAX);
			goto out;
		}
		if (RAND_bytes(out->nonce, (int)out->nonce_len) != 1 ||
		    !OCSP_request_add1_nonce(req, out->nonce,
		    (int)out->nonce_len)) {
			st = cm_err_set(&whole, CM_ERR_INTERNAL, "ocsp request: cannot "
			    "add a nonce (%s)", ossl_reason());
			goto out;
		}
	}
	if ((len = i2d_OCSP_REQUEST(req, &enc)) <= 0) {
		st = cm_err_set(&whole, CM_ERR_INTERNAL, "ocsp request: cannot "
		    "encode it (%s)", ossl_reason());
		goto out;
	}
	if ((out->der = malloc((size_t)len)) == NULL) {
		st = cm_err_set(&whole, CM_ERR_NOMEM, "ocsp request: out of memory");
		goto out;
	}
	memcpy(out->der, enc, (size_t)len);
	out->der_len = (size_t)len;
out:
	if (st != CM_OK) {
		cm_ocsp_request_clear(out);
		/* the members that passed step 0 share the request's fate */
		for (i = 0; i < n; i++)
			if (m[i].built != CM_ERR_INVALID) {
				m[i].built = st == CM_ERR_INVALID ? CM_ERR_INTERNAL :
				    st;
				cm_ocsp_result_error(&m[i].res, "%s", whole.msg);
			}
		if (err != NULL)
			*err = whole;
	}
	OPENSSL_free(enc);
	OCSP_REQUEST_free(req);
	cm_x509_sig_free(cx);
	X509_free(ix);
	ERR_pop_to_mark();
	return st;
}

void
cm_ocsp_request_clear(struct cm_ocsp_request *req)
{
	if (req == NULL)
		return;
	free(req->der);
	memset(req, 0, sizeof(*req));
}

char *
cm_ocsp_request_get_url(const char *base, const struct cm_ocsp_request *req)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char *b64 = NULL;
	char *url = NULL, *o;
	size_t blen = strlen(base), i;
	int n;

	if (req->der_len > INT_MAX / 2 ||
	    (b64 = malloc(4 * ((req->der_len + 2) / 3) + 1)) == NULL)
		goto out;
	n = EVP_EncodeBlock(b64, req->der, (int)req->der_len);
	if ((url = malloc(blen + 1 + 3 * (size_t)n + 1)) == NULL)
		goto out;
	memcpy(url, base, blen);
	o = url + blen;
	if (blen == 0 || base[blen - 1] != '/')
		*o++ = '/';
	for (i = 0; i < (size_t)n; i++) {
		if (b64[i] == '+' || b64[i] == '/' || b64[i] == '=') {
			*o++ = '%';
			*o++ = hex[b64[i] >> 4];
			*o++ = hex[b64[i] & 15];
		} else {
			*o++ = (char)b64[i];
		}
	}
	*o = '\0';
out:
	free(b64);
	return url;
}

/* ---- one validation ------------------------------------------------------ */

struct check {
	struct cm_ocsp_ctx *ctx;
	const struct cm_ocsp_request *req;      /* NULL: stapled */
	struct cm_ocsp_opts o;                  /* defaults resolved */
	cm_time now;
	struct subject cert;                    /* the certificate checked */
	OCSP_CERTID *req_id;                    /* our request's CertID, when
						 * it was built for this pair
						 * (then cert is only a fp) */
	const ASN1_INTEGER *serial;             /* the certificate's */
	X509 *ix;                               /* its issuer */
	const unsigned char *ifp;
	OCSP_BASICRESP *bs;
	OCSP_SINGLERESP *single;
	int cert_status;                        /* V_OCSP_CERTSTATUS_* */
	int signer_is_ca;
	char who[NAME_MAX_TEXT];                /* the signer, for reasons */
	int refused;                            /* step 1: the responder said
						 * malformedRequest or
						 * unauthorized */
	int unmatched;                          /* step 1: no SingleResponse
						 * for our CertID */
	struct cm_ocsp_result *out;
};

/* Whether we understand (and may ignore or process) extension ext. */
static int
ext_known(X509_EXTENSION *ext, int single)
{
	char oid[80];
	int nid = OBJ_obj2nid(X509_EXTENSION_get_object(ext));

	if (!single && (nid == NID_id_pkix_OCSP_Nonce ||
	    nid == NID_id_pkix_OCSP_CrlID))
		return 1;
	if (single && (nid == NID_id_pkix_OCSP_CrlID ||
	    nid == NID_id_pkix_OCSP_archiveCutoff ||
	    nid == NID_invalidity_date || nid == NID_hold_instruction_code))
		return 1;
	/* id-pkix-ocsp-extended-revoke (RFC 6960 4.4.8): informational. */
	if (!single && OBJ_obj2txt(oid, sizeof(oid),
	    X509_EXTENSION_get_object(ext), 1) > 0 &&
	    strcmp(oid, "1.3.6.1.5.5.7.48.1.9") == 0)
		return 1;
	return 0;
}

static int
crit_ext_check(struct check *c, X509_EXTENSION *ext, int single)
{
	char oid[80];

	if (ext == NULL || !X509_EXTENSION_get_critical(ext) ||
	    ext_known(ext, single))
		return 0;
	if (OBJ_obj2txt(oid, sizeof(oid), X509_EXTENSION_get_object(ext), 1) <= 0)
		textf(oid, sizeof(oid), "(unprintable OID)");
	return fail(c->out, "step 1 response: unknown critical %s extension %s",
	    single ? "SingleResponse" : "response", oid);
}

/* Hex of an INTEGER (for reasons), at most 40 digits. */
static void
int_hex(const ASN1_INTEGER *a, char *buf, size_t cap)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(a, NULL);
	char *h = bn != NULL ? BN_bn2hex(bn) : NULL;

	textf(buf, cap, "%.40s%s", h != NULL ? h : "?",
	    h != NULL && strlen(h) > 40 ? "..." : "");
	OPENSSL_free(h);
	BN_free(bn);
}

/* Our CertID hashes under one digest. */
struct our_id {
	int nid;
	unsigned char name_hash[EVP_MAX_MD_SIZE];
	unsigned char key_hash[EVP_MAX_MD_SIZE];
	unsigned int name_len, key_len;
};

static int
our_id_make(struct check *c, int nid, struct our_id *id)
{
	const EVP_MD *md = EVP_get_digestbynid(nid);
	ASN1_OCTET_STRING *nh = NULL, *kh = NULL;
	ASN1_OBJECT *alg = NULL;
	X509_NAME *tmp = NULL;
	const X509_NAME *name;
	int ok;

	id->nid = nid;
	if (c->req_id != NULL) {        /* the hashes are the request's */
		if (!OCSP_id_get0_info(&nh, &alg, &kh, NULL, c->req_id) ||
		    OBJ_obj2nid(alg) != nid ||
		    (size_t)ASN1_STRING_length(nh) > sizeof(id->name_hash) ||
		    (size_t)ASN1_STRING_length(kh) > sizeof(id->key_hash))
			return -1;
		id->name_len = (unsigned int)ASN1_STRING_length(nh);
		id->key_len = (unsigned int)ASN1_STRING_length(kh);
		memcpy(id->name_hash, ASN1_STRING_get0_data(nh), id->name_len);
		memcpy(id->key_hash, ASN1_STRING_get0_data(kh), id->key_len);
		return 0;
	}
	name = subject_issuer(&c->cert, c->ix, &tmp);
	ok = md != NULL && name != NULL &&
	    X509_NAME_digest(name, md, id->name_hash, &id->name_len) &&
	    X509_pubkey_digest(c->ix, md, id->key_hash, &id->key_len);
	X509_NAME_free(tmp);
	return ok ? 0 : -1;
}

static int
octets_eq(const ASN1_OCTET_STRING *s, const unsigned char *p, unsigned int n)
{
	return s != NULL && ASN1_STRING_length(s) == (int)n &&
	    memcmp(ASN1_STRING_get0_data(s), p, n) == 0;
}

/* Whether two SingleResponses for our CertID say the same. */
static int
same_answer(OCSP_SINGLERESP *a, OCSP_SINGLERESP *b)
{
	ASN1_GENERALIZEDTIME *ta = NULL, *tb = NULL;
	int ra = -1, rb = -1;
	int sa = OCSP_single_get0_status(a, &ra, &ta, NULL, NULL);
	int sb = OCSP_single_get0_status(b, &rb, &tb, NULL, NULL);

	if (sa != sb)
		return 0;
	if (sa != V_OCSP_CERTSTATUS_REVOKED)
		return 1;
	return ra == rb && ta != NULL && tb != NULL &&
	    ASN1_TIME_compare(ta, tb) == 0;
}

/* Step 1, the part about SingleResponses: finds the one for our CertID. */
static int
find_single(struct check *c)
{
	struct our_id ids[4];
	size_t nids = 0, k;
	const ASN1_INTEGER *serial = c->serial;
	int want_nid = c->req != NULL ?
	    EVP_MD_get_type(hash_md(c->req->hash)) : NID_undef;
	int n = OCSP_resp_count(c->bs), i, others = 0;
	char first_other[160] = "", hex[64], want_hex[64];

	for (i = 0; i < n; i++) {
		OCSP_SINGLERESP *sr = OCSP_resp_get0(c->bs, i);
		OCSP_CERTID *cid = sr != NULL ?
		    (OCSP_CERTID *)OCSP_SINGLERESP_get0_id(sr) : NULL;
		ASN1_OCTET_STRING *nh = NULL, *kh = NULL;
		ASN1_OBJECT *alg = NULL;
		ASN1_INTEGER *sn = NULL;
		struct our_id *id = NULL;
		int nid;

		if (cid == NULL || !OCSP_id_get0_info(&nh, &alg, &kh, &sn, cid))
			continue;
		nid = OBJ_obj2nid(alg);
		if (want_nid != NID_undef ? nid != want_nid :
		    nid != NID_sha1 && nid != NID_sha256 && nid != NID_sha384 &&
		    nid != NID_sha512) {
			if (others++ == 0)
				textf(first_other, sizeof(first_other),
				    "a CertID hashed with %s", nid != NID_undef ?
				    OBJ_nid2sn(nid) : "an unknown algorithm");
			continue;
		}
		for (k = 0; k < nids; k++)
			if (ids[k].nid == nid)
				id = &ids[k];
		if (id == NULL) {
			if (our_id_make(c, nid, &ids[nids]) != 0)
				return fail(c->out, "step 1 response: cannot hash "
				    "our CertID with %s", OBJ_nid2sn(nid));
			id = &ids[nids++];
		}
		if (sn == NULL || ASN1_INTEGER_cmp(sn, serial) != 0 ||
		    !octets_eq(nh, id->name_hash, id->name_len) ||
		    !octets_eq(kh, id->key_hash, id->key_len)) {
			if (others++ > 0)
				continue;
			if (sn == NULL || ASN1_INTEGER_cmp(sn, serial) != 0) {
				int_hex(sn, hex, sizeof(hex));
				textf(first_other, sizeof(first_other),
				    "serial %s", hex);
			} else {
				textf(first_other, sizeof(first_other),
				    "our serial under another issuer (%s hash "
				    "differs)", !octets_eq(nh, id->name_hash,
				    id->name_len) ? "name" : "key");
			}
			continue;
		}
		if (c->single == NULL)
			c->single = sr;
		else if (!same_answer(c->single, sr))
			return fail(c->out, "step 1 response: conflicting "
			    "SingleResponses for our certificate");
	}
	if (c->single == NULL) {
		c->unmatched = 1;
		int_hex(serial, want_hex, sizeof(want_hex));
		if (n == 0)
			return fail(c->out, "step 1 response: no SingleResponse "
			    "at all");
		return fail(c->out, "step 1 response: no SingleResponse matches "
		    "our CertID (serial %s): the response answers %d other%s, "
		    "e.g. %s", want_hex, others, others == 1 ? "" : "s",
		    first_other);
	}
	return 0;
}

/* ---- the response, decoded without its certificates ------------------------
 *
 * d2i_OCSP_RESPONSE + OCSP_response_get1_basic decode every certificate a
 * response carries, and a certificate's key costs ~100 us to decode in
 * OpenSSL 3.0 (x509_int.h). A responder sends the same certificate in every
 * response, so these templates (RFC 6960 4.2.1, as OpenSSL's) keep the
 * certificates as bytes. The BasicOCSPResponse without them is decoded by
 * d2i_OCSP_BASICRESP, and each certificate comes from the context's cache
 * by its SHA-256 (decoded by d2i_X509 on a miss).
 */
typedef struct {
	ASN1_OBJECT *type;
	ASN1_OCTET_STRING *response;
} CM_RESP_BYTES;

ASN1_SEQUENCE(CM_RESP_BYTES) = {
	ASN1_SIMPLE(CM_RESP_BYTES, type, ASN1_OBJECT),
	ASN1_SIMPLE(CM_RESP_BYTES, response, ASN1_OCTET_STRING)
} static_ASN1_SEQUENCE_END(CM_RESP_BYTES)

typedef struct {
	ASN1_ENUMERATED *status;
	CM_RESP_BYTES *bytes;
} CM_RESPONSE;

ASN1_SEQUENCE(CM_RESPONSE) = {
	ASN1_SIMPLE(CM_RESPONSE, status, ASN1_ENUMERATED),
	ASN1_EXP_OPT(CM_RESPONSE, bytes, CM_RESP_BYTES, 0)
} static_ASN1_SEQUENCE_END(CM_RESPONSE)

typedef struct {
	ASN1_TYPE *tbs;                 /* ResponseData, as received */
	X509_ALGOR *alg;
	ASN1_BIT_STRING *signature;
	STACK_OF(ASN1_TYPE) *certs;     /* each Certificate as received */
} CM_BASIC;

ASN1_SEQUENCE(CM_BASIC) = {
	ASN1_SIMPLE(CM_BASIC, tbs, ASN1_ANY),
	ASN1_SIMPLE(CM_BASIC, alg, X509_ALGOR),
	ASN1_SIMPLE(CM_BASIC, signature, ASN1_BIT_STRING),
	ASN1_EXP_SEQUENCE_OF_OPT(CM_BASIC, certs, ASN1_ANY, 0)
} static_ASN1_SEQUENCE_END(CM_BASIC)

/* Decodes the BasicOCSPResponse der[0..len) into c->bs; 0, or -1 with the
 * reason set. */
static int
basic_decode(struct check *c, const unsigned char *der, int len)
{
	const unsigned char *p = der;
	unsigned char *bare = NULL, fp[CM_FP_LEN];
	STACK_OF(ASN1_TYPE) *certs;
	CM_BASIC *b = NULL;
	int n, i, rc = -1;

	if ((b = (CM_BASIC *)ASN1_item_d2i(NULL, &p, len,
	    ASN1_ITEM_rptr(CM_BASIC))) == NULL)
		goto bad;
	certs = b->certs;
	b->certs = NULL;
	n = ASN1_item_i2d((ASN1_VALUE *)b, &bare, ASN1_ITEM_rptr(CM_BASIC));
	b->certs = certs;
	p = bare;
	if (n <= 0 || (c->bs = d2i_OCSP_BASICRESP(NULL, &p, n)) == NULL)
		goto bad;
	for (i = 0; i < sk_ASN1_TYPE_num(certs); i++) {
		const ASN1_TYPE *t = sk_ASN1_TYPE_value(certs, i);
		const unsigned char *d = t->type == V_ASN1_SEQUENCE ?
		    ASN1_STRING_get0_data(t->value.sequence) : NULL;
		size_t dl = d != NULL ?
		    (size_t)ASN1_STRING_length(t->value.sequence) : 0;
		X509 *x;
		int added;

		if (d == NULL || !EVP_Digest(d, dl, fp, NULL, EVP_sha256(), NULL) ||
		    (x = x509_of_der(c->ctx, d, dl, fp)) == NULL)
			goto bad;
		added = OCSP_basic_add1_cert(c->bs, x);
		X509_free(x);
		if (!added)
			goto bad;
	}
	rc = 0;
	goto out;
bad:
	fail(c->out, "step 1 response: the BasicOCSPResponse does not decode "
	    "(%s)", ossl_reason());
out:
	OPENSSL_free(bare);
	ASN1_item_free((ASN1_VALUE *)b, ASN1_ITEM_rptr(CM_BASIC));
	return rc;
}

/* Step 1: the response decodes, is successful and basic; returns its
 * BasicOCSPResponse in c->bs. 0, or -1 with the reason set. */
static int
step1_decode(struct check *c, const unsigned char *buf, size_t len)
{
	const unsigned char *p = buf;
	CM_RESPONSE *r = NULL;
	long st;
	int rc = -1;

	if (len == 0)
		return fail(c->out, "step 1 response: the body is empty");
	if (len > c->o.max_bytes)
		return fail(c->out, "step 1 response: %zu bytes, above the "
		    "%zu-byte cap", len, c->o.max_bytes);
	if (len > LONG_MAX || (r = (CM_RESPONSE *)ASN1_item_d2i(NULL, &p,
	    (long)len, ASN1_ITEM_rptr(CM_RESPONSE))) == NULL) {
		fail(c->out, "step 1 response: not a DER OCSPResponse (%s)",
		    ossl_reason());
		goto out;
	}
	if (p != buf + len) {
		fail(c->out, "step 1 response: %zu bytes of trailing data after "
		    "the OCSPResponse", (size_t)(buf + len - p));
		goto out;
	}
	st = ASN1_ENUMERATED_get(r->status);
	c->refused = st == OCSP_RESPONSE_STATUS_MALFORMEDREQUEST ||
	    st == OCSP_RESPONSE_STATUS_UNAUTHORIZED;
	if (st != OCSP_RESPONSE_STATUS_SUCCESSFUL)
		fail(c->out, "step 1 response: the responder answered %s (%ld), "
		    "not successful", response_status_name((int)st), st);
	else if (r->bytes == NULL)
		fail(c->out, "step 1 response: a successful response without "
		    "responseBytes");
	else if (OBJ_obj2nid(r->bytes->type) != NID_id_pkix_OCSP_basic)
		fail(c->out, "step 1 response: the response type is not "
		    "id-pkix-ocsp-basic");
	else
		rc = basic_decode(c, ASN1_STRING_get0_data(r->bytes->response),
		    ASN1_STRING_length(r->bytes->response));
out:
	ASN1_item_free((ASN1_VALUE *)r, ASN1_ITEM_rptr(CM_RESPONSE));
	return rc;
}

/* Step 1, the response as a whole: decodes, successful, basic, no unknown
 * critical extension. */
static int
step1_response(struct check *c, const unsigned char *buf, size_t len)
{
	int i;

	if (step1_decode(c, buf, len) != 0)
		return -1;
	for (i = 0; i < OCSP_BASICRESP_get_ext_count(c->bs); i++)
		if (crit_ext_check(c, OCSP_BASICRESP_get_ext(c->bs, i), 0) != 0)
			return -1;
	return 0;
}

/* Step 1 for one certificate (c->serial, c->req_id): the response has one
 * answer about it, read into c->cert_status and c->out. */
static int
step1_single(struct check *c)
{
	ASN1_GENERALIZEDTIME *rev = NULL, *thisu = NULL, *nextu = NULL;
	int i, reason = -1;

	c->single = NULL;
	c->unmatched = 0;
	if (find_single(c) != 0)
		return -1;
	for (i = 0; i < OCSP_SINGLERESP_get_ext_count(c->single); i++)
		if (crit_ext_check(c, OCSP_SINGLERESP_get_ext(c->single, i), 1)
		    != 0)
			return -1;
	c->cert_status = OCSP_single_get0_status(c->single, &reason, &rev,
	    &thisu, &nextu);
	if (c->cert_status < 0)
		return fail(c->out, "step 1 response: the SingleResponse has no "
		    "certificate status");
	if (cm_asn1_time_epoch(thisu, &c->out->this_update) != 0)
		return fail(c->out, "step 1 response: malformed thisUpdate");
	if (nextu != NULL && cm_asn1_time_epoch(nextu, &c->out->next_update) != 0)
		return fail(c->out, "step 1 response: malformed nextUpdate");
	if (cm_asn1_time_epoch(OCSP_resp_get0_produced_at(c->bs),
	    &c->out->produced_at) != 0)
		return fail(c->out, "step 1 response: malformed producedAt");
	if (c->cert_status == V_OCSP_CERTSTATUS_REVOKED &&
	    cm_asn1_time_epoch(rev, &c->out->revocation_time) != 0)
		return fail(c->out, "step 1 response: malformed revocationTime");
	if (c->cert_status == V_OCSP_CERTSTATUS_REVOKED)
		textf(c->out->revocation_reason,
		    sizeof(c->out->revocation_reason), "%s",
		    crl_reason_name(reason));
	return 0;
}

/* ---- steps 2 and 3: who signed ------------------------------------------- */

/* Whether x is the one the ResponderID names. */
static int
rid_matches(X509 *x, const ASN1_OCTET_STRING *key, const X509_NAME *name)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (name != NULL)
		return X509_NAME_cmp(name, X509_get_subject_name(x)) == 0;
	return key != NULL && X509_pubkey_digest(x, EVP_sha1(), md, &n) &&
	    octets_eq(key, md, n);
}

/* Whether the key of x verifies the response's signature. */
static int
response_signed_by(OCSP_BASICRESP *bs, X509 *x)
{
	EVP_PKEY *key = X509_get0_pubkey(x);

	return key != NULL && ASN1_item_verify(ASN1_ITEM_rptr(OCSP_RESPDATA),
	    OCSP_resp_get0_tbs_sigalg(bs), OCSP_resp_get0_signature(bs),
	    OCSP_resp_get0_respdata(bs), key) == 1;
}

/* Checks x's validity period at now; 0, or -1 with why filled. */
static int
valid_at(X509 *x, cm_time now, char *why, size_t cap)
{
	char t[CM_TIME_TEXT_LEN];
	cm_time nb, na;

	if (cm_asn1_time_epoch(X509_get0_notBefore(x), &nb) != 0 ||
	    cm_asn1_time_epoch(X509_get0_notAfter(x), &na) != 0) {
		textf(why, cap, "its certificate has a malformed validity period");
		return -1;
	}
	if (now < nb) {
		textf(why, cap, "its certificate is not valid yet (notBefore %s)",
		    tfmt(nb, t));
		return -1;
	}
	if (now > na) {
		textf(why, cap, "its certificate expired (notAfter %s)",
		    tfmt(na, t));
		return -1;
	}
	return 0;
}

/* Common Criteria: a delegated responder without id-pkix-ocsp-nocheck is
 * checked by CRL when it has a distribution point, and fails otherwise. */
static int
cc_responder_ok(struct check *c, X509 *r, char *why, size_t cap)
{
	STACK_OF(DIST_POINT) *cdp = NULL;
	struct cm_cert *rc = NULL, *ic = NULL;
	unsigned char *der = NULL;
	char crl_why[256] = "";
	enum cm_rev_status st;
	int len, ok = -1;

	if (!c->o.common_criteria ||
	    X509_get_ext_by_NID(r, NID_id_pkix_OCSP_noCheck, -1) >= 0) {
		ok = 0;
		goto out;
	}
	cdp = X509_get_ext_d2i(r, NID_crl_distribution_points, NULL, NULL);
	if (cdp == NULL || sk_DIST_POINT_num(cdp) == 0) {
		textf(why, cap, "its certificate has neither id-pkix-ocsp-nocheck "
		    "nor a CRL distribution point (Common Criteria)");
		goto out;
	}
	if (c->o.crl_check == NULL) {
		textf(why, cap, "responder certificate revocation unchecked "
		    "(Common Criteria): no id-pkix-ocsp-nocheck, and no CRL "
		    "check is available");
		goto out;
	}
	if ((len = i2d_X509(r, &der)) <= 0 ||
	    cm_cert_from_der(der, (size_t)len, &rc, NULL) != CM_OK) {
		textf(why, cap, "its certificate cannot be read for the CRL "
		    "check (Common Criteria)");
		goto out;
	}
	OPENSSL_free(der);
	der = NULL;
	if ((len = i2d_X509(c->ix, &der)) <= 0 ||
	    cm_cert_from_der(der, (size_t)len, &ic, NULL) != CM_OK) {
		textf(why, cap, "the issuer cannot be read for the CRL check "
		    "(Common Criteria)");
		goto out;
	}
	st = c->o.crl_check(rc, ic, c->now, c->o.crl_arg, crl_why,
	    sizeof(crl_why));
	if (st != CM_REV_GOOD) {
		textf(why, cap, "its CRL check says %s (%s) (Common Criteria)",
		    cm_revocation_status_name(st), crl_why);
		goto out;
	}
	ok = 0;
out:
	CRL_DIST_POINTS_free(cdp);
	OPENSSL_free(der);
	cm_cert_free(rc);
	cm_cert_free(ic);
	return ok;
}

/* Whether responder certificate r (from the response) is a delegate of the
 * issuing CA that may sign this response. 0, or -1 with why (and *known:
 * the CA did certify it) filled. */
static int
delegate_ok(struct check *c, X509 *r, char *why, size_t cap, int *known)
{
	unsigned char fp[EVP_MAX_MD_SIZE];
	char ca[NAME_MAX_TEXT];
	unsigned int n = 0;
	uint32_t flags;

	if (!X509_digest(r, EVP_sha256(), fp, &n) || n != CM_FP_LEN ||
	    X509_NAME_cmp(X509_get_issuer_name(r),
	    X509_get_subject_name(c->ix)) != 0 ||
	    !signed_by(c->ctx, &(struct subject){r, NULL, fp}, c->ix, c->ifp)) {
		cm_x509_name_text(X509_get_subject_name(c->ix), ca, sizeof(ca));
		textf(why, cap, "its certificate is not certified by the issuing "
		    "CA (%s)", ca);
		return -1;
	}
	*known = 1;
	flags = X509_get_extension_flags(r);
	if (flags & EXFLAG_INVALID) {
		textf(why, cap, "its certificate has invalid extensions");
		return -1;
	}
	if (!(flags & EXFLAG_XKUSAGE) ||
	    !(X509_get_extended_key_usage(r) & XKU_OCSP_SIGN)) {
		textf(why, cap, "it is certified by the issuing CA but lacks the "
		    "id-kp-OCSPSigning EKU");
		return -1;
	}
	if (valid_at(r, c->now, why, cap) != 0 ||
	    cc_responder_ok(c, r, why, cap) != 0)
		return -1;
	if (!response_signed_by(c->bs, r)) {
		textf(why, cap, "the response signature does not verify with its "
		    "key");
		return -1;
	}
	return 0;
}

/* Step 2: the delegated trust model. 0 (responder named in c->who), or -1
 * with why and *known (the signer is the CA or one it certified) filled. */
static int
step2_delegated(struct check *c, const ASN1_OCTET_STRING *rid_key,
    const X509_NAME *rid_name, char *why, size_t cap, int *known)
{
	const STACK_OF(X509) *certs = OCSP_resp_get0_certs(c->bs);
	char tmp[CM_ERR_MSG_MAX];
	int i, tried = 0;

	*known = 0;
	if (rid_matches(c->ix, rid_key, rid_name)) {
		*known = 1;
		cm_x509_name_text(X509_get_subject_name(c->ix), c->who, sizeof(c->who));
		if (response_signed_by(c->bs, c->ix)) {
			c->signer_is_ca = 1;
			return 0;
		}
		textf(why, cap, "the response signature does not verify with the "
		    "key of the issuing CA");
		return -1;
	}
	textf(why, cap, "it is not the issuing CA, and the response carries no "
	    "certificate for it");
	for (i = 0; i < sk_X509_num(certs) && tried < MAX_CANDIDATES; i++) {
		X509 *r = sk_X509_value(certs, i);
		int k = 0;

		if (!rid_matches(r, rid_key, rid_name))
			continue;
		tried++;
		if (delegate_ok(c, r, tmp, sizeof(tmp), &k) == 0) {
			cm_x509_name_text(X509_get_subject_name(r), c->who, sizeof(c->who));
			return 0;
		}
		/* Keep the most telling failure: a certified delegate's. */
		if (k || !*known) {
			textf(why, cap, "%s", tmp);
			cm_x509_name_text(X509_get_subject_name(r), c->who, sizeof(c->who));
		}
		*known |= k;
	}
	return -1;
}

/* Step 3: the trusted responder model. 0 (responder named in c->who), or
 * -1 with why and *designated (a designated responder matched the
 * ResponderID) filled. */
static int
step3_trusted(struct check *c, const ASN1_OCTET_STRING *rid_key,
    const X509_NAME *rid_name, char *why, size_t cap, int *designated)
{
	const struct cm_cert_list *t = c->o.trusted;
	X509 *x = NULL;
	size_t i;
	int ok = -1;

	*designated = 0;
	textf(why, cap, "it is not a designated responder");
	for (i = 0; t != NULL && i < t->n; i++) {
		X509_free(x);
		if ((x = x509_of(c->ctx, t->v[i])) == NULL ||
		    !rid_matches(x, rid_key, rid_name))
			continue;
		*designated = 1;
		cm_x509_name_text(X509_get_subject_name(x), c->who, sizeof(c->who));
		if (valid_at(x, c->now, why, cap) != 0)
			continue;
		if (!response_signed_by(c->bs, x)) {
			textf(why, cap, "the response signature does not verify "
			    "with the key of its designated certificate");
			continue;
		}
		ok = 0;
		break;
	}
	X509_free(x);
	return ok;
}

static int
step23_signer(struct check *c)
{
	const ASN1_OCTET_STRING *rid_key = NULL;
	const X509_NAME *rid_name = NULL;
	char why2[CM_ERR_MSG_MAX], why3[CM_ERR_MSG_MAX], who2[NAME_MAX_TEXT];
	int known = 0, designated = 0, i;

	if (!OCSP_resp_get0_id(c->bs, &rid_key, &rid_name) ||
	    (rid_key == NULL && rid_name == NULL))
		return fail(c->out, "step 2/3 signer: the response has no "
		    "ResponderID");
	c->who[0] = '\0';
	if (step2_delegated(c, rid_key, rid_name, why2, sizeof(why2),
	    &known) == 0) {
		c->out->trust_model = CM_OCSP_TRUST_DELEGATED;
		textf(c->out->responder, sizeof(c->out->responder), "%s", c->who);
		return 0;
	}
	textf(who2, sizeof(who2), "%s", c->who);
	if (step3_trusted(c, rid_key, rid_name, why3, sizeof(why3),
	    &designated) == 0) {
		c->out->trust_model = CM_OCSP_TRUST_RESPONDER;
		textf(c->out->responder, sizeof(c->out->responder), "%s", c->who);
		return 0;
	}
	/* Name the signer: by its certificate when one matched, else by the
	 * ResponderID. */
	if (c->who[0] == '\0')
		textf(c->who, sizeof(c->who), "%s", who2);
	if (c->who[0] == '\0' && rid_name != NULL) {
		cm_x509_name_text(rid_name, c->who, sizeof(c->who));
	} else if (c->who[0] == '\0') {
		int n = ASN1_STRING_length(rid_key);
		const unsigned char *k = ASN1_STRING_get0_data(rid_key);
		size_t o = (size_t)snprintf(c->who, sizeof(c->who), "key id ");

		for (i = 0; i < n && i < 32 && o + 3 < sizeof(c->who); i++)
			o += (size_t)snprintf(c->who + o, sizeof(c->who) - o,
			    "%02X", k[i]);
	}
	if (!known && !designated)
		return fail(c->out, "step 2/3 signer: response signed by an "
		    "unknown responder (%s): %s, and %s", c->who, why2, why3);
	return fail(c->out, "step 2/3 signer: responder %s not accepted: %s "
	    "(delegated model); %s (trusted-responder model)", c->who, why2,
	    why3);
}

/* ---- step 4: freshness ---------------------------------------------------- */

static int
step4_freshness(struct check *c)
{
	struct cm_ocsp_result *r = c->out;
	char a[CM_TIME_TEXT_LEN], b[CM_TIME_TEXT_LEN], d[24];
	int64_t skew = c->o.skew;

	if (r->produced_at > c->now + skew)
		return fail(r, "step 4 freshness: producedAt %s is in the future "
		    "(now %s, skew %" PRId64 " s)", tfmt(r->produced_at, a),
		    tfmt(c->now, b), skew);
	if (r->this_update > c->now + skew)
		return fail(r, "step 4 freshness: thisUpdate %s is in the future "
		    "(now %s, skew %" PRId64 " s)", tfmt(r->this_update, a),
		    tfmt(c->now, b), skew);
	if (r->next_update != 0 && r->next_update < r->this_update)
		return fail(r, "step 4 freshness: nextUpdate %s is before "
		    "thisUpdate %s", tfmt(r->next_update, a),
		    tfmt(r->this_update, b));
	if (r->next_update != 0 && r->next_update < c->now - skew)
		return fail(r, "step 4 freshness: stale response: nextUpdate %s "
		    "has passed (now %s, skew %" PRId64 " s)",
		    tfmt(r->next_update, a), tfmt(c->now, b), skew);
	if (r->next_update == 0 && r->this_update < c->now - c->o.max_age) {
		if (c->o.max_age % 3600 == 0)
			cm_duration_format(c->o.max_age, d, sizeof(d));
		else
			textf(d, sizeof(d), "%" PRId64 " s", c->o.max_age);
		return fail(r, "step 4 freshness: stale response: thisUpdate %s "
		    "is older than the maximum age of %s and there is no "
		    "nextUpdate (now %s)", tfmt(r->this_update, a), d,
		    tfmt(c->now, b));
	}
	return 0;
}

/* ---- step 5: nonce ---------------------------------------------------------- */

static int
step5_nonce(struct check *c)
{
	const struct cm_ocsp_request *q = c->req;
	unsigned char want[2 + CM_OCSP_NONCE_MAX];
	const ASN1_OCTET_STRING *got;
	X509_EXTENSION *ext;
	int idx;

	if (q == NULL)          /* stapled: it cannot carry our nonce */
		return 0;
	idx = OCSP_BASICRESP_get_ext_by_NID(c->bs, NID_id_pkix_OCSP_Nonce, -1);
	if (idx < 0) {
		if (c->o.require_nonce)
			return fail(c->out, "step 5 nonce: the response carries "
			    "no nonce and a nonce is required");
		return 0;
	}
	if (OCSP_BASICRESP_get_ext_by_NID(c->bs, NID_id_pkix_OCSP_Nonce, idx)
	    >= 0)
		return fail(c->out, "step 5 nonce: the response carries two "
		    "nonces");
	if (q->nonce_len == 0)
		return fail(c->out, "step 5 nonce: the response carries a nonce "
		    "but our request had none");
	/* We sent extnValue = OCTET STRING { nonce } (RFC 8954). */
	want[0] = V_ASN1_OCTET_STRING;
	want[1] = (unsigned char)q->nonce_len;
	memcpy(want + 2, q->nonce, q->nonce_len);
	ext = OCSP_BASICRESP_get_ext(c->bs, idx);
	got = ext != NULL ? X509_EXTENSION_get_data(ext) : NULL;
	if (!octets_eq(got, want, (unsigned int)(2 + q->nonce_len)))
		return fail(c->out, "step 5 nonce: the response's nonce does not "
		    "match our request's (a replayed response?)");
	return 0;
}

/* ---- the whole validation -------------------------------------------------- */

static void
resolve_opts(const struct cm_ocsp_opts *in, struct cm_ocsp_opts *o)
{
	static const struct cm_ocsp_opts defaults;

	*o = in != NULL ? *in : defaults;
	if (o->skew == 0)
		o->skew = CM_OCSP_DEFAULT_SKEW;
	else if (o->skew < 0)
		o->skew = 0;
	if (o->max_age <= 0)
		o->max_age = CM_OCSP_DEFAULT_MAX_AGE;
	if (o->max_bytes == 0)
		o->max_bytes = CM_OCSP_MAX_RESPONSE_BYTES;
}

static void
success_reason(struct check *c)
{
	struct cm_ocsp_result *r = c->out;
	const char *model = cm_ocsp_trust_name(r->trust_model);
	char t[CM_TIME_TEXT_LEN];

	switch (c->cert_status) {
	case V_OCSP_CERTSTATUS_GOOD:
		r->status = CM_REV_GOOD;
		textf(r->reason, sizeof(r->reason), "good (signed by %s%s, %s "
		    "model)", c->signer_is_ca ? "the issuing CA " : "",
		    r->responder, model);
		break;
	case V_OCSP_CERTSTATUS_REVOKED:
		r->status = CM_REV_REVOKED;
		textf(r->reason, sizeof(r->reason), "revoked at %s, reason %s "
		    "(signed by %s%s, %s model)", tfmt(r->revocation_time, t),
		    r->revocation_reason[0] ? r->revocation_reason : "not given",
		    c->signer_is_ca ? "the issuing CA " : "", r->responder, model);
		break;
	default:
		r->status = CM_REV_UNKNOWN;
		textf(r->reason, sizeof(r->reason), "unknown: the responder "
		    "does not know the certificate (signed by %s%s, %s model)",
		    c->signer_is_ca ? "the issuing CA " : "", r->responder, model);
		break;
	}
	one_line(r->reason);
}

/* Whether req was built (step 0 passed) for the certificate cfp issued
 * by ifp. */
static int
built_for(const struct cm_ocsp_request *req, const unsigned char *cfp,
    const unsigned char *ifp)
{
	return req != NULL && req->der != NULL &&
	    memcmp(req->cert_fp, cfp, CM_FP_LEN) == 0 &&
	    memcmp(req->issuer_fp, ifp, CM_FP_LEN) == 0;
}

/* Our request req decoded (free with OCSP_REQUEST_free), or NULL unless
 * it asks about n certificates. */
static OCSP_REQUEST *
request_decode(const struct cm_ocsp_request *req, size_t n)
{
	const unsigned char *p = req->der;
	OCSP_REQUEST *r;

	if (p == NULL || req->der_len > LONG_MAX || (r = d2i_OCSP_REQUEST(NULL,
	    &p, (long)req->der_len)) == NULL)
		return NULL;
	if (OCSP_request_onereq_count(r) != (int)n) {
		OCSP_REQUEST_free(r);
		return NULL;
	}
	return r;
}

/* The CertID and serial of the i-th certificate our request r asks
 * about; 0, or -1 when it has none. */
static int
request_member(OCSP_REQUEST *r, int i, OCSP_CERTID **id,
    const ASN1_INTEGER **serial)
{
	ASN1_INTEGER *sn = NULL;

	*id = OCSP_onereq_get0_id(OCSP_request_onereq_get0(r, i));
	if (*id == NULL || !OCSP_id_get0_info(NULL, NULL, NULL, &sn, *id))
		return -1;
	*serial = sn;
	return 0;
}

/* One certificate a response should answer. */
struct asked {
	OCSP_CERTID *id;                /* our request's CertID for it, or
					 * NULL: c->cert's under c->ix */
	const ASN1_INTEGER *serial;
	struct cm_ocsp_result *out;     /* its outcome */
	int *ask_alone;                 /* a request about several only */
};

/* Steps 1 to 5 for a[0..n), answered by the response resp[0..len). What
 * concerns the response as a whole (decoding, the signer) is done once;
 * each certificate gets what validating it alone would say. */
static void
steps1to5(struct check *c, const unsigned char *resp, size_t len,
    struct asked *a, size_t n)
{
	struct cm_ocsp_result signer;
	int signer_rc = 1;              /* 1: not tried yet */
	size_t i;

	c->out = a[0].out;
	if (step1_response(c, resp, len) != 0) {
		for (i = 0; i < n; i++) {
			if (i > 0)
				*a[i].out = *a[0].out;
			if (n > 1 && c->refused)
				*a[i].ask_alone = 1;
		}
		return;
	}
	for (i = 0; i < n; i++) {
		c->out = a[i].out;
		c->req_id = a[i].id;
		c->serial = a[i].serial;
		if (step1_single(c) != 0) {
			if (n > 1 && c->unmatched)
				*a[i].ask_alone = 1;
			continue;
		}
		if (signer_rc == 1) {
			result_reset(&signer);
			c->out = &signer;
			signer_rc = step23_signer(c);
			c->out = a[i].out;
		}
		if (signer_rc != 0) {
			/* Nothing of an unauthenticated response is kept. */
			c->out->this_update = c->out->next_update = 0;
			c->out->produced_at = 0;
			fail(c->out, "%s", signer.reason);
			continue;
		}
		c->out->trust_model = signer.trust_model;
		textf(c->out->responder, sizeof(c->out->responder), "%s",
		    signer.responder);
		if (step4_freshness(c) == 0 && step5_nonce(c) == 0)
			success_reason(c);
	}
}

/* Sets up c for a validation at now by ctx with opts, of what ix (whose
 * SHA-256 is ifp) issued. */
static void
check_init(struct check *c, struct cm_ocsp_ctx *ctx,
    const struct cm_ocsp_request *req, X509 *ix, const unsigned char *ifp,
    const struct cm_ocsp_opts *opts, cm_time now)
{
	memset(c, 0, sizeof(*c));
	c->ctx = ctx;
	c->req = req;
	c->now = now;
	c->ix = ix;
	c->ifp = ifp;
	resolve_opts(opts, &c->o);
}

/* The validation of a response about cert (issued by ix, whose SHA-256
 * is ifp): fills *out, returns out->status. cert may be a fingerprint
 * alone when req was built for the pair. */
static enum cm_rev_status
validate(struct cm_ocsp_ctx *ctx, const struct cm_ocsp_request *req,
    const unsigned char *resp, size_t len, const struct subject *cert, X509 *ix,
    const unsigned char ifp[CM_FP_LEN], const struct cm_ocsp_opts *opts,
    cm_time now, struct cm_ocsp_result *out)
{
	struct check c;
	struct asked one = {NULL, NULL, out, NULL};
	OCSP_REQUEST *ours = NULL;
	char why[CM_ERR_MSG_MAX];

	result_reset(out);
	check_init(&c, ctx, req, ix, ifp, opts, now);
	c.cert = *cert;
	/* Step 0, unless our request was built for this very pair
	 * (cm_ocsp_request_build passed step 0 before building it): then
	 * the answer must name the request's CertID. */
	if (built_for(req, cert->fp, ifp)) {
		if ((ours = request_decode(req, 1)) == NULL ||
		    request_member(ours, 0, &one.id, &one.serial) != 0) {
			fail(out, "internal error: our request does not decode");
			goto out;
		}
	} else if (cert->x == NULL && cert->sig == NULL) {
		fail(out, "step 0 issuer: the certificate does not decode");
		goto out;
	} else if (issuer_ok(ctx, cert, ix, ifp, why, sizeof(why)) != 0) {
		fail(out, "%s", why);
		goto out;
	} else {
		one.serial = subject_serial(cert);
	}
	steps1to5(&c, resp, resp != NULL ? len : 0, &one, 1);
out:
	if (out->status == CM_REV_ERROR && out->reason[0] == '\0')
		fail(out, "internal error: rejected without a reason");
	OCSP_BASICRESP_free(c.bs);
	OCSP_REQUEST_free(ours);
	return out->status;
}

void
cm_ocsp_validate_many(struct cm_ocsp_ctx *ctx,
    const struct cm_ocsp_request *req, const unsigned char *resp, size_t len,
    struct cm_ocsp_member *m, size_t n, const struct cm_cert *issuer,
    const struct cm_ocsp_opts *opts, cm_time now)
{
	struct check c;
	struct asked *a = NULL;
	OCSP_REQUEST *ours = NULL;
	unsigned char fp[CM_FP_LEN];
	X509 *ix = NULL;
	size_t k, i, j;
	int ok;

	ERR_set_mark();
	check_init(&c, ctx, req, NULL, NULL, opts, now);
	for (i = 0; i < n; i++)
		if (m[i].built == CM_OK) {
			result_reset(&m[i].res);
			m[i].ask_alone = 0;
		}
	if ((k = members_fp(m, n, fp)) == 0)
		goto out;
	/* req must have been built for these members: step 0 passed */
	ok = req != NULL && issuer != NULL &&
	    memcmp(req->cert_fp, fp, CM_FP_LEN) == 0 &&
	    memcmp(req->issuer_fp, issuer->fp, CM_FP_LEN) == 0 &&
	    (ours = request_decode(req, k)) != NULL &&
	    (ix = x509_of(ctx, issuer)) != NULL &&
	    (a = calloc(k, sizeof(*a))) != NULL;
	for (i = 0, j = 0; ok && i < n; i++) {
		if (m[i].built != CM_OK)
			continue;
		ok = request_member(ours, (int)j, &a[j].id, &a[j].serial) == 0;
		a[j].out = &m[i].res;
		a[j++].ask_alone = &m[i].ask_alone;
	}
	if (ok) {
		c.ix = ix;
		c.ifp = issuer->fp;
		steps1to5(&c, resp, resp != NULL ? len : 0, a, k);
	}
	for (i = 0; i < n; i++)
		if (m[i].built == CM_OK && m[i].res.status == CM_REV_ERROR &&
		    m[i].res.reason[0] == '\0')
			fail(&m[i].res, "internal error: %s", ok ? "rejected "
			    "without a reason" : "the request was not built for "
			    "these certificates");
out:
	free(a);
	OCSP_BASICRESP_free(c.bs);
	OCSP_REQUEST_free(ours);
	X509_free(ix);
	ERR_pop_to_mark();
}

enum cm_rev_status
cm_ocsp_validate_x509(struct cm_ocsp_ctx *ctx,
    const struct cm_ocsp_request *req, const unsigned char *resp, size_t len,
    X509 *cx, const unsigned char cfp[CM_FP_LEN], X509 *ix,
    const unsigned char ifp[CM_FP_LEN], const struct cm_ocsp_opts *opts,
    cm_time now, struct cm_ocsp_result *out)
{
	ERR_set_mark();
	if (cx == NULL || ix == NULL)
		cm_ocsp_result_error(out, "step 0 issuer: %s", ix == NULL ?
		    "no issuer certificate" : "no certificate");
	else
		validate(ctx, req, resp, len, &(struct subject){cx, NULL, cfp},
		    ix, ifp, opts, now, out);
	ERR_pop_to_mark();
	return out->status;
}

enum cm_rev_status
cm_ocsp_validate(struct cm_ocsp_ctx *ctx, const struct cm_ocsp_request *req,
    const unsigned char *resp, size_t len, const struct cm_cert *cert,
    const struct cm_cert *issuer, const struct cm_ocsp_opts *opts,
    cm_time now, struct cm_ocsp_result *out)
{
	CM_X509_SIG *cx = NULL;
	X509 *ix = NULL;

	if (cert == NULL) {
		cm_ocsp_result_error(out, "step 0 issuer: no certificate");
		return out->status;
	}
	ERR_set_mark();
	/* decoded only when step 0 has to run (validate) */
	if (issuer == NULL || !built_for(req, cert->fp, issuer->fp))
		cx = cm_x509_sig_d2i(cert->der, cert->der_len);
	if (issuer == NULL || (ix = x509_of(ctx, issuer)) == NULL) {
		cm_ocsp_result_error(out, "step 0 issuer: %s", issuer == NULL ?
		    "no issuer certificate" : "the issuer does not decode");
		goto out;
	}
	validate(ctx, req, resp, len, &(struct subject){NULL, cx, cert->fp},
	    ix, issuer->fp, opts, now, out);
out:
	cm_x509_sig_free(cx);
	X509_free(ix);
	ERR_pop_to_mark();
	return out->status;
}
