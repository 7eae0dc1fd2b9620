# snapshot.sh: what the master's etcd snapshot tools share (sourced by etcd-backup, etcd-backup-copy, kiln-restore).

# snapshot_trial FILE SCRATCH: FILE restored into the folder SCRATCH (removed afterwards) as a one-member cluster
# nothing can reach: etcd checks the integrity hash etcdctl appended and that the file makes a member. On failure,
# etcd's reason (its error line; its log lines are JSON) on stdout, and status 1.
snapshot_trial() {
	st_out=$(etcdctl snapshot restore "$1" --data-dir "$2" --name verify --initial-cluster verify=http://127.0.0.1:1 \
		--initial-advertise-peer-urls http://127.0.0.1:1 2>&1)
	st_rc=$?
	rm -rf "$2"
	[ "$st_rc" = 0 ] && return 0
	echo "$st_out" | grep -v '^{' | grep . | tail -n 1 | grep . || echo "$st_out" | tail -n 1
	return 1
}

# keep_newest DIR N: the newest N snapshots of DIR kept (NAME.db with its NAME.meta; names sort by time), the
# others removed.
keep_newest() {
	ls "$1" | grep '\.db$' | sort -r | tail -n +$(($2 + 1)) | while read -r kn_old; do
		rm -f "$1/$kn_old" "$1/${kn_old%.db}.meta"
	done
}
