#!/bin/sh
# mk-pxe.sh --enroll URL [--out DIR] [--http URL] [--interface IF] RENDERED: the PXE boot tree (default out/pxe/)
# for every machine of a rendered cluster: pxelinux.0 and lpxelinux.0 (HTTP), ldlinux.c32, each role's kernel and
# initramfs once, each machine's public identity archive, pxelinux.cfg/01-<mac> per machine, a default entry that
# names an unknown machine and halts, and dnsmasq.conf: static DHCP leases by MAC, TFTP of this tree, the boot file;
# with --http URL (where this tree is served over HTTP) the boot file is lpxelinux.0 and everything after it comes
# over HTTP.
# The tree is served to whoever asks, so it holds no private key and no secret: a machine's archive is its rendered
# identity without them, plus enroll/conf: the machine makes its own keys and enrolls at --enroll URL (where
# scripts/serve.sh runs on the build host; scripts/enroll.sh approves), which sends it certificates issued for its keys
# and its role's shared secrets encrypted to it. The tree is checked for any private key before it is put in place.
# Every input is checked before anything is written; the tree is built aside and renamed into place.
. "$(dirname "$0")/lib.sh"

final=$KILN_OUT/pxe http= iface= enroll=
usage="usage: mk-pxe.sh --enroll URL [--out DIR] [--http URL] [--interface IF] RENDERED"
while [ $# -gt 1 ]; do
	case $1 in
	--out) final=$2; shift 2 ;;
	--enroll) enroll=$2; shift 2 ;;
	--http) http=$2; shift 2 ;;
	--interface) iface=$2; shift 2 ;;
	*) die "unknown option '$1' ($usage)" ;;
	esac
done
rendered=${1:?$usage}
[ -f "$rendered/cluster.env" ] || die "$rendered/cluster.env: no rendered cluster (run 'make' first)"
. "$rendered/cluster.env"
case $http in
'') ;;
http://*/) ;;
*) die "--http '$http': expected the tree's URL, http://HOST[:PORT]/PATH/ (with the final /; lpxelinux has no https)" ;;
esac
case $enroll in
'') die "--enroll URL missing: PXE machines make their own keys and enroll with the build host at that URL, where scripts/serve.sh runs (make pxe PXE_ENROLL=http://HOST:8080/)" ;;
http://*/) ;;
*) die "--enroll '$enroll': expected http://HOST[:PORT]/ (with the final /), where scripts/serve.sh runs" ;;
esac
case $enroll in *[!A-Za-z0-9./:_-]*) die "--enroll '$enroll': characters a URL of the build host does not have" ;; esac
case $iface in *[!A-Za-z0-9._-]*) die "--interface '$iface': not an interface name" ;; esac

pxelinux=/usr/lib/PXELINUX/pxelinux.0 lpxelinux=/usr/lib/PXELINUX/lpxelinux.0
ldlinux=/usr/lib/syslinux/modules/bios/ldlinux.c32 boot=$KILN_BUILD/boot.cpio.gz
need() { [ -f "$1" ] || die "$1: missing ($2)"; }
for f in "$pxelinux" "$lpxelinux" "$ldlinux"; do need "$f" "packages pxelinux and syslinux-common: run 'make deps'"; done
need "$boot" "the first-stage initramfs the unknown-machine entry boots: run 'make pxe'"

roles=
for m in $MASTERS $NODES; do
	role=$(machine_field "$m" ROLE) mac=$(machine_field "$m" MAC)
	echo "$mac" | grep -Eqx '([0-9a-f]{2}:){5}[0-9a-f]{2}' || die "machine $m: MAC '$mac' is not six lowercase hex pairs"
	[ -f "$rendered/machines/$m/identity/MANIFEST" ] && [ -f "$rendered/machines/$m/identity/own-keys" ] ||
		die "$rendered/machines/$m/identity: machine $m's rendered identity (with own-keys): run 'make' (kiln render)"
	case " $roles " in *" $role "*) ;; *) roles="$roles $role" ;; esac
