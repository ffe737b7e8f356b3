/*
 * ocsp_mint.c - the PKI of the revocation benchmark (bench/revocation.sh):
 * a CA, a delegated OCSP responder certificate, N leaves and the index.txt
 * that `openssl ocsp -index` serves them from.
 *
 *   ocsp_mint OUTDIR N --url URL [--url URL]...
 *
 * Writes into OUTDIR:
 *   ca.pem, ca-key.pem              the CA (ECDSA P-256, self-signed)
 *   responder.pem, responder-key.pem
 *                                   a delegated responder certified by the
 *                                   CA: EKU OCSPSigning, id-pkix-ocsp-nocheck,
 *                                   ECDSA P-256 (what tests/system/ocsp_pki.py
 *                                   makes with the openssl CLI)
 *   leaf-key.pem                    the key every leaf shares (P-256)
 *   certs/cert-NNNNNN.pem           N leaves signed by the CA, each with a
 *                                   random 16-byte serial, a unique CN, and
 *                                   an AIA OCSP URL taken round-robin from
 *                                   the --url list (leaf i gets URL i mod k),
 *                                   so that the load spreads over k
 *                                   responders; notAfter 31..800 days out
 *                                   (none expires during a run)
 *   index.txt                       one "V" line per leaf and one for the
 *                                   responder certificate (which carries the
 *                                   first URL as its AIA: a store that holds
 *                                   it checks it too), in the format of
 *                                   `openssl ca`:
 *        V <tab> notAfter YYMMDDHHMMSSZ <tab> <tab> SERIAL HEX <tab> unknown <tab> /subject
 *   urls.txt                        leaf file -> URL, one "FILE URL" a line
 *
 * Single-threaded: a P-256 signature costs ~40 us, so 10,000 leaves take
 * about a second.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define DAY (24L * 3600L)
#define MAX_URLS 64

static void die_ssl(const char *what)
{
	fprintf(stderr, "ocsp_mint: %s failed\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

static void die_io(const char *path)
{
	fprintf(stderr, "ocsp_mint: %s: %s\n", path, strerror(errno));
	exit(1);
}

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static void add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);

	if (ext == NULL || !X509_add_ext(x, ext, -1))
		die_ssl(OBJ_nid2sn(nid));
	X509_EXTENSION_free(ext);
}

static void set_serial(X509 *x)
{
	unsigned char b[16];
	BIGNUM *bn;

	if (RAND_bytes(b, sizeof b) != 1)
		die_ssl("RAND_bytes");
	b[0] &= 0x7f;
	b[0] |= 0x40;
	bn = BN_bin2bn(b, sizeof b, NULL);
	if (bn == NULL || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
		die_ssl("serial");
	BN_free(bn);
}

static void set_validity(X509 *x, time_t now, long from, long to)
{
	if (X509_time_adj_ex(X509_getm_notBefore(x), 0, from, &now) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), 0, to, &now) == NULL)
		die_ssl("validity");
}

static X509_NAME *make_name(const char *cn)
{
	X509_NAME *name = X509_NAME_new();

	if (name == NULL ||
	    !X509_NAME_add_entry_by_txt(name, "C", MBSTRING_ASC,
		(const unsigned char *)"XX", -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
		(const unsigned char *)"certmon bench", -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
		(const unsigned char *)cn, -1, -1, 0))
		die_ssl("name");
	return name;
}

static void join_path(char *out, size_t size, const char *dir,
    const char *file)
{
	int n = snprintf(out, size, "%s/%s", dir, file);

	if (n < 0 || (size_t)n >= size) {
		fprintf(stderr, "ocsp_mint: path too long: %s/%s\n", dir, file);
		exit(1);
	}
}

static void write_key(const char *dir, const char *file, EVP_PKEY *key)
{
	char path[PATH_MAX];
	FILE *f;

	join_path(path, sizeof path, dir, file);
	if ((f = fopen(path, "w")) == NULL)
		die_io(path);
	if (!PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL))
		die_ssl("PEM_write_PrivateKey");
	if (fclose(f) != 0)
		die_io(path);
}

static void write_cert(const char *path, X509 *x)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		die_io(path);
	if (!PEM_write_X509(f, x))
		die_ssl("PEM_write_X509");
	if (fclose(f) != 0)
		die_io(path);
}

/* One index.txt line for x, as `openssl ca` writes it. */
static void index_line(FILE *f, X509 *x)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;
	char *subj = X509_NAME_oneline(X509_get_subject_name(x), NULL, 0);
	struct tm tm;
	char exp[32];

	if (hex == NULL || subj == NULL ||
	    !ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) ||
	    strftime(exp, sizeof exp, "%y%m%d%H%M%SZ", &tm) == 0)
		die_ssl("index line");
	fprintf(f, "V\t%s\t\t%s\tunknown\t%s\n", exp, hex, subj);
	OPENSSL_free(hex);
	OPENSSL_free(subj);
	BN_free(bn);
}

