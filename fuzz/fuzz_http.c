/*
 * fuzz_http.c - libFuzzer target of certmond's HTTP request handling: the
 * bytes are one connection's worth of raw HTTP, handed to the daemon's own
 * libmicrohttpd server (daemon/http.c, http_start_unbound: the daemon's
 * handlers, limits and event loop, without a listening socket) over a
 * socketpair with MHD_add_connection. So libmicrohttpd parses the request
 * line, headers, query string, cookies and body (and multipart forms
 * through its post processor) exactly as in certmond, and the REST API
 * (daemon/api.c), the web admin (daemon/web*.c) and /metrics answer from
 * a real store.
 *
 * The store (a temporary file, reset after every request that may have
 * changed it) holds the standard units, a few certificates (Ed25519,
 * from a fixed key, so that their fingerprints are stable), one endpoint,
 * the API token "Bearer " FUZZ_TOKEN and a logged-in web admin session
 * (cookie certmon_session=FUZZ_SESSION, CSRF token FUZZ_CSRF), so that
 * the seeds reach what is behind authentication. The clock is fixed. When
 * it may (as root), the target first moves into a network namespace of its
 * own, so that no request (an endpoint check, a revocation run, a test
 * mail) reaches the network: connections fail at once.
 *
 * Besides crashes and leaks (ASan, UBSan, LSan) it checks that every
 * connection ends once the client has hung up, that whatever was answered
 * begins with an HTTP status line, that a JSON answer (the API's) is one
 * JSON object with a "status", and that the marker "<fuzz" sent in a
 * request never comes back unescaped in an HTML page.
 *
 * FUZZ_HTTP_SEEDS=DIR fuzz_http -runs=0 writes the seeds that need the
 * store's fingerprints into DIR (fuzz/seeds.sh writes the others);
 * FUZZ_HTTP_ECHO=1 prints each answer (the start of it) to stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "certmon/auth.h"
#include "certmon/cert.h"
#include "certmon/store.h"
#include "certmond.h"
#include "http.h"
#include "pki.h"
#include "web.h"

#define FUZZ_TOKEN   "fuzz-token-0123456789abcdef"
#define FUZZ_SESSION \
	"5e5510e5e5510e5e5510e5e5510e5e5510e5e5510e5e5510e5e5510e5e5510e5"
#define FUZZ_CSRF \
	"c5cfc5cfc5cfc5cfc5cfc5cfc5cfc5cfc5cfc5cfc5cfc5cfc5cfc5cfc5cfc5cf"
#define FUZZ_NOW     1893456000          /* 2030-01-01T00:00:00Z */
#define DAY          86400
#define RESP_MAX     (256 * 1024)        /* what is kept of an answer */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct daemon_ctx d;
static char dir[64], work[96];
static unsigned char *template_db;
static size_t template_len;
static char fps[4][CM_FP_HEX_LEN];
static struct session *sess;
static int echo;                         /* FUZZ_HTTP_ECHO: print answers */

cm_time
daemon_now(struct daemon_ctx *ctx)
{
	(void)ctx;
	return FUZZ_NOW;
}

void
daemon_log(int priority, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	(void)priority;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
}

static void
die(const char *what)
{
	fprintf(stderr, "fuzz_http: %s\n", what);
	abort();
}

/* Appends to *list a self-signed Ed25519 certificate from a fixed key
 * (the same bytes in every run), parsed as an upload is. */
static void
mint(const char *cn, long serial, cm_time not_before, cm_time not_after,
    struct cm_cert_list *list)
{
	static const unsigned char seed[32] = "certmon fuzz_http fixed key....";
	const struct pki_cert s = {"certmon", cn, serial, not_before, not_after,
	    NULL, 0};
	EVP_PKEY *key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL,
	    seed, sizeof(seed));
	X509 *x = key != NULL ? pki_mint(&s, key, NULL, NULL) : NULL;
	unsigned char *der = NULL;
	struct cm_parse_opts popts;
	struct cm_err err = {CM_OK, ""};
	int len;

	if (x == NULL)
		die("cannot mint a certificate");
	memset(&popts, 0, sizeof(popts));
	if ((len = i2d_X509(x, &der)) <= 0 ||
	    cm_cert_parse(der, (size_t)len, "fuzz.der", &popts, list, &err) !=
	    CM_OK)
		die("cannot parse a minted certificate");
	OPENSSL_free(der);
	X509_free(x);
	EVP_PKEY_free(key);
}

