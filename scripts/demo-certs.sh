#!/usr/bin/env bash
# Makes a demo set of certificates with the openssl CLI in DIR: a root CA,
# server certificates in every expiry state, a CA rollover for a trust
# unit, and phone LSCs. Used by scripts/demo.sh.
set -euo pipefail
DIR=${1:?usage: demo-certs.sh DIR}
mkdir -p "$DIR"/{tomcat,CallManager,ipsec,tomcat-trust,CallManager-trust,lsc}
cd "$DIR"

openssl ecparam -name prime256v1 -genkey -noout -out key.pem
openssl ecparam -name prime256v1 -genkey -noout -out ca.key
faketime -f -400d openssl req -x509 -new -key ca.key -days 3650 \
  -subj "/O=Example Corp/CN=Example Corp Root CA" \
  -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.pem 2>/dev/null

# leaf UNIT CN DAYS [FAKETIME]
leaf() {
  local unit=$1 cn=$2 days=$3 shift_by=${4:-+0d}
  printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$cn" > ext.cnf
  openssl req -new -key key.pem -subj "/O=Example Corp/CN=$cn" -out leaf.csr
  faketime -f "$shift_by" openssl x509 -req -in leaf.csr -CA ca.pem \
    -CAkey ca.key -set_serial "0x$(openssl rand -hex 8)" -days "$days" \
    -extfile ext.cnf -out "$unit/$cn.pem" 2>/dev/null
}

leaf tomcat       cucm-pub.example.com          400
leaf tomcat       cucm-sub1.example.com         21
leaf CallManager  cucm-pub.example.com          12
leaf CallManager  cucm-sub1.example.com         1
leaf ipsec        ipsec-gw.example.com          30  -35d
leaf lsc          SEP001122334455               365
leaf lsc          SEP00AABBCCDDEE               5
cp ca.pem tomcat-trust/root.pem
cp ca.pem CallManager-trust/root.pem
# An external partner CA in the middle of a rollover: old and new.
for gen in old new; do
  openssl ecparam -name prime256v1 -genkey -noout -out partner-$gen.key
  shift_by=+0d; days=1000
  if [ $gen = old ]; then shift_by=-900d; days=960; fi
  faketime -f "$shift_by" openssl req -x509 -new -key partner-$gen.key \
    -days $days -subj "/O=Partner/CN=Partner Issuing CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -out tomcat-trust/partner-$gen.pem 2>/dev/null
done
rm -f leaf.csr ext.cnf
