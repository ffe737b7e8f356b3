/*
 * revocation.c - `certmon revocation show | set | run`: the Certificate
 * Revocation service, and `certmon params show | set`: the Enterprise
 * Parameters (Certificate Validity Check, Common Criteria mode).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "certmon/revocation_run.h"
#include "certmon/settings.h"
#include "cli.h"

/* ---- shared ------------------------------------------------------------- */

/* Appends val as a line of the list in dst (cleared first when *fresh). */
static int
add_line(struct cli *c, char *dst, size_t len, const char *opt,
    const char *val, int *fresh)
{
	size_t used;

	if (*fresh) {
		dst[0] = '\0';
		*fresh = 0;
	}
	if (strchr(val, '\n') != NULL || strchr(val, '\r') != NULL)
		return cli_fail(c, EXIT_FAIL, "settings not changed: %s takes one "
		    "value without line breaks", opt);
	used = strlen(dst);
	if (used + strlen(val) + 2 > len)
		return cli_fail(c, EXIT_FAIL, "settings not changed: the %s list is "
		    "longer than %zu bytes", opt, len - 1);
	snprintf(dst + used, len - used, "%s%s", used ? "\n" : "", val);
	return 0;
}

static void
print_lines(const char *label, const char *text, const char *none)
{
	struct cm_strlist l = {NULL, 0};

	if (cm_setting_lines(text, &l, NULL) != CM_OK || l.n == 0) {
		printf("%-28s%s\n", label, none);
	} else {
		for (size_t i = 0; i < l.n; i++) {
			char *esc = cm_text_escape(l.v[i]);

			printf("%-28s%s\n", i == 0 ? label : "", esc ? esc : "");
			free(esc);
		}
	}
	cm_setting_lines_free(&l);
}

/* --json applies to errors found while the options are read, too. */
static void
json_first(struct cli *c, int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--json") == 0)
			c->json = 1;
}

/* ---- revocation show / set ------------------------------------------------ */

static void
print_revocation(const struct cm_revocation_settings *s)
{
	char a[24], b[24], d[24];
	char *uri = cm_text_escape(s->uri);

	printf("%-28s%s\n", "Enable OCSP", s->ocsp ? "on" : "off");
	printf("%-28s%s\n", "OCSP URI source", s->uri_source ==
	    CM_URI_CONFIGURED ? "configured (Use configured OCSP URI)" :
	    "cert (Use OCSP URI from Certificate)");
	printf("%-28s%s\n", "OCSP Configured URI", s->uri[0] ? uri : "(none)");
	printf("%-28s%s\n", "Enable Revocation Check", s->check ? "on" : "off");
	printf("%-28s%s\n", "Check Every", cm_duration_format(s->every, a,
	    sizeof(a)));
	printf("%-28s%s\n", "Enable CRL", s->crl ? "on" : "off");
	print_lines("CRL URIs", s->crl_uris, "(from the certificate's CDP)");
	printf("%-28s%s\n", "Designated responders in", s->trust_unit);
	printf("%-28s%s\n", "Require nonce", s->require_nonce ? "on" : "off");
	printf("%-28s%s\n", "Clock skew", cm_duration_format_any(s->skew, b,
	    sizeof(b)));
	printf("%-28s%" PRId64 " s\n", "Timeout", s->timeout);
	printf("%-28s%s\n", "Cache answers at most", cm_duration_format_any(
	    s->cache_max, d, sizeof(d)));
	print_lines("Allowed hosts", s->allow_hosts, "(any)");
	free(uri);
}

static int
revocation_show(struct cli *c, int argc, char **argv)
{
	struct cm_revocation_settings s;
	struct cm_err err = {CM_OK, ""};

	if (cli_json_only(c, argc, argv, "revocation show [--json]", 0) != 0)
		return EXIT_USAGE;
	if (cli_store(c) == NULL)
		return EXIT_FAIL;
	if (cm_revocation_settings_load(c->store, &s, &err) != CM_OK)
		return cli_fail_err(c, &err);
	if (c->json)
		cli_print_json(json_pack("{s:s, s:o}", "status", "ok", "revocation",
		    cm_revocation_settings_json(&s)));
	else
		print_revocation(&s);
	return EXIT_OK;
}

