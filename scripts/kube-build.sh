#!/bin/sh
# kube-build.sh [--check]: builds the Kubernetes components from Debian 12's `kubernetes` source package (the
# upstream tree with vendor/, offline, Debian's Go) into $KILN_CACHE/kubernetes/<source version>/bin, once.
# Prints that folder on stdout. --check prints it only when the build is already cached (exit 1 otherwise).
# kube-build.sh --for STAMP: what `make` runs: builds them only when the images need them (a component of a role
# is not in $KUBE_BIN and the rendered cluster asks for the version Debian's source is), and writes the folder,
# or nothing, to STAMP (rewritten only when that changes, so the roles restage only then).
# A build that fails leaves no half folder: the binaries are built aside and the folder renamed into place.
. "$(dirname "$0")/lib.sh"

# What the images need (kube-apiserver ... kube-proxy) and what the build host drives them with (kubectl).
KUBE_CMDS="kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl"
top=$KILN_CACHE/kubernetes

# Debian's source version, e.g. 1.20.5+really1.20.2-1.1+deb12u1 (the newest apt knows).
source_version() {
	apt-cache showsrc kubernetes 2>/dev/null | sed -n 's/^Version: //p' | sort -V | tail -n 1
}

# The upstream release the tree really is: "1.20.5+really1.20.2-1.1" -> v1.20.2.
upstream_version() {
	v=${1%%-*}
	v=${v##*really}
	echo "v$v"
}

complete() {
	for c in $KUBE_CMDS; do [ -x "$1/$c" ] || return 1; done
}

fetch_source() {
	src=$1 ver=$2
	[ -f "$src/tree/hack/lib/version.sh" ] && [ "$(cat "$src/version" 2>/dev/null)" = "$ver" ] && return
	ensure_deb_src
	say "apt-get source kubernetes=$ver (about 35 MB)"
	rm -rf "$src"; mkdir -p "$src"
	(cd "$src" && apt-get source -q --download-only "kubernetes=$ver" >"$src/fetch.log" 2>&1) ||
		{ tail -n 5 "$src/fetch.log" >&2; die "apt-get source kubernetes failed"; }
	(cd "$src" && dpkg-source -x --no-check kubernetes_*.dsc tree >"$src/unpack.log" 2>&1) ||
		{ tail -n 5 "$src/unpack.log" >&2; die "dpkg-source could not unpack kubernetes"; }
	rm -f "$src"/*.tar.* "$src"/*.dsc
	echo "$ver" > "$src/version"
}

# The upstream commit of each release the Debian package can be (its version stamp says which tree it is).
release_commit() {
	case $1 in
	v1.20.2) echo faecb196815e248d3ecfb03c680a4507229c2a56 ;;
	*) echo 0000000000000000000000000000000000000000 ;;
	esac
}

build() {
	src=$1 want=$2 dest=$3
	t=$src/tree
	for p in golang-go rsync; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' && continue
		say "installing $p (the build needs it)"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$p" >/dev/null ||
			die "apt-get install $p failed"
	done
	# A failed code generator leaves an empty _output/bin/*-gen that breaks every later try: start clean then.
	for g in "$t"/_output/bin/*-gen; do
		[ -e "$g" ] && [ ! -s "$g" ] && { say "an empty $g from a failed try: starting clean"; rm -rf "$t/_output"; break; }
	done
	mkdir -p "$t/.go/src/k8s.io"
	[ -L "$t/.go/src/k8s.io/kubernetes" ] || ln -s ../../.. "$t/.go/src/k8s.io/kubernetes"
	major=${want#v}; major=${major%%.*}
	minor=${want#v*.}; minor=${minor%%.*}
	# The changelog's date: the same binaries from the same source, whenever they are built.
	epoch=$(dpkg-parsechangelog -l "$t/debian/changelog" -S Timestamp 2>/dev/null || echo 1611273600)
	log=$src/build.log
	n=0 total=$(echo $KUBE_CMDS | wc -w)
	start=$(date +%s)
	for c in $KUBE_CMDS; do
		n=$((n + 1))
		say "[$n/$total] building $c $want (Go $(go env GOVERSION 2>/dev/null), log: $log)"
		(cd "$t" && env HOME="$src/home" GOPATH="$t/.go" GOCACHE="$top/gocache" GOFLAGS=-mod=vendor \
			CGO_ENABLED=0 KUBE_STATIC_OVERRIDES="kubelet" SOURCE_DATE_EPOCH="$epoch" \
			KUBE_GIT_VERSION="$want" KUBE_GIT_COMMIT="$(release_commit "$want")" KUBE_GIT_TREE_STATE=clean \
			KUBE_GIT_MAJOR="$major" KUBE_GIT_MINOR="$minor" \
			make WHAT="cmd/$c" >>"$log" 2>&1) ||
			{ tail -n 20 "$log" >&2; rm -rf "$t/_output"; die "building $c failed (log: $log)"; }
		say "[$n/$total] $c built, $(($(date +%s) - start)) s so far"
	done
	rm -rf "$dest.tmp"; mkdir -p "$dest.tmp"
	for c in $KUBE_CMDS; do
		cp "$t/_output/bin/$c" "$dest.tmp/$c" || die "$c: not in $t/_output/bin"
		if [ "$c" = kubectl ]; then
			v=$("$dest.tmp/$c" version --client 2>&1 | sed -n 's/.*GitVersion:"\([^"]*\)".*/Kubernetes \1/p')
		else
			v=$("$dest.tmp/$c" --version 2>&1 | head -n 1)
		fi
		[ "$v" = "Kubernetes $want" ] || die "$c says '$v', not 'Kubernetes $want'"
	done
	rm -rf "$dest"; mv "$dest.tmp" "$dest"
	rm -rf "$t/_output" "$t/.go"
	say "Kubernetes $want built in $(($(date +%s) - start)) s: $dest"
}

# Whether some role's component is missing from the components folder (the user's binaries come first).
needed_from_source() {
	for r in master node; do
		for c in $(conf_list "$KILN_TOP/images/$r/image.conf" components); do
			[ "$c" = coredns ] && continue # not in Debian's source; optional (the cluster DNS is dnsmasq without it)
			[ -e "${KUBE_BIN:-$KILN_TOP/components}/$c" ] || return 0
		done
	done
	return 1
}

# STAMP gets the folder of built binaries the image build may take from, or is empty.
for_stamp() {
	stamp=$1
	dir=
	want=$(sed -n 's/^KUBERNETES_VERSION=//p' "$KILN_OUT/cluster/cluster.env" 2>/dev/null || true)
	if needed_from_source; then
		ver=$(source_version)
		[ -n "$ver" ] || { ensure_deb_src; ver=$(source_version); }
		if [ -z "$ver" ]; then
			say "no 'kubernetes' source package known to apt: the images take only what components/ holds"
		elif [ "$want" != "$(upstream_version "$ver")" ]; then
			say "the cluster file asks for Kubernetes ${want:-?}; Debian's source builds $(upstream_version "$ver"):" \
				"not building it (put the official $want binaries in components/)"
		else
			dir=$("$0") || exit 1
		fi
	fi
	[ "$(cat "$stamp" 2>/dev/null)" = "$dir" ] && [ -f "$stamp" ] && return 0
	mkdir -p "$(dirname "$stamp")"
	echo "$dir" > "$stamp.tmp" && mv "$stamp.tmp" "$stamp"
}

check_only=no
case ${1:-} in
--check) check_only=yes ;;
--for) for_stamp "${2:?usage: kube-build.sh --for STAMP}"; exit 0 ;;
esac
ver=$(source_version)
if [ -z "$ver" ]; then
	ensure_deb_src
	ver=$(source_version)
fi
[ -n "$ver" ] || die "apt-cache knows no 'kubernetes' source package (is a deb-src entry for Debian 12 there?)"
dest=$top/$ver/bin
if complete "$dest"; then
	echo "$dest"
	exit 0
fi
[ $check_only = yes ] && exit 1
[ "$(id -u)" = 0 ] || die "Kubernetes $(upstream_version "$ver") is not built yet and building it needs root (apt-get)"
mkdir -p "$top"
say "Kubernetes $(upstream_version "$ver") from Debian's source $ver: not cached, building (about 20 min on 2 cores)" >&2
fetch_source "$top/src" "$ver" >&2
build "$top/src" "$(upstream_version "$ver")" "$dest" >&2
echo "$dest"
