#!/bin/sh
# bench-upgrade.sh: an upgrade against a plain reboot of the same machine, in the same run (part of `make bench`):
# the master disk image with a second disk holding out/master/system.img (its version changed, so it is a new
# system); wall time from the command on the console (`initctl reboot`, `initctl upgrade`) to `kiln: ready` after
# the plain reboot, and to the new system committed after the upgrade. QEMU runs with -no-reboot: a reset is
# QEMU started again on the same disk, counted in both.
. "$(dirname "$0")/lib.sh"
cd "$KILN_TOP"
TOP=$KILN_TOP
. "$KILN_TOP/tests/system/lib/tap.sh" >/dev/null
. "$KILN_TOP/tests/system/lib/vm.sh"
b=$VM_DIR/bench-upgrade
mkdir -p "$b/media"
now() { date +%s.%N; }
secs() { awk -v s="$1" -v e="$2" 'BEGIN { printf "%.1f", e - s }'; }
cp --sparse=always "$KILN_OUT/master/disk.img" "$b/disk.img" && cp --sparse=always "$KILN_OUT/master/system.img" "$b/media/" &&
	sed 's/^KILN_VERSION=.*/KILN_VERSION=bench-next/' "$KILN_BUILD/stage/master/etc/kiln/release" > "$b/release" &&
	printf 'rm /etc/kiln/release\nwrite %s /etc/kiln/release\n' "$b/release" | debugfs -w -f - "$b/media/system.img" > /dev/null 2>&1 &&
	sh "$KILN_TOP/scripts/sign-image.sh" "${SECRETS:-$KILN_TOP/secrets/cluster}/image-signing.key" "$b/media/system.img" > /dev/null &&
	mke2fs -q -F -t ext4 -L kiln-media -d "$b/media" "$b/media.img" 300M > /dev/null || die "bench: cannot prepare the upgrade media"
args="--mem 768 --disk $b/disk.img --persist --data $b/media.img"
vm_start b1 $args
vm_wait b1 'kiln: ready:' 180 || die "bench: the master disk did not boot"
s=$(now); vm_send b1 "initctl reboot"; vm_wait_exit b1 120
vm_start b2 $args
vm_wait b2 'kiln: ready:' 180 && reboot=$(secs "$s" "$(now)") || reboot=
vm_run b2 "mkdir -p /tmp/m && mount -t ext4 -o ro \"\$(findfs LABEL=kiln-media)\" /tmp/m" 20 > /dev/null
s=$(now); vm_send b2 "initctl upgrade /tmp/m/system.img"; vm_wait_exit b2 300; down=$(secs "$s" "$(now)")
vm_start b3 $args
vm_wait b3 'kiln: upgrade: committed' 240 && upgrade=$(secs "$s" "$(now)") || upgrade=
vm_kill b3
size=$(($(stat -c %s "$b/media/system.img") / 1048576))
echo "bench: upgrade of the master disk ($size MiB image): command to new system ready and committed ${upgrade:-(failed)}s" \
	"(verify, write, read back, arm: ${down}s), plain reboot to ready ${reboot:-(failed)}s, ratio" \
	"$(awk -v a="${upgrade:-0}" -v b="${reboot:-0}" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')"
