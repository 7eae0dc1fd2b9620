#!/bin/sh
# 60-cluster.t: the example cluster (3 masters, 2 nodes) booted by scripts/cluster.sh (what `make cluster` runs)
# in QEMU on a private bridge inside a network namespace of its own. etcd forms one 3-member cluster over TLS,
# keeps writing with one member stopped, refuses with two stopped and recovers; containers from a locally built
# OCI image run on both nodes in their own pod subnets and reach each other and a master by address.
# When the images carry the official Kubernetes binaries the nodes must also register Ready and a pod must resolve
# kubernetes.default through the cluster DNS; without them that part is reported as skipped.
# The etcd backup job runs on every master every 30 s and its snapshots reach the next master.
# Last, the etcd disaster drill (scripts/drill.sh, what `make drill` runs) on the same cluster: 1000 keys, a backup
# copied to the next master, every member's data destroyed, the whole cluster restored with kiln-restore; then one member rebuilt from its peers.
. tests/system/lib/tap.sh
KILN_TOP=$TOP
R=$KILN_OUT/cluster
[ -f "$R/cluster.env" ] && [ -f "$KILN_OUT/machines/n2/identity.cpio.gz" ] || bail "no machines built: run 'make' first"
. "$R/cluster.env"

plan 32
export CLUSTER_RUN=$(mktemp -d "${TMPDIR:-/tmp}/kiln-cluster.XXXXXX")
export CLUSTER_NETNS=kiln-test-$$
export CLUSTER_TIMEOUT=${CLUSTER_TIMEOUT:-480}
# The masters' etcd backups every 30 s in this cluster (instead of the cluster file's hour).
export CLUSTER_BACKUP_INTERVAL=30
VM_DIR=$CLUSTER_RUN
. "$TOP/scripts/vm.sh"
cleanup() {
	sh scripts/cluster.sh down "$R" > /dev/null 2>&1
	ip netns del "$CLUSTER_NETNS" 2>/dev/null
	[ -n "${KEEP_VM_DIR:-}" ] || rm -rf "$CLUSTER_RUN"
}
trap cleanup EXIT
trap 'exit 2' INT TERM

# The container image travels in an extra archive, for this test only.
mkdir -p "$CLUSTER_RUN/extra/opt/kiln-test"
tests/system/lib/mk-oci-busybox.sh "$KILN_CACHE/busybox/busybox" "$CLUSTER_RUN/extra/opt/kiln-test/busybox.oci.tar"
scripts/mk-initramfs.sh "$CLUSTER_RUN/extra" "$CLUSTER_RUN/extra.cpio.gz" > /dev/null
export CLUSTER_EXTRA=$CLUSTER_RUN/extra.cpio.gz

if sh scripts/cluster.sh up "$R" > "$CLUSTER_RUN/up.log" 2>&1; then
	ok "all five machines ready in $(cat "$CLUSTER_RUN/ready-seconds") s: $(grep -c 'kiln: ready' "$CLUSTER_RUN/up.log") ready lines"
else
	not_ok "the cluster comes up"; diag "$(tail -n 20 "$CLUSTER_RUN/up.log")"
	for m in m1 m2 m3 n1 n2; do diag "== $m" "$(tr -d '\r' < "$CLUSTER_RUN/$m/console.log" | tail -n 8)"; done
	bail "no cluster"
