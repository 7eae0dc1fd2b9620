#!/bin/sh
# 34-snapsum.t: kiln-snapsum, the masters' check of a snapshot their backup job has just taken, and the backup job
# itself (etcd-backup, the image's script) on the build host against Debian's etcd on loopback. kiln-snapsum must
# accept what `etcdctl snapshot save` writes and give the same sha256 and size as sha256sum and stat, in one read;
# refuse a snapshot with one byte changed, one cut short, and one whose appended hash is not of its content; get the
# edges of its reading right (the hashed part ending exactly at the end of a read, a file of only the hash). The
# backup run then writes a .meta whose sha256 and size are the file's. Retention (keep_newest, the shell alone) keeps
# the newest by revision, then by the time in the name, one without a revision counting as the oldest.
. tests/system/lib/tap.sh
SNAPSUM=$KILN_BUILD/tools/kiln-snapsum
BACKUP=$TOP/images/master/rootfs/usr/libexec/kiln/etcd-backup
[ -x "$SNAPSUM" ] || bail "no $SNAPSUM: run make"
command -v etcd > /dev/null && command -v etcdctl > /dev/null || bail "no etcd or etcdctl on the build host: run make deps"
plan 8

T=$(mktemp -d "${TMPDIR:-/tmp}/kiln-snapsum.XXXXXX")
port=$((40000 + $$ % 10000))
etcd_pid=
cleanup() { [ -z "$etcd_pid" ] || { kill "$etcd_pid" 2>/dev/null; wait "$etcd_pid" 2>/dev/null; }; rm -rf "$T"; }
trap cleanup EXIT
trap 'exit 2' INT TERM
. "$TOP/tools/etcd-scratch.sh"
etcd_scratch "$T" "$port" 2> "$T/why" || bail "$(cat "$T/why")"
# About 3 MB of values: the file spans several of kiln-snapsum's 1 MiB reads.
i=0
while [ $i -lt 12 ]; do head -c 250000 /dev/urandom | etcdctl put "/t/v$i" > /dev/null || bail "etcdctl put"; i=$((i + 1)); done
etcdctl snapshot save "$T/s.db" > /dev/null 2>&1 || bail "etcdctl snapshot save"
size=$(stat -c %s "$T/s.db") sum=$(sha256sum < "$T/s.db" | cut -c1-64)

