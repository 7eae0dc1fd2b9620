# pxe-net.sh: a private PXE network for the tests and the benchmark (sourced): a network namespace with a bridge,
# taps tap1..tapN on it, dnsmasq serving a PXE tree's dnsmasq.conf (DHCP, TFTP) on that bridge only, and
# optionally an HTTP server for the tree. Nothing
# in the namespace routes anywhere else. QEMU's iPXE waits ~13 s for IPv6 configuration on a link without router
# advertisements, so dnsmasq also advertises a unique local prefix on the bridge (as QEMU's user network does).

# pxe_net_up NS TREE LOG NTAPS ADDR/PREFIX [DNSMASQ-ARGS...]: fails, having said why, when any step does;
# dnsmasq's pid in $pxe_dnsmasq_pid, its log (DHCP and TFTP) in LOG.
pxe_net_up() {
	pn_ns=$1 pn_tree=$2 pn_log=$3 pn_taps=$4 pn_addr=$5
	shift 5
	pxe_dnsmasq_pid=
	ip netns add "$pn_ns" || { echo "pxe-net: cannot create network namespace $pn_ns" >&2; return 1; }
	ip -n "$pn_ns" link set lo up &&
		ip -n "$pn_ns" link add br0 type bridge && ip -n "$pn_ns" addr add "$pn_addr" dev br0 &&
		ip -n "$pn_ns" addr add fd00:6b69:6c6e::fe/64 dev br0 && ip -n "$pn_ns" link set br0 up ||
		{ echo "pxe-net: cannot set up br0 in $pn_ns" >&2; return 1; }
	i=1
	while [ "$i" -le "$pn_taps" ]; do
		ip -n "$pn_ns" tuntap add "tap$i" mode tap && ip -n "$pn_ns" link set "tap$i" master br0 up ||
			{ echo "pxe-net: cannot add tap$i in $pn_ns" >&2; return 1; }
		i=$((i + 1))
	done
	# As root: the tree may sit in a private temporary folder. exec: $! is dnsmasq itself.
	: > "$pn_log"
	ip netns exec "$pn_ns" dnsmasq --keep-in-foreground --conf-file="$pn_tree/dnsmasq.conf" \
		--interface=br0 --user=root --enable-ra --dhcp-range=::,constructor:br0,ra-only --log-dhcp \
		--log-facility="$pn_log" "$@" > "$pn_log.out" 2>&1 &
	pxe_dnsmasq_pid=$!
	i=0
	until grep -q 'TFTP root is' "$pn_log" 2>/dev/null; do
		kill -0 "$pxe_dnsmasq_pid" 2>/dev/null && [ $i -lt 50 ] ||
			{ echo "pxe-net: dnsmasq did not start: $(cat "$pn_log.out")" >&2; return 1; }
		sleep 0.1; i=$((i + 1))
	done
}

# pxe_http_up NS DIR ADDR:PORT LOG: busybox's httpd (kiln's own build) serving DIR in the namespace, each request
# logged in LOG; its pid in $pxe_httpd_pid.
pxe_http_up() {
	ip netns exec "$1" "$KILN_CACHE/busybox/busybox" httpd -f -vv -p "$3" -h "$2" > "$4" 2>&1 &
	pxe_httpd_pid=$!
	sleep 0.3
	kill -0 "$pxe_httpd_pid" 2>/dev/null || { echo "pxe-net: httpd did not start: $(cat "$4")" >&2; return 1; }
}

# pxe_net_down NS: dnsmasq and httpd stopped, the namespace (bridge, taps) deleted. Never fails.
pxe_net_down() {
	[ -z "${pxe_httpd_pid:-}" ] || { kill "$pxe_httpd_pid" 2>/dev/null; wait "$pxe_httpd_pid" 2>/dev/null; }
	pxe_httpd_pid=
	[ -z "${pxe_dnsmasq_pid:-}" ] || { kill "$pxe_dnsmasq_pid" 2>/dev/null; wait "$pxe_dnsmasq_pid" 2>/dev/null; }
	pxe_dnsmasq_pid=
	if ip netns list 2>/dev/null | grep -q "^$1\\b"; then ip netns del "$1" 2>/dev/null; fi
	return 0
}

# pxe_sent LOG TREE IP: the files (relative to TREE) dnsmasq's TFTP sent to IP, one a line, in order.
pxe_sent() {
	sed -n "s|.*dnsmasq-tftp\[[0-9]*\]: sent $2/\(.*\) to $3\$|\1|p" "$1"
}
