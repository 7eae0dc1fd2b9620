#!/bin/sh
# 32-backup-copy.t: the channel that copies etcd snapshots between masters (etcd-backup-copy under socat, as the
# master image runs it), on loopback with the example cluster's certificates: m1's receiver, m2's backup client.
# Only a master's etcd-backup certificate of the etcd CA may write, and only its own master's snapshots; a client of
# the Kubernetes CA, or a receiver that is not an etcd member, is refused; a copy that is damaged in transit, does
# not fit, or would put its sender over its quota is refused and leaves the earlier copies intact; retention keeps
# BACKUP_KEEP per sender; two connections that stall in the TLS handshake hold the receiver's two slots for 30 s at
# most, after which a copy goes through.
. tests/system/lib/tap.sh
P=$KILN_OUT/cluster/machines
COPY=$TOP/images/master/rootfs/usr/libexec/kiln/etcd-backup-copy
[ -f "$P/m2/identity/pki/etcd/backup.crt" ] || bail "no rendered cluster: run 'make' first"
command -v socat > /dev/null || bail "socat is not installed (make deps)"
plan 12

T=$(mktemp -d "${TMPDIR:-/tmp}/kiln-copy.XXXXXX")
pids=
cleanup() { for p in $pids; do kill "$p" 2>/dev/null; done; umount "$T/full" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
trap 'exit 2' INT TERM

m1=$P/m1/identity/pki m2=$P/m2/identity/pki
# receiver PORT DIR CERT KEY [KEEP]: socat's TLS listener on loopback with the options of service
# etcd-backup-receiver (read from its file), its port, certificate and key replaced.
listen=$(sed -n 's/.*\(OPENSSL-LISTEN:2390,[^ ]*\).*/\1/p' "$TOP/images/master/rootfs/etc/kiln/services/etcd-backup-receiver")
case $listen in *max-children=2,setsockopt=*,cert=*,key=*,cafile=*,verify=1) ;; *) bail "the receiver's options: '$listen'" ;; esac
receiver() {
	BACKUP_DIR=$2 BACKUP_KEEP=${5:-3} socat -T 20 \
		"$(echo "$listen" | sed "s|:2390,|:$1,bind=127.0.0.1,|; s|cert=[^,]*|cert=$3|; s|key=[^,]*|key=$4|; s|cafile=[^,]*|cafile=$m1/etcd/ca.crt|")" \
		"EXEC:$COPY receive" 2>> "$T/receiver.log" &
	pids="$pids $!"
	i=0; while ! ss -ltn "sport = :$1" | grep -q LISTEN && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
}
port=$((20000 + $$ % 20000))
receiver $port "$T/in" "$m1/etcd/member.crt" "$m1/etcd/member.key"

# snap NAME MIB: a snapshot-sized file and its .meta as etcd-backup writes them (content is opaque to the copy).
snap() {
	head -c "$(($2 * 1048576))" /dev/urandom > "$T/out/$1.db"
	printf 'name=%s\nrevision=42\nkeys=7\nsha256=%s\n' "$1" "$(sha256sum "$T/out/$1.db" | cut -d' ' -f1)" > "$T/out/$1.meta"
}
# send NAME [PKI-DIR [PORT]]: copy with a client identity (default m2's etcd-backup certificate).
send() { BACKUP_COPY_PORT=${3:-$port} BACKUP_PKI=${2:-$m2/etcd} sh "$COPY" send "$T/out/$1.db" 127.0.0.1; }
mkdir -p "$T/out"

snap 20261125T100000Z-m2 3
out=$(send 20261125T100000Z-m2)
if [ "$?" = 0 ] && cmp -s "$T/out/20261125T100000Z-m2.db" "$T/in/from-m2/20261125T100000Z-m2.db" &&
	grep -qx revision=42 "$T/in/from-m2/20261125T100000Z-m2.meta"; then
	ok "a 3 MiB snapshot reaches the other master byte for byte, with its metadata: $out"
else not_ok "a snapshot is copied"; diag "$out" "$(ls -lR "$T/in")" "$(cat "$T/receiver.log")"; fi

