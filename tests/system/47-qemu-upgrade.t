#!/bin/sh
# 47-qemu-upgrade.t: reimaging a master disk. v1 (out/master/disk.img) runs from slot A with keys in etcd;
# `initctl upgrade` of v2 (out/master/system.img with another /etc/kiln/release, on a second disk) writes slot B,
# arms one trial boot of it and reboots: v2 runs from slot B, commits itself as the default (disarming the hardware
# watchdog its first stage armed for the trial), every key is there and slot A still holds v1. Then v3 (v2 plus a
# service that never becomes ready) into slot A: its trial boot is degraded, it reboots, and the machine comes back
# on v2 by itself, `initctl status` saying it rolled back.
# Bad input (a deadline out of bounds; an image damaged after it was signed, unsigned, signed by another key, signed for
# the node role, for another cluster, or older than the running system) is refused before any slot is touched, each
# naming why. Each QEMU run ends at a reboot (-no-reboot).
. tests/system/lib/tap.sh
. tests/system/lib/vm.sh

plan 22
# The deadline is bounded (the trial's 10 to 86400 s) and refused on any machine, before a disk is looked at.
out=$(for d in 0 9 86401 x; do sh rootfs/usr/sbin/kiln-upgrade install /x --deadline $d 2>&1; echo "rc=$?"; done)
if [ "$(echo "$out" | grep -c '^rc=1$')" = 4 ] && [ "$(echo "$out" | grep -c 'error: --deadline: ')" = 4 ]; then
	ok "a deadline of 0, 9 or 86401 s or not a number is refused: $(echo "$out" | head -n 1)"
else not_ok "out-of-range deadlines are refused"; diag "$out"; fi
. tests/system/lib/upgrade.sh
# The build's own signature: kiln-verify (what the images run) takes out/master/system.img.sig with the cluster's
# public image key, and refuses it with one byte of its manifest changed.
verify=$KILN_BUILD/tools/kiln-verify pub=$KILN_OUT/cluster/image-signing.pub
out=$("$verify" "$pub" "$sys.sig" 2>&1; echo "rc=$?"; sed '3s/^cluster ./cluster x/' "$sys.sig" | "$verify" "$pub" - 2>&1; echo "rc=$?")
if echo "$out" | grep -qx "KILN_IMAGE_SHA256=$(sha256sum < "$sys" | cut -d' ' -f1)" && echo "$out" | grep -qx "KILN_IMAGE_VERSION=$v1" &&
	echo "$out" | grep -q '^rc=0$' && echo "$out" | grep -q '^kiln-verify: -: the signature does not verify with this key' && echo "$out" | grep -q '^rc=1$'; then
	ok "the build signed out/master/system.img: kiln-verify takes it (version $v1, its sha256), refuses it with its cluster changed"
else not_ok "the build's signature verifies, a changed one does not"; diag "$out"; fi
variant "$T/media/v2" v2-test
printf 'command = /bin/sleep 100000\nready = tcp 127.0.0.1:9\nready_timeout = 15\nrestart = never\n' > "$T/broken"
variant "$T/media/v3" v3-broken "write $T/broken /etc/kiln/services/broken"
mkdir -p "$T/media/bad"
cp --sparse=always "$T/media/v2/system.img" "$T/media/bad/system.img"
cp "$T/media/v2/system.img.sig" "$T/media/bad/"
printf 'damaged' | dd of="$T/media/bad/system.img" bs=1 seek=$(($(stat -c %s "$T/media/bad/system.img") / 2)) conv=notrunc status=none
# Refused by their signatures: none at all, another key's, the node role's, another cluster's, an older serial's.
mkdir -p "$T/media/unsigned"
cp --sparse=always "$T/media/v2/system.img" "$T/media/unsigned/"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/foreign.key" 2> /dev/null || bail "openssl genpkey"
VARIANT_KEY=$T/foreign.key variant "$T/media/foreign" v2-foreign
VARIANT_SED='s/^KILN_ROLE=.*/KILN_ROLE=node/' variant "$T/media/node" v2-node
VARIANT_SED='s/^KILN_CLUSTER=.*/KILN_CLUSTER=other/' variant "$T/media/other" v2-other
serial=$(sed -n 's/^KILN_SERIAL=//p' "$KILN_BUILD/stage/master/etc/kiln/release")
[ "${serial:-0}" -ge 1 ] || bail "the master image has no KILN_SERIAL above 0 (built outside git?)"
VARIANT_SED="s/^KILN_SERIAL=.*/KILN_SERIAL=$((serial - 1))/" variant "$T/media/older" v0-older
media_disk 900

