/*
 * store.c - the certificate store on SQLite (WAL). The only file that
 * includes sqlite3.h: schema, migrations, statements, transactions.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "certmon/store.h"

#define BUSY_TIMEOUT_MS 15000

/* Statements prepared once per connection, on first use. */
enum stmt_id {
	ST_CERT_ID,
	ST_CERT_INSERT,
	ST_DER_INSERT,
	ST_ROW_EXISTS,
	ST_SAME_NAME,
	ST_ROW_REPLACE,
	ST_ROW_INSERT,
	ST_EVENT_INSERT,
	ST_UNIT_GET,
	ST_UNIT_KIND,
	ST_SETTING_GET,
	ST_SETTING_SET,
	ST_REV_GET,
	ST_DER_GET,
	ST_REV_TOUCH,
	ST_REV_PUT,
	ST__COUNT
};

/* The columns of a revocation record (rev_from_stmt reads them). */
#define REV_COLUMNS \
	"r.status, r.source, r.checked_at, r.reason, r.this_update," \
	" r.next_update, r.produced_at, r.revocation_time, r.revocation_reason," \
	" r.cache_until, r.next_check, r.trust_model, r.responder"

static const char *const stmt_sql[ST__COUNT] = {
	[ST_CERT_ID] = "SELECT id FROM certs WHERE fingerprint = ?1",
	[ST_CERT_INSERT] =
	    "INSERT INTO certs (fingerprint, subject, issuer, subject_cn,"
	    " issuer_cn, serial, not_before, not_after, key_type, key_bits,"
	    " sig_alg, is_ca, ocsp_urls)"
	    " VALUES (?1,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14)",
	[ST_DER_INSERT] = "INSERT INTO cert_der (cert_id, der) VALUES (?1, ?2)",
	[ST_ROW_EXISTS] =
	    "SELECT 1 FROM unit_certs WHERE unit = ?1 AND cert_id = ?2",
	[ST_SAME_NAME] =
	    "SELECT c.id, c.fingerprint, c.serial, c.not_before"
	    " FROM certs c JOIN unit_certs u ON u.cert_id = c.id"
	    " WHERE u.unit = ?1 AND u.replaced_at IS NULL"
	    " AND c.subject_cn = ?2 AND c.issuer = ?3"
	    " AND (?2 <> '' OR c.subject = ?4)",
	[ST_ROW_REPLACE] =
	    "UPDATE unit_certs SET replaced_at = ?3, replaced_by = ?4"
	    " WHERE unit = ?1 AND cert_id = ?2",
	[ST_ROW_INSERT] =
	    "INSERT INTO unit_certs (unit, cert_id, added_at, ocsp_responder)"
	    " VALUES (?1, ?2, ?3, ?4)",
	[ST_EVENT_INSERT] =
	    "INSERT INTO events (at, kind, name, actor, unit, fingerprint,"
	    " message) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[ST_UNIT_GET] =
	    "SELECT n.name, n.kind, n.created_at,"
	    " (SELECT count(*) FROM unit_certs u WHERE u.unit = n.name"
	    "  AND u.replaced_at IS NULL),"
	    " (SELECT count(*) FROM unit_certs u WHERE u.unit = n.name"
	    "  AND u.replaced_at IS NOT NULL)"
	    " FROM units n WHERE n.name = ?1",
	[ST_UNIT_KIND] = "SELECT kind FROM units WHERE name = ?1",
	[ST_SETTING_GET] = "SELECT value FROM settings WHERE key = ?1",
	[ST_SETTING_SET] =
	    "INSERT INTO settings (key, value, updated_at) VALUES (?1, ?2, ?3)"
	    " ON CONFLICT (key) DO UPDATE SET value = excluded.value,"
	    " updated_at = excluded.updated_at",
	[ST_REV_GET] =
	    "SELECT " REV_COLUMNS
	    " FROM revocation r JOIN certs c ON c.id = r.cert_id"
	    " WHERE c.fingerprint = ?1",
	[ST_DER_GET] =
	    "SELECT d.der FROM cert_der d JOIN certs c ON c.id = d.cert_id"
	    " WHERE c.fingerprint = ?1",
	[ST_REV_TOUCH] =
	    "UPDATE revocation SET checked_at ="
	    " ?2, next_check = ?3 WHERE cert_id = (SELECT id FROM certs"
	    " WHERE fingerprint = ?1)",
	[ST_REV_PUT] =
	    "INSERT INTO revocation (cert_id,"
	    " status, checked_at, reason, source, this_update, next_update,"
	    " produced_at, revocation_time, revocation_reason, cache_until,"
	    " next_check, trust_model, responder)"
	    " SELECT id, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,"
	    " ?14 FROM certs WHERE fingerprint = ?1"
	    " ON CONFLICT (cert_id) DO UPDATE SET status = excluded.status,"
	    " checked_at = excluded.checked_at, reason = excluded.reason,"
	    " source = excluded.source, this_update = excluded.this_update,"
	    " next_update = excluded.next_update,"
	    " produced_at = excluded.produced_at,"
	    " revocation_time = excluded.revocation_time,"
	    " revocation_reason = excluded.revocation_reason,"
	    " cache_until = excluded.cache_until,"
	    " next_check = excluded.next_check,"
	    " trust_model = excluded.trust_model,"
	    " responder = excluded.responder",
};

struct cm_store {
	sqlite3 *db;
	char *path;
	int txn_depth;
	int txn_failed;
	sqlite3_stmt *stmt[ST__COUNT];
};

/*
 * Schema migrations: migrations[i] brings a store from version i to i + 1.
 * Append only; never edit a released step.
 */
static const char *const migrations[] = {
	/* 0 -> 1: the foundation */
	"CREATE TABLE meta ("
	"  key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE units ("
	"  name TEXT PRIMARY KEY,"
	"  kind TEXT NOT NULL CHECK (kind IN ('identity', 'trust', 'lsc')),"
	"  created_at INTEGER NOT NULL);"
	"CREATE TABLE certs ("
	"  id INTEGER PRIMARY KEY,"
	"  fingerprint TEXT NOT NULL UNIQUE,"
	"  subject TEXT NOT NULL, issuer TEXT NOT NULL,"
	"  subject_cn TEXT NOT NULL, issuer_cn TEXT NOT NULL,"
	"  serial TEXT NOT NULL,"
	"  not_before INTEGER NOT NULL, not_after INTEGER NOT NULL,"
	"  key_type TEXT NOT NULL, key_bits INTEGER NOT NULL,"
	"  sig_alg TEXT NOT NULL, is_ca INTEGER NOT NULL);"
	/* the DER in a table of its own: listings read only the small rows
	 * of certs, many to a page */
	"CREATE TABLE cert_der ("
	"  cert_id INTEGER PRIMARY KEY REFERENCES certs (id) ON DELETE CASCADE,"
	"  der BLOB NOT NULL);"
	"CREATE INDEX certs_not_after ON certs (not_after);"
	"CREATE INDEX certs_name ON certs (subject_cn, issuer);"
	"CREATE TABLE unit_certs ("
	"  unit TEXT NOT NULL REFERENCES units (name) ON DELETE CASCADE,"
	"  cert_id INTEGER NOT NULL REFERENCES certs (id),"
	"  added_at INTEGER NOT NULL,"
	"  replaced_at INTEGER,"
	"  replaced_by TEXT,"
	"  ocsp_responder INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (unit, cert_id));"
	"CREATE INDEX unit_certs_cert ON unit_certs (cert_id);"
	"CREATE TABLE revocation ("
	"  cert_id INTEGER PRIMARY KEY REFERENCES certs (id) ON DELETE CASCADE,"
	"  status TEXT NOT NULL,"
	"  checked_at INTEGER NOT NULL,"
	"  reason TEXT);"
	"CREATE TABLE events ("
	"  id INTEGER PRIMARY KEY,"
	"  at INTEGER NOT NULL,"
	"  kind TEXT NOT NULL,"
	"  name TEXT NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  unit TEXT, fingerprint TEXT,"
	"  message TEXT NOT NULL);"
	"CREATE INDEX events_fingerprint ON events (fingerprint);"
	"CREATE TABLE settings ("
	"  key TEXT PRIMARY KEY, value TEXT NOT NULL,"
	"  updated_at INTEGER NOT NULL);",

	/* 1 -> 2: the Certificate Expiry Monitor: notices and alarms per row,
	 * the services' schedule, the mail outbox */
	"ALTER TABLE unit_certs ADD COLUMN notified_at INTEGER;"
	"ALTER TABLE unit_certs ADD COLUMN notified_state TEXT;"
	"ALTER TABLE unit_certs ADD COLUMN alarm_state TEXT;"
	"CREATE TABLE services ("
	"  name TEXT PRIMARY KEY,"
	"  running INTEGER NOT NULL DEFAULT 1,"
	"  started_at INTEGER NOT NULL,"
	"  last_run INTEGER,"
	"  last_duration_ms INTEGER,"
	"  next_run INTEGER,"
	"  last_result TEXT);"
	"INSERT INTO services (name, started_at)"
	"  SELECT 'expiry-monitor', CAST(value AS INTEGER) FROM meta"
	"  WHERE key = 'created_at';"
	"INSERT INTO services (name, started_at)"
	"  SELECT 'revocation-check', CAST(value AS INTEGER) FROM meta"
	"  WHERE key = 'created_at';"
	"CREATE TABLE outbox ("
	"  id INTEGER PRIMARY KEY,"
	"  message_id TEXT NOT NULL UNIQUE,"
	"  created_at INTEGER NOT NULL,"
	"  recipients TEXT NOT NULL,"
	"  subject TEXT NOT NULL,"
	"  message BLOB NOT NULL,"
	"  state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  next_attempt_at INTEGER NOT NULL,"
	"  last_error TEXT,"
	"  last_reply TEXT,"
	"  sent_at INTEGER);"
	"CREATE INDEX outbox_due ON outbox (state, next_attempt_at);",

	/* 2 -> 3: API tokens (the SHA-256 of each secret) */
	"CREATE TABLE api_tokens ("
	"  name TEXT PRIMARY KEY,"
	"  sha256 TEXT NOT NULL UNIQUE,"
	"  created_at INTEGER NOT NULL);",

	/* 3 -> 4: the Certificate Revocation service: the whole last answer
	 * per certificate, and the CRL cache */
	"ALTER TABLE revocation ADD COLUMN source TEXT;"
	"ALTER TABLE revocation ADD COLUMN this_update INTEGER;"
	"ALTER TABLE revocation ADD COLUMN next_update INTEGER;"
	"ALTER TABLE revocation ADD COLUMN produced_at INTEGER;"
	"ALTER TABLE revocation ADD COLUMN revocation_time INTEGER;"
	"ALTER TABLE revocation ADD COLUMN revocation_reason TEXT;"
	"ALTER TABLE revocation ADD COLUMN cache_until INTEGER;"
	"ALTER TABLE revocation ADD COLUMN next_check INTEGER;"
	"ALTER TABLE revocation ADD COLUMN trust_model TEXT;"
	"ALTER TABLE revocation ADD COLUMN responder TEXT;"
	"CREATE TABLE crl_cache ("
	"  url TEXT NOT NULL,"
	"  issuer_fp TEXT NOT NULL,"
	"  der BLOB NOT NULL,"
	"  this_update INTEGER NOT NULL,"
	"  next_update INTEGER,"
	"  crl_number TEXT,"
	"  fetched_at INTEGER NOT NULL,"
	"  PRIMARY KEY (url, issuer_fp));",

	/* 4 -> 5: long-lived connections (endpoints) and their last check */
	"CREATE TABLE endpoints ("
	"  name TEXT PRIMARY KEY,"
	"  host TEXT NOT NULL,"
	"  port INTEGER NOT NULL,"
	"  starttls TEXT,"
	"  trust_unit TEXT,"
	"  added_at INTEGER NOT NULL,"
	"  checked_at INTEGER,"
	"  next_check INTEGER,"
	"  verdict TEXT NOT NULL DEFAULT 'unchecked' CHECK (verdict IN"
	"    ('unchecked', 'pass', 'warn', 'fail')),"
	"  reason TEXT,"
	"  status TEXT,"
	"  changed_at INTEGER,"
	"  leaf_subject TEXT, leaf_cn TEXT, leaf_fingerprint TEXT,"
	"  leaf_not_after INTEGER,"
	"  chain_pem TEXT);",

	/* 5 -> 6: each certificate's AIA OCSP URLs, one per line, so that a
	 * revocation run needs no parse to know where to ask (NULL for the
	 * certificates stored before: their DER is parsed instead) */
	"ALTER TABLE certs ADD COLUMN ocsp_urls TEXT;",
};
#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

static const struct {
	const char *name;
	enum cm_unit_kind kind;
} seed_units[] = {
	{"tomcat", CM_UNIT_IDENTITY}, {"tomcat-ECDSA", CM_UNIT_IDENTITY},
	{"CallManager", CM_UNIT_IDENTITY}, {"CallManager-ECDSA", CM_UNIT_IDENTITY},
	{"ipsec", CM_UNIT_IDENTITY}, {"CAPF", CM_UNIT_IDENTITY},
	{"TVS", CM_UNIT_IDENTITY}, {"ITLRecovery", CM_UNIT_IDENTITY},
	{"tomcat-trust", CM_UNIT_TRUST}, {"CallManager-trust", CM_UNIT_TRUST},
	{"CAPF-trust", CM_UNIT_TRUST}, {"ipsec-trust", CM_UNIT_TRUST},
	{"TVS-trust", CM_UNIT_TRUST}, {"Phone-trust", CM_UNIT_TRUST},
	{"lsc", CM_UNIT_LSC},
};

