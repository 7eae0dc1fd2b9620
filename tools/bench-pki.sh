#!/bin/sh
# bench-pki.sh [KILN]: how long `kiln render` takes to issue a fresh PKI (and write every identity) for a
# cluster of 100 and of 1000 nodes, then a second render that reuses it; prints the times and their ratio.
# The cost should grow linearly: 10x the nodes, about 10x the time.
set -eu
LC_ALL=C
export LC_ALL
top=$(cd "$(dirname "$0")/.." && pwd)
kiln=${1:-${KILN_BUILD:-$top/build}/tools/kiln}
[ -x "$kiln" ] || make -s -C "$top/tools" O="$(dirname "$kiln")" all
t=$(mktemp -d "${TMPDIR:-/tmp}/kiln-bench.XXXXXX")
trap 'rm -rf "$t"' EXIT

# cluster N: 3 masters and N nodes on a /22, a /14 of pods (1023 node subnets).
cluster() {
	printf 'name: bench\nkubernetes_version: v1.30.0\nnetworks:\n  infrastructure: 10.0.0.0/22\n'
	printf '  services: 10.254.0.0/24\n  pods: 10.200.0.0/14\nmasters:\n'
	for i in 1 2 3; do printf '  - {name: m%d, mac: "52:54:00:00:00:%02x", address: 10.0.0.%d}\n' $i $i $((10 + i)); done
	printf 'nodes:\n'
	i=1
	while [ $i -le "$1" ]; do
		a=$((i + 20))
		printf '  - {name: n%d, mac: "52:54:00:01:%02x:%02x", address: 10.0.%d.%d}\n' $i $((i / 256)) $((i % 256)) \
			$((a / 256)) $((a % 256))
		i=$((i + 1))
	done
}

now() { date +%s.%N; }
# run N: seconds for a first render (every key and cert issued) and a second one (all reused).
run() {
	cluster "$1" > "$t/c$1.yaml"
	s=$(now)
	"$kiln" render "$t/c$1.yaml" --out "$t/out$1" --pki "$t/pki$1" --rootfs "$top/rootfs" >/dev/null
	m=$(now)
	"$kiln" render "$t/c$1.yaml" --out "$t/out$1" --pki "$t/pki$1" --rootfs "$top/rootfs" >/dev/null
	e=$(now)
	echo "$(echo "$m - $s" | bc) $(echo "$e - $m" | bc)"
}

set -- $(run 100)
f100=$1 r100=$2
set -- $(run 1000)
f1000=$1 r1000=$2
printf '%-6s %12s %12s\n' nodes "issue (s)" "reuse (s)"
printf '%-6s %12.3f %12.3f\n' 100 "$f100" "$r100" 1000 "$f1000" "$r1000"
printf 'ratio 1000/100: issue %.1f, reuse %.1f (linear is 10)\n' "$(echo "$f1000 / $f100" | bc -l)" \
	"$(echo "$r1000 / $r100" | bc -l)"
