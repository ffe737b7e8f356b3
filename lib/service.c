/* service.c - service control (Running/Stopped, start, stop, restart). */
#include <stdio.h>
#include <strings.h>

#include "certmon/service.h"

static const struct {
	const char *name;
	const char *display;
} services[] = {
	{CM_SERVICE_EXPIRY, "Certificate Expiry Monitor"},
	{CM_SERVICE_REVOCATION, "Certificate Revocation Check"},
};

const char *
cm_service_resolve(const char *name)
{
	for (size_t i = 0; i < sizeof(services) / sizeof(services[0]); i++)
		if (strcasecmp(name, services[i].name) == 0 ||
		    strcasecmp(name, services[i].display) == 0)
			return services[i].name;
	return NULL;
}

const char *
cm_service_display_name(const char *name)
{
	for (size_t i = 0; i < sizeof(services) / sizeof(services[0]); i++)
		if (strcasecmp(name, services[i].name) == 0)
			return services[i].display;
	return name;
}

enum cm_status
cm_service_control(struct cm_store *st, const char *name,
    enum cm_service_action action, const char *actor, cm_time now,
    struct cm_err *err)
{
	static const char *const verbs[] = {"started", "stopped", "restarted"};
	const char *key = cm_service_resolve(name);
	struct cm_service svc;
	struct cm_event ev;
	char msg[160];
	enum cm_status rc;

	if (key == NULL)
		return cm_err_set(err, CM_ERR_NOTFOUND, "unknown service '%.60s' "
		    "(Certificate Expiry Monitor or Certificate Revocation Check)",
		    name);
	if ((rc = cm_store_begin(st, err)) != CM_OK)
		return rc;
	if ((rc = cm_store_service_get(st, key, &svc, err)) != CM_OK)
		goto fail;
	if ((action == CM_SERVICE_START && svc.running) ||
	    (action == CM_SERVICE_STOP && !svc.running)) {
		cm_store_rollback(st);
		return CM_OK;
	}
	svc.running = action != CM_SERVICE_STOP;
	if (action != CM_SERVICE_STOP) {
		svc.started_at = now;
		svc.next_run = 0;   /* the scheduler recomputes it */
	}
	snprintf(msg, sizeof(msg), "%s %s", cm_service_display_name(key),
	    verbs[action]);
	ev = (struct cm_event){0, now, "audit", "service.control", actor, NULL,
	    NULL, msg};
	if ((rc = cm_store_service_put(st, &svc, err)) != CM_OK ||
	    (rc = cm_store_event_add(st, &ev, err)) != CM_OK)
		goto fail;
	return cm_store_commit(st, err);
fail:
	cm_store_rollback(st);
	return rc;
}
