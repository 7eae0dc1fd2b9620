#!/bin/sh
# 45-qemu-backup.t: the etcd backup job on a master (tests/clusters/solo.yaml's s1, its backup policy overridden to
# every 8 s, keep 2, by an extra archive for this test). It runs on schedule as the init's job; retention keeps
# exactly 2; each kept snapshot matches its recorded sha256 and passes etcd's own check; a full DATA and a stopped
# etcd make runs fail with a reason in `initctl status` while the kept snapshots stay intact, and the next run
# after the fault succeeds. etcd killed in the middle of a snapshot fails that run the same way. A damaged snapshot
# is found by kiln-restore (its sha256 against the .meta, else etcd's own integrity hash) and never restored:
# `kiln-restore cluster latest` passes over it and brings the member back from the newest good one.
. tests/system/lib/tap.sh
. tests/system/lib/vm.sh

plan 18
T=$VM_DIR/solo
mkdir -p "$T/x/etc/kiln/identity/env"
printf 'BACKUP_INTERVAL=8\nBACKUP_KEEP=2\n' > "$T/x/etc/kiln/identity/env/backup.env"
scripts/mk-initramfs.sh "$T/x" "$T/policy.cpio.gz" > /dev/null
solo_initrd "$T" "$T/policy.cpio.gz" || { diag "$(cat "$T/render.log")"; give_up "cannot render s1"; }
# The Kubernetes control plane is left out of this boot (kiln.disable; 60-cluster.t runs it).
vm_boot_ready s1 "master s1 with a backup every 8 s" 180 --mem 1024 --mac 52:54:00:00:01:11 --append kiln.disable=kube-apiserver \
	"$KILN_OUT/master/vmlinuz" "$T/initrd"

B=/data/backup/etcd
pki=/etc/kiln/identity/pki
vm_run s1 "ETCDCTL_CERT=$pki/apiserver-etcd-client.crt ETCDCTL_KEY=$pki/apiserver-etcd-client.key sh -c 'i=0; while [ \$i -lt 200 ]; do etcdctl put /kiln/k\$i v\$i > /dev/null || exit 1; i=\$((i + 1)); done'" 120 > /dev/null

# oks N SECONDS: wait until the job's log shows N successful runs.
oks() {
	end=$(($(date +%s) + $2))
	while [ "$(date +%s)" -lt "$end" ]; do
		n=$(vm_run s1 "grep -c 'etcd-backup: ok' /data/log/etcd-backup.log" 15 | tr -dc 0-9)
		[ "${n:-0}" -ge "$1" ] && return 0
		sleep 3
	done
	return 1
}
# fails N SECONDS: wait until `initctl status` counts N failed runs.
fails() {
	end=$(($(date +%s) + $2))
	while [ "$(date +%s)" -lt "$end" ]; do
		n=$(vm_run s1 "initctl status etcd-backup" 15 | sed -n 's/.* \([0-9]*\) failed,.*/\1/p')
		[ "${n:-0}" -ge "$1" ] && return 0
		sleep 3
	done
	return 1
}
if oks 4 90; then ok "the job ran on schedule: $(vm_run s1 "grep 'etcd-backup: ok' /data/log/etcd-backup.log | tail -n 1" 60)"
else not_ok "the job ran on schedule 4 times"; diag "$(vm_run s1 "initctl status etcd-backup; tail -n 5 /data/log/etcd-backup.log" 15)"; fi

# verify: every kept snapshot: its sha256 as recorded, and etcd's status of it.
# (a subshell: an exit must not end the console's shell)
verify='(cd '$B' && n=0 && for f in *.db; do m=${f%.db}.meta; [ "$(sha256sum $f | cut -d" " -f1)" = "$(sed -n "s/^sha256=//p" $m)" ] || { echo "$f: sha256 differs"; exit 1; }; etcdctl snapshot status $f -w simple > /dev/null || { echo "$f: status"; exit 1; }; n=$((n + 1)); done; echo kept=$n)'
# between runs: a run under way has its .new file and scratch folder
between='i=0; while initctl status etcd-backup | grep -q "^etcd-backup  *starting"; do sleep 0.5; i=$((i + 1)); [ $i -lt 30 ] || break; done'
# (generous: under make test the other lane's machines share the two cores, and each etcdctl start is slow under TCG)
out=$(vm_run s1 "$between; $verify; ls -la --color=never $B; stat -c '%a %U' $B" 150)
if echo "$out" | grep -qx 'kept=2' && echo "$out" | grep -qx '700 etcd' && ! echo "$out" | grep -q '\.new'; then
	ok "retention keeps exactly 2 snapshots, each matching its recorded sha256 and etcd's check; the folder is etcd's, 0700"
