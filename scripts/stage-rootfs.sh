#!/bin/sh
# stage-rootfs.sh ROLE: assembles the root filesystem of a role (master, node, or boot: the disk's
# first-stage initramfs) in $KILN_BUILD/stage/ROLE, with an origins list for the manifest.
# Images are made from this folder in one step each; nothing is ever mounted.
. "$(dirname "$0")/lib.sh"

role=${1:?usage: stage-rootfs.sh ROLE}
conf=$KILN_TOP/images/$role/image.conf
[ -f "$conf" ] || die "no image declaration for role '$role' ($conf)"

release=$(kernel_release)
kroot=$(kernel_root)
busybox=$KILN_CACHE/busybox/busybox
init_bin=${KILN_INIT:-$KILN_BUILD/init/init}
initctl_bin=${KILN_INITCTL:-$KILN_BUILD/init/initctl}
for f in "$busybox" "$init_bin" "$initctl_bin"; do
	[ -x "$f" ] || die "missing $f: run 'make' (deps and init) first"
done

final=$KILN_BUILD/stage/$role
st=$final.tmp
origins=$final.origins.tmp
rm -rf "$st" "$origins"
mkdir -p "$st"
: > "$origins"

origin() { printf '%s\t%s\n' "$1" "$2" >> "$origins"; }

skeleton() {
	for d in usr/bin usr/sbin usr/lib usr/lib64 dev proc sys run tmp data newroot root etc/kiln/identity \
		etc/kiln/services var; do
		mkdir -p "$st/$d"
	done
	ln -s usr/bin "$st/bin"; ln -s usr/sbin "$st/sbin"
	ln -s usr/lib "$st/lib"; ln -s usr/lib64 "$st/lib64"
	ln -s /run "$st/var/run"; ln -s /data/log "$st/var/log"; ln -s /data/lib "$st/var/lib"
	ln -s /tmp "$st/var/tmp"
	chmod 1777 "$st/tmp"; chmod 0700 "$st/root"
	# The kernel opens /dev/console before init runs: the node must be in the archive.
	mknod -m 0600 "$st/dev/console" c 5 1
	mknod -m 0666 "$st/dev/null" c 1 3
	ln -s sbin/init "$st/init"
}

install_init() {
	cp "$init_bin" "$st/usr/sbin/init"; origin /usr/sbin/init "build:init/"
	cp "$initctl_bin" "$st/usr/sbin/initctl"; origin /usr/sbin/initctl "build:init/"
	# The first stage is also the PXE default entry's image: an unknown machine halts with it.
	[ "$role" != boot ] || { cp "$KILN_BUILD/init/kiln-halt" "$st/usr/sbin/kiln-halt"; origin /usr/sbin/kiln-halt "build:init/"; }
	# A system arms the boot-once of an upgrade (kiln-upgrade) with it.
	[ "$role" = boot ] || { cp "$KILN_BUILD/init/kiln-adv" "$st/usr/sbin/kiln-adv"; origin /usr/sbin/kiln-adv "build:init/"; }
}

