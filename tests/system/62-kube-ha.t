#!/bin/sh
# 62-kube-ha.t (make test-long): Kubernetes with a master lost, on tests/clusters/ha.yaml (three masters, one node;
# its own PKI, rendered here), booted by scripts/cluster.sh in QEMU from the role images make built: m1 and m2 run
# etcd and the control plane, m3 etcd alone (kiln.disable=kube-apiserver: three etcd members, so that one master may
# be lost, and two apiservers, what two emulated cores hold), n1 reaches the API through apiproxy. Checked: both
# apiservers ready, the node Ready; the etcd disaster drill (scripts/drill.sh, what `make drill` runs): 1000 keys
# and a Deployment, a backup copied to the next master, every member's data destroyed, the whole cluster restored
# with kiln-restore (the Deployment made before the backup is back, one made after it is not), one member rebuilt
# from its peers; then the node Ready again through the restored control plane. Last, m1 is powered off: the node
# stays Ready through apiproxy, kubectl works through m2, the controller-manager and scheduler lead from m2, and a
# new pod is scheduled and runs. A pod on n1 writes a numbered line every second from before the drill on: with m1
# off, every line it wrote is on m2 (n1 sends its logs to m1 and m2), none missing. Then m1 is booted again: m1 has a
# local disk for its DATA (made on the blank disk at its first boot, as a PXE master makes it), so it comes back with
# its etcd member and its stored logs; its apiserver is ready again, and every line the pod wrote, those of the
# outage too (n1 kept them queued for m1), is on m1: on a second master, none missing, duplicates counted.
# Under make test every result is reported skipped (four machines with two apiservers and the drill take about
# 20 minutes under emulation: 61-kube.t checks Kubernetes on one master and two nodes there).
. tests/system/lib/tap.sh
use_test_tree
KILN_TOP=$TOP
drill_steps=19
plan $((drill_steps + 10))
if [ -z "${KILN_LONG:-}" ]; then
	for c in "four machines ready" "both apiservers ready" "the node Ready" "a pod on n1 writing numbered lines" \
		$(seq -f 'drill_step_%g' 1 $drill_steps) "the nodes Ready after the restore" \
		"m1 off: the nodes stay Ready, kubectl through m2" "m1 off: a new pod runs" "m1 off: every line of n1's pod on m2" \
		"m1 back on its DATA: both apiservers ready" "m1 back: every line of n1's pod on m1 too"; do
		skip "$c: under make test-long (KILN_LONG=1), for make test's time"
	done
	exit 0
fi
[ -f "$KILN_OUT/master/initramfs.cpio.gz" ] && [ -f "$KILN_OUT/node/initramfs.cpio.gz" ] || bail "no images built: run 'make' first"
[ "$(id -u)" = 0 ] || bail "a cluster needs root (network namespace, taps)"
T=$(mktemp -d "${TMPDIR:-/tmp}/kiln-ha.XXXXXX")
export CLUSTER_RUN=$T/run
export CLUSTER_NETNS=kiln-ha-$$ CLUSTER_TIMEOUT=${CLUSTER_TIMEOUT:-1500}
export CLUSTER_BOOT=initramfs CLUSTER_MEM=${CLUSTER_MEM:-1536}
export CLUSTER_APPEND_FOR="m3=kiln.disable=kube-apiserver"
export CLUSTER_DATA_FOR="m1=2048" # m1 is powered off and back: its DATA on a disk of its own
kube_masters="m1 m2" kube_off=
VM_DIR=$CLUSTER_RUN
. "$TOP/scripts/vm.sh"
. tests/system/lib/kube-tree.sh

# This cluster's own output tree: its render and identity archives, the role images make built (drill.sh and
# cluster.sh read it as KILN_OUT).
kube_tree tests/clusters/ha.yaml
mkdir -p "$CLUSTER_RUN/www"
www=$CLUSTER_RUN/www
. tests/system/lib/kube-prep.sh
. tests/system/lib/kube-lib.sh
[ -n "$kube" ] || bail "no Kubernetes to check: $kube_why"

kube_up "four machines"
ip netns exec "$CLUSTER_NETNS" "$KILN_CACHE/busybox/busybox" httpd -f -p "$host:8081" -h "$www" &
www_pid=$!

