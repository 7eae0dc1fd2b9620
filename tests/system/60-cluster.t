#!/bin/sh
# 60-cluster.t: the example cluster (3 masters, 2 nodes) booted by scripts/cluster.sh (what `make cluster` runs)
# in QEMU, each machine from a copy of its own disk image (CLUSTER_BOOT=disk), on a private bridge inside a network
# namespace of its own, in steps (two masters, the third, the nodes). etcd forms one 3-member cluster over TLS, keeps
# writing with one member stopped, refuses with two stopped and recovers; the backup job runs on every master every
# 30 s and its snapshots reach the next master. Kubernetes (the components make builds from Debian's source, or the
# official ones): every apiserver ready, one leader each for the controller-manager and the scheduler, both nodes
# Ready, a Deployment over both nodes, exec, logs, a Service, the cluster DNS, a service-account token, the Node
# authorizer (skipped, naming what is missing, when the images lack components). Under make test-long: the drill
# (scripts/drill.sh, what `make drill` runs): 1000 keys and a Deployment, a backup copied to the next master, every
# member's data destroyed, the whole cluster restored with kiln-restore (the Deployment back, one made after the backup
# not), one member rebuilt from its peers; upgrades over HTTP: a truncated image and a missing one are refused;
# scripts/upgrade.sh (what `make upgrade` runs) takes m1, m2, m3 and n1 to v2 while a client on the build host writes
# to etcd twice a second: every write succeeds, every key is there afterwards. Last, m1 is powered off: the nodes
# stay Ready through apiproxy and a new pod is scheduled and runs.
. tests/system/lib/tap.sh
KILN_TOP=$TOP
R=$KILN_OUT/cluster
[ -f "$R/cluster.env" ] && [ -f "$KILN_OUT/machines/n2/identity.cpio.gz" ] || bail "no machines built: run 'make' first"
. "$R/cluster.env"

plan 54
export CLUSTER_RUN=$(mktemp -d "${TMPDIR:-/tmp}/kiln-cluster.XXXXXX")
export CLUSTER_NETNS=kiln-test-$$
export CLUSTER_TIMEOUT=${CLUSTER_TIMEOUT:-1500}
# The masters' etcd backups every 30 s in this cluster (instead of the cluster file's hour).
export CLUSTER_BACKUP_INTERVAL=30
# make test: the machines boot their initramfs, and only the first master runs the control plane (kiln.disable on the
# others: under emulation on two cores three apiservers bootstrapping at once take 25 minutes and more); every master
# runs etcd, both nodes run Kubernetes. make test-long boots them from their disks with the control plane on every
# master, and adds the drill, the upgrades and the API with m1 powered off.
if [ -n "${KILN_LONG:-}" ]; then
	export CLUSTER_BOOT=disk
	kube_masters=$MASTERS
else
	export CLUSTER_BOOT=initramfs CLUSTER_MEM=${CLUSTER_MEM:-1536}
	kube_masters=$(echo $MASTERS | cut -d' ' -f1)
	for m in $MASTERS; do
		[ "$m" = "$kube_masters" ] || CLUSTER_APPEND_FOR="${CLUSTER_APPEND_FOR:-} $m=kiln.disable=kube-apiserver"
	done
	# that master gets both of the build host's cores (the others are mostly idle); emulation runs them in parallel
	export CLUSTER_APPEND_FOR CLUSTER_SMP_FOR="$kube_masters=2"
fi
VM_DIR=$CLUSTER_RUN
. "$TOP/scripts/vm.sh"
cleanup() {
	[ -z "${www_pid:-}" ] || kill "$www_pid" 2>/dev/null
	[ -z "${writer_pid:-}" ] || kill "$writer_pid" 2>/dev/null
	sh scripts/cluster.sh down "$R" > /dev/null 2>&1
	ip netns del "$CLUSTER_NETNS" 2>/dev/null
	[ -n "${KEEP_VM_DIR:-}" ] || rm -rf "$CLUSTER_RUN"
}
trap cleanup EXIT
trap 'exit 2' INT TERM

# The container image, for this test only, and the upgrade images the machines fetch over HTTP from the test's own
# server in the namespace (on its address there, port 8081).
www=$CLUSTER_RUN/www
mkdir -p "$www"
# With Kubernetes in the images, the image carries kubectl too (a pod's service-account check).
missing=$(cat "$KILN_OUT/master/components.txt" "$KILN_OUT/node/components.txt" 2>/dev/null |
	awk '$2 != "present" && $1 != "coredns" && !/^#/ { printf " %s", $1 }')
