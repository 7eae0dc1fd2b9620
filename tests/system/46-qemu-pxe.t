#!/bin/sh
# 46-qemu-pxe.t: PXE boot of tests/clusters/pxe.yaml (master p1, node p2, data_format_blank: true) from the tree
# mk-pxe.sh writes. First through QEMU's own DHCP and TFTP (user networking, restrict=on): each machine, by its MAC,
# gets its role and identity; the master, told to keep etcd on a disk (kiln.data=disk), waits 5 s for one and,
# diskless, does not start etcd; the node reaches ready on tmpfs. Then through dnsmasq with the tree's dnsmasq.conf,
# serving DHCP and TFTP on a bridge inside a network namespace this test creates and deletes: p1 with a blank disk
# makes its DATA partition and keeps etcd's data across a reboot into the tree again; p2 boots; an unknown MAC
# reaches the halt message and is served no identity; HTTP boot (lpxelinux) of the same tree. One VM at a time. (The
# node over QEMU's TFTP only under make test-long.)
. tests/system/lib/tap.sh
. tests/system/lib/vm.sh

plan 29
. scripts/pxe-net.sh
T=$VM_DIR/pxe
ns=kiln-pxe-$$
trap 'vm_cleanup; pxe_net_down "$ns"' EXIT
mkdir -p "$T/machines"

# The tree: the cluster rendered (its own PKI), each machine's identity archive, mk-pxe.sh.
render() {
	"$KILN_BUILD/tools/kiln" render "$TOP/tests/clusters/pxe.yaml" --out "$T/r" --pki "$T/pki" --rootfs "$TOP/rootfs" &&
		for m in p1 p2; do
			mkdir -p "$T/machines/$m" && sh scripts/mk-identity.sh "$T/r/machines/$m/identity" "$T/machines/$m/identity.cpio.gz" || return 1
		done &&
		sh scripts/mk-pxe.sh --out "$T/tree" --machines "$T/machines" "$T/r"
}
if out=$(render 2>&1); then ok "mk-pxe.sh writes the tree: $(echo "$out" | tail -n 1)"
else not_ok "mk-pxe.sh writes the tree"; diag "$out"; bail "no PXE tree"; fi
P=$T/tree

cfg=$P/pxelinux.cfg
if grep -qx '  INITRD kiln/master/initramfs.cpio.gz,kiln/machines/p1.cpio.gz' "$cfg/01-52-54-00-00-02-11" &&
	grep -qx '  INITRD kiln/node/initramfs.cpio.gz,kiln/machines/p2.cpio.gz' "$cfg/01-52-54-00-00-02-21" &&
	grep -q '^  APPEND .*kiln.data_format_blank kiln.data=disk kiln.data_wait=5$' "$cfg/01-52-54-00-00-02-11" &&
	grep -q '^  APPEND .*kiln.data_format_blank$' "$cfg/01-52-54-00-00-02-21" &&
	[ "$(ls "$cfg")" = "$(printf '01-52-54-00-00-02-11\n01-52-54-00-00-02-21\ndefault')" ] &&
	[ "$(cat "$cfg"/* | grep -cx '	*NOESCAPE 1')" = 3 ] && [ "$(cat "$cfg"/* | grep -cx '	*ALLOWOPTIONS 0')" = 3 ]; then
	ok "pxelinux.cfg: one entry per MAC (role initramfs + identity, kiln.data_format_blank; the master's kiln.data=disk) and a default, each with no prompt and no options from the console"
else not_ok "pxelinux.cfg entries"; diag "$(ls "$cfg"; cat "$cfg"/*)"; fi
if ! grep -q 'kiln/machines' "$cfg/default" && grep -q 'rdinit=/usr/libexec/kiln-unknown-machine' "$cfg/default"; then
	ok "the default entry names no identity, only the halting first stage"
