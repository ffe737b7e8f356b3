/*
 * store.h - the certificate store: one SQLite file (WAL) shared by the CLI
 * and the daemon.
 *
 * A unit is a named collection of certificates; a stored certificate is a
 * row (unit, fingerprint), so one certificate may sit in several units.
 * Every change writes an audit event in the same transaction. lib/store.c is
 * the only file that includes sqlite3.h.
 */
#ifndef CERTMON_STORE_H
#define CERTMON_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "certmon/cert.h"
#include "certmon/clock.h"
#include "certmon/err.h"
#include "certmon/expiry.h"
#include "certmon/revocation.h"

struct cm_store;

enum cm_unit_kind {
	CM_UNIT_IDENTITY = 0,   /* a server's own certificates */
	CM_UNIT_TRUST,          /* names ending in "-trust" */
	CM_UNIT_LSC             /* device certificates (LSCs) */
};

#define CM_UNIT_NAME_MAX 64

struct cm_unit {
	char name[CM_UNIT_NAME_MAX + 1];
	enum cm_unit_kind kind;
	cm_time created_at;
	int64_t n_current;      /* certificates in use */
	int64_t n_history;      /* replaced certificates kept as history */
};

/* A stored certificate as one row of a listing. Pointers are valid only
 * during the callback that receives the row. */
struct cm_cert_row {
	const char *unit;
	enum cm_unit_kind unit_kind;
	const char *fingerprint;        /* lower-case hex */
	const char *subject;
	const char *issuer;
	const char *subject_cn;
	const char *issuer_cn;
	const char *serial_hex;
	const char *key_type;
	int key_bits;
	const char *sig_alg;
	int is_ca;
	cm_time not_before;
	cm_time not_after;
	cm_time added_at;
	cm_time replaced_at;            /* 0 while current */
	const char *replaced_by;        /* fingerprint, or NULL */
	int ocsp_responder;             /* designated OCSP responder mark */
	const char *revocation;         /* "unchecked", "good", "revoked", ... */
	cm_time revocation_checked_at;  /* 0 = never */
	const char *revocation_reason;  /* NULL or one line */
	const unsigned char *der;       /* only with filter.want_der */
	size_t der_len;
	const char *ocsp_urls;          /* AIA OCSP URLs, one per line; only
					 * cm_store_revocation_scan reads
					 * them, and NULL there for those
					 * stored before schema 6 */
};

struct cm_cert_filter {
	const char *unit;               /* NULL = every unit */
	const char *fp_prefix;          /* NULL = any */
	const char *search;             /* substring of subject CN, or NULL */
	const char *revocation;         /* exact revocation status, or NULL */
	int include_history;            /* also replaced certificates */
	int history_only;               /* only replaced certificates */
	int exclude_lsc;                /* leave out units of kind lsc */
	cm_time not_after_min;          /* inclusive; 0 = unbounded */
	cm_time not_after_max;          /* inclusive; 0 = unbounded */
	int want_der;
	int64_t limit;                  /* 0 = no limit */
	int64_t offset;
};

/* Return non-zero from the callback to stop the listing early. */
typedef int (*cm_cert_row_fn)(const struct cm_cert_row *row, void *arg);

enum cm_upload_action {
	CM_UPLOAD_ADDED = 0,
	CM_UPLOAD_UNCHANGED,    /* already in the unit: a no-op */
	CM_UPLOAD_REPLACED      /* replaced an older one, now in history */
};

struct cm_upload_item {
	char fingerprint[CM_FP_HEX_LEN];
	char *subject_cn;
	enum cm_upload_action action;
	char replaced[CM_FP_HEX_LEN];   /* set for CM_UPLOAD_REPLACED */
	int expired;                    /* accepted with a warning */
};

struct cm_upload_report {
	struct cm_upload_item *v;
	size_t n;
};

struct cm_upload_opts {
	int ocsp_responder;             /* mark the certificates as designated
					 * OCSP responders */
};

struct cm_event {
	int64_t id;
	cm_time at;
	const char *kind;               /* "audit" or "alarm" */
	const char *name;               /* e.g. "cert.added", "CertExpired" */
	const char *actor;              /* "cli:alice", "certmond", ... */
	const char *unit;               /* or NULL */
	const char *fingerprint;        /* or NULL */
	const char *message;            /* one line */
};