tools_kubectl=
[ -z "$missing" ] && tools_kubectl=$(. scripts/lib.sh; kube_kubectl)
tests/system/lib/mk-oci-busybox.sh "$KILN_CACHE/busybox/busybox" "$www/busybox.oci.tar" $tools_kubectl
host=$(. scripts/lib.sh; cluster_host_address); host=${host%/*}

if sh scripts/cluster.sh up "$R" > "$CLUSTER_RUN/up.log" 2>&1; then
	ok "all five machines ready in $(cat "$CLUSTER_RUN/ready-seconds") s: $(grep -c 'kiln: ready' "$CLUSTER_RUN/up.log") ready lines"
else
	not_ok "the cluster comes up"; diag "$(tail -n 20 "$CLUSTER_RUN/up.log")"
	for m in m1 m2 m3 n1 n2; do diag "== $m" "$(tr -d '\r' < "$CLUSTER_RUN/$m/console.log" | tail -n 8)"; done
	bail "no cluster"
fi
ip netns exec "$CLUSTER_NETNS" "$KILN_CACHE/busybox/busybox" httpd -f -p "$host:8081" -h "$www" &
www_pid=$!
check "the network namespace holds the bridge and five taps, and no route but the infrastructure range" sh -c "
	[ \$(ip -n $CLUSTER_NETNS -o link show master br0 | wc -l) = 5 ] &&
	[ \"\$(ip -n $CLUSTER_NETNS route show | cut -d' ' -f1-3)\" = '192.168.0.0/24 dev br0' ] || ip -n $CLUSTER_NETNS route show"

# put/get with the etcd-backup client of the machine's own environment (/etc/profile loads it).
# initctl stop returns at once; etcd takes a moment to leave.
stop_etcd="initctl stop etcd; i=0; while initctl status etcd | grep -q '^etcd  *stopping'; do sleep 0.2; i=\$((i + 1)); [ \$i -lt 150 ] || break; done"
put() { vm_run "$1" "etcdctl --command-timeout=8s put $2 $3" 40; }
get() { vm_run "$1" "etcdctl --command-timeout=8s get $2 --print-value-only" 40; }

out=$(vm_run m1 "etcdctl --command-timeout=15s endpoint health --cluster && etcdctl member list" 60)
if [ "$(echo "$out" | grep -c 'is healthy')" = 3 ] && [ "$(echo "$out" | grep -c ', started, m[123], https://192.168.0.1[123]:2380, https://')" = 3 ]; then
	ok "etcd: three members started, every client URL healthy over TLS"
else not_ok "etcd: three healthy members"; diag "$out"; fi

put m1 /kiln/a one > /dev/null
a2=$(get m2 /kiln/a) a3=$(get m3 /kiln/a)
if [ "$a2" = one ] && [ "$a3" = one ]; then ok "a key written on m1 is read on m2 and m3"
else not_ok "a key written on m1 is read on m2 and m3"; diag "m2: $a2" "m3: $a3"; fi

# Kubernetes itself: the components `make` builds from Debian's source (or the official ones in components/).
# Everything below goes through the apiservers from the build host, with the kubectl of the same release.
kube=
[ -f "$KILN_OUT/master/components.txt" ] && [ -z "$missing" ] && kube=1
kube_why="the images lack$missing (put the official binaries in components/ or let make build v1.20.2)"
nkm=$(echo $kube_masters | wc -w)
KC=$(. scripts/lib.sh; kube_kubectl)
kc() { ip netns exec "$CLUSTER_NETNS" "$KC" --kubeconfig "$R/admin.kubeconfig" --request-timeout=30s "$@"; }
kc_at() { m=$1; shift; kc --server "https://$(machine_field "$m" ADDRESS):6443" "$@"; }
# until_ok SECONDS CMD...: run CMD every 5 s until it succeeds
until_ok() { u_end=$(($(date +%s) + $1)); shift; until "$@"; do [ "$(date +%s)" -lt "$u_end" ] || return 1; sleep 5; done; }
kube_skip() { skip "$1: $kube_why"; }
img=docker.io/kiln/busybox:test
oci=/data/kiln-test/busybox.oci.tar
if [ -n "$kube" ]; then
	out=$(for m in $kube_masters; do printf '%s: %s\n' "$m" "$(kc_at "$m" get --raw=/readyz 2>&1 | tail -n 1)"; done)
	if [ "$(echo "$out" | grep -c ': ok$')" = "$nkm" ]; then ok "every apiserver answers /readyz ok: $(echo "$out" | tr '\n' ' ')"
	else not_ok "every apiserver is ready"; diag "$out"; fi
	leases_ok() {
		for l in kube-controller-manager kube-scheduler; do
			h=$(kc -n kube-system get lease "$l" -o jsonpath='{.spec.holderIdentity}' 2>&1) || { echo "$l: $h"; return 1; }
			case " $kube_masters " in *" ${h%%_*} "*) echo "$l leader ${h%%_*}" ;; *) echo "$l: holder '$h'"; return 1 ;; esac
		done
		for m in $kube_masters; do
			vm_run "$m" "initctl status" 20 | grep -Eq '^kube-(controller-manager|scheduler) +ready' || { echo "$m: not running both"; return 1; }
		done
	}
	if out=$(until_ok 120 leases_ok 2>&1); then ok "one active controller-manager and scheduler by leader election, every master with the control plane ($kube_masters) runs both: $(echo "$out" | tr '\n' ' ')"
	else not_ok "leader election of the controller-manager and the scheduler"; diag "$out"; fi
	v1=$(sed -n 's/^KILN_VERSION=//p' "$KILN_BUILD/stage/node/etc/kiln/release")
	nodes_ready() {
		[ "$(kc get nodes -o jsonpath='{range .items[*]}{.metadata.name}:{.status.conditions[?(@.type=="Ready")].status}:{.status.nodeInfo.osImage}:{.status.nodeInfo.kubeletVersion}{"\n"}{end}' |
			grep -c "^n[12]:True:kiln $v1 (node):$KUBERNETES_VERSION\$")" = 2 ]
	}
	if until_ok 300 nodes_ready; then ok "both nodes Ready, OS image 'kiln $v1 (node)', kubelet $KUBERNETES_VERSION"
	else not_ok "both nodes Ready with their OS image named"; diag "$(kc get nodes -o wide 2>&1)"; fi

	# Two replicas of a local image (imported on each node: nodes pull nothing), one per node, and a Service.
	for n in $NODES; do vm_run "$n" "mkdir -p /data/kiln-test && wget -q -O $oci http://$host:8081/busybox.oci.tar && ctr -n k8s.io images import $oci" 180 > /dev/null; done
	kc apply -f - > "$CLUSTER_RUN/web.log" 2>&1 <<-EOF
	apiVersion: apps/v1
	kind: Deployment
	metadata: {name: web}
	spec:
	  replicas: 2
	  selector: {matchLabels: {app: web}}
	  template:
	    metadata: {labels: {app: web}}
	    spec:
	      affinity:
	        podAntiAffinity:
	          requiredDuringSchedulingIgnoredDuringExecution:
	          - {labelSelector: {matchLabels: {app: web}}, topologyKey: kubernetes.io/hostname}
	      containers:
	      - name: web
	        image: $img
	        imagePullPolicy: Never
	        command: [sh, -c, 'mkdir -p /www && hostname > /www/index.html && echo "web: serving as \$(hostname)" && exec httpd -f -p 8080 -h /www']
	---
	apiVersion: v1
	kind: Service
	metadata: {name: web}
	spec:
	  selector: {app: web}
	  ports: [{port: 80, targetPort: 8080}]
	EOF
	kc rollout status deployment/web --timeout=420s >> "$CLUSTER_RUN/web.log" 2>&1
	pods=$(kc get pods -l app=web -o jsonpath='{range .items[*]}{.spec.nodeName} {.metadata.name} {.status.podIP} {.status.phase}{"\n"}{end}' 2>&1)
	p1=$(echo "$pods" | awk '$1 == "n1" && $4 == "Running" { print $2 }') ip1=$(echo "$pods" | awk '$1 == "n1" { print $3 }')
	p2=$(echo "$pods" | awk '$1 == "n2" && $4 == "Running" { print $2 }') ip2=$(echo "$pods" | awk '$1 == "n2" { print $3 }')
	case "$ip1 $ip2" in
	10.200.1.*" "10.200.2.*) [ -n "$p1" ] && [ -n "$p2" ] && ok "a Deployment of 2 replicas runs one pod on each node, each in its node's subnet: $p1 $ip1 on n1, $p2 $ip2 on n2" ;;
	*) false ;;
	esac || { not_ok "the Deployment's pods spread over both nodes in their subnets"; diag "$pods" "$(cat "$CLUSTER_RUN/web.log")" "$(kc describe pods -l app=web 2>&1 | tail -n 20)"; }
	out=$(kc exec "${p1:-none}" -- wget -q -T 10 -O - "http://${ip2:-none}:8080/" 2>&1)
	if [ -n "$p2" ] && [ "$out" = "$p2" ]; then ok "kubectl exec in the n1 pod: it reaches the n2 pod at $ip2 across the nodes ($out)"
	else not_ok "kubectl exec and pod-to-pod traffic across nodes"; diag "$out"; fi
	out=$(kc logs "${p2:-none}" 2>&1)
	if [ "$out" = "web: serving as $p2" ]; then ok "kubectl logs: '$out'"
	else not_ok "kubectl logs of the n2 pod"; diag "$out"; fi
	cip=$(kc get service web -o jsonpath='{.spec.clusterIP}' 2>&1)
	out=$(kc exec "${p1:-none}" -- sh -c "for i in 1 2 3 4 5 6 7 8 9 10; do wget -q -T 5 -O - http://$cip/; done" 2>&1)
	if [ -n "$p2" ] && echo "$out" | grep -qx "$p2"; then ok "the Service web ($cip) answers the n1 pod from the pod on n2 too (kube-proxy): $(echo "$out" | sort | uniq -c | tr -s ' \n' ' ')"
	else not_ok "the ClusterIP Service answers from a pod on the other node"; diag "cluster IP: $cip" "$out"; fi

	# The cluster DNS (dnsmasq on every master that runs the control plane, fed from the API) through the kube-dns
	# Service, whose Endpoints the masters keep to those whose DNS answers (cluster-dns-endpoints, every 10 s).
	want_eps=$(for m in $kube_masters; do machine_field "$m" ADDRESS; done | sort | tr '\n' ' ')
	dns_eps() { [ "$(kc -n kube-system get endpoints kube-dns -o jsonpath='{range .subsets[*].addresses[*]}{.ip}{"\n"}{end}' | sort | tr '\n' ' ')" = "$want_eps" ]; }
	if until_ok 90 dns_eps; then ok "the kube-dns Endpoints are the masters whose DNS answers: $want_eps"
	else not_ok "the kube-dns Endpoints follow the masters whose DNS answers ($want_eps)"
		diag "$(kc -n kube-system get endpoints kube-dns 2>&1)" "$(vm_run m1 'initctl status cluster-dns-endpoints; tail -n 3 /data/log/cluster-dns-endpoints.log' 20)"; fi
	out=$(kc exec "${p1:-none}" -- nslookup "kubernetes.default.svc.$CLUSTER_DOMAIN" 2>&1)
	if echo "$out" | grep -q "Address: *$SERVICE_IP\$"; then ok "a pod resolves kubernetes.default.svc.$CLUSTER_DOMAIN to $SERVICE_IP through the cluster DNS ($DNS_IP)"
	else not_ok "a pod resolves kubernetes.default through the cluster DNS"; diag "$out" "$(kc -n kube-system get endpoints kube-dns 2>&1)"; fi
	kc create namespace other > /dev/null 2>&1
	kc -n other create service clusterip echo --tcp=80:8080 > /dev/null 2>&1
	ecip=$(kc -n other get service echo -o jsonpath='{.spec.clusterIP}' 2>&1)
	resolves_other() { kc exec "${p1:-none}" -- nslookup "echo.other.svc.$CLUSTER_DOMAIN" 2>&1 | grep -q "Address: *$ecip\$"; }
	if [ -n "$ecip" ] && until_ok 60 resolves_other; then ok "a Service created in another namespace resolves from the pod: echo.other.svc.$CLUSTER_DOMAIN is $ecip"
	else not_ok "a Service of another namespace resolves"; diag "$ecip" "$(kc exec "${p1:-none}" -- nslookup "echo.other.svc.$CLUSTER_DOMAIN" 2>&1)"; fi

	# The pod's service-account token: an allowed call answers, a forbidden one is refused (403).
	out=$(kc exec "${p1:-none}" -- env HOME=/tmp kubectl get --raw /api 2>&1)
	out2=$(kc exec "${p1:-none}" -- env HOME=/tmp kubectl -v=6 get secrets -n kube-system 2>&1)
	if echo "$out" | grep -q '"kind":"APIVersions"' && echo "$out2" | grep -q ' 403 Forbidden' &&
		echo "$out2" | grep -q 'User "system:serviceaccount:default:default" cannot list resource "secrets"'; then
		ok "a pod's service-account token reaches the API: /api answers, listing kube-system's secrets gets 403"
	else not_ok "the service-account token: an allowed and a forbidden call"; diag "$out" "$(echo "$out2" | tail -n 3)"; fi

	# The Node authorizer: n1's kubelet credentials read n2's Node, and cannot change it.
	id=$R/machines/n1/identity/pki nk=$CLUSTER_RUN/n1.kubeconfig
	"$KC" config set-cluster c --server "https://$(machine_field "${kube_masters##* }" ADDRESS):6443" --certificate-authority "$id/ca.crt" --embed-certs --kubeconfig "$nk" > /dev/null &&
		"$KC" config set-credentials n1 --client-certificate "$id/kubelet.crt" --client-key "$id/kubelet.key" --embed-certs --kubeconfig "$nk" > /dev/null &&
		"$KC" config set-context c --cluster c --user n1 --kubeconfig "$nk" > /dev/null && "$KC" config use-context c --kubeconfig "$nk" > /dev/null
	chmod 600 "$nk"
	kn() { ip netns exec "$CLUSTER_NETNS" "$KC" --kubeconfig "$nk" --request-timeout=30s "$@"; }
	read2=$(kn get node n2 -o name 2>&1) write2=$(kn annotate node n2 kiln.test/by=n1 2>&1)
	if [ "$read2" = node/n2 ] && echo "$write2" | grep -q 'nodes "n2" is forbidden: User "system:node:n1" cannot patch resource "nodes"'; then
		ok "the Node authorizer: n1's kubelet reads node n2 but may not change it"
	else not_ok "the Node authorizer keeps n1 from changing n2"; diag "$read2" "$write2"; fi

else
	for c in "every apiserver ready" "leader election" "nodes Ready" "a Deployment over both nodes" "kubectl exec, pod to pod" \
		"kubectl logs" "a ClusterIP Service" "the kube-dns Endpoints" "the cluster DNS" "DNS of another namespace" "the service-account token" \
		"the Node authorizer"; do kube_skip "$c"; done
fi

# etcd itself: one member stopped, then two, then both back.
vm_run m3 "$stop_etcd" 40 > /dev/null
if out=$(put m1 /kiln/b two) && [ "$(get m2 /kiln/b)" = two ]; then ok "with m3's etcd stopped, the cluster still writes (2 of 3)"
else not_ok "with one member stopped the cluster still writes"; diag "$out"; fi

vm_run m2 "$stop_etcd" 40 > /dev/null
if out=$(put m1 /kiln/c three); then not_ok "with two members stopped, a write is refused"; diag "$out"
else case $out in *"no answer"*|*"not running"*) not_ok "with two members stopped, a write is refused"; diag "$out" ;;
	*) ok "with two members stopped, a write is refused: $(echo "$out" | grep -o 'context deadline exceeded\|etcdserver: [a-z ]*' | head -n 1)" ;; esac
fi

vm_run m2 "initctl start etcd" 60 > /dev/null
vm_run m3 "initctl start etcd" 60 > /dev/null
ok_recover=
for i in 1 2 3 4 5 6; do
	if put m1 /kiln/d four > /dev/null && [ "$(get m3 /kiln/b)" = two ] && [ "$(get m3 /kiln/d)" = four ]; then ok_recover=1; break; fi
	sleep 5
done
if [ -n "$ok_recover" ]; then ok "after restarting both, the cluster writes again and m3 has caught up"
else not_ok "the cluster recovers after the restart"; diag "$(vm_run m3 'initctl status etcd; tail -n 5 /data/log/etcd.log' 20)"; fi

# The backup job on its own schedule on every master, each snapshot copied to the master copy_to names.
backups_ok() {
	for m in $MASTERS; do
		to=$(sed -n 's/^BACKUP_COPY_TO_NAME=//p' "$R/machines/$m/identity/env/backup.env")
		vm_run "$m" "grep -q 'etcd-backup: ok: .*copied to $to' /data/log/etcd-backup.log" 20 > /dev/null || return 1
		vm_run "$to" "ls /data/backup/etcd/from-$m/*-$m.db" 20 > /dev/null || return 1
	done
}
end=$(($(date +%s) + 150))
until backups_ok || [ "$(date +%s)" -ge "$end" ]; do sleep 5; done
if backups_ok; then
	ok "every master's scheduled backup ran and reached the next master:$(for m in $MASTERS; do printf ' %s: %s;' "$m" "$(vm_run "$m" "initctl status etcd-backup" 20 | sed -n 's/.*job every [0-9]*s, \([0-9]* runs, [0-9]* failed\).*/\1/p')"; done)"
else
	not_ok "every master's scheduled backup ran and was copied to the next master"
	for m in $MASTERS; do diag "== $m" "$(vm_run "$m" "initctl status; tail -n 3 /data/log/etcd-backup.log; ls -R /data/backup/etcd" 20)"; done
fi


# The etcd disaster drill and the upgrades (32 results) restart every apiserver, each some minutes under emulation:
# they run under make test-long; make test reports them skipped.
if [ -n "${KILN_LONG:-}" ]; then
	upgrade_machines="$MASTERS n1" long_nodes=n1

	# The drill: each of its 17 steps (19 with Kubernetes: a Deployment made before the backup is back after the restore,
	# one made after it is not) is one result here; a drill that stops early fails the steps it never reached.
	steps=17
	if [ -n "$kube" ]; then steps=19; else kube_skip "drill: a Deployment made before the backup"; kube_skip "drill: the Deployments after the restore"; fi
	sh scripts/drill.sh run "$R" > "$CLUSTER_RUN/drill.log" 2>&1
	n=0
	while IFS= read -r line; do
		case $line in
		"drill: ok: "*) ok "drill: ${line#drill: ok: }"; n=$((n + 1)) ;;
		"drill: FAILED: "*) not_ok "drill: ${line#drill: FAILED: }"; n=$((n + 1)) ;;
		esac
	done < "$CLUSTER_RUN/drill.log"
	[ "$n" = "$steps" ] || { diag "$(cat "$CLUSTER_RUN/drill.log")"; for m in $MASTERS; do diag "== $m" "$(vm_log "$m" | tail -n 10)"; done; }
	while [ "$n" -lt "$steps" ]; do not_ok "drill: a step it never reached ($(tail -n 1 "$CLUSTER_RUN/drill.log"))"; n=$((n + 1)); done

	# Upgrades. v2 of each role: its system image with another /etc/kiln/release; "bad": v2's sha256 beside v2's first
	# 24 MiB (a download cut short).
	v2=$CLUSTER_RUN/v2
	for r in master node; do
		mkdir -p "$v2/$r"
		cp --sparse=always "$KILN_OUT/$r/system.img" "$v2/$r/system.img"
		sed 's/^KILN_VERSION=.*/KILN_VERSION=v2-rolling/' "$KILN_BUILD/stage/$r/etc/kiln/release" > "$CLUSTER_RUN/release"
		printf 'rm /etc/kiln/release\nwrite %s /etc/kiln/release\n' "$CLUSTER_RUN/release" |
			debugfs -w -f - "$v2/$r/system.img" > "$CLUSTER_RUN/debugfs.log" 2>&1 || bail "debugfs on $v2/$r/system.img"
		(cd "$v2/$r" && sha256sum system.img > system.img.sha256)
	done
	v1=$(sed -n 's/^KILN_VERSION=//p' "$KILN_BUILD/stage/master/etc/kiln/release")
	mkdir -p "$www/bad"
	head -c $((24 * 1048576)) "$v2/master/system.img" > "$www/bad/system.img"
	cp "$v2/master/system.img.sha256" "$www/bad/"

	out=$(vm_run m1 "initctl upgrade http://$host:8081/none/system.img; echo rc=\$?" 60)
	if echo "$out" | grep -q "kiln-upgrade: error: http://$host:8081/none/system.img.sha256: cannot fetch it" && echo "$out" | grep -q '^rc=1'; then
		ok "an upgrade from a URL with nothing there is refused, naming the URL"
	else not_ok "an upgrade from a missing URL is refused"; diag "$out"; fi
	out=$(vm_run m1 "initctl upgrade http://$host:8081/bad/system.img > /tmp/up1.log 2>&1 & sleep 2; initctl upgrade http://$host:8081/bad/system.img; echo second=\$?; wait \$!; echo rc=\$?; cat /tmp/up1.log; initctl status | grep -E '^(slot|last)'" 200)
	if echo "$out" | grep -q 'kiln-upgrade: error: another upgrade is running on this machine' && echo "$out" | grep -q '^second=1'; then
		ok "a second upgrade while one runs is refused"
	else not_ok "a second upgrade while one runs is refused"; diag "$out"; fi
	if echo "$out" | grep -q 'does not read back as .*bad/system.img .*slot b wiped, not armed' && echo "$out" | grep -q '^rc=1' &&
		echo "$out" | grep -q '^slot b: version -$' && echo "$out" | grep -q '^last upgrade: failed: slot b (/dev/vda3) does not read back'; then
		ok "a truncated image from a URL is written, read back, refused and wiped: slot B holds no system, initctl status says why"
	else not_ok "a truncated image from a URL is refused"; diag "$out"; fi
	out=$(vm_run m1 "sed -n 's/^KILN_VERSION=//p' /etc/kiln/release; initctl status etcd" 20)
	if echo "$out" | grep -qx "$v1" && echo "$out" | grep -Eq '^etcd +(running|ready)'; then ok "m1 still runs v1 ($v1), etcd running"
	else not_ok "m1 still runs v1 after the refusals"; diag "$out"; fi

	# A client on the build host writes a key every half second (two tries of 5 s each) during the rolling upgrade.
	pki=$R/machines/m1/identity/pki/etcd
	eps=$(. scripts/lib.sh; for m in $MASTERS; do printf 'https://%s:2379,' "$(machine_field "$m" ADDRESS)"; done)
	hostctl() {
		ip netns exec "$CLUSTER_NETNS" etcdctl --endpoints "${eps%,}" --cacert "$pki/ca.crt" --cert "$pki/backup.crt" \
			--key "$pki/backup.key" --dial-timeout=3s --command-timeout=5s "$@"
	}
	(
		i=0
		while [ ! -f "$CLUSTER_RUN/writer.stop" ]; do
			i=$((i + 1))
			if hostctl put "/rolling/k$i" "$i" > /dev/null 2>&1 || hostctl put "/rolling/k$i" "$i" > /dev/null 2>&1
			then echo "$i ok $(date +%s.%N)"; else echo "$i failed $(date +%s.%N)"; fi
			sleep 0.5
		done
	) > "$CLUSTER_RUN/writer.log" 2>&1 &
	writer_pid=$!
	# A master's apiserver takes minutes to be ready again under emulation: the trial's deadline is 900 s here.
	UPGRADE_DEADLINE=900 UPGRADE_TIMEOUT=1200 UPGRADE_DIR=$v2 UPGRADE_MACHINES="$upgrade_machines" sh scripts/upgrade.sh "$R" > "$CLUSTER_RUN/upgrade.log" 2>&1
	rc=$?
	touch "$CLUSTER_RUN/writer.stop"; wait "$writer_pid"; writer_pid=
	for m in m1 m2 m3 n1; do
		case " $upgrade_machines " in *" $m "*) ;; *) skip "rolling upgrade of $m: under make test-long only, for make test's time (KILN_LONG=1)"; continue ;; esac
		if grep -q "^upgrade: $m: runs v2-rolling, committed" "$CLUSTER_RUN/upgrade.log"; then
			ok "rolling upgrade: $m runs v2, committed$(sed -n "s/^upgrade: $m: runs v2-rolling, committed ([0-9]* s)//p" "$CLUSTER_RUN/upgrade.log")"
		else not_ok "rolling upgrade: $m upgraded and committed"; diag "$(cat "$CLUSTER_RUN/upgrade.log")" "$(vm_log "$m" | grep -a kiln | tail -n 10)"; fi
	done
	nm=$(echo "$upgrade_machines" | tr ' ' '\n' | grep -c '^m')
	if [ "$rc" = 0 ] && [ "$(grep -c 'etcd healthy again' "$CLUSTER_RUN/upgrade.log")" = "$nm" ]; then
		ok "rolling upgrade: etcd healthy with 3 members after each of $nm master(s); $(tail -n 1 "$CLUSTER_RUN/upgrade.log" | sed 's/^upgrade: //')"
	else not_ok "rolling upgrade: etcd healthy after each master (exit $rc)"; diag "$(cat "$CLUSTER_RUN/upgrade.log")"; fi
	writes=$(grep -c ' ok ' "$CLUSTER_RUN/writer.log") failed=$(grep -c ' failed ' "$CLUSTER_RUN/writer.log")
	gap=$(awk '$2 == "ok" { if (p != "" && $3 - p > g) g = $3 - p; p = $3 } END { printf "%.1f", g }' "$CLUSTER_RUN/writer.log")
	if [ "$failed" = 0 ] && [ "$writes" -ge 100 ]; then
		ok "etcd stayed writable throughout: $writes writes from the build host, 0 failed, longest time between two writes $gap s"
	else not_ok "etcd stayed writable throughout the rolling upgrade: $writes ok, $failed failed, longest gap $gap s"
		diag "$(grep ' failed ' "$CLUSTER_RUN/writer.log" | head -n 5)"; fi
	keys=$(hostctl get /rolling/ --prefix --keys-only 2>&1 | grep -c '^/rolling/')
	if [ "$writes" -ge 100 ] && [ "$keys" = "$writes" ]; then ok "every one of the $writes keys written during the upgrade is there"
	else not_ok "every key written during the upgrade is there: $keys of $writes"; fi
	out=$(vm_run m1 "initctl status | grep -E '^(slot|last)'; etcdctl --command-timeout=8s get /drill/new/k0001 --print-value-only" 30)
	if echo "$out" | grep -q '^slot b: running, default, version v2-rolling' && echo "$out" | grep -q "^slot a: version $v1\$" &&
		echo "$out" | grep -q "^last upgrade: committed: slot b (v2-rolling), from slot a ($v1)" && echo "$out" | grep -qx v1; then
		ok "m1: initctl status shows slot B running v2 as default, slot A v1, the upgrade committed; keys from before are there"
	else not_ok "m1's status after the upgrade"; diag "$out"; fi
	if [ -n "$long_nodes" ]; then
		out=$(vm_run n1 "initctl status | grep -E '^(slot|containerd)'; ctr -n k8s.io images ls -q" 30)
		if echo "$out" | grep -q '^slot b: running, default, version v2-rolling' && echo "$out" | grep -Eq '^containerd +(running|ready)' &&
			echo "$out" | grep -q 'kiln/busybox:test'; then ok "n1 runs v2 from slot B, containerd running, its imported image kept on DATA"
		else not_ok "n1 after its upgrade"; diag "$out"; fi
	else
		skip "n1 runs v2 with containerd and its image kept: under make test-long only"
	fi
