#!/bin/sh
# manifest.sh STAGE ORIGINS OUT: every file of a staged image with its size, sha256 and origin.
# Format: one line a file, tab-separated: path, type, mode, uid:gid, size, sha256 (or link target), origin.
. "$(dirname "$0")/lib.sh"

stage=${1:?usage: manifest.sh STAGE ORIGINS OUT}
origins=${2:?}
out=${3:?}
{
	printf '# kiln manifest: path\ttype\tmode\towner\tsize\tsha256-or-target\torigin\n'
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
		o=$(awk -F'\t' -v f="$f" '$1 == f { print $2; exit }' "$origins")
		case $t:$o in
		link:) o=$(case $sum in /usr/bin/busybox) echo "busybox applet" ;; *) echo "build:layout" ;; esac) ;;
		node:) o="build:layout" ;;
		esac
		printf '%s\t%s\t%s\t%s\t%s\n' "$f" "$t" "$meta" "$sum" "${o:-unknown}"
	done
} > "$out.tmp"
grep -q '	unknown$' "$out.tmp" && { grep '	unknown$' "$out.tmp" >&2; rm -f "$out.tmp"; die "files of unknown origin in $stage"; }
commit_file "$out.tmp" "$out"
say "${out#"$KILN_TOP"/}: $(($(wc -l < "$out") - 1)) entries"
