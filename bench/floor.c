/*
 * floor.c - the floor for importing certificates: what OpenSSL alone needs
 * to parse every file of a directory, with no store.
 *
 *   floor DIR [--threads T] [--procs P] [--libctx-per-thread]
 *
 * For every regular file in DIR: read it, PEM-decode it
 * (PEM_bytes_read_bio), d2i_X509, SHA-256 of the DER, notAfter
 * (ASN1_TIME_to_tm). The files are shared out over T threads (default 2)
 * in each of P processes (default 1). The timed span covers everything from
 * listing DIR to the last file, the same work an importer cannot avoid.
 *
 * Why --procs and --libctx-per-thread: OpenSSL 3.0 decodes the public key
 * of every certificate through its provider decoder machinery, which takes
 * read locks (pthread_rwlock) on tables shared by the library context. Two
 * threads on the default library context spend most of their time bouncing
 * those locks' cache lines between cores and barely beat one thread. Two
 * processes share nothing and show what the two cores can really do; one
 * OSSL_LIB_CTX per thread (X509_new_ex + d2i_X509 into it) is the in-process
 * way to get there.
 *
 * Prints one line: "floor: N certs in S s = R certs/s (...)" and exits
 * non-zero if any file failed to parse.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

struct shared {
	const char *dir;
	int dirfd;
	char **names;
	size_t n;
	int libctx_per_thread;
	atomic_size_t next;
	atomic_size_t failed;
	atomic_uint_fast64_t checksum;  /* keeps the work observable */
	atomic_size_t expiring;         /* notAfter within 30 days */
	time_t now;
};

/* Reads a whole (small) file relative to dirfd into a malloc'd buffer. */
static unsigned char *read_file(int dirfd, const char *name, size_t *len)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	struct stat st;
	unsigned char *buf = NULL;
	size_t have = 0;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) != 0 || st.st_size <= 0 || st.st_size > (1 << 20))
		goto fail;
	buf = malloc((size_t)st.st_size);
	if (buf == NULL)
		goto fail;
	while (have < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + have, (size_t)st.st_size - have);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			goto fail;
		have += (size_t)r;
	}
	close(fd);
	*len = have;
	return buf;
fail:
	free(buf);
	close(fd);
	return NULL;
}

static int parse_one(struct shared *sh, OSSL_LIB_CTX *libctx,
    const EVP_MD *sha256, const char *name)
{
	size_t len = 0;
	unsigned char *buf = read_file(sh->dirfd, name, &len);
	unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
	const unsigned char *p;
	char *pem_name = NULL;
	unsigned int mdlen = 0;
	long der_len = 0;
	BIO *bio = NULL;
	X509 *x = NULL;
	struct tm tm;
	int ok = 0;

	if (buf == NULL)
		goto out;
	bio = BIO_new_mem_buf(buf, (int)len);
	if (bio == NULL)
		goto out;
	/* the PEM decode: one "CERTIFICATE" block */
	if (!PEM_bytes_read_bio(&der, &der_len, &pem_name, PEM_STRING_X509,
		bio, NULL, NULL))
		goto out;
	p = der;
	if (libctx != NULL) {
		x = X509_new_ex(libctx, NULL);
		if (x == NULL || d2i_X509(&x, &p, der_len) == NULL)
			goto out;
	} else {
		x = d2i_X509(NULL, &p, der_len);
	}
	if (x == NULL || p != der + der_len)
		goto out;
	if (!EVP_Digest(der, (size_t)der_len, md, &mdlen, sha256, NULL))
		goto out;
	if (!ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm))
		goto out;
	{
		time_t na = timegm(&tm);
		uint64_t v;

		memcpy(&v, md, sizeof v);
		atomic_fetch_xor(&sh->checksum, v ^ (uint64_t)na);
		if (na - sh->now <= 30L * 86400L)
			atomic_fetch_add(&sh->expiring, 1);
	}
	ok = 1;
out:
	if (!ok) {
		fprintf(stderr, "floor: %s/%s: cannot parse\n", sh->dir, name);
		ERR_clear_error();
	}
	X509_free(x);
	OPENSSL_free(der);
	OPENSSL_free(pem_name);
	BIO_free(bio);
	free(buf);
	return ok;
}

static void *worker(void *arg)
{
	struct shared *sh = arg;
	OSSL_LIB_CTX *libctx = NULL;
	EVP_MD *sha256;

	if (sh->libctx_per_thread) {
		libctx = OSSL_LIB_CTX_new();
		if (libctx == NULL) {
			atomic_fetch_add(&sh->failed, sh->n);
			return NULL;
		}
	}
	/* fetch SHA-256 once, as a long-lived importer would */
	sha256 = EVP_MD_fetch(libctx, "SHA256", NULL);
	if (sha256 == NULL) {
		ERR_print_errors_fp(stderr);
		atomic_fetch_add(&sh->failed, sh->n);
		OSSL_LIB_CTX_free(libctx);
		return NULL;
	}
	for (;;) {
		size_t i = atomic_fetch_add(&sh->next, 1);

		if (i >= sh->n)
			break;
		if (!parse_one(sh, libctx, sha256, sh->names[i]))
			atomic_fetch_add(&sh->failed, 1);
	}
	EVP_MD_free(sha256);
	OSSL_LIB_CTX_free(libctx);
	return NULL;
}