else not_ok "the default entry"; diag "$(cat "$cfg/default")"; fi
if [ "$(stat -c %i "$P/kiln/master/vmlinuz")" = "$(stat -c %i "$P/kiln/node/vmlinuz")" ] &&
	[ -f "$P/pxelinux.0" ] && [ -f "$P/lpxelinux.0" ] && [ -f "$P/ldlinux.c32" ]; then
	ok "pxelinux.0, lpxelinux.0, ldlinux.c32; the shared kernel stored once"
else not_ok "boot files and the shared kernel"; diag "$(ls -liR "$P" | head -30)"; fi
out=$(grep -E '^(dhcp-host|dhcp-range|tftp-root|dhcp-boot)=' "$P/dnsmasq.conf")
if echo "$out" | grep -qx 'dhcp-host=52:54:00:00:02:11,192.168.0.31,p1' &&
	echo "$out" | grep -qx 'dhcp-host=52:54:00:00:02:21,192.168.0.41,p2' &&
	echo "$out" | grep -qx "tftp-root=$P" && echo "$out" | grep -qx 'dhcp-boot=pxelinux.0' &&
	dnsmasq --test --conf-file="$P/dnsmasq.conf" > /dev/null 2>&1; then
	ok "dnsmasq.conf: a static lease per MAC, TFTP root and boot file; dnsmasq --test accepts it"
else not_ok "dnsmasq.conf"; diag "$(cat "$P/dnsmasq.conf")"; fi

# Bad input: a missing identity archive stops it, naming the file, and the tree stays as it was.
before=$(cd "$P" && find . -type f | sort | xargs sha256sum | sha256sum)
mv "$T/machines/p2/identity.cpio.gz" "$T/p2.keep"
out=$(sh scripts/mk-pxe.sh --out "$P" --machines "$T/machines" "$T/r" 2>&1); rc=$?
mv "$T/p2.keep" "$T/machines/p2/identity.cpio.gz"
if [ $rc -ne 0 ] && echo "$out" | grep -q "error: $T/machines/p2/identity.cpio.gz: missing" &&
	[ "$(cd "$P" && find . -type f | sort | xargs sha256sum | sha256sum)" = "$before" ] && [ ! -e "$P.tmp" ]; then
	ok "a missing identity archive: exit $rc, named, the earlier tree intact"
else not_ok "a missing identity archive is an error that leaves the tree"; diag "rc=$rc" "$out"; fi

# These boots test PXE, not Kubernetes (60-cluster.t runs it): each machine leaves it out (kiln.disable), so a master
# is ready with etcd, and a node without masters does not wait for them.
sed -i 's/^  APPEND .*/& kiln.disable=kube-apiserver,apiproxy/' "$cfg/01-52-54-00-00-02-11" "$cfg/01-52-54-00-00-02-21"

# ---- QEMU's built-in DHCP and TFTP (user networking, restrict=on) ----
identity_check() { # NAME MACHINE ADDRESS WHERE
	out=$(vm_run "$1" "hostname; ip -4 -o addr show dev eth0; grep -o 'initrd=[^ ]*' /proc/cmdline" 20)
	case $out in "$2"*"inet $3/24"*"initrd=kiln/"*"kiln/machines/$2.cpio.gz"*)
		ok "$2 ($4): hostname $2, eth0 $3/24, its identity from kiln/machines/$2.cpio.gz" ;;
	*) not_ok "$2 ($4): hostname, address and identity"; diag "$out" ;; esac
}
vm_boot_ready u1 "master p1 over QEMU's TFTP (MAC 52:54:00:00:02:11)" 240 --mem 1024 --mac 52:54:00:00:02:11 \
	--user-net 192.168.0.0/24 --pxe "$P"
identity_check u1 p1 192.168.0.31 "QEMU TFTP"
if vm_log u1 | grep -q 'kiln: no data partition, /data is tmpfs: no disk has kiln-data after 5 s (kiln.data=disk)' &&
	vm_log u1 | grep -q 'kiln: etcd: not started: it keeps its data on DATA' && vm_log u1 | grep -q 'kiln: degraded: .*(failed: .*etcd'; then
	ok "p1 without a disk: waits 5 s for one, does not start etcd on the tmpfs, degraded: $(vm_log u1 | grep -o 'kiln: degraded:.*')"
