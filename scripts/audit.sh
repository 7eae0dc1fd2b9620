#!/bin/sh
# audit.sh SECRETS OUT: every private key (and the key that encrypts Secrets at rest) in every built image and
# identity archive, checked against the PKI table of DESIGN.md. Each artifact is unpacked (cpio archives; a disk's
# boot partition, its first-stage initramfs, both system slots and the data partition), every PEM private key and
# every kubeconfig's embedded key in it is matched by its public key to a key of the PKI in SECRETS, and the key
# must be one the table allows in that artifact, 0600, owned by the user of the service that reads it. A machine's
# archive must also hold every key its role needs. On the build host itself, every file under OUT and SECRETS that
# holds a private key (a key, a kubeconfig with one, an identity archive, a machine's disk or a QEMU machine's
# initrd) or the encryption key must be root's and readable by no one else. Prints one line per key found or
# missing; exits 1 on any problem.
. "$(dirname "$0")/lib.sh"

secrets=${1:?usage: audit.sh SECRETS OUT}
out=${2:?usage: audit.sh SECRETS OUT}
[ -d "$secrets" ] || die "$secrets: no PKI folder (run 'make' first)"
[ -d "$out" ] || die "$out: no build output (run 'make' first)"
secrets=$(cd "$secrets" && pwd) out=$(cd "$out" && pwd)
[ "$(id -u)" = 0 ] || die "the audit unpacks archives with their owners: run it as root"
for t in openssl cpio debugfs mcopy sfdisk; do command -v "$t" >/dev/null || die "$t: not installed (run 'make deps')"; done

w=$(mktemp -d "${TMPDIR:-/tmp}/kiln-audit.XXXXXX")
trap 'rm -rf "$w"' EXIT

# The PKI table: which key may be where, and whose it is there. "host" keys never leave the build host;
# "master"/"node" keys go to every machine of that role (image-signing signs system images on the build host: only its
# public half is in the images); "self" keys only to the machine they were issued to. The last column: the uid that
# owns it there (or one of a list): on masters 200 etcd, 201 apiserver, 202 dns, 204 controller-manager, 205 scheduler;
# on every machine 207 metrics, 208 logship; on masters 209 logsink too.
# The cluster DNS's client identity (system:coredns, on the masters, where the cluster DNS runs, user dns) is kiln's
# addition.
pki_table() {
	cat <<-'EOF'
	kubernetes-ca            master 204
	etcd-ca                  host   -
	admin                    host   -
	image-signing            host   -
	apiserver-kubelet-client master 201
	apiserver-etcd-client    master 201
	controller-manager       master 204
	scheduler                master 205
	service-account          master 201,204
	coredns                  master 202
	kube-proxy               node   0
	machines/*/apiserver     self   201
	machines/*/etcd          self   200
	machines/*/etcd-backup   self   200
	machines/*/kubelet       self   0
	machines/*/metrics       self   207
	machines/*/log           self   208,209
	monitoring               host   -
	EOF
}

# fingerprint: the SHA-256 of a private key's public half (DER), read on stdin; empty if it is no key.
fingerprint() { openssl pkey -pubout -outform DER 2>/dev/null | sha256sum | cut -c1-16; }
nokey=$(printf '' | sha256sum | cut -c1-16) # what fingerprint prints for input that is no key

# keys.txt: FINGERPRINT NAME WHERE OWNER, for every key of the PKI.
: > "$w/keys.txt"
(cd "$secrets" && find . -name '*.key' | sed 's|^\./||; s|\.key$||' | sort) > "$w/names"
[ -s "$w/names" ] || die "$secrets: no keys in the PKI folder"
while read -r name; do
	fp=$(fingerprint < "$secrets/$name.key")
	[ "$fp" = "$nokey" ] && die "$secrets/$name.key: not a private key"
	rule=$(pki_table | while read -r pat where owner; do
		case $name in $pat) echo "$where $owner"; break ;; esac
	done)
	echo "$fp $name ${rule:-host -}" >> "$w/keys.txt"
