#!/bin/sh
# bench-logs.sh: the log forwarder's cost and latency, on the build host over loopback: the images' own rsyslog
# configurations (rootfs/etc/kiln/log/forward.conf with logship-run's action, receive.conf with logsink-run's input,
# their paths moved to a scratch folder) with a throwaway CA. A writer appends numbered lines, each carrying the time
# it was written, to a log file at 100 and then 1,000 lines a second for 10 s each; printed: the forwarder's CPU time
# and resident memory over each run, and the latency from a line written to it stored by the receiver (median and
# 99th percentile). The host is several times faster than a machine under TCG; the ratios between the rates hold.
set -eu
LC_ALL=C
export LC_ALL
top=$(cd "$(dirname "$0")/.." && pwd)
command -v rsyslogd > /dev/null || { echo "bench-logs: no rsyslogd (make deps)"; exit 1; }
t=$(mktemp -d "${TMPDIR:-/tmp}/kiln-bench-logs.XXXXXX")
pids=
trap 'for p in $pids; do kill "$p" 2> /dev/null; done; sleep 0.5; rm -rf "$t"' EXIT
port=$((31000 + $$ % 10000))
mkdir -p "$t/pki" "$t/log" "$t/logs" "$t/fwork" "$t/rwork" "$t/run"
# the CA and the two machines' log certificates (names n1 and m1, as the cluster's)
(
	cd "$t/pki"
	openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout ca.key -out ca.crt -days 1 -subj /CN=bench-ca 2> /dev/null
	for n in n1 m1; do
		openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout $n.key -out $n.csr -subj "/CN=kiln:log:$n" 2> /dev/null
		printf 'subjectAltName=DNS:%s,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' $n > $n.ext
		openssl x509 -req -in $n.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -extfile $n.ext -out $n.crt 2> /dev/null
	done
)
# receiver: stores the time it wrote each line beside it
sed "s|@WORK@|$t/rwork|g; s|@RUN@|$t/run|g; s|/data/logs/|$t/logs/|" "$top/rootfs/etc/kiln/log/receive.conf" |
	sed 's|string="%timereported:::date-rfc3339% %msg%\\n"|string="%timegenerated:::date-unixtimestamp%.%timegenerated:::date-subseconds% %msg%\\n"|' > "$t/r.conf"
printf '{"version": 1, "nomatch": "", "type": "string", "table": [{"index": "127.0.0.1", "value": "n1"}]}\n' > "$t/run/peers.json"
cat >> "$t/r.conf" <<EOT
input(type="imrelp" port="$port" ruleset="remote" maxDataSize="70k" oversizeMode="truncate"
      tls="on" tls.caCert="$t/pki/ca.crt" tls.myCert="$t/pki/m1.crt" tls.myPrivKey="$t/pki/m1.key"
      tls.authMode="name" tls.permittedPeer=["n1"])
EOT
# forwarder: logship-run's action, to the receiver
sed "s|@HOST@|n1|; s|@WORK@|$t/fwork|; s|/data/log/|$t/log/|g" "$top/rootfs/etc/kiln/log/forward.conf" > "$t/f.conf"
sed -n '/^\taction(type="omrelp"/,/action.resumeInterval/p' "$top/rootfs/usr/libexec/kiln/logship-run" |
	sed "s/^\t//; s|\$name|m1|g; s|\$addr|127.0.0.1|; s|port=\"2514\"|port=\"$port\"|; s|\$pki/ca.crt|$t/pki/ca.crt|; s|\$pki/log.crt|$t/pki/n1.crt|; s|\$pki/log.key|$t/pki/n1.key|; s|\$queue_max|64m|" >> "$t/f.conf"
grep -q 'target="127.0.0.1"' "$t/f.conf" || { echo "bench-logs: could not take logship-run's action"; exit 1; }
# imkmsg needs the kernel's log: left out here (this measures the files' path)
sed -i '/module(load="imkmsg")/d' "$t/f.conf"
rsyslogd -n -f "$t/r.conf" -i "$t/r.pid" > "$t/r.out" 2>&1 &
pids="$pids $!"
sleep 1
rsyslogd -n -f "$t/f.conf" -i "$t/f.pid" > "$t/f.out" 2>&1 &
fpid=$!
pids="$pids $fpid"
sleep 2
kill -0 "$fpid" 2> /dev/null || { echo "bench-logs: the forwarder did not start: $(tail -n 2 "$t/f.out")"; exit 1; }
cpu() { awk '{ print $14 + $15 }' "/proc/$fpid/stat"; }
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$fpid/status"; }
tick=$(getconf CLK_TCK)
for rate in 100 1000; do
	: > "$t/log/bench$rate.log"
	c0=$(cpu)
	# each 10 ms a batch of rate/100 lines, stamped with the time they are written
	i=0 per=$((rate / 100))
	while [ $i -lt $((rate * 10)) ]; do
		now=$(date +%s.%N)
		j=0
		while [ $j -lt $per ]; do i=$((i + 1)); j=$((j + 1)); echo "w=$now seq=$i"; done >> "$t/log/bench$rate.log"
		sleep 0.01
	done
	end=$(($(date +%s) + 30))
	while [ "$(grep -c "seq=" "$t/logs/n1/bench$rate.log" 2> /dev/null || echo 0)" -lt $((rate * 10)) ] && [ "$(date +%s)" -lt "$end" ]; do sleep 0.2; done
	c1=$(cpu)
	cpu_ms=$(((c1 - c0) * 1000 / tick))
	# latencies in ms, sorted: the receiver's time of the stored line minus the writer's stamp in it
	awk '{ for (i = 2; i <= NF; i++) if ($i ~ /^w=/) { printf "%.3f\n", ($1 - substr($i, 3)) * 1000; break } }' \
		"$t/logs/n1/bench$rate.log" 2> /dev/null | sort -n > "$t/lat"
	n=$(wc -l < "$t/lat")
	[ "$n" -gt 0 ] || { echo "$rate lines/s: nothing arrived ($(tail -n 2 "$t/f.out" | tr '\n' ' '))"; continue; }
	med=$(sed -n "$(((n + 1) / 2))p" "$t/lat") p99=$(sed -n "$(((n * 99 + 99) / 100))p" "$t/lat")
	printf '%d lines/s for 10 s: %d of %d stored; forwarder CPU %d.%02d s (%d%% of a core), RSS %d KiB; written to stored: median %s ms, 99th percentile %s ms\n' \
		"$rate" "$n" $((rate * 10)) $((cpu_ms / 1000)) $((cpu_ms % 1000 / 10)) $((cpu_ms / 100)) "$(rss)" "$med" "$p99"
done