/* ---- small helpers ---------------------------------------------------- */

/* Returns 1 when path lies on a file system mounted read-only. */
static int
on_read_only_fs(const char *path)
{
	struct statvfs sv;

	return statvfs(path, &sv) == 0 && (sv.f_flag & ST_RDONLY) != 0;
}

static enum cm_status
db_error(struct cm_store *st, struct cm_err *err, const char *what)
{
	int code = sqlite3_extended_errcode(st->db);

	if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
		return cm_err_set(err, CM_ERR_STORE, "%s: %s: the store is "
		    "busy (another process holds the write lock)", st->path, what);
	if ((code & 0xff) == SQLITE_FULL)
		return cm_err_set(err, CM_ERR_IO, "%s: %s: disk full", st->path,
		    what);
	if ((code & 0xff) == SQLITE_READONLY || ((code & 0xff) ==
	    SQLITE_CANTOPEN && on_read_only_fs(st->path)))
		return cm_err_set(err, CM_ERR_IO, "%s: %s: the store is read-only "
		    "(read-only file or file system)", st->path, what);
	return cm_err_set(err, CM_ERR_STORE, "%s: %s: %s", st->path, what,
	    sqlite3_errmsg(st->db));
}

/* Returns the cached statement id, reset and unbound, or NULL. */
static sqlite3_stmt *
stmt(struct cm_store *st, enum stmt_id id, struct cm_err *err)
{
	if (st->stmt[id] == NULL) {
		if (sqlite3_prepare_v3(st->db, stmt_sql[id], -1,
		    SQLITE_PREPARE_PERSISTENT, &st->stmt[id], NULL) != SQLITE_OK) {
			db_error(st, err, "preparing a statement");
			return NULL;
		}
	} else {
		sqlite3_reset(st->stmt[id]);
		sqlite3_clear_bindings(st->stmt[id]);
	}
	return st->stmt[id];
}

static void
bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v == NULL)
		sqlite3_bind_null(s, i);
	else
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

static const char *
col_text(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return t != NULL ? (const char *)t : "";
}

static const char *
col_text_or_null(sqlite3_stmt *s, int i)
{
	return (const char *)sqlite3_column_text(s, i);
}

static enum cm_status
exec(struct cm_store *st, const char *sql, struct cm_err *err)
{
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_error(st, err, "running SQL");
	return CM_OK;
}

/* ---- transactions ------------------------------------------------------ */

enum cm_status
cm_store_begin(struct cm_store *st, struct cm_err *err)
{
	if (st->txn_depth++ > 0)
		return CM_OK;
	st->txn_failed = 0;
	if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		st->txn_depth = 0;
		return db_error(st, err, "starting a transaction");
	}
	return CM_OK;
}

enum cm_status
cm_store_commit(struct cm_store *st, struct cm_err *err)
{
	if (st->txn_depth == 0)
		return cm_err_set(err, CM_ERR_INTERNAL, "commit without begin");
	if (--st->txn_depth > 0)
		return CM_OK;
	if (st->txn_failed) {
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		return cm_err_set(err, CM_ERR_STORE, "%s: transaction rolled "
		    "back after an earlier failure", st->path);
	}
	if (sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		enum cm_status rc = db_error(st, err, "committing");

		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		return rc;
	}
	return CM_OK;
}

void
cm_store_rollback(struct cm_store *st)
{
	if (st == NULL || st->txn_depth == 0)
		return;
	if (--st->txn_depth > 0) {
		st->txn_failed = 1;  /* the outermost commit rolls back */
		return;
	}
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

/* ---- open, migrate, close ---------------------------------------------- */

static enum cm_status
add_event(struct cm_store *st, cm_time at, const char *kind,
    const char *name, const char *actor, const char *unit, const char *fp,
    const char *message, struct cm_err *err)
{
	sqlite3_stmt *s = stmt(st, ST_EVENT_INSERT, err);

	if (s == NULL)
		return CM_ERR_STORE;
	sqlite3_bind_int64(s, 1, at);
	bind_text(s, 2, kind);
	bind_text(s, 3, name);
	bind_text(s, 4, actor != NULL ? actor : "unknown");
	bind_text(s, 5, unit);
	bind_text(s, 6, fp);
	bind_text(s, 7, message);
	if (sqlite3_step(s) != SQLITE_DONE)
		return db_error(st, err, "writing an event");
	return CM_OK;
}

static enum cm_status
seed(struct cm_store *st, cm_time now, struct cm_err *err)
{
	sqlite3_stmt *s = NULL;
	char created[32];
	enum cm_status rc = CM_OK;

	if (sqlite3_prepare_v2(st->db, "INSERT INTO units (name, kind, "
	    "created_at) VALUES (?1, ?2, ?3)", -1, &s, NULL) != SQLITE_OK) {
		rc = db_error(st, err, "seeding units");
		goto out;
	}
	for (size_t i = 0; i < sizeof(seed_units) / sizeof(seed_units[0]); i++) {
		sqlite3_reset(s);
		bind_text(s, 1, seed_units[i].name);
		bind_text(s, 2, cm_unit_kind_name(seed_units[i].kind));
		sqlite3_bind_int64(s, 3, now);
		if (sqlite3_step(s) != SQLITE_DONE) {
			rc = db_error(st, err, "seeding units");
			goto out;
		}
	}
	sqlite3_finalize(s);
	s = NULL;
	if (sqlite3_prepare_v2(st->db, "INSERT INTO meta (key, value) VALUES "
	    "('created_at', ?1)", -1, &s, NULL) != SQLITE_OK) {
		rc = db_error(st, err, "seeding meta");
		goto out;
	}
	snprintf(created, sizeof(created), "%" PRId64, now);
	bind_text(s, 1, created);
	if (sqlite3_step(s) != SQLITE_DONE) {
		rc = db_error(st, err, "seeding meta");
		goto out;
	}
	rc = add_event(st, now, "audit", "store.created", "certmon", NULL, NULL,
	    "store created with the standard units", err);
out:
	sqlite3_finalize(s);
	return rc;
}

static int
user_version(struct cm_store *st)
{
	sqlite3_stmt *s = NULL;
	int v = -1;

	if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL) ==
	    SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return v;
}

static enum cm_status
migrate(struct cm_store *st, cm_time now, struct cm_err *err)
{
	char sql[64];
	enum cm_status rc;
	int v;

	if (user_version(st) == SCHEMA_VERSION)
		return CM_OK;
	if ((rc = cm_store_begin(st, err)) != CM_OK)
		return rc;
	v = user_version(st);  /* again, now that we hold the write lock */
	if (v < 0 || v > SCHEMA_VERSION) {
		cm_store_rollback(st);
		if (v < 0)
			return db_error(st, err, "reading the schema version");
		return cm_err_set(err, CM_ERR_STORE, "%s: store schema version %d "
		    "is newer than this certmon knows (%d)", st->path, v,
		    SCHEMA_VERSION);
	}
	for (int i = v; i < SCHEMA_VERSION; i++) {
		if ((rc = exec(st, migrations[i], err)) != CM_OK)
			goto fail;
		if (i == 0 && (rc = seed(st, now, err)) != CM_OK)
			goto fail;
	}
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", SCHEMA_VERSION);
	if ((rc = exec(st, sql, err)) != CM_OK)
		goto fail;
	return cm_store_commit(st, err);
fail:
	cm_store_rollback(st);
	cm_err_prefix(err, "migrating the store");
	return rc;
}

/* Switches to WAL. Changing the journal mode needs an exclusive lock and
 * SQLite's busy handler does not wait for it, so two processes creating a
 * store at once retry here for up to the busy timeout. */
static enum cm_status
enable_wal(struct cm_store *st, struct cm_err *err)
{
	const struct timespec pause = {0, 10 * 1000 * 1000};
	enum cm_status rc = CM_OK;

	for (int waited = 0; waited < BUSY_TIMEOUT_MS; waited += 10) {
		if ((rc = exec(st, "PRAGMA journal_mode = WAL", err)) == CM_OK)
			return CM_OK;
		if ((sqlite3_extended_errcode(st->db) & 0xff) != SQLITE_BUSY)
			return rc;
		nanosleep(&pause, NULL);
	}
	return rc;
}

enum cm_status
cm_store_open(const char *path, cm_time now, struct cm_store **out,
    struct cm_err *err)
{
	struct cm_store *st = NULL;
	enum cm_status rc = CM_OK;
	int fd;

	*out = NULL;
	if ((st = calloc(1, sizeof(*st))) == NULL ||
	    (st->path = strdup(path)) == NULL) {
		rc = cm_err_set(err, CM_ERR_NOMEM, "out of memory");
		goto out;
	}
	/* Create a new store readable by its owner only (SQLite gives the
	 * -wal and -shm files the same permissions). */
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 && errno != EACCES && errno != EROFS) {
		rc = cm_err_set(err, CM_ERR_IO, "%s: cannot open the store: %s",
		    path, strerror(errno));
		goto out;
	}
	if (fd >= 0)
		close(fd);
	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
		rc = cm_err_set(err, CM_ERR_STORE, "%s: cannot open the store: %s",
		    path, st->db != NULL ? sqlite3_errmsg(st->db) : "out of memory");
		goto out;
	}
	sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
	sqlite3_extended_result_codes(st->db, 1);
	if ((rc = enable_wal(st, err)) != CM_OK ||
	    (rc = exec(st, "PRAGMA synchronous = FULL", err)) != CM_OK ||
	    (rc = exec(st, "PRAGMA temp_store = MEMORY", err)) != CM_OK ||
	    /* up to 32 MiB of pages: a listing of 100,000 certificates reads
	     * the certs table once, not once per cache eviction */
	    (rc = exec(st, "PRAGMA cache_size = -32768", err)) != CM_OK ||
	    (rc = exec(st, "PRAGMA foreign_keys = ON", err)) != CM_OK)
		goto out;
	if ((rc = migrate(st, now, err)) != CM_OK)
		goto out;
	*out = st;
	st = NULL;
out:
	cm_store_close(st);
	return rc;
}

void
cm_store_close(struct cm_store *st)
{
	if (st == NULL)
		return;
	for (int i = 0; i < ST__COUNT; i++)
		sqlite3_finalize(st->stmt[i]);
	sqlite3_close(st->db);
	free(st->path);
	free(st);
}

int
cm_store_schema_version(struct cm_store *st)
{
	return user_version(st);
}

int64_t
cm_store_data_version(struct cm_store *st)
{
	sqlite3_stmt *s = NULL;
	int64_t v = -1;

	if (sqlite3_prepare_v2(st->db, "PRAGMA data_version", -1, &s, NULL) ==
	    SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

/* ---- units ------------------------------------------------------------- */

enum cm_unit_kind
cm_unit_kind_for_name(const char *name)
{
	size_t n = strlen(name);

	if (n >= 6 && strcmp(name + n - 6, "-trust") == 0)
		return CM_UNIT_TRUST;
	if (strcmp(name, "lsc") == 0)
		return CM_UNIT_LSC;
	return CM_UNIT_IDENTITY;
}

const char *
cm_unit_kind_name(enum cm_unit_kind kind)
{
	switch (kind) {
	case CM_UNIT_TRUST: return "trust";
	case CM_UNIT_LSC:   return "lsc";
	case CM_UNIT_IDENTITY:
	default:            return "identity";
	}
}

static enum cm_unit_kind
kind_from_text(const char *t)
{
	if (strcmp(t, "trust") == 0)
		return CM_UNIT_TRUST;
	if (strcmp(t, "lsc") == 0)
		return CM_UNIT_LSC;
	return CM_UNIT_IDENTITY;
}

static void
unit_from_row(sqlite3_stmt *s, struct cm_unit *u)
{
	memset(u, 0, sizeof(*u));
	snprintf(u->name, sizeof(u->name), "%s", col_text(s, 0));
	u->kind = kind_from_text(col_text(s, 1));
	u->created_at = sqlite3_column_int64(s, 2);
	u->n_current = sqlite3_column_int64(s, 3);
	u->n_history = sqlite3_column_int64(s, 4);
}

enum cm_status
cm_store_unit_get(struct cm_store *st, const char *name, struct cm_unit *out,
    struct cm_err *err)
{
	sqlite3_stmt *s = stmt(st, ST_UNIT_GET, err);
	int r;

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return CM_ERR_STORE;
	bind_text(s, 1, name);
	r = sqlite3_step(s);
	if (r == SQLITE_ROW) {
		unit_from_row(s, out);
		sqlite3_reset(s);
		return CM_OK;
	}
	if (r != SQLITE_DONE)
		return db_error(st, err, "reading a unit");
	return cm_err_set(err, CM_ERR_NOTFOUND, "unknown unit '%s' (see "
	    "`certmon unit list`)", name);
}

enum cm_status
cm_store_unit_list(struct cm_store *st, struct cm_unit **out, size_t *n,
    struct cm_err *err)
{
	sqlite3_stmt *s = NULL;
	struct cm_unit *v = NULL, *nv;
	size_t cnt = 0, cap = 0;
	enum cm_status rc = CM_OK;
	int r;

	*out = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(st->db,
	    "SELECT n.name, n.kind, n.created_at,"
	    " sum(u.cert_id IS NOT NULL AND u.replaced_at IS NULL),"
	    " sum(u.replaced_at IS NOT NULL)"
	    " FROM units n LEFT JOIN unit_certs u ON u.unit = n.name"
	    " GROUP BY n.name ORDER BY n.name COLLATE NOCASE", -1, &s, NULL) !=
	    SQLITE_OK) {
		rc = db_error(st, err, "listing units");
		goto out;
	}
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		if (cnt == cap) {
			cap = cap ? cap * 2 : 32;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL) {
				rc = cm_err_set(err, CM_ERR_NOMEM, "out of memory");
				goto out;
			}
			v = nv;
		}
		unit_from_row(s, &v[cnt++]);
	}
	if (r != SQLITE_DONE) {
		rc = db_error(st, err, "listing units");
		goto out;
	}
	*out = v;
	*n = cnt;
	v = NULL;
