# snapshot.sh: what the master's etcd snapshot tools share (sourced by etcd-backup, etcd-backup-copy, kiln-restore).

# snapshot_trial FILE SCRATCH [--skip-hash-check]: FILE restored into the folder SCRATCH (removed afterwards) as a
# one-member cluster nothing can reach: etcd checks the integrity hash etcdctl appended (unless the caller checks it
# itself: etcd-backup's kiln-snapsum) and that the file makes a member. On failure, etcd's reason (its error line; its log
# lines are JSON) on stdout, and status 1.
snapshot_trial() {
	st_out=$(etcdctl snapshot restore "$1" --data-dir "$2" --name verify --initial-cluster verify=http://127.0.0.1:1 \
		--initial-advertise-peer-urls http://127.0.0.1:1 ${3:-} 2>&1)
	st_rc=$?
	rm -rf "$2"
	[ "$st_rc" = 0 ] && return 0
	echo "$st_out" | grep -v '^{' | grep . | tail -n 1 | grep . || echo "$st_out" | tail -n 1
	return 1
}

# sha256_of [FILE]: the sha256 (hex) of FILE, or of stdin. OpenSSL's when the image has it (its SHA-extension and
# AVX2 code hashes a 100 MB snapshot in 0.13 s where busybox's and coreutils' take 0.75 s), else sha256sum's.
sha256_of() {
	if command -v openssl > /dev/null 2>&1; then so_out=$(openssl dgst -sha256 -r ${1:+"$1"}) || return 1
	else so_out=$(sha256sum ${1:+"$1"}) || return 1; fi
	echo "${so_out%% *}"
}

# meta_get FILE.db KEY: KEY's value in the snapshot's .meta (empty without one).
meta_get() { sed -n "s/^$2=//p" "${1%.db}.meta" 2>/dev/null; }
# snapshot_revision FILE.db: the etcd revision its .meta records, or nothing when it records none (or not a number).
# (Read by the shell alone: retention reads every kept snapshot's .meta at each backup run.)
snapshot_revision() {
	sr=
	[ -r "${1%.db}.meta" ] || return 0
	while IFS= read -r sr_line; do
		case $sr_line in revision=*) sr=${sr_line#revision=}; break ;; esac
	done < "${1%.db}.meta"
	case $sr in '' | *[!0-9]*) ;; *) echo "$sr" ;; esac
}

# keep_newest DIR N: the newest N snapshots of DIR kept (NAME.db with its NAME.meta), the others removed. Newest by
# the etcd revision its .meta records, which only grows, then by name: a clock stepped back, which makes a new name
# sort before the old ones, never makes the newest snapshot go.
keep_newest() {
	for kn_db in "$1"/*.db; do
		[ -f "$kn_db" ] || continue
		kn_rev=$(snapshot_revision "$kn_db")
		echo "${kn_rev:-0} ${kn_db##*/}" # none recorded: the oldest
	done | sort -k1,1nr -k2,2r | tail -n +$(($2 + 1)) | while read -r _ kn_old; do
		rm -f "$1/$kn_old" "$1/${kn_old%.db}.meta"
	done
}
