/*
 * endpoint.c - `certmon endpoint add|list|show|remove|check`: the
 * long-lived connections (CTI, IPsec, LDAP peers) that certmond re-checks
 * while Certificate Validity Check is on (include/certmon/endpoint.h).
 * `check` re-checks one now and exits like a monitoring plugin (0 pass,
 * 1 pass with a warning, 2 fail, 3 usage or local error).
 */
#include <stdlib.h>
#include <string.h>

#include "certmon/conn.h"
#include "certmon/endpoint.h"
#include "cli.h"

static const char add_usage[] = "endpoint add NAME HOST:PORT "
    "[--starttls ldap|smtp] [--trust-unit UNIT] [--json]";

static int
endpoint_add(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"starttls", required_argument, NULL, 'S'},
		{"trust-unit", required_argument, NULL, 'u'},
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0}};
	struct cm_err err = {CM_OK, ""};
	struct cm_endpoint ep;
	const char *starttls = NULL, *unit = NULL;
	char addr[CM_ENDPOINT_HOST_MAX + 16];
	int o;

	memset(&ep, 0, sizeof(ep));
	cli_getopt_reset();
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'S': starttls = optarg; break;
		case 'u': unit = optarg; break;
		case 'j': c->json = 1; break;
		default:
			return cli_usage(c, add_usage, "unknown option or missing value "
			    "'%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 2)
		return cli_usage(c, add_usage, "NAME and HOST:PORT are needed");
	if (strlen(argv[optind]) > CM_UNIT_NAME_MAX)
		return cli_fail(c, EXIT_FAIL, "endpoint name '%.80s' is invalid: use "
		    "1-%d of A-Z a-z 0-9 . _ -", argv[optind], CM_UNIT_NAME_MAX);
	if (cm_conn_parse_target(argv[optind + 1], ep.host, &ep.port) != 0)
		return cli_fail(c, EXIT_USAGE, "'%.200s' is not HOST:PORT (a port "
		    "1-65535; [ADDRESS]:PORT for IPv6)", argv[optind + 1]);
	if (starttls != NULL && (starttls[0] == '\0' ||
	    !cm_conn_starttls_valid(starttls)))
		return cli_fail(c, EXIT_USAGE, "--starttls takes smtp or ldap, not "
		    "'%.40s'", starttls);
	if (unit != NULL && strlen(unit) > CM_UNIT_NAME_MAX)
		return cli_fail(c, EXIT_FAIL, "no unit named '%.80s'", unit);
	snprintf(ep.name, sizeof(ep.name), "%s", argv[optind]);
	snprintf(ep.starttls, sizeof(ep.starttls), "%s", starttls ? starttls :
	    "");
	snprintf(ep.trust_unit, sizeof(ep.trust_unit), "%s", unit ? unit : "");
	if (cli_store(c) == NULL)
		return EXIT_FAIL;
	if (cm_store_endpoint_add(c->store, &ep, c->actor, c->now, &err) !=
	    CM_OK)
		return cli_fail_err(c, &err);
	if (c->json) {
		if (cm_store_endpoint_get(c->store, ep.name, &ep, NULL, &err) !=
		    CM_OK)
			return cli_fail_err(c, &err);
		cli_print_json(json_pack("{s:s, s:o}", "status", "ok", "endpoint",
		    cm_endpoint_json(&ep, 0, NULL)));
	} else {
		printf("endpoint %s added: %s\n", ep.name,
		    cm_endpoint_address(&ep, addr, sizeof(addr)));
	}
	return EXIT_OK;
}

struct listing {
	int64_t interval;
	json_t *arr;
	struct table *t;
};