struct cm_event_filter {
	const char *kind;               /* NULL = any */
	const char *name;               /* NULL = any */
	const char *fingerprint;        /* NULL = any */
	cm_time since;                  /* 0 = unbounded */
	int64_t before_id;              /* 0 = newest first from the top */
	int64_t limit;                  /* 0 = no limit */
};

typedef int (*cm_event_fn)(const struct cm_event *ev, void *arg);

/* Opens (creating and migrating when needed) the store at path. A new store
 * is seeded with the standard units, created at `now`. On success *out is
 * owned by the caller (close it with cm_store_close). */
enum cm_status cm_store_open(const char *path, cm_time now,
    struct cm_store **out, struct cm_err *err);

/* Closes the store; NULL is fine. */
void cm_store_close(struct cm_store *st);

/* Returns the schema version of an open store. */
int cm_store_schema_version(struct cm_store *st);

/* Returns a number that changes whenever another connection commits a
 * change (SQLite's data_version), or -1 on error. */
int64_t cm_store_data_version(struct cm_store *st);

/* Transactions for callers that combine several changes into one (nested
 * calls join the outermost). begin takes the write lock at once. */
enum cm_status cm_store_begin(struct cm_store *st, struct cm_err *err);
enum cm_status cm_store_commit(struct cm_store *st, struct cm_err *err);
void cm_store_rollback(struct cm_store *st);

/* Returns the kind a unit of that name has by default: trust for names
 * ending in "-trust", lsc for "lsc", identity otherwise. */
enum cm_unit_kind cm_unit_kind_for_name(const char *name);

/* Returns "identity", "trust" or "lsc". */
const char *cm_unit_kind_name(enum cm_unit_kind kind);

/* Lists units by name. *out (n entries) is owned by the caller: free(). */
enum cm_status cm_store_unit_list(struct cm_store *st, struct cm_unit **out,
    size_t *n, struct cm_err *err);

/* Looks up one unit; CM_ERR_NOTFOUND when there is none. */
enum cm_status cm_store_unit_get(struct cm_store *st, const char *name,
    struct cm_unit *out, struct cm_err *err);

/* Adds a unit. The name is 1-64 of [A-Za-z0-9._-]; a name ending in
 * "-trust" must be a trust unit. */
enum cm_status cm_store_unit_add(struct cm_store *st, const char *name,
    enum cm_unit_kind kind, const char *actor, cm_time now,
    struct cm_err *err);

/* Removes a unit; refused while it holds certificates unless force. */
enum cm_status cm_store_unit_remove(struct cm_store *st, const char *name,
    int force, const char *actor, cm_time now, struct cm_err *err);

/* Stores certs in unit as one transaction, applying the upload rules of
 * DESIGN.md (idempotent; identity and lsc units: newer notBefore replaces
 * the same subject CN + issuer, older is refused; trust units keep both).
 * Fills *report (free with cm_upload_report_free) on success; on failure
 * nothing changed. */
enum cm_status cm_store_upload(struct cm_store *st, const char *unit,
    const struct cm_cert_list *certs, const struct cm_upload_opts *opts,
    const char *actor, cm_time now, struct cm_upload_report *report,
    struct cm_err *err);

/* Frees the items of a report; leaves it empty. */
void cm_upload_report_free(struct cm_upload_report *report);

/* Calls fn for each row matching filter, soonest notAfter first. */
enum cm_status cm_store_cert_list(struct cm_store *st,
    const struct cm_cert_filter *filter, cm_cert_row_fn fn, void *arg,
    struct cm_err *err);

/* Counts the rows matching filter (limit/offset ignored). */
enum cm_status cm_store_cert_count(struct cm_store *st,
    const struct cm_cert_filter *filter, int64_t *count, struct cm_err *err);

/* Resolves a fingerprint prefix (hex digits, ':' ignored) to exactly one row,
 * optionally within unit, and calls fn with it (DER included). Refuses an
 * unknown or ambiguous prefix, and a certificate that sits in several
 * units when unit is NULL, naming them. */
