#!/bin/sh
# Regenerates the TLS test fixtures (run once; the outputs are committed).
# RSA 2048, SHA-256, valid from 2000-01-01 to 2127-01-01 (so neither a slow clock nor age breaks tests).
set -e
cd "$(dirname "$0")"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
START=20000101000000Z
END=21270101000000Z
touch "$T/index.txt"
echo 1000 > "$T/serial"
cat > "$T/ca.cnf" <<CNF
[ca]
default_ca = test_ca
[test_ca]
database = $T/index.txt
serial = $T/serial
new_certs_dir = $T
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[any]
commonName = supplied
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
authorityKeyIdentifier = keyid
[client]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
CNF
sign() { # name subject extensions [selfsign]
  openssl req -new -newkey rsa:2048 -nodes -keyout "$1.key" -out "$T/$1.csr" -subj "$2" 2>/dev/null
  if [ -n "$4" ]; then
    openssl ca -batch -config "$T/ca.cnf" -selfsign -keyfile "$1.key" -in "$T/$1.csr" \
      -out "$T/$1.crt" -startdate $START -enddate $END -extensions "$3" -notext 2>/dev/null
  else
    openssl ca -batch -config "$T/ca.cnf" -cert ca.pem -keyfile ca.key -in "$T/$1.csr" \
      -out "$T/$1.crt" -startdate $START -enddate $END -extensions "$3" -notext 2>/dev/null
  fi
  openssl x509 -in "$T/$1.crt" -out "$1.pem"
}
sign ca "/CN=nsq-deno test CA" v3_ca self
sign server "/CN=localhost" server
sign client "/CN=test-client" client
sign foreign "/CN=foreign-client" client self
openssl rsa -in server.key -traditional -out server-pkcs1.key 2>/dev/null
openssl verify -CAfile ca.pem server.pem client.pem
