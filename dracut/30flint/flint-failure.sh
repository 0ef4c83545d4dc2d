#!/bin/sh
# flint-failure: run by flint-failure.service when the initramfs enters the
# emergency target after a flint stage failed (flint wrote the one-paragraph
# summary to /run/flint/failure.txt; it holds no config bodies or secrets).
#
# 1. Shows the summary on the console at once (no key press needed).
# 2. Writes to every virtio-serial port whose name contains "flint",
#    "journal" or "log", so a host can read everything without a console:
#      *collect*  the `flint collect-logs --root /sysroot` tarball
#      *.json     flint's journal, journalctl -t flint -o json
#      other      flint's journal, journalctl -t flint -o short-monotonic
#    e.g. with QEMU
#      -device virtio-serial -chardev file,id=fj,path=flint-journal.txt
#      -device virtserialport,chardev=fj,name=org.flintboot.journal
summary="${FLINT_FAILURE_FILE:-/run/flint/failure.txt}"
# one write, so systemd's status lines do not land inside the paragraph
rule="============================================================================="
text="$(cat "$summary" 2>/dev/null)"
[ -n "$text" ] || text="flint: a stage failed. Read the full log with: journalctl -t flint"
printf '\n=================================== flint ===================================\n%s\nFor a bug report: flint collect-logs --root /sysroot -o /run/flint-logs.tar.gz\n%s\n' "$text" "$rule"
for port in /dev/virtio-ports/*; do
    [ -e "$port" ] || continue
    name="${port##*/}"
    case "$name" in
        *collect*)
            if flint collect-logs --root /sysroot -o - >"$port" 2>/dev/null; then
                echo "flint: logs collected to $name"
            fi
            ;;
        *.json)
            journalctl -t flint -o json --no-pager >"$port" 2>/dev/null && echo "flint: journal (json) copied to $name"
            ;;
        *flint*|*journal*|*log*)
            journalctl -t flint -o short-monotonic --no-pager >"$port" 2>/dev/null && echo "flint: journal copied to $name"
            ;;
    esac
done
exit 0
