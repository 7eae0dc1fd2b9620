#!/bin/sh
# 20-init-pidns.t: kiln's init as PID 1 of a new PID namespace, sandboxed (KILN_SANDBOX: no mounts, no reboot).
# Run 1 (a degraded boot): dependency order by notify fd, a crash loop that starves nobody, restarts with growing
# delays after kill -9, orphans reaped, a missing binary, a cycle and an unknown requirement reported, initctl,
# log rotation, SIGTERM stopping services in reverse dependency order. Run 2 (a clean boot): the ready line, a
# malformed file reported and skipped, exec probes with the service's environment, a chain started in order. Run 3:
# a console that stops reading (a full pipe nobody reads): init goes on supervising, and says how much it dropped.
# Run 6: a log file that cannot be written (a FIFO nobody reads, as a hung disk): init goes on supervising, drops
# whole lines past its buffer and says how many; its log writer restarts when killed and drains at shutdown; one
# that cannot finish at shutdown is waited for 5 s.
. tests/system/lib/tap.sh
. tests/system/lib/init-sandbox.sh

plan 57
init=$KILN_BUILD/init/init
initctl=$KILN_BUILD/init/initctl
# Brought up to date when the compiler is here (a no-op when it is), so a stale binary is never tested.
if command -v "${CC_MUSL:-musl-gcc}" >/dev/null; then
	make -s -C init O="$KILN_BUILD/init" all >/dev/null || bail "cannot build the init"
fi
[ -x "$init" ] && [ -x "$initctl" ] || bail "no init at $init"
command -v unshare >/dev/null && command -v nsenter >/dev/null || bail "unshare and nsenter (util-linux) are needed"
[ "$(id -u)" -eq 0 ] || bail "a PID namespace needs root here"

T=$(mktemp -d "${TMPDIR:-/tmp}/kiln-pidns.XXXXXX")
trap 'sb_cleanup; rm -rf "$T"' EXIT
now='$(date +%s.%N)'

# ---------------------------------------------------------------- run 1: a degraded boot
sb_new "$T/1"
E=$SB/events
# base: ready 1 s after start through its notify fd; app requires it. Both record when they stop.
sb_script base "trap 'echo base >> $SB/stopped; exit 0' TERM
sleep 1; echo \"base-ready $now\" >> $E; echo >&3
while :; do sleep 0.1; done"
sb_service base "command = $SB/bin/base
ready = notify 3"
# sdbase: ready = sd_notify: READY=1 first from another session (not listened to), then its own 1 s later, as
# etcd and containerd tell it (a datagram to \$NOTIFY_SOCKET); sdapp requires it.
sb_script sdbase "trap 'exit 0' TERM
echo \"sd-env \$NOTIFY_SOCKET\" >> $E
printf 'READY=1\\n' | setsid socat - UNIX-SENDTO:\$NOTIFY_SOCKET
sleep 1; echo \"sd-ready $now\" >> $E
printf 'STATUS=serving\\nREADY=1\\n' | socat - UNIX-SENDTO:\$NOTIFY_SOCKET
while :; do sleep 0.1; done"
sb_service sdbase "command = $SB/bin/sdbase
ready = sd_notify"
sb_script sdapp "echo \"sdapp-start $now\" >> $E; exec sleep 1000"
sb_service sdapp "command = $SB/bin/sdapp
requires = sdbase"
sb_script app "trap 'sleep 0.3; echo app >> $SB/stopped; exit 0' TERM
echo \"app-start $now\" >> $E
while :; do sleep 0.1; done"
sb_service app "command = $SB/bin/app
requires = base"
# slowstop: takes a second to stop, so that a start can come while it is still stopping.
sb_script slowstop "trap 'sleep 1; exit 0' TERM
while :; do sleep 0.1; done"
sb_service slowstop "command = $SB/bin/slowstop"
# crashy: fails at once, forever, refusing a flag as a Go program does (the error, then its usage); healthy: needs
# nothing, must be up at once regardless.
sb_script crashy "echo \"crashy $now\" >> $SB/crashy; echo 'Error: unknown flag: --bogus'; echo 'Usage:'; echo '  crashy [flags]'; exit 1"
sb_service crashy "command = $SB/bin/crashy"
sb_script healthy "echo \"healthy-start $now\" >> $E; exec sleep 1000"
sb_service healthy "command = $SB/bin/healthy"
# victim: killed with -9 by the test, twice.
sb_script victim "echo \"victim $now\" >> $SB/victim; exec sleep 1000"
sb_service victim "command = $SB/bin/victim"
# orphaner: leaves grandchildren behind, which the init must reap when they die.
sb_script orphaner "for i in 1 2 3 4 5; do (sleep 0.3 &); done; exit 0"
sb_service orphaner "command = $SB/bin/orphaner
type = oneshot"
# a job that counts zombies in the namespace every 2 s: a process still a zombie 0.5 s after it was first seen
# (one seen once may be a service that exited a moment ago, before init's SIGCHLD handler ran)
sb_script zombies 'z() { for s in /proc/[0-9]*/stat; do set -- $(cat "$s" 2>/dev/null); [ "$3" = Z ] && echo "$1"; done; }
first=$(z); sleep 0.5; n=0; for p in $(z); do case " $(echo $first) " in *" $p "*) n=$((n+1));; esac; done; echo "zombies=$n"'
sb_service zombies "command = $SB/bin/zombies
every = 2"
# A job whose interval comes from an env file, failing every other run with a reason on its output.
sb_script flaky 'n=$(cat "$0.n" 2>/dev/null || echo 0); echo $((n + 1)) > "$0.n"; echo "flaky: run $n"
if [ $((n % 2)) = 1 ]; then echo "flaky: no space left on /data"; exit 3; fi'
printf 'FLAKY_EVERY=1\n' > "$SB/flaky.env"
# A job that requires a service that never becomes ready (missing) never runs.
sb_service needs-missing "command = /bin/true
requires = missing
every = 1"
# A job that hangs is killed at its timeout, and the next run still comes.
sb_service hangs "command = /bin/sleep 100
every = 1
timeout = 1"
# A job that fails every run the same way: the console hears of it once.
sb_script stuck 'echo "stuck: backup target unreachable"; exit 1'
sb_service stuck "command = $SB/bin/stuck
every = 1"
sb_service flaky "command = $SB/bin/flaky
envfile = $SB/flaky.env
every = \${FLAKY_EVERY:-100}"
sb_service missing "command = /nonexistent/kiln-missing --flag"
sb_service cyc-a "command = /bin/true
requires = cyc-b"
sb_service cyc-b "command = /bin/true
requires = cyc-a"
sb_service lonely "command = /bin/true
requires = ghost"
# fds: nothing but its standard input, output and error comes from init (a leaked descriptor was seen once).
sb_service fds "command = /bin/sleep 1001"
# capabilities: a service switched to an unprivileged user keeps the ones it names (ambient, through exec) and no
# other; one that names none has none.
sb_service capped "command = /bin/sleep 1002
user = 65534:65534
capabilities = net_bind_service"
sb_service uncapped "command = /bin/sleep 1003
user = 65534:65534"
sb_script chatty 'i=0; while [ $i -lt 40 ]; do echo "line $i: 0123456789012345678901234567890123456789012345678901234567890123456789"; i=$((i+1)); done; exec sleep 1000'
sb_service chatty "command = $SB/bin/chatty
log_size = 1024
log_keep = 2"

