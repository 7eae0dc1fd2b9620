#!/bin/sh
# 61-kube.t: Kubernetes with the real components (the ones make builds from Debian's source, or the official ones in
# components/) on tests/clusters/kube.yaml: one master (etcd, apiserver, controller-manager, scheduler, the cluster
# DNS) and two nodes (containerd, kubelet, kube-proxy, apiproxy), booted by scripts/cluster.sh in QEMU from the role
# images make built, each with the identity of this cluster (its own PKI, rendered here). The master gets both of the
# build host's cores. The checks are tests/system/lib/kube-checks.sh, which 60-cluster.t runs on the example cluster
# under make test-long: /readyz, leader election, both nodes Ready with their OS image, a Deployment over both nodes
# in their pod subnets, exec and pod-to-pod traffic, logs, a ClusterIP Service from the other node, the kube-dns
# Endpoints, the cluster DNS, a pod's service-account token, the Node authorizer. Then a pod's log forwarded to the
# master, and what each machine uses.
. tests/system/lib/tap.sh
use_test_tree
KILN_TOP=$TOP
[ -f "$KILN_OUT/master/initramfs.cpio.gz" ] && [ -f "$KILN_OUT/node/initramfs.cpio.gz" ] || bail "no images built: run 'make' first"
[ "$(id -u)" = 0 ] || bail "a cluster needs root (network namespace, taps)"

plan 17
T=$(mktemp -d "${TMPDIR:-/tmp}/kiln-kube.XXXXXX")
export CLUSTER_RUN=$T/run CLUSTER_NETNS=kiln-kube-$$ CLUSTER_TIMEOUT=${CLUSTER_TIMEOUT:-900}
export CLUSTER_BOOT=initramfs CLUSTER_MEM=${CLUSTER_MEM:-1536} CLUSTER_SMP_FOR=m1=2
VM_DIR=$CLUSTER_RUN
. "$TOP/scripts/vm.sh"
. tests/system/lib/kube-tree.sh

# This cluster's own output tree: its render and identity archives, the role images make built.
kube_tree tests/clusters/kube.yaml
mkdir -p "$CLUSTER_RUN/www"

www=$CLUSTER_RUN/www
. tests/system/lib/kube-prep.sh

kube_up "one master and two nodes"
ip netns exec "$CLUSTER_NETNS" "$KILN_CACHE/busybox/busybox" httpd -f -p "$host:8081" -h "$www" &
www_pid=$!

kube_masters=$MASTERS kube_off=
. tests/system/lib/kube-checks.sh

# Logs: a container's log reaches the master: n2's web pod, as the kubelet wrote it, filed by m1's log receiver.
pod_log() { vm_run m1 "cat /data/logs/n2/pod/default_${p2}_web.log" 20 | tr -d '\r'; }
pod_log_on_m1() { pod_log | grep -q "web: serving as $p2"; }
if [ -z "$kube" ]; then kube_skip "a pod's log on the master"
elif [ -n "${p2:-}" ] && until_ok 90 pod_log_on_m1; then ok "n2's pod log is on m1, as /data/logs/n2/pod/default_${p2}_web.log: '$(pod_log | tail -n 1)'"
else not_ok "n2's pod log on m1"; diag "$(vm_run m1 'ls -R /data/logs | head -n 30; tail -n 5 /data/log/logsink.log' 20)" "$(vm_run n2 'tail -n 5 /data/log/logship.log' 20)"; fi

# What each machine uses once the cluster runs pods (MemTotal - MemAvailable).
mem=
for m in $MASTERS $NODES; do
	u=$(vm_run "$m" "awk '/^MemTotal/ { t = \$2 } /^MemAvailable/ { a = \$2 } END { print int((t - a) / 1024) }' /proc/meminfo" 30 | tr -dc 0-9)
	mem="$mem $m ${u:-?} MiB;"
done
if ! echo "$mem" | grep -q '?'; then ok "memory in use with pods running:$mem"
else not_ok "memory in use on every machine:$mem"; fi
done_testing