else
	i=0
	while [ $i -lt 32 ]; do
		i=$((i + 1))
		skip "the etcd disaster drill and the rolling upgrade, result $i of 32: under make test-long (KILN_LONG=1), for make test's time"
	done
fi

# Last, the API stays available to the nodes with m1 powered off: they reach m2 and m3 through apiproxy (m1 stays off).
# make test runs no apiserver on m2 and m3.
if [ -n "$kube" ] && [ -z "${KILN_LONG:-}" ]; then kube_why="under make test-long (KILN_LONG=1): make test runs the control plane on m1 alone"; fi
if [ -n "$kube" ] && [ -n "${KILN_LONG:-}" ]; then
	vm_send m1 "initctl poweroff"
	vm_wait_exit m1 120 > /dev/null 2>&1 || kill "$(cat "$CLUSTER_RUN/m1/qemu.pid")" 2>/dev/null
	off=$(date +%s)
	sleep 50 # longer than the controller-manager's 40 s grace before it marks a silent node NotReady
	kc2() { kc_at m2 "$@"; }
	ready_via_m2() {
		[ "$(kc2 get nodes -o jsonpath='{range .items[*]}{.metadata.name}:{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c '^n[12]:True$')" = 2 ]
	}
	if ready_via_m2; then ok "m1 powered off for $(($(date +%s) - off)) s: both nodes still Ready, kubectl through m2 works"
	else not_ok "with m1 off the nodes stay Ready"; diag "$(kc2 get nodes 2>&1)" "$(vm_run n1 'tail -n 5 /data/log/apiproxy.log' 20)"; fi
	kc2 run after-m1 --image="$img" --image-pull-policy=Never --restart=Never --command -- sh -c 'echo up; sleep 600' > /dev/null 2>&1
	running_pod() { [ "$(kc2 get pod after-m1 -o jsonpath='{.status.phase}' 2>/dev/null)" = Running ]; }
	if until_ok 240 running_pod; then ok "with m1 off a new pod is scheduled and runs: $(kc2 get pod after-m1 -o jsonpath='{.spec.nodeName} {.status.podIP}')"
	else not_ok "with m1 off a new pod is scheduled and runs"; diag "$(kc2 describe pod after-m1 2>&1 | tail -n 15)"; fi
else
	kube_skip "m1 off: nodes Ready through m2 and m3"; kube_skip "m1 off: a new pod"
fi
done_testing
