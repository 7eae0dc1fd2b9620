#!/bin/sh
# mk-disk.sh [--system IMG] ROLE OUT [IDENTITY_DIR]: a bootable MBR disk image, made without mounts or loop devices:
#   p1 FAT KILN-BOOT (syslinux, a kernel and first-stage initramfs per slot), p2 ext4 kiln-sys-a (the system,
#   read-only), p3 ext4 kiln-sys-b (empty until an upgrade), p4 ext4 kiln-data (identity, etcd, logs).
# Each filesystem is made in one step from a staged folder, then written at its offset. The system slot's
# filesystem (label kiln-sys, with its kernel and first stage under /boot) is also the upgrade image: --system
# keeps it as IMG, with IMG.sha256 (`initctl upgrade IMG` writes it into a machine's other slot).
. "$(dirname "$0")/lib.sh"

system_out=
[ "${1:-}" != --system ] || { system_out=${2:?usage: mk-disk.sh [--system IMG] ROLE OUT [IDENTITY_DIR]}; shift 2; }
role=${1:?usage: mk-disk.sh [--system IMG] ROLE OUT [IDENTITY_DIR]}
out=${2:?usage: mk-disk.sh [--system IMG] ROLE OUT [IDENTITY_DIR]}
identity=${3:-}
conf=$KILN_TOP/images/$role/image.conf
stage=$KILN_BUILD/stage/$role
kernel=$(kernel_root)/vmlinuz
bootrd=$KILN_BUILD/boot.cpio.gz
for f in "$stage/etc/kiln/release" "$kernel" "$bootrd"; do
	[ -e "$f" ] || die "missing $f: stage the role and the boot initramfs first"
done

sde=$(source_date_epoch)
export E2FSPROGS_FAKE_TIME=$sde SOURCE_DATE_EPOCH=$sde
boot_mib=$(conf_get "$conf" boot_mib 64)
slot_mib=$(conf_get "$conf" slot_mib 512)
data_mib=$(conf_get "$conf" data_mib 1024)
need_kib=$(du -sk "$stage" | cut -f1)
[ $((need_kib * 5 / 4)) -lt $((slot_mib * 1024)) ] || \
	die "role $role needs $((need_kib / 1024)) MiB, more than a ${slot_mib} MiB system slot: raise slot_mib in ${conf#"$KILN_TOP"/}"

work=$out.parts
# A machine's disk holds its keys: the image is root's alone from its first byte, and so are its parts while they
# are made (in a folder only root may enter).
rm -rf "$work"; mkdir -p "$work"; chmod 700 "$work"
trap 'rm -rf "$work" "$out.tmp" ${system_out:+"$system_out.tmp"}' EXIT

# Fixed, distinct identifiers derived from what the filesystem is, so builds repeat byte for byte.
fixed_uuid() {
	printf '%s' "kiln:$role:$1" | sha256sum | sed 's/^\(.\{8\}\)\(.\{4\}\).\(.\{3\}\).\(.\{3\}\)\(.\{12\}\).*/\1-\2-4\3-a\4-\5/'
}

# A master keeps etcd on DATA: its boot waits for it as long as the cluster file says (image.data_wait, as the
# masters' PXE entries) and never runs etcd from RAM (kiln.data=disk).
data_arg=
if [ "$role" = master ]; then
	data_wait=$(sed -n 's/^IMAGE_DATA_WAIT=//p' "$KILN_OUT/cluster/cluster.env" 2>/dev/null)
	data_arg=" kiln.data=disk kiln.data_wait=${data_wait:-60}"