/* Lists the regular files of the directory (like an importer would). */
static int list_dir(struct shared *sh)
{
	DIR *d = fdopendir(dup(sh->dirfd));
	struct dirent *de;
	size_t cap = 0;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		if (de->d_type == DT_UNKNOWN || de->d_type == DT_LNK) {
			if (fstatat(sh->dirfd, de->d_name, &st, 0) != 0 ||
			    !S_ISREG(st.st_mode))
				continue;
		} else if (de->d_type != DT_REG) {
			continue;
		}
		if (sh->n == cap) {
			char **v;

			cap = cap ? cap * 2 : 1024;
			v = realloc(sh->names, cap * sizeof *v);
			if (v == NULL)
				return 0;
			sh->names = v;
		}
		sh->names[sh->n] = strdup(de->d_name);
		if (sh->names[sh->n] == NULL)
			return 0;
		sh->n++;
	}
	closedir(d);
	return 1;
}

static void usage(void)
{
	fprintf(stderr, "usage: floor DIR [--threads T] [--procs P] "
	    "[--libctx-per-thread]\n");
	exit(2);
}

static unsigned long parse_count(const char *s)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (end == s || *end != '\0' || v < 1 || v > 64)
		usage();
	return v;
}

/* Runs `threads` workers in this process and waits for them. */
static int run_threads(struct shared *sh, unsigned long threads)
{
	pthread_t tid[64];

	for (unsigned long t = 0; t < threads; t++)
		if (pthread_create(&tid[t], NULL, worker, sh) != 0) {
			fprintf(stderr, "floor: pthread_create failed\n");
			return 0;
		}
	for (unsigned long t = 0; t < threads; t++)
		pthread_join(tid[t], NULL);
	return 1;
}

int main(int argc, char **argv)
{
	struct shared *sh;
	unsigned long threads = 2, procs = 1;
	struct timespec t0, t1;
	size_t ok;
	double secs;

	/* shared with the child processes of --procs: the counters are
	 * lock-free atomics, which work across processes too */
	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		perror("floor: mmap");
		return 1;
	}
	memset(sh, 0, sizeof *sh);
	if (argc < 2)
		usage();
	sh->dir = argv[1];
	for (int a = 2; a < argc; a++) {
		if (strcmp(argv[a], "--threads") == 0 && a + 1 < argc)
			threads = parse_count(argv[++a]);
		else if (strcmp(argv[a], "--procs") == 0 && a + 1 < argc)
			procs = parse_count(argv[++a]);
		else if (strcmp(argv[a], "--libctx-per-thread") == 0)
			sh->libctx_per_thread = 1;
		else
			usage();
	}
	sh->now = time(NULL);
	atomic_init(&sh->next, 0);
	atomic_init(&sh->failed, 0);
	atomic_init(&sh->checksum, 0);
	atomic_init(&sh->expiring, 0);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	sh->dirfd = open(sh->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sh->dirfd < 0 || !list_dir(sh)) {
		fprintf(stderr, "floor: %s: %s\n", sh->dir, strerror(errno));
		return 1;
	}
	if (procs == 1) {
		if (!run_threads(sh, threads))
			return 1;
	} else {
		fflush(NULL);
		for (unsigned long k = 0; k < procs; k++) {
			pid_t pid = fork();

			if (pid < 0) {
				perror("floor: fork");
				return 1;
			}
			if (pid == 0)
				_exit(run_threads(sh, threads) ? 0 : 1);
		}
		for (unsigned long k = 0; k < procs; k++) {
			int status;

			if (wait(&status) < 0 || !WIFEXITED(status) ||
			    WEXITSTATUS(status) != 0) {
				fprintf(stderr, "floor: a worker process "
				    "failed\n");
				return 1;
			}
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);

	secs = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	ok = sh->n - atomic_load(&sh->failed);
	printf("floor: %zu certs in %.3f s = %.0f certs/s (%lu procs x %lu "
	    "threads%s; %zu expire within 30 days; checksum %016llx)\n",
	    ok, secs, (double)ok / secs, procs, threads,
	    sh->libctx_per_thread ? ", libctx per thread" : "",
	    atomic_load(&sh->expiring),
	    (unsigned long long)atomic_load(&sh->checksum));
	for (size_t i = 0; i < sh->n; i++)
		free(sh->names[i]);
	free(sh->names);
	close(sh->dirfd);
	if (atomic_load(&sh->failed) != 0) {
		fprintf(stderr, "floor: %zu files failed\n",
		    atomic_load(&sh->failed));
		return 1;
	}
	return 0;
}