fi
check "the network namespace holds the bridge and five taps, and no route but the infrastructure range" sh -c "
	[ \$(ip -n $CLUSTER_NETNS -o link show master br0 | wc -l) = 5 ] &&
	[ \"\$(ip -n $CLUSTER_NETNS route show | cut -d' ' -f1-3)\" = '192.168.0.0/24 dev br0' ] || ip -n $CLUSTER_NETNS route show"

# put/get with the etcd-backup client of the machine's own environment (/etc/profile loads it).
# initctl stop returns at once; etcd takes a moment to leave.
stop_etcd="initctl stop etcd; i=0; while initctl status etcd | grep -q '^etcd  *stopping'; do sleep 0.2; i=\$((i + 1)); [ \$i -lt 150 ] || break; done"
put() { vm_run "$1" "etcdctl --command-timeout=8s put $2 $3" 40; }
get() { vm_run "$1" "etcdctl --command-timeout=8s get $2 --print-value-only" 40; }

out=$(vm_run m1 "etcdctl --command-timeout=15s endpoint health --cluster && etcdctl member list" 60)
if [ "$(echo "$out" | grep -c 'is healthy')" = 3 ] && [ "$(echo "$out" | grep -c ', started, m[123], https://192.168.0.1[123]:2380, https://')" = 3 ]; then
	ok "etcd: three members started, every client URL healthy over TLS"
else not_ok "etcd: three healthy members"; diag "$out"; fi

put m1 /kiln/a one > /dev/null
a2=$(get m2 /kiln/a) a3=$(get m3 /kiln/a)
if [ "$a2" = one ] && [ "$a3" = one ]; then ok "a key written on m1 is read on m2 and m3"
else not_ok "a key written on m1 is read on m2 and m3"; diag "m2: $a2" "m3: $a3"; fi

vm_run m3 "$stop_etcd" 40 > /dev/null
if out=$(put m1 /kiln/b two) && [ "$(get m2 /kiln/b)" = two ]; then ok "with m3's etcd stopped, the cluster still writes (2 of 3)"
else not_ok "with one member stopped the cluster still writes"; diag "$out"; fi

vm_run m2 "$stop_etcd" 40 > /dev/null
if out=$(put m1 /kiln/c three); then not_ok "with two members stopped, a write is refused"; diag "$out"
else case $out in *"no answer"*|*"not running"*) not_ok "with two members stopped, a write is refused"; diag "$out" ;;
	*) ok "with two members stopped, a write is refused: $(echo "$out" | grep -o 'context deadline exceeded\|etcdserver: [a-z ]*' | head -n 1)" ;; esac
fi

vm_run m2 "initctl start etcd" 60 > /dev/null
vm_run m3 "initctl start etcd" 60 > /dev/null
ok_recover=
for i in 1 2 3 4 5 6; do
	if put m1 /kiln/d four > /dev/null && [ "$(get m3 /kiln/b)" = two ] && [ "$(get m3 /kiln/d)" = four ]; then ok_recover=1; break; fi
	sleep 5
done
if [ -n "$ok_recover" ]; then ok "after restarting both, the cluster writes again and m3 has caught up"
else not_ok "the cluster recovers after the restart"; diag "$(vm_run m3 'initctl status etcd; tail -n 5 /data/log/etcd.log' 20)"; fi

# Containers: one long-running on n2, found through host-local's allocation; one on n1 pings it.
img=docker.io/kiln/busybox:test
for n in n1 n2; do vm_run "$n" "ctr -n kiln images import /opt/kiln-test/busybox.oci.tar" 90 > /dev/null; done
out=$(vm_run n2 "ctr -n kiln run -d --cni $img web sleep 600 && sleep 2 && for f in /var/lib/cni/networks/kiln/10.*; do echo \${f##*/}; done" 90)
ip2=$(echo "$out" | grep -Eo '^10\.200\.2\.[0-9]+$' | head -n 1)
if [ -n "$ip2" ]; then ok "a container runs on n2 with pod address $ip2 (n2's subnet 10.200.2.0/24)"
else not_ok "a container runs on n2 in its pod subnet"; diag "$out"; fi

out=$(vm_run n1 "ctr -n kiln run --rm --cni $img c1 sh -c 'ip -4 -o addr show eth0; ping -c 2 -W 5 ${ip2:-10.200.2.254}; ping -c 1 -W 5 192.168.0.11'" 90)
if echo "$out" | grep -Eq 'inet 10\.200\.1\.[0-9]+/24'; then ok "a container on n1 gets an address in n1's subnet 10.200.1.0/24"
else not_ok "a container on n1 gets an address in its subnet"; diag "$out"; fi
if echo "$out" | grep -q "^64 bytes from ${ip2:-none}:"; then ok "the n1 container reaches the n2 container at its pod address, routed between the nodes"
else not_ok "the n1 container reaches the n2 container by pod address"; diag "$out"; fi
if echo "$out" | grep -q '^64 bytes from 192.168.0.11:'; then ok "the n1 container reaches master m1's infrastructure address"
else not_ok "the n1 container reaches a master's address"; diag "$out"; fi
out=$(vm_run n2 "ctr -n kiln tasks kill -s KILL web; sleep 1; ctr -n kiln containers rm web && echo removed" 40)
case $out in *removed*) ok "the n2 container stops and is removed" ;; *) not_ok "the n2 container is removed"; diag "$out" ;; esac