else not_ok "p1 diskless: no etcd on tmpfs"; diag "$(vm_log u1 | grep 'kiln:' | tail)"; fi
vm_kill u1
# The node over QEMU's TFTP too under make test-long (make test boots it through dnsmasq below, and the master over
# both: the same tree, entry and files; a 95 MB initramfs over QEMU's TFTP costs make test about 100 s).
if [ -n "${KILN_LONG:-}" ]; then
	vm_boot_ready u2 "node p2 over QEMU's TFTP (MAC 52:54:00:00:02:21)" 240 --mem 1024 --mac 52:54:00:00:02:21 \
		--user-net 192.168.0.0/24 --pxe "$P"
	identity_check u2 p2 192.168.0.41 "QEMU TFTP"
	vm_kill u2
else
	skip "node p2 over QEMU's TFTP: under make test-long (KILN_LONG=1); make test boots it through dnsmasq"
	skip "p2's hostname, address and identity over QEMU's TFTP: under make test-long (KILN_LONG=1)"
fi

# ---- dnsmasq: DHCP and TFTP on a bridge inside a network namespace of this test ----
# The bridge takes the range's last address; taps for p1, p2 and an unknown machine. A short dynamic range, for
# this test only, lets the unknown machine reach its entry.
log=$T/dnsmasq.log
if pxe_net_up "$ns" "$P" "$log" 3 192.168.0.254/24 --dhcp-range=192.168.0.200,192.168.0.209,2m 2> "$T/net.err"; then
	ok "dnsmasq serves DHCP and TFTP on br0 in $ns: $(grep -o 'TFTP root is.*' "$log" | head -n 1)"
else not_ok "dnsmasq on a bridge in $ns"; diag "$(cat "$T/net.err" "$log")"; give_up "no PXE network"; fi
sent_to() { pxe_sent "$log" "$P" "$1"; }

truncate -s 512M "$T/p1-disk.img"
VM_NETNS=$ns vm_boot_ready d1 "master p1 through dnsmasq, with a blank disk" 240 --mem 1024 --mac 52:54:00:00:02:11 \
	--tap tap1 --pxe "$P" --data "$T/p1-disk.img"
if grep -q 'DHCPACK(br0) 192.168.0.31 52:54:00:00:02:11 p1' "$log" &&
	[ "$(sent_to 192.168.0.31 | grep -c '^kiln/')" = 3 ] && sent_to 192.168.0.31 | grep -qx kiln/machines/p1.cpio.gz; then
	ok "dnsmasq leased p1 its static address and sent it kernel, master initramfs and p1's identity: $(sent_to 192.168.0.31 | tr '\n' ' ')"
else not_ok "dnsmasq's lease and files for p1"; diag "$(tail -n 30 "$log")"; fi
identity_check d1 p1 192.168.0.31 "dnsmasq"
if vm_log d1 | grep -q 'kiln: data: /dev/vda is blank (512 MiB): making kiln-data on it' &&
	vm_log d1 | grep -q 'kiln: data: made kiln-data on /dev/vda1'; then
	ok "p1 made DATA on its blank disk: $(vm_log d1 | grep -o 'kiln: data: made.*')"
else not_ok "p1 made DATA on its blank disk"; diag "$(vm_log d1 | grep 'kiln:' | head)"; fi
out=$(vm_run d1 "grep ' /data ' /proc/mounts; etcdctl endpoint health && etcdctl put pxe-key kept-$$" 60)
if echo "$out" | grep -q '^/dev/vda1 /data ext4 rw' && echo "$out" | grep -q 'is healthy' && echo "$out" | grep -qx OK; then
	ok "/data is /dev/vda1 (ext4); etcd healthy, a key written"
else not_ok "/data on vda1, etcd writes"; diag "$out"; fi
vm_send d1 "initctl reboot"
if vm_wait_exit d1 60; then ok "initctl reboot ends QEMU (-no-reboot)"; else not_ok "initctl reboot ends QEMU"; diag "$(vm_log d1 | tail)"; fi