out:
	sqlite3_finalize(s);
	free(v);
	return rc;
}

static int
unit_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > CM_UNIT_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '.' &&
		    name[i] != '_' && name[i] != '-')
			return 0;
	return 1;
}

enum cm_status
cm_store_unit_add(struct cm_store *st, const char *name,
    enum cm_unit_kind kind, const char *actor, cm_time now,
    struct cm_err *err)
{
	sqlite3_stmt *s = NULL;
	struct cm_unit existing;
	char msg[160];
	enum cm_status rc;

	if (!unit_name_valid(name))
		return cm_err_set(err, CM_ERR_INVALID, "unit name '%.80s' is "
		    "invalid: use 1-%d of A-Z a-z 0-9 . _ -", name,
		    CM_UNIT_NAME_MAX);
	if (cm_unit_kind_for_name(name) == CM_UNIT_TRUST && kind != CM_UNIT_TRUST)
		return cm_err_set(err, CM_ERR_INVALID, "unit '%s': a name ending "
		    "in -trust is a trust unit", name);
	if ((rc = cm_store_begin(st, err)) != CM_OK)
		return rc;
	if (cm_store_unit_get(st, name, &existing, NULL) == CM_OK) {
		rc = cm_err_set(err, CM_ERR_CONFLICT, "unit '%s' exists already",
		    name);
		goto out;
	}
	if (sqlite3_prepare_v2(st->db, "INSERT INTO units (name, kind, "
	    "created_at) VALUES (?1, ?2, ?3)", -1, &s, NULL) != SQLITE_OK) {
		rc = db_error(st, err, "adding a unit");
		goto out;
	}
	bind_text(s, 1, name);
	bind_text(s, 2, cm_unit_kind_name(kind));
	sqlite3_bind_int64(s, 3, now);
	if (sqlite3_step(s) != SQLITE_DONE) {
		rc = db_error(st, err, "adding a unit");
		goto out;
	}
	snprintf(msg, sizeof(msg), "unit %s added (%s)", name,
	    cm_unit_kind_name(kind));
	rc = add_event(st, now, "audit", "unit.added", actor, name, NULL, msg,
	    err);
out:
	sqlite3_finalize(s);
	if (rc != CM_OK) {
		cm_store_rollback(st);
		return rc;
	}
	return cm_store_commit(st, err);
}

/* Deletes certificates that no unit holds any more. */
static enum cm_status
drop_orphans(struct cm_store *st, struct cm_err *err)
{
	return exec(st, "DELETE FROM certs WHERE NOT EXISTS (SELECT 1 FROM "
	    "unit_certs u WHERE u.cert_id = certs.id)", err);
}

enum cm_status
cm_store_unit_remove(struct cm_store *st, const char *name, int force,
    const char *actor, cm_time now, struct cm_err *err)
{
	sqlite3_stmt *s = NULL;
	struct cm_unit u;
	char msg[160];
	enum cm_status rc;

	if ((rc = cm_store_begin(st, err)) != CM_OK)
		return rc;
	if ((rc = cm_store_unit_get(st, name, &u, err)) != CM_OK)
		goto out;
	if (!force && u.n_current + u.n_history > 0) {
		rc = cm_err_set(err, CM_ERR_CONFLICT, "unit '%s' holds %" PRId64
		    " certificate(s); delete them first or use --force", name,
		    u.n_current + u.n_history);
		goto out;
	}
	if (sqlite3_prepare_v2(st->db, "DELETE FROM units WHERE name = ?1", -1,
	    &s, NULL) != SQLITE_OK) {
		rc = db_error(st, err, "removing a unit");
		goto out;
	}
	bind_text(s, 1, name);
	if (sqlite3_step(s) != SQLITE_DONE) {
		rc = db_error(st, err, "removing a unit");
		goto out;
	}
	if ((rc = drop_orphans(st, err)) != CM_OK)
		goto out;
	snprintf(msg, sizeof(msg), "unit %s removed with %" PRId64
	    " certificate(s)", name, u.n_current + u.n_history);
	rc = add_event(st, now, "audit", "unit.removed", actor, name, NULL, msg,
	    err);
out:
	sqlite3_finalize(s);
	if (rc != CM_OK) {
		cm_store_rollback(st);
		return rc;
	}
	return cm_store_commit(st, err);
}

/* ---- upload ------------------------------------------------------------ */

void
cm_upload_report_free(struct cm_upload_report *report)
{
	if (report == NULL)
		return;
	for (size_t i = 0; i < report->n; i++)
		free(report->v[i].subject_cn);
	free(report->v);
	report->v = NULL;
	report->n = 0;
}

/* The strings of l, one per line ("" when none), newly allocated, or
 * NULL when out of memory. */
static char *
lines_join(const struct cm_strlist *l)
{
	size_t len = 1, o = 0;
	char *r;

	for (size_t i = 0; i < l->n; i++)
		len += strlen(l->v[i]) + 1;
	if ((r = malloc(len)) == NULL)
		return NULL;
	r[0] = '\0';
	for (size_t i = 0; i < l->n; i++)
		o += (size_t)snprintf(r + o, len - o, "%s%s", i > 0 ? "\n" : "",
		    l->v[i]);
	return r;
}

/* Returns the id of cert in the certs table, inserting it when new. */
static enum cm_status
cert_id(struct cm_store *st, const struct cm_cert *c, int64_t *id,
    struct cm_err *err)
{
	sqlite3_stmt *s = stmt(st, ST_CERT_ID, err);
	char *urls;
	int r;

	if (s == NULL)
		return CM_ERR_STORE;
	bind_text(s, 1, c->fp_hex);
	if ((r = sqlite3_step(s)) == SQLITE_ROW) {
		*id = sqlite3_column_int64(s, 0);
		sqlite3_reset(s);
		return CM_OK;
	}
	if (r != SQLITE_DONE)
		return db_error(st, err, "looking up a certificate");
	if ((s = stmt(st, ST_CERT_INSERT, err)) == NULL)
		return CM_ERR_STORE;
	bind_text(s, 1, c->fp_hex);
	bind_text(s, 3, c->subject);
	bind_text(s, 4, c->issuer);
	bind_text(s, 5, c->subject_cn);
	bind_text(s, 6, c->issuer_cn);
	bind_text(s, 7, c->serial_hex);
	sqlite3_bind_int64(s, 8, c->not_before);
	sqlite3_bind_int64(s, 9, c->not_after);
	bind_text(s, 10, c->key_type);
	sqlite3_bind_int(s, 11, c->key_bits);
	bind_text(s, 12, c->sig_alg);
	sqlite3_bind_int(s, 13, c->is_ca);
	if ((urls = lines_join(&c->ocsp_urls)) == NULL)
		return cm_err_set(err, CM_ERR_NOMEM, "out of memory");
	sqlite3_bind_text(s, 14, urls, -1, free);
	if (sqlite3_step(s) != SQLITE_DONE)
		return db_error(st, err, "storing a certificate");
	*id = sqlite3_last_insert_rowid(st->db);
	if ((s = stmt(st, ST_DER_INSERT, err)) == NULL)
		return CM_ERR_STORE;
	sqlite3_bind_int64(s, 1, *id);
	sqlite3_bind_blob(s, 2, c->der, (int)c->der_len, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE)
		return db_error(st, err, "storing a certificate");
	return CM_OK;
}

/* Applies the identity-unit rule to c: newer notBefore replaces the current
 * certificate with the same subject CN (or subject) and issuer. Sets
 * replaced (the fingerprint replaced, or "") on success. */
static enum cm_status
replace_older(struct cm_store *st, const char *unit, const struct cm_cert *c,
    cm_time now, char replaced[CM_FP_HEX_LEN], struct cm_err *err)
{
	sqlite3_stmt *s = stmt(st, ST_SAME_NAME, err), *u;
	int64_t old_id = 0;
	int r;

	replaced[0] = '\0';
	if (s == NULL)
		return CM_ERR_STORE;
	bind_text(s, 1, unit);
	bind_text(s, 2, c->subject_cn);
	bind_text(s, 3, c->issuer);
	bind_text(s, 4, c->subject);
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		const char *fp = col_text(s, 1);
		const char *serial = col_text(s, 2);
		cm_time nb = sqlite3_column_int64(s, 3);
		char when[CM_TIME_TEXT_LEN], nwhen[CM_TIME_TEXT_LEN];

		if (strcmp(serial, c->serial_hex) == 0)
			return cm_err_set(err, CM_ERR_CONFLICT, "certificate %.16s "
			    "has the same issuer and serial %s as %.16s in unit %s "
			    "but different contents; refused", c->fp_hex, serial, fp,
			    unit);
		if (c->not_before <= nb)
			return cm_err_set(err, CM_ERR_CONFLICT, "certificate %.16s "
			    "(CN '%.64s', notBefore %s) is not newer than %.16s "
			    "(notBefore %s) already in identity unit %s; refused",
			    c->fp_hex, c->subject_cn,
			    cm_time_format(c->not_before, nwhen), fp,
			    cm_time_format(nb, when), unit);
		old_id = sqlite3_column_int64(s, 0);
		snprintf(replaced, CM_FP_HEX_LEN, "%s", fp);
	}
	if (r != SQLITE_DONE)
		return db_error(st, err, "looking up certificates by name");
	if (old_id == 0)
		return CM_OK;
	if ((u = stmt(st, ST_ROW_REPLACE, err)) == NULL)
		return CM_ERR_STORE;
	bind_text(u, 1, unit);
	sqlite3_bind_int64(u, 2, old_id);
	sqlite3_bind_int64(u, 3, now);
	bind_text(u, 4, c->fp_hex);
	if (sqlite3_step(u) != SQLITE_DONE)
		return db_error(st, err, "moving a certificate to history");
	return CM_OK;
}

/* Stores one certificate in unit; fills *item. */
static enum cm_status
upload_one(struct cm_store *st, const struct cm_unit *unit,
    const struct cm_cert *c, const struct cm_upload_opts *opts,
    const char *actor, cm_time now, struct cm_upload_item *item,
    struct cm_err *err)
{
	sqlite3_stmt *s;
	int64_t id = 0;
	char msg[400];
	enum cm_status rc;
	int r;

	memcpy(item->fingerprint, c->fp_hex, CM_FP_HEX_LEN);
	if ((item->subject_cn = strdup(c->subject_cn)) == NULL)
		return cm_err_set(err, CM_ERR_NOMEM, "out of memory");
	item->expired = c->not_after < now;
	if ((rc = cert_id(st, c, &id, err)) != CM_OK)
		return rc;
	if ((s = stmt(st, ST_ROW_EXISTS, err)) == NULL)
		return CM_ERR_STORE;
	bind_text(s, 1, unit->name);
	sqlite3_bind_int64(s, 2, id);
	if ((r = sqlite3_step(s)) == SQLITE_ROW) {
		sqlite3_reset(s);
		item->action = CM_UPLOAD_UNCHANGED;
		return CM_OK;
	}
	if (r != SQLITE_DONE)
		return db_error(st, err, "looking up a certificate in a unit");
	if (unit->kind != CM_UNIT_TRUST &&
	    (rc = replace_older(st, unit->name, c, now, item->replaced, err))
	    != CM_OK)
		return rc;
	item->action = item->replaced[0] ? CM_UPLOAD_REPLACED : CM_UPLOAD_ADDED;
	if ((s = stmt(st, ST_ROW_INSERT, err)) == NULL)
		return CM_ERR_STORE;
	bind_text(s, 1, unit->name);
	sqlite3_bind_int64(s, 2, id);
	sqlite3_bind_int64(s, 3, now);
	sqlite3_bind_int(s, 4, opts != NULL && opts->ocsp_responder);
	if (sqlite3_step(s) != SQLITE_DONE)
		return db_error(st, err, "adding a certificate to a unit");
	if (item->action == CM_UPLOAD_REPLACED)
		snprintf(msg, sizeof(msg), "certificate CN '%.80s' serial %.64s "
		    "uploaded, replacing %.16s%s", c->subject_cn, c->serial_hex,
		    item->replaced, item->expired ? " (expired)" : "");
	else
		snprintf(msg, sizeof(msg), "certificate CN '%.80s' serial %.64s "
		    "uploaded%s", c->subject_cn, c->serial_hex,
		    item->expired ? " (expired)" : "");
	return add_event(st, now, "audit", item->action == CM_UPLOAD_REPLACED ?
	    "cert.replaced" : "cert.added", actor, unit->name, c->fp_hex, msg,
	    err);
}

