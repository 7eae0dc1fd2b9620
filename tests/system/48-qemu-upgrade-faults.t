#!/bin/sh
# 48-qemu-upgrade-faults.t: upgrades that go wrong below the init. v4, whose kernel panics at boot (its first
# stage is not an initramfs), is tried once: the kernel panics, resets itself (panic=10), and syslinux, whose
# boot-once was spent, boots v1 again, which says the upgrade rolled back. Then the power is cut (QEMU killed) in
# the middle of writing v2 into the other slot: the machine boots v1 unharmed, its etcd keys there, and says
# the write was interrupted. Then v5, whose service takes longer to become ready than the upgrade's deadline:
# init gives the trial up at the deadline and v1 is back. Last, v6, whose /sbin/init hangs (its init never runs, so
# only the first stage's watchdog, armed for the 30 s deadline, can end its trial): the watchdog resets the
# machine and v1 is back again.
# Each QEMU run ends at a reset (-no-reboot).
. tests/system/lib/tap.sh
. tests/system/lib/vm.sh

plan 20
. tests/system/lib/upgrade.sh
variant "$T/media/v2" v2-test
head -c 4096 /dev/zero > "$T/not-an-initramfs"
variant "$T/media/v4" v4-panic "rm /boot/initrd.gz
write $T/not-an-initramfs /boot/initrd.gz"
printf 'command = /bin/sleep 100000\nready = tcp 127.0.0.1:9\nready_timeout = 600\n' > "$T/slow"
variant "$T/media/v5" v5-slow "write $T/slow /etc/kiln/services/slow"
printf '#!/bin/sh\necho "v6: init hangs"\nwhile :; do sleep 1; done\n' > "$T/hang"
variant "$T/media/v6" v6-hang "rm /usr/sbin/init
write $T/hang /usr/sbin/init
sif /usr/sbin/init mode 0100755"
media_disk 500
media() { # NAME: the media disk mounted on /tmp/media (found by its label: the disks' names vary, 47 says why)
	out=$(vm_run "$1" "mkdir -p /tmp/media && mount -t ext4 -o ro \"\$(findfs LABEL=kiln-media)\" /tmp/media" 20) || { diag "$out"; give_up "cannot mount the media disk"; }
}
args="--mem 768 --disk $disk --persist --data $T/media.img"
# arm NAME VARIANT DEADLINE: on NAME, `initctl upgrade` the media disk's VARIANT; it must be armed in slot B.
arm() {
	media "$1"
	vm_send "$1" "initctl upgrade /tmp/media/$2/system.img --deadline $3"
	if vm_wait_exit "$1" 240 && vm_log "$1" | grep -q "kiln-upgrade: slot b ($2-[a-z]*) armed"; then ok "$2 armed in slot B, deadline $3 s"
	else not_ok "$2 armed"; diag "$(vm_log "$1" | grep -a kiln | tail -n 15)"; fi
}
# back_on_v1 NAME WHAT WHY: NAME, the next boot, runs v1 from slot A as the default and says the upgrade rolled back: WHY.
back_on_v1() {
	vm_boot_ready "$1" "the boot after $2" 150 $args
	out=$(vm_run "$1" "cat /proc/cmdline /etc/kiln/release; initctl status | grep -E '^(slot|last)'" 20)
	if echo "$out" | grep -q 'kiln.root=kiln-sys-a' && echo "$out" | grep -qx "KILN_VERSION=$v1" &&
		echo "$out" | grep -q '^slot a: running, default' && echo "$out" | grep -qF "last upgrade: rolled back: $3"; then
		ok "back on v1 in slot A after $2, and initctl status says: rolled back: $3"
	else not_ok "back on v1 after $2"; diag "$out"; fi
}

