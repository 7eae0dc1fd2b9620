#!/bin/sh
# mk-identity.sh IDENTITY_DIR OUT: a machine's identity archive, the tree under etc/kiln/identity/ with its modes and
# the owners its MANIFEST names (applied in a private copy: the build host's tree stays root's), as a gzip'd newc
# cpio that the kernel unpacks over the role's initramfs (appended to it). OUT is written 0600: it holds keys.
. "$(dirname "$0")/lib.sh"

src=${1:?usage: mk-identity.sh IDENTITY_DIR OUT}
out=${2:?usage: mk-identity.sh IDENTITY_DIR OUT}
[ -d "$src" ] || die "$src: no identity folder"
t=$(mktemp -d "${TMPDIR:-/tmp}/kiln-identity.XXXXXX")
trap 'rm -rf "$t"' EXIT
mkdir -p -m 0755 "$t/etc" "$t/etc/kiln" # the archive's folders replace the image's: their modes must be the image's
cp -a "$src" "$t/etc/kiln/identity"
[ "$(id -u)" != 0 ] || apply_owners "$t/etc/kiln/identity"
find "$t" -exec touch -h -d "@$(source_date_epoch)" {} +
(umask 077 && "$KILN_TOP/scripts/mk-initramfs.sh" "$t" "$out" > /dev/null)
chmod 600 "$out"
