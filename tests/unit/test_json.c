/* Unit tests of lib/json: the fast writers (certificate rows, revocation
 * results) write exactly what jansson writes for the same values (table
 * of hostile strings, then random UTF-8). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "certmon/json.h"

static void
check_row(const struct cm_cert_row *r)
{
	char fast[16384], *slow;
	json_t *o = cm_json_cert_row(r, 1800000000, 30);
	size_t n;

	slow = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	n = cm_json_cert_row_write(r, 1800000000, 30, fast, sizeof(fast));
	assert_non_null(slow);
	if (n != strlen(slow))
		print_message("fast %.*s\nslow %s\n", (int)n, fast, slow);
	assert_int_equal(n, strlen(slow));
	assert_memory_equal(fast, slow, n);
	/* too small a buffer is refused, never overrun */
	assert_int_equal(cm_json_cert_row_write(r, 1800000000, 30, fast, n - 1),
	    0);
	free(slow);
	json_decref(o);
}

static struct cm_cert_row
row_with(const char *text)
{
	struct cm_cert_row r;

	memset(&r, 0, sizeof(r));
	r.unit = "tomcat";
	r.fingerprint = "ab12";
	r.subject = text;
	r.issuer = "CN=Issuer";
	r.subject_cn = text;
	r.issuer_cn = text;
	r.serial_hex = "01";
	r.key_type = "EC";
	r.key_bits = 256;
	r.sig_alg = "ecdsa-with-SHA256";
	r.not_before = 1700000000;
	r.not_after = 1800000000 + 86400 * 3;
	r.added_at = 1790000000;
	r.revocation = "unchecked";
	return r;
}

static void
test_table(void **state)
{
	static const char *const texts[] = {
		"", "plain.example.com", "quote\" and \\ backslash", "tab\tnl\ncr\r",
		"\x01\x02\x1f\x7f", "\b\f", "Zo\xc3\xab M\xc3\xbcller",
		"\xe6\x9d\xb1\xe4\xba\xac", "emoji \xf0\x9f\x94\x92 lock",
		"\xc2\x85 C1 NEL", "/slash/", "<script>alert(1)</script>",
		"\xef\xbf\xbd replacement",
	};
	struct cm_cert_row r;

	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		r = row_with(texts[i]);
		check_row(&r);
	}
	r = row_with("x");
	r.revocation_reason = "keyCompromise";
	r.revocation_checked_at = 1795000000;
	r.replaced_at = 1796000000;
	r.replaced_by = "cd34";
	r.is_ca = 1;
	r.ocsp_responder = 1;
	r.not_after = 1700000000;   /* expired, negative days */
	check_row(&r);
}

/* Appends the UTF-8 encoding of cp to s. */
static size_t
utf8(unsigned cp, char *s)
{
	if (cp < 0x80) {
		s[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		s[0] = (char)(0xc0 | (cp >> 6));
		s[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		s[0] = (char)(0xe0 | (cp >> 12));
		s[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		s[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	s[0] = (char)(0xf0 | (cp >> 18));
	s[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	s[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	s[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

static void
test_random_utf8(void **state)
{
	char text[600];
	struct cm_cert_row r;
	unsigned seed = 12345;

	(void)state;
	for (int round = 0; round < 2000; round++) {
		size_t n = 0;
		int len = (int)(seed % 100);

		for (int i = 0; i < len; i++) {
			unsigned cp;

			seed = seed * 1103515245u + 12345u;
			switch ((seed >> 16) % 4) {
			case 0: cp = 1 + (seed >> 8) % 0x7f; break;
			case 1: cp = 0x80 + (seed >> 8) % 0x780; break;
			case 2: cp = 0x800 + (seed >> 8) % 0xf000; break;
			default: cp = 0x10000 + (seed >> 4) % 0xfffff; break;
			}
			if (cp >= 0xd800 && cp <= 0xdfff)
				cp = 'x';       /* surrogates are not UTF-8 */
			n += utf8(cp, text + n);
		}
		text[n] = '\0';
		r = row_with(text);
		check_row(&r);
	}
}

static void
check_result(const struct cm_rev_result *r)
{
	char fast[16384], *slow;
	json_t *o = cm_json_rev_result(r);
	size_t n;

	slow = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	n = cm_json_rev_result_write(r, fast, sizeof(fast));
	assert_non_null(slow);
	if (n != strlen(slow))
		print_message("fast %.*s\nslow %s\n", (int)n, fast, slow);
	assert_int_equal(n, strlen(slow));
	assert_memory_equal(fast, slow, n);
	assert_int_equal(cm_json_rev_result_write(r, fast, n - 1), 0);
	free(slow);
	json_decref(o);
}

static void
test_rev_result(void **state)
{
	static const char *const units[] = {"", "tomcat",
	    "tomcat, CallManager, tomcat-trust", "unit \"q\", x\\y"};
	static const char *const texts[] = {"", "good (signed by CN=R, "
	    "delegated model)", "quote\" \\ tab\t nl\n", "\x01\x7f",
	    "Zo\xc3\xab \xe6\x9d\xb1 \xf0\x9f\x94\x92"};
	struct cm_rev_result r;
	char u[64], cn[64], serial[64];

	(void)state;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		for (size_t k = 0; k < sizeof(texts) / sizeof(texts[0]); k++) {
			memset(&r, 0, sizeof(r));
			memset(r.fingerprint, 'a', CM_FP_HEX_LEN - 1);
			snprintf(u, sizeof(u), "%s", units[i]);
			snprintf(cn, sizeof(cn), "%s", texts[k]);
			snprintf(serial, sizeof(serial), "0%zu", k);
			r.units = u;
			r.subject_cn = cn;
			r.serial_hex = serial;
			r.not_after = k % 2 ? 1800000000 : 0;
			snprintf(r.status, sizeof(r.status), "%s", k % 2 ? "good" :
			    "revoked");
			snprintf(r.source, sizeof(r.source), "%s", k % 3 ? "ocsp" :
			    "");
			snprintf(r.reason, sizeof(r.reason), "%s", texts[k]);
			snprintf(r.verdict.reason, sizeof(r.verdict.reason), "%s",
			    texts[(k + 1) % 5]);
			r.verdict.verdict = (enum cm_verdict)(k % 3);
			r.checked = (int)(k % 2);
			r.from_cache = (int)(i % 2);
			r.changed = (int)((i + k) % 2);
			check_result(&r);
		}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_random_utf8),
		cmocka_unit_test(test_rev_result),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
