#!/bin/sh
# 60-cluster.t: the example cluster (3 masters, 2 nodes) booted by scripts/cluster.sh (what `make cluster` runs)
# in QEMU, on a private bridge inside a network namespace of its own, in steps (two masters, then the third and the
# nodes; under make test-long the third master, then the nodes).
# etcd forms one 3-member cluster over TLS, keeps writing with one member stopped, refuses with two stopped and
# recovers; the backup job runs on every master every 30 s and its snapshots reach the next master. Kubernetes is
# left out here (kiln.disable under make test; not checked under make test-long): 61-kube.t checks it on one master
# and two nodes, 62-kube-ha.t on this cluster with the etcd drill and m1 powered off. Under make test-long the machines
# boot from their own disk images (CLUSTER_BOOT=disk) for the upgrades over HTTP: a truncated image and a missing one
# are refused; scripts/upgrade.sh (what `make upgrade` runs) takes m1, m2, m3 and n1 to v2 while a client on the
# build host writes to etcd twice a second: every write succeeds, every key is there afterwards.
. tests/system/lib/tap.sh
use_test_tree
KILN_TOP=$TOP
R=$KILN_OUT/cluster
[ -f "$R/cluster.env" ] && [ -f "$KILN_OUT/machines/n2/identity.cpio.gz" ] || bail "no machines built: run 'make' first"
. "$R/cluster.env"

plan 50
export CLUSTER_RUN=$(mktemp -d "${TMPDIR:-/tmp}/kiln-cluster.XXXXXX")
export CLUSTER_NETNS=kiln-test-$$
export CLUSTER_TIMEOUT=${CLUSTER_TIMEOUT:-1500}
# The masters' etcd backups every 30 s in this cluster (instead of the cluster file's hour).
export CLUSTER_BACKUP_INTERVAL=30
# The machines run with Kubernetes left out (kiln.disable): etcd, its quorum and the backups. make test boots their
# initramfs; make test-long boots them from their disks for the upgrades (kiln.disable added to the boot entries of
# each disk copy: with three apiservers on five emulated machines a controller-manager never came up).
kube_off="by 61-kube.t (one master, two nodes) and, under make test-long, 62-kube-ha.t (this cluster, m1 powered off)"
if [ -n "${KILN_LONG:-}" ]; then
	export CLUSTER_BOOT=disk CLUSTER_APPEND=kiln.disable=kube-apiserver,apiproxy CLUSTER_MEM=${CLUSTER_MEM:-1536}
else
	# (without Kubernetes the third master has nothing to wait for but etcd's quorum: it boots with the nodes)
	export CLUSTER_BOOT=initramfs CLUSTER_APPEND=kiln.disable=kube-apiserver,apiproxy CLUSTER_MEM=${CLUSTER_MEM:-1536}
	export CLUSTER_STAGGER=2
fi
kube_masters=$MASTERS
VM_DIR=$CLUSTER_RUN
. "$TOP/scripts/vm.sh"
cleanup() {
	[ -z "${www_pid:-}" ] || kill "$www_pid" 2>/dev/null
	[ -z "${writer_pid:-}" ] || kill "$writer_pid" 2>/dev/null
	sh scripts/cluster.sh down "$R" > /dev/null 2>&1
	ip netns del "$CLUSTER_NETNS" 2>/dev/null
	[ -n "${KEEP_VM_DIR:-}" ] || rm -rf "$CLUSTER_RUN"
}
trap cleanup EXIT
trap 'exit 2' INT TERM

# The container image, for this test only, and the upgrade images the machines fetch over HTTP from the test's own
# server in the namespace (on its address there, port 8081).
www=$CLUSTER_RUN/www
mkdir -p "$www"
. tests/system/lib/kube-prep.sh

if sh scripts/cluster.sh up "$R" > "$CLUSTER_RUN/up.log" 2>&1; then
	ok "all five machines ready in $(cat "$CLUSTER_RUN/ready-seconds") s: $(grep -c 'kiln: ready' "$CLUSTER_RUN/up.log") ready lines"
else
	not_ok "the cluster comes up"; diag "$(tail -n 20 "$CLUSTER_RUN/up.log")"
	for m in m1 m2 m3 n1 n2; do diag "== $m" "$(tr -d '\r' < "$CLUSTER_RUN/$m/console.log" | tail -n 8)"; done
	give_up "no cluster"
