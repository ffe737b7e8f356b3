/*
 * cli.h - what the command groups of `certmon` share: the invocation
 * context, option parsing, and output (tables, JSON, errors).
 */
#ifndef CERTMON_CLI_H
#define CERTMON_CLI_H

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>

#include "certmon/clock.h"
#include "certmon/err.h"
#include "certmon/json.h"
#include "certmon/text.h"
#include "certmon/store.h"

/* Exit codes of commands that are not checks. */
#define EXIT_OK     0
#define EXIT_FAIL   1   /* refused or failed */
#define EXIT_USAGE  2   /* bad command line */

/* Exit codes of checks (monitoring-plugin convention). */
#define CHECK_OK       0
#define CHECK_WARNING  1
#define CHECK_CRITICAL 2
#define CHECK_UNKNOWN  3

struct cli {
	const char *db_path;
	cm_time now;
	char actor[80];
	int json;                  /* --json given to the command */
	struct cm_store *store;    /* opened on first use */
};

struct cli_command {
	const char *name;
	int (*run)(struct cli *c, int argc, char **argv);
	const char *usage;
};

/* Runs the subcommand named argv[0] of a group; prints the group's usage
 * for an unknown one. Returns the exit code. */
int cli_dispatch(struct cli *c, const char *group,
    const struct cli_command *cmds, int argc, char **argv);

/* Opens the store (once); on failure reports the error and returns NULL. */
struct cm_store *cli_store(struct cli *c);

/* Reports a failure: one line on stderr and, with --json, the document
 * {"status":"error","error":...} on stdout. Returns `code`. */
int cli_fail(struct cli *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reports err like cli_fail with EXIT_FAIL. */
int cli_fail_err(struct cli *c, const struct cm_err *err);

/* Reports a command-line mistake and the usage line; returns EXIT_USAGE. */
int cli_usage(struct cli *c, const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prints doc (adding "status":"ok" when it has no status) to stdout and
 * releases it. */
void cli_print_json(json_t *doc);

/* Option values of `set` commands: on failure each reports "settings not
 * changed: ..." and returns EXIT_FAIL; 0 on success. */
int cli_opt_on_off(struct cli *c, const char *opt, const char *val, int *out);
int cli_opt_duration(struct cli *c, const char *opt, const char *val,
    int64_t *seconds);
int cli_opt_copy(struct cli *c, char *dst, size_t len, const char *opt,
    const char *val);

/* Parses the options of a command whose only option is --json (setting
 * c->json) and that takes at most nargs positional arguments (from optind;
 * the caller checks the ones it needs). Returns 0, or EXIT_USAGE after
 * reporting an unknown option or an unexpected argument with usage. */
int cli_json_only(struct cli *c, int argc, char **argv, const char *usage,
    int nargs);

/* Resets getopt for parsing a command's own argv. */
void cli_getopt_reset(void);

/* Reads a password file's first line (without its newline) into a newly
 * allocated string; NULL with a message on stderr on failure. */
char *cli_read_password_file(struct cli *c, const char *path);

/* An aligned text table. Cells are escaped for the terminal. */
struct table;
struct table *table_new(int ncols, const char *const *headers);
void table_add(struct table *t, const char *const *cells);
void table_print(struct table *t, FILE *fp);
void table_free(struct table *t);


/* The command groups. */
int cmd_unit(struct cli *c, int argc, char **argv);
int cmd_cert(struct cli *c, int argc, char **argv);
int cmd_inspect(struct cli *c, int argc, char **argv);
int cmd_events(struct cli *c, int argc, char **argv);
int cmd_monitor(struct cli *c, int argc, char **argv);
int cmd_smtp(struct cli *c, int argc, char **argv);
int cmd_mail(struct cli *c, int argc, char **argv);
int cmd_service(struct cli *c, int argc, char **argv);
int cmd_ocsp(struct cli *c, int argc, char **argv);
int cmd_tls_check(struct cli *c, int argc, char **argv);
int cmd_revocation(struct cli *c, int argc, char **argv);
int cmd_params(struct cli *c, int argc, char **argv);
int cmd_token(struct cli *c, int argc, char **argv);
int cmd_admin(struct cli *c, int argc, char **argv);
int cmd_endpoint(struct cli *c, int argc, char **argv);

#endif
