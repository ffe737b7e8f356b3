/* mail.c - e-mail addresses, message composition, SMTP through libcurl. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "certmon/cancel.h"
#include "certmon/mail.h"

#define ESC_MAX 96 /* printable characters of an escaped value in a message */

/* ---------------------------------------------------------------- helpers */

/* Writes s (n bytes) into dst as one printable ASCII line inside double
 * quotes' worth of escaping: \" \\ \r \n \t \xNN; cut with "..." when long. */
static void
escape(const char *s, size_t n, char *dst, size_t dlen)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (dlen == 0)
		return;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char tmp[5];
		size_t t = 0;

		if (c == '"' || c == '\\') {
			tmp[t++] = '\\';
			tmp[t++] = (char)c;
		} else if (c == '\r' || c == '\n' || c == '\t') {
			tmp[t++] = '\\';
			tmp[t++] = c == '\r' ? 'r' : c == '\n' ? 'n' : 't';
		} else if (c < 0x20 || c >= 0x7f) {
			tmp[t++] = '\\';
			tmp[t++] = 'x';
			tmp[t++] = hex[c >> 4];
			tmp[t++] = hex[c & 15];
		} else {
			tmp[t++] = (char)c;
		}
		if (o + t > ESC_MAX || o + t + 4 > dlen) {
			if (o + 4 <= dlen) {
				memcpy(dst + o, "...", 3);
				o += 3;
			}
			break;
		}
		memcpy(dst + o, tmp, t);
		o += t;
	}
	dst[o] = '\0';
}