enum cm_status cm_store_cert_find(struct cm_store *st, const char *prefix,
    const char *unit, cm_cert_row_fn fn, void *arg, struct cm_err *err);

/* Deletes the row (unit, fingerprint) found like cm_store_cert_find. On
 * success copies the full fingerprint and unit into fp_out / unit_out. */
enum cm_status cm_store_cert_delete(struct cm_store *st, const char *prefix,
    const char *unit, const char *actor, cm_time now,
    char fp_out[CM_FP_HEX_LEN], char unit_out[CM_UNIT_NAME_MAX + 1],
    struct cm_err *err);

/* Sets or clears the designated-OCSP-responder mark of a row found like
 * cm_store_cert_find. */
enum cm_status cm_store_cert_mark(struct cm_store *st, const char *prefix,
    const char *unit, int ocsp_responder, const char *actor, cm_time now,
    struct cm_err *err);

/* Appends an event (id and at are taken from ev; at must be set). */
enum cm_status cm_store_event_add(struct cm_store *st,
    const struct cm_event *ev, struct cm_err *err);

/* Calls fn for each matching event, newest first. */
enum cm_status cm_store_event_list(struct cm_store *st,
    const struct cm_event_filter *filter, cm_event_fn fn, void *arg,
    struct cm_err *err);

/* Reads setting key into *value (caller frees); *value is NULL when the
 * setting was never set. */
enum cm_status cm_store_setting_get(struct cm_store *st, const char *key,
    char **value, struct cm_err *err);

/* Writes n settings at once (one transaction, one audit event each). */
enum cm_status cm_store_settings_set(struct cm_store *st, const char **keys,
    const char **values, size_t n, const char *actor, cm_time now,
    struct cm_err *err);

/* ---- the Certificate Expiry Monitor's records ---------------------------- */

/* A certificate the monitor looks at: a current row of a unit. */
struct cm_monitor_row {
	const char *unit;
	enum cm_unit_kind unit_kind;
	const char *fingerprint;
	const char *subject_cn;
	const char *issuer_cn;
	const char *serial_hex;
	cm_time not_after;
	struct cm_notice_record notice;   /* last notification */
	int alarm_state;                  /* state last alarmed, -1 = none */
};

typedef int (*cm_monitor_row_fn)(const struct cm_monitor_row *row, void *arg);

/* Calls fn for each current row with notAfter <= not_after_max (leaving
 * out lsc units unless include_lsc), soonest notAfter first. */
enum cm_status cm_store_monitor_rows(struct cm_store *st,
    cm_time not_after_max, int include_lsc, cm_monitor_row_fn fn, void *arg,
    struct cm_err *err);

/* Records a notification about (unit, fingerprint) at `at` in `state`. */
enum cm_status cm_store_notice_set(struct cm_store *st, const char *unit,
    const char *fingerprint, cm_time at, enum cm_expiry_state state,
    struct cm_err *err);

/* Records the state last alarmed for (unit, fingerprint). */
enum cm_status cm_store_alarm_state_set(struct cm_store *st,
    const char *unit, const char *fingerprint, enum cm_expiry_state state,
    struct cm_err *err);

/* ---- services ------------------------------------------------------------ */

#define CM_SERVICE_EXPIRY "expiry-monitor"
#define CM_SERVICE_REVOCATION "revocation-check"

struct cm_service {
	char name[32];
	int running;             /* Running (1) or Stopped (0) */
	cm_time started_at;      /* last (re)start */
	cm_time last_run;        /* last completed run, 0 = never */
	int64_t last_duration_ms;
	cm_time next_run;        /* as last computed, 0 = unknown */
	char last_result[256];
};

/* Reads one service; CM_ERR_NOTFOUND for an unknown name. */
enum cm_status cm_store_service_get(struct cm_store *st, const char *name,
    struct cm_service *out, struct cm_err *err);

/* Writes every field of svc (matched by name). */
enum cm_status cm_store_service_put(struct cm_store *st,
    const struct cm_service *svc, struct cm_err *err);

/* ---- the mail outbox ----------------------------------------------------- */

