#!/bin/sh
# addons.sh [--netns NS] [--tries N] RENDERED: applies what the cluster's host services need from the API
# (RENDERED/addons/*.yaml: the cluster DNS's RBAC, the kube-dns Service and its Endpoints) with the admin kubeconfig,
# from the build host, trying each master's apiserver in turn; N rounds 10 s apart (default 1). Exit 0 once one
# master took them, 1 when none did (the last error said). --netns: run kubectl inside a QEMU cluster's namespace.
. "$(dirname "$0")/lib.sh"

ns= tries=1
while [ $# -gt 1 ]; do
	case $1 in
	--netns) ns=$2; shift 2 ;;
	--tries) tries=$2; shift 2 ;;
	*) die "usage: addons.sh [--netns NS] [--tries N] RENDERED" ;;
	esac
done
rendered=${1:?usage: addons.sh [--netns NS] [--tries N] RENDERED}
[ -f "$rendered/cluster.env" ] || die "$rendered/cluster.env: no rendered cluster (run 'make' first)"
case $tries in ''|*[!0-9]*) die "--tries $tries: not a number" ;; esac
. "$rendered/cluster.env"
kc=$(kube_kubectl) || die "no kubectl (run 'make': it is built with the components, or install kubernetes-client)"

i=0 err=
while [ "$i" -lt "$tries" ]; do
	i=$((i + 1))
	for m in $MASTERS; do
		set -- "$kc" --kubeconfig "$rendered/admin.kubeconfig" --server "https://$(machine_field "$m" ADDRESS):6443" \
			--request-timeout=15s apply -f "$rendered/addons/"
		[ -z "$ns" ] || set -- ip netns exec "$ns" "$@"
		if out=$("$@" 2>&1); then
			say "applied through $m: $(echo "$out" | tr '\n' ';' | sed 's/;$//')"
			exit 0
		fi
		err="$m: $(echo "$out" | tail -n 1)"
	done
	[ "$i" -lt "$tries" ] && sleep 10
done
say "not applied: $err" >&2
exit 1
