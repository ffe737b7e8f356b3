/*
 * tls_cache.c - the TLS hook's cache of validated OCSP answers: a hash map
 * (chained buckets over a fixed array of entries) with an LRU list, under
 * one mutex. Lookups copy the answer out, so no pointer into the cache
 * escapes the lock.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tls_int.h"

#define NIL (-1)

struct entry {
	unsigned char fp[CM_FP_LEN];
	unsigned char ifp[CM_FP_LEN];
	cm_time until;                  /* usable while now < until */
	struct cm_ocsp_result r;
	int has_staple;                 /* r came from this staple: */
	struct cm_tlscache_staple staple;
	int32_t hnext;                  /* bucket chain, or the free list */
	int32_t prev, next;             /* LRU list: prev is more recent */
};

struct cm_tlscache {
	pthread_mutex_t mu;
	struct entry *e;
	int32_t *bucket;
	size_t cap, nbuckets, used;     /* used: entries ever handed out */
	size_t n;                       /* entries in the map */
	int32_t head, tail;             /* most and least recently used */
	int32_t free_list;
	uint64_t hits, misses;
};

static size_t
hash_of(const struct cm_tlscache *c, const unsigned char *fp)
{
	uint32_t h;

	memcpy(&h, fp, sizeof(h));      /* SHA-256 output: already uniform */
	return h & (c->nbuckets - 1);
}

struct cm_tlscache *
cm_tlscache_new(size_t cap)
{
	struct cm_tlscache *c = NULL;
	size_t nb = 16;

	if (cap == 0 || cap > (size_t)INT32_MAX / 4)
		goto out;
	while (nb < 2 * cap)
		nb *= 2;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		goto out;
	c->e = calloc(cap, sizeof(*c->e));
	c->bucket = malloc(nb * sizeof(*c->bucket));
	if (c->e == NULL || c->bucket == NULL ||
	    pthread_mutex_init(&c->mu, NULL) != 0) {
		free(c->e);
		free(c->bucket);
		free(c);
		c = NULL;
		goto out;
	}
	for (size_t i = 0; i < nb; i++)
		c->bucket[i] = NIL;
	c->cap = cap;
	c->nbuckets = nb;
	c->head = c->tail = c->free_list = NIL;
out:
	return c;
}

void
cm_tlscache_free(struct cm_tlscache *c)
{
	if (c == NULL)
		return;
	pthread_mutex_destroy(&c->mu);
	free(c->e);
	free(c->bucket);
	free(c);
}

/* ---- the LRU list and the buckets (under the lock) ------------------ */

static void
lru_unlink(struct cm_tlscache *c, int32_t i)
{
	struct entry *x = &c->e[i];

	if (x->prev != NIL)
		c->e[x->prev].next = x->next;
	else
		c->head = x->next;
	if (x->next != NIL)
		c->e[x->next].prev = x->prev;
	else
		c->tail = x->prev;
	x->prev = x->next = NIL;
}

static void
lru_push_front(struct cm_tlscache *c, int32_t i)
{
	struct entry *x = &c->e[i];

	x->prev = NIL;
	x->next = c->head;
	if (c->head != NIL)
		c->e[c->head].prev = i;
	c->head = i;
	if (c->tail == NIL)
		c->tail = i;
}

static int32_t
find(struct cm_tlscache *c, const unsigned char *fp, int32_t **link)
{
	int32_t *l = &c->bucket[hash_of(c, fp)];

	while (*l != NIL && memcmp(c->e[*l].fp, fp, CM_FP_LEN) != 0)
		l = &c->e[*l].hnext;
	if (link != NULL)
		*link = l;
	return *l;
}

/* Removes entry i from the map and puts it on the free list. */
static void
drop(struct cm_tlscache *c, int32_t i)
{
	int32_t *link;

	if (find(c, c->e[i].fp, &link) == i)
		*link = c->e[i].hnext;
	lru_unlink(c, i);
	c->e[i].hnext = c->free_list;
	c->free_list = i;
	c->n--;
}

/* Returns a free entry: from the free list, a new one, or the least
 * recently used one (evicted). */
static int32_t
take(struct cm_tlscache *c)
{
	int32_t i;

	if (c->free_list != NIL) {
		i = c->free_list;
		c->free_list = c->e[i].hnext;
		return i;
	}
	if (c->used < c->cap)
		return (int32_t)c->used++;
	i = c->tail;
	drop(c, i);
	c->free_list = c->e[i].hnext;   /* drop() pushed it: take it back */
	return i;
}

/* ---- the interface ---------------------------------------------------- */

int
cm_tlscache_get(struct cm_tlscache *c, const unsigned char fp[CM_FP_LEN],
    const unsigned char ifp[CM_FP_LEN], cm_time now, int64_t max_answer_age,
    struct cm_ocsp_result *out)
{
	struct entry *x;
	int32_t i;
	int ok = 0;

