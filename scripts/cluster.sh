#!/bin/sh
# cluster.sh up|down|status [RENDERED]: the cluster of a rendered cluster file (default out/cluster) as QEMU
# machines (TCG) on one private L2 network: a bridge and a tap per machine inside a network namespace this script
# creates and deletes (taps named by machine order: tap1, tap2...), holding the infrastructure addresses of the cluster file. Nothing in that namespace has a
# route out, so no traffic leaves it. Each machine boots its role's initramfs with its identity archive appended.
#
#   up      start every machine; return when all printed `kiln: ready`, or fail naming the machine that did not
#   down    power every machine off (initctl poweroff on its console, then kill), delete the namespace
#   status  each machine: running or not, its last kiln: line, and `initctl status` from its console
#   start   (cluster.sh start RENDERED NAME) boot one machine of a cluster that is up again, after it was powered off
#
# Environment: CLUSTER_MEM (MiB per machine, default 1024), CLUSTER_SMP (CPUs per machine, default 1),
# CLUSTER_TIMEOUT (seconds for `up`, default 600), CLUSTER_RUN (default out/run: <name>.log is each console),
# CLUSTER_NETNS (default kiln-<cluster name>), CLUSTER_EXTRA (a cpio archive appended to every machine's
# initramfs; the tests use it to bring a container image), CLUSTER_BACKUP_INTERVAL (seconds between the masters'
# etcd backups in this test cluster, instead of the cluster file's interval), CLUSTER_BOOT (initramfs, the
# default: each machine boots its role's initramfs with its identity appended; disk: each boots a copy of its own
# disk image out/machines/<name>/disk.img, kept in CLUSTER_RUN/<name>/disk.img, and reboots in place, so
# `initctl upgrade` and `make upgrade` work on it).
# CLUSTER_APPEND (more kernel command line, e.g. kiln.disable=...; on disk boots added to the APPEND lines of the
# copy's syslinux.cfg, where upgrades keep it), CLUSTER_APPEND_FOR (NAME=WORD ..., WORD added to machine NAME's
# command line only, e.g. "m3=kiln.disable=kube-apiserver"),
# CLUSTER_DATA_FOR (NAME=MIB ...: on initramfs boots machine NAME gets a local disk of MIB MiB, blank at `up`, where
# it makes its DATA as a PXE machine does (kiln.data_format_blank kiln.data=disk): it keeps DATA across `start`),
# CLUSTER_SMP_FOR (NAME=N ...: machine NAME gets N CPUs instead of CLUSTER_SMP, e.g. the one master that runs the
# control plane while the others only hold etcd),
# CLUSTER_STAGGER (1, the default: a quorum of masters, then the other masters, then the nodes; 2: a quorum of
# masters, then the other masters and the nodes together, for a cluster without Kubernetes; 0: all at once).
# The namespace itself takes one address on the bridge (the gateway, or the range's last address), so
# `ip netns exec <netns> kubectl --kubeconfig out/cluster/admin.kubeconfig ...` reaches the apiservers.
# Test clusters only: masters get etcd heartbeat and election timings for emulation (an extra archive with
# /etc/kiln/emulation/etcd.env; on disk, /data/emulation/ of the machine's copy); real machines never carry it.
. "$(dirname "$0")/lib.sh"

cmd=${1:?usage: cluster.sh up|down|status [RENDERED]}
rendered=${2:-$KILN_OUT/cluster}
[ -f "$rendered/cluster.env" ] || die "$rendered/cluster.env: no rendered cluster (run 'make' first)"
. "$rendered/cluster.env"
VM_DIR=${CLUSTER_RUN:-$KILN_OUT/run}
ns=${CLUSTER_NETNS:-kiln-$CLUSTER_NAME}
mem=${CLUSTER_MEM:-1024} smp=${CLUSTER_SMP:-1} timeout=${CLUSTER_TIMEOUT:-600} boot=${CLUSTER_BOOT:-initramfs}
case $boot in initramfs|disk) ;; *) die "CLUSTER_BOOT=$boot: initramfs or disk" ;; esac
. "$KILN_TOP/scripts/vm.sh"
machines="$MASTERS $NODES"

