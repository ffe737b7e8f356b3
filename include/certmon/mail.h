/*
 * mail.h - e-mail: address lists, message composition, and SMTP delivery
 * through libcurl.
 *
 * Addresses are ASCII RFC 5321 mailboxes `local@domain` (no display names,
 * no quoted local parts, no internationalized addresses). Messages are
 * composed as RFC 5322 text with CRLF line endings, 7-bit clean (the body is
 * quoted-printable UTF-8, non-ASCII subjects are RFC 2047 encoded-words), so
 * they can be stored in the outbox and sent again byte for byte.
 *
 * SMTP transparency (RFC 5321 4.5.2): libcurl dot-stuffs the upload itself
 * (a line starting with "." goes out as "..") and appends the final
 * "<CRLF>.<CRLF>". Callers of cm_mail_send must therefore pass the plain
 * message, never a dot-stuffed or terminated one. libcurl does NOT convert
 * bare LF to CRLF: cm_mail_compose only ever produces CRLF.
 */
#ifndef CERTMON_MAIL_H
#define CERTMON_MAIL_H

#include <stddef.h>

#include "certmon/cert.h"   /* struct cm_strlist */
#include "certmon/clock.h"
#include "certmon/err.h"

#define CM_MAIL_LOCAL_MAX 64        /* octets in the local part */
#define CM_MAIL_ADDR_MAX 254        /* octets in a whole address */
#define CM_MAIL_LIST_MAX 100        /* distinct addresses in one list */
#define CM_MAIL_LIST_TEXT_MAX 4096  /* bytes of list text */
#define CM_MAIL_SUBJECT_MAX 900     /* bytes of subject (UTF-8) */
#define CM_MAIL_BODY_MAX (8 * 1024 * 1024) /* bytes of body */
#define CM_MAIL_MSGID_MAX 300       /* bytes of a Message-ID with <> */
#define CM_MAIL_REPLY_MAX 512       /* a good size for cm_mail_send's reply */

/* Returns 1 when addr is an acceptable mailbox, 0 otherwise (also for NULL).
 * Accepted: ASCII `local@domain`, at most 254 bytes; the local part is a
 * dot-atom (RFC 5322 atext and single inner dots) of at most 64 bytes -
 * quoted local parts ("a b"@x) are rejected; the domain is dot-separated
 * labels of [A-Za-z0-9-] (1-63 bytes, no leading or trailing '-'; a single
 * label such as "localhost" is allowed) or an IPv4 address literal
 * "[192.0.2.1]". Never accepted: spaces, commas, angle brackets, CR, LF or
 * any other control or non-ASCII byte. Pure; thread-safe. */
int cm_mail_address_valid(const char *addr);

/* Parses the E-mail IDs setting: addresses separated by ';', whitespace
 * (space, tab, CR, LF) around each entry trimmed, empty entries ignored
 * (so "a@x; ;b@y;" is two addresses, and "" is an empty list). Duplicates are
 * dropped, keeping the first; two addresses are duplicates when their local
 * parts are equal and their domains equal ignoring ASCII case.
 * On CM_OK *out (overwritten, not freed: pass an empty or freed list) holds
 * newly allocated copies in input order; free it with cm_mail_list_free.
 * Errors (out is then left empty): CM_ERR_INVALID naming the first bad entry
 * (escaped so the message stays one printable line) and why; CM_ERR_TOOBIG
 * above CM_MAIL_LIST_TEXT_MAX bytes or CM_MAIL_LIST_MAX distinct addresses;
 * CM_ERR_NOMEM. text NULL is CM_ERR_INVALID. */
enum cm_status cm_mail_parse_list(const char *text, struct cm_strlist *out,
    struct cm_err *err);

/* Frees every string of l and its array, and leaves l empty; NULL is fine.
 * Usable for any heap-allocated struct cm_strlist. */
void cm_mail_list_free(struct cm_strlist *l);

struct cm_mail_message {
	const char *from;               /* mailbox, header From */
	const struct cm_strlist *to;    /* mailboxes, at least one */
	const char *subject;            /* UTF-8 (NULL = empty) */
	const char *body;               /* UTF-8 text, LF or CRLF (NULL = empty) */
	const char *message_id;         /* "<left@right>", e.g. from
	                                   cm_mail_new_message_id; stable
	                                   across retries */
	cm_time date;                   /* header Date, shown in UTC */
};