struct cm_outbox_msg {
	int64_t id;
	const char *message_id;
	cm_time created_at;
	const char *recipients;       /* ';'-separated */
	const char *subject;
	const char *message;          /* the composed RFC 5322 message */
	size_t message_len;
	const char *state;            /* "pending", "sent", "failed" */
	int attempts;
	cm_time next_attempt_at;
	const char *last_error;       /* or NULL */
	const char *last_reply;       /* the server's last reply, or NULL */
	cm_time sent_at;              /* 0 until sent */
};

typedef int (*cm_outbox_fn)(const struct cm_outbox_msg *m, void *arg);

/* Queues a composed message as pending, due at `now`. */
enum cm_status cm_store_outbox_add(struct cm_store *st,
    const char *message_id, const char *recipients, const char *subject,
    const char *message, size_t len, cm_time now, struct cm_err *err);

/* Calls fn for messages: with due_by != 0 only pending ones due by then
 * (oldest first; given-up "failed" ones are not retried); with due_by == 0
 * every unsent one (pending and failed) plus sent ones when include_sent
 * (newest first). */
enum cm_status cm_store_outbox_list(struct cm_store *st, cm_time due_by,
    int include_sent, cm_outbox_fn fn, void *arg, struct cm_err *err);

/* Marks message id sent at `at` with the server's reply. */
enum cm_status cm_store_outbox_sent(struct cm_store *st, int64_t id,
    cm_time at, const char *reply, struct cm_err *err);

/* Records a failed attempt: attempts + 1, next attempt, error and reply;
 * state becomes "failed" when final, else stays "pending". */
enum cm_status cm_store_outbox_failed(struct cm_store *st, int64_t id,
    cm_time next_attempt_at, const char *error, const char *reply,
    int final, struct cm_err *err);

/* Counts unsent messages (pending and failed). */
enum cm_status cm_store_outbox_depth(struct cm_store *st, int64_t *pending,
    int64_t *failed, struct cm_err *err);

/* ---- API tokens and statistics --------------------------------------------- */

/* Adds an API token: its name (1-64 of [A-Za-z0-9._-]) and the SHA-256 hex
 * of its secret (never the secret itself). */
enum cm_status cm_store_token_add(struct cm_store *st, const char *name,
    const char *sha256_hex, const char *actor, cm_time now,
    struct cm_err *err);

/* Removes an API token by name. */
enum cm_status cm_store_token_remove(struct cm_store *st, const char *name,
    const char *actor, cm_time now, struct cm_err *err);

/* Looks up a token by the SHA-256 hex of its secret: CM_OK and its name
 * (name_len bytes) when known, CM_ERR_NOTFOUND otherwise. */
enum cm_status cm_store_token_find(struct cm_store *st,
    const char *sha256_hex, char *name, size_t name_len, struct cm_err *err);

typedef int (*cm_token_fn)(const char *name, cm_time created_at, void *arg);

/* Lists token names. */
enum cm_status cm_store_token_list(struct cm_store *st, cm_token_fn fn,
    void *arg, struct cm_err *err);

/* One group of current certificates for the metrics. */
struct cm_cert_stat {
	const char *unit;
	enum cm_expiry_state state;
	const char *revocation;
	int64_t count;
};

typedef int (*cm_cert_stat_fn)(const struct cm_cert_stat *s, void *arg);

/* Counts current certificates by unit x state (at now, with Notification
 * Start Time start_days) x revocation status. */
enum cm_status cm_store_cert_stats(struct cm_store *st, cm_time now,
    int start_days, cm_cert_stat_fn fn, void *arg, struct cm_err *err);

/* Sets *at to the earliest next attempt of an unsent message (0 = none). */
enum cm_status cm_store_outbox_next(struct cm_store *st, cm_time *at,
    struct cm_err *err);

/* ---- revocation answers and the CRL cache ---------------------------------- */

#define CM_REV_SOURCE_MAX 8
#define CM_REV_RESPONDER_MAX 512
#define CM_CRL_NUMBER_MAX 64

/* The last revocation answer about a certificate (one per fingerprint,
 * whatever units hold it). Strings come from untrusted answers: escape
 * them for where they go. */
