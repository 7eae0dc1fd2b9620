#!/bin/sh
# 20-init-pidns.t: kiln's init as PID 1 of a new PID namespace (unshare -pf), sandboxed (KILN_SANDBOX: no mounts,
# no reboot): dependency order, readiness by notify fd, a crash loop that starves nobody, restarts with growing
# delays after kill -9, orphans reaped, a missing binary reported, the ready/degraded summary, initctl, log
# rotation, and SIGTERM stopping services in reverse dependency order.
. tests/system/lib/tap.sh

plan 16
init=$KILN_BUILD/init/init
initctl=$KILN_BUILD/init/initctl
[ -x "$init" ] || make -s init || bail "cannot build the init"
command -v unshare >/dev/null || bail "unshare (util-linux) is needed"

T=$(mktemp -d "${TMPDIR:-/tmp}/kiln-pidns.XXXXXX")
upid=
cleanup() { [ -n "$upid" ] && kill -9 "$upid" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
mkdir -p "$T/etc/services" "$T/run" "$T/log" "$T/bin"
now='$(date +%s.%N)'

svc() { printf '%s\n' "$2" > "$T/etc/services/$1"; }
script() { printf '#!/bin/sh\n%s\n' "$2" > "$T/bin/$1"; chmod 755 "$T/bin/$1"; }

# base: ready after 1 s through its notify fd; app requires it. Both record when they stop.
script base "trap 'echo base >> $T/stopped; exit 0' TERM
sleep 1; echo \"base-ready $now\" >> $T/events; echo >&3
while :; do sleep 0.1; done"
svc base "command = $T/bin/base
ready = notify 3"
script app "trap 'echo app >> $T/stopped; exit 0' TERM
echo \"app-start $now\" >> $T/events
while :; do sleep 0.1; done"
svc app "command = $T/bin/app
requires = base"
# crashy: fails at once, forever.
script crashy "echo \"crashy $now\" >> $T/crashy; exit 1"
svc crashy "command = $T/bin/crashy"
# victim: killed with -9 by the test, twice.
script victim "echo \"victim $now\" >> $T/victim; exec sleep 1000"
svc victim "command = $T/bin/victim"
# orphaner: leaves grandchildren behind, which the init must reap when they die.
script orphaner "for i in 1 2 3 4 5; do (sleep 0.3 &); done; exit 0"
svc orphaner "command = $T/bin/orphaner
type = oneshot"
# a job that counts zombies in the namespace every 2 s
script zombies 'n=0; for s in /proc/[0-9]*/stat; do case $(cut -d" " -f3 "$s" 2>/dev/null) in Z) n=$((n+1));; esac; done; echo "zombies=$n"'
svc zombies "command = $T/bin/zombies
every = 2"
svc missing "command = /nonexistent/kiln-missing --flag"
script chatty 'i=0; while [ $i -lt 40 ]; do echo "line $i: 0123456789012345678901234567890123456789012345678901234567890123456789"; i=$((i+1)); done; exec sleep 1000'
svc chatty "command = $T/bin/chatty
log_size = 1024
log_keep = 2"

start=$(date +%s.%N)
KILN_SANDBOX=1 KILN_ETC="$T/etc" KILN_RUN="$T/run" KILN_LOG_DIR="$T/log" \
	unshare -pf --mount-proc "$init" > "$T/console" 2>&1 &
upid=$!
( sleep 90; kill -9 "$upid" 2>/dev/null ) >/dev/null 2>&1 &  # a watchdog: this file can never hang
watchdog=$!
i=0; ipid=
while [ -z "$ipid" ] && [ $i -lt 50 ]; do ipid=$(pgrep -P "$upid" | head -n 1); sleep 0.1; i=$((i + 1)); done
[ -n "$ipid" ] || bail "the init did not start"
# Pids that initctl reports are the namespace's: signals to them go through nsenter.
nskill() { nsenter -t "$ipid" -p kill "$@"; }
ctl() { KILN_RUN="$T/run" KILN_LOG_DIR="$T/log" timeout 5 "$initctl" "$@"; }
waitfor() { # file regex seconds
	i=0
	while [ $i -lt $(($3 * 10)) ]; do grep -Eq "$2" "$1" 2>/dev/null && return 0; sleep 0.1; i=$((i + 1)); done
	return 1
}

if waitfor "$T/console" 'kiln: (ready|degraded):' 15; then
	t=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
	ok "summary printed after ${t}s: $(grep -E 'kiln: (ready|degraded)' "$T/console")"
else
	not_ok "summary printed"; diag "$(cat "$T/console")"
fi
check "degraded summary names exactly the failed services" \
	grep -Eq 'kiln: degraded: 5 of 7 services ready in [0-9.]+s \(failed: crashy missing\)' "$T/console"
check "the missing binary is reported as not found" grep -q 'kiln: missing: /nonexistent/kiln-missing: not found' "$T/console"
check "app started only after base was ready (notify fd)" sh -c "
	b=\$(sed -n 's/^base-ready //p' '$T/events'); a=\$(sed -n 's/^app-start //p' '$T/events')
	[ -n \"\$a\" ] && [ -n \"\$b\" ] && awk -v a=\"\$a\" -v b=\"\$b\" 'BEGIN { exit !(a >= b) }'"
check "a crash loop does not delay a healthy service (app up within 3 s)" sh -c "
	a=\$(sed -n 's/^app-start //p' '$T/events'); awk -v a=\"\$a\" -v s=$start 'BEGIN { exit !(a - s < 3) }'"

# kill -9 twice: restarted after 1 s, then after 2 s
pid1=$(ctl status victim | awk '$1 == "victim" { print $3 }')
k1=$(date +%s.%N); nskill -9 "$pid1"
waitfor "$T/console" 'kiln: victim: killed by signal 9, restarting in 1s' 5 && waitfor "$T/victim" '.' 1
sleep 1.5
pid2=$(ctl status victim | awk '$1 == "victim" { print $3 }')
k2=$(date +%s.%N); nskill -9 "$pid2"
waitfor "$T/console" 'kiln: victim: killed by signal 9, restarting in 2s' 5
sleep 2.5
check "victim killed with -9 is restarted after 1 s, then after 2 s" sh -c "
	grep -q 'victim: killed by signal 9, restarting in 1s' '$T/console' &&
	grep -q 'victim: killed by signal 9, restarting in 2s' '$T/console' && [ \$(wc -l < '$T/victim') -eq 3 ]"
check "the restart delays grow: about 1 s, then 2 s from each kill to the next start" sh -c "
	awk -v k1=$k1 -v k2=$k2 '{ t[NR] = \$2 } END { d1 = t[2] - k1; d2 = t[3] - k2; print d1, d2;
		exit !(d1 >= 0.9 && d1 < 1.7 && d2 >= 1.9 && d2 < 2.7) }' '$T/victim'"
check "crashy keeps being restarted with growing delays (1s 2s 4s)" sh -c "
	grep -q 'crashy: exited 1, restarting in 1s' '$T/console' && grep -q 'crashy: exited 1, restarting in 2s' '$T/console' &&
	grep -q 'crashy: exited 1, restarting in 4s' '$T/console'"
check "orphaned grandchildren are reaped (no zombies in the namespace)" sh -c "
	grep -q 'zombies=0' '$T/log/zombies.log' && ! grep -q 'zombies=[1-9]' '$T/log/zombies.log'"
check "the scheduled job ran more than once" sh -c "[ \$(grep -c zombies= '$T/log/zombies.log') -ge 2 ]"
check "initctl status lists every service with its state" sh -c "
	ctl() { KILN_RUN='$T/run' timeout 5 '$initctl' \"\$@\"; }
	s=\$(ctl status); echo \"\$s\" | grep -Eq '^app +ready' && echo \"\$s\" | grep -Eq '^missing +failed' &&
	echo \"\$s\" | grep -Eq '^orphaner +done' && echo \"\$s\" | grep -Eq '^zombies +scheduled .*job every 2s'"
check "initctl stop, then start, of a service" sh -c "
	ctl() { KILN_RUN='$T/run' timeout 5 '$initctl' \"\$@\"; }
	ctl stop chatty && sleep 0.5 && ctl status chatty | grep -Eq '^chatty +stopped' &&
	ctl start chatty && sleep 0.5 && ctl status chatty | grep -Eq '^chatty +ready' &&
	! ctl status nosuch 2>/dev/null"
check "log rotation at log_size keeps log_keep files" sh -c "
	[ -s '$T/log/chatty.log.1' ] && [ -s '$T/log/chatty.log.2' ] && [ ! -e '$T/log/chatty.log.3' ] &&
	[ \$(stat -c %s '$T/log/chatty.log') -le 1024 ]"
check "initctl logs shows a service's last lines" sh -c "
	out=\$(KILN_LOG_DIR='$T/log' '$initctl' logs chatty -n 3); echo \"\$out\"; ls -la '$T/log'
	[ \$(echo \"\$out\" | grep -c '^line') -eq 3 ]"

# SIGTERM: app (which requires base) stops first; the init then ends (sandbox) with status 0.
kill -TERM "$ipid"
wait "$upid"; rc=$?
upid=
kill "$watchdog" 2>/dev/null
if [ "$rc" -eq 0 ] && grep -q 'kiln: powering off' "$T/console"; then ok "SIGTERM: orderly shutdown, init exits 0"; else
	not_ok "SIGTERM: orderly shutdown (status $rc)"; diag "$(tail -n 5 "$T/console")"; fi
check "services stopped in reverse dependency order (app before base)" sh -c "[ \"\$(tr '\n' ' ' < '$T/stopped')\" = 'app base ' ]"
done_testing