/* Composes m as an RFC 5322 message with CRLF line endings and only 7-bit
 * bytes. Headers, in order: Date ("Tue, 05 Jan 2027 09:03:07 +0000"),
 * Message-ID, From, To (comma-separated, folded), Subject, MIME-Version,
 * Content-Type: text/plain; charset=utf-8, Content-Transfer-Encoding:
 * quoted-printable, Auto-Submitted: auto-generated (RFC 3834).
 * Subject: kept as is (folded at spaces) when it is printable ASCII without
 * "=?"; otherwise RFC 2047 "=?UTF-8?B?...?=" encoded-words, after every
 * control character (CR, LF, TAB, other C0, DEL, C1) was replaced by a space
 * and every invalid UTF-8 sequence by U+FFFD - so no subject can ever add a
 * header line. Body: line breaks (CRLF, LF or lone CR) become CRLF, invalid
 * UTF-8 becomes U+FFFD, then quoted-printable (lines <= 76). Lines starting
 * with "." are left alone: libcurl dot-stuffs them when sending.
 * On CM_OK *out is a newly allocated NUL-terminated message (caller frees
 * with free()) and *out_len its length without the NUL. Errors:
 * CM_ERR_INVALID (bad from/to address, bad message_id, date outside years
 * 1970-9999, no recipient), CM_ERR_TOOBIG (subject above
 * CM_MAIL_SUBJECT_MAX or body above CM_MAIL_BODY_MAX bytes), CM_ERR_NOMEM.
 * Pure (time comes from m->date); thread-safe. */
enum cm_status cm_mail_compose(const struct cm_mail_message *m, char **out,
    size_t *out_len, struct cm_err *err);

/* Returns a newly allocated Message-ID "<32 hex digits.certmon@domain>"
 * from 16 bytes of OpenSSL RAND_bytes (caller frees with free()), or NULL
 * when domain is not a valid domain (same rule as addresses; NULL means
 * "localhost"), when the random generator fails, or out of memory. Use the
 * domain of the From address. Thread-safe. */
char *cm_mail_new_message_id(const char *domain);

enum cm_smtp_tls {
	CM_SMTP_TLS_NONE = 0,   /* smtp://, plain text, no STARTTLS */
	CM_SMTP_TLS_STARTTLS,   /* smtp:// + STARTTLS required (never plain) */
	CM_SMTP_TLS_IMPLICIT    /* smtps:// (TLS from the first byte) */
};

struct cm_smtp_config {
	const char *host;       /* DNS name, IPv4, or "[IPv6]" */
	int port;               /* 0 = 25 / 587 / 465 by tls mode */
	enum cm_smtp_tls tls;
	const char *user;       /* NULL or "" = no AUTH; requires TLS */
	const char *password;
	const char *from;       /* envelope sender (MAIL FROM), a mailbox */
	const char *ca_file;    /* PEM CA bundle; NULL = system store */
	int insecure_skip_verify; /* tests only: no peer/host verification */
	long timeout_ms;        /* whole transaction; 0 = 60000 */
};

/* Sends the composed message msg (len bytes, CRLF lines, not dot-stuffed)
 * to every address in `to` (envelope recipients; all must be accepted, or
 * nothing is sent) through the server in cfg, with libcurl (connect, EHLO,
 * STARTTLS when configured - failing rather than falling back to plain -,
 * AUTH when user is set, MAIL FROM, RCPT TO each, DATA). TLS verifies the
 * peer and its host name against ca_file (or the system store) unless
 * insecure_skip_verify; TLS 1.2 at least.
 * Returns CM_OK only after the server answered 250 to the end of data.
 * reply (when not NULL and reply_len > 0) receives the server's last reply
 * line with the last status code (CURLINFO_RESPONSE_CODE; a later "221 Bye"
 * to QUIT is skipped) as one printable line - e.g. "250 2.0.0 Ok: queued as
 * 4F2A1" on success, "550 5.1.1 <x@y>: no such user" on failure -, just the
 * code ("250") when its text is not available, "" when the server never
 * answered. Worth storing with the outbox entry: it is the only receipt.
 * *permanent (when not NULL) classifies the result: 1 when retrying the
 * same message cannot help by itself - the server replied 5xx (e.g. 550
 * unknown recipient, 554 rejected, 535 bad credentials, 530 STARTTLS
 * required) or the arguments are invalid; 0 on success and for temporary
 * failures - connection refused or reset, DNS, timeout, TLS failure
 * (including a server without STARTTLS, or a certificate that does not
 * verify), a 4xx reply, out of memory.
 * Suggested outbox policy: retry temporary failures with backoff; retry
 * permanent ones only at the backoff cap (an admin may fix the server or
 * the address; mail is never dropped); raise the mail-failure alarm for
 * both. Note a timeout after the end of data may still have delivered the
 * message: the retry then duplicates it under the same Message-ID.
 * Errors: CM_ERR_INVALID (bad cfg: host, port, from, a recipient, no
 * recipient, credentials without TLS; empty msg), CM_ERR_IO (delivery
 * failed; the message names the server URL, the libcurl reason and the
 * reply line), CM_ERR_NOMEM, CM_ERR_INTERNAL (libcurl init failed).
 * Blocks for at most about timeout_ms, or twice that when the server hangs
 * (libcurl then also waits up to timeout_ms for the reply to its QUIT); no
 * signals (CURLOPT_NOSIGNAL); never through a proxy; never prints;
 * thread-safe: curl_global_init runs once under pthread_once. */
enum cm_status cm_mail_send(const struct cm_smtp_config *cfg,
    const struct cm_strlist *to, const char *msg, size_t len, char *reply,
    size_t reply_len, int *permanent, struct cm_err *err);

#endif
