/* test_mail.c - unit tests of lib/mail.c (addresses, lists, composition,
 * Message-IDs, SMTP argument checks) and, when CERTMON_TEST_SMTP_PORT is
 * set, a real delivery through cm_mail_send (driven by
 * tests/system/test_smtp_lib.py). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "certmon/mail.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------- helpers */

static char *
repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* Every line ends with CRLF; no bare CR or LF; only 7-bit bytes; returns
 * the longest line length (without CRLF). */
static size_t
check_crlf_7bit(const char *s, size_t len)
{
	size_t longest = 0, line = 0;

	assert_true(len >= 2);
	assert_memory_equal(s + len - 2, "\r\n", 2);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		assert_true(c < 0x80);
		assert_true(c != '\0');
		if (c == '\r') {
			assert_true(i + 1 < len && s[i + 1] == '\n');
			if (line > longest)
				longest = line;
			line = 0;
			i++;
			continue;
		}
		assert_true(c != '\n');
		line++;
	}
	return longest;
}

/* Returns a copy of header `name` of msg (unfolded, without "Name:"), or
 * NULL; *count gets how many header lines start with "name:". */
static char *
header(const char *msg, const char *name, int *count)
{
	const char *end = strstr(msg, "\r\n\r\n");
	size_t nl = strlen(name);
	char *val = NULL;
	int c = 0;

	assert_non_null(end);
	for (const char *p = msg; p < end;) {
		const char *eol = strstr(p, "\r\n");

		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			size_t cap = (size_t)(end - p) + 1, o = 0;
			const char *q = p + nl + 1;

			c++;
			free(val);
			val = malloc(cap);
			assert_non_null(val);
			/* unfold: drop CRLF before continuation lines */
			for (;;) {
				memcpy(val + o, q, (size_t)(eol - q));
				o += (size_t)(eol - q);
				if (eol + 2 < end && (eol[2] == ' ' || eol[2] == '\t')) {
					q = eol + 2;
					eol = strstr(q, "\r\n");
					continue;
				}
				break;
			}
			val[o] = '\0';
		}
		p = eol + 2;
	}
	if (count != NULL)
		*count = c;
	return val;
}

/* Decodes a Subject value made of " =?UTF-8?B?...?=" words (and checks
 * each word is <= 75 characters and holds whole UTF-8 characters). */
static char *
decode_words(const char *v)
{
	char *out = calloc(1, strlen(v) + 1);
	size_t o = 0;

	assert_non_null(out);
	while (*v == ' ')
		v++;
	while (*v != '\0') {
		const char *end;
		unsigned char dec[128];
		int n;
		size_t wl;

		assert_memory_equal(v, "=?UTF-8?B?", 10);
		end = strstr(v + 10, "?=");
		assert_non_null(end);
		wl = (size_t)(end + 2 - v);
		assert_true(wl <= 75);
		n = EVP_DecodeBlock(dec, (const unsigned char *)v + 10,
		    (int)(end - v - 10));
		assert_true(n >= 0);
		/* EVP_DecodeBlock counts padding bytes: drop them */
		if (end[-1] == '=')
			n--;
		if (end[-2] == '=')
			n--;
		/* a word starts with a lead byte and ends on a whole char */
		assert_true(((unsigned char)dec[0] & 0xc0) != 0x80);
		memcpy(out + o, dec, (size_t)n);
		o += (size_t)n;
		v = end + 2;
		while (*v == ' ')
			v++;
	}
	out[o] = '\0';
	return out;
}

/* Decodes a quoted-printable body into newly allocated text with LF. */
static char *
qp_decode(const char *s)
{
	char *out = malloc(strlen(s) + 1);
	size_t o = 0;

	assert_non_null(out);
	while (*s != '\0') {
		if (s[0] == '=' && s[1] == '\r' && s[2] == '\n') {
			s += 3;
		} else if (s[0] == '=') {
			unsigned int v;

			assert_int_equal(sscanf(s + 1, "%2X", &v), 1);
			out[o++] = (char)v;
			s += 3;
		} else if (s[0] == '\r' && s[1] == '\n') {
			out[o++] = '\n';
			s += 2;
		} else {
			out[o++] = *s++;
		}
	}
	out[o] = '\0';
	return out;
}

static const char *
body_of(const char *msg)
{
	const char *p = strstr(msg, "\r\n\r\n");

	assert_non_null(p);
	return p + 4;
}

/* -------------------------------------------------------- addresses */

