/*
 * json.h - the JSON shapes certmon prints and serves (CLI --json, REST
 * API), built with jansson so that every string is escaped.
 */
#ifndef CERTMON_JSON_H
#define CERTMON_JSON_H

#include <jansson.h>

#include "certmon/cert.h"
#include "certmon/clock.h"
#include "certmon/err.h"
#include "certmon/revocation_run.h"
#include "certmon/store.h"

/* Returns a JSON string for s (NULL becomes null). */
json_t *cm_json_str(const char *s);

/* Returns the ISO 8601 text of t, or null when t is 0. */
json_t *cm_json_time(cm_time t);

/* Returns the object of a stored certificate at now, with its state by
 * Notification Start Time start_days (caller owns the reference). */
json_t *cm_json_cert_row(const struct cm_cert_row *row, cm_time now,
    int start_days);

/* Appends to buf exactly what json_dumpb(cm_json_cert_row(row, now,
 * start_days), JSON_COMPACT | JSON_ENSURE_ASCII) would write, without
 * building the object: the fast path of long listings (jansson spends
 * about 8 us dumping one such object; the unit tests compare both
 * byte for byte). Returns the length written, or 0 when buf (len bytes)
 * is too small. */
size_t cm_json_cert_row_write(const struct cm_cert_row *row, cm_time now,
    int start_days, char *buf, size_t len);

/* Reads the optional boolean member key of a request body o into *out
 * (untouched when absent): 0, or -1 with err set when it is not a
 * boolean. */
int cm_json_opt_bool(json_t *o, const char *key, int *out,
    struct cm_err *err);

/* Reads the optional string member key of o into out (len bytes with its
 * NUL; untouched when absent): 0, or -1 with err set when it is not a
 * string or does not fit. */
int cm_json_opt_text(json_t *o, const char *key, char *out, size_t len,
    struct cm_err *err);

/* Returns the object of one certificate of a revocation run or upload
 * check (caller owns the reference). */
json_t *cm_json_rev_result(const struct cm_rev_result *r);

/* Appends to buf exactly what json_dumpb(cm_json_rev_result(r),
 * JSON_COMPACT | JSON_ENSURE_ASCII) would write, without building the
 * object (the unit tests compare both byte for byte). Returns the length
 * written, or 0 when buf (len bytes) is too small. */
size_t cm_json_rev_result_write(const struct cm_rev_result *r, char *buf,
    size_t len);

/* Adds the parsed-only fields of a certificate (version, SANs, EKUs, OCSP
 * and CA-issuer URLs, CRL distribution points, ocsp_nocheck) to obj. */
void cm_json_cert_fields(json_t *obj, const struct cm_cert *cert);

#endif
