/* monitor.c - `certmon monitor show | set | run | status`: the Certificate
 * Expiry Monitor. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "certmon/monitor.h"
#include "certmon/settings.h"
#include "cli.h"

static int
monitor_show(struct cli *c, int argc, char **argv)
{
	struct cm_monitor_settings s;
	struct cm_err err = {CM_OK, ""};
	char f[24], cap[24], give[24];

	if (cli_json_only(c, argc, argv, "monitor show [--json]", 0) != 0)
		return EXIT_USAGE;
	if (cli_store(c) == NULL)
		return EXIT_FAIL;
	if (cm_monitor_settings_load(c->store, &s, &err) != CM_OK)
		return cli_fail_err(c, &err);
	if (c->json) {
		cli_print_json(json_pack("{s:s, s:o}", "status", "ok", "monitor",
		    cm_monitor_settings_json(&s)));
		return EXIT_OK;
	}
	printf("Notification Start Time     %d days\n", s.start_days);
	printf("Notification Frequency      %s\n",
	    cm_duration_format(s.frequency, f, sizeof(f)));
	printf("Enable E-mail notification  %s\n", s.email_enabled ? "on" : "off");
	printf("Enable LSC Monitoring       %s\n", s.lsc_enabled ? "on" : "off");
	printf("E-mail IDs                  %s\n", s.emails);
	printf("Mail retry cap              %s\n",
	    cm_duration_format(s.retry_cap, cap, sizeof(cap)));
	printf("Mail given up after         %s\n",
	    cm_duration_format(s.give_up_after, give, sizeof(give)));
	return EXIT_OK;
}

static int
monitor_set(struct cli *c, int argc, char **argv)
{
	static const char *usage = "monitor set [--start-days N] [--frequency "
	    "N{h|d}] [--email on|off] [--lsc on|off] [--emails 'a@x;b@y'] "
	    "[--retry-cap N{h|d}] [--give-up-after N{h|d}] [--json]";
	static const struct option opts[] = {
		{"start-days", required_argument, NULL, 's'},
		{"frequency", required_argument, NULL, 'f'},
		{"email", required_argument, NULL, 'e'},
		{"lsc", required_argument, NULL, 'l'},
		{"emails", required_argument, NULL, 'E'},
		{"retry-cap", required_argument, NULL, 'r'},
		{"give-up-after", required_argument, NULL, 'g'},
		{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
	struct cm_monitor_settings s;
	struct cm_err err = {CM_OK, ""};
	const char *start = NULL, *freq = NULL, *email = NULL, *lsc = NULL,
	    *emails = NULL, *cap = NULL, *give = NULL;
	char *end;
	long n;
	int o, changes = 0;

	cli_getopt_reset();
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 's': start = optarg; break;
		case 'f': freq = optarg; break;
		case 'e': email = optarg; break;
		case 'l': lsc = optarg; break;
		case 'E': emails = optarg; break;
		case 'r': cap = optarg; break;
		case 'g': give = optarg; break;
		case 'j': c->json = 1; continue;
		default:
			return cli_usage(c, usage, "unknown option or missing value "
			    "'%s'", argv[optind - 1]);
		}
		changes++;
	}
	if (optind != argc || changes == 0)
		return cli_usage(c, usage, "give at least one setting to change");
	if (cli_store(c) == NULL)
		return EXIT_FAIL;
	if (cm_monitor_settings_load(c->store, &s, &err) != CM_OK)
		return cli_fail_err(c, &err);
	if (start != NULL) {
		n = strtol(start, &end, 10);
		if (end == start || *end != '\0' || n < 1 || n > 365)
			return cli_fail(c, EXIT_FAIL, "settings not changed: "
			    "Notification Start Time '%s' is invalid: give a number of "
			    "days from 1 to 365", start);
		s.start_days = (int)n;
	}
	if ((freq && cli_opt_duration(c, "--frequency", freq,
	    &s.frequency)) ||
	    (email && cli_opt_on_off(c, "--email", email, &s.email_enabled)) ||
	    (lsc && cli_opt_on_off(c, "--lsc", lsc, &s.lsc_enabled)) ||
	    (cap && cli_opt_duration(c, "--retry-cap", cap,
	    &s.retry_cap)) ||
	    (give && cli_opt_duration(c, "--give-up-after", give,
	    &s.give_up_after)))
		return EXIT_FAIL;
	if (emails != NULL) {
		if (strlen(emails) >= sizeof(s.emails))
			return cli_fail(c, EXIT_FAIL, "settings not changed: E-mail IDs: "
			    "the list is longer than %zu bytes", sizeof(s.emails) - 1);
		snprintf(s.emails, sizeof(s.emails), "%s", emails);
	}
	if (cm_monitor_settings_save(c->store, &s, c->actor, c->now, &err) !=
	    CM_OK)
		return cli_fail(c, EXIT_FAIL, "settings not changed: %s", err.msg);
	if (c->json)
		cli_print_json(json_pack("{s:s, s:o}", "status", "ok", "monitor",
		    cm_monitor_settings_json(&s)));
	else
		printf("Certificate Monitor settings saved\n");
	return EXIT_OK;
}

static json_t *
notices_json(const struct cm_monitor_report *rep)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < rep->n; i++) {
		const struct cm_monitor_notice *nt = &rep->v[i];

		json_array_append_new(arr, json_pack("{s:s, s:o, s:s, s:s, s:o, s:o, "
		    "s:o}", "fingerprint", nt->fingerprint, "cn",
		    cm_json_str(nt->subject_cn), "unit", nt->unit, "state",
		    cm_expiry_state_name(nt->state), "not_after",
		    cm_json_time(nt->not_after), "issuer_cn",
		    cm_json_str(nt->issuer_cn), "serial",
		    cm_json_str(nt->serial_hex)));
	}
	return arr;
}

static int
monitor_run(struct cli *c, int argc, char **argv)
{
	static const char *usage = "monitor run [--at TIME] [--dry-run] [--json]";
	static const struct option opts[] = {
		{"at", required_argument, NULL, 'a'},
		{"dry-run", no_argument, NULL, 'd'},
		{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
	static const char *const hdr[] = {"STATE", "UNIT", "SUBJECT CN",
	    "NOT AFTER (UTC)", "FINGERPRINT"};
	struct cm_monitor_report rep;
	struct cm_err err = {CM_OK, ""};
	struct table *t;
	char when[CM_TIME_TEXT_LEN];
	int o, dry = 0;

	cli_getopt_reset();
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'a':
			if (cm_time_parse(optarg, &c->now) != 0)
				return cli_usage(c, usage, "--at takes an ISO 8601 UTC time "
				    "like 2027-01-31T12:00:00Z, not '%s'", optarg);
			break;
		case 'd': dry = 1; break;
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
	if (cm_monitor_run(c->store, c->now, dry, c->actor, &rep, &err) != CM_OK)
		return cli_fail(c, EXIT_FAIL, "monitor run failed: %s", err.msg);
	if (c->json) {
		cli_print_json(json_pack("{s:s, s:o, s:b, s:o, s:{s:I, s:I, s:I}, "
		    "s:s, s:o, s:o, s:i, s:o, s:s}", "status", "ok",
		    "ran_at", cm_json_time(rep.ran_at), "dry_run", dry,
		    "notified", notices_json(&rep), "counts",
		    "expiring", (json_int_t)rep.count[CM_STATE_EXPIRING],
		    "critical", (json_int_t)rep.count[CM_STATE_CRITICAL],
		    "expired", (json_int_t)rep.count[CM_STATE_EXPIRED],
		    "mail", cm_monitor_mail_name(rep.mail),
		    "message_id", rep.message_id[0] ? json_string(rep.message_id) :
		    json_null(), "mail_error", rep.mail_error[0] ?
		    cm_json_str(rep.mail_error) : json_null(),
		    "alarms", rep.alarms, "next_run", cm_json_time(rep.next_run),
		    "cadence", rep.hourly ? "1h" : "24h"));
	} else {
		if (rep.n > 0) {
			t = table_new(5, hdr);
			for (size_t i = 0; i < rep.n; i++) {
				char fp[17];

				snprintf(fp, sizeof(fp), "%.16s", rep.v[i].fingerprint);
				table_add(t, (const char *const[]){
				    cm_expiry_state_name(rep.v[i].state), rep.v[i].unit,
				    rep.v[i].subject_cn, cm_time_format(rep.v[i].not_after,
				    when), fp});
			}
			table_print(t, stdout);
			table_free(t);
		}
		printf("%s%zu certificate(s) %s; mail: %s%s%s\n", dry ? "dry run: " :
		    "", rep.n, dry ? "would be notified" : "notified",
		    cm_monitor_mail_name(rep.mail), rep.mail_error[0] ? " - " : "",
		    rep.mail_error);
		printf("next run: %s (%s)\n", cm_time_format(rep.next_run, when),
		    rep.hourly ? "hourly while a certificate is critical or "
		    "expired" : "every 24 h");
	}
	cm_monitor_report_free(&rep);
	return EXIT_OK;
}

static int
monitor_status(struct cli *c, int argc, char **argv)
{
	struct cm_monitor_status ms;
	struct cm_err err = {CM_OK, ""};
	char a[CM_TIME_TEXT_LEN], b[CM_TIME_TEXT_LEN], d[CM_TIME_TEXT_LEN];
	char why[200];

	if (cli_json_only(c, argc, argv, "monitor status [--json]", 0) != 0)
		return EXIT_USAGE;
	if (cli_store(c) == NULL)
		return EXIT_FAIL;
	if (cm_monitor_status(c->store, c->now, &ms, &err) != CM_OK)
		return cli_fail_err(c, &err);
	if (ms.svc.last_run == 0 || ms.svc.started_at - ms.svc.last_run > CM_DAY)
		snprintf(why, sizeof(why), "due at once: %s",
		    ms.svc.last_run == 0 ? "it never ran" : "the last run is more "
		    "than 24 h older than the last start");
	else if (ms.hourly)
		snprintf(why, sizeof(why), "hourly: %" PRId64 " monitored "
		    "certificate(s) critical or expired", ms.urgent);
	else
		snprintf(why, sizeof(why), "every 24 h from the last (re)start at %s",
		    cm_time_format(ms.svc.started_at, d));
	if (c->json) {
		cli_print_json(json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:b, s:s, "
		    "s:s, s:I, s:I, s:I, s:o}", "status", "ok", "service",
		    "Certificate Expiry Monitor", "state", ms.svc.running ? "Running" :
		    "Stopped", "started_at", cm_json_time(ms.svc.started_at),
		    "last_run", cm_json_time(ms.svc.last_run), "next_run",
		    cm_json_time(ms.next_run), "due_now", ms.next_run <= c->now,
		    "cadence", ms.hourly ? "1h" : "24h", "why", why, "urgent",
		    (json_int_t)ms.urgent, "outbox_pending",
		    (json_int_t)ms.outbox_pending, "outbox_failed",
		    (json_int_t)ms.outbox_failed, "last_result",
		    ms.svc.last_result[0] ? json_string(ms.svc.last_result) :
		    json_null()));
		return EXIT_OK;
	}
	printf("Certificate Expiry Monitor  %s\n", ms.svc.running ? "Running" :
	    "Stopped");
	printf("last (re)start              %s\n",
	    cm_time_format(ms.svc.started_at, a));
	printf("last run                    %s\n", ms.svc.last_run ?
	    cm_time_format(ms.svc.last_run, b) : "never");
	printf("next run                    %s%s\n", cm_time_format(ms.next_run, d),
	    ms.next_run <= c->now ? " (due now)" : "");
	printf("why                         %s\n", why);
	if (ms.svc.last_result[0])
		printf("last result                 %s\n", ms.svc.last_result);
	printf("mail queue                  %" PRId64 " pending, %" PRId64
	    " failed\n", ms.outbox_pending, ms.outbox_failed);
	return EXIT_OK;
}

static const struct cli_command monitor_cmds[] = {
	{"show", monitor_show, "show [--json]"},
	{"set", monitor_set, "set [--start-days N] [--frequency N{h|d}] "
	    "[--email on|off] [--lsc on|off] [--emails 'a@x;b@y'] "
	    "[--retry-cap N{h|d}] [--give-up-after N{h|d}] [--json]"},
	{"run", monitor_run, "run [--at TIME] [--dry-run] [--json]"},
	{"status", monitor_status, "status [--json]"},
	{NULL, NULL, NULL},
};

int
cmd_monitor(struct cli *c, int argc, char **argv)
{
	return cli_dispatch(c, "monitor", monitor_cmds, argc, argv);
}
