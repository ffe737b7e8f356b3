/*
 * cert.c - `certmon cert upload | list | show | delete | export | mark`.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "certmon/expiry.h"
#include "certmon/import.h"
#include "certmon/revocation_run.h"
#include "certmon/settings.h"
#include "cli.h"

/* ---- shared ------------------------------------------------------------- */

/* The monitor's Notification Start Time decides expiring vs valid. */
static int
start_days(struct cli *c)
{
	struct cm_monitor_settings ms;
	struct cm_err err;

	if (cm_monitor_settings_load(c->store, &ms, &err) != CM_OK)
		return CM_MONITOR_START_DAYS_DEFAULT;
	return ms.start_days;
}

/* ---- upload ------------------------------------------------------------- */

struct paths {
	char **v;
	size_t n, cap;
};

static int
paths_push(struct paths *p, char *path)
{
	char **nv;

	if (path == NULL)
		return -1;
	if (p->n == p->cap) {
		size_t ncap = p->cap ? p->cap * 2 : 64;

		if ((nv = realloc(p->v, ncap * sizeof(*nv))) == NULL) {
			free(path);
			return -1;
		}
		p->v = nv;
		p->cap = ncap;
	}
	p->v[p->n++] = path;
	return 0;
}

static void
paths_free(struct paths *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->v[i]);
	free(p->v);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds arg, or every regular non-hidden file of the directory arg in name
 * order. Returns 0, or -1 after reporting the error. */
static int
expand_arg(struct cli *c, const char *arg, struct paths *p)
{
	struct stat sb;
	struct dirent *de;
	DIR *d;
	size_t first = p->n;
	int rc = 0;

	if (stat(arg, &sb) != 0 || !S_ISDIR(sb.st_mode))
		return paths_push(p, strdup(arg)) == 0 ? 0 :
		    cli_fail(c, -1, "out of memory");
	if ((d = opendir(arg)) == NULL)
		return cli_fail(c, -1, "%s: cannot read the directory: %s", arg,
		    strerror(errno));
	while ((de = readdir(d)) != NULL) {
		char *full;

		if (de->d_name[0] == '.')
			continue;
		if (asprintf(&full, "%s/%s", arg, de->d_name) < 0) {
			rc = cli_fail(c, -1, "out of memory");
			break;
		}
		if (stat(full, &sb) != 0 || !S_ISREG(sb.st_mode)) {
			free(full);
			continue;
		}
		if (paths_push(p, full) != 0) {
			rc = cli_fail(c, -1, "out of memory");
			break;
		}
	}
	closedir(d);
	if (rc == 0 && p->n == first)
		rc = cli_fail(c, -1, "%s: the directory holds no file", arg);
	if (p->n > first)
		qsort(p->v + first, p->n - first, sizeof(*p->v), cmp_str);
	return rc;
}

static const char *
action_name(enum cm_upload_action a)
{
	switch (a) {
	case CM_UPLOAD_REPLACED:  return "replaced";
	case CM_UPLOAD_UNCHANGED: return "unchanged";
	case CM_UPLOAD_ADDED:
	default:                  return "added";
	}
}

