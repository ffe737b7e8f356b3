/* admin.c - `certmon admin passwd [--password-file F]`: the password of the
 * web admin's local account `admin`, kept in the store as a salted scrypt
 * hash (setting admin.password_hash). The password comes from the file's
 * first line, else is asked twice on the terminal (echo off), or read as
 * two lines from standard input when that is not a terminal. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "certmon/auth.h"
#include "cli.h"

#define PW_MAX 1100

/* Reads one line (without its newline) into buf; -1 at end of input or
 * when the line is too long. */
static int
read_line(FILE *fp, char *buf, size_t len)
{
	size_t n;

	if (fgets(buf, (int)len, fp) == NULL)
		return -1;
	n = strcspn(buf, "\r\n");
	if (buf[n] == '\0' && n == len - 1)
		return -1;   /* longer than the buffer */
	buf[n] = '\0';
	return 0;
}

/* Asks for the password on the terminal with echo off. */
static int
prompt(const char *question, char *buf, size_t len)
{
	struct termios old, quiet;
	int rc, restore = 0;

	fputs(question, stderr);
	fflush(stderr);
	if (tcgetattr(STDIN_FILENO, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		quiet.c_lflag |= ECHONL;
		restore = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
	}
	rc = read_line(stdin, buf, len);
	if (restore)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	return rc;
}

static int
admin_passwd(struct cli *c, int argc, char **argv)
{
	static const char *usage = "admin passwd [--password-file F] [--json]";
	static const struct option opts[] = {
		{"password-file", required_argument, NULL, 'P'},
		{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
	struct cm_err err = {CM_OK, ""};
	const char *file = NULL, *key = "admin.password_hash", *val;
	char a[PW_MAX] = "", b[PW_MAX] = "", hash[CM_PASSWORD_HASH_MAX];
	char *from_file = NULL;
	int o, rc = EXIT_FAIL, tty = isatty(STDIN_FILENO);

	cli_getopt_reset();
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'P')
			file = optarg;
		else if (o == 'j')
			c->json = 1;
		else
			return cli_usage(c, usage, "unknown option or missing value "
			    "'%s'", argv[optind - 1]);
	}
	if (optind != argc)
		return cli_usage(c, usage, "unexpected argument '%s'", argv[optind]);
	if (file != NULL) {
		if ((from_file = cli_read_password_file(c, file)) == NULL)
			return EXIT_FAIL;
		if (strlen(from_file) >= sizeof(a)) {
			rc = cli_fail(c, EXIT_FAIL, "%s: the password is longer than "
			    "1024 bytes", file);
			goto out;
		}
		snprintf(a, sizeof(a), "%s", from_file);
	} else if (tty) {
		if (prompt("New password for admin: ", a, sizeof(a)) != 0 ||
		    prompt("Repeat the password: ", b, sizeof(b)) != 0) {
			rc = cli_fail(c, EXIT_FAIL, "password not changed: no password "
			    "was read");
			goto out;
		}
	} else {
		if (read_line(stdin, a, sizeof(a)) != 0 ||
		    read_line(stdin, b, sizeof(b)) != 0) {
			rc = cli_fail(c, EXIT_FAIL, "password not changed: standard "
			    "input must hold the password twice, on two lines");
			goto out;
		}
	}
	if (file == NULL && strcmp(a, b) != 0) {
		rc = cli_fail(c, EXIT_FAIL, "password not changed: the two entries "
		    "differ");
		goto out;
	}
	if (cm_auth_password_hash(a, hash, &err) != CM_OK) {
		rc = cli_fail(c, EXIT_FAIL, "password not changed: %s", err.msg);
		goto out;
	}
	if (cli_store(c) == NULL)
		goto out;
	val = hash;
	if (cm_store_settings_set(c->store, &key, &val, 1, c->actor, c->now,
	    &err) != CM_OK) {
		rc = cli_fail(c, EXIT_FAIL, "password not changed: %s", err.msg);
		goto out;
	}
	if (c->json)
		cli_print_json(json_pack("{s:s, s:s}", "status", "ok", "user",
		    "admin"));
	else
		printf("password of admin set: log in to the web admin (certmond, "
		    "default https://127.0.0.1:8443/) as admin\n");
	rc = EXIT_OK;
out:
	OPENSSL_cleanse(a, sizeof(a));
	OPENSSL_cleanse(b, sizeof(b));
	OPENSSL_cleanse(hash, sizeof(hash));
	if (from_file != NULL) {
		OPENSSL_cleanse(from_file, strlen(from_file));
		free(from_file);
	}
	return rc;
}

static const struct cli_command admin_cmds[] = {
	{"passwd", admin_passwd, "passwd [--password-file F] [--json]   (the web "
	    "admin's account admin)"},
	{NULL, NULL, NULL},
};

int
cmd_admin(struct cli *c, int argc, char **argv)
{
	return cli_dispatch(c, "admin", admin_cmds, argc, argv);
}
