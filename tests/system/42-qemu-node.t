#!/bin/sh
# 42-qemu-node.t: the node initramfs, with the example cluster's n1 identity appended, boots to ready with
# containerd answering on its socket, the kernel modules and sysctls containers need in place; a container from a
# locally built OCI image (kiln's static busybox, in a third archive for this test only) runs under runc, which
# must pivot_root out of the initramfs, on the CNI bridge in n1's pod subnet; the pod sandbox image (kiln-pause) is
# imported at boot and runs; the cgroup controllers are delegated; and the node powers off cleanly.
. tests/system/lib/tap.sh
. tests/system/lib/vm.sh

plan 12
o=$KILN_OUT/node
T=$VM_DIR/n1
mkdir -p "$T/x/opt/kiln-test"
tests/system/lib/mk-oci-busybox.sh "$KILN_CACHE/busybox/busybox" "$T/x/opt/kiln-test/busybox.oci.tar" ||
	bail "cannot build the test's OCI image"
scripts/mk-initramfs.sh "$T/x" "$T/test.cpio.gz" > /dev/null
cat "$o/initramfs.cpio.gz" "$KILN_OUT/machines/n1/identity.cpio.gz" "$T/test.cpio.gz" > "$T/initrd"
# Kubernetes itself (the API endpoint, kubelet, kube-proxy) needs masters: this boot leaves it out (kiln.disable);
# 60-cluster.t runs it.
vm_boot_ready n "node initramfs with n1's identity" 150 --mem 1024 --mac 52:54:00:00:00:21 --append kiln.disable=apiproxy "$o/vmlinuz" "$T/initrd"
check "every service is ready (not degraded)" sh -c "grep -q 'kiln: ready: [0-9]* services in' '$VM_DIR/n/console.log'"
out=$(vm_run n "ctr version" 30)
case $out in *Server:*Version:*) ok "containerd answers on /run/containerd/containerd.sock (ctr version)" ;;
*) not_ok "containerd answers on its socket"; diag "$out" ;; esac
out=$(vm_run n "echo mods=\$(grep -E '^(overlay|br_netfilter|veth|nf_conntrack) ' /proc/modules | cut -d' ' -f1 | sort | tr '\n' ' '); echo sysctl=\$(cat /proc/sys/net/ipv4/ip_forward)\$(cat /proc/sys/net/bridge/bridge-nf-call-iptables)" 20)
if echo "$out" | grep -q '^mods=br_netfilter nf_conntrack overlay veth' && echo "$out" | grep -qx 'sysctl=11'; then
	ok "container modules loaded, ip_forward and bridge-nf-call-iptables on"
else not_ok "container modules and sysctls"; diag "$out"; fi
out=$(vm_run n "ctr -n kiln images import /opt/kiln-test/busybox.oci.tar && ctr -n kiln images ls -q" 60)
case $out in *docker.io/kiln/busybox:test*) ok "ctr imports the local OCI image" ;;
*) not_ok "ctr imports the local OCI image"; diag "$out" ;; esac
out=$(vm_run n "ctr -n kiln run --rm --cni docker.io/kiln/busybox:test c1 sh -c 'echo in-container; ip -4 -o addr show eth0; ip route; ping -c 1 -W 5 10.200.1.1'" 90)
case $out in *in-container*) ok "runc runs a container from the initramfs root (pivot_root works)" ;;
*) not_ok "runc runs a container from the initramfs root"; diag "$out" ;; esac
if echo "$out" | grep -Eq 'inet 10\.200\.1\.[0-9]+/24' && echo "$out" | grep -q 'default via 10.200.1.1'; then
	ok "the container has an address in n1's pod subnet 10.200.1.0/24, routed by the cni0 bridge"
else not_ok "the container's address is in n1's pod subnet"; diag "$out"; fi
case $out in *"1 packets received"*) ok "the container reaches its gateway on the bridge" ;;
*) not_ok "the container reaches its gateway on the bridge"; diag "$out" ;; esac
# (the task is given up to 40 s to run: with another test's machine beside it, 4 s were once not enough)
out=$(vm_run n "initctl status sandbox-image; ctr -n k8s.io images ls -q; ctr -n k8s.io run --rm kiln.local/pause:1 p1 < /dev/null > /dev/null 2>&1 & i=0; until ctr -n k8s.io tasks ls | grep -q '^p1 .*RUNNING'; do sleep 1; i=\$((i + 1)); [ \$i -lt 40 ] || break; done; ctr -n k8s.io tasks ls; ctr -n k8s.io tasks kill p1; wait \$!; echo pause-exit=\$?" 120)
if echo "$out" | grep -Eq '^sandbox-image +done' && echo "$out" | grep -qx 'kiln.local/pause:1' &&
	echo "$out" | grep -Eq '^p1 +[0-9]+ +RUNNING' && echo "$out" | grep -qx 'pause-exit=0'; then
	ok "the pod sandbox image kiln.local/pause:1 is imported at boot, runs, and ends with 0 on TERM"
else not_ok "the pod sandbox image"; diag "$out"; fi
out=$(vm_run n "cat /sys/fs/cgroup/cgroup.subtree_control" 15)
case " $out " in *" cpu "*" memory "*" pids"*|*" memory "*" pids "*) ok "cgroup controllers delegated below the root: $out" ;;
*) not_ok "cgroup controllers delegated below the root"; diag "$out" ;; esac
out=$(vm_run n "initctl status containerd" 15)
if echo "$out" | grep -Eq '^containerd +ready'; then ok "initctl status shows containerd ready"; else not_ok "initctl status containerd"; diag "$out"; fi
vm_send n "initctl poweroff"
if vm_wait_exit n 60; then ok "initctl poweroff ends QEMU"; else not_ok "initctl poweroff ends QEMU"; diag "$(vm_log n | tail)"; fi
done_testing
