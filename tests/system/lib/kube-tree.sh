# kube-tree.sh: a test cluster's own output tree (sourced by 61-kube.t, 62-kube-ha.t and scripts/bench-logs-qemu.sh, after tap.sh and
# scripts/vm.sh, with T and CLUSTER_NETNS set). When the test ends, the cluster is powered off, its namespace deleted
# and T removed (KEEP_VM_DIR keeps T); www_pid, a server the test started, is stopped.
# kube_tree FILE: FILE rendered with a PKI of its own into $T/out/cluster (R, its cluster.env loaded), each machine's
# identity archive in $T/out/machines, and the role images make built linked in, so that cluster.sh and drill.sh
# run on it with KILN_OUT=$T/out.
kube_tree() {
	R=$T/out/cluster
	mkdir -p "$T/out/machines"
	"$KILN_BUILD/tools/kiln" render "$1" --out "$R" --pki "$T/pki" --rootfs rootfs > "$T/render.log" 2>&1 ||
		bail "cannot render $1: $(tail -n 1 "$T/render.log")"
	. "$R/cluster.env"
	for m in $MASTERS $NODES; do
		mkdir -p "$T/out/machines/$m"
		scripts/mk-identity.sh "$R/machines/$m/identity" "$T/out/machines/$m/identity.cpio.gz" > /dev/null || bail "identity of $m"
	done
	ln -s "$KILN_OUT/master" "$T/out/master"
	ln -s "$KILN_OUT/node" "$T/out/node"
}

# kube_up WHAT: cluster.sh up on the tree; one result, WHAT ready with each machine's time to ready, or bail out.
kube_up() {
	if KILN_OUT=$T/out sh scripts/cluster.sh up "$R" > "$CLUSTER_RUN/up.log" 2>&1; then
		ok "$1 ready in $(cat "$CLUSTER_RUN/ready-seconds") s:$(grep -o '[a-z0-9]*: kiln: ready: .*' "$CLUSTER_RUN/up.log" | sed 's/: kiln: ready: [0-9]* services in \([0-9.]*\)s.*/ \1 s;/' | tr '\n' ' ')"
	else
		not_ok "the cluster comes up"; diag "$(tail -n 20 "$CLUSTER_RUN/up.log")"
		for m in $MASTERS $NODES; do diag "== $m" "$(tr -d '\r' < "$CLUSTER_RUN/$m/console.log" | tail -n 8)"; done
		give_up "no cluster"
	fi
}

# (each step may fail, and a caller under set -e, scripts/bench-logs-qemu.sh, would end the trap there: || :)
kube_tree_cleanup() {
	[ -z "${www_pid:-}" ] || kill "$www_pid" 2>/dev/null || :
	[ -z "${R:-}" ] || KILN_OUT=$T/out sh scripts/cluster.sh down "$R" > /dev/null 2>&1 || :
	ip netns del "$CLUSTER_NETNS" 2>/dev/null || :
	[ -n "${KEEP_VM_DIR:-}" ] || rm -rf "$T"
}
trap kube_tree_cleanup EXIT
trap 'exit 2' INT TERM
