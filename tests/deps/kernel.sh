#!/bin/sh
# Download and unpack (never install) the Debian kernel used by the VM tests.
#
# The package is resolved through the linux-image-amd64 metapackage, because the ABI name
# changes with Debian point releases. The result is
#   $CACHE/boot/vmlinuz-$KV
#   $CACHE/lib/modules/$KV          (with modules.dep made by depmod -b)
#   $CACHE/KVER                     (the ABI name; written last, marks a complete unpack)
# where CACHE is $FLINT_TEST_CACHE/kernel (default /var/cache/flint-test/kernel).
# Idempotent: does nothing when KVER and its files are present.
set -eu

CACHE="${FLINT_TEST_CACHE:-/var/cache/flint-test}/kernel"

if [ -f "$CACHE/KVER" ]; then
	KV=$(cat "$CACHE/KVER")
	if [ -f "$CACHE/boot/vmlinuz-$KV" ] && [ -f "$CACHE/lib/modules/$KV/modules.dep" ]; then
		echo "kernel.sh: kernel $KV already in $CACHE"
		exit 0
	fi
fi

for t in apt-get apt-cache dpkg depmod; do
	command -v "$t" >/dev/null 2>&1 || { echo "kernel.sh: $t not found (install kmod/apt)" >&2; exit 1; }
done

PKG=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
if [ -z "$PKG" ]; then
	echo "kernel.sh: cannot resolve linux-image-amd64 (run apt-get update)" >&2
	exit 1
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/flint-kernel.XXXXXX")
chmod 755 "$TMP"   # apt-get download drops privileges to _apt
trap 'rm -rf "$TMP"' EXIT INT TERM

echo "kernel.sh: downloading $PKG"
(cd "$TMP" && apt-get download -q "$PKG")
DEB=$(ls "$TMP"/*.deb)
mkdir -p "$TMP/root"
dpkg -x "$DEB" "$TMP/root"
KV=$(ls "$TMP/root/lib/modules")
[ -f "$TMP/root/boot/vmlinuz-$KV" ] || { echo "kernel.sh: no vmlinuz-$KV in $DEB" >&2; exit 1; }
# The .deb ships no modules.dep (its postinst makes it).
depmod -b "$TMP/root" "$KV"
echo "$KV" > "$TMP/root/KVER"

mkdir -p "$(dirname "$CACHE")"
rm -rf "$CACHE.old"
[ -e "$CACHE" ] && mv "$CACHE" "$CACHE.old"
mv "$TMP/root" "$CACHE"
rm -rf "$CACHE.old"
echo "kernel.sh: kernel $KV unpacked into $CACHE"
