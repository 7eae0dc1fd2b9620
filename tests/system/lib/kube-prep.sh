# kube-prep.sh: before a test cluster boots (sourced by 60-cluster.t and 61-kube.t, with the cluster's cluster.env
# loaded): `missing`, the components the images lack (kube-checks.sh skips its checks naming them); the container
# image the checks run, built from kiln's busybox into $www/busybox.oci.tar; `host`, the network namespace's own
# address, where the test serves $www.
missing=$(cat "$KILN_OUT/master/components.txt" "$KILN_OUT/node/components.txt" 2>/dev/null |
	awk '$2 != "present" && $1 != "coredns" && !/^#/ { printf " %s", $1 }')
tests/system/lib/mk-oci-busybox.sh "$KILN_CACHE/busybox/busybox" "$www/busybox.oci.tar"
host=$(. scripts/lib.sh; cluster_host_address); host=${host%/*}