/* Fills the name and kind of unit `name` (not its counts: an upload of
 * many files asks this once per file). */
static enum cm_status
unit_kind(struct cm_store *st, const char *name, struct cm_unit *out,
    struct cm_err *err)
{
	sqlite3_stmt *s = stmt(st, ST_UNIT_KIND, err);
	int r;

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return CM_ERR_STORE;
	bind_text(s, 1, name);
	r = sqlite3_step(s);
	if (r == SQLITE_ROW) {
		snprintf(out->name, sizeof(out->name), "%s", name);
		out->kind = kind_from_text(col_text(s, 0));
		sqlite3_reset(s);
		return CM_OK;
	}
	if (r != SQLITE_DONE)
		return db_error(st, err, "reading a unit");
	return cm_err_set(err, CM_ERR_NOTFOUND, "unknown unit '%s' (see "
	    "`certmon unit list`)", name);
}

enum cm_status
cm_store_upload(struct cm_store *st, const char *unit_name,
    const struct cm_cert_list *certs, const struct cm_upload_opts *opts,
    const char *actor, cm_time now, struct cm_upload_report *report,
    struct cm_err *err)
{
	struct cm_upload_report rep = {NULL, 0};
	struct cm_unit unit;
	enum cm_status rc;

	memset(report, 0, sizeof(*report));
	if (certs->n == 0)
		return cm_err_set(err, CM_ERR_INVALID, "no certificate to upload");
	if ((rep.v = calloc(certs->n, sizeof(*rep.v))) == NULL)
		return cm_err_set(err, CM_ERR_NOMEM, "out of memory");
	if ((rc = cm_store_begin(st, err)) != CM_OK)
		goto out;
	if ((rc = unit_kind(st, unit_name, &unit, err)) != CM_OK)
		goto rollback;
	for (size_t i = 0; i < certs->n; i++) {
		rc = upload_one(st, &unit, certs->v[i], opts, actor, now,
		    &rep.v[i], err);
		rep.n = i + 1;
		if (rc != CM_OK)
			goto rollback;
	}
	if ((rc = cm_store_commit(st, err)) != CM_OK)
		goto out;
	*report = rep;
	rep.v = NULL;
	rep.n = 0;
	goto out;
rollback:
	cm_store_rollback(st);
out:
	cm_upload_report_free(&rep);
	return rc;
}

/* ---- listing ------------------------------------------------------------ */

/* A bounded SQL text under construction. */
struct sqlbuf {
	char s[2048];
	size_t n;
};

static void
sql_add(struct sqlbuf *b, const char *part)
{
	size_t len = strlen(part);

	if (b->n + len < sizeof(b->s)) {
		memcpy(b->s + b->n, part, len + 1);
		b->n += len;
	}
}

#define ROW_COLUMNS \
	"u.unit, n.kind, c.fingerprint, c.subject, c.issuer, c.subject_cn," \
	" c.issuer_cn, c.serial, c.key_type, c.key_bits, c.sig_alg, c.is_ca," \
	" c.not_before, c.not_after, u.added_at, u.replaced_at, u.replaced_by," \
	" u.ocsp_responder, coalesce(r.status, 'unchecked'), r.checked_at," \
	" r.reason"

#define DER_COLUMN "(SELECT der FROM cert_der WHERE cert_id = c.id)"

/* certs drive the join (CROSS JOIN fixes the order) so that rows come in
 * notAfter order from its index and only ties are sorted */
#define ROW_FROM \
	" FROM certs c CROSS JOIN unit_certs u ON c.id = u.cert_id" \
	" JOIN units n ON n.name = u.unit" \
	" LEFT JOIN revocation r ON r.cert_id = c.id"

/* Appends the WHERE clause of filter; parameters are named so that
 * bind_filter can bind whichever appear. */
static void
filter_sql(struct sqlbuf *b, const struct cm_cert_filter *f)
{
	sql_add(b, " WHERE 1");
	if (f->unit != NULL)
		sql_add(b, " AND u.unit = :unit");
	if (f->fp_prefix != NULL)
		sql_add(b, " AND c.fingerprint >= :fp AND c.fingerprint < :fp || 'g'");
	if (f->search != NULL)
		sql_add(b, " AND instr(lower(c.subject_cn), lower(:search)) > 0");
	if (f->revocation != NULL)
		sql_add(b, " AND coalesce(r.status, 'unchecked') = :rev");
	if (f->history_only)
		sql_add(b, " AND u.replaced_at IS NOT NULL");
	else if (!f->include_history)
		sql_add(b, " AND u.replaced_at IS NULL");
	if (f->exclude_lsc)
		sql_add(b, " AND n.kind <> 'lsc'");
	if (f->not_after_min != 0)
		sql_add(b, " AND c.not_after >= :lo");
	if (f->not_after_max != 0)
		sql_add(b, " AND c.not_after <= :hi");
}

static void
bind_named_text(sqlite3_stmt *s, const char *name, const char *v)
{
	int i = sqlite3_bind_parameter_index(s, name);

	if (i > 0)
		bind_text(s, i, v);
}

static void
bind_named_int(sqlite3_stmt *s, const char *name, int64_t v)
{
	int i = sqlite3_bind_parameter_index(s, name);

	if (i > 0)
		sqlite3_bind_int64(s, i, v);
}

static void
bind_filter(sqlite3_stmt *s, const struct cm_cert_filter *f)
{
	bind_named_text(s, ":unit", f->unit);
	bind_named_text(s, ":fp", f->fp_prefix);
	bind_named_text(s, ":search", f->search);
	bind_named_text(s, ":rev", f->revocation);
	bind_named_int(s, ":lo", f->not_after_min);
	bind_named_int(s, ":hi", f->not_after_max);
	bind_named_int(s, ":limit", f->limit > 0 ? f->limit : -1);
	bind_named_int(s, ":offset", f->offset);
}

static void
row_from_stmt(sqlite3_stmt *s, int want_der, struct cm_cert_row *row)
{
	memset(row, 0, sizeof(*row));
	row->unit = col_text(s, 0);
	row->unit_kind = kind_from_text(col_text(s, 1));
	row->fingerprint = col_text(s, 2);
	row->subject = col_text(s, 3);
	row->issuer = col_text(s, 4);
	row->subject_cn = col_text(s, 5);
	row->issuer_cn = col_text(s, 6);
	row->serial_hex = col_text(s, 7);
	row->key_type = col_text(s, 8);
	row->key_bits = sqlite3_column_int(s, 9);
	row->sig_alg = col_text(s, 10);
	row->is_ca = sqlite3_column_int(s, 11);
	row->not_before = sqlite3_column_int64(s, 12);
	row->not_after = sqlite3_column_int64(s, 13);
	row->added_at = sqlite3_column_int64(s, 14);
	row->replaced_at = sqlite3_column_int64(s, 15);
	row->replaced_by = col_text_or_null(s, 16);
	row->ocsp_responder = sqlite3_column_int(s, 17);
	row->revocation = col_text(s, 18);
	row->revocation_checked_at = sqlite3_column_int64(s, 19);
	row->revocation_reason = col_text_or_null(s, 20);
	if (want_der) {
		row->der = sqlite3_column_blob(s, 21);
		row->der_len = (size_t)sqlite3_column_bytes(s, 21);
	}
}

/* Normalises a fingerprint prefix ("AB:cd:..") into lower-case hex in out.
 * Returns the number of digits, or -1 when it is not hex. */
static int
normalise_fp(const char *in, char out[CM_FP_HEX_LEN])
{
	int n = 0;

	for (; *in != '\0'; in++) {
		if (*in == ':')
			continue;
		if (!isxdigit((unsigned char)*in) || n >= CM_FP_HEX_LEN - 1)
			return -1;
		out[n++] = (char)tolower((unsigned char)*in);
	}
	out[n] = '\0';
	return n;
}

enum cm_status
cm_store_cert_list(struct cm_store *st, const struct cm_cert_filter *filter,
    cm_cert_row_fn fn, void *arg, struct cm_err *err)
{
	struct cm_cert_filter f = *filter;
	struct sqlbuf b = {{0}, 0};
	sqlite3_stmt *s = NULL;
	struct cm_cert_row row;
	char fp[CM_FP_HEX_LEN];
	enum cm_status rc = CM_OK;
	int r;

	if (f.fp_prefix != NULL) {
		if (normalise_fp(f.fp_prefix, fp) < 0)
			return cm_err_set(err, CM_ERR_INVALID, "fingerprint '%.70s' "
			    "is not hexadecimal", f.fp_prefix);
		f.fp_prefix = fp;
	}
	sql_add(&b, "SELECT " ROW_COLUMNS);
	if (f.want_der)
		sql_add(&b, ", " DER_COLUMN);
	sql_add(&b, ROW_FROM);
	filter_sql(&b, &f);
	sql_add(&b, " ORDER BY c.not_after, u.unit, c.fingerprint"
	    " LIMIT :limit OFFSET :offset");
	if (sqlite3_prepare_v2(st->db, b.s, -1, &s, NULL) != SQLITE_OK) {
		rc = db_error(st, err, "listing certificates");
		goto out;
	}
	bind_filter(s, &f);
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		row_from_stmt(s, f.want_der, &row);
		if (fn(&row, arg) != 0)
			goto out;
	}
	if (r != SQLITE_DONE)
		rc = db_error(st, err, "listing certificates");
out:
	sqlite3_finalize(s);
	return rc;
}

enum cm_status
cm_store_cert_count(struct cm_store *st, const struct cm_cert_filter *filter,
    int64_t *count, struct cm_err *err)
{
	struct cm_cert_filter f = *filter;
	struct sqlbuf b = {{0}, 0};
	sqlite3_stmt *s = NULL;
	char fp[CM_FP_HEX_LEN];
	enum cm_status rc = CM_OK;

	*count = 0;
	if (f.fp_prefix != NULL) {
		if (normalise_fp(f.fp_prefix, fp) < 0)
			return cm_err_set(err, CM_ERR_INVALID, "fingerprint '%.70s' "
			    "is not hexadecimal", f.fp_prefix);
		f.fp_prefix = fp;
	}
	/* only the joins the filter needs: counting 10,000 rows costs a third
	 * less without the two that only supply columns */
	sql_add(&b, "SELECT count(*) FROM certs c CROSS JOIN unit_certs u"
	    " ON c.id = u.cert_id");
	if (f.exclude_lsc)
		sql_add(&b, " JOIN units n ON n.name = u.unit");
	if (f.revocation != NULL)
		sql_add(&b, " LEFT JOIN revocation r ON r.cert_id = c.id");
	filter_sql(&b, &f);
	if (sqlite3_prepare_v2(st->db, b.s, -1, &s, NULL) != SQLITE_OK ||
	    (bind_filter(s, &f), sqlite3_step(s)) != SQLITE_ROW) {
		rc = db_error(st, err, "counting certificates");
		goto out;
	}
	*count = sqlite3_column_int64(s, 0);
out:
	sqlite3_finalize(s);
	return rc;
}

/* Resolves prefix (+ unit) to exactly one row: its full fingerprint and
 * unit. */
static enum cm_status
resolve(struct cm_store *st, const char *prefix, const char *unit,
    char fp_out[CM_FP_HEX_LEN], char unit_out[CM_UNIT_NAME_MAX + 1],
    struct cm_err *err)
{
	sqlite3_stmt *s = NULL;
	char fp[CM_FP_HEX_LEN];
	enum cm_status rc = CM_OK;
	int64_t nfp, nrows;
	int n;

	n = normalise_fp(prefix, fp);
	if (n < 1)
		return cm_err_set(err, CM_ERR_INVALID, "fingerprint prefix "
		    "'%.70s' must be hexadecimal digits", prefix);
	if (sqlite3_prepare_v2(st->db,
	    "SELECT count(DISTINCT c.fingerprint), count(*), min(c.fingerprint),"
	    " min(u.unit), group_concat(u.unit, ', ')"
	    " FROM unit_certs u JOIN certs c ON c.id = u.cert_id"
	    " WHERE c.fingerprint >= ?1 AND c.fingerprint < ?1 || 'g'"
	    " AND (?2 IS NULL OR u.unit = ?2)", -1, &s, NULL) != SQLITE_OK) {
		rc = db_error(st, err, "finding a certificate");
		goto out;
	}
	bind_text(s, 1, fp);
	bind_text(s, 2, unit);
	if (sqlite3_step(s) != SQLITE_ROW) {
		rc = db_error(st, err, "finding a certificate");
		goto out;
	}
	nfp = sqlite3_column_int64(s, 0);
	nrows = sqlite3_column_int64(s, 1);
	if (nfp == 0) {
		rc = cm_err_set(err, CM_ERR_NOTFOUND, "no certificate with "
		    "fingerprint %s%s%s", fp, unit ? " in unit " : "",
		    unit ? unit : "");
	} else if (nfp > 1) {
		rc = cm_err_set(err, CM_ERR_CONFLICT, "fingerprint prefix %s is "
		    "ambiguous: it matches %" PRId64 " certificates; give more "
		    "digits", fp, nfp);
	} else if (nrows > 1) {
		rc = cm_err_set(err, CM_ERR_CONFLICT, "certificate %.16s is in "
		    "several units (%.200s); choose one with --unit",
		    col_text(s, 2), col_text(s, 4));
	} else {
		snprintf(fp_out, CM_FP_HEX_LEN, "%s", col_text(s, 2));
		snprintf(unit_out, CM_UNIT_NAME_MAX + 1, "%s", col_text(s, 3));
	}
out:
	sqlite3_finalize(s);
	return rc;
}

