#!/usr/bin/env bash
# Installs everything the tests need, idempotently: the Debian packages listed
# in tests/deps/*.txt, then every tests/deps/*.sh hook (e.g. the test kernel),
# then the Go modules (flint's and the test peers').
#
# With arguments, only those groups: `install.sh base boot kernel` installs
# base.txt and boot.txt and runs kernel.sh (what `make demo` needs).
set -euo pipefail
cd "$(dirname "$0")"
lists=(./*.txt)
hooks=(./*.sh)
if [ $# -gt 0 ]; then
  lists=()
  hooks=()
  for g in "$@"; do
    [ -f "./$g.txt" ] && lists+=("./$g.txt")
    [ -f "./$g.sh" ] && hooks+=("./$g.sh")
  done
fi
mapfile -t pkgs < <(cat "${lists[@]}" /dev/null | sed 's/#.*//' | tr -s ' \t' '\n' | sed '/^$/d' | sort -u)
missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "deps: all ${#pkgs[@]} Debian packages present"
fi
for hook in "${hooks[@]}"; do
  [ "$hook" = ./install.sh ] && continue
  echo "deps: running $hook"
  bash "$hook"
done
cd ../..
go mod download
# the emulators tests start (tests/peers, a module of its own)
(cd tests/peers && go mod download)