struct cm_rev_record {
	enum cm_rev_status status;
	char source[CM_REV_SOURCE_MAX];   /* "ocsp" or "crl" */
	cm_time checked_at;
	char reason[CM_ERR_MSG_MAX];      /* one line */
	cm_time this_update;              /* 0 = none (error) */
	cm_time next_update;              /* 0 = absent */
	cm_time produced_at;              /* OCSP only, else 0 */
	cm_time revocation_time;          /* revoked only */
	char revocation_reason[32];       /* RFC 5280 name, "" = none */
	cm_time cache_until;              /* reusable until; 0 = not cached */
	cm_time next_check;               /* when a periodic run checks again */
	char trust_model[24];             /* "delegated", "trusted-responder",
					   * "crl", "" */
	char responder[CM_REV_RESPONDER_MAX];   /* accepted OCSP signer or CRL
					   * issuer, "" */
};

/* What cm_store_revocation_put did with a new answer. */
enum cm_rev_keep {
	CM_REV_REPLACED = 0,     /* the new answer is now the record */
	CM_REV_KEPT_NEWER,       /* kept: the stored answer is newer */
	CM_REV_KEPT_REVOKED      /* kept: revoked is only replaced by a newer
				  * revoked answer, or after certificateHold
				  * by a newer valid answer */
};

/* The rules of DESIGN.md for a new answer `nw` against the stored `old`
 * (NULL = none): an older answer (earlier thisUpdate, then earlier
 * producedAt) never replaces a newer one; good (or unknown) never replaces
 * revoked unless its reason was certificateHold; an error (no valid answer)
 * never replaces revoked, and replaces anything else. Pure. */
enum cm_rev_keep cm_rev_record_keep(const struct cm_rev_record *old,
    const struct cm_rev_record *nw);

/* Called by cm_store_revocation_scan for each row; rec is the stored
 * answer, NULL when there is none. Non-zero stops the scan. */
typedef int (*cm_rev_scan_fn)(const struct cm_cert_row *row,
    const struct cm_rev_record *rec, void *arg);

/* Calls fn for every (unit, current certificate) row, in no particular
 * order, without the DER but with the OCSP URLs, and with the
 * certificate's stored answer: what a revocation run reads, in one
 * statement. */
enum cm_status cm_store_revocation_scan(struct cm_store *st,
    cm_rev_scan_fn fn, void *arg, struct cm_err *err);

/* Reads the DER of the certificate with fingerprint fp (full lower-case
 * hex) into *der (newly allocated, *len bytes); CM_ERR_NOTFOUND when
 * there is none. */
enum cm_status cm_store_cert_der(struct cm_store *st, const char *fp,
    unsigned char **der, size_t *len, struct cm_err *err);

/* Reads the record of the certificate with fingerprint fp (full lower-case
 * hex); *found is 0 (and *out zeroed) when there is none. */
enum cm_status cm_store_revocation_get(struct cm_store *st, const char *fp,
    struct cm_rev_record *out, int *found, struct cm_err *err);

/* Stores rec as the record of fp under cm_rev_record_keep; when the old
 * record is kept, only its checked_at and next_check are updated. *kept
 * (may be NULL) says which. CM_ERR_NOTFOUND when no stored certificate has
 * that fingerprint (then nothing was written and the caller's transaction
 * stays usable). Joins the caller's transaction, if any. */
enum cm_status cm_store_revocation_put(struct cm_store *st, const char *fp,
    const struct cm_rev_record *rec, enum cm_rev_keep *kept,
    struct cm_err *err);

/* A CRL in the cache: keyed by the URL it came from and the SHA-256
 * fingerprint of the issuer certificate that verified it. */
struct cm_crl_cache_entry {
	unsigned char *der;               /* malloc'ed by cm_store_crl_get */
	size_t der_len;
	cm_time this_update;
	cm_time next_update;              /* 0 = absent */
	cm_time fetched_at;
	char crl_number[CM_CRL_NUMBER_MAX];   /* upper-case hex, "" = none */
};

/* Reads the cached CRL of (url, issuer_fp); *found 0 when none. On success
 * with *found, out->der is owned by the caller (free()). */
