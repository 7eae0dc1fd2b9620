#!/bin/sh
# drill.sh [run] [RENDERED]: the etcd disaster drill (`make drill`). Without `run` it boots the cluster of RENDERED
# (default out/cluster) with scripts/cluster.sh in a network namespace of its own, runs the drill and powers the
# cluster off; with `run` it drills a cluster that is already up (CLUSTER_RUN, CLUSTER_NETNS as cluster.sh has them:
# tests/system/60-cluster.t does that).
#
# The drill: write 1000 keys, take a backup on the first master (the scheduled job, started now; it also copies the
# snapshot to the next master), write 100 more keys, destroy the etcd data of every master, restore the whole
# cluster from the newest snapshot with kiln-restore exactly as the README's runbook says (stop every control plane
# first, push the snapshot to the other masters, restore on each), and check that every key written before the
# backup is there and none written after it. Then one member alone is lost and rebuilt from its peers with
# `kiln-restore member`. One line per step: `drill: ok: ...` or `drill: FAILED: ...`.
. "$(dirname "$0")/lib.sh"
set +e  # every step checks its own result and says so

mode=all
[ "${1:-}" = run ] && { mode=run; shift; }
rendered=${1:-$KILN_OUT/cluster}
[ -f "$rendered/cluster.env" ] || die "$rendered/cluster.env: no rendered cluster (run 'make' first)"
. "$rendered/cluster.env"
[ "$(echo $MASTERS | wc -w)" -ge 3 ] || die "the drill needs 3 masters or more; $CLUSTER_NAME has: $MASTERS"
first=${MASTERS%% *}
need_console_shell "the drill"

if [ "$mode" = all ]; then
	[ "$(id -u)" = 0 ] || die "the drill boots a cluster: it needs root (network namespace, taps)"
	CLUSTER_RUN=${CLUSTER_RUN:-$(mktemp -d "${TMPDIR:-/tmp}/kiln-drill.XXXXXX")}
	CLUSTER_NETNS=${CLUSTER_NETNS:-kiln-drill-$$}
	export CLUSTER_RUN CLUSTER_NETNS
	trap 'sh "$KILN_TOP/scripts/cluster.sh" down "$rendered" > /dev/null 2>&1' EXIT
	trap 'exit 2' INT TERM
	say "booting $CLUSTER_NAME ($MASTERS $NODES), consoles in $CLUSTER_RUN"
	sh "$KILN_TOP/scripts/cluster.sh" up "$rendered" > "$CLUSTER_RUN/up.log" 2>&1 ||
		die "the cluster did not come up: $(tail -n 1 "$CLUSTER_RUN/up.log")"
fi
: "${CLUSTER_RUN:?CLUSTER_RUN: the running cluster's folder}" "${CLUSTER_NETNS:?CLUSTER_NETNS: its namespace}"
VM_DIR=$CLUSTER_RUN
. "$KILN_TOP/scripts/vm.sh"

failed=0
step_ok() { echo "drill: ok: $*"; }
step_failed() { echo "drill: FAILED: $*"; failed=1; }
t0=$(date +%s)
elapsed() { echo "$(($(date +%s) - t0)) s"; }

# etcdctl on the build host, inside the cluster's namespace, with the first master's backup client identity.
pki=$rendered/machines/$first/identity/pki/etcd
endpoints=$(for m in $MASTERS; do printf 'https://%s:2379,' "$(machine_field "$m" ADDRESS)"; done)
ctl() { ctl_at "${endpoints%,}" "$@"; }
ctl_at() {
	e=$1; shift
	ip netns exec "$CLUSTER_NETNS" etcdctl --endpoints "$e" --cacert "$pki/ca.crt" --cert "$pki/backup.crt" \
		--key "$pki/backup.key" --command-timeout=30s "$@"
}
# put_keys PREFIX FROM TO: one transaction per 100 keys (etcd's default limit is 128 operations).
put_keys() {
	i=$2
	while [ "$i" -le "$3" ]; do
		j=$((i + 99)); [ "$j" -le "$3" ] || j=$3
		{ echo; seq "$i" "$j" | awk -v p="$1" '{ printf "put %s%04d v%d\n", p, $1, $1 }'; echo; echo; } |
			ctl txn > /dev/null 2>&1 || return 1
		i=$((j + 1))
	done
}
count() { ctl get "$1" --prefix --keys-only 2>/dev/null | grep -c . || :; }
# Kubernetes, when the images carry it: objects made through the API before and after the backup.
kube=
grep -q '^kube-apiserver present' "$KILN_OUT/master/components.txt" 2>/dev/null && kube=1
KC=$(kube_kubectl 2>/dev/null) || kube=
kc() { ip netns exec "$CLUSTER_NETNS" "$KC" --kubeconfig "$rendered/admin.kubeconfig" --request-timeout=30s "$@"; }
# kc_any ARGS: through the first master whose apiserver answers; its answer alone (an error from the server, such as
# NotFound, is an answer), else the last master's error
kc_any() {
	for m in $MASTERS; do
		kout=$(kc --server "https://$(machine_field "$m" ADDRESS):6443" "$@" 2>&1) && { echo "$kout"; return 0; }
		case $kout in *"Error from server"*) echo "$kout"; return 1 ;; esac
	done
	echo "$kout"; return 1
}