install_busybox() {
	cp "$busybox" "$st/usr/bin/busybox"
	origin /usr/bin/busybox "build:busybox $(cat "$KILN_CACHE/busybox/version" 2>/dev/null || echo debian-source) (musl, static)"
	"$busybox" --list-full | while read -r p; do
		case $p in bin/*) p=usr/$p ;; sbin/*) p=usr/$p ;; esac
		[ -e "$st/$p" ] || [ -L "$st/$p" ] && continue
		mkdir -p "$st/${p%/*}"
		ln -s /usr/bin/busybox "$st/$p"
	done
}

# Copy a host path into the stage at its canonical location, re-creating symlinks on the way
# (so /lib64/ld-linux-x86-64.so.2 stays a link to the real file, as on the host).
copy_host_path() {
	p=$1
	dir=$(cd "${p%/*}" 2>/dev/null && pwd -P) || die "$p: no such directory on the build host"
	canon=$dir/${p##*/}
	# A program image.conf names replaces busybox's applet of that name (e2fsprogs' mke2fs: ext4, not ext2).
	[ "$(readlink "$st$canon" 2>/dev/null)" != /usr/bin/busybox ] || rm -f "$st$canon"
	[ -e "$st$canon" ] || [ -L "$st$canon" ] && return 0
	mkdir -p "$st$dir"
	if [ -L "$canon" ]; then
		target=$(readlink "$canon")
		ln -s "$target" "$st$canon"
		case $target in /*) copy_host_path "$target" ;; *) copy_host_path "$dir/$target" ;; esac
	elif [ -f "$canon" ]; then
		cp -p "$canon" "$st$canon"
		echo "$canon" >> "$st.hostfiles"
	else
		die "$p: not a file on the build host"
	fi
}

# The shared libraries an ELF file needs (DT_NEEDED, recursively) and its interpreter.
# A library that cannot be found is a build error, never a silent omission.
elf_needs() {
	readelf -lW "$1" 2>/dev/null | sed -n 's/.*\[Requesting program interpreter: \(.*\)\]/\1/p'
	readelf -dW "$1" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | while read -r lib; do
		found=
		for d in /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu /lib64 /usr/lib64 /lib /usr/lib; do
			[ -e "$d/$lib" ] && { found=$d/$lib; break; }
		done
		[ -n "$found" ] || die "$1 needs $lib, which is not on the build host"
		echo "$found"
	done
}

# Files of packages that are unpacked in the cache, never installed on the build host (deps.sh: UNPACKED), named
# in image.conf as `unpacked = PACKAGE:PATH`; the libraries they need come from the build host, as binaries' do.
unpacked_libs=
install_unpacked() {
	for u in $(conf_list "$conf" unpacked); do
		pkg=${u%%:*} p=${u#*:}
		src=$KILN_CACHE/deb/$pkg/root$p
		[ -f "$src" ] || die "$p of $pkg (named in ${conf#"$KILN_TOP"/}) is not in the cache: run 'make deps'"
		mkdir -p "$st${p%/*}"
		cp -p "$src" "$st$p"
		origin "$p" "deb:$pkg $(cat "$KILN_CACHE/deb/$pkg/version") (unpacked)"
		unpacked_libs="$unpacked_libs $(elf_needs "$src" | tr '\n' ' ')"
	done
}

install_binaries() {
	: > "$st.hostfiles"
	todo="$(conf_list "$conf" binaries) $trust_libs $unpacked_libs"
	seen=" "
	while [ -n "$todo" ]; do
		next=
		for b in $todo; do
			case $seen in *" $b "*) continue ;; esac
			seen="$seen$b "
			[ -e "$b" ] || die "$b (named in ${conf#"$KILN_TOP"/}) is not on the build host: run 'make deps'"
			copy_host_path "$b"
			next="$next $(elf_needs "$(readlink -f "$b")" | tr '\n' ' ')"
		done
		todo=$next
	done
	# Record which Debian package each host file came from (one dpkg query for all).
	if [ -s "$st.hostfiles" ]; then
		sort -u "$st.hostfiles" | while read -r f; do
			pkg=$(dpkg -S "$f" 2>/dev/null | head -n 1 | cut -d: -f1)
			[ -n "$pkg" ] || pkg=$(dpkg -S "$(echo "$f" | sed 's|^/usr/|/|')" 2>/dev/null | head -n 1 | cut -d: -f1)
			ver=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null || true)
			origin "$f" "deb:${pkg:-unknown} ${ver}"
		done
	fi
	rm -f "$st.hostfiles"
}

# Kernel modules with their dependencies and pre-softdeps, resolved on the build host from
# modules.dep, so the image carries exactly what it loads: `modules` at every boot, `drivers` at boot for a device
# that is there (their lines of modules.alias come along), `fs_modules` before init's first ext4 mount,
# `watchdog_modules` (the first stage) only on the trial boot of an upgrade.
install_modules() {
	mods=$(conf_list "$conf" modules)
	drvs=$(conf_list "$conf" drivers | tr - _)
	wmods=$(conf_list "$conf" watchdog_modules)
	fmods=$(conf_list "$conf" fs_modules)
	[ -n "$mods$drvs$wmods$fmods" ] || return 0
	kd=$kroot/lib/modules/$release
	dest=$st/usr/lib/modules/$release
	mkdir -p "$dest"
	list=$st.modlist
	: > "$list"
	# Recursive: every variable is local (dash, bash and busybox sh all have `local`).
	resolve_module() {
		local name line dep d pre m pres
		name=$(echo "$1" | tr - _)
		grep -q "^$name\$" "$list.names" 2>/dev/null && return 0
		echo "$name" >> "$list.names"
		line=$(awk -v n="$name" -F: '{ f=$1; sub(/.*\//, "", f); sub(/\.ko$/, "", f); gsub(/-/, "_", f); if (f == n) { print; exit } }' "$kd/modules.dep")
		if [ -z "$line" ]; then
			awk -v n="$name" '{ f=$0; sub(/.*\//, "", f); sub(/\.ko$/, "", f); gsub(/-/, "_", f); if (f == n) found=1 } END { exit !found }' \
				"$kd/modules.builtin" && return 0
			die "kernel module '$name' is neither a module nor built into $release"
		fi
		echo "$line" >> "$list"
		for dep in ${line#*:}; do
			d=${dep##*/}; resolve_module "${d%.ko}"
		done
		# A softdep may name an alias (crypto-crc32c): the image's softdep file names modules.
		pres=
		for pre in $(sed -n "s/^softdep $name pre: *//p" "$kd/modules.softdep" 2>/dev/null); do
			for m in $(module_alias "$pre"); do
				resolve_module "$m"
				pres="$pres $m"
			done
		done
		[ -z "$pres" ] || echo "softdep $name pre:$pres" >> "$list.soft"
	}
	# Names of the modules an alias stands for (the name itself when it is a module).
	module_alias() {
		local a
		a=$(awk -v a="$1" '$1 == "alias" && $2 == a { print $3 }' "$kd/modules.alias")
		echo "${a:-$1}" | tr - _
	}
	: > "$list.names"; : > "$list.soft"
	for m in $mods $drvs $fmods $wmods; do resolve_module "$m"; done
	sort -u "$list" > "$dest/modules.dep"
	cut -d: -f1 "$dest/modules.dep" | while read -r ko; do
		mkdir -p "$dest/${ko%/*}"
		cp "$kd/$ko" "$dest/$ko"
		origin "/usr/lib/modules/$release/$ko" "kernel:linux-image-$release"
	done
	cp "$kd/modules.builtin" "$dest/"
	sort -u "$list.soft" > "$dest/modules.softdep"
	# A driver is loaded when a device's modalias matches one of its alias lines: one without any would never load
	# (one built into the kernel has nothing to load, and is left out).
	: > "$dest/modules.alias"
	loadable=
	for m in $drvs; do
		awk -v m="$m" '$1 == "alias" && $3 == m' "$kd/modules.alias" > "$list.alias"
		if [ ! -s "$list.alias" ]; then
			awk -v n="$m" '{ f=$0; sub(/.*\//, "", f); sub(/\.ko$/, "", f); gsub(/-/, "_", f); if (f == n) found=1 } END { exit !found }' \
				"$kd/modules.builtin" && continue
			die "driver '$m' (image.conf drivers) has no device alias in $release's modules.alias: list it under modules"
		fi
		cat "$list.alias" >> "$dest/modules.alias"
		loadable="$loadable $m"
	done
	for f in modules.dep modules.builtin modules.softdep modules.alias; do
		origin "/usr/lib/modules/$release/$f" "kernel:linux-image-$release (filtered)"
	done
	printf '%s\n' $mods > "$st/etc/kiln/modules"
	origin /etc/kiln/modules "build:${conf#"$KILN_TOP"/}"
	if [ -n "$loadable" ]; then
		printf '%s\n' $loadable > "$st/etc/kiln/drivers"
		origin /etc/kiln/drivers "build:${conf#"$KILN_TOP"/}"
	fi
	if [ -n "$fmods" ]; then
		printf '%s\n' $fmods > "$st/etc/kiln/fs-modules"
		origin /etc/kiln/fs-modules "build:${conf#"$KILN_TOP"/}"
	fi
	if [ -n "$wmods" ]; then
		printf '%s\n' $wmods > "$st/etc/kiln/watchdog-modules"
		origin /etc/kiln/watchdog-modules "build:${conf#"$KILN_TOP"/}"
	fi
	rm -f "$list" "$list.names" "$list.soft" "$list.alias"
}

