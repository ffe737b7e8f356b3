/*
 * main.c - `certmon [--db PATH] GROUP COMMAND [options]`: global options
 * and dispatch to the command groups.
 */
#include <pwd.h>
#include <syslog.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "certmon/log.h"
#include "cli.h"

#define CERTMON_VERSION "0.1.0"

static const struct {
	const char *name;
	int (*run)(struct cli *c, int argc, char **argv);
	const char *help;
} groups[] = {
	{"unit", cmd_unit, "list, add and remove units"},
	{"cert", cmd_cert, "upload, list, show, export, delete certificates"},
	{"inspect", cmd_inspect, "print the fields of certificate files"},
	{"monitor", cmd_monitor, "the Certificate Expiry Monitor: settings, runs"},
	{"smtp", cmd_smtp, "the mail server for notifications"},
	{"mail", cmd_mail, "the outbox of notification mail"},
	{"service", cmd_service, "start, stop, restart the services"},
	{"token", cmd_token, "API tokens for the REST API"},
	{"admin", cmd_admin, "the web admin's account: admin passwd"},
	{"events", cmd_events, "the audit and alarm log"},
	{"ocsp", cmd_ocsp, "one-shot OCSP checks of certificate files"},
	{"tls-check", cmd_tls_check, "one-shot check of a TLS server (monitoring plugin)"},
	{"revocation", cmd_revocation, "the Certificate Revocation service: settings, runs"},
	{"params", cmd_params, "Enterprise Parameters: validity check, Common Criteria"},
	{"endpoint", cmd_endpoint, "long-lived connections re-checked by certmond"},
};

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: certmon [--db PATH] GROUP COMMAND [options]\n\n"
	    "  --db PATH   the store (default $CERTMON_DB, else ./certmon.db)\n\n"
	    "groups:\n");
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
		fprintf(fp, "  %-10s %s\n", groups[i].name, groups[i].help);
	fprintf(fp, "\nTimes are ISO 8601 UTC (2027-01-31T12:00:00Z); "
	    "CERTMON_NOW=TIME makes certmon act as if it were then.\n");
}

/* Alarms and log lines of the library go to syslog. */
static void
syslog_sink(enum cm_log_level level, const char *line, void *arg)
{
	(void)arg;
	syslog((int)level, "%s", line);
}

static void
set_actor(struct cli *c)
{
	struct passwd *pw = getpwuid(geteuid());

	snprintf(c->actor, sizeof(c->actor), "cli:%s",
	    pw != NULL ? pw->pw_name : "unknown");
}

int
main(int argc, char **argv)
{
	struct cli c;
	const char *now_text;
	int i = 1, code = EXIT_USAGE;

	memset(&c, 0, sizeof(c));
	c.db_path = getenv("CERTMON_DB");
	if (c.db_path == NULL || c.db_path[0] == '\0')
		c.db_path = "./certmon.db";
	set_actor(&c);
	openlog("certmon", LOG_PID, LOG_DAEMON);
	cm_log_set_sink(syslog_sink, NULL);
	c.now = cm_clock_now();
	now_text = getenv("CERTMON_NOW");
	if (now_text != NULL && now_text[0] != '\0' &&
	    cm_time_parse(now_text, &c.now) != 0) {
		fprintf(stderr, "certmon: CERTMON_NOW '%s' is not an ISO 8601 UTC "
		    "time like 2027-01-31T12:00:00Z\n", now_text);
		return EXIT_USAGE;
	}

	while (i < argc && argv[i][0] == '-') {
		if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
			c.db_path = argv[i + 1];
			i += 2;
		} else if (strncmp(argv[i], "--db=", 5) == 0) {
			c.db_path = argv[i] + 5;
			i++;
		} else if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return EXIT_OK;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("certmon %s\n", CERTMON_VERSION);
			return EXIT_OK;
		} else {
			fprintf(stderr, "certmon: unknown global option '%s' (global "
			    "options come before the command)\n", argv[i]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++)
		if (strcmp(argv[i], groups[g].name) == 0) {
			code = groups[g].run(&c, argc - i, argv + i);
			goto out;
		}
	fprintf(stderr, "certmon: unknown command group '%s'\n", argv[i]);
	usage(stderr);
out:
	cm_store_close(c.store);
	closelog();
	return code;
}
