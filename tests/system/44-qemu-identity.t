#!/bin/sh
# 44-qemu-identity.t: a master booted with its own identity archive appended to the master initramfs, as a
# machine of tests/clusters/solo.yaml (one master, so etcd has its quorum alone). It takes its name and address
# from the identity, and etcd serves clients and peers over TLS with client-certificate authentication:
# the apiserver's etcd client certificate works, a certificate from the Kubernetes CA or none is refused.
# The peer port is checked from the host through a forwarded loopback port (QEMU user networking, restrict=on).
. tests/system/lib/tap.sh
. tests/system/lib/vm.sh

plan 15
T=$VM_DIR/solo
if solo_initrd "$T"; then
	ok "s1's identity archive: $(wc -c < "$T/s1.cpio.gz") bytes"
else
	not_ok "s1's identity archive"; diag "$(cat "$T/render.log")"; give_up "no identity to boot with"
fi

# Two loopback ports of the host, forwarded to the guest's etcd client and peer ports.
base=$((20000 + $$ % 20000))
cport=$base pport=$((base + 1))
# The Kubernetes control plane is left out of this boot (kiln.disable; 60-cluster.t runs it): etcd is what is tested.
vm_boot_ready s1 "master s1 (master initramfs + s1's identity)" 180 --mem 1024 --mac 52:54:00:00:01:11 --append kiln.disable=kube-apiserver \
	--user-net 192.168.0.0/24 --fwd "$cport:192.168.0.11:2379" --fwd "$pport:192.168.0.11:2380" \
	"$KILN_OUT/master/vmlinuz" "$T/initrd"
check "every service is ready (not degraded)" grep -q 'kiln: ready: [0-9]* services in' "$VM_DIR/s1/console.log"

out=$(vm_run s1 "hostname; ip -4 -o addr show dev eth0" 15)
case $out in s1*"inet 192.168.0.11/24"*) ok "hostname s1 and eth0 192.168.0.11/24, from the identity" ;;
*) not_ok "hostname and address from the identity"; diag "$out" ;; esac

out=$(vm_run s1 "stat -c '%n %a %U' /etc/kiln/identity/pki/etcd/member.key /etc/kiln/identity/pki/apiserver-etcd-client.key; ps -o user,args | grep '[/]usr/bin/etcd'" 15)
if echo "$out" | grep -qx '/etc/kiln/identity/pki/etcd/member.key 600 etcd' &&
	echo "$out" | grep -qx '/etc/kiln/identity/pki/apiserver-etcd-client.key 600 apiserver' &&
	echo "$out" | grep -Eq '^etcd +/usr/bin/etcd'; then
	ok "etcd runs as etcd; its key is 0600 etcd, the apiserver's etcd client key 0600 apiserver"
else
	not_ok "etcd's user and key owners"; diag "$out"
fi

pki=/etc/kiln/identity/pki
with_cert() { echo "ETCDCTL_CERT=$pki/$1.crt ETCDCTL_KEY=$pki/$1.key etcdctl --command-timeout=5s"; }
out=$(vm_run s1 "$(with_cert apiserver-etcd-client) put /registry/kiln hello && $(with_cert apiserver-etcd-client) get /registry/kiln --print-value-only" 40)
case $out in *hello*) ok "etcdctl with the apiserver-etcd-client certificate writes and reads over TLS" ;;
*) not_ok "etcdctl with the apiserver-etcd-client certificate"; diag "$out" ;; esac

# A certificate from the Kubernetes CA (the apiserver's kubelet client): the handshake must fail.
if out=$(vm_run s1 "$(with_cert apiserver-kubelet-client) get /registry/kiln" 40); then
	not_ok "a Kubernetes-CA client certificate is refused"; diag "$out"
else
	case $out in *"no answer"*|*"not running"*) not_ok "a Kubernetes-CA client certificate is refused"; diag "$out" ;;
	*) ok "a Kubernetes-CA client certificate is refused" ;; esac
