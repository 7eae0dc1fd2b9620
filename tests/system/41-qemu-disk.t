#!/bin/sh
# 41-qemu-disk.t: the master disk image boots through syslinux and the first stage into slot A (read-only),
# mounts its DATA partition, reaches ready with etcd answering, and keeps etcd's data across a reboot. A master
# told its DATA is a disk (kiln.data=disk, as the master disk and the masters' PXE entries say) that has none waits
# kiln.data_wait seconds, then does not start etcd on a tmpfs: the summary is degraded and says why. A DATA that
# e2fsck -p cannot repair (exit 4) is mounted read-only, said on the console, and etcd is not started on it.
. tests/system/lib/tap.sh
. tests/system/lib/vm.sh

plan 14
disk=$VM_DIR/disk.img
cp --sparse=always "$KILN_OUT/master/disk.img" "$disk" || bail "cannot copy the disk image"
vm_boot_ready d1 "master disk image" 120 --mem 512 --disk "$disk" --persist
out=$(vm_run d1 "grep -E ' / | /data ' /proc/mounts; cat /sys/block/vda/vda2/size" 20)
if echo "$out" | grep -Eq '^/dev/vda2 / ext4 ro'; then ok "root is slot A (vda2), ext4, read-only"; else not_ok "root is slot A, read-only"; diag "$out"; fi
if echo "$out" | grep -Eq '^/dev/vda4 /data ext4 rw'; then ok "/data is the DATA partition (vda4), read-write"; else not_ok "/data is the DATA partition"; diag "$out"; fi
check "the master disk's boot entry says DATA is a disk (kiln.data=disk): found at once" \
	grep -Eq 'kiln: data: /dev/vda4 found in [0-9]+ ms' "$VM_DIR/d1/console.log"
out=$(vm_run d1 "etcdctl endpoint health && etcdctl put persisted yes" 60)
case $out in *"is healthy"*OK*) ok "etcd healthy and writable on the disk system" ;; *) not_ok "etcd healthy on the disk system"; diag "$out" ;; esac
vm_send d1 "initctl reboot"
if vm_wait_exit d1 60; then ok "initctl reboot ends QEMU (-no-reboot)"; else not_ok "initctl reboot ends QEMU"; diag "$(vm_log d1 | tail)"; fi
vm_start d2 --mem 512 --disk "$disk" --persist
if vm_wait d2 'kiln: (ready|degraded):' 120; then ok "boots again from the same disk"; else not_ok "boots again"; diag "$(vm_log d2 | tail -n 30)"; fi
out=$(vm_run d2 "etcdctl get persisted --print-value-only" 30)
case $out in *yes*) ok "etcd's key survived the reboot on the DATA partition" ;; *) not_ok "etcd key survived reboot"; diag "$out" ;; esac
vm_send d2 "initctl poweroff"
if vm_wait_exit d2 60; then ok "poweroff ends QEMU"; else not_ok "poweroff ends QEMU"; fi

# DATA damaged so that e2fsck -p gives up (exit 4: lost+found a regular file, the filesystem marked unchecked):
# /data read-only, the console says why, etcd not started on it.
off=$(sfdisk -d "$disk" | sed -n 's/.*img4 : start= *\([0-9]*\),.*/\1/p')
printf 'sif <11> mode 0100644\nssv state 0\n' | debugfs -w -f - "$disk?offset=$((off * 512))" >/dev/null 2>&1
e2fsck -n "$disk?offset=$((off * 512))" >/dev/null 2>&1
[ $? -ge 4 ] || bail "could not damage DATA so that e2fsck finds errors"
vm_start ro --mem 512 --disk "$disk" --persist
if vm_wait ro 'kiln: (ready|degraded):' 120 && vm_log ro | grep -q 'kiln: data: e2fsck /dev/vda4 exited 4: errors left, mounting it read-only' &&
	vm_log ro | grep -q 'kiln: data: /dev/vda4 mounted read-only: DATA (/dev/vda4) is read-only: e2fsck -p exited 4, run e2fsck /dev/vda4 by hand' &&
	vm_log ro | grep -q 'kiln: degraded: .*(failed: .*etcd'; then
	ok "a DATA e2fsck -p cannot repair: said on the console, degraded: $(vm_log ro | grep -o 'kiln: degraded:.*')"
else not_ok "a DATA e2fsck cannot repair is said and degrades the boot"; diag "$(vm_log ro | grep -a 'kiln:' | tail -n 15)"; fi
out=$(vm_run ro "grep ' /data ' /proc/mounts" 20)
if echo "$out" | grep -Eq '^/dev/vda4 /data ext4 ro'; then ok "/data is DATA (vda4), read-only"; else not_ok "/data is DATA, read-only"; diag "$out"; fi
out=$(vm_run ro "initctl status etcd; initctl status | awk '\$1 == \"etcd\" { print \"etcd is \" \$2 }'" 20)
if echo "$out" | grep -q 'not started: it keeps its data on DATA, and DATA (/dev/vda4) is read-only: e2fsck -p exited 4' &&
	echo "$out" | grep -qx 'etcd is failed'; then
	ok "etcd not started on a DATA left with errors, and initctl status says why"
else not_ok "etcd not started on a damaged DATA, with its reason"; diag "$out"; fi
vm_kill ro

# No disk at all, kiln.data=disk: etcd is not started on a tmpfs (it would start empty and as a new member).
o=$KILN_OUT/master
vm_start nd --mem 1024 --append "kiln.data=disk kiln.data_wait=3" "$o/vmlinuz" "$o/initramfs.cpio.gz"
if vm_wait nd 'kiln: (ready|degraded):' 120 && vm_log nd | grep -q 'kiln: degraded: .*(failed: .*etcd' &&
	vm_log nd | grep -q 'kiln: no data partition, /data is tmpfs: no disk has kiln-data after 3 s (kiln.data=disk)'; then
	ok "a master with kiln.data=disk and no disk waits 3 s, keeps /data a tmpfs and is degraded: $(vm_log nd | grep -o 'kiln: degraded:.*')"
else not_ok "a master that must have a disk and has none is degraded"; diag "$(vm_log nd | grep -a 'kiln:' | tail -n 15)"; fi
out=$(vm_run nd "initctl status etcd; ls /data" 20)
if echo "$out" | grep -q 'not started: it keeps its data on DATA, and no disk has kiln-data after 3 s' && ! echo "$out" | grep -qx etcd; then
	ok "initctl status says why etcd did not start, and etcd made nothing on the tmpfs"
else not_ok "etcd not started, with its reason"; diag "$out"; fi
vm_kill nd
done_testing
