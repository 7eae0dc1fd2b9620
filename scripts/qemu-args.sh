# qemu-args.sh: the QEMU command line kiln's machines boot with (sourced by run-qemu.sh and the tests).
# TCG only (no KVM here); user-mode networking with restrict=on, so a guest reaches nothing outside.
# A disk machine has a hardware watchdog (i6300esb), for the trial boot of an upgrade.

# qemu_args [--disk IMG | --pxe TFTPDIR | KERNEL INITRD] [--persist] [--data IMG] [--mem MIB] [--smp N] [--mac MAC]
#           [--append ARGS] [--user-net CIDR] [--fwd HOSTPORT:GUESTADDR:GUESTPORT]... [--tap IFNAME] [--reboot]
# --user-net puts QEMU's user network on the cluster's infrastructure range, so a guest with a static address
# from its identity is reachable; --fwd forwards a port of the host's loopback to it (nothing else comes in).
# --tap puts the machine on a tap device instead (a cluster's private bridge, inside its network namespace).
# --data adds a second, writable disk (a PXE machine's local disk); --disk's image is a snapshot unless --persist.
# A reset ends QEMU (-no-reboot: the tests see every boot as its own run) unless --reboot.
qemu_args() {
	q_disk= q_kernel= q_initrd= q_mem=${KILN_VM_MEM:-768} q_smp=${KILN_VM_SMP:-1} q_mac=52:54:00:12:34:56 q_append=
	q_snapshot=on q_pxe= q_usernet= q_fwd= q_tap= q_data= q_noreboot=-no-reboot
	while [ $# -gt 0 ]; do
		case $1 in
		--disk) q_disk=$2; shift 2 ;;
		--persist) q_snapshot=off; shift ;;
		--reboot) q_noreboot=; shift ;;
		--data) q_data=$2; shift 2 ;;
		--pxe) q_pxe=$2; shift 2 ;;
		--mem) q_mem=$2; shift 2 ;;
		--smp) q_smp=$2; shift 2 ;;
		--mac) q_mac=$2; shift 2 ;;
		--append) q_append=$2; shift 2 ;;
		--tap) q_tap=$2; shift 2 ;;
		--user-net) q_usernet=",net=$2"; shift 2 ;;
		--fwd) q_fwd="$q_fwd,hostfwd=tcp:127.0.0.1:${2%%:*}-${2#*:}"; shift 2 ;;
		*) if [ -z "$q_kernel" ]; then q_kernel=$1; else q_initrd=$1; fi; shift ;;
		esac
	done
	q_net=user,id=n0,restrict=on$q_usernet$q_fwd
	# QEMU's own DHCP and TFTP answer a PXE client even with restrict=on; nothing leaves the VM.
	[ -z "$q_pxe" ] || q_net="$q_net,tftp=$q_pxe,bootfile=pxelinux.0"
	[ -z "$q_tap" ] || q_net="tap,id=n0,ifname=$q_tap,script=no,downscript=no"
	set -- -machine pc -accel tcg -cpu max -m "$q_mem" -smp "$q_smp" -nodefaults -display none $q_noreboot \
		-netdev "$q_net" -device "virtio-net-pci,netdev=n0,mac=$q_mac"
	if [ -n "$q_pxe" ]; then
		set -- "$@" -boot n
	elif [ -n "$q_disk" ]; then
		set -- "$@" -drive "file=$q_disk,format=raw,if=virtio,snapshot=$q_snapshot"
	else
		set -- "$@" -kernel "$q_kernel" -initrd "$q_initrd" \
			-append "console=ttyS0,115200 quiet panic=-1 $q_append"
	fi
	[ -z "$q_data" ] || set -- "$@" -drive "file=$q_data,format=raw,if=virtio"
	# The hardware watchdog an upgrade's trial boot arms: it resets the machine, which -no-reboot makes an exit.
	[ -z "$q_disk" ] || set -- "$@" -device i6300esb -action watchdog=reset
	QEMU_ARGS=$(for a in "$@"; do printf "'%s' " "$a"; done)
}