sb_start
if sb_wait "$SB/console" 'kiln: (ready|degraded):' 15; then
	ok "summary printed after $(elapsed "$SB_START" "$(date +%s.%N)")s: $(grep -E 'kiln: (ready|degraded)' "$SB/console")"
else
	not_ok "summary printed"; diag "$(cat "$SB/console")"
fi
check "degraded line: counts and exactly the failed services" \
	grep -Eq '^kiln: degraded: 12 of 17 services ready in [0-9]+\.[0-9][0-9]s \(failed: crashy missing cyc-a cyc-b lonely\)$' "$SB/console"
check "the missing binary is reported as not found (while the others run)" \
	sh -c "grep -q '^kiln: missing: /nonexistent/kiln-missing: not found$' '$SB/console' && ! grep -q 'missing: .*restarting' '$SB/console'"
# spgrep ARGS: pgrep inside this sandbox's PID namespace only (another run of this test may be going on beside it)
spgrep() { pgrep --ns "$SB_IPID" --nslist pid "$@"; }
fdpid=$(spgrep -fx '/bin/sleep 1001' | head -n 1)
fds=$(ls "/proc/${fdpid:-none}/fd" 2>&1 | tr '\n' ' ')
check "a service has only descriptors 0, 1 and 2 from init: $fds" test "$fds" = "0 1 2 "
caps() { p=$(spgrep -fx "/bin/sleep $1" | head -n 1); grep -E '^(Uid|CapEff|CapAmb):' "/proc/${p:-none}/status" | tr -s '\t' ' ' | tr '\n' ' '; }
c=$(caps 1002)
check "capabilities = net_bind_service: uid 65534 keeps CAP_NET_BIND_SERVICE alone, effective and ambient: $c" \
	test "$(echo "$c" | sed 's/Uid: \([0-9]*\).*CapEff: \([0-9a-f]*\) CapAmb: \([0-9a-f]*\) /\1 \2 \3/')" = "65534 0000000000000400 0000000000000400"
c=$(caps 1003)
check "without capabilities, uid 65534 has none: $c" \
	test "$(echo "$c" | sed 's/Uid: \([0-9]*\).*CapEff: \([0-9a-f]*\) CapAmb: \([0-9a-f]*\) /\1 \2 \3/')" = "65534 0000000000000000 0000000000000000"
