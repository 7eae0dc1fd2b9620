#!/bin/sh
# 46-qemu-pxe.t: PXE boot of tests/clusters/pxe.yaml (master p1, node p2, data_format_blank: true) from the tree
# mk-pxe.sh writes, which holds no private key (make audit's check of it): each machine makes its own keys and enrolls
# with the build host (scripts/serve.sh, scripts/enroll.sh). First through QEMU's own DHCP and TFTP (user networking,
# restrict=on): the master, by its MAC, gets its role and public identity, waits 5 s for a disk (kiln.data=disk),
# makes its keys in RAM and asks to enroll, reaching no build host. Then through dnsmasq with the tree's dnsmasq.conf,
# serving DHCP and TFTP on a bridge inside a network namespace this test creates and deletes, and the enrollment
# server there: p1 with a blank disk makes its DATA partition and its keys on it, gets nothing while its request waits,
# is approved by its console's fingerprint, reaches ready with certificates issued for its own keys (etcd answers
# with them), and keeps etcd's data and its enrollment across a reboot; p2 enrolls and reboots on its DATA without
# asking again; p2's MAC with another disk (new keys) is refused, the operator told; an unknown MAC reaches the
# halt message and is served no identity; HTTP boot (lpxelinux) of the same tree. One VM at a time. (The node over
# QEMU's TFTP only under make test-long.)
. tests/system/lib/tap.sh
. tests/system/lib/vm.sh

plan 35
. scripts/pxe-net.sh
T=$VM_DIR/pxe
ns=kiln-pxe-$$
srv=
stop_server() { [ -z "$srv" ] || { kill "$srv" 2>/dev/null; wait "$srv" 2>/dev/null; }; srv=; }
trap 'vm_cleanup; stop_server; pxe_net_down "$ns"' EXIT
mkdir -p "$T"
EURL=http://192.168.0.254:8081/

