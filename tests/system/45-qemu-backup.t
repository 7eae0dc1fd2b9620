#!/bin/sh
# 45-qemu-backup.t: the etcd backup job on a master (tests/clusters/solo.yaml's s1, its backup policy overridden to
# every 8 s, keep 2, by an extra archive for this test). It runs on schedule as the init's job; retention keeps
# exactly 2; each kept snapshot matches its recorded sha256 and passes etcd's own check; a full DATA and a stopped
# etcd make runs fail with a reason in `initctl status` while the kept snapshots stay intact, and the next run
# after the fault succeeds.
. tests/system/lib/tap.sh
. tests/system/lib/vm.sh

plan 10
T=$VM_DIR/solo
mkdir -p "$T/x/etc/kiln/identity/env"
printf 'BACKUP_INTERVAL=8\nBACKUP_KEEP=2\n' > "$T/x/etc/kiln/identity/env/backup.env"
scripts/mk-initramfs.sh "$T/x" "$T/policy.cpio.gz" > /dev/null
solo_initrd "$T" "$T/policy.cpio.gz" || { diag "$(cat "$T/render.log")"; bail "cannot render s1"; }
vm_boot_ready s1 "master s1 with a backup every 8 s" 120 --mem 768 --mac 52:54:00:00:01:11 \
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
if oks 4 90; then ok "the job ran on schedule: $(vm_run s1 "grep 'etcd-backup: ok' /data/log/etcd-backup.log | tail -n 1" 15)"
else not_ok "the job ran on schedule 4 times"; diag "$(vm_run s1 "initctl status etcd-backup; tail -n 5 /data/log/etcd-backup.log" 15)"; fi

# verify: every kept snapshot: its sha256 as recorded, and etcd's status of it.
# (a subshell: an exit must not end the console's shell)
verify='(cd '$B' && n=0 && for f in *.db; do m=${f%.db}.meta; [ "$(sha256sum $f | cut -d" " -f1)" = "$(sed -n "s/^sha256=//p" $m)" ] || { echo "$f: sha256 differs"; exit 1; }; etcdctl snapshot status $f -w simple > /dev/null || { echo "$f: status"; exit 1; }; n=$((n + 1)); done; echo kept=$n)'
# between runs: a run under way has its .new file and scratch folder
between='i=0; while initctl status etcd-backup | grep -q "^etcd-backup  *starting"; do sleep 0.5; i=$((i + 1)); [ $i -lt 30 ] || break; done'
out=$(vm_run s1 "$between; $verify; ls -la --color=never $B; stat -c '%a %U' $B" 40)
if echo "$out" | grep -qx 'kept=2' && echo "$out" | grep -qx '700 etcd' && ! echo "$out" | grep -q '\.new'; then
	ok "retention keeps exactly 2 snapshots, each matching its recorded sha256 and etcd's check; the folder is etcd's, 0700"
else not_ok "retention and verification of the kept snapshots"; diag "$out"; fi
out=$(vm_run s1 "initctl status etcd-backup" 15)
if echo "$out" | grep -Eq 'job every 8s, ([4-9]|[1-9][0-9]+) runs, 0 failed, .*last ok [0-9]+s ago'; then ok "initctl status: $(echo "$out" | tail -n 1 | tr -s ' ' | cut -d' ' -f6-)"
else not_ok "initctl status shows the job's successes"; diag "$out"; fi

# A full DATA: fill it, and the next run fails while the kept snapshots stay as they were.
vm_run s1 "cd $B && sha256sum *.db *.meta > /tmp/kept.sums; dd if=/dev/zero of=/data/fill bs=1M 2>/dev/null; df -k /data | tail -n 1" 120 > /dev/null
if fails 1 60; then
	out=$(vm_run s1 "initctl status etcd-backup" 15)
	ok "with DATA full the run fails, and status says why: $(echo "$out" | sed -n 's/.*last failure [0-9]*s ago: //p' | cut -c1-90)"
else not_ok "with DATA full the run fails"; diag "$(vm_run s1 "initctl status etcd-backup; tail -n 3 /data/log/etcd-backup.log" 15)"; fi
out=$(vm_run s1 "$between; cd $B && sha256sum -c /tmp/kept.sums && ls -a --color=never" 40)
if [ $? -eq 0 ] && ! echo "$out" | grep -q '\.new\|\.verify'; then ok "the kept snapshots are intact after the failed run, and it left no partial file"
else not_ok "the kept snapshots are intact after the failed run"; diag "$out"; fi
vm_run s1 "rm -f /data/fill" 30 > /dev/null
before=$(vm_run s1 "grep -c 'etcd-backup: ok' /data/log/etcd-backup.log" 15 | tr -dc 0-9)
if oks $((before + 1)) 60; then ok "once space is back, the next run succeeds"
else not_ok "once space is back, the next run succeeds"; diag "$(vm_run s1 "initctl status etcd-backup; tail -n 3 /data/log/etcd-backup.log" 15)"; fi

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
vm_kill s1
done_testing