done < "$w/names"
# The key that encrypts Secrets at rest (encryption.secret, base64 on one line) is found by its text: masters only,
# in the apiserver's encryption-config.yaml, the apiserver's user's.
secret=
if [ -f "$secrets/encryption.secret" ]; then
	secret=$(cat "$secrets/encryption.secret")
	[ ${#secret} = 44 ] || die "$secrets/encryption.secret: not 32 bytes in base64"
	sfp=secret:$(printf %s "$secret" | sha256sum | cut -c1-9)
	echo "$sfp encryption master 201" >> "$w/keys.txt"
fi

# allowed NAME ROLE MACHINE: may key NAME be in an artifact of machine MACHINE (role ROLE; MACHINE empty for a
# role image, which may hold no key at all)?
allowed() {
	[ -n "$3" ] || return 1
	where=$(awk -v n="$1" '$2 == n { print $3 }' "$w/keys.txt")
	case $where in
	master|node) [ "$where" = "$2" ] ;;
	self) [ "$1" = "${1#machines/$3/}" ] && return 1; return 0 ;;
	*) return 1 ;;
	esac
}

# unpack_cpio ARCHIVE DIR: a (possibly concatenated, gzip'd) newc archive, owners and modes kept.
unpack_cpio() {
	mkdir -p "$2"
	(cd "$2" && zcat -f "$1" | cpio -idm --quiet --no-absolute-filenames 2>/dev/null) ||
		die "$1: cannot unpack"
}

# unpack_disk IMAGE DIR: every partition of a kiln disk: FAT files (and the initramfs in them), ext4 trees.
unpack_disk() {
	sfdisk -d "$1" 2>/dev/null | sed -n 's/^[^:]*\([0-9]\) : start= *\([0-9]*\), size= *\([0-9]*\), type=\([0-9a-f]*\).*/\1 \2 \3 \4/p' |
	while read -r part start size type; do
		d=$2/p$part
		mkdir -p "$d"
		case $type in
		c|b|e)
			mcopy -s -n -i "$1@@$((start * 512))" ::/ "$d/" 2>/dev/null || die "$1: partition $part: cannot read FAT"
			for i in "$d"/initrd*; do [ -f "$i" ] && unpack_cpio "$i" "$i.d"; done ;;
		83)
			# An empty slot (all zeroes) has no file system: nothing to look at.
			debugfs -R stats "$1?offset=$((start * 512))" >/dev/null 2>&1 || continue
			debugfs -R "rdump / $d" "$1?offset=$((start * 512))" >/dev/null 2>&1 ||
				die "$1: partition $part: cannot read ext4" ;;
		esac
	done
}

