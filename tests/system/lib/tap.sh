# tap.sh: a few TAP helpers for kiln's system tests (POSIX sh, sourced). Run from the repo root by prove.
set -u
LC_ALL=C
export LC_ALL
TOP=$(pwd)
KILN_BUILD=${KILN_BUILD:-$TOP/build}
KILN_OUT=${KILN_OUT:-$TOP/out}
KILN_CACHE=${KILN_CACHE:-/var/cache/kiln}
KILN_TEST_OUT=${KILN_TEST_OUT:-$KILN_BUILD/test/out}

# use_test_tree: KILN_OUT becomes the tests' tree (make test-images: the cluster built again with a console shell),
# for a test that drives machines through their consoles; the example's own images (out/) have no shell and stay
# KILN_IMAGES_OUT.
use_test_tree() {
	[ -f "$KILN_TEST_OUT/cluster/cluster.env" ] && [ -f "$KILN_TEST_OUT/master/initramfs.cpio.gz" ] &&
		[ -f "$KILN_TEST_OUT/node/initramfs.cpio.gz" ] || bail "no tests' tree in $KILN_TEST_OUT: run 'make test-images'"
	grep -qx 'IMAGE_CONSOLE_SHELL=yes' "$KILN_TEST_OUT/cluster/cluster.env" ||
		bail "$KILN_TEST_OUT: its images have no console shell: run 'make test-images'"
	KILN_IMAGES_OUT=$KILN_OUT KILN_OUT=$KILN_TEST_OUT
	export KILN_OUT KILN_IMAGES_OUT
}
tap_n=0
tap_failed=0

plan() { echo "1..$1"; }
ok() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $*"; }
not_ok() { tap_n=$((tap_n + 1)); tap_failed=$((tap_failed + 1)); echo "not ok $tap_n - $*"; }
diag() { printf '%s\n' "$@" | sed 's/^/# /'; }
skip() { tap_n=$((tap_n + 1)); echo "ok $tap_n # SKIP $*"; }

# check "description" command...: ok when the command succeeds; its output becomes diagnostics otherwise.
check() {
	desc=$1; shift
	if out=$("$@" 2>&1); then ok "$desc"; else not_ok "$desc"; diag "$out" | tail -n 20; fi
}
# bail "reason": nothing can be tested without what is missing (no build, no tool): stop the whole run ("Bail out!"
# ends prove).
bail() { echo "Bail out! $*"; exit 1; }
# give_up "reason": the rest of this file depends on a step that just failed: end this file alone (prove reports it
# as failed, its plan short), and let the other files of the run go on.
give_up() { diag "giving up the rest of this file: $*"; exit 1; }
done_testing() { [ "$tap_failed" -eq 0 ]; }
