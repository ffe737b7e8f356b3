/* smtp.c - `certmon smtp set | show | test`: the mail server, and
 * `certmon mail queue | deliver`: the outbox. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "certmon/mail.h"
#include "certmon/outbox.h"
#include "certmon/settings.h"
#include "cli.h"

static int
smtp_show(struct cli *c, int argc, char **argv)
{
	struct cm_smtp_settings s;
	struct cm_err err = {CM_OK, ""};

	if (cli_json_only(c, argc, argv, "smtp show [--json]", 0) != 0)
		return EXIT_USAGE;
	if (cli_store(c) == NULL)
		return EXIT_FAIL;
	if (cm_smtp_settings_load(c->store, &s, &err) != CM_OK)
		return cli_fail_err(c, &err);
	if (c->json) {
		cli_print_json(json_pack("{s:s, s:o}", "status", "ok", "smtp",
		    cm_smtp_settings_json(&s)));
		return EXIT_OK;
	}
	printf("host      %s\n", s.host[0] ? s.host : "(not set)");
	printf("port      %d%s\n", s.port, s.port ? "" : " (default of the TLS "
	    "mode)");
	printf("tls       %s\n", cm_smtp_tls_name(s.tls));
	printf("user      %s\n", s.user[0] ? s.user : "(no authentication)");
	printf("password  %s\n", s.password[0] ? "(set)" : "(not set)");
	printf("from      %s\n", s.from[0] ? s.from : "(not set)");
	printf("ca file   %s\n", s.ca_file[0] ? s.ca_file : "(system store)");
	return EXIT_OK;
}

static int
smtp_set(struct cli *c, int argc, char **argv)
{
	static const char *usage = "smtp set [--host H] [--port P] [--tls "
	    "none|starttls|tls] [--user U --password-file F | --no-auth] "
	    "[--from ADDR] [--ca-file F] [--json]";
	static const struct option opts[] = {
		{"host", required_argument, NULL, 'h'},
		{"port", required_argument, NULL, 'p'},
		{"tls", required_argument, NULL, 't'},
		{"user", required_argument, NULL, 'u'},
		{"password-file", required_argument, NULL, 'P'},
		{"no-auth", no_argument, NULL, 'n'},
		{"from", required_argument, NULL, 'f'},
		{"ca-file", required_argument, NULL, 'c'},
		{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
	struct cm_smtp_settings s;
	struct cm_err err = {CM_OK, ""};
	char *password = NULL, *end;
	long port;
	int o, rc = EXIT_OK, changes = 0;

	if (cli_store(c) == NULL)
		return EXIT_FAIL;
	if (cm_smtp_settings_load(c->store, &s, &err) != CM_OK)
		return cli_fail_err(c, &err);
	cli_getopt_reset();
	while (rc == EXIT_OK &&
	    (o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		changes++;
		switch (o) {
		case 'h': rc = cli_opt_copy(c, s.host, sizeof(s.host), "--host", optarg);
			break;
		case 'p':
			port = strtol(optarg, &end, 10);
			if (end == optarg || *end != '\0' || port < 1 || port > 65535)
				rc = cli_fail(c, EXIT_FAIL, "settings not changed: --port "
				    "'%s' is not a port number (1-65535)", optarg);
			s.port = (int)port;
			break;
		case 't':
			if (cm_smtp_tls_parse(optarg, &s.tls) != 0)
				rc = cli_fail(c, EXIT_FAIL, "settings not changed: --tls "
				    "takes none, starttls or tls, not '%s'", optarg);
			break;
		case 'u': rc = cli_opt_copy(c, s.user, sizeof(s.user), "--user", optarg);
			break;
		case 'P':
			free(password);
			if ((password = cli_read_password_file(c, optarg)) == NULL)
				rc = EXIT_FAIL;
			else
				rc = cli_opt_copy(c, s.password, sizeof(s.password),
				    "the password", password);
			break;
		case 'n':
			s.user[0] = s.password[0] = '\0';
			break;
		case 'f': rc = cli_opt_copy(c, s.from, sizeof(s.from), "--from", optarg);
			break;
		case 'c': rc = cli_opt_copy(c, s.ca_file, sizeof(s.ca_file), "--ca-file",
			    optarg);
			break;
		case 'j': c->json = 1; changes--; break;
		default:
			rc = cli_usage(c, usage, "unknown option or missing value '%s'",
			    argv[optind - 1]);
		}
	}
	if (rc != EXIT_OK)
		goto out;
	if (optind != argc || changes == 0) {
		rc = cli_usage(c, usage, "give at least one setting to change");
		goto out;
	}
	if (cm_smtp_settings_save(c->store, &s, c->actor, c->now, &err) != CM_OK) {
		rc = cli_fail(c, EXIT_FAIL, "settings not changed: %s", err.msg);
		goto out;
	}
	if (c->json)
		cli_print_json(json_pack("{s:s, s:o}", "status", "ok", "smtp",
		    cm_smtp_settings_json(&s)));
	else
		printf("SMTP settings saved\n");
out:
	if (password != NULL)
		memset(password, 0, strlen(password));
	free(password);
	return rc;
}

static int
smtp_test(struct cli *c, int argc, char **argv)
{
	static const char *usage = "smtp test --to ADDR [--json]";
	static const struct option opts[] = {
		{"to", required_argument, NULL, 't'},
		{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
	struct cm_smtp_settings s;
	struct cm_smtp_config cfg;
	struct cm_mail_message m;
	struct cm_strlist to = {NULL, 0};
	struct cm_err err = {CM_OK, ""};
	char reply[CM_MAIL_REPLY_MAX] = "", *msg = NULL, *mid = NULL;
	const char *addr = NULL, *at;
	size_t len;
	int o, permanent = 0, rc = EXIT_OK;

	cli_getopt_reset();
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 't')
			addr = optarg;
		else if (o == 'j')
			c->json = 1;
		else
			return cli_usage(c, usage, "unknown option or missing value "
			    "'%s'", argv[optind - 1]);
	}
	if (addr == NULL || optind != argc)
		return cli_usage(c, usage, "--to is needed");
	if (cli_store(c) == NULL)
		return EXIT_FAIL;
	if (cm_smtp_settings_load(c->store, &s, &err) != CM_OK ||
	    cm_smtp_settings_check(&s, &err) != CM_OK)
		return cli_fail(c, EXIT_FAIL, "SMTP is not usable: %s", err.msg);
	if (cm_mail_parse_list(addr, &to, &err) != CM_OK || to.n != 1) {
		cm_mail_list_free(&to);
		return cli_fail(c, EXIT_FAIL, "--to: %s", to.n != 1 && err.msg[0] ==
		    '\0' ? "give one address" : err.msg);
	}
	at = strrchr(s.from, '@');
	mid = cm_mail_new_message_id(at != NULL ? at + 1 : NULL);
	memset(&m, 0, sizeof(m));
	m.from = s.from;
	m.to = &to;
	m.subject = "[certmon] test message";
	m.body = "This is a test message from certmon.\n"
	    "Certificate expiry notifications will reach this address.\n";
	m.message_id = mid;
	m.date = c->now;
	cm_smtp_settings_config(&s, &cfg);
	if (mid == NULL || cm_mail_compose(&m, &msg, &len, &err) != CM_OK) {
		rc = cli_fail(c, EXIT_FAIL, "cannot compose the test message: %s",
		    err.msg);
		goto out;
	}
	if (cm_mail_send(&cfg, &to, msg, len, reply, sizeof(reply), &permanent,
	    &err) != CM_OK) {
		rc = cli_fail(c, EXIT_FAIL, "test message not delivered: %s",
		    err.msg);
		goto out;
	}
	if (c->json)
		cli_print_json(json_pack("{s:s, s:s, s:o, s:s}", "status", "ok", "to",
		    addr, "reply", cm_json_str(reply), "message_id", mid));
	else
		printf("test message delivered to %s; server said: %s\n", addr, reply);
out:
	cm_mail_list_free(&to);
	free(msg);
	free(mid);
	return rc;
}

static const struct cli_command smtp_cmds[] = {
	{"show", smtp_show, "show [--json]"},
	{"set", smtp_set, "set [--host H] [--port P] [--tls none|starttls|tls] "
	    "[--user U --password-file F | --no-auth] [--from ADDR] "
	    "[--ca-file F] [--json]"},
	{"test", smtp_test, "test --to ADDR [--json]"},
	{NULL, NULL, NULL},
};

int
cmd_smtp(struct cli *c, int argc, char **argv)
{
	return cli_dispatch(c, "smtp", smtp_cmds, argc, argv);
}

/* ---- mail queue / deliver ------------------------------------------------ */