else not_ok "retention and verification of the kept snapshots"; diag "$out"; fi
out=$(vm_run s1 "initctl status etcd-backup" 15)
if echo "$out" | grep -Eq 'job every 8s, ([4-9]|[1-9][0-9]+) runs, 0 failed, .*last ok [0-9]+s ago'; then ok "initctl status: $(echo "$out" | tail -n 1 | tr -s ' ' | cut -d' ' -f6-)"
else not_ok "initctl status shows the job's successes"; diag "$out"; fi

# A full DATA: /data (a tmpfs here) shrunk to what it holds plus 1 MiB and filled, and the next run fails while
# the kept snapshots stay as they were (runs that fail rotate nothing).
# (between runs: a run already under way when DATA fills fails later, on its write, which is not what this checks)
vm_run s1 "$between; cd $B && sha256sum *.db *.meta > /tmp/kept.sums; mount -o remount,size=\$((\$(df -k /data | awk 'NR == 2 { print \$3 }') + 1024))k /data && dd if=/dev/zero of=/data/fill bs=64k 2>/dev/null; df -k /data | tail -n 1" 60 > /dev/null
nospace() { out=$(vm_run s1 "initctl status etcd-backup" 15) && echo "$out" | grep -q 'not enough space on DATA for a snapshot'; }
end=$(($(date +%s) + 60))
until nospace || [ "$(date +%s)" -ge "$end" ]; do sleep 3; done
if nospace; then
	ok "with DATA full the run fails before it writes, and status says why: $(echo "$out" | sed -n 's/.*last failure [0-9]*s ago: //p' | cut -c1-120)"
else not_ok "with DATA full the run fails"; diag "$(vm_run s1 "df -k /data; initctl status etcd-backup; tail -n 3 /data/log/etcd-backup.log" 15)"; fi
out=$(vm_run s1 "$between; cd $B && sha256sum -c /tmp/kept.sums && ls -a --color=never" 40)
if [ $? -eq 0 ] && ! echo "$out" | grep -q '\.new\|\.verify'; then ok "the kept snapshots are intact after the failed run, and it left no partial file"
else not_ok "the kept snapshots are intact after the failed run"; diag "$out"; fi
vm_run s1 "rm -f /data/fill; mount -o remount,size=50% /data" 30 > /dev/null
before=$(vm_run s1 "grep -c 'etcd-backup: ok' /data/log/etcd-backup.log" 15 | tr -dc 0-9)
if oks $((before + 1)) 60; then ok "once space is back, the next run succeeds"
else not_ok "once space is back, the next run succeeds"; diag "$(vm_run s1 "initctl status etcd-backup; tail -n 3 /data/log/etcd-backup.log" 15)"; fi

# The clock stepped back 30 minutes (certificates are valid from an hour before they were made): the next snapshot's
# name sorts before every kept one, and retention, by etcd revision, keeps it anyway. The clock is then put back.
latest() { vm_run s1 "$between; grep 'etcd-backup: ok' /data/log/etcd-backup.log | tail -n 1 | sed 's/.*ok: \([^ ]*\) .*/\1/'" 40 | tr -d '\r'; }
last=$(latest)
vm_run s1 "ETCDCTL_CERT=$pki/apiserver-etcd-client.crt ETCDCTL_KEY=$pki/apiserver-etcd-client.key etcdctl put /kiln/clock back > /dev/null; date -s @\$((\$(date +%s) - 1800)) > /dev/null" 20 > /dev/null
# until a run named after the step (one under way at the step keeps the name it was given before it)
stepped_run() { newest=$(latest); [ -n "$newest" ] && [ "$newest" != "$last" ] && [ "$(printf '%s\n%s\n' "$newest" "$last" | sort | head -n 1)" = "$newest" ]; }
end=$(($(date +%s) + 90))
until stepped_run || [ "$(date +%s)" -ge "$end" ]; do sleep 3; done
out=$(vm_run s1 "date -s @\$((\$(date +%s) + 1800)) > /dev/null; ls -1 --color=never $B" 20)
if [ -n "$newest" ] && echo "$out" | grep -qx "$newest.db" && [ "$(echo "$out" | grep -c '\.db$')" = 2 ] &&
	[ "$(echo "$out" | grep '\.db$' | sort | tail -n 1)" != "$newest.db" ]; then
	ok "with the clock stepped back, the newest snapshot ($newest) is kept though its name sorts first"
