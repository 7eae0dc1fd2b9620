#!/bin/sh
# enroll.sh [--cluster FILE] [--rendered DIR] [--pki DIR] [--dir DIR] list
# enroll.sh [...] approve NAME [--fingerprint HEX] [--replace]
# PXE enrollment on the build host (make enroll-list, make enroll-approve MACHINE=NAME): the requests that machines
# booted from out/pxe/ sent to scripts/serve.sh (DIR/requests/, default out/enroll/), and their approval.
# list: one line per request: name, role, MAC, fingerprint, where from, and its state: waiting; approved; REFUSED (its
# name is enrolled with another key); or BAD (its MAC or role is not the cluster file's).
# approve NAME: the waiting request of NAME (--fingerprint picks one of several; give the one the machine's console
# shows: at least 16 hex digits, spaces allowed), checked against the cluster file (name, role, MAC); on a terminal it
# asks to confirm the fingerprint. Then the machine's own certificates are issued for its public keys (kiln
# enroll-certs), its role's shared secrets are encrypted to its enroll key (openssl cms, AES-256-GCM) and signed with
# the cluster's image key, and the answer is put where serve.sh serves it (DIR/answers/NAME-FINGERPRINT/): public data.
# The approved fingerprint is kept in the PKI folder (PKI/enrolled/NAME): a request for NAME with another key is
# refused from then on, unless approved again with --replace (a machine whose DATA was lost makes new keys).
. "$(dirname "$0")/lib.sh"

cluster=${CLUSTER:-$KILN_TOP/configs/cluster.yaml} rendered=$KILN_OUT/cluster pki=${SECRETS:-} dir=$KILN_OUT/enroll
usage="usage: enroll.sh [--cluster FILE] [--rendered DIR] [--pki DIR] [--dir DIR] list | approve NAME [--fingerprint HEX] [--replace]"
while [ $# -gt 0 ]; do
	case $1 in
	--cluster) cluster=${2:?$usage}; shift 2 ;;
	--rendered) rendered=${2:?$usage}; shift 2 ;;
	--pki) pki=${2:?$usage}; shift 2 ;;
	--dir) dir=${2:?$usage}; shift 2 ;;
	*) break ;;
	esac
done
[ -n "$pki" ] || pki=$KILN_TOP/secrets/$(basename "${cluster%.*}")
cmd=${1:-}
[ $# -gt 0 ] && shift
[ -f "$rendered/cluster.env" ] || die "$rendered/cluster.env: no rendered cluster (run 'make')"
. "$rendered/cluster.env"
[ -f "$pki/kubernetes-ca.key" ] || die "$pki: not the cluster's PKI folder (no kubernetes-ca.key)"
req_field() { sed -n "$2s/^$1 //p" "$3"; }
fp_of() { basename "$1" .req; }
show_fp() { echo "$1" | cut -c1-32 | sed 's/..../& /g; s/ $//'; }

# state REQ: waiting, approved, REFUSED..., BAD...
state() {
	s_name=$(req_field name 2 "$1") s_role=$(req_field role 3 "$1") s_mac=$(req_field mac 4 "$1")
	case " $MASTERS $NODES " in *" $s_name "*) ;; *) echo "BAD: $s_name is not a machine of cluster $CLUSTER_NAME"; return ;; esac
	want_mac=$(machine_field "$s_name" MAC) want_role=$(machine_field "$s_name" ROLE)
	[ "$s_mac" = "$want_mac" ] || { echo "BAD: MAC $s_mac is not the cluster file's $want_mac"; return; }
	[ "$s_role" = "$want_role" ] || { echo "BAD: role $s_role is not the cluster file's $want_role"; return; }
	a=$(cut -c1-64 "$pki/enrolled/$s_name" 2>/dev/null || :)
	if [ -z "$a" ]; then echo waiting
	elif [ "$a" = "$(fp_of "$1")" ]; then echo approved
	else echo "REFUSED: $s_name is enrolled with another key ($(show_fp "$a"))"; fi
}