readyz() { for m in $kube_masters; do printf '%s: %s\n' "$m" "$(kc_at "$m" get --raw=/readyz 2>&1 | tail -n 1)"; done; }
both_ready() { [ "$(readyz | grep -c ': ok$')" = 2 ]; }
if until_ok 300 both_ready; then ok "both apiservers answer /readyz ok (m1, m2); m3 runs etcd alone"
else not_ok "both apiservers are ready"; diag "$(readyz)"; fi
if until_ok 300 nodes_ready; then ok "$NODES Ready, OS image 'kiln $v1 (node)', kubelet $KUBERNETES_VERSION"
else not_ok "$NODES Ready"; diag "$(kc get nodes -o wide 2>&1)"; fi
import_image $NODES # for the pods: the numbered lines' and the one made with m1 off
# n1's pod writes a numbered line every second; its log goes to m1 and m2, n1's two log targets. Made before the
# drill, whose restore brings it back (it predates the backup), it writes on through m1's power-off below. (Made
# again while it is not there: right after the apiservers are ready the namespace's service account may be missing.)
seq_pod() {
	kc get pod seq > /dev/null 2>&1 ||
		kc run seq --image="$img" --image-pull-policy=Never --restart=Never --command -- \
			sh -c 'i=0; while :; do i=$((i + 1)); echo "kiln-seq $i"; sleep 1; done' > "$CLUSTER_RUN/seq.log" 2>&1
	[ "$(kc get pod seq -o jsonpath='{.status.phase}' 2>/dev/null)" = Running ]
}
if until_ok 240 seq_pod; then ok "a pod on n1 writes numbered lines: $(kc get pod seq -o jsonpath='{.spec.nodeName} {.status.podIP}')"
else not_ok "a pod on n1 writing numbered lines"; diag "$(cat "$CLUSTER_RUN/seq.log")" "$(kc describe pod seq 2>&1 | tail -n 12)"; fi
# seq_written: the last number n1's pod wrote, from its own log on n1 (the newest file: a restarted container writes
# the next). seq_on MACHINE: the numbers MACHINE has stored of that log, one a line.
seq_written() {
	vm_run n1 "f=\$(ls -t /data/log/pods/default_seq_*/seq/*.log 2> /dev/null | head -n 1); [ -n \"\$f\" ] && sed -n 's/.*kiln-seq \([0-9]*\)\$/\1/p' \"\$f\" | tail -n 1" 30 |
		tr -dc '0-9'
}
seq_on() { vm_run "$1" "sed -n 's/.*kiln-seq \([0-9]*\)\$/\1/p' /data/logs/n1/pod/default_seq_seq.log 2> /dev/null" 30 | tr -dc '0-9\n'; }

# The drill: each of its steps is one result here; a drill that stops early fails the steps it never reached.
KILN_OUT=$T/out sh scripts/drill.sh run "$R" > "$CLUSTER_RUN/drill.log" 2>&1
n=0
while IFS= read -r line; do
	case $line in
	"drill: ok: "*) ok "drill: ${line#drill: ok: }"; n=$((n + 1)) ;;
	"drill: FAILED: "*) not_ok "drill: ${line#drill: FAILED: }"; n=$((n + 1)) ;;
	esac
done < "$CLUSTER_RUN/drill.log"
[ "$n" = "$drill_steps" ] || { diag "$(cat "$CLUSTER_RUN/drill.log")"; for m in $MASTERS; do diag "== $m" "$(vm_log "$m" | tail -n 10)"; done; }
while [ "$n" -lt "$drill_steps" ]; do not_ok "drill: a step it never reached ($(tail -n 1 "$CLUSTER_RUN/drill.log"))"; n=$((n + 1)); done

t=$(date +%s)
if until_ok 420 nodes_ready $kube_masters; then ok "after the restore $NODES Ready again ($(($(date +%s) - t)) s after the drill)"
else not_ok "the nodes Ready after the restore"; diag "$(kc_at m2 get nodes -o wide 2>&1)" "$(readyz)"; fi