fi
ip netns exec "$CLUSTER_NETNS" "$KILN_CACHE/busybox/busybox" httpd -f -p "$host:8081" -h "$www" &
www_pid=$!
check "the network namespace holds the bridge and five taps, and no route but the infrastructure range" sh -c "
	[ \$(ip -n $CLUSTER_NETNS -o link show master br0 | wc -l) = 5 ] &&
	[ \"\$(ip -n $CLUSTER_NETNS route show | cut -d' ' -f1-3)\" = '192.168.0.0/24 dev br0' ] || ip -n $CLUSTER_NETNS route show"

# put/get with the etcd-backup client of the machine's own environment (/etc/profile loads it).
# initctl stop returns at once; etcd takes a moment to leave.
stop_etcd="initctl stop etcd; i=0; while initctl status etcd | grep -q '^etcd  *stopping'; do sleep 0.2; i=\$((i + 1)); [ \$i -lt 150 ] || break; done"
put() { vm_run "$1" "etcdctl --command-timeout=8s put $2 $3" 40; }
# (init's own console lines may come in between while a machine is new: a master that has just booted says which
# services it skipped)
get() { vm_run "$1" "etcdctl --command-timeout=8s get $2 --print-value-only" 40 | grep -v '^kiln: '; }

out=$(vm_run m1 "etcdctl --command-timeout=15s endpoint health --cluster && etcdctl member list" 60)
if [ "$(echo "$out" | grep -c 'is healthy')" = 3 ] && [ "$(echo "$out" | grep -c ', started, m[123], https://192.168.0.1[123]:2380, https://')" = 3 ]; then
	ok "etcd: three members started, every client URL healthy over TLS"
else not_ok "etcd: three healthy members"; diag "$out"; fi

put m1 /kiln/a one > /dev/null
a2=$(get m2 /kiln/a) a3=$(get m3 /kiln/a)
if [ "$a2" = one ] && [ "$a3" = one ]; then ok "a key written on m1 is read on m2 and m3"
else not_ok "a key written on m1 is read on m2 and m3"; diag "m2: $a2" "m3: $a3"; fi

# Kubernetes itself (tests/system/lib/kube-checks.sh, shared with 61-kube.t).
. tests/system/lib/kube-checks.sh

# etcd itself: one member stopped, then two, then both back.
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

# The clock: m1 (no time servers in the example) serves its own, m2, m3 and the nodes take it; initctl status says so.
clock() { vm_run "$1" "initctl status | grep '^clock:'" 20 | tr -d '\r'; }
clocks_ok() {
	c1=$(clock m1) c2=$(clock m2) cn=$(clock n1)
	echo "$c1" | grep -q '^clock: reference: ' && echo "$c2" | grep -q '^clock: synchronised: .*stratum 2' &&
		echo "$cn" | grep -q '^clock: synchronised: .*stratum [23]'
}
end=$(($(date +%s) + 120))
until clocks_ok || [ "$(date +%s)" -ge "$end" ]; do sleep 5; done
if clocks_ok; then ok "clocks: m1 is the reference, m2 and n1 synchronised from the masters: m2 '${c2#clock: }'; n1 '${cn#clock: }'"
else not_ok "clocks: m1 the reference, m2 and n1 synchronised"; diag "m1: $c1" "m2: $c2" "n1: $cn" "$(vm_run n1 'tail -n 5 /data/log/ntpd.log' 20)"; fi
# n2's clock set 10 minutes ahead; its ntpd, restarted, steps it back to the masters' time (the host's, within 3 s).
vm_run n2 "date -s \"\$(date -d @\$((\$(date +%s) + 600)) '+%Y-%m-%d %H:%M:%S')\" > /dev/null; initctl restart ntpd" 20 > /dev/null
stepped() { c=$(clock n2); echo "$c" | grep -Eq '^clock: synchronised: .*stepped by -(5[0-9][0-9]|6[0-9][0-9])\.'; }
end=$(($(date +%s) + 90))
until stepped || [ "$(date +%s)" -ge "$end" ]; do sleep 3; done
d=$(( $(vm_run n2 "date +%s" 20 | tr -dc 0-9) - $(date +%s) ))
if stepped && [ "${d#-}" -le 3 ]; then ok "n2's clock set 10 minutes ahead is stepped back by its ntpd: '${c#clock: }'; now ${d} s from the host's"
else not_ok "n2's clock stepped back to the masters' time"; diag "$c" "difference $d s" "$(vm_run n2 'tail -n 5 /data/log/ntpd.log' 20)"; fi

# Metrics: every machine serves them on tcp 9100 over TLS to a client certificate of the Kubernetes CA (the PKI's
# monitoring identity, which stays on the build host); a scrape without one, or with one of the etcd CA, is refused.
S=${SECRETS:-$TOP/secrets/cluster}
scrape() { # MACHINE [CURL-ARGS...]: its metrics, scraped from the build host through the cluster's namespace
	sm=$1; shift
	ip netns exec "$CLUSTER_NETNS" curl -sS --max-time 20 --cacert "$S/kubernetes-ca.crt" \
		--resolve "$sm:9100:$(eval "echo \${MACHINE_${sm}_ADDRESS}")" "$@" "https://$sm:9100/metrics"
}
mon="--cert $S/monitoring.crt --key $S/monitoring.key"
# value MACHINE METRIC-LINE-PREFIX: the metric's value in a fresh scrape (empty without it)
value() { scrape "$1" $mon 2> /dev/null | grep -v '^#' | grep -F "$2 " | head -n 1 | awk '{ print $NF }'; }
m_ok=
for m in m1 n1; do
	body=$(scrape "$m" $mon 2>&1)
	echo "$body" | grep -q '^node_boot_time_seconds ' && echo "$body" | grep -q '^kiln_boot_ready 1$' &&
		echo "$body" | grep -q '^kiln_service_state{service="metrics",state="ready"} 1$' || { m_ok="$m_ok $m"; diag "== $m" "$(echo "$body" | grep -v '^#' | head -n 5)"; }
done
etcd_up=$(scrape m1 $mon 2> /dev/null | grep -c '^kiln_service_state{service="etcd",state="ready"} 1$')
if [ -z "$m_ok" ] && [ "$etcd_up" = 1 ]; then
	ok "metrics over TLS with the monitoring certificate: m1 and n1 serve the node exporter's and kiln's (boot ready, each service's state: m1's etcd ready)"
else not_ok "metrics of m1 and n1 with the monitoring certificate (failed:$m_ok; m1's etcd ready lines: $etcd_up)"; fi
none=$(scrape n1 2>&1) && none_rc=0 || none_rc=$?
other=$(scrape m1 --cert "$R/machines/m1/identity/pki/etcd/backup.crt" --key "$R/machines/m1/identity/pki/etcd/backup.key" 2>&1) && other_rc=0 || other_rc=$?
if [ "$none_rc" != 0 ] && [ "$other_rc" != 0 ] && ! echo "$none$other" | grep -q '^kiln_\|^node_'; then
	ok "a scrape without a client certificate is refused (curl $none_rc: $(echo "$none" | tail -n 1)), and one with the etcd CA's (curl $other_rc)"
else not_ok "scrapes without a certificate, or with the etcd CA's, are refused"; diag "none ($none_rc): $none" "etcd CA ($other_rc): $other"; fi
# The backup job stopped on m2: the age of its last success grows; n1's ntpd killed: its restart is counted.
vm_run m2 "initctl stop etcd-backup" 20 > /dev/null
r0=$(value n1 'kiln_service_restarts_total{service="ntpd"}')
a0=$(value m2 'kiln_job_last_success_age_seconds{job="etcd-backup"}')
vm_run n1 'kill -9 $(pidof ntpd)' 20 > /dev/null
# The file the node exporter serves is rewritten every 15 s (metrics-kiln), later under load: read until both show,
# for at most 150 s.
end=$(($(date +%s) + 150))
sleep 20
while :; do
	r1=$(value n1 'kiln_service_restarts_total{service="ntpd"}')
	a1=$(value m2 'kiln_job_last_success_age_seconds{job="etcd-backup"}')
	[ -n "$a0" ] && [ -n "$r0" ] || break
	[ "${a1:-0}" -lt $((a0 + 20)) ] || [ "${r1:-0}" -le "$r0" ] || break
	[ "$(date +%s)" -lt "$end" ] || break
	sleep 5
done
size=$(value m2 kiln_etcd_backup_last_size_bytes)
vm_run m2 "initctl start etcd-backup" 20 > /dev/null
if [ -n "$a0" ] && [ -n "$a1" ] && [ "$a1" -ge $((a0 + 20)) ] && [ -n "$r0" ] && [ "${r1:-0}" -gt "$r0" ] && [ "${size:-0}" -gt 0 ]; then
	ok "with m2's backup job stopped the age of its last success grows ($a0 s, then $a1 s; newest snapshot $size bytes); n1's ntpd killed: its restarts $r0, then $r1"
else not_ok "backup age grows while its job is stopped, a restart is counted"; diag "age $a0 -> $a1, restarts $r0 -> $r1, size $size"
	diag "$(vm_run n1 'initctl status ntpd; initctl status metrics-kiln' 20)" "$(vm_run m2 'initctl status metrics-kiln; ls -l /run/kiln/metrics; date' 20)"; fi
# The rest of what a scrape of m2 holds (issue 15's list): etcd's cgroup memory and CPU time, its time to ready, the
# backup job's failures counted, the clock synchronised (m2 takes its time from m1).
body=$(scrape m2 $mon 2> /dev/null | grep -v '^#')
mval() { echo "$body" | grep -F "$1 " | head -n 1 | awk '{ print $NF }'; }
mem=$(mval 'kiln_service_memory_bytes{service="etcd"}') cpu=$(mval 'kiln_service_cpu_seconds_total{service="etcd"}')
rdy=$(mval 'kiln_service_ready_seconds{service="etcd"}') jf=$(mval 'kiln_job_failures_total{job="etcd-backup"}')
sync=$(mval kiln_clock_synchronised)
# and the limits of the service files in their groups: metrics' memory_max = 128M, ntpd's pids_max = 16
lim=$(vm_run m2 "cat /sys/fs/cgroup/kiln/metrics/memory.max /sys/fs/cgroup/kiln/ntpd/pids.max" 15 | tr -d '\r' | tr '\n' ' ')
# (the node exporter writes large values with an exponent: 1.59e+08; awk reads both forms)
if awk -v m="${mem:-0}" -v c="${cpu:-0}" -v r="${rdy:--1}" 'BEGIN { exit !(m + 0 > 1000000 && c + 0 > 0 && r + 0 >= 0) }' &&
	[ -n "$jf" ] && [ "$sync" = 1 ] && [ "$lim" = "134217728 16 " ]; then
	ok "m2's scrape: etcd's cgroup holds $(awk -v m="$mem" 'BEGIN { printf "%d", m / 1048576 }') MiB and used $cpu s of CPU, ready $rdy s after its start; backup failures $jf; clock synchronised; limits in the groups: metrics memory.max, ntpd pids.max $lim"
else not_ok "m2's scrape: cgroup memory and CPU, time to ready, job failures, clock; limits in the groups"
	diag "memory '$mem' cpu '$cpu' ready '$rdy' failures '$jf' synchronised '$sync' limits '$lim'" "$(echo "$body" | grep -E 'etcd|clock' | head -n 12)"; fi

# Logs: every machine forwards its logs to two masters (n1 to m1 and m2) over RELP and TLS. A log receiver answers a
# RELP open only to a machine's log certificate: not without one, not to another name of the same CA (monitoring),
# not to the etcd CA's.
relp_open() { # CERT KEY: what m1's receiver answers a RELP open sent with that client certificate (none: "")
	d='relp_version=0
relp_software=kiln-test
commands=syslog'
	{ printf '1 open %d %s\n' ${#d} "$d"; sleep 4; } | ip netns exec "$CLUSTER_NETNS" timeout 15 openssl s_client -quiet \
		-connect "$MACHINE_m1_ADDRESS:2514" -CAfile "$S/kubernetes-ca.crt" ${1:+-cert "$1" -key "$2"} 2>&1 | tr -d '\r'
}
id1=$R/machines/n1/identity/pki
with_log=$(relp_open "$id1/log.crt" "$id1/log.key")
no_cert=$(relp_open "" "")
with_mon=$(relp_open "$S/monitoring.crt" "$S/monitoring.key")
with_etcd=$(relp_open "$R/machines/m1/identity/pki/etcd/backup.crt" "$R/machines/m1/identity/pki/etcd/backup.key")
if echo "$with_log" | grep -q '^1 rsp [0-9]* 200 OK' && ! echo "$no_cert$with_mon$with_etcd" | grep -q '200 OK'; then
	ok "m1's log receiver answers a RELP open with n1's log certificate ('$(echo "$with_log" | grep -m1 '^1 rsp' | cut -c1-20)'), not without a certificate, not the monitoring one's (same CA, another name), not the etcd CA's"
else not_ok "the log receiver takes a machine's log certificate alone"
	diag "n1's log cert: $with_log" "none: $no_cert" "monitoring: $with_mon" "etcd CA: $with_etcd" "$(vm_run m1 'tail -n 5 /data/log/logsink.log' 20)"; fi

# n1 writes a numbered line every second into a log of /data/log (100 s; 150 s under make test-long, where m1 is
# powered off and boots again); m1 is away for about 50 s meanwhile and back: every line is on m2 during the outage,
# and on m1 and m2 at the end, none missing (duplicates counted).
seq_lines=100
[ -z "${KILN_LONG:-}" ] || seq_lines=150
vm_run n1 "setsid sh -c 'i=0; while [ \$i -lt $seq_lines ]; do i=\$((i + 1)); echo \"kiln-seq \$i\"; sleep 1; done' >> /data/log/seqtest.log 2>&1 < /dev/null & :" 20 > /dev/null
sleep 15
# From their disks (make test-long) m1 is powered off and booted again; booted from the initramfs (make test) its DATA
# is in memory, so it would come back without its etcd member and its logs: its log receiver is stopped instead.
if [ "$CLUSTER_BOOT" = disk ]; then
	outage="m1 powered off"
	vm_send m1 "initctl poweroff"
	vm_wait_exit m1 120 > /dev/null 2>&1 || kill "$(cat "$CLUSTER_RUN/m1/qemu.pid")" 2>/dev/null
else
	outage="m1's log receiver stopped"
	vm_run m1 "initctl stop logsink" 20 > /dev/null
fi
off=$(date +%s)
# seqs MACHINE: the numbers of n1's lines MACHINE has stored, one a line, sorted
seqs() { vm_run "$1" "sed -n 's/.* kiln-seq \([0-9]*\)\$/\1/p' /data/logs/n1/seqtest.log 2> /dev/null | sort -n" 30 | tr -dc '0-9\n'; }
sleep 50
written=$(vm_run n1 "grep -c kiln-seq /data/log/seqtest.log" 20 | tr -dc 0-9)
on_m2=$(seqs m2 | sort -un | wc -l)
if [ "$CLUSTER_BOOT" = disk ]; then sh scripts/cluster.sh start "$R" m1 > "$CLUSTER_RUN/m1-start.log" 2>&1
else vm_run m1 "initctl start logsink" 20 > "$CLUSTER_RUN/m1-start.log"; fi
back=$(date +%s)
if [ "${on_m2:-0}" -ge $((${written:-0} - 10)) ] && [ "${written:-0}" -ge 60 ]; then
	ok "with $outage ($((back - off)) s) n1's lines reach m2: $on_m2 of the $written written"
else not_ok "with $outage n1's lines reach m2"; diag "written $written, on m2 $on_m2" "$(vm_run n1 'tail -n 5 /data/log/logship.log' 20)"; fi
all_there() { # MACHINE: every line 1..seq_lines stored; sets got_MACHINE and dup_MACHINE
	l=$(seqs "$1")
	eval "got_$1=\$(echo \"\$l\" | sort -un | grep -c .) dup_$1=\$(echo \"\$l\" | uniq -d | grep -c .)"
	[ "$(eval "echo \$got_$1")" -ge "$seq_lines" ]
}
got_m1= got_m2= dup_m1= dup_m2=
end=$(($(date +%s) + 240))
until { all_there m1 && all_there m2; } || [ "$(date +%s)" -ge "$end" ]; do sleep 10; done
if all_there m1 && all_there m2; then
	ok "after the outage ($outage) every one of n1's $seq_lines lines is on m1 and on m2 (duplicates: m1 $dup_m1, m2 $dup_m2), the last $(($(date +%s) - back)) s after m1 was back"
else not_ok "every line on m1 and m2 after the outage"
	diag "m1: $got_m1 lines ($dup_m1 duplicates), m2: $got_m2 ($dup_m2)" "$(tail -n 3 "$CLUSTER_RUN/m1-start.log")" \
		"$(vm_run n1 'tail -n 5 /data/log/logship.log; ls -la /data/lib/logship' 20)" "$(vm_run m1 'tail -n 5 /data/log/logsink.log; ls -R /data/logs | head' 20)"; fi
if vm_run m2 "initctl logs n1 seqtest -n 1" 20 | grep -q 'kiln-seq'; then ok "initctl logs n1 seqtest on m2 shows n1's line: $(vm_run m2 "initctl logs n1 seqtest -n 1" 20 | tr -d '\r' | tail -n 1)"
else not_ok "initctl logs n1 seqtest on m2"; diag "$(vm_run m2 "initctl logs n1 seqtest -n 1; ls /data/logs/n1" 20)"; fi
# Under make test the machines boot their initramfs: DATA is in memory, and the forwarder says its queues are in RAM.
ram=$(vm_run n1 "grep -m1 'DATA is in memory' /data/log/logship.log" 20 | tr -d '\r')
case $ram in *"bounded to "*" of RAM"*) ok "n1's forwarder, DATA in memory, says its queues are bounded in RAM: '${ram#*logship: }'" ;;
	*) if [ "$(vm_run n1 'stat -f -c %T /data' 20 | tr -d '\r')" = tmpfs ]; then not_ok "n1's forwarder says its queues are in RAM"; diag "$ram"
	else skip "n1's DATA is a disk here (CLUSTER_BOOT=disk): its queues are on it"; fi ;; esac
# A master away long enough for n1's queue to it to fill: what no longer fits is dropped, said in n1's log and
# counted in its metrics, never lost uncounted. m1's receiver stopped again; n1 writes more lines than its queue to m1
# holds (20,000 in memory, then 16 MiB more with DATA in memory, 64 MiB on a disk: 50,000 or 130,000 lines of 400
# bytes); once m1's receiver is back and the queue drained, every line is on m1 or among those counted dropped.
case $(vm_run n1 'stat -f -c %T /data' 20 | tr -d '\r') in tmpfs) drop_n=50000 ;; *) drop_n=130000 ;; esac
vm_run m1 "initctl stop logsink" 20 > /dev/null
vm_run n1 "awk -v n=$drop_n 'BEGIN { x = sprintf(\"%380s\", \"\"); gsub(/ /, \"x\", x); for (i = 1; i <= n; i++) print \"drop\", x, i }' >> /data/log/droptest.log" 120 > /dev/null
drop_t=$(date +%s) drop_line= drop_m= on=
# dropped_to_m1: n1's count (log-drops' file: impstats' counters, each minute) and what n1's log says of it
dropped_to_m1() { vm_run n1 "sed -n 's/^to_m1 \([0-9]*\)\$/\1/p' /run/kiln/logship/dropped" 20 | tr -dc 0-9; }
drop_said() { drop_line=$(vm_run n1 "grep 'logship: to_m1: .* lines dropped' /data/log/logship.log | tail -n 1" 20 | tr -d '\r'); [ -n "$drop_line" ]; }
drop_metric() {
	drop_m=$(vm_run n1 "sed -n 's/^kiln_log_lines_dropped_total{service=\"logship\",queue=\"to_m1\"} //p' /run/kiln/metrics/kiln.prom" 20 | tr -dc 0-9)
	[ "${drop_m:-0}" -gt 0 ] && [ "$drop_m" = "$(dropped_to_m1)" ]
}
end=$(($(date +%s) + 240))
until { drop_said && drop_metric; } || [ "$(date +%s)" -ge "$end" ]; do sleep 10; done
vm_run m1 "initctl start logsink" 20 > /dev/null
# the lines m1 holds, once n1's queue to it has drained (the count stops growing)
drop_on_m1() { vm_run m1 "awk '/ drop x+ [0-9]+\$/ { s[\$NF] = 1 } END { print length(s) }' /data/logs/n1/droptest.log 2> /dev/null || echo 0" 60 | tr -dc 0-9; }
on1=-1 end=$(($(date +%s) + 300))
while :; do
	sleep 20
	on=$(drop_on_m1)
	[ "${on:-0}" = "$on1" ] || [ "$(date +%s)" -ge "$end" ] && break
	on1=${on:-0}