static void
test_address_valid(void **state)
{
	char local64[80], local65[80], total254[300], total255[300];
	char label63[80], label64[80];
	static const struct {
		const char *addr;
		int ok;
	} cases[] = {
		{"a@example.com", 1},
		{"first.last@example.com", 1},
		{"x+tag@sub.example.co.uk", 1},
		{"o'brien@example.com", 1},
		{"A.B@EXAMPLE.COM", 1},
		{"a!#$%&'*+-/=?^_`{|}~@example.org", 1},
		{"user@localhost", 1},
		{"ops@a-b.example", 1},
		{"u@[192.0.2.1]", 1},
		{"u@123.example", 1},
		{"", 0},
		{"a b@example.com", 0},
		{" a@example.com", 0},
		{"a@example.com ", 0},
		{"a,b@example.com", 0},
		{"a@example.com,b@example.com", 0},
		{"a\r@example.com", 0},
		{"a\n@example.com", 0},
		{"a@example.com\r\nRCPT TO:<evil@x.org>", 0},
		{"a\t@example.com", 0},
		{"a\x01@example.com", 0},
		{"a\x7f@example.com", 0},
		{"<a@example.com>", 0},
		{"Name <a@example.com>", 0},
		{"noatsign", 0},
		{"noatsign.example.com", 0},
		{"a@@example.com", 0},
		{"a@b@example.com", 0},
		{"@example.com", 0},
		{"a@", 0},
		{"a@.example.com", 0},
		{"a@example..com", 0},
		{"a@example.com.", 0},
		{"a@-example.com", 0},
		{"a@example-.com", 0},
		{"a@exa_mple.com", 0},
		{".a@example.com", 0},
		{"a.@example.com", 0},
		{"a..b@example.com", 0},
		{"\"a b\"@example.com", 0},
		{"\"a\"@example.com", 0},
		{"a(comment)@example.com", 0},
		{"a\\b@example.com", 0},
		{"j\xc3\xa9r\xc3\xb4me@example.com", 0},       /* jérôme */
		{"a@ex\xc3\xa4mple.com", 0},                    /* exämple */
		{"a@\xff.com", 0},
		{"a@[1.2.3]", 0},
		{"a@[1.2.3.256]", 0},
		{"a@[1.2.3.4", 0},
		{"a@[IPv6:::1]", 0},
		{"a@[]", 0},
	};

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		if (cm_mail_address_valid(cases[i].addr) != cases[i].ok)
			fail_msg("address %zu \"%s\": expected %s", i,
			    cases[i].addr, cases[i].ok ? "valid" : "invalid");
	}
	assert_int_equal(cm_mail_address_valid(NULL), 0);

	/* length caps: local part 64, label 63, total 254 */
	memset(local64, 'l', 64);
	strcpy(local64 + 64, "@example.com");
	assert_int_equal(cm_mail_address_valid(local64), 1);
	memset(local65, 'l', 65);
	strcpy(local65 + 65, "@example.com");
	assert_int_equal(cm_mail_address_valid(local65), 0);
	memset(label63, 'd', 63);
	strcpy(label63 + 63, ".com");
	memmove(label63 + 2, label63, strlen(label63) + 1);
	memcpy(label63, "a@", 2);
	assert_int_equal(cm_mail_address_valid(label63), 1);
	memset(label64, 'd', 64);
	strcpy(label64 + 64, ".com");
	memmove(label64 + 2, label64, strlen(label64) + 1);
	memcpy(label64, "a@", 2);
	assert_int_equal(cm_mail_address_valid(label64), 0);
	/* 64 + "@" + 3 labels of 59 + dots ... built to exactly 254 */
	{
		char *p = total254;

		memset(p, 'l', 64);
		p += 64;
		*p++ = '@';
		for (int i = 0; i < 3; i++) {
			memset(p, 'd', 60);
			p += 60;
			*p++ = '.';
		}
		/* 64 + 1 + 183 = 248; 6 more: "abcdef" */
		memcpy(p, "abcdef", 7);
		assert_int_equal(strlen(total254), 254);
		assert_int_equal(cm_mail_address_valid(total254), 1);
		memcpy(total255, total254, 255);
		memcpy(total255 + 254, "g", 2);
		assert_int_equal(strlen(total255), 255);
		assert_int_equal(cm_mail_address_valid(total255), 0);
	}
}

/* ------------------------------------------------------------- lists */