running() { [ -f "$VM_DIR/$1/qemu.pid" ] && kill -0 "$(cat "$VM_DIR/$1/qemu.pid")" 2>/dev/null; }

net_up() {
	addr=$(cluster_host_address)
	for m in $machines; do
		[ "$(machine_field "$m" ADDRESS)" != "${addr%/*}" ] || die "$m has ${addr%/*}, the address the cluster's network namespace takes"
	done
	ip netns add "$ns" || die "cannot create network namespace $ns (is a cluster already up? 'make cluster-down')"
	ip -n "$ns" link set lo up
	ip -n "$ns" link add br0 type bridge
	ip -n "$ns" addr add "$addr" dev br0
	ip -n "$ns" link set br0 up
	i=0
	for m in $machines; do
		i=$((i + 1))
		ip -n "$ns" tuntap add "tap$i" mode tap
		ip -n "$ns" link set "tap$i" master br0 up
	done
}

# initrd NAME ROLE: role initramfs + identity (+ emulation timings for masters, + CLUSTER_EXTRA).
initrd() {
	a="$KILN_OUT/$2/initramfs.cpio.gz $KILN_OUT/machines/$1/identity.cpio.gz"
	for f in $a; do [ -f "$f" ] || die "$f: missing (run 'make')"; done
	[ "$2" = master ] && a="$a $VM_DIR/emulation.cpio.gz"
	[ -z "${CLUSTER_EXTRA:-}" ] || a="$a $CLUSTER_EXTRA"
	(umask 077 && cat $a > "$VM_DIR/$1/initrd") # it holds the machine's keys
	mib=$(for_machine "$1" "${CLUSTER_DATA_FOR:-}" | tail -n 1)
	[ -n "$mib" ] || return 0
	case $mib in *[!0-9]* | 0) die "CLUSTER_DATA_FOR: $1=$mib is not a size in MiB" ;; esac
	[ "$mib" -ge 64 ] && [ "$mib" -le 65536 ] || die "CLUSTER_DATA_FOR: $1=$mib MiB, not between 64 and 65536"
	truncate -s "${mib}M" "$VM_DIR/$1/data.img" || die "cannot make $1's blank disk $VM_DIR/$1/data.img"
}

# disk NAME ROLE: a copy of the machine's disk image, with the emulation files on its DATA (masters).
disk() {
	src=$KILN_OUT/machines/$1/disk.img d=$VM_DIR/$1/disk.img
	[ -f "$src" ] || die "$src: missing (run 'make')"
	cp --sparse=always "$src" "$d"
	a=$(machine_append "$1")
	if [ -n "$a" ]; then
		mtype -i "$d@@1M" ::syslinux.cfg | tr -d '\r' | sed "s|^\(  APPEND .*\)|\1 $a|" > "$VM_DIR/$1/syslinux.cfg" &&
			mcopy -o -i "$d@@1M" "$VM_DIR/$1/syslinux.cfg" ::syslinux.cfg ||
			die "cannot add '$a' to the boot entries of $1's disk copy"
	fi
	[ "$2" = master ] || return 0
	sector=$(sfdisk -d "$d" | sed -n 's/.*4 : start= *\([0-9]*\),.*/\1/p')
	[ -n "$sector" ] || die "$d: no fourth partition (DATA)"
	{ echo "mkdir emulation"; for f in "$VM_DIR"/emulation/etc/kiln/emulation/*; do echo "write $f emulation/${f##*/}"; done; } |
		debugfs -w -f - "$d?offset=$((sector * 512))" > "$VM_DIR/$1/debugfs.log" 2>&1 ||
		die "cannot write the emulation timings onto $1's DATA ($VM_DIR/$1/debugfs.log)"
}