# Repository overlays: files as they are in git, owners root unless chowned below.
install_overlay() {
	src=$1
	[ -d "$src" ] || return 0
	(cd "$src" && find . -type f -o -type l) | sed 's|^\./||' | sort | while read -r f; do
		mkdir -p "$st/${f%/*}"
		rm -f "$st/$f"
		cp -P "$src/$f" "$st/$f"
		origin "/$f" "repo:${src#"$KILN_TOP"/}/$f"
	done
}

# KILN_SERIAL orders versions (kiln-upgrade refuses an older one unless asked): the commits up to this one.
write_release() {
	v=${KILN_VERSION:-$(git -C "$KILN_TOP" describe --always --dirty 2>/dev/null || echo unknown)}
	serial=${KILN_SERIAL:-$(git -C "$KILN_TOP" rev-list --count HEAD 2>/dev/null || echo 0)}
	{
		echo "KILN_ROLE=$role"
		echo "KILN_VERSION=$v"
		echo "KILN_SERIAL=$serial"
		echo "KILN_CLUSTER=$cluster"
		echo "KILN_KERNEL=$release"
	} > "$st/etc/kiln/release"
	origin /etc/kiln/release "build:scripts/stage-rootfs.sh"
	# What the system calls itself (kubelet reports PRETTY_NAME as the node's OS image).
	{
		echo 'NAME="kiln"'
		echo 'ID=kiln'
		echo "VERSION_ID=$v"
		echo "PRETTY_NAME=\"kiln $v ($role)\""
	} > "$st/etc/os-release"
	origin /etc/os-release "build:scripts/stage-rootfs.sh"
}

