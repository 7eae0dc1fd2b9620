#!/bin/sh
# components.sh ROLE STAGE ORIGINS: puts the role's Kubernetes components (image.conf `components`) into a staged
# root from the components folder ($KUBE_BIN, default components/), where the user puts the official release
# binaries; what it lacks comes from the folder $KUBE_BUILT names (scripts/kube-build.sh: built from Debian's
# kubernetes source package when the cluster asks for that release). Nothing else ever takes their place. Each one
# must be a static ELF x86-64 executable of the cluster's kubernetes_version. A missing one is no error (its
# service is skipped at boot); a bad one is, naming the file. Writes STAGE/etc/kiln/components: what the image has
# and lacks.
. "$(dirname "$0")/lib.sh"

role=${1:?usage: components.sh ROLE STAGE ORIGINS}
st=${2:?usage: components.sh ROLE STAGE ORIGINS}
origins=${3:?usage: components.sh ROLE STAGE ORIGINS}
conf=$KILN_TOP/images/$role/image.conf
bin=${KUBE_BIN:-$KILN_TOP/components}
shown=${bin#"$KILN_TOP"/}
built=$(cat "${KUBE_BUILT:-/nonexistent}" 2>/dev/null || true)
list=$st/etc/kiln/components

components=$(conf_list "$conf" components)
[ -n "$components" ] || exit 0

# The version the cluster file asks for, from the rendered cluster (the Makefile renders before staging).
cluster_version() {
	env=$KILN_OUT/cluster/cluster.env
	[ -f "$env" ] || die "$env: the cluster is not rendered (run 'make'), so the components' version is unknown"
	v=$(sed -n 's/^KUBERNETES_VERSION=//p' "$env")
	[ -n "$v" ] || die "$env: no KUBERNETES_VERSION"
	echo "$v"
}

# A static ELF x86-64 executable, read from its header (e_ident, e_type, e_machine) and program headers.
check_elf() {
	f=$1
	[ -f "$f" ] || die "$f: not a regular file"
	hdr=$(od -An -v -tx1 -N20 "$f" | tr -d ' \n')
	case $hdr in
	7f454c46*) ;;
	*) die "$f: not an ELF file (expected the official $want binary for linux/amd64)" ;;
	esac
	[ "$(echo "$hdr" | cut -c9-12)" = 0201 ] || die "$f: not a 64-bit little-endian ELF file"
	case $(echo "$hdr" | cut -c33-36) in
	0200|0300) ;;
	*) die "$f: an ELF file but not an executable" ;;
	esac
	[ "$(echo "$hdr" | cut -c37-40)" = 3e00 ] || die "$f: an ELF executable for another machine, not x86-64"
	# The official binaries are static; a dynamic one would need libraries the image does not carry.
	! readelf -lW "$f" 2>/dev/null | grep -q 'Requesting program interpreter' ||
		die "$f: dynamically linked (kiln takes the static official release binaries)"
}

# The component's version, from its own --version; coredns has its own numbering, so it only has to run.
run_version() {
	name=$1 f=$2
	flag=--version
	[ "$name" = coredns ] && flag=-version
	[ "$name" = kubectl ] && flag="version --client"
	# shellcheck disable=SC2086 # kubectl's flag is two words
	out=$(cd / && env -i PATH=/usr/bin:/bin timeout 20 "$f" $flag 2>&1) ||
		die "$f: '$name $flag' failed: $(echo "$out" | head -n 1)"
	if [ "$name" = coredns ]; then
		v=$(echo "$out" | sed -n 's/^CoreDNS-\([0-9][0-9.]*\).*/\1/p' | head -n 1)
		[ -n "$v" ] || die "$f: '$name $flag' does not say CoreDNS-<version>: $(echo "$out" | head -n 1)"
	else
		v=$(echo "$out" | sed -n -e 's/^Kubernetes \(v[^ ]*\).*/\1/p' \
			-e 's/^Client Version: .*GitVersion:"\(v[^"]*\)".*/\1/p' -e 's/^Client Version: \(v[^ ]*\)$/\1/p' | head -n 1)
		[ -n "$v" ] || die "$f: '$name $flag' does not say 'Kubernetes vX.Y.Z': $(echo "$out" | head -n 1)"
		[ "$v" = "$want" ] || die "$f: version $v, but the cluster file asks for $want"
	fi
	echo "$v"
}

want=
can_run=no
[ "$(uname -m)" = x86_64 ] && can_run=yes
missing=
trap 'rm -f "$list.tmp"' EXIT
echo "# kiln: the $role image's Kubernetes components: name, present|missing, version, sha256" > "$list.tmp"
for name in $components; do
	f=$bin/$name from=$shown/$name origin=components
	if [ ! -e "$f" ] && [ ! -L "$f" ] && [ -n "$built" ] && [ -x "$built/$name" ]; then
		f=$built/$name from="Debian's kubernetes source, built by kube-build.sh" origin=debian-source
	fi
	if [ ! -e "$f" ] && [ ! -L "$f" ]; then
		# CoreDNS is optional: without it the cluster DNS is kiln's own (dnsmasq fed from the API).
		if [ "$name" = coredns ]; then
			say "$role: no coredns in $shown/: the cluster DNS will be dnsmasq fed from the API (cluster-dns)"
		else
			missing="$missing $name"
		fi
		echo "$name missing - -" >> "$list.tmp"
		continue
	fi
	[ -n "$want" ] || want=$(cluster_version) || exit 1
	check_elf "$f"
	if [ $can_run = yes ]; then
		v=$(run_version "$name" "$f") || exit 1
	else
		v=unchecked
		say "$role: $name: cannot run on a $(uname -m) build host: version not checked"
	fi
	cp "$f" "$st/usr/bin/$name"
	chmod 0755 "$st/usr/bin/$name"
	printf '%s\t%s\n' "/usr/bin/$name" "$origin:$name $v" >> "$origins"
	say "$role: $name $v (from $from)"
	echo "$name present $v $(sha256sum < "$f" | cut -d' ' -f1)" >> "$list.tmp"
done
mv "$list.tmp" "$list"
printf '%s\t%s\n' /etc/kiln/components "build:scripts/components.sh" >> "$origins"
if [ -n "$missing" ]; then
	v=$(sed -n 's/^KUBERNETES_VERSION=//p' "$KILN_OUT/cluster/cluster.env" 2>/dev/null || true)
	printf 'kiln: %s image lacks%s (put the official %s binaries in %s/ or set KUBE_BIN)\n' \
		"$role" "$missing" "${v:-release}" "$shown" >&2
fi