else not_ok "a clock stepped back does not make retention remove the newest snapshot"; diag "newest: $newest" "$out"; fi

# etcd stopped: the run is refused with the member's state as the reason, and nothing kept changes.
vm_run s1 "cd $B && sha256sum *.db *.meta > /tmp/kept.sums; initctl stop etcd" 40 > /dev/null
f0=$(vm_run s1 "initctl status etcd-backup" 15 | sed -n 's/.* \([0-9]*\) failed,.*/\1/p')
vm_run s1 "initctl start etcd-backup" 15 > /dev/null
if fails $((${f0:-0} + 1)) 60; then
	out=$(vm_run s1 "initctl status etcd-backup" 15)
	case $out in *"local member unhealthy"*) ok "with etcd stopped the run is skipped: $(echo "$out" | sed -n 's/.*last failure [0-9]*s ago: //p' | cut -c1-80)" ;;
	*) not_ok "with etcd stopped the run is skipped as unhealthy"; diag "$out" ;; esac
else not_ok "with etcd stopped the run fails"; diag "$(vm_run s1 "initctl status etcd-backup" 15)"; fi
out=$(vm_run s1 "cd $B && sha256sum -c /tmp/kept.sums" 30)
if [ $? -eq 0 ]; then ok "the kept snapshots are intact after the refused run"; else not_ok "kept snapshots intact after the refused run"; diag "$out"; fi
vm_run s1 "initctl start etcd" 60 > /dev/null
before=$(vm_run s1 "grep -c 'etcd-backup: ok' /data/log/etcd-backup.log" 15 | tr -dc 0-9)
if oks $((before + 1)) 90; then ok "with etcd back, the next run succeeds"
else not_ok "with etcd back, the next run succeeds"; diag "$(vm_run s1 "initctl status; tail -n 3 /data/log/etcd-backup.log" 15)"; fi

# etcd killed during a snapshot: 8 MB of values make the snapshot last; etcd is killed (SIGKILL; init restarts
# it) as soon as etcdctl's partial file holds data, in a loop of shell builtins. Not sooner: before the stream's
# first message etcd's client retries the call, and the restarted etcd would serve it (seen: the run succeeded).
# The interval goes to 600 s first, so that no scheduled run rotates the kept snapshots before they are checked;
# the next run is then started by hand.
vm_run s1 "i=0; while [ \$i -lt 8 ]; do head -c 1000000 /dev/urandom | etcdctl put /kiln/big\$i > /dev/null || exit 1; i=\$((i + 1)); done" 120 > /dev/null
vm_run s1 "sed -i 's/^BACKUP_INTERVAL=.*/BACKUP_INTERVAL=600/' /etc/kiln/identity/env/backup.env; i=0; until initctl status etcd-backup | grep -q 'every 600s.*next in [1-9][0-9][0-9]s'; do sleep 1; i=\$((i + 1)); [ \$i -lt 90 ] || break; done; cd $B && sha256sum *.db *.meta > /tmp/kept.sums" 120 > /dev/null
f0=$(vm_run s1 "initctl status etcd-backup" 15 | sed -n 's/.* \([0-9]*\) failed,.*/\1/p')
out=$(vm_run s1 "p=\$(pidof etcd); end=\$((\$(date +%s) + 60)); i=0; initctl start etcd-backup; until [ -s $B/*.db.new.part ] 2>/dev/null; do i=\$((i + 1)); [ \$((i % 4000)) -ne 0 ] || [ \$(date +%s) -lt \$end ] || break; done; kill -9 \$p && ls --color=never $B/*.part" 90)
if fails $((${f0:-0} + 1)) 60 && echo "$out" | grep -q '\.db\.new\.part$'; then
	out=$(vm_run s1 "initctl status etcd-backup" 15)
	case $out in *"last failure "*"snapshot"*) ok "etcd killed during a snapshot: the run fails: $(echo "$out" | sed -n 's/.*last failure [0-9]*s ago: //p' | cut -c1-90)" ;;
	*) not_ok "etcd killed during a snapshot: the run fails with the snapshot as the reason"; diag "$out" ;; esac
