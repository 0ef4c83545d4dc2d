#!/usr/bin/env bash
# `make demo-offline`: shows flint's main job on the example configs, without a VM.
# 1. validate every example (the broken one shows the error report);
# 2. provision a scratch root from examples/webserver.ign with `flint apply`
#    (when available) and show the result: tree, ownership, units.
set -uo pipefail
cd "$(dirname "$0")/.."
FLINT=./bin/flint
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "flint version"
$FLINT version

for f in examples/*.ign; do
  say "flint validate $f"
  $FLINT validate "$f"
  echo "(exit status $?)"
done

if $FLINT apply --help >/dev/null 2>&1; then
  root=$(mktemp -d /tmp/flint-demo.XXXXXX)
  mkdir -p "$root/etc" "$root/usr/share/zoneinfo"
  printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
  printf 'root:x:0:\nwheel:x:10:\n' >"$root/etc/group"
  printf 'root:*:19000:0:99999:7:::\n' >"$root/etc/shadow"
  printf 'root:*::\nwheel:*::\n' >"$root/etc/gshadow"
  : >"$root/usr/share/zoneinfo/UTC"
  say "flint plan --root $root examples/webserver.ign"
  $FLINT plan --root "$root" examples/webserver.ign
  say "flint apply --root $root examples/webserver.ign"
  $FLINT apply --root "$root" examples/webserver.ign || exit 1
  say "what flint wrote"
  (cd "$root" && find . -path ./proc -prune -o -newer etc/passwd -print 2>/dev/null | sort | while read -r p; do
     stat -c '%A %u:%g %n' "$p"; done)
  say "accounts in the target root (owners above are numeric ids of these)"
  grep -E '^(core|wheel):' "$root/etc/passwd" "$root/etc/group"
  say "preset and units"
  cat "$root/etc/systemd/system-preset/20-flint.preset" 2>/dev/null
  ls -l "$root/etc/systemd/system/" 2>/dev/null
  say "flint status --root $root"
  $FLINT status --root "$root"
  say "flint analyze blame --root $root"
  $FLINT analyze blame --root "$root"
fi
