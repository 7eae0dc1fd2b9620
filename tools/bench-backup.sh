#!/bin/sh
# bench-backup.sh: what the master's etcd-backup run costs over a bare `etcdctl snapshot save` of the same data, for
# an etcd holding 10 MB and 100 MB of values. Both run on the build host, side by side, against one etcd on
# loopback (Debian's etcd, the one the images carry): the backup run is the image's own script (health and lag
# check, snapshot, integrity hash and trial restore, metadata, rename, retention), without the copy to another
# master. Goal: the verified backup under 2x the bare snapshot.
set -eu
LC_ALL=C
export LC_ALL
top=$(cd "$(dirname "$0")/.." && pwd)
# The image's kiln-snapsum (the snapshot's integrity hash and sha256 in one read), as built for the host.
PATH=${KILN_BUILD:-$top/build}/tools:$PATH
command -v kiln-snapsum > /dev/null || { echo "bench-backup: no kiln-snapsum in ${KILN_BUILD:-$top/build}/tools: run make first" >&2; exit 1; }
t=$(mktemp -d "${TMPDIR:-/tmp}/kiln-bench-backup.XXXXXX")
port=$((30000 + $$ % 10000))
etcd_pid=
# (wait's status is etcd's, non-zero after the kill: under set -e it ended the trap before the rm, which left the
# run's folder and its few hundred MB in /tmp)
trap '[ -z "$etcd_pid" ] || { kill $etcd_pid 2>/dev/null; wait $etcd_pid 2>/dev/null || :; }; rm -rf "$t"' EXIT
. "$top/tools/etcd-scratch.sh"
etcd_scratch "$t" "$port" || exit 1
now() { date +%s.%N; }
secs() { awk -v s="$1" -v e="$2" 'BEGIN { printf "%.3f", e - s }'; } # ms: a 10 MB snapshot takes about 0.1 s
filled=0
# fill MB: values of 1 MB until etcd holds MB of them.
fill() {
	while [ "$filled" -lt "$1" ]; do
		head -c 1000000 /dev/urandom | etcdctl put "/bench/v$filled" > /dev/null
		filled=$((filled + 1))
	done
}
# Each size: BENCH_BACKUP_RUNS runs (9 unless set: a 10 MB pair takes a third of a second, and single pairs range
# from 1.5 to 2.4 on a busy 2-core host), each a bare snapshot then a backup run, one after the other; the ratio
# printed is the median of the runs' own ratios (a busy host slows both of a pair alike, not the runs far apart).
runs=${BENCH_BACKUP_RUNS:-9}
median() { printf '%s\n' $1 | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
for mb in 10 100; do
	fill "$mb"
	i=1 bares= fulls= ratios= failed=
	while [ $i -le "$runs" ]; do
		s=$(now); etcdctl snapshot save "$t/bare.db" > /dev/null 2>&1; bare=$(secs "$s" "$(now)")
		size=$(stat -c %s "$t/bare.db"); rm -f "$t/bare.db"
		s=$(now)
		out=$(BACKUP_DIR=$t/backup BACKUP_KEEP=1 BACKUP_COPY_TO= sh "$top/images/master/rootfs/usr/libexec/kiln/etcd-backup" 2>&1) ||
			{ failed=$out; break; }
		full=$(secs "$s" "$(now)")
		bares="$bares $bare" fulls="$fulls $full"
		ratios="$ratios $(awk -v a="$full" -v b="$bare" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')"
		i=$((i + 1))
	done
	[ -z "$failed" ] || { echo "$mb MB: the backup run failed: $failed"; continue; }
	echo "$mb MB of values ($((size / 1048576)) MiB snapshot), $runs runs: bare snapshot save$bares s," \
		"verified backup$fulls s; ratios$ratios, median $(median "$ratios") (goal < 2)"
done