static const char set_usage[] = "revocation set [--ocsp on|off] "
    "[--uri-source cert|configured] [--uri URL] [--check on|off] "
    "[--every N{h|d}] [--crl on|off] [--crl-uri URL]... [--no-crl-uris] "
    "[--trust-unit UNIT] [--require-nonce on|off] [--skew N{s|m|h|d}] "
    "[--timeout SECONDS] [--cache-max N{h|d}] [--allow-host HOST]... "
    "[--no-allow-hosts] [--json]";

static int
revocation_set(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"ocsp", required_argument, NULL, 'o'},
		{"uri-source", required_argument, NULL, 's'},
		{"uri", required_argument, NULL, 'u'},
		{"check", required_argument, NULL, 'c'},
		{"every", required_argument, NULL, 'e'},
		{"crl", required_argument, NULL, 'l'},
		{"crl-uri", required_argument, NULL, 'L'},
		{"no-crl-uris", no_argument, NULL, 'N'},
		{"trust-unit", required_argument, NULL, 't'},
		{"require-nonce", required_argument, NULL, 'n'},
		{"skew", required_argument, NULL, 'k'},
		{"timeout", required_argument, NULL, 'T'},
		{"cache-max", required_argument, NULL, 'm'},
		{"allow-host", required_argument, NULL, 'a'},
		{"no-allow-hosts", no_argument, NULL, 'A'},
		{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
	struct cm_revocation_settings s;
	struct cm_err err = {CM_OK, ""};
	int o, rc = EXIT_OK, changes = 0, fresh_crl = 1, fresh_hosts = 1;
	char *end;
	long n;

	json_first(c, argc, argv);
	if (cli_store(c) == NULL)
		return EXIT_FAIL;
	if (cm_revocation_settings_load(c->store, &s, &err) != CM_OK)
		return cli_fail_err(c, &err);
	cli_getopt_reset();
	while (rc == EXIT_OK &&
	    (o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		changes++;
		switch (o) {
		case 'o': rc = cli_opt_on_off(c, "--ocsp", optarg, &s.ocsp); break;
		case 's':
			if (strcmp(optarg, "cert") == 0)
				s.uri_source = CM_URI_FROM_CERT;
			else if (strcmp(optarg, "configured") == 0)
				s.uri_source = CM_URI_CONFIGURED;
			else
				rc = cli_fail(c, EXIT_FAIL, "settings not changed: "
				    "--uri-source takes cert or configured, not '%s'",
				    optarg);
			break;
		case 'u': rc = cli_opt_copy(c, s.uri, sizeof(s.uri), "--uri", optarg);
			break;
		case 'c': rc = cli_opt_on_off(c, "--check", optarg, &s.check); break;
		case 'e': rc = cli_opt_duration(c, "--every", optarg, &s.every); break;
		case 'l': rc = cli_opt_on_off(c, "--crl", optarg, &s.crl); break;
		case 'L': rc = add_line(c, s.crl_uris, sizeof(s.crl_uris),
			    "--crl-uri", optarg, &fresh_crl);
			break;
		case 'N': s.crl_uris[0] = '\0'; fresh_crl = 0; break;
		case 't': rc = cli_opt_copy(c, s.trust_unit, sizeof(s.trust_unit),
			    "--trust-unit", optarg);
			break;
		case 'n': rc = cli_opt_on_off(c, "--require-nonce", optarg,
			    &s.require_nonce);
			break;
		case 'k':
			if (cm_duration_parse_any(optarg, &s.skew) != 0)
				rc = cli_fail(c, EXIT_FAIL, "settings not changed: --skew "
				    "takes a duration like 300s, 5m or 1h, not '%s'",
				    optarg);
			break;
		case 'T':
			errno = 0;
			n = strtol(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' || n < 1 ||
			    n > 60)
				rc = cli_fail(c, EXIT_FAIL, "settings not changed: "
				    "--timeout takes whole seconds from 1 to 60, not '%s'",
				    optarg);
			s.timeout = n;
			break;
		case 'm': rc = cli_opt_duration(c, "--cache-max", optarg, &s.cache_max);
			break;
		case 'a': rc = add_line(c, s.allow_hosts, sizeof(s.allow_hosts),
			    "--allow-host", optarg, &fresh_hosts);
			break;
		case 'A': s.allow_hosts[0] = '\0'; fresh_hosts = 0; break;
		case 'j': c->json = 1; changes--; break;
		default:
			rc = cli_usage(c, set_usage, "unknown option or missing value "
			    "'%s'", argv[optind - 1]);
		}
	}
	if (rc != EXIT_OK)
		return rc;
	if (optind != argc || changes == 0)
		return cli_usage(c, set_usage, "give at least one setting to "
		    "change");
	if (cm_revocation_settings_save(c->store, &s, c->actor, c->now, &err) !=
	    CM_OK)
		return cli_fail(c, EXIT_FAIL, "settings not changed: %s", err.msg);
	/* show what is stored (lists normalised) */
	if (cm_revocation_settings_load(c->store, &s, &err) != CM_OK)
		return cli_fail_err(c, &err);
	if (c->json)
		cli_print_json(json_pack("{s:s, s:o}", "status", "ok", "revocation",
		    cm_revocation_settings_json(&s)));
	else
		printf("Certificate Revocation settings saved\n");
	return EXIT_OK;
}

/* ---- revocation run ---------------------------------------------------------- */

/* Prints cm_revocation_report_json's document with "status": "ok", the
 * results streamed one per line (a run reports every certificate: jansson
 * would build, dump and free ~15 values for each). */
static void
print_report_json(const struct cm_revocation_report *rep)
{
	json_t *summary = cm_revocation_summary_json(rep), *o;
	char buf[8192], *rest;
	size_t n;

	json_object_set_new(summary, "status", json_string("ok"));
	fputs("{\"results\":[", stdout);
	for (size_t i = 0; i < rep->n; i++) {
		fputs(i > 0 ? ",\n" : "\n", stdout);
		if ((n = cm_json_rev_result_write(&rep->v[i], buf, sizeof(buf))) >
		    0) {
			fwrite(buf, 1, n, stdout);
			continue;
		}
		o = cm_json_rev_result(&rep->v[i]);     /* too large: slow path */
		json_dumpf(o, stdout, JSON_COMPACT | JSON_ENSURE_ASCII);
		json_decref(o);
	}
	/* then the summary's members: its text without the opening brace */
	rest = json_dumps(summary, JSON_COMPACT | JSON_ENSURE_ASCII);
	printf("\n],%s\n", rest != NULL ? rest + 1 : "\"status\":\"ok\"}");
	free(rest);
	json_decref(summary);
}

static int
revocation_run(struct cli *c, int argc, char **argv)
{
	static const char *usage = "revocation run [--at TIME] [--json]";
	static const struct option opts[] = {
		{"at", required_argument, NULL, 'a'},
		{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
	static const char *const hdr[] = {"STATUS", "SOURCE", "VERDICT", "UNITS",
	    "SUBJECT CN", "FINGERPRINT", "REASON"};
	struct cm_revocation_report rep;
	struct cm_err err = {CM_OK, ""};
	struct table *t;
	char when[CM_TIME_TEXT_LEN];
	int o;

	cli_getopt_reset();
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'a':
			if (cm_time_parse(optarg, &c->now) != 0)
				return cli_usage(c, usage, "--at takes an ISO 8601 UTC time "
				    "like 2027-01-31T12:00:00Z, not '%s'", optarg);
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
	if (cm_revocation_run(c->store, c->now, c->actor, &rep, &err) != CM_OK)
		return cli_fail(c, EXIT_FAIL, "revocation run failed: %s", err.msg);
	if (c->json) {
		print_report_json(&rep);
		cm_revocation_report_free(&rep);
		return EXIT_OK;
	}
	if (rep.n > 0) {
		t = table_new(7, hdr);
		for (size_t i = 0; i < rep.n; i++) {
			const struct cm_rev_result *r = &rep.v[i];
			char fp[17];

			snprintf(fp, sizeof(fp), "%.16s", r->fingerprint);
			table_add(t, (const char *const[]){r->status,
			    r->source[0] ? r->source : "-",
			    r->verdict.verdict == CM_VERDICT_FAIL ? "fail" :
			    r->verdict.verdict == CM_VERDICT_WARN ? "pass (warning)" :
			    "pass", r->units, r->subject_cn, fp,
			    r->verdict.reason});
		}
		table_print(t, stdout);
		table_free(t);
	}
	if (!rep.ocsp && !rep.crl)
		printf("nothing checked: OCSP and CRL are both off (certmon "
		    "revocation set --ocsp on / --crl on)\n");
	printf("%zu checked (%zu good, %zu revoked, %zu unknown, %zu error), "
	    "%zu from cache, %zu request(s), %zu skipped (no issuer in the "
	    "store), %zu expired; %d alarm(s)\n", rep.checked,
	    rep.count[CM_REV_GOOD], rep.count[CM_REV_REVOKED],
	    rep.count[CM_REV_UNKNOWN], rep.count[CM_REV_ERROR], rep.from_cache,
	    rep.requests, rep.skipped, rep.expired, rep.alarms);
	printf("next run: %s\n", cm_time_format(rep.next_run, when));
	cm_revocation_report_free(&rep);
	return EXIT_OK;
}

static const struct cli_command revocation_cmds[] = {
	{"show", revocation_show, "show [--json]"},
	{"set", revocation_set, set_usage + 11},
	{"run", revocation_run, "run [--at TIME] [--json]"},
	{NULL, NULL, NULL},
};

int
cmd_revocation(struct cli *c, int argc, char **argv)
{
	return cli_dispatch(c, "revocation", revocation_cmds, argc, argv);
}

/* ---- params show / set -------------------------------------------------------- */

static void
print_params(const struct cm_params_settings *s)
{
	char f[24];

	printf("%-28s%s\n", "Certificate Validity Check",
	    s->cert_validity_check ? "on" : "off");
	printf("%-28s%s\n", "Validity Check Frequency", cm_duration_format(
	    s->validity_check_frequency, f, sizeof(f)));
	printf("%-28s%s\n", "Common Criteria mode", s->common_criteria ? "on" :
	    "off");
}

static int
params_show(struct cli *c, int argc, char **argv)
{
	struct cm_params_settings s;
	struct cm_err err = {CM_OK, ""};

	if (cli_json_only(c, argc, argv, "params show [--json]", 0) != 0)
		return EXIT_USAGE;
	if (cli_store(c) == NULL)
		return EXIT_FAIL;
	if (cm_params_settings_load(c->store, &s, &err) != CM_OK)
		return cli_fail_err(c, &err);
	if (c->json)
		cli_print_json(json_pack("{s:s, s:o}", "status", "ok", "params",
		    cm_params_settings_json(&s)));
	else
		print_params(&s);
	return EXIT_OK;
}

static const char params_usage[] = "params set [--cert-validity-check "
    "on|off] [--validity-check-frequency N{h|d}] [--common-criteria on|off] "
    "[--json]";

static int
params_set(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"cert-validity-check", required_argument, NULL, 'v'},
		{"validity-check-frequency", required_argument, NULL, 'f'},
		{"common-criteria", required_argument, NULL, 'C'},
		{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
	struct cm_params_settings s;
	struct cm_err err = {CM_OK, ""};
	int o, rc = EXIT_OK, changes = 0;

	json_first(c, argc, argv);
	if (cli_store(c) == NULL)
		return EXIT_FAIL;
	if (cm_params_settings_load(c->store, &s, &err) != CM_OK)
		return cli_fail_err(c, &err);
	cli_getopt_reset();
	while (rc == EXIT_OK &&
	    (o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		changes++;
		switch (o) {
		case 'v': rc = cli_opt_on_off(c, "--cert-validity-check", optarg,
			    &s.cert_validity_check);
			break;
		case 'f': rc = cli_opt_duration(c, "--validity-check-frequency", optarg,
			    &s.validity_check_frequency);
			break;
		case 'C': rc = cli_opt_on_off(c, "--common-criteria", optarg,
			    &s.common_criteria);
			break;
		case 'j': c->json = 1; changes--; break;
		default:
			rc = cli_usage(c, params_usage, "unknown option or missing "
			    "value '%s'", argv[optind - 1]);
		}
	}
	if (rc != EXIT_OK)
		return rc;
	if (optind != argc || changes == 0)
		return cli_usage(c, params_usage, "give at least one setting to "
		    "change");
	if (cm_params_settings_save(c->store, &s, c->actor, c->now, &err) !=
	    CM_OK)
		return cli_fail(c, EXIT_FAIL, "settings not changed: %s", err.msg);
	if (c->json)
		cli_print_json(json_pack("{s:s, s:o}", "status", "ok", "params",
		    cm_params_settings_json(&s)));
	else
		printf("Enterprise Parameters saved\n");
	return EXIT_OK;
}

static const struct cli_command params_cmds[] = {
	{"show", params_show, "show [--json]"},
	{"set", params_set, params_usage + 7},
	{NULL, NULL, NULL},
};

int
cmd_params(struct cli *c, int argc, char **argv)
{
	return cli_dispatch(c, "params", params_cmds, argc, argv);
}
