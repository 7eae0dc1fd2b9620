#!/bin/sh
# sign-image.sh KEY IMG [SIG]: signs a system image (out/<role>/system.img) with the cluster's image key KEY
# (secrets/<cluster>/image-signing.key): SIG (default IMG.sig) holds what the image says it is in its own
# /etc/kiln/release (role, cluster, version, serial), its size and sha256, and a last line with the ECDSA
# signature of those lines (the format is tools/kiln/imgsig.c's). kiln-upgrade on a machine checks it with
# kiln-verify before it writes a byte. The build signs every role's image; tests sign their variants with it.
. "$(dirname "$0")/lib.sh"
[ $# -ge 2 ] || die "usage: sign-image.sh KEY IMG [SIG]"
key=$1 img=$2 sig=${3:-$2.sig}
[ -f "$key" ] || die "$key: no image signing key (kiln render makes it in the cluster's PKI folder)"
[ -f "$img" ] || die "$img: no such image"
rel=$(debugfs -R 'cat /etc/kiln/release' "$img" 2>/dev/null) || die "$img: cannot read its /etc/kiln/release"
field() { echo "$rel" | sed -n "s/^$1=//p" | head -n 1; }
role=$(field KILN_ROLE) cluster=$(field KILN_CLUSTER) version=$(field KILN_VERSION) serial=$(field KILN_SERIAL)
[ -n "$role" ] && [ -n "$cluster" ] && [ -n "$version" ] && [ -n "$serial" ] ||
	die "$img: its /etc/kiln/release lacks KILN_ROLE, KILN_CLUSTER, KILN_VERSION or KILN_SERIAL"
t=$sig.tmp
trap 'rm -f "$t" "$t.body" "$t.der"' EXIT
{
	echo "kiln-image-signature 1"
	echo "role $role"
	echo "cluster $cluster"
	echo "version $version"
	echo "serial $serial"
	echo "size $(stat -L -c %s "$img")"
	echo "sha256 $(sha256sum < "$img" | cut -d' ' -f1)"
} > "$t.body"
openssl dgst -sha256 -sign "$key" -out "$t.der" "$t.body" || die "openssl could not sign with $key"
{ cat "$t.body"; printf 'signature %s\n' "$(base64 -w 0 "$t.der")"; } > "$t"
mv "$t" "$sig"
