/*
 * conn.c - connecting to a TLS peer: HOST:PORT targets, TCP within a
 * deadline, SMTP and LDAP STARTTLS (moved here from cli/tlscheck.c so that
 * `certmon tls-check` and the long-lived connections share it), and the
 * CRL fallback of the TLS hook (tls.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <openssl/x509.h>

#include "certmon/cert.h"
#include "certmon/conn.h"
#include "certmon/crl.h"
#include "certmon/tls.h"

#define PROTO_LINE_MAX 1024
#define PROTO_LINES_MAX 100
#define LDAP_RESPONSE_MAX 4096

static void whyf(char *why, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
whyf(char *why, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, cap, fmt, ap);
	va_end(ap);
}

int
cm_conn_parse_target(const char *s, char *host, int *port)
{
	const char *colon, *hs = s;
	size_t hl;
	char *end;
	long p;

	if (s == NULL)
		return -1;
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (rb == NULL || rb[1] != ':')
			return -1;
		hs = s + 1;
		hl = (size_t)(rb - hs);
		colon = rb + 1;
	} else {
		if ((colon = strrchr(s, ':')) == NULL || strchr(s, ':') != colon)
			return -1;
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl > CM_CONN_HOST_MAX)
		return -1;
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (errno != 0 || end == colon + 1 || *end != '\0' || p < 1 ||
	    p > 65535)
		return -1;
	memcpy(host, hs, hl);
	host[hl] = '\0';
	*port = (int)p;
	return 0;
}

/* Connects to host:port within timeout_ms. Returns the socket, or -1 with
 * why filled; *unresolved tells a name that does not resolve. */
static int
tcp_connect(const char *host, const char *port, long timeout_ms,
    char *why, size_t cap, int *unresolved)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct timeval tv;
	int fd = -1, rc, err = 0;
	socklen_t el = sizeof(err);

	*unresolved = 0;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		*unresolved = 1;
		whyf(why, cap, "%s does not resolve (%s)", host, gai_strerror(rc));
		goto out;
	}
	whyf(why, cap, "no address for %s", host);
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		struct pollfd pf;

		if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK,
		    ai->ai_protocol)) < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 &&
		    errno != EINPROGRESS) {
			whyf(why, cap, "connect to %s port %s: %s", host, port,
			    strerror(errno));
			goto next;
		}
		pf.fd = fd;
		pf.events = POLLOUT;
		pf.revents = 0;
		if (poll(&pf, 1, (int)timeout_ms) <= 0) {
			whyf(why, cap, "connect to %s port %s: no answer within %ld "
			    "ms (timeout)", host, port, timeout_ms);
			goto next;
		}
		err = 0;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 ||
		    err != 0) {
			whyf(why, cap, "connect to %s port %s: %s", host, port,
			    strerror(err != 0 ? err : errno));
			goto next;
		}
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
		tv.tv_sec = timeout_ms / 1000;
		tv.tv_usec = (timeout_ms % 1000) * 1000;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		goto out;
next:
		close(fd);
		fd = -1;
	}
out:
	if (res != NULL)
		freeaddrinfo(res);
	return fd;
}