done
dropped=$(dropped_to_m1)
if [ -n "${drop_line:-}" ] && [ "${drop_m:-0}" -gt 0 ] && [ "${dropped:-0}" -gt 0 ] && [ "${on:-0}" -lt "$drop_n" ] &&
	[ $((${on:-0} + ${dropped:-0})) -ge "$drop_n" ]; then
	ok "with m1's receiver stopped, $drop_n lines on n1: its queue to m1 full, n1 said '${drop_line#*logship: }' and its metrics count ${drop_m}; with m1 back, $on lines on m1 and $dropped counted dropped: none lost uncounted ($(($(date +%s) - drop_t)) s)"
else not_ok "lines dropped when n1's queue to m1 is full are said and counted"
	diag "written $drop_n; on m1 $on; dropped (n1's count) '$dropped'; metric '$drop_m'; said '$drop_line'" \
		"$(vm_run n1 'tail -n 4 /data/lib/logship/stats.log | cut -c1-200; tail -n 3 /data/log/logship.log' 20)"; fi
# The receiver's stops (three by now) are orderly: rsyslogd aborted at each while the images lacked libgcc_s.
starts=$(vm_run m1 "grep -c 'logsink: taking logs from' /data/log/logsink.log; grep -c 'must be installed' /data/log/logsink.log" 20 | tr -d '\r' | tr '\n' ' ')
case $starts in [3-9]" 0 "|[1-9][0-9]" 0 ") ok "m1's log receiver stopped and started again without an abort (started $(echo "$starts" | cut -d' ' -f1) times)" ;;
*) not_ok "m1's log receiver stops without an abort"; diag "starts, abort lines: $starts" "$(vm_run m1 'grep -v "^\$" /data/log/logsink.log | tail -n 5' 20)" ;; esac
kern=$(vm_run m3 "ls /data/logs/n2/ | cat" 20 | tr -d '\r' | tr '\n' ' ')
if echo "$kern" | grep -q 'kernel.log' && echo "$kern" | grep -q 'ntpd.log'; then ok "n2's kernel messages and its services' logs are on m3: $kern"
else not_ok "n2's kernel and service logs on m3"; diag "$kern"; fi

