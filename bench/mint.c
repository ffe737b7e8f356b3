/*
 * mint.c - writes N distinct PEM leaf certificates for the benchmarks.
 *
 *   mint OUTDIR N [--threads T] [--ca-dir DIR] [--seed S]
 *
 * Writes OUTDIR/cert-000001.pem .. OUTDIR/cert-NNNNNN.pem, each one
 * certificate signed by one CA. The CA certificate, the CA key and the
 * shared leaf key go to --ca-dir (default: the parent of OUTDIR) as
 * ca.pem, ca-key.pem and leaf-key.pem, so that the import directory holds
 * only leaves.
 *
 * The leaves look like real TLS server certificates: RSA-2048 public key
 * (one key generated once and shared by every leaf: key generation would
 * dominate the run otherwise, and the importer does not care), subject
 * CN=host-NNNNNN.bench.example (unique), SANs DNS (host and www.host),
 * basicConstraints CA:FALSE, keyUsage, EKU serverAuth, AIA OCSP + caIssuers,
 * CDP, SKI/AKI, a random positive 16-byte serial, SHA-256 signature.
 * Validity: notBefore a few hours to 30 days ago; notAfter 1..800 days from
 * now, chosen so that about 10% of the leaves expire within 30 days (1..30
 * days) and the others 31..800 days out. The lifetimes come from a PRNG
 * seeded by --seed and the index, so a run is reproducible up to the
 * serials (random) and the signatures (ECDSA is randomised).
 *
 * The CA key is ECDSA P-256, not RSA: an RSA-2048 signature costs ~1 ms of
 * CPU, a P-256 one ~30 us, so 100,000 leaves take seconds instead of
 * minutes. The parse cost that the benchmarks measure does not depend on
 * the issuer's key type (certmon does not verify signatures on import).
 *
 * Signing is spread over --threads threads (default 2); the shared keys are
 * only read, which OpenSSL 3 allows from several threads.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define DAY (24L * 3600L)

struct shared {
	const char *outdir;
	unsigned long n;
	uint64_t seed;
	time_t now;
	int width;                      /* digits in file names and CNs */
	EVP_PKEY *ca_key;
	X509 *ca;
	EVP_PKEY *leaf_key;
	X509_NAME *issuer;
	/* extensions that are the same in every leaf, built once */
	X509_EXTENSION *fixed_ext[8];
	int n_fixed;
	atomic_ulong next;              /* next index to mint (0-based) */
	atomic_int failed;
};

static void die_ssl(const char *what)
{
	fprintf(stderr, "mint: %s failed\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* Builds an extension from its openssl.cnf-style value. */
static X509_EXTENSION *make_ext(X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);

	if (ext == NULL)
		die_ssl(OBJ_nid2sn(nid));
	return ext;
}

static void add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = make_ext(ctx, nid, value);

	if (!X509_add_ext(x, ext, -1))
		die_ssl("X509_add_ext");
	X509_EXTENSION_free(ext);
}