static int
is_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') ||
	    (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static int
is_ldh(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-';
}

/* Returns NULL when d (n bytes) is a dot-atom of atext, else why not. */
static const char *
dot_atom_problem(const char *d, size_t n)
{
	if (n == 0)
		return "is empty";
	if (d[0] == '.' || d[n - 1] == '.')
		return "starts or ends with a dot";
	for (size_t i = 0; i < n; i++) {
		if (d[i] == '.') {
			if (d[i + 1] == '.')
				return "has two dots in a row";
		} else if (!is_atext((unsigned char)d[i])) {
			return "has a character that is not allowed";
		}
	}
	return NULL;
}

/* Returns NULL when d (n bytes) is a host name of LDH labels, else why not. */
static const char *
domain_problem(const char *d, size_t n)
{
	size_t start = 0;

	if (n == 0)
		return "is empty";
	if (n > 253)
		return "is longer than 253 characters";
	for (size_t i = 0; i <= n; i++) {
		if (i < n && d[i] != '.') {
			if (!is_ldh((unsigned char)d[i]))
				return "has a character that is not allowed "
				    "(only letters, digits, '-' and '.')";
			continue;
		}
		if (i == start)
			return "has an empty label";
		if (i - start > 63)
			return "has a label longer than 63 characters";
		if (d[start] == '-' || d[i - 1] == '-')
			return "has a label starting or ending with '-'";
		start = i + 1;
	}
	return NULL;
}

/* Returns 1 when d (n bytes) is a dotted-quad IPv4 address. */
static int
is_ipv4(const char *d, size_t n)
{
	size_t i = 0;

	for (int part = 0; part < 4; part++) {
		int v = 0, digits = 0;

		if (part > 0) {
			if (i >= n || d[i] != '.')
				return 0;
			i++;
		}
		while (i < n && d[i] >= '0' && d[i] <= '9' && digits < 4) {
			v = v * 10 + (d[i] - '0');
			digits++;
			i++;
		}
		if (digits == 0 || digits > 3 || v > 255)
			return 0;
	}
	return i == n;
}

/* Returns NULL when addr is an acceptable mailbox, else why not. */
static const char *
address_problem(const char *addr)
{
	const char *at, *dom;
	size_t n, local_len, dom_len;
	const char *why;

	if (addr == NULL)
		return "is missing";
	if (addr[0] == '\0')
		return "is empty";
	/* first, the most likely mistake: "Name <local@domain>" */
	if (strpbrk(addr, "<>") != NULL)
		return "contains an angle bracket "
		    "(give the bare address, without a display name)";
	for (const unsigned char *p = (const unsigned char *)addr; *p; p++) {
		if (*p >= 0x80)
			return "contains a non-ASCII character "
			    "(internationalized addresses are not supported)";
		if (*p == '\r')
			return "contains a carriage return (CR)";
		if (*p == '\n')
			return "contains a line feed (LF)";
		if (*p < 0x20 || *p == 0x7f)
			return "contains a control character";
		if (*p == ' ')
			return "contains a space";
		if (*p == ',')
			return "contains a comma (separate addresses with ';')";
		if (*p == '"')
			return "contains a double quote "
			    "(quoted local parts are not supported)";
	}
	n = strlen(addr);
	if (n > CM_MAIL_ADDR_MAX)
		return "is longer than 254 characters";
	at = strchr(addr, '@');
	if (at == NULL)
		return "has no @";
	if (strchr(at + 1, '@') != NULL)
		return "has more than one @";
	local_len = (size_t)(at - addr);
	if (local_len == 0)
		return "has an empty local part (before the @)";
	if (local_len > CM_MAIL_LOCAL_MAX)
		return "has a local part longer than 64 characters";
	why = dot_atom_problem(addr, local_len);
	if (why != NULL) {
		if (strcmp(why, "starts or ends with a dot") == 0)
			return "has a local part that starts or ends with a dot";
		if (strcmp(why, "has two dots in a row") == 0)
			return "has two dots in a row in the local part";
		return "has a character that is not allowed in the local part";
	}
	dom = at + 1;
	dom_len = n - local_len - 1;
	if (dom_len == 0)
		return "has an empty domain (after the @)";
	if (dom[0] == '[') {
		if (dom_len < 3 || dom[dom_len - 1] != ']' ||
		    !is_ipv4(dom + 1, dom_len - 2))
			return "has a malformed address literal "
			    "(only IPv4 such as [192.0.2.1] is supported)";
		return NULL;
	}
	why = domain_problem(dom, dom_len);
	if (why == NULL)
		return NULL;
	if (strcmp(why, "has an empty label") == 0)
		return "has an empty label in the domain";
	if (strcmp(why, "has a label longer than 63 characters") == 0)
		return "has a domain label longer than 63 characters";
	if (strcmp(why, "has a label starting or ending with '-'") == 0)
		return "has a domain label starting or ending with '-'";
	return "has a character that is not allowed in the domain "
	    "(only letters, digits, '-' and '.')";
}

int
cm_mail_address_valid(const char *addr)
{
	return address_problem(addr) == NULL;
}

/* ------------------------------------------------------------------ lists */

void
cm_mail_list_free(struct cm_strlist *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* Returns 1 when a and b name the same mailbox (domain case-insensitive). */
static int
same_address(const char *a, const char *b)
{
	const char *aa = strchr(a, '@'), *ba = strchr(b, '@');

	if (aa == NULL || ba == NULL || aa - a != ba - b)
		return 0;
	return memcmp(a, b, (size_t)(aa - a)) == 0 &&
	    strcasecmp(aa + 1, ba + 1) == 0;
}

static int
is_list_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

enum cm_status
cm_mail_parse_list(const char *text, struct cm_strlist *out,
    struct cm_err *err)
{
	struct cm_strlist l = {NULL, 0};
	char entry[CM_MAIL_LIST_TEXT_MAX + 1];
	char shown[ESC_MAX + 8];
	enum cm_status rc = CM_OK;
	size_t len;
	const char *p;

	if (out != NULL) {
		out->v = NULL;
		out->n = 0;
	}
	if (text == NULL || out == NULL) {
		rc = cm_err_set(err, CM_ERR_INVALID,
		    "parsing e-mail address list: no list given");
		goto out;
	}
	len = strlen(text);
	if (len > CM_MAIL_LIST_TEXT_MAX) {
		rc = cm_err_set(err, CM_ERR_TOOBIG,
		    "parsing e-mail address list: %zu bytes, above the limit "
		    "of %d", len, CM_MAIL_LIST_TEXT_MAX);
		goto out;
	}
	l.v = calloc(CM_MAIL_LIST_MAX, sizeof(*l.v));
	if (l.v == NULL) {
		rc = cm_err_set(err, CM_ERR_NOMEM,
		    "parsing e-mail address list: out of memory");
		goto out;
	}
	p = text;
	for (;;) {
		const char *end = strchr(p, ';');
		const char *b = p, *e = end != NULL ? end : p + strlen(p);
		const char *why;
		int dup = 0;

		while (b < e && is_list_space(*b))
			b++;
		while (e > b && is_list_space(e[-1]))
			e--;
		if (e > b) {
			memcpy(entry, b, (size_t)(e - b));
			entry[e - b] = '\0';
			why = address_problem(entry);
			if (why != NULL) {
				escape(entry, (size_t)(e - b), shown,
				    sizeof(shown));
				rc = cm_err_set(err, CM_ERR_INVALID,
				    "invalid e-mail address \"%s\": %s",
				    shown, why);
				goto out;
			}
			for (size_t i = 0; i < l.n && !dup; i++)
				dup = same_address(l.v[i], entry);
			if (!dup) {
				if (l.n == CM_MAIL_LIST_MAX) {
					rc = cm_err_set(err, CM_ERR_TOOBIG,
					    "parsing e-mail address list: "
					    "more than %d addresses",
					    CM_MAIL_LIST_MAX);
					goto out;
				}
				l.v[l.n] = strdup(entry);
				if (l.v[l.n] == NULL) {
					rc = cm_err_set(err, CM_ERR_NOMEM,
					    "parsing e-mail address list: "
					    "out of memory");
					goto out;
				}
				l.n++;
			}
		}
		if (end == NULL)
			break;
		p = end + 1;
	}
	*out = l;
	l.v = NULL;
	l.n = 0;
out:
	cm_mail_list_free(&l);
	return rc;
}

/* ------------------------------------------------------------ composition */

struct buf {
	char *p;
	size_t len;
	size_t cap;
	int oom;
};

static void
buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		char *np;

		while (cap < b->len + n + 1)
			cap *= 2;
		np = realloc(b->p, cap);
		if (np == NULL) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

/* Returns the length (1-4) of the valid UTF-8 sequence at s (n > 0 bytes
 * left) and its code point in *cp, or 0 when the bytes are not valid
 * UTF-8 (overlong, surrogate, above U+10FFFF, truncated). */
static size_t
utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char c = s[0];
	size_t len;
	unsigned char lo = 0x80, hi = 0xbf;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		*cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		*cp = c & 0x0f;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		*cp = c & 0x07;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		unsigned char cc = s[i];

		if (i == 1 ? (cc < lo || cc > hi) : (cc < 0x80 || cc > 0xbf))
			return 0;
		*cp = (*cp << 6) | (cc & 0x3f);
	}
	return len;
}

