#!/usr/bin/env bash
# The main job: installs what is needed, builds certmon, creates a demo
# store with certificates made on the spot, and runs the daemon (web admin,
# REST API, /metrics) on https://127.0.0.1:8443 until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
./scripts/install-deps.sh
make -j"$(nproc)" >/dev/null
DEMO=${CERTMON_DEMO_DIR:-$ROOT/demo}
LISTEN=${CERTMON_LISTEN:-127.0.0.1:8443}
rm -rf "$DEMO"
mkdir -p "$DEMO"
./scripts/demo-certs.sh "$DEMO/certs" >/dev/null 2>&1
export CERTMON_DB="$DEMO/certmon.db"
CM="$ROOT/build/certmon"
for unit in tomcat CallManager ipsec tomcat-trust CallManager-trust lsc; do
  "$CM" cert upload --unit "$unit" "$DEMO/certs/$unit" >/dev/null 2>&1
done
PASSWORD=$(openssl rand -base64 12 | tr -d '/+=')
printf '%s\n' "$PASSWORD" > "$DEMO/admin-password"
chmod 600 "$DEMO/admin-password"
"$CM" admin passwd --password-file "$DEMO/admin-password" >/dev/null
TOKEN=$("$CM" token add demo)

"$CM" cert list
cat <<INFO

certmon demo
  web admin   https://$LISTEN/   (self-signed certificate: accept it once)
              user: admin   password: $PASSWORD   (also in $DEMO/admin-password)
  REST API    curl -k -H "Authorization: Bearer $TOKEN" https://$LISTEN/api/v1/certs
  metrics     curl -k https://$LISTEN/metrics
  store       $CERTMON_DB   (try: $CM --db $CERTMON_DB monitor status)
  stop        Ctrl-C

INFO
exec "$ROOT/build/certmond" --db "$CERTMON_DB" --listen "$LISTEN"