for n in 1 2 3; do snap 20261125T11000${n}Z-m2 1; send 20261125T11000${n}Z-m2 > /dev/null; done
if [ "$(ls "$T/in/from-m2" | grep -c '\.db$')" = 3 ] && [ ! -e "$T/in/from-m2/20261125T100000Z-m2.db" ] &&
	[ -e "$T/in/from-m2/20261125T110003Z-m2.db" ]; then
	ok "retention keeps the newest BACKUP_KEEP (3) copies of a sender"
else not_ok "retention keeps the newest 3"; diag "$(ls "$T/in/from-m2")"; fi

before=$(ls -l "$T/in/from-m2" | sha256sum)
# Another certificate of the etcd CA (the apiserver's etcd client): authenticated, but not allowed to write.
mkdir -p "$T/apiclient"
cp "$m1/apiserver-etcd-client.crt" "$T/apiclient/backup.crt"; cp "$m1/apiserver-etcd-client.key" "$T/apiclient/backup.key"
cp "$m1/etcd/ca.crt" "$T/apiclient/ca.crt"
snap 20261125T120000Z-m1 1
out=$(send 20261125T120000Z-m1 "$T/apiclient")
if [ "$?" != 0 ] && echo "$out" | grep -q "only a master's etcd-backup certificate" && [ ! -e "$T/in/from-m1" ]; then
	ok "the apiserver's etcd client certificate is refused: $out"
else not_ok "a certificate other than etcd-backup is refused"; diag "$out"; fi

# m2's own backup certificate with a snapshot named as m1's: it may not write into m1's folder.
out=$(send 20261125T120000Z-m1)
if [ "$?" != 0 ] && echo "$out" | grep -q "certificate etcd-backup:m2 may send only m2's snapshots" && [ ! -e "$T/in/from-m1" ]; then
	ok "a master cannot send snapshots in another master's name: $out"
else not_ok "a master's certificate sends only its own snapshots"; diag "$out" "$(ls "$T/in")"; fi

# A client of the Kubernetes CA: the TLS handshake itself fails.
mkdir -p "$T/kube"
cp "$m1/apiserver-kubelet-client.crt" "$T/kube/backup.crt"; cp "$m1/apiserver-kubelet-client.key" "$T/kube/backup.key"
cp "$m1/etcd/ca.crt" "$T/kube/ca.crt"
out=$(send 20261125T120000Z-m1 "$T/kube")
if [ "$?" != 0 ] && [ ! -e "$T/in/from-m1" ]; then ok "a Kubernetes CA certificate cannot connect: $out"
else not_ok "a Kubernetes CA client is refused"; diag "$out"; fi

# A receiver with a Kubernetes CA server certificate: the sender refuses to hand it the snapshot.
receiver $((port + 1)) "$T/in-kube" "$m1/apiserver.crt" "$m1/apiserver.key"
out=$(send 20261125T110003Z-m2 "" $((port + 1)))
if [ "$?" != 0 ] && [ ! -e "$T/in-kube/from-m2" ]; then ok "the sender refuses a receiver that is not an etcd member: $out"
else not_ok "the sender checks the receiver"; diag "$out"; fi

# Damaged in transit: the .meta's sha256 does not match the bytes.
snap 20261125T130000Z-m2 1
sed -i 's/^sha256=.*/sha256=0000000000000000000000000000000000000000000000000000000000000000/' "$T/out/20261125T130000Z-m2.meta"
out=$(send 20261125T130000Z-m2)
if [ "$?" != 0 ] && echo "$out" | grep -q 'sha256 mismatch' && [ "$(ls -l "$T/in/from-m2" | sha256sum)" = "$before" ]; then
	ok "a copy whose sha256 does not match is refused, the earlier copies untouched: $out"
else not_ok "a damaged copy is refused"; diag "$out" "$(ls -l "$T/in/from-m2")"; fi