# The media disk, mounted read-only, found by its label: the kernel names the two virtio disks in the order their
# probes end (init loads the drivers with async_probe), so the media disk is vdb in most boots and vda in some.
mount_media='mkdir -p /tmp/media && mount -t ext4 -o ro "$(findfs LABEL=kiln-media)" /tmp/media'
boot() { # NAME DESCRIPTION SECONDS: the disk and the media disk, until ready or degraded
	vm_boot_ready "$1" "$2" "$3" --mem 768 --disk "$disk" --persist --data "$T/media.img"
}
boot u1 "v1 from slot A" 150
out=$(vm_run u1 "$mount_media" 30) || { diag "$out"; give_up "cannot mount the media disk"; }
out=$(vm_run u1 "i=0; while [ \$i -lt 100 ]; do etcdctl put /up/k\$i v\$i > /dev/null || exit 1; i=\$((i + 1)); done; echo count=\$(etcdctl get /up/ --prefix --keys-only | grep -c /up/)" 120)
case $out in *count=100*) ok "100 keys written to etcd under v1" ;; *) not_ok "100 keys written under v1"; diag "$out" ;; esac

out=$(vm_run u1 "initctl upgrade /tmp/media/bad/system.img; echo rc=\$?; cat /run/kiln/upgrade" 120)
if echo "$out" | grep -q 'bad/system.img does not match the sha256 its signature says (changed since it was signed): not written' &&
	echo "$out" | grep -q '^rc=1' && echo "$out" | grep -q "^slot b: version -"; then
	ok "an image damaged after it was signed is refused, naming it, and slot B stays empty"
