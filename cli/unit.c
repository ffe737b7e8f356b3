/* unit.c - `certmon unit list | add NAME [--trust|--identity|--lsc] |
 * remove NAME [--force]`. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int
unit_list(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
	static const char *const hdr[] = {"UNIT", "KIND", "CERTS", "HISTORY",
	    "CREATED (UTC)"};
	struct cm_err err = {CM_OK, ""};
	struct cm_store *st;
	struct cm_unit *units = NULL;
	struct table *t = NULL;
	json_t *arr;
	size_t n = 0;
	int o, code = EXIT_OK;

	cli_getopt_reset();
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'j')
			c->json = 1;
		else
			return cli_usage(c, "unit list [--json]", "unknown option "
			    "'%s'", argv[optind - 1]);
	}
	if ((st = cli_store(c)) == NULL)
		return EXIT_FAIL;
	if (cm_store_unit_list(st, &units, &n, &err) != CM_OK)
		return cli_fail_err(c, &err);
	if (c->json) {
		arr = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, json_pack("{s:s, s:s, s:I, s:I, s:o}",
			    "name", units[i].name, "kind",
			    cm_unit_kind_name(units[i].kind), "certs",
			    (json_int_t)units[i].n_current, "history",
			    (json_int_t)units[i].n_history, "created_at",
			    cm_json_time(units[i].created_at)));
		cli_print_json(json_pack("{s:s, s:o}", "status", "ok", "units", arr));
		goto out;
	}
	t = table_new(5, hdr);
	for (size_t i = 0; i < n; i++) {
		char cur[24], hist[24], when[CM_TIME_TEXT_LEN];
		const char *row[5] = {units[i].name, cm_unit_kind_name(units[i].kind),
		    cur, hist, cm_time_format(units[i].created_at, when)};

		snprintf(cur, sizeof(cur), "%" PRId64, units[i].n_current);
		snprintf(hist, sizeof(hist), "%" PRId64, units[i].n_history);
		table_add(t, row);
	}
	table_print(t, stdout);
out:
	table_free(t);
	free(units);
	return code;
}

static int
unit_add(struct cli *c, int argc, char **argv)
{
	static const char *usage = "unit add NAME [--trust|--identity|--lsc] "
	    "[--json]";
	static const struct option opts[] = {
		{"trust", no_argument, NULL, 't'},
		{"identity", no_argument, NULL, 'i'},
		{"lsc", no_argument, NULL, 'l'},
		{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
	struct cm_err err = {CM_OK, ""};
	struct cm_store *st;
	enum cm_unit_kind kind = CM_UNIT_IDENTITY;
	int o, kinds = 0;

	cli_getopt_reset();
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 't': kind = CM_UNIT_TRUST; kinds++; break;
		case 'i': kind = CM_UNIT_IDENTITY; kinds++; break;
		case 'l': kind = CM_UNIT_LSC; kinds++; break;
		case 'j': c->json = 1; break;
		default:
			return cli_usage(c, usage, "unknown option '%s'",
			    argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return cli_usage(c, usage, "one unit name is needed");
	if (kinds > 1)
		return cli_usage(c, usage, "give at most one of --trust, "
		    "--identity, --lsc");
	if (kinds == 0)
		kind = cm_unit_kind_for_name(argv[optind]);
	if ((st = cli_store(c)) == NULL)
		return EXIT_FAIL;
	if (cm_store_unit_add(st, argv[optind], kind, c->actor, c->now, &err)
	    != CM_OK)
		return cli_fail_err(c, &err);
	if (c->json)
		cli_print_json(json_pack("{s:s, s:s, s:s}", "status", "ok", "unit",
		    argv[optind], "kind", cm_unit_kind_name(kind)));
	else
		printf("unit %s added (%s)\n", argv[optind], cm_unit_kind_name(kind));
	return EXIT_OK;
}

static int
unit_remove(struct cli *c, int argc, char **argv)
{
	static const char *usage = "unit remove NAME [--force] [--json]";
	static const struct option opts[] = {
		{"force", no_argument, NULL, 'f'},
		{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
	struct cm_err err = {CM_OK, ""};
	struct cm_store *st;
	int o, force = 0;

	cli_getopt_reset();
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'f')
			force = 1;
		else if (o == 'j')
			c->json = 1;
		else
			return cli_usage(c, usage, "unknown option '%s'",
			    argv[optind - 1]);
	}
	if (optind != argc - 1)
		return cli_usage(c, usage, "one unit name is needed");
	if ((st = cli_store(c)) == NULL)
		return EXIT_FAIL;
	if (cm_store_unit_remove(st, argv[optind], force, c->actor, c->now,
	    &err) != CM_OK)
		return cli_fail_err(c, &err);
	if (c->json)
		cli_print_json(json_pack("{s:s, s:s}", "status", "ok", "removed",
		    argv[optind]));
	else
		printf("unit %s removed\n", argv[optind]);
	return EXIT_OK;
}

static const struct cli_command unit_cmds[] = {
	{"list", unit_list, "list [--json]"},
	{"add", unit_add, "add NAME [--trust|--identity|--lsc] [--json]"},
	{"remove", unit_remove, "remove NAME [--force] [--json]"},
	{NULL, NULL, NULL},
};

int
cmd_unit(struct cli *c, int argc, char **argv)
{
	return cli_dispatch(c, "unit", unit_cmds, argc, argv);
}