	if (c == NULL)
		return 0;
	pthread_mutex_lock(&c->mu);
	if ((i = find(c, fp, NULL)) == NIL)
		goto out;
	x = &c->e[i];
	if (now >= x->until) {
		drop(c, i);
		goto out;
	}
	if (memcmp(x->ifp, ifp, CM_FP_LEN) != 0 ||
	    (max_answer_age >= 0 && now - x->r.this_update >= max_answer_age))
		goto out;
	memcpy(out, &x->r, sizeof(*out));
	lru_unlink(c, i);
	lru_push_front(c, i);
	ok = 1;
out:
	if (ok)
		c->hits++;
	else
		c->misses++;
	pthread_mutex_unlock(&c->mu);
	return ok;
}

/* Whether the answer `old` must stay instead of `nu`. */
static int
keeps(const struct cm_ocsp_result *old, const struct cm_ocsp_result *nu)
{
	if (old->this_update > nu->this_update)
		return 1;
	return old->status == CM_REV_REVOKED && nu->status == CM_REV_GOOD &&
	    strcmp(old->revocation_reason, "certificateHold") != 0;
}

int
cm_tlscache_put(struct cm_tlscache *c, const unsigned char fp[CM_FP_LEN],
    const unsigned char ifp[CM_FP_LEN], const struct cm_ocsp_result *r,
    cm_time now, int64_t max_keep, const struct cm_tlscache_staple *staple)
{
	cm_time until;
	int32_t i, *link;
	int stored = -1;

	if (c == NULL || r->status == CM_REV_ERROR || r->next_update == 0 ||
	    r->next_update <= now)
		return 0;
	until = r->next_update;
	if (max_keep > 0 && now + max_keep < until)
		until = now + max_keep;
	pthread_mutex_lock(&c->mu);
	if ((i = find(c, fp, &link)) != NIL) {
		if (memcmp(c->e[i].ifp, ifp, CM_FP_LEN) == 0 &&
		    now < c->e[i].until && keeps(&c->e[i].r, r))
			goto out;
		lru_unlink(c, i);
	} else {
		i = take(c);
		/* take() may have evicted from this very bucket */
		find(c, fp, &link);
		c->e[i].hnext = NIL;
		*link = i;
		c->n++;
	}
	memcpy(c->e[i].fp, fp, CM_FP_LEN);
	memcpy(c->e[i].ifp, ifp, CM_FP_LEN);
	c->e[i].until = until;
	memcpy(&c->e[i].r, r, sizeof(*r));
	c->e[i].has_staple = staple != NULL;
	if (staple != NULL)
		c->e[i].staple = *staple;
	lru_push_front(c, i);
	stored = 1;
out:
	pthread_mutex_unlock(&c->mu);
	return stored;
}

/* The entry about fp issued by ifp usable at now (under the lock), or
 * NULL. */
static struct entry *
usable(struct cm_tlscache *c, const unsigned char *fp,
    const unsigned char *ifp, cm_time now)
{
	int32_t i = find(c, fp, NULL);

	if (i == NIL || now >= c->e[i].until ||
	    memcmp(c->e[i].ifp, ifp, CM_FP_LEN) != 0)
		return NULL;
	return &c->e[i];
}

int
cm_tlscache_get_staple(struct cm_tlscache *c,
    const unsigned char fp[CM_FP_LEN], const unsigned char ifp[CM_FP_LEN],
    const unsigned char hash[CM_FP_LEN], cm_time now,
    struct cm_ocsp_result *out)
{
	struct entry *x;
	int ok = 0;

	if (c == NULL)
		return 0;
	pthread_mutex_lock(&c->mu);
	if ((x = usable(c, fp, ifp, now)) != NULL && x->has_staple &&
	    memcmp(x->staple.hash, hash, CM_FP_LEN) == 0 &&
	    now >= x->staple.not_before && now <= x->staple.not_after) {
		memcpy(out, &x->r, sizeof(*out));
		ok = 1;
	}
	pthread_mutex_unlock(&c->mu);
	return ok;
}

int
cm_tlscache_preferred(struct cm_tlscache *c,
    const unsigned char fp[CM_FP_LEN], const unsigned char ifp[CM_FP_LEN],
    cm_time now, const struct cm_ocsp_result *r, struct cm_ocsp_result *out)
{
	struct entry *x;
	int ok = 0;

	if (c == NULL)
		return 0;
	pthread_mutex_lock(&c->mu);
	if ((x = usable(c, fp, ifp, now)) != NULL && keeps(&x->r, r)) {
		memcpy(out, &x->r, sizeof(*out));
		ok = 1;
	}
	pthread_mutex_unlock(&c->mu);
	return ok;
}

void
cm_tlscache_stats(struct cm_tlscache *c, uint64_t *hits, uint64_t *misses,
    size_t *entries)
{
	uint64_t h = 0, m = 0;
	size_t n = 0;

	if (c != NULL) {
		pthread_mutex_lock(&c->mu);
		h = c->hits;
		m = c->misses;
		n = c->n;
		pthread_mutex_unlock(&c->mu);
	}
	if (hits != NULL)
		*hits = h;
	if (misses != NULL)
		*misses = m;
	if (entries != NULL)
		*entries = n;
}

void
cm_tlscache_clear(struct cm_tlscache *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < c->nbuckets; i++)
		c->bucket[i] = NIL;
	c->used = c->n = 0;
	c->head = c->tail = c->free_list = NIL;
	pthread_mutex_unlock(&c->mu);
}