static void
test_parse_list(void **state)
{
	static const struct {
		const char *text;
		enum cm_status rc;
		const char *want;       /* "|"-joined list, or error substring */
		const char *want2;      /* second error substring, or NULL */
	} cases[] = {
		{"", CM_OK, "", NULL},
		{"   ", CM_OK, "", NULL},
		{";", CM_OK, "", NULL},
		{" ; ;\t; ", CM_OK, "", NULL},
		{"a@example.com", CM_OK, "a@example.com", NULL},
		{" a@example.com ; b@example.org ;", CM_OK,
		    "a@example.com|b@example.org", NULL},
		{"a@example.com;;; ;\t;b@example.org", CM_OK,
		    "a@example.com|b@example.org", NULL},
		{"\r\n a@example.com\r\n;\r\nb@example.org\r\n", CM_OK,
		    "a@example.com|b@example.org", NULL},
		/* duplicates: domain case-insensitive, local part not */
		{"a@example.com; a@EXAMPLE.com; b@example.org; a@example.com",
		    CM_OK, "a@example.com|b@example.org", NULL},
		{"a@example.com; A@example.com", CM_OK,
		    "a@example.com|A@example.com", NULL},
		{"a@example.com, b@example.org", CM_ERR_INVALID,
		    "\"a@example.com, b@example.org\"", "comma"},
		{"a@example.com; bad address@example.org", CM_ERR_INVALID,
		    "\"bad address@example.org\"", "space"},
		{"ok@example.com; nobody", CM_ERR_INVALID, "\"nobody\"", "no @"},
		{"ok@example.com; Ops <ops@example.com>", CM_ERR_INVALID,
		    "\"Ops <ops@example.com>\"", "angle bracket"},
		{"a@example.com;b@example.org\r\nBcc: z@example.net",
		    CM_ERR_INVALID, "\"b@example.org\\r\\nBcc: z@example.net\"",
		    NULL},
		{"a@example.com; \x01" "bad@example.com", CM_ERR_INVALID,
		    "\"\\x01bad@example.com\"", "control"},
		{"j\xc3\xa9r\xc3\xb4me@example.com", CM_ERR_INVALID,
		    "\"j\\xc3\\xa9r\\xc3\\xb4me@example.com\"", "non-ASCII"},
		{"\"quoted\"@example.com", CM_ERR_INVALID,
		    "\"\\\"quoted\\\"@example.com\"", "quoted"},
	};

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		struct cm_strlist l = {NULL, 0};
		struct cm_err err;
		enum cm_status rc;

		cm_err_clear(&err);
		rc = cm_mail_parse_list(cases[i].text, &l, &err);
		if (rc != cases[i].rc)
			fail_msg("case %zu: rc %d, want %d (%s)", i, rc,
			    cases[i].rc, err.msg);
		if (rc == CM_OK) {
			char joined[512] = "";

			for (size_t k = 0; k < l.n; k++) {
				if (k > 0)
					strcat(joined, "|");
				strcat(joined, l.v[k]);
			}
			if (strcmp(joined, cases[i].want) != 0)
				fail_msg("case %zu: got \"%s\", want \"%s\"",
				    i, joined, cases[i].want);
		} else {
			assert_null(l.v);
			assert_int_equal(l.n, 0);
			assert_null(strchr(err.msg, '\r'));
			assert_null(strchr(err.msg, '\n'));
			for (const char *p = err.msg; *p; p++)
				assert_true(*p >= 0x20 && *p < 0x7f);
			if (strstr(err.msg, cases[i].want) == NULL ||
			    (cases[i].want2 != NULL &&
			    strstr(err.msg, cases[i].want2) == NULL))
				fail_msg("case %zu: message \"%s\" lacks \"%s\"",
				    i, err.msg, cases[i].want);
		}
		cm_mail_list_free(&l);
		assert_null(l.v);
	}
}

static void
test_parse_list_caps(void **state)
{
	char *text = calloc(1, 8192);
	struct cm_strlist l = {NULL, 0};
	struct cm_err err;
	char *longtext;

	(void)state;
	assert_non_null(text);
	/* 100 distinct addresses: fine */
	for (int i = 0; i < 100; i++)
		sprintf(text + strlen(text), "u%d@x.org;", i);
	assert_int_equal(cm_mail_parse_list(text, &l, &err), CM_OK);
	assert_int_equal(l.n, 100);
	assert_string_equal(l.v[99], "u99@x.org");
	cm_mail_list_free(&l);
	/* duplicates do not count against the cap */
	for (int i = 0; i < 50; i++)
		sprintf(text + strlen(text), "u%d@X.ORG;", i);
	assert_int_equal(cm_mail_parse_list(text, &l, &err), CM_OK);
	assert_int_equal(l.n, 100);
	cm_mail_list_free(&l);
	/* the 101st distinct one is too many */
	strcat(text, "u100@x.org");
	assert_int_equal(cm_mail_parse_list(text, &l, &err), CM_ERR_TOOBIG);
	assert_non_null(strstr(err.msg, "100"));
	assert_null(l.v);
	/* more than 4096 bytes of text */
	longtext = repeat(' ', CM_MAIL_LIST_TEXT_MAX + 1);
	memcpy(longtext, "a@x.org", 7);
	assert_int_equal(cm_mail_parse_list(longtext, &l, &err),
	    CM_ERR_TOOBIG);
	longtext[CM_MAIL_LIST_TEXT_MAX] = '\0';
	assert_int_equal(cm_mail_parse_list(longtext, &l, &err), CM_OK);
	assert_int_equal(l.n, 1);
	cm_mail_list_free(&l);
	/* a too long address is named, cut, and still one line */
	memset(longtext, 'x', 4000);
	longtext[4000] = '\0';
	assert_int_equal(cm_mail_parse_list(longtext, &l, &err),
	    CM_ERR_INVALID);
	assert_non_null(strstr(err.msg, "\"xxxx"));
	assert_non_null(strstr(err.msg, "...\""));
	assert_true(strlen(err.msg) < 200);
	assert_int_equal(cm_mail_parse_list(NULL, &l, &err), CM_ERR_INVALID);
	cm_mail_list_free(NULL);
	free(longtext);
	free(text);
}

/* ------------------------------------------------------- composition */

static char *to_v[] = {"ops@example.com", "pki@example.net"};
static const struct cm_strlist to2 = {to_v, 2};

static struct cm_mail_message
base_message(void)
{
	struct cm_mail_message m = {
		.from = "certmon@example.org",
		.to = &to2,
		.subject = "certmon: 2 certificates expiring",
		.body = "Hello\n",
		.message_id = "<0123abcd.certmon@example.org>",
		.date = 1801396800,     /* 2027-01-31T12:00:00Z */
	};
	return m;
}