/* Appends s (n bytes) to b with invalid UTF-8 replaced by U+FFFD; with
 * no_controls, C0 controls, DEL and C1 controls become a space. Sets
 * *non_ascii / *control when such characters were seen. */
static void
add_clean_utf8(struct buf *b, const char *s, size_t n, int no_controls,
    int *non_ascii, int *control)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		uint32_t cp;
		size_t k = utf8_seq(u + i, n - i, &cp);

		if (k == 0) {
			buf_add(b, "\xef\xbf\xbd", 3);
			*non_ascii = 1;
			i++;
			continue;
		}
		if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f)) {
			*control = 1;
			if (no_controls) {
				buf_add(b, " ", 1);
				i += k;
				continue;
			}
		}
		if (cp >= 0x80)
			*non_ascii = 1;
		buf_add(b, s + i, k);
		i += k;
	}
}

/* Appends "Date: " + RFC 5322 date of t (UTC) + CRLF. */
static void
add_date(struct buf *b, cm_time t)
{
	static const char *const wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu",
	    "Fri", "Sat"};
	static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	int64_t days = t / 86400, secs = t % 86400;
	int64_t z, era, doe, yoe, y, doy, mp, d, m;
	char line[64];

	/* civil_from_days (Howard Hinnant); t >= 0 is checked by the caller */
	z = days + 719468;
	era = z / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y += m <= 2;
	snprintf(line, sizeof(line),
	    "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n",
	    wd[(days + 4) % 7], (int)d, mon[m - 1], (int)y, (int)(secs / 3600),
	    (int)(secs / 60 % 60), (int)(secs % 60));
	buf_adds(b, line);
}