static int
list_one(const struct cm_endpoint *ep, void *arg)
{
	struct listing *l = arg;
	char addr[CM_ENDPOINT_HOST_MAX + 16], na[CM_TIME_TEXT_LEN];
	char last[CM_TIME_TEXT_LEN], next[CM_TIME_TEXT_LEN];
	cm_time nx = cm_endpoint_next(ep, l->interval);
	const char *cells[8];

	if (l->arr != NULL) {
		json_array_append_new(l->arr, cm_endpoint_json(ep, l->interval,
		    NULL));
		return 0;
	}
	cells[0] = ep->name;
	cells[1] = cm_endpoint_address(ep, addr, sizeof(addr));
	cells[2] = ep->verdict;
	cells[3] = ep->leaf_fingerprint[0] ? ep->leaf_cn : "-";
	cells[4] = ep->leaf_not_after ? cm_time_format(ep->leaf_not_after, na) :
	    "-";
	cells[5] = ep->checked_at ? cm_time_format(ep->checked_at, last) : "-";
	cells[6] = nx ? cm_time_format(nx, next) : "-";
	cells[7] = ep->reason[0] ? ep->reason : "-";
	table_add(l->t, cells);
	return 0;
}

static int
endpoint_list(struct cli *c, int argc, char **argv)
{
	static const char *const headers[] = {"NAME", "ADDRESS", "VERDICT",
	    "LEAF CN", "NOT AFTER", "LAST CHECK", "NEXT CHECK", "REASON"};
	struct cm_err err = {CM_OK, ""};
	struct listing l;

	memset(&l, 0, sizeof(l));
	if (cli_json_only(c, argc, argv, "endpoint list [--json]", 0) != 0)
		return EXIT_USAGE;
	if (cli_store(c) == NULL)
		return EXIT_FAIL;
	if (cm_endpoint_interval(c->store, &l.interval, &err) != CM_OK)
		return cli_fail_err(c, &err);
	if (c->json)
		l.arr = json_array();
	else
		l.t = table_new(8, headers);
	if (cm_store_endpoint_list(c->store, list_one, &l, &err) != CM_OK) {
		json_decref(l.arr);
		table_free(l.t);
		return cli_fail_err(c, &err);
	}
	if (c->json) {
		cli_print_json(json_pack("{s:s, s:o, s:I}", "status", "ok",
		    "endpoints", l.arr, "interval_seconds",
		    (json_int_t)l.interval));
	} else {
		table_print(l.t, stdout);
		table_free(l.t);
	}
	return EXIT_OK;
}

/* Parses "NAME [--json]"; returns the name or NULL after reporting. */
static const char *
one_name(struct cli *c, int argc, char **argv, const char *usage, int *code)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
	int o;

	cli_getopt_reset();
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o != 'j') {
			*code = cli_usage(c, usage, "unknown option '%s'",
			    argv[optind - 1]);
			return NULL;
		}
		c->json = 1;
	}
	if (argc - optind != 1) {
		*code = cli_usage(c, usage, "one endpoint name is needed");
		return NULL;
	}
	return argv[optind];
}

static void
print_endpoint(const struct cm_endpoint *ep, int64_t interval)
{
	char addr[CM_ENDPOINT_HOST_MAX + 16], t[CM_TIME_TEXT_LEN];
	cm_time nx = cm_endpoint_next(ep, interval);
	char *esc;

#define LINE(k, v) do { esc = cm_text_escape(v); printf("%-18s %s\n", k, \
	esc != NULL ? esc : ""); free(esc); } while (0)
	LINE("name", ep->name);
	LINE("address", cm_endpoint_address(ep, addr, sizeof(addr)));
	LINE("starttls", ep->starttls[0] ? ep->starttls : "-");
	LINE("trust", ep->trust_unit[0] ? ep->trust_unit : "system");
	LINE("verdict", ep->verdict);
	LINE("reason", ep->reason[0] ? ep->reason : "-");
	LINE("status", ep->status[0] ? ep->status : "-");
	LINE("subject", ep->leaf_subject[0] ? ep->leaf_subject : "-");
	LINE("fingerprint", ep->leaf_fingerprint[0] ? ep->leaf_fingerprint :
	    "-");
	LINE("not_after", ep->leaf_not_after ? cm_time_format(ep->leaf_not_after,
	    t) : "-");
	LINE("last_check", ep->checked_at ? cm_time_format(ep->checked_at, t) :
	    "-");
	LINE("next_check", nx ? cm_time_format(nx, t) : "-");
#undef LINE
}

