#!/usr/bin/env bash
# The main job: installs what is needed, builds certmon, creates a demo
# store with certificates made on the spot, and shows what certmon sees.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
./scripts/install-deps.sh
make -j"$(nproc)" >/dev/null
DEMO=${CERTMON_DEMO_DIR:-$ROOT/demo}
rm -rf "$DEMO"
mkdir -p "$DEMO"
./scripts/demo-certs.sh "$DEMO/certs" >/dev/null 2>&1
export CERTMON_DB="$DEMO/certmon.db"
CM="$ROOT/build/certmon"
for unit in tomcat CallManager ipsec tomcat-trust CallManager-trust lsc; do
  "$CM" cert upload --unit "$unit" "$DEMO/certs/$unit" >/dev/null 2>&1
done
echo "Demo store: $CERTMON_DB"
echo
"$CM" cert list
echo
echo "Try:  export CERTMON_DB=$CERTMON_DB"
echo "      $CM cert list --state expiring"
echo "      $CM cert show <fingerprint prefix>"
echo "      $CM unit list"