/* Returns 1 when id is "<dot-atom@dot-atom>" within CM_MAIL_MSGID_MAX. */
static int
message_id_valid(const char *id)
{
	size_t n;
	const char *at;

	if (id == NULL)
		return 0;
	n = strlen(id);
	if (n < 5 || n > CM_MAIL_MSGID_MAX || id[0] != '<' || id[n - 1] != '>')
		return 0;
	at = memchr(id, '@', n);
	if (at == NULL || memchr(at + 1, '@', (size_t)(id + n - at - 1)))
		return 0;
	return dot_atom_problem(id + 1, (size_t)(at - id - 1)) == NULL &&
	    dot_atom_problem(at + 1, (size_t)(id + n - 1 - at - 1)) == NULL;
}

/* Appends the To header, folded so lines stay short. */
static void
add_to(struct buf *b, const struct cm_strlist *to)
{
	size_t line = 3;

	buf_adds(b, "To:");
	for (size_t i = 0; i < to->n; i++) {
		size_t n = strlen(to->v[i]);

		if (i > 0)
			buf_adds(b, ",");
		if (i > 0 && line + 1 + n > 78) {
			buf_adds(b, "\r\n");
			line = 0;
		}
		buf_adds(b, " ");
		buf_add(b, to->v[i], n);
		line += 2 + n;
	}
	buf_adds(b, "\r\n");
}

/* Appends the Subject header: plain (folded at spaces) or encoded-words. */
static void
add_subject(struct buf *b, const char *subject)
{
	struct buf clean = {NULL, 0, 0, 0};
	int non_ascii = 0, control = 0;
	size_t n = strlen(subject);

	add_clean_utf8(&clean, subject, n, 1, &non_ascii, &control);
	if (clean.oom) {
		b->oom = 1;
		goto out;
	}
	if (clean.len == 0) {
		buf_adds(b, "Subject:\r\n");
		goto out;
	}
	if (!non_ascii && !control && strstr(clean.p, "=?") == NULL) {
		size_t line = 8;

		buf_adds(b, "Subject:");
		if (clean.p[0] != ' ') {
			buf_adds(b, " ");
			line++;
		}
		for (size_t i = 0; i < clean.len; i++) {
			/* fold before a space that starts a word that would
			 * not fit; never leave a line of only white space */
			if (clean.p[i] == ' ' && i > 0 && clean.p[i - 1] != ' ' &&
			    i + 1 < clean.len && clean.p[i + 1] != ' ') {
				size_t w = 1;

				while (i + w < clean.len && clean.p[i + w] != ' ')
					w++;
				if (line + w > 78) {
					buf_adds(b, "\r\n");
					line = 0;
				}
			}
			buf_add(b, clean.p + i, 1);
			line++;
		}
		buf_adds(b, "\r\n");
		goto out;
	}
	/* RFC 2047 B encoding, words of <= 39 bytes (52 base64 characters,
	 * 64 with the delimiters) cut at character boundaries */
	buf_adds(b, "Subject:");
	for (size_t i = 0; i < clean.len;) {
		unsigned char enc[64];
		size_t k = clean.len - i < 39 ? clean.len - i : 39;

		while (i + k < clean.len &&
		    ((unsigned char)clean.p[i + k] & 0xc0) == 0x80)
			k--;
		EVP_EncodeBlock(enc, (const unsigned char *)clean.p + i, (int)k);
		if (i > 0)
			buf_adds(b, "\r\n");
		buf_adds(b, " =?UTF-8?B?");
		buf_adds(b, (const char *)enc);
		buf_adds(b, "?=");
		i += k;
	}
	buf_adds(b, "\r\n");
out:
	free(clean.p);
}

/* Appends body (n bytes of clean UTF-8) as quoted-printable, CRLF lines. */
static void
add_qp_body(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t line = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char tok[3];
		size_t t;
		int eol;

		if (c == '\r' || c == '\n') {
			if (c == '\r' && i + 1 < n && s[i + 1] == '\n')
				i++;
			buf_adds(b, "\r\n");
			line = 0;
			continue;
		}
		eol = i + 1 == n || s[i + 1] == '\r' || s[i + 1] == '\n';
		if ((c >= 33 && c <= 126 && c != '=') ||
		    ((c == ' ' || c == '\t') && !eol)) {
			tok[0] = (char)c;
			t = 1;
		} else {
			tok[0] = '=';
			tok[1] = hex[c >> 4];
			tok[2] = hex[c & 15];
			t = 3;
		}
		/* a soft break "=" needs one column: 75 + "=" = 76 */
		if (line + t > (eol ? 76 : 75)) {
			buf_adds(b, "=\r\n");
			line = 0;
		}
		buf_add(b, tok, t);
		line += t;
	}
	if (n == 0 || (s[n - 1] != '\n' && s[n - 1] != '\r'))
		buf_adds(b, "\r\n");
}

