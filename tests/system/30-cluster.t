#!/bin/sh
# 30-cluster.t: the cluster tool on the example cluster: `kiln render` into a temporary folder, then the PKI
# against DESIGN.md's table (issuers, names, usages, who holds which key), the identity trees (modes, owners,
# network, etcd environment, kubeconfigs), reuse of the PKI on a second run, one reissued cert when one node
# moves, a bad cluster file leaving the previous output untouched, and `kiln pki status`. Then switching cluster
# files through make, in a build tree of its own: the render follows the file (path and content) and the PKI
# folder, a second make does nothing, and mk-machines.sh drops the machines the rendered cluster does not have.
. tests/system/lib/tap.sh

plan 46
kiln=$KILN_BUILD/tools/kiln
[ -x "$kiln" ] || make -s -C tools O="$KILN_BUILD/tools" all >/dev/null || bail "cannot build kiln"
command -v openssl >/dev/null || bail "openssl is needed"
T=$(mktemp -d "${TMPDIR:-/tmp}/kiln-cluster.XXXXXX")
trap 'rm -rf "$T"' EXIT
P=$T/pki O=$T/out M=$T/out/machines
KUBE_LEAVES="admin apiserver-kubelet-client controller-manager scheduler coredns kube-proxy machines/m1/apiserver"
KUBE_LEAVES="$KUBE_LEAVES machines/m2/apiserver machines/m3/apiserver machines/n1/kubelet machines/n2/kubelet monitoring"
KUBE_LEAVES="$KUBE_LEAVES machines/m1/metrics machines/m2/metrics machines/m3/metrics machines/n1/metrics machines/n2/metrics"
KUBE_LEAVES="$KUBE_LEAVES machines/m1/log machines/m2/log machines/m3/log machines/n1/log machines/n2/log"
ETCD_LEAVES="apiserver-etcd-client machines/m1/etcd machines/m2/etcd machines/m3/etcd"
ETCD_LEAVES="$ETCD_LEAVES machines/m1/etcd-backup machines/m2/etcd-backup machines/m3/etcd-backup"

render() { timeout 120 "$kiln" render "$1" --out "$O" --pki "$P" --rootfs rootfs; }
x509() { openssl x509 -noout "$@"; }
# sums DIR: a sorted checksum list of every file under DIR
sums() { (cd "$1" && find . -type f | LC_ALL=C sort | xargs sha256sum); }

check "kiln check accepts configs/cluster.yaml" timeout 10 "$kiln" check configs/cluster.yaml
check "kiln render writes the example cluster" render configs/cluster.yaml
# 2 CAs, 8 shared leaves, apiserver + etcd member + etcd backup client per master, kubelet per node, metrics and log
# per machine, the
# service-account key, the image signing key (its public half in out/cluster, the same as the PKI folder's)
check "the PKI folder is 0700 and holds its 33 keys, each 0600; the image key's public half is rendered" sh -c "
	[ \$(stat -c %a '$P') = 700 ] || { echo pki folder \$(stat -c %a '$P'); exit 1; }
	n=\$(find '$P' -name '*.key' | wc -l); [ \$n -eq 33 ] || { echo \$n keys; exit 1; }
	cmp '$P/image-signing.pub' '$O/image-signing.pub' && openssl pkey -pubin -in '$O/image-signing.pub' -noout || exit 1
	! find '$P' -name '*.key' ! -perm 600 | grep ."

check "the key encrypting Secrets at rest: 32 random bytes in base64, 0600; in each master's encryption-config.yaml (the apiserver's, 0600), in no node's" sh -c "
	[ \$(stat -c %a '$P/encryption.secret') = 600 ] && [ \$(base64 -d < '$P/encryption.secret' | wc -c) = 32 ] || { echo encryption.secret; exit 1; }
	k=\$(cat '$P/encryption.secret')
	for m in m1 m2 m3; do f='$M'/\$m/identity/pki/encryption-config.yaml
		grep -qx \"              secret: \$k\" \$f && grep -qx '      - secretbox:' \$f && grep -qx 'pki/encryption-config.yaml 0600 apiserver 201:201' '$M'/\$m/identity/MANIFEST &&
		grep -qx 'KUBE_ENCRYPTION_FLAGS=--encryption-provider-config=/etc/kiln/identity/pki/encryption-config.yaml' '$M'/\$m/identity/env/kubernetes.env || { echo \$m; exit 1; }
	done
	! grep -rqF \"\$k\" '$M/n1' '$M/n2'"
cp -a "$P" "$T/pki-bad" && printf 'c2hvcnQ=\n' > "$T/pki-bad/encryption.secret"
check "a damaged encryption.secret is an error naming it, never replaced" sh -c "
	! timeout 120 '$kiln' render configs/cluster.yaml --out '$T/out-bad' --pki '$T/pki-bad' --rootfs rootfs > '$T/bad.log' 2>&1 &&
	grep -q '$T/pki-bad/encryption.secret: not 32 bytes in base64' '$T/bad.log' && [ \$(cat '$T/pki-bad/encryption.secret') = c2hvcnQ= ] || { cat '$T/bad.log'; exit 1; }"

check "both CAs: self-signed, CA:TRUE critical, certificate signing, ECDSA P-256 with SHA-256" sh -c "
	for ca in kubernetes-ca:kiln-kubernetes-ca etcd-ca:kiln-etcd-ca; do
		f='$P'/\${ca%%:*}.crt
		openssl verify -CAfile \$f \$f >/dev/null || exit 1
		t=\$(openssl x509 -noout -text -in \$f)
		echo \"\$t\" | grep -q \"Subject: CN *= *\${ca#*:}\$\" || { echo \$f: subject; exit 1; }
		echo \"\$t\" | grep -A1 'Basic Constraints: critical' | grep -q 'CA:TRUE' || { echo \$f: basicConstraints; exit 1; }
		echo \"\$t\" | grep -A1 'Key Usage: critical' | grep -q 'Certificate Sign' || { echo \$f: keyUsage; exit 1; }
		echo \"\$t\" | grep -q 'NIST CURVE: P-256' && echo \"\$t\" | grep -q 'ecdsa-with-SHA256' || { echo \$f: algorithm; exit 1; }
	done"

