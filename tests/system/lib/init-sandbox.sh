# init-sandbox.sh: run kiln's init as PID 1 of a new PID namespace (unshare -pf), sandboxed (KILN_SANDBOX: no
# mounts, no reboot), with its folders under a temporary directory (sourced after tap.sh).
# sb_new DIR: a fresh sandbox; sb_service NAME TEXT; sb_script NAME BODY; sb_start; sb_ctl ARGS; sb_stop SIGNAL.
# SB_CONSOLE: where the init's console goes instead of $SB/console.

# sb_require: what a sandbox needs, or the run bails: the init and initctl (brought up to date when the compiler is
# here, a no-op when they are, so a stale binary is never tested; sets init and initctl), unshare and nsenter, root.
sb_require() {
	init=$KILN_BUILD/init/init
	initctl=$KILN_BUILD/init/initctl
	if command -v "${CC_MUSL:-musl-gcc}" >/dev/null; then
		make -s -C init O="$KILN_BUILD/init" all >/dev/null || bail "cannot build the init"
	fi
	[ -x "$init" ] && [ -x "$initctl" ] || bail "no init at $init"
	command -v unshare >/dev/null && command -v nsenter >/dev/null || bail "unshare and nsenter (util-linux) are needed"
	[ "$(id -u)" -eq 0 ] || bail "a PID namespace needs root here"
}

sb_new() {
	SB=$1
	mkdir -p "$SB/etc/services" "$SB/run" "$SB/log" "$SB/bin"
	: > "$SB/console"
}
sb_service() { printf '%s\n' "$2" > "$SB/etc/services/$1"; }
sb_script() { printf '#!/bin/sh\n%s\n' "$2" > "$SB/bin/$1"; chmod 755 "$SB/bin/$1"; }

# Starts the init; sets SB_UPID (unshare, our child) and SB_IPID (the init, PID 1 inside, as seen from here).
# A watchdog kills it after SB_LIMIT seconds whatever happens: a test can never hang.
sb_start() {
	SB_START=$(date +%s.%N)
	KILN_SANDBOX=1 KILN_ETC="$SB/etc" KILN_RUN="$SB/run" KILN_LOG_DIR="$SB/log" \
		unshare -pf --kill-child --mount-proc "$init" > "${SB_CONSOLE:-$SB/console}" 2>&1 &
	SB_UPID=$!
	( sleep "${SB_LIMIT:-60}"; kill -9 "$SB_UPID" ) >/dev/null 2>&1 &
	SB_WATCHDOG=$!
	SB_IPID=
	i=0
	while [ -z "$SB_IPID" ] && [ $i -lt 50 ]; do SB_IPID=$(pgrep -P "$SB_UPID" | head -n 1); sleep 0.1; i=$((i + 1)); done
	[ -n "$SB_IPID" ] || bail "the init did not start: $(cat "$SB/console")"
}

# Pids that initctl reports are the namespace's: signals to them go through nsenter.
sb_kill() { nsenter -t "$SB_IPID" -p kill "$@"; }
sb_ctl() { KILN_RUN="$SB/run" KILN_LOG_DIR="$SB/log" timeout 5 "$initctl" "$@"; }
sb_pid() { sb_ctl status "$1" | awk -v n="$1" '$1 == n { print $3 }'; }

# sb_wait FILE REGEX SECONDS: until a line of FILE matches (grep -E), or fail.
sb_wait() {
	i=0
	while [ $i -lt $(($3 * 10)) ]; do grep -Eq "$2" "$1" 2>/dev/null && return 0; sleep 0.1; i=$((i + 1)); done
	return 1
}

# sb_stop SIGNAL: signal the init and wait for it to end; sets SB_RC to its exit status.
sb_stop() {
	kill "-$1" "$SB_IPID" 2>/dev/null
	wait "$SB_UPID"; SB_RC=$?
	kill "$SB_WATCHDOG" 2>/dev/null
	SB_UPID=
}

sb_cleanup() { [ -n "${SB_UPID:-}" ] && kill -9 "$SB_UPID" 2>/dev/null; [ -n "${SB_WATCHDOG:-}" ] && kill "$SB_WATCHDOG" 2>/dev/null; }

# elapsed FROM TO: seconds between two `date +%s.%N` stamps, one decimal.
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