case $cmd in
list)
	[ $# -eq 0 ] || die "$usage"
	n=0
	for r in "$dir"/requests/*.req; do
		[ -f "$r" ] || continue
		n=$((n + 1))
		printf '%-12s %-6s %s  %s  from %s  %s\n' "$(req_field name 2 "$r")" "$(req_field role 3 "$r")" \
			"$(req_field mac 4 "$r")" "$(show_fp "$(fp_of "$r")")" "$(cat "${r%.req}.from" 2>/dev/null)" "$(state "$r")"
	done
	[ $n -gt 0 ] || say "no requests in $dir/requests/"
	;;
approve)
	name=${1:?$usage}
	shift
	want= replace=
	while [ $# -gt 0 ]; do
		case $1 in
		--fingerprint) want=$(echo "${2:?$usage}" | tr -d ' :' | tr A-F a-f); shift 2 ;;
		--replace) replace=1; shift ;;
		*) die "$usage" ;;
		esac
	done
	case $want in *[!0-9a-f]*) die "--fingerprint: hex digits only" ;; esac
	[ -z "$want" ] || [ ${#want} -ge 16 ] || die "--fingerprint: at least 16 hex digits of what the console shows"
	case " $MASTERS $NODES " in *" $name "*) ;; *) die "$name: not a machine of cluster $CLUSTER_NAME" ;; esac
	cands=
	for r in "$dir"/requests/*.req; do
		[ -f "$r" ] && [ "$(req_field name 2 "$r")" = "$name" ] || continue
		[ -z "$want" ] || case $(fp_of "$r") in "$want"*) ;; *) continue ;; esac
		cands="$cands $r"
	done
	set -- $cands
	[ $# -gt 0 ] || die "$name: no request${want:+ with fingerprint $want} in $dir/requests/ (is the machine booted, and scripts/serve.sh running?)"
	[ $# -eq 1 ] || die "$name: $# requests with different keys: give --fingerprint (what its console shows): $(for r; do show_fp "$(fp_of "$r")"; printf '; '; done)"
	req=$1 fp=$(fp_of "$1")
	st=$(state "$req")
	case $st in
	BAD*) die "$name: $st" ;;
	REFUSED*) [ -n "$replace" ] || die "$name: $st: a machine claiming its name with a new key is refused; if the machine itself lost its keys (a new or wiped DATA), approve it with --replace" ;;
	esac
	say "$name ($(req_field role 3 "$req"), $(req_field mac 4 "$req")), from $(cut -d' ' -f1 "${req%.req}.from" 2>/dev/null): fingerprint $(show_fp "$fp")"
	if [ -z "$want" ] && [ -t 0 ]; then
		printf 'Does the console of %s show this fingerprint? [y/N] ' "$name"
		read -r yes
		case $yes in y|Y|yes) ;; *) die "not approved" ;; esac
	elif [ -z "$want" ]; then
		die "$name: not on a terminal: give --fingerprint (what its console shows)"
	fi
	id=$rendered/machines/$name/identity
	[ -f "$id/own-keys" ] || die "$id/own-keys: missing (run 'make' again)"
	w=$(mktemp -d "${TMPDIR:-/tmp}/kiln-enroll.XXXXXX")
	trap 'rm -rf "$w"' EXIT
	short=$(echo "$fp" | cut -c1-32)
	a=$w/$name-$short
	"$KILN_BUILD/tools/kiln" enroll-certs "$cluster" --pki "$pki" --machine "$name" --request "$req" --out "$a" ||
		die "$name: its certificates could not be issued (above)"
	# The shared secrets: every key of the rendered identity that is not one of the machine's own, and the encryption
	# configuration, with their owners (MANIFEST), as an archive that unpacks over the machine's identity.
	sid=$w/s/etc/kiln/identity
	(umask 022 && mkdir -p "$sid/pki")
	(cd "$id" && find pki -type f \( -name '*.key' -o -name encryption-config.yaml \)) | sort | while read -r f; do
		stem=${f#pki/}; stem=${stem%.key}
		[ "$f" != "${f%.key}" ] && cut -d' ' -f2 "$id/own-keys" | grep -qx "$stem" && continue
		(umask 022 && mkdir -p "$sid/$(dirname "$f")")
		cp -p "$id/$f" "$sid/$f"
		grep "^$f " "$id/MANIFEST" >> "$sid/MANIFEST"
	done
	[ -s "$sid/MANIFEST" ] || die "$name: no shared secrets found in $id"
	[ "$(id -u)" != 0 ] || apply_owners "$sid"
	rm -f "$sid/MANIFEST"
	(umask 077 && sh "$KILN_TOP/scripts/mk-initramfs.sh" "$w/s" "$w/secrets.cpio.gz" > /dev/null) || die "$name: cannot pack its secrets"
	openssl cms -encrypt -binary -aes-256-gcm -outform DER -in "$w/secrets.cpio.gz" -out "$a/secrets.cms" "$a/enroll.crt" ||
		die "$name: openssl cms could not encrypt its secrets"
	{
		echo "kiln-image-signature 1"
		echo "role $(req_field role 3 "$req")"
		echo "cluster $CLUSTER_NAME"
		echo "version enroll-$name-$short"
		echo "serial 1"
		echo "size $(stat -c %s "$a/secrets.cms")"
		echo "sha256 $(sha256sum < "$a/secrets.cms" | cut -d' ' -f1)"
	} > "$w/sig.body"
	openssl dgst -sha256 -sign "$pki/image-signing.key" -out "$w/sig.der" "$w/sig.body" || die "cannot sign with $pki/image-signing.key"
	{ cat "$w/sig.body"; printf 'signature %s\n' "$(base64 -w 0 "$w/sig.der")"; } > "$a/secrets.cms.sig"
	chmod 755 "$a"; chmod 644 "$a"/*
	mkdir -p "$dir/answers" "$pki/enrolled"
	chmod 700 "$pki/enrolled"
	rm -rf "$dir/answers/$name-$short"
	mv "$a" "$dir/answers/$name-$short"
	for old in "$dir/answers/$name"-*; do [ "$old" = "$dir/answers/$name-$short" ] || rm -rf "$old"; done
	echo "$fp $(date -u +%FT%TZ)" > "$pki/enrolled/$name.tmp" && mv "$pki/enrolled/$name.tmp" "$pki/enrolled/$name"
	say "$name: approved: its certificates and encrypted secrets are in $dir/answers/$name-$short/; the machine takes them within seconds"
	;;
*) die "$usage" ;;
esac