struct queue_ctx {
	json_t *arr;
	struct table *t;
};

static int
queue_row(const struct cm_outbox_msg *m, void *arg)
{
	struct queue_ctx *q = arg;
	char created[CM_TIME_TEXT_LEN], next[CM_TIME_TEXT_LEN], att[16];

	if (q->arr != NULL) {
		json_array_append_new(q->arr, json_pack("{s:I, s:s, s:s, s:o, s:s, "
		    "s:s, s:i, s:o, s:o, s:o, s:o}", "id", (json_int_t)m->id,
		    "message_id", m->message_id, "state", m->state, "created_at",
		    cm_json_time(m->created_at), "recipients", m->recipients,
		    "subject", m->subject, "attempts", m->attempts, "next_attempt_at",
		    strcmp(m->state, "sent") == 0 ? json_null() :
		    cm_json_time(m->next_attempt_at), "last_error",
		    cm_json_str(m->last_error), "last_reply",
		    cm_json_str(m->last_reply), "sent_at", cm_json_time(m->sent_at)));
		return 0;
	}
	snprintf(att, sizeof(att), "%d", m->attempts);
	table_add(q->t, (const char *const[]){m->state,
	    cm_time_format(m->created_at, created), att,
	    strcmp(m->state, "sent") == 0 ? "" :
	    cm_time_format(m->next_attempt_at, next), m->message_id, m->subject,
	    m->last_error ? m->last_error : ""});
	return 0;
}