emulation_archive() {
	t=$VM_DIR/emulation
	rm -rf "$t"; mkdir -p "$t/etc/kiln/emulation"
	# TCG runs several times slower than hardware and five machines share two cores: etcd's defaults (100 ms
	# heartbeat, 1 s election) would see leaders vanish under load.
	printf 'ETCD_HEARTBEAT_INTERVAL=500\nETCD_ELECTION_TIMEOUT=5000\n' > "$t/etc/kiln/emulation/etcd.env"
	# The same for the control plane's leader elections (15 s lease, 10 s to renew by default): a leader that
	# misses its renewal under load exits, and the next one has to start over, listing everything again (with two
	# apiservers on two emulated cores, a request took up to the apiserver's 60 s handler timeout: a 40 s renewal
	# deadline set the controller-manager crash-looping on both masters).
	echo "LEADER_ELECTION_FLAGS=--leader-elect-lease-duration=150s --leader-elect-renew-deadline=120s --leader-elect-retry-period=10s" \
		> "$t/etc/kiln/emulation/kubernetes.env"
	[ -z "${CLUSTER_BACKUP_INTERVAL:-}" ] ||
		echo "BACKUP_INTERVAL=$CLUSTER_BACKUP_INTERVAL" > "$t/etc/kiln/emulation/backup.env"
	"$KILN_TOP/scripts/mk-initramfs.sh" "$t" "$VM_DIR/emulation.cpio.gz" > /dev/null
}

# for_machine NAME LIST: the values LIST (NAME=VALUE ..., e.g. CLUSTER_APPEND_FOR) gives machine NAME, in order.
for_machine() { for w in $2; do [ "${w%%=*}" = "$1" ] && echo "${w#*=}"; done; :; }

# machine_append NAME: what an initramfs boot of NAME adds to the kernel command line.
machine_append() { echo ${CLUSTER_APPEND:-} $(for_machine "$1" "${CLUSTER_APPEND_FOR:-}"); }

# no_apiserver NAME: NAME's command line leaves kube-apiserver out (kiln.disable).
no_apiserver() { case $(machine_append "$1") in *kiln.disable=*kube-apiserver*) return 0 ;; *) return 1 ;; esac; }

# start_machine NAME: boot it (again) from what `up` prepared: its initrd, or its own disk copy as it is now.
start_machine() {
	i=0 n=
	for x in $machines; do i=$((i + 1)); [ "$x" = "$1" ] && n=$i; done
	[ -n "$n" ] || die "$1: not a machine of cluster $CLUSTER_NAME"
	role=$(machine_field "$1" ROLE)
	if [ "$boot" = disk ]; then
		set -- "$1" --disk "$VM_DIR/$1/disk.img" --persist --reboot
	else
		# a local disk (CLUSTER_DATA_FOR, made blank by initrd at up): DATA made on it, and found there again
		if [ -f "$VM_DIR/$1/data.img" ]; then
			set -- "$1" --append "$(machine_append "$1") kiln.data_format_blank kiln.data=disk" --data "$VM_DIR/$1/data.img"
		else
			set -- "$1" --append "$(machine_append "$1")"
		fi
		set -- "$@" "$KILN_OUT/$role/vmlinuz" "$VM_DIR/$1/initrd"
	fi
	m=$1; shift
	msmp=$(for_machine "$m" "${CLUSTER_SMP_FOR:-}" | tail -n 1)
	msmp=${msmp:-$smp}
	case $msmp in ''|*[!0-9]*|0) die "CLUSTER_SMP_FOR: $m=$msmp is not a number of CPUs" ;; esac
	VM_NETNS=$ns VM_DETACH=1 vm_start "$m" --mem "$mem" --smp "$msmp" --tap "tap$n" --mac "$(machine_field "$m" MAC)" "$@"
	# The control plane first when machines share the build host's cores: a node waits for it anyway, and so does a
	# master that runs etcd alone (kiln.disable=kube-apiserver).
	if [ "$role" = node ] || no_apiserver "$m"; then renice -n 5 -p "$(cat "$VM_DIR/$m/qemu.pid")" > /dev/null 2>&1 || :; fi
	ln -sf "$m/console.log" "$VM_DIR/$m.log"
	say "$m ($role, $(machine_field "$m" ADDRESS)): started from its $boot, console in $VM_DIR/$m.log"
}