enum cm_status
cm_store_cert_find(struct cm_store *st, const char *prefix, const char *unit,
    cm_cert_row_fn fn, void *arg, struct cm_err *err)
{
	struct cm_cert_filter f;
	char fp[CM_FP_HEX_LEN], u[CM_UNIT_NAME_MAX + 1];
	enum cm_status rc;

	if ((rc = resolve(st, prefix, unit, fp, u, err)) != CM_OK)
		return rc;
	memset(&f, 0, sizeof(f));
	f.unit = u;
	f.fp_prefix = fp;
	f.include_history = 1;
	f.want_der = 1;
	return cm_store_cert_list(st, &f, fn, arg, err);
}

/* Runs a one-row UPDATE/DELETE on (unit ?1, fingerprint ?2), binding
 * value to ?3 when the statement has it. */
static enum cm_status
row_change(struct cm_store *st, const char *sql, const char *unit,
    const char *fp, int64_t value, struct cm_err *err)
{
	sqlite3_stmt *s = NULL;
	enum cm_status rc = CM_OK;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		rc = db_error(st, err, "changing a certificate");
		goto out;
	}
	bind_text(s, 1, unit);
	bind_text(s, 2, fp);
	if (sqlite3_bind_parameter_count(s) >= 3)
		sqlite3_bind_int64(s, 3, value);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = db_error(st, err, "changing a certificate");
out:
	sqlite3_finalize(s);
	return rc;
}

enum cm_status
cm_store_cert_delete(struct cm_store *st, const char *prefix,
    const char *unit, const char *actor, cm_time now,
    char fp_out[CM_FP_HEX_LEN], char unit_out[CM_UNIT_NAME_MAX + 1],
    struct cm_err *err)
{
	char msg[200];
	enum cm_status rc;

	if ((rc = cm_store_begin(st, err)) != CM_OK)
		return rc;
	if ((rc = resolve(st, prefix, unit, fp_out, unit_out, err)) != CM_OK)
		goto out;
	if ((rc = row_change(st, "DELETE FROM unit_certs WHERE unit = ?1 AND "
	    "cert_id = (SELECT id FROM certs WHERE fingerprint = ?2)", unit_out,
	    fp_out, 0, err)) != CM_OK)
		goto out;
	if ((rc = drop_orphans(st, err)) != CM_OK)
		goto out;
	snprintf(msg, sizeof(msg), "certificate %s deleted from unit %s",
	    fp_out, unit_out);
	rc = add_event(st, now, "audit", "cert.deleted", actor, unit_out, fp_out,
	    msg, err);
out:
	if (rc != CM_OK) {
		cm_store_rollback(st);
		return rc;
	}
	return cm_store_commit(st, err);
}

enum cm_status
cm_store_cert_mark(struct cm_store *st, const char *prefix, const char *unit,
    int ocsp_responder, const char *actor, cm_time now, struct cm_err *err)
{
	char fp[CM_FP_HEX_LEN], u[CM_UNIT_NAME_MAX + 1], msg[200];
	enum cm_status rc;

	if ((rc = cm_store_begin(st, err)) != CM_OK)
		return rc;
	if ((rc = resolve(st, prefix, unit, fp, u, err)) != CM_OK)
		goto out;
	if ((rc = row_change(st, "UPDATE unit_certs SET ocsp_responder = ?3"
	    " WHERE unit = ?1 AND cert_id = (SELECT id FROM certs WHERE "
	    "fingerprint = ?2)", u, fp, ocsp_responder != 0, err)) != CM_OK)
		goto out;
	snprintf(msg, sizeof(msg), "certificate %s in unit %s %s a designated "
	    "OCSP responder", fp, u, ocsp_responder ? "marked as" : "no longer");
	rc = add_event(st, now, "audit", "cert.marked", actor, u, fp, msg, err);
out:
	if (rc != CM_OK) {
		cm_store_rollback(st);
		return rc;
	}
	return cm_store_commit(st, err);
}

/* ---- events ------------------------------------------------------------ */

enum cm_status
cm_store_event_add(struct cm_store *st, const struct cm_event *ev,
    struct cm_err *err)
{
	return add_event(st, ev->at, ev->kind, ev->name, ev->actor, ev->unit,
	    ev->fingerprint, ev->message, err);
}

enum cm_status
cm_store_event_list(struct cm_store *st, const struct cm_event_filter *f,
    cm_event_fn fn, void *arg, struct cm_err *err)
{
	struct sqlbuf b = {{0}, 0};
	sqlite3_stmt *s = NULL;
	struct cm_event ev;
	enum cm_status rc = CM_OK;
	int r;

	sql_add(&b, "SELECT id, at, kind, name, actor, unit, fingerprint, "
	    "message FROM events WHERE 1");
	if (f->kind != NULL)
		sql_add(&b, " AND kind = :kind");
	if (f->name != NULL)
		sql_add(&b, " AND name = :name");
	if (f->fingerprint != NULL)
		sql_add(&b, " AND fingerprint = :fp");
	if (f->since != 0)
		sql_add(&b, " AND at >= :since");
	if (f->before_id != 0)
		sql_add(&b, " AND id < :before");
	sql_add(&b, " ORDER BY id DESC LIMIT :limit");
	if (sqlite3_prepare_v2(st->db, b.s, -1, &s, NULL) != SQLITE_OK) {
		rc = db_error(st, err, "listing events");
		goto out;
	}
	bind_named_text(s, ":kind", f->kind);
	bind_named_text(s, ":name", f->name);
	bind_named_text(s, ":fp", f->fingerprint);
	bind_named_int(s, ":since", f->since);
	bind_named_int(s, ":before", f->before_id);
	bind_named_int(s, ":limit", f->limit > 0 ? f->limit : -1);
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		ev.id = sqlite3_column_int64(s, 0);
		ev.at = sqlite3_column_int64(s, 1);
		ev.kind = col_text(s, 2);
		ev.name = col_text(s, 3);
		ev.actor = col_text(s, 4);
		ev.unit = col_text_or_null(s, 5);
		ev.fingerprint = col_text_or_null(s, 6);
		ev.message = col_text(s, 7);
		if (fn(&ev, arg) != 0)
			goto out;
	}
	if (r != SQLITE_DONE)
		rc = db_error(st, err, "listing events");
out:
	sqlite3_finalize(s);
	return rc;
}

/* ---- settings ----------------------------------------------------------- */

enum cm_status
cm_store_setting_get(struct cm_store *st, const char *key, char **value,
    struct cm_err *err)
{
	sqlite3_stmt *s = stmt(st, ST_SETTING_GET, err);
	int r;

	*value = NULL;
	if (s == NULL)
		return CM_ERR_STORE;
	bind_text(s, 1, key);
	r = sqlite3_step(s);
	if (r == SQLITE_ROW) {
		*value = strdup(col_text(s, 0));
		sqlite3_reset(s);
		return *value != NULL ? CM_OK :
		    cm_err_set(err, CM_ERR_NOMEM, "out of memory");
	}
	if (r != SQLITE_DONE)
		return db_error(st, err, "reading a setting");
	return CM_OK;
}

/* Secrets (passwords, tokens) never reach the event log. */
static int
is_secret(const char *key)
{
	return strstr(key, "password") != NULL || strstr(key, "token") != NULL ||
	    strstr(key, "secret") != NULL;
}

enum cm_status
cm_store_settings_set(struct cm_store *st, const char **keys,
    const char **values, size_t n, const char *actor, cm_time now,
    struct cm_err *err)
{
	sqlite3_stmt *s;
	char msg[300];
	enum cm_status rc;

	if ((rc = cm_store_begin(st, err)) != CM_OK)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if ((s = stmt(st, ST_SETTING_SET, err)) == NULL) {
			rc = CM_ERR_STORE;
			goto out;
		}
		bind_text(s, 1, keys[i]);
		bind_text(s, 2, values[i]);
		sqlite3_bind_int64(s, 3, now);
		if (sqlite3_step(s) != SQLITE_DONE) {
			rc = db_error(st, err, "writing a setting");
			goto out;
		}
		snprintf(msg, sizeof(msg), "setting %.60s = %.200s", keys[i],
		    is_secret(keys[i]) ? "(hidden)" : values[i]);
		if ((rc = add_event(st, now, "audit", "setting.changed", actor,
		    NULL, NULL, msg, err)) != CM_OK)
			goto out;
	}
out:
	if (rc != CM_OK) {
		cm_store_rollback(st);
		return rc;
	}
	return cm_store_commit(st, err);
}

/* ---- the monitor's records ---------------------------------------------- */

static int
state_from_text(const char *t)
{
	enum cm_expiry_state s;

	if (t == NULL || cm_expiry_state_parse(t, &s) != 0)
		return -1;
	return (int)s;
}

enum cm_status
cm_store_monitor_rows(struct cm_store *st, cm_time not_after_max,
    int include_lsc, cm_monitor_row_fn fn, void *arg, struct cm_err *err)
{
	sqlite3_stmt *s = NULL;
	struct cm_monitor_row row;
	enum cm_status rc = CM_OK;
	int r, ns;

	if (sqlite3_prepare_v2(st->db,
	    "SELECT u.unit, n.kind, c.fingerprint, c.subject_cn, c.issuer_cn,"
	    " c.serial, c.not_after, u.notified_at, u.notified_state,"
	    " u.alarm_state"
	    " FROM unit_certs u JOIN certs c ON c.id = u.cert_id"
	    " JOIN units n ON n.name = u.unit"
	    " WHERE u.replaced_at IS NULL AND c.not_after <= ?1"
	    " AND (?2 OR n.kind <> 'lsc')"
	    " ORDER BY c.not_after, u.unit, c.fingerprint", -1, &s, NULL) !=
	    SQLITE_OK) {
		rc = db_error(st, err, "listing monitored certificates");
		goto out;
	}
	sqlite3_bind_int64(s, 1, not_after_max);
	sqlite3_bind_int(s, 2, include_lsc != 0);
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		memset(&row, 0, sizeof(row));
		row.unit = col_text(s, 0);
		row.unit_kind = kind_from_text(col_text(s, 1));
		row.fingerprint = col_text(s, 2);
		row.subject_cn = col_text(s, 3);
		row.issuer_cn = col_text(s, 4);
		row.serial_hex = col_text(s, 5);
		row.not_after = sqlite3_column_int64(s, 6);
		row.notice.notified_at = sqlite3_column_int64(s, 7);
		ns = state_from_text(col_text_or_null(s, 8));
		row.notice.notified_state = ns < 0 ? CM_STATE_VALID :
		    (enum cm_expiry_state)ns;
		if (ns < 0)
			row.notice.notified_at = 0;
		row.alarm_state = state_from_text(col_text_or_null(s, 9));
		if (fn(&row, arg) != 0)
			goto out;
	}
	if (r != SQLITE_DONE)
		rc = db_error(st, err, "listing monitored certificates");
out:
	sqlite3_finalize(s);
	return rc;
}

/* Sets one text column plus optionally notified_at of a unit_certs row. */
static enum cm_status
row_set(struct cm_store *st, const char *sql, const char *unit,
    const char *fp, const char *text, cm_time at, struct cm_err *err)
{
	sqlite3_stmt *s = NULL;
	enum cm_status rc = CM_OK;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		rc = db_error(st, err, "recording a notice");
		goto out;
	}
	bind_text(s, 1, unit);
	bind_text(s, 2, fp);
	bind_text(s, 3, text);
	if (sqlite3_bind_parameter_count(s) >= 4)
		sqlite3_bind_int64(s, 4, at);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = db_error(st, err, "recording a notice");
out:
	sqlite3_finalize(s);
	return rc;
}

enum cm_status
cm_store_notice_set(struct cm_store *st, const char *unit, const char *fp,
    cm_time at, enum cm_expiry_state state, struct cm_err *err)
{
	return row_set(st, "UPDATE unit_certs SET notified_state = ?3,"
	    " notified_at = ?4 WHERE unit = ?1 AND cert_id ="
	    " (SELECT id FROM certs WHERE fingerprint = ?2)", unit, fp,
	    cm_expiry_state_name(state), at, err);
}

enum cm_status
cm_store_alarm_state_set(struct cm_store *st, const char *unit,
    const char *fp, enum cm_expiry_state state, struct cm_err *err)
{
	return row_set(st, "UPDATE unit_certs SET alarm_state = ?3"
	    " WHERE unit = ?1 AND cert_id ="
	    " (SELECT id FROM certs WHERE fingerprint = ?2)", unit, fp,
	    cm_expiry_state_name(state), 0, err);
}

