# etcd-scratch.sh: a throwaway etcd on loopback (sourced by tools/bench-backup.sh and tests/system/34-snapsum.t):
# Debian's etcd, the one the images carry, nothing else reaching it.
# etcd_scratch DIR PORT: etcd started with its data in DIR/etcd and its log in DIR/etcd.log, clients on PORT and
# peers on PORT + 1; etcd_pid and ETCDCTL_ENDPOINTS (exported, with ETCDCTL_API=3) set. Returns once it answers,
# or 1 after 10 s, its log's last line on stderr (etcd_pid is set then too, for the caller's cleanup).
etcd_scratch() {
	etcd --name scratch --data-dir "$1/etcd" --listen-client-urls "http://127.0.0.1:$2" \
		--advertise-client-urls "http://127.0.0.1:$2" --listen-peer-urls "http://127.0.0.1:$(($2 + 1))" \
		--initial-advertise-peer-urls "http://127.0.0.1:$(($2 + 1))" \
		--initial-cluster "scratch=http://127.0.0.1:$(($2 + 1))" > "$1/etcd.log" 2>&1 &
	etcd_pid=$!
	ETCDCTL_ENDPOINTS=http://127.0.0.1:$2 ETCDCTL_API=3
	export ETCDCTL_ENDPOINTS ETCDCTL_API
	es_i=0
	until etcdctl endpoint health > /dev/null 2>&1; do
		es_i=$((es_i + 1))
		[ $es_i -lt 100 ] || { echo "etcd did not start: $(tail -n 1 "$1/etcd.log")" >&2; return 1; }
		sleep 0.1
	done
}
