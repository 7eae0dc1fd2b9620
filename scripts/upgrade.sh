#!/bin/sh
# upgrade.sh [RENDERED]: the rolling upgrade of a QEMU cluster booted from its disks (`make cluster
# CLUSTER_BOOT=disk`, then `make upgrade`), one machine at a time, masters first, so etcd keeps its quorum:
#
#   1. serve every role's upgrade image over HTTP from the cluster's network namespace (scripts/serve.sh);
#   2. for each master: wait until etcd is healthy (every member's client URL healthy, as many members as
#      masters), then `initctl upgrade http://.../master/system.img` on its console, then wait until the new
#      system committed itself (`kiln: upgrade: committed`); a rollback or an error stops the whole upgrade
#      there, before any other machine is touched;
#   3. etcd healthy again, then the nodes the same way, one at a time.
# A machine already running the image's version is left alone, so running it again after a stop resumes.
# The same steps by hand on real machines: README, "Upgrading a cluster".
#
# Environment: CLUSTER_RUN, CLUSTER_NETNS (as scripts/cluster.sh has them), UPGRADE_DIR (a folder of
# <role>/system.img with their .sig, default out/), UPGRADE_ROLES (default "master node"), UPGRADE_DEADLINE
# (seconds a trial boot has to become ready, default 300), UPGRADE_TIMEOUT (seconds per machine, default 900),
# UPGRADE_PORT (default 8080), UPGRADE_MACHINES (only these machines, in the same order). One line a step: `upgrade: ...`; exit 1 at the first failure.
. "$(dirname "$0")/lib.sh"

rendered=${1:-$KILN_OUT/cluster}
[ -f "$rendered/cluster.env" ] || die "$rendered/cluster.env: no rendered cluster (run 'make' first)"
. "$rendered/cluster.env"
[ "$(id -u)" = 0 ] || die "the cluster's network namespace needs root"
need_console_shell "the rolling upgrade"
VM_DIR=${CLUSTER_RUN:-$KILN_OUT/run}
ns=${CLUSTER_NETNS:-kiln-$CLUSTER_NAME}
dir=${UPGRADE_DIR:-$KILN_OUT} roles=${UPGRADE_ROLES:-master node}
deadline=${UPGRADE_DEADLINE:-300} per=${UPGRADE_TIMEOUT:-900} port=${UPGRADE_PORT:-8080}
. "$KILN_TOP/scripts/vm.sh"
ip netns list | grep -q "^$ns\\b" || die "no network namespace $ns: is the cluster up? (make cluster CLUSTER_BOOT=disk)"

step() { echo "upgrade: $*"; }
fail() { echo "upgrade: FAILED: $*"; exit 1; }
t0=$(date +%s)
elapsed() { echo "$(($(date +%s) - t0)) s"; }

# Which machines, in order; each must be running from its disk (an initramfs machine has no slot to write).
todo=
for r in $roles; do
	case $r in master) todo="$todo $MASTERS" ;; node) todo="$todo $NODES" ;; *) die "UPGRADE_ROLES: unknown role '$r'" ;; esac
	[ -f "$dir/$r/system.img" ] || die "$dir/$r/system.img: missing (run 'make')"
done
if [ -n "${UPGRADE_MACHINES:-}" ]; then
	for m in $UPGRADE_MACHINES; do case " $todo " in *" $m "*) ;; *) die "UPGRADE_MACHINES: $m is not a machine of the roles $roles" ;; esac; done
	only=$todo todo=
	for m in $only; do case " $UPGRADE_MACHINES " in *" $m "*) todo="$todo $m" ;; esac; done
fi
for m in $todo; do
	kill -0 "$(cat "$VM_DIR/$m/qemu.pid" 2>/dev/null)" 2>/dev/null || die "$m is not running (make cluster CLUSTER_BOOT=disk)"
	[ -f "$VM_DIR/$m/disk.img" ] || die "$m was not booted from its disk: an upgrade needs CLUSTER_BOOT=disk"
done

# etcdctl on the build host, in the namespace, with the first master's backup client certificate.
pki=$rendered/machines/${MASTERS%% *}/identity/pki/etcd
endpoints=$(for m in $MASTERS; do printf 'https://%s:2379,' "$(machine_field "$m" ADDRESS)"; done)
ctl() {
	ip netns exec "$ns" etcdctl --endpoints "${endpoints%,}" --cacert "$pki/ca.crt" --cert "$pki/backup.crt" \
		--key "$pki/backup.key" --dial-timeout=3s --command-timeout=10s "$@"
}
# etcd_healthy SECONDS: every member's client URL healthy and as many members as masters, within SECONDS.
etcd_healthy() {
	members=$(echo $MASTERS | wc -w) end=$(($(date +%s) + $1))
	while :; do
		h=$(ctl endpoint health 2>&1 | grep -c 'is healthy')
		n=$(ctl member list 2>/dev/null | grep -c ', started, ')
		[ "$h" = "$members" ] && [ "$n" = "$members" ] && return 0
		[ "$(date +%s)" -lt "$end" ] || { step "etcd: $h of $members endpoints healthy, $n members started"; return 1; }
		sleep 2
	done
}

