#!/bin/sh
# meson install puts the binary, the unit (naming the installed binary),
# the example configuration and both man pages in place: installed into a
# scratch DESTDIR and checked there.
set -eu
build=$1
dest=$(mktemp -d "${TMPDIR:-/tmp}/gw-install.XXXXXX")
trap 'rm -rf "$dest"' EXIT
meson install -C "$build" --no-rebuild --quiet --destdir "$dest" \
    >"$dest.log" 2>&1 || { cat "$dest.log"; rm -f "$dest.log"; exit 1; }
rm -f "$dest.log"
prefix=$(meson introspect "$build" --buildoptions |
    /usr/bin/python3 -c 'import json,sys; print([o["value"] for o in
json.load(sys.stdin) if o["name"] == "prefix"][0])')
fail=0
for f in sbin/glasswatchd lib/systemd/system/glasswatchd.service \
    share/man/man8/glasswatchd.8 share/man/man5/glasswatch.yaml.5; do
	if [ ! -f "$dest$prefix/$f" ]; then
		echo "missing: $prefix/$f"; fail=1
	fi
done
conf=$(find "$dest" -name glasswatch.yaml.example | head -n 1)
[ -n "$conf" ] || { echo "missing: glasswatch.yaml.example"; fail=1; }
unit="$dest$prefix/lib/systemd/system/glasswatchd.service"
if [ -f "$unit" ] && ! grep -q "^ExecStart=$prefix/sbin/glasswatchd " "$unit"
then
	echo "the unit does not name $prefix/sbin/glasswatchd:"
	grep '^ExecStart=' "$unit"; fail=1
fi
[ -x "$dest$prefix/sbin/glasswatchd" ] &&
    "$dest$prefix/sbin/glasswatchd" --version >/dev/null || fail=1
[ $fail -eq 0 ] && echo "installed: binary, unit, example config, man pages"
exit $fail
