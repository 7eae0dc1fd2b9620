# vm.sh (tests): scripts/vm.sh's machines in a temporary VM_DIR, all killed when the test ends, and the TAP
# preamble most QEMU tests begin with (sourced after tap.sh). They boot the tests' tree (use_test_tree).
use_test_tree
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

# solo_initrd DIR [ARCHIVE...]: tests/clusters/solo.yaml rendered into DIR/r (its PKI in DIR/pki), s1's identity
# archive DIR/s1.cpio.gz, and DIR/initrd: the master initramfs + that identity + the ARCHIVEs. Step output in
# DIR/render.log; fails when a step does.
solo_initrd() {
	sd=$1; shift
	mkdir -p "$sd"
	"$KILN_BUILD/tools/kiln" render "$KILN_TOP/tests/clusters/solo.yaml" --out "$sd/r" --pki "$sd/pki" \
		--rootfs "$KILN_TOP/rootfs" > "$sd/render.log" 2>&1 &&
		sh "$KILN_TOP/scripts/mk-identity.sh" "$sd/r/machines/s1/identity" "$sd/s1.cpio.gz" >> "$sd/render.log" 2>&1 &&
		cat "$KILN_OUT/master/initramfs.cpio.gz" "$sd/s1.cpio.gz" "$@" > "$sd/initrd"
}

# vm_boot_ready NAME DESCRIPTION SECONDS QEMU-ARGS...: start a VM and report (TAP) whether it printed the
# ready or degraded summary in time; without it, nothing else in the file can be checked: give up the file.
vm_boot_ready() {
	name=$1 desc=$2 secs=$3; shift 3
	vm_start "$name" "$@"
	if vm_wait "$name" 'kiln: (ready|degraded):' "$secs"; then
		ok "$desc boots in $(vm_elapsed "$name") s: $(vm_log "$name" | grep -Eo 'kiln: (ready|degraded):.*' | head -n 1)"
	else
		not_ok "$desc boots to ready"; diag "$(vm_log "$name" | tail -n 30)"; give_up "no boot"
	fi
}