check "every kube leaf verifies against the kube CA and not against the etcd CA" sh -c "
	for c in $KUBE_LEAVES; do
		openssl verify -CAfile '$P/kubernetes-ca.crt' '$P'/\$c.crt >/dev/null || { echo \$c: not by the kube CA; exit 1; }
		openssl verify -CAfile '$P/etcd-ca.crt' '$P'/\$c.crt >/dev/null 2>&1 && { echo \$c: verifies with the etcd CA; exit 1; }
	done; :"
check "every etcd leaf verifies against the etcd CA and not against the kube CA" sh -c "
	for c in $ETCD_LEAVES; do
		openssl verify -CAfile '$P/etcd-ca.crt' '$P'/\$c.crt >/dev/null || { echo \$c: not by the etcd CA; exit 1; }
		openssl verify -CAfile '$P/kubernetes-ca.crt' '$P'/\$c.crt >/dev/null 2>&1 && { echo \$c: verifies with the kube CA; exit 1; }
	done; :"
check "the identity trees' certs verify against the CA copies they carry" sh -c "
	for m in m1 m2 m3; do
		for c in apiserver apiserver-kubelet-client controller-manager scheduler coredns; do
			openssl verify -CAfile '$M'/\$m/identity/pki/ca.crt '$M'/\$m/identity/pki/\$c.crt >/dev/null || exit 1
		done
		for c in member backup; do
			openssl verify -CAfile '$M'/\$m/identity/pki/etcd/ca.crt '$M'/\$m/identity/pki/etcd/\$c.crt >/dev/null || exit 1
		done
		openssl verify -CAfile '$M'/\$m/identity/pki/etcd/ca.crt '$M'/\$m/identity/pki/apiserver-etcd-client.crt >/dev/null || exit 1
	done
	for n in n1 n2; do for c in kubelet kube-proxy; do
		openssl verify -CAfile '$M'/\$n/identity/pki/ca.crt '$M'/\$n/identity/pki/\$c.crt >/dev/null || exit 1
	done; done"

