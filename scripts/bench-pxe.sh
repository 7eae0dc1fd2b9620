#!/bin/sh
# bench-pxe.sh: PXE boot against direct kernel boot of the same images, in the same run (part of `make bench`):
# tests/clusters/pxe.yaml's master and node, each powered on on a tap of a private bridge in a network namespace of
# its own (scripts/pxe-net.sh), once with -kernel/-initrd (role initramfs + identity archive) and once by PXE from
# dnsmasq with the tree mk-pxe.sh writes, enrolling with scripts/serve.sh there (the approval automated: as soon as
# the request is in, by its fingerprint); wall time from QEMU's start to `kiln: ready`, and the enrollment's share. Bytes per machine: what
# dnsmasq's TFTP sent to its address, sizes from the tree.
. "$(dirname "$0")/lib.sh"
cd "$KILN_TOP"
TOP=$KILN_TOP
. "$KILN_TOP/tests/system/lib/tap.sh" >/dev/null
. "$KILN_TOP/tests/system/lib/vm.sh"
. "$KILN_TOP/scripts/pxe-net.sh"
b=$VM_DIR/bench
ns=kiln-bench-pxe-$$
trap 'vm_cleanup; pxe_net_down "$ns"' EXIT
now() { date +%s.%N; }
secs() { awk -v s="$1" -v e="$2" 'BEGIN { printf "%.1f", e - s }'; }
bench_pxe() {
	x=$b/pxe
	rm -rf "$x"; mkdir -p "$x/machines/p1" "$x/machines/p2" "$x/pki"
	# the images' image key: it signs an enrolled machine's secrets, and the images trust it alone
	cp -p "$SECRETS/image-signing.key" "$SECRETS/image-signing.pub" "$x/pki/"
	"$KILN_BUILD/tools/kiln" render "$KILN_TOP/tests/clusters/pxe.yaml" --out "$x/r" --pki "$x/pki" \
		--rootfs "$KILN_TOP/rootfs" > "$x/log" 2>&1 &&
		sh "$KILN_TOP/scripts/mk-identity.sh" "$x/r/machines/p1/identity" "$x/machines/p1/identity.cpio.gz" >> "$x/log" 2>&1 &&
		sh "$KILN_TOP/scripts/mk-identity.sh" "$x/r/machines/p2/identity" "$x/machines/p2/identity.cpio.gz" >> "$x/log" 2>&1 &&
		sh "$KILN_TOP/scripts/mk-pxe.sh" --enroll http://192.168.0.254:8081/ --out "$x/tree" "$x/r" >> "$x/log" 2>&1 ||
		{ echo "bench: cannot build the PXE tree: $(tail -n 1 "$x/log")" >&2; return; }
	# These boots measure PXE and enrollment, not Kubernetes (61-kube.t and bench-kube.sh do): kube-apiserver and apiproxy
	# left out, as in 46-qemu-pxe.t, so a lone master is ready with etcd and a node does not wait for masters.
	sed -i 's/^  APPEND .*/& kiln.disable=kube-apiserver,apiproxy/' "$x/tree/pxelinux.cfg/01-"*
	pxe_net_up "$ns" "$x/tree" "$x/dnsmasq.log" 2 192.168.0.254/24 || { pxe_net_down "$ns"; return; }
	mkdir -p "$x/noimages"
	ip netns exec "$ns" sh "$KILN_TOP/scripts/serve.sh" --addr 192.168.0.254:8081 --dir "$x/noimages" --enroll-dir "$x/enroll" \
		--pki "$x/pki" > "$x/serve.log" 2>&1 &
	srv=$!
	. "$x/r/cluster.env"
	i=0
	for m in p1 p2; do
		i=$((i + 1))
		role=$(machine_field "$m" ROLE) mac=$(machine_field "$m" MAC) addr=$(machine_field "$m" ADDRESS)
		cat "$KILN_OUT/$role/initramfs.cpio.gz" "$x/machines/$m/identity.cpio.gz" > "$x/$m.initrd"
		# The master keeps etcd on a disk (kiln.data=disk in its entry): each boot gets a blank one to make DATA on,
		# and the direct boot the same command line.
		disk= append=$(sed -n 's/^  APPEND .*quiet //p' "$x/tree/pxelinux.cfg/01-$(echo "$mac" | tr : -)")
		if [ "$role" = master ]; then
			disk="--data $x/$m-disk.img"
			rm -f "$x/$m-disk.img"; truncate -s 512M "$x/$m-disk.img"
		fi
		s=$(now)
		VM_NETNS=$ns vm_start "direct-$m" --mem 1536 --mac "$mac" --tap "tap$i" $disk --append "$append" "$KILN_OUT/$role/vmlinuz" "$x/$m.initrd"
		vm_wait "direct-$m" 'kiln: ready:' 180 && direct=$(secs "$s" "$(now)") || direct=
		vm_kill "direct-$m" || :
		[ -z "$disk" ] || { rm -f "$x/$m-disk.img"; truncate -s 512M "$x/$m-disk.img"; }
		s=$(now)
		VM_NETNS=$ns vm_start "pxe-$m" --mem 1536 --mac "$mac" --tap "tap$i" $disk --pxe "$x/tree"
		# The operator, automated: approves the request as soon as it is in, by its fingerprint.
		(for _ in $(seq 1500); do
			r=$(grep -l "^name $m\$" "$x/enroll/requests/"*.req 2>/dev/null | head -n 1)
			[ -n "$r" ] && exec sh "$KILN_TOP/scripts/enroll.sh" --cluster "$KILN_TOP/tests/clusters/pxe.yaml" --rendered "$x/r" \
				--pki "$x/pki" --dir "$x/enroll" approve "$m" --fingerprint "$(basename "$r" | cut -c1-32)" >> "$x/log" 2>&1
			sleep 0.2
		done) &
		vm_wait "pxe-$m" 'kiln: ready:' 240 && pxe=$(secs "$s" "$(now)") ||
			{ pxe=; echo "bench: PXE $m: no ready in 240 s: $(vm_log "pxe-$m" | grep 'kiln' | tail -n 3 | tr '\n' ' ') $(tail -n 2 "$x/log" | tr '\n' ' ')"; }
		enrolled=$(vm_log "pxe-$m" | sed -n 's/.*kiln: enroll: [a-z0-9-]*: approved after \([0-9]*\) s.*/\1/p')
		vm_kill "pxe-$m" || :
		bytes=0 shared=0 own=0
		for f in $(pxe_sent "$x/dnsmasq.log" "$x/tree" "$addr"); do
			n=$(stat -c %s "$x/tree/$f")
			bytes=$((bytes + n))
			case $f in kiln/machines/*) own=$n ;; kiln/*) shared=$((shared + n)) ;; esac
		done
		# As PXE was before enrollment: the machine's whole identity, keys included, in the tree (this private copy only).
		cp "$x/tree/kiln/machines/$m.cpio.gz" "$x/$m.public"
		rm -f "$x/tree/kiln/machines/$m.cpio.gz"; cp "$x/machines/$m/identity.cpio.gz" "$x/tree/kiln/machines/$m.cpio.gz"
		chmod 644 "$x/tree/kiln/machines/$m.cpio.gz"
		[ -z "$disk" ] || { rm -f "$x/$m-disk.img"; truncate -s 512M "$x/$m-disk.img"; }
		s=$(now)
		VM_NETNS=$ns vm_start "keys-$m" --mem 1536 --mac "$mac" --tap "tap$i" $disk --pxe "$x/tree"
		vm_wait "keys-$m" 'kiln: ready:' 180 && before=$(secs "$s" "$(now)") || before=
		vm_kill "keys-$m" || :
		rm -f "$x/tree/kiln/machines/$m.cpio.gz"; mv "$x/$m.public" "$x/tree/kiln/machines/$m.cpio.gz"
		ratio() { awk -v a="${1:-0}" -v b="${2:-0}" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
		echo "bench: PXE $m ($role): power-on to ready ${pxe:-(failed)}s by PXE with enrollment (dnsmasq TFTP), ${before:-(failed)}s" \
			"by PXE with its keys in the tree (before enrollment), ${direct:-(failed)}s by direct kernel boot: enrollment" \
			"$(ratio "$pxe" "$before") of before (${enrolled:-?} s from its request to its approved answer), PXE $(ratio "$pxe" "$direct") of direct"
		echo "bench: PXE $m ($role): $((bytes / 1024)) KiB sent over TFTP: role kernel and initramfs $((shared / 1024)) KiB" \
			"(shared by every $role), identity $own bytes, pxelinux and its files $(((bytes - shared - own) / 1024)) KiB"
	done
	kill "$srv" 2>/dev/null; wait "$srv" 2>/dev/null || :
	pxe_net_down "$ns"
}
bench_pxe
