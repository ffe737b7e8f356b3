/*
 * json.h - the JSON shapes certmon prints and serves (CLI --json, REST
 * API), built with jansson so that every string is escaped.
 */
#ifndef CERTMON_JSON_H
#define CERTMON_JSON_H

#include <jansson.h>

#include "certmon/cert.h"
#include "certmon/clock.h"
#include "certmon/store.h"

/* Returns a JSON string for s (NULL becomes null). */
json_t *cm_json_str(const char *s);

/* Returns the ISO 8601 text of t, or null when t is 0. */
json_t *cm_json_time(cm_time t);

/* Returns the object of a stored certificate at now, with its state by
 * Notification Start Time start_days (caller owns the reference). */
json_t *cm_json_cert_row(const struct cm_cert_row *row, cm_time now,
    int start_days);

/* Adds the parsed-only fields of a certificate (version, SANs, EKUs, OCSP
 * and CA-issuer URLs, CRL distribution points, ocsp_nocheck) to obj. */
void cm_json_cert_fields(json_t *obj, const struct cm_cert *cert);

#endif
