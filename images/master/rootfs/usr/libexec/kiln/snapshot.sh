# snapshot.sh: what the master's etcd snapshot tools share (sourced by etcd-backup, etcd-backup-copy, kiln-restore).

# snapshot_trial FILE SCRATCH [--skip-hash-check]: FILE restored into the folder SCRATCH as a one-member cluster
# nothing can reach: etcd checks the integrity hash etcdctl appended (unless the caller checks it itself: etcd-backup's
# kiln-snapsum) and that the file makes a member. The caller removes SCRATCH with the rest of its scratch files (one
# rm fewer in a backup run). On failure, etcd's reason (its error line; its log lines are JSON) on stdout, and status 1.
snapshot_trial() {
	st_out=$(etcdctl snapshot restore "$1" --data-dir "$2" --name verify --initial-cluster verify=http://127.0.0.1:1 \
		--initial-advertise-peer-urls http://127.0.0.1:1 ${3:-} 2>&1)
	st_rc=$?
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
snapshot_revision() { snapshot_revision_is "$1"; [ -z "$sr" ] || echo "$sr"; }
# snapshot_revision_is FILE.db: the same in $sr, read by the shell alone (retention reads every kept snapshot's .meta
# at each backup run).
snapshot_revision_is() {
	sr=
	[ -r "${1%.db}.meta" ] || return 0
	while IFS= read -r sr_line; do
		case $sr_line in revision=*) sr=${sr_line#revision=}; break ;; esac
	done < "${1%.db}.meta"
	case $sr in *[!0-9]* | ???????????????????*) sr= ;; esac # digits, fewer than 19
}

# keep_newest DIR N: the newest N snapshots of DIR kept (NAME.db with its NAME.meta), the others removed. Newest by
# the etcd revision its .meta records, which only grows, then by the time in its name (YYYYMMDDTHHMMSSZ-host): a
# clock stepped back, which makes a new name older than the kept ones, never makes the newest snapshot go. One
# without a revision, or a name of another form, counts as the oldest. The shell alone but for the rm (it runs at
# every backup): while there are more than N, the oldest is found and removed (one a run, once DIR holds N).
keep_newest() {
	while :; do
		kn_n=0 kn_old=
		for kn_db in "$1"/*.db; do
			[ -f "$kn_db" ] || continue
			kn_n=$((kn_n + 1))
			snapshot_revision_is "$kn_db"
			kn_t=${kn_db##*/} && kn_t=${kn_t%%Z-*} && kn_t=${kn_t%T*}${kn_t#*T}
			case $kn_t in '' | *[!0-9]* | ???????????????*) kn_t=0 ;; esac
			if [ -z "$kn_old" ] || [ "${sr:-0}" -lt "$kn_old_rev" ] || { [ "${sr:-0}" -eq "$kn_old_rev" ] && [ "$kn_t" -lt "$kn_old_t" ]; }; then
				kn_old=$kn_db kn_old_rev=${sr:-0} kn_old_t=$kn_t
			fi
		done
		[ "$kn_n" -gt "$2" ] || return 0
		rm -f "$kn_old" "${kn_old%.db}.meta"
	done
}
