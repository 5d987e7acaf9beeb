#!/bin/bash
# The demo: installs what is missing, builds glasswatchd, starts the
# simulated Entra tenant (HTTPS, test CA) and a real SMTP server with
# STARTTLS, runs glasswatchd with config/demo.yaml, makes a break-glass
# sign-in appear in the simulated SigninLogs and prints the alert mail that
# arrives. Everything listens on 127.0.0.1 only and stops at the end.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. tests/deps.sh
gw_install_deps

[ -f build/build.ninja ] || meson setup build
ninja -C build daemon/glasswatchd

py=/usr/bin/python3
demo=$(mktemp -d /tmp/glasswatch-demo.XXXXXX)
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$demo"
}
trap cleanup EXIT INT TERM

for port in 18443 18444 18025; do
	if (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		echo "port $port on 127.0.0.1 is in use; the demo needs it" >&2
		exit 1
	fi
done

mkdir -p "$demo/creds" "$demo/state" "$demo/mail"
chmod 700 "$demo/creds"
bash tests/sim/make-certs.sh "$demo/pki"
cp "$demo/pki/ca.pem" "$demo/creds/ca.pem"
# A made-up client secret, shared by the simulated tenant and the daemon.
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$demo/creds/demo-client-secret"
chmod 600 "$demo/creds/demo-client-secret"

echo "== starting the simulated tenant (https://127.0.0.1:18443)"
$py tests/sim/simtenant.py --port 18443 --control-port 18444 \
    --cert "$demo/pki/server.pem" --key "$demo/pki/server.key" \
    --tenant-id 8a1b2c3d-0000-4000-8000-0000000000de \
    --client-id 5e7a9b1c-1111-4111-8111-111111111111 \
    --client-secret-file "$demo/creds/demo-client-secret" \
    --workspace-id 63613592-b6f7-4c3d-a390-22ba13102111 \
    --ready-file "$demo/sim.ready" 2>"$demo/sim.log" &
pids="$pids $!"
echo "== starting the SMTP server (smtp://127.0.0.1:18025, STARTTLS)"
$py tests/sim/smtpsink.py --port 18025 --maildir "$demo/mail" \
    --starttls "$demo/pki/server.pem" "$demo/pki/server.key" \
    --ready-file "$demo/smtp.ready" 2>"$demo/smtp.log" &
pids="$pids $!"
i=0
while [ ! -f "$demo/sim.ready" ] || [ ! -f "$demo/smtp.ready" ]; do
	i=$((i + 1))
	[ $i -le 100 ] || { echo "the simulated services did not start" >&2; cat "$demo"/*.log >&2; exit 1; }
	sleep 0.1
done

echo "== starting glasswatchd -c config/demo.yaml"
CREDENTIALS_DIRECTORY="$demo/creds" STATE_DIRECTORY="$demo/state" \
    build/daemon/glasswatchd -c config/demo.yaml 2>"$demo/glasswatchd.log" &
gwpid=$!
pids="$pids $gwpid"
sleep 3

echo "== an ordinary user signs in (no alert expected)"
curl -fsS -X POST http://127.0.0.1:18444/records -H 'Content-Type: application/json' \
    -d '{"table":"SigninLogs","row":{"UserId":"0b7c4bd0-5a3e-4f61-9d2b-6b1d7c1b0a11","UserPrincipalName":"alice@contoso.onmicrosoft.com","IPAddress":"198.51.100.7"}}' >/dev/null
echo "== the break-glass account bg1@contoso.onmicrosoft.com signs in from 203.0.113.50"
curl -fsS -X POST http://127.0.0.1:18444/records -H 'Content-Type: application/json' \
    -d '{"table":"SigninLogs","row":{"UserId":"3f2504e0-4f89-41d3-9a0c-0305e82c3301","UserPrincipalName":"bg1@contoso.onmicrosoft.com","IPAddress":"203.0.113.50","AppDisplayName":"Azure Portal"}}' >/dev/null

i=0
while ! ls "$demo/mail"/*.eml >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -gt 600 ] || ! kill -0 "$gwpid" 2>/dev/null; then
		echo "no mail arrived; glasswatchd's log:" >&2
		cat "$demo/glasswatchd.log" >&2
		exit 1
	fi
	sleep 0.1
done
sleep 1
echo
echo "== glasswatchd's log"
cat "$demo/glasswatchd.log"
echo
for m in "$demo/mail"/*.eml; do
	echo "== the alert mail the SOC received ($(basename "$m"))"
	cat "$m"
	echo
done
kill -TERM "$gwpid"
wait "$gwpid" && echo "== glasswatchd stopped cleanly (exit 0)"
