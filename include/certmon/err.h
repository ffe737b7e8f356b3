/*
 * err.h - status codes and one-line error messages of libcertmon.
 *
 * Every fallible library function returns an enum cm_status and, on failure,
 * fills a caller-provided struct cm_err with one line that says what failed,
 * on what, and why. The library never prints and never exits.
 */
#ifndef CERTMON_ERR_H
#define CERTMON_ERR_H

#include <stddef.h>

enum cm_status {
	CM_OK = 0,
	CM_ERR_INVALID,   /* bad input: garbage, out of range, malformed */
	CM_ERR_NOTFOUND,  /* no such unit / certificate / setting */
	CM_ERR_CONFLICT,  /* exists already, refused by a rule, ambiguous */
	CM_ERR_TOOBIG,    /* input above a size or cost cap */
	CM_ERR_IO,        /* file system or network */
	CM_ERR_STORE,     /* the database */
	CM_ERR_NOMEM,     /* out of memory */
	CM_ERR_INTERNAL   /* a bug: should never happen */
};

#define CM_ERR_MSG_MAX 512

struct cm_err {
	enum cm_status code;
	char msg[CM_ERR_MSG_MAX];
};

/* Sets *err (when err is not NULL) to code and a printf-style message. */
void cm_err_record(struct cm_err *err, enum cm_status code,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Sets *err like cm_err_record and evaluates to code, so callers can write
 * `return cm_err_set(...)` (a macro so that static analysers see the value;
 * code is evaluated twice: pass a constant or a variable). */
#define cm_err_set(err, code, ...) \
	(cm_err_record((err), (code), __VA_ARGS__), cm_err_code(code))

/* Returns code (what cm_err_set evaluates to). */
static inline enum cm_status
cm_err_code(enum cm_status code)
{
	return code;
}

/* Prefixes the message already in *err with a printf-style context and
 * ": "; returns err->code (CM_OK when err is NULL). */
enum cm_status cm_err_prefix(struct cm_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Resets *err to CM_OK with an empty message. */
void cm_err_clear(struct cm_err *err);

/* Returns a short static name for code ("invalid", "not found", ...). */
const char *cm_status_name(enum cm_status code);

#endif
