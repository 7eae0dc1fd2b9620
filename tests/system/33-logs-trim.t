#!/bin/sh
# 33-logs-trim.t: the masters' log quota (logs-trim, the job that keeps /data/logs within its caps), on the build
# host in a scratch folder laid out as the log receiver files lines (MACHINE/SOURCE.log, rotated SOURCE.log.1): a
# folder over its cap loses its largest rotated file first, then its live file is set aside and the receiver told
# (SIGHUP) to reopen; a folder under its cap is left alone; many machines share the total cap (a quarter of DATA, or
# LOG_TOTAL_CAP_MB); a cap that is not a number is refused.
. tests/system/lib/tap.sh
TRIM=$TOP/images/master/rootfs/usr/libexec/kiln/logs-trim
plan 6

T=$(mktemp -d "${TMPDIR:-/tmp}/kiln-trim.XXXXXX")
hup_pid=
cleanup() { [ -z "$hup_pid" ] || kill "$hup_pid" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
trap 'exit 2' INT TERM
mib() { head -c $(($2 * 1048576)) /dev/zero > "$1"; } # FILE MIB
size_mb() { du -sm "$1" | cut -f1; }
# a stand-in for the receiver: it writes "hup" to a file when it gets SIGHUP (what rsyslogd does: reopen its files)
sh -c "trap 'echo hup >> $T/hup' HUP; while :; do sleep 1; done" &
hup_pid=$!
echo "$hup_pid" > "$T/pid"
sleep 0.2

# n1: 5 MiB over a 4 MiB cap, two rotated files: the larger rotated one goes, nothing else.
d=$T/logs
mkdir -p "$d/n1/pod" "$d/n2"
mib "$d/n1/kubelet.log" 1; mib "$d/n1/kubelet.log.1" 2; mib "$d/n1/pod/web.log.1" 1; mib "$d/n1/pod/web.log" 1
mib "$d/n2/kubelet.log" 1
out=$(LOG_DIR=$d LOG_MACHINE_CAP_MB=4 LOG_TOTAL_CAP_MB=1000 LOG_PIDFILE=$T/pid sh "$TRIM" 2>&1)
if [ ! -e "$d/n1/kubelet.log.1" ] && [ -e "$d/n1/pod/web.log.1" ] && [ -e "$d/n1/kubelet.log" ] &&
	echo "$out" | grep -q '^logs-trim: n1: 5 MiB, over its cap of 4 MiB: removed kubelet.log.1 (2 MiB)$'; then
	ok "a machine over its cap loses its largest rotated file, and says so: '$out'"
else not_ok "a machine over its cap loses its largest rotated file"; diag "$out" "$(cd "$d" && find . -type f | sort)"; fi
check "a machine under its cap is left alone (n2: 1 MiB of 4)" test -e "$d/n2/kubelet.log"

# n3: live files only, over the cap: the largest is set aside as .log.1 and the receiver told; the next run removes it.
mkdir -p "$d/n3"
mib "$d/n3/etcd.log" 3; mib "$d/n3/ntpd.log" 2
rm -f "$T/hup"
out=$(LOG_DIR=$d LOG_MACHINE_CAP_MB=4 LOG_TOTAL_CAP_MB=1000 LOG_PIDFILE=$T/pid sh "$TRIM" 2>&1)
sleep 1.5 # the stand-in's sleep 1 ends before its trap runs
out2=$(LOG_DIR=$d LOG_MACHINE_CAP_MB=4 LOG_TOTAL_CAP_MB=1000 LOG_PIDFILE=$T/pid sh "$TRIM" 2>&1)
if [ -e "$T/hup" ] && [ ! -e "$d/n3/etcd.log.1" ] && [ ! -e "$d/n3/etcd.log" ] && [ -e "$d/n3/ntpd.log" ] &&
	echo "$out2" | grep -q 'n3: 5 MiB, over its cap of 4 MiB: removed etcd.log.1 (3 MiB)'; then
	ok "with no rotated file left, the largest live file is set aside, the receiver told to reopen (SIGHUP), and the next run removes it"
else not_ok "a live file set aside, the receiver told, removed by the next run"
	diag "first: $out" "second: $out2" "hup: $(cat "$T/hup" 2>&1)" "$(cd "$d" && find . -type f | sort)"; fi

# Many machines: 3 folders share a total cap of 6 MiB, 2 MiB each, below their own cap of 64.
d=$T/many
for m in a b c; do mkdir -p "$d/$m"; mib "$d/$m/x.log.1" 2; mib "$d/$m/x.log" 1; done
out=$(LOG_DIR=$d LOG_TOTAL_CAP_MB=6 LOG_PIDFILE=$T/pid sh "$TRIM" 2>&1)
if [ "$(size_mb "$d")" -le 6 ] && [ "$(echo "$out" | grep -c 'over its cap of 2 MiB (3 machines share 6 MiB)')" = 3 ]; then
	ok "3 machines share a total cap of 6 MiB: each kept under 2 MiB ($(size_mb "$d") MiB left)"
else not_ok "machines share the total cap"; diag "$out" "$(du -sm "$d"/*)"; fi
# The default total: a quarter of the file system's size (here a 40 MiB tmpfs: 10 MiB for 2 machines, 5 each).
d=$T/fs
mkdir -p "$d"
if mount -t tmpfs -o size=40m none "$d" 2> /dev/null; then
	for m in a b; do mkdir -p "$d/$m"; mib "$d/$m/x.log.1" 4; mib "$d/$m/x.log" 3; done
	out=$(LOG_DIR=$d LOG_PIDFILE=$T/pid sh "$TRIM" 2>&1)
	used=$(size_mb "$d")
	umount "$d"
	if [ "$used" -le 10 ] && echo "$out" | grep -q 'over its cap of 5 MiB (2 machines share 10 MiB)'; then
		ok "by default the machines share a quarter of the file system (40 MiB: 5 MiB each, $used MiB left)"
	else not_ok "the default total cap is a quarter of the file system"; diag "$out" "used $used MiB"; fi
else
	skip "cannot mount a tmpfs here (not root)"
fi
out=$(LOG_DIR=$T/logs LOG_MACHINE_CAP_MB=4x sh "$TRIM" 2>&1) && rc=0 || rc=$?
case $rc:$out in 0:*) not_ok "a cap that is not a number is refused"; diag "$out" ;;
	*"LOG_MACHINE_CAP_MB '4x' is not a number"*) ok "a cap that is not a number is refused, naming it (exit $rc: $out)" ;;
	*) not_ok "a cap that is not a number is refused, naming it"; diag "$out" ;; esac
done_testing
