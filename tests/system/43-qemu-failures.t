#!/bin/sh
# 43-qemu-failures.t: a service whose binary is missing and one that keeps failing are reported on the console,
# and boot goes on: etcd still comes up. The extra services arrive as a second initramfs archive appended to
# the role's, the way a machine's identity does.
. tests/system/lib/tap.sh
. tests/system/lib/vm.sh

plan 5
o=$KILN_OUT/master
x=$VM_DIR/extra
mkdir -p "$x/etc/kiln/services"
printf 'command = /usr/bin/kube-nothing --flag\nrestart = always\n' > "$x/etc/kiln/services/absent"
mkdir -p "$x/usr/libexec"
printf '#!/bin/sh\necho failing on purpose\nexit 3\n' > "$x/usr/libexec/flaky"
chmod 755 "$x/usr/libexec/flaky"
printf 'command = /usr/libexec/flaky\nrestart = always\n' > "$x/etc/kiln/services/flaky"
(cd "$x" && find . -mindepth 1 | sort | cpio --quiet -o -H newc -R 0:0 | gzip -n) > "$VM_DIR/extra.cpio.gz"
cat "$o/initramfs.cpio.gz" "$VM_DIR/extra.cpio.gz" > "$VM_DIR/initrd.gz"
vm_start f --mem 1024 "$o/vmlinuz" "$VM_DIR/initrd.gz"
if vm_wait f 'kiln: (ready|degraded):' 90; then ok "boot goes on to the end"; else not_ok "boot goes on"; diag "$(vm_log f | tail -n 30)"; fi
check "the missing binary is named on the console" grep -q 'kiln: absent: /usr/bin/kube-nothing: not found' "$VM_DIR/f/console.log"
check "the failing service is reported with its exit status, its last words and a restart delay" \
	grep -Eq 'kiln: flaky: exited 3: failing on purpose, restarting in [0-9]+s' "$VM_DIR/f/console.log"
check "the summary says which services failed: the one that crashed a third time too" grep -Eq 'kiln: degraded: .*absent.*flaky|kiln: degraded: .*flaky.*absent' "$VM_DIR/f/console.log"
out=$(vm_run f "etcdctl endpoint health" 60)
case $out in *"is healthy"*) ok "etcd is healthy despite the failures" ;; *) not_ok "etcd healthy despite failures"; diag "$out" ;; esac
vm_kill f
done_testing
