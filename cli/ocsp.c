/*
 * ocsp.c - `certmon ocsp check`: a one-shot OCSP check of one certificate,
 * without a store and without a cache, whatever the store's settings say.
 * Exits like a monitoring plugin: 0 good, 1 pass with a warning (unknown,
 * or no valid answer outside Common Criteria mode), 2 fail (revoked;
 * unknown or no valid answer in Common Criteria mode; expired), 3 usage or
 * local error.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "certmon/cert.h"
#include "certmon/fetch.h"
#include "certmon/json.h"
#include "certmon/ocsp.h"
#include "certmon/revocation.h"
#include "cli.h"

static const char check_usage[] = "ocsp check --cert FILE [--issuer FILE] "
    "[--url URL] [--trusted-responder FILE]... [--common-criteria] "
    "[--no-nonce] [--require-nonce] [--timeout SECONDS] [--allow-host HOST]... "
    "[--json]";

/* A local error (exit 3): one line on stderr and, with --json, the usual
 * error document. */
static int local_error(struct cli *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
local_error(struct cli *c, const char *fmt, ...)
{
	char msg[CM_ERR_MSG_MAX + 256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return cli_fail(c, CHECK_UNKNOWN, "%s", msg);
}

/* Parses "N" or "N.M" seconds into milliseconds (1 ms .. 600 s). */
static int
parse_timeout(const char *s, long *ms)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v > 0) || v > 600)
		return -1;
	*ms = (long)(v * 1000.0 + 0.5);
	return *ms > 0 ? 0 : -1;
}

static int
is_http_url(const char *u)
{
	return strncasecmp(u, "http://", 7) == 0 ||
	    strncasecmp(u, "https://", 8) == 0;
}

/* Picks the issuer of cert among cands (the first whose key verifies its
 * signature); NULL with why filled when none does. */
static const struct cm_cert *
pick_issuer(struct cm_ocsp_ctx *ctx, const struct cm_cert *cert,
    struct cm_cert *const *cands, size_t n, char *why, size_t cap)
{
	struct cm_err err = {CM_OK, ""};
	size_t i;

	snprintf(why, cap, "no candidate issuer certificate");
	for (i = 0; i < n; i++) {
		if (cm_ocsp_check_issuer(ctx, cert, cands[i], &err) == CM_OK)
			return cands[i];
		snprintf(why, cap, "%s", err.msg);
	}
	return NULL;
}

static void
print_human(json_t *doc)
{
	static const char *const keys[] = {"status", "verdict", "trust_model",
	    "reason", "responder", "this_update", "next_update", "produced_at",
	    "revocation_time", "revocation_reason", "url", "subject", "serial",
	    "not_after", NULL};
	const char *verdict = json_string_value(json_object_get(doc, "verdict"));
	int warning = json_is_true(json_object_get(doc, "warning"));
	char *esc;

	esc = cm_text_escape(json_string_value(json_object_get(doc, "reason")));
	printf("OCSP %s: %s\n", strcmp(verdict, "fail") == 0 ? "FAIL" :
	    warning ? "PASS (WARNING)" : "PASS", esc != NULL ? esc : "");
	free(esc);
	for (size_t i = 0; keys[i] != NULL; i++) {
		json_t *v = json_object_get(doc, keys[i]);

		if (v == NULL || json_is_null(v))
			continue;
		esc = cm_text_escape(json_is_string(v) ? json_string_value(v) : "");
		printf("%-18s %s\n", keys[i], esc != NULL ? esc : "");
		free(esc);
	}
}

