/* auth.c - API tokens and the admin password (OpenSSL scrypt). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "certmon/auth.h"

/* scrypt cost: N = 2^15, r = 8, p = 1 (32 MiB, ~0.1 s here): slow for an
 * attacker with the store, fast enough for a login. */
#define SCRYPT_N 32768
#define SCRYPT_R 8
#define SCRYPT_P 1
#define SALT_LEN 16
#define HASH_LEN 32

static void
base64url(const unsigned char *in, size_t len, char *out)
{
	static const char tbl[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t i, o = 0;

	for (i = 0; i + 2 < len; i += 3) {
		out[o++] = tbl[in[i] >> 2];
		out[o++] = tbl[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
		out[o++] = tbl[((in[i + 1] & 15) << 2) | (in[i + 2] >> 6)];
		out[o++] = tbl[in[i + 2] & 63];
	}
	if (len - i == 1) {
		out[o++] = tbl[in[i] >> 2];
		out[o++] = tbl[(in[i] & 3) << 4];
	} else if (len - i == 2) {
		out[o++] = tbl[in[i] >> 2];
		out[o++] = tbl[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
		out[o++] = tbl[(in[i + 1] & 15) << 2];
	}
	out[o] = '\0';
}

/* Decodes base64url (no padding); returns the length or -1. */
static int
unbase64url(const char *in, unsigned char *out, size_t max)
{
	size_t o = 0, bits = 0;
	unsigned acc = 0;

	for (; *in != '\0'; in++) {
		const char *tbl =
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
		const char *p = strchr(tbl, *in);

		if (p == NULL)
			return -1;
		acc = (acc << 6) | (unsigned)(p - tbl);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= max)
				return -1;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	return (int)o;
}

enum cm_status
cm_auth_token_new(char out[CM_TOKEN_LEN], struct cm_err *err)
{
	unsigned char raw[32];

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return cm_err_set(err, CM_ERR_INTERNAL, "the random generator "
		    "failed");
	char text[CM_TOKEN_LEN];

	base64url(raw, sizeof(raw), text);
	snprintf(out, CM_TOKEN_LEN, "cmt_%.43s", text);
	OPENSSL_cleanse(raw, sizeof(raw));
	OPENSSL_cleanse(text, sizeof(text));
	return CM_OK;
}

void
cm_auth_token_hash(const char *secret, char out[CM_FP_HEX_LEN])
{
	unsigned char md[32];
	unsigned int len = 0;

	EVP_Digest(secret, strlen(secret), md, &len, EVP_sha256(), NULL);
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static int
scrypt(const char *password, const unsigned char *salt, size_t salt_len,
    uint64_t n, uint64_t r, uint64_t p, unsigned char *key, size_t key_len)
{
	return EVP_PBE_scrypt(password, strlen(password), salt, salt_len, n, r,
	    p, 64 * 1024 * 1024, key, key_len);
}

enum cm_status
cm_auth_password_hash(const char *password, char out[CM_PASSWORD_HASH_MAX],
    struct cm_err *err)
{
	unsigned char salt[SALT_LEN], key[HASH_LEN];
	char salt64[32], key64[64];
	size_t len = strlen(password);

	if (len < 8)
		return cm_err_set(err, CM_ERR_INVALID, "the password is too short: "
		    "use at least 8 characters");
	if (len > 1024)
		return cm_err_set(err, CM_ERR_INVALID, "the password is longer than "
		    "1024 bytes");
	if (RAND_bytes(salt, sizeof(salt)) != 1 ||
	    scrypt(password, salt, sizeof(salt), SCRYPT_N, SCRYPT_R, SCRYPT_P,
	    key, sizeof(key)) != 1)
		return cm_err_set(err, CM_ERR_INTERNAL, "hashing the password "
		    "failed");
	base64url(salt, sizeof(salt), salt64);
	base64url(key, sizeof(key), key64);
	snprintf(out, CM_PASSWORD_HASH_MAX, "scrypt$%d$%d$%d$%s$%s", SCRYPT_N,
	    SCRYPT_R, SCRYPT_P, salt64, key64);
	OPENSSL_cleanse(key, sizeof(key));
	return CM_OK;
}

int
cm_auth_password_verify(const char *password, const char *stored)
{
	unsigned char salt[64], want[64], got[64];
	char salt64[96], key64[96];
	unsigned long long n, r, p;
	int slen, klen, ok = 0;

	if (stored == NULL || sscanf(stored, "scrypt$%llu$%llu$%llu$%95[^$]$%95s",
	    &n, &r, &p, salt64, key64) != 5)
		return 0;
	/* only costs we could have written (bounds a hostile stored value) */
	if (n < 1024 || n > 1048576 || (n & (n - 1)) != 0 || r < 1 || r > 32 ||
	    p < 1 || p > 16)
		return 0;
	slen = unbase64url(salt64, salt, sizeof(salt));
	klen = unbase64url(key64, want, sizeof(want));
	if (slen <= 0 || klen != HASH_LEN)
		return 0;
	if (scrypt(password, salt, (size_t)slen, n, r, p, got, HASH_LEN) == 1)
		ok = CRYPTO_memcmp(got, want, HASH_LEN) == 0;
	OPENSSL_cleanse(got, sizeof(got));
	return ok;
}