# 1. 1000 keys.
if put_keys /drill/before/k 1 1000 && [ "$(count /drill/before/)" = 1000 ]; then step_ok "1000 keys written ($(elapsed))"
else step_failed "writing 1000 keys: $(ctl endpoint health 2>&1 | tail -n 3)"; exit 1; fi

if [ -n "$kube" ]; then
	if out=$(kc_any create deployment drill-before --image=kiln.local/pause:1 2>&1); then step_ok "Kubernetes: Deployment drill-before created"
	else step_failed "Kubernetes: creating Deployment drill-before: $out"; fi
fi

# 2. A backup on the first master: the scheduled job, run now; it ends with its status line in the log.
# A scheduled run under way is stopped first: the drill's backup must start after the 1000 keys.
vm_run "$first" "initctl stop etcd-backup; i=0; while initctl status etcd-backup | grep -q '^etcd-backup  *stopping'; do sleep 0.5; i=\$((i + 1)); [ \$i -lt 60 ] || break; done; : > /data/log/etcd-backup.log; initctl start etcd-backup" 60 > /dev/null || :
res=
for i in $(seq 1 60); do
	res=$(vm_run "$first" "grep '^etcd-backup: \\(ok\\|failed\\)' /data/log/etcd-backup.log | tail -n 1" 20) && [ -n "$res" ] && break
	sleep 2
done
case $res in
*"etcd-backup: ok"*) step_ok "backup on $first: ${res#etcd-backup: ok: } ($(elapsed))" ;;
*) step_failed "backup on $first: ${res:-no result in 120 s}"; exit 1 ;;
esac
snap=$(echo "$res" | sed -n 's/^etcd-backup: ok: \([^ ]*\) .*/\1/p')
to=$(sed -n 's/^BACKUP_COPY_TO_NAME=//p' "$rendered/machines/$first/identity/env/backup.env")
if out=$(vm_run "$to" "kiln-restore verify $snap" 60); then step_ok "the copy on $to: $(echo "$out" | tail -n 1 | sed 's/^kiln-restore: //')"
else step_failed "the copy of $snap on $to: $(echo "$out" | tail -n 1)"; fi

# 3. Keys written after the backup: a restore to that snapshot must not have them.
put_keys /drill/after/k 1 100 && step_ok "100 keys written after the backup" || step_failed "writing after the backup"
[ -z "$kube" ] || kc_any create deployment drill-after --image=kiln.local/pause:1 > /dev/null 2>&1 ||
	step_failed "Kubernetes: creating Deployment drill-after"

# 4. Disaster: every member's data destroyed (etcd killed where it stood, its folder removed).
for m in $MASTERS; do
	vm_run "$m" "initctl stop etcd; sleep 1; kill -9 \$(pidof etcd) 2>/dev/null; rm -rf /data/etcd; ls /data" 30 > /dev/null || :
done
if ! ctl get /drill/before/k0001 > /dev/null 2>&1; then step_ok "the data of all $(echo $MASTERS | wc -w) members destroyed: etcd answers nowhere"
else step_failed "etcd still answers after its data was destroyed"; fi

# 5. The runbook: the control plane stopped everywhere first; the snapshot pushed from the first master to the
#    others; then a restore on every master from that one snapshot.
stopped=
for m in $MASTERS; do
	out=$(vm_run "$m" "kiln-restore stop" 120) && stopped="$stopped $m" || echo "drill:   $m: $(echo "$out" | tail -n 1)"
done
[ "$stopped" = " $MASTERS" ] && step_ok "kiln-restore stop: control plane, then etcd, stopped on$stopped" ||
	step_failed "kiln-restore stop worked only on:$stopped"
if out=$(vm_run "$first" "kiln-restore list; kiln-restore push $snap" 120); then
	step_ok "kiln-restore push $snap from $first: $(echo "$out" | grep -c 'stored') copies stored"