fi
out=$(vm_run s1 "grep -c 'rejected connection' /data/log/etcd.log" 15)
if [ "${out:-0}" -ge 1 ] 2>/dev/null; then ok "etcd logged the rejected client certificate ($out rejections)"
else not_ok "etcd logged the rejected client certificate"; diag "$out"; fi

if out=$(vm_run s1 "env -u ETCDCTL_CERT -u ETCDCTL_KEY etcdctl --command-timeout=5s get /registry/kiln" 40); then
	not_ok "TLS without a client certificate is refused"; diag "$out"
else
	case $out in *"no answer"*|*"not running"*) not_ok "TLS without a client certificate is refused"; diag "$out" ;;
	*) ok "TLS without a client certificate is refused" ;; esac
fi
if out=$(vm_run s1 "etcdctl --command-timeout=5s --endpoints=http://127.0.0.1:2379 get /registry/kiln" 40); then
	not_ok "plain HTTP to the client port is refused"; diag "$out"
else
	case $out in *"no answer"*|*"not running"*) not_ok "plain HTTP to the client port is refused"; diag "$out" ;;
	*) ok "plain HTTP to the client port is refused" ;; esac
fi

# From the host, with the PKI's own files: the client port through its address SAN 127.0.0.1.
P=$T/pki
out=$(ETCDCTL_API=3 timeout 30 etcdctl --command-timeout=10s --endpoints="https://127.0.0.1:$cport" --cacert "$P/etcd-ca.crt" \
	--cert "$P/apiserver-etcd-client.crt" --key "$P/apiserver-etcd-client.key" get /registry/kiln --print-value-only 2>&1)
case $out in hello) ok "from the host: the client port verifies as the etcd CA's and returns the key" ;;
*) not_ok "from the host: the client port with the apiserver-etcd-client certificate"; diag "$out" ;; esac

# The peer port: etcd lets in a certificate of the etcd CA whose SANs name the address it comes from. Seen from
# the guest, the host is QEMU's user-network gateway 192.168.0.2, so the test issues itself such a certificate
# (valid from an hour ago, as kiln's own are, so the guest's clock, a second behind, accepts it).
peer() { timeout 20 curl -sS --http1.1 --max-time 15 --cacert "$P/etcd-ca.crt" "$@" "https://127.0.0.1:$pport/members" 2>&1; }
peer_refused() { # DESCRIPTION CURL-ARGS...: the peer port must not list the members
	d=$1; shift
	if out=$(peer "$@") && case $out in *'"name"'*) true ;; *) false ;; esac; then not_ok "$d"; diag "$out"; else ok "$d"; fi
}
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=test-peer -keyout "$T/peer.key" \
	-out "$T/peer.csr" 2>/dev/null &&
	printf 'subjectAltName=IP:192.168.0.2\nextendedKeyUsage=serverAuth,clientAuth\n' > "$T/peer.ext" &&
	faketime "$(date -d '-1 hour' '+%Y-%m-%d %H:%M:%S')" openssl x509 -req -in "$T/peer.csr" -CA "$P/etcd-ca.crt" -CAkey "$P/etcd-ca.key" -CAcreateserial -days 1 \
	-extfile "$T/peer.ext" -out "$T/peer.crt" 2>/dev/null
out=$(peer --cert "$T/peer.crt" --key "$T/peer.key")
case $out in *'"name":"s1"'*) ok "the peer port answers an etcd-CA certificate naming the caller: $(echo "$out" | head -c 60)" ;;
*) not_ok "the peer port answers an etcd-CA certificate naming the caller"; diag "$out" ;; esac
peer_refused "the peer port refuses s1's own member certificate from another address" \
	--cert "$P/machines/s1/etcd.crt" --key "$P/machines/s1/etcd.key"
peer_refused "the peer port refuses a Kubernetes-CA certificate" \
	--cert "$P/apiserver-kubelet-client.crt" --key "$P/apiserver-kubelet-client.key"
peer_refused "the peer port refuses a client without a certificate"
vm_kill s1
done_testing
