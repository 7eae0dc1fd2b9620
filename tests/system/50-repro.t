#!/bin/sh
# 50-repro.t: two builds of the same tree give byte-identical images: the second build goes to its own
# build and output folders (sharing only the dependency cache) and every output is compared.
. tests/system/lib/tap.sh

files="master/vmlinuz master/initramfs.cpio.gz master/disk.img master/manifest.txt
node/vmlinuz node/initramfs.cpio.gz node/disk.img node/manifest.txt"
plan 9
t=$(mktemp -d "${TMPDIR:-/tmp}/kiln-repro.XXXXXX")
trap 'rm -rf "$t"' EXIT
if make -s BUILD="$t/build" OUT="$t/out" images > "$t/log" 2>&1; then ok "second build in $t"; else
	not_ok "second build"; diag "$(tail -n 20 "$t/log")"; fi
for f in $files; do
	check "$f is byte-identical" cmp "$KILN_OUT/$f" "$t/out/$f"
done
done_testing
