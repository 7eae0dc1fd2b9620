#!/bin/sh
# deps.sh: installs the Debian packages kiln builds from and prepares the cached parts:
# the Debian kernel and the packages of UNPACKED (downloaded, unpacked, never installed) and a static busybox built
# with musl.
# Idempotent: a second run with everything in place only checks and returns.
. "$(dirname "$0")/lib.sh"

PACKAGES="musl-tools musl-dev linux-libc-dev e2fsprogs syslinux syslinux-common syslinux-utils extlinux pxelinux
isolinux mtools dosfstools fdisk cpio qemu-system-x86 openssl libssl-dev libcmocka-dev libyaml-dev etcd-server
etcd-client containerd runc containernetworking-plugins dpkg-dev kmod gzip xz-utils binutils make gcc
iproute2 dnsmasq-base util-linux ipxe-qemu faketime clang libclang-rt-14-dev iptables conntrack socat haproxy
golang-go rsync curl rsyslog rsyslog-relp"

need_packages() {
	missing=
	for p in $PACKAGES; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
	done
	echo "$missing"
}

install_packages() {
	missing=$(need_packages)
	[ -z "$missing" ] && { say "packages: all present"; return; }
	[ "$(id -u)" = 0 ] || die "packages missing ($missing) and not root: run 'make deps' as root"
	say "packages: installing$missing"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
	# kubectl reads the generated kubeconfigs in tests; any kubectl on PATH will do.
	command -v kubectl >/dev/null || DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends kubernetes-client >/dev/null || true
}

# Packages an image carries files of, but whose installation would start a daemon on the build host (Debian's node
# exporter serves every metric on tcp 9100 without TLS, now and at each boot): downloaded and unpacked into the
# cache, never installed. image.conf names their files as `unpacked = PACKAGE:PATH`.
UNPACKED="prometheus-node-exporter"
fetch_unpacked() {
	for pkg in $UNPACKED; do
		dir=$KILN_CACHE/deb/$pkg
		[ -s "$dir/version" ] && [ -d "$dir/root" ] && { say "$pkg: $(cat "$dir/version") unpacked in the cache"; continue; }
		say "$pkg: downloading (unpacked, not installed)"
		rm -rf "$dir/tmp"; mkdir -p "$dir/tmp"
		(cd "$dir/tmp" && apt-get download -q "$pkg" > /dev/null 2>&1) ||
			{ apt-get update -qq; (cd "$dir/tmp" && apt-get download -q "$pkg" > /dev/null 2>&1); } ||
			die "apt-get download $pkg failed"
		deb=$(ls "$dir"/tmp/*.deb)
		dpkg -x "$deb" "$dir/tmp/root" || die "dpkg -x $deb failed"
		dpkg-deb -f "$deb" Version > "$dir/tmp/version"
		rm -rf "$dir/root"; mv "$dir/tmp/root" "$dir/root"; mv "$dir/tmp/version" "$dir/version"; rm -rf "$dir/tmp"
	done
}

# The versioned kernel package that linux-image-amd64 currently points to.
kernel_package() {
	apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}'
}

fetch_kernel() {
	dir=$KILN_CACHE/kernel
	[ -f "$dir/release" ] && [ -f "$dir/root/vmlinuz" ] && { say "kernel: $(cat "$dir/release") cached"; return; }
	mkdir -p "$dir"
	pkg=$(kernel_package)
	[ -n "$pkg" ] || { apt-get update -qq; pkg=$(kernel_package); }
	[ -n "$pkg" ] || die "cannot find the Debian kernel package (linux-image-amd64)"
	say "kernel: downloading $pkg"
	rm -rf "$dir/tmp"; mkdir -p "$dir/tmp"
	(cd "$dir/tmp" && apt-get download -q "$pkg" 2>/dev/null >/dev/null) || die "apt-get download $pkg failed"
	dpkg -x "$dir"/tmp/*.deb "$dir/tmp/x"
	release=${pkg#linux-image-}
	[ -d "$dir/tmp/x/lib/modules/$release" ] || die "kernel package has no modules for $release"
	say "kernel: depmod $release"
	depmod -b "$dir/tmp/x" "$release"
	mv "$dir/tmp/x/boot/vmlinuz-$release" "$dir/tmp/x/vmlinuz"
	rm -rf "$dir/root"; mv "$dir/tmp/x" "$dir/root"; rm -rf "$dir/tmp"
	echo "$release" > "$dir/release"
}

# musl-gcc leaves out /usr/include: give it the kernel's uapi headers only.
musl_kernel_headers() {
	h=$KILN_CACHE/musl-kernel-headers
	[ -d "$h/linux" ] && return
	rm -rf "$h.tmp"; mkdir -p "$h.tmp"
	ln -s /usr/include/linux "$h.tmp/linux"
	ln -s /usr/include/asm-generic "$h.tmp/asm-generic"
	ln -s /usr/include/x86_64-linux-gnu/asm "$h.tmp/asm"
	ln -s /usr/include/mtd "$h.tmp/mtd"
	rm -rf "$h"; mv "$h.tmp" "$h"
}

build_busybox() {
	dir=$KILN_CACHE/busybox
	cfg=$KILN_TOP/scripts/busybox.config
	stamp=$(sha256sum "$cfg" | cut -c1-16)
	[ -x "$dir/busybox" ] && [ "$(cat "$dir/stamp" 2>/dev/null)" = "$stamp" ] && { say "busybox: cached"; return; }
	musl_kernel_headers
	src=$dir/src
	if ! ls -d "$src"/busybox-*/ >/dev/null 2>&1; then
		ensure_deb_src
		say "busybox: apt-get source busybox"
		rm -rf "$src"; mkdir -p "$src"
		(cd "$src" && apt-get source -q busybox >/dev/null 2>&1) || die "apt-get source busybox failed"
	fi
	b=$(ls -d "$src"/busybox-*/ | head -n 1)
	say "busybox: building $(basename "$b") with musl-gcc (static)"
	cp "$cfg" "$b/.config"
	make -C "$b" -s olddefconfig >/dev/null 2>&1 || make -C "$b" -s oldconfig </dev/null >/dev/null
	make -C "$b" -s -j"$(nproc)" CC=musl-gcc HOSTCC=gcc \
		EXTRA_CFLAGS="-isystem $KILN_CACHE/musl-kernel-headers" busybox >"$dir/build.log" 2>&1 \
		|| { tail -n 30 "$dir/build.log" >&2; die "busybox build failed (log: $dir/build.log)"; }
	cp "$b/busybox" "$dir/busybox.tmp"
	"$b/busybox" --list > "$dir/applets.tmp"
	mv "$dir/applets.tmp" "$dir/applets"; mv "$dir/busybox.tmp" "$dir/busybox"
	echo "$stamp" > "$dir/stamp"
}

case "${1:-all}" in
packages) install_packages ;;
kernel) fetch_kernel ;;
unpacked) fetch_unpacked ;;
busybox) build_busybox ;;
all) install_packages; fetch_kernel; fetch_unpacked; build_busybox ;;
*) die "usage: deps.sh [packages|kernel|unpacked|busybox|all]" ;;
esac
