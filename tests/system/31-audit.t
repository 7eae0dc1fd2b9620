#!/bin/sh
# 31-audit.t: `scripts/audit.sh` (make audit) over the example cluster's images and identity archives passes, and
# each kind of leak it exists for is caught, on tampered copies in a temporary output tree: a key in a machine
# that the PKI table does not allow there, a key in a role image (initramfs, and inside a disk's system slot),
# a key that is not the PKI's, a key with loose mode or the wrong owner, a machine missing a key it needs, and the
# key that encrypts Secrets at rest in a node.
. tests/system/lib/tap.sh

plan 12
S=${SECRETS:-$TOP/secrets/cluster}
R=$KILN_OUT/cluster/machines
T=$(mktemp -d "${TMPDIR:-/tmp}/kiln-audit-t.XXXXXX")
trap 'rm -rf "$T"' EXIT
[ -f "$KILN_OUT/machines/m1/identity.cpio.gz" ] || bail "no machines built: run 'make' first"

if scripts/audit.sh "$S" "$KILN_OUT" > "$T/table" 2> "$T/err"; then
	ok "the example cluster passes: $(tail -n 1 "$T/table")"
else
	not_ok "the example cluster passes the audit"; diag "$(grep -v ' ok$' "$T/table")" "$(cat "$T/err")"
fi
# 12 master keys (the service-account key twice: the apiserver's and the controller-manager's copy; the log key twice:
# the forwarder's and the receiver's; 14 files, the metrics server's among them) and the encryption key (in
# encryption-config.yaml) in each master's archive and disk, 4 node keys in each node's (kubelet, kube-proxy, metrics,
# log); role images hold none.
check "the table has every master's 12 keys (14 files) and encryption key, every node's 4 keys, in archive and disk, and keyless role images" sh -c "
	[ \$(grep -c '^machines/m[123]/identity.cpio.gz .* ok\$' '$T/table') = 45 ] &&
	[ \$(grep -c '^machines/m[123]/disk.img  *p4/identity/pki/.* ok\$' '$T/table') = 45 ] &&
	[ \$(grep -c '^machines/m[123]/identity.cpio.gz  *etc/kiln/identity/pki/encryption-config.yaml  *encryption  *600  *201  *ok\$' '$T/table') = 3 ] &&
	[ \$(grep -c '^machines/n[12]/.* ok\$' '$T/table') = 16 ] &&
	[ \$(grep -c '^\(master\|node\)/.*(no private key)' '$T/table') = 4 ] || { cat '$T/table'; exit 1; }"

# tamper CASE MACHINE: a temporary output tree with MACHINE's identity tree copied for editing in $T/CASE/id.
tamper() {
	o=$T/$1/out
	mkdir -p "$o/machines/$2"
	cp -a "$R/$2/identity" "$T/$1/id"
	cp "$KILN_OUT/machines/$2/role" "$o/machines/$2/role"
}
# caught CASE MACHINE PATTERN DESCRIPTION: archive the edited tree, audit it: it must fail with PATTERN.
caught() {
	o=$T/$1/out
	scripts/mk-identity.sh "$T/$1/id" "$o/machines/$2/identity.cpio.gz" > /dev/null
	if scripts/audit.sh "$S" "$o" > "$T/$1/table" 2>&1; then
		not_ok "$4"; diag "the audit passed:" "$(cat "$T/$1/table")"
	elif grep -Eq "$3" "$T/$1/table"; then
		ok "$4: $(grep -E "$3" "$T/$1/table" | head -n 1 | tr -s ' ' | cut -d' ' -f2-)"
	else
		not_ok "$4"; diag "$(cat "$T/$1/table")"
	fi
}

tamper etcdca n1
install -m 0600 "$S/etcd-ca.key" "$T/etcdca/id/pki/etcd-ca.key"
caught etcdca n1 'etcd-ca.key +etcd-ca .*FAIL: not allowed in n1' "the etcd CA key in a node is caught"

tamper loose m2
chmod 0640 "$T/loose/id/pki/scheduler.key"
caught loose m2 'scheduler.key .*FAIL: mode 640' "a key with mode 0640 is caught"

