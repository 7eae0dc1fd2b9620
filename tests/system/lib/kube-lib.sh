# kube-lib.sh: what the Kubernetes checks of the cluster tests share (sourced by kube-checks.sh and 62-kube-ha.t,
# after tap.sh and vm.sh, with the cluster's cluster.env loaded; the caller sets R, CLUSTER_NETNS, CLUSTER_RUN, NODES,
# kube_masters, missing and host as kube-checks.sh says, and kube_off). It sets kube (1 when the checks can run),
# kube_why, kc (kubectl through the cluster's namespace as admin), kc_at MASTER, until_ok, kube_skip, img and oci,
# nodes_ready and import_image.
# a machine's field of cluster.env (lib.sh's, in a subshell: lib.sh sets -eu)
machine_field() { (. scripts/lib.sh; machine_field "$@"); }
kube=
[ -f "$KILN_OUT/master/components.txt" ] && [ -z "$missing" ] && kube=1
kube_why="the images lack$missing (put the official binaries in components/ or let make build v1.20.2)"
[ -z "${kube_off:-}" ] || { kube= kube_why=$kube_off; }
nkm=$(echo $kube_masters | wc -w)
KC=$(. scripts/lib.sh; kube_kubectl)
kc() { ip netns exec "$CLUSTER_NETNS" "$KC" --kubeconfig "$R/admin.kubeconfig" --request-timeout=30s "$@"; }
kc_at() { m=$1; shift; kc --server "https://$(machine_field "$m" ADDRESS):6443" "$@"; }
# until_ok SECONDS CMD...: run CMD every 5 s until it succeeds
until_ok() { u_end=$(($(date +%s) + $1)); shift; until "$@"; do [ "$(date +%s)" -lt "$u_end" ] || return 1; sleep 5; done; }
kube_skip() { skip "$1: $kube_why"; }
img=docker.io/kiln/busybox:test
oci=/data/kiln-test/busybox.oci.tar
v1=$(sed -n 's/^KILN_VERSION=//p' "$KILN_BUILD/stage/node/etc/kiln/release")
# nodes_ready [MASTER...]: every node of NODES Ready, with kiln's OS image and the cluster's kubelet release, as the
# admin kubeconfig's apiserver says, or the first of MASTERS that answers
nodes_ready() {
	for nm in ${*:-admin}; do
		nr=$(if [ "$nm" = admin ]; then kc get nodes -o "$nodes_fmt"; else kc_at "$nm" get nodes -o "$nodes_fmt"; fi 2>/dev/null) && break
	done
	[ -n "$nr" ] || return 1
	for n in $NODES; do echo "$nr" | grep -qx "$n:True:kiln $v1 (node):$KUBERNETES_VERSION" || return 1; done
}
nodes_fmt='jsonpath={range .items[*]}{.metadata.name}:{.status.conditions[?(@.type=="Ready")].status}:{.status.nodeInfo.osImage}:{.status.nodeInfo.kubeletVersion}{"\n"}{end}'
# import_image NODE...: the test's container image, fetched from the test's server and imported, on every NODE at once
import_image() {
	imports=
	for n in "$@"; do
		vm_run "$n" "mkdir -p /data/kiln-test && wget -q -O $oci http://$host:8081/busybox.oci.tar && ctr -n k8s.io images import $oci" 180 > /dev/null &
		imports="$imports $!"
	done
	wait $imports # not the test's HTTP server, also in the background
}
