#!/bin/sh
# mk-oci-busybox.sh BUSYBOX OUT: a one-layer OCI image archive (image layout, tar) holding a static busybox and
# its applet links, named docker.io/kiln/busybox:test, for the container tests (`ctr images import OUT`).
# Built here from kiln's own busybox: nothing comes from a registry.
set -eu
bb=${1:?usage: mk-oci-busybox.sh BUSYBOX OUT}
out=${2:?usage: mk-oci-busybox.sh BUSYBOX OUT}
t=$(mktemp -d "${TMPDIR:-/tmp}/kiln-oci.XXXXXX")
trap 'rm -rf "$t"' EXIT
mkdir -p "$t/root/bin" "$t/root/tmp" "$t/root/proc" "$t/root/sys" "$t/root/dev" "$t/root/etc" "$t/layout/blobs/sha256"
cp "$bb" "$t/root/bin/busybox"
for a in $("$bb" --list); do [ "$a" = busybox ] || ln -s busybox "$t/root/bin/$a"; done
echo 'root:x:0:0:root:/:/bin/sh' > "$t/root/etc/passwd"
tar -C "$t/root" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$t/layer.tar" .

# blob FILE: store FILE under its digest; prints "DIGEST SIZE".
blob() {
	d=$(sha256sum < "$1" | cut -d' ' -f1)
	cp "$1" "$t/layout/blobs/sha256/$d"
	echo "$d $(stat -c %s "$1")"
}
set -- $(blob "$t/layer.tar"); layer=$1 lsize=$2
printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/sh"],"Env":["PATH=/bin"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
	"$layer" > "$t/config.json"
set -- $(blob "$t/config.json"); config=$1 csize=$2
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
	"$config" "$csize" "$layer" "$lsize" > "$t/manifest.json"
set -- $(blob "$t/manifest.json"); manifest=$1 msize=$2
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"docker.io/kiln/busybox:test","org.opencontainers.image.ref.name":"test"}}]}' \
	"$manifest" "$msize" > "$t/layout/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' > "$t/layout/oci-layout"
tar -C "$t/layout" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$out" .
