#!/bin/sh
# 40-qemu-master.t: the master initramfs boots under QEMU (TCG) to `kiln: ready` with etcd really answering,
# initctl works on the console, and `initctl poweroff` ends QEMU cleanly.
. tests/system/lib/tap.sh
. tests/system/lib/vm.sh

plan 9
o=$KILN_OUT/master
vm_boot_ready m "master initramfs" 150 --mem 1024 "$o/vmlinuz" "$o/initramfs.cpio.gz"
check "every service is ready (not degraded)" sh -c "grep -q 'kiln: ready: [0-9]* services in' '$VM_DIR/m/console.log'"
out=$(vm_run m "etcdctl endpoint health" 60)
case $out in *"is healthy"*) ok "etcdctl endpoint health, inside the machine" ;;
*) not_ok "etcdctl endpoint health, inside the machine"; diag "$out" ;; esac
out=$(vm_run m "etcdctl put kiln-test hello && etcdctl get kiln-test --print-value-only" 30)
case $out in *hello*) ok "etcd stores and returns a key" ;; *) not_ok "etcd stores and returns a key"; diag "$out" ;; esac
out=$(vm_run m "initctl status" 15)
if echo "$out" | grep -Eq '^etcd +ready'; then ok "initctl status shows etcd ready"; else not_ok "initctl status shows etcd ready"; diag "$out"; fi
# Each service in its own cgroup, with the memory and CPU controllers: status reads them from it.
c=$(vm_run m "cat /proc/\$(initctl status etcd | awk '\$1 == \"etcd\" { print \$3 }')/cgroup; cat /sys/fs/cgroup/kiln/cgroup.subtree_control" 15)
if echo "$out" | grep -Eq '^etcd +ready +[0-9]+ +0 +[0-9]+s +[1-9][0-9]*\.[0-9]M +[0-9]+\.[0-9][0-9]s ' &&
	echo "$c" | grep -qx '0::/kiln/etcd' && echo "$c" | grep -q memory; then
	ok "etcd runs in its cgroup /kiln/etcd; status shows its memory and CPU time: $(echo "$out" | awk '$1 == "etcd" { print $6, $7 }')"
else not_ok "etcd in its own cgroup, memory and CPU in status"; diag "$out" "$c"; fi
out=$(vm_run m "cat /proc/1/status | grep -E '^(VmRSS|Name)'; ls /data/log" 15)
if echo "$out" | grep -q 'etcd.log'; then ok "etcd's output is captured in /data/log/etcd.log"; else not_ok "etcd's output captured in /data/log"; diag "$out"; fi
diag "init: $(echo "$out" | grep VmRSS | tr -s ' \t' ' ')"
vm_send m "initctl poweroff"
if vm_wait_exit m 60; then
	ok "initctl poweroff ends QEMU (status $vm_status)"
	check "the init stopped its services and powered off" sh -c "grep -q 'kiln: powering off' '$VM_DIR/m/console.log'"
else
	not_ok "initctl poweroff ends QEMU"; diag "$(vm_log m | tail -n 20)"; not_ok "powered off"
fi
done_testing
