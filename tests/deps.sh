#!/bin/sh
# Installs the Debian packages glasswatch needs to build and test, if any
# is missing. Sourced by tests/demo.sh and tests/run-tests.sh.
set -eu

GW_PACKAGES="gcc libc6-dev pkg-config meson ninja-build systemd
libcurl4-openssl-dev libjansson-dev libevent-dev libyaml-dev libsqlite3-dev
libssl-dev check libsubunit-dev
python3 python3-aiosmtpd openssl ca-certificates curl
prometheus-alertmanager prometheus
clang libclang-rt-14-dev"

gw_install_deps() {
	missing=""
	for p in $GW_PACKAGES; do
		if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
		    grep -q '^install ok installed$'; then
			missing="$missing $p"
		fi
	done
	[ -z "$missing" ] && return 0
	echo "installing Debian packages:$missing"
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	$sudo apt-get update
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y \
	    --no-install-recommends $missing
}