# A receiver whose disk is full: 2 MiB of room for a 3 MiB snapshot, with a good copy already there.
mkdir -p "$T/full"
mount -t tmpfs -o size=2m kiln-test "$T/full" || bail "cannot mount a tmpfs"
receiver $((port + 2)) "$T/full" "$m1/etcd/member.crt" "$m1/etcd/member.key"
snap 20261125T140000Z-m2 1
send 20261125T140000Z-m2 "" $((port + 2)) > /dev/null
snap 20261125T150000Z-m2 3
out=$(send 20261125T150000Z-m2 "" $((port + 2)))
if [ "$?" != 0 ] && echo "$out" | grep -q 'error: stored [0-9]* of 3145728 bytes' &&
	[ "$(ls "$T/full/from-m2")" = "$(printf '20261125T140000Z-m2.db\n20261125T140000Z-m2.meta')" ] &&
	cmp -s "$T/out/20261125T140000Z-m2.db" "$T/full/from-m2/20261125T140000Z-m2.db"; then
	ok "a full disk at the receiver: refused with the reason, no partial file, the earlier copy intact: $out"
else not_ok "a full receiver refuses cleanly"; diag "$out" "$(ls -l "$T/full/from-m2")"; fi

# The quota: with 4 MiB per sender and 2 MiB kept, a 3 MiB copy is refused; what is there stays.
BACKUP_COPY_QUOTA_MIB=4 receiver $((port + 4)) "$T/quota" "$m1/etcd/member.crt" "$m1/etcd/member.key"
for n in 1 2; do snap 20261125T16000${n}Z-m2 1; send 20261125T16000${n}Z-m2 "" $((port + 4)) > /dev/null; done
snap 20261125T160003Z-m2 3
out=$(send 20261125T160003Z-m2 "" $((port + 4)))
if [ "$?" != 0 ] && echo "$out" | grep -q 'm2 would hold 5242880 bytes here, over its quota of 4 MiB' &&
	[ "$(ls "$T/quota/from-m2" | grep -c '\.db$')" = 2 ] && [ ! -e "$T/quota/from-m2/20261125T160003Z-m2.db" ]; then
	ok "a copy that would put its sender over its quota is refused, its earlier copies kept: $out"
else not_ok "the per-sender quota"; diag "$out" "$(ls -l "$T/quota/from-m2" 2>&1)"; fi

# Garbage instead of a header, and a name that would escape the folder.
out=$(printf 'GET / HTTP/1.0\n\n' | socat -T 10 - "OPENSSL:127.0.0.1:$port,cert=$m2/etcd/backup.crt,key=$m2/etcd/backup.key,cafile=$m2/etcd/ca.crt,verify=1" 2>&1)
out2=$(printf 'kiln-backup 1 ../../etc/x 1 %064d\nx' 0 | socat -T 10 - "OPENSSL:127.0.0.1:$port,cert=$m2/etcd/backup.crt,key=$m2/etcd/backup.key,cafile=$m2/etcd/ca.crt,verify=1" 2>&1)
if echo "$out" | grep -q 'not a kiln backup' && echo "$out2" | grep -q 'bad snapshot name' && [ ! -e "$T/etc" ]; then
	ok "a stray request and a path in the name are refused: $out / $out2"
else not_ok "bad headers are refused"; diag "$out" "$out2"; fi

# Two connections that never start the TLS handshake hold both slots; the receiver drops each after 30 s of silence
# and a copy started meanwhile goes through then.
for i in 1 2; do (sleep 45 | socat -u - "TCP:127.0.0.1:$port" > /dev/null 2>&1) & pids="$pids $!"; done
sleep 1
snap 20261125T170000Z-m2 1
t0=$(date +%s)
out=$(send 20261125T170000Z-m2)
rc=$? secs=$(($(date +%s) - t0))
if [ "$rc" = 0 ] && [ "$secs" -ge 20 ] && [ "$secs" -le 40 ] && [ -e "$T/in/from-m2/20261125T170000Z-m2.db" ]; then
	ok "two connections stalled before the TLS handshake hold the receiver for 30 s at most: the next copy went through in $secs s"
else not_ok "a stalled handshake frees its slot"; diag "rc $rc after $secs s: $out" "$(tail -n 5 "$T/receiver.log")"; fi

# The sender names what went wrong when nobody listens.
out=$(send 20261125T110003Z-m2 "" $((port + 3)))
if [ "$?" != 0 ] && echo "$out" | grep -qi 'refused'; then ok "no receiver: the sender says so: $out"
else not_ok "no receiver is reported"; diag "$out"; fi
done_testing
