# vm.sh: boot kiln machines in QEMU for tests and talk to their serial console (sourced after tap.sh).
# Each VM gets a folder with its console log; every wait has a hard timeout, so no test can hang.
. "$TOP/scripts/qemu-args.sh"

VM_DIR=${VM_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/kiln-vm.XXXXXX")}
vm_cleanup() {
	for p in "$VM_DIR"/*/qemu.pid; do
		[ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null
	done
	sleep 0.2
	for p in "$VM_DIR"/*/cat.pid; do [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null; done
	[ -n "${KEEP_VM_DIR:-}" ] || rm -rf "$VM_DIR"
}
trap vm_cleanup EXIT
trap 'exit 2' INT TERM

# vm_start NAME QEMU-ARGS...: start a VM in the background, its console going to $VM_DIR/NAME/console.log.
vm_start() {
	name=$1; shift
	d=$VM_DIR/$name
	mkdir -p "$d"
	rm -f "$d/con.in" "$d/con.out"
	mkfifo "$d/con.in" "$d/con.out"
	: > "$d/console.log"
	cat "$d/con.out" >> "$d/console.log" &
	echo $! > "$d/cat.pid"
	qemu_args "$@"
	# exec: the background job *is* QEMU, so its pid is QEMU's and no shell holds our pipes open.
	eval "exec qemu-system-x86_64 $QEMU_ARGS -chardev pipe,id=con,path=$d/con -serial chardev:con" \
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

# vm_boot_ready NAME DESCRIPTION SECONDS QEMU-ARGS...: start a VM and report (TAP) whether it printed the
# ready or degraded summary in time; without it, nothing else in the file can be checked: bail out.
vm_boot_ready() {
	name=$1 desc=$2 secs=$3; shift 3
	vm_start "$name" "$@"
	if vm_wait "$name" 'kiln: (ready|degraded):' "$secs"; then
		ok "$desc boots in $(vm_elapsed "$name") s: $(vm_log "$name" | grep -Eo 'kiln: (ready|degraded):.*' | head -n 1)"
	else
		not_ok "$desc boots to ready"; diag "$(vm_log "$name" | tail -n 30)"; bail "no boot"
	fi
}

vm_kill() { kill "$(cat "$VM_DIR/$1/qemu.pid")" 2>/dev/null; sleep 0.2; }
vm_log() { tr -d '\r' < "$VM_DIR/$1/console.log"; }
# vm_elapsed NAME: seconds since the VM was started.
vm_elapsed() { echo $(($(date +%s) - $(cat "$VM_DIR/$1/started"))); }
