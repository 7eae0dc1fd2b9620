#!/bin/sh
# mk-oci.sh ROOT NAME OUT entrypoint|cmd ARGS...: a one-layer OCI image archive (image layout, tar; what
# `ctr images import` reads) with ROOT's files, named NAME, running ARGS as its Entrypoint (fixed; a pod's args
# follow it) or its Cmd (replaced by a pod's args). Reproducible: sorted, owners 0, times 0.
# kiln's nodes cannot pull images: the ones they need are built here from kiln's own binaries.
set -eu
usage="usage: mk-oci.sh ROOT NAME OUT entrypoint|cmd ARGS..."
root=${1:?$usage} name=${2:?$usage} out=${3:?$usage} kind=${4:?$usage}
shift 4
case $kind in entrypoint) key=Entrypoint ;; cmd) key=Cmd ;; *) echo "$usage" >&2; exit 1 ;; esac
[ $# -gt 0 ] || { echo "$usage" >&2; exit 1; }
t=$(mktemp -d "${TMPDIR:-/tmp}/kiln-oci.XXXXXX")
trap 'rm -rf "$t"' EXIT
mkdir -p "$t/layout/blobs/sha256"
tar -C "$root" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$t/layer.tar" .

# blob FILE: store FILE under its digest; prints "DIGEST SIZE".
blob() {
	d=$(sha256sum < "$1" | cut -d' ' -f1)
	cp "$1" "$t/layout/blobs/sha256/$d"
	echo "$d $(stat -c %s "$1")"
}
cmd=$(for a in "$@"; do printf '"%s",' "$a"; done | sed 's/,$//')
set -- $(blob "$t/layer.tar"); layer=$1 lsize=$2
printf '{"architecture":"amd64","os":"linux","config":{"%s":[%s],"Env":["PATH=/bin:/usr/bin"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
	"$key" "$cmd" "$layer" > "$t/config.json"
set -- $(blob "$t/config.json"); config=$1 csize=$2
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
	"$config" "$csize" "$layer" "$lsize" > "$t/manifest.json"
set -- $(blob "$t/manifest.json"); manifest=$1 msize=$2
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
	"$manifest" "$msize" "$name" "${name##*:}" > "$t/layout/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' > "$t/layout/oci-layout"
tar -C "$t/layout" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$out.tmp" .
mv -f "$out.tmp" "$out"
