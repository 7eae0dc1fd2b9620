#!/bin/sh
# bench.sh: kiln's performance goals, measured side by side in one run and printed (never a pass/fail test).
#  - master boot to ready under kiln's init vs the same kernel and etcd under a three-line shell init
#  - init binary size, init's resident memory after boot, initramfs size without components and modules
#  - build time with a warm dependency cache
#  - the cluster tool issuing PKI and identities for 100 and 1000 nodes
#  - an etcd backup run (snapshot, verification, metadata) against a bare snapshot, 10 MB and 100 MB
#  - the log forwarder's CPU and memory at 100 and 1,000 lines a second, and a line's latency to a master (build
#    host); the same rates on a node in QEMU: its CPU and memory there, and a line's latency from n1 to the master
#  - a QEMU cluster up (etcd only) against one master alone
#  - Kubernetes: image sizes with and without the components, the cluster to nodes Ready and a first pod against
#    etcd only, memory per machine (bench-kube.sh)
#  - PXE boot (dnsmasq, TFTP) against direct kernel boot of the same images, and the bytes each machine fetches
#  - an upgrade of the master disk (command to the new system committed) against a plain reboot of it
. "$(dirname "$0")/lib.sh"
cd "$KILN_TOP"
TOP=$KILN_TOP
. "$KILN_TOP/tests/system/lib/tap.sh" >/dev/null
. "$KILN_TOP/tests/system/lib/vm.sh"
runs=${BENCH_RUNS:-3}
o=$KILN_OUT/master
b=$VM_DIR/bench
mkdir -p "$b"

# Both inits boot the same root: the master's staged root of the tree under test (the tests' tree: its console
# shell runs the RSS reading), without the Kubernetes components. With them the kernel spends about 13 s under TCG
# unpacking 100 MB before either init runs, which would hide the init's own cost in the noise; kiln's init skips
# the services of missing components, and the baseline starts etcd alone anyway.
stage=${KILN_OUT%/out}/stage/master
[ -d "$stage" ] || stage=$KILN_BUILD/stage/master
rm -rf "$b/root"; cp -a "$stage" "$b/root"
for c in $(conf_list "$KILN_TOP/images/master/image.conf" components); do rm -f "$b/root/usr/bin/$c"; done
sh "$KILN_TOP/scripts/mk-initramfs.sh" "$b/root" "$b/kiln.cpio.gz" >/dev/null
# The baseline: the same root, with /init a three-line shell script starting etcd directly.
rm -f "$b/root/init"
cat > "$b/root/init" <<'EOF'
#!/bin/sh
mount -t proc p /proc; mount -t devtmpfs d /dev; mount -t tmpfs t /data; ip link set lo up; exec >/dev/console 2>&1; /usr/bin/etcd --data-dir /data/etcd >/dev/null 2>&1 &
until /usr/bin/etcdctl endpoint health >/dev/null 2>&1; do sleep 0.05; done; echo "baseline: ready in $(cut -d' ' -f1 /proc/uptime)s"
exec sleep 1000000
EOF
chmod 755 "$b/root/init"
sh "$KILN_TOP/scripts/mk-initramfs.sh" "$b/root" "$b/baseline.cpio.gz" >/dev/null

# boot_time NAME INITRD REGEX: sets $t to the seconds from kernel start to the ready line, as the guest reports
# them (not called in $(...): the VM must belong to this shell).
boot_time() {
	t=0
	vm_start "$1" --mem 1024 "$o/vmlinuz" "$2"
	if vm_wait "$1" "$3" 120; then
		t=$(vm_log "$1" | grep -E "$3" | head -n 1 | sed 's/.* in \([0-9.]*\)s.*/\1/')
	else
		echo "bench: $1 did not reach '$3'" >&2
	fi
}

kiln_t= base_t= rss=
i=1
while [ $i -le "$runs" ]; do
	boot_time "kiln$i" "$b/kiln.cpio.gz" 'kiln: ready: [0-9]+ services in [0-9.]+s'
	k=$t
	[ $i -eq 1 ] && rss=$(vm_run "kiln$i" "grep VmRSS /proc/1/status" 20 | awk '/VmRSS/ {print $2}')
	vm_kill "kiln$i"
	boot_time "base$i" "$b/baseline.cpio.gz" 'baseline: ready in [0-9.]+s'
	vm_kill "base$i"
	echo "bench: run $i: kiln init ${k}s, shell init ${t}s"
	kiln_t="$kiln_t $k" base_t="$base_t $t"
	i=$((i + 1))
