#!/bin/sh
# make-certs.sh DIR: a local certificate authority and a server certificate signed by it, for
# nginx's TLS, unless DIR has them already. Names: localhost and 127.0.0.1, plus those in
# TLS_HOSTNAMES (comma-separated DNS names). Trust DIR/ca.crt in clients (curl --cacert).
# For a public host use a real certificate (docs/deploy.md, TLS) instead.
set -eu
dir=$1
mkdir -p "$dir"
cd "$dir"
[ -s server.crt ] && [ -s server.key ] && exit 0
umask 077
names="DNS:localhost,IP:127.0.0.1"
for name in $(echo "${TLS_HOSTNAMES:-}" | tr ',' ' '); do names="$names,DNS:$name"; done
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
  -subj "/CN=Potluck local CA" -keyout ca.key -out ca.crt \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -subj "/CN=localhost" -keyout server.key -out server.csr 2>/dev/null
cat >server.ext <<EXT
subjectAltName=$names
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid,issuer
EXT
# 825 days: the longest validity Apple's clients accept for a server certificate.
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 825 \
  -extfile server.ext -out server.crt 2>/dev/null
rm -f server.csr server.ext ca.srl
chmod 644 ca.crt server.crt
echo "make-certs: made $dir/server.crt for $names, signed by $dir/ca.crt" >&2
