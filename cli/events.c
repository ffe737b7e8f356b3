/* events.c - `certmon events [--kind audit|alarm] [--name NAME]
 * [--limit N] [--json]`: the audit and alarm log, newest first. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

struct events_ctx {
	json_t *arr;
	struct table *t;
};

static int
event_row(const struct cm_event *ev, void *arg)
{
	struct events_ctx *ec = arg;
	char when[CM_TIME_TEXT_LEN], fp[17] = "";

	if (ev->fingerprint != NULL)
		snprintf(fp, sizeof(fp), "%.16s", ev->fingerprint);
	if (ec->arr != NULL) {
		json_array_append_new(ec->arr, json_pack(
		    "{s:I, s:o, s:s, s:s, s:s, s:o, s:o, s:o}", "id",
		    (json_int_t)ev->id, "at", cm_json_time(ev->at), "kind", ev->kind,
		    "name", ev->name, "actor", ev->actor, "unit",
		    cm_json_str(ev->unit), "fingerprint",
		    cm_json_str(ev->fingerprint), "message",
		    cm_json_str(ev->message)));
		return 0;
	}
	table_add(ec->t, (const char *const[]){cm_time_format(ev->at, when),
	    ev->kind, ev->name, ev->actor, ev->unit ? ev->unit : "", fp,
	    ev->message});
	return 0;
}

int
cmd_events(struct cli *c, int argc, char **argv)
{
	static const char *usage = "events [--kind audit|alarm] [--name NAME] "
	    "[--limit N] [--json]";
	static const struct option opts[] = {
		{"kind", required_argument, NULL, 'k'},
		{"name", required_argument, NULL, 'n'},
		{"limit", required_argument, NULL, 'l'},
		{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
	static const char *const hdr[] = {"AT (UTC)", "KIND", "NAME", "ACTOR",
	    "UNIT", "FINGERPRINT", "MESSAGE"};
	struct cm_err err = {CM_OK, ""};
	struct cm_event_filter f;
	struct events_ctx ec = {NULL, NULL};
	char *end;
	int o, code = EXIT_OK;

	memset(&f, 0, sizeof(f));
	f.limit = 50;
	cli_getopt_reset();
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'k': f.kind = optarg; break;
		case 'n': f.name = optarg; break;
		case 'l':
			f.limit = strtoll(optarg, &end, 10);
			if (*end != '\0' || f.limit <= 0)
				return cli_usage(c, usage, "--limit needs a positive "
				    "number, not '%s'", optarg);
			break;
		case 'j': c->json = 1; break;
		default:
			return cli_usage(c, usage, "unknown option or missing value "
			    "'%s'", argv[optind - 1]);
		}
	}
	if (optind != argc)
		return cli_usage(c, usage, "unexpected argument '%s'", argv[optind]);
	if (cli_store(c) == NULL)
		return EXIT_FAIL;
	if (c->json)
		ec.arr = json_array();
	else
		ec.t = table_new(7, hdr);
	if (cm_store_event_list(c->store, &f, event_row, &ec, &err) != CM_OK) {
		code = cli_fail_err(c, &err);
		goto out;
	}
	if (c->json) {
		cli_print_json(json_pack("{s:s, s:O}", "status", "ok", "events",
		    ec.arr));
	} else {
		table_print(ec.t, stdout);
	}
out:
	json_decref(ec.arr);
	table_free(ec.t);
	return code;
}