static int
endpoint_show(struct cli *c, int argc, char **argv)
{
	struct cm_err err = {CM_OK, ""};
	struct cm_endpoint ep;
	int64_t interval = 0;
	const char *name;
	char *pem = NULL;
	int code = EXIT_USAGE;

	if ((name = one_name(c, argc, argv, "endpoint show NAME [--json]",
	    &code)) == NULL)
		return code;
	if (cli_store(c) == NULL)
		return EXIT_FAIL;
	if (cm_endpoint_interval(c->store, &interval, &err) != CM_OK ||
	    cm_store_endpoint_get(c->store, name, &ep, &pem, &err) != CM_OK)
		return cli_fail_err(c, &err);
	if (c->json)
		cli_print_json(json_pack("{s:s, s:o}", "status", "ok", "endpoint",
		    cm_endpoint_json(&ep, interval, pem != NULL ? pem : "")));
	else
		print_endpoint(&ep, interval);
	free(pem);
	return EXIT_OK;
}

static int
endpoint_remove(struct cli *c, int argc, char **argv)
{
	struct cm_err err = {CM_OK, ""};
	const char *name;
	int code = EXIT_USAGE;

	if ((name = one_name(c, argc, argv, "endpoint remove NAME [--json]",
	    &code)) == NULL)
		return code;
	if (cli_store(c) == NULL)
		return EXIT_FAIL;
	if (cm_store_endpoint_remove(c->store, name, c->actor, c->now, &err) !=
	    CM_OK)
		return cli_fail_err(c, &err);
	if (c->json)
		cli_print_json(json_pack("{s:s, s:s}", "status", "ok", "removed",
		    name));
	else
		printf("endpoint %s removed\n", name);
	return EXIT_OK;
}

static int
endpoint_check(struct cli *c, int argc, char **argv)
{
	struct cm_err err = {CM_OK, ""};
	struct cm_endpoint_report rep;
	int64_t interval = 0;
	const char *name;
	json_t *doc;
	char *esc;
	int code = CHECK_UNKNOWN;

	if ((name = one_name(c, argc, argv, "endpoint check NAME [--json]",
	    &code)) == NULL)
		return CHECK_UNKNOWN;
	if (cli_store(c) == NULL)
		return CHECK_UNKNOWN;
	if (cm_endpoint_check(c->store, name, c->actor, c->now, &rep, &err) !=
	    CM_OK || cm_endpoint_interval(c->store, &interval, &err) != CM_OK)
		return cli_fail(c, CHECK_UNKNOWN, "%s", err.msg);
	code = strcmp(rep.ep.verdict, "fail") == 0 ? CHECK_CRITICAL :
	    strcmp(rep.ep.verdict, "warn") == 0 ? CHECK_WARNING : CHECK_OK;
	if (c->json) {
		doc = cm_endpoint_json(&rep.ep, interval, NULL);
		json_object_set_new(doc, "alarm", rep.alarm ?
		    cm_json_str(rep.alarm_name) : json_null());
		json_object_set_new(doc, "recovered", json_boolean(rep.recovered));
		json_object_set_new(doc, "tls_version", rep.tls_version[0] ?
		    cm_json_str(rep.tls_version) : json_null());
		cli_print_json(json_pack("{s:s, s:o}", "status", "ok", "endpoint",
		    doc));
	} else {
		esc = cm_text_escape(rep.ep.reason);
		printf("ENDPOINT %s %s: %s\n", rep.ep.name, code == CHECK_CRITICAL ?
		    "FAIL" : code == CHECK_WARNING ? "PASS (WARNING)" : "PASS",
		    esc != NULL ? esc : "");
		free(esc);
		print_endpoint(&rep.ep, interval);
	}
	return code;
}

static const struct cli_command endpoint_cmds[] = {
	{"add", endpoint_add, "add NAME HOST:PORT [--starttls ldap|smtp] "
	    "[--trust-unit UNIT] [--json]"},
	{"list", endpoint_list, "list [--json]"},
	{"show", endpoint_show, "show NAME [--json]   (with the peer's chain)"},
	{"remove", endpoint_remove, "remove NAME [--json]"},
	{"check", endpoint_check, "check NAME [--json]   (re-check now; exits "
	    "0/1/2/3 like tls-check)"},
	{NULL, NULL, NULL},
};

int
cmd_endpoint(struct cli *c, int argc, char **argv)
{
	return cli_dispatch(c, "endpoint", endpoint_cmds, argc, argv);
}