fi
syslinux_cfg() {
	cat <<-EOF
	# kiln boot menu: slot a is the default; an upgrade arms a one-time boot of the other slot (syslinux's
	# boot-once, in ldlinux.sys), and the new system makes itself DEFAULT once ready. A panic reboots in 10 s.
	# No prompt, and no key at the console brings one up (NOESCAPE): the kernel command line cannot be edited there.
	SERIAL 0 115200
	DEFAULT a
	PROMPT 0
	NOESCAPE 1
	TIMEOUT 0
	LABEL a
	  KERNEL /vmlinuz-a
	  INITRD /initrd-a.gz
	  APPEND console=tty0 console=ttyS0,115200 quiet panic=10 kiln.root=kiln-sys-a$data_arg
	LABEL b
	  KERNEL /vmlinuz-b
	  INITRD /initrd-b.gz
	  APPEND console=tty0 console=ttyS0,115200 quiet panic=10 kiln.root=kiln-sys-b$data_arg
	EOF
}

make_boot() {
	mkdir -p "$work/boot"
	syslinux_cfg > "$work/boot/syslinux.cfg"
	cp "$kernel" "$work/boot/vmlinuz-a"
	cp "$bootrd" "$work/boot/initrd-a.gz"
	touch -d "@$sde" "$work/boot/"*
	mkfs.vfat --invariant -i 4b494c4e -n KILN-BOOT -h "$s1" -C "$work/boot.img" $((boot_mib * 1024)) >/dev/null
	mcopy -m -i "$work/boot.img" "$work/boot/syslinux.cfg" "$work/boot/vmlinuz-a" "$work/boot/initrd-a.gz" ::
	# syslinux stamps ldlinux.sys with the clock: freeze it at the build time.
	faketime -f "$(date -u -d "@$sde" '+%Y-%m-%d %H:%M:%S')" syslinux --install "$work/boot.img"
}

make_ext4() { # label offset-sectors mib source-dir [options]: straight into the disk file at its offset
	label=$1; off=$(($2 * 512)); mib=$3; src=$4; shift 4
	u=$(fixed_uuid "$label")
	mke2fs -q -F -t ext4 -L "$label" -U "$u" \
		-E "hash_seed=$u,root_owner=0:0,offset=$off,lazy_itable_init=1,lazy_journal_init=1" -b 4096 -I 256 \
		-d "$src" "$@" "${target:-$out.tmp}" "${mib}M" >/dev/null || die "mke2fs $label failed"
	clamp_times "${target:-$out.tmp}?offset=$off" "$src"
}

# The system slot's filesystem, as small as its files allow (an upgrade writes and reads back only that), with
# the kernel and the first stage under /boot: kiln-upgrade copies them onto BOOT for the slot it fills.
make_system() {
	kib=$((need_kib * 5 / 4 + ($(stat -c %s "$kernel") + $(stat -c %s "$bootrd")) / 1024 + 16384))
	target=$work/system.img make_ext4 kiln-sys 0 $(((kib + 1023) / 1024)) "$stage" -O ^has_journal
	{
		echo "mkdir /boot"; echo "write $kernel /boot/vmlinuz"; echo "write $bootrd /boot/initrd.gz"
		for f in /boot /boot/vmlinuz /boot/initrd.gz; do
			echo "sif $f mode $([ "$f" = /boot ] && echo 040755 || echo 0100644)"
			for t in atime ctime mtime crtime; do echo "sif $f $t @$sde"; done
		done
	} > "$work/boot.cmds"
	debugfs -w -f "$work/boot.cmds" "$work/system.img" >/dev/null 2>"$work/boot.err" || die "debugfs on the system image failed"
	! grep -v '^debugfs ' "$work/boot.err" >&2 || die "debugfs could not add /boot to the system image"
	[ $(($(stat -c %s "$work/system.img") / 1048576)) -le "$slot_mib" ] || die "the system image is larger than a ${slot_mib} MiB slot"
}

# Slot A holds the system image, labelled kiln-sys-a (the first stage mounts a slot by label).
write_slot_a() {
	dd if="$work/system.img" of="$out.tmp" bs=1M seek=$((s2 / 2048)) conv=notrunc,sparse status=none
	debugfs -w -R "ssv volume_name kiln-sys-a" "$out.tmp?offset=$((s2 * 512))" >/dev/null 2>"$work/label.err" ||
		die "cannot label slot a"
	! grep -v '^debugfs ' "$work/label.err" >&2 || die "cannot label slot a"
}

