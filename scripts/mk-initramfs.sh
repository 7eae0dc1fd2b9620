#!/bin/sh
# mk-initramfs.sh STAGE OUT: one gzip'd newc archive from a staged tree, in one step:
# sorted names, clamped times, sequential inode numbers, no gzip timestamp.
. "$(dirname "$0")/lib.sh"

stage=${1:?usage: mk-initramfs.sh STAGE OUT}
out=${2:?usage: mk-initramfs.sh STAGE OUT}
[ -d "$stage" ] || die "$stage: not a staged tree"
mkdir -p "$(dirname "$out")"
(cd "$stage" && find . -mindepth 1 | sort | cpio --quiet -o -H newc --reproducible) | gzip -n -6 > "$out.tmp" \
	|| { rm -f "$out.tmp"; die "cannot write $out"; }
commit_file "$out.tmp" "$out"
say "${out#"$KILN_TOP"/}: $(($(wc -c < "$out") / 1024)) KiB"
