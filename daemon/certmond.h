/*
 * certmond.h - what the parts of the daemon share: its context (store,
 * clock, HTTP server, schedule, counters).
 *
 * The daemon is one process with one event loop (main.c): poll() over the
 * HTTP server's epoll descriptor and a self-pipe for signals, with a
 * timeout set by the earliest timer (scheduler.c). HTTP requests (http.c,
 * api.c, metrics.c) are served on that same thread, so they share the one
 * store connection without locks.
 */
#ifndef CERTMOND_H
#define CERTMOND_H

#include <stdint.h>

#include "certmon/clock.h"
#include "certmon/store.h"

struct MHD_Daemon;

/* OCSP requests since the daemon started, by responder and outcome. */
struct ocsp_count {
	char responder[1024];
	char outcome[12];
	uint64_t count;
};

struct counters {
	uint64_t mail_sent;
	uint64_t mail_failed;
	uint64_t expiry_runs;
	uint64_t revocation_runs;
	uint64_t http_requests;
	struct ocsp_count *ocsp;
	size_t n_ocsp;
	uint64_t endpoint_checks;
};

struct daemon_ctx {
	const char *db_path;
	struct cm_store *st;
	const char *clock_file;     /* test-only clock source, or NULL */
	int64_t data_version;       /* of the store, to notice other writers */
	struct MHD_Daemon *mhd;
	int tls;                    /* HTTPS (default) or plain HTTP */
	char listen[128];
	int metrics_all;            /* export every certificate */
	char metrics_token_hash[65];/* "" = /metrics needs no token */
	cm_time next_expiry;        /* 0 = stopped / not scheduled */
	cm_time next_outbox;        /* 0 = nothing pending */
	cm_time next_revocation;    /* 0 = off / stopped / not scheduled */
	cm_time revocation_retry;   /* after a failed run: not before */
	cm_time next_endpoint;      /* earliest endpoint re-check; 0 = none
				     * (Certificate Validity Check off, or
				     * no endpoints) */
	int64_t endpoint_interval;  /* their interval; 0 = not re-checked */
	int more_due;               /* more work is due now: poll no wait */
	int reschedule;             /* recompute the timers */
	cm_time planned_at;         /* when they were last computed */
	uint64_t writes;            /* changes made through HTTP so far */
	struct counters count;
	char *tls_key_pem;
	char *tls_cert_pem;
};

/* Returns the daemon's "now": the wall clock, or the test clock file. */
cm_time daemon_now(struct daemon_ctx *d);

/* Logs one line (stderr or syslog, as configured). */
void daemon_log(int priority, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Adds a revocation run's OCSP requests to the daemon's counters. */
struct cm_revocation_report;
void counters_add_ocsp(struct daemon_ctx *d,
    const struct cm_revocation_report *rep);

/* scheduler.c: runs what is due at now; sets the next deadlines. */
void scheduler_tick(struct daemon_ctx *d, cm_time now);

/* Recomputes the deadlines from the store at now (after a change). */
void scheduler_plan(struct daemon_ctx *d, cm_time now);

/* Checks endpoint `name` now (POST /api/v1/endpoints/{name}/check and
 * the schedule), counting it and rescheduling; see cm_endpoint_check. */
struct cm_endpoint_report;
enum cm_status scheduler_check_endpoint(struct daemon_ctx *d,
    const char *name, const char *actor, cm_time now,
    struct cm_endpoint_report *rep, struct cm_err *err);

/* Starts (restarts) the services that are Running at daemon start. */
int scheduler_start(struct daemon_ctx *d, cm_time now);

/* http.c: starts/stops the HTTP(S) server on d->listen. */
int http_start(struct daemon_ctx *d);
void http_stop(struct daemon_ctx *d);

/* Returns the file descriptor to poll for HTTP activity, and runs the
 * server's pending work. */
int http_fd(struct daemon_ctx *d);
void http_run(struct daemon_ctx *d);

/* Milliseconds until the HTTP server needs to run, or -1. */
long long http_timeout_ms(struct daemon_ctx *d);

/* identity.c: loads or creates the HTTPS key and certificate (the
 * certificate also goes into the tomcat unit). */
int identity_load(struct daemon_ctx *d, const char *cert_file,
    const char *key_file, cm_time now);

#endif