/* ---- services ------------------------------------------------------------ */

enum cm_status
cm_store_service_get(struct cm_store *st, const char *name,
    struct cm_service *out, struct cm_err *err)
{
	sqlite3_stmt *s = NULL;
	enum cm_status rc = CM_OK;
	int r;

	memset(out, 0, sizeof(*out));
	if (sqlite3_prepare_v2(st->db, "SELECT name, running, started_at,"
	    " last_run, last_duration_ms, next_run, last_result FROM services"
	    " WHERE name = ?1", -1, &s, NULL) != SQLITE_OK) {
		rc = db_error(st, err, "reading a service");
		goto out;
	}
	bind_text(s, 1, name);
	if ((r = sqlite3_step(s)) == SQLITE_ROW) {
		snprintf(out->name, sizeof(out->name), "%s", col_text(s, 0));
		out->running = sqlite3_column_int(s, 1);
		out->started_at = sqlite3_column_int64(s, 2);
		out->last_run = sqlite3_column_int64(s, 3);
		out->last_duration_ms = sqlite3_column_int64(s, 4);
		out->next_run = sqlite3_column_int64(s, 5);
		snprintf(out->last_result, sizeof(out->last_result), "%s",
		    col_text(s, 6));
	} else if (r == SQLITE_DONE) {
		rc = cm_err_set(err, CM_ERR_NOTFOUND, "unknown service '%.40s'",
		    name);
	} else {
		rc = db_error(st, err, "reading a service");
	}
out:
	sqlite3_finalize(s);
	return rc;
}

enum cm_status
cm_store_service_put(struct cm_store *st, const struct cm_service *svc,
    struct cm_err *err)
{
	sqlite3_stmt *s = NULL;
	enum cm_status rc = CM_OK;

	if (sqlite3_prepare_v2(st->db, "UPDATE services SET running = ?2,"
	    " started_at = ?3, last_run = nullif(?4, 0),"
	    " last_duration_ms = ?5, next_run = nullif(?6, 0),"
	    " last_result = ?7 WHERE name = ?1", -1, &s, NULL) != SQLITE_OK) {
		rc = db_error(st, err, "writing a service");
		goto out;
	}
	bind_text(s, 1, svc->name);
	sqlite3_bind_int(s, 2, svc->running != 0);
	sqlite3_bind_int64(s, 3, svc->started_at);
	sqlite3_bind_int64(s, 4, svc->last_run);
	sqlite3_bind_int64(s, 5, svc->last_duration_ms);
	sqlite3_bind_int64(s, 6, svc->next_run);
	bind_text(s, 7, svc->last_result);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = db_error(st, err, "writing a service");
	else if (sqlite3_changes(st->db) != 1)
		rc = cm_err_set(err, CM_ERR_NOTFOUND, "unknown service '%.40s'",
		    svc->name);
out:
	sqlite3_finalize(s);
	return rc;
}

/* ---- the outbox ------------------------------------------------------------ */

enum cm_status
cm_store_outbox_add(struct cm_store *st, const char *message_id,
    const char *recipients, const char *subject, const char *message,
    size_t len, cm_time now, struct cm_err *err)
{
	sqlite3_stmt *s = NULL;
	enum cm_status rc = CM_OK;

	if (sqlite3_prepare_v2(st->db, "INSERT INTO outbox (message_id,"
	    " created_at, recipients, subject, message, state, next_attempt_at)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?2)", -1, &s, NULL) !=
	    SQLITE_OK) {
		rc = db_error(st, err, "queueing a message");
		goto out;
	}
	bind_text(s, 1, message_id);
	sqlite3_bind_int64(s, 2, now);
	bind_text(s, 3, recipients);
	bind_text(s, 4, subject);
	sqlite3_bind_blob(s, 5, message, (int)len, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = db_error(st, err, "queueing a message");
out:
	sqlite3_finalize(s);
	return rc;
}

enum cm_status
cm_store_outbox_list(struct cm_store *st, cm_time due_by, int include_sent,
    cm_outbox_fn fn, void *arg, struct cm_err *err)
{
	sqlite3_stmt *s = NULL;
	struct cm_outbox_msg m;
	enum cm_status rc = CM_OK;
	const char *sql;
	int r;

	if (due_by != 0)
		sql = "SELECT id, message_id, created_at, recipients, subject,"
		    " message, state, attempts, next_attempt_at, last_error,"
		    " last_reply, sent_at FROM outbox WHERE state = 'pending'"
		    " AND next_attempt_at <= ?1 ORDER BY id";
	else
		sql = "SELECT id, message_id, created_at, recipients, subject,"
		    " message, state, attempts, next_attempt_at, last_error,"
		    " last_reply, sent_at FROM outbox WHERE state <> 'sent' OR ?2"
		    " ORDER BY id DESC";
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		rc = db_error(st, err, "reading the outbox");
		goto out;
	}
	if (due_by != 0)
		sqlite3_bind_int64(s, 1, due_by);
	else
		sqlite3_bind_int(s, 2, include_sent != 0);
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		memset(&m, 0, sizeof(m));
		m.id = sqlite3_column_int64(s, 0);
		m.message_id = col_text(s, 1);
		m.created_at = sqlite3_column_int64(s, 2);
		m.recipients = col_text(s, 3);
		m.subject = col_text(s, 4);
		m.message = sqlite3_column_blob(s, 5);
		m.message_len = (size_t)sqlite3_column_bytes(s, 5);
		m.state = col_text(s, 6);
		m.attempts = sqlite3_column_int(s, 7);
		m.next_attempt_at = sqlite3_column_int64(s, 8);
		m.last_error = col_text_or_null(s, 9);
		m.last_reply = col_text_or_null(s, 10);
		m.sent_at = sqlite3_column_int64(s, 11);
		if (fn(&m, arg) != 0)
			goto out;
	}
	if (r != SQLITE_DONE)
		rc = db_error(st, err, "reading the outbox");
out:
	sqlite3_finalize(s);
	return rc;
}

enum cm_status
cm_store_outbox_sent(struct cm_store *st, int64_t id, cm_time at,
    const char *reply, struct cm_err *err)
{
	sqlite3_stmt *s = NULL;
	enum cm_status rc = CM_OK;

	if (sqlite3_prepare_v2(st->db, "UPDATE outbox SET state = 'sent',"
	    " sent_at = ?2, attempts = attempts + 1, last_reply = ?3,"
	    " last_error = NULL WHERE id = ?1", -1, &s, NULL) != SQLITE_OK) {
		rc = db_error(st, err, "marking a message sent");
		goto out;
	}
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, at);
	bind_text(s, 3, reply);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = db_error(st, err, "marking a message sent");
out:
	sqlite3_finalize(s);
	return rc;
}

enum cm_status
cm_store_outbox_failed(struct cm_store *st, int64_t id,
    cm_time next_attempt_at, const char *error, const char *reply, int final,
    struct cm_err *err)
{
	sqlite3_stmt *s = NULL;
	enum cm_status rc = CM_OK;

	if (sqlite3_prepare_v2(st->db, "UPDATE outbox SET attempts ="
	    " attempts + 1, next_attempt_at = ?2, last_error = ?3,"
	    " last_reply = ?4, state = CASE WHEN ?5 THEN 'failed' ELSE"
	    " 'pending' END WHERE id = ?1", -1, &s, NULL) != SQLITE_OK) {
		rc = db_error(st, err, "recording a failed delivery");
		goto out;
	}
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, next_attempt_at);
	bind_text(s, 3, error);
	bind_text(s, 4, reply);
	sqlite3_bind_int(s, 5, final != 0);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = db_error(st, err, "recording a failed delivery");
out:
	sqlite3_finalize(s);
	return rc;
}

enum cm_status
cm_store_outbox_depth(struct cm_store *st, int64_t *pending, int64_t *failed,
    struct cm_err *err)
{
	sqlite3_stmt *s = NULL;
	enum cm_status rc = CM_OK;

	*pending = *failed = 0;
	if (sqlite3_prepare_v2(st->db, "SELECT coalesce(sum(state = 'pending'),"
	    " 0), coalesce(sum(state = 'failed'), 0) FROM outbox", -1, &s,
	    NULL) != SQLITE_OK || sqlite3_step(s) != SQLITE_ROW) {
		rc = db_error(st, err, "reading the outbox");
		goto out;
	}
	*pending = sqlite3_column_int64(s, 0);
	*failed = sqlite3_column_int64(s, 1);
out:
	sqlite3_finalize(s);
	return rc;
}

/* ---- API tokens ------------------------------------------------------------ */

enum cm_status
cm_store_token_add(struct cm_store *st, const char *name, const char *hash,
    const char *actor, cm_time now, struct cm_err *err)
{
	sqlite3_stmt *s = NULL;
	char msg[120];
	enum cm_status rc;

	if (!unit_name_valid(name))
		return cm_err_set(err, CM_ERR_INVALID, "token name '%.80s' is "
		    "invalid: use 1-%d of A-Z a-z 0-9 . _ -", name, CM_UNIT_NAME_MAX);
	if ((rc = cm_store_begin(st, err)) != CM_OK)
		return rc;
	if (sqlite3_prepare_v2(st->db, "INSERT INTO api_tokens (name, sha256,"
	    " created_at) VALUES (?1, ?2, ?3)", -1, &s, NULL) != SQLITE_OK) {
		rc = db_error(st, err, "adding a token");
		goto out;
	}
	bind_text(s, 1, name);
	bind_text(s, 2, hash);
	sqlite3_bind_int64(s, 3, now);
	if (sqlite3_step(s) != SQLITE_DONE) {
		if ((sqlite3_extended_errcode(st->db) & 0xff) == SQLITE_CONSTRAINT)
			rc = cm_err_set(err, CM_ERR_CONFLICT, "a token named '%s' "
			    "exists already", name);
		else
			rc = db_error(st, err, "adding a token");
		goto out;
	}
	snprintf(msg, sizeof(msg), "API token %s added", name);
	rc = add_event(st, now, "audit", "token.added", actor, NULL, NULL, msg,
	    err);
out:
	sqlite3_finalize(s);
	if (rc != CM_OK) {
		cm_store_rollback(st);
		return rc;
	}
	return cm_store_commit(st, err);
}

enum cm_status
cm_store_token_remove(struct cm_store *st, const char *name,
    const char *actor, cm_time now, struct cm_err *err)
{
	sqlite3_stmt *s = NULL;
	char msg[120];
	enum cm_status rc;

	if ((rc = cm_store_begin(st, err)) != CM_OK)
		return rc;
	if (sqlite3_prepare_v2(st->db, "DELETE FROM api_tokens WHERE name = ?1",
	    -1, &s, NULL) != SQLITE_OK || (bind_text(s, 1, name),
	    sqlite3_step(s)) != SQLITE_DONE) {
		rc = db_error(st, err, "removing a token");
		goto out;
	}
	if (sqlite3_changes(st->db) == 0) {
		rc = cm_err_set(err, CM_ERR_NOTFOUND, "no token named '%.80s'", name);
		goto out;
	}
	snprintf(msg, sizeof(msg), "API token %s removed", name);
	rc = add_event(st, now, "audit", "token.removed", actor, NULL, NULL, msg,
	    err);
out:
	sqlite3_finalize(s);
	if (rc != CM_OK) {
		cm_store_rollback(st);
		return rc;
	}
	return cm_store_commit(st, err);
}

enum cm_status
cm_store_token_find(struct cm_store *st, const char *hash, char *name,
    size_t name_len, struct cm_err *err)
{
	sqlite3_stmt *s = NULL;
	enum cm_status rc = CM_OK;
	int r;

	if (sqlite3_prepare_v2(st->db, "SELECT name FROM api_tokens WHERE"
	    " sha256 = ?1", -1, &s, NULL) != SQLITE_OK) {
		rc = db_error(st, err, "checking a token");
		goto out;
	}
	bind_text(s, 1, hash);
	if ((r = sqlite3_step(s)) == SQLITE_ROW)
		snprintf(name, name_len, "%s", col_text(s, 0));
	else if (r == SQLITE_DONE)
		rc = cm_err_set(err, CM_ERR_NOTFOUND, "unknown token");
	else
		rc = db_error(st, err, "checking a token");
out:
	sqlite3_finalize(s);
	return rc;
}

enum cm_status
cm_store_token_list(struct cm_store *st, cm_token_fn fn, void *arg,
    struct cm_err *err)
{
	sqlite3_stmt *s = NULL;
	enum cm_status rc = CM_OK;
	int r;

	if (sqlite3_prepare_v2(st->db, "SELECT name, created_at FROM api_tokens"
	    " ORDER BY name", -1, &s, NULL) != SQLITE_OK) {
		rc = db_error(st, err, "listing tokens");
		goto out;
	}
	while ((r = sqlite3_step(s)) == SQLITE_ROW)
		if (fn(col_text(s, 0), sqlite3_column_int64(s, 1), arg) != 0)
			goto out;
	if (r != SQLITE_DONE)
		rc = db_error(st, err, "listing tokens");
out:
	sqlite3_finalize(s);
	return rc;
}

/* ---- statistics -------------------------------------------------------------- */