done
median() { printf '%s\n' $1 | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
km=$(median "$kiln_t") bm=$(median "$base_t")
echo "bench: master boot to ready (median of $runs): kiln init ${km}s, three-line shell init ${bm}s," \
	"ratio $(awk -v a="$km" -v b="$bm" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }') (goal <= 1.10)"

init_size=$(stat -c %s "$KILN_BUILD/init/init")
echo "bench: init binary $((init_size / 1024)) KiB (goal < 128 KiB); initctl $(($(stat -c %s "$KILN_BUILD/init/initctl") / 1024)) KiB"
echo "bench: init resident memory after boot ${rss:-?} KiB (goal < 1024 KiB)"

# The initramfs without component binaries (host Debian files) and kernel modules.
rm -rf "$b/bare"; cp -a "$KILN_BUILD/stage/master" "$b/bare"
awk -F'\t' '$2 ~ /^(deb|kernel):/ { print $1 }' "$KILN_BUILD/stage/master.origins" | while read -r f; do rm -f "$b/bare$f"; done
sh "$KILN_TOP/scripts/mk-initramfs.sh" "$b/bare" "$b/bare.cpio.gz" >/dev/null
echo "bench: initramfs without components and modules $(($(stat -c %s "$b/bare.cpio.gz") / 1024)) KiB (goal < 2048 KiB);" \
	"whole master initramfs $(($(stat -c %s "$o/initramfs.cpio.gz") / 1024)) KiB"

# Build time with a warm cache: everything after the dependencies, into fresh folders.
start=$(date +%s.%N)
make -s -C "$KILN_TOP" BUILD="$b/build" OUT="$b/out" images >/dev/null
echo "bench: full image build with a warm cache $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')s"

# The cluster tool: validate a cluster file and issue the PKI and every identity for 100 and 1000 nodes.
echo "bench: cluster tool, PKI and identity trees (goal: 1000 nodes under 20 s, near-linear):"
sh "$KILN_TOP/tools/bench-pki.sh" "$KILN_BUILD/tools/kiln" | sed 's/^/bench:   /'

# etcd backups: the master's backup run (verified) against a bare snapshot of the same data, 10 MB and 100 MB.
echo "bench: etcd backup, verified run vs bare \`etcdctl snapshot save\` (build host, etcd on loopback):"
sh "$KILN_TOP/tools/bench-backup.sh" | sed 's/^/bench:   /'

# Logs: the forwarder's CPU and memory at 100 and 1,000 lines a second, and a line's time from written to stored.
echo "bench: log forwarding, the images' rsyslog configurations (build host, loopback, TLS):"
sh "$KILN_TOP/tools/bench-logs.sh" | sed 's/^/bench:   /'
echo "bench: log forwarding on a node in QEMU (n1 to m1, TCG, etcd only):"
sh "$KILN_TOP/scripts/bench-logs-qemu.sh" | sed 's/^/bench:   /'

# A QEMU test cluster: wall time from `cluster.sh up` to every machine ready, against one master booting alone
# in the same run (the one-master test cluster's s1, etcd with TLS, same memory), both from QEMU's start.
now() { date +%s.%N; }
secs() { awk -v s="$1" -v e="$2" 'BEGIN { printf "%.1f", e - s }'; }
if [ -f "$KILN_OUT/machines/m1/identity.cpio.gz" ]; then
	solo_initrd "$b/solo" || echo "bench: cannot render the one-master cluster: $(tail -n 1 "$b/solo/render.log")" >&2
	s=$(now)
	vm_start solo --mem 1024 --mac 52:54:00:00:01:11 "$o/vmlinuz" "$b/solo/initrd"
	vm_wait solo 'kiln: ready:' 180 && one=$(secs "$s" "$(now)") || one=
	vm_kill solo
	s=$(now)
	# etcd alone, as the one master is (bench-kube.sh below measures the cluster with Kubernetes)
	if CLUSTER_APPEND=kiln.disable=kube-apiserver,apiproxy CLUSTER_RUN=$b/cluster CLUSTER_NETNS=kiln-bench-$$ \
		sh "$KILN_TOP/scripts/cluster.sh" up >/dev/null 2>&1; then
		all=$(secs "$s" "$(now)")
	else
		all=
	fi
	CLUSTER_RUN=$b/cluster CLUSTER_NETNS=kiln-bench-$$ sh "$KILN_TOP/scripts/cluster.sh" down >/dev/null 2>&1
	n=$(. "$KILN_OUT/cluster/cluster.env"; echo $MASTERS $NODES | wc -w)
	echo "bench: QEMU cluster of $n machines ready in ${all:-(failed)}s; one master alone ${one:-(failed)}s;" \
		"ratio $(awk -v a="${all:-0}" -v b="${one:-0}" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }') (2 cores, TCG)"
fi

# What Kubernetes costs: image sizes, the cluster's boot to nodes Ready and a first pod, memory (also alone).
sh "$KILN_TOP/scripts/bench-kube.sh"
# PXE boot against direct kernel boot of the same images, and the bytes per machine (also alone: bench-pxe.sh).
sh "$KILN_TOP/scripts/bench-pxe.sh"
# An upgrade (command to the new system committed) against a plain reboot (also alone: bench-upgrade.sh).
sh "$KILN_TOP/scripts/bench-upgrade.sh"
