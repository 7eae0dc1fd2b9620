#!/bin/sh
# mk-pxe.sh RENDERED: the PXE boot tree out/pxe/ for every machine of the cluster: pxelinux, each role's
# kernel and initramfs once, each machine's identity archive, pxelinux.cfg/01-<mac> per machine, a default
# entry that names an unknown machine and halts, and a dnsmasq configuration for a real network.
. "$(dirname "$0")/lib.sh"

rendered=${1:?usage: mk-pxe.sh RENDERED}
. "$rendered/cluster.env"
final=$KILN_OUT/pxe
t=$final.tmp
rm -rf "$t"; mkdir -p "$t/pxelinux.cfg" "$t/kiln/machines"
cp /usr/lib/PXELINUX/pxelinux.0 /usr/lib/PXELINUX/lpxelinux.0 /usr/lib/syslinux/modules/bios/ldlinux.c32 "$t/"
for role in master node; do
	mkdir -p "$t/kiln/$role"
	cp "$KILN_OUT/$role/vmlinuz" "$KILN_OUT/$role/initramfs.cpio.gz" "$t/kiln/$role/"
done
cp "$KILN_BUILD/boot.cpio.gz" "$t/kiln/boot.cpio.gz"

# Unknown MACs boot the small first stage with a script as PID 1 that names the machine and halts;
# IPAPPEND 2 hands it BOOTIF=01-<mac>. It carries no identity at all.
cat > "$t/pxelinux.cfg/default" <<-EOF
	# kiln: a machine whose MAC is not in the cluster file
	DEFAULT unknown
	PROMPT 0
	LABEL unknown
	  KERNEL kiln/node/vmlinuz
	  INITRD kiln/boot.cpio.gz
	  APPEND console=tty0 console=ttyS0,115200 quiet rdinit=/usr/libexec/kiln-unknown-machine
	  IPAPPEND 2
EOF

dhcp_hosts=
for m in $MASTERS $NODES; do
	v=$(echo "$m" | tr - _)
	eval "role=\$MACHINE_${v}_ROLE mac=\$MACHINE_${v}_MAC addr=\$MACHINE_${v}_ADDRESS"
	cp "$KILN_OUT/machines/$m/identity.cpio.gz" "$t/kiln/machines/$m.cpio.gz"
	f=01-$(echo "$mac" | tr 'A-F:' 'a-f-')
	cat > "$t/pxelinux.cfg/$f" <<-EOF
		# kiln: $m ($role, $addr)
		DEFAULT kiln
		PROMPT 0
		LABEL kiln
		  KERNEL kiln/$role/vmlinuz
		  INITRD kiln/$role/initramfs.cpio.gz,kiln/machines/$m.cpio.gz
		  APPEND console=tty0 console=ttyS0,115200 quiet
	EOF
	dhcp_hosts="${dhcp_hosts}dhcp-host=$mac,${addr%/*},$m
"
done

cat > "$t/dnsmasq.conf" <<-EOF
	# kiln: DHCP with a static lease per machine of the cluster file, and TFTP of this tree.
	# Run: dnsmasq --conf-file=THIS --interface=<the cluster network's interface> --tftp-root=<this folder>
	port=0
	bind-interfaces
	dhcp-range=${INFRA_CIDR%/*},static
	dhcp-authoritative
	${dhcp_hosts}
	enable-tftp
	dhcp-boot=pxelinux.0
	# HTTP boot instead: serve this folder over HTTP and use lpxelinux.0 with absolute URLs in pxelinux.cfg.
EOF
find "$t" -exec touch -h -d "@$(source_date_epoch)" {} +
rm -rf "$final"; mv "$t" "$final"
say "out/pxe: $(ls "$final/pxelinux.cfg" | wc -l) boot entries, $(du -sk "$final" | cut -f1) KiB"
