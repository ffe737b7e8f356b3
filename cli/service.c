/* service.c - `certmon service list | start | stop | restart NAME`. */
#include <string.h>

#include "certmon/monitor.h"
#include "certmon/service.h"
#include "cli.h"

static int
service_list(struct cli *c, int argc, char **argv)
{
	static const char *const hdr[] = {"SERVICE", "STATE", "LAST (RE)START",
	    "LAST RUN", "NEXT RUN"};
	static const char *const names[] = {CM_SERVICE_EXPIRY,
	    CM_SERVICE_REVOCATION};
	struct cm_err err = {CM_OK, ""};
	struct table *t = NULL;
	json_t *arr = NULL;

	if (cli_json_only(c, argc, argv, "service list [--json]", 0) != 0)
		return EXIT_USAGE;
	if (cli_store(c) == NULL)
		return EXIT_FAIL;
	if (c->json)
		arr = json_array();
	else
		t = table_new(5, hdr);
	for (size_t i = 0; i < 2; i++) {
		struct cm_monitor_status ms;
		struct cm_service svc;
		char a[CM_TIME_TEXT_LEN], b[CM_TIME_TEXT_LEN], d[CM_TIME_TEXT_LEN];
		cm_time next;

		if (cm_store_service_get(c->store, names[i], &svc, &err) != CM_OK) {
			json_decref(arr);
			table_free(t);
			return cli_fail_err(c, &err);
		}
		next = svc.next_run;
		if (strcmp(names[i], CM_SERVICE_EXPIRY) == 0 &&
		    cm_monitor_status(c->store, c->now, &ms, &err) == CM_OK)
			next = ms.next_run;
		if (!svc.running)
			next = 0;
		if (arr != NULL) {
			json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:o, s:o, "
			    "s:o, s:o}", "name", cm_service_display_name(names[i]), "id",
			    names[i], "state", svc.running ? "Running" : "Stopped",
			    "started_at", cm_json_time(svc.started_at), "last_run",
			    cm_json_time(svc.last_run), "next_run", cm_json_time(next),
			    "last_result", svc.last_result[0] ?
			    cm_json_str(svc.last_result) : json_null()));
			continue;
		}
		table_add(t, (const char *const[]){cm_service_display_name(names[i]),
		    svc.running ? "Running" : "Stopped",
		    cm_time_format(svc.started_at, a),
		    svc.last_run ? cm_time_format(svc.last_run, b) : "never",
		    next ? cm_time_format(next, d) : "-"});
	}
	if (c->json)
		cli_print_json(json_pack("{s:s, s:o}", "status", "ok", "services",
		    arr));
	else
		table_print(t, stdout);
	table_free(t);
	return EXIT_OK;
}

static int
control(struct cli *c, int argc, char **argv, enum cm_service_action action)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
	static const char *const verbs[] = {"start", "stop", "restart"};
	struct cm_err err = {CM_OK, ""};
	const char *key;
	int o;

	cli_getopt_reset();
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o != 'j')
			return cli_usage(c, "service start|stop|restart NAME [--json]",
			    "unknown option '%s'", argv[optind - 1]);
		c->json = 1;
	}
	if (optind != argc - 1)
		return cli_usage(c, "service start|stop|restart NAME [--json]",
		    "one service name is needed");
	if (cli_store(c) == NULL)
		return EXIT_FAIL;
	if (cm_service_control(c->store, argv[optind], action, c->actor, c->now,
	    &err) != CM_OK)
		return cli_fail_err(c, &err);
	key = cm_service_resolve(argv[optind]);
	if (c->json)
		cli_print_json(json_pack("{s:s, s:s, s:s}", "status", "ok", "service",
		    cm_service_display_name(key), "action", verbs[action]));
	else
		printf("%s: %s done\n", cm_service_display_name(key), verbs[action]);
	return EXIT_OK;
}

static int
service_start(struct cli *c, int argc, char **argv)
{
	return control(c, argc, argv, CM_SERVICE_START);
}

static int
service_stop(struct cli *c, int argc, char **argv)
{
	return control(c, argc, argv, CM_SERVICE_STOP);
}

static int
service_restart(struct cli *c, int argc, char **argv)
{
	return control(c, argc, argv, CM_SERVICE_RESTART);
}

static const struct cli_command service_cmds[] = {
	{"list", service_list, "list [--json]"},
	{"start", service_start, "start NAME [--json]"},
	{"stop", service_stop, "stop NAME [--json]"},
	{"restart", service_restart, "restart NAME [--json]"},
	{NULL, NULL, NULL},
};

int
cmd_service(struct cli *c, int argc, char **argv)
{
	return cli_dispatch(c, "service", service_cmds, argc, argv);
}
