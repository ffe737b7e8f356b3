/* token.c - `certmon token add NAME | list | remove NAME`: API tokens for
 * the REST API. The secret is printed once; the store keeps its SHA-256. */
#include <string.h>

#include "certmon/auth.h"
#include "cli.h"

static int
token_add(struct cli *c, int argc, char **argv)
{
	struct cm_err err = {CM_OK, ""};
	char secret[CM_TOKEN_LEN], hash[CM_FP_HEX_LEN];

	if (cli_json_only(c, argc, argv, "token add NAME [--json]", 1) != 0)
		return EXIT_USAGE;
	if (optind == argc)
		return cli_usage(c, "token add NAME [--json]", "one name is needed");
	if (cli_store(c) == NULL)
		return EXIT_FAIL;
	if (cm_auth_token_new(secret, &err) != CM_OK)
		return cli_fail_err(c, &err);
	cm_auth_token_hash(secret, hash);
	if (cm_store_token_add(c->store, argv[optind], hash, c->actor, c->now,
	    &err) != CM_OK)
		return cli_fail_err(c, &err);
	if (c->json)
		cli_print_json(json_pack("{s:s, s:s, s:s}", "status", "ok", "name",
		    argv[optind], "token", secret));
	else
		printf("%s\n", secret);
	memset(secret, 0, sizeof(secret));
	return EXIT_OK;
}

static int
print_token(const char *name, cm_time created_at, void *arg)
{
	char when[CM_TIME_TEXT_LEN];

	if (arg != NULL)
		json_array_append_new(arg, json_pack("{s:s, s:o}", "name", name,
		    "created_at", cm_json_time(created_at)));
	else
		printf("%-24s %s\n", name, cm_time_format(created_at, when));
	return 0;
}

static int
token_list(struct cli *c, int argc, char **argv)
{
	struct cm_err err = {CM_OK, ""};
	json_t *arr = NULL;

	if (cli_json_only(c, argc, argv, "token list [--json]", 0) != 0)
		return EXIT_USAGE;
	if (cli_store(c) == NULL)
		return EXIT_FAIL;
	if (c->json)
		arr = json_array();
	if (cm_store_token_list(c->store, print_token, arr, &err) != CM_OK) {
		json_decref(arr);
		return cli_fail_err(c, &err);
	}
	if (c->json)
		cli_print_json(json_pack("{s:s, s:o}", "status", "ok", "tokens", arr));
	return EXIT_OK;
}

static int
token_remove(struct cli *c, int argc, char **argv)
{
	struct cm_err err = {CM_OK, ""};

	if (argc != 2)
		return cli_usage(c, "token remove NAME", "one name is needed");
	if (cli_store(c) == NULL)
		return EXIT_FAIL;
	if (cm_store_token_remove(c->store, argv[1], c->actor, c->now, &err) !=
	    CM_OK)
		return cli_fail_err(c, &err);
	printf("token %s removed\n", argv[1]);
	return EXIT_OK;
}

static const struct cli_command token_cmds[] = {
	{"add", token_add, "add NAME [--json]   (prints the secret once)"},
	{"list", token_list, "list [--json]"},
	{"remove", token_remove, "remove NAME"},
	{NULL, NULL, NULL},
};

int
cmd_token(struct cli *c, int argc, char **argv)
{
	return cli_dispatch(c, "token", token_cmds, argc, argv);
}