# Reimaging a diskless machine is a reboot into the tree: the same disk, PXE again.
VM_NETNS=$ns vm_boot_ready d2 "p1 again through dnsmasq, same disk" 240 --mem 1024 --mac 52:54:00:00:02:11 \
	--tap tap1 --pxe "$P" --data "$T/p1-disk.img"
if ! vm_log d2 | grep -q 'kiln: data: .*making' && ! vm_log d2 | grep -q 'no data partition' &&
	vm_log d2 | grep -q '^kiln-data: clean' && ! vm_log d2 | grep -q 'recovering journal'; then
	ok "the second boot finds kiln-data, unmounted cleanly by the reboot, and formats nothing"
else not_ok "the second boot mounts the existing DATA"; diag "$(vm_log d2 | grep 'kiln:' | head)"; fi
out=$(vm_run d2 "etcdctl get pxe-key --print-value-only" 40)
case $out in *"kept-$$"*) ok "etcd's key survived the reboot on DATA" ;; *) not_ok "etcd's key survived the reboot"; diag "$out" ;; esac
vm_kill d2

# A disk with anything on it is never formatted: one byte at 1 MiB + 1024 (where a first partition's ext4
# superblock would be) is enough.
truncate -s 512M "$T/used.img"
printf 'x' | dd of="$T/used.img" bs=1 seek=$((1048576 + 1024)) conv=notrunc 2>/dev/null
VM_NETNS=$ns vm_start d3 --mem 1024 --mac 52:54:00:00:02:11 --tap tap1 --pxe "$P" --data "$T/used.img"
if vm_wait d3 'kiln: no data partition' 120 && vm_log d3 | grep -q 'kiln: data: /dev/vda is not blank (it has data), left alone' &&
	vm_log d3 | grep -q 'kiln: no data partition, /data is tmpfs' && cmp -s -n 1048576 "$T/used.img" /dev/zero; then
	ok "a disk that is not blank is left alone: p1 runs on tmpfs and says so"
else not_ok "a disk that is not blank is left alone"; diag "$(vm_log d3 | grep 'kiln:' | head)"; fi
vm_kill d3

VM_NETNS=$ns vm_boot_ready d4 "node p2 through dnsmasq" 240 --mem 1024 --mac 52:54:00:00:02:21 --tap tap2 --pxe "$P"
identity_check d4 p2 192.168.0.41 "dnsmasq"
if sent_to 192.168.0.41 | grep -qx kiln/node/initramfs.cpio.gz && sent_to 192.168.0.41 | grep -qx kiln/machines/p2.cpio.gz; then
	ok "dnsmasq sent p2 the node initramfs and p2's identity"
else not_ok "dnsmasq's files for p2"; diag "$(tail -n 20 "$log")"; fi
vm_kill d4

# An unknown MAC: the dynamic range gives it an address, the default entry boots it into the halt message.
VM_NETNS=$ns vm_start x --mem 512 --mac 52:54:00:00:02:99 --tap tap3 --pxe "$P"
if vm_wait x 'kiln: unknown machine' 90 && vm_log x | grep -q 'kiln: unknown machine 52:54:00:00:02:99: not in the cluster file, halted' &&
	vm_wait x 'System halted' 30; then
	ok "the unknown MAC boots the default entry: $(vm_log x | grep -o 'kiln: unknown machine.*'), and the kernel halts: $(vm_log x | grep -o '[a-z]*: System halted' | head -n 1)"
else not_ok "the unknown MAC reaches the halt message and halts"; diag "$(vm_log x | tail -n 20)"; fi
xip=$(sed -n 's/.*DHCPACK(br0) \([0-9.]*\) 52:54:00:00:02:99.*/\1/p' "$log" | tail -n 1)
files=$(sent_to "${xip:-none}")
if [ -n "$xip" ] && echo "$files" | grep -qx kiln/boot.cpio.gz && echo "$files" | grep -qx pxelinux.cfg/default &&
	! echo "$files" | grep -q -e '^kiln/machines/' -e '^kiln/master/initramfs' -e '^kiln/node/initramfs'; then
	ok "no identity and no role image served to it ($xip): $(echo "$files" | tr '\n' ' ')"