# start NAME: a machine of a cluster that is up, powered off since, booted again (e.g. after a power cut drill).
start_one() {
	name=${1:?usage: cluster.sh start RENDERED NAME}
	ip netns list | grep -q "^$ns\b" || die "the cluster's network namespace $ns is not there ('make cluster' first)"
	running "$name" && die "$name is running"
	[ -d "$VM_DIR/$name" ] || die "$VM_DIR/$name: the machine was never started"
	start_machine "$name"
}

# wait_ready MACHINES: until each printed `kiln: ready` (fails on a degraded one, a QEMU that exited, the deadline).
# With Kubernetes in the images, the cluster DNS's objects go in meanwhile, as soon as an apiserver answers (the
# masters' cluster DNS is ready only once it may read the API): scripts/addons.sh, what `make addons` runs.
wait_ready() {
	pending=$*
	while [ -n "$pending" ]; do
		if [ $addons = pending ] && [ $(($(date +%s) - tried)) -ge 10 ]; then
			tried=$(date +%s)
			if "$KILN_TOP/scripts/addons.sh" --netns "$ns" "$rendered" >> "$VM_DIR/addons.log" 2>&1; then
				addons=applied
				say "addons applied ($(($(date +%s) - start)) s after start): $(tail -n 1 "$VM_DIR/addons.log")"
			fi
		fi
		left=
		for m in $pending; do
			log=$VM_DIR/$m/console.log
			if grep -q 'kiln: ready:' "$log"; then
				say "$m: $(grep -o 'kiln: ready:.*' "$log" | tr -d '\r' | head -n 1) ($(($(date +%s) - start)) s after start)"
			elif grep -q 'kiln: degraded:' "$log"; then
				die "$m failed: $(grep -o 'kiln: degraded:.*' "$log" | tr -d '\r' | head -n 1) (console: $VM_DIR/$m.log)"
			elif ! running "$m"; then
				die "$m failed: QEMU exited ($(tail -n 1 "$VM_DIR/$m/qemu.err" 2>/dev/null); console: $VM_DIR/$m.log)"
			else
				left="$left $m"
			fi
		done
		pending=$left
		[ -z "$pending" ] && break
		[ "$(date +%s)" -lt "$end" ] || die "not ready after $timeout s:$pending (consoles in $VM_DIR)"
		sleep 1
	done
}