else step_failed "kiln-restore push on $first: $(echo "$out" | tail -n 3 | tr '\n' ' ')"; fi
echo "$out" | sed 's/^/drill:   /'
for m in $MASTERS; do
	if out=$(vm_run "$m" "kiln-restore cluster $snap" 180); then
		step_ok "$m: $(echo "$out" | grep 'restored' | sed 's/^kiln-restore: //')"
	else step_failed "kiln-restore cluster on $m: $(echo "$out" | tail -n 2 | tr '\n' ' ')"; fi
done

# 6. The restored cluster: healthy, every key of before the backup, none of after.
healthy= end=$(($(date +%s) + 180))
while [ "$(date +%s)" -lt "$end" ]; do
	[ "$(ctl --command-timeout=5s endpoint health 2>&1 | grep -c 'is healthy')" = "$(echo $MASTERS | wc -w)" ] && { healthy=1; break; }
	sleep 2
done
if [ -n "$healthy" ]; then step_ok "the restored cluster: every member healthy ($(elapsed))"
else step_failed "the restored cluster is not healthy: $(ctl endpoint health 2>&1 | tr '\n' ' ')"; fi
before=$(count /drill/before/) after=$(count /drill/after/)
v=$(ctl get /drill/before/k0777 --print-value-only 2>/dev/null) || :
if [ "$before" = 1000 ] && [ "$v" = v777 ]; then step_ok "all 1000 keys written before the backup are back"
else step_failed "keys before the backup: $before of 1000 (k0777 = '$v')"; fi
if [ "$after" = 0 ]; then step_ok "none of the 100 keys written after the backup: the cluster is at the snapshot's revision"
else step_failed "$after keys written after the backup are present"; fi
members=$(ctl member list 2>&1) || :
if [ "$(echo "$members" | grep -c ', started, ')" = "$(echo $MASTERS | wc -w)" ]; then step_ok "$(echo $MASTERS | wc -w) members started in the new cluster"
else step_failed "members: $members"; fi
if put_keys /drill/new/k 1 10 && [ "$(count /drill/new/)" = 10 ]; then step_ok "the restored cluster takes writes"
else step_failed "the restored cluster does not take writes"; fi

if [ -n "$kube" ]; then
	# The control plane comes back on its own once etcd has quorum: wait for an apiserver to be ready.
	end=$(($(date +%s) + 420)) ready=
	while [ "$(date +%s)" -lt "$end" ]; do
		[ "$(kc_any get --raw=/readyz 2>/dev/null)" = ok ] && { ready=1; break; }
		sleep 5
	done
	b=$(kc_any get deployment drill-before -o name 2>&1) a=$(kc_any get deployment drill-after -o name 2>&1)
	if [ -n "$ready" ] && [ "$b" = deployment.apps/drill-before ] && echo "$a" | grep -q 'NotFound'; then
		step_ok "Kubernetes: the apiservers are back ($(elapsed)) with Deployment drill-before, made before the backup, and without drill-after"
	else step_failed "Kubernetes after the restore: ready=${ready:-no}, before: $b, after: $a"; fi
fi

# 7. One member lost while the others keep quorum: the last master's data destroyed, rebuilt from its peers with
#    kiln-restore member; it must then hold every key itself (a serializable read answers from its own data).
last=${MASTERS##* } addr=https://$(machine_field "$last" ADDRESS):2379
vm_run "$last" "initctl stop etcd; sleep 1; rm -rf /data/etcd" 30 > /dev/null
if out=$(vm_run "$last" "kiln-restore member" 180); then step_ok "$last: $(echo "$out" | grep 're-added' | sed 's/^kiln-restore: //' | cut -c1-120)"
else step_failed "kiln-restore member on $last: $(echo "$out" | tail -n 2 | tr '\n' ' ')"; fi
n= end=$(($(date +%s) + 120))
while [ "$(date +%s)" -lt "$end" ]; do
	n=$(ctl_at "$addr" --command-timeout=5s get /drill/before/ --prefix --keys-only --consistency=s 2>/dev/null | grep -c .)
	[ "$n" = 1000 ] && break
	sleep 2
done
m=$(ctl member list 2>&1 | grep -c ', started, ')
if [ "$n" = 1000 ] && [ "$m" = "$(echo $MASTERS | wc -w)" ]; then step_ok "$last rejoined: it holds all 1000 keys itself, $m members started ($(elapsed))"
else step_failed "$last after kiln-restore member: $n of 1000 keys in its own data, $m members started"; fi

echo "drill: $([ "$failed" = 0 ] && echo passed || echo FAILED) in $(elapsed)"
exit $failed
