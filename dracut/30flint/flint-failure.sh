#!/bin/sh
# flint-failure: run by flint-failure.service when the initramfs enters the
# emergency target after a flint stage failed (flint wrote the one-paragraph
# summary to /run/flint/failure.txt; it holds no config bodies or secrets).
#
# 1. Shows the summary on the console.
# 2. Copies flint's journal (journalctl -t flint) to every virtio-serial port
#    whose name contains "flint", "journal" or "log", e.g. a QEMU
#      -device virtio-serial -chardev file,id=fj,path=flint-journal.txt
#      -device virtserialport,chardev=fj,name=org.flintboot.journal
#    so a host can read the full log without a console.
summary="${FLINT_FAILURE_FILE:-/run/flint/failure.txt}"
# one write, so systemd's status lines do not land inside the paragraph
rule="============================================================================="
text="$(cat "$summary" 2>/dev/null)"
[ -n "$text" ] || text="flint: a stage failed. Read the full log with: journalctl -t flint"
printf '\n=================================== flint ===================================\n%s\n%s\n' "$text" "$rule"
for port in /dev/virtio-ports/*; do
    [ -e "$port" ] || continue
    case "${port##*/}" in
        *flint*|*journal*|*log*) ;;
        *) continue ;;
    esac
    if journalctl -t flint -o short-monotonic --no-pager >"$port" 2>/dev/null; then
        echo "flint: journal copied to ${port##*/}"
    fi
done
exit 0
