#!/bin/sh
# test-bad-clusters.sh KILN DIR: every DIR/NN-name.yaml must make `kiln check` print the substring in
# NN-name.expect (file:line: reason). A file named NN-warn-*.yaml is valid: exit 0, and the warning printed.
set -u
kiln=${1:?usage: test-bad-clusters.sh KILN DIR}
dir=${2:?usage: test-bad-clusters.sh KILN DIR}
pass=0 fail=0 n=0
for f in "$dir"/*.yaml; do
	n=$((n + 1))
	name=${f##*/}
	expect=$(cat "${f%.yaml}.expect" 2>/dev/null) || { echo "not ok $n - $name: no .expect file"; fail=$((fail + 1)); continue; }
	out=$(timeout 10 "$kiln" check "$f" 2>&1)
	rc=$?
	case $name in
	*-warn-*) want_ok=1 ;;
	*) want_ok=0 ;;
	esac
	if [ "$want_ok" = 1 ] && [ $rc -ne 0 ]; then
		why="exit $rc, expected 0"
	elif [ "$want_ok" = 0 ] && { [ $rc -eq 0 ] || [ $rc -gt 1 ]; }; then
		why="exit $rc, expected 1"
	elif ! printf '%s\n' "$out" | grep -qF -- "$expect"; then
		why="no '$expect' in the output"
	else
		why=
	fi
	if [ -z "$why" ]; then
		pass=$((pass + 1)); echo "ok $n - $name"
	else
		fail=$((fail + 1)); echo "not ok $n - $name: $why"; printf '%s\n' "$out" | sed 's/^/#   /'
	fi
done
echo "bad clusters: $pass passed, $fail failed, of $n"
[ "$fail" -eq 0 ] && [ "$n" -gt 0 ]