# keys_in DIR: "PATH FINGERPRINT" for every private key under DIR: PEM blocks and kubeconfig client-key-data.
keys_in() {
	find "$1" -type f -size -4M -print0 | xargs -0 -r grep -l -a -E -e '-----BEGIN ([A-Z]+ )?PRIVATE KEY-----' \
		-e 'client-key-data:' 2>/dev/null | sort | while read -r f; do
		p=${f#"$1"/}
		awk '/-----BEGIN ([A-Z]+ )?PRIVATE KEY-----/ { n++; on = 1 } on { print > (dir "/pem." n) }
			/-----END ([A-Z]+ )?PRIVATE KEY-----/ { on = 0 }' dir="$w/pem" "$f" 2>/dev/null
		sed -n 's/^ *client-key-data: *//p' "$f" | awk '{ print | ("base64 -d > " dir "/kubeconfig." NR) }' dir="$w/pem"
		for k in "$w"/pem/*; do
			[ -f "$k" ] || continue
			fp=$(fingerprint < "$k")
			[ "$fp" = "$nokey" ] && fp=unreadable
			echo "$p $fp"
			rm -f "$k"
		done
	done
	[ -z "$secret" ] || find "$1" -type f -size -4M -print0 | xargs -0 -r grep -l -a -F -e "$secret" 2>/dev/null | sort |
		while read -r f; do echo "${f#"$1"/} $sfp"; done
}
mkdir -p "$w/pem"

problems=0
report() { # ARTIFACT PATH KEY MODE OWNER VERDICT
	printf '%-34s %-44s %-28s %-4s %-5s %s\n' "$@"
	case $6 in ok|note:*) ;; *) problems=$((problems + 1)) ;; esac
}

# debian_file DIR PATH: the Debian package (name:arch) whose file DIR/PATH is, byte for byte, as that package ships
# it: the same path on the build host (PATH, or PATH without its first one or two folders: a disk's partition, an
# initramfs unpacked on it), owned by the package, and matching the package's recorded md5sum. Such a file is
# Debian's, public: a library's built-in self-test keys (GnuTLS carries some) are no secret of the cluster.
debian_file() {
	df_p=$2
	for df_i in 0 1 2; do
		if [ -f "/$df_p" ] && cmp -s "$1/$2" "/$df_p"; then
			df_real=$(readlink -f "/$df_p")
			df_pkg=$(dpkg -S "$df_real" 2> /dev/null | head -n 1 | cut -d: -f1-2 | sed 's/: .*//')
			[ -z "$df_pkg" ] && df_pkg=$(dpkg -S "/$df_p" 2> /dev/null | head -n 1 | sed 's/: .*//')
			[ -n "$df_pkg" ] || return 1
			df_sum=$(md5sum < "$df_real" | cut -d' ' -f1)
			grep -qx "$df_sum  ${df_real#/}" "/var/lib/dpkg/info/$df_pkg.md5sums" 2> /dev/null ||
				grep -qx "$df_sum  ${df_p}" "/var/lib/dpkg/info/$df_pkg.md5sums" 2> /dev/null || return 1
			echo "$df_pkg"
			return 0
		fi
		case $df_p in */*) df_p=${df_p#*/} ;; *) return 1 ;; esac
	done
	return 1
}

# audit ARTIFACT ROLE MACHINE: unpack one artifact and judge every key in it.
audit() {
	a=$1 role=$2 machine=$3
	rel=${a#"$out"/}
	d=$w/x
	rm -rf "$d"
	case $a in *.img) unpack_disk "$a" "$d" ;; *) unpack_cpio "$a" "$d" ;; esac
	keys_in "$d" > "$w/found"
	while read -r p fp; do
		name=$(awk -v f="$fp" '$1 == f { print $2 }' "$w/keys.txt")
		mode=$(stat -c %a "$d/$p") owner=$(stat -c %u "$d/$p")
		if [ -z "$name" ] && pkg=$(debian_file "$d" "$p"); then
			report "$rel" "$p" "(in Debian's file)" "$mode" "$owner" "note: unchanged file of $pkg: its keys are public (self-tests)"
		elif [ -z "$name" ]; then
			report "$rel" "$p" "(not a key of the PKI)" "$mode" "$owner" "FAIL: unknown key"
		elif ! allowed "$name" "$role" "$machine"; then
			report "$rel" "$p" "$name" "$mode" "$owner" "FAIL: not allowed in ${machine:-a $role role image}"
		elif [ "$mode" != 600 ]; then
			report "$rel" "$p" "$name" "$mode" "$owner" "FAIL: mode $mode, not 0600"
		elif want=$(awk -v n="$name" '$2 == n { print $4 }' "$w/keys.txt") && case ,$want, in *,$owner,*) false ;; esac; then
			report "$rel" "$p" "$name" "$mode" "$owner" "FAIL: owner $owner, not $(echo "$want" | sed 's/,/ or /g')"
		else
			report "$rel" "$p" "$name" "$mode" "$owner" ok
		fi
	done < "$w/found"
	grep -q . "$w/found" && [ -n "$(for k in $(cut -d' ' -f1 "$w/found" | sort -u); do debian_file "$d" "$k" > /dev/null || echo x; done)" ] ||
		report "$rel" "-" "(no private key)" "-" "-" ok
	[ -n "$machine" ] || return 0
	# Every key the machine needs must be there; on a disk, in its data partition.
	while read -r kfp kname _; do
		allowed "$kname" "$role" "$machine" || continue
		grep -q " $kfp\$" "$w/found" || report "$rel" "-" "$kname" "-" "-" "FAIL: missing"
	done < "$w/keys.txt"
}