static void
print_upload_report(struct cli *c, const char *unit,
    const struct cm_upload_report *rep)
{
	static const char *const hdr[] = {"FINGERPRINT", "SUBJECT CN", "ACTION",
	    "NOTE"};
	size_t count[3] = {0, 0, 0};
	struct table *t = NULL;
	json_t *arr = NULL;

	if (c->json)
		arr = json_array();
	else
		t = table_new(4, hdr);
	for (size_t i = 0; i < rep->n; i++) {
		const struct cm_upload_item *it = &rep->v[i];
		char note[96] = "", fp[17];

		count[it->action]++;
		if (it->expired) {
			char *cn = cm_text_escape(it->subject_cn);

			fprintf(stderr, "certmon: warning: certificate %.16s (CN '%s') "
			    "has expired; it is stored and reported as expired, never "
			    "exported\n", it->fingerprint, cn != NULL ? cn : "");
			free(cn);
		}
		if (arr != NULL) {
			json_array_append_new(arr, json_pack("{s:s, s:o, s:s, s:o, s:b}",
			    "fingerprint", it->fingerprint, "subject_cn",
			    cm_json_str(it->subject_cn), "action",
			    action_name(it->action), "replaced",
			    it->replaced[0] ? json_string(it->replaced) : json_null(),
			    "expired", it->expired));
			continue;
		}
		snprintf(fp, sizeof(fp), "%.16s", it->fingerprint);
		if (it->action == CM_UPLOAD_REPLACED)
			snprintf(note, sizeof(note), "replaces %.16s (now history)",
			    it->replaced);
		if (it->expired)
			snprintf(note + strlen(note), sizeof(note) - strlen(note),
			    "%sexpired", note[0] ? "; " : "");
		table_add(t, (const char *const[]){fp, it->subject_cn,
		    action_name(it->action), note});
	}
	if (arr != NULL) {
		cli_print_json(json_pack("{s:s, s:s, s:I, s:I, s:I, s:o}", "status",
		    "ok", "unit", unit, "added", (json_int_t)count[CM_UPLOAD_ADDED],
		    "replaced", (json_int_t)count[CM_UPLOAD_REPLACED], "unchanged",
		    (json_int_t)count[CM_UPLOAD_UNCHANGED], "certs", arr));
		return;
	}
	if (rep->n <= 50)
		table_print(t, stdout);
	printf("unit %s: %zu added, %zu replaced, %zu unchanged\n", unit,
	    count[CM_UPLOAD_ADDED], count[CM_UPLOAD_REPLACED],
	    count[CM_UPLOAD_UNCHANGED]);
	table_free(t);
}

static int
cert_upload(struct cli *c, int argc, char **argv)
{
	static const char *usage = "cert upload --unit UNIT [--password P | "
	    "--password-file F] [--ocsp-responder] [--json] FILE|DIR...";
	static const struct option opts[] = {
		{"unit", required_argument, NULL, 'u'},
		{"password", required_argument, NULL, 'p'},
		{"password-file", required_argument, NULL, 'P'},
		{"ocsp-responder", no_argument, NULL, 'r'},
		{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
	struct cm_err err = {CM_OK, ""};
	struct cm_parse_opts popts;
	struct cm_upload_opts uopts;
	struct cm_upload_report rep = {NULL, 0};
	struct paths files = {NULL, 0, 0};
	const char *unit = NULL, *pwfile = NULL;
	char *password = NULL;
	int o, code = EXIT_OK;

	memset(&popts, 0, sizeof(popts));
	memset(&uopts, 0, sizeof(uopts));
	cli_getopt_reset();
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'u': unit = optarg; break;
		case 'p':
			free(password);
			password = strdup(optarg);
			break;
		case 'P': pwfile = optarg; break;
		case 'r': uopts.ocsp_responder = 1; break;
		case 'j': c->json = 1; break;
		default:
			code = cli_usage(c, usage, "unknown option or missing value "
			    "'%s'", argv[optind - 1]);
			goto out;
		}
	}
	if (unit == NULL || optind >= argc) {
		code = cli_usage(c, usage, "--unit and at least one file are "
		    "needed");
		goto out;
	}
	if (password != NULL && pwfile != NULL) {
		code = cli_usage(c, usage, "give --password or --password-file, "
		    "not both");
		goto out;
	}
	if (pwfile != NULL && (password = cli_read_password_file(c, pwfile)) ==
	    NULL) {
		code = EXIT_FAIL;
		goto out;
	}
	popts.password = password;
	for (int i = optind; i < argc; i++)
		if (expand_arg(c, argv[i], &files) != 0) {
			code = EXIT_FAIL;
			goto out;
		}
	if (cli_store(c) == NULL) {
		code = EXIT_FAIL;
		goto out;
	}
	/* with Enable OCSP on, the new certificates are checked first */
	if (cm_revocation_import_files(c->store, unit, (const char *const *)
	    files.v, files.n, &popts, &uopts, 0, c->actor, c->now, &rep, &err) !=
	    CM_OK) {
		code = cli_fail(c, EXIT_FAIL, "upload refused, nothing changed: %s",
		    err.msg);
		goto out;
	}
	print_upload_report(c, unit, &rep);
out:
	cm_upload_report_free(&rep);
	paths_free(&files);
	free(password);
	return code;
}

