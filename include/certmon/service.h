/*
 * service.h - the network services and their control (Running/Stopped,
 * start, stop, restart), kept in the store so the CLI, the daemon and the
 * web admin agree.
 */
#ifndef CERTMON_SERVICE_H
#define CERTMON_SERVICE_H

#include "certmon/store.h"

enum cm_service_action {
	CM_SERVICE_START,
	CM_SERVICE_STOP,
	CM_SERVICE_RESTART
};

/* Resolves a service name ("expiry-monitor" or "Certificate Expiry
 * Monitor", "revocation-check" or "Certificate Revocation Check", any case)
 * to its store name; NULL when unknown. */
const char *cm_service_resolve(const char *name);

/* Returns the display name of a store name. */
const char *cm_service_display_name(const char *name);

/* Starts, stops or restarts a service at `now`. Start and restart set the
 * last (re)start to now, which restarts the 24-hour cycle. Starting a
 * running service or stopping a stopped one changes nothing. */
enum cm_status cm_service_control(struct cm_store *st, const char *name,
    enum cm_service_action action, const char *actor, cm_time now,
    struct cm_err *err);

#endif
