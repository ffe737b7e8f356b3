/*
 * ocsp_floor.c - the floor of the revocation benchmark: what OpenSSL alone
 * needs to verify the OCSP responses a run receives.
 *
 *   ocsp_floor --ca CA.pem [--reps R] DIR
 *
 * Loads every *.der file of DIR (DER OCSPResponse, as saved by `openssl ocsp
 * -respout`), and times, per response and call:
 *
 *   verify       OCSP_basic_verify(bs, NULL, store{CA}, 0) on a response
 *                decoded once outside the loop (the bare call): the
 *                delegated case, the responder certificate comes from the
 *                response, its chain to the CA is verified and its
 *                OCSPSigning EKU checked, then the response signature;
 *   d2i+verify   d2i_OCSP_RESPONSE + OCSP_response_get1_basic + the same
 *                call (what a client must do with the bytes it receives).
 *
 * Every response is verified R times (default 5) in each case, interleaved
 * over the set. Prints one line per case: calls, median, p90, p99, minimum
 * (monotonic clock, µs) and the process CPU time (user + system, from
 * getrusage) divided by the number of calls. A call that does not return 1
 * is an error (exit 1): the floor is only meaningful on valid responses.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

struct resp {
	unsigned char *der;
	long len;
	OCSP_BASICRESP *bs;             /* decoded once */
};

static void die(const char *what)
{
	fprintf(stderr, "ocsp_floor: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static double cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static unsigned char *read_file(const char *path, long *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf;
	long n;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) <= 0 ||
	    fseek(f, 0, SEEK_SET) != 0 || (buf = malloc((size_t)n)) == NULL ||
	    fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "ocsp_floor: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	fclose(f);
	*len = n;
	return buf;
}

static OCSP_BASICRESP *decode(const unsigned char *der, long len)
{
	const unsigned char *p = der;
	OCSP_RESPONSE *r = d2i_OCSP_RESPONSE(NULL, &p, len);
	OCSP_BASICRESP *bs;

	if (r == NULL || p != der + len)
		die("d2i_OCSP_RESPONSE");
	if (OCSP_response_status(r) != OCSP_RESPONSE_STATUS_SUCCESSFUL ||
	    (bs = OCSP_response_get1_basic(r)) == NULL)
		die("not a successful basic response");
	OCSP_RESPONSE_free(r);
	return bs;
}

static void report(const char *name, double *t, size_t n, double cpu)
{
	qsort(t, n, sizeof(*t), cmp_double);
	printf("%-12s calls %zu median %.2f p90 %.2f p99 %.2f min %.2f "
	    "cpu_per_call %.2f\n", name, n, t[n / 2], t[n * 9 / 10],
	    t[n * 99 / 100], t[0], cpu / (double)n);
}

int main(int argc, char **argv)
{
	const char *ca_path = NULL, *dir = NULL;
	struct resp *rs = NULL;
	size_t nrs = 0, cap = 0, ncalls, k;
	int reps = 5;
	X509 *ca;
	X509_STORE *store;
	FILE *f;
	DIR *d;
	struct dirent *de;
	double *t, c0, t0;

	for (int a = 1; a < argc; a++) {
		if (strcmp(argv[a], "--ca") == 0 && a + 1 < argc)
			ca_path = argv[++a];
		else if (strcmp(argv[a], "--reps") == 0 && a + 1 < argc)
			reps = atoi(argv[++a]);
		else if (dir == NULL && argv[a][0] != '-')
			dir = argv[a];
		else
			dir = NULL, a = argc;
	}
	if (ca_path == NULL || dir == NULL || reps < 1) {
		fprintf(stderr, "usage: ocsp_floor --ca CA.pem [--reps R] DIR\n");
		return 2;
	}
	if ((f = fopen(ca_path, "r")) == NULL ||
	    (ca = PEM_read_X509(f, NULL, NULL, NULL)) == NULL)
		die("cannot read the CA certificate");
	fclose(f);
	if ((store = X509_STORE_new()) == NULL || !X509_STORE_add_cert(store, ca))
		die("X509_STORE");

	if ((d = opendir(dir)) == NULL) {
		fprintf(stderr, "ocsp_floor: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	while ((de = readdir(d)) != NULL) {
		char path[PATH_MAX];
		size_t l = strlen(de->d_name);

		if (l < 5 || strcmp(de->d_name + l - 4, ".der") != 0)
			continue;
		if (nrs == cap) {
			cap = cap ? cap * 2 : 1024;
			if ((rs = realloc(rs, cap * sizeof(*rs))) == NULL)
				die("out of memory");
		}
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		rs[nrs].der = read_file(path, &rs[nrs].len);
		rs[nrs].bs = decode(rs[nrs].der, rs[nrs].len);
		nrs++;
	}
	closedir(d);
	if (nrs == 0)
		die("no .der responses in the directory");
	ncalls = nrs * (size_t)reps;
	if ((t = malloc(ncalls * sizeof(*t))) == NULL)
		die("out of memory");

	/* warm-up: one pass, not counted */
	for (size_t i = 0; i < nrs; i++)
		if (OCSP_basic_verify(rs[i].bs, NULL, store, 0) != 1)
			die("OCSP_basic_verify does not verify a response");

	k = 0;
	c0 = cpu_us();
	for (int r = 0; r < reps; r++)
		for (size_t i = 0; i < nrs; i++) {
			int ok;

			t0 = now_us();
			ok = OCSP_basic_verify(rs[i].bs, NULL, store, 0);
			t[k++] = now_us() - t0;
			if (ok != 1)
				die("OCSP_basic_verify failed");
		}
	report("verify", t, ncalls, cpu_us() - c0);

	k = 0;
	c0 = cpu_us();
	for (int r = 0; r < reps; r++)
		for (size_t i = 0; i < nrs; i++) {
			OCSP_BASICRESP *bs;
			int ok;

			t0 = now_us();
			bs = decode(rs[i].der, rs[i].len);
			ok = OCSP_basic_verify(bs, NULL, store, 0);
			OCSP_BASICRESP_free(bs);
			t[k++] = now_us() - t0;
			if (ok != 1)
				die("OCSP_basic_verify failed");
		}
	report("d2i+verify", t, ncalls, cpu_us() - c0);

	for (size_t i = 0; i < nrs; i++) {
		OCSP_BASICRESP_free(rs[i].bs);
		free(rs[i].der);
	}
	free(rs);
	free(t);
	X509_STORE_free(store);
	X509_free(ca);
	return 0;
}
