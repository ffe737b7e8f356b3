/*
 * out.c - output shared by the command groups: errors, JSON, aligned
 * tables, terminal escaping, option-parsing helpers.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "certmon/cert.h"
#include "certmon/settings.h"
#include "certmon/text.h"
#include "cli.h"

int
cli_dispatch(struct cli *c, const char *group,
    const struct cli_command *cmds, int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : NULL;

	for (size_t i = 0; name != NULL && cmds[i].name != NULL; i++)
		if (strcmp(name, cmds[i].name) == 0)
			return cmds[i].run(c, argc - 1, argv + 1);
	if (name != NULL && strcmp(name, "--help") != 0)
		fprintf(stderr, "certmon %s: unknown command '%s'\n", group, name);
	else if (name == NULL)
		fprintf(stderr, "certmon %s: a command is needed\n", group);
	for (size_t i = 0; cmds[i].name != NULL; i++)
		fprintf(name != NULL && strcmp(name, "--help") == 0 ? stdout : stderr,
		    "usage: certmon %s %s\n", group, cmds[i].usage);
	return name != NULL && strcmp(name, "--help") == 0 ? EXIT_OK : EXIT_USAGE;
}

struct cm_store *
cli_store(struct cli *c)
{
	struct cm_err err = {CM_OK, ""};

	if (c->store == NULL &&
	    cm_store_open(c->db_path, c->now, &c->store, &err) != CM_OK) {
		cli_fail_err(c, &err);
		return NULL;
	}
	return c->store;
}

static int
vfail(struct cli *c, int code, const char *fmt, va_list ap)
{
	char msg[CM_ERR_MSG_MAX + 64];
	char *esc;
	json_t *doc;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	esc = cm_text_escape(msg);
	fprintf(stderr, "certmon: %s\n", esc != NULL ? esc : msg);
	free(esc);
	if (c->json) {
		doc = json_pack("{s:s, s:o}", "status", "error", "error",
		    cm_json_str(msg));
		cli_print_json(doc);
	}
	return code;
}

int
cli_fail(struct cli *c, int code, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vfail(c, code, fmt, ap);
	va_end(ap);
	return r;
}

int
cli_fail_err(struct cli *c, const struct cm_err *err)
{
	return cli_fail(c, EXIT_FAIL, "%s", err->msg);
}

int
cli_usage(struct cli *c, const char *usage, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(c, EXIT_USAGE, fmt, ap);
	va_end(ap);
	fprintf(stderr, "usage: certmon %s\n", usage);
	return EXIT_USAGE;
}

void
cli_print_json(json_t *doc)
{
	if (doc == NULL) {
		printf("{\"status\":\"error\",\"error\":\"out of memory\"}\n");
		return;
	}
	if (json_object_get(doc, "status") == NULL)
		json_object_set_new(doc, "status", json_string("ok"));
	json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
	    JSON_ENSURE_ASCII);
	fputc('\n', stdout);
	json_decref(doc);
}

int
cli_opt_on_off(struct cli *c, const char *opt, const char *val, int *out)
{
	if (cm_bool_parse(val, out) != 0)
		return cli_fail(c, EXIT_FAIL, "settings not changed: %s takes on or "
		    "off, not '%s'", opt, val);
	return 0;
}

int
cli_opt_duration(struct cli *c, const char *opt, const char *val,
    int64_t *seconds)
{
	if (cm_duration_parse(val, seconds) != 0)
		return cli_fail(c, EXIT_FAIL, "settings not changed: %s takes a "
		    "duration like 12h or 1d, not '%s'", opt, val);
	return 0;
}

int
cli_opt_copy(struct cli *c, char *dst, size_t len, const char *opt,
    const char *val)
{
	if (strlen(val) >= len)
		return cli_fail(c, EXIT_FAIL, "settings not changed: %s is longer "
		    "than %zu bytes", opt, len - 1);
	snprintf(dst, len, "%s", val);
	return 0;
}

int
cli_json_only(struct cli *c, int argc, char **argv, const char *usage,
    int nargs)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
	int o;

	cli_getopt_reset();
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o != 'j')
			return cli_usage(c, usage, "unknown option '%s'",
			    argv[optind - 1]);
		c->json = 1;
	}
	if (argc - optind > nargs)
		return cli_usage(c, usage, "unexpected argument '%s'",
		    argv[optind + nargs]);
	return 0;
}

void
cli_getopt_reset(void)
{
	optind = 0;   /* GNU getopt: 0 re-initialises completely */
	opterr = 0;
}

char *
cli_read_password_file(struct cli *c, const char *path)
{
	char buf[1024];
	FILE *fp = fopen(path, "r");
	size_t n;

	if (fp == NULL) {
		cli_fail(c, EXIT_FAIL, "%s: cannot read the password file: %m",
		    path);
		return NULL;
	}
	if (fgets(buf, sizeof(buf), fp) == NULL)
		buf[0] = '\0';
	fclose(fp);
	n = strcspn(buf, "\r\n");
	buf[n] = '\0';
	return strdup(buf);
}

/* ---- tables ------------------------------------------------------------ */

struct table {
	int ncols;
	char **cells;        /* nrows * ncols, row 0 = headers */
	size_t nrows, cap;
};

static int
utf8_width(const char *s)
{
	int w = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

struct table *
table_new(int ncols, const char *const *headers)
{
	struct table *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->ncols = ncols;
	table_add(t, headers);
	return t;
}

void
table_add(struct table *t, const char *const *cells)
{
	char **nc;

	if (t == NULL)
		return;
	if (t->nrows == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 16;

		if ((nc = realloc(t->cells, ncap * t->ncols * sizeof(*nc))) == NULL)
			return;
		t->cells = nc;
		t->cap = ncap;
	}
	for (int i = 0; i < t->ncols; i++)
		t->cells[t->nrows * t->ncols + i] = cm_text_escape(cells[i]);
	t->nrows++;
}

void
table_print(struct table *t, FILE *fp)
{
	int *w;

	if (t == NULL || (w = calloc(t->ncols, sizeof(*w))) == NULL)
		return;
	for (size_t r = 0; r < t->nrows; r++)
		for (int i = 0; i < t->ncols; i++) {
			const char *cell = t->cells[r * t->ncols + i];
			int cw = cell != NULL ? utf8_width(cell) : 0;

			if (cw > w[i])
				w[i] = cw;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		for (int i = 0; i < t->ncols; i++) {
			const char *cell = t->cells[r * t->ncols + i];

			if (cell == NULL)
				cell = "";
			if (i == t->ncols - 1)
				fprintf(fp, "%s", cell);
			else
				fprintf(fp, "%s%*s  ", cell, w[i] - utf8_width(cell), "");
		}
		fputc('\n', fp);
	}
	free(w);
}

void
table_free(struct table *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}
