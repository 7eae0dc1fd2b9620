#!/bin/sh
# bench-logs-qemu.sh: the log forwarder on a node in QEMU (part of make bench; also alone, as root, after make
# test-images): the cluster of 61-kube.t with its master m1 and node n1 only, etcd only (kiln.disable=kube-apiserver,
# apiproxy: the node runs its forwarder and little else), booted by cluster.sh under TCG. On n1 a shell writes
# numbered lines into a log of /data/log at 100 and then 1,000 lines a second for 10 s each (a batch every 0.1 s,
# each line stamped with the time on n1's clock its batch was written: busybox date +%s.%N); printed for each rate:
# the lines stored on m1, the forwarder's CPU time on n1 (rsyslogd's own, from /proc) and its resident memory, and the
# latency from a line written on n1 to it stored on m1, median and 99th percentile. For that, m1's receiver files
# each line with the time it received it instead of the sender's (this bench's change alone: receive.conf's template,
# bind-mounted over the image's on m1, logsink restarted), and the two clocks' offset is taken out: n1 asks m1's NTP
# server for it (busybox ntpd -w, which sets nothing) before and after each run, each time the sample of the shortest
# of four round trips; each line's is drawn between the two by its time (ntpd slews n1's clock meanwhile), and both
# are printed with their round trips.
# Last, a service floods: `flood` (this bench's own, in an archive appended to the machines' initramfs; it waits for
# /run/flood-go) prints numbered lines as fast as a shell and awk go under TCG, 1,000 every 0.1 s at most (10,000 a
# second asked), for 30 s, through init's log capture; printed: the lines it wrote and the rate reached, the console's
# slowest answer meanwhile, and once m1 has all it will get, the lines on m1, those init dropped (counted) and those
# the forwarder dropped (counted, its queue to m1 full), and what is left unaccounted (0 when every loss is counted).
. "$(dirname "$0")/lib.sh"
cd "$KILN_TOP"
. "$KILN_TOP/tests/system/lib/tap.sh" > /dev/null
use_test_tree
[ "$(id -u)" = 0 ] || die "a cluster needs root (network namespace, taps)"
T=$(mktemp -d "${TMPDIR:-/tmp}/kiln-bench-logq.XXXXXX")
export CLUSTER_RUN=$T/run CLUSTER_NETNS=kiln-bl-$$ CLUSTER_MEM=1024 CLUSTER_TIMEOUT=600
export CLUSTER_APPEND=kiln.disable=kube-apiserver,apiproxy
# The cluster's own tree as 61 and 62 make it (kube_tree: its render, PKI and identities, the role images linked;
# powered off and removed at exit): tests/clusters/kube.yaml without n2 (n1 sends its logs to m1, the only master).
. tests/system/lib/kube-tree.sh
awk '/^  - name: n2$/ { skip = 3 } skip > 0 { skip--; next } { print }' tests/clusters/kube.yaml > "$T/logbench.yaml"
kube_tree "$T/logbench.yaml"
[ "$MASTERS $NODES" = "m1 n1" ] || die "the cluster is not m1 and n1: $MASTERS $NODES"
# the flood service (bench only), on both machines; it does nothing until /run/flood-go says for how many seconds
mkdir -p "$T/extra/etc/kiln/services" "$T/extra/usr/libexec/kiln-bench"
cat > "$T/extra/usr/libexec/kiln-bench/flood" <<'EOT'
#!/bin/sh
# flood (make bench's service): once /run/flood-go exists, numbered lines, 1,000 every 0.1 s at most, for as many
# seconds as it says; then how many in /run/flood-done
while [ ! -e /run/flood-go ]; do sleep 1; done
i=0 end=$(($(date +%s) + $(cat /run/flood-go)))
while [ "$(date +%s)" -lt "$end" ]; do
	awk -v a=$i 'BEGIN { for (j = 1; j <= 1000; j++) print "flood", a + j }'
	i=$((i + 1000))
	sleep 0.1
done
echo "$i" > /run/flood-done
exec sleep 2147483647
EOT
chmod 755 "$T/extra/usr/libexec/kiln-bench/flood"
printf '# flood: make bench'"'"'s service flood (scripts/bench-logs-qemu.sh)\ncommand = /usr/libexec/kiln-bench/flood\nrestart = never\n' \
	> "$T/extra/etc/kiln/services/flood"
sh scripts/mk-initramfs.sh "$T/extra" "$T/extra.cpio.gz" > /dev/null
export CLUSTER_EXTRA=$T/extra.cpio.gz
VM_DIR=$CLUSTER_RUN
. scripts/vm.sh
KILN_OUT=$T/out sh scripts/cluster.sh up "$R" > "$T/up.log" 2>&1 || { echo "the cluster did not come up: $(tail -n 1 "$T/up.log")"; exit 0; }