static char *
compose_ok(const struct cm_mail_message *m, size_t *len)
{
	struct cm_err err;
	char *out = NULL;
	enum cm_status rc = cm_mail_compose(m, &out, len, &err);

	if (rc != CM_OK)
		fail_msg("compose: %s", err.msg);
	assert_non_null(out);
	assert_int_equal(strlen(out), *len);
	return out;
}

static void
test_compose_headers(void **state)
{
	struct cm_mail_message m = base_message();
	static const char *const order[] = {
		"Date: Sun, 31 Jan 2027 12:00:00 +0000\r\n",
		"Message-ID: <0123abcd.certmon@example.org>\r\n",
		"From: certmon@example.org\r\n",
		"To: ops@example.com, pki@example.net\r\n",
		"Subject: certmon: 2 certificates expiring\r\n",
		"MIME-Version: 1.0\r\n",
		"Content-Type: text/plain; charset=utf-8\r\n",
		"Content-Transfer-Encoding: quoted-printable\r\n",
		"Auto-Submitted: auto-generated\r\n",
		"\r\nHello\r\n",
	};
	const char *p;
	size_t len;
	char *out;

	(void)state;
	out = compose_ok(&m, &len);
	check_crlf_7bit(out, len);
	/* the message starts with Date and has the headers in order */
	assert_memory_equal(out, order[0], strlen(order[0]));
	p = out;
	for (size_t i = 0; i < N(order); i++) {
		const char *q = strstr(p, order[i]);

		if (q == NULL)
			fail_msg("missing or out of order: %s\n%s", order[i], out);
		p = q + strlen(order[i]);
	}
	assert_string_equal(p, "");
	free(out);
}

static void
test_compose_date(void **state)
{
	static const struct {
		cm_time t;
		const char *want;
	} cases[] = {
		{0, "Date: Thu, 01 Jan 1970 00:00:00 +0000\r\n"},
		{951868799, "Date: Tue, 29 Feb 2000 23:59:59 +0000\r\n"},
		{1735603201, "Date: Tue, 31 Dec 2024 00:00:01 +0000\r\n"},
		{1801396800, "Date: Sun, 31 Jan 2027 12:00:00 +0000\r\n"},
		{2147483648, "Date: Tue, 19 Jan 2038 03:14:08 +0000\r\n"},
		{INT64_C(253402300799), "Date: Fri, 31 Dec 9999 23:59:59 +0000\r\n"},
	};
	struct cm_mail_message m = base_message();
	struct cm_err err;
	char *out = NULL;
	size_t len;

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		m.date = cases[i].t;
		out = compose_ok(&m, &len);
		if (strncmp(out, cases[i].want, strlen(cases[i].want)) != 0)
			fail_msg("date %lld: got %.40s", (long long)cases[i].t,
			    out);
		free(out);
	}
	m.date = -1;
	assert_int_equal(cm_mail_compose(&m, &out, &len, &err),
	    CM_ERR_INVALID);
	assert_null(out);
	m.date = INT64_C(253402300800);
	assert_int_equal(cm_mail_compose(&m, &out, &len, &err),
	    CM_ERR_INVALID);
	assert_non_null(strstr(err.msg, "date"));
}

static void
test_compose_subject(void **state)
{
	static const struct {
		const char *subject;
		int encoded;
		const char *decoded;    /* what a reader sees */
	} cases[] = {
		{"plain ASCII subject", 0, "plain ASCII subject"},
		{"", 0, ""},
		/* header injection: never a raw CR/LF, never a Bcc header */
		{"Expiry\r\nBcc: evil@x.org", 1, "Expiry  Bcc: evil@x.org"},
		{"Expiry\nBcc: evil@x.org\n\nbody", 1,
		    "Expiry Bcc: evil@x.org  body"},
		{"Expiry\rBcc: evil@x.org", 1, "Expiry Bcc: evil@x.org"},
		{"tab\there", 1, "tab here"},
		{"esc\x1b[31m red", 1, "esc [31m red"},
		{"c1 \xc2\x85 nel", 1, "c1   nel"},
		{"Zertifikat l\xc3\xa4uft ab \xe2\x80\x93 \xe6\x9d\xb1\xe4\xba\xac",
		    1, "Zertifikat l\xc3\xa4uft ab \xe2\x80\x93 \xe6\x9d\xb1\xe4\xba\xac"},
		{"bad utf8 \xff\xc3(", 1,
		    "bad utf8 \xef\xbf\xbd\xef\xbf\xbd("},
		{"looks =?UTF-8?B?ZXZpbA==?= encoded", 1,
		    "looks =?UTF-8?B?ZXZpbA==?= encoded"},
	};
	struct cm_mail_message m = base_message();

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		char *out, *val, *dec;
		size_t len, longest;
		int count;

		m.subject = cases[i].subject;
		out = compose_ok(&m, &len);
		longest = check_crlf_7bit(out, len);
		assert_true(longest <= 78);
		val = header(out, "Subject", &count);
		assert_int_equal(count, 1);
		assert_non_null(val);
		{
			int bcc;
			char *b = header(out, "Bcc", &bcc);

			assert_int_equal(bcc, 0);
			free(b);
		}
		if (cases[i].encoded) {
			assert_non_null(strstr(val, "=?UTF-8?B?"));
			dec = decode_words(val);
		} else {
			assert_null(strstr(val, "=?"));
			dec = strdup(val[0] == ' ' ? val + 1 : val);
		}
		if (strcmp(dec, cases[i].decoded) != 0)
			fail_msg("subject %zu: got \"%s\", want \"%s\"", i, dec,
			    cases[i].decoded);
		free(dec);
		free(val);
		free(out);
	}
}

