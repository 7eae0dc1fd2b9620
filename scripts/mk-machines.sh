#!/bin/sh
# mk-machines.sh RENDERED: per-machine outputs from `kiln render`'s folder: for every machine of the cluster,
# out/machines/<name>/identity.cpio.gz (appended to its role's initramfs) and disk.img (identity on DATA).
# A machine whose identity did not change is left as it is, so one node's change rebuilds one node; the folder of a
# machine the cluster no longer has (another cluster file was built before) is removed.
. "$(dirname "$0")/lib.sh"

rendered=${1:?usage: mk-machines.sh RENDERED}
[ -f "$rendered/cluster.env" ] || die "$rendered/cluster.env: run 'kiln render' first"
. "$rendered/cluster.env"

# A digest of a tree: names, modes, owners and contents.
tree_digest() {
	(cd "$1" && find . | sort | while read -r f; do
		stat -c '%n %a %u:%g' "$f"; [ -f "$f" ] && sha256sum < "$f"; [ -L "$f" ] && readlink "$f"; :
	done) | sha256sum | cut -c1-32
}

# Whatever reads out/machines/*/ (make audit) would otherwise take another cluster's machines for this one's.
for o in "$KILN_OUT"/machines/*/; do
	[ -d "$o" ] || continue
	m=$(basename "$o")
	case " $MASTERS $NODES " in *" $m "*) continue ;; esac
	rm -rf "$o"
	say "$m: not a machine of cluster $CLUSTER_NAME, removed"
done

# Identity archives and machine disks hold private keys: root's alone (mk-identity.sh and mk-disk.sh write them so),
# and so is the folder; those written 0644 before kiln made them private are made so here.
mkdir -p "$KILN_OUT/machines"
chmod 700 "$KILN_OUT/machines"
n=0
for m in $MASTERS $NODES; do
	n=$((n + 1))
	id=$rendered/machines/$m/identity
	[ -d "$id" ] || die "no identity for machine $m in $rendered"
	role=$(cat "$rendered/machines/$m/role" 2>/dev/null) || die "no role for machine $m"
	o=$KILN_OUT/machines/$m
	mkdir -p "$o"
	# the master disk's boot entries carry the cluster file's data_wait: a change of it makes the disks again
	stamp="$(tree_digest "$id") $(sha256sum < "$KILN_OUT/$role/manifest.txt" | cut -c1-32) ${IMAGE_DATA_WAIT:-}"
	if [ -f "$o/identity.cpio.gz" ] && [ -f "$o/disk.img" ] && [ "$(cat "$o/stamp" 2>/dev/null)" = "$stamp" ]; then
		say "[$n] $m ($role): up to date"
		chmod 600 "$o/identity.cpio.gz" "$o/disk.img"
		continue
	fi
	say "[$n] $m ($role): identity archive and disk image"
	"$KILN_TOP/scripts/mk-identity.sh" "$id" "$o/identity.cpio.gz"
	"$KILN_TOP/scripts/mk-disk.sh" "$role" "$o/disk.img" "$id" >/dev/null
	echo "$role" > "$o/role"
	echo "$stamp" > "$o/stamp"
done