enum cm_status cm_store_crl_get(struct cm_store *st, const char *url,
    const char *issuer_fp, struct cm_crl_cache_entry *out, int *found,
    struct cm_err *err);

/* Stores (replaces) the cached CRL of (url, issuer_fp). */
enum cm_status cm_store_crl_put(struct cm_store *st, const char *url,
    const char *issuer_fp, const struct cm_crl_cache_entry *e,
    struct cm_err *err);

/* Calls fn (DER included) for each current row whose certificate's subject
 * is exactly `subject` (RFC 2253 text, as cm_cert.subject): the candidate
 * issuers of a certificate. */
enum cm_status cm_store_cert_by_subject(struct cm_store *st,
    const char *subject, cm_cert_row_fn fn, void *arg, struct cm_err *err);

/* ---- long-lived connections (endpoints) ------------------------------------ */

#define CM_ENDPOINT_HOST_MAX 253

/* A long-lived connection (CTI, IPsec, LDAP peer) and its last check.
 * Strings from the peer's certificate are untrusted: escape them. */
struct cm_endpoint {
	char name[CM_UNIT_NAME_MAX + 1];        /* 1-64 of [A-Za-z0-9._-] */
	char host[CM_ENDPOINT_HOST_MAX + 1];    /* name or address literal */
	int port;                               /* 1-65535 */
	char starttls[8];                       /* "", "smtp" or "ldap" */
	char trust_unit[CM_UNIT_NAME_MAX + 1];  /* "" = the system's store */
	cm_time added_at;
	cm_time checked_at;                     /* last check, 0 = never */
	cm_time next_check;                     /* as planned at the last
						 * check, 0 = none */
	char verdict[12];                       /* "unchecked", "pass",
						 * "warn", "fail" */
	char reason[CM_ERR_MSG_MAX];            /* one line, "" = none */
	char status[12];                        /* revocation status of the
						 * leaf ("good", ...), "" */
	cm_time changed_at;                     /* last verdict change */
	char leaf_subject[1024];                /* "" = no certificate */
	char leaf_cn[256];
	char leaf_fingerprint[CM_FP_HEX_LEN];   /* SHA-256 hex */
	cm_time leaf_not_after;
};

typedef int (*cm_endpoint_fn)(const struct cm_endpoint *ep, void *arg);

/* Adds endpoint ep (its name, host, port, starttls, trust_unit; the rest
 * is ignored: unchecked, added at now), with an audit event. Refuses an
 * invalid name, an empty host or one with spaces or control characters, a
 * port outside 1-65535, a STARTTLS other than smtp/ldap (CM_ERR_INVALID),
 * a trust unit that does not exist (CM_ERR_NOTFOUND) and a name in use
 * (CM_ERR_CONFLICT); nothing is written then. */
enum cm_status cm_store_endpoint_add(struct cm_store *st,
    const struct cm_endpoint *ep, const char *actor, cm_time now,
    struct cm_err *err);

/* Removes the endpoint `name`, with an audit event; CM_ERR_NOTFOUND when
 * there is none. */
enum cm_status cm_store_endpoint_remove(struct cm_store *st,
    const char *name, const char *actor, cm_time now, struct cm_err *err);

/* Reads endpoint `name` into *out (CM_ERR_NOTFOUND when none); with
 * chain_pem not NULL, *chain_pem receives the peer's recorded chain (PEM,
 * leaf first; NULL when none), owned by the caller (free()). */
enum cm_status cm_store_endpoint_get(struct cm_store *st, const char *name,
    struct cm_endpoint *out, char **chain_pem, struct cm_err *err);

/* Calls fn for each endpoint by name (stop early: return non-zero). */
enum cm_status cm_store_endpoint_list(struct cm_store *st, cm_endpoint_fn fn,
    void *arg, struct cm_err *err);

/* Records a check of ep->name: checked_at, next_check, verdict, reason,
 * status, changed_at, the leaf fields and chain_pem (NULL = none).
 * CM_ERR_NOTFOUND when the endpoint is gone. Joins the caller's
 * transaction, if any. */
enum cm_status cm_store_endpoint_put_check(struct cm_store *st,
    const struct cm_endpoint *ep, const char *chain_pem, struct cm_err *err);

#endif
