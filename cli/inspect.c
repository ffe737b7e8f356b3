/* inspect.c - `certmon inspect FILE... [--password P | --password-file F]
 * [--json]`: the fields of certificate files, without a store. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "certmon/expiry.h"
#include "certmon/cert.h"
#include "cli.h"

static json_t *
cert_json(const char *file, const struct cm_cert *x, cm_time now)
{
	json_t *o = json_object();

	json_object_set_new(o, "file", cm_json_str(file));
	json_object_set_new(o, "fingerprint", json_string(x->fp_hex));
	json_object_set_new(o, "subject_cn", cm_json_str(x->subject_cn));
	json_object_set_new(o, "subject", cm_json_str(x->subject));
	json_object_set_new(o, "issuer_cn", cm_json_str(x->issuer_cn));
	json_object_set_new(o, "issuer", cm_json_str(x->issuer));
	json_object_set_new(o, "serial", cm_json_str(x->serial_hex));
	json_object_set_new(o, "not_before", cm_json_time(x->not_before));
	json_object_set_new(o, "not_after", cm_json_time(x->not_after));
	json_object_set_new(o, "days_left",
	    json_integer(cm_expiry_days_left(x->not_after, now)));
	json_object_set_new(o, "expired", json_boolean(x->not_after < now));
	json_object_set_new(o, "key_type", cm_json_str(x->key_type));
	json_object_set_new(o, "key_bits", json_integer(x->key_bits));
	json_object_set_new(o, "sig_alg", cm_json_str(x->sig_alg));
	json_object_set_new(o, "is_ca", json_boolean(x->is_ca));
	cm_json_cert_fields(o, x);
	return o;
}

static void
print_human(json_t *o)
{
	static const char *const fields[] = {"file", "fingerprint", "subject_cn",
	    "subject", "issuer_cn", "issuer", "serial", "not_before", "not_after",
	    "days_left", "key_type", "key_bits", "sig_alg", "is_ca", "version",
	    "sans", "ekus", "ocsp_urls", "ca_issuers", "crl_urls", NULL};

	for (size_t i = 0; fields[i] != NULL; i++) {
		json_t *v = json_object_get(o, fields[i]), *e;
		char *text = NULL, *esc;
		size_t k;

		if (json_is_array(v)) {
			size_t len = 0;

			text = calloc(1, 1);
			json_array_foreach(v, k, e) {
				const char *s = json_string_value(e);
				char *nt = realloc(text, len + strlen(s) + 3);

				if (nt == NULL)
					break;
				text = nt;
				len += (size_t)sprintf(text + len, "%s%s", k ? ", " : "", s);
			}
		} else if (json_is_string(v)) {
			text = strdup(json_string_value(v));
		} else {
			text = json_dumps(v, JSON_ENCODE_ANY);
		}
		esc = cm_text_escape(text);
		printf("%-12s %s\n", fields[i], esc != NULL ? esc : "");
		free(esc);
		free(text);
	}
}

int
cmd_inspect(struct cli *c, int argc, char **argv)
{
	static const char *usage = "inspect FILE... [--password P | "
	    "--password-file F] [--json]";
	static const struct option opts[] = {
		{"password", required_argument, NULL, 'p'},
		{"password-file", required_argument, NULL, 'P'},
		{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
	struct cm_parse_opts popts;
	json_t *certs = json_array(), *errors = json_array(), *e, *doc;
	char *password = NULL;
	const char *first_error = NULL;
	size_t k;
	int o, code = EXIT_OK;

	memset(&popts, 0, sizeof(popts));
	cli_getopt_reset();
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'p':
			free(password);
			password = strdup(optarg);
			break;
		case 'P':
			free(password);
			if ((password = cli_read_password_file(c, optarg)) == NULL) {
				code = EXIT_FAIL;
				goto out;
			}
			break;
		case 'j': c->json = 1; break;
		default:
			code = cli_usage(c, usage, "unknown option or missing value "
			    "'%s'", argv[optind - 1]);
			goto out;
		}
	}
	if (optind >= argc) {
		code = cli_usage(c, usage, "at least one file is needed");
		goto out;
	}
	popts.password = password;
	for (int i = optind; i < argc; i++) {
		struct cm_cert_list list = {NULL, 0, 0, 0};
		struct cm_err err = {CM_OK, ""};

		if (cm_cert_parse_file(argv[i], &popts, &list, &err) != CM_OK) {
			json_array_append_new(errors, cm_json_str(err.msg));
			continue;
		}
		for (size_t n = 0; n < list.n; n++)
			json_array_append_new(certs, cert_json(argv[i], list.v[n],
			    c->now));
		cm_cert_list_clear(&list);
	}
	json_array_foreach(errors, k, e) {
		char *esc = cm_text_escape(json_string_value(e));

		fprintf(stderr, "certmon: %s\n", esc != NULL ? esc : "");
		free(esc);
		if (first_error == NULL)
			first_error = json_string_value(e);
		code = EXIT_FAIL;
	}
	if (c->json) {
		doc = json_pack("{s:s, s:O, s:O}", "status", first_error ? "error" :
		    "ok", "certs", certs, "errors", errors);
		if (first_error != NULL)
			json_object_set_new(doc, "error", json_string(first_error));
		cli_print_json(doc);
	} else {
		json_array_foreach(certs, k, e) {
			if (k > 0)
				putchar('\n');
			print_human(e);
		}
	}
out:
	json_decref(certs);
	json_decref(errors);
	free(password);
	return code;
}
