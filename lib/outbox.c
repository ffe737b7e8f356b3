/* outbox.c - delivering queued mail with retries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certmon/log.h"
#include "certmon/mail.h"
#include "certmon/outbox.h"

int64_t
cm_outbox_backoff(int attempts, int64_t cap)
{
	int64_t wait = 60;

	for (int i = 1; i < attempts && wait < cap; i++)
		wait *= 2;
	return wait < cap ? wait : cap;
}

/* A copy of one due message, so the store is not read while written. */
struct due {
	int64_t id;
	char *message_id;
	char *recipients;
	char *message;
	size_t len;
	int attempts;
	cm_time created_at;
};

struct due_list {
	struct due *v;
	size_t n, cap;
	int nomem;
};

static int
collect_due(const struct cm_outbox_msg *m, void *arg)
{
	struct due_list *dl = arg;
	struct due *d, *nv;

	if (dl->n == dl->cap) {
		dl->cap = dl->cap ? dl->cap * 2 : 8;
		if ((nv = realloc(dl->v, dl->cap * sizeof(*nv))) == NULL) {
			dl->nomem = 1;
			return 1;
		}
		dl->v = nv;
	}
	d = &dl->v[dl->n];
	memset(d, 0, sizeof(*d));
	d->id = m->id;
	d->attempts = m->attempts;
	d->created_at = m->created_at;
	d->len = m->message_len;
	d->message_id = strdup(m->message_id);
	d->recipients = strdup(m->recipients);
	if ((d->message = malloc(m->message_len + 1)) != NULL) {
		memcpy(d->message, m->message, m->message_len);
		d->message[m->message_len] = '\0';
	}
	dl->n++;
	if (d->message_id == NULL || d->recipients == NULL || d->message == NULL) {
		dl->nomem = 1;
		return 1;
	}
	return 0;
}

static void
due_list_free(struct due_list *dl)
{
	for (size_t i = 0; i < dl->n; i++) {
		free(dl->v[i].message_id);
		free(dl->v[i].recipients);
		free(dl->v[i].message);
	}
	free(dl->v);
}

/* Sends one message and records the outcome. */
static enum cm_status
deliver_one(struct cm_store *st, const struct cm_smtp_config *cfg,
    const struct cm_monitor_settings *ms, const struct due *d, cm_time now,
    const char *actor, struct cm_outbox_result *res, struct cm_err *err)
{
	struct cm_strlist to = {NULL, 0};
	struct cm_err send_err = {CM_OK, ""};
	char reply[CM_MAIL_REPLY_MAX] = "", msg[CM_ERR_MSG_MAX + 128];
	int permanent = 0, final;
	enum cm_status rc;

	res->attempted++;
	rc = cm_mail_parse_list(d->recipients, &to, &send_err);
	if (rc == CM_OK)
		rc = cm_mail_send(cfg, &to, d->message, d->len, reply, sizeof(reply),
		    &permanent, &send_err);
	cm_mail_list_free(&to);
	if (rc == CM_OK) {
		res->sent++;
		cm_log(CM_LOG_INFO, "mail %s delivered: %s", d->message_id, reply);
		return cm_store_outbox_sent(st, d->id, now, reply, err);
	}
	res->failed++;
	snprintf(res->last_error, sizeof(res->last_error), "%s", send_err.msg);
	final = now - d->created_at >= ms->give_up_after;
	if ((rc = cm_store_begin(st, err)) != CM_OK)
		return rc;
	rc = cm_store_outbox_failed(st, d->id, now +
	    cm_outbox_backoff(d->attempts + 1, ms->retry_cap), send_err.msg,
	    reply, final, err);
	if (rc == CM_OK && (d->attempts == 0 || final)) {
		snprintf(msg, sizeof(msg), "mail %s %s: %s", d->message_id,
		    final ? "given up after retrying" : "not delivered, will retry",
		    send_err.msg);
		rc = cm_alarm_record(st, now, CM_ALARM_MAIL_FAILED, actor, NULL,
		    NULL, msg, err);
	}
	if (rc != CM_OK) {
		cm_store_rollback(st);
		return rc;
	}
	if ((rc = cm_store_commit(st, err)) == CM_OK &&
	    (d->attempts == 0 || final))
		cm_alarm_log(CM_ALARM_MAIL_FAILED, msg);
	return rc;
}

enum cm_status
cm_outbox_deliver(struct cm_store *st, const struct cm_smtp_settings *smtp,
    const struct cm_monitor_settings *ms, cm_time now, const char *actor,
    struct cm_outbox_result *res, struct cm_err *err)
{
	struct due_list dl = {NULL, 0, 0, 0};
	struct cm_smtp_config cfg;
	enum cm_status rc;

	memset(res, 0, sizeof(*res));
	cm_smtp_settings_config(smtp, &cfg);
	if ((rc = cm_store_outbox_list(st, now, 0, collect_due, &dl, err)) !=
	    CM_OK)
		goto out;
	if (dl.nomem) {
		rc = cm_err_set(err, CM_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < dl.n; i++)
		if ((rc = deliver_one(st, &cfg, ms, &dl.v[i], now, actor, res, err))
		    != CM_OK)
			goto out;
out:
	due_list_free(&dl);
	return rc;
}
