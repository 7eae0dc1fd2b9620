#!/bin/sh
# 40-qemu-master.t: the master initramfs boots under QEMU (TCG) to `kiln: ready` with etcd really answering,
# initctl works on the console, and `initctl poweroff` ends QEMU cleanly (the tests' tree, with a console shell).
# Then the master image as built (out/, the example's: no console shell): ready, Enter shows the status, a command
# typed is not run, `poweroff` shuts it down in order.
. tests/system/lib/tap.sh
. tests/system/lib/vm.sh

plan 12
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
out=$(vm_run m "cat /proc/1/status | grep -E '^(VmRSS|Name)'; ls /data/log; echo etcd-lines \$(grep -c . /data/log/etcd.log); grep -lx kiln-logd /proc/[0-9]*/comm" 15)
if echo "$out" | grep -q 'etcd.log' && echo "$out" | grep -Eq '^etcd-lines [1-9]' && echo "$out" | grep -q '/comm$'; then
	ok "etcd's output is captured in /data/log/etcd.log ($(echo "$out" | grep -o 'etcd-lines [0-9]*' | cut -d' ' -f2) lines), by init's log writer ($(echo "$out" | grep -o '/proc/[0-9]*/comm'))"
else not_ok "etcd's output captured in /data/log by init's log writer"; diag "$out"; fi
diag "init: $(echo "$out" | grep VmRSS | tr -s ' \t' ' ')"
vm_send m "initctl poweroff"
if vm_wait_exit m 60; then
	ok "initctl poweroff ends QEMU (status $vm_status)"
	check "the init stopped its services and powered off" sh -c "grep -q 'kiln: powering off' '$VM_DIR/m/console.log'"
else
	not_ok "initctl poweroff ends QEMU"; diag "$(vm_log m | tail -n 20)"; not_ok "powered off"
fi

o=$KILN_IMAGES_OUT/master
if grep -qx 'IMAGE_CONSOLE_SHELL=no' "$KILN_IMAGES_OUT/cluster/cluster.env"; then
	vm_boot_ready p "master initramfs as built (no console shell)" 150 --mem 1024 "$o/vmlinuz" "$o/initramfs.cpio.gz"
	n=$(wc -l < "$VM_DIR/p/console.log")
	vm_send p ""
	vm_send p "echo \$((6 * 7))"
	vm_wait p 'not run: this console takes' 20
	sleep 1
	out=$(tail -n +$((n + 1)) "$VM_DIR/p/console.log" | tr -d '\r')
	if echo "$out" | grep -Eq '^etcd +ready' && echo "$out" | grep -q 'not run: this console takes' && ! echo "$out" | grep -qx 42; then
		ok "no console shell: Enter shows initctl status (etcd ready), a command typed is not run"
	else not_ok "no console shell: Enter shows the status, a command is not run"; diag "$out"; fi
	vm_send p "poweroff"
	if vm_wait_exit p 60 && grep -q 'kiln: powering off' "$VM_DIR/p/console.log"; then ok "no console shell: poweroff typed on the console shuts down in order"
	else not_ok "no console shell: poweroff on the console"; diag "$(vm_log p | tail -n 20)"; fi
else
	skip "the example's images have a console shell (its cluster file says so): nothing to check without one"
	skip "the same"
	skip "the same"
fi
done_testing