static void
test_compose_long_subjects(void **state)
{
	struct cm_mail_message m = base_message();
	struct cm_err err;
	char ascii[CM_MAIL_SUBJECT_MAX + 2], utf[CM_MAIL_SUBJECT_MAX + 2];
	char *out, *val, *dec, *big;
	size_t len, o = 0;

	(void)state;
	/* long ASCII: folded at spaces, unfolds to the original */
	ascii[0] = '\0';
	while (strlen(ascii) < 600)
		strcat(ascii, "certificate tomcat/web01.example.com expiring ");
	m.subject = ascii;
	out = compose_ok(&m, &len);
	assert_true(check_crlf_7bit(out, len) <= 78);
	val = header(out, "Subject", NULL);
	assert_string_equal(val + 1, ascii);
	free(val);
	free(out);

	/* long UTF-8: encoded words never split a character */
	while (o + 7 <= CM_MAIL_SUBJECT_MAX) {
		memcpy(utf + o, "\xc3\xa9\xe6\x9d\xb1" "a\xf0\x9f\x94\x92", 10);
		o += 10;
		if (o + 10 > CM_MAIL_SUBJECT_MAX)
			break;
	}
	utf[o] = '\0';
	m.subject = utf;
	out = compose_ok(&m, &len);
	assert_true(check_crlf_7bit(out, len) <= 76);
	val = header(out, "Subject", NULL);
	dec = decode_words(val);
	assert_string_equal(dec, utf);
	free(dec);
	free(val);
	free(out);

	/* above the cap */
	big = repeat('s', CM_MAIL_SUBJECT_MAX + 1);
	m.subject = big;
	out = NULL;
	assert_int_equal(cm_mail_compose(&m, &out, &len, &err), CM_ERR_TOOBIG);
	assert_null(out);
	assert_non_null(strstr(err.msg, "subject"));
	free(big);
}

static void
test_compose_body(void **state)
{
	struct cm_mail_message m = base_message();
	char *longline = repeat('L', 300);
	char body[2048], want[2048];
	const char *b;
	char *out, *dec;
	size_t len;

	(void)state;
	snprintf(body, sizeof(body),
	    "Certificates expiring:\n"
	    ".leading dot line\n"
	    ".\n"
	    "..two dots\n"
	    "tomcat  CN=web01.example.com  Gr\xc3\xbc\xc3\x9f\x65 "
	    "\xe6\x9d\xb1\xe4\xba\xac\r\n"
	    "trailing space \n"
	    "trailing tab\t\n"
	    "a=b =3D literal\n"
	    "From the start\n"
	    "bare cr\rline\n"
	    "%s\n"
	    "ctrl\x01" "char\n"
	    "\n"
	    "last line without newline", longline);
	snprintf(want, sizeof(want),
	    "Certificates expiring:\n"
	    ".leading dot line\n"
	    ".\n"
	    "..two dots\n"
	    "tomcat  CN=web01.example.com  Gr\xc3\xbc\xc3\x9f\x65 "
	    "\xe6\x9d\xb1\xe4\xba\xac\n"
	    "trailing space \n"
	    "trailing tab\t\n"
	    "a=b =3D literal\n"
	    "From the start\n"
	    "bare cr\nline\n"
	    "%s\n"
	    "ctrl\x01" "char\n"
	    "\n"
	    "last line without newline\n", longline);
	m.body = body;
	out = compose_ok(&m, &len);
	assert_true(check_crlf_7bit(out, len) <= 78);
	b = body_of(out);
	/* quoted-printable lines are at most 76 characters */
	for (const char *p = b; *p;) {
		const char *e = strstr(p, "\r\n");

		assert_non_null(e);
		assert_true(e - p <= 76);
		/* no trailing white space on a line */
		if (e > p)
			assert_true(e[-1] != ' ' && e[-1] != '\t');
		p = e + 2;
	}
	/* dots are NOT stuffed here: libcurl does that when sending */
	assert_non_null(strstr(b, "\r\n.leading dot line\r\n"));
	assert_non_null(strstr(b, "\r\n.\r\n"));
	assert_non_null(strstr(b, "\r\n..two dots\r\n"));
	assert_null(strstr(b, "\r\n...two"));
	dec = qp_decode(b);
	assert_string_equal(dec, want);
	free(dec);
	free(out);

	/* invalid UTF-8 becomes U+FFFD; empty and NULL bodies are fine */
	m.body = "bad \xc0\xaf end\n";
	out = compose_ok(&m, &len);
	dec = qp_decode(body_of(out));
	assert_string_equal(dec, "bad \xef\xbf\xbd\xef\xbf\xbd end\n");
	free(dec);
	free(out);
	m.body = "";
	out = compose_ok(&m, &len);
	assert_string_equal(body_of(out), "\r\n");
	free(out);
	m.body = NULL;
	out = compose_ok(&m, &len);
	check_crlf_7bit(out, len);
	free(out);
	free(longline);
}

