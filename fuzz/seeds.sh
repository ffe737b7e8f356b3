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
# itself from its fixed in-process PKI.
if [ -x fuzz/build/fuzz_ocsp ]; then
	mkdir -p fuzz/corpus/ocsp
	FUZZ_OCSP_SEEDS=fuzz/corpus/ocsp fuzz/build/fuzz_ocsp -runs=0 >/dev/null 2>&1
	echo "fuzz/corpus/ocsp: $(ls fuzz/corpus/ocsp | wc -l) seeds"
fi

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
