#!/usr/bin/env bash
# Makes a self-signed TLS certificate for local use of the cluster's nginx:
#   scripts/generate-cert.sh <directory>   writes <directory>/cert.pem and <directory>/key.pem
# The certificate names localhost and 127.0.0.1, uses a P-256 key and is valid for 365 days.
# Clients must trust cert.pem explicitly, because it is its own certificate authority.
set -euo pipefail

out=${1:?usage: scripts/generate-cert.sh <directory>}
mkdir -p "$out"
umask 077
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
  -subj "/CN=localhost" \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  -addext "basicConstraints=critical,CA:TRUE" \
  -keyout "$out/key.pem" -out "$out/cert.pem" 2>/dev/null
chmod 644 "$out/cert.pem"
echo "$out/cert.pem"