# m1 powered off: the node reaches m2 through apiproxy (m1 stays off).
seq_off=$(seq_written)
vm_send m1 "initctl poweroff"
vm_wait_exit m1 120 > /dev/null 2>&1 || kill "$(cat "$CLUSTER_RUN/m1/qemu.pid")" 2>/dev/null
off=$(date +%s)
sleep 50 # longer than the controller-manager's 40 s grace before it marks a silent node NotReady
leaders() { for l in kube-controller-manager kube-scheduler; do h=$(kc_at m2 -n kube-system get lease "$l" -o jsonpath='{.spec.holderIdentity}' 2>&1); printf '%s %s; ' "$l" "${h%%_*}"; done; }
# Ready through the outage: the nodes whose Ready condition is True and has not changed since before m1 went off.
still_ready() {
	kc_at m2 get nodes -o jsonpath='{range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].lastTransitionTime}{"\n"}{end}' |
		while read -r name st since; do
			[ "$st" = True ] && [ "$(date -d "$since" +%s 2>/dev/null || echo "$off")" -lt "$off" ] && echo "$name"
		done | sort | tr '\n' ' '
}
if [ "$(still_ready)" = "$(echo $NODES | tr ' ' '\n' | sort | tr '\n' ' ')" ]; then ok "m1 powered off for $(($(date +%s) - off)) s: $NODES stayed Ready throughout, kubectl through m2 works; leaders: $(leaders)"
else not_ok "with m1 off the node stays Ready"; diag "$(kc_at m2 get nodes 2>&1)" "$(vm_run n1 'tail -n 5 /data/log/apiproxy.log' 20)"; fi
# The pod is made again while it is not there (one try failed once: its error is kept for the diagnostics).
running_pod() {
	kc_at m2 get pod after-m1 > /dev/null 2>&1 ||
		kc_at m2 run after-m1 --image="$img" --image-pull-policy=Never --restart=Never --command -- sh -c 'echo up; sleep 600' \
			> "$CLUSTER_RUN/after-m1.log" 2>&1
	[ "$(kc_at m2 get pod after-m1 -o jsonpath='{.status.phase}' 2>/dev/null)" = Running ]
}
if until_ok 300 running_pod; then ok "with m1 off a new pod is scheduled and runs: $(kc_at m2 get pod after-m1 -o jsonpath='{.spec.nodeName} {.status.podIP}') ($(($(date +%s) - off)) s after m1 went off; leaders: $(leaders))"
else not_ok "with m1 off a new pod is scheduled and runs"; diag "$(cat "$CLUSTER_RUN/after-m1.log" 2>&1)" "$(kc_at m2 describe pod after-m1 2>&1 | tail -n 15)" "$(leaders)"; fi
# n1's pod's lines with m1 off: every number it wrote from 10 before the power-off to 10 before the last is on m2
# (what n1's forwarder sends m2 does not wait for m1); the last few may still be on the way.
# seq_all_on MACHINE: every number from 10 before m1's power-off to 10 before the last written is on MACHINE.
seq_all_on() {
	seq_last=$(seq_written) seq_got=$(seq_on "$1")
	seq_from=$((${seq_off:-0} > 10 ? ${seq_off:-0} - 10 : 1)) seq_to=$((${seq_last:-0} - 10))
	seq_missing=$(echo "$seq_got" | awk -v a="$seq_from" -v b="$seq_to" '$1 >= a && $1 <= b { seen[$1] = 1 }
		END { for (i = a; i <= b; i++) if (!(i in seen)) m++; print m + 0 }')
	seq_dup=$(echo "$seq_got" | sort -n | uniq -d | grep -c .)
	[ -n "$seq_off" ] && [ "$seq_to" -gt $((seq_from + 60)) ] && [ "$seq_missing" = 0 ]
}
if until_ok 120 seq_all_on m2; then
	ok "with m1 off, every line n1's pod wrote is on m2: numbers $seq_from to $seq_to ($((seq_to - seq_from + 1)) lines, m1 off $(($(date +%s) - off)) s; $seq_dup duplicates)"
else not_ok "with m1 off every line of n1's pod is on m2"
	diag "written: $seq_off at the power-off, $seq_last now; on m2 from $seq_from to $seq_to: $seq_missing missing" \
		"$(vm_run n1 'tail -n 5 /data/log/logship.log' 20)" "$(vm_run m2 'ls -la /data/logs/n1/pod/; tail -n 3 /data/log/logsink.log' 20)"; fi

# m1 back: booted again from its initramfs, its DATA from its disk (etcd's member and the logs stored before).
off_s=$(($(date +%s) - off))
KILN_OUT=$T/out sh scripts/cluster.sh start "$R" m1 > "$CLUSTER_RUN/m1-start.log" 2>&1
vm_wait m1 'kiln: data: .* found in|kiln: data: made|kiln: no data partition' 120
m1_data=$(vm_log m1 | grep -o 'kiln: data: .* found in.*\|kiln: data: made.*\|kiln: no data partition.*' | head -n 1)
if case $m1_data in *" found in "*) :;; *) false;; esac && vm_wait m1 'kiln: (ready|degraded):' 600 &&
	vm_log m1 | grep -q 'kiln: ready:' && until_ok 300 both_ready; then
	ok "m1 back after $off_s s off, on its DATA disk ($m1_data): ready in $(vm_elapsed m1) s, both apiservers answer /readyz ok; leaders: $(leaders)"
else not_ok "m1 back on its DATA: both apiservers ready"
	diag "$(cat "$CLUSTER_RUN/m1-start.log")" "$(readyz)" "$(vm_log m1 | grep 'kiln:' | tail -n 12)"; fi
# what n1 queued for m1 while it was off reaches it: every line from before the power-off on is on m1 too
if until_ok 300 seq_all_on m1; then
	ok "m1 back: every line n1's pod wrote is on m1 too: numbers $seq_from to $seq_to ($((seq_to - seq_from + 1)) lines, $off_s s of them with m1 off; $seq_dup duplicates)"
else not_ok "m1 back: every line of n1's pod on m1 too"
	diag "written: $seq_off at the power-off, $seq_last now; on m1 from $seq_from to $seq_to: $seq_missing missing" \
		"$(vm_run n1 'tail -n 5 /data/log/logship.log' 20)" "$(vm_run m1 'ls -la /data/logs/n1/pod/; tail -n 3 /data/log/logsink.log' 20)"; fi
done_testing