out=$("$SNAPSUM" "$T/s.db" 2>&1; echo "rc=$?")
if [ "$out" = "$sum $size
rc=0" ] && [ "$size" -gt 2097152 ]; then ok "a snapshot etcdctl saved ($size bytes): its sha256 and size, as sha256sum and stat give them"
else not_ok "a good snapshot's sha256 and size"; diag "want $sum $size" "$out"; fi

# One byte changed in the middle (inside a read, away from its ends).
cp "$T/s.db" "$T/bad.db"
printf 'X' | dd of="$T/bad.db" bs=1 seek=$((size / 2 + 7)) conv=notrunc status=none
out=$("$SNAPSUM" "$T/bad.db" 2>&1; echo "rc=$?")
if [ "$out" = "its integrity hash does not match its content (damaged)
rc=1" ]; then ok "one byte changed: refused as damaged"; else not_ok "one byte changed is refused"; diag "$out"; fi

# Cut short (a copy that stopped), and cut to a whole number of 512-byte blocks plus 32 (the length looks right).
head -c $((size - 100)) "$T/s.db" > "$T/short.db"
head -c $((size - 512)) "$T/s.db" > "$T/short2.db"
out=$("$SNAPSUM" "$T/short.db" 2>&1; echo "rc=$?"; "$SNAPSUM" "$T/short2.db" 2>&1; echo "rc=$?")
if [ "$out" = "no integrity hash appended ($((size - 100)) bytes)
rc=1
its integrity hash does not match its content (damaged)
rc=1" ]; then ok "cut short: refused (no hash where one belongs; a hash that is not of the rest)"
else not_ok "a snapshot cut short is refused"; diag "$out"; fi

# The hashed part ending exactly at the end of a 1 MiB read (the hash alone in the next), and a file that is only
# the hash of nothing: both accepted, with their sha256.
head -c 2097152 /dev/urandom > "$T/edge.db"
openssl dgst -sha256 -binary < "$T/edge.db" > "$T/edge.sum" && cat "$T/edge.sum" >> "$T/edge.db"
openssl dgst -sha256 -binary < /dev/null > "$T/empty.db"
out=$("$SNAPSUM" "$T/edge.db" 2>&1; echo "rc=$?"; "$SNAPSUM" "$T/empty.db" 2>&1; echo "rc=$?")
if [ "$out" = "$(sha256sum < "$T/edge.db" | cut -c1-64) 2097184
rc=0
$(sha256sum < "$T/empty.db" | cut -c1-64) 32
rc=0" ]; then ok "the hashed part ending at a read's end, and a file of the hash alone: accepted, their sha256 right"
else not_ok "the edges of the reads"; diag "$out"; fi

out=$("$SNAPSUM" "$T/none.db" 2>&1; echo "rc=$?"; "$SNAPSUM" "$T" 2>&1; echo "rc=$?"; "$SNAPSUM" 2>&1; echo "rc=$?")
if echo "$out" | grep -qx "cannot read $T/none.db: No such file or directory" && echo "$out" | grep -qx "$T is not a file" &&
	[ "$(echo "$out" | grep -c '^rc=1$')" = 2 ] && echo "$out" | grep -qx 'rc=2'; then
	ok "a missing file and a folder: one line each saying so, exit 1; no argument: usage, exit 2"
else not_ok "missing file, folder, usage"; diag "$out"; fi

# The backup job as a master runs it (without the copy to another master), with kiln-snapsum on its PATH.
out=$(PATH=$KILN_BUILD/tools:$PATH BACKUP_DIR=$T/backup BACKUP_KEEP=2 BACKUP_COPY_TO= sh "$BACKUP" 2>&1; echo "rc=$?")
db=$(ls "$T/backup"/*.db 2>/dev/null | head -n 1)
if echo "$out" | grep -q '^etcd-backup: ok: .* [0-9][0-9]* keys, [0-9]* bytes' && echo "$out" | grep -qx 'rc=0' && [ -n "$db" ] &&
	grep -qx "sha256=$(sha256sum < "$db" | cut -c1-64)" "${db%.db}.meta" && grep -qx "size=$(stat -c %s "$db")" "${db%.db}.meta"; then
	ok "etcd-backup: $(echo "$out" | head -n 1 | cut -c1-90); its .meta's sha256 and size are the file's"
else not_ok "etcd-backup's run and its .meta"; diag "$out" "$(cat "${db%.db}.meta" 2>/dev/null)"; fi

# Without kiln-snapsum the run fails, saying so, and keeps nothing half-made.
out=$(PATH=/usr/bin:/bin BACKUP_DIR=$T/backup2 BACKUP_KEEP=2 BACKUP_COPY_TO= sh "$BACKUP" 2>&1; echo "rc=$?")
if echo "$out" | grep -q '^etcd-backup: failed: .*kiln-snapsum' && echo "$out" | grep -qx 'rc=1' &&
	[ -z "$(ls -A "$T/backup2")" ]; then ok "without kiln-snapsum: failed, naming it; nothing left in the backup folder"
else not_ok "a run without kiln-snapsum"; diag "$out" "$(ls -A "$T/backup2")"; fi

# Retention: by revision (a clock stepped back gave the newest the earliest name), then by the name's time; no .meta
# or a revision that is not a number counts as the oldest.
. "$TOP/images/master/rootfs/usr/libexec/kiln/snapshot.sh"
r=$T/keep
mkdir -p "$r"
kept() { ls "$r" | sed -n 's/\.db$//p' | tr '\n' ' '; }
mk() { : > "$r/$1.db"; [ -z "$2" ] || printf 'name=%s\nrevision=%s\n' "$1" "$2" > "$r/$1.meta"; }
mk 20261204T100000Z-m1 10; mk 20261204T110000Z-m1 20; mk 20261204T120000Z-m1 20; mk 20261204T090000Z-m1 30
mk odd ""; mk 20261204T130000Z-m1 abc
keep_newest "$r" 3; three=$(kept) metas=$(ls "$r" | grep -c '\.meta$')
keep_newest "$r" 1; one=$(kept)
if [ "$three" = "20261204T090000Z-m1 20261204T110000Z-m1 20261204T120000Z-m1 " ] && [ "$metas" = 3 ] &&
	[ "$one" = "20261204T090000Z-m1 " ] && [ "$(ls "$r" | wc -l)" = 2 ]; then
	ok "retention: keep 3 of 6 keeps revision 30 (the earliest name) and both of revision 20, with their .meta; keep 1: revision 30"
else not_ok "retention by revision, then time"; diag "keep 3: $three ($metas .meta)" "keep 1: $one" "$(ls "$r")"; fi
