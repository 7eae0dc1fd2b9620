#!/bin/sh
# 42-qemu-node.t: the node initramfs boots to ready with containerd answering on its socket, the kernel
# modules and sysctls containers need in place, and powers off cleanly.
. tests/system/lib/tap.sh
. tests/system/lib/vm.sh

plan 6
o=$KILN_OUT/node
vm_boot_ready n "node initramfs" 90 --mem 768 "$o/vmlinuz" "$o/initramfs.cpio.gz"
check "every service is ready (not degraded)" sh -c "grep -q 'kiln: ready: [0-9]* services in' '$VM_DIR/n/console.log'"
out=$(vm_run n "ctr version" 30)
case $out in *Server:*Version:*) ok "containerd answers on /run/containerd/containerd.sock (ctr version)" ;;
*) not_ok "containerd answers on its socket"; diag "$out" ;; esac
out=$(vm_run n "echo mods=\$(grep -E '^(overlay|br_netfilter|veth|nf_conntrack) ' /proc/modules | cut -d' ' -f1 | sort | tr '\n' ' '); echo sysctl=\$(cat /proc/sys/net/ipv4/ip_forward)\$(cat /proc/sys/net/bridge/bridge-nf-call-iptables)" 20)
if echo "$out" | grep -q '^mods=br_netfilter nf_conntrack overlay veth' && echo "$out" | grep -qx 'sysctl=11'; then
	ok "container modules loaded, ip_forward and bridge-nf-call-iptables on"
else not_ok "container modules and sysctls"; diag "$out"; fi
out=$(vm_run n "initctl status containerd" 15)
if echo "$out" | grep -Eq '^containerd +ready'; then ok "initctl status shows containerd ready"; else not_ok "initctl status containerd"; diag "$out"; fi
vm_send n "initctl poweroff"
if vm_wait_exit n 60; then ok "initctl poweroff ends QEMU"; else not_ok "initctl poweroff ends QEMU"; diag "$(vm_log n | tail)"; fi
done_testing
