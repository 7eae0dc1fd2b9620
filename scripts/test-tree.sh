#!/bin/sh
# test-tree.sh CLUSTER DIR: the tests' copy of a cluster: CLUSTER with image.console_shell: true, built into DIR
# (DIR/out: cluster/, machines/, master/, node/, as `make` writes out/) with the cluster's own PKI (SECRETS). The QEMU
# tests, the benchmarks and the console-driven targets run on it: they drive each machine through its console
# shell, which a production cluster file (the example's) leaves out. Nothing else differs from CLUSTER's build.
. "$(dirname "$0")/lib.sh"

cluster=${1:?usage: test-tree.sh CLUSTER DIR}
dir=${2:?usage: test-tree.sh CLUSTER DIR}
[ -f "$cluster" ] || die "$cluster: no such cluster file"
[ -n "${SECRETS:-}" ] || die "SECRETS: the cluster's PKI folder is not set (make sets it)"
mkdir -p "$dir"

# The copy: image.console_shell set to true where the file has it, added to its image: section (at that section's
# indentation) or as a section of its own otherwise. Rewritten only when it changes, so make rebuilds nothing else.
awk '
function add() { if (!done) print (ind == "" ? "  " : ind) "console_shell: true  # the tests drive the consoles"; done = 1 }
/^image:[ \t]*(#.*)?$/ { img = 1; print; next }
img && /^[ \t]+console_shell:/ { match($0, /^[ \t]+/); print substr($0, 1, RLENGTH) "console_shell: true  # the tests drive the consoles"; done = 1; next }
img && /^[^ \t#]/ { add(); img = 0 }
img && ind == "" && /^[ \t]+[^ \t#]/ { match($0, /^[ \t]+/); ind = substr($0, 1, RLENGTH) }
{ print }
END { if (img) add(); else if (!done) print "image:\n  console_shell: true  # the tests drive the consoles" }
' "$cluster" > "$dir/cluster.yaml.tmp"
if cmp -s "$dir/cluster.yaml.tmp" "$dir/cluster.yaml"; then rm -f "$dir/cluster.yaml.tmp"
else mv "$dir/cluster.yaml.tmp" "$dir/cluster.yaml"; fi

say "the tests' tree of $cluster (with a console shell) in $dir/out"
make -s -C "$KILN_TOP" BUILD="$dir" OUT="$dir/out" CLUSTER="$dir/cluster.yaml" SECRETS="$SECRETS" images machines > "$dir/build.log" 2>&1 ||
	die "building the tests' tree failed (log: $dir/build.log): $(tail -n 3 "$dir/build.log" | tr '\n' ' ')"
[ "$(sed -n 's/^IMAGE_CONSOLE_SHELL=//p' "$dir/out/cluster/cluster.env")" = yes ] ||
	die "$dir/cluster.yaml: the copy has no console shell (image.console_shell not set to true)"