host=$(cluster_host_address); host=${host%/*}
# The image server, inside the namespace on its own address there; it ends with this script.
ip netns exec "$ns" "$KILN_TOP/scripts/serve.sh" --addr "$host:$port" --dir "$dir" > "$VM_DIR/serve.log" 2>&1 &
serve_pid=$!
trap 'kill "$serve_pid" 2>/dev/null' EXIT
trap 'exit 2' INT TERM
i=0
until ip netns exec "$ns" "$KILN_CACHE/busybox/busybox" wget -q -T 2 -O /dev/null "http://$host:$port/${roles%% *}/system.img.sig" 2>/dev/null; do
	i=$((i + 1)); [ "$i" -lt 20 ] || fail "the image server did not start: $(tail -n 1 "$VM_DIR/serve.log")"
	kill -0 "$serve_pid" 2>/dev/null || fail "the image server stopped: $(tail -n 1 "$VM_DIR/serve.log")"
	sleep 0.5
done
step "serving $dir at http://$host:$port/ in $ns"

for m in $todo; do
	role=$(machine_field "$m" ROLE)
	want=$(debugfs -R 'cat /etc/kiln/release' "$dir/$role/system.img" 2>/dev/null | sed -n 's/^KILN_VERSION=//p')
	[ -n "$want" ] || fail "$dir/$role/system.img: no /etc/kiln/release in it"
	have=$(vm_run "$m" "sed -n 's/^KILN_VERSION=//p' /etc/kiln/release" 30) || fail "$m does not answer on its console: $have"
	if [ "$have" = "$want" ]; then step "$m: already runs $want: left alone"; continue; fi
	if [ "$role" = master ]; then
		etcd_healthy 300 || fail "etcd is not healthy before $m: stopped, nothing more upgraded"
		step "$m: etcd healthy ($(echo $MASTERS | wc -w) members) ($(elapsed))"
	fi
	log=$VM_DIR/$m/console.log
	from=$(($(wc -l < "$log") + 1))
	vm_send "$m" "initctl upgrade http://$host:$port/$role/system.img --deadline $deadline" || fail "$m: its console is gone"
	step "$m: upgrade from $have to $want started ($(elapsed))"
	began=$(date +%s) end=$(($(date +%s) + per)) outcome= armed= trial=
	while [ -z "$outcome" ]; do
		new=$(tail -n +"$from" "$log" | tr -d '\r')
		[ -n "$armed" ] || case $new in *"kiln-upgrade: slot "*" armed "*) armed=$(($(date +%s) - began)) ;; esac
		[ -n "$trial" ] || case $new in *"kiln: upgrade: trial boot"*) trial=$(($(date +%s) - began)) ;; esac
		case $new in
		*"kiln: upgrade: committed"*) outcome=ok ;;
		*"kiln: upgrade: rolled back"*) outcome="rolled back: $(echo "$new" | grep -o 'kiln: upgrade: rolled back.*' | head -n 1)" ;;
		*"kiln-upgrade: error"*) outcome="refused: $(echo "$new" | grep -o 'kiln-upgrade: error.*' | head -n 1)" ;;
		esac
		[ -n "$outcome" ] && break
		kill -0 "$(cat "$VM_DIR/$m/qemu.pid")" 2>/dev/null || outcome="QEMU exited (console: $log)"
		[ "$(date +%s)" -lt "$end" ] || outcome="no outcome in $per s (console: $log)"
		sleep 1
	done
	[ "$outcome" = ok ] || fail "$m: $outcome; stopped, nothing more upgraded"
	have=$(vm_run "$m" "sed -n 's/^KILN_VERSION=//p' /etc/kiln/release" 30)
	[ "$have" = "$want" ] || fail "$m committed, but runs '$have', not $want"
	step "$m: runs $want, committed ($(elapsed)): written and armed in ${armed:-?} s, its trial's init after ${trial:-?} s, committed after $(($(date +%s) - began)) s"
	if [ "$role" = master ]; then
		etcd_healthy 300 || fail "etcd is not healthy after $m's upgrade: stopped, nothing more upgraded"
		step "$m: etcd healthy again, $m a member ($(elapsed))"
	fi
done
step "done: $(echo $todo | wc -w) machines run their new images ($(elapsed))"
