/*
 * revocation.c - revocation statuses, the verdict table, and the one-shot
 * OCSP check that joins ocsp.c (pure) and fetch.c (HTTP).
 */
#include <stdio.h>
#include <string.h>

#include "certmon/fetch.h"
#include "certmon/ocsp.h"
#include "certmon/revocation.h"

const char *
cm_revocation_status_name(enum cm_rev_status status)
{
	switch (status) {
	case CM_REV_GOOD:    return "good";
	case CM_REV_REVOKED: return "revoked";
	case CM_REV_UNKNOWN: return "unknown";
	case CM_REV_ERROR:   return "error";
	}
	return "error";
}

const char *
cm_revocation_verdict_name(enum cm_verdict verdict)
{
	return verdict == CM_VERDICT_FAIL ? "fail" : "pass";
}

void
cm_revocation_verdict(enum cm_rev_status status, const char *status_reason,
    int common_criteria, cm_time not_after, cm_time now,
    struct cm_rev_verdict *out)
{
	const char *why = status_reason != NULL && status_reason[0] != '\0' ?
	    status_reason : cm_revocation_status_name(status);
	char t[CM_TIME_TEXT_LEN];

	memset(out, 0, sizeof(*out));
	switch (status) {
	case CM_REV_GOOD:
		out->verdict = CM_VERDICT_PASS;
		snprintf(out->reason, sizeof(out->reason), "%s", why);
		break;
	case CM_REV_REVOKED:
		out->verdict = CM_VERDICT_FAIL;
		snprintf(out->reason, sizeof(out->reason), "%s", why);
		break;
	case CM_REV_UNKNOWN:
		out->verdict = common_criteria ? CM_VERDICT_FAIL : CM_VERDICT_WARN;
		snprintf(out->reason, sizeof(out->reason), "%s; %s", why,
		    common_criteria ? "fails in Common Criteria mode" :
		    "passes with a warning outside Common Criteria mode");
		break;
	case CM_REV_ERROR:
	default:
		out->verdict = common_criteria ? CM_VERDICT_FAIL : CM_VERDICT_WARN;
		out->alarm = !common_criteria;
		snprintf(out->reason, sizeof(out->reason), "%s; %s", why,
		    common_criteria ? "no valid answer fails in Common Criteria "
		    "mode" : "soft-fail: no valid answer passes with an alarm "
		    "outside Common Criteria mode");
		break;
	}
	if (not_after != 0 && not_after < now) {
		out->verdict = CM_VERDICT_FAIL;
		out->expired = 1;
		out->alarm = 0;
		snprintf(out->reason, sizeof(out->reason), "certificate expired "
		    "(notAfter %s); revocation status %s", cm_time_format(not_after,
		    t), cm_revocation_status_name(status));
	}
}

enum cm_rev_status
cm_revocation_check_ocsp(struct cm_ocsp_ctx *ctx, const struct cm_cert *cert,
    const struct cm_cert *issuer, const char *url,
    const struct cm_ocsp_opts *oopts, const struct cm_fetch_opts *fopts,
    cm_time now, struct cm_ocsp_result *out)
{
	struct cm_ocsp_request req;
	struct cm_fetch_resp resp;
	struct cm_fetch_opts fo;
	struct cm_err err = {CM_OK, ""};

	memset(&req, 0, sizeof(req));
	memset(&resp, 0, sizeof(resp));
	memset(&fo, 0, sizeof(fo));
	if (fopts != NULL)
		fo = *fopts;
	if (fo.max_bytes == 0)
		fo.max_bytes = oopts != NULL && oopts->max_bytes != 0 ?
		    oopts->max_bytes : CM_FETCH_OCSP_MAX_BYTES;
	if (cm_ocsp_check_issuer(ctx, cert, issuer, &err) != CM_OK) {
		cm_ocsp_result_error(out, "%s", err.msg);
		goto out;
	}
	if (url == NULL || url[0] == '\0') {
		cm_ocsp_result_error(out, "fetch: no OCSP URL");
		goto out;
	}
	if (cm_ocsp_request_build(ctx, cert, issuer, oopts, &req, &err) != CM_OK) {
		cm_ocsp_result_error(out, "%s", err.msg);
		goto out;
	}
	if (cm_fetch_post(url, "application/ocsp-request", req.der, req.der_len,
	    &fo, &resp, &err) != CM_OK) {
		cm_ocsp_result_error(out, "fetch: %s", err.msg);
		goto out;
	}
	cm_ocsp_validate(ctx, &req, resp.body, resp.len, cert, issuer, oopts,
	    now, out);
out:
	cm_fetch_resp_clear(&resp);
	cm_ocsp_request_clear(&req);
	return out->status;
}
