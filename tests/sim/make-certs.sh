#!/bin/sh
# make-certs.sh OUTDIR — a throwaway test PKI for the simulated services.
#
# Writes into OUTDIR:
#   ca.pem ca.key                      the test CA the daemon is told to trust
#   server.pem server.key              127.0.0.1, ::1, localhost; signed by ca
#   rogue-ca.pem rogue-ca.key          an unrelated CA nobody trusts
#   rogue-server.pem rogue-server.key  same names, signed by the rogue CA
#   client.pem client.key              a self-signed RSA 2048 app certificate
#                                      for client assertions (PS256/RS256)
#   other-client.pem other-client.key  another one, that the tenant does not
#                                      know
#
# EC P-256 keys (fast to make) for TLS, RSA for the app certificates (Entra
# signs assertions with RSA only), 2-day validity. Idempotent: when every
# file is there and every certificate stays valid for another hour, nothing
# is done. Quiet unless something fails.
set -eu

if [ $# -ne 1 ]; then
	echo "usage: $0 OUTDIR" >&2
	exit 64
fi
out=$1
files="ca.pem ca.key server.pem server.key rogue-ca.pem rogue-ca.key
rogue-server.pem rogue-server.key client.pem client.key other-client.pem
other-client.key"
mkdir -p "$out"

fresh=1
for f in $files; do
	[ -s "$out/$f" ] || fresh=0
done
if [ "$fresh" = 1 ] &&
    openssl x509 -checkend 3600 -noout -in "$out/server.pem" >/dev/null 2>&1 &&
    openssl x509 -checkend 3600 -noout -in "$out/rogue-server.pem" \
    >/dev/null 2>&1 &&
    openssl x509 -checkend 3600 -noout -in "$out/client.pem" \
    >/dev/null 2>&1 &&
    openssl x509 -checkend 3600 -noout -in "$out/other-client.pem" \
    >/dev/null 2>&1; then
	exit 0
fi

# Build in a scratch directory inside OUTDIR, then move into place, so a
# reader never pairs a new key with an old certificate for long.
work=$(mktemp -d "$out/.certs.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 1' INT TERM

# Our own minimal configs, so the system openssl.cnf adds no extensions.
cat >"$work/leaf.ext" <<'EOF'
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, IP:::1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF

newkey() {
	(umask 077 && openssl genpkey -algorithm EC \
	    -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null)
}

# make_ca NAME COMMON-NAME: a self-signed CA certificate.
make_ca() {
	newkey "$work/$1.key"
	cat >"$work/$1.cnf" <<EOF
[req]
distinguished_name = dn
x509_extensions = ca_ext
prompt = no
[dn]
O = glasswatch tests
CN = $2
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOF
	openssl req -new -x509 -config "$work/$1.cnf" -key "$work/$1.key" \
	    -days 2 -sha256 -out "$work/$1.pem" 2>/dev/null
}

# make_leaf NAME CA: a server certificate for the loopback names.
make_leaf() {
	newkey "$work/$1.key"
	openssl req -new -key "$work/$1.key" -out "$work/$1.csr" \
	    -subj "/O=glasswatch tests/CN=localhost" 2>/dev/null
	openssl x509 -req -in "$work/$1.csr" -CA "$work/$2.pem" \
	    -CAkey "$work/$2.key" -set_serial "0x$(openssl rand -hex 8)" \
	    -days 2 -sha256 -extfile "$work/leaf.ext" \
	    -out "$work/$1.pem" 2>/dev/null
}

# make_client NAME: a self-signed RSA certificate, as an app registration
# holds one (the key stays private to the owner).
make_client() {
	(umask 077 && openssl genpkey -algorithm RSA \
	    -pkeyopt rsa_keygen_bits:2048 -out "$work/$1.key" 2>/dev/null)
	openssl req -new -x509 -key "$work/$1.key" -days 2 -sha256 \
	    -subj "/O=glasswatch tests/CN=glasswatch $1" \
	    -config "$work/client.cnf" -out "$work/$1.pem" 2>/dev/null
}

cat >"$work/client.cnf" <<'EOF'
[req]
distinguished_name = dn
x509_extensions = client_ext
[dn]
[client_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
EOF

make_ca ca "glasswatch test CA"
make_leaf server ca
make_ca rogue-ca "glasswatch rogue CA"
make_leaf rogue-server rogue-ca
make_client client
make_client other-client

# Each leaf must verify against its own CA and never against the other.
openssl verify -CAfile "$work/ca.pem" "$work/server.pem" >/dev/null
openssl verify -CAfile "$work/rogue-ca.pem" "$work/rogue-server.pem" >/dev/null
if openssl verify -CAfile "$work/ca.pem" "$work/rogue-server.pem" \
    >/dev/null 2>&1; then
	echo "$0: the rogue certificate verifies against the test CA" >&2
	exit 1
fi

for f in $files; do
	mv -f "$work/$f" "$out/$f"
done
