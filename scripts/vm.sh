# vm.sh: start kiln machines in QEMU and talk to their serial consoles (sourced by the cluster runner and the
# tests). A machine's folder VM_DIR/NAME holds its console log, the console fifos and QEMU's pid; every wait has
# a hard timeout. VM_NETNS runs QEMU inside that network namespace (for --tap); VM_DETACH=1 starts it in a new
# session, so it outlives the script that started it.
. "$KILN_TOP/scripts/qemu-args.sh"

# vm_start NAME QEMU-ARGS...: start a VM in the background, its console going to $VM_DIR/NAME/console.log.
vm_start() {
	name=$1; shift
	d=$VM_DIR/$name
	mkdir -p "$d"
	rm -f "$d/con.in" "$d/con.out"
	mkfifo "$d/con.in" "$d/con.out"
	: > "$d/console.log"
	vm_detach=
	[ "${VM_DETACH:-0}" = 1 ] && vm_detach=setsid
	$vm_detach cat "$d/con.out" >> "$d/console.log" 2>/dev/null &
	echo $! > "$d/cat.pid"
	qemu_args "$@"
	vm_ns=
	[ -z "${VM_NETNS:-}" ] || vm_ns="ip netns exec $VM_NETNS"
	# exec: the background job *is* QEMU (ip netns exec and setsid exec it too), so its pid is QEMU's and no
	# shell holds our pipes open.
	eval "exec $vm_detach $vm_ns qemu-system-x86_64 $QEMU_ARGS -chardev pipe,id=con,path=$d/con -serial chardev:con" \
		> "$d/qemu.err" 2>&1 < /dev/null &
	echo $! > "$d/qemu.pid"
	date +%s > "$d/started"
}

# vm_wait NAME REGEX SECONDS: wait until the console shows a line matching REGEX (grep -E).
vm_wait() {
	d=$VM_DIR/$1 end=$(($(date +%s) + $3))
	while [ "$(date +%s)" -lt "$end" ]; do
		grep -Eq "$2" "$d/console.log" && return 0
		kill -0 "$(cat "$d/qemu.pid")" 2>/dev/null || { grep -Eq "$2" "$d/console.log"; return; }
		sleep 0.2
	done
	return 1
}

# vm_send NAME LINE: type a line on the console (the image's console shell reads it).
# Never blocks: a VM that is gone has no reader on its fifo.
vm_send() {
	kill -0 "$(cat "$VM_DIR/$1/qemu.pid")" 2>/dev/null || return 1
	timeout 5 sh -c 'printf "%s\n" "$1" > "$2"' sh "$2" "$VM_DIR/$1/con.in"
}

# vm_run NAME COMMAND SECONDS: run COMMAND in the console shell; its output between markers goes to stdout.
# The markers are computed by the shell, so the echoed command line never matches them.
vm_run() {
	tag="k$(date +%s%N | cut -c9-)"  # unique per call: vm_run usually runs in a $(...) subshell
	vm_send "$1" "echo \"<<\"'$tag'; $2; echo \"$tag\"'>>'rc=\$?" || { echo "(machine $1 is not running)"; return 1; }
	vm_wait "$1" "^$tag>>rc=" "$3" || { echo "(no answer from '$2' in $3 s)"; return 1; }
	sed -n "/^<<$tag/,/^$tag>>rc=/p" "$VM_DIR/$1/console.log" | tr -d '\r' | sed '1d;$d'
	sed -n "s/^$tag>>rc=\([0-9]*\).*/\1/p" "$VM_DIR/$1/console.log" | tr -d '\r' | head -n 1 | grep -qx 0
}

# vm_wait_exit NAME SECONDS: wait for QEMU to end by itself; its exit status then in $vm_status.
vm_wait_exit() {
	pid=$(cat "$VM_DIR/$1/qemu.pid") end=$(($(date +%s) + $2))
	while kill -0 "$pid" 2>/dev/null; do
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 0.2
	done
	wait "$pid" 2>/dev/null; vm_status=$?
	return 0
}

vm_kill() { kill "$(cat "$VM_DIR/$1/qemu.pid")" 2>/dev/null; sleep 0.2; }
vm_log() { tr -d '\r' < "$VM_DIR/$1/console.log"; }
# vm_elapsed NAME: seconds since the VM was started.
vm_elapsed() { echo $(($(date +%s) - $(cat "$VM_DIR/$1/started"))); }
