# upgrade.sh (tests): what the upgrade tests share (sourced after tap.sh and vm.sh). A copy of the master disk
# image ($disk) is machine v1; variants of out/master/system.img, each signed with the cluster's image key (what
# the build signs with, $SECRETS/image-signing.key), go on a media disk the machine sees as a second drive.
T=$VM_DIR/up
mkdir -p "$T/media"
sys=$KILN_OUT/master/system.img
v1=$(sed -n 's/^KILN_VERSION=//p' "$KILN_BUILD/stage/master/etc/kiln/release")
[ -f "$sys" ] && [ -n "$v1" ] || bail "no $sys: run make"
disk=$T/disk.img
cp --sparse=always "$KILN_OUT/master/disk.img" "$disk" || bail "cannot copy the disk image"
# The variants start from the master's system image without the Kubernetes binaries, shrunk to what is left: this
# disk has no identity, so those services are skipped either way, and the mechanics tested here are the same for an
# image a quarter the size (60-cluster.t upgrades the masters with the whole image).
base=$T/base.img
small_base() {
	cp --sparse=always "$sys" "$base" || return 1
	printf 'rm /usr/bin/%s\n' kube-apiserver kube-controller-manager kube-scheduler kubectl | debugfs -w -f - "$base" || return 1
	e2fsck -fy "$base"
	[ $? -le 1 ] && resize2fs -M "$base"
}
small_base > "$T/base.log" 2>&1 || bail "cannot make the smaller base image ($(tail -n 3 "$T/base.log"))"

image_key=${SECRETS:-$TOP/secrets/cluster}/image-signing.key
[ -f "$image_key" ] || bail "no $image_key (the image key the build signs with): run make"
# variant DIR VERSION [DEBUGFS-CMDS]: the system image with KILN_VERSION=VERSION (and more changes), signed.
# VARIANT_SED: one more sed expression for its release file; VARIANT_KEY: sign with that key instead.
variant() {
	mkdir -p "$1"
	cp --sparse=always "$base" "$1/system.img"
	sed -e "s/^KILN_VERSION=.*/KILN_VERSION=$2/" -e "${VARIANT_SED:-}" "$KILN_BUILD/stage/master/etc/kiln/release" > "$T/release"
	printf 'rm /etc/kiln/release\nwrite %s /etc/kiln/release\n%s\n' "$T/release" "${3:-}" |
		debugfs -w -f - "$1/system.img" > "$T/debugfs.log" 2>&1 || bail "debugfs on $1/system.img"
	sh scripts/sign-image.sh "${VARIANT_KEY:-$image_key}" "$1/system.img" > "$T/sign.log" 2>&1 ||
		bail "cannot sign $1/system.img: $(tail -n 1 "$T/sign.log")"
}

# media_disk MIB: every variant made so far on an ext4 disk labelled kiln-media ($T/media.img).
media_disk() {
	mke2fs -q -F -t ext4 -L kiln-media -d "$T/media" "$T/media.img" "${1}M" || bail "cannot make the media disk"
	rm -rf "$T/media"
}