enum cm_status
cm_mail_compose(const struct cm_mail_message *m, char **out,
    size_t *out_len, struct cm_err *err)
{
	struct buf b = {NULL, 0, 0, 0};
	struct buf body = {NULL, 0, 0, 0};
	enum cm_status rc = CM_OK;
	char shown[ESC_MAX + 8];
	const char *subject, *text, *why;
	int non_ascii = 0, control = 0;
	size_t subject_len, body_len;

	if (out != NULL)
		*out = NULL;
	if (out_len != NULL)
		*out_len = 0;
	if (m == NULL || out == NULL || out_len == NULL) {
		rc = cm_err_set(err, CM_ERR_INVALID,
		    "composing mail: no message given");
		goto out;
	}
	subject = m->subject != NULL ? m->subject : "";
	text = m->body != NULL ? m->body : "";
	why = address_problem(m->from);
	if (why != NULL) {
		escape(m->from ? m->from : "", m->from ? strlen(m->from) : 0,
		    shown, sizeof(shown));
		rc = cm_err_set(err, CM_ERR_INVALID,
		    "composing mail: sender address \"%s\" %s", shown, why);
		goto out;
	}
	if (m->to == NULL || m->to->n == 0) {
		rc = cm_err_set(err, CM_ERR_INVALID,
		    "composing mail: no recipient");
		goto out;
	}
	for (size_t i = 0; i < m->to->n; i++) {
		const char *a = m->to->v[i];

		why = address_problem(a);
		if (why != NULL) {
			escape(a ? a : "", a ? strlen(a) : 0, shown,
			    sizeof(shown));
			rc = cm_err_set(err, CM_ERR_INVALID,
			    "composing mail: recipient address \"%s\" %s",
			    shown, why);
			goto out;
		}
	}
	if (!message_id_valid(m->message_id)) {
		const char *id = m->message_id ? m->message_id : "";

		escape(id, strlen(id), shown, sizeof(shown));
		rc = cm_err_set(err, CM_ERR_INVALID,
		    "composing mail: Message-ID \"%s\" is not of the form "
		    "<left@right>", shown);
		goto out;
	}
	if (m->date < 0 || m->date > INT64_C(253402300799)) {
		rc = cm_err_set(err, CM_ERR_INVALID,
		    "composing mail: date %lld is outside the years 1970-9999",
		    (long long)m->date);
		goto out;
	}
	subject_len = strlen(subject);
	if (subject_len > CM_MAIL_SUBJECT_MAX) {
		rc = cm_err_set(err, CM_ERR_TOOBIG,
		    "composing mail: subject of %zu bytes is above the limit "
		    "of %d", subject_len, CM_MAIL_SUBJECT_MAX);
		goto out;
	}
	body_len = strlen(text);
	if (body_len > CM_MAIL_BODY_MAX) {
		rc = cm_err_set(err, CM_ERR_TOOBIG,
		    "composing mail: body of %zu bytes is above the limit "
		    "of %d", body_len, CM_MAIL_BODY_MAX);
		goto out;
	}

	add_date(&b, m->date);
	buf_adds(&b, "Message-ID: ");
	buf_adds(&b, m->message_id);
	buf_adds(&b, "\r\nFrom: ");
	buf_adds(&b, m->from);
	buf_adds(&b, "\r\n");
	add_to(&b, m->to);
	add_subject(&b, subject);
	buf_adds(&b, "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n"
	    "Auto-Submitted: auto-generated\r\n"
	    "\r\n");
	add_clean_utf8(&body, text, body_len, 0, &non_ascii, &control);
	if (body.oom)
		b.oom = 1;
	else
		add_qp_body(&b, body.p != NULL ? body.p : "", body.len);
	if (b.oom) {
		rc = cm_err_set(err, CM_ERR_NOMEM,
		    "composing mail: out of memory");
		goto out;
	}
	*out = b.p;
	*out_len = b.len;
	b.p = NULL;
out:
	free(b.p);
	free(body.p);
	return rc;
}