static void
test_compose_to_folding(void **state)
{
	struct cm_mail_message m = base_message();
	struct cm_strlist many = {NULL, 0};
	struct cm_err err;
	char text[4096] = "";
	char *out, *val, *want;
	size_t len;

	(void)state;
	for (int i = 0; i < 40; i++)
		sprintf(text + strlen(text), "recipient-number-%d@example.com;", i);
	assert_int_equal(cm_mail_parse_list(text, &many, &err), CM_OK);
	m.to = &many;
	out = compose_ok(&m, &len);
	assert_true(check_crlf_7bit(out, len) <= 78);
	val = header(out, "To", NULL);
	want = calloc(1, 4096);
	assert_non_null(want);
	for (size_t i = 0; i < many.n; i++) {
		strcat(want, i ? ", " : " ");
		strcat(want, many.v[i]);
	}
	/* folding only added line breaks before the white space */
	assert_string_equal(val, want);
	free(want);
	free(val);
	free(out);
	cm_mail_list_free(&many);
}

static void
test_compose_invalid(void **state)
{
	char *bad_to_v[] = {"ok@example.com", "evil@example.com\r\nBcc: x@y.z"};
	struct cm_strlist bad_to = {bad_to_v, 2}, empty = {NULL, 0};
	char *big = repeat('b', CM_MAIL_BODY_MAX + 1);
	static const char *const bad_ids[] = {
		"0123abcd.certmon@example.org",
		"<0123abcd.certmon@example.org",
		"<no-at-sign>",
		"<a@b@c>",
		"<a b@example.org>",
		"<x@example.org>\r\nBcc: evil@x.org",
		"<@example.org>",
		"",
	};
	static const struct {
		int field;
		enum cm_status rc;
		const char *in_msg;
	} cases[] = {
		{0, CM_ERR_INVALID, "sender"},
		{1, CM_ERR_INVALID, "sender"},
		{2, CM_ERR_INVALID, "no recipient"},
		{3, CM_ERR_INVALID, "no recipient"},
		{4, CM_ERR_INVALID, "\"evil@example.com\\r\\nBcc: x@y.z\""},
		{5, CM_ERR_INVALID, "Message-ID"},
		{6, CM_ERR_TOOBIG, "body"},
	};
	struct cm_err err;
	char *out;
	size_t len;

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		struct cm_mail_message m = base_message();

		switch (cases[i].field) {
		case 0: m.from = "not an address"; break;
		case 1: m.from = NULL; break;
		case 2: m.to = NULL; break;
		case 3: m.to = &empty; break;
		case 4: m.to = &bad_to; break;
		case 5: m.message_id = NULL; break;
		case 6: m.body = big; break;
		}
		out = (char *)1;
		len = 99;
		if (cm_mail_compose(&m, &out, &len, &err) != cases[i].rc)
			fail_msg("invalid case %zu: want %d, got %s", i,
			    cases[i].rc, err.msg);
		assert_null(out);
		assert_int_equal(len, 0);
		if (strstr(err.msg, cases[i].in_msg) == NULL)
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err.msg,
			    cases[i].in_msg);
		assert_null(strchr(err.msg, '\n'));
	}
	for (size_t i = 0; i < N(bad_ids); i++) {
		struct cm_mail_message m = base_message();

		m.message_id = bad_ids[i];
		if (cm_mail_compose(&m, &out, &len, &err) != CM_ERR_INVALID)
			fail_msg("Message-ID %zu accepted", i);
		assert_null(strchr(err.msg, '\n'));
		assert_null(strchr(err.msg, '\r'));
	}
	assert_int_equal(cm_mail_compose(NULL, &out, &len, &err),
	    CM_ERR_INVALID);
	free(big);
}

/* ------------------------------------------------------- Message-ID */

static void
test_message_id(void **state)
{
	static const char *const bad[] = {
		"", "a b.com", "x..y", "-x.com", "x.com\r\nBcc: y",
		"ex\xc3\xa4mple.com", "[192.0.2.1]",
	};
	char *a, *b, *c;
	size_t n;

	(void)state;
	a = cm_mail_new_message_id("example.org");
	b = cm_mail_new_message_id("example.org");
	assert_non_null(a);
	assert_non_null(b);
	n = strlen(a);
	assert_int_equal(n, 1 + 32 + strlen(".certmon@example.org") + 1);
	assert_int_equal(a[0], '<');
	for (size_t i = 1; i <= 32; i++)
		assert_non_null(strchr("0123456789abcdef", a[i]));
	assert_string_equal(a + 33, ".certmon@example.org>");
	assert_string_not_equal(a, b);
	/* it is accepted by compose */
	{
		struct cm_mail_message m = base_message();
		size_t len;
		char *out;

		m.message_id = a;
		out = compose_ok(&m, &len);
		assert_non_null(strstr(out, a));
		free(out);
	}
	c = cm_mail_new_message_id(NULL);
	assert_non_null(c);
	assert_string_equal(c + 33, ".certmon@localhost>");
	for (size_t i = 0; i < N(bad); i++)
		assert_null(cm_mail_new_message_id(bad[i]));
	free(a);
	free(b);
	free(c);
}