static int
ocsp_check(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"cert", required_argument, NULL, 'c'},
		{"issuer", required_argument, NULL, 'i'},
		{"url", required_argument, NULL, 'u'},
		{"trusted-responder", required_argument, NULL, 't'},
		{"common-criteria", no_argument, NULL, 'C'},
		{"no-nonce", no_argument, NULL, 'n'},
		{"require-nonce", no_argument, NULL, 'r'},
		{"timeout", required_argument, NULL, 'T'},
		{"allow-host", required_argument, NULL, 'a'},
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0}};
	struct cm_cert_list certs = {NULL, 0, 0, 0}, issuers = {NULL, 0, 0, 0};
	struct cm_cert_list trusted = {NULL, 0, 0, 0};
	struct cm_strlist allow = {NULL, 0}, trusted_files = {NULL, 0};
	struct cm_ocsp_opts oo;
	struct cm_fetch_opts fo;
	struct cm_ocsp_result res;
	struct cm_rev_verdict v;
	struct cm_err err = {CM_OK, ""};
	struct cm_ocsp_ctx *ctx = NULL;
	const struct cm_cert *cert, *issuer;
	const char *cert_file = NULL, *issuer_file = NULL, *url = NULL;
	char why[CM_ERR_MSG_MAX], **nv;
	json_t *doc = NULL;
	int o, code = CHECK_UNKNOWN;

	memset(&oo, 0, sizeof(oo));
	memset(&fo, 0, sizeof(fo));
	cli_getopt_reset();
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'c': cert_file = optarg; break;
		case 'i': issuer_file = optarg; break;
		case 'u': url = optarg; break;
		case 't':
			nv = realloc(trusted_files.v, (trusted_files.n + 1) *
			    sizeof(*nv));
			if (nv == NULL) {
				code = local_error(c, "out of memory");
				goto out;
			}
			trusted_files.v = nv;
			trusted_files.v[trusted_files.n++] = optarg;
			break;
		case 'C': oo.common_criteria = 1; break;
		case 'n': oo.no_nonce = 1; break;
		case 'r': oo.require_nonce = 1; break;
		case 'T':
			if (parse_timeout(optarg, &fo.timeout_ms) != 0) {
				cli_usage(c, check_usage, "--timeout takes seconds "
				    "(more than 0, at most 600), not '%s'", optarg);
				code = CHECK_UNKNOWN;
				goto out;
			}
			break;
		case 'a':
			nv = realloc(allow.v, (allow.n + 1) * sizeof(*nv));
			if (nv == NULL) {
				code = local_error(c, "out of memory");
				goto out;
			}
			allow.v = nv;
			allow.v[allow.n++] = optarg;
			break;
		case 'j': c->json = 1; break;
		default:
			cli_usage(c, check_usage, "unknown option or missing value "
			    "'%s'", argv[optind - 1]);
			goto out;
		}
	}
	if (optind < argc) {
		cli_usage(c, check_usage, "unexpected argument '%s'", argv[optind]);
		goto out;
	}
	if (cert_file == NULL) {
		cli_usage(c, check_usage, "--cert FILE is needed");
		goto out;
	}
	if (oo.no_nonce && oo.require_nonce) {
		cli_usage(c, check_usage, "--no-nonce and --require-nonce "
		    "exclude each other");
		goto out;
	}
	for (size_t i = 0; i < trusted_files.n; i++)
		if (cm_cert_parse_file(trusted_files.v[i], NULL, &trusted,
		    &err) != CM_OK) {
			code = local_error(c, "--trusted-responder: %s", err.msg);
			goto out;
		}
	if (cm_cert_parse_file(cert_file, NULL, &certs, &err) != CM_OK) {
		code = local_error(c, "%s", err.msg);
		goto out;
	}
	cert = certs.v[0];
	if (issuer_file != NULL &&
	    cm_cert_parse_file(issuer_file, NULL, &issuers, &err) != CM_OK) {
		code = local_error(c, "%s", err.msg);
		goto out;
	}
	if (cm_ocsp_ctx_new(&ctx, &err) != CM_OK) {
		code = local_error(c, "%s", err.msg);
		goto out;
	}
	if (issuer_file != NULL)
		issuer = pick_issuer(ctx, cert, issuers.v, issuers.n, why,
		    sizeof(why));
	else
		issuer = pick_issuer(ctx, cert, certs.v + 1, certs.n - 1, why,
		    sizeof(why));
	if (issuer == NULL) {
		if (issuer_file == NULL && certs.n == 1)
			code = local_error(c, "%s: no issuer: give --issuer FILE, or "
			    "a bundle whose first certificate is the one to check "
			    "followed by its issuer", cert_file);
		else
			code = local_error(c, "%s: no issuer: no certificate of %s "
			    "is the issuer (%s)", cert_file, issuer_file != NULL ?
			    issuer_file : "the bundle", why);
		goto out;
	}
	for (size_t i = 0; url == NULL && i < cert->ocsp_urls.n; i++)
		if (is_http_url(cert->ocsp_urls.v[i]))
			url = cert->ocsp_urls.v[i];
	if (url == NULL) {
		code = local_error(c, "%s: no OCSP URL: the certificate has no "
		    "http(s) AIA OCSP URL and --url was not given", cert_file);
		goto out;
	}
	fo.allow_hosts = allow.n > 0 ? &allow : NULL;
	oo.trusted = &trusted;
	cm_revocation_check_ocsp(ctx, cert, issuer, url, &oo, &fo, c->now, &res);
	cm_revocation_verdict(res.status, res.reason, oo.common_criteria,
	    cert->not_after, c->now, &v);

	doc = json_object();
	json_object_set_new(doc, "status", json_string(
	    cm_revocation_status_name(res.status)));
	json_object_set_new(doc, "trust_model",
	    cm_json_str(cm_ocsp_trust_name(res.trust_model)));
	json_object_set_new(doc, "verdict", json_string(
	    cm_revocation_verdict_name(v.verdict)));
	json_object_set_new(doc, "warning",
	    json_boolean(v.verdict == CM_VERDICT_WARN));
	json_object_set_new(doc, "alarm", json_boolean(v.alarm));
	json_object_set_new(doc, "reason", cm_json_str(v.reason));
	json_object_set_new(doc, "ocsp_reason", cm_json_str(res.reason));
	json_object_set_new(doc, "common_criteria",
	    json_boolean(oo.common_criteria));
	json_object_set_new(doc, "this_update", cm_json_time(res.this_update));
	json_object_set_new(doc, "next_update", cm_json_time(res.next_update));
	json_object_set_new(doc, "produced_at", cm_json_time(res.produced_at));
	json_object_set_new(doc, "revocation_time",
	    cm_json_time(res.revocation_time));
	json_object_set_new(doc, "revocation_reason",
	    res.status == CM_REV_REVOKED && res.revocation_reason[0] != '\0' ?
	    cm_json_str(res.revocation_reason) : json_null());
	json_object_set_new(doc, "url", cm_json_str(url));
	json_object_set_new(doc, "responder", res.responder[0] != '\0' ?
	    cm_json_str(res.responder) : json_null());
	json_object_set_new(doc, "subject", cm_json_str(cert->subject));
	json_object_set_new(doc, "serial", cm_json_str(cert->serial_hex));
	json_object_set_new(doc, "fingerprint", cm_json_str(cert->fp_hex));
	json_object_set_new(doc, "not_after", cm_json_time(cert->not_after));
	json_object_set_new(doc, "expired", json_boolean(v.expired));
	json_object_set_new(doc, "issuer", cm_json_str(issuer->subject));
	if (c->json) {
		cli_print_json(doc);
		doc = NULL;
	} else {
		print_human(doc);
	}
	code = (int)v.verdict;
out:
	json_decref(doc);
	cm_ocsp_ctx_free(ctx);
	cm_cert_list_clear(&certs);
	cm_cert_list_clear(&issuers);
	cm_cert_list_clear(&trusted);
	free(allow.v);
	free(trusted_files.v);
	return code;
}

int
cmd_ocsp(struct cli *c, int argc, char **argv)
{
	static const struct cli_command cmds[] = {
		{"check", ocsp_check, check_usage + 5},
		{NULL, NULL, NULL}};

	int code;

	if (argc > 1 && strcmp(argv[1], "check") == 0)
		return ocsp_check(c, argc - 1, argv + 1);
	code = cli_dispatch(c, "ocsp", cmds, argc, argv);
	return code == EXIT_USAGE ? CHECK_UNKNOWN : code;   /* checks: 3 */
}