# mke2fs -d copies atime and ctime from the staged files (the host clock); set every inode's times
# to the build time so the filesystem repeats byte for byte.
clamp_times() {
	(cd "$2" && find . | sed 's|^\.||; s|^$|/|') | awk -v t="@$sde" '{
		for (f = 0; f < 3; f++) printf "sif \"%s\" %s %s\n", $0, (f == 0 ? "atime" : f == 1 ? "ctime" : "crtime"), t }' \
		> "$work/clamp.cmds"
	debugfs -w -f "$work/clamp.cmds" "$1" >/dev/null 2>"$work/clamp.err" || die "debugfs on $1 failed"
	! grep -v '^debugfs ' "$work/clamp.err" >&2 || die "debugfs could not clamp times in $1"
}

stage_data() {
	mkdir -p "$work/data/log"
	if [ -n "$identity" ]; then
		[ -d "$identity" ] || die "$identity: no identity folder"
		cp -a "$identity" "$work/data/identity"
		[ "$(id -u)" != 0 ] || apply_owners "$work/data/identity"
	fi
	find "$work/data" -exec touch -h -d "@$sde" {} +
}

# MBR with syslinux's boot code; partitions aligned to 1 MiB; p1 active.
s1=2048
s2=$((s1 + boot_mib * 2048))
s3=$((s2 + slot_mib * 2048))
s4=$((s3 + slot_mib * 2048))
end=$((s4 + data_mib * 2048))
partition() {
	: > "$out.tmp"
	[ -z "$identity" ] || chmod 600 "$out.tmp"
	truncate -s $(((end + 2048) * 512)) "$out.tmp"
	sfdisk -q "$out.tmp" <<-EOF
	label: dos
	label-id: 0x4b494c4e
	unit: sectors
	start=$s1, size=$((boot_mib * 2048)), type=c, bootable
	start=$s2, size=$((slot_mib * 2048)), type=83
	start=$s3, size=$((slot_mib * 2048)), type=83
	start=$s4, size=$((data_mib * 2048)), type=83
	EOF
	dd if=/usr/lib/syslinux/mbr/mbr.bin of="$out.tmp" bs=440 count=1 conv=notrunc status=none
}

say "$role: disk image ${out#"$KILN_TOP"/} (boot ${boot_mib} MiB, slots 2x${slot_mib} MiB, data ${data_mib} MiB)"
mkdir -p "$(dirname "$out")" "$work/empty"
partition
make_boot
dd if="$work/boot.img" of="$out.tmp" bs=1M seek=$((s1 / 2048)) conv=notrunc,sparse status=none
make_system
write_slot_a
make_ext4 kiln-sys-b "$s3" "$slot_mib" "$work/empty" -O ^has_journal
stage_data
make_ext4 kiln-data "$s4" "$data_mib" "$work/data"
commit_file "$out.tmp" "$out"
if [ -n "$system_out" ]; then
	cp --sparse=always "$work/system.img" "$system_out.tmp"
	(cd "$work" && sha256sum system.img) | sed "s| system.img\$| $(basename "$system_out")|" > "$system_out.sha256.tmp"
	commit_file "$system_out.tmp" "$system_out"
	commit_file "$system_out.sha256.tmp" "$system_out.sha256"
	say "$role: ${system_out#"$KILN_TOP"/}: the upgrade image, $(($(stat -c %s "$system_out") / 1048576)) MiB, sha256 in ${system_out#"$KILN_TOP"/}.sha256"
fi
say "$role: ${out#"$KILN_TOP"/}: $(($(stat -c %s "$out") / 1048576)) MiB, $(($(du -k "$out" | cut -f1) / 1024)) MiB allocated"