static int
mail_queue(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"all", no_argument, NULL, 'a'},
		{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
	static const char *const hdr[] = {"STATE", "CREATED (UTC)", "ATTEMPTS",
	    "NEXT ATTEMPT", "MESSAGE-ID", "SUBJECT", "LAST ERROR"};
	struct queue_ctx q = {NULL, NULL};
	struct cm_err err = {CM_OK, ""};
	int o, all = 0, rc = EXIT_OK;

	cli_getopt_reset();
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'a')
			all = 1;
		else if (o == 'j')
			c->json = 1;
		else
			return cli_usage(c, "mail queue [--all] [--json]", "unknown "
			    "option '%s'", argv[optind - 1]);
	}
	if (cli_store(c) == NULL)
		return EXIT_FAIL;
	if (c->json)
		q.arr = json_array();
	else
		q.t = table_new(7, hdr);
	if (cm_store_outbox_list(c->store, 0, all, queue_row, &q, &err) != CM_OK) {
		rc = cli_fail_err(c, &err);
		goto out;
	}
	if (c->json)
		cli_print_json(json_pack("{s:s, s:O}", "status", "ok", "messages",
		    q.arr));
	else
		table_print(q.t, stdout);
out:
	json_decref(q.arr);
	table_free(q.t);
	return rc;
}

static int
mail_deliver(struct cli *c, int argc, char **argv)
{
	static const char *usage = "mail deliver [--at TIME] [--json]";
	static const struct option opts[] = {
		{"at", required_argument, NULL, 'a'},
		{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
	struct cm_monitor_settings ms;
	struct cm_smtp_settings s;
	struct cm_outbox_result res;
	struct cm_err err = {CM_OK, ""};
	int o;

	cli_getopt_reset();
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'a' && cm_time_parse(optarg, &c->now) == 0)
			continue;
		if (o == 'j') {
			c->json = 1;
			continue;
		}
		return cli_usage(c, usage, "bad option or value '%s'",
		    argv[optind - 1]);
	}
	if (cli_store(c) == NULL)
		return EXIT_FAIL;
	if (cm_monitor_settings_load(c->store, &ms, &err) != CM_OK ||
	    cm_smtp_settings_load(c->store, &s, &err) != CM_OK)
		return cli_fail_err(c, &err);
	if (cm_smtp_settings_check(&s, &err) != CM_OK)
		return cli_fail(c, EXIT_FAIL, "SMTP is not usable: %s", err.msg);
	if (cm_outbox_deliver(c->store, &s, &ms, c->now, c->actor, &res, &err) !=
	    CM_OK)
		return cli_fail_err(c, &err);
	if (c->json)
		cli_print_json(json_pack("{s:s, s:i, s:i, s:i, s:o}", "status", "ok",
		    "attempted", res.attempted, "sent", res.sent, "failed",
		    res.failed, "last_error", res.last_error[0] ?
		    cm_json_str(res.last_error) : json_null()));
	else
		printf("%d attempted, %d sent, %d failed%s%s\n", res.attempted,
		    res.sent, res.failed, res.last_error[0] ? ": " : "",
		    res.last_error);
	return EXIT_OK;
}

static const struct cli_command mail_cmds[] = {
	{"queue", mail_queue, "queue [--all] [--json]"},
	{"deliver", mail_deliver, "deliver [--at TIME] [--json]"},
	{NULL, NULL, NULL},
};

int
cmd_mail(struct cli *c, int argc, char **argv)
{
	return cli_dispatch(c, "mail", mail_cmds, argc, argv);
}
