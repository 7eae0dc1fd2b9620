#!/bin/sh
# 10-images.t: what `make` built: every role's files, the libraries its binaries need (proved by running them
# inside the staged root), the kernel modules, the initramfs and disk layouts, the manifest, a no-op second make.
. tests/system/lib/tap.sh

plan 33
stage=$KILN_BUILD/stage
release=$(cat /var/cache/kiln/kernel/release 2>/dev/null || echo none)

for role in master node; do
	o=$KILN_OUT/$role
	check "$role: vmlinuz, initramfs, disk image and manifest exist" \
		test -s "$o/vmlinuz" -a -s "$o/initramfs.cpio.gz" -a -s "$o/disk.img" -a -s "$o/manifest.txt"
	check "$role: init and initctl are static and in the image" \
		sh -c "file -L '$stage/$role/sbin/init' '$stage/$role/sbin/initctl' | grep -c 'statically linked' | grep -qx 2"
	check "$role: /init, /dev/console and a busybox shell are in the initramfs" \
		sh -c "gzip -dc '$o/initramfs.cpio.gz' | cpio -t --quiet 2>/dev/null | grep -Exc '(\./)?(init|dev/console|usr/bin/sh|usr/sbin/init)' | grep -qx 4"
	check "$role: the console as the cluster file says (image.console_shell: $(sed -n 's/^IMAGE_CONSOLE_SHELL=//p' "$KILN_OUT/cluster/cluster.env")): a shell, or console-status" sh -c "
		case \$(sed -n 's/^IMAGE_CONSOLE_SHELL=//p' '$KILN_OUT/cluster/cluster.env') in
		yes) test -f '$stage/$role/etc/kiln/services/console' && ! test -e '$stage/$role/etc/kiln/services/console-status' &&
			test -f '$stage/$role/etc/kiln/console-shell' && test -f '$stage/boot/etc/kiln/console-shell' ;;
		no) test -f '$stage/$role/etc/kiln/services/console-status' && ! test -e '$stage/$role/etc/kiln/services/console' &&
			! test -e '$stage/$role/etc/kiln/console-shell' && ! test -e '$stage/boot/etc/kiln/console-shell' ;;
		*) exit 1 ;;
		esac"
	# The QEMU tests boot the tests' tree (make test-images): the same image but for its console shell.
	check "$role: the tests' tree differs from this image in its console shell alone" sh -c "
		grep -qx 'IMAGE_CONSOLE_SHELL=yes' '$KILN_TEST_OUT/cluster/cluster.env' || { echo 'no tests tree with a shell in $KILN_TEST_OUT'; exit 1; }
		a=\$(grep -v '^#' '$o/manifest.txt' | sort) b=\$(grep -v '^#' '$KILN_TEST_OUT/$role/manifest.txt' | sort)
		d=\$( { echo \"\$a\"; echo \"\$b\"; } | sort | uniq -u | cut -f1 | sort -u)
		echo \"\$b\" | grep -q '^/etc/kiln/services/console	' || { echo 'the tests tree has no console shell'; exit 1; }
		! echo \"\$d\" | grep -Ev '^/etc/kiln/(services/console|services/console-status|console-shell)\$'"
	# Every module the image loads is there with all of its dependencies.
	check "$role: every listed module and its dependencies are in the image" sh -c "
		d='$stage/$role/usr/lib/modules/$release'
		have=\$( (cut -d: -f1 \"\$d/modules.dep\"; cat \"\$d/modules.builtin\") | sed 's|.*/||; s|\\.ko\$||' | tr - _)
		for m in \$(cat '$stage/$role/etc/kiln/modules' '$stage/$role/etc/kiln/fs-modules' '$stage/$role/etc/kiln/drivers'); do
			echo \"\$have\" | grep -qx \"\$(echo \$m | tr - _)\" || { echo missing \$m; exit 1; }
		done
		for m in \$(cat '$stage/$role/etc/kiln/drivers'); do
			grep -q \"^alias [^ ]* \$m\$\" \"\$d/modules.alias\" || { echo \"driver \$m: no line in the image's modules.alias\"; exit 1; }
		done
		cut -d: -f2 \"\$d/modules.dep\" | tr ' ' '\n' | sed '/^\$/d' | sort -u | while read -r ko; do
			test -f \"\$d/\$ko\" || { echo missing dependency \$ko; exit 1; }
		done"
	check "$role: the manifest names an origin and a sha256 for every file" sh -c "
		n=\$(grep -vc '^#' '$o/manifest.txt'); f=\$(find '$stage/$role' ! -type d | wc -l)
		[ \$n -eq \$f ] || { echo \"manifest has \$n entries, image \$f files\"; exit 1; }
		! grep -v '^#' '$o/manifest.txt' | awk -F'\t' '\$2 == \"file\" && length(\$6) != 64 || \$7 == \"\"' | grep .
		grep -q '^/usr/sbin/init	file	755	0:0	' '$o/manifest.txt'"
	# Disk: MBR with four partitions, p1 active FAT with syslinux; ext4 slots and data with their labels.
	check "$role: disk has the four partitions of DESIGN.md, p1 active" sh -c "
		sfdisk -d '$o/disk.img' | grep -c 'start=' | grep -qx 4 &&
		sfdisk -d '$o/disk.img' | sed -n '/img1 :/p' | grep -q 'type=c, bootable'"
	check "$role: disk filesystems carry the kiln labels, slot A holds the system" sh -c "
		for p in 2:kiln-sys-a 3:kiln-sys-b 4:kiln-data; do
			off=\$(sfdisk -d '$o/disk.img' | sed -n \"s/.*img\${p%%:*} : start= *\\([0-9]*\\),.*/\\1/p\")
			dumpe2fs -h \"$o/disk.img?offset=\$((off * 512))\" 2>/dev/null | grep -q \"volume name: *\${p#*:}\$\" || { echo no \${p#*:}; exit 1; }
		done
		off=\$(sfdisk -d '$o/disk.img' | sed -n 's/.*img2 : start= *\\([0-9]*\\),.*/\\1/p')
		debugfs -R 'stat /usr/sbin/init' \"$o/disk.img?offset=\$((off * 512))\" 2>/dev/null | grep -q 'Type: regular'"
	check "$role: the boot partition has syslinux (no prompt, no escape to one), a kernel and the first stage for slot A" sh -c "
		mdir -a -i '$o/disk.img@@1M' :: | grep -q 'ldlinux  *sys' &&
		mtype -i '$o/disk.img@@1M' ::syslinux.cfg | grep -q 'kiln.root=kiln-sys-a' &&
		mtype -i '$o/disk.img@@1M' ::syslinux.cfg | tr -d '\\r' | grep -qx 'NOESCAPE 1' &&
		mdir -i '$o/disk.img@@1M' :: | grep -q 'vmlinuz-a' && mdir -i '$o/disk.img@@1M' :: | grep -q 'initrd-a'"
	# A master waits for its DATA as long as the cluster file says (image.data_wait), a node for none.
	w=$(sed -n 's/^IMAGE_DATA_WAIT=//p' "$KILN_OUT/cluster/cluster.env")
	check "$role: the disk's boot entries $([ $role = master ] && echo "wait for DATA as the cluster file says (kiln.data=disk kiln.data_wait=$w)" || echo "do not wait for DATA")" sh -c "
		a=\$(mtype -i '$o/disk.img@@1M' ::syslinux.cfg | tr -d '\\r' | grep '^  APPEND ')
		[ \$(echo \"\$a\" | wc -l) -eq 2 ] || exit 1
		if [ $role = master ]; then [ \$(echo \"\$a\" | grep -c ' kiln.data=disk kiln.data_wait=$w\$') -eq 2 ]
		else ! echo \"\$a\" | grep -q 'kiln.data'; fi || { echo \"\$a\"; exit 1; }"
done

# The binaries run inside the staged root with only the libraries the image carries.
check "master: etcd runs with the image's own libraries" chroot "$stage/master" /usr/bin/etcd --version
check "master: etcdctl runs with the image's own libraries" chroot "$stage/master" /usr/bin/etcdctl version
check "node: containerd runs with the image's own libraries" chroot "$stage/node" /usr/bin/containerd --version
check "node: runc runs with the image's own libraries" chroot "$stage/node" /usr/sbin/runc --version
check "node: the CNI bridge plugin runs with the image's own libraries" sh -c \
	"chroot '$stage/node' /usr/lib/cni/bridge 2>&1 | grep -qi 'CNI'"
check "node: ctr runs with the image's own libraries" chroot "$stage/node" /usr/bin/ctr --version
check "master: e2fsck (for the data partition) runs with the image's own libraries" \
	sh -c "chroot '$stage/master' /usr/sbin/e2fsck -V 2>&1 | grep -q 'e2fsck 1\.'"
check "node image has no etcd, master image has no containerd" \
	sh -c "! test -e '$stage/node/usr/bin/etcd' && ! test -e '$stage/master/usr/bin/containerd'"

# Up to date: a second make does nothing.
check "a second 'make' finds nothing to do" make -q images
start=$(date +%s)
check "a second 'make' returns in seconds" make -s images
diag "second make: $(($(date +%s) - start)) s"
[ $(($(date +%s) - start)) -le 20 ] && ok "second make under 20 s" || not_ok "second make under 20 s"
done_testing