char *
cm_mail_new_message_id(const char *domain)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char rnd[16];
	char left[2 * sizeof(rnd) + 1];
	char *id = NULL;
	size_t n;

	if (domain == NULL)
		domain = "localhost";
	if (domain_problem(domain, strlen(domain)) != NULL)
		goto out;
	if (RAND_bytes(rnd, (int)sizeof(rnd)) != 1)
		goto out;
	for (size_t i = 0; i < sizeof(rnd); i++) {
		left[2 * i] = hex[rnd[i] >> 4];
		left[2 * i + 1] = hex[rnd[i] & 15];
	}
	left[sizeof(left) - 1] = '\0';
	n = strlen(left) + strlen(domain) + sizeof("<.certmon@>");
	id = malloc(n);
	if (id == NULL)
		goto out;
	snprintf(id, n, "<%s.certmon@%s>", left, domain);
out:
	return id;
}

/* ------------------------------------------------------------------ SMTP */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void
curl_init_once(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct upload {
	const char *p;
	size_t len;
	size_t off;
};

static size_t
read_cb(char *dst, size_t size, size_t nmemb, void *ud)
{
	struct upload *u = ud;
	size_t room = size * nmemb, left = u->len - u->off;
	size_t n = left < room ? left : room;

	if (n > 0)
		memcpy(dst, u->p + u->off, n);
	u->off += n;
	return n;
}

/* The last few server reply lines: libcurl hands every SMTP reply line to
 * the header callback, and after a failed command it may already have
 * sent QUIT (so the last line can be "221 Bye", not the failure). */
#define REPLY_KEEP 4

struct replies {
	char line[REPLY_KEEP][CM_MAIL_REPLY_MAX];
	unsigned int n;         /* lines seen */
};

static size_t
header_cb(char *data, size_t size, size_t nmemb, void *ud)
{
	struct replies *r = ud;
	char *dst = r->line[r->n % REPLY_KEEP];
	size_t n = size * nmemb, o = 0;

	for (size_t i = 0; i < n && o + 1 < CM_MAIL_REPLY_MAX; i++) {
		unsigned char c = (unsigned char)data[i];

		if (c == '\r' || c == '\n')
			break;
		dst[o++] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
	}
	dst[o] = '\0';
	r->n++;
	return n;
}

/* Returns the latest reply line that carries code (the final line of a
 * reply is "CODE " or just "CODE"), else "". */
static const char *
reply_for(const struct replies *r, long code)
{
	char want[8];
	size_t wl;

	if (code <= 0 || code > 999)
		return "";
	wl = (size_t)snprintf(want, sizeof(want), "%ld", code);
	for (unsigned int k = 0; k < REPLY_KEEP && k < r->n; k++) {
		const char *l = r->line[(r->n - 1 - k) % REPLY_KEEP];

		if (strncmp(l, want, wl) == 0 && (l[wl] == ' ' || l[wl] == '\0'))
			return l;
	}
	return "";
}

static size_t
discard_cb(char *data, size_t size, size_t nmemb, void *ud)
{
	(void)data;
	(void)ud;
	return size * nmemb;
}

/* Returns NULL when host is a DNS name, IPv4 or "[IPv6]", else why not. */
static const char *
host_problem(const char *host)
{
	size_t n;

	if (host == NULL || host[0] == '\0')
		return "is empty";
	n = strlen(host);
	if (host[0] == '[') {
		if (n < 4 || n > 48 || host[n - 1] != ']')
			return "is not a bracketed IPv6 address";
		for (size_t i = 1; i + 1 < n; i++)
			if (strchr("0123456789abcdefABCDEF:.", host[i]) == NULL)
				return "is not a bracketed IPv6 address";
		return NULL;
	}
	return domain_problem(host, n);
}

/* Aborts the transfer once the program asked to stop (cancel.h). */
static int
cancel_cb(void *p, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	(void)p;
	(void)dt;
	(void)dn;
	(void)ut;
	(void)un;
	return cm_cancel_requested();
}

enum cm_status
cm_mail_send(const struct cm_smtp_config *cfg, const struct cm_strlist *to,
    const char *msg, size_t len, char *reply, size_t reply_len,
    int *permanent, struct cm_err *err)
{
	CURL *h = NULL;
	struct curl_slist *rcpt = NULL;
	struct upload up = {msg, len, 0};
	struct replies *seen = NULL;
	char last[CM_MAIL_REPLY_MAX];
	char url[320], shown[ESC_MAX + 8], ebuf[CURL_ERROR_SIZE];
	enum cm_status rc = CM_OK;
	int perm = 0, port;
	long timeout, code = 0;
	const char *why;
	CURLcode cc;

	last[0] = '\0';
	ebuf[0] = '\0';
	url[0] = '\0';
	if (reply != NULL && reply_len > 0)
		reply[0] = '\0';
	if (cfg == NULL || to == NULL || msg == NULL || len == 0) {
		rc = cm_err_set(err, CM_ERR_INVALID,
		    "sending mail: no configuration, recipients or message");
		goto out;
	}
	why = host_problem(cfg->host);
	if (why != NULL) {
		const char *hs = cfg->host ? cfg->host : "";

		escape(hs, strlen(hs), shown, sizeof(shown));
		rc = cm_err_set(err, CM_ERR_INVALID,
		    "sending mail: SMTP host \"%s\" %s", shown, why);
		goto out;
	}
	port = cfg->port;
	if (port == 0)
		port = cfg->tls == CM_SMTP_TLS_IMPLICIT ? 465 :
		    cfg->tls == CM_SMTP_TLS_STARTTLS ? 587 : 25;
	snprintf(url, sizeof(url), "%s://%s:%d",
	    cfg->tls == CM_SMTP_TLS_IMPLICIT ? "smtps" : "smtp", cfg->host,
	    port);
	if (port < 1 || port > 65535 || (cfg->tls != CM_SMTP_TLS_NONE &&
	    cfg->tls != CM_SMTP_TLS_STARTTLS &&
	    cfg->tls != CM_SMTP_TLS_IMPLICIT) || cfg->timeout_ms < 0) {
		rc = cm_err_set(err, CM_ERR_INVALID,
		    "sending mail to %s: port %d, TLS mode %d or timeout %ld "
		    "out of range", cfg->host, cfg->port, (int)cfg->tls,
		    cfg->timeout_ms);
		goto out;
	}
	why = address_problem(cfg->from);
	if (why != NULL) {
		const char *f = cfg->from ? cfg->from : "";

		escape(f, strlen(f), shown, sizeof(shown));
		rc = cm_err_set(err, CM_ERR_INVALID,
		    "sending mail via %s: sender address \"%s\" %s", url,
		    shown, why);
		goto out;
	}
	if (to->n == 0 || to->n > CM_MAIL_LIST_MAX) {
		rc = cm_err_set(err, CM_ERR_INVALID,
		    "sending mail via %s: %zu recipients (1 to %d allowed)",
		    url, to->n, CM_MAIL_LIST_MAX);
		goto out;
	}
	if (cfg->user != NULL && cfg->user[0] != '\0' &&
	    cfg->tls == CM_SMTP_TLS_NONE) {
		rc = cm_err_set(err, CM_ERR_INVALID,
		    "sending mail via %s: refusing to send SMTP credentials "
		    "without TLS (use STARTTLS or implicit TLS)", url);
		goto out;
	}
	pthread_once(&curl_once, curl_init_once);
	if (curl_init_rc != CURLE_OK) {
		rc = cm_err_set(err, CM_ERR_INTERNAL,
		    "sending mail via %s: libcurl initialisation failed: %s",
		    url, curl_easy_strerror(curl_init_rc));
		goto out;
	}
	for (size_t i = 0; i < to->n; i++) {
		struct curl_slist *nl;

		why = address_problem(to->v[i]);
		if (why != NULL) {
			const char *a = to->v[i] ? to->v[i] : "";

			escape(a, strlen(a), shown, sizeof(shown));
			rc = cm_err_set(err, CM_ERR_INVALID,
			    "sending mail via %s: recipient address \"%s\" %s",
			    url, shown, why);
			goto out;
		}
		nl = curl_slist_append(rcpt, to->v[i]);
		if (nl == NULL) {
			rc = cm_err_set(err, CM_ERR_NOMEM,
			    "sending mail via %s: out of memory", url);
			goto out;
		}
		rcpt = nl;
	}
	seen = calloc(1, sizeof(*seen));
	h = curl_easy_init();
	if (h == NULL || seen == NULL) {
		rc = cm_err_set(err, CM_ERR_NOMEM,
		    "sending mail via %s: out of memory (libcurl handle)", url);
		goto out;
	}
	timeout = cfg->timeout_ms > 0 ? cfg->timeout_ms : 60000;
	cc = CURLE_OK;
#define SET(opt, val) \
	do { if (cc == CURLE_OK) cc = curl_easy_setopt(h, opt, val); } while (0)
	SET(CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500
	SET(CURLOPT_PROTOCOLS_STR, "smtp,smtps");
#else
	SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_SMTP | CURLPROTO_SMTPS));
#endif
	SET(CURLOPT_PROXY, "");                 /* never via a proxy */
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_TIMEOUT_MS, timeout);
	/* also bounds the QUIT exchange on disconnect, which the overall
	 * timeout does not cover */
	SET(CURLOPT_SERVER_RESPONSE_TIMEOUT, (timeout + 999) / 1000);
	SET(CURLOPT_ERRORBUFFER, ebuf);
	SET(CURLOPT_USE_SSL, (long)(cfg->tls == CM_SMTP_TLS_NONE ?
	    CURLUSESSL_NONE : CURLUSESSL_ALL));
	SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	SET(CURLOPT_SSL_VERIFYPEER, cfg->insecure_skip_verify ? 0L : 1L);
	SET(CURLOPT_SSL_VERIFYHOST, cfg->insecure_skip_verify ? 0L : 2L);
	if (cfg->ca_file != NULL)
		SET(CURLOPT_CAINFO, cfg->ca_file);
	if (cfg->user != NULL && cfg->user[0] != '\0') {
		SET(CURLOPT_USERNAME, cfg->user);
		SET(CURLOPT_PASSWORD, cfg->password ? cfg->password : "");
	}
	SET(CURLOPT_MAIL_FROM, cfg->from);
	SET(CURLOPT_MAIL_RCPT, rcpt);
	SET(CURLOPT_UPLOAD, 1L);
	SET(CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
	SET(CURLOPT_READFUNCTION, read_cb);
	SET(CURLOPT_READDATA, &up);
	SET(CURLOPT_HEADERFUNCTION, header_cb);
	SET(CURLOPT_HEADERDATA, seen);
	SET(CURLOPT_WRITEFUNCTION, discard_cb);   /* never to stdout */
	SET(CURLOPT_NOPROGRESS, 0L);
	SET(CURLOPT_XFERINFOFUNCTION, cancel_cb); /* stop when asked to */
#undef SET
	if (cc != CURLE_OK) {
		rc = cm_err_set(err, CM_ERR_INTERNAL,
		    "sending mail via %s: setting up libcurl failed: %s", url,
		    curl_easy_strerror(cc));
		goto out;
	}
	cc = curl_easy_perform(h);
	if (cc == CURLE_ABORTED_BY_CALLBACK) {
		/* stopping: libcurl would still send QUIT at cleanup and wait
		 * for the answer of a server that may hang; close first */
		curl_socket_t sock = CURL_SOCKET_BAD;

		if (curl_easy_getinfo(h, CURLINFO_ACTIVESOCKET, &sock) == CURLE_OK &&
		    sock != CURL_SOCKET_BAD)
			shutdown(sock, SHUT_RDWR);
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	snprintf(last, sizeof(last), "%s", reply_for(seen, code));
	if (last[0] == '\0' && code > 0)
		snprintf(last, sizeof(last), "%ld", code);
	if (reply != NULL && reply_len > 0)
		snprintf(reply, reply_len, "%s", last);
	if (cc == CURLE_OK && code == 250) {
		perm = 0;
		goto out;
	}
	perm = code >= 500 && code <= 599;
	rc = cm_err_set(err, CM_ERR_IO,
	    "sending mail via %s failed (%s): %s%s%s", url,
	    perm ? "permanent" : "temporary",
	    ebuf[0] != '\0' ? ebuf : curl_easy_strerror(cc),
	    last[0] != '\0' ? "; last server reply: " : "", last);
out:
	/* a QUIT reply may still arrive during cleanup, into `seen` */
	if (h != NULL)
		curl_easy_cleanup(h);
	free(seen);
	curl_slist_free_all(rcpt);
	/* invalid arguments stay invalid; out of memory may pass */
	if (permanent != NULL)
		*permanent = rc == CM_ERR_INVALID ? 1 : rc == CM_ERR_IO ? perm : 0;
	return rc;
}