done
for role in $roles; do
	need "$KILN_OUT/$role/vmlinuz" "the $role kernel: run 'make $role'"
	need "$KILN_OUT/$role/initramfs.cpio.gz" "the $role initramfs: run 'make $role'"
done
[ -n "$roles" ] || die "$rendered: the cluster has no machines"

t=$final.tmp
trap 'rm -rf "$t" "$t.id"' EXIT

# public_identity NAME ROLE MAC OUT: NAME's rendered identity without its keys (*.key) and the encryption
# configuration, with enroll/conf and the full MANIFEST the machine applies once enrolled (enroll/MANIFEST; the
# archive's own MANIFEST lists what it holds). Dies if anything left looks like a private key or the secret.
public_identity() {
	pi=$t.id/$1
	rm -rf "$pi"; mkdir -p "$t.id"
	cp -a "$rendered/machines/$1/identity" "$pi"
	find "$pi" -name '*.key' -exec rm -f {} +
	rm -f "$pi/pki/encryption-config.yaml"
	mkdir -p "$pi/enroll"
	mv "$pi/MANIFEST" "$pi/enroll/MANIFEST"
	{ head -n 1 "$pi/enroll/MANIFEST"; grep -v '^#' "$pi/enroll/MANIFEST" | while read -r path rest; do
		[ ! -f "$pi/$path" ] || echo "$path $rest"; done
		echo "enroll/MANIFEST 0644 root 0:0"; echo "enroll/conf 0644 root 0:0"; } > "$pi/MANIFEST"
	printf 'url=%s\nname=%s\nrole=%s\nmac=%s\ncluster=%s\n' "$enroll" "$1" "$2" "$3" "$CLUSTER_NAME" > "$pi/enroll/conf"
	if grep -rlqE -e '-----BEGIN ([A-Z]+ )?PRIVATE KEY-----' -e 'client-key-data:' -e 'secret: ' "$pi"; then
		die "$1: its public identity still holds a key or secret: $(grep -rlE -e 'PRIVATE KEY' -e 'client-key-data:' -e 'secret: ' "$pi" | head -n 3 | tr '\n' ' ')"
	fi
	"$KILN_TOP/scripts/mk-identity.sh" "$pi" "$4" || die "$1: cannot write its identity archive"
	chmod 0644 "$4"
}
rm -rf "$t"; mkdir -p "$t/pxelinux.cfg" "$t/kiln/machines"
cp "$pxelinux" "$lpxelinux" "$ldlinux" "$t/"
first_kernel=
for role in $roles; do
	mkdir -p "$t/kiln/$role"
	cp "$KILN_OUT/$role/initramfs.cpio.gz" "$t/kiln/$role/"
	# The roles share the Debian kernel: one file on disk, a name per role.
	if [ -n "$first_kernel" ] && cmp -s "$first_kernel" "$KILN_OUT/$role/vmlinuz"; then
		ln "$first_kernel" "$t/kiln/$role/vmlinuz"
	else
		cp "$KILN_OUT/$role/vmlinuz" "$t/kiln/$role/vmlinuz"
		first_kernel=$t/kiln/$role/vmlinuz
	fi
done
cp "$boot" "$t/kiln/boot.cpio.gz"
set -- $roles
unknown_kernel=kiln/$1/vmlinuz

# pxelinux speaks on the first serial port too, so a machine with a serial console (and QEMU) shows what it loads.
# No prompt, no key brings one up (NOESCAPE) and no option typed at the console is taken (ALLOWOPTIONS 0): the
# kernel command line is the one written here.
# Unknown MACs boot the small first stage with a script as PID 1 that names the machine and halts; IPAPPEND 2
# hands it BOOTIF=01-<mac>. It carries no identity at all.
cat > "$t/pxelinux.cfg/default" <<-EOF
	# kiln: a machine whose MAC is not in the cluster file
	SERIAL 0 115200
	DEFAULT unknown
	PROMPT 0
	NOESCAPE 1
	ALLOWOPTIONS 0
	LABEL unknown
	  KERNEL $unknown_kernel
	  INITRD kiln/boot.cpio.gz
	  APPEND console=tty0 console=ttyS0,115200 quiet rdinit=/usr/libexec/kiln-unknown-machine
	  IPAPPEND 2