# The console: a root shell only when the cluster file says image.console_shell: true (cluster.env's
# IMAGE_CONSOLE_SHELL; an image.conf's console_shell = no takes it away still); otherwise console-status, which shows
# the machine's status and runs nothing typed, and the init opens no emergency shell either (/etc/kiln/console-shell).
apply_options() {
	shell=no
	[ "$(sed -n 's/^IMAGE_CONSOLE_SHELL=//p' "$KILN_OUT/cluster/cluster.env" 2>/dev/null)" = yes ] && shell=yes
	case $(conf_get "$conf" console_shell yes) in no|false) shell=no ;; esac
	if [ "$shell" = yes ]; then
		rm -f "$st/etc/kiln/services/console-status"
		# what lets the init open a shell on the console when the boot fails (or kiln.shell asks): every stage
		echo "image.console_shell: true in the cluster file: a root shell on the console" > "$st/etc/kiln/console-shell"
		origin /etc/kiln/console-shell "build:scripts/stage-rootfs.sh"
	else
		rm -f "$st/etc/kiln/services/console"
	fi
}

# sandbox_image = NAME: the pod sandbox image containerd's CRI needs (kiln-pause, as an OCI archive that the
# node's sandbox-image service imports at boot; nodes cannot pull one). NAME must match containerd's config.
install_sandbox_image() {
	name=$(conf_get "$conf" sandbox_image)
	[ -n "$name" ] || return 0
	pause=$KILN_BUILD/init/kiln-pause
	[ -x "$pause" ] || die "missing $pause: run 'make init' first"
	grep -q "sandbox_image = \"$name\"" "$st/etc/containerd/config.toml" 2>/dev/null ||
		die "images/$role: sandbox_image $name is not the one /etc/containerd/config.toml names"
	r=$(mktemp -d "${TMPDIR:-/tmp}/kiln-pause.XXXXXX")
	cp "$pause" "$r/pause"
	mkdir -p "$st/usr/share/kiln/images"
	"$KILN_TOP/scripts/mk-oci.sh" "$r" "$name" "$st/usr/share/kiln/images/sandbox.oci.tar" entrypoint /pause
	rm -rf "$r"
	origin /usr/share/kiln/images/sandbox.oci.tar "build:init/cmd/pause.c as OCI image $name"
}