/* ---- list --------------------------------------------------------------- */

struct list_ctx {
	struct cli *c;
	int start;
	int history;
	struct table *t;
	int64_t count;
	char buf[8192];
};

static int
list_row_json(const struct cm_cert_row *r, void *arg)
{
	struct list_ctx *lc = arg;
	size_t n = cm_json_cert_row_write(r, lc->c->now, lc->start, lc->buf,
	    sizeof(lc->buf));
	json_t *o;

	if (lc->count++ > 0)
		fputs(",\n", stdout);
	if (n > 0) {
		fwrite(lc->buf, 1, n, stdout);
		return 0;
	}
	/* a row larger than the buffer: the slow path */
	o = cm_json_cert_row(r, lc->c->now, lc->start);
	json_dumpf(o, stdout, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(o);
	return 0;
}

static int
list_row_table(const struct cm_cert_row *r, void *arg)
{
	struct list_ctx *lc = arg;
	char days[24], when[CM_TIME_TEXT_LEN], fp[17], hist[40];
	enum cm_expiry_state s = cm_expiry_state(r->not_after, lc->c->now,
	    lc->start);

	snprintf(days, sizeof(days), "%" PRId64,
	    cm_expiry_days_left(r->not_after, lc->c->now));
	snprintf(fp, sizeof(fp), "%.16s", r->fingerprint);
	if (r->replaced_at != 0)
		snprintf(hist, sizeof(hist), "replaced %.10s",
		    cm_time_format(r->replaced_at, (char[CM_TIME_TEXT_LEN]){0}));
	else
		snprintf(hist, sizeof(hist), "current");
	table_add(lc->t, (const char *const[]){r->unit, r->subject_cn,
	    r->issuer_cn, r->serial_hex, cm_time_format(r->not_after, when), days,
	    cm_expiry_state_name(s), r->revocation, fp, hist});
	lc->count++;
	return 0;
}

static int
cert_list(struct cli *c, int argc, char **argv)
{
	static const char *usage = "cert list [--unit UNIT] [--state valid|"
	    "expiring|critical|expired|revoked] [--search TEXT] [--history] "
	    "[--json]";
	static const struct option opts[] = {
		{"unit", required_argument, NULL, 'u'},
		{"state", required_argument, NULL, 's'},
		{"search", required_argument, NULL, 'q'},
		{"history", no_argument, NULL, 'h'},
		{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
	static const char *const hdr[] = {"UNIT", "SUBJECT CN", "ISSUER CN",
	    "SERIAL", "NOT AFTER (UTC)", "DAYS", "STATE", "REVOCATION",
	    "FINGERPRINT", "STATUS"};
	struct cm_err err = {CM_OK, ""};
	struct cm_cert_filter f;
	struct cm_unit u;
	struct list_ctx lc;
	const char *state = NULL;
	enum cm_expiry_state es;
	int o, code = EXIT_OK;

	memset(&f, 0, sizeof(f));
	memset(&lc, 0, sizeof(lc));
	cli_getopt_reset();
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'u': f.unit = optarg; break;
		case 's': state = optarg; break;
		case 'q': f.search = optarg; break;
		case 'h': f.include_history = 1; break;
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
	if (f.unit != NULL && cm_store_unit_get(c->store, f.unit, &u, &err) !=
	    CM_OK)
		return cli_fail_err(c, &err);
	lc.c = c;
	lc.start = start_days(c);
	if (state != NULL && strcmp(state, "revoked") == 0) {
		f.revocation = "revoked";
	} else if (state != NULL) {
		if (cm_expiry_state_parse(state, &es) != 0)
			return cli_usage(c, usage, "unknown state '%s'", state);
		cm_expiry_state_window(es, c->now, lc.start, &f.not_after_min,
		    &f.not_after_max);
	}
	if (c->json) {
		fputs("{\"certs\":[\n", stdout);
		if (cm_store_cert_list(c->store, &f, list_row_json, &lc, &err) !=
		    CM_OK) {
			json_t *e = cm_json_str(err.msg);

			fputs("],\"status\":\"error\",\"error\":", stdout);
			json_dumpf(e, stdout, JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
			fputs("}\n", stdout);
			json_decref(e);
			fprintf(stderr, "certmon: %s\n", err.msg);
			return EXIT_FAIL;
		}
		printf("\n],\"count\":%" PRId64 ",\"now\":\"%s\",\"status\":\"ok\"}\n",
		    lc.count, cm_time_format(c->now, (char[CM_TIME_TEXT_LEN]){0}));
		return EXIT_OK;
	}
	lc.t = table_new(f.include_history ? 10 : 9, hdr);
	if (cm_store_cert_list(c->store, &f, list_row_table, &lc, &err) != CM_OK)
		code = cli_fail_err(c, &err);
	else if (lc.count == 0)
		printf("no certificate matches\n");
	else
		table_print(lc.t, stdout);
	table_free(lc.t);
	return code;
}

/* ---- show --------------------------------------------------------------- */

struct show_ctx {
	struct cli *c;
	int start;
	json_t *doc;
	struct cm_err err;
	enum cm_status rc;
};

static int
collect_event(const struct cm_event *ev, void *arg)
{
	json_array_append_new(arg, json_pack("{s:o, s:s, s:s, s:s, s:o, s:o}",
	    "at", cm_json_time(ev->at), "kind", ev->kind, "name", ev->name,
	    "actor", ev->actor, "unit", cm_json_str(ev->unit), "message",
	    cm_json_str(ev->message)));
	return 0;
}

static int
show_row(const struct cm_cert_row *r, void *arg)
{
	struct show_ctx *sc = arg;
	struct cm_event_filter ef;
	struct cm_cert *x = NULL;
	json_t *events = json_array();
	char *pem = NULL;

	sc->doc = cm_json_cert_row(r, sc->c->now, sc->start);
	sc->rc = cm_cert_from_der(r->der, r->der_len, &x, &sc->err);
	if (sc->rc == CM_OK) {
		cm_json_cert_fields(sc->doc, x);
		json_object_set_new(sc->doc, "key_type", cm_json_str(x->key_type));
		pem = cm_cert_to_pem(x);
		json_object_set_new(sc->doc, "pem", cm_json_str(pem));
	}
	memset(&ef, 0, sizeof(ef));
	ef.fingerprint = r->fingerprint;
	ef.limit = 100;
	if (sc->rc == CM_OK)
		sc->rc = cm_store_event_list(sc->c->store, &ef, collect_event, events,
		    &sc->err);
	json_object_set_new(sc->doc, "events", events);
	free(pem);
	cm_cert_free(x);
	return 0;
}

static void
print_field(const char *name, json_t *v)
{
	char *text, *esc;

	if (json_is_string(v))
		text = strdup(json_string_value(v));
	else if (json_is_array(v)) {
		size_t i, len = 0;
		json_t *e;

		text = calloc(1, 1);
		json_array_foreach(v, i, e) {
			const char *s = json_is_string(e) ? json_string_value(e) : "?";
			char *nt = realloc(text, len + strlen(s) + 3);

			if (nt == NULL)
				break;
			text = nt;
			len += (size_t)sprintf(text + len, "%s%s", i ? ", " : "", s);
		}
	} else
		text = json_dumps(v, JSON_ENCODE_ANY);
	esc = cm_text_escape(text);
	printf("%-22s %s\n", name, esc != NULL ? esc : "");
	free(esc);
	free(text);
}

static int
cert_show(struct cli *c, int argc, char **argv)
{
	static const char *usage = "cert show FP-PREFIX [--unit UNIT] [--pem] "
	    "[--json]";
	static const struct option opts[] = {
		{"unit", required_argument, NULL, 'u'},
		{"pem", no_argument, NULL, 'p'},
		{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
	static const char *const fields[] = {"unit", "unit_kind", "fingerprint",
	    "subject_cn", "subject", "issuer_cn", "issuer", "serial", "not_before",
	    "not_after", "days_left", "state", "revocation",
	    "revocation_checked_at", "revocation_reason", "key_type", "key_bits",
	    "sig_alg", "is_ca", "version", "sans", "ekus", "ocsp_urls",
	    "ca_issuers", "crl_urls", "ocsp_responder", "added_at", "current",
	    "replaced_at", "replaced_by", NULL};
	struct cm_err err = {CM_OK, ""};
	struct show_ctx sc;
	const char *unit = NULL;
	size_t i;
	json_t *ev;
	int o, pem_only = 0;

	cli_getopt_reset();
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'u': unit = optarg; break;
		case 'p': pem_only = 1; break;
		case 'j': c->json = 1; break;
		default:
			return cli_usage(c, usage, "unknown option or missing value "
			    "'%s'", argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return cli_usage(c, usage, "one fingerprint prefix is needed");
	if (cli_store(c) == NULL)
		return EXIT_FAIL;
	memset(&sc, 0, sizeof(sc));
	sc.c = c;
	sc.start = start_days(c);
	if (cm_store_cert_find(c->store, argv[optind], unit, show_row, &sc, &err)
	    != CM_OK)
		return cli_fail_err(c, &err);
	if (sc.rc != CM_OK) {
		json_decref(sc.doc);
		return cli_fail_err(c, &sc.err);
	}
	if (c->json) {
		cli_print_json(json_pack("{s:s, s:o}", "status", "ok", "cert",
		    sc.doc));
		return EXIT_OK;
	}
	if (pem_only) {
		fputs(json_string_value(json_object_get(sc.doc, "pem")), stdout);
		json_decref(sc.doc);
		return EXIT_OK;
	}
	for (i = 0; fields[i] != NULL; i++)
		print_field(fields[i], json_object_get(sc.doc, fields[i]));
	printf("events:\n");
	json_array_foreach(json_object_get(sc.doc, "events"), i, ev) {
		char *msg = cm_text_escape(json_string_value(json_object_get(ev,
		    "message")));

		printf("  %s  %-14s %s\n", json_string_value(json_object_get(ev,
		    "at")), json_string_value(json_object_get(ev, "name")), msg);
		free(msg);
	}
	json_decref(sc.doc);
	return EXIT_OK;
}

/* ---- delete, mark --------------------------------------------------------- */

static int
cert_delete(struct cli *c, int argc, char **argv)
{
	static const char *usage = "cert delete FP-PREFIX [--unit UNIT] [--json]";
	static const struct option opts[] = {
		{"unit", required_argument, NULL, 'u'},
		{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
	struct cm_err err = {CM_OK, ""};
	char fp[CM_FP_HEX_LEN], unit_out[CM_UNIT_NAME_MAX + 1];
	const char *unit = NULL;
	int o;

	cli_getopt_reset();
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'u')
			unit = optarg;
		else if (o == 'j')
			c->json = 1;
		else
			return cli_usage(c, usage, "unknown option or missing value "
			    "'%s'", argv[optind - 1]);
	}
	if (optind != argc - 1)
		return cli_usage(c, usage, "one fingerprint prefix is needed");
	if (cli_store(c) == NULL)
		return EXIT_FAIL;
	if (cm_store_cert_delete(c->store, argv[optind], unit, c->actor, c->now,
	    fp, unit_out, &err) != CM_OK)
		return cli_fail_err(c, &err);
	if (c->json)
		cli_print_json(json_pack("{s:s, s:s, s:s}", "status", "ok",
		    "deleted", fp, "unit", unit_out));
	else
		printf("deleted %s from unit %s\n", fp, unit_out);
	return EXIT_OK;
}

static int
cert_mark(struct cli *c, int argc, char **argv)
{
	static const char *usage = "cert mark FP-PREFIX [--unit UNIT] "
	    "--ocsp-responder|--no-ocsp-responder [--json]";
	static const struct option opts[] = {
		{"unit", required_argument, NULL, 'u'},
		{"ocsp-responder", no_argument, NULL, 'r'},
		{"no-ocsp-responder", no_argument, NULL, 'n'},
		{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
	struct cm_err err = {CM_OK, ""};
	const char *unit = NULL;
	int o, mark = -1;

	cli_getopt_reset();
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'u': unit = optarg; break;
		case 'r': mark = 1; break;
		case 'n': mark = 0; break;
		case 'j': c->json = 1; break;
		default:
			return cli_usage(c, usage, "unknown option or missing value "
			    "'%s'", argv[optind - 1]);
		}
	}
	if (optind != argc - 1 || mark < 0)
		return cli_usage(c, usage, "a fingerprint prefix and "
		    "--ocsp-responder or --no-ocsp-responder are needed");
	if (cli_store(c) == NULL)
		return EXIT_FAIL;
	if (cm_store_cert_mark(c->store, argv[optind], unit, mark, c->actor,
	    c->now, &err) != CM_OK)
		return cli_fail_err(c, &err);
	if (c->json)
		cli_print_json(json_pack("{s:s, s:b}", "status", "ok",
		    "ocsp_responder", mark));
	else
		printf("%s\n", mark ? "marked as a designated OCSP responder" :
		    "no longer a designated OCSP responder");
	return EXIT_OK;
}

/* ---- export ------------------------------------------------------------- */

struct export_ctx {
	cm_time now;
	char *pem;
	size_t len;
	int64_t exported, skipped;
	struct cm_err err;
	enum cm_status rc;
};

static int
export_row(const struct cm_cert_row *r, void *arg)
{
	struct export_ctx *ec = arg;
	struct cm_cert *x = NULL;
	char *pem = NULL, *np;
	size_t n;

	if (r->not_after < ec->now || strcmp(r->revocation, "revoked") == 0) {
		ec->skipped++;
		return 0;
	}
	if ((ec->rc = cm_cert_from_der(r->der, r->der_len, &x, &ec->err)) !=
	    CM_OK)
		return 1;
	if ((pem = cm_cert_to_pem(x)) == NULL ||
	    (np = realloc(ec->pem, ec->len + (n = strlen(pem)) + 1)) == NULL) {
		ec->rc = cm_err_set(&ec->err, CM_ERR_NOMEM, "out of memory");
		goto out;
	}
	ec->pem = np;
	memcpy(ec->pem + ec->len, pem, n + 1);
	ec->len += n;
	ec->exported++;
out:
	free(pem);
	cm_cert_free(x);
	return ec->rc != CM_OK;
}

/* Writes data to path atomically (a temporary file renamed over it). */
static int
write_atomic(const char *path, const char *data, size_t len, char *why,
    size_t why_len)
{
	char *tmp = NULL;
	int fd = -1, rc = -1;

	if (asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0) {
		snprintf(why, why_len, "out of memory");
		return -1;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0 ||
	    (len > 0 && write(fd, data, len) != (ssize_t)len) || fsync(fd) != 0) {
		snprintf(why, why_len, "%s", strerror(errno));
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		snprintf(why, why_len, "%s", strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		snprintf(why, why_len, "%s", strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (rc != 0)
		unlink(tmp);
	free(tmp);
	return rc;
}

static int
cert_export(struct cli *c, int argc, char **argv)
{
	static const char *usage = "cert export --unit UNIT [--out FILE] [--json]";
	static const struct option opts[] = {
		{"unit", required_argument, NULL, 'u'},
		{"out", required_argument, NULL, 'o'},
		{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
	struct cm_err err = {CM_OK, ""};
	struct cm_cert_filter f;
	struct export_ctx ec;
	struct cm_unit u;
	const char *out = NULL;
	char why[200];
	int o, code = EXIT_OK;

	memset(&f, 0, sizeof(f));
	memset(&ec, 0, sizeof(ec));
	cli_getopt_reset();
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'u': f.unit = optarg; break;
		case 'o': out = optarg; break;
		case 'j': c->json = 1; break;
		default:
			return cli_usage(c, usage, "unknown option or missing value "
			    "'%s'", argv[optind - 1]);
		}
	}
	if (f.unit == NULL || optind != argc)
		return cli_usage(c, usage, "--unit is needed");
	if (cli_store(c) == NULL)
		return EXIT_FAIL;
	if (cm_store_unit_get(c->store, f.unit, &u, &err) != CM_OK)
		return cli_fail_err(c, &err);
	f.want_der = 1;
	ec.now = c->now;
	if (cm_store_cert_list(c->store, &f, export_row, &ec, &err) != CM_OK) {
		code = cli_fail_err(c, &err);
		goto out;
	}
	if (ec.rc != CM_OK) {
		code = cli_fail_err(c, &ec.err);
		goto out;
	}
	if (out != NULL && write_atomic(out, ec.pem ? ec.pem : "", ec.len, why,
	    sizeof(why)) != 0) {
		code = cli_fail(c, EXIT_FAIL, "%s: cannot write the bundle: %s", out,
		    why);
		goto out;
	}
	if (c->json)
		cli_print_json(json_pack("{s:s, s:s, s:I, s:I, s:o, s:o}", "status",
		    "ok", "unit", f.unit, "exported", (json_int_t)ec.exported,
		    "skipped", (json_int_t)ec.skipped, "out", cm_json_str(out),
		    "pem", out == NULL ? cm_json_str(ec.pem ? ec.pem : "") :
		    json_null()));
	else if (out == NULL)
		fputs(ec.pem ? ec.pem : "", stdout);
	if (!c->json)
		fprintf(stderr, "certmon: exported %" PRId64 " certificate(s) of "
		    "unit %s%s%s; %" PRId64 " expired or revoked left out\n",
		    ec.exported, f.unit, out ? " to " : "", out ? out : "", ec.skipped);
out:
	free(ec.pem);
	return code;
}

static const struct cli_command cert_cmds[] = {
	{"upload", cert_upload, "upload --unit UNIT [--password P | "
	    "--password-file F] [--ocsp-responder] [--json] FILE|DIR..."},
	{"list", cert_list, "list [--unit UNIT] [--state valid|expiring|critical|"
	    "expired|revoked] [--search TEXT] [--history] [--json]"},
	{"show", cert_show, "show FP-PREFIX [--unit UNIT] [--pem] [--json]"},
	{"delete", cert_delete, "delete FP-PREFIX [--unit UNIT] [--json]"},
	{"export", cert_export, "export --unit UNIT [--out FILE] [--json]"},
	{"mark", cert_mark, "mark FP-PREFIX [--unit UNIT] --ocsp-responder|"
	    "--no-ocsp-responder [--json]"},
	{NULL, NULL, NULL},
};

int
cmd_cert(struct cli *c, int argc, char **argv)
{
	return cli_dispatch(c, "cert", cert_cmds, argc, argv);
}
