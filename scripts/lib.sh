# lib.sh: small helpers shared by kiln's build scripts (sourced, never run).
# Every script: POSIX sh, set -eu, LC_ALL=C, one line of output a step.

set -eu
LC_ALL=C
export LC_ALL
umask 022

KILN_TOP=${KILN_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
KILN_CACHE=${KILN_CACHE:-/var/cache/kiln}
KILN_BUILD=${KILN_BUILD:-$KILN_TOP/build}
KILN_OUT=${KILN_OUT:-$KILN_TOP/out}

say() { printf '%s: %s\n' "${0##*/}" "$*"; }
die() { printf '%s: error: %s\n' "${0##*/}" "$*" >&2; exit 1; }

# The reproducible build time: the last commit, or a fixed epoch outside git.
source_date_epoch() {
	if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
		echo "$SOURCE_DATE_EPOCH"
	elif git -C "$KILN_TOP" log -1 --format=%ct >/dev/null 2>&1; then
		git -C "$KILN_TOP" log -1 --format=%ct
	else
		echo 1735689600
	fi
}

# machine_field NAME KEY: a machine's value from a sourced cluster.env (MACHINE_<name>_<KEY>, `-` in names as `_`).
machine_field() { eval "echo \${MACHINE_$(echo "$1" | tr -c 'A-Za-z0-9_\n' _)_$2}"; }

# need_console_shell WHAT: die unless the sourced cluster.env's images have a console shell (WHAT drives the
# machines through it); the tests' copy of the cluster has one (make test-images, build/test/out).
need_console_shell() {
	[ "${IMAGE_CONSOLE_SHELL:-}" = yes ] && return 0
	die "$1 runs commands on each machine's console shell, and cluster ${CLUSTER_NAME:-?}'s images have none (image.console_shell: false): run it on the tests' copy (make test-images; QEMU_OUT=build/test/out for make cluster and make upgrade)"
}

# cluster_host_address: in a QEMU cluster's network namespace, the namespace's own address on the bridge (from a
# sourced cluster.env), so tools run there reach the machines: the cluster's gateway when it has one, else the last
# address of the infrastructure range. ADDRESS/PREFIX.
cluster_host_address() {
	[ -n "$INFRA_GATEWAY" ] && { echo "$INFRA_GATEWAY/${INFRA_CIDR#*/}"; return; }
	IFS=./ read -r a b c d p <<-EOF
	$INFRA_CIDR
	EOF
	n=$(( ((a << 24) | (b << 16) | (c << 8) | d) | ((1 << (32 - p)) - 2) ))
	echo "$((n >> 24 & 255)).$((n >> 16 & 255)).$((n >> 8 & 255)).$((n & 255))/$p"
}

# The kernel release unpacked by deps.sh (e.g. 6.1.0-56-amd64).
kernel_release() {
	cat "$KILN_CACHE/kernel/release" 2>/dev/null || die "no kernel in $KILN_CACHE: run 'make deps'"
}
kernel_root() { echo "$KILN_CACHE/kernel/root"; }

# Read `key = value` from an image.conf-style file; $3 is the default.
conf_get() {
	v=$(sed -e 's/#.*//' -e 's/[[:space:]]*$//' "$1" | sed -n "s/^[[:space:]]*$2[[:space:]]*=[[:space:]]*//p" | tail -n 1)
	echo "${v:-${3:-}}"
}

# List values of a repeatable key, one per line (whitespace-separated words split too).
conf_list() {
	sed -e 's/#.*//' "$1" | sed -n "s/^[[:space:]]*$2[[:space:]]*=[[:space:]]*//p" | tr ' \t' '\n\n' | sed '/^$/d'
}

# Replace $2 by $1 atomically: outputs are written aside, then renamed into place.
commit_file() { mv -f "$1" "$2"; }

# kube_kubectl: the kubectl the build host drives clusters with: the one built with the components (the same
# release), else any on PATH.
kube_kubectl() {
	d=$(cat "${KUBE_BUILT:-$KILN_BUILD/.kube-built}" 2>/dev/null || true)
	if [ -n "$d" ] && [ -x "$d/kubectl" ]; then echo "$d/kubectl"; return 0; fi
	command -v kubectl
}

# apply_owners TREE: give each file of an identity tree the owner its MANIFEST names (`path mode user uid:gid`, from
# the image's own passwd). kiln render leaves the build host's copy owned by root, so a local user who happens to
# have a uid of the image (200 etcd, 201 apiserver...) reads nothing; the owners are applied only in a private copy that
# goes into an archive or a disk image.
apply_owners() {
	[ -f "$1/MANIFEST" ] || die "$1/MANIFEST: missing (run 'kiln render' again)"
	grep -v '^#' "$1/MANIFEST" | while read -r path mode user ids; do
		case $path in /*|*..*|'') die "$1/MANIFEST: bad path '$path'" ;; esac
		case $ids in -) continue ;; *[!0-9:]*|:*|*:|'') die "$1/MANIFEST: $path: bad owner '$ids'" ;; esac
		[ -f "$1/$path" ] || die "$1/$path: in the MANIFEST, not in the tree"
		chown -h "$ids" "$1/$path" || die "$1/$path: cannot give it to $user ($ids)"
	done
}

# ensure_deb_src: apt knows Debian's source packages (a deb-src entry beside the deb one), for `apt-get source`.
ensure_deb_src() {
	grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && return
	grep -qs '^deb-src' /etc/apt/sources.list && return
	say "adding a deb-src entry for Debian's sources"
	sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
		> /etc/apt/sources.list.d/kiln-deb-src.sources
	apt-get update -qq
}
