/* log.c - the log sink and alarms. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

#include "certmon/log.h"

static pthread_mutex_t sink_mu = PTHREAD_MUTEX_INITIALIZER;
static cm_log_sink sink_fn;
static void *sink_arg;

void
cm_log_set_sink(cm_log_sink sink, void *arg)
{
	pthread_mutex_lock(&sink_mu);
	sink_fn = sink;
	sink_arg = arg;
	pthread_mutex_unlock(&sink_mu);
}

void
cm_log(enum cm_log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	pthread_mutex_lock(&sink_mu);
	if (sink_fn != NULL) {
		va_start(ap, fmt);
		vsnprintf(line, sizeof(line), fmt, ap);
		va_end(ap);
		for (char *p = line; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = ' ';
		sink_fn(level, line, sink_arg);
	}
	pthread_mutex_unlock(&sink_mu);
}

enum cm_status
cm_alarm_record(struct cm_store *st, cm_time at, const char *name,
    const char *actor, const char *unit, const char *fp, const char *message,
    struct cm_err *err)
{
	struct cm_event ev = {0, at, "alarm", name, actor, unit, fp, message};

	return cm_store_event_add(st, &ev, err);
}

void
cm_alarm_log(const char *name, const char *message)
{
	cm_log(CM_LOG_WARNING, "alarm %s: %s", name, message);
}
