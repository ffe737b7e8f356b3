/*
 * auth.h - secrets: API tokens and the admin password.
 *
 * API tokens are 256-bit random secrets; the store keeps only their SHA-256.
 * The admin password is kept as a salted scrypt hash (OpenSSL), verified in
 * constant time.
 */
#ifndef CERTMON_AUTH_H
#define CERTMON_AUTH_H

#include <stddef.h>

#include "certmon/cert.h"
#include "certmon/err.h"

#define CM_TOKEN_LEN 48         /* "cmt_" + 43 base64url characters + NUL */
#define CM_PASSWORD_HASH_MAX 256

/* Makes a new random token secret into out. */
enum cm_status cm_auth_token_new(char out[CM_TOKEN_LEN], struct cm_err *err);

/* Writes the lower-case SHA-256 hex of secret into out. */
void cm_auth_token_hash(const char *secret, char out[CM_FP_HEX_LEN]);

/* Hashes password with a new random salt into out
 * ("scrypt$N$r$p$SALT$HASH", base64). Refuses passwords shorter than 8 or
 * longer than 1024 bytes. */
enum cm_status cm_auth_password_hash(const char *password,
    char out[CM_PASSWORD_HASH_MAX], struct cm_err *err);

/* Returns 1 when password matches the stored hash, 0 otherwise (also for
 * a malformed hash). Constant time in the password's bytes. */
int cm_auth_password_verify(const char *password, const char *stored);

#endif