/* ------------------------------------------------- SMTP, no server */

static void
test_send_invalid(void **state)
{
	char *bad_rcpt_v[] = {"ok@example.com", "x@example.com>\r\nDATA"};
	struct cm_strlist bad_rcpt = {bad_rcpt_v, 2}, none = {NULL, 0};
	static const struct {
		const char *host;
		int port;
		int tls;
		const char *user;
		const char *from;
		int which_to;   /* 0 good, 1 bad, 2 empty */
		const char *in_msg;
	} cases[] = {
		{"smtp.example.com/x?y", 25, 0, NULL, "a@example.org", 0, "host"},
		{"a b", 25, 0, NULL, "a@example.org", 0, "host"},
		{"", 25, 0, NULL, "a@example.org", 0, "host"},
		{NULL, 25, 0, NULL, "a@example.org", 0, "host"},
		{"user@host", 25, 0, NULL, "a@example.org", 0, "host"},
		{"[::1", 25, 0, NULL, "a@example.org", 0, "IPv6"},
		{"127.0.0.1", 70000, 0, NULL, "a@example.org", 0, "port"},
		{"127.0.0.1", -1, 0, NULL, "a@example.org", 0, "port"},
		{"127.0.0.1", 25, 7, NULL, "a@example.org", 0, "TLS"},
		{"127.0.0.1", 25, 0, NULL, "bad from", 0, "sender"},
		{"127.0.0.1", 25, 0, NULL, "a@example.org", 1, "\\r\\nDATA"},
		{"127.0.0.1", 25, 0, NULL, "a@example.org", 2, "recipients"},
		{"127.0.0.1", 25, 0, "user", "a@example.org", 0, "without TLS"},
	};
	char *good_v[] = {"ok@example.com"};
	struct cm_strlist good = {good_v, 1};
	const char *msg = "Subject: x\r\n\r\nbody\r\n";

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		struct cm_smtp_config cfg = {
			.host = cases[i].host,
			.port = cases[i].port,
			.tls = (enum cm_smtp_tls)cases[i].tls,
			.user = cases[i].user,
			.password = "secret",
			.from = cases[i].from,
			.timeout_ms = 2000,
		};
		const struct cm_strlist *to = cases[i].which_to == 0 ? &good :
		    cases[i].which_to == 1 ? &bad_rcpt : &none;
		char reply[CM_MAIL_REPLY_MAX] = "junk";
		struct cm_err err;
		int perm = -1;
		enum cm_status rc;

		rc = cm_mail_send(&cfg, to, msg, strlen(msg), reply,
		    sizeof(reply), &perm, &err);
		if (rc != CM_ERR_INVALID)
			fail_msg("send case %zu: rc %d (%s)", i, rc, err.msg);
		assert_int_equal(perm, 1);
		assert_string_equal(reply, "");
		if (strstr(err.msg, cases[i].in_msg) == NULL)
			fail_msg("send case %zu: \"%s\" lacks \"%s\"", i,
			    err.msg, cases[i].in_msg);
		assert_null(strchr(err.msg, '\n'));
	}
	{
		struct cm_smtp_config cfg = {.host = "127.0.0.1",
		    .from = "a@example.org"};
		struct cm_err err;
		int perm = -1;

		assert_int_equal(cm_mail_send(&cfg, &good, "", 0, NULL, 0,
		    &perm, &err), CM_ERR_INVALID);
		assert_int_equal(perm, 1);
		assert_int_equal(cm_mail_send(&cfg, &good, NULL, 10, NULL, 0,
		    NULL, NULL), CM_ERR_INVALID);
	}
}

/* A port where nothing listens: a bound socket without listen() answers
 * every SYN with a reset, and nobody else can take the port meanwhile. */
static void
test_send_connection_refused(void **state)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char *to_one[] = {"ops@example.com"};
	struct cm_strlist to = {to_one, 1};
	struct cm_smtp_config cfg = {
		.host = "127.0.0.1",
		.tls = CM_SMTP_TLS_NONE,
		.from = "certmon@example.org",
		.timeout_ms = 5000,
	};
	const char *msg = "Subject: x\r\n\r\nbody\r\n";
	char reply[64] = "junk";
	struct cm_err err;
	int perm = -1;

	(void)state;
	assert_true(fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	cfg.port = ntohs(sa.sin_port);
	assert_int_equal(cm_mail_send(&cfg, &to, msg, strlen(msg), reply,
	    sizeof(reply), &perm, &err), CM_ERR_IO);
	assert_int_equal(perm, 0);
	assert_string_equal(reply, "");
	assert_non_null(strstr(err.msg, "smtp://127.0.0.1:"));
	assert_non_null(strstr(err.msg, "temporary"));
	/* STARTTLS and implicit TLS fail the same way, never in plain */
	cfg.tls = CM_SMTP_TLS_IMPLICIT;
	assert_int_equal(cm_mail_send(&cfg, &to, msg, strlen(msg), NULL, 0,
	    &perm, &err), CM_ERR_IO);
	assert_int_equal(perm, 0);
	assert_non_null(strstr(err.msg, "smtps://127.0.0.1:"));
	close(fd);
}