# The machines boot in steps when CLUSTER_STAGGER=1 (the default under emulation: every machine shares the build
# host's cores): first a quorum of masters (etcd needs it; their apiservers bootstrap the cluster's defaults with the
# cores to themselves), then the other masters (which find that done), then the nodes. CLUSTER_STAGGER=2 starts the
# other masters and the nodes together once the quorum is ready (nothing to bootstrap without Kubernetes); 0, all at once.
up() {
	[ "$(id -u)" = 0 ] || die "a cluster needs root (network namespace, taps)"
	stagger=${CLUSTER_STAGGER:-1}
	case $stagger in 0 | 1 | 2) ;; *) die "CLUSTER_STAGGER '$stagger': 0, 1 or 2" ;; esac
	for m in $machines; do running "$m" && die "$m is already running ('make cluster-down' first)"; done
	mkdir -p "$VM_DIR"
	chmod 700 "$VM_DIR" # the machines' initrds and disk copies hold their keys
	for m in $machines; do rm -rf "${VM_DIR:?}/$m" "$VM_DIR/$m.log"; done
	emulation_archive
	net_up
	for m in $machines; do
		mkdir -p "$VM_DIR/$m"
		if [ "$boot" = disk ]; then disk "$m" "$(machine_field "$m" ROLE)"; else initrd "$m" "$(machine_field "$m" ROLE)"; fi
	done
	start=$(date +%s) end=$(($(date +%s) + timeout))
	addons=none tried=0
	grep -q '^kube-apiserver present' "$KILN_OUT/master/components.txt" 2>/dev/null && addons=pending
	# No apiserver anywhere: nothing to apply the addons through.
	kube_on=
	for m in $MASTERS; do no_apiserver "$m" || kube_on=1; done
	[ -n "$kube_on" ] || addons=none
	n=$(echo $MASTERS | wc -w) quorum= rest=
	for m in $MASTERS; do
		if [ "$(echo $quorum | wc -w)" -le $((n / 2)) ]; then quorum="$quorum $m"; else rest="$rest $m"; fi
	done
	case $stagger in
	0) set -- "$machines" ;;
	1) set -- "$quorum" "$rest" "$NODES" ;;
	2) set -- "$quorum" "$rest $NODES" ;;
	esac
	for group in "$@"; do
		[ -n "$(echo $group)" ] || continue
		for m in $group; do start_machine "$m"; done
		wait_ready $group
	done
	echo $(($(date +%s) - start)) > "$VM_DIR/ready-seconds"
	say "cluster $CLUSTER_NAME: $(echo $machines | wc -w) machines ready in $(cat "$VM_DIR/ready-seconds") s"
}

down() {
	for m in $machines; do running "$m" && { vm_send "$m" "initctl poweroff" >/dev/null 2>&1 || :; }; done
	for m in $machines; do
		running "$m" || continue
		vm_wait_exit "$m" 60 >/dev/null 2>&1 || { kill "$(cat "$VM_DIR/$m/qemu.pid")" 2>/dev/null; say "$m: killed"; }
	done
	for p in "$VM_DIR"/*/cat.pid; do [ -f "$p" ] && { kill "$(cat "$p")" 2>/dev/null || :; }; done
	if ip netns list | grep -q "^$ns\\b"; then ip netns del "$ns"; fi
	say "cluster $CLUSTER_NAME: down (consoles kept in $VM_DIR)"
}

# status_without_shell NAME: the console has console-status, not a shell: Enter makes it print `initctl status`,
# followed by its own line again; what came between is the status.
status_without_shell() {
	log=$VM_DIR/$1/console.log n=$(wc -l < "$VM_DIR/$1/console.log") i=0
	vm_send "$1" "" || return 0
	until tail -n +$((n + 2)) "$log" | grep -q 'this console has no shell'; do
		i=$((i + 1)); [ $i -lt 75 ] || { echo "(no status from the console in 15 s)"; return 0; }
		sleep 0.2
	done
	tail -n +$((n + 1)) "$log" | tr -d '\r' | sed '/this console has no shell/,$d' | sed '/^$/d'
}

status() {
	for m in $machines; do
		role=$(machine_field "$m" ROLE)
		if running "$m"; then
			echo "== $m ($role, $(machine_field "$m" ADDRESS)): running; $(grep -o 'kiln: [a-z]*:.*' "$VM_DIR/$m/console.log" | tr -d '\r' | tail -n 1)"
			if [ "${IMAGE_CONSOLE_SHELL:-}" = yes ]; then vm_run "$m" "initctl status" 15 || true
			else status_without_shell "$m"; fi
		else
			echo "== $m ($role, $(machine_field "$m" ADDRESS)): not running"
		fi
	done
}

case $cmd in
up) up ;;
down) down ;;
status) status ;;
start) start_one "${3:-}" ;;
*) die "unknown command '$cmd' (up, down, status, start)" ;;
esac