# Bad input from n2 (to m2 and m3): 5,000 lines at once, a line of 1 MiB, bytes that are not UTF-8. Every line
# arrives, the long one cut at 64 KiB, the odd bytes as they are; the forwarder is not restarted, n2 keeps answering.
# (Under TCG, with five machines on two cores, the forwarder passes about 300 lines a second: the flood is small.)
flood='seq 1 5000 | sed "s/^/flood /" >> /data/log/flood.log; head -c 1048576 /dev/zero | tr "\0" x >> /data/log/flood.log; echo >> /data/log/flood.log; printf "odd \377\376 bytes\n" >> /data/log/flood.log'
vm_run n2 "$flood" 60 > /dev/null
flood_in() { # MACHINE: "FLOOD-LINES LONGEST-LINE ODD-LINE-BYTES" as MACHINE stored them
	vm_run "$1" "awk '/ flood [0-9]+\$/ { n++ } length > m { m = length } / odd / { o = \$0 } END { print n + 0, m + 0 }' /data/logs/n2/flood.log; sed -n 's/.* odd //p' /data/logs/n2/flood.log | od -An -c | tr -s ' ' | head -n 1" 30 | tr -d '\r' | tr '\n' ' '
}
flood_done() { f3=$(flood_in m3); case $f3 in "5000 "*377*376*b*y*t*e*s*) return 0 ;; *) return 1 ;; esac; }
end=$(($(date +%s) + 180))
until flood_done || [ "$(date +%s)" -ge "$end" ]; do sleep 10; done
restarts=$(vm_run n2 "initctl status logship" 20 | awk '$1 == "logship" { print $4 }')
long=$(echo "$f3" | awk '{ print $2 }')
if flood_done && [ "$long" -gt 60000 ] && [ "$long" -lt 70000 ] && [ "$restarts" = 0 ]; then
	ok "a flood of 5,000 lines, a 1 MiB line and bytes that are not UTF-8 from n2 are all on m3 (the long line cut to $long characters, the odd bytes kept: $(echo "$f3" | cut -d' ' -f3-)); n2's forwarder was not restarted"