check "a dependency cycle is reported by name" grep -Eq 'cycle: cyc-(a -> cyc-b -> cyc-a|b -> cyc-a -> cyc-b)' "$SB/console"
check "an unknown requirement is reported" grep -q 'lonely requires unknown service ghost' "$SB/console"
check "app started only after base was ready (notify fd)" sh -c "
	b=\$(sed -n 's/^base-ready //p' '$E'); a=\$(sed -n 's/^app-start //p' '$E')
	[ -n \"\$a\" ] && [ -n \"\$b\" ] && awk -v a=\"\$a\" -v b=\"\$b\" 'BEGIN { exit !(a >= b) }'"
check "ready = sd_notify: sdapp started only after sdbase's READY=1 from its own session (not the one from another)" sh -c "
	b=\$(sed -n 's/^sd-ready //p' '$E'); a=\$(sed -n 's/^sdapp-start //p' '$E'); e=\$(sed -n 's/^sd-env //p' '$E')
	echo \"NOTIFY_SOCKET=\$e ready \$b start \$a\"; case \$e in */notify/sdbase) ;; *) exit 1 ;; esac
	[ -n \"\$a\" ] && [ -n \"\$b\" ] && awk -v a=\"\$a\" -v b=\"\$b\" 'BEGIN { exit !(a >= b) }' && [ ! -e \"\$e\" ]"
check "a crash loop does not delay a healthy service (healthy up within 0.5 s, app within 2.5 s)" sh -c "
	h=\$(sed -n 's/^healthy-start //p' '$E'); a=\$(sed -n 's/^app-start //p' '$E')
	awk -v h=\"\$h\" -v a=\"\$a\" -v s=$SB_START 'BEGIN { print h - s, a - s; exit !(h - s < 0.5 && a - s < 2.5) }'"

# kill -9 twice: restarted after 1 s, then after 2 s
pid1=$(sb_pid victim)
k1=$(date +%s.%N); sb_kill -9 "$pid1"
sb_wait "$SB/console" 'kiln: victim: killed by signal 9, restarting in 1s' 5 && sb_wait "$SB/victim" '.' 1
sleep 1.5
pid2=$(sb_pid victim)
k2=$(date +%s.%N); sb_kill -9 "$pid2"
sb_wait "$SB/console" 'kiln: victim: killed by signal 9, restarting in 2s' 5
sleep 2.5
check "victim killed with -9 is reported and restarted twice" sh -c "
	grep -q 'victim: killed by signal 9, restarting in 1s' '$SB/console' &&
	grep -q 'victim: killed by signal 9, restarting in 2s' '$SB/console' && [ \$(wc -l < '$SB/victim') -eq 3 ]"
check "the restart delays grow: about 1 s, then 2 s from each kill to the next start" sh -c "
	awk -v k1=$k1 -v k2=$k2 '{ t[NR] = \$2 } END { d1 = t[2] - k1; d2 = t[3] - k2; print d1, d2;
		exit !(d1 >= 0.9 && d1 < 1.6 && d2 >= 1.9 && d2 < 2.6) }' '$SB/victim'"
sb_wait "$SB/crashy" . 1; i=0
while [ "$(wc -l < "$SB/crashy")" -lt 4 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
check "crashy is restarted with growing delays (1s 2s 4s), measured from its own log" sh -c "
	grep -q 'crashy: exited 1: Error: unknown flag: --bogus, restarting in 4s' '$SB/console' &&
	awk '{ t[NR] = \$2 } END { d1 = t[2] - t[1]; d2 = t[3] - t[2]; d3 = t[4] - t[3]; print d1, d2, d3;
		exit !(NR >= 4 && d1 >= 0.9 && d1 < 1.6 && d2 >= 1.9 && d2 < 2.6 && d3 >= 3.9 && d3 < 4.6) }' '$SB/crashy'"
check "orphaned grandchildren are reaped (no zombies in the namespace)" sh -c "
	grep -q 'zombies=0' '$SB/log/zombies.log' && ! grep -q 'zombies=[1-9]' '$SB/log/zombies.log'"
check "the scheduled job ran more than once, and status shows its last result" sh -c "
	[ \$(grep -c zombies= '$SB/log/zombies.log') -ge 2 ] &&
	KILN_RUN='$SB/run' '$initctl' status zombies | grep -Eq '^zombies +(scheduled|starting) .*job every 2s, [0-9]+ runs, 0 failed, last run [0-9]+s ago: ok'"
check "a job's interval from its env file (1 s, not the default 100 s); status shows last ok and last failure with its reason" sh -c "
	s=\$(KILN_RUN='$SB/run' '$initctl' status flaky); echo \"\$s\"
	[ \$(grep -c 'flaky: run' '$SB/log/flaky.log') -ge 3 ] &&
	echo \"\$s\" | grep -Eq 'job every 1s, [0-9]+ runs, [1-9][0-9]* failed, .*last ok [0-9]+s ago, last failure [0-9]+s ago: flaky: no space left on /data'"
check "the console hears of a job when its result changes: a job failing the same way every run once, a flaky one each time it fails and recovers" sh -c "
	KILN_RUN='$SB/run' '$initctl' status stuck | grep -Eq 'job every 1s, ([3-9]|[1-9][0-9]+) runs, ([3-9]|[1-9][0-9]+) failed' &&
	[ \$(grep -c 'stuck: job failed: exited 1: stuck: backup target unreachable' '$SB/console') = 1 ] &&
	grep -q 'flaky: job failed: exited 3: flaky: no space left on /data' '$SB/console' &&
	grep -q 'flaky: job ok again after 1 failed run\$' '$SB/console' || { KILN_RUN='$SB/run' '$initctl' status stuck; grep -E 'stuck|flaky' '$SB/console'; exit 1; }"
check "a job still running at its timeout is killed, says so, and runs again at its next time" sh -c "
	s=\$(KILN_RUN='$SB/run' '$initctl' status hangs); echo \"\$s\"
	echo \"\$s\" | grep -Eq 'job every 1s, ([2-9]|[1-9][0-9]+) runs, ([2-9]|[1-9][0-9]+) failed, .*: still running after its timeout of 1s'"
check "a job whose requirement is not ready does not run" sh -c "
	KILN_RUN='$SB/run' '$initctl' status needs-missing | grep -Eq '^needs-missing +scheduled .*job every 1s, 0 runs, 0 failed, never run'"
check "initctl status lists every service with its state" sh -c "
	s=\$(KILN_RUN='$SB/run' timeout 5 '$initctl' status); echo \"\$s\"
	echo \"\$s\" | grep -Eq '^app +ready +[0-9]+ +0 ' && echo \"\$s\" | grep -Eq '^missing +failed' &&
	echo \"\$s\" | grep -Eq '^orphaner +done' && echo \"\$s\" | grep -Eq '^crashy +(backoff|starting) .* exited 1: Error: unknown flag: --bogus' &&
	echo \"\$s\" | grep -Eq '^cyc-a +failed .*dependency cycle' && [ \$(echo \"\$s\" | wc -l) -eq 23 ]"
check "initctl metrics: Prometheus text (every sample line a name, labels and a number), the summary, states, restarts, jobs" sh -c "
	m=\$(KILN_RUN='$SB/run' timeout 5 '$initctl' metrics) || exit 1
	bad=\$(echo \"\$m\" | grep -v '^# ' | grep -Ev '^[a-z_]+(\\{[a-z_]+=\"[A-Za-z0-9_.-]+\"(,[a-z_]+=\"[A-Za-z0-9_.-]+\")*\\})? -?[0-9]+(\\.[0-9]+)?\$')
	[ -z \"\$bad\" ] || { echo \"not samples: \$bad\"; exit 1; }
	for l in 'kiln_boot_ready 0' 'kiln_service_state{service=\"app\",state=\"ready\"} 1' 'kiln_service_state{service=\"missing\",state=\"failed\"} 1' \
		'kiln_job_failures_total{job=\"flaky\"}' 'kiln_job_last_success_age_seconds{job=\"zombies\"}' 'kiln_service_ready_seconds{service=\"app\"}'; do
		echo \"\$m\" | grep -qF \"\$l\" || { echo \"no \$l\"; exit 1; }
	done
	r=\$(echo \"\$m\" | sed -n 's/^kiln_service_restarts_total{service=\"crashy\"} //p'); [ \"\${r:-0}\" -ge 2 ] || { echo \"crashy restarts: \$r\"; exit 1; }"
check "initctl stop, then start, of a service" sh -c "
	ctl() { KILN_RUN='$SB/run' timeout 5 '$initctl' \"\$@\"; }
	ctl stop healthy && sleep 0.5 && ctl status healthy | grep -Eq '^healthy +stopped +0 ' &&
	ctl start healthy && sleep 0.5 && ctl status healthy | grep -Eq '^healthy +ready +[1-9]'"
check "initctl start while a service is still stopping: it starts again once it has exited" sh -c "
	ctl() { KILN_RUN='$SB/run' timeout 5 '$initctl' \"\$@\"; }
	p1=\$(ctl status slowstop | awk 'NR == 2 { print \$3 }')
	ctl stop slowstop && ctl start slowstop && ctl status slowstop | grep -Eq '^slowstop +stopping' && sleep 2.5 &&
	s=\$(ctl status slowstop) && echo \"\$s\" && echo \"\$s\" | grep -Eq '^slowstop +ready +[1-9]' &&
	[ \"\$(echo \"\$s\" | awk 'NR == 2 { print \$3 }')\" != \"\$p1\" ]"
before=$(sb_pid healthy)
sb_ctl restart healthy >/dev/null 2>&1
sleep 0.5
after=$(sb_pid healthy)
check "initctl restart gives a new process, ready again" sh -c "
	[ -n '$before' ] && [ -n '$after' ] && [ '$before' != '$after' ] && [ '$after' != 0 ] &&
	KILN_RUN='$SB/run' '$initctl' status healthy | grep -Eq '^healthy +ready'"
check "initctl exit codes: 1 for an unknown service, 2 for bad usage" sh -c "
	ctl() { KILN_RUN='$SB/run' timeout 5 '$initctl' \"\$@\" 2>/dev/null; }
	ctl status nosuch; a=\$?; ctl restart nosuch; b=\$?; ctl frobnicate x; c=\$?; ctl start; d=\$?
	echo \$a \$b \$c \$d; [ \$a\$b\$c\$d = 1122 ]"
check "log rotation at log_size keeps log_keep files" sh -c "
	ls -l '$SB/log'; [ -s '$SB/log/chatty.log.1' ] && [ -s '$SB/log/chatty.log.2' ] && [ ! -e '$SB/log/chatty.log.3' ] &&
	[ \$(stat -c %s '$SB/log/chatty.log') -le 1024 ] && [ \$(stat -c %s '$SB/log/chatty.log.1') -le 1024 ] &&
	tail -n 1 '$SB/log/chatty.log' | grep -q '^line 39: '"
check "initctl logs shows a service's last lines" sh -c "
	out=\$(KILN_LOG_DIR='$SB/log' '$initctl' logs chatty -n 3); echo \"\$out\"
	[ \$(echo \"\$out\" | grep -c '^line') -eq 3 ] && echo \"\$out\" | tail -n 1 | grep -q '^line 39: '"

# SIGTERM: app (which requires base) stops first; the init then ends (sandbox) with status 0.
sb_stop TERM
if [ "$SB_RC" -eq 0 ] && grep -q '^kiln: powering off$' "$SB/console"; then ok "SIGTERM: orderly shutdown, init exits 0"; else
	not_ok "SIGTERM: orderly shutdown (status $SB_RC)"; diag "$(tail -n 5 "$SB/console")"; fi
check "services stopped in reverse dependency order (app before base)" sh -c "[ \"\$(tr '\n' ' ' < '$SB/stopped')\" = 'app base ' ]"
check "initctl exits 3 when init is gone" sh -c "KILN_RUN='$SB/run' timeout 5 '$initctl' status 2>/dev/null; [ \$? -eq 3 ]"

# ---------------------------------------------------------------- run 2: a clean boot
sb_new "$T/2"
E=$SB/events
# a chain: first (oneshot) -> second (ready by an exec probe using its env) -> third
sb_script first "echo first >> $E; touch $SB/first-done"
sb_service first "command = $SB/bin/first
type = oneshot"
sb_script second "echo second >> $E; sleep 0.5; touch \"\$MARK\"; trap 'echo second >> $SB/stopped; exit 0' TERM; while :; do sleep 0.1; done"
sb_service second "command = $SB/bin/second
requires = first
env = MARK=$SB/second-ready
ready = exec /bin/sh -c 'test -e \${MARK}'"
sb_script third "echo \"third \$HOSTNAME \$GREETING\" >> $E; trap 'sleep 0.3; echo third >> $SB/stopped; exit 0' TERM; while :; do sleep 0.1; done"
printf 'GREETING=from-envfile\n' > "$SB/third.env"
sb_service third "command = $SB/bin/third
requires = second
envfile = $SB/third.env
envfile = -$SB/absent.env"
sb_service skipped "command = /bin/true
condition = exists $SB/never"
sb_service after-skipped "command = /bin/true
requires = skipped"
sb_service job-after-skipped "command = /bin/true
requires = skipped
every = 1"
sb_service broken "command = /bin/true
readiness = soon"
# two conditions, the second false: skipped, naming it; and one left out by kiln.disable on the command line
sb_service gated "command = /bin/true
condition = exists $SB/bin/first
condition = missing $SB/bin/second"
sb_service unwanted "command = /bin/true"

KILN_CMDLINE="quiet kiln.disable=unwanted,other panic=10" sb_start
if sb_wait "$SB/console" 'kiln: (ready|degraded):' 10; then ok "run 2: summary printed"; else not_ok "run 2: summary printed"; diag "$(cat "$SB/console")"; fi
check "ready line once every service is ready (the skipped one is not counted)" \
	grep -Eq '^kiln: ready: 3 services in [0-9]+\.[0-9][0-9]s$' "$SB/console"
check "a service requiring a skipped one is skipped too, and says why" \
	grep -q '^kiln: after-skipped: skipped: requires skipped (skipped: no .*/never)$' "$SB/console"
sb_wait "$SB/console" 'job-after-skipped: skipped' 5 || :
check "a job requiring a skipped service is skipped too (when it falls due), and says why" \
	grep -q '^kiln: job-after-skipped: skipped: requires skipped (skipped: no .*/never)$' "$SB/console"
check "every condition must hold: the false one is named; kiln.disable leaves a service out, saying so" sh -c "
	grep -qx 'kiln: gated: skipped: found $SB/bin/second' '$SB/console' &&
	grep -qx 'kiln: unwanted: skipped: kiln.disable on the kernel command line' '$SB/console'"
check "a malformed service file is reported with file:line and reason" \
	grep -q "^kiln: $SB/etc/services/broken:2: unknown key 'readiness'$" "$SB/console"
check "a chain starts in dependency order, with exec probes and env files applied" sh -c "
	cat '$E'; [ \"\$(cut -d' ' -f1 '$E' | tr '\n' ' ')\" = 'first second third ' ] &&
	grep -q '^third [^ ]* from-envfile$' '$E'"
sb_stop USR1
check "SIGUSR1: halt in reverse order (third before second), exit 0" sh -c "
	[ $SB_RC -eq 0 ] && grep -q '^kiln: halted$' '$SB/console' && [ \"\$(tr '\n' ' ' < '$SB/stopped')\" = 'third second ' ]"

# ---------------------------------------------------------------- run 3: a console that stops reading
sb_new "$T/3"
mkfifo "$SB/confifo"
# the console's reader, stopped at once: the pipe is then filled to the brim before the init starts
cat "$SB/confifo" > "$SB/console" &
exec 7<> "$SB/confifo" # held open so the reader never sees an end while the pipe is refilled
catpid=$!
kill -STOP "$catpid"
dd if=/dev/zero of="$SB/confifo" bs=4096 count=64 oflag=nonblock 2>/dev/null
sb_script flapping "echo 'flapping: failing'; exit 1"
sb_service flapping "command = $SB/bin/flapping"
sb_service steady "command = /bin/sleep 1002"
hold=3 # seconds the console stays stopped; make test-long: the minute issue 14 asks for
[ "${KILN_LONG:-0}" = 1 ] && hold=60
SB_CONSOLE=$SB/confifo SB_LIMIT=$((hold + 60)) sb_start
sleep "$hold"
p1=$(sb_pid steady)
sb_kill -9 "$p1" 2> /dev/null
sleep 2
p2=$(sb_pid steady)
st=$(sb_ctl status 2>&1)
if [ -n "$p1" ] && [ -n "$p2" ] && [ "$p1" != "$p2" ] && echo "$st" | grep -Eq '^flapping +(backoff|starting) +[0-9]+ +[1-9]'; then
	ok "with the console not reading for $hold s, init answers initctl, restarts a killed service ($p1 then $p2) and a failing one"
else not_ok "init goes on while the console does not read"; diag "steady: '$p1' then '$p2'" "$st"; fi
kill -CONT "$catpid"; exec 7>&-
i=0; while ! grep -aq 'kiln: console: [0-9]* messages dropped' "$SB/console" && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
if grep -aEq 'kiln: console: [1-9][0-9]* messages dropped \(the console was not reading\)$' "$SB/console"; then
	ok "once the console reads again, it is told how many lines it missed, $((i / 10)) s after: $(grep -ao 'kiln: console: [0-9]* messages dropped' "$SB/console")"
else
	not_ok "once the console reads again, it is told how many lines it missed"
	diag "console (NULs left out):" "$(tr -d '\000' < "$SB/console" | tail -n 8)" "$(sb_ctl status 2>&1)"
fi
sb_stop TERM
check "and it shuts down in order (exit 0)" test "$SB_RC" -eq 0

# ---------------------------------------------------------------- run 4: a cgroup per service
# cgroup2 mounted for this run (KILN_CGROUP): each service in <it>/kiln/<name>. tree's shell leaves a sleep behind
# when its main process is killed: the sleep dies with it, and the restart does not run beside it. keeper says
# kill = process: what it started outlives it.
sb_new "$T/4"
mkdir -p "$SB/cg"
# cg_clean: the sandbox's groups removed (once their last processes are gone) and the cgroup2 unmounted
cg_clean() {
	i=0
	while [ $i -lt 50 ]; do
		for d in "$SB"/cg/kiln/*/; do [ -d "$d" ] && rmdir "$d" 2>/dev/null; done
		rmdir "$SB/cg/kiln" 2>/dev/null && break
		[ -d "$SB/cg/kiln" ] || break
		sleep 0.1; i=$((i + 1))
	done
	umount "$SB/cg" 2>/dev/null
}
trap 'sb_cleanup; cg_clean; rm -rf "$T"' EXIT
if mount -t cgroup2 none "$SB/cg"; then
	sb_script tree "sleep 1004 & exec sleep 1005"
	sb_service tree "command = $SB/bin/tree"
	sb_script keeper "sleep 1006 & exec sleep 1007"
	sb_service keeper "command = $SB/bin/keeper
kill = process"
	KILN_CGROUP=$SB/cg sb_start
	sb_wait "$SB/console" 'kiln: ready:' 10
	sb_kill -9 "$(sb_pid tree)" "$(sb_pid keeper)" 2>/dev/null
	sb_wait "$SB/console" 'kiln: tree: killed by signal 9' 5 && sb_wait "$SB/console" 'kiln: keeper: killed by signal 9' 5
	sleep 1.5 # the restarts (1 s)
	n=$(spgrep -cfx 'sleep 1004') m=$(spgrep -cfx 'sleep 1005') k=$(spgrep -cfx 'sleep 1006')
	check "a service's leftover dies with its main process; its restart runs alone ($n of 'sleep 1004', $m of the main)" \
		test "$n $m" = "1 1"
	check "kill = process: keeper's leftover outlives it ($k of 'sleep 1006': the first run's and the restart's)" test "$k" = 2
	st=$(sb_ctl status)
	check "initctl status shows each service's CPU time from its cgroup: $(echo "$st" | awk '$1 == "tree"')" \
		sh -c "echo '$st' | head -n 1 | grep -Eq ' MEMORY +CPU +LAST' && echo '$st' | grep -Eq '^tree +ready +[0-9]+ +1 +[0-9]+s +[-0-9.M]+ +[0-9]+\.[0-9][0-9]s '"
	sb_stop TERM
	cg_clean
else
	for i in 1 2 3; do skip "cannot mount cgroup2 here"; done
fi

# ---------------------------------------------------------------- run 5: faults in a row, then nothing leaked
# 300 restarts of a service, 10 s of 100 control requests a second, a service that forks 500 children and dies
# (its cgroup, on the cgroup2 of run 4, takes them): afterwards init holds the descriptors it held before, its RSS
# is within 10% of before, no process of the namespace is a zombie, and it still answers and shuts down in order.
# (make test-long runs it 1,000 restarts and 30 s of requests.)
sb_new "$T/5"
restarts=300 flood=10
[ "${KILN_LONG:-0}" = 1 ] && restarts=1000 flood=30
sb_service spinner "command = /bin/sleep 1010"
sb_script forker 'i=0; while [ $i -lt 500 ]; do sleep 1011 & i=$((i + 1)); done; echo "forker: 500 children, dying"; exit 1'
sb_service forker "command = $SB/bin/forker
restart = never"
cgroup=
mkdir -p "$SB/cg"
if mount -t cgroup2 none "$SB/cg" 2>/dev/null; then cgroup=$SB/cg; fi
KILN_CGROUP=$cgroup SB_LIMIT=$((flood + 90)) sb_start
sb_wait "$SB/console" 'kiln: (ready|degraded):' 10
# warmed up first: the allocator's first uses are not a leak
i=0; while [ $i -lt 20 ]; do sb_ctl restart spinner > /dev/null; sb_ctl status > /dev/null; i=$((i + 1)); done
sleep 1
fd0=$(ls "/proc/$SB_IPID/fd" | wc -l) rss0=$(awk '/^VmRSS:/ { print $2 }' "/proc/$SB_IPID/status")
i=0; while [ $i -lt "$restarts" ]; do sb_ctl restart spinner > /dev/null || break; i=$((i + 1)); done
r=$i
end=$(($(date +%s) + flood)) q=0
while [ "$(date +%s)" -lt "$end" ]; do
	pids=
	j=0; while [ $j -lt 10 ]; do sb_ctl status > /dev/null 2>&1 & pids="$pids $!"; j=$((j + 1)); done
	q=$((q + 10)); sleep 0.1
	wait $pids # these requests only (a bare wait would wait for the sandbox's watchdog too)
done
sleep 2 # the last restart's start, the forker's children killed and reaped
fd1=$(ls "/proc/$SB_IPID/fd" | wc -l) rss1=$(awk '/^VmRSS:/ { print $2 }' "/proc/$SB_IPID/status")
# zombies: processes of the sandbox's PID namespace in state Z
ns=$(readlink "/proc/$SB_IPID/ns/pid") z=0
for d in /proc/[0-9]*; do
	[ "$(readlink "$d/ns/pid" 2>/dev/null)" = "$ns" ] || continue
	[ "$(awk '/^State:/ { print $2 }' "$d/status" 2>/dev/null)" = Z ] && z=$((z + 1))
done
left=$(spgrep -cfx 'sleep 1011')
lim=$((${rss0:-0} * 11 / 10))
check "$r restarts and $q control requests: init holds $fd1 descriptors (before: $fd0), RSS $rss1 KiB (before: $rss0 KiB)" \
	test "$r $fd1" = "$restarts $fd0" -a "${rss1:-999999}" -le "$lim"
if [ -n "$cgroup" ]; then
	check "no zombie in the namespace ($z), the forker's 500 children gone with it ($left left)" test "$z $left" = "0 0"
else
	check "no zombie in the namespace ($z); no cgroup2 here: the forker's children live on as orphans" test "$z" = 0
fi
st=$(sb_ctl status spinner)
check "init still answers: $(echo "$st" | awk '$1 == "spinner" { print $1, $2, "pid", $3 }')" sh -c "echo '$st' | grep -Eq '^spinner +(ready|starting) '"
sb_stop TERM
[ -z "$cgroup" ] || cg_clean
check "and it shuts down in order (exit 0)" test "$SB_RC" -eq 0
# ---------------------------------------------------------------- run 6: a log that cannot be written
# talker's log is a FIFO with no reader yet: opening it blocks, as a write to a hung /data would. talker writes
# 20000 numbered lines (about 2 MB) at once, far more than init keeps; steady is killed meanwhile.
sb_new "$T/6"
mkfifo "$SB/log/talker.log"
lines=20000
pad=................................................................................
sb_script talker "i=1; while [ \$i -le $lines ]; do echo \"talker: line \$i $pad\"; i=\$((i + 1)); done; exec sleep 1020"
sb_service talker "command = $SB/bin/talker
log_size = 104857600"
sb_service steady "command = /bin/sleep 1021"
sb_script ticker 'echo "tick $(date +%s%N)"'
sb_service ticker "command = $SB/bin/ticker
every = 1"
SB_LIMIT=90 sb_start
sleep 2
p1=$(sb_pid steady)
sb_kill -9 "$p1" 2> /dev/null
sleep 1.5
p2=$(sb_pid steady)
st=$(sb_ctl status 2>&1)
rss_full=$(awk '/^VmRSS:/ { print $2 }' "/proc/$SB_IPID/status")
if [ -n "$p1" ] && [ -n "$p2" ] && [ "$p1" != "$p2" ] && echo "$st" | grep -Eq '^talker +(ready|starting) +[1-9]'; then
	ok "with a log that cannot be written, init answers initctl and restarts a killed service ($p1 then $p2)"
else not_ok "init goes on while a log cannot be written"; diag "steady: '$p1' then '$p2'" "$st" "$(tail -n 5 "$SB/console")"; fi
# the reader comes: the log writer's open returns, what init kept is written, and the count is said
cat "$SB/log/talker.log" > "$SB/talker.out" &
catpid=$!
if sb_wait "$SB/console" '^kiln: log: talker: [1-9][0-9]* lines dropped \(the log writer was not keeping up\)$' 10; then
	ok "once the log is written again, init says how many lines it dropped: $(grep -o 'log: talker: [0-9]* lines dropped' "$SB/console")"
else not_ok "once the log is written again, init says how many lines it dropped"; diag "$(tail -n 5 "$SB/console")"; fi
rss_after=$(awk '/^VmRSS:/ { print $2 }' "/proc/$SB_IPID/status")
check "init's queue is bounded and given back: RSS $rss_full KiB while full, $rss_after KiB once written" \
	test "${rss_full:-0}" -le 640 -a "${rss_full:-0}" -ge $((${rss_after:-999} + 200))
dropped=$(sed -n 's/^kiln: log: talker: \([0-9]*\) lines dropped.*/\1/p' "$SB/console" | awk '{ n += $1 } END { print n + 0 }')
i=0; while [ $(($(grep -c . "$SB/talker.out") + dropped)) -lt $lines ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
check "the log has every line not dropped, whole and in order ($(grep -c . "$SB/talker.out") written + $dropped dropped = $lines)" \
	awk -v want=$lines -v dropped="$dropped" -v pad="$pad" '
	$0 != "talker: line " $3 " " pad || $3 + 0 <= last { print "line " NR ": " substr($0, 1, 60); bad = 1; exit 1 }
	{ last = $3 + 0; n++ }
	END { if (bad) exit 1; if (n + dropped != want) { print n " written, " dropped " dropped"; exit 1 } }' "$SB/talker.out"
sb_ctl status talker > "$SB/status" 2>&1; sb_ctl metrics > "$SB/metrics" 2>&1
check "initctl status and metrics show the count: $(grep -o 'log: [0-9]* lines dropped' "$SB/status")" sh -c "
	grep -q '^talker .*log: $dropped lines dropped' '$SB/status' &&
	grep -qx 'kiln_service_log_lines_dropped_total{service=\"talker\"} $dropped' '$SB/metrics'"
# the log writer killed: said, started again, and the logs go on
sb_wait "$SB/log/ticker.log" tick 5
wpid=$(spgrep -x kiln-logd | head -n 1)
[ -n "$wpid" ] && kill -9 "$wpid"
sb_wait "$SB/console" '^kiln: log writer: killed by signal 9, starting it again in 1s$' 5
n1=$(cat "$SB/log/ticker.log" 2>/dev/null | grep -c tick)
sleep 3
n2=$(cat "$SB/log/ticker.log" 2>/dev/null | grep -c tick)
check "a killed log writer is said and started again, and the logs go on (pid ${wpid:-none}; ticker.log $n1 then $n2 lines)" \
	sh -c "[ -n '$wpid' ] && grep -q '^kiln: log writer: killed by signal 9, starting it again in 1s\$' '$SB/console' &&
	[ $n2 -gt $n1 ] && [ \"\$(spgrep -x kiln-logd)\" != '$wpid' ]"
sb_stop TERM
i=0; while kill -0 "$catpid" 2>/dev/null && [ $i -lt 20 ]; do sleep 0.1; i=$((i + 1)); done
check "it shuts down in order (exit $SB_RC), the log writer last: the log closed" sh -c "[ $SB_RC -eq 0 ] && ! kill -0 $catpid 2>/dev/null"
kill "$catpid" 2>/dev/null
# a log writer that never gets its file open at shutdown: init waits for it 5 s, says so, and goes down anyway
sb_new "$T/7"
mkfifo "$SB/log/stuck.log"
sb_service stuck "command = /bin/sh -c 'echo hello; exec sleep 1030'"
SB_LIMIT=30 sb_start
sleep 1
t0=$(date +%s.%N)
sb_stop TERM
t1=$(date +%s.%N)
check "a log writer stuck at shutdown is waited for 5 s, said, and left ($(elapsed "$t0" "$t1") s to exit $SB_RC)" sh -c "
	[ $SB_RC -eq 0 ] && grep -qx 'kiln: log writer: still writing after 5s, going on without it' '$SB/console' &&
	awk 'BEGIN { exit !($(elapsed "$t0" "$t1") >= 5 && $(elapsed "$t0" "$t1") < 15) }'"
done_testing