enum cm_status
cm_store_cert_stats(struct cm_store *st, cm_time now, int start_days,
    cm_cert_stat_fn fn, void *arg, struct cm_err *err)
{
	sqlite3_stmt *s = NULL;
	struct cm_cert_stat cs;
	enum cm_status rc = CM_OK;
	int r;

	/* the same boundaries as cm_expiry_state() */
	if (sqlite3_prepare_v2(st->db,
	    "SELECT u.unit, CASE WHEN c.not_after < ?1 THEN 3"
	    " WHEN c.not_after - ?1 <= 86400 THEN 2"
	    " WHEN c.not_after - ?1 <= ?2 THEN 1 ELSE 0 END AS state,"
	    " coalesce(r.status, 'unchecked') AS rev, count(*)"
	    " FROM unit_certs u JOIN certs c ON c.id = u.cert_id"
	    " LEFT JOIN revocation r ON r.cert_id = c.id"
	    " WHERE u.replaced_at IS NULL"
	    " GROUP BY u.unit, state, rev ORDER BY u.unit, state, rev", -1, &s,
	    NULL) != SQLITE_OK) {
		rc = db_error(st, err, "counting certificates");
		goto out;
	}
	sqlite3_bind_int64(s, 1, now);
	sqlite3_bind_int64(s, 2, (int64_t)start_days * 86400);
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		cs.unit = col_text(s, 0);
		cs.state = (enum cm_expiry_state)sqlite3_column_int(s, 1);
		cs.revocation = col_text(s, 2);
		cs.count = sqlite3_column_int64(s, 3);
		if (fn(&cs, arg) != 0)
			goto out;
	}
	if (r != SQLITE_DONE)
		rc = db_error(st, err, "counting certificates");
out:
	sqlite3_finalize(s);
	return rc;
}

enum cm_status
cm_store_outbox_next(struct cm_store *st, cm_time *at, struct cm_err *err)
{
	sqlite3_stmt *s = NULL;
	enum cm_status rc = CM_OK;

	*at = 0;
	if (sqlite3_prepare_v2(st->db, "SELECT min(next_attempt_at) FROM outbox"
	    " WHERE state = 'pending'", -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW) {
		rc = db_error(st, err, "reading the outbox");
		goto out;
	}
	*at = sqlite3_column_int64(s, 0);
out:
	sqlite3_finalize(s);
	return rc;
}

/* ---- revocation answers ------------------------------------------------------ */

static int
revoked_for_good(const struct cm_rev_record *r)
{
	return r->status == CM_REV_REVOKED &&
	    strcmp(r->revocation_reason, "certificateHold") != 0;
}

/* 1 when answer a is strictly older than answer b. */
static int
older(const struct cm_rev_record *a, const struct cm_rev_record *b)
{
	if (a->this_update != b->this_update)
		return a->this_update < b->this_update;
	return a->produced_at != 0 && b->produced_at != 0 &&
	    a->produced_at < b->produced_at;
}

enum cm_rev_keep
cm_rev_record_keep(const struct cm_rev_record *old,
    const struct cm_rev_record *nw)
{
	if (old == NULL)
		return CM_REV_REPLACED;
	if (nw->status == CM_REV_ERROR)
		return old->status == CM_REV_REVOKED ? CM_REV_KEPT_REVOKED :
		    CM_REV_REPLACED;
	if (old->status == CM_REV_ERROR || old->this_update == 0)
		return CM_REV_REPLACED;
	if (revoked_for_good(old) && nw->status != CM_REV_REVOKED)
		return CM_REV_KEPT_REVOKED;
	if (older(nw, old))
		return CM_REV_KEPT_NEWER;
	return CM_REV_REPLACED;
}

static int
rev_status_from_text(const char *t)
{
	if (strcmp(t, "good") == 0)
		return CM_REV_GOOD;
	if (strcmp(t, "revoked") == 0)
		return CM_REV_REVOKED;
	if (strcmp(t, "unknown") == 0)
		return CM_REV_UNKNOWN;
	return CM_REV_ERROR;
}

static void
col_copy(sqlite3_stmt *s, int i, char *buf, size_t len)
{
	snprintf(buf, len, "%s", col_text(s, i));
}

/* Reads the REV_COLUMNS starting at column i into *out. */
static void
rev_from_stmt(sqlite3_stmt *s, int i, struct cm_rev_record *out)
{
	memset(out, 0, sizeof(*out));
	out->status = (enum cm_rev_status)rev_status_from_text(col_text(s, i));
	col_copy(s, i + 1, out->source, sizeof(out->source));
	out->checked_at = sqlite3_column_int64(s, i + 2);
	col_copy(s, i + 3, out->reason, sizeof(out->reason));
	out->this_update = sqlite3_column_int64(s, i + 4);
	out->next_update = sqlite3_column_int64(s, i + 5);
	out->produced_at = sqlite3_column_int64(s, i + 6);
	out->revocation_time = sqlite3_column_int64(s, i + 7);
	col_copy(s, i + 8, out->revocation_reason,
	    sizeof(out->revocation_reason));
	out->cache_until = sqlite3_column_int64(s, i + 9);
	out->next_check = sqlite3_column_int64(s, i + 10);
	col_copy(s, i + 11, out->trust_model, sizeof(out->trust_model));
	col_copy(s, i + 12, out->responder, sizeof(out->responder));
}

enum cm_status
cm_store_revocation_scan(struct cm_store *st, cm_rev_scan_fn fn, void *arg,
    struct cm_err *err)
{
	sqlite3_stmt *s = NULL;
	struct cm_cert_row row;
	struct cm_rev_record rec;
	enum cm_status rc = CM_OK;
	int r;

	/* ROW_COLUMNS are columns 0..20, the record's 21..33, then 34 */
	if (sqlite3_prepare_v2(st->db, "SELECT " ROW_COLUMNS ", " REV_COLUMNS
	    ", c.ocsp_urls" ROW_FROM " WHERE u.replaced_at IS NULL", -1, &s,
	    NULL) != SQLITE_OK) {
		rc = db_error(st, err, "reading the certificates to check");
		goto out;
	}
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		row_from_stmt(s, 0, &row);
		row.ocsp_urls = col_text_or_null(s, 34);
		if (sqlite3_column_type(s, 21) != SQLITE_NULL)
			rev_from_stmt(s, 21, &rec);
		if (fn(&row, sqlite3_column_type(s, 21) != SQLITE_NULL ? &rec :
		    NULL, arg) != 0)
			goto out;
	}
	if (r != SQLITE_DONE)
		rc = db_error(st, err, "reading the certificates to check");
out:
	sqlite3_finalize(s);
	return rc;
}

enum cm_status
cm_store_cert_der(struct cm_store *st, const char *fp, unsigned char **der,
    size_t *len, struct cm_err *err)
{
	sqlite3_stmt *s;
	enum cm_status rc = CM_OK;
	int r, n;

	*der = NULL;
	*len = 0;
	if ((s = stmt(st, ST_DER_GET, err)) == NULL)
		return CM_ERR_STORE;
	bind_text(s, 1, fp);
	if ((r = sqlite3_step(s)) == SQLITE_ROW) {
		n = sqlite3_column_bytes(s, 0);
		if (n <= 0 || (*der = malloc((size_t)n)) == NULL)
			rc = cm_err_set(err, CM_ERR_NOMEM, "out of memory");
		else {
			memcpy(*der, sqlite3_column_blob(s, 0), (size_t)n);
			*len = (size_t)n;
		}
	} else if (r == SQLITE_DONE) {
		rc = cm_err_set(err, CM_ERR_NOTFOUND, "no stored certificate has "
		    "fingerprint %.64s", fp);
	} else {
		rc = db_error(st, err, "reading a certificate");
	}
	sqlite3_reset(s);
	return rc;
}

enum cm_status
cm_store_revocation_get(struct cm_store *st, const char *fp,
    struct cm_rev_record *out, int *found, struct cm_err *err)
{
	sqlite3_stmt *s;
	enum cm_status rc = CM_OK;
	int r;

	memset(out, 0, sizeof(*out));
	*found = 0;
	if ((s = stmt(st, ST_REV_GET, err)) == NULL)
		return CM_ERR_STORE;
	bind_text(s, 1, fp);
	if ((r = sqlite3_step(s)) == SQLITE_ROW) {
		*found = 1;
		rev_from_stmt(s, 0, out);
	} else if (r != SQLITE_DONE) {
		rc = db_error(st, err, "reading a revocation answer");
	}
	sqlite3_reset(s);
	return rc;
}

static void
bind_time(sqlite3_stmt *s, int i, cm_time t)
{
	if (t == 0)
		sqlite3_bind_null(s, i);
	else
		sqlite3_bind_int64(s, i, t);
}

static void
bind_text_or_null(sqlite3_stmt *s, int i, const char *v)
{
	bind_text(s, i, v != NULL && v[0] != '\0' ? v : NULL);
}

enum cm_status
cm_store_revocation_put(struct cm_store *st, const char *fp,
    const struct cm_rev_record *rec, enum cm_rev_keep *kept,
    struct cm_err *err)
{
	struct cm_rev_record old;
	sqlite3_stmt *s = NULL;
	enum cm_rev_keep k;
	enum cm_status rc;
	int found = 0;

	if (kept != NULL)
		*kept = CM_REV_REPLACED;
	if ((rc = cm_store_begin(st, err)) != CM_OK)
		return rc;
	if ((rc = cm_store_revocation_get(st, fp, &old, &found, err)) != CM_OK)
		goto out;
	k = cm_rev_record_keep(found ? &old : NULL, rec);
	if (k != CM_REV_REPLACED) {
		if ((s = stmt(st, ST_REV_TOUCH, err)) == NULL) {
			rc = CM_ERR_STORE;
			goto out;
		}
		bind_text(s, 1, fp);
		sqlite3_bind_int64(s, 2, rec->checked_at);
		bind_time(s, 3, rec->next_check);
	} else {
		if ((s = stmt(st, ST_REV_PUT, err)) == NULL) {
			rc = CM_ERR_STORE;
			goto out;
		}
		bind_text(s, 1, fp);
		bind_text(s, 2, cm_revocation_status_name(rec->status));
		sqlite3_bind_int64(s, 3, rec->checked_at);
		bind_text_or_null(s, 4, rec->reason);
		bind_text_or_null(s, 5, rec->source);
		bind_time(s, 6, rec->this_update);
		bind_time(s, 7, rec->next_update);
		bind_time(s, 8, rec->produced_at);
		bind_time(s, 9, rec->revocation_time);
		bind_text_or_null(s, 10, rec->revocation_reason);
		bind_time(s, 11, rec->cache_until);
		bind_time(s, 12, rec->next_check);
		bind_text_or_null(s, 13, rec->trust_model);
		bind_text_or_null(s, 14, rec->responder);
	}
	if (sqlite3_step(s) != SQLITE_DONE) {
		rc = db_error(st, err, "recording a revocation answer");
		goto out;
	}
	if (sqlite3_changes(st->db) != 1) {
		rc = cm_err_set(err, CM_ERR_NOTFOUND, "no stored certificate has "
		    "fingerprint %.64s", fp);
		goto out;
	}
	if (kept != NULL)
		*kept = k;
out:
	if (s != NULL)
		sqlite3_reset(s);
	if (rc == CM_ERR_NOTFOUND) {
		/* nothing was written: the caller's transaction stays usable */
		cm_store_commit(st, NULL);
		return rc;
	}
	if (rc != CM_OK) {
		cm_store_rollback(st);
		return rc;
	}
	return cm_store_commit(st, err);
}

/* ---- the CRL cache ---------------------------------------------------------- */

enum cm_status
cm_store_crl_get(struct cm_store *st, const char *url, const char *issuer_fp,
    struct cm_crl_cache_entry *out, int *found, struct cm_err *err)
{
	sqlite3_stmt *s = NULL;
	enum cm_status rc = CM_OK;
	const void *blob;
	int r, n;

	memset(out, 0, sizeof(*out));
	*found = 0;
	if (sqlite3_prepare_v2(st->db, "SELECT der, this_update, next_update,"
	    " fetched_at, crl_number FROM crl_cache WHERE url = ?1 AND"
	    " issuer_fp = ?2", -1, &s, NULL) != SQLITE_OK) {
		rc = db_error(st, err, "reading the CRL cache");
		goto out;
	}
	bind_text(s, 1, url);
	bind_text(s, 2, issuer_fp);
	if ((r = sqlite3_step(s)) == SQLITE_ROW) {
		blob = sqlite3_column_blob(s, 0);
		n = sqlite3_column_bytes(s, 0);
		if (n <= 0 || (out->der = malloc((size_t)n)) == NULL) {
			rc = n <= 0 ? CM_OK : cm_err_set(err, CM_ERR_NOMEM,
			    "out of memory");
			goto out;
		}
		memcpy(out->der, blob, (size_t)n);
		out->der_len = (size_t)n;
		out->this_update = sqlite3_column_int64(s, 1);
		out->next_update = sqlite3_column_int64(s, 2);
		out->fetched_at = sqlite3_column_int64(s, 3);
		col_copy(s, 4, out->crl_number, sizeof(out->crl_number));
		*found = 1;
	} else if (r != SQLITE_DONE) {
		rc = db_error(st, err, "reading the CRL cache");
	}
out:
	sqlite3_finalize(s);
	return rc;
}