# The tree: the cluster rendered (its own PKI, but the image key of the images it boots: one cluster, one image key,
# which signs an enrolled machine's secrets), mk-pxe.sh.
render() {
	mkdir -p -m 0700 "$T/pki" && cp -p "${SECRETS:-$TOP/secrets/cluster}"/image-signing.key "${SECRETS:-$TOP/secrets/cluster}"/image-signing.pub "$T/pki/" &&
	"$KILN_BUILD/tools/kiln" render "$TOP/tests/clusters/pxe.yaml" --out "$T/r" --pki "$T/pki" --rootfs "$TOP/rootfs" &&
		sh scripts/mk-pxe.sh --enroll "$EURL" --out "$T/tree" "$T/r"
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

# Bad input: a missing rendered identity, or no enrollment URL, stops it, naming the problem, and the tree stays.
before=$(cd "$P" && find . -type f | sort | xargs sha256sum | sha256sum)
mv "$T/r/machines/p2/identity/own-keys" "$T/p2.keep"
out=$(sh scripts/mk-pxe.sh --enroll "$EURL" --out "$P" "$T/r" 2>&1); rc=$?
mv "$T/p2.keep" "$T/r/machines/p2/identity/own-keys"
out2=$(sh scripts/mk-pxe.sh --out "$P" "$T/r" 2>&1); rc2=$?
if [ $rc -ne 0 ] && echo "$out" | grep -q "error: $T/r/machines/p2/identity: machine p2's rendered identity" &&
	[ $rc2 -ne 0 ] && echo "$out2" | grep -q 'error: --enroll URL missing' &&
	[ "$(cd "$P" && find . -type f | sort | xargs sha256sum | sha256sum)" = "$before" ] && [ ! -e "$P.tmp" ]; then
	ok "a missing rendered identity: exit $rc, named; no --enroll: exit $rc2, named; the earlier tree intact"
else not_ok "a missing identity or enrollment URL is an error that leaves the tree"; diag "rc=$rc" "$out" "rc=$rc2" "$out2"; fi

# Nothing in the tree a machine could use as its key: make audit's check of out/pxe on this tree (every file, every
# archive unpacked), and the public archives' contents by hand: no .key, no encryption configuration.
mkdir -p "$T/audit-out"; cp -al "$P" "$T/audit-out/pxe" # hard links: the tree as it is
out=$(sh scripts/audit.sh "$T/pki" "$T/audit-out" 2>&1); rc=$?
mkdir -p "$T/pub"; (cd "$T/pub" && zcat "$P/kiln/machines/p1.cpio.gz" | cpio -idm --quiet 2>/dev/null)
if [ $rc -eq 0 ] && [ "$(echo "$out" | grep -c 'kiln/machines/p[12].cpio.gz .*(no private key) .*ok$')" = 2 ] &&
	[ -z "$(find "$T/pub" -name '*.key' -o -name encryption-config.yaml)" ] && [ -f "$T/pub/etc/kiln/identity/pki/ca.crt" ] &&
	grep -qx "url=$EURL" "$T/pub/etc/kiln/identity/enroll/conf" && grep -qx 'etcd etcd/member' "$T/pub/etc/kiln/identity/own-keys"; then
	ok "audit of the PXE tree: no private key in any file or archive; p1's archive: certificates of the CAs, enroll/conf, own-keys, no key"
else not_ok "the PXE tree holds no private key"; diag "rc=$rc" "$(echo "$out" | grep -v ' ok$' | tail -n 15)" "$(find "$T/pub" | head -40)"; fi
# One planted key (a copy of p2's kubelet key in its archive's folder) fails the audit, named.
cp "$T/pki/machines/p2/kubelet.key" "$T/audit-out/pxe/kiln/machines/stray.key"
out=$(sh scripts/audit.sh "$T/pki" "$T/audit-out" 2>&1); rc=$?
if [ $rc -ne 0 ] && echo "$out" | grep -q 'kiln/machines/stray.key .*machines/p2/kubelet .*FAIL: a private key in the served PXE tree'; then
	ok "a key left in the PXE tree fails the audit: exit $rc, named"
else not_ok "a key in the PXE tree fails the audit"; diag "rc=$rc" "$(echo "$out" | grep -v ' ok$' | tail -n 10)"; fi

# These boots test PXE, not Kubernetes (60-cluster.t runs it): each machine leaves it out (kiln.disable), so a master
# is ready with etcd, and a node without masters does not wait for them.
sed -i 's/^  APPEND .*/& kiln.disable=kube-apiserver,apiproxy/' "$cfg/01-52-54-00-00-02-11" "$cfg/01-52-54-00-00-02-21"

# ---- QEMU's built-in DHCP and TFTP (user networking, restrict=on) ----
# No build host to enroll with there: p1 gets its public identity by its MAC, waits for a disk, makes its keys in RAM
# and asks, and keeps asking.
identity_check() { # NAME MACHINE ADDRESS WHERE
	out=$(vm_run "$1" "hostname; ip -4 -o addr show dev eth0; grep -o 'initrd=[^ ]*' /proc/cmdline" 20)
	case $out in "$2"*"inet $3/24"*"initrd=kiln/"*"kiln/machines/$2.cpio.gz"*)
		ok "$2 ($4): hostname $2, eth0 $3/24, its identity from kiln/machines/$2.cpio.gz" ;;
	*) not_ok "$2 ($4): hostname, address and identity"; diag "$out" ;; esac
}
# fingerprint NAME: the key fingerprint NAME's console showed last (its request's), without spaces.
fingerprint() { vm_log "$1" | sed -n 's/.*kiln: enroll: [a-z0-9-]*: key fingerprint \([0-9a-f ]*\)$/\1/p' | tail -n 1 | tr -d ' '; }
vm_start u1 --mem 1024 --mac 52:54:00:00:02:11 --user-net 192.168.0.0/24 --pxe "$P"
if vm_wait u1 "kiln: enroll: p1: build host: no answer from ${EURL}cgi-bin/enroll" 240 &&
	vm_log u1 | grep -q 'kiln: no data partition, /data is tmpfs: no disk has kiln-data after 5 s (kiln.data=disk)' &&
	vm_log u1 | grep -q "kiln: enroll: p1 (master, 52:54:00:00:02:11) asks to enroll at $EURL, its keys in RAM" &&
	fp_u1=$(fingerprint u1) && [ ${#fp_u1} -eq 32 ]; then
	ok "p1 over QEMU's TFTP in $(vm_elapsed u1) s: waits 5 s for a disk, makes its keys in RAM, asks to enroll (fingerprint $fp_u1), no build host answers"
else not_ok "p1 over QEMU's TFTP asks to enroll"; diag "$(vm_log u1 | grep 'kiln' | tail -n 15)"; fi
vm_kill u1
# The node over QEMU's TFTP too under make test-long (make test boots it through dnsmasq below, and the master over
# both: the same tree, entry and files; a 95 MB initramfs over QEMU's TFTP costs make test about 100 s).
if [ -n "${KILN_LONG:-}" ]; then
	vm_start u2 --mem 1024 --mac 52:54:00:00:02:21 --user-net 192.168.0.0/24 --pxe "$P"
	if vm_wait u2 "kiln: enroll: p2: build host: no answer" 240 &&
		vm_log u2 | grep -q "kiln: enroll: p2 (node, 52:54:00:00:02:21) asks to enroll"; then
		ok "p2 over QEMU's TFTP in $(vm_elapsed u2) s asks to enroll"
	else not_ok "p2 over QEMU's TFTP asks to enroll"; diag "$(vm_log u2 | grep 'kiln' | tail -n 15)"; fi
	vm_kill u2
else
	skip "node p2 over QEMU's TFTP: under make test-long (KILN_LONG=1); make test boots it through dnsmasq"
fi

# ---- dnsmasq: DHCP and TFTP on a bridge inside a network namespace of this test, and the enrollment server ----
# The bridge takes the range's last address; taps for p1, p2 and an unknown machine. A short dynamic range, for
# this test only, lets the unknown machine reach its entry.
log=$T/dnsmasq.log
E=$T/enroll
enroll() { sh scripts/enroll.sh --cluster "$TOP/tests/clusters/pxe.yaml" --rendered "$T/r" --pki "$T/pki" --dir "$E" "$@"; }
start_server() { # the build host's enrollment server (scripts/serve.sh: no upgrade image here) in the namespace
	mkdir -p "$T/noimages"
	ip netns exec "$ns" sh scripts/serve.sh --addr 192.168.0.254:8081 --dir "$T/noimages" --enroll-dir "$E" --pki "$T/pki" \
		> "$T/serve.log" 2>&1 &
	srv=$!
	i=0
	until grep -q 'enrollment: POST' "$T/serve.log" && ip netns exec "$ns" wget --no-proxy -q -O /dev/null "${EURL}cgi-bin/enroll" 2>/dev/null; do
		[ $i -lt 50 ] && kill -0 "$srv" 2>/dev/null || return 1
		sleep 0.1; i=$((i + 1))
	done
}
# answer_get NAME FP FILE: what the enrollment server serves anyone for that file (from inside the namespace).
answer_get() { ip netns exec "$ns" wget --no-proxy -q -O - "${EURL}enroll/answers/$1-$2/$3" 2>/dev/null; }
if pxe_net_up "$ns" "$P" "$log" 3 192.168.0.254/24 --dhcp-range=192.168.0.200,192.168.0.209,2m 2> "$T/net.err" &&
	start_server 2>> "$T/net.err"; then
	ok "dnsmasq serves DHCP and TFTP on br0 in $ns: $(grep -o 'TFTP root is.*' "$log" | head -n 1); serve.sh enrollment on 192.168.0.254:8081"
else not_ok "dnsmasq and the enrollment server on a bridge in $ns"; diag "$(cat "$T/net.err" "$log" "$T/serve.log")"; give_up "no PXE network"; fi
sent_to() { pxe_sent "$log" "$P" "$1"; }

truncate -s 512M "$T/p1-disk.img"
VM_NETNS=$ns vm_start d1 --mem 1024 --mac 52:54:00:00:02:11 --tap tap1 --pxe "$P" --data "$T/p1-disk.img"
if vm_wait d1 'kiln: enroll: p1: build host: waiting: p1 is not approved yet' 240 && fp=$(fingerprint d1) && [ ${#fp} -eq 32 ] &&
	vm_log d1 | grep -q 'kiln: enroll: p1 (master, 52:54:00:00:02:11) asks to enroll at .*, its keys on DATA (/data/enroll)'; then
	ok "p1 through dnsmasq with a blank disk asks to enroll in $(vm_elapsed d1) s, its keys on DATA: fingerprint $fp"
else not_ok "p1 through dnsmasq asks to enroll"; diag "$(vm_log d1 | grep kiln | tail -n 20)" "$(cat "$T/serve.log")"; give_up "no enrollment"; fi
if grep -q 'DHCPACK(br0) 192.168.0.31 52:54:00:00:02:11 p1' "$log" &&
	[ "$(sent_to 192.168.0.31 | grep -c '^kiln/')" = 3 ] && sent_to 192.168.0.31 | grep -qx kiln/machines/p1.cpio.gz; then
	ok "dnsmasq leased p1 its static address and sent it kernel, master initramfs and p1's public identity: $(sent_to 192.168.0.31 | tr '\n' ' ')"
else not_ok "dnsmasq's lease and files for p1"; diag "$(tail -n 30 "$log")"; fi
if vm_log d1 | grep -q 'kiln: data: /dev/vda is blank (512 MiB): making kiln-data on it' &&
	vm_log d1 | grep -q 'kiln: data: made kiln-data on /dev/vda1'; then
	ok "p1 made DATA on its blank disk: $(vm_log d1 | grep -o 'kiln: data: made.*')"
else not_ok "p1 made DATA on its blank disk"; diag "$(vm_log d1 | grep 'kiln:' | head)"; fi
# While nobody approves: the operator sees the request, the machine gets nothing and keeps waiting.
list=$(enroll list 2>&1)
short=$(echo "$fp" | sed 's/..../& /g; s/ $//')
sleep 5
if echo "$list" | grep -q "^p1  *master 52:54:00:00:02:11  $short  from 192.168.0.31 .* waiting\$" &&
	[ -z "$(answer_get p1 "$fp" etcd.crt)" ] && [ -z "$(ls "$E/answers")" ] &&
	! vm_log d1 | grep -q 'kiln: enroll: p1: approved' && ! vm_log d1 | grep -q 'kiln: (ready|degraded)'; then
	ok "unapproved: enroll.sh list shows it waiting with the console's fingerprint; nothing served for it, the machine still waits"
else not_ok "an unapproved request gets nothing"; diag "$list" "$(ls -R "$E")" "$(vm_log d1 | grep kiln | tail -n 5)"; fi
out=$(enroll approve p1 --fingerprint 0000000000000000 2>&1); rc=$?
if [ $rc -ne 0 ] && echo "$out" | grep -q 'error: p1: no request with fingerprint 0000000000000000'; then
	ok "approve with a fingerprint the console did not show: exit $rc, nothing approved"
else not_ok "approve with a wrong fingerprint is refused"; diag "rc=$rc" "$out"; fi
out=$(enroll approve p1 --fingerprint "$short" 2>&1); rc=$?
if [ $rc -eq 0 ] && vm_wait d1 'kiln: (ready|degraded):' 240 && vm_log d1 | grep -q 'kiln: enroll: p1: approved after'; then
	ok "approved by its fingerprint: $(echo "$out" | tail -n 1 | cut -c1-60)...; p1 ready in $(vm_elapsed d1) s: $(vm_log d1 | grep -o 'kiln: enroll: p1: approved after [0-9]* s')"
else not_ok "p1 approved reaches ready"; diag "rc=$rc" "$out" "$(vm_log d1 | grep kiln | tail -n 20)"; fi
identity_check d1 p1 192.168.0.31 "dnsmasq"
# Its certificates are issued for the keys it made: the etcd member certificate's key is the one in its request, not
# the build host's copy in the PKI; etcd answers over TLS with it, and a key is written.
req=$(ls "$E"/requests/*.req | head -n 1)
reqkey=$(awk '/^key etcd$/ { on = 1; next } on && /^-----BEGIN/ { p = 1 } p { print } p && /^-----END/ { exit }' "$req")
served=$(answer_get p1 "$fp" etcd.crt | openssl x509 -noout -pubkey 2>/dev/null)
out=$(vm_run d1 "cat /etc/kiln/identity/pki/etcd/member.crt; grep ' /data ' /proc/mounts; ls -ln /etc/kiln/identity/pki/etcd/member.key /etc/kiln/identity/pki/ca.key; etcdctl endpoint health && etcdctl put pxe-key kept-$$" 60)
oncrt=$(echo "$out" | awk '/BEGIN CERT/ { p = 1 } p { print } /END CERT/ { exit }' | openssl x509 -noout -pubkey 2>/dev/null)
pkicrt=$(openssl pkey -in "$T/pki/machines/p1/etcd.key" -pubout 2>/dev/null)
if [ -n "$reqkey" ] && [ "$served" = "$reqkey" ] && [ "$oncrt" = "$reqkey" ] && [ "$oncrt" != "$pkicrt" ] &&
	echo "$out" | grep -q '^-rw------- *1 200 *200 .*/pki/etcd/member.key' && echo "$out" | grep -q '^-rw------- *1 204 .*/pki/ca.key' &&
	echo "$out" | grep -q '^/dev/vda1 /data ext4 rw' && echo "$out" | grep -q 'is healthy' && echo "$out" | grep -qx OK; then
	ok "p1's etcd member certificate is for the key in its request (not the PKI's); keys 0600 with their owners; etcd healthy over TLS with it, a key written"
else not_ok "p1's certificates for its own keys, etcd answers"; diag "$out" "served=$served" "req=$reqkey"; fi
vm_send d1 "initctl reboot"
if vm_wait_exit d1 60; then ok "initctl reboot ends QEMU (-no-reboot)"; else not_ok "initctl reboot ends QEMU"; diag "$(vm_log d1 | tail)"; fi

# Reimaging a diskless machine is a reboot into the tree: the same disk, PXE again, no new enrollment.
nreq=$(ls "$E/requests" | grep -c '\.req$')
VM_NETNS=$ns vm_boot_ready d2 "p1 again through dnsmasq, same disk" 240 --mem 1024 --mac 52:54:00:00:02:11 \
	--tap tap1 --pxe "$P" --data "$T/p1-disk.img"
if ! vm_log d2 | grep -q 'kiln: data: .*making' && ! vm_log d2 | grep -q 'no data partition' &&
	vm_log d2 | grep -q '^kiln-data: clean' && ! vm_log d2 | grep -q 'recovering journal' &&
	vm_log d2 | grep -q 'kiln: enroll: p1: enrolled before, its keys and answer on DATA' && ! vm_log d2 | grep -q 'asks to enroll' &&
	[ "$(ls "$E/requests" | grep -c '\.req$')" = "$nreq" ]; then
	ok "the second boot finds kiln-data, unmounted cleanly, formats nothing, and needs no new enrollment"
else not_ok "the second boot mounts the existing DATA, enrolled"; diag "$(vm_log d2 | grep 'kiln' | head -n 20)"; fi
out=$(vm_run d2 "etcdctl get pxe-key --print-value-only" 40)
case $out in *"kept-$$"*) ok "etcd's key survived the reboot on DATA" ;; *) not_ok "etcd's key survived the reboot"; diag "$out" ;; esac
vm_kill d2

# The node: enrolls (approved here as soon as it asks), ready, then reboots on its DATA without a new request.
truncate -s 512M "$T/p2-disk.img"
VM_NETNS=$ns vm_start d4 --mem 1024 --mac 52:54:00:00:02:21 --tap tap2 --pxe "$P" --data "$T/p2-disk.img"
if vm_wait d4 'kiln: enroll: p2: build host: waiting' 240 && fp4=$(fingerprint d4) && enroll approve p2 --fingerprint "$fp4" > "$T/approve.log" 2>&1 &&
	vm_wait d4 'kiln: (ready|degraded):' 240; then
	ok "node p2 through dnsmasq enrolls and is ready in $(vm_elapsed d4) s: $(vm_log d4 | grep -o 'kiln: enroll: p2: approved after [0-9]* s')"
else not_ok "node p2 enrolls and reaches ready"; diag "$(vm_log d4 | grep kiln | tail -n 20)" "$(cat "$T/approve.log")"; fi
identity_check d4 p2 192.168.0.41 "dnsmasq"
if sent_to 192.168.0.41 | grep -qx kiln/node/initramfs.cpio.gz && sent_to 192.168.0.41 | grep -qx kiln/machines/p2.cpio.gz; then
	ok "dnsmasq sent p2 the node initramfs and p2's public identity"
else not_ok "dnsmasq's files for p2"; diag "$(tail -n 20 "$log")"; fi
out=$(vm_run d4 "ls -ln /etc/kiln/identity/pki/kubelet.key /etc/kiln/identity/pki/kube-proxy.key /etc/kiln/identity/pki/log.key; ls /etc/kiln/identity/pki" 20)
if echo "$out" | grep -q '^-rw------- *1 0 *0 .*pki/kubelet.key' && echo "$out" | grep -q '^-rw------- *1 0 *0 .*pki/kube-proxy.key' &&
	echo "$out" | grep -q '^-rw------- *1 208 .*pki/log.key' && ! echo "$out" | grep -q -e 'etcd' -e 'ca.key'; then
	ok "p2's keys: its own (kubelet, log) and the role's shared one (kube-proxy), 0600 with their owners; no etcd material, no CA key"
else not_ok "p2's keys and owners"; diag "$out"; fi
vm_send d4 "initctl reboot"
vm_wait_exit d4 60 || :
nreq=$(ls "$E/requests" | grep -c '\.req$')
VM_NETNS=$ns vm_start d5 --mem 1024 --mac 52:54:00:00:02:21 --tap tap2 --pxe "$P" --data "$T/p2-disk.img"
if vm_wait d5 'kiln: (ready|degraded):' 240 && vm_log d5 | grep -q 'kiln: enroll: p2: enrolled before, its keys and answer on DATA' &&
	! vm_log d5 | grep -q 'asks to enroll' && [ "$(ls "$E/requests" | grep -c '\.req$')" = "$nreq" ]; then
	ok "p2 reboots on its DATA in $(vm_elapsed d5) s without asking again: $(vm_log d5 | grep -Eo 'kiln: (ready|degraded):.*' | head -n 1 | cut -c1-60)"
else not_ok "p2 reboots on its DATA without a new enrollment"; diag "$(vm_log d5 | grep kiln | tail -n 15)"; fi
vm_kill d5

# A disk with anything on it is never formatted: one byte at 1 MiB + 1024 (where a first partition's ext4
# superblock would be) is enough. Without DATA, the node p2's MAC makes new keys in RAM: another key for an enrolled name,
# refused, and the operator told (serve.sh's output, enroll.sh list); approving it needs --replace.
truncate -s 512M "$T/used.img"
printf 'x' | dd of="$T/used.img" bs=1 seek=$((1048576 + 1024)) conv=notrunc 2>/dev/null
VM_NETNS=$ns vm_start d3 --mem 1024 --mac 52:54:00:00:02:21 --tap tap2 --pxe "$P" --data "$T/used.img"
if vm_wait d3 'kiln: no data partition' 120 && vm_log d3 | grep -q 'kiln: data: /dev/vda is not blank (it has data), left alone' &&
	vm_log d3 | grep -q 'kiln: no data partition, /data is tmpfs' && cmp -s -n 1048576 "$T/used.img" /dev/zero; then
	ok "a disk that is not blank is left alone: p2 runs on tmpfs and says so"
else not_ok "a disk that is not blank is left alone"; diag "$(vm_log d3 | grep 'kiln:' | head)"; fi
if vm_wait d3 'kiln: enroll: p2: build host: refused: p2 is enrolled with another key' 120 && fp3=$(fingerprint d3) &&
	[ -n "$fp3" ] && [ "$fp3" != "$fp4" ] && grep -q "REFUSED: p2 (node, 52:54:00:00:02:21) with another key than the enrolled one" "$T/serve.log" &&
	enroll list 2>&1 | grep -q "^p2 .*REFUSED: p2 is enrolled with another key" &&
	out=$(enroll approve p2 --fingerprint "$fp3" 2>&1; echo "rc=$?") && echo "$out" | grep -q 'rc=1' &&
	echo "$out" | grep -q 'a machine claiming its name with a new key is refused' && [ -z "$(answer_get p2 "$fp3" kubelet.crt)" ] &&
	sleep 5 && ! vm_log d3 | grep -Eq 'kiln: enroll: p2: approved|kiln: (ready|degraded):'; then
	ok "p2's MAC with new keys (fingerprint $fp3): refused, said by serve.sh and enroll.sh list; approve refuses it without --replace; nothing served, it gets nothing"
else not_ok "another key for an enrolled name is refused"; diag "$(vm_log d3 | grep 'kiln: enroll' | tail -n 5)" "$(cat "$T/serve.log")" "${out:-}"; fi
vm_kill d3

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

# Bad requests at the enrollment server, from the namespace: one too big, one that is no request, one whose MAC is
# not the cluster file's (listed as BAD, approve refuses it).
big=$(head -c 20000 /dev/zero | tr '\0' x)
r1=$(ip netns exec "$ns" wget --no-proxy -q -O - --post-data="$big" "${EURL}cgi-bin/enroll" 2>&1)
r2=$(ip netns exec "$ns" wget --no-proxy -q -O - --post-data="hello" "${EURL}cgi-bin/enroll" 2>&1)
sed 's/^mac .*/mac 52:54:00:00:02:77/' "$req" > "$T/badmac.req"
r3=$(ip netns exec "$ns" wget --no-proxy -q -O - --post-file="$T/badmac.req" "${EURL}cgi-bin/enroll" 2>&1)
out=$(enroll approve p1 --fingerprint "$(sha256sum < "$T/badmac.req" | cut -c1-32)" --replace 2>&1); rc=$?
if echo "$r1" | grep -q 'refused: a request is 1 to 16384 bytes' && echo "$r2" | grep -q 'refused: not a kiln enrollment request' &&
	echo "$r3" | grep -q 'refused: p1 is enrolled with another key' && enroll list 2>&1 | grep -q "^p1 .*BAD: MAC 52:54:00:00:02:77 is not the cluster file's 52:54:00:00:02:11" &&
	[ $rc -ne 0 ] && echo "$out" | grep -q "BAD: MAC 52:54:00:00:02:77"; then
	ok "the server refuses a 20 KB post and a non-request; a request with another MAC is listed BAD and cannot be approved"
else not_ok "bad requests"; diag "$r1" "$r2" "$r3" "rc=$rc" "$out"; fi

# HTTP boot: the same tree written with --http, served by an HTTP server (kiln's busybox httpd) in the namespace;
# the firmware fetches lpxelinux.0 over TFTP, and lpxelinux everything else over HTTP. p1 on its disk: enrolled.
stop_server
pxe_net_down "$ns"
hurl=http://192.168.0.254:8080/
if out=$(sh scripts/mk-pxe.sh --enroll "$EURL" --out "$T/http" --http "$hurl" "$T/r" 2>&1) &&
	grep -qx 'dhcp-boot=lpxelinux.0' "$T/http/dnsmasq.conf" && grep -qx "dhcp-option-force=210,$hurl" "$T/http/dnsmasq.conf" &&
	sed -i 's/^  APPEND .*/& kiln.disable=kube-apiserver,apiproxy/' "$T/http/pxelinux.cfg/01-"* &&
	pxe_net_up "$ns" "$T/http" "$log" 1 192.168.0.254/24 2> "$T/net.err" &&
	pxe_http_up "$ns" "$T/http" 192.168.0.254:8080 "$T/httpd.log" 2>> "$T/net.err" && start_server 2>> "$T/net.err"; then
	# Under make test's load (two lanes on two cores, one of them building images) lpxelinux has stopped at "Boot failed:
	# press a key to retry" before the kernel started (twice in CI; not seen here with the cores busy). A key sent to the
	# serial console did not retry it (CI's machine printed nothing more in 150 s): the machine is powered on again
	# instead, up to three times in all, as whoever is at it would, and the result says how many it took.
	tries=0 booted=
	while [ $tries -lt 3 ] && [ -z "$booted" ]; do
		tries=$((tries + 1))
		[ $tries -eq 1 ] || { vm_kill h1; diag "HTTP boot try $((tries - 1)): $(vm_log h1 | grep -m1 'Boot failed')"; }
		VM_NETNS=$ns vm_start h1 --mem 1536 --mac 52:54:00:00:02:11 --tap tap1 --pxe "$T/http" --data "$T/p1-disk.img"
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
