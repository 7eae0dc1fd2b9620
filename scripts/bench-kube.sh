#!/bin/sh
# bench-kube.sh: what Kubernetes costs the images and the cluster, measured side by side in one run and printed
# (part of make bench; also alone, as root, after make):
#  - each role's image with the Kubernetes components and without them: the initramfs (compressed) and the root
#    tree a system slot holds
#  - the cluster of 61-kube.t in QEMU (tests/clusters/kube.yaml: one master with both cores, two nodes; 2 cores,
#    TCG): from `cluster.sh up` to every machine ready, to every node Ready and to a first pod Running, against the
#    same machines with etcd only (kiln.disable=kube-apiserver,apiproxy)
#  - each machine's memory in use once the cluster is ready (MemTotal - MemAvailable), with and without
. "$(dirname "$0")/lib.sh"
cd "$KILN_TOP"
[ -f "$KILN_OUT/master/initramfs.cpio.gz" ] && [ -f "$KILN_OUT/node/initramfs.cpio.gz" ] || die "no images built: run 'make' first"
b=$(mktemp -d "${TMPDIR:-/tmp}/kiln-bench-kube.XXXXXX")
ns=kiln-bk-$$
R=$b/out/cluster
trap 'KILN_OUT=$b/out CLUSTER_RUN=$b/run CLUSTER_NETNS=$ns sh scripts/cluster.sh down "$R" >/dev/null 2>&1 || :; rm -rf "$b"' EXIT
# The cluster's own output tree, as 61-kube.t makes it: its render and identities, the role images make built.
"$KILN_BUILD/tools/kiln" render tests/clusters/kube.yaml --out "$R" --pki "$b/pki" --rootfs rootfs > "$b/render.log" 2>&1 ||
	die "cannot render tests/clusters/kube.yaml: $(tail -n 1 "$b/render.log")"
. "$R/cluster.env"
for m in $MASTERS $NODES; do
	mkdir -p "$b/out/machines/$m"
	sh scripts/mk-identity.sh "$R/machines/$m/identity" "$b/out/machines/$m/identity.cpio.gz" > /dev/null
done
ln -s "$KILN_OUT/master" "$b/out/master"
ln -s "$KILN_OUT/node" "$b/out/node"
now() { date +%s.%N; }
secs() { awk -v s="$1" -v e="$2" 'BEGIN { printf "%.0f", e - s }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else printf "-" }'; }

# Sizes: the staged root without what came from Kubernetes (components/ or Debian's source), archived the same way.
for role in master node; do
	st=$KILN_BUILD/stage/$role
	rm -rf "$b/bare"; cp -a "$st" "$b/bare"
	n=0
	for f in $(awk -F'\t' '$2 ~ /^(debian-source|components):/ { print $1 }' "$st.origins"); do rm -f "$b/bare$f"; n=$((n + 1)); done
	sh scripts/mk-initramfs.sh "$b/bare" "$b/bare.cpio.gz" > /dev/null
	wi=$(($(stat -c %s "$KILN_OUT/$role/initramfs.cpio.gz") / 1024)) wo=$(($(stat -c %s "$b/bare.cpio.gz") / 1024))
	ri=$(du -sk "$st" | cut -f1) ro=$(du -sk "$b/bare" | cut -f1)
	echo "bench: $role image, with the $n Kubernetes components / without: initramfs $wi / $wo KiB (ratio $(ratio "$wi" "$wo")), root $ri / $ro KiB (ratio $(ratio "$ri" "$ro"))"
done
rm -rf "$b/bare" "$b/bare.cpio.gz"
grep -q '^kube-apiserver present' "$KILN_OUT/master/components.txt" ||
	{ echo "bench: the images carry no kube-apiserver: no cluster comparison"; exit 0; }

KC=$(kube_kubectl)
kc() { ip netns exec "$ns" "$KC" --kubeconfig "$R/admin.kubeconfig" --request-timeout=20s "$@"; }
first=$(echo $MASTERS | cut -d' ' -f1)
nn=$(echo $NODES | wc -w)

# cluster LABEL: boot the cluster (CLUSTER_APPEND / CLUSTER_APPEND_FOR set by the caller), time it, record memory.
cluster() {
	label=$1
	rm -rf "$b/run"
	export CLUSTER_RUN=$b/run CLUSTER_NETNS=$ns CLUSTER_MEM=1536 CLUSTER_TIMEOUT=1500
	VM_DIR=$b/run; . scripts/vm.sh
	s=$(now)
	if ! KILN_OUT=$b/out sh scripts/cluster.sh up "$R" > "$b/$label.log" 2>&1; then
		echo "bench: $label: the cluster did not come up: $(tail -n 1 "$b/$label.log")"
		up= ready= pod=
	else
		up=$(secs "$s" "$(now)") ready= pod=
		if [ "$label" = kubernetes ]; then
			end=$(($(date +%s) + 600))
			until [ "$(kc get nodes -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' 2>/dev/null | grep -c True)" = "$nn" ]; do
				[ "$(date +%s)" -lt "$end" ] || break
				sleep 2
			done
			[ "$(date +%s)" -lt "$end" ] && ready=$(secs "$s" "$(now)")
			kc run bench-first --image=kiln.local/pause:1 --image-pull-policy=Never --restart=Never > /dev/null 2>&1
			until [ "$(kc get pod bench-first -o jsonpath='{.status.phase}' 2>/dev/null)" = Running ]; do
				[ "$(date +%s)" -lt "$end" ] || break
				sleep 2
			done
			[ "$(date +%s)" -lt "$end" ] && pod=$(secs "$s" "$(now)")
		fi
	fi
	mem=
	for m in $MASTERS $NODES; do
		u=$(vm_run "$m" "awk '/^MemTotal/ { t = \$2 } /^MemAvailable/ { a = \$2 } END { print int((t - a) / 1024) }' /proc/meminfo" 30 | tr -dc 0-9)
		mem="$mem $m ${u:-?}"
	done
	eval "${label}_up=\$up ${label}_ready=\$ready ${label}_pod=\$pod ${label}_mem=\"\$mem\""
	KILN_OUT=$b/out sh scripts/cluster.sh down "$R" > /dev/null 2>&1
}

export CLUSTER_SMP_FOR="$first=2" # as 61-kube.t gives it
export CLUSTER_APPEND=kiln.disable=kube-apiserver,apiproxy
cluster etcd
CLUSTER_APPEND=
cluster kubernetes
echo "bench: QEMU cluster of 61-kube.t ($MASTERS; $NODES), with Kubernetes / etcd only: every machine ready" \
	"${kubernetes_up:-(failed)} / ${etcd_up:-(failed)} s (ratio $(ratio "${kubernetes_up:-0}" "${etcd_up:-0}"));" \
	"every node Ready ${kubernetes_ready:-(failed)} s, first pod Running ${kubernetes_pod:-(failed)} s"
echo "bench: memory in use once ready (MiB), with Kubernetes:$kubernetes_mem; etcd only:$etcd_mem"
