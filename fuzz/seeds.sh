#!/usr/bin/env bash
# seeds.sh - makes the seed corpus fuzz/corpus/cert/ of fuzz_cert from the
# unit-test fixtures (tests/fixtures/mkcerts.sh). Corpora are generated,
# never committed.
set -euo pipefail

cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

bash tests/fixtures/mkcerts.sh "$tmp" >/dev/null
mkdir -p fuzz/corpus/cert
for f in "$tmp"/*.pem "$tmp"/*.der "$tmp"/*.p7b "$tmp"/*.p12 "$tmp"/*.bin \
    "$tmp"/*.key; do
	[ -s "$f" ] || continue
	cp "$f" "fuzz/corpus/cert/$(basename "$f")"
done
echo "fuzz/corpus/cert: $(ls fuzz/corpus/cert | wc -l) seeds"

# fuzz_ocsp: valid responses (good, revoked, unknown; by the CA, a delegate,
# a designated responder; with and without the nonce), written by the target
# itself from its fixed in-process PKI: seed-NN.der answer the request about
# one leaf, multi-NN.der the request about two (two CertIDs, mixed statuses).
if [ -x fuzz/build/fuzz_ocsp ]; then
	mkdir -p fuzz/corpus/ocsp
	FUZZ_OCSP_SEEDS=fuzz/corpus/ocsp fuzz/build/fuzz_ocsp -runs=0 >/dev/null 2>&1
	echo "fuzz/corpus/ocsp: $(ls fuzz/corpus/ocsp | wc -l) seeds"
fi

# fuzz_http: raw HTTP requests to certmond, as curl or a browser sends
# them: the REST API with the fuzz target's token, the web admin with its
# session cookie and CSRF token (fuzz/fuzz_http.c makes both), query
# strings of every listing, JSON bodies, uploads of the certificates made
# above (multipart and raw), and a few malformed ones.
H=fuzz/corpus/http
mkdir -p "$H"
AUTH="Authorization: Bearer fuzz-token-0123456789abcdef"
COOKIE="Cookie: certmon_session=5e5510e5e5510e5e5510e5e5510e5e5510e5e5510e5e5510e5e5510e5e5510e5"
CSRF=c5cfc5cfc5cfc5cfc5cfc5cfc5cfc5cfc5cfc5cfc5cfc5cfc5cfc5cfc5cfc5cf
B=----certmonfuzzboundary7MA4YWxkTrZu0gW
# req NAME METHOD TARGET [HEADER...] < BODY
req() {
	local name=$1 method=$2 target=$3 body
	shift 3
	body=$(mktemp)
	cat >"$body"
	{
		printf '%s %s HTTP/1.1\r\nHost: localhost\r\n' "$method" "$target"
		for h in "$@"; do printf '%s\r\n' "$h"; done
		if [ -s "$body" ] || [ "$method" = POST ] || [ "$method" = PUT ]; then
			printf 'Content-Length: %s\r\n' "$(wc -c <"$body")"
		fi
		printf '\r\n'
		cat "$body"
	} >"$H/$name"
	rm -f "$body"
}
# multipart FIELD=VALUE|FIELD=@FILE... : a multipart/form-data body
multipart() {
	local kv k v
	for kv in "$@"; do
		k=${kv%%=*}
		v=${kv#*=}
		printf -- '--%s\r\n' "$B"
		if [ "${v#@}" != "$v" ]; then
			printf 'Content-Disposition: form-data; name="%s"; filename="%s"\r\n' \
			    "$k" "$(basename "${v#@}")"
			printf 'Content-Type: application/octet-stream\r\n\r\n'
			cat "${v#@}"
		else
			printf 'Content-Disposition: form-data; name="%s"\r\n\r\n%s' "$k" "$v"
		fi
		printf '\r\n'
	done
	printf -- '--%s--\r\n' "$B"
}
JSON="Content-Type: application/json"
FORM="Content-Type: application/x-www-form-urlencoded"
MP="Content-Type: multipart/form-data; boundary=$B"
req api-certs GET '/api/v1/certs?limit=2&offset=1&state=expiring&unit=tomcat-trust&search=example&history=1' "$AUTH" </dev/null
req api-certs-revoked GET '/api/v1/certs?state=revoked&limit=1000' "$AUTH" </dev/null
req api-certs-bad GET '/api/v1/certs?limit=0&offset=-1&state=%00&unit=%2e%2e' "$AUTH" </dev/null
req api-certs-noauth GET /api/v1/certs </dev/null
req api-certs-head HEAD '/api/v1/certs?search=%3Cfuzz%3E' "$AUTH" </dev/null
req api-units GET /api/v1/units "$AUTH" </dev/null
printf '%s' '{"name":"fuzz-trust","kind":"trust"}' | req api-unit-add POST /api/v1/units "$AUTH" "$JSON"
req api-unit-remove DELETE '/api/v1/units/tomcat-trust?force=1' "$AUTH" </dev/null
req api-settings GET /api/v1/settings/monitor "$AUTH" </dev/null
printf '%s' '{"start_days":45,"frequency":"12h","email":true,"emails":"ops@example.com","retry_cap":"2h","give_up_after":"3d"}' |
    req api-monitor PUT /api/v1/settings/monitor "$AUTH" "$JSON"
printf '%s' '{"host":"127.0.0.1","port":2525,"tls":"starttls","user":"u","password":"hunter2-secret","from":"certmon@example.com"}' |
    req api-smtp PUT /api/v1/settings/smtp "$AUTH" "$JSON"
printf '%s' '{"ocsp":true,"uri_source":"configured","uri":"http://127.0.0.1:9/ocsp","every":"12h","allow_hosts":["127.0.0.1"]}' |
    req api-revocation PUT /api/v1/settings/revocation "$AUTH" "$JSON"
printf '%s' '{"cert_validity_check":true,"validity_check_frequency":"6h"}' |
    req api-enterprise PUT /api/v1/settings/enterprise "$AUTH" "$JSON"
req api-services GET /api/v1/services "$AUTH" </dev/null
req api-monitor-run POST /api/v1/services/expiry-monitor/run "$AUTH" </dev/null
req api-service-stop POST /api/v1/services/expiry-monitor/stop "$AUTH" </dev/null
req api-events GET '/api/v1/events?limit=5&before=100&kind=audit&name=cert.added' "$AUTH" </dev/null
req api-mail GET '/api/v1/mail/queue?all=1' "$AUTH" </dev/null
req api-endpoints GET /api/v1/endpoints "$AUTH" </dev/null
req api-endpoint GET /api/v1/endpoints/ldap "$AUTH" </dev/null
printf '%s' '{"name":"mail","address":"127.0.0.1:1","starttls":"smtp","trust_unit":"tomcat-trust"}' |
    req api-endpoint-add POST /api/v1/endpoints "$AUTH" "$JSON"
multipart unit=tomcat-trust file=@"$tmp/leaf.pem" |
    req api-upload-pem POST /api/v1/certs "$AUTH" "$MP"
multipart unit=tomcat file=@"$tmp/leaf.der" ocsp_responder=1 |
    req api-upload-der POST /api/v1/certs "$AUTH" "$MP"
multipart unit=tomcat-trust password=pass file=@"$tmp/leaf.p12" |
    req api-upload-p12 POST /api/v1/certs "$AUTH" "$MP"
multipart unit=CallManager-trust file=@"$tmp/chain.p7b" |
    req api-upload-p7b POST /api/v1/certs "$AUTH" "$MP"
req api-upload-raw POST '/api/v1/certs?unit=tomcat-trust&ocsp_responder=0' "$AUTH" \
    "Content-Type: application/x-pem-file" <"$tmp/bundle.pem"
req metrics GET /metrics </dev/null
req healthz GET /healthz </dev/null
# two requests on one connection, a chunked body, Expect: 100-continue
{ req x GET /api/v1/units "$AUTH" </dev/null; cat "$H/x"; cat "$H/api-services"; } >"$H/pipelined"
rm -f "$H/x"
printf 'PUT /api/v1/settings/enterprise HTTP/1.1\r\nHost: localhost\r\n%s\r\n%s\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"com\r\n13\r\nmon_criteria":true}\r\n0\r\n\r\n' \
    "$AUTH" "$JSON" >"$H/chunked"
printf 'PUT /api/v1/settings/enterprise HTTP/1.1\r\nHost: localhost\r\n%s\r\n%s\r\nExpect: 100-continue\r\nContent-Length: 25\r\n\r\n{"common_criteria":false}' \
    "$AUTH" "$JSON" >"$H/expect"
printf 'GET /api/v1/certs?%%zz=%%&&=&unit HTTP/1.0\r\n%s\r\n\r\n' "$AUTH" >"$H/bad-query"
req web-dashboard GET / "$COOKIE" </dev/null
req web-certs GET '/certs?unit=tomcat-trust&state=expiring&q=%3Cfuzz%3E&sort=cn&dir=desc&page=2&per=10&history=1' "$COOKIE" </dev/null
req web-certs-sort GET '/certs?sort=not_after&dir=asc&page=999999&per=200&state=revoked' "$COOKIE" </dev/null
req web-events GET '/events?kind=audit&name=%3Cfuzz%3E&before=5' "$COOKIE" </dev/null
req web-mail GET '/mail?all=1' "$COOKIE" </dev/null
req web-units GET /units "$COOKIE" </dev/null
req web-monitor GET /monitor "$COOKIE" </dev/null
req web-preview GET /monitor/preview "$COOKIE" </dev/null
req web-revocation GET /revocation "$COOKIE" </dev/null
req web-params GET /params "$COOKIE" </dev/null
req web-services GET /services "$COOKIE" </dev/null
req web-upload-page GET '/certs/upload?unit=tomcat-trust' "$COOKIE" </dev/null
req web-login GET '/login?next=/certs%3Fq%3D%3Cfuzz%3E' </dev/null
req web-static GET /static/style.css </dev/null
printf 'csrf=%s&start_days=20&frequency=12h&email=on&emails=a%%40example.com%%3Bb%%40example.org&retry_cap=1h&give_up_after=7d' "$CSRF" |
    req web-monitor-post POST /monitor "$COOKIE" "$FORM"
printf 'csrf=%s&name=fuzz-trust&kind=trust' "$CSRF" |
    req web-unit-add POST /units "$COOKIE" "$FORM"
printf 'csrf=%s&host=%%3Cfuzz%%3E&port=25&tls=none&from=a%%40example.com' "$CSRF" |
    req web-smtp-post POST /monitor/smtp "$COOKIE" "$FORM"
multipart csrf="$CSRF" unit=tomcat-trust file=@"$tmp/ec.pem" |
    req web-upload POST /certs/upload "$COOKIE" "$MP"
multipart csrf="$CSRF" unit=tomcat password=pass file=@"$tmp/leaf.p12" |
    req web-upload-p12 POST /certs/upload "$COOKIE" "$MP"
# found by fuzzing: a part whose header libmicrohttpd cannot read comes to
# the form handlers without a name (tests/system/test_daemon_api.py::
# test_multipart_part_without_a_name_is_refused_not_a_crash)
printf -- '--%s\r\nContent-Disposition: form-data; name="unit"\r\n\r\ntomcat\r\n--%s\r\nConteta; name="unit"\r\n\r\ntomcat\r\n--%s--\r\n' "$B" "$B" "$B" >"$tmp/noname"
req api-multipart-noname POST /api/v1/certs "$AUTH" "$MP" <"$tmp/noname"
req web-multipart-noname POST /login "$MP" <"$tmp/noname"
if [ -x fuzz/build/fuzz_http ]; then
	FUZZ_HTTP_SEEDS="$H" fuzz/build/fuzz_http -runs=0 >/dev/null 2>&1
fi
echo "$H: $(ls "$H" | wc -l) seeds"

# fuzz_settings: values an administrator types.
mkdir -p fuzz/corpus/settings
i=0
for v in 2027-01-31T12:00:00Z 1970-01-01T00:00:00Z 12h 30d 1d 0h 5x on off \
    'a@example.com' 'a@example.com; b@example.org;' 'x@[192.0.2.1]' \
    'http://127.0.0.1:8888/ocsp' 'https://ocsp.example.com/' 'ftp://x/' \
    'file:///etc/passwd' 'bad address@example.com'; do
	printf '%s' "$v" > "fuzz/corpus/settings/seed$i"
	i=$((i + 1))
done
echo "fuzz/corpus/settings: $i seeds"

# fuzz_crl: valid CRLs (empty, with entries and reasons, a CRL number, an
# issuing distribution point; DER and PEM), written by the target itself
# from its fixed in-process CA.
if [ -x fuzz/build/fuzz_crl ]; then
	mkdir -p fuzz/corpus/crl
	FUZZ_CRL_SEEDS=fuzz/corpus/crl fuzz/build/fuzz_crl -runs=0 >/dev/null 2>&1
	echo "fuzz/corpus/crl: $(ls fuzz/corpus/crl | wc -l) seeds"
fi

# fuzz_api: JSON bodies of PUT /api/v1/settings/revocation, /enterprise,
# /monitor and /smtp.
mkdir -p fuzz/corpus/api
printf '%s' '{"ocsp":true,"uri_source":"configured","uri":"http://127.0.0.1:9/ocsp","every":"12h"}' > fuzz/corpus/api/revocation
printf '%s' '{"crl":true,"crl_uris":["http://crl.example/ca.crl"],"allow_hosts":["ocsp.example.com"],"skew":"5m","timeout":5}' > fuzz/corpus/api/crl
printf '%s' '{"cert_validity_check":true,"validity_check_frequency":"6h","common_criteria":true}' > fuzz/corpus/api/params
# found by fuzzing: list entries with spaces round-trip only once normalised
printf '%s' '{"cr":true,"crl_uris":[":/?m"],"allow_hosts":["------------ocspzexam9cr "],"x":8}' > fuzz/corpus/api/lists
printf '%s' '{"start_days":45,"frequency":"12h","email":true,"lsc":false,"emails":"ops@example.com; pki@example.org","retry_cap":"2h","give_up_after":"3d"}' > fuzz/corpus/api/monitor
printf '%s' '{"host":"smtp.example.com","port":587,"tls":"starttls","user":"certmon","password":"hunter2-secret","from":"certmon@example.com","ca_file":"/etc/ssl/certs/ca.pem"}' > fuzz/corpus/api/smtp
printf '%s' '{"host":"127.0.0.1","port":2525,"tls":"none","from":"certmon@[192.0.2.1]"}' > fuzz/corpus/api/smtp-plain
echo "fuzz/corpus/api: 7 seeds"
