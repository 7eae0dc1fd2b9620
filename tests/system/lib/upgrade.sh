# upgrade.sh (tests): what the upgrade tests share (sourced after tap.sh and vm.sh). A copy of the master disk
# image ($disk) is machine v1; variants of out/master/system.img, each with its sha256, go on a media disk the
# machine sees as a second drive.
T=$VM_DIR/up
mkdir -p "$T/media"
sys=$KILN_OUT/master/system.img
v1=$(sed -n 's/^KILN_VERSION=//p' "$KILN_BUILD/stage/master/etc/kiln/release")
[ -f "$sys" ] && [ -n "$v1" ] || bail "no $sys: run make"
disk=$T/disk.img
cp --sparse=always "$KILN_OUT/master/disk.img" "$disk" || bail "cannot copy the disk image"

# variant DIR VERSION [DEBUGFS-CMDS]: the system image with KILN_VERSION=VERSION (and more changes), its sha256.
variant() {
	mkdir -p "$1"
	cp --sparse=always "$sys" "$1/system.img"
	sed "s/^KILN_VERSION=.*/KILN_VERSION=$2/" "$KILN_BUILD/stage/master/etc/kiln/release" > "$T/release"
	printf 'rm /etc/kiln/release\nwrite %s /etc/kiln/release\n%s\n' "$T/release" "${3:-}" |
		debugfs -w -f - "$1/system.img" > "$T/debugfs.log" 2>&1 || bail "debugfs on $1/system.img"
	(cd "$1" && sha256sum system.img > system.img.sha256)
}

# media_disk MIB: every variant made so far on an ext4 disk labelled kiln-media ($T/media.img).
media_disk() {
	mke2fs -q -F -t ext4 -L kiln-media -d "$T/media" "$T/media.img" "${1}M" || bail "cannot make the media disk"
	rm -rf "$T/media"
}
