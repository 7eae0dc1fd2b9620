#!/bin/sh
# serve.sh [--addr [IP:]PORT] [--dir DIR]: each role's upgrade image over HTTP, for
# `initctl upgrade http://HOST:PORT/<role>/system.img` on the machines (`make serve`).
#
# Only the upgrade images are served: a folder of links <role>/system.img and <role>/system.img.sig to
# out/<role>/ (or to DIR/<role>/, a folder laid out the same way), so identities and secrets under out/ never are.
# The links follow the build: a rebuild while serving serves the new image; a machine that fetches an image and
# the signature of another build refuses it (plain HTTP is enough: the machine checks the cluster's signature). busybox httpd (kiln's own musl build) runs in the foreground until
# stopped; --addr defaults to every address, port 8080 (give the build host's address on the cluster's network).
. "$(dirname "$0")/lib.sh"

addr=8080 dir=$KILN_OUT
while [ $# -gt 0 ]; do
	case $1 in
	--addr) addr=${2:?--addr wants [IP:]PORT}; shift 2 ;;
	--dir) dir=${2:?--dir wants a folder}; shift 2 ;;
	*) die "unknown argument '$1' (usage: serve.sh [--addr [IP:]PORT] [--dir DIR])" ;;
	esac
done
case $addr in *[!0-9.:]*|'') die "--addr $addr: not [IP:]PORT" ;; esac
busybox=$KILN_CACHE/busybox/busybox
[ -x "$busybox" ] || die "$busybox: missing (run 'make deps')"
dir=$(cd "$dir" 2>/dev/null && pwd) || die "$dir: no such folder"

root=$KILN_BUILD/serve/${addr##*:}
rm -rf "$root"
roles=
for img in "$dir"/*/system.img; do
	[ -f "$img" ] || continue
	r=$(basename "$(dirname "$img")")
	[ -f "$img.sig" ] || die "$img.sig: missing (the build signs the image beside it)"
	mkdir -p "$root/$r"
	ln -s "$img" "$root/$r/system.img"
	ln -s "$img.sig" "$root/$r/system.img.sig"
	roles="$roles $r"
done
[ -n "$roles" ] || die "no <role>/system.img under $dir (run 'make')"

host=${addr%:*}
[ "$host" != "$addr" ] || host=HOST
for r in $roles; do say "serving $dir/$r/system.img as http://$host:${addr##*:}/$r/system.img"; done
say "on each machine: initctl upgrade http://$host:${addr##*:}/<role>/system.img (Ctrl-C stops serving)"
exec "$busybox" httpd -f -p "$addr" -h "$root"
