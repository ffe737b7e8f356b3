/*
 * tls_int.h - libcertmon-internal: the cache of validated OCSP answers
 * behind the TLS hook (lib/tls_cache.c), shared by every connection of one
 * struct cm_tls. Not a public header.
 */
#ifndef CERTMON_TLS_INT_H
#define CERTMON_TLS_INT_H

#include <stddef.h>
#include <stdint.h>

#include "certmon/cert.h"
#include "certmon/clock.h"
#include "certmon/ocsp.h"

/* A thread-safe hash map from a leaf's SHA-256 fingerprint to its
 * validated OCSP answer, with at most `cap` entries (the least recently
 * used one is evicted). */
struct cm_tlscache;

/* Creates a cache of cap entries (cap > 0); NULL when out of memory. */
struct cm_tlscache *cm_tlscache_new(size_t cap);

/* Frees a cache; NULL is fine. */
void cm_tlscache_free(struct cm_tlscache *c);

/* Looks up the answer about the certificate fp issued by ifp. Returns 1
 * and copies it into *out when there is one that is still usable at now
 * (now is before its nextUpdate and before it was stored + max_keep
 * seconds) and, when max_answer_age >= 0, whose thisUpdate is less than
 * max_answer_age seconds old; else 0 (an entry past its nextUpdate or
 * max_keep is dropped). Counts a hit or a miss. */
int cm_tlscache_get(struct cm_tlscache *c, const unsigned char fp[CM_FP_LEN],
    const unsigned char ifp[CM_FP_LEN], cm_time now, int64_t max_answer_age,
    struct cm_ocsp_result *out);

/* A stapled response an answer came from: the SHA-256 of its bytes and
 * the period in which every certificate it carries is valid. */
struct cm_tlscache_staple {
	unsigned char hash[CM_FP_LEN];
	cm_time not_before, not_after;
};

/* Stores a validated answer (status good, revoked or unknown) about fp
 * issued by ifp at now, usable until min(nextUpdate, now + max_keep), and
 * remembers the staple it came from (NULL: none, or not to be reused).
 * Answers without nextUpdate, errors and answers already past their
 * nextUpdate are not stored. An answer never replaces one with a later
 * thisUpdate, and good never replaces revoked unless the revocation
 * reason was certificateHold. Returns 1 when stored, 0 when not storable,
 * -1 when the cache keeps a preferable answer. */
int cm_tlscache_put(struct cm_tlscache *c, const unsigned char fp[CM_FP_LEN],
    const unsigned char ifp[CM_FP_LEN], const struct cm_ocsp_result *r,
    cm_time now, int64_t max_keep, const struct cm_tlscache_staple *staple);

/* Returns 1 and copies the answer into *out when the cache holds, usable
 * at now, the answer of a staple with these bytes (hash) about fp issued by
 * ifp, and now lies in that staple's certificates' validity; else 0. Does
 * not count hits or misses. */
int cm_tlscache_get_staple(struct cm_tlscache *c,
    const unsigned char fp[CM_FP_LEN], const unsigned char ifp[CM_FP_LEN],
    const unsigned char hash[CM_FP_LEN], cm_time now,
    struct cm_ocsp_result *out);

/* Returns 1 and copies it into *out when the cache holds an answer about
 * fp issued by ifp, usable at now, that the rules of cm_tlscache_put
 * prefer over r (a later thisUpdate; revoked over good unless on hold);
 * else 0. Does not count hits or misses. */
int cm_tlscache_preferred(struct cm_tlscache *c,
    const unsigned char fp[CM_FP_LEN], const unsigned char ifp[CM_FP_LEN],
    cm_time now, const struct cm_ocsp_result *r, struct cm_ocsp_result *out);

/* Reads the counters (any pointer may be NULL; c may be NULL). */
void cm_tlscache_stats(struct cm_tlscache *c, uint64_t *hits,
    uint64_t *misses, size_t *entries);

/* Drops every entry (the counters stay). */
void cm_tlscache_clear(struct cm_tlscache *c);

#endif
