#!/bin/sh
# manifest.sh STAGE ORIGINS OUT: every file of a staged image with its size, sha256 and origin.
# Format: one line a file, tab-separated: path, type, mode, uid:gid, size, sha256 (or link target), origin.
. "$(dirname "$0")/lib.sh"

stage=${1:?usage: manifest.sh STAGE ORIGINS OUT}
origins=${2:?}
out=${3:?}
# One pass over the tree, then one join with the origins list (not a lookup per file).
(cd "$stage" && find . -mindepth 1 ! -type d | sed 's|^\.||' | sort) | while read -r f; do
	p=$stage$f
	meta=$(stat -c '%a	%u:%g	%s' "$p")
	if [ -L "$p" ]; then
		t=link; sum=$(readlink "$p")
	elif [ -f "$p" ]; then
		t=file; sum=$(sha256sum "$p" | cut -d' ' -f1)
	else
		t=node; sum=-
	fi
	printf '%s\t%s\t%s\t%s\n' "$f" "$t" "$meta" "$sum"
done > "$out.rows"
awk -F'\t' -v OFS='\t' 'BEGIN { print "# kiln manifest: path\ttype\tmode\towner\tsize\tsha256-or-target\torigin" }
	NR == FNR { if (!($1 in origin)) origin[$1] = $2; next }
	{
		o = origin[$1]
		if (o == "" && $2 == "link") o = ($6 == "/usr/bin/busybox" ? "busybox applet" : "build:layout")
		if (o == "" && $2 == "node") o = "build:layout"
		print $0, (o == "" ? "unknown" : o)
	}' "$origins" "$out.rows" > "$out.tmp"
rm -f "$out.rows"
grep -q '	unknown$' "$out.tmp" && { grep '	unknown$' "$out.tmp" >&2; rm -f "$out.tmp"; die "files of unknown origin in $stage"; }
commit_file "$out.tmp" "$out"
say "${out#"$KILN_TOP"/}: $(($(wc -l < "$out") - 1)) entries"