tamper owner m3
sed -i 's|^pki/etcd/member.key 0600 etcd 200:200$|pki/etcd/member.key 0600 root 0:0|' "$T/owner/id/MANIFEST"
caught owner m3 'member.key +machines/m3/etcd .*FAIL: owner 0, not 200' "etcd's key owned by root instead of etcd is caught"

# On the build host: a key readable by others, and a machine's archive given to another user.
tamper hostkey n1
cp "$KILN_OUT/machines/n1/identity.cpio.gz" "$T/hostkey/out/machines/n1/"
install -m 0644 "$S/kube-proxy.key" "$T/hostkey/out/stray.key"
if scripts/audit.sh "$S" "$T/hostkey/out" > "$T/hostkey/table" 2>&1; then
	not_ok "a key readable by others on the build host is caught"; diag "$(cat "$T/hostkey/table")"
elif grep -Eq '^host:stray.key .*FAIL: mode 644: others may read it' "$T/hostkey/table"; then
	ok "a key readable by others on the build host is caught: $(grep '^host:stray' "$T/hostkey/table" | tr -s ' ')"
else not_ok "a key readable by others on the build host is caught"; diag "$(cat "$T/hostkey/table")"; fi
rm "$T/hostkey/out/stray.key"
chown 201 "$T/hostkey/out/machines/n1/identity.cpio.gz"
if ! scripts/audit.sh "$S" "$T/hostkey/out" > "$T/hostkey/table" 2>&1 &&
	grep -Eq '^host:machines/n1/identity.cpio.gz .*FAIL: owner 201, not root' "$T/hostkey/table"; then
	ok "an identity archive owned by another user on the build host is caught"
else not_ok "an identity archive owned by another user on the build host is caught"; diag "$(cat "$T/hostkey/table")"; fi

tamper other n2
install -m 0600 "$R/n1/identity/pki/kubelet.key" "$T/other/id/pki/n1-kubelet.key"
caught other n2 'machines/n1/kubelet .*FAIL: not allowed in n2' "another node's kubelet key in n2 is caught"

tamper missing m1
rm "$T/missing/id/pki/controller-manager.key"
sed -i '/^pki\/controller-manager.key /d' "$T/missing/id/MANIFEST"
caught missing m1 'controller-manager +- +- +FAIL: missing' "a master without its controller-manager key is caught"

tamper enc n2
install -m 0600 "$R/m1/identity/pki/encryption-config.yaml" "$T/enc/id/pki/encryption-config.yaml"
caught enc n2 'encryption-config.yaml +encryption .*FAIL: not allowed in n2' "the key encrypting Secrets at rest in a node is caught"

tamper unknown n1
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/unknown/id/pki/stray.key" 2>/dev/null
chmod 0600 "$T/unknown/id/pki/stray.key"
caught unknown n1 'stray.key +\(not a key of the PKI\) .*FAIL: unknown key' "a key that is not the PKI's is caught"

# A key inside a role disk's system slot A (p2): written into a sparse copy of the node disk with debugfs.
o=$T/slot/out
mkdir -p "$o/node"
cp --sparse=always "$KILN_OUT/node/disk.img" "$o/node/disk.img"
start=$(sfdisk -d "$o/node/disk.img" | sed -n 's/.*img2 : start= *\([0-9]*\),.*/\1/p')
debugfs -w -R "write $S/kube-proxy.key /etc/kiln/leaked.key" "$o/node/disk.img?offset=$((start * 512))" >/dev/null 2>&1
if scripts/audit.sh "$S" "$o" > "$T/slot.table" 2>&1; then
	not_ok "a key in a node disk's system slot is caught"; diag "$(cat "$T/slot.table")"
elif grep -q 'p2/etc/kiln/leaked.key *kube-proxy .*FAIL: not allowed in a node role image' "$T/slot.table"; then
	ok "a key in a node disk's system slot is caught"
else
	not_ok "a key in a node disk's system slot is caught"; diag "$(cat "$T/slot.table")"
fi
done_testing
