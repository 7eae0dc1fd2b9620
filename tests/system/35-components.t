#!/bin/sh
# 35-components.t: the Kubernetes components folder and the components' wiring, with a TEST DOUBLE
# (tests/doubles/kube-double.c) in place of the official binaries, in a build tree of its own (out/ untouched),
# for the one-master cluster tests/clusters/solo.yaml. Builds without KUBE_BIN (what the images lack), with the
# double as every component (present, versions, origins), and with a non-ELF file, a wrong version and a
# foreign machine (refused, naming the file, earlier outputs intact). Then a wiring audit without booting: every
# path the service files and the files they name mention exists in the machine's identity or the role's root,
# keys 0600 owned by the service's user, every address from the cluster file. Then each image's own init, as
# PID 1 in PID, mount and network namespaces chrooted into a copy of the staged root with the machine's identity
# (KILN_SANDBOX), starts the double as each service: it reports its user, its expanded flags and each file it
# read; the test checks those and that every cert/key pair it was given matches (openssl, on the host).
. tests/system/lib/tap.sh

plan 21
command -v musl-gcc >/dev/null || bail "musl-gcc is needed to build the test double"
command -v openssl >/dev/null || bail "openssl is needed"
T=$(mktemp -d "${TMPDIR:-/tmp}/kiln-components.XXXXXX")
SB_PIDS=
cleanup() {
	for p in $SB_PIDS; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
B=$T/build O=$T/out
# solo.yaml with no console shell: what the images then carry is checked below.
CLUSTER_FILE=$T/solo.yaml
{ cat tests/clusters/solo.yaml; printf 'image:\n  console_shell: false\n'; } > "$CLUSTER_FILE"
MASTER=s1 NODE=t1 MASTER_IP=192.168.0.11 NODE_IP=192.168.0.21
# The components with a service of their own (each control-plane component its own user, CoreDNS dns), and every binary of
# each image (kubectl: the apiserver's readiness probe and the cluster DNS feed's client).
KUBE_SERVICES="kube-apiserver kube-controller-manager kube-scheduler"
MASTER_COMPONENTS="$KUBE_SERVICES coredns"
MASTER_BINARIES="kube-apiserver kube-controller-manager kube-scheduler kubectl coredns"
NODE_COMPONENTS="kubelet kube-proxy"

# kmake ARGS: the build, in this test's own tree and cluster
kmake() { make -s BUILD="$B" OUT="$O" SECRETS="$T/secrets" CLUSTER="$CLUSTER_FILE" "$@"; }
sums() { (cd "$1" && find . -type f | LC_ALL=C sort | xargs -r sha256sum); }
# Whatever the repository's out/ holds, this test must leave it as it was.
sums "$KILN_OUT" > "$T/out-before" 2>/dev/null || :

# The double, built as each component (and two bad variants).
mkdir -p "$T/bin" "$T/old" "$T/arm" "$T/script" "$T/empty"
musl-gcc -static -O2 -DKUBE_VERSION='"v1.30.0"' -o "$T/kube-double" tests/doubles/kube-double.c || bail "cannot build the double"
musl-gcc -static -O2 -DKUBE_VERSION='"v1.29.9"' -o "$T/old/kube-apiserver" tests/doubles/kube-double.c || bail "cannot build the double"
for c in $MASTER_BINARIES $NODE_COMPONENTS; do cp "$T/kube-double" "$T/bin/$c"; done
cp "$T/kube-double" "$T/arm/kube-apiserver"
printf '\267\000' | dd of="$T/arm/kube-apiserver" bs=1 seek=18 conv=notrunc 2>/dev/null # e_machine: aarch64
printf '#!/bin/sh\necho Kubernetes v1.30.0\n' > "$T/script/kube-apiserver"; chmod 755 "$T/script/kube-apiserver"

# ------------------------------------------------------------------ without KUBE_BIN: what the images lack
stage_only="$O/master/components.txt $O/node/components.txt"
repo_components=$(ls -A components 2>/dev/null)
if [ -z "$repo_components" ]; then
	if (unset KUBE_BIN; kmake $stage_only) > "$T/a.log" 2>&1; then ok "a build without KUBE_BIN (and an empty components/) succeeds"; else
		not_ok "a build without KUBE_BIN succeeds"; diag "$(tail -n 20 "$T/a.log")"; fi
	check "it says what each image lacks and where the binaries go" sh -c "
		grep -qx 'kiln: master image lacks kube-apiserver kube-controller-manager kube-scheduler kubectl (put the official v1.30.0 binaries in components/ or set KUBE_BIN)' '$T/a.log' &&
		grep -qx 'components.sh: master: no coredns in components/: the cluster DNS will be dnsmasq fed from the API (cluster-dns)' '$T/a.log' &&
		grep -qx 'kiln: node image lacks kubelet kube-proxy (put the official v1.30.0 binaries in components/ or set KUBE_BIN)' '$T/a.log' || { cat '$T/a.log'; exit 1; }"
	check "components.txt records every component missing, and no kube binary is in either image" sh -c "
		[ \"\$(grep -v '^#' '$O/master/components.txt' | tr '\n' ' ')\" = 'kube-apiserver missing - - kube-controller-manager missing - - kube-scheduler missing - - kubectl missing - - coredns missing - - ' ] &&
		[ \"\$(grep -v '^#' '$O/node/components.txt' | tr '\n' ' ')\" = 'kubelet missing - - kube-proxy missing - - ' ] &&
		! ls '$B'/stage/master/usr/bin/kube-* '$B'/stage/master/usr/bin/coredns '$B'/stage/node/usr/bin/kube* 2>/dev/null | grep ."
	rm -rf "$T/root-empty"; cp -a "$B/stage/master" "$T/root-empty"
else
	skip "components/ holds files ($repo_components): the build without KUBE_BIN is not the empty case"
	skip "the message without KUBE_BIN"
	skip "components.txt without KUBE_BIN"
fi

# ------------------------------------------------------------------ the double as every component
if kmake KUBE_BIN="$T/bin" $stage_only "$O/master/manifest.txt" "$O/node/manifest.txt" > "$T/b.log" 2>&1; then
	ok "a build with KUBE_BIN holding every component succeeds"
else
	not_ok "a build with KUBE_BIN holding every component succeeds"; diag "$(tail -n 20 "$T/b.log")"
fi
sum=$(sha256sum < "$T/kube-double" | cut -d' ' -f1)
check "the build names each component it took, with its version, and reports nothing missing" sh -c "
	for c in $MASTER_BINARIES $NODE_COMPONENTS; do
		v=v1.30.0; [ \$c = coredns ] && v=1.11.1
		grep -q \": \$c \$v (from $T/bin/\$c)\$\" '$T/b.log' || { echo no line for \$c; cat '$T/b.log'; exit 1; }
	done
	! grep -q 'lacks' '$T/b.log'"
check "components.txt and the manifest: present, version, sha256, origin components:<name> <version>" sh -c "
	for c in $MASTER_BINARIES; do r=master; v=v1.30.0; [ \$c = coredns ] && v=1.11.1
		grep -qx \"\$c present \$v $sum\" '$O/master/components.txt' || { echo components.txt \$c; exit 1; }
		grep -q \"^/usr/bin/\$c	file	755	0:0	[0-9]*	$sum	components:\$c \$v\$\" '$O/master/manifest.txt' || { echo manifest \$c; exit 1; }
	done
	for c in $NODE_COMPONENTS; do
		grep -qx \"\$c present v1.30.0 $sum\" '$O/node/components.txt' || exit 1
		grep -q \"^/usr/bin/\$c	file	755	0:0	[0-9]*	$sum	components:\$c v1.30.0\$\" '$O/node/manifest.txt' || exit 1
	done"
# console_ok: neither staged image has the console shell; console-status (run by the image's busybox, fed command
# lines, with a test double for initctl on PATH that records its arguments) answers Enter and `status` with the
# status, `upgrade URL` (one URL, no option), runs nothing else it read, and takes `poweroff` (ending there: it
# execs initctl).
console_ok() {
	for r in master node; do
		[ ! -e "$B/stage/$r/etc/kiln/services/console" ] && [ ! -e "$B/stage/$r/etc/kiln/console-shell" ] &&
			grep -qx 'tty = /dev/console' "$B/stage/$r/etc/kiln/services/console-status" || { echo "$r: console"; return 1; }
	done
	mkdir -p "$T/fake-initctl"
	printf '#!/bin/sh\n# test double: records what console-status asked of initctl\necho "$*" >> %s/initctl.calls\n' "$T" > "$T/fake-initctl/initctl"
	chmod +x "$T/fake-initctl/initctl"
	rm -f "$T/initctl.calls"
	printf '\nstatus\necho pwned > %s/pwned\nupgrade http://h:8080/master/system.img\nupgrade --allow-downgrade x\nupgrade a;id\npoweroff\nreboot\n' "$T" | PATH="$T/fake-initctl:$PATH" timeout 3 \
		"$B/stage/master/usr/bin/busybox" sh "$B/stage/master/usr/libexec/kiln/console-status" > "$T/cs.out" 2>&1
	cat "$T/cs.out" "$T/initctl.calls"
	[ "$(grep -c 'has no shell' "$T/cs.out")" = 7 ] && [ "$(grep -c 'not run' "$T/cs.out")" = 3 ] && [ ! -e "$T/pwned" ] &&
		[ "$(tr '\n' ' ' < "$T/initctl.calls")" = "status status upgrade http://h:8080/master/system.img poweroff " ]
}
check "image.console_shell: false in the cluster file: no console shell in either image, nor an emergency shell; console-status shows the status, takes upgrade URL and poweroff and runs nothing else typed" console_ok
rm -rf "$T/root-master" "$T/root-node"
cp -a "$B/stage/master" "$T/root-master"
cp -a "$B/stage/node" "$T/root-node"

# ------------------------------------------------------------------ bad binaries: refused, outputs intact
sums "$B/stage/master" > "$T/stage-before"
cp "$O/master/components.txt" "$T/components-before"
# refused KUBE_BIN MESSAGE DESC: the master staging fails naming the file, and leaves the last stage as it was
refused() {
	kmake KUBE_BIN="$1" "$O/master/components.txt" > "$T/bad.log" 2>&1 && { echo "the build succeeded"; return 1; }
	grep -qF "$2" "$T/bad.log" || { echo "no '$2' in:"; cat "$T/bad.log"; return 1; }
	sums "$B/stage/master" | cmp -s - "$T/stage-before" || { echo "the staged master changed"; return 1; }
	cmp -s "$O/master/components.txt" "$T/components-before" || { echo "components.txt changed"; return 1; }
}
check "a file that is not ELF is refused, naming it; earlier outputs intact" \
	refused "$T/script" "error: $T/script/kube-apiserver: not an ELF file"
check "a wrong version is refused, naming the file and both versions" \
	refused "$T/old" "error: $T/old/kube-apiserver: version v1.29.9, but the cluster file asks for v1.30.0"
check "an ELF executable for another machine is refused" \
	refused "$T/arm" "error: $T/arm/kube-apiserver: an ELF executable for another machine, not x86-64"

# ------------------------------------------------------------------ wiring audit, without booting
. "$O/cluster/cluster.env"
# expand ENVFILE: stdin with ${VAR} (service files) and {$VAR} (Corefile) replaced from ENVFILE
expand() { awk -F= 'NR == FNR { v[$1] = substr($0, length($1) + 2); next }
	{ for (k in v) { gsub("\\$\\{" k "\\}", v[k]); gsub("\\{\\$" k "\\}", v[k]) } print }' "$1" -; }
# svc_text ROOT NAME: a service file with continuation lines joined and comments dropped
svc_text() { sed -e 's/#.*//' "$1/etc/kiln/services/$2" | sed -e ':a' -e '/\\$/N; s/\\\n/ /; ta'; }
svc_key() { svc_text "$1" "$2" | sed -n "s/^$3 *= *//p" | head -n 1; }
# wiring ROOT ID COMPONENTS: writes the audit's findings on stdout, nothing when all is well
wiring() {
	root=$1 id=$2
	env=$id/env/kubernetes.env
	for c in $3; do
		user=$(svc_key "$root" "$c" user); user=${user:-root}
		uid=$(awk -F: -v u="$user" '$1 == u { print $3 }' "$root/etc/passwd")
		[ -n "$uid" ] || echo "$c: user $user not in the image's passwd"
		svc_key "$root" "$c" condition | grep -qx "exists /usr/bin/$c" || echo "$c: no 'condition = exists /usr/bin/$c'"
		cmd=$(svc_key "$root" "$c" command | expand "$env")
		echo "$cmd" | grep -q '\${' && echo "$c: unexpanded variable: $cmd"
		files=$(echo "$cmd" | grep -oE '/(etc|usr|data|run)/[^ =,]*' | sort -u)
		seen=
		while [ -n "$files" ]; do
			next=
			for p in $files; do
				case " $seen " in *" $p "*) continue ;; esac
				seen="$seen $p"
				case $p in
				/etc/kiln/identity/*) f=$id/${p#/etc/kiln/identity/} ;;
				/data/*|/run/*) continue ;; # made at boot (dir = lines), not in the image
				*) f=$root$p ;;
				esac
				[ -e "$f" ] || { echo "$c: $p is neither in the identity nor in the image"; continue; }
				case $p in
				*.key) [ "$(stat -c '%a %u' "$f")" = "600 $uid" ] || echo "$c: $p is $(stat -c '%a %u' "$f"), not 600 $uid ($user)" ;;
				*) # readable by the service's user: owned by it, or readable by all
					[ "$(stat -c %u "$f")" = "$uid" ] || [ $(( $(stat -c %a "$f") % 10 & 4 )) -ne 0 ] ||
						echo "$c: $p is not readable by $user" ;;
				esac
				# configuration files name more files, and addresses
				case $p in
				*.yaml|*.kubeconfig|*/Corefile)
					expand "$env" < "$f" >> "$T/texts.$id_name"
					next="$next $(expand "$env" < "$f" | grep -oE '/etc/kiln/identity/[^ ,"]*' | sort -u | tr '\n' ' ')" ;;
				esac
			done
			files=$next
		done
		echo "$cmd" >> "$T/texts.$id_name"
	done
}
# wiring_ok ROOT MACHINE COMPONENTS: the audit finds nothing, on the identity as the machine gets it (a copy with
# the owners of its MANIFEST applied, as mk-identity.sh does in the archive: the build host's tree is root's)
wiring_ok() {
	id_name=$2 d=$T/owned/$2
	if [ ! -d "$d" ]; then
		mkdir -p "$T/owned" && cp -a "$O/cluster/machines/$2/identity" "$d" && (. scripts/lib.sh; apply_owners "$d") ||
			{ echo "cannot copy $2's identity with its owners"; return 1; }
	fi
	out=$(wiring "$1" "$d" "$3")
	[ -z "$out" ] || { echo "$out"; return 1; }
}
check "master $MASTER: every path its components' services name exists (identity or image), keys 0600 owned by the service's user" \
	wiring_ok "$T/root-master" "$MASTER" "$MASTER_COMPONENTS"
check "node $NODE: every path kubelet's and kube-proxy's services and configs name exists, keys 0600 owned by root" \
	wiring_ok "$T/root-node" "$NODE" "$NODE_COMPONENTS"
# addresses_ok: every IPv4 address or range in the expanded commands and configuration comes from the cluster
addresses_ok() {
	allowed="127.0.0.1 0.0.0.0 $SERVICE_CIDR $POD_CIDR $SERVICE_IP $DNS_IP $INFRA_CIDR"
	for m in $MASTERS $NODES; do
		v=$(echo "$m" | tr - _)
		allowed="$allowed $(eval echo "\$MACHINE_${v}_ADDRESS \$MACHINE_${v}_POD_CIDR")"
	done
	bad=
	for a in $(cat "$T/texts.$MASTER" "$T/texts.$NODE" | grep -oE '([0-9]{1,3}\.){3}[0-9]{1,3}(/[0-9]{1,2})?' | sort -u); do
		case " $allowed " in *" $a "*) ;; *) bad="$bad $a" ;; esac
	done
	[ -z "$bad" ] || { echo "not from the cluster file:$bad (allowed: $allowed)"; return 1; }
	# and the ones that must be there are
	for a in "$MASTER_IP" "$NODE_IP" "$SERVICE_CIDR" "$POD_CIDR" "$DNS_IP" "$MACHINE_t1_POD_CIDR"; do
		grep -qF "$a" "$T/texts.$MASTER" "$T/texts.$NODE" || { echo "$a is named nowhere"; return 1; }
	done
}
check "every address in the components' flags and configurations comes from the cluster file" addresses_ok