static int
send_all(int fd, const void *p, size_t n)
{
	const char *b = p;

	while (n > 0) {
		ssize_t w = send(fd, b, n, MSG_NOSIGNAL);

		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads one line (without CR LF) one byte at a time, so that nothing of
 * the TLS handshake that follows is consumed. */
static int
read_line(int fd, char *line, size_t cap)
{
	size_t n = 0;
	char ch;

	for (;;) {
		ssize_t r = recv(fd, &ch, 1, 0);

		if (r <= 0)
			return -1;
		if (ch == '\n')
			break;
		if (n + 1 >= cap)
			return -1;      /* longer than any protocol line */
		line[n++] = ch;
	}
	if (n > 0 && line[n - 1] == '\r')
		n--;
	line[n] = '\0';
	return 0;
}

/* Reads an SMTP reply (one or more lines); returns its code, or -1.
 * *starttls tells whether a line was the STARTTLS extension. */
static int
smtp_reply(int fd, char *last, size_t cap, int *starttls)
{
	char line[PROTO_LINE_MAX] = "";

	for (int i = 0; i < PROTO_LINES_MAX; i++) {
		if (read_line(fd, line, sizeof(line)) != 0 || strlen(line) < 3 ||
		    line[0] < '1' || line[0] > '5')
			return -1;
		if (starttls != NULL && strlen(line) >= 12 &&
		    strncasecmp(line + 4, "STARTTLS", 8) == 0 &&
		    (line[12] == '\0' || line[12] == ' '))
			*starttls = 1;
		snprintf(last, cap, "%s", line);
		for (char *p = last; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
		if (line[3] == ' ' || line[3] == '\0')
			return atoi(line);
		if (line[3] != '-')
			return -1;
	}
	return -1;
}

static int
smtp_starttls(int fd, char *why, size_t cap)
{
	char last[PROTO_LINE_MAX];
	int code, has = 0;

	if ((code = smtp_reply(fd, last, sizeof(last), NULL)) != 220) {
		whyf(why, cap, "SMTP STARTTLS: %s", code < 0 ? "no valid greeting" :
		    last);
		return -1;
	}
	if (send_all(fd, "EHLO certmon.invalid\r\n", 22) != 0 ||
	    (code = smtp_reply(fd, last, sizeof(last), &has)) != 250) {
		whyf(why, cap, "SMTP STARTTLS: EHLO refused: %s", code < 0 ?
		    "no valid reply" : last);
		return -1;
	}
	if (!has) {
		whyf(why, cap, "SMTP STARTTLS: the server does not offer "
		    "STARTTLS");
		return -1;
	}
	if (send_all(fd, "STARTTLS\r\n", 10) != 0 ||
	    (code = smtp_reply(fd, last, sizeof(last), NULL)) != 220) {
		whyf(why, cap, "SMTP STARTTLS: refused: %s", code < 0 ?
		    "no valid reply" : last);
		return -1;
	}
	return 0;
}

/* The LDAP StartTLS extended request (RFC 4511 4.14): messageID 1,
 * requestName 1.3.6.1.4.1.1466.20037. */
static const unsigned char ldap_starttls[] = {
	0x30, 0x1d, 0x02, 0x01, 0x01, 0x77, 0x18, 0x80, 0x16,
	'1', '.', '3', '.', '6', '.', '1', '.', '4', '.', '1', '.',
	'1', '4', '6', '6', '.', '2', '0', '0', '3', '7'
};

static int
recv_all(int fd, unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t r = recv(fd, p, n, 0);

		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Reads a BER length at *p (bounded by end); -1 when malformed. */
static long
ber_len(const unsigned char **p, const unsigned char *end)
{
	long len = 0;
	int n;

	if (*p >= end)
		return -1;
	if (!(**p & 0x80))
		return *(*p)++;
	n = *(*p)++ & 0x7f;
	if (n < 1 || n > 3 || end - *p < n)
		return -1;
	while (n-- > 0)
		len = (len << 8) | *(*p)++;
	return len;
}

static int
ldap_starttls_do(int fd, char *why, size_t cap)
{
	unsigned char hdr[2], lenb[3], body[LDAP_RESPONSE_MAX];
	const unsigned char *p = body, *end;
	long len = 0, l;
	int n, rc;

	if (send_all(fd, ldap_starttls, sizeof(ldap_starttls)) != 0 ||
	    recv_all(fd, hdr, 2) != 0 || hdr[0] != 0x30) {
		whyf(why, cap, "LDAP StartTLS: no LDAP response");
		return -1;
	}
	if (hdr[1] & 0x80) {
		n = hdr[1] & 0x7f;
		if (n < 1 || n > 3 || recv_all(fd, lenb, (size_t)n) != 0) {
			whyf(why, cap, "LDAP StartTLS: malformed response length");
			return -1;
		}
		for (int i = 0; i < n; i++)
			len = (len << 8) | lenb[i];
	} else {
		len = hdr[1];
	}
	if (len < 8 || len > LDAP_RESPONSE_MAX ||
	    recv_all(fd, body, (size_t)len) != 0) {
		whyf(why, cap, "LDAP StartTLS: a response of %ld bytes (at most "
		    "%d)", len, LDAP_RESPONSE_MAX);
		return -1;
	}
	end = body + len;
	/* messageID INTEGER 1 */
	if (*p++ != 0x02 || ber_len(&p, end) != 1 || p >= end ||
	    *p++ != 0x01) {
		whyf(why, cap, "LDAP StartTLS: the response is not to message 1");
		return -1;
	}
	/* ExtendedResponse [APPLICATION 24] { resultCode ENUMERATED, ... } */
	if (p >= end || *p++ != 0x78 || (l = ber_len(&p, end)) < 3 ||
	    l > end - p || *p++ != 0x0a || ber_len(&p, end) != 1 || p >= end) {
		whyf(why, cap, "LDAP StartTLS: not an extended response");
		return -1;
	}
	if ((rc = *p++) != 0) {
		char diag[200] = "";

		/* matchedDN, then diagnosticMessage (both OCTET STRING) */
		if (p < end && *p++ == 0x04 && (l = ber_len(&p, end)) >= 0 &&
		    l <= end - p) {
			p += l;
			if (p < end && *p++ == 0x04 && (l = ber_len(&p, end)) >= 0 &&
			    l <= end - p) {
				int m = l > 150 ? 150 : (int)l;

				for (int i = 0; i < m; i++)
					diag[i] = p[i] >= 0x20 && p[i] < 0x7f ?
					    (char)p[i] : '?';
				diag[m] = '\0';
			}
		}
		whyf(why, cap, "LDAP StartTLS: refused with resultCode %d%s%s%s",
		    rc, diag[0] ? " (" : "", diag, diag[0] ? ")" : "");
		return -1;
	}
	return 0;
}


int
cm_conn_tcp(const char *host, int port, long timeout_ms, char *why,
    size_t cap, int *unresolved)
{
	char ps[8];

	snprintf(ps, sizeof(ps), "%d", port);
	return tcp_connect(host, ps, timeout_ms, why, cap, unresolved);
}

int
cm_conn_starttls_valid(const char *proto)
{
	return proto == NULL || proto[0] == '\0' || strcmp(proto, "smtp") == 0 ||
	    strcmp(proto, "ldap") == 0;
}

int
cm_conn_starttls(int fd, const char *proto, char *why, size_t cap)
{
	if (proto == NULL || proto[0] == '\0')
		return 0;
	if (strcmp(proto, "smtp") == 0)
		return smtp_starttls(fd, why, cap);
	if (strcmp(proto, "ldap") == 0)
		return ldap_starttls_do(fd, why, cap);
	whyf(why, cap, "unknown STARTTLS protocol '%.20s' (smtp or ldap)", proto);
	return -1;
}

/* ---- the CRL fallback of the TLS hook ---------------------------------- */

static enum cm_status
cert_of(X509 *x, struct cm_cert **out)
{
	unsigned char *der = NULL;
	enum cm_status st = CM_ERR_INVALID;
	int len;

	*out = NULL;
	if ((len = i2d_X509(x, &der)) > 0)
		st = cm_cert_from_der(der, (size_t)len, out, NULL);
	OPENSSL_free(der);
	return st;
}

enum cm_rev_status
cm_tls_crl_fallback(X509 *leaf, X509 *issuer, cm_time now, void *arg,
    char *why, size_t why_len)
{
	struct cm_crl_ctx *ctx = arg;
	struct cm_cert *lc = NULL, *ic = NULL;
	struct cm_crl_result res;
	enum cm_rev_status st = CM_REV_ERROR;

	if (cert_of(leaf, &lc) != CM_OK || cert_of(issuer, &ic) != CM_OK) {
		whyf(why, why_len, "the peer's certificates cannot be read");
		goto out;
	}
	if (lc->crl_urls.n == 0) {
		whyf(why, why_len, "the certificate has no CRL distribution "
		    "point");
		goto out;
	}
	st = cm_crl_check(ctx, lc, ic, now, &res);
	whyf(why, why_len, "%s", res.reason);
out:
	cm_cert_free(lc);
	cm_cert_free(ic);
	return st;
}