enum cm_status
cm_store_crl_put(struct cm_store *st, const char *url, const char *issuer_fp,
    const struct cm_crl_cache_entry *e, struct cm_err *err)
{
	sqlite3_stmt *s = NULL;
	enum cm_status rc = CM_OK;

	if (e->der == NULL || e->der_len == 0 || e->der_len > INT32_MAX)
		return cm_err_set(err, CM_ERR_INVALID, "no CRL to cache");
	if (sqlite3_prepare_v2(st->db, "INSERT INTO crl_cache (url, issuer_fp,"
	    " der, this_update, next_update, crl_number, fetched_at)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
	    " ON CONFLICT (url, issuer_fp) DO UPDATE SET der = excluded.der,"
	    " this_update = excluded.this_update,"
	    " next_update = excluded.next_update,"
	    " crl_number = excluded.crl_number,"
	    " fetched_at = excluded.fetched_at", -1, &s, NULL) != SQLITE_OK) {
		rc = db_error(st, err, "caching a CRL");
		goto out;
	}
	bind_text(s, 1, url);
	bind_text(s, 2, issuer_fp);
	sqlite3_bind_blob(s, 3, e->der, (int)e->der_len, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, e->this_update);
	bind_time(s, 5, e->next_update);
	bind_text_or_null(s, 6, e->crl_number);
	sqlite3_bind_int64(s, 7, e->fetched_at);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = db_error(st, err, "caching a CRL");
out:
	sqlite3_finalize(s);
	return rc;
}

enum cm_status
cm_store_cert_by_subject(struct cm_store *st, const char *subject,
    cm_cert_row_fn fn, void *arg, struct cm_err *err)
{
	sqlite3_stmt *s = NULL;
	struct cm_cert_row row;
	enum cm_status rc = CM_OK;
	int r;

	if (sqlite3_prepare_v2(st->db, "SELECT " ROW_COLUMNS ", " DER_COLUMN
	    ROW_FROM
	    " WHERE c.subject = ?1 AND u.replaced_at IS NULL"
	    " ORDER BY c.not_before DESC, u.unit", -1, &s, NULL) != SQLITE_OK) {
		rc = db_error(st, err, "looking up issuers");
		goto out;
	}
	bind_text(s, 1, subject);
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		row_from_stmt(s, 1, &row);
		if (fn(&row, arg) != 0)
			goto out;
	}
	if (r != SQLITE_DONE)
		rc = db_error(st, err, "looking up issuers");
out:
	sqlite3_finalize(s);
	return rc;
}

/* ---- long-lived connections (endpoints) ------------------------------------ */

#define EP_COLUMNS "name, host, port, starttls, trust_unit, added_at," \
	" checked_at, next_check, verdict, reason, status, changed_at," \
	" leaf_subject, leaf_cn, leaf_fingerprint, leaf_not_after"

static void
endpoint_from_stmt(sqlite3_stmt *s, struct cm_endpoint *ep)
{
	memset(ep, 0, sizeof(*ep));
	col_copy(s, 0, ep->name, sizeof(ep->name));
	col_copy(s, 1, ep->host, sizeof(ep->host));
	ep->port = sqlite3_column_int(s, 2);
	col_copy(s, 3, ep->starttls, sizeof(ep->starttls));
	col_copy(s, 4, ep->trust_unit, sizeof(ep->trust_unit));
	ep->added_at = sqlite3_column_int64(s, 5);
	ep->checked_at = sqlite3_column_int64(s, 6);
	ep->next_check = sqlite3_column_int64(s, 7);
	col_copy(s, 8, ep->verdict, sizeof(ep->verdict));
	col_copy(s, 9, ep->reason, sizeof(ep->reason));
	col_copy(s, 10, ep->status, sizeof(ep->status));
	ep->changed_at = sqlite3_column_int64(s, 11);
	col_copy(s, 12, ep->leaf_subject, sizeof(ep->leaf_subject));
	col_copy(s, 13, ep->leaf_cn, sizeof(ep->leaf_cn));
	col_copy(s, 14, ep->leaf_fingerprint, sizeof(ep->leaf_fingerprint));
	ep->leaf_not_after = sqlite3_column_int64(s, 15);
}

static int
endpoint_host_valid(const char *host)
{
	size_t n = strlen(host);

	if (n == 0 || n > CM_ENDPOINT_HOST_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)host[i] <= 0x20 || host[i] == 0x7f ||
		    host[i] == '/')
			return 0;
	return 1;
}

enum cm_status
cm_store_endpoint_add(struct cm_store *st, const struct cm_endpoint *ep,
    const char *actor, cm_time now, struct cm_err *err)
{
	sqlite3_stmt *s = NULL;
	struct cm_unit u;
	char msg[CM_ENDPOINT_HOST_MAX + 2 * CM_UNIT_NAME_MAX + 120];
	enum cm_status rc;

	if (!unit_name_valid(ep->name))
		return cm_err_set(err, CM_ERR_INVALID, "endpoint name '%.80s' is "
		    "invalid: use 1-%d of A-Z a-z 0-9 . _ -", ep->name,
		    CM_UNIT_NAME_MAX);
	if (!endpoint_host_valid(ep->host))
		return cm_err_set(err, CM_ERR_INVALID, "endpoint host '%.80s' is "
		    "invalid: 1-%d characters, no spaces or control characters",
		    ep->host, CM_ENDPOINT_HOST_MAX);
	if (ep->port < 1 || ep->port > 65535)
		return cm_err_set(err, CM_ERR_INVALID, "endpoint port %d is "
		    "invalid: 1-65535", ep->port);
	if (ep->starttls[0] != '\0' && strcmp(ep->starttls, "smtp") != 0 &&
	    strcmp(ep->starttls, "ldap") != 0)
		return cm_err_set(err, CM_ERR_INVALID, "STARTTLS '%.20s' is "
		    "invalid: smtp or ldap", ep->starttls);
	if ((rc = cm_store_begin(st, err)) != CM_OK)
		return rc;
	if (ep->trust_unit[0] != '\0' &&
	    (rc = cm_store_unit_get(st, ep->trust_unit, &u, err)) != CM_OK)
		goto out;
	if (sqlite3_prepare_v2(st->db, "INSERT INTO endpoints (name, host, port,"
	    " starttls, trust_unit, added_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	    -1, &s, NULL) != SQLITE_OK) {
		rc = db_error(st, err, "adding an endpoint");
		goto out;
	}
	bind_text(s, 1, ep->name);
	bind_text(s, 2, ep->host);
	sqlite3_bind_int(s, 3, ep->port);
	bind_text_or_null(s, 4, ep->starttls);
	bind_text_or_null(s, 5, ep->trust_unit);
	sqlite3_bind_int64(s, 6, now);
	if (sqlite3_step(s) != SQLITE_DONE) {
		if ((sqlite3_extended_errcode(st->db) & 0xff) == SQLITE_CONSTRAINT)
			rc = cm_err_set(err, CM_ERR_CONFLICT, "an endpoint named '%s' "
			    "exists already", ep->name);
		else
			rc = db_error(st, err, "adding an endpoint");
		goto out;
	}
	snprintf(msg, sizeof(msg), "endpoint %s added: %s%s%s:%d%s%s%s%s",
	    ep->name, strchr(ep->host, ':') ? "[" : "", ep->host,
	    strchr(ep->host, ':') ? "]" : "", ep->port,
	    ep->starttls[0] ? ", STARTTLS " : "", ep->starttls,
	    ep->trust_unit[0] ? ", trust unit " : "", ep->trust_unit);
	rc = add_event(st, now, "audit", "endpoint.added", actor,
	    ep->trust_unit[0] ? ep->trust_unit : NULL, NULL, msg, err);
out:
	sqlite3_finalize(s);
	if (rc != CM_OK) {
		cm_store_rollback(st);
		return rc;
	}
	return cm_store_commit(st, err);
}

enum cm_status
cm_store_endpoint_remove(struct cm_store *st, const char *name,
    const char *actor, cm_time now, struct cm_err *err)
{
	sqlite3_stmt *s = NULL;
	char msg[120];
	enum cm_status rc;

	if ((rc = cm_store_begin(st, err)) != CM_OK)
		return rc;
	if (sqlite3_prepare_v2(st->db, "DELETE FROM endpoints WHERE name = ?1",
	    -1, &s, NULL) != SQLITE_OK || (bind_text(s, 1, name),
	    sqlite3_step(s)) != SQLITE_DONE) {
		rc = db_error(st, err, "removing an endpoint");
		goto out;
	}
	if (sqlite3_changes(st->db) == 0) {
		rc = cm_err_set(err, CM_ERR_NOTFOUND, "no endpoint named '%.80s'",
		    name);
		goto out;
	}
	snprintf(msg, sizeof(msg), "endpoint %s removed", name);
	rc = add_event(st, now, "audit", "endpoint.removed", actor, NULL, NULL,
	    msg, err);
out:
	sqlite3_finalize(s);
	if (rc != CM_OK) {
		cm_store_rollback(st);
		return rc;
	}
	return cm_store_commit(st, err);
}

enum cm_status
cm_store_endpoint_get(struct cm_store *st, const char *name,
    struct cm_endpoint *out, char **chain_pem, struct cm_err *err)
{
	sqlite3_stmt *s = NULL;
	enum cm_status rc = CM_OK;
	const char *pem;
	char key[CM_UNIT_NAME_MAX + 2];
	int r;

	/* name may point into *out: copied before out is written */
	snprintf(key, sizeof(key), "%s", name);
	if (chain_pem != NULL)
		*chain_pem = NULL;
	if (sqlite3_prepare_v2(st->db, "SELECT " EP_COLUMNS ", chain_pem FROM"
	    " endpoints WHERE name = ?1", -1, &s, NULL) != SQLITE_OK) {
		rc = db_error(st, err, "reading an endpoint");
		goto out;
	}
	bind_text(s, 1, key);
	memset(out, 0, sizeof(*out));
	if ((r = sqlite3_step(s)) == SQLITE_ROW) {
		endpoint_from_stmt(s, out);
		pem = col_text_or_null(s, 16);
		if (chain_pem != NULL && pem != NULL &&
		    (*chain_pem = strdup(pem)) == NULL)
			rc = cm_err_set(err, CM_ERR_NOMEM, "out of memory");
	} else if (r == SQLITE_DONE) {
		rc = cm_err_set(err, CM_ERR_NOTFOUND, "no endpoint named '%.80s'",
		    key);
	} else {
		rc = db_error(st, err, "reading an endpoint");
	}
out:
	sqlite3_finalize(s);
	return rc;
}

enum cm_status
cm_store_endpoint_list(struct cm_store *st, cm_endpoint_fn fn, void *arg,
    struct cm_err *err)
{
	sqlite3_stmt *s = NULL;
	struct cm_endpoint ep;
	enum cm_status rc = CM_OK;
	int r;

	if (sqlite3_prepare_v2(st->db, "SELECT " EP_COLUMNS " FROM endpoints"
	    " ORDER BY name", -1, &s, NULL) != SQLITE_OK) {
		rc = db_error(st, err, "listing endpoints");
		goto out;
	}
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		endpoint_from_stmt(s, &ep);
		if (fn(&ep, arg) != 0)
			goto out;
	}
	if (r != SQLITE_DONE)
		rc = db_error(st, err, "listing endpoints");
out:
	sqlite3_finalize(s);
	return rc;
}

enum cm_status
cm_store_endpoint_put_check(struct cm_store *st, const struct cm_endpoint *ep,
    const char *chain_pem, struct cm_err *err)
{
	sqlite3_stmt *s = NULL;
	enum cm_status rc = CM_OK;

	if (sqlite3_prepare_v2(st->db, "UPDATE endpoints SET checked_at = ?2,"
	    " next_check = ?3, verdict = ?4, reason = ?5, status = ?6,"
	    " changed_at = ?7, leaf_subject = ?8, leaf_cn = ?9,"
	    " leaf_fingerprint = ?10, leaf_not_after = ?11, chain_pem = ?12"
	    " WHERE name = ?1", -1, &s, NULL) != SQLITE_OK) {
		rc = db_error(st, err, "recording an endpoint check");
		goto out;
	}
	bind_text(s, 1, ep->name);
	bind_time(s, 2, ep->checked_at);
	bind_time(s, 3, ep->next_check);
	bind_text(s, 4, ep->verdict);
	bind_text_or_null(s, 5, ep->reason);
	bind_text_or_null(s, 6, ep->status);
	bind_time(s, 7, ep->changed_at);
	bind_text_or_null(s, 8, ep->leaf_subject);
	bind_text_or_null(s, 9, ep->leaf_cn);
	bind_text_or_null(s, 10, ep->leaf_fingerprint);
	bind_time(s, 11, ep->leaf_not_after);
	bind_text(s, 12, chain_pem);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = db_error(st, err, "recording an endpoint check");
	else if (sqlite3_changes(st->db) == 0)
		rc = cm_err_set(err, CM_ERR_NOTFOUND, "no endpoint named '%.80s'",
		    ep->name);
out:
	sqlite3_finalize(s);
	return rc;
}
