#!/bin/sh
# 41-qemu-disk.t: the master disk image boots through syslinux and the first stage into slot A (read-only),
# mounts its DATA partition, reaches ready with etcd answering, and keeps etcd's data across a reboot.
. tests/system/lib/tap.sh
. tests/system/lib/vm.sh

plan 8
disk=$VM_DIR/disk.img
cp --sparse=always "$KILN_OUT/master/disk.img" "$disk" || bail "cannot copy the disk image"
vm_boot_ready d1 "master disk image" 120 --mem 512 --disk "$disk" --persist
out=$(vm_run d1 "grep -E ' / | /data ' /proc/mounts; cat /sys/block/vda/vda2/size" 20)
if echo "$out" | grep -Eq '^/dev/vda2 / ext4 ro'; then ok "root is slot A (vda2), ext4, read-only"; else not_ok "root is slot A, read-only"; diag "$out"; fi
if echo "$out" | grep -Eq '^/dev/vda4 /data ext4 rw'; then ok "/data is the DATA partition (vda4), read-write"; else not_ok "/data is the DATA partition"; diag "$out"; fi
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
done_testing
