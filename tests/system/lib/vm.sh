# vm.sh (tests): scripts/vm.sh's machines in a temporary VM_DIR, all killed when the test ends, and the TAP
# preamble most QEMU tests begin with (sourced after tap.sh).
KILN_TOP=${KILN_TOP:-$TOP}
. "$KILN_TOP/scripts/vm.sh"

VM_DIR=${VM_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/kiln-vm.XXXXXX")}
vm_cleanup() {
	for p in "$VM_DIR"/*/qemu.pid; do
		[ -f "$p" ] && { kill "$(cat "$p")" 2>/dev/null || :; }
	done
	sleep 0.2
	for p in "$VM_DIR"/*/cat.pid; do [ -f "$p" ] && { kill "$(cat "$p")" 2>/dev/null || :; }; done
	[ -n "${KEEP_VM_DIR:-}" ] || rm -rf "$VM_DIR"
}
trap vm_cleanup EXIT
trap 'exit 2' INT TERM

# vm_boot_ready NAME DESCRIPTION SECONDS QEMU-ARGS...: start a VM and report (TAP) whether it printed the
# ready or degraded summary in time; without it, nothing else in the file can be checked: bail out.
vm_boot_ready() {
	name=$1 desc=$2 secs=$3; shift 3
	vm_start "$name" "$@"
	if vm_wait "$name" 'kiln: (ready|degraded):' "$secs"; then
		ok "$desc boots in $(vm_elapsed "$name") s: $(vm_log "$name" | grep -Eo 'kiln: (ready|degraded):.*' | head -n 1)"
	else
		not_ok "$desc boots to ready"; diag "$(vm_log "$name" | tail -n 30)"; bail "no boot"
	fi
}