/* Makes the template store: standard units, certificates (valid,
 * expiring, critical, expired), an endpoint, the API token. */
static void
make_template(const char *path)
{
	static const struct {
		const char *cn;
		const char *unit;
		cm_time nb, na;
	} certs[] = {
		{"valid.example.com", "tomcat", FUZZ_NOW - 30 * DAY,
		    FUZZ_NOW + 300 * DAY},
		{"expiring.example.com", "tomcat-trust", FUZZ_NOW - 300 * DAY,
		    FUZZ_NOW + 20 * DAY},
		{"critical <b>&\"'", "CallManager-trust", FUZZ_NOW - 300 * DAY,
		    FUZZ_NOW + 2 * DAY},
		{"expired.example.com", "tomcat-trust", FUZZ_NOW - 400 * DAY,
		    FUZZ_NOW - 5 * DAY},
	};
	struct cm_store *st = NULL;
	struct cm_err err = {CM_OK, ""};
	struct cm_upload_opts uopts;
	struct cm_endpoint ep;
	char hash[CM_FP_HEX_LEN];
	FILE *fp;
	long len;

	if (cm_store_open(path, FUZZ_NOW - 365 * DAY, &st, &err) != CM_OK)
		die(err.msg);
	memset(&uopts, 0, sizeof(uopts));
	for (size_t i = 0; i < sizeof(certs) / sizeof(certs[0]); i++) {
		struct cm_cert_list list = {NULL, 0, 0, 0};
		struct cm_upload_report rep = {NULL, 0};

		mint(certs[i].cn, (long)i + 1, certs[i].nb, certs[i].na, &list);
		if (cm_store_upload(st, certs[i].unit, &list, &uopts, "fuzz",
		    FUZZ_NOW - 10 * DAY, &rep, &err) != CM_OK || rep.n != 1)
			die(err.msg);
		memcpy(fps[i], rep.v[0].fingerprint, CM_FP_HEX_LEN);
		cm_upload_report_free(&rep);
		cm_cert_list_clear(&list);
	}
	memset(&ep, 0, sizeof(ep));
	snprintf(ep.name, sizeof(ep.name), "ldap");
	snprintf(ep.host, sizeof(ep.host), "127.0.0.1");
	ep.port = 1;     /* nothing listens: a check fails at once */
	cm_auth_token_hash(FUZZ_TOKEN, hash);
	if (cm_store_endpoint_add(st, &ep, "fuzz", FUZZ_NOW - DAY, &err) !=
	    CM_OK ||
	    cm_store_token_add(st, "fuzz", hash, "fuzz", FUZZ_NOW - DAY, &err) !=
	    CM_OK)
		die(err.msg);
	cm_store_close(st);
	if ((fp = fopen(path, "rb")) == NULL || fseek(fp, 0, SEEK_END) != 0 ||
	    (len = ftell(fp)) <= 0 || fseek(fp, 0, SEEK_SET) != 0 ||
	    (template_db = malloc((size_t)len)) == NULL ||
	    fread(template_db, 1, (size_t)len, fp) != (size_t)len)
		die("cannot read the template store");
	template_len = (size_t)len;
	fclose(fp);
}

/* Puts the template store back in place of the working one. */
static void
reset_store(void)
{
	struct cm_err err = {CM_OK, ""};
	char path[128];
	FILE *fp;

	cm_store_close(d.st);
	d.st = NULL;
	snprintf(path, sizeof(path), "%s-wal", work);
	unlink(path);
	snprintf(path, sizeof(path), "%s-shm", work);
	unlink(path);
	if ((fp = fopen(work, "wb")) == NULL ||
	    fwrite(template_db, 1, template_len, fp) != template_len ||
	    fclose(fp) != 0)
		die("cannot write the working store");
	if (cm_store_open(work, FUZZ_NOW, &d.st, &err) != CM_OK)
		die(err.msg);
	d.data_version = cm_store_data_version(d.st);
	d.writes++;      /* forget the API's cached totals */
}

/* The logged-in session of the seeds, made again when a request logged it
 * out (or a login replaced it). */