EOF

append="console=tty0 console=ttyS0,115200 quiet"
[ "${IMAGE_DATA_FORMAT_BLANK:-no}" = yes ] && append="$append kiln.data_format_blank"
# A master keeps etcd on a disk: it waits for its DATA and never runs etcd from RAM (unless image.diskless_masters).
master_append=$append
[ "${IMAGE_DISKLESS_MASTERS:-no}" = yes ] || master_append="$append kiln.data=disk kiln.data_wait=${IMAGE_DATA_WAIT:-60}"
dhcp_hosts= n=0
for m in $MASTERS $NODES; do
	n=$((n + 1))
	role=$(machine_field "$m" ROLE) mac=$(machine_field "$m" MAC) addr=$(machine_field "$m" ADDRESS)
	# Readable by all: dnsmasq's TFTP serves the tree to anyone on the network that asks. So the archive is the
	# identity without a private key or a secret (make audit checks every file of the tree).
	public_identity "$m" "$role" "$mac" "$t/kiln/machines/$m.cpio.gz"
	cat > "$t/pxelinux.cfg/01-$(echo "$mac" | tr : -)" <<-EOF
		# kiln: $m ($role, $addr)
		SERIAL 0 115200
		DEFAULT kiln
		PROMPT 0
		NOESCAPE 1
		ALLOWOPTIONS 0
		LABEL kiln
		  KERNEL kiln/$role/vmlinuz
		  INITRD kiln/$role/initramfs.cpio.gz,kiln/machines/$m.cpio.gz
		  APPEND $([ "$role" = master ] && echo "$master_append" || echo "$append")
	EOF
	dhcp_hosts="${dhcp_hosts}dhcp-host=$mac,$addr,$m
"
done

# The infrastructure range as dnsmasq wants it: network address and netmask.
prefix=${INFRA_CIDR#*/}
mask=$(( (0xffffffff << (32 - prefix)) & 0xffffffff ))
netmask="$((mask >> 24 & 255)).$((mask >> 16 & 255)).$((mask >> 8 & 255)).$((mask & 255))"
if [ -n "$INFRA_GATEWAY" ]; then router="dhcp-option=option:router,$INFRA_GATEWAY"
else router="dhcp-option=option:router"; fi
if [ -n "$iface" ]; then iface_line="interface=$iface"
else iface_line="# interface=eth1                 # the cluster network's interface (or --interface=...)"; fi
if [ -n "$http" ]; then
	boot_lines="dhcp-boot=lpxelinux.0
dhcp-option-force=210,$http"
else
	boot_lines="dhcp-boot=pxelinux.0
# HTTP boot (faster for big images): serve this folder at some URL with any HTTP server, then instead:
# dhcp-boot=lpxelinux.0
# dhcp-option-force=210,http://SERVER:PORT/PATH/  (the folder's URL; or make pxe PXE_HTTP=URL)"
fi
cat > "$t/dnsmasq.conf" <<-EOF
	# kiln: cluster $CLUSTER_NAME: DHCP with a static lease per machine of the cluster file, and TFTP of this tree.
	# Run: dnsmasq --conf-file=THIS [--interface=IF]. Machines keep their identity's static address once booted;
	# DHCP only serves the firmware and pxelinux. Unknown MACs get no address unless a dynamic range is added:
	# dhcp-range=<first>,<last>,2m  (free addresses) lets them boot the entry that names them and halts.
	port=0
	$iface_line
	bind-interfaces
	dhcp-range=${INFRA_CIDR%/*},static,$netmask
	dhcp-authoritative
	$router
	${dhcp_hosts}
	enable-tftp
	tftp-root=$(cd "$(dirname "$final")" && pwd)/$(basename "$final")
	$boot_lines
EOF
sde=$(source_date_epoch)
find "$t" -exec touch -h -d "@$sde" {} +
rm -rf "$final"; mv "$t" "$final"
trap - EXIT
say "${final#"$KILN_TOP"/}: $n machines ($(echo $roles | tr ' ' ,)) and a default entry, $(du -sk "$final" | cut -f1) KiB"
