/* err.c - status codes and one-line error messages. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "certmon/err.h"

/* Replaces CR, LF and other control bytes so a message stays one line. */
static void
one_line(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
}

void
cm_err_record(struct cm_err *err, enum cm_status code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	one_line(err->msg);
}

enum cm_status
cm_err_prefix(struct cm_err *err, const char *fmt, ...)
{
	char prefix[CM_ERR_MSG_MAX], joined[2 * CM_ERR_MSG_MAX + 4];
	va_list ap;

	if (err == NULL)
		return CM_OK;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	snprintf(joined, sizeof(joined), "%s: %s", prefix, err->msg);
	snprintf(err->msg, sizeof(err->msg), "%.*s", CM_ERR_MSG_MAX - 1, joined);
	one_line(err->msg);
	return err->code;
}

void
cm_err_clear(struct cm_err *err)
{
	if (err == NULL)
		return;
	err->code = CM_OK;
	err->msg[0] = '\0';
}

const char *
cm_status_name(enum cm_status code)
{
	switch (code) {
	case CM_OK:           return "ok";
	case CM_ERR_INVALID:  return "invalid";
	case CM_ERR_NOTFOUND: return "not found";
	case CM_ERR_CONFLICT: return "conflict";
	case CM_ERR_TOOBIG:   return "too big";
	case CM_ERR_IO:       return "i/o error";
	case CM_ERR_STORE:    return "store error";
	case CM_ERR_NOMEM:    return "out of memory";
	case CM_ERR_INTERNAL: return "internal error";
	}
	return "unknown";
}