# m1's receiver files each line with its time of receipt (seconds.microseconds on m1's clock), for the latency; its
# restart comes before n1's first line, which waits for the forwarder's connection. n1's forwarder is restarted
# too: its RELP session to the receiver that went away is found broken only when a line after the one sent into it
# goes (on a quiet machine the first line waited minutes for the next).
vm_run m1 "sed 's|string=\"%timereported:::date-rfc3339% %msg%\\\\n\"|string=\"%timegenerated:::date-unixtimestamp%.%timegenerated:::date-subseconds% %msg%\\\\n\"|' /etc/kiln/log/receive.conf > /run/bench-receive.conf && grep -q timegenerated /run/bench-receive.conf && mount --bind /run/bench-receive.conf /etc/kiln/log/receive.conf && initctl restart logsink" 60 > "$T/m1-receiver.log" ||
	{ echo "cannot set m1's receiver to file the time of receipt: $(tail -n 2 "$T/m1-receiver.log")"; exit 0; }
vm_run n1 "initctl restart logship" 30 > /dev/null
m1_addr=$(machine_field m1 ADDRESS)
# offset: m1's clock minus n1's in seconds, the round trip in seconds, of n1's best of four NTP exchanges with m1 in
# 4 s, and when on n1's clock (the middle of those 4 s)
offset() {
	vm_run n1 "a=\$(date +%s.%N); timeout 4 ntpd -w -d -p $m1_addr 2>&1 | sed -n 's/.*reply from [0-9.]*: offset:\([-+0-9.]*\) delay:\([0-9.]*\) .*/\2 \1/p' | sort -n | head -n 1; echo at \$a \$(date +%s.%N)" 30 |
		tr -d '\r' | awk 'NF == 2 { d = $1; o = $2 } $1 == "at" { t = ($2 + $3) / 2 } END { if (d != "") printf "%.6f %.6f %.3f\n", o, d, t }'
}