vm_boot_ready f1 "v1 from slot A" 150 $args
out=$(vm_run f1 "i=0; while [ \$i -lt 50 ]; do etcdctl put /f/k\$i v\$i > /dev/null || exit 1; i=\$((i + 1)); done; echo count=\$(etcdctl get /f/ --prefix --keys-only | grep -c /f/)" 120)
case $out in *count=50*) ok "50 keys written under v1" ;; *) not_ok "50 keys written under v1"; diag "$out" ;; esac
arm f1 v4 120
vm_start f2 $args
if vm_wait f2 'Kernel panic' 120 && vm_wait_exit f2 60; then ok "v4's kernel panics and resets by itself: $(vm_log f2 | grep -o 'Kernel panic.*' | head -n 1)"
else not_ok "v4's kernel panics and resets"; diag "$(vm_log f2 | tail -n 15)"; vm_kill f2; fi

back_on_v1 f3 "v4's panic" "slot b (v4-panic) never reached its init (kernel panic, or a reset)"

media f3
vm_send f3 "initctl upgrade /tmp/media/v2/system.img"
if vm_wait f3 'kiln-upgrade: writing' 120; then
	sleep 3; kill -KILL "$(cat "$VM_DIR/f3/qemu.pid")"; vm_wait_exit f3 10
	if vm_log f3 | grep -q 'reads back'; then not_ok "power cut while writing: the write had ended first"
	else ok "power cut (QEMU killed) while writing v2 into slot B"; fi
else not_ok "the write began"; diag "$(vm_log f3 | grep -a kiln | tail -n 15)"; fi
vm_boot_ready f4 "the boot after the power cut" 150 $args
out=$(vm_run f4 "cat /proc/cmdline /etc/kiln/release; initctl status | grep -E '^(slot|last)'; echo count=\$(etcdctl get /f/ --prefix --keys-only | grep -c /f/)" 60)
if echo "$out" | grep -q 'kiln.root=kiln-sys-a' && echo "$out" | grep -qx "KILN_VERSION=$v1" && echo "$out" | grep -q count=50; then
	ok "v1 runs unharmed from slot A, all 50 keys there"
else not_ok "v1 unharmed after the power cut"; diag "$out"; fi
if echo "$out" | grep -q '^last upgrade: rolled back: slot b (version unknown) was interrupted while being written'; then
	ok "initctl status says the write was interrupted"
else not_ok "initctl status after the power cut"; diag "$out"; fi

arm f4 v5 40
vm_start f5 $args
if vm_wait f5 'kiln: upgrade: trial boot' 120 && vm_wait_exit f5 150 &&
	vm_log f5 | grep -q 'kiln: upgrade: trial failed (not ready within 40s): rebooting into the default slot'; then
	ok "v5's trial is given up at its deadline, with no boot summary: init reboots"
else not_ok "v5's trial given up at the deadline"; diag "$(vm_log f5 | grep -a kiln | tail -n 15)"; vm_kill f5; fi
back_on_v1 f6 "v5's trial" "slot b (v5-slow) did not become ready within 40s"

arm f6 v6 30  # the watchdog then 30 s too
vm_start f7 $args
if vm_wait f7 'kiln: watchdog: armed for the trial boot' 120 && vm_wait f7 'v6: init hangs' 60; then
	ok "the first stage arms the watchdog, then v6's init hangs: $(vm_log f7 | grep -o 'kiln: watchdog: armed.*')"
else not_ok "watchdog armed, v6 hangs"; diag "$(vm_log f7 | tail -n 15)"; fi
t0=$(date +%s)
if vm_wait_exit f7 120; then ok "the watchdog resets the hung machine $(($(date +%s) - t0)) s later"
else not_ok "the watchdog resets the hung machine"; diag "$(vm_log f7 | tail -n 5)"; vm_kill f7; fi
back_on_v1 f8 "v6's hang" "slot b (v6-hang) never reached its init (kernel panic, or a reset)"
vm_send f8 "initctl poweroff"
if vm_wait_exit f8 60; then ok "poweroff"; else not_ok "poweroff"; fi
done_testing
