/*
 * import.c - many files into one unit as one transaction.
 *
 * Worker threads parse files ahead of the writer (at most WINDOW files in
 * flight, so memory stays bounded whatever the number of files); the
 * calling thread stores them in file order inside one transaction.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "certmon/import.h"

#define WINDOW 256
#define MAX_THREADS 16

struct slot {
	struct cm_cert_list certs;
	struct cm_err err;
	enum cm_status rc;
	int done;
};

struct job {
	const char *const *paths;
	size_t n;
	const struct cm_parse_opts *popts;
	pthread_mutex_t mu;
	pthread_cond_t parsed;   /* a slot became done */
	pthread_cond_t room;     /* the writer consumed a slot */
	size_t next;             /* next file to claim */
	size_t consumed;         /* files the writer has finished with */
	int stop;
	struct slot ring[WINDOW];
};

static void *
worker(void *arg)
{
	struct job *j = arg;
	struct slot *sl;
	size_t i;

	for (;;) {
		pthread_mutex_lock(&j->mu);
		while (!j->stop && j->next < j->n && j->next - j->consumed >= WINDOW)
			pthread_cond_wait(&j->room, &j->mu);
		if (j->stop || j->next >= j->n) {
			pthread_mutex_unlock(&j->mu);
			return NULL;
		}
		i = j->next++;
		pthread_mutex_unlock(&j->mu);

		sl = &j->ring[i % WINDOW];
		sl->rc = cm_cert_parse_file(j->paths[i], j->popts, &sl->certs,
		    &sl->err);

		pthread_mutex_lock(&j->mu);
		sl->done = 1;
		pthread_cond_broadcast(&j->parsed);
		pthread_mutex_unlock(&j->mu);
	}
}

/* Moves the items of part to the end of all. */
static enum cm_status
report_append(struct cm_upload_report *all, struct cm_upload_report *part,
    size_t *cap, struct cm_err *err)
{
	struct cm_upload_item *nv;

	if (all->n + part->n > *cap) {
		size_t ncap = *cap ? *cap : 64;

		while (ncap < all->n + part->n)
			ncap *= 2;
		if ((nv = realloc(all->v, ncap * sizeof(*nv))) == NULL)
			return cm_err_set(err, CM_ERR_NOMEM, "out of memory");
		all->v = nv;
		*cap = ncap;
	}
	if (part->n > 0)
		memcpy(all->v + all->n, part->v, part->n * sizeof(*part->v));
	all->n += part->n;
	free(part->v);
	part->v = NULL;
	part->n = 0;
	return CM_OK;
}

enum cm_status
cm_import_files(struct cm_store *st, const char *unit,
    const char *const *paths, size_t n, const struct cm_parse_opts *popts,
    const struct cm_upload_opts *uopts, int threads, const char *actor,
    cm_time now, struct cm_upload_report *report, struct cm_err *err)
{
	struct job *j = NULL;
	pthread_t tid[MAX_THREADS];
	struct cm_upload_report all = {NULL, 0}, part = {NULL, 0};
	struct cm_unit u;
	size_t cap = 0;
	int started = 0, in_txn = 0;
	enum cm_status rc = CM_OK;

	memset(report, 0, sizeof(*report));
	if (n == 0)
		return cm_err_set(err, CM_ERR_INVALID, "no file to upload");
	if (threads <= 0)
		threads = 2;
	if (threads > MAX_THREADS)
		threads = MAX_THREADS;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return cm_err_set(err, CM_ERR_NOMEM, "out of memory");
	j->paths = paths;
	j->n = n;
	j->popts = popts;
	pthread_mutex_init(&j->mu, NULL);
	pthread_cond_init(&j->parsed, NULL);
	pthread_cond_init(&j->room, NULL);

	if ((rc = cm_store_begin(st, err)) != CM_OK)
		goto out;
	in_txn = 1;
	/* Refuse an unknown unit before parsing anything. */
	if ((rc = cm_store_unit_get(st, unit, &u, err)) != CM_OK)
		goto out;
	for (; started < threads; started++)
		if (pthread_create(&tid[started], NULL, worker, j) != 0) {
			rc = cm_err_set(err, CM_ERR_INTERNAL, "cannot start a "
			    "parser thread");
			goto out;
		}

	for (size_t i = 0; i < n; i++) {
		struct slot *sl = &j->ring[i % WINDOW];

		pthread_mutex_lock(&j->mu);
		while (!sl->done)
			pthread_cond_wait(&j->parsed, &j->mu);
		pthread_mutex_unlock(&j->mu);

		if ((rc = sl->rc) != CM_OK) {
			*err = sl->err;
		} else {
			rc = cm_store_upload(st, unit, &sl->certs, uopts, actor, now,
			    &part, err);
			if (rc != CM_OK)
				cm_err_prefix(err, "%s", paths[i]);
			else
				rc = report_append(&all, &part, &cap, err);
		}
		cm_cert_list_clear(&sl->certs);

		pthread_mutex_lock(&j->mu);
		sl->done = 0;
		j->consumed = i + 1;
		if (rc != CM_OK)
			j->stop = 1;
		pthread_cond_broadcast(&j->room);
		pthread_mutex_unlock(&j->mu);
		if (rc != CM_OK)
			goto out;
	}
	if ((rc = cm_store_commit(st, err)) == CM_OK) {
		*report = all;
		all.v = NULL;
		all.n = 0;
	}
	in_txn = 0;
out:
	if (in_txn)
		cm_store_rollback(st);
	pthread_mutex_lock(&j->mu);
	j->stop = 1;
	pthread_cond_broadcast(&j->room);
	pthread_mutex_unlock(&j->mu);
	for (int t = 0; t < started; t++)
		pthread_join(tid[t], NULL);
	for (size_t i = 0; i < WINDOW; i++)
		cm_cert_list_clear(&j->ring[i].certs);
	pthread_cond_destroy(&j->parsed);
	pthread_cond_destroy(&j->room);
	pthread_mutex_destroy(&j->mu);
	free(j);
	cm_upload_report_free(&all);
	cm_upload_report_free(&part);
	return rc;
}