/* ------------------------------------------ SMTP against a real server */

/* The message test_smtp_lib.py expects (keep in sync). */
#define SMTP_FROM "certmon@example.org"
#define SMTP_TO "ops@example.com; pki-team@example.net"
#define SMTP_SUBJECT \
	"Zertifikat l\xc3\xa4uft ab: tomcat\r\nBcc: evil@example.org"
#define SMTP_BODY \
	"Certificates expiring within 30 days:\n" \
	"\n" \
	"tomcat  CN=web01.example.com  expires 2027-02-01T00:00:00Z " \
	"(\xe6\x9d\xb1\xe4\xba\xac)\n" \
	".leading dot\n" \
	".\n" \
	"..two dots\n" \
	"end\n"

static void
test_smtp_live(void **state)
{
	const char *port = getenv("CERTMON_TEST_SMTP_PORT");
	const char *tls = getenv("CERTMON_TEST_SMTP_TLS");
	const char *expect = getenv("CERTMON_TEST_SMTP_EXPECT");
	const char *tmo = getenv("CERTMON_TEST_SMTP_TIMEOUT_MS");
	const char *host = getenv("CERTMON_TEST_SMTP_HOST");
	struct cm_smtp_config cfg = {0};
	struct cm_strlist to = {NULL, 0};
	struct cm_mail_message m = {0};
	char reply[CM_MAIL_REPLY_MAX];
	char *msg = NULL, *id = NULL;
	struct cm_err err;
	enum cm_status rc;
	size_t len;
	int perm = -1;

	(void)state;
	if (port == NULL || port[0] == '\0') {
		print_message("test_smtp_live skipped: set CERTMON_TEST_SMTP_PORT "
		    "(see tests/system/test_smtp_lib.py)\n");
		skip();
		return;
	}
	if (expect == NULL || expect[0] == '\0')
		expect = "ok";
	cfg.host = host != NULL && host[0] != '\0' ? host : "127.0.0.1";
	cfg.port = atoi(port);
	cfg.tls = CM_SMTP_TLS_NONE;
	if (tls != NULL && strcmp(tls, "starttls") == 0)
		cfg.tls = CM_SMTP_TLS_STARTTLS;
	else if (tls != NULL && strcmp(tls, "implicit") == 0)
		cfg.tls = CM_SMTP_TLS_IMPLICIT;
	cfg.ca_file = getenv("CERTMON_TEST_SMTP_CA");
	if (cfg.ca_file != NULL && cfg.ca_file[0] == '\0')
		cfg.ca_file = NULL;
	cfg.user = getenv("CERTMON_TEST_SMTP_USER");
	cfg.password = getenv("CERTMON_TEST_SMTP_PASSWORD");
	cfg.from = SMTP_FROM;
	cfg.timeout_ms = tmo != NULL ? atol(tmo) : 10000;

	assert_int_equal(cm_mail_parse_list(SMTP_TO, &to, &err), CM_OK);
	id = cm_mail_new_message_id("example.org");
	assert_non_null(id);
	m.from = SMTP_FROM;
	m.to = &to;
	m.subject = SMTP_SUBJECT;
	m.body = SMTP_BODY;
	m.message_id = id;
	m.date = 1801396800;
	if (cm_mail_compose(&m, &msg, &len, &err) != CM_OK)
		fail_msg("compose: %s", err.msg);

	cm_err_clear(&err);
	rc = cm_mail_send(&cfg, &to, msg, len, reply, sizeof(reply), &perm,
	    &err);
	/* machine-readable lines for the pytest driver */
	print_message("SMTP-MESSAGE-ID: %s\n", id);
	print_message("SMTP-STATUS: %s\n", cm_status_name(rc));
	print_message("SMTP-PERMANENT: %d\n", perm);
	print_message("SMTP-REPLY: %s\n", reply);
	print_message("SMTP-ERROR: %s\n", err.msg);
	if (strcmp(expect, "ok") == 0) {
		if (rc != CM_OK)
			fail_msg("send: %s", err.msg);
		assert_int_equal(perm, 0);
		assert_memory_equal(reply, "250", 3);
	} else {
		assert_int_equal(rc, CM_ERR_IO);
		assert_int_equal(perm, strcmp(expect, "permanent") == 0);
		assert_null(strchr(err.msg, '\n'));
	}
	free(msg);
	free(id);
	cm_mail_list_free(&to);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_address_valid),
		cmocka_unit_test(test_parse_list),
		cmocka_unit_test(test_parse_list_caps),
		cmocka_unit_test(test_compose_headers),
		cmocka_unit_test(test_compose_date),
		cmocka_unit_test(test_compose_subject),
		cmocka_unit_test(test_compose_long_subjects),
		cmocka_unit_test(test_compose_body),
		cmocka_unit_test(test_compose_to_folding),
		cmocka_unit_test(test_compose_invalid),
		cmocka_unit_test(test_message_id),
		cmocka_unit_test(test_send_invalid),
		cmocka_unit_test(test_send_connection_refused),
		cmocka_unit_test(test_smtp_live),
	};

	/* e.g. CERTMON_TEST_FILTER=test_smtp_live runs just that one */
	if (getenv("CERTMON_TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("CERTMON_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