# ------------------------------------------------------------------ the image's init runs the double
# sandbox_boot NAME ROOT IDENTITY ADDRESS: the image's own init as PID 1 of new PID, mount and network
# namespaces, chrooted into ROOT (a copy of a staged root) with the machine's identity; ADDRESS on lo stands for
# the machine's address. Sets SB_UPID; the console is $T/NAME.console.
sandbox_boot() {
	rm -f "$2/etc/kiln/services/console" "$2/etc/kiln/services/console-status" # they would open the host's console
	cp -a "$3/." "$2/etc/kiln/identity/"
	(. scripts/lib.sh; apply_owners "$2/etc/kiln/identity") # as mk-identity.sh does in the archive
	KILN_SANDBOX=1 unshare -pfmn --kill-child --mount-proc="$2/proc" \
		sh -c "ip link set lo up && ip addr add $4/32 dev lo && exec chroot '$2' /usr/sbin/init" > "$T/$1.console" 2>&1 &
	SB_UPID=$!
	SB_PIDS="$SB_PIDS $SB_UPID"
	i=0
	while [ $i -lt 600 ] && ! grep -Eq 'kiln: (ready|degraded):' "$T/$1.console"; do sleep 0.1; i=$((i + 1)); done
}
# sandbox_stop: SIGTERM to that init (an orderly shutdown), then wait for it
sandbox_stop() {
	kill -TERM $(pgrep -P "$SB_UPID") 2>/dev/null
	i=0
	while [ $i -lt 300 ] && kill -0 "$SB_UPID" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
	kill -9 "$SB_UPID" 2>/dev/null
}
# doubles_ok ROOT UID COMPONENTS: each double ran as UID, found every file and variable, and is listening
doubles_ok() {
	for c in $3; do
		l=$1/data/log/$c.log
		[ -f "$l" ] || { echo "$c: never started"; return 1; }
		grep -q "^double: uid $2 gid $2\$" "$l" && grep -q '^double: audit ok with 0 failures$' "$l" &&
			grep -q '^double: listening on port' "$l" && ! grep -q FAIL "$l" || { echo "$c:"; cat "$l"; return 1; }
	done
}
# Each control-plane component its own user (201 apiserver, 204 controller-manager, 205 scheduler); CoreDNS as dns
# (202) binds port 53 with the one capability its service gives it (no sysctl lets any user bind below 1024).
doubles_master_ok() {
	doubles_ok "$T/root-master" 201 kube-apiserver && doubles_ok "$T/root-master" 204 kube-controller-manager &&
		doubles_ok "$T/root-master" 205 kube-scheduler && doubles_ok "$T/root-master" 202 coredns &&
		grep -q '^double: bound udp port 53 as uid 202$' "$T/root-master/data/log/coredns.log" &&
		! grep -q ip_unprivileged_port_start "$T/root-master/etc/kiln/sysctl" ||
		{ cat "$T/root-master/data/log/coredns.log"; return 1; }
}
# pairs_ok ROOT: every key a double read matches the cert (or public key) of the same name it also read
pairs_ok() {
	n=0
	for k in $(cat "$1"/data/log/*.log | sed -n 's/^double: read \(.*\.key\) (.*/\1/p' | sort -u); do
		stem=${k%.key}
		key_pub=$(openssl pkey -in "$1$k" -pubout 2>/dev/null) || { echo "$k: not a key"; return 1; }
		if grep -q "^double: read $stem.crt " "$1"/data/log/*.log; then
			[ "$(openssl x509 -in "$1$stem.crt" -noout -pubkey)" = "$key_pub" ] || { echo "$k does not match $stem.crt"; return 1; }
		elif grep -q "^double: read $stem.pub " "$1"/data/log/*.log; then
			[ "$(openssl pkey -pubin -in "$1$stem.pub" -pubout)" = "$key_pub" ] || { echo "$k does not match $stem.pub"; return 1; }
		elif [ "$k" = /etc/kiln/identity/pki/controller-manager/service-account.key ]; then
			# the controller-manager's own copy of the service-account key: the pair's public half is the apiserver's
			[ "$(openssl pkey -pubin -in "$1/etc/kiln/identity/pki/service-account.pub" -pubout)" = "$key_pub" ] ||
				{ echo "$k does not match service-account.pub"; return 1; }
		elif [ "$k" = /etc/kiln/identity/pki/ca.key ]; then
			[ "$(openssl x509 -in "$1/etc/kiln/identity/pki/ca.crt" -noout -pubkey)" = "$key_pub" ] || { echo "ca.key does not match ca.crt"; return 1; }
		else
			echo "$k: read without its cert"; return 1
		fi
		n=$((n + 1))
	done
	echo "$n pairs"
	[ $n -gt 0 ]
}
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && command -v ip >/dev/null; then
	if [ -d "$T/root-empty" ]; then
		sandbox_boot empty "$T/root-empty" "$O/cluster/machines/$MASTER/identity" "$MASTER_IP"
		sandbox_stop
		check "a master without the binaries: each component reported skipped, and the boot is ready, not degraded" sh -c "
			cat '$T/empty.console'
			for c in $MASTER_COMPONENTS; do grep -qx \"kiln: \$c: skipped: no /usr/bin/\$c\" '$T/empty.console' || exit 1; done
			grep -Eq '^kiln: ready: [0-9]+ services in' '$T/empty.console'"
	else
		skip "no build without the binaries to boot"
	fi
	# The apiserver's readiness check asks /readyz over TLS, which the double does not speak: here it asks in plain
	# HTTP (60-cluster.t runs the real check against real apiservers).
	printf '#!/bin/sh\nexec wget -q -O /dev/null http://127.0.0.1:6443/readyz\n' > "$T/root-master/usr/libexec/kiln/apiserver-ready"
	sandbox_boot master "$T/root-master" "$O/cluster/machines/$MASTER/identity" "$MASTER_IP"
	sandbox_stop
	check "master $MASTER in the sandbox: etcd, the backup receiver, ntpd, metrics, the log receiver and the four doubles ready" sh -c "
		cat '$T/master.console'; grep -Eq '^kiln: ready: 9 services in' '$T/master.console'"
	check "master $MASTER: each double ran as its own user (apiserver 201, controller-manager 204, scheduler 205, coredns as dns 202 binding port 53 by its capability), its flags expanded, every file they name readable" \
		doubles_master_ok
	check "master $MASTER: every cert/key pair the control plane was given matches" pairs_ok "$T/root-master"
	# The node's API endpoint (haproxy) would wait for masters this sandbox does not have: here it is a stand-in
	# that is ready at once (60-cluster.t runs the real one against real apiservers).
	printf 'command = /bin/sleep 100000\nready = none\n' > "$T/root-node/etc/kiln/services/apiproxy"
	sandbox_boot node "$T/root-node" "$O/cluster/machines/$NODE/identity" "$NODE_IP"
	sandbox_stop
	check "node $NODE in the sandbox: containerd, the sandbox image imported, the API endpoint, ntpd, metrics, the log forwarder, then kubelet and kube-proxy ready" sh -c "
		cat '$T/node.console'; grep -Eq '^kiln: ready: 8 services in' '$T/node.console'"
	check "node $NODE: kubelet and kube-proxy ran as root, every file they name readable" \
		doubles_ok "$T/root-node" 0 "$NODE_COMPONENTS"
	check "node $NODE: the kubelet's and kube-proxy's cert/key pairs match" pairs_ok "$T/root-node"
else
	for i in 1 2 3 4 5 6 7; do skip "the sandbox needs root, unshare and ip"; done
fi

check "the repository's out/ is untouched by this test" sh -c "sums() { (cd \"\$1\" && find . -type f | LC_ALL=C sort | xargs -r sha256sum); }
	sums '$KILN_OUT' 2>/dev/null | cmp - '$T/out-before'"
done_testing