static void set_serial(X509 *x)
{
	unsigned char b[16];
	BIGNUM *bn;

	if (RAND_bytes(b, sizeof b) != 1)
		die_ssl("RAND_bytes");
	b[0] &= 0x7f;                   /* positive ... */
	b[0] |= 0x40;                   /* ... and a full 16 bytes long */
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

/* dir + "/" + file into out, or exits if it does not fit. */
static void join_path(char *out, size_t size, const char *dir,
    const char *file)
{
	int n = snprintf(out, size, "%s/%s", dir, file);

	if (n < 0 || (size_t)n >= size) {
		fprintf(stderr, "mint: path too long: %s/%s\n", dir, file);
		exit(1);
	}
}

static void write_pem_key(const char *path, EVP_PKEY *key)
{
	FILE *f = fopen(path, "w");

	if (f == NULL) {
		fprintf(stderr, "mint: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	if (!PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL))
		die_ssl("PEM_write_PrivateKey");
	if (fclose(f) != 0) {
		fprintf(stderr, "mint: %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

static int write_pem_cert(const char *path, X509 *x)
{
	FILE *f = fopen(path, "w");
	int ok;

	if (f == NULL) {
		fprintf(stderr, "mint: %s: %s\n", path, strerror(errno));
		return 0;
	}
	ok = PEM_write_X509(f, x);
	if (fclose(f) != 0)
		ok = 0;
	if (!ok)
		fprintf(stderr, "mint: writing %s failed\n", path);
	return ok;
}

static X509 *make_ca(EVP_PKEY *key, time_t now)
{
	X509 *ca = X509_new();
	X509_NAME *name = X509_NAME_new();
	X509V3_CTX ctx;

	if (ca == NULL || name == NULL)
		die_ssl("X509_new");
	X509_set_version(ca, 2);
	set_serial(ca);
	set_validity(ca, now, -DAY, 3650 * DAY);
	if (!X509_NAME_add_entry_by_txt(name, "C", MBSTRING_ASC,
		(const unsigned char *)"XX", -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
		(const unsigned char *)"certmon bench", -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
		(const unsigned char *)"certmon bench CA", -1, -1, 0))
		die_ssl("CA name");
	X509_set_subject_name(ca, name);
	X509_set_issuer_name(ca, name);
	X509_NAME_free(name);
	if (!X509_set_pubkey(ca, key))
		die_ssl("X509_set_pubkey");
	X509V3_set_ctx(&ctx, ca, ca, NULL, NULL, 0);
	add_ext(ca, &ctx, NID_basic_constraints, "critical,CA:TRUE");
	add_ext(ca, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
	add_ext(ca, &ctx, NID_subject_key_identifier, "hash");
	if (!X509_sign(ca, key, EVP_sha256()))
		die_ssl("X509_sign (CA)");
	return ca;
}

/* Builds the extensions every leaf shares (the leaf key and the CA are the
 * same for all, so even SKI and AKI are). */
static void make_fixed_exts(struct shared *sh)
{
	X509 *tmpl = X509_new();
	X509V3_CTX ctx;

	if (tmpl == NULL || !X509_set_pubkey(tmpl, sh->leaf_key))
		die_ssl("template");
	X509V3_set_ctx(&ctx, sh->ca, tmpl, NULL, NULL, 0);
	sh->fixed_ext[sh->n_fixed++] = make_ext(&ctx, NID_basic_constraints,
	    "critical,CA:FALSE");
	sh->fixed_ext[sh->n_fixed++] = make_ext(&ctx, NID_key_usage,
	    "critical,digitalSignature,keyEncipherment");
	sh->fixed_ext[sh->n_fixed++] = make_ext(&ctx, NID_ext_key_usage,
	    "serverAuth");
	sh->fixed_ext[sh->n_fixed++] = make_ext(&ctx, NID_subject_key_identifier,
	    "hash");
	sh->fixed_ext[sh->n_fixed++] = make_ext(&ctx, NID_authority_key_identifier,
	    "keyid:always");
	sh->fixed_ext[sh->n_fixed++] = make_ext(&ctx, NID_info_access,
	    "OCSP;URI:http://ocsp.bench.example/,"
	    "caIssuers;URI:http://pki.bench.example/ca.crt");
	sh->fixed_ext[sh->n_fixed++] = make_ext(&ctx, NID_crl_distribution_points,
	    "URI:http://crl.bench.example/ca.crl");
	X509_free(tmpl);
}

static int mint_one(struct shared *sh, unsigned long i)
{
	unsigned long num = i + 1;
	char cn[64], san[160], path[PATH_MAX];
	uint64_t r = splitmix64(sh->seed * 0x100000001b3ULL + num);
	long life_days, age_hours;
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	X509V3_CTX ctx;
	int ok = 0;

	if (x == NULL || name == NULL)
		goto out;
	/* ~10% expire within 30 days, the rest 31..800 days out */
	if (r % 10 == 0)
		life_days = 1 + (long)((r >> 8) % 30);
	else
		life_days = 31 + (long)((r >> 8) % 770);
	age_hours = 1 + (long)((r >> 40) % (30 * 24));

	snprintf(cn, sizeof cn, "host-%0*lu.bench.example", sh->width, num);
	snprintf(san, sizeof san, "DNS:%s,DNS:www.%s", cn, cn);
	if (snprintf(path, sizeof path, "%s/cert-%0*lu.pem", sh->outdir,
		sh->width, num) >= (int)sizeof path)
		goto out;

	X509_set_version(x, 2);
	set_serial(x);
	set_validity(x, sh->now, -age_hours * 3600L, life_days * DAY);
	if (!X509_NAME_add_entry_by_txt(name, "C", MBSTRING_ASC,
		(const unsigned char *)"XX", -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
		(const unsigned char *)"certmon bench", -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
		(const unsigned char *)cn, -1, -1, 0))
		goto out;
	if (!X509_set_subject_name(x, name) ||
	    !X509_set_issuer_name(x, sh->issuer) ||
	    !X509_set_pubkey(x, sh->leaf_key))
		goto out;
	for (int k = 0; k < sh->n_fixed; k++)
		if (!X509_add_ext(x, sh->fixed_ext[k], -1))
			goto out;
	X509V3_set_ctx(&ctx, sh->ca, x, NULL, NULL, 0);
	{
		X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx,
		    NID_subject_alt_name, san);

		if (ext == NULL || !X509_add_ext(x, ext, -1)) {
			X509_EXTENSION_free(ext);
			goto out;
		}
		X509_EXTENSION_free(ext);
	}
	if (!X509_sign(x, sh->ca_key, EVP_sha256()))
		goto out;
	ok = write_pem_cert(path, x);
out:
	if (!ok)
		ERR_print_errors_fp(stderr);
	X509_NAME_free(name);
	X509_free(x);
	return ok;
}

static void *worker(void *arg)
{
	struct shared *sh = arg;

	for (;;) {
		unsigned long i = atomic_fetch_add(&sh->next, 1);

		if (i >= sh->n || atomic_load(&sh->failed))
			break;
		if (!mint_one(sh, i)) {
			atomic_store(&sh->failed, 1);
			break;
		}
	}
	return NULL;
}

static void usage(void)
{
	fprintf(stderr, "usage: mint OUTDIR N [--threads T] [--ca-dir DIR] "
	    "[--seed S]\n");
	exit(2);
}

static unsigned long parse_ulong(const char *s, unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v == 0 || v > max)
		usage();
	return v;
}

int main(int argc, char **argv)
{
	struct shared sh;
	const char *ca_dir = NULL;
	char parent[PATH_MAX], path[PATH_MAX];
	unsigned long threads = 2;
	pthread_t tid[64];
	struct timespec t0, t1;
	double secs;
	FILE *f;

	memset(&sh, 0, sizeof sh);
	sh.seed = 1;
	if (argc < 3)
		usage();
	sh.outdir = argv[1];
	sh.n = parse_ulong(argv[2], 99999999UL);
	for (int a = 3; a < argc; a++) {
		if (strcmp(argv[a], "--threads") == 0 && a + 1 < argc)
			threads = parse_ulong(argv[++a], 64);
		else if (strcmp(argv[a], "--ca-dir") == 0 && a + 1 < argc)
			ca_dir = argv[++a];
		else if (strcmp(argv[a], "--seed") == 0 && a + 1 < argc)
			sh.seed = parse_ulong(argv[++a], ULONG_MAX);
		else
			usage();
	}
	if (ca_dir == NULL) {
		join_path(parent, sizeof parent, sh.outdir, "..");
		ca_dir = parent;
	}
	sh.width = 6;
	for (unsigned long lim = 999999; sh.n > lim; lim = lim * 10 + 9)
		sh.width++;
	if (mkdir(sh.outdir, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "mint: %s: %s\n", sh.outdir, strerror(errno));
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	sh.now = time(NULL);

	sh.ca_key = EVP_EC_gen("P-256");
	if (sh.ca_key == NULL)
		die_ssl("EVP_EC_gen");
	sh.leaf_key = EVP_RSA_gen(2048);
	if (sh.leaf_key == NULL)
		die_ssl("EVP_RSA_gen");
	sh.ca = make_ca(sh.ca_key, sh.now);
	sh.issuer = X509_get_subject_name(sh.ca);
	make_fixed_exts(&sh);

	join_path(path, sizeof path, ca_dir, "ca.pem");
	f = fopen(path, "w");
	if (f == NULL || !PEM_write_X509(f, sh.ca) || fclose(f) != 0) {
		fprintf(stderr, "mint: cannot write %s\n", path);
		return 1;
	}
	join_path(path, sizeof path, ca_dir, "ca-key.pem");
	write_pem_key(path, sh.ca_key);
	join_path(path, sizeof path, ca_dir, "leaf-key.pem");
	write_pem_key(path, sh.leaf_key);

	atomic_init(&sh.next, 0);
	atomic_init(&sh.failed, 0);
	for (unsigned long t = 0; t < threads; t++)
		if (pthread_create(&tid[t], NULL, worker, &sh) != 0) {
			fprintf(stderr, "mint: pthread_create failed\n");
			return 1;
		}
	for (unsigned long t = 0; t < threads; t++)
		pthread_join(tid[t], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (atomic_load(&sh.failed))
		return 1;
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("minted %lu certificates into %s in %.2f s (%.0f certs/s, "
	    "%lu threads); CA: %s/ca.pem\n", sh.n, sh.outdir, secs,
	    (double)sh.n / secs, threads, ca_dir);

	for (int k = 0; k < sh.n_fixed; k++)
		X509_EXTENSION_free(sh.fixed_ext[k]);
	X509_free(sh.ca);
	EVP_PKEY_free(sh.ca_key);
	EVP_PKEY_free(sh.leaf_key);
	return 0;
}
