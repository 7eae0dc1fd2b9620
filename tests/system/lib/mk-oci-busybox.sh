#!/bin/sh
# mk-oci-busybox.sh BUSYBOX OUT [BINARY...]: an OCI image archive holding a static busybox and its applet links (and
# each static BINARY in /bin, e.g. kubectl), named docker.io/kiln/busybox:test, for the container tests
# (`ctr images import OUT`). Built from kiln's own busybox with scripts/mk-oci.sh: nothing comes from a registry.
set -eu
bb=${1:?usage: mk-oci-busybox.sh BUSYBOX OUT}
out=${2:?usage: mk-oci-busybox.sh BUSYBOX OUT}
shift 2
t=$(mktemp -d "${TMPDIR:-/tmp}/kiln-bbroot.XXXXXX")
trap 'rm -rf "$t"' EXIT
mkdir -p "$t/bin" "$t/tmp" "$t/proc" "$t/sys" "$t/dev" "$t/etc"
cp "$bb" "$t/bin/busybox"
for a in $("$bb" --list); do [ "$a" = busybox ] || ln -s busybox "$t/bin/$a"; done
for b in "$@"; do cp "$b" "$t/bin/"; done
echo 'root:x:0:0:root:/:/bin/sh' > "$t/etc/passwd"
"$(dirname "$0")/../../../scripts/mk-oci.sh" "$t" docker.io/kiln/busybox:test "$out" cmd /bin/sh