static void usage(void)
{
	fprintf(stderr, "usage: ocsp_mint OUTDIR N --url URL [--url URL]...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *outdir, *urls[MAX_URLS];
	char path[PATH_MAX], certs[PATH_MAX], cn[64], val[512];
	unsigned long n, i;
	int nurls = 0;
	time_t now = time(NULL);
	EVP_PKEY *ca_key, *resp_key, *leaf_key;
	X509 *ca, *resp;
	X509_NAME *name;
	X509V3_CTX ctx;
	FILE *index, *urlmap;
	char *end;

	if (argc < 5)
		usage();
	outdir = argv[1];
	errno = 0;
	n = strtoul(argv[2], &end, 10);
	if (errno != 0 || *end != '\0' || n == 0 || n > 9999999UL)
		usage();
	for (int a = 3; a < argc; a++) {
		if (strcmp(argv[a], "--url") == 0 && a + 1 < argc &&
		    nurls < MAX_URLS)
			urls[nurls++] = argv[++a];
		else
			usage();
	}
	if (nurls == 0)
		usage();
	join_path(certs, sizeof certs, outdir, "certs");
	if ((mkdir(outdir, 0755) != 0 && errno != EEXIST))
		die_io(outdir);
	if ((mkdir(certs, 0755) != 0 && errno != EEXIST))
		die_io(certs);

	if ((ca_key = EVP_EC_gen("P-256")) == NULL ||
	    (resp_key = EVP_EC_gen("P-256")) == NULL ||
	    (leaf_key = EVP_EC_gen("P-256")) == NULL)
		die_ssl("EVP_EC_gen");

	/* the CA */
	if ((ca = X509_new()) == NULL)
		die_ssl("X509_new");
	X509_set_version(ca, 2);
	set_serial(ca);
	set_validity(ca, now, -DAY, 3650 * DAY);
	name = make_name("certmon bench OCSP CA");
	X509_set_subject_name(ca, name);
	X509_set_issuer_name(ca, name);
	X509_NAME_free(name);
	X509_set_pubkey(ca, ca_key);
	X509V3_set_ctx(&ctx, ca, ca, NULL, NULL, 0);
	add_ext(ca, &ctx, NID_basic_constraints, "critical,CA:TRUE");
	add_ext(ca, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
	add_ext(ca, &ctx, NID_subject_key_identifier, "hash");
	if (!X509_sign(ca, ca_key, EVP_sha256()))
		die_ssl("X509_sign (CA)");

	join_path(path, sizeof path, outdir, "index.txt");
	if ((index = fopen(path, "w")) == NULL)
		die_io(path);
	join_path(path, sizeof path, outdir, "urls.txt");
	if ((urlmap = fopen(path, "w")) == NULL)
		die_io(path);

	/* the delegated responder */
	if ((resp = X509_new()) == NULL)
		die_ssl("X509_new");
	X509_set_version(resp, 2);
	set_serial(resp);
	set_validity(resp, now, -DAY, 365 * DAY);
	name = make_name("certmon bench delegated OCSP responder");
	X509_set_subject_name(resp, name);
	X509_NAME_free(name);
	X509_set_issuer_name(resp, X509_get_subject_name(ca));
	X509_set_pubkey(resp, resp_key);
	X509V3_set_ctx(&ctx, ca, resp, NULL, NULL, 0);
	add_ext(resp, &ctx, NID_basic_constraints, "CA:FALSE");
	add_ext(resp, &ctx, NID_key_usage, "critical,digitalSignature");
	add_ext(resp, &ctx, NID_ext_key_usage, "OCSPSigning");
	add_ext(resp, &ctx, NID_id_pkix_OCSP_noCheck, "ignored");
	add_ext(resp, &ctx, NID_subject_key_identifier, "hash");
	add_ext(resp, &ctx, NID_authority_key_identifier, "keyid:always");
	snprintf(val, sizeof val, "OCSP;URI:%s", urls[0]);
	add_ext(resp, &ctx, NID_info_access, val);
	if (!X509_sign(resp, ca_key, EVP_sha256()))
		die_ssl("X509_sign (responder)");
	index_line(index, resp);

	join_path(path, sizeof path, outdir, "ca.pem");
	write_cert(path, ca);
	write_key(outdir, "ca-key.pem", ca_key);
	join_path(path, sizeof path, outdir, "responder.pem");
	write_cert(path, resp);
	write_key(outdir, "responder-key.pem", resp_key);
	write_key(outdir, "leaf-key.pem", leaf_key);

	/* the leaves */
	for (i = 0; i < n; i++) {
		uint64_t r = splitmix64(i + 1);
		long life = 31 + (long)(r % 770);
		long age_h = 1 + (long)((r >> 32) % (30 * 24));
		const char *url = urls[i % (unsigned long)nurls];
		X509 *x = X509_new();

		if (x == NULL)
			die_ssl("X509_new");
		snprintf(cn, sizeof cn, "ocsp-%06lu.bench.example", i + 1);
		X509_set_version(x, 2);
		set_serial(x);
		set_validity(x, now, -age_h * 3600L, life * DAY);
		name = make_name(cn);
		X509_set_subject_name(x, name);
		X509_NAME_free(name);
		X509_set_issuer_name(x, X509_get_subject_name(ca));
		X509_set_pubkey(x, leaf_key);
		X509V3_set_ctx(&ctx, ca, x, NULL, NULL, 0);
		add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE");
		add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature");
		add_ext(x, &ctx, NID_ext_key_usage, "serverAuth");
		add_ext(x, &ctx, NID_subject_key_identifier, "hash");
		add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always");
		snprintf(val, sizeof val, "DNS:%s", cn);
		add_ext(x, &ctx, NID_subject_alt_name, val);
		snprintf(val, sizeof val, "OCSP;URI:%s", url);
		add_ext(x, &ctx, NID_info_access, val);
		if (!X509_sign(x, ca_key, EVP_sha256()))
			die_ssl("X509_sign (leaf)");
		if (snprintf(path, sizeof path, "%s/cert-%06lu.pem", certs,
		    i + 1) >= (int)sizeof path) {
			fprintf(stderr, "ocsp_mint: path too long: %s\n", certs);
			return 1;
		}
		write_cert(path, x);
		index_line(index, x);
		fprintf(urlmap, "%s %s\n", path, url);
		X509_free(x);
	}
	if (fclose(index) != 0 || fclose(urlmap) != 0)
		die_io(outdir);
	printf("ocsp_mint: %lu leaves, a CA and a delegated responder in %s "
	    "(%d responder URL(s))\n", n, outdir, nurls);
	X509_free(ca);
	X509_free(resp);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(resp_key);
	EVP_PKEY_free(leaf_key);
	return 0;
}
