/*
 * identity.c - the daemon's own HTTPS identity. An admin-provided key and
 * certificate (--tls-cert/--tls-key) win; otherwise the daemon keeps a
 * key and a self-signed certificate next to the store, creating them on
 * first start. The certificate goes into the tomcat unit, so certmon
 * monitors its own certificate like any other.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certmon/cert.h"
#include "certmond.h"

#define VALID_DAYS 397   /* the most a browser accepts today */

static char *
read_file(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *buf = NULL;
	long len;

	if (fp == NULL)
		return NULL;
	if (fseek(fp, 0, SEEK_END) == 0 && (len = ftell(fp)) > 0 &&
	    len < 1024 * 1024 && fseek(fp, 0, SEEK_SET) == 0 &&
	    (buf = calloc(1, (size_t)len + 1)) != NULL &&
	    fread(buf, 1, (size_t)len, fp) != (size_t)len) {
		free(buf);
		buf = NULL;
	}
	fclose(fp);
	return buf;
}

static int
write_file(const char *path, const char *data, mode_t mode)
{
	size_t len = strlen(data);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);

	if (fd < 0)
		return -1;
	if (write(fd, data, len) != (ssize_t)len || fsync(fd) != 0) {
		close(fd);
		unlink(path);
		return -1;
	}
	return close(fd);
}

static char *
bio_text(BIO *b)
{
	char *p = NULL, *out;
	long n = BIO_get_mem_data(b, &p);

	if (n <= 0 || (out = calloc(1, (size_t)n + 1)) == NULL)
		return NULL;
	memcpy(out, p, (size_t)n);
	return out;
}

/* Makes an EC P-256 key and a self-signed certificate for localhost. */
static int
generate(cm_time now, char **key_pem, char **cert_pem)
{
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	X509_NAME *name = NULL;
	X509_EXTENSION *ext = NULL;
	X509V3_CTX v3;
	BIO *kb = BIO_new(BIO_s_mem()), *cb = BIO_new(BIO_s_mem());
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	char host[256] = "localhost", san[600];
	int rc = -1;
	static const char *const exts[][2] = {
		{"basicConstraints", "critical,CA:FALSE"},
		{"keyUsage", "critical,digitalSignature"},
		{"extendedKeyUsage", "serverAuth"},
	};

	if (gethostname(host, sizeof(host) - 1) != 0)
		snprintf(host, sizeof(host), "localhost");
	snprintf(san, sizeof(san), "DNS:localhost,DNS:%s,IP:127.0.0.1,IP:::1",
	    host);
	if (kb == NULL || cb == NULL ||
	    (key = EVP_EC_gen("P-256")) == NULL || (x = X509_new()) == NULL ||
	    (name = X509_NAME_new()) == NULL)
		goto out;
	RAND_bytes(serial, sizeof(serial));
	serial[0] &= 0x7f;
	if ((bn = BN_bin2bn(serial, sizeof(serial), NULL)) == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
		goto out;
	X509_set_version(x, 2);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
	    (const unsigned char *)"certmon", -1, -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (const unsigned char *)host, -1, -1, 0);
	X509_set_subject_name(x, name);
	X509_set_issuer_name(x, name);
	ASN1_TIME_set(X509_getm_notBefore(x), (time_t)now - 300);
	ASN1_TIME_set(X509_getm_notAfter(x), (time_t)now + VALID_DAYS * 86400LL);
	X509_set_pubkey(x, key);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	for (size_t i = 0; i < 3; i++) {
		ext = X509V3_EXT_conf(NULL, &v3, exts[i][0], exts[i][1]);
		if (ext == NULL || !X509_add_ext(x, ext, -1))
			goto out;
		X509_EXTENSION_free(ext);
	}
	ext = X509V3_EXT_conf(NULL, &v3, "subjectAltName", san);
	if (ext == NULL || !X509_add_ext(x, ext, -1))
		goto out;
	if (!X509_sign(x, key, EVP_sha256()) ||
	    !PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL) ||
	    !PEM_write_bio_X509(cb, x))
		goto out;
	*key_pem = bio_text(kb);
	*cert_pem = bio_text(cb);
	rc = *key_pem != NULL && *cert_pem != NULL ? 0 : -1;
out:
	X509_EXTENSION_free(ext);
	BN_free(bn);
	X509_NAME_free(name);
	X509_free(x);
	EVP_PKEY_free(key);
	BIO_free(kb);
	BIO_free(cb);
	return rc;
}

/* Puts the identity certificate into the tomcat unit (once). */
static void
monitor_self(struct daemon_ctx *d, cm_time now)
{
	struct cm_cert_list list = {NULL, 0, 0, 0};
	struct cm_upload_report rep = {NULL, 0};
	struct cm_err err = {CM_OK, ""};

	if (cm_cert_parse((const unsigned char *)d->tls_cert_pem,
	    strlen(d->tls_cert_pem), "HTTPS certificate", NULL, &list, &err) !=
	    CM_OK || list.n == 0 ||
	    cm_store_upload(d->st, "tomcat", &list, NULL, "certmond", now, &rep,
	    &err) != CM_OK)
		daemon_log(LOG_WARNING, "the HTTPS certificate is not monitored: %s",
		    err.msg);
	cm_upload_report_free(&rep);
	cm_cert_list_clear(&list);
}

/* Reads the kept key and certificate, or creates them (first start). */
static int
load_or_create(struct daemon_ctx *d, cm_time now)
{
	char *kpath = NULL, *cpath = NULL;
	int rc = -1;

	if (asprintf(&kpath, "%s.https-key.pem", d->db_path) < 0 ||
	    asprintf(&cpath, "%s.https-cert.pem", d->db_path) < 0)
		goto out;
	d->tls_key_pem = read_file(kpath);
	d->tls_cert_pem = read_file(cpath);
	if (d->tls_key_pem != NULL && d->tls_cert_pem != NULL) {
		rc = 0;
		goto out;
	}
	free(d->tls_key_pem);
	free(d->tls_cert_pem);
	d->tls_key_pem = d->tls_cert_pem = NULL;
	unlink(kpath);
	unlink(cpath);
	if (generate(now, &d->tls_key_pem, &d->tls_cert_pem) != 0 ||
	    write_file(kpath, d->tls_key_pem, 0600) != 0 ||
	    write_file(cpath, d->tls_cert_pem, 0644) != 0) {
		daemon_log(LOG_ERR, "cannot create the HTTPS identity %s: %s", kpath,
		    strerror(errno));
		goto out;
	}
	daemon_log(LOG_INFO, "created a self-signed HTTPS certificate %s", cpath);
	rc = 0;
out:
	free(kpath);
	free(cpath);
	return rc;
}

int
identity_load(struct daemon_ctx *d, const char *cert_file,
    const char *key_file, cm_time now)
{
	if (cert_file != NULL) {
		d->tls_cert_pem = read_file(cert_file);
		d->tls_key_pem = read_file(key_file);
		if (d->tls_cert_pem == NULL || d->tls_key_pem == NULL) {
			daemon_log(LOG_ERR, "cannot read %s or %s", cert_file, key_file);
			return -1;
		}
	} else if (load_or_create(d, now) != 0) {
		return -1;
	}
	monitor_self(d, now);
	return 0;
}
