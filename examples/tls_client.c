/*
 * tls_client.c - a small TLS client that refuses revoked peers, with
 * certmon's revocation hook on a plain OpenSSL SSL_CTX. See README.md.
 *
 *   cc -o tls_client tls_client.c $(pkg-config --cflags --libs certmon)
 *   ./tls_client HOST PORT CA_FILE [--servername NAME] [--cc]
 *                [--timeout SECONDS] [--hold]
 *
 * Prints one verdict line; exits 0 (pass), 1 (pass with a warning), 2
 * (refused), 3 (local error). With --hold the connection stays open and
 * each line read on stdin re-checks the peer (a long-lived connection).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include <certmon/log.h>
#include <certmon/tls.h>

static void
to_stderr(enum cm_log_level level, const char *line, void *arg)
{
	(void)level;
	(void)arg;
	fprintf(stderr, "certmon: %s\n", line);
}

static const char *
word(const struct cm_tls_result *r)
{
	return r->verdict == CM_VERDICT_FAIL ? "FAIL" :
	    r->verdict == CM_VERDICT_WARN ? "PASS (WARNING)" : "PASS";
}

int
main(int argc, char **argv)
{
	struct cm_tls_opts opts = {0};
	struct cm_tls_result r;
	struct cm_tls *tls = NULL;
	struct cm_err err = {CM_OK, ""};
	const char *name = NULL;
	char target[300], line[64];
	int hold = 0, code = 3;
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	BIO *bio = NULL;

	if (argc < 4) {
		fprintf(stderr, "usage: %s HOST PORT CA_FILE [--servername NAME] "
		    "[--cc] [--timeout SECONDS] [--hold]\n", argv[0]);
		return 3;
	}
	for (int i = 4; i < argc; i++) {
		if (strcmp(argv[i], "--cc") == 0)
			opts.common_criteria = 1;
		else if (strcmp(argv[i], "--hold") == 0)
			hold = 1;
		else if (strcmp(argv[i], "--servername") == 0 && i + 1 < argc)
			name = argv[++i];
		else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc)
			opts.fetch.timeout_ms = atol(argv[++i]) * 1000;
		else
			return fprintf(stderr, "unknown option %s\n", argv[i]), 3;
	}
	cm_log_set_sink(to_stderr, NULL);       /* "invalid staple ignored" */

	/* 1. An ordinary SSL_CTX with its trust anchors ... */
	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL || SSL_CTX_load_verify_locations(ctx, argv[3], NULL) != 1)
		goto out;
	/* 2. ... and certmon's policy on it: one context per process, shared
	 * by every connection (and its cache of OCSP answers). */
	if (cm_tls_new(&opts, &tls, &err) != CM_OK ||
	    cm_tls_attach_ctx(tls, ctx, &err) != CM_OK)
		goto out;

	snprintf(target, sizeof(target), "%s:%s", argv[1], argv[2]);
	if ((bio = BIO_new_connect(target)) == NULL || BIO_do_connect(bio) != 1) {
		fprintf(stderr, "cannot connect to %s\n", target);
		goto out;
	}
	ssl = SSL_new(ctx);
	SSL_set_bio(ssl, bio, bio);
	/* 3. Per connection: the name the server must present. */
	if (cm_tls_attach_ssl(tls, ssl, name != NULL ? name : argv[1], &err) !=
	    CM_OK)
		goto out;

	code = 2;
	if (SSL_connect(ssl) != 1) {
		if (cm_tls_result_get(ssl, &r) == CM_OK)
			printf("%s: %s\n", word(&r), r.reason);
		else
			printf("FAIL: the TLS handshake failed\n");
		goto out;
	}
	cm_tls_result_get(ssl, &r);
	printf("%s: %s\n", word(&r), r.reason);
	fflush(stdout);
	code = (int)r.verdict;

	/* 4. A long-lived connection re-checks its peer now and then. */
	while (hold && fgets(line, sizeof(line), stdin) != NULL) {
		enum cm_verdict v = cm_tls_recheck(ssl, 0, cm_clock_now(), &r);

		printf("recheck %s: %s\n", word(&r), r.reason);
		fflush(stdout);
		if (v == CM_VERDICT_FAIL) {
			code = 2;       /* the peer no longer passes: hang up */
			break;
		}
	}
	SSL_shutdown(ssl);
out:
	if (err.code != CM_OK)
		fprintf(stderr, "%s\n", err.msg);
	SSL_free(ssl);                  /* frees bio too */
	if (ssl == NULL)
		BIO_free_all(bio);
	SSL_CTX_free(ctx);
	cm_tls_free(tls);
	return code;
}
