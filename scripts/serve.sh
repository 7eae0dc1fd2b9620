#!/bin/sh
# serve.sh [--addr [IP:]PORT] [--dir DIR] [--enroll-dir DIR] [--pki DIR]: over HTTP, each role's upgrade image for
# `initctl upgrade http://HOST:PORT/<role>/system.img` on the machines, and PXE enrollment (`make serve`).
#
# Upgrade images: a folder of links <role>/system.img and <role>/system.img.sig to out/<role>/ (or to DIR/<role>/, a
# folder laid out the same way), so identities and secrets under out/ never are served. The links follow the build: a
# rebuild while serving serves the new image; a machine that fetches an image and the signature of another build
# refuses it (plain HTTP is enough: the machine checks the cluster's signature).
# Enrollment (PXE machines, rootfs/usr/libexec/kiln/enroll): POST /cgi-bin/enroll takes a machine's request (public
# keys, at most 16 KiB) into ENROLL-DIR/requests/ (default out/enroll/); GET /enroll/answers/<name>-<fingerprint>/
# serves what scripts/enroll.sh approve wrote: certificates and secrets encrypted to that machine, public data.
# Each request is said here, and one claiming an enrolled name with another key is said as refused.
# busybox httpd (kiln's own musl build) runs in the foreground until stopped; --addr defaults to every address,
# port 8080 (give the build host's address on the cluster's network).
. "$(dirname "$0")/lib.sh"

addr=8080 dir=$KILN_OUT edir=$KILN_OUT/enroll pki=${SECRETS:-}
while [ $# -gt 0 ]; do
	case $1 in
	--addr) addr=${2:?--addr wants [IP:]PORT}; shift 2 ;;
	--dir) dir=${2:?--dir wants a folder}; shift 2 ;;
	--enroll-dir) edir=${2:?--enroll-dir wants a folder}; shift 2 ;;
	--pki) pki=${2:?--pki wants the PKI folder}; shift 2 ;;
	*) die "unknown argument '$1' (usage: serve.sh [--addr [IP:]PORT] [--dir DIR] [--enroll-dir DIR] [--pki DIR])" ;;
	esac
done
[ -n "$pki" ] && [ -d "$pki" ] || die "--pki '$pki': the cluster's PKI folder (SECRETS) is needed to say which names are enrolled"
case $edir$pki in *[!A-Za-z0-9./_-]*) die "--enroll-dir and --pki: paths of [A-Za-z0-9./_-] only (the CGI script names them)" ;; esac
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
[ -n "$roles" ] || say "no <role>/system.img under $dir: serving enrollment only"

mkdir -p "$edir/requests" "$edir/answers" "$root/cgi-bin" "$root/enroll"
edir=$(cd "$edir" && pwd) pki=$(cd "$pki" && pwd)
ln -s "$edir/answers" "$root/enroll/answers"
printf '#!/bin/sh\nexec %s %s %s\n' "$KILN_TOP/scripts/enroll-cgi.sh" "$edir/requests" "$pki/enrolled" > "$root/cgi-bin/enroll"
chmod 755 "$root/cgi-bin/enroll"
touch "$edir/events"
# What the CGI script says of each request, on this terminal, until httpd (this process, after the exec) ends.
tail -n 0 -q --pid=$$ -F "$edir/events" 2>/dev/null &

host=${addr%:*}
[ "$host" != "$addr" ] || host=HOST
for r in $roles; do say "serving $dir/$r/system.img as http://$host:${addr##*:}/$r/system.img"; done
[ -z "$roles" ] || say "on each machine: initctl upgrade http://$host:${addr##*:}/<role>/system.img (Ctrl-C stops serving)"
say "enrollment: POST http://$host:${addr##*:}/cgi-bin/enroll, answers from $edir/answers; approve with scripts/enroll.sh"
exec "$busybox" httpd -f -p "$addr" -h "$root"