static void
ensure_session(void)
{
	if (sess != NULL && sess->used && sess->authed &&
	    strcmp(sess->id, FUZZ_SESSION) == 0)
		return;
	if ((sess = session_new(1, "admin")) == NULL)
		die("cannot make a session");
	snprintf(sess->id, sizeof(sess->id), "%s", FUZZ_SESSION);
	snprintf(sess->csrf, sizeof(sess->csrf), "%s", FUZZ_CSRF);
}

static void
cleanup(void)
{
	char path[128];

	http_stop(&d);
	cm_store_close(d.st);
	d.st = NULL;
	free(template_db);
	free(d.count.ocsp);
	unlink(work);
	snprintf(path, sizeof(path), "%s-wal", work);
	unlink(path);
	snprintf(path, sizeof(path), "%s-shm", work);
	unlink(path);
	snprintf(path, sizeof(path), "%s/template.db", dir);
	unlink(path);
	rmdir(dir);
	curl_global_cleanup();
}

static void
write_seed(const char *seeds, const char *name, const char *text)
{
	char path[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", seeds, name);
	if ((fp = fopen(path, "wb")) == NULL)
		die("cannot write a seed");
	fputs(text, fp);
	fclose(fp);
}

/* The seeds that name certificates of the store by fingerprint. */
static void
write_seeds(const char *seeds)
{
	static const char auth[] = "Host: localhost\r\nAuthorization: Bearer "
	    FUZZ_TOKEN "\r\n";
	static const char cookie[] = "Host: localhost\r\nCookie: "
	    "certmon_session=" FUZZ_SESSION "\r\n";
	char req[2048], body[256];

	snprintf(req, sizeof(req), "GET /api/v1/certs/%s HTTP/1.1\r\n%s\r\n",
	    fps[0], auth);
	write_seed(seeds, "api-cert-show", req);
	snprintf(req, sizeof(req), "GET /api/v1/certs/%.12s?unit=tomcat-trust "
	    "HTTP/1.1\r\n%s\r\n", fps[1], auth);
	write_seed(seeds, "api-cert-show-prefix", req);
	snprintf(req, sizeof(req), "DELETE /api/v1/certs/%s?unit=tomcat-trust "
	    "HTTP/1.1\r\n%s\r\n", fps[3], auth);
	write_seed(seeds, "api-cert-delete", req);
	snprintf(req, sizeof(req), "GET /certs/CallManager-trust/%s HTTP/1.1\r\n"
	    "%s\r\n", fps[2], cookie);
	write_seed(seeds, "web-cert-show", req);
	snprintf(body, sizeof(body), "csrf=%s", FUZZ_CSRF);
	snprintf(req, sizeof(req), "POST /certs/tomcat-trust/%s/delete "
	    "HTTP/1.1\r\n%s"
	    "Content-Type: application/x-www-form-urlencoded\r\n"
	    "Content-Length: %zu\r\n\r\n%s", fps[1], cookie, strlen(body), body);
	write_seed(seeds, "web-cert-delete", req);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[128];
	const char *seeds = getenv("FUZZ_HTTP_SEEDS");

	(void)argc;
	(void)argv;
	/* no network: best effort (needs CAP_SYS_ADMIN) */
	(void)unshare(CLONE_NEWNET);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	snprintf(dir, sizeof(dir), "%s/fuzz_http.XXXXXX", getenv("TMPDIR") ?
	    getenv("TMPDIR") : "/tmp");
	if (mkdtemp(dir) == NULL)
		die("cannot make a temporary directory");
	snprintf(path, sizeof(path), "%s/template.db", dir);
	snprintf(work, sizeof(work), "%s/work.db", dir);
	make_template(path);
	d.db_path = work;
	d.tls = 0;
	snprintf(d.listen, sizeof(d.listen), "fuzz");
	reset_store();
	if (http_start_unbound(&d) != 0)
		die("cannot start the HTTP server");
	atexit(cleanup);
	echo = getenv("FUZZ_HTTP_ECHO") != NULL;
	if (seeds != NULL)
		write_seeds(seeds);
	return 0;
}

static size_t
connections(void)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d.mhd,
	    MHD_DAEMON_INFO_CURRENT_CONNECTIONS);

	return info != NULL ? info->num_connections : 0;
}

static const char *
find(const char *hay, size_t len, const char *needle)
{
	return memmem(hay, len, needle, strlen(needle));
}

