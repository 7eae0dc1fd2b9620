#!/bin/sh
# 21-init-shutdown.t: the whole shutdown is bounded. A service that SIGKILL does not end (its main process held
# unreaped by a tracer that never waits, as a process in uninterruptible sleep is) keeps nothing from going down:
# once every stop timeout and a minute more have passed, init names what was left and goes on to its last steps.
# About 70 s (the minute is init's own).
. tests/system/lib/tap.sh
. tests/system/lib/init-sandbox.sh

plan 3
sb_require

T=$(mktemp -d "${TMPDIR:-/tmp}/kiln-shutdown.XXXXXX")
held=
trap 'sb_cleanup; [ -n "$held" ] && kill "$held" 2>/dev/null; rm -rf "$T"' EXIT
"${CC_HOST:-cc}" -O2 -Wall -Werror -o "$T/unreaped" tests/doubles/unreaped.c || bail "cannot build tests/doubles/unreaped.c"

sb_new "$T/sb"
# stuck: killed at its 1 s stop timeout at the latest, but a child init cannot reap while the tracer holds it.
sb_script stuck "while :; do sleep 0.1; done"
sb_service stuck "command = $SB/bin/stuck
stop_timeout = 1"
SB_LIMIT=120 sb_start
sb_wait "$SB/console" 'kiln: (ready|degraded):' 10 || bail "no boot summary: $(cat "$SB/console")"
pid=$(pgrep -P "$SB_IPID" -f "$SB/bin/stuck" | head -n 1)
[ -n "$pid" ] || bail "no stuck service under the init"
"$T/unreaped" "$pid" > "$T/held" 2>&1 &
held=$!
sb_wait "$T/held" '^held$' 5 || bail "cannot hold the stuck service: $(cat "$T/held")"

t0=$(date +%s.%N)
kill -TERM "$SB_IPID"
sb_wait "$SB/console" '^kiln: powering off$' 100
t1=$(date +%s.%N)
took=$(elapsed "$t0" "$t1")
# A PID namespace's init ends only once all of its children are reaped: the tracer lets the stuck one go.
kill "$held"; held=
wait "$SB_UPID"; SB_RC=$?
kill "$SB_WATCHDOG" 2>/dev/null; SB_UPID=
check "the shutdown ends in $took s, past the 61 s bound and well before the test's limit; init exits 0" \
	sh -c "[ $SB_RC -eq 0 ] && awk 'BEGIN { exit !($took >= 61 && $took < 100) }'"
check "after every stop timeout and a minute (61 s), the console names what was left" \
	grep -Eq "^kiln: shutdown: still running after 6[12]s: stuck \(pid [0-9]+\); going on without them\$" "$SB/console"
if grep -q '^kiln: processes still there 5 s after SIGKILL: going on$' "$SB/console" &&
	[ "$(sed -n '$p' "$SB/console")" = 'kiln: powering off' ]; then
	ok "then the last steps: TERM and KILL to what is left, a bounded wait, the final line"
else not_ok "the last steps after the deadline"; diag "$(tail -n 8 "$SB/console")"; fi
done_testing