else not_ok "flood, long line and odd bytes forwarded"; diag "m3: $f3" "logship restarts on n2: $restarts" "$(vm_run n2 'tail -n 3 /data/log/logship.log' 20)"; fi

# The upgrades (13 results) restart every master: they run under make test-long; make test reports them skipped.
if [ -n "${KILN_LONG:-}" ]; then
	upgrade_machines="$MASTERS n1" long_nodes=n1

	# Upgrades. v2 of each role: its system image with another /etc/kiln/release, signed with the cluster's image key;
	# "bad": v2's signature beside v2's first 24 MiB (a download cut short).
	v2=$CLUSTER_RUN/v2
	for r in master node; do
		mkdir -p "$v2/$r"
		cp --sparse=always "$KILN_OUT/$r/system.img" "$v2/$r/system.img"
		sed 's/^KILN_VERSION=.*/KILN_VERSION=v2-rolling/' "$KILN_BUILD/stage/$r/etc/kiln/release" > "$CLUSTER_RUN/release"
		printf 'rm /etc/kiln/release\nwrite %s /etc/kiln/release\n' "$CLUSTER_RUN/release" |
			debugfs -w -f - "$v2/$r/system.img" > "$CLUSTER_RUN/debugfs.log" 2>&1 || bail "debugfs on $v2/$r/system.img"
		sh scripts/sign-image.sh "${SECRETS:-$TOP/secrets/cluster}/image-signing.key" "$v2/$r/system.img" > "$CLUSTER_RUN/sign.log" 2>&1 ||
			bail "cannot sign $v2/$r/system.img: $(tail -n 1 "$CLUSTER_RUN/sign.log")"
	done
	v1=$(sed -n 's/^KILN_VERSION=//p' "$KILN_BUILD/stage/master/etc/kiln/release")
	mkdir -p "$www/bad"
	head -c $((24 * 1048576)) "$v2/master/system.img" > "$www/bad/system.img"
	cp "$v2/master/system.img.sig" "$www/bad/"

	out=$(vm_run m1 "initctl upgrade http://$host:8081/none/system.img; echo rc=\$?" 60)
	if echo "$out" | grep -q "kiln-upgrade: error: http://$host:8081/none/system.img.sig: cannot fetch it" && echo "$out" | grep -q '^rc=1'; then
		ok "an upgrade from a URL with nothing there is refused, naming the URL"
	else not_ok "an upgrade from a missing URL is refused"; diag "$out"; fi
	out=$(vm_run m1 "initctl upgrade http://$host:8081/bad/system.img > /tmp/up1.log 2>&1 & sleep 2; initctl upgrade http://$host:8081/bad/system.img; echo second=\$?; wait \$!; echo rc=\$?; cat /tmp/up1.log; initctl status | grep -E '^(slot|last)'" 200)
	if echo "$out" | grep -q 'kiln-upgrade: error: another upgrade is running on this machine' && echo "$out" | grep -q '^second=1'; then
		ok "a second upgrade while one runs is refused"
	else not_ok "a second upgrade while one runs is refused"; diag "$out"; fi
	if echo "$out" | grep -q 'bad/system.img: 25165824 bytes downloaded, not the [0-9]* its signature says (changed in transit?): slot b wiped, not armed' &&
		echo "$out" | grep -q '^rc=1' && echo "$out" | grep -q '^slot b: version -$' &&
		echo "$out" | grep -q '^last upgrade: failed: http://.*/bad/system.img: 25165824 bytes downloaded'; then
		ok "a truncated image from a URL (its signature good) is refused once downloaded and wiped: slot B holds no system, initctl status says why"
	else not_ok "a truncated image from a URL is refused"; diag "$out"; fi
	out=$(vm_run m1 "sed -n 's/^KILN_VERSION=//p' /etc/kiln/release; initctl status etcd" 20)
	if echo "$out" | grep -qx "$v1" && echo "$out" | grep -Eq '^etcd +(running|ready)'; then ok "m1 still runs v1 ($v1), etcd running"
	else not_ok "m1 still runs v1 after the refusals"; diag "$out"; fi

	# What n1 keeps on its DATA across its upgrade: a file written under v1.
	vm_run n1 "echo kept-under-v1 > /data/kiln-test.mark && sync" 20 > /dev/null
	# A client on the build host writes a key every half second (two tries of 5 s each) during the rolling upgrade.
	pki=$R/machines/m1/identity/pki/etcd
	eps=$(. scripts/lib.sh; for m in $MASTERS; do printf 'https://%s:2379,' "$(machine_field "$m" ADDRESS)"; done)
	hostctl() {
		ip netns exec "$CLUSTER_NETNS" etcdctl --endpoints "${eps%,}" --cacert "$pki/ca.crt" --cert "$pki/backup.crt" \
			--key "$pki/backup.key" --dial-timeout=3s --command-timeout=5s "$@"
	}
	(
		i=0
		while [ ! -f "$CLUSTER_RUN/writer.stop" ]; do
			i=$((i + 1))
			if hostctl put "/rolling/k$i" "$i" > /dev/null 2>&1 || hostctl put "/rolling/k$i" "$i" > /dev/null 2>&1
			then echo "$i ok $(date +%s.%N)"; else echo "$i failed $(date +%s.%N)"; fi
			sleep 0.5
		done
	) > "$CLUSTER_RUN/writer.log" 2>&1 &
	writer_pid=$!
	# A master's apiserver takes minutes to be ready again under emulation: the trial's deadline is 900 s here.
	UPGRADE_DEADLINE=900 UPGRADE_TIMEOUT=1200 UPGRADE_DIR=$v2 UPGRADE_MACHINES="$upgrade_machines" sh scripts/upgrade.sh "$R" > "$CLUSTER_RUN/upgrade.log" 2>&1
	rc=$?
	touch "$CLUSTER_RUN/writer.stop"; wait "$writer_pid"; writer_pid=
	for m in m1 m2 m3 n1; do
		case " $upgrade_machines " in *" $m "*) ;; *) skip "rolling upgrade of $m: under make test-long only, for make test's time (KILN_LONG=1)"; continue ;; esac
		if grep -q "^upgrade: $m: runs v2-rolling, committed" "$CLUSTER_RUN/upgrade.log"; then
			ok "rolling upgrade: $m runs v2, committed$(sed -n "s/^upgrade: $m: runs v2-rolling, committed ([0-9]* s)//p" "$CLUSTER_RUN/upgrade.log")"
		else not_ok "rolling upgrade: $m upgraded and committed"; diag "$(cat "$CLUSTER_RUN/upgrade.log")" "$(vm_log "$m" | grep -a kiln | tail -n 10)"; fi
	done
	nm=$(echo "$upgrade_machines" | tr ' ' '\n' | grep -c '^m')
	if [ "$rc" = 0 ] && [ "$(grep -c 'etcd healthy again' "$CLUSTER_RUN/upgrade.log")" = "$nm" ]; then
		ok "rolling upgrade: etcd healthy with 3 members after each of $nm master(s); $(tail -n 1 "$CLUSTER_RUN/upgrade.log" | sed 's/^upgrade: //')"
	else not_ok "rolling upgrade: etcd healthy after each master (exit $rc)"; diag "$(cat "$CLUSTER_RUN/upgrade.log")"; fi
	writes=$(grep -c ' ok ' "$CLUSTER_RUN/writer.log") failed=$(grep -c ' failed ' "$CLUSTER_RUN/writer.log")
	gap=$(awk '$2 == "ok" { if (p != "" && $3 - p > g) g = $3 - p; p = $3 } END { printf "%.1f", g }' "$CLUSTER_RUN/writer.log")
	if [ "$failed" = 0 ] && [ "$writes" -ge 100 ]; then
		ok "etcd stayed writable throughout: $writes writes from the build host, 0 failed, longest time between two writes $gap s"
	else not_ok "etcd stayed writable throughout the rolling upgrade: $writes ok, $failed failed, longest gap $gap s"
		diag "$(grep ' failed ' "$CLUSTER_RUN/writer.log" | head -n 5)"; fi
	keys=$(hostctl get /rolling/ --prefix --keys-only 2>&1 | grep -c '^/rolling/')
	if [ "$writes" -ge 100 ] && [ "$keys" = "$writes" ]; then ok "every one of the $writes keys written during the upgrade is there"
	else not_ok "every key written during the upgrade is there: $keys of $writes"; fi
	out=$(vm_run m1 "initctl status | grep -E '^(slot|last)'; etcdctl --command-timeout=8s get /kiln/d --print-value-only" 30)
	if echo "$out" | grep -q '^slot b: running, default, version v2-rolling' && echo "$out" | grep -q "^slot a: version $v1\$" &&
		echo "$out" | grep -q "^last upgrade: committed: slot b (v2-rolling), from slot a ($v1)" && echo "$out" | grep -qx four; then
		ok "m1: initctl status shows slot B running v2 as default, slot A v1, the upgrade committed; keys from before are there"
	else not_ok "m1's status after the upgrade"; diag "$out"; fi
	if [ -n "$long_nodes" ]; then
		out=$(vm_run n1 "initctl status | grep -E '^(slot|containerd)'; cat /data/kiln-test.mark" 30)
		if echo "$out" | grep -q '^slot b: running, default, version v2-rolling' && echo "$out" | grep -Eq '^containerd +(running|ready)' &&
			echo "$out" | grep -qx 'kept-under-v1'; then ok "n1 runs v2 from slot B, containerd running, a file written on DATA under v1 kept"
		else not_ok "n1 after its upgrade"; diag "$out"; fi
	else
		skip "n1 runs v2 with containerd and its image kept: under make test-long only"
	fi
else
	i=0
	while [ $i -lt 13 ]; do
		i=$((i + 1))
		skip "the upgrades over HTTP and the rolling upgrade, result $i of 13: under make test-long (KILN_LONG=1), for make test's time"
	done
fi

done_testing