/* The checks on what came back: a status line; for a JSON answer, one
 * object with a "status"; no unescaped "<fuzz" in HTML. */
static void
check_answer(const uint8_t *req, size_t req_len, const char *resp,
    size_t len)
{
	const char *end, *ctype, *clen;
	size_t hlen, blen;
	json_t *doc;

	if (len == 0)
		return;      /* no answer at all (a connection given up) */
	if (len < 13 || (memcmp(resp, "HTTP/1.1 ", 9) != 0 &&
	    memcmp(resp, "HTTP/1.0 ", 9) != 0) ||
	    resp[9] < '1' || resp[9] > '5' || resp[10] < '0' || resp[10] > '9' ||
	    resp[11] < '0' || resp[11] > '9' || resp[12] != ' ')
		die("the answer does not begin with an HTTP status line");
	if ((end = find(resp, len, "\r\n\r\n")) == NULL)
		return;      /* cut short (RESP_MAX) */
	hlen = (size_t)(end - resp) + 4;
	ctype = find(resp, hlen, "\r\nContent-Type: ");
	clen = find(resp, hlen, "\r\nContent-Length: ");
	if (clen == NULL || (req_len >= 4 && memcmp(req, "HEAD", 4) == 0))
		return;
	blen = (size_t)strtoul(clen + 18, NULL, 10);
	if (blen > len - hlen)
		return;
	if (ctype != NULL && strncmp(ctype + 16, "application/json", 16) == 0) {
		doc = json_loadb(resp + hlen, blen, 0, NULL);
		if (doc == NULL || !json_is_object(doc) ||
		    !json_is_string(json_object_get(doc, "status")))
			die("a JSON answer is not an object with a status");
		json_decref(doc);
	}
	if (ctype != NULL && strncmp(ctype + 16, "text/html", 9) == 0 &&
	    find(resp + hlen, blen, "<fuzz") != NULL)
		die("\"<fuzz\" came back unescaped in an HTML page");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char resp[RESP_MAX];
	struct sockaddr_in peer;
	char buf[16384];
	size_t off = 0, len = 0;
	uint64_t writes = d.writes;
	int sv[2], idle = 0, hung_up = 0;
	ssize_t n;

	if (size > 1024 * 1024)
		return 0;
	ensure_session();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) != 0)
		die("socketpair failed");
	memset(&peer, 0, sizeof(peer));
	peer.sin_family = AF_INET;
	peer.sin_port = htons(40000);
	peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (MHD_add_connection(d.mhd, sv[0], (struct sockaddr *)&peer,
	    sizeof(peer)) != MHD_YES)
		die("MHD_add_connection failed");
	/* the client writes what it has, reads what comes, and hangs up when
	 * nothing has moved for a few rounds; the server is done when it
	 * closes the connection */
	for (int round = 0; round < 100000; round++) {
		int moved = 0;

		if (off < size && !hung_up) {
			n = send(sv[1], data + off, size - off, MSG_NOSIGNAL);
			if (n > 0) {
				off += (size_t)n;
				moved = 1;
			} else if (n < 0 && errno != EAGAIN) {
				off = size;      /* the server closed its side */
			}
		}
		MHD_run(d.mhd);
		while ((n = recv(sv[1], buf, sizeof(buf), 0)) > 0) {
			size_t keep = (size_t)n < RESP_MAX - len ? (size_t)n :
			    RESP_MAX - len;

			memcpy(resp + len, buf, keep);
			len += keep;
			moved = 1;
		}
		if (n == 0 || (n < 0 && errno != EAGAIN))
			break;      /* closed by the server */
		idle = moved ? 0 : idle + 1;
		if (idle >= 3 && !hung_up) {
			shutdown(sv[1], SHUT_WR);
			hung_up = 1;
			idle = 0;
		} else if (idle >= 3) {
			break;
		}
	}
	close(sv[1]);
	for (int round = 0; round < 1000 && connections() > 0; round++)
		MHD_run(d.mhd);
	if (connections() > 0)
		die("a connection did not end after the client hung up");
	if (echo)
		fprintf(stderr, "---- %zu bytes in, %zu out:\n%.*s\n", size, len,
		    (int)(len < 3000 ? len : 3000), resp);
	check_answer(data, size, resp, len);
	if (d.writes != writes)
		reset_store();
	return 0;
}
