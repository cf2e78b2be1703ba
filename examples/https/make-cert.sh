#!/bin/sh
# Writes key.pem and cert.pem (self-signed, for localhost and 127.0.0.1, valid 30 days) next
# to this script, for examples/https/config.capnp. Needs Debian's openssl.
set -eu
cd "$(dirname "$0")"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
    -keyout key.pem -out cert.pem -subj "/CN=localhost" \
    -addext "subjectAltName = DNS:localhost, IP:127.0.0.1" 2>/dev/null
echo "wrote $(pwd)/key.pem and $(pwd)/cert.pem"
