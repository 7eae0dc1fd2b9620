#!/bin/sh
# run-qemu.sh [--disk IMG | KERNEL INITRD] [options]: boots one kiln machine on this terminal's serial
# console. Ctrl-A X leaves QEMU; `initctl poweroff` in the guest ends it cleanly.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/qemu-args.sh"
qemu_args "$@"
say "booting (Ctrl-A X to leave)"
eval "exec qemu-system-x86_64 $QEMU_ARGS -serial mon:stdio"