else not_ok "etcd killed during a snapshot fails the run"; diag "$out" "$(vm_run s1 "initctl status etcd-backup; tail -n 3 /data/log/etcd-backup.log" 15)"; fi
out=$(vm_run s1 "$between; cd $B && sha256sum -c /tmp/kept.sums && ls -a --color=never" 40)
if [ $? -eq 0 ] && ! echo "$out" | grep -q '\.new\|\.part\|\.verify'; then ok "the kept snapshots are intact after it, and no partial file is left"
else not_ok "the kept snapshots are intact after the killed snapshot"; diag "$out"; fi
before=$(vm_run s1 "grep -c 'etcd-backup: ok' /data/log/etcd-backup.log" 15 | tr -dc 0-9)
vm_run s1 "i=0; until initctl status etcd | grep -q '^etcd  *ready'; do sleep 1; i=\$((i + 1)); [ \$i -lt 90 ] || break; done; initctl start etcd-backup" 120 > /dev/null
if oks $((before + 1)) 90; then ok "with etcd restarted by init, the next run succeeds: $(vm_run s1 "grep 'etcd-backup: ok' /data/log/etcd-backup.log | tail -n 1" 15 | cut -c1-100)"
else not_ok "after the killed snapshot, the next run succeeds"; diag "$(vm_run s1 "initctl status; tail -n 3 /data/log/etcd-backup.log" 15)"; fi

# Damaged snapshots (the job stopped first, so that retention keeps them): the newest one with 16 bytes changed
# in the middle, and a copy of it without its .meta (only etcd's integrity hash can tell).
vm_run s1 "initctl stop etcd-backup; $between" 40 > /dev/null
new=$(vm_run s1 "cd $B && ls *.db | sort | tail -n 1" 15 | tr -d '\r' | sed 's/\.db$//')
vm_run s1 "cd $B && printf XXXXXXXXXXXXXXXX | dd of=$new.db bs=1 seek=\$((\$(stat -c %s $new.db) / 2)) conv=notrunc 2>/dev/null && cp $new.db 29991231T235959Z-s1.db" 30 > /dev/null
out=$(vm_run s1 "kiln-restore verify $new" 60)
if [ $? -ne 0 ] && echo "$out" | grep -q 'damaged'; then ok "kiln-restore verify finds the changed bytes: $(echo "$out" | tail -n 1)"
else not_ok "kiln-restore verify finds a damaged snapshot"; diag "$out"; fi
out=$(vm_run s1 "kiln-restore verify 29991231T235959Z-s1" 60)
if [ $? -ne 0 ] && echo "$out" | grep -q 'trial restore failed'; then ok "without a .meta, etcd's integrity hash finds it: $(echo "$out" | tail -n 1 | cut -c1-110)"
else not_ok "a damaged snapshot without .meta is found"; diag "$out"; fi
out=$(vm_run s1 "kiln-restore cluster $new; echo rc=\$?; initctl status etcd | tail -n 1; etcdctl get /kiln/k7 --print-value-only" 120)
if echo "$out" | grep -q 'not restoring it' && echo "$out" | grep -qx 'rc=1' && echo "$out" | grep -q '^etcd  *ready' && echo "$out" | grep -qx v7; then
	ok "kiln-restore cluster refuses the damaged snapshot and leaves etcd running as it was"
else not_ok "the damaged snapshot is never restored"; diag "$out"; fi
vm_run s1 "etcdctl put /kiln/after-backup x" 30 > /dev/null
out=$(vm_run s1 "kiln-restore cluster latest && sleep 1 && etcdctl --command-timeout=60s endpoint health && etcdctl get /kiln/k199 --print-value-only && echo after=\$(etcdctl get /kiln/after-backup --print-value-only)" 240)
if echo "$out" | grep -q 'skipping 29991231T235959Z-s1' && echo "$out" | grep -q "skipping $new" && echo "$out" | grep -qx v199 &&
	echo "$out" | grep -qx 'after='; then
	ok "kiln-restore cluster latest passes over both damaged files and restores the newest good one: $(echo "$out" | grep -o 'restored [^ ]* (revision [0-9]*)')"
else not_ok "kiln-restore cluster latest restores the newest good snapshot"; diag "$out"; fi
vm_kill s1
done_testing