# stored RATE: how many of the run's lines m1 holds
stored() { vm_run m1 "grep -c ' seq=' /data/logs/n1/bench$1.log 2> /dev/null || echo 0" 20 | tr -dc 0-9; }
# The forwarder connected: a first line reaches m1.
vm_run n1 "echo 'bench seq=0' >> /data/log/bench0.log" 20 > /dev/null
end=$(($(date +%s) + 120))
until [ "$(stored 0)" = 1 ] || [ "$(date +%s)" -ge "$end" ]; do sleep 1; done
[ "$(stored 0)" = 1 ] || { echo "n1's first line did not reach m1 in 120 s: $(vm_run n1 'tail -n 3 /data/log/logship.log' 20)"; exit 0; }
# the forwarder's pid on n1 (the only rsyslogd there), its CPU ticks and resident KiB
fpid=$(vm_run n1 "for p in /proc/[0-9]*; do [ \"\$(cat \$p/comm 2> /dev/null)\" = rsyslogd ] && echo \${p#/proc/}; done" 20 | tr -dc '0-9\n' | head -n 1)
[ -n "$fpid" ] || { echo "no forwarder (rsyslogd) on n1"; exit 0; }
ticks() { vm_run n1 "cut -d' ' -f14,15 /proc/$fpid/stat" 20 | awk 'NF == 2 { print $1 + $2 }'; }
rss() { vm_run n1 "awk '/^VmRSS/ { print \$2 }' /proc/$fpid/status" 20 | tr -dc 0-9; }
hz=$(vm_run n1 "getconf CLK_TCK 2> /dev/null || echo 100" 20 | tr -dc 0-9)
for rate in 100 1000; do
	n=$((rate * 10)) per=$((rate / 10))
	o0=$(offset)
	c0=$(ticks)
	# the writer: 100 batches, one every 0.1 s, each line numbered and stamped with n1's time when its batch was
	# written; it returns when the last is written
	w0=$(date +%s)
	vm_run n1 "i=0; while [ \$i -lt $n ]; do now=\$(date +%s.%N); j=0; while [ \$j -lt $per ]; do i=\$((i + 1)); j=\$((j + 1)); echo \"bench w=\$now seq=\$i\"; done >> /data/log/bench$rate.log; sleep 0.1; done" 120 > /dev/null
	w1=$(date +%s)
	end=$((w1 + 180))
	until [ "$(stored "$rate")" -ge "$n" ] || [ "$(date +%s)" -ge "$end" ]; do sleep 1; done
	got=$(stored "$rate") drained=$(($(date +%s) - w1))
	c1=$(ticks)
	o1=$(offset)
	cpu_ms=$(((c1 - c0) * 1000 / ${hz:-100}))
	# the offset taken out: for each line, the one at its time drawn between the one before and the one after (ntpd
	# slews n1's clock meanwhile: by up to tens of milliseconds a minute here, more than an exchange's round trip)
	set -- $o0 $o1
	off=
	[ $# = 6 ] && off="-v o0=$1 -v t0=$3 -v o1=$4 -v t1=$6"
	# latencies on m1: each stored line's time of receipt minus its writer's stamp, less the offset, in microseconds;
	# sorted there, and only the median and the 99th percentile come back over the console
	lat=$([ -z "$off" ] || vm_run m1 "awk $off '{ for (i = 2; i <= NF; i++) if (\$i ~ /^w=/) { w = substr(\$i, 3); o = o0 + (o1 - o0) * (w - t0) / (t1 - t0); printf \"%d\\n\", (\$1 - o - w) * 1000000; break } }' /data/logs/n1/bench$rate.log | sort -n > /run/bench-lat; n=\$(wc -l < /run/bench-lat); echo \$n \$(sed -n \"\$(((n + 1) / 2))p\" /run/bench-lat) \$(sed -n \"\$(((n * 99 + 99) / 100))p\" /run/bench-lat)" 60 | tr -d '\r' | tail -n 1)
	# (the writer's own sleeps and forks under TCG stretch its 10 s: the rate it reached is printed too)
	printf '%d lines/s asked: %d lines in %d s (%d a second); %d of them on m1, all by %d s after the last was written; forwarder CPU %d.%02d s (%d%% of n1'"'"'s emulated core over %d s), RSS %s KiB\n' \
		"$rate" "$n" $((w1 - w0)) $((n / (w1 - w0))) "${got:-0}" "$drained" $((cpu_ms / 1000)) $((cpu_ms % 1000 / 10)) \
		$((cpu_ms / 10 / (w1 - w0 + drained))) $((w1 - w0 + drained)) "$(rss)"
	# NUMBER MEDIAN P99 (microseconds)
	set -- $lat
	if [ -n "$off" ] && [ $# = 3 ] && [ "$1" -gt 0 ]; then
		printf '  written on n1 to stored on m1: median %d.%d ms, 99th percentile %d.%d ms, of %d lines (clock offset m1 - n1 taken out, drawn between %s s before and %s s after, %s s apart; NTP round trips %s s and %s s)\n' \
			$(($2 / 1000)) $(($2 % 1000 / 100)) $(($3 / 1000)) $(($3 % 1000 / 100)) "$1" "${o0%% *}" "${o1%% *}" \
			"$(echo "$o0 $o1" | awk '{ printf "%.0f", $6 - $3 }')" "$(echo "$o0" | cut -d' ' -f2)" "$(echo "$o1" | cut -d' ' -f2)"
	else
		echo "  written on n1 to stored on m1: not measured (offset '${o0:-none}' / '${o1:-none}', on m1: '$lat')"
	fi
done

# The service flood, through init: 30 s of it.
dropped_fwd() { vm_run n1 "sed -n 's/^to_m1 \([0-9]*\)\$/\1/p' /run/kiln/logship/dropped 2> /dev/null" 20 | tr -dc 0-9; }
f0=$(dropped_fwd)
vm_run n1 "echo 30 > /run/flood-go" 20 > /dev/null
slow=0 done_at=$(($(date +%s) + 120))
until [ -n "$(vm_run n1 'cat /run/flood-done 2> /dev/null' 20 | tr -dc 0-9)" ] || [ "$(date +%s)" -ge "$done_at" ]; do
	# the console's answer while init captures the flood: initctl status, in ms on the build host's clock
	a=$(date +%s%N); vm_run n1 "initctl status flood > /dev/null" 20 > /dev/null; a=$((($(date +%s%N) - a) / 1000000))
	[ "$a" -le "$slow" ] || slow=$a
	sleep 2
done
fw=$(vm_run n1 'cat /run/flood-done 2> /dev/null' 20 | tr -dc 0-9)
[ -n "$fw" ] || { echo "the service flood did not end in 120 s"; exit 0; }
# m1's count of the flood's numbers, until it stops growing (n1's queue to m1 drained)
on_m1() { vm_run m1 "awk '/ flood [0-9]+\$/ { s[\$NF] = 1 } END { print length(s) }' /data/logs/n1/flood.log 2> /dev/null || echo 0" 60 | tr -dc 0-9; }
prev=-1 end=$(($(date +%s) + 600))
while :; do
	sleep 20
	got=$(on_m1)
	{ [ "${got:-0}" = "$prev" ] && [ "${got:-0}" -gt 0 ]; } || [ "$(date +%s)" -ge "$end" ] && break
	prev=${got:-0}
done
# (log-drops' count is impstats', written each minute: read once a minute has passed since the last line was sent)
sleep 70
f1=$(dropped_fwd)
init_drop=$(vm_run n1 "initctl metrics | sed -n 's/^kiln_service_log_lines_dropped_total{service=\"flood\"} //p'" 20 | tr -dc 0-9)
fwd_drop=$((${f1:-0} - ${f0:-0}))
printf 'a service flood through init, 10,000 lines/s asked for 30 s: %d written (%d a second), the console answered within %d ms throughout; on m1 %d, dropped by init %d and by the forwarder %d (counted), unaccounted %d\n' \
	"$fw" $((fw / 30)) "$slow" "${got:-0}" "${init_drop:-0}" "$fwd_drop" $((fw - ${got:-0} - ${init_drop:-0} - fwd_drop))