else not_ok "a damaged image is refused"; diag "$out"; fi
out=$(vm_run u1 "for v in unsigned foreign node other older; do initctl upgrade /tmp/media/\$v/system.img; echo \$v rc=\$?; done 2>&1; cat /run/kiln/upgrade" 180)
want="unsigned/system.img.sig: missing (the image's signature, which the build writes beside it): an unsigned image is refused
foreign/system.img.sig: the signature does not verify with this key: signed by another key, or changed since it was signed (checked with this cluster's image key, /etc/kiln/image-signing.pub): not written
node/system.img is signed as an image for a node, this machine is a master: not written
other/system.img is signed as an image of cluster 'other', this machine is in cluster '$(sed -n 's/^KILN_CLUSTER=//p' "$KILN_BUILD/stage/master/etc/kiln/release")': not written
older/system.img is version v0-older (serial $((serial - 1))), older than this system's $v1 (serial $serial): not written (--allow-downgrade installs it anyway)"
missing=$(echo "$want" | while IFS= read -r w; do echo "$out" | grep -qF "$w" || echo "$w"; done)
if [ -z "$missing" ] && [ "$(echo "$out" | grep -c ' rc=1$')" = 5 ] && echo "$out" | grep -q "^slot b: version -"; then
	ok "refused before a byte is written, each saying why: unsigned, another key's, the node role's, another cluster's, older (serial $((serial - 1)) < $serial); slot B stays empty"
else not_ok "unsigned, foreign, wrong-role, wrong-cluster and older images are refused"; diag "missing: $missing" "$out"; fi

t0=$(date +%s)
vm_send u1 "initctl upgrade /tmp/media/v2/system.img --deadline 240"
if vm_wait_exit u1 240 && vm_log u1 | grep -q 'kiln-upgrade: slot b (v2-test) armed'; then
	ok "upgrade to v2: written, verified, armed, rebooted in $(($(date +%s) - t0)) s"
else not_ok "upgrade to v2 armed and rebooted"; diag "$(vm_log u1 | grep -a kiln | tail -n 15)"; fi
t1=$(date +%s)
boot u2 "the trial boot of v2" 150
if vm_wait u2 'kiln: upgrade: committed: slot b \(v2-test\)' 60; then
	ok "v2 ready and committed in $(($(date +%s) - t1)) s (command to committed: $(($(date +%s) - t0)) s)"
else not_ok "v2 committed itself"; diag "$(vm_log u2 | grep -a kiln | tail -n 15)"; fi
if vm_log u2 | grep -q 'kiln: watchdog: armed for the trial boot' && vm_log u2 | grep -q 'kiln: watchdog: fed every' &&
	vm_log u2 | grep -q 'kiln: watchdog: disarmed: the trial is committed'; then
	ok "the watchdog the first stage armed was fed by v2's init, then disarmed at the commit"
else not_ok "the watchdog armed, fed and disarmed"; diag "$(vm_log u2 | grep -a watchdog)"; fi
out=$(vm_run u2 "cat /proc/cmdline; grep ' / ' /proc/mounts; echo slot-b=\$(findfs LABEL=kiln-sys-b); cat /etc/kiln/release" 20)
slot_b=$(echo "$out" | sed -n 's/^slot-b=//p')
if echo "$out" | grep -q 'kiln.root=kiln-sys-b' && echo "$slot_b" | grep -Eqx '/dev/vd[ab]3' && echo "$out" | grep -q "^$slot_b / ext4 ro" &&
	echo "$out" | grep -qx 'KILN_VERSION=v2-test'; then ok "the machine runs v2 from slot B ($slot_b, labelled kiln-sys-b, read-only)"
else not_ok "runs v2 from slot B"; diag "$out"; fi
out=$(vm_run u2 "echo count=\$(etcdctl get /up/ --prefix --keys-only | grep -c /up/); etcdctl get /up/k99 --print-value-only" 60)
if echo "$out" | grep -q count=100 && echo "$out" | grep -qx v99; then ok "all 100 keys written under v1 are there under v2"
else not_ok "keys kept across the upgrade"; diag "$out"; fi
out=$(vm_run u2 "initctl status" 20)
if echo "$out" | grep -q '^slot b: running, default, version v2-test' && echo "$out" | grep -q "^slot a: version $v1\$" &&
	echo "$out" | grep -q "^last upgrade: committed: slot b (v2-test), from slot a ($v1)"; then
	ok "initctl status: slot B running and default, slot A still v1, the upgrade committed"
else not_ok "initctl status after the upgrade"; diag "$out"; fi

out=$(vm_run u2 "$mount_media" 30) || { diag "$out"; give_up "cannot mount the media disk"; }
vm_send u2 "initctl upgrade /tmp/media/v3/system.img --deadline 200"
if vm_wait_exit u2 240 && vm_log u2 | grep -q 'kiln-upgrade: slot a (v3-broken) armed'; then ok "upgrade to v3 armed into slot A"
else not_ok "upgrade to v3 armed"; diag "$(vm_log u2 | grep -a kiln | tail -n 15)"; fi
vm_start u3 --mem 768 --disk "$disk" --persist --data "$T/media.img"
if vm_wait u3 'kiln: upgrade: trial boot' 150 && vm_wait_exit u3 200; then
	ok "v3's trial boot gives up by itself: $(vm_log u3 | grep -Eo 'kiln: (degraded|upgrade: trial failed).*' | tr '\n' ' ')"
else not_ok "v3's trial boot ends by itself"; diag "$(vm_log u3 | grep -a kiln | tail -n 15)"; fi
if vm_log u3 | grep -q 'kiln: broken: not ready after 15s'; then
	ok "it was v3 that failed: its own service said 'kiln: broken: not ready after 15s'"
else not_ok "v3 in slot A failed"; diag "$(vm_log u3 | grep -a kiln | tail -n 15)"; fi
boot u4 "the next boot, with no trial armed" 150
if vm_log u4 | grep -q 'kiln: upgrade: rolled back: slot a (v3-broken) did not become ready'; then ok "the console says it rolled back"
else not_ok "the console says it rolled back"; diag "$(vm_log u4 | grep -a kiln | tail -n 15)"; fi
out=$(vm_run u4 "cat /proc/cmdline /etc/kiln/release; initctl status" 20)
if echo "$out" | grep -q 'kiln.root=kiln-sys-b' && echo "$out" | grep -qx 'KILN_VERSION=v2-test'; then ok "back on v2 in slot B"
else not_ok "back on v2 in slot B"; diag "$out"; fi
if echo "$out" | grep -q '^last upgrade: rolled back: slot a (v3-broken) did not become ready within 200s (or was reset before: a hang, the power); running slot b (v2-test)' &&
	echo "$out" | grep -q '^slot b: running, default, version v2-test'; then ok "initctl status says the upgrade to v3 rolled back"
else not_ok "initctl status says it rolled back"; diag "$out"; fi
out=$(vm_run u4 "echo count=\$(etcdctl get /up/ --prefix --keys-only | grep -c /up/)" 60)
case $out in *count=100*) ok "the 100 keys are still there" ;; *) not_ok "keys after the rollback"; diag "$out" ;; esac
vm_send u4 "initctl poweroff"
if vm_wait_exit u4 60; then ok "poweroff"; else not_ok "poweroff"; fi
done_testing
