#!/bin/sh
# Regenerates the OpenSSL-made fixtures of OpenSslFixturesTest (OpenSSL 3).
# Valid for 100 years; every key form as the openssl tool writes it. Password: fixture
set -eu
cd "$(dirname "$0")"
rm -f ./*.crt ./*.key ./*.csr ./*.srl ./*.password
days=36500
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days $days \
  -subj "/CN=OpenSSL Fixture CA" -keyout ca.key -out ca.crt 2>/dev/null

issue() { # name key
  openssl req -new -key "$2" -subj "/CN=$1" -addext "subjectAltName=DNS:$1" -out "$1.csr"
  openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days $days \
    -copy_extensions copy -out "$1.crt" 2>/dev/null
  rm -f "$1.csr"
}

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.pkcs8.key 2>/dev/null
openssl rsa -in rsa.pkcs8.key -traditional -out rsa.pkcs1.key 2>/dev/null
openssl pkcs8 -topk8 -v2 aes-256-cbc -in rsa.pkcs8.key -passout pass:fixture -out rsa.encrypted-pkcs8.key
openssl rsa -in rsa.pkcs8.key -traditional -aes256 -passout pass:fixture -out rsa.encrypted-pkcs1.key 2>/dev/null
issue rsa.fixture.test rsa.pkcs8.key
mv rsa.fixture.test.crt rsa.crt

openssl ecparam -name prime256v1 -genkey -out ec.sec1-with-params.key
openssl ec -in ec.sec1-with-params.key -out ec.sec1.key 2>/dev/null
openssl pkcs8 -topk8 -nocrypt -in ec.sec1.key -out ec.pkcs8.key
openssl pkcs8 -topk8 -v2 aes-256-cbc -in ec.sec1.key -passout pass:fixture -out ec.encrypted-pkcs8.key
issue ec.fixture.test ec.sec1.key
mv ec.fixture.test.crt ec.crt
cat ec.crt ca.crt > ec.fullchain.crt

printf 'fixture\n' > fixture.password
rm -f ca.srl ca.key