else not_ok "nothing of the cluster served to the unknown MAC"; diag "ip=$xip" "$files"; fi
vm_kill x

# HTTP boot: the same tree written with --http, served by an HTTP server (kiln's busybox httpd) in the namespace;
# the firmware fetches lpxelinux.0 over TFTP, and lpxelinux everything else over HTTP.
pxe_net_down "$ns"
hurl=http://192.168.0.254:8080/
if out=$(sh scripts/mk-pxe.sh --out "$T/http" --machines "$T/machines" --http "$hurl" "$T/r" 2>&1) &&
	grep -qx 'dhcp-boot=lpxelinux.0' "$T/http/dnsmasq.conf" && grep -qx "dhcp-option-force=210,$hurl" "$T/http/dnsmasq.conf" &&
	sed -i 's/^  APPEND .*/& kiln.disable=kube-apiserver,apiproxy/' "$T/http/pxelinux.cfg/01-"* &&
	pxe_net_up "$ns" "$T/http" "$log" 1 192.168.0.254/24 2> "$T/net.err" &&
	pxe_http_up "$ns" "$T/http" 192.168.0.254:8080 "$T/httpd.log" 2>> "$T/net.err"; then
	# Under make test's load (two lanes on two cores, one of them building images) lpxelinux has stopped at "Boot failed:
	# press a key to retry" before the kernel started (twice in CI; not seen here with the cores busy). A key sent to the
	# serial console did not retry it (CI's machine printed nothing more in 150 s): the machine is powered on again
	# instead, up to three times in all, as whoever is at it would, and the result says how many it took.
	tries=0 booted=
	while [ $tries -lt 3 ] && [ -z "$booted" ]; do
		tries=$((tries + 1))
		[ $tries -eq 1 ] || { vm_kill h1; diag "HTTP boot try $((tries - 1)): $(vm_log h1 | grep -m1 'Boot failed')"; }
		VM_NETNS=$ns vm_start h1 --mem 1536 --mac 52:54:00:00:02:11 --tap tap1 --pxe "$T/http"
		vm_wait h1 'kiln: (ready|degraded):|Boot failed' 200 && vm_log h1 | grep -Eq 'kiln: (ready|degraded):' && booted=1
	done
	retried=
	[ $tries -eq 1 ] || retried=" (powered on $tries times: lpxelinux said 'Boot failed' before)"
	if [ -n "$booted" ]; then
		ok "master p1 by HTTP boot (lpxelinux, $hurl) boots in $(vm_elapsed h1) s$retried: $(vm_log h1 | grep -Eo 'kiln: (ready|degraded):.*' | head -n 1)"
	else
		not_ok "master p1 by HTTP boot (lpxelinux, $hurl) boots to ready$retried"; diag "$(vm_log h1 | tail -n 30)" "== httpd" "$(cat "$T/httpd.log")"
	fi
	got=$(sed -n 's/.*url:\(.*\)/\1/p' "$T/httpd.log")
	if [ "$(pxe_sent "$log" "$T/http" 192.168.0.31 | sort -u)" = lpxelinux.0 ] && echo "$got" | grep -qx /kiln/master/initramfs.cpio.gz &&
		echo "$got" | grep -qx /kiln/machines/p1.cpio.gz; then
		ok "TFTP sent lpxelinux.0 only; HTTP the rest: $(echo "$got" | tr '\n' ' ')"
	else not_ok "HTTP boot fetches the images over HTTP"; diag "$(pxe_sent "$log" "$T/http" 192.168.0.31)" "$(cat "$T/httpd.log")"; fi
	vm_kill h1
else
	not_ok "an HTTP boot tree and its server"; diag "$out" "$(cat "$T/net.err")"; not_ok "HTTP boot"
fi
done_testing
