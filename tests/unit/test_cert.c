/*
 * test_cert.c - unit tests of cert.c: formats, fields, caps, errors.
 *
 * The fixtures are made at setup by tests/fixtures/mkcerts.sh (found under
 * $CERTMON_SRCDIR, else the compile-time CERTMON_SRCDIR, else ".": the
 * tests run from the repository root) into a fresh temporary directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/pem.h>
#include <openssl/pkcs12.h>

#include "certmon/cert.h"

#ifndef CERTMON_SRCDIR
#define CERTMON_SRCDIR "."
#endif

static char dir[64];

/* ---- helpers -------------------------------------------------------------- */

static const char *
fx(const char *name)
{
	static char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

static unsigned char *
slurp(const char *name, size_t *len)
{
	FILE *f = fopen(fx(name), "rb");
	unsigned char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static long long
read_number(const char *name)
{
	size_t len;
	char *s = (char *)slurp(name, &len);
	long long v = strtoll(s, NULL, 10);

	free(s);
	return v;
}

/* Parses fixture `name` with opts, expecting success and n certificates. */
static void
parse_ok(const char *name, const struct cm_parse_opts *opts,
    struct cm_cert_list *list, size_t n)
{
	struct cm_err err = { 0 };
	enum cm_status st = cm_cert_parse_file(fx(name), opts, list, &err);

	if (st != CM_OK)
		fail_msg("%s: %s", name, err.msg);
	assert_int_equal(list->n, n);
}

/* Checks the invariants every parsed certificate must hold. */
static void
check_invariants(const struct cm_cert *c)
{
	const char *strs[] = { c->subject, c->issuer, c->subject_cn,
	    c->issuer_cn, c->serial_hex, c->sig_alg };
	size_t i;

	for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		assert_non_null(strs[i]);
	assert_int_equal(strlen(c->fp_hex), 2 * CM_FP_LEN);
	assert_non_null(c->der);
	assert_true(c->der_len > 0);
	assert_true(c->version == 1 || c->version == 3);
	assert_true(c->not_before <= c->not_after);
}

/* ---- setup ------------------------------------------------------------------- */

static int
setup(void **state)
{
	const char *src = getenv("CERTMON_SRCDIR");
	char cmd[512];

	(void)state;
	if (src == NULL || *src == '\0')
		src = CERTMON_SRCDIR;
	strcpy(dir, "/tmp/certmon-test-cert-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(cmd, sizeof(cmd), "bash '%s/tests/fixtures/mkcerts.sh' '%s'",
	    src, dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- formats ------------------------------------------------------------------ */

static void
test_pem_leaf_fields(void **state)
{
	struct cm_cert_list list = { 0 };
	const struct cm_cert *c;
	size_t len;
	char *fp = (char *)slurp("leaf.fp", &len);

	(void)state;
	parse_ok("leaf.pem", NULL, &list, 1);
	c = list.v[0];
	check_invariants(c);
	assert_int_equal(list.had_private_key, 0);
	fp[strcspn(fp, "\n")] = '\0';
	assert_string_equal(c->fp_hex, fp);
	assert_string_equal(c->subject, "CN=leaf.example.com,O=Certmon Test,C=FR");
	assert_string_equal(c->issuer,
	    "CN=Certmon Test Root CA,O=Certmon Test,C=FR");
	assert_string_equal(c->subject_cn, "leaf.example.com");
	assert_string_equal(c->issuer_cn, "Certmon Test Root CA");
	assert_string_equal(c->serial_hex, "0123456789ABCDEF");
	assert_string_equal(c->key_type, "RSA");
	assert_int_equal(c->key_bits, 2048);
	assert_string_equal(c->sig_alg, "ecdsa-with-SHA256");
	assert_int_equal(c->is_ca, 0);
	assert_int_equal(c->version, 3);
	assert_int_equal(c->not_before, read_number("leaf.notbefore"));
	assert_int_equal(c->not_after, read_number("leaf.notafter"));
	assert_int_equal(c->not_after - c->not_before, 30 * 86400);

	assert_int_equal(c->sans.n, 6);
	assert_string_equal(c->sans.v[0], "DNS:leaf.example.com");
	assert_string_equal(c->sans.v[1], "DNS:www.example.com");
	assert_string_equal(c->sans.v[2], "IP:192.0.2.1");
	assert_string_equal(c->sans.v[3], "IP:2001:db8::1");
	assert_string_equal(c->sans.v[4], "email:admin@example.com");
	assert_string_equal(c->sans.v[5], "URI:https://example.com/");
	assert_int_equal(c->ekus.n, 2);
	assert_string_equal(c->ekus.v[0], "serverAuth");
	assert_string_equal(c->ekus.v[1], "clientAuth");
	assert_int_equal(c->ocsp_urls.n, 1);
	assert_string_equal(c->ocsp_urls.v[0], "http://ocsp.example.com/");
	assert_int_equal(c->ca_issuers.n, 1);
	assert_string_equal(c->ca_issuers.v[0], "http://ca.example.com/ca.der");
	assert_int_equal(c->crl_urls.n, 1);
	assert_string_equal(c->crl_urls.v[0], "http://crl.example.com/ca.crl");
	assert_int_equal(c->ocsp_nocheck, 0);
	free(fp);
	cm_cert_list_clear(&list);
}

static void
test_pem_ca_fields(void **state)
{
	struct cm_cert_list list = { 0 };
	const struct cm_cert *c;

	(void)state;
	parse_ok("ca.pem", NULL, &list, 1);
	c = list.v[0];
	check_invariants(c);
	assert_int_equal(c->is_ca, 1);
	assert_string_equal(c->subject, c->issuer);
	assert_string_equal(c->key_type, "EC");
	assert_int_equal(c->key_bits, 256);
	assert_int_equal(c->sans.n, 0);
	assert_int_equal(c->ekus.n, 0);
	assert_int_equal(c->ocsp_urls.n, 0);
	assert_int_equal(c->crl_urls.n, 0);
	cm_cert_list_clear(&list);
}

/* Every container of leaf + CA gives the same two certificates. */
static void
test_containers(void **state)
{
	static const struct {
		const char *file;
		const char *password;
		int had_key;
	} cases[] = {
		{ "bundle.pem", NULL, 1 },
		{ "chain.p7b", NULL, 0 },
		{ "chain.p7b.pem", NULL, 0 },
		{ "leaf.p12", "pass", 1 },
		{ "nopass.p12", NULL, 1 },
		{ "nomac.p12", "pass", 1 },
		{ "nomac.p12", NULL, 1 },       /* certificates in clear */
		{ "pbeiter.p12", "pass", 1 },
		{ "iter.p12", "pass", 1 },      /* 5000 < default cap */
		{ "descert.p12", "pass", 1 },   /* 3DES, PKCS#12 PBE */
		{ "legacy.p12", "pass", 1 },    /* RC2-40 */
	};
	struct cm_cert_list ref = { 0 };
	size_t i, j;

	(void)state;
	parse_ok("leaf.pem", NULL, &ref, 1);
	parse_ok("ca.pem", NULL, &ref, 2);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cm_parse_opts o = { .password = cases[i].password };
		struct cm_cert_list list = { 0 };

		parse_ok(cases[i].file, &o, &list, 2);
		if (list.had_private_key != cases[i].had_key)
			fail_msg("%s: had_private_key %d", cases[i].file,
			    list.had_private_key);
		/* Both certificates, in any order (PKCS#12 puts the leaf
		 * first, so do the others). */
		for (j = 0; j < 2; j++) {
			check_invariants(list.v[j]);
			assert_true(
			    strcmp(list.v[j]->fp_hex, ref.v[0]->fp_hex) == 0 ||
			    strcmp(list.v[j]->fp_hex, ref.v[1]->fp_hex) == 0);
		}
		assert_string_not_equal(list.v[0]->fp_hex, list.v[1]->fp_hex);
		cm_cert_list_clear(&list);
	}
	cm_cert_list_clear(&ref);
}

static void
test_der_matches_pem(void **state)
{
	struct cm_cert_list list = { 0 };
	size_t len;
	unsigned char *der = slurp("leaf.der", &len);

	(void)state;
	parse_ok("leaf.pem", NULL, &list, 1);
	parse_ok("leaf.der", NULL, &list, 2);
	assert_string_equal(list.v[0]->fp_hex, list.v[1]->fp_hex);
	assert_int_equal(list.v[1]->der_len, len);
	assert_memory_equal(list.v[1]->der, der, len);
	assert_memory_equal(list.v[0]->der, der, len);
	free(der);
	cm_cert_list_clear(&list);
}

static void
test_trusted_and_text(void **state)
{
	struct cm_cert_list list = { 0 };

	(void)state;
	parse_ok("ca.pem", NULL, &list, 1);
	parse_ok("trusted.pem", NULL, &list, 2);
	parse_ok("text-ca.pem", NULL, &list, 3);
	/* The trust data is not part of the certificate. */
	assert_string_equal(list.v[0]->fp_hex, list.v[1]->fp_hex);
	assert_string_equal(list.v[0]->fp_hex, list.v[2]->fp_hex);
	assert_int_equal(list.v[0]->der_len, list.v[1]->der_len);
	cm_cert_list_clear(&list);
}

static void
test_key_types(void **state)
{
	static const struct {
		const char *file, *type, *sig;
		int bits;
	} cases[] = {
		{ "ec.pem", "EC", "ecdsa-with-SHA384", 384 },
		{ "ed25519.pem", "Ed25519", "ED25519", 256 },
		{ "leaf.pem", "RSA", "ecdsa-with-SHA256", 2048 },
		{ "v1.pem", "RSA", "sha256WithRSAEncryption", 2048 },
		/* Read through OpenSSL's key loading. */
		{ "ed448.pem", "Ed448", "ED448", 456 },
		{ "pss.pem", "RSA-PSS", "rsassaPss", 2048 },
		{ "explicit.pem", "EC", "ecdsa-with-SHA256", 256 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cm_cert_list list = { 0 };

		parse_ok(cases[i].file, NULL, &list, 1);
		assert_string_equal(list.v[0]->key_type, cases[i].type);
		assert_string_equal(list.v[0]->sig_alg, cases[i].sig);
		assert_int_equal(list.v[0]->key_bits, cases[i].bits);
		cm_cert_list_clear(&list);
	}
}

static void
test_v1_negative_serial(void **state)
{
	struct cm_cert_list list = { 0 };

	(void)state;
	parse_ok("v1.pem", NULL, &list, 1);
	assert_int_equal(list.v[0]->version, 1);
	assert_string_equal(list.v[0]->serial_hex, "-05");
	assert_int_equal(list.v[0]->is_ca, 0);
	assert_int_equal(list.v[0]->sans.n, 0);
	cm_cert_list_clear(&list);
}

static void
test_utf8_name(void **state)
{
	struct cm_cert_list list = { 0 };

	(void)state;
	parse_ok("utf8.pem", NULL, &list, 1);
	/* UTF-8 source text; RFC 2253 escapes the quotes. */
	assert_string_equal(list.v[0]->subject_cn, "Zoë \"Q\" Ünïcødé");
	assert_string_equal(list.v[0]->subject,
	    "O=Certmon Test,CN=Zoë \\\"Q\\\" Ünïcødé");
	cm_cert_list_clear(&list);
}

static void
test_exact_dates(void **state)
{
	struct cm_cert_list list = { 0 };

	(void)state;
	parse_ok("dates.pem", NULL, &list, 1);
	assert_int_equal(list.v[0]->not_before, 1735787045);  /* 2025-01-02T03:04:05Z */
	assert_int_equal(list.v[0]->not_after, 2695968550);   /* 2055-06-07T08:09:10Z */
	assert_string_equal(list.v[0]->serial_hex, "1000");
	cm_cert_list_clear(&list);
}

static void
test_ocsp_nocheck(void **state)
{
	struct cm_cert_list list = { 0 };

	(void)state;
	parse_ok("ocsp.pem", NULL, &list, 1);
	assert_int_equal(list.v[0]->ocsp_nocheck, 1);
	assert_int_equal(list.v[0]->ekus.n, 1);
	assert_string_equal(list.v[0]->ekus.v[0], "OCSPSigning");
	assert_string_equal(list.v[0]->serial_hex, "07");
	cm_cert_list_clear(&list);
}

/* ---- errors --------------------------------------------------------------------- */

/* Every bad input: the status, a piece of the message, and nothing added
 * to a list that already held one certificate. */
static void
test_errors(void **state)
{
	static const struct {
		const char *file;
		struct cm_parse_opts opts;
		enum cm_status st;
		const char *msg;
	} cases[] = {
		{ "leaf.p12", { .password = "wrong" }, CM_ERR_INVALID,
		    "wrong or missing PKCS#12 password" },
		{ "leaf.p12", { .password = NULL }, CM_ERR_INVALID,
		    "wrong or missing PKCS#12 password" },
		{ "iter.p12", { .password = "pass", .max_p12_iter = 4000 },
		    CM_ERR_TOOBIG, "PKCS#12 MAC iterations 5000 above the cap 4000" },
		{ "pbeiter.p12", { .password = "pass", .max_p12_iter = 4000 },
		    CM_ERR_TOOBIG,
		    "PKCS#12 encryption iterations 5000 above the cap 4000" },
		{ "nocert.p12", { .password = "pass" }, CM_ERR_INVALID,
		    "no certificate in the PKCS#12 file" },
		{ "empty.bin", { 0 }, CM_ERR_INVALID, "empty file" },
		{ "garbage.bin", { 0 }, CM_ERR_INVALID, "not a certificate (PEM, "
		    "DER, PKCS#7 or PKCS#12 expected)" },
		{ "trunc.der", { 0 }, CM_ERR_INVALID, "truncated DER data" },
		{ "trunc.pem", { 0 }, CM_ERR_INVALID,
		    "truncated or malformed PEM block 1" },
		{ "trailing.der", { 0 }, CM_ERR_INVALID,
		    "trailing garbage after the DER certificate (2 extra bytes)" },
		{ "leaf.pem", { .max_bytes = 100 }, CM_ERR_TOOBIG,
		    "bytes above the size cap of 100 bytes" },
		{ "leaf.pem", { .max_rsa_bits = 1024 }, CM_ERR_TOOBIG,
		    "RSA key of 2048 bits above the cap 1024" },
		{ "bundle.pem", { .max_rsa_bits = 1024 }, CM_ERR_TOOBIG,
		    "RSA key of 2048 bits above the cap 1024" },
		{ "leaf.key", { 0 }, CM_ERR_INVALID,
		    "no certificate in the PEM data (only a private key)" },
		{ "missing.pem", { 0 }, CM_ERR_IO, "No such file" },
		{ ".", { 0 }, CM_ERR_IO, "is a directory" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cm_cert_list list = { 0 };
		struct cm_err err = { 0 };
		char prefix[300];
		enum cm_status st;

		parse_ok("ca.pem", NULL, &list, 1);
		st = cm_cert_parse_file(fx(cases[i].file), &cases[i].opts,
		    &list, &err);
		if (st != cases[i].st || strstr(err.msg, cases[i].msg) == NULL)
			fail_msg("%s: got %d \"%s\", want %d \"%s\"",
			    cases[i].file, st, err.msg, cases[i].st,
			    cases[i].msg);
		assert_int_equal(err.code, st);
		snprintf(prefix, sizeof(prefix), "%s: ", fx(cases[i].file));
		assert_memory_equal(err.msg, prefix, strlen(prefix));
		assert_null(strchr(err.msg, '\n'));
		assert_int_equal(list.n, 1);
		assert_int_equal(list.had_private_key, 0);
		cm_cert_list_clear(&list);
	}
}

/* cm_cert_parse on buffers: the name starts the message; size caps. */
static void
test_parse_buffer(void **state)
{
	struct cm_cert_list list = { 0 };
	struct cm_err err = { 0 };
	struct cm_parse_opts o = { .max_bytes = 10 };
	char want[128];
	size_t len;
	unsigned char *pem = slurp("leaf.pem", &len);

	(void)state;
	assert_int_equal(cm_cert_parse(pem, len, "up.pem", NULL, &list, &err),
	    CM_OK);
	assert_int_equal(list.n, 1);
	assert_int_equal(cm_cert_parse(pem, len, "up.pem", &o, &list, &err),
	    CM_ERR_TOOBIG);
	snprintf(want, sizeof(want),
	    "up.pem: %zu bytes above the size cap of 10 bytes", len);
	assert_string_equal(err.msg, want);
	assert_int_equal(cm_cert_parse(pem, 0, "e.pem", NULL, &list, &err),
	    CM_ERR_INVALID);
	assert_string_equal(err.msg, "e.pem: empty file");
	/* A PEM block cut in its base64. */
	assert_int_equal(cm_cert_parse(pem, len / 2, "half.pem", NULL, &list,
	    &err), CM_ERR_INVALID);
	assert_non_null(strstr(err.msg, "half.pem: truncated or malformed PEM"));
	assert_int_equal(list.n, 1);
	free(pem);
	cm_cert_list_clear(&list);
}

/* Bytes that are not UTF-8 (or NUL) in a SAN become U+FFFD. */
static void
test_sanitize(void **state)
{
	struct cm_cert_list list = { 0 };
	struct cm_err err = { 0 };
	size_t len, i;
	unsigned char *der = slurp("leaf.der", &len);
	unsigned char *p = NULL;

	(void)state;
	for (i = 0; i + 15 <= len; i++)
		if (memcmp(der + i, "www.example.com", 15) == 0)
			p = der + i;
	assert_non_null(p);
	p[3] = 0x00;                    /* "www\0ex\xffmple.com" */
	p[6] = 0xff;
	assert_int_equal(cm_cert_parse(der, len, "san.der", NULL, &list, &err),
	    CM_OK);
	assert_string_equal(list.v[0]->sans.v[1],
	    "DNS:www\xef\xbf\xbd" "ex\xef\xbf\xbd" "mple.com");
	free(der);
	cm_cert_list_clear(&list);
}

/* A NUL in the subject CN: U+FFFD in subject_cn, escaped in subject. */
static void
test_sanitize_nul_cn(void **state)
{
	struct cm_cert_list list = { 0 };
	struct cm_err err = { 0 };
	size_t len, i;
	unsigned char *der = slurp("leaf.der", &len);

	(void)state;
	for (i = 0; i + 16 <= len; i++)
		if (memcmp(der + i, "leaf.example.com", 16) == 0)
			break;          /* the first one is the subject's */
	assert_true(i + 16 <= len);
	der[i + 4] = 0x00;
	der[i + 5] = 0x01;
	assert_int_equal(cm_cert_parse(der, len, "nul.der", NULL, &list, &err),
	    CM_OK);
	assert_string_equal(list.v[0]->subject_cn,
	    "leaf\xef\xbf\xbd\x01" "xample.com");
	assert_string_equal(list.v[0]->subject,
	    "CN=leaf\\00\\01xample.com,O=Certmon Test,C=FR");
	free(der);
	cm_cert_list_clear(&list);
}

/* More certificates than the cap in one input. */
static void
test_count_cap(void **state)
{
	struct cm_cert_list list = { 0 };
	struct cm_err err = { 0 };
	struct cm_parse_opts o = { .max_bytes = 16 * 1024 * 1024 };
	size_t len, i, n = 10001;
	unsigned char *pem = slurp("ca.pem", &len);
	unsigned char *big = malloc(len * n);

	(void)state;
	assert_non_null(big);
	for (i = 0; i < n; i++)
		memcpy(big + i * len, pem, len);
	assert_int_equal(cm_cert_parse(big, len * n, "many.pem", &o, &list,
	    &err), CM_ERR_TOOBIG);
	assert_string_equal(err.msg,
	    "many.pem: more than 10000 certificates in one input");
	assert_int_equal(list.n, 0);
	/* 10000 is fine. */
	assert_int_equal(cm_cert_parse(big, len * (n - 1), "many.pem", &o,
	    &list, &err), CM_OK);
	assert_int_equal(list.n, n - 1);
	free(big);
	free(pem);
	cm_cert_list_clear(&list);
}

/* Makes a PKCS#12 file (MAC iterations 1, password "pass") of n
 * encrypted safes of `iter` iterations each, holding the leaf each: the
 * openssl tool makes no such file. Returns its DER (OPENSSL_free). */
static unsigned char *
make_p12_safes(int n, int iter, size_t *len)
{
	STACK_OF(PKCS7) *safes = sk_PKCS7_new_null();
	unsigned char *der = NULL;
	PKCS12 *p12;
	FILE *f;
	X509 *x;
	int i, dlen;

	assert_non_null((f = fopen(fx("leaf.pem"), "r")));
	assert_non_null((x = PEM_read_X509(f, NULL, NULL, NULL)));
	fclose(f);
	assert_non_null(safes);
	for (i = 0; i < n; i++) {
		STACK_OF(PKCS12_SAFEBAG) *bags = NULL;
		PKCS7 *p7;

		assert_non_null(PKCS12_add_cert(&bags, x));
		p7 = PKCS12_pack_p7encdata(NID_pbe_WithSHA1And3_Key_TripleDES_CBC,
		    "pass", -1, NULL, 0, iter, bags);
		assert_non_null(p7);
		assert_true(sk_PKCS7_push(safes, p7) > 0);
		sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
	}
	assert_non_null((p12 = PKCS12_add_safes(safes, 0)));
	assert_int_equal(PKCS12_set_mac(p12, "pass", -1, NULL, 0, 1, NULL), 1);
	assert_true((dlen = i2d_PKCS12(p12, &der)) > 0);
	*len = (size_t)dlen;
	PKCS12_free(p12);
	sk_PKCS7_pop_free(safes, PKCS7_free);
	X509_free(x);
	return der;
}

/* Many encrypted safes, each below the iteration cap: their sum and
 * their number are capped too (found in review: 1 MiB holds
 * thousands of safes). */
static void
test_p12_work_budget(void **state)
{
	struct cm_cert_list list = { 0 };
	struct cm_err err = { 0 };
	struct cm_parse_opts o = { .password = "pass", .max_p12_iter = 2048 };
	size_t len;
	unsigned char *der = make_p12_safes(5, 2048, &len);

	(void)state;
	assert_int_equal(cm_cert_parse(der, len, "safes.p12", &o, &list,
	    &err), CM_ERR_TOOBIG);
	assert_string_equal(err.msg, "safes.p12: PKCS#12 needs more than 8192 "
	    "key-derivation iterations in all");
	assert_int_equal(list.n, 0);
	/* Within the budget, all five come out. */
	o.max_p12_iter = 4096;
	assert_int_equal(cm_cert_parse(der, len, "safes.p12", &o, &list,
	    &err), CM_OK);
	assert_int_equal(list.n, 5);
	OPENSSL_free(der);

	der = make_p12_safes(65, 1, &len);
	assert_int_equal(cm_cert_parse(der, len, "many.p12", &o, &list, &err),
	    CM_ERR_TOOBIG);
	assert_string_equal(err.msg,
	    "many.p12: PKCS#12 with more than 64 encrypted parts");
	assert_int_equal(list.n, 5);
	OPENSSL_free(der);
	cm_cert_list_clear(&list);
}

/* ---- other functions -------------------------------------------------------------- */

static void
test_from_der_to_pem(void **state)
{
	struct cm_cert_list list = { 0 };
	struct cm_cert *c = NULL;
	struct cm_err err = { 0 };
	size_t len;
	char *pem_file = (char *)slurp("leaf.pem", &len);
	char *pem;
	unsigned char *bad;

	(void)state;
	parse_ok("leaf.pem", NULL, &list, 1);
	assert_int_equal(cm_cert_from_der(list.v[0]->der, list.v[0]->der_len,
	    &c, &err), CM_OK);
	assert_string_equal(c->fp_hex, list.v[0]->fp_hex);
	assert_string_equal(c->subject, list.v[0]->subject);
	assert_int_equal(c->sans.n, 6);
	assert_int_equal(c->not_after, list.v[0]->not_after);
	pem = cm_cert_to_pem(c);
	assert_non_null(pem);
	assert_string_equal(pem, pem_file);
	free(pem);
	cm_cert_free(c);
	c = NULL;

	bad = malloc(list.v[0]->der_len + 1);
	assert_non_null(bad);
	memcpy(bad, list.v[0]->der, list.v[0]->der_len);
	bad[list.v[0]->der_len] = 0;
	assert_int_equal(cm_cert_from_der(bad, list.v[0]->der_len + 1, &c,
	    &err), CM_ERR_INVALID);
	assert_null(c);
	assert_non_null(strstr(err.msg, "trailing garbage"));
	assert_int_equal(cm_cert_from_der(bad, 20, &c, &err), CM_ERR_INVALID);
	assert_null(c);
	free(bad);
	free(pem_file);
	cm_cert_free(NULL);
	assert_null(cm_cert_to_pem(NULL));
	cm_cert_list_clear(&list);
}

static void
test_signed_by(void **state)
{
	struct cm_cert_list l = { 0 };
	size_t len;
	unsigned char *der;

	(void)state;
	parse_ok("leaf.pem", NULL, &l, 1);
	parse_ok("ca.pem", NULL, &l, 2);
	parse_ok("other.pem", NULL, &l, 3);
	parse_ok("ocsp.pem", NULL, &l, 4);
	assert_int_equal(cm_cert_signed_by(l.v[0], l.v[1]), 1);
	assert_int_equal(cm_cert_signed_by(l.v[1], l.v[1]), 1);
	assert_int_equal(cm_cert_signed_by(l.v[3], l.v[1]), 1);
	assert_int_equal(cm_cert_signed_by(l.v[2], l.v[2]), 1);
	assert_int_equal(cm_cert_signed_by(l.v[0], l.v[2]), 0);
	assert_int_equal(cm_cert_signed_by(l.v[1], l.v[0]), 0);
	assert_int_equal(cm_cert_signed_by(l.v[0], l.v[0]), 0);
	assert_int_equal(cm_cert_signed_by(NULL, l.v[0]), 0);
	/* A tampered certificate no longer verifies. */
	der = slurp("leaf.der", &len);
	der[len - 10] ^= 1;
	parse_ok("ca.pem", NULL, &l, 5);
	{
		struct cm_err err = { 0 };

		assert_int_equal(cm_cert_parse(der, len, "t.der", NULL, &l,
		    &err), CM_OK);
	}
	assert_int_equal(cm_cert_signed_by(l.v[5], l.v[1]), 0);
	free(der);
	cm_cert_list_clear(&l);
}

static void
test_list(void **state)
{
	struct cm_cert_list l = { 0 };
	struct cm_cert *c;
	size_t i;

	(void)state;
	for (i = 0; i < 100; i++) {
		c = calloc(1, sizeof(*c));
		assert_non_null(c);
		assert_int_equal(cm_cert_list_push(&l, c), CM_OK);
	}
	assert_int_equal(l.n, 100);
	assert_true(l.cap >= 100);
	cm_cert_list_clear(&l);
	assert_int_equal(l.n, 0);
	assert_null(l.v);
	cm_cert_list_clear(&l);
	cm_cert_list_clear(NULL);
}

/* ---- regressions (fuzzing) --------------------------------------------------------- */

/* Inputs that must fail cleanly (not crash, not hang). */
static void
test_regressions(void **state)
{
	static const struct {
		const char *name;
		const unsigned char *buf;
		size_t len;
		enum cm_status st;
	} cases[] = {
		/* A lone SEQUENCE header announcing 4 GB. */
		{ "seq4g", (const unsigned char *)"\x30\x84\xff\xff\xff\xff", 6,
		    CM_ERR_INVALID },
		/* PEM start line and nothing else. */
		{ "begin", (const unsigned char *)"-----BEGIN CERTIFICATE-----\n",
		    28, CM_ERR_INVALID },
		/* An empty PKCS#7 PEM block. */
		{ "p7empty", (const unsigned char *)"-----BEGIN PKCS7-----\n"
		    "-----END PKCS7-----\n", 42, CM_ERR_INVALID },
		/* A NUL byte. */
		{ "nul", (const unsigned char *)"", 1, CM_ERR_INVALID },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cm_cert_list l = { 0 };
		struct cm_err err = { 0 };
		enum cm_status st = cm_cert_parse(cases[i].buf, cases[i].len,
		    cases[i].name, NULL, &l, &err);

		if (st != cases[i].st)
			fail_msg("%s: got %d \"%s\"", cases[i].name, st, err.msg);
		assert_int_equal(l.n, 0);
		cm_cert_list_clear(&l);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pem_leaf_fields),
		cmocka_unit_test(test_pem_ca_fields),
		cmocka_unit_test(test_containers),
		cmocka_unit_test(test_der_matches_pem),
		cmocka_unit_test(test_trusted_and_text),
		cmocka_unit_test(test_key_types),
		cmocka_unit_test(test_v1_negative_serial),
		cmocka_unit_test(test_utf8_name),
		cmocka_unit_test(test_exact_dates),
		cmocka_unit_test(test_ocsp_nocheck),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_parse_buffer),
		cmocka_unit_test(test_sanitize),
		cmocka_unit_test(test_sanitize_nul_cn),
		cmocka_unit_test(test_count_cap),
		cmocka_unit_test(test_p12_work_budget),
		cmocka_unit_test(test_from_der_to_pem),
		cmocka_unit_test(test_signed_by),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_regressions),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