# The backup job on its own schedule on every master, each snapshot copied to the master copy_to names.
backups_ok() {
	for m in $MASTERS; do
		to=$(sed -n 's/^BACKUP_COPY_TO_NAME=//p' "$R/machines/$m/identity/env/backup.env")
		vm_run "$m" "grep -q 'etcd-backup: ok: .*copied to $to' /data/log/etcd-backup.log" 20 > /dev/null || return 1
		vm_run "$to" "ls /data/backup/etcd/from-$m/*-$m.db" 20 > /dev/null || return 1
	done
}
end=$(($(date +%s) + 150))
until backups_ok || [ "$(date +%s)" -ge "$end" ]; do sleep 5; done
if backups_ok; then
	ok "every master's scheduled backup ran and reached the next master:$(for m in $MASTERS; do printf ' %s: %s;' "$m" "$(vm_run "$m" "initctl status etcd-backup" 20 | sed -n 's/.*job every [0-9]*s, \([0-9]* runs, [0-9]* failed\).*/\1/p')"; done)"
else
	not_ok "every master's scheduled backup ran and was copied to the next master"
	for m in $MASTERS; do diag "== $m" "$(vm_run "$m" "initctl status; tail -n 3 /data/log/etcd-backup.log; ls -R /data/backup/etcd" 20)"; done
fi

# Kubernetes itself: only when the images carry every official binary (components/ or KUBE_BIN at build time).
missing=$(cat "$KILN_OUT/master/components.txt" "$KILN_OUT/node/components.txt" 2>/dev/null | awk '$2 != "present" && !/^#/ { print $1 }')
if [ -f "$KILN_OUT/master/components.txt" ] && [ -z "$missing" ]; then
	kc() { ip netns exec "$CLUSTER_NETNS" kubectl --kubeconfig "$R/admin.kubeconfig" --request-timeout=20s "$@"; }
	ready=
	for i in $(seq 1 30); do
		[ "$(kc get nodes --no-headers 2>/dev/null | awk '$2 == "Ready"' | wc -l)" = 2 ] && { ready=1; break; }
		sleep 10
	done
	if [ -n "$ready" ]; then ok "both nodes registered Ready with the apiservers"
	else not_ok "both nodes registered Ready"; diag "$(kc get nodes -o wide 2>&1)"; fi
	# A pod of the local busybox image (imported for the kubelet's namespace) asks the cluster DNS.
	for n in n1 n2; do vm_run "$n" "ctr -n k8s.io images import /opt/kiln-test/busybox.oci.tar" 90 > /dev/null; done
	kc apply -f "$R/addons/coredns.yaml" > "$CLUSTER_RUN/addons.log" 2>&1
	kc run dns-test --image=$img --image-pull-policy=Never --restart=Never --command -- \
		nslookup "kubernetes.default.svc.$CLUSTER_DOMAIN" > /dev/null 2>&1
	phase=
	for i in $(seq 1 36); do
		phase=$(kc get pod dns-test -o jsonpath='{.status.phase}' 2>/dev/null)
		case $phase in Succeeded|Failed) break ;; esac
		sleep 5
	done
	out=$(kc logs dns-test 2>&1)
	if [ "$phase" = Succeeded ] && echo "$out" | grep -q "Address: *$SERVICE_IP"; then
		ok "a pod resolves kubernetes.default.svc.$CLUSTER_DOMAIN to $SERVICE_IP through the cluster DNS"
	else
		not_ok "a pod resolves kubernetes.default through the cluster DNS (phase: ${phase:-none})"
		diag "$out" "$(cat "$CLUSTER_RUN/addons.log")" "$(kc describe pod dns-test 2>&1 | tail -n 15)"
	fi
else
	skip "nodes Ready with the apiservers: the images lack" $missing "(put the official binaries in components/ or KUBE_BIN)"
	skip "a pod resolves kubernetes.default through the cluster DNS: the images lack the Kubernetes binaries"
fi

# The drill: each of its 17 steps is one result here; a drill that stops early fails the steps it never reached.
sh scripts/drill.sh run "$R" > "$CLUSTER_RUN/drill.log" 2>&1
n=0
while IFS= read -r line; do
	case $line in
	"drill: ok: "*) ok "drill: ${line#drill: ok: }"; n=$((n + 1)) ;;
	"drill: FAILED: "*) not_ok "drill: ${line#drill: FAILED: }"; n=$((n + 1)) ;;
	esac
done < "$CLUSTER_RUN/drill.log"
[ "$n" = 17 ] || { diag "$(cat "$CLUSTER_RUN/drill.log")"; for m in $MASTERS; do diag "== $m" "$(vm_log "$m" | tail -n 10)"; done; }
while [ "$n" -lt 17 ]; do not_ok "drill: a step it never reached ($(tail -n 1 "$CLUSTER_RUN/drill.log"))"; n=$((n + 1)); done
done_testing