printf '%-34s %-44s %-28s %-4s %-5s %s\n' ARTIFACT PATH KEY MODE OWNER VERDICT

# host_files DIR: every file under DIR that holds a private key or is made of machine identities. The PXE tree is
# served to the network as it is (TFTP): it is named below, not judged here.
host_files() {
	find "$1" -path "$out/pxe" -prune -o -type f \( -name '*.key' -o -name '*.secret' -o -name identity.cpio.gz -o -name initrd -o -path '*/machines/*/disk.img' \) -print
	find "$1" -path "$out/pxe" -prune -o -type f -size -4M ! -name '*.key' ! -name identity.cpio.gz ! -name initrd -print0 |
		xargs -0 -r grep -l -a -E -e '-----BEGIN ([A-Z]+ )?PRIVATE KEY-----' -e 'client-key-data:' 2>/dev/null
	[ -z "$secret" ] || find "$1" -path "$out/pxe" -prune -o -type f -size -4M ! -name '*.secret' -print0 |
		xargs -0 -r grep -l -a -F -e "$secret" 2>/dev/null
}
for top in "$secrets" "$out"; do
	host_files "$top" | sort -u | while read -r f; do
		mode=$(stat -c %a "$f") owner=$(stat -c %u "$f")
		case $top in "$secrets") rel=secrets:${f#"$top"/} ;; *) rel=host:${f#"$top"/} ;; esac
		if [ "$owner" != 0 ]; then report "$rel" - "(on the build host)" "$mode" "$owner" "FAIL: owner $owner, not root"
		elif [ $((0$mode & 077)) != 0 ]; then report "$rel" - "(on the build host)" "$mode" "$owner" "FAIL: mode $mode: others may read it"
		fi
	done
done > "$w/host"
cat "$w/host"
problems=$(grep -c FAIL "$w/host" || :)
n=0
# The PXE tree (make pxe) is served to whoever asks: no file of it, no file in any archive of it, may hold a private
# key or the secret. Its machines' archives are public identities; the keys come by enrollment (scripts/enroll.sh).
if [ -d "$out/pxe" ]; then
	for a in $(find "$out/pxe" -type f -name '*.cpio.gz' | sort); do
		audit "$a" pxe ""; n=$((n + 1))
	done
	keys_in "$out/pxe" | while read -r p fp; do
		report "pxe" "$p" "$(awk -v f="$fp" '$1 == f { print $2 }' "$w/keys.txt")" - - "FAIL: a private key in the served PXE tree"
	done > "$w/pxe"
	cat "$w/pxe"
	problems=$((problems + $(grep -c FAIL "$w/pxe" || :)))
fi
for role in master node; do
	for a in "$out/$role/initramfs.cpio.gz" "$out/$role/disk.img"; do
		[ -f "$a" ] || continue
		audit "$a" "$role" ""; n=$((n + 1))
	done
done
for m in "$out"/machines/*; do
	[ -f "$m/role" ] || continue
	mrole=$(cat "$m/role") mname=${m##*/}
	for a in "$m/identity.cpio.gz" "$m/disk.img"; do
		[ -f "$a" ] || continue
		audit "$a" "$mrole" "$mname"; n=$((n + 1))
	done
done
[ "$n" -gt 0 ] || die "$out: no image or identity archive to audit"
found=$(wc -l < "$w/keys.txt")
if [ "$problems" -gt 0 ]; then
	echo "audit: $problems problem(s) in $n artifacts" >&2
	exit 1
fi
echo "audit: $n artifacts, every private key allowed where it is, 0600, owned by its service's user ($found keys in the PKI); on the build host every file holding a key is root's alone"