# sans FILE: the SANs one a line, as openssl prints them
sans() { x509 -ext subjectAltName -in "$1" | tail -n +2 | tr ',' '\n' | sed 's/^ *//; s/IP Address:/IP:/' | LC_ALL=C sort | tr '\n' ' '; }
eku() { x509 -ext extendedKeyUsage -in "$1" | tail -n +2 | sed 's/^ *//'; }
want_api="DNS:kubernetes DNS:kubernetes.default DNS:kubernetes.default.svc DNS:kubernetes.default.svc.cluster.local DNS:localhost DNS:m2 IP:10.254.0.1 IP:127.0.0.1 IP:192.168.0.12 "
check "m2's apiserver cert: CN kube-apiserver, exactly the SANs of the design, serverAuth only" sh -c "
	f='$M/m2/identity/pki/apiserver.crt'
	[ \"\$(openssl x509 -noout -subject -nameopt RFC2253 -in \$f)\" = 'subject=CN=kube-apiserver' ] || exit 1
	s=\$(openssl x509 -noout -ext subjectAltName -in \$f | tail -n +2 | tr ',' '\n' | sed 's/^ *//; s/IP Address:/IP:/' | LC_ALL=C sort | tr '\n' ' ')
	[ \"\$s\" = '$want_api' ] || { echo \"SANs: \$s\"; exit 1; }
	[ \"\$(openssl x509 -noout -ext extendedKeyUsage -in \$f | tail -n 1 | sed 's/^ *//')\" = 'TLS Web Server Authentication' ]"
check "m3's etcd member cert: CN m3, SANs m3 192.168.0.13 localhost 127.0.0.1, server and client auth" sh -c "
	f='$M/m3/identity/pki/etcd/member.crt'
	[ \"\$(openssl x509 -noout -subject -nameopt RFC2253 -in \$f)\" = 'subject=CN=m3' ] || exit 1
	s=\$(openssl x509 -noout -ext subjectAltName -in \$f | tail -n +2 | tr ',' '\n' | sed 's/^ *//; s/IP Address:/IP:/' | LC_ALL=C sort | tr '\n' ' ')
	[ \"\$s\" = 'DNS:localhost DNS:m3 IP:127.0.0.1 IP:192.168.0.13 ' ] || { echo \"SANs: \$s\"; exit 1; }
	openssl x509 -noout -ext extendedKeyUsage -in \$f | grep -q 'TLS Web Server Authentication, TLS Web Client Authentication'"
check "n2's kubelet cert: system:node:n2 in system:nodes, SANs n2 and its address, server and client auth" sh -c "
	f='$M/n2/identity/pki/kubelet.crt'
	[ \"\$(openssl x509 -noout -subject -nameopt RFC2253 -in \$f)\" = 'subject=CN=system:node:n2,O=system:nodes' ] || exit 1
	s=\$(openssl x509 -noout -ext subjectAltName -in \$f | tail -n +2 | tr ',' '\n' | sed 's/^ *//; s/IP Address:/IP:/' | LC_ALL=C sort | tr '\n' ' ')
	[ \"\$s\" = 'DNS:n2 IP:192.168.0.22 ' ] || { echo \"SANs: \$s\"; exit 1; }
	openssl x509 -noout -ext extendedKeyUsage -in \$f | grep -q 'TLS Web Server Authentication, TLS Web Client Authentication'"
check "client certs: subjects of the design, clientAuth only, no SANs" sh -c "
	for c in apiserver-kubelet-client:CN=kube-apiserver-kubelet-client \
		 controller-manager:CN=system:kube-controller-manager scheduler:CN=system:kube-scheduler coredns:CN=system:coredns \
		 admin:CN=kubernetes-admin,O=system:masters kube-proxy:CN=system:kube-proxy,O=system:node-proxier \
		 apiserver-etcd-client:CN=kube-apiserver-etcd-client machines/m1/etcd-backup:CN=etcd-backup:m1 \
		 machines/m3/etcd-backup:CN=etcd-backup:m3 monitoring:CN=kiln:monitoring; do
		f='$P'/\${c%%:*}.crt
		[ \"\$(openssl x509 -noout -subject -nameopt RFC2253 -in \$f)\" = \"subject=\${c#*:}\" ] || { echo \$f: subject; exit 1; }
		[ \"\$(openssl x509 -noout -ext extendedKeyUsage -in \$f | tail -n 1 | sed 's/^ *//')\" = 'TLS Web Client Authentication' ] || exit 1
		openssl x509 -noout -ext subjectAltName -in \$f | grep -q . && { echo \$f has SANs; exit 1; }
		openssl x509 -noout -text -in \$f | grep -A1 'Basic Constraints: critical' | grep -q 'CA:FALSE' || exit 1
	done; :"

check "the apiserver-kubelet client cert is the same on every master; each master's serving cert differs" sh -c "
	cmp '$M/m1/identity/pki/apiserver-kubelet-client.crt' '$M/m2/identity/pki/apiserver-kubelet-client.crt' &&
	cmp '$M/m1/identity/pki/apiserver-kubelet-client.crt' '$M/m3/identity/pki/apiserver-kubelet-client.crt' &&
	cmp '$M/m1/identity/pki/apiserver-kubelet-client.key' '$M/m3/identity/pki/apiserver-kubelet-client.key' &&
	! cmp -s '$M/m1/identity/pki/apiserver.crt' '$M/m2/identity/pki/apiserver.crt' &&
	! cmp -s '$M/m2/identity/pki/apiserver.crt' '$M/m3/identity/pki/apiserver.crt'"
check "n1's metrics cert: CN kiln:metrics:n1, SANs n1, its address and localhost, serverAuth only, the metrics user's" sh -c "
	f='$M/n1/identity/pki/metrics.crt'
	[ \"\$(openssl x509 -noout -subject -nameopt RFC2253 -in \$f)\" = 'subject=CN=kiln:metrics:n1' ] || exit 1
	s=\$(openssl x509 -noout -ext subjectAltName -in \$f | tail -n +2 | tr ',' '\n' | sed 's/^ *//; s/IP Address:/IP:/' | LC_ALL=C sort | tr '\n' ' ')
	[ \"\$s\" = 'DNS:localhost DNS:n1 IP:127.0.0.1 IP:192.168.0.21 ' ] || { echo \"SANs: \$s\"; exit 1; }
	[ \"\$(openssl x509 -noout -ext extendedKeyUsage -in \$f | tail -n 1 | sed 's/^ *//')\" = 'TLS Web Server Authentication' ] || exit 1
	openssl verify -CAfile '$P/kubernetes-ca.crt' \$f > /dev/null &&
	grep -qx 'pki/metrics.key 0600 metrics 207:207' '$M/n1/identity/MANIFEST' &&
	grep -qx 'pki/metrics.key 0600 metrics 207:207' '$M/m1/identity/MANIFEST' || exit 1
	! find '$M' -name 'monitoring*' | grep ."
check "logs: n1 sends to m1 and m2, n2 to m2 and m3, m1 to m2 and m3; masters take every machine's; log certs name the machine, client and server, the forwarder's (and on masters the receiver's copy)" sh -c "
	[ \"\$(cat '$M/n1/identity/env/logship.env')\" = 'LOG_TARGETS=m1:192.168.0.11 m2:192.168.0.12' ] &&
	[ \"\$(cat '$M/n2/identity/env/logship.env')\" = 'LOG_TARGETS=m2:192.168.0.12 m3:192.168.0.13' ] &&
	[ \"\$(cat '$M/m1/identity/env/logship.env')\" = 'LOG_TARGETS=m2:192.168.0.12 m3:192.168.0.13' ] &&
	[ \"\$(cat '$M/m3/identity/env/logsink.env')\" = 'LOG_PEERS=m1:192.168.0.11 m2:192.168.0.12 m3:192.168.0.13 n1:192.168.0.21 n2:192.168.0.22' ] &&
	[ ! -e '$M/n1/identity/env/logsink.env' ] || { grep . '$M'/*/identity/env/log*.env; exit 1; }
	f='$M/n2/identity/pki/log.crt'
	[ \"\$(openssl x509 -noout -subject -nameopt RFC2253 -in \$f)\" = 'subject=CN=kiln:log:n2' ] &&
	openssl x509 -noout -ext extendedKeyUsage -in \$f | grep -q 'TLS Web Server Authentication, TLS Web Client Authentication' &&
	openssl x509 -noout -ext subjectAltName -in \$f | grep -q 'DNS:n2, IP Address:192.168.0.22' &&
	grep -qx 'pki/log.key 0600 logship 208:208' '$M/n2/identity/MANIFEST' &&
	grep -qx 'pki/logsink/log.key 0600 logsink 209:209' '$M/m2/identity/MANIFEST' &&
	cmp '$M/m2/identity/pki/log.key' '$M/m2/identity/pki/logsink/log.key'"
check "nodes hold no etcd file and no CA key; their only private keys are kubelet's, kube-proxy's, metrics' and log's" sh -c "
	for n in n1 n2; do
		d='$M'/\$n/identity
		find \$d | grep -i etcd && { echo \$n has etcd material; exit 1; }
		keys=\$(grep -rl 'PRIVATE KEY' \$d | sed \"s|^\$d/||\" | LC_ALL=C sort | tr '\n' ' ')
		[ \"\$keys\" = 'pki/kube-proxy.key pki/kubelet.key pki/log.key pki/metrics.key ' ] || { echo \"\$n keys: \$keys\"; exit 1; }
		for k in '$P'/*-ca.key; do grep -rqF \"\$(sed -n 2p \$k)\" \$d && { echo \$n holds \$k; exit 1; }; done
	done; :"
check "masters hold the kube CA key, never the etcd CA key or the admin key" sh -c "
	for m in m1 m2 m3; do
		d='$M'/\$m/identity
		cmp -s '$P/kubernetes-ca.key' \$d/pki/ca.key || { echo \$m: no kube CA key; exit 1; }
		for k in etcd-ca admin; do
			grep -rqF \"\$(sed -n 2p '$P'/\$k.key)\" \$d && { echo \$m holds \$k.key; exit 1; }
		done
	done
	grep -rqF \"\$(sed -n 2p '$P/admin.key')\" '$M' && exit 1; :"
check "in every identity tree keys are 0600, certs 0644, folders 0755" sh -c "
	! find '$M' -path '*/identity/*' -name '*.key' ! -perm 600 | grep . &&
	! find '$M' -path '*/identity/*' -name '*.crt' ! -perm 644 | grep . &&
	! find '$M' -type d ! -perm 755 | grep . &&
	[ \$(find '$M' -path '*/identity/*' -name '*.key' | wc -l) -eq \$((3 * 14 + 2 * 4)) ]"
if [ "$(id -u)" = 0 ]; then
	# On the build host every file is root's; the image's owners are in MANIFEST and applied in the archive only.
	check "owners by the image's passwd (etcd's files etcd, each control-plane component's its own: apiserver, controller-manager with the CA key, scheduler; DNS dns; a node's root) in MANIFEST and in the identity archive; on the build host every file root's" sh -c "
		a='$T/m1-archive'; mkdir -p \$a
		scripts/mk-identity.sh '$M/m1/identity' '$T/m1.cpio.gz' > /dev/null && (cd \$a && zcat '$T/m1.cpio.gz' | cpio -idm --quiet) || exit 1
		[ \"\$(stat -c %a '$T/m1.cpio.gz')\" = 600 ] || { echo archive mode; exit 1; }
		[ \"\$(stat -c %a \$a/etc):\$(stat -c %a \$a/etc/kiln)\" = 755:755 ] || { echo 'the archive would change /etc'; exit 1; }
		a=\$a/etc/kiln/identity
		[ \"\$(stat -c %u:%g:%a \$a/pki/etcd/member.key)\" = 200:200:600 ] || exit 1
		[ \"\$(stat -c %u:%g \$a/pki/etcd/backup.key)\" = 200:200 ] || exit 1
		[ \"\$(stat -c %u:%g:%a \$a/pki/apiserver.key)\" = 201:201:600 ] || exit 1
		[ \"\$(stat -c %u:%g \$a/pki/ca.key)\" = 204:204 ] || exit 1
		[ \"\$(stat -c %u:%g:%a \$a/pki/controller-manager/service-account.key)\" = 204:204:600 ] || exit 1
		[ \"\$(stat -c %u:%g:%a \$a/pki/service-account.key)\" = 201:201:600 ] || exit 1
		[ \"\$(stat -c %u:%g \$a/kubeconfig/scheduler.kubeconfig)\" = 205:205 ] || exit 1
		[ \"\$(stat -c %u:%g \$a/kubeconfig/controller-manager.kubeconfig)\" = 204:204 ] || exit 1
		[ \"\$(stat -c %u:%g:%a \$a/pki/coredns.key)\" = 202:202:600 ] || exit 1
		grep -qx 'pki/kubelet.key 0600 root 0:0' '$M/n1/identity/MANIFEST' || exit 1
		! find '$M' ! -uid 0 | grep . || exit 1
		d='$M'/m1/identity
		grep -v '^#' \$d/MANIFEST | while read -r f mode user ids; do
			[ \"\$(stat -c '%04a %u:%g' \$a/\$f)\" = \"\$mode \$ids\" ] || { echo \"m1 \$f: \$mode \$ids\"; exit 1; }
		done || exit 1
		[ \$(grep -vc '^#' \$d/MANIFEST) -eq \$(find \$d -type f ! -name MANIFEST | wc -l) ] || exit 1"
else
	skip "owners need root"
fi

check "cluster.env: derived service IP, DNS, pod subnets, etcd initial cluster, machines" sh -c "
	. '$O/cluster.env'
	[ \"\$SERVICE_IP \$DNS_IP \$SERVICE_CIDR \$POD_CIDR \$INFRA_CIDR\" = '10.254.0.1 10.254.0.10 10.254.0.0/24 10.200.0.0/16 192.168.0.0/24' ] &&
	[ \"\$MASTERS|\$NODES\" = 'm1 m2 m3|n1 n2' ] && [ \$CLUSTER_NAME = demo ] && [ \$KUBERNETES_VERSION = v1.20.2 ] &&
	[ \"\$ETCD_INITIAL_CLUSTER\" = 'm1=https://192.168.0.11:2380,m2=https://192.168.0.12:2380,m3=https://192.168.0.13:2380' ] &&
	[ \"\$MACHINE_n1_POD_CIDR \$MACHINE_n2_POD_CIDR\" = '10.200.1.0/24 10.200.2.0/24' ] &&
	[ \"\$MACHINE_m2_ROLE \$MACHINE_m2_MAC \$MACHINE_m2_ADDRESS\" = 'master 52:54:00:00:00:12 192.168.0.12' ] &&
	[ \"\$(cat '$M/n2/role')\" = node ] && [ \"\$(cat '$M/m1/hostname' 2>/dev/null || cat '$M/m1/identity/hostname')\" = m1 ]"
check "network files: own address by MAC, a route to every other node's pod subnet, none to its own" sh -c "
	n1=\$(grep -v '^#' '$M/n1/identity/network')
	[ \"\$n1\" = 'address 192.168.0.21/24 mac 52:54:00:00:00:21
route 10.200.2.0/24 via 192.168.0.22' ] || { echo \"\$n1\"; exit 1; }
	m1=\$(grep -v '^#' '$M/m1/identity/network')
	[ \"\$m1\" = 'address 192.168.0.11/24 mac 52:54:00:00:00:11
route 10.200.1.0/24 via 192.168.0.21
route 10.200.2.0/24 via 192.168.0.22' ] || { echo \"\$m1\"; exit 1; }"
check "etcd.env: TLS for clients and peers with client cert auth, the initial cluster, etcdctl's client cert" sh -c "
	e='$M/m2/identity/env/etcd.env'
	for l in ETCD_NAME=m2 ETCD_DATA_DIR=/data/etcd \
		ETCD_LISTEN_CLIENT_URLS=https://192.168.0.12:2379,https://127.0.0.1:2379 \
		ETCD_ADVERTISE_CLIENT_URLS=https://192.168.0.12:2379 ETCD_LISTEN_PEER_URLS=https://192.168.0.12:2380 \
		ETCD_INITIAL_ADVERTISE_PEER_URLS=https://192.168.0.12:2380 ETCD_INITIAL_CLUSTER_STATE=new \
		ETCD_INITIAL_CLUSTER=m1=https://192.168.0.11:2380,m2=https://192.168.0.12:2380,m3=https://192.168.0.13:2380 \
		ETCD_CERT_FILE=/etc/kiln/identity/pki/etcd/member.crt ETCD_KEY_FILE=/etc/kiln/identity/pki/etcd/member.key \
		ETCD_TRUSTED_CA_FILE=/etc/kiln/identity/pki/etcd/ca.crt ETCD_CLIENT_CERT_AUTH=true \
		ETCD_PEER_CERT_FILE=/etc/kiln/identity/pki/etcd/member.crt ETCD_PEER_CLIENT_CERT_AUTH=true \
		ETCD_PEER_TRUSTED_CA_FILE=/etc/kiln/identity/pki/etcd/ca.crt ETCDCTL_ENDPOINTS=https://127.0.0.1:2379 \
		ETCDCTL_CERT=/etc/kiln/identity/pki/etcd/backup.crt ETCDCTL_KEY=/etc/kiln/identity/pki/etcd/backup.key \
		ETCDCTL_CACERT=/etc/kiln/identity/pki/etcd/ca.crt; do
		grep -qx \"\$l\" \$e || { echo missing \$l; exit 1; }
	done
	grep -q '^ETCD_INITIAL_CLUSTER_TOKEN=.' \$e && ! grep -v '^[A-Z_]*=' \$e | grep ."
check "time.env: masters serve time, m1 (no time servers in the example) is the reference, m2 and m3 take m1's, nodes every master's" sh -c "
	t=\$(for m in m1 m2 m3 n1; do printf '%s: ' \$m; grep -v '^#' '$M'/\$m/identity/env/time.env | tr '\n' ' '; echo; done)
	[ \"\$t\" = 'm1: NTP_SERVE=yes NTP_PEERS= 
m2: NTP_SERVE=yes NTP_PEERS=192.168.0.11 
m3: NTP_SERVE=yes NTP_PEERS=192.168.0.11 
n1: NTP_SERVE=no NTP_PEERS=192.168.0.11 192.168.0.12 192.168.0.13 ' ] || { echo \"\$t\"; exit 1; }"
check "every path a master's or node's files name exists in its identity tree" sh -c "
	for m in m1 n1; do
		d='$M'/\$m/identity
		for p in \$(cat \$d/env/*.env \$d/kubeconfig/* \$d/config/* 2>/dev/null | grep -o '/etc/kiln/identity/[^ ,]*' | sort -u); do
			[ -f \$d/\${p#/etc/kiln/identity/} ] || { echo \$m: \$p missing; exit 1; }
		done
	done"
check "node configs: kubelet's names its subnet, address, cluster DNS and cert pair; kube-proxy's the pod range" sh -c "
	k='$M/n2/identity/config/kubelet.yaml' p='$M/n2/identity/config/kube-proxy.yaml'
	for l in 'kind: KubeletConfiguration' 'podCIDR: 10.200.2.0/24' 'address: 192.168.0.22' '- 10.254.0.10' \
		'clusterDomain: cluster.local' 'cgroupDriver: cgroupfs' 'tlsCertFile: /etc/kiln/identity/pki/kubelet.crt' \
		'tlsPrivateKeyFile: /etc/kiln/identity/pki/kubelet.key' '    clientCAFile: /etc/kiln/identity/pki/ca.crt'; do
		grep -qxF -- \"\$l\" \$k || { echo kubelet.yaml: no \"\$l\"; exit 1; }
	done
	for l in 'kind: KubeProxyConfiguration' 'clusterCIDR: 10.200.0.0/16' 'hostnameOverride: n2' 'mode: iptables' \
		'  kubeconfig: /etc/kiln/identity/kubeconfig/kube-proxy.kubeconfig'; do
		grep -qxF -- \"\$l\" \$p || { echo kube-proxy.yaml: no \"\$l\"; exit 1; }
	done
	! find '$M'/m*/identity -path '*/config/*' | grep ."
check "the wiring follows the release: v1.20.2's kubelet gets the CRI endpoint as flags, v1.30.0's in its config" sh -c "
	grep -qx 'KUBELET_FLAGS=--container-runtime=remote --container-runtime-endpoint=unix:///run/containerd/containerd.sock' '$M/n1/identity/env/kubernetes.env' &&
	! grep -q containerRuntimeEndpoint '$M/n1/identity/config/kubelet.yaml' &&
	timeout 60 '$kiln' render tests/clusters/solo.yaml --out '$T/solo' --pki '$T/solo-pki' --rootfs rootfs >/dev/null &&
	grep -qx 'KUBELET_FLAGS=' '$T/solo/machines/t1/identity/env/kubernetes.env' &&
	grep -qx 'containerRuntimeEndpoint: unix:///run/containerd/containerd.sock' '$T/solo/machines/t1/identity/config/kubelet.yaml'"
check "a node's API endpoint (apiproxy.cfg): 127.0.0.1:6443 to every master, checked by /readyz over TLS with the kube CA" sh -c "
	f='$M/n2/identity/config/apiproxy.cfg'
	[ \"\$(grep '^  server ' \$f | tr '\n' ' ')\" = '  server m1 192.168.0.11:6443   server m2 192.168.0.12:6443   server m3 192.168.0.13:6443 ' ] &&
	grep -qx '  bind 127.0.0.1:6443' \$f && grep -qx '  option httpchk GET /readyz' \$f &&
	grep -q 'check check-ssl verify required ca-file /etc/kiln/identity/pki/ca.crt' \$f &&
	! find '$M'/m*/identity -name apiproxy.cfg | grep ."
# addons_ok FILE: the manifest's six objects, the DNS address, one endpoint per master, the Endpoints' keepers
# (cluster-dns-endpoints) allowed that one object only
addons_ok() {
	objs=$(kubectl label --local -f "$1" kiln-check=1 -o name | tr '\n' ' ')
	[ "$objs" = "clusterrole.rbac.authorization.k8s.io/kiln:coredns clusterrolebinding.rbac.authorization.k8s.io/kiln:coredns service/kube-dns role.rbac.authorization.k8s.io/kiln:dns-endpoints rolebinding.rbac.authorization.k8s.io/kiln:dns-endpoints endpoints/kube-dns " ] ||
		{ echo "objects: $objs"; return 1; }
	ip=$(kubectl label --local -f "$1" kiln-check=1 -o jsonpath='{.spec.clusterIP}')
	[ "$ip" = 10.254.0.10 ] || { echo "clusterIP $ip"; return 1; }
	eps=$(grep -o -- '- ip: .*' "$1" | tr '\n' ' ')
	[ "$eps" = '- ip: "192.168.0.11" - ip: "192.168.0.12" - ip: "192.168.0.13" ' ] ||
		{ echo "endpoints: $eps"; return 1; }
	grep -qx '  name: system:coredns' "$1" && grep -qx '  resourceNames: \[kube-dns\]' "$1" && grep -qx '  verbs: \[get, update\]' "$1" &&
	grep -qx 'MASTER_ADDRESSES=192.168.0.11,192.168.0.12,192.168.0.13' "$M/m2/identity/env/kubernetes.env" &&
	! grep -q MASTER_ADDRESSES "$M/n1/identity/env/kubernetes.env"
}
check "addons/coredns.yaml: RBAC for system:coredns, kube-dns at the cluster DNS address, every master an endpoint, its keepers' Role; masters know every master's address" \
	addons_ok "$O/addons/coredns.yaml"
check "addons/apiserver-kubelet.yaml binds the apiservers' kubelet client (in no group) to system:kubelet-api-admin alone" sh -c "
	[ \"\$(kubectl label --local -f '$O/addons/apiserver-kubelet.yaml' kiln-check=1 -o jsonpath='{.kind}/{.metadata.name} {.roleRef.kind}/{.roleRef.name} {.subjects[*].kind}/{.subjects[*].name}')\" = \
		'ClusterRoleBinding/kiln:apiserver-kubelet ClusterRole/system:kubelet-api-admin User/kube-apiserver-kubelet-client' ]"
check "kubectl reads every kubeconfig; masters and nodes use 127.0.0.1 (their own apiserver, apiproxy), admin the first master" sh -c "
	command -v kubectl >/dev/null || { echo no kubectl; exit 1; }
	for f in '$M'/m*/identity/kubeconfig/*.kubeconfig '$M'/n*/identity/kubeconfig/*.kubeconfig; do
		[ \"\$(kubectl config view --raw --kubeconfig \$f -o jsonpath='{.clusters[0].cluster.server}')\" = https://127.0.0.1:6443 ] || { echo \$f; exit 1; }
	done
	for f in '$O/admin.kubeconfig'; do
		[ \"\$(kubectl config view --raw --kubeconfig \$f -o jsonpath='{.clusters[0].cluster.server}')\" = https://192.168.0.11:6443 ] || { echo \$f; exit 1; }
	done
	[ \"\$(kubectl config view --raw --kubeconfig '$M/n1/identity/kubeconfig/kubelet.kubeconfig' -o jsonpath='{.users[0].name} {.users[0].user.client-certificate}')\" = \
		'system:node:n1 /etc/kiln/identity/pki/kubelet.crt' ]"
check "admin.kubeconfig embeds a system:masters cert that verifies against the kube CA; no identity tree has it" sh -c "
	kubectl config view --raw --kubeconfig '$O/admin.kubeconfig' -o jsonpath='{.users[0].user.client-certificate-data}' | base64 -d > '$T/admin.crt'
	kubectl config view --raw --kubeconfig '$O/admin.kubeconfig' -o jsonpath='{.clusters[0].cluster.certificate-authority-data}' | base64 -d > '$T/ca.crt'
	cmp '$T/ca.crt' '$P/kubernetes-ca.crt' && openssl verify -CAfile '$P/kubernetes-ca.crt' '$T/admin.crt' >/dev/null &&
	openssl x509 -noout -subject -nameopt RFC2253 -in '$T/admin.crt' | grep -qx 'subject=CN=kubernetes-admin,O=system:masters' &&
	[ \$(stat -c %a '$O/admin.kubeconfig') = 600 ] && ! find '$M' -name 'admin*' | grep ."

sums "$P" > "$T/pki.1"
sums "$O" > "$T/out.1"
touch -d @1000000000 "$M/n1/identity/pki/kubelet.crt"
check "a second render reuses the PKI: every key and cert unchanged" sh -c "
	render() { timeout 120 '$kiln' render \"\$1\" --out '$O' --pki '$P' --rootfs rootfs; }
	out=\$(render configs/cluster.yaml) || exit 1; echo \"\$out\" | grep -q '0 issued' || { echo \"\$out\"; exit 1; }
	cd '$P' && find . -type f | LC_ALL=C sort | xargs sha256sum | cmp - '$T/pki.1'"
check "an unchanged identity is not rewritten: same bytes, same file times" sh -c "
	cd '$O' && find . -type f | LC_ALL=C sort | xargs sha256sum | cmp - '$T/out.1' &&
	[ \$(stat -c %Y '$M/n1/identity/pki/kubelet.crt') = 1000000000 ]"

sed 's/address: 192.168.0.22/address: 192.168.0.23/' configs/cluster.yaml > "$T/moved.yaml"
check "moving n2 reissues n2's kubelet, log and metrics certs (they name its address) and nothing else" sh -c "
	timeout 120 '$kiln' render '$T/moved.yaml' --out '$O' --pki '$P' --rootfs rootfs >/dev/null 2>'$T/moved.err' || exit 1
	cd '$P' && find . -type f | LC_ALL=C sort | xargs sha256sum > '$T/pki.2'
	d=\$(diff '$T/pki.1' '$T/pki.2' | grep '^>' | sed 's/.*  //')
	[ \"\$(echo \$d)\" = './machines/n2/kubelet.crt ./machines/n2/log.crt ./machines/n2/metrics.crt' ] || { echo \"changed: \$d\"; exit 1; }
	openssl x509 -noout -ext subjectAltName -in '$M/n2/identity/pki/kubelet.crt' | grep -q 'IP Address:192.168.0.23' &&
	grep -qx 'route 10.200.2.0/24 via 192.168.0.23' '$M/n1/identity/network'"

sums "$O" > "$T/out.2"
ls -li "$O" > "$T/ls.2"
check "a bad cluster file is refused with file:line and leaves the previous output untouched" sh -c "
	cp tests/bad-clusters/27-duplicate-mac.yaml '$T/bad.yaml'
	timeout 60 '$kiln' render '$T/bad.yaml' --out '$O' --pki '$P' --rootfs rootfs 2>'$T/bad.err' && exit 1
	grep -q \"^$T/bad.yaml:[0-9]*: duplicate MAC\" '$T/bad.err' || { cat '$T/bad.err'; exit 1; }
	cd '$O' && find . -type f | LC_ALL=C sort | xargs sha256sum | cmp - '$T/out.2' && ls -li '$O' | cmp - '$T/ls.2' &&
	[ ! -e '$O.new' ]"
check "kiln check fails with exit 1 and a message on every bad cluster file" sh -c "
	for f in tests/bad-clusters/*.yaml; do
		case \$f in *-warn-*) continue ;; esac
		timeout 10 '$kiln' check \$f 2>'$T/e'; [ \$? -eq 1 ] || { echo \$f: exit; exit 1; }
		grep -qF \"\$(cat \${f%.yaml}.expect)\" '$T/e' || { echo \$f; cat '$T/e'; exit 1; }
	done"
check "an even number of masters is a warning: exit 0 and the warning on stderr" sh -c "
	timeout 10 '$kiln' check tests/bad-clusters/45-warn-even-masters.yaml 2>'$T/w' >/dev/null &&
	grep -q ':[0-9]*: warning: an even number of masters' '$T/w'"
check "kiln pki status lists every certificate with subject, issuer and days left" sh -c "
	out=\$(timeout 30 '$kiln' pki status --pki '$P') || exit 1
	n=\$(find '$P' -name '*.crt' | wc -l)
	[ \$(echo \"\$out\" | tail -n +2 | wc -l) -eq \$n ] || { echo \"\$n certs:\"; echo \"\$out\"; exit 1; }
	for c in \$(cd '$P' && find . -name '*.crt' | sed 's|^\./||'); do echo \"\$out\" | grep -q \"^\$c \" || { echo no \$c; exit 1; }; done
	echo \"\$out\" | grep '^machines/n1/kubelet.crt ' | grep -q 'CN=system:node:n1.*CN=kiln-kubernetes-ca.* 36[45]\$'"
check "render into a fresh folder with the same PKI gives the same identity bytes" sh -c "
	timeout 120 '$kiln' render '$T/moved.yaml' --out '$T/again' --pki '$P' --rootfs rootfs >/dev/null &&
	diff -r '$O/machines' '$T/again/machines' >/dev/null"

# make in a tree of its own (the repository's out/ untouched), without the flags of a make that runs this test,
# and one PKI folder for every cluster file, so that only the file changes between two builds.
MB=$T/mk/build MO=$T/mk/out
mk() { (unset MAKEFLAGS MFLAGS MAKELEVEL; make -s BUILD="$MB" OUT="$MO" SECRETS="$T/mk/pki" "$@") >> "$T/mk.log" 2>&1; }
# rendered NAME|MASTERS|NODES: out/cluster/cluster.env and out/cluster/machines/ are that cluster's
rendered() {
	r=$(. "$MO/cluster/cluster.env" && echo "$CLUSTER_NAME|$MASTERS|$NODES|$(ls "$MO/cluster/machines" | tr '\n' ' ')")
	[ "$r" = "$1" ] || { echo "rendered: $r"; tail -n 5 "$T/mk.log"; return 1; }
}
up_to_date() { mk -q "$@" "$MO/cluster/cluster.env" || { echo "make -q $*: out of date"; return 1; }; }
stale() { ! mk -q "$@" "$MO/cluster/cluster.env" || { echo "make -q $*: up to date"; return 1; }; }
demo='demo|m1 m2 m3|n1 n2|m1 m2 m3 n1 n2 ' solo='solo|s1|t1|s1 t1 '

switch_to_solo() { mk CLUSTER=tests/clusters/solo.yaml "$MO/cluster/cluster.env" && rendered "$solo"; }
back_to_demo() { mk "$MO/cluster/cluster.env" && rendered "$demo" && up_to_date; }
check "make renders the example cluster; a second make finds nothing to do" back_to_demo
check "make CLUSTER=tests/clusters/solo.yaml then renders solo in its place" switch_to_solo
check "a plain make after it renders the example cluster again; a second one finds nothing to do" back_to_demo
edited_in_place() {
	sed 's/address: 192.168.0.22/address: 192.168.0.23/' configs/cluster.yaml > "$T/mk/c.yaml" &&
		mk CLUSTER="$T/mk/c.yaml" "$MO/cluster/cluster.env" && up_to_date CLUSTER="$T/mk/c.yaml" &&
		cp configs/cluster.yaml "$T/mk/c.yaml" && touch -d @1000000000 "$T/mk/c.yaml" &&
		stale CLUSTER="$T/mk/c.yaml" && stale CLUSTER="$T/mk/c.yaml" SECRETS="$T/mk/pki2"
}
check "a cluster file changed with an older time, or another PKI folder, is rendered again" edited_in_place

# mk-machines.sh on solo's render, over the machines a demo build left (the roles' images are the repository's).
drops_others() {
	mk CLUSTER=tests/clusters/solo.yaml "$MO/cluster/cluster.env" && rendered "$solo" || return 1
	for m in m1 m2 m3 n1 n2; do mkdir -p "$MO/machines/$m" && : > "$MO/machines/$m/identity.cpio.gz"; done
	for r in master node; do mkdir -p "$MO/$r" && ln -sf "$KILN_OUT/$r/manifest.txt" "$MO/$r/manifest.txt"; done
	out=$(KILN_BUILD=$KILN_BUILD KILN_OUT=$MO sh scripts/mk-machines.sh "$MO/cluster" 2>&1) || { echo "$out"; return 1; }
	[ "$(echo "$out" | grep -c ': not a machine of cluster solo, removed$')" = 5 ] || { echo "$out"; return 1; }
	[ "$(ls "$MO/machines" | tr '\n' ' ')" = 's1 t1 ' ] && [ -s "$MO/machines/s1/identity.cpio.gz" ] &&
		[ -s "$MO/machines/t1/disk.img" ] || { ls -R "$MO/machines"; return 1; }
}
# The same machines with image.data_wait: 7: s1's disk is made again (its identity did not change) and its boot entries
# carry it, as the masters' PXE entries do.
disk_data_wait() {
	printf 'image:\n  data_wait: 7\n' | cat tests/clusters/solo.yaml - > "$T/mk/solo-wait.yaml"
	mk CLUSTER="$T/mk/solo-wait.yaml" "$MO/cluster/cluster.env" && rendered "$solo" || return 1
	grep -qx 'IMAGE_DATA_WAIT=7' "$MO/cluster/cluster.env" || { grep IMAGE_ "$MO/cluster/cluster.env"; return 1; }
	out=$(KILN_BUILD=$KILN_BUILD KILN_OUT=$MO sh scripts/mk-machines.sh "$MO/cluster" 2>&1) || { echo "$out"; return 1; }
	! echo "$out" | grep 'up to date' || return 1
	a=$(mtype -i "$MO/machines/s1/disk.img@@1M" ::syslinux.cfg | tr -d '\r' | grep '^  APPEND ')
	[ "$(echo "$a" | grep -c ' kiln.data=disk kiln.data_wait=7$')" = 2 ] || { echo "s1: $a"; return 1; }
	a=$(mtype -i "$MO/machines/t1/disk.img@@1M" ::syslinux.cfg | tr -d '\r' | grep '^  APPEND ')
	[ "$(echo "$a" | wc -l)" = 2 ] && ! echo "$a" | grep 'kiln.data' || { echo "t1: $a"; return 1; }
}
if [ -f "$KILN_OUT/master/manifest.txt" ] && [ -f "$KILN_OUT/node/manifest.txt" ] && [ -d "$KILN_BUILD/stage/node" ]; then
	check "mk-machines.sh after a switch: the other cluster's machines removed, one line each; the cluster's own built" \
		drops_others
	check "a master's disk waits for DATA as long as image.data_wait says (kiln.data_wait=7 in both entries), a node's for none; a change of it makes the disks again" \
		disk_data_wait
else
	skip "mk-machines.sh needs the roles' images: run make first"
	skip "mk-machines.sh needs the roles' images: run make first"
fi
done_testing