finish() {
	sde=$(source_date_epoch)
	chown -R 0:0 "$st"
	find "$st" -exec touch -h -d "@$sde" {} +
	rm -rf "$final" "$final.origins"
	mv "$origins" "$final.origins"
	mv "$st" "$final"
}

# Upgrades trust one key: kiln-verify and the public half of the cluster's image key (kiln render copies it to
# out/cluster/image-signing.pub; its private half stays in the PKI folder and signs out/<role>/system.img.sig).
# kiln-upgrade writes only an image signed by it, for this role and cluster. Not in the first stage.
trust_libs= cluster=
image_trust() {
	env=$KILN_OUT/cluster/cluster.env pub=$KILN_OUT/cluster/image-signing.pub verify=$KILN_BUILD/tools/kiln-verify
	enroll=$KILN_BUILD/tools/kiln-enroll
	for f in "$env" "$pub" "$verify" "$enroll"; do [ -f "$f" ] || die "missing $f: run 'make' (the kiln tool and kiln render) first"; done
	cluster=$(sed -n 's/^CLUSTER_NAME=//p' "$env")
	[ -n "$cluster" ] || die "$env names no cluster"
	cp "$pub" "$st/etc/kiln/image-signing.pub"; origin /etc/kiln/image-signing.pub "render:out/cluster/image-signing.pub"
	cp "$verify" "$st/usr/sbin/kiln-verify"; origin /usr/sbin/kiln-verify "build:tools/"
	# A PXE machine's enrollment (/usr/libexec/kiln/enroll): its own keys, the answer's checks (the same libcrypto).
	cp "$enroll" "$st/usr/sbin/kiln-enroll"; origin /usr/sbin/kiln-enroll "build:tools/"
	# A master's backup job checks each snapshot it takes with kiln-snapsum (the same libcrypto).
	if [ "$role" = master ]; then
		[ -f "$KILN_BUILD/tools/kiln-snapsum" ] || die "missing $KILN_BUILD/tools/kiln-snapsum: run 'make' first"
		cp "$KILN_BUILD/tools/kiln-snapsum" "$st/usr/sbin/kiln-snapsum"; origin /usr/sbin/kiln-snapsum "build:tools/"
	fi
	trust_libs=$( (elf_needs "$verify"; elf_needs "$enroll") | sort -u | tr '\n' ' ')
}

say "$role: staging in ${final#"$KILN_TOP"/}"
skeleton
install_init
install_busybox
# The disk's first stage (role boot) carries no services: only its own overlay.
[ "$role" = boot ] || install_overlay "$KILN_TOP/rootfs"
install_overlay "$KILN_TOP/images/$role/rootfs"
[ "$role" = boot ] || image_trust
install_unpacked
install_binaries
# The Kubernetes components, from the user's components folder (scripts/components.sh).
"$KILN_TOP/scripts/components.sh" "$role" "$st" "$origins"
install_sandbox_image
apply_options
install_modules
write_release
finish
say "$role: $(find "$final" -type f | wc -l) files, $(du -sk "$final" | cut -f1) KiB"
