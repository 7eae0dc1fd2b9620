/* identity.c: one machine's identity tree (/etc/kiln/identity/ in the image): hostname, network, service
 * environments, its share of the PKI and its kubeconfigs, each file owned by the user of the service that
 * reads it. Which PKI file goes to which role is decided here and nowhere else. */
#include "kilntool.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* A PKI file copied into the tree: SRC is its stem in the PKI folder, DST its stem under pki/. */
struct pki_file {
	const char *src, *dst;
	const char *owner;
	int key;  /* 1: the .key too (0600); 2: a bare key pair, .key and .pub */
	int cert; /* the .crt (or .pub) */
};

static int copy_pki(struct tree *t, const char *pkidir, const struct machine *m, const struct pki_file *f)
{
	char src[PATH_MAX], rel[256], stem[128];
	/* "@x" names the machine's own file: machines/<name>/x */
	if (f->src[0] == '@')
		snprintf(stem, sizeof stem, "machines/%s/%s", m->name, f->src + 1);
	else
		snprintf(stem, sizeof stem, "%s", f->src);
	if (f->cert) {
		snprintf(src, sizeof src, "%s/%s.%s", pkidir, stem, f->key == 2 ? "pub" : "crt");
		snprintf(rel, sizeof rel, "pki/%s.%s", f->dst, f->key == 2 ? "pub" : "crt");
		if (tree_copy(t, rel, src, 0644, f->owner))
			return -1;
	}
	if (f->key) {
		snprintf(src, sizeof src, "%s/%s.key", pkidir, stem);
		snprintf(rel, sizeof rel, "pki/%s.key", f->dst);
		if (tree_copy(t, rel, src, 0600, f->owner))
			return -1;
	}
	return 0;
}

/* DESIGN.md's PKI table, per role. Nodes get no etcd material and no CA key. */
static const struct pki_file master_pki[] = {
	/* Each control-plane component runs as its own user and reads its own keys alone. The Kubernetes CA key is here
	 * for one reader, the controller-manager, which signs approved CertificateSigningRequests with it (an operator's
	 * new user, `kubectl certificate approve`; kubelets do not rotate theirs here); the apiserver needs the CA's
	 * certificate only. */
	{"kubernetes-ca", "ca", "controller-manager", 1, 1},
	{"@apiserver", "apiserver", "apiserver", 1, 1},
	{"apiserver-kubelet-client", "apiserver-kubelet-client", "apiserver", 1, 1},
	{"apiserver-etcd-client", "apiserver-etcd-client", "apiserver", 1, 1},
	{"controller-manager", "controller-manager", "controller-manager", 1, 1},
	{"scheduler", "scheduler", "scheduler", 1, 1},
	{"coredns", "coredns", "dns", 1, 1}, /* the cluster DNS's client, read by its own user alone */
	/* the service-account key: the apiserver signs tokens with it (TokenRequest), the controller-manager the
	 * tokens of its controllers; each reads a copy of its own */
	{"service-account", "service-account", "apiserver", 2, 1},
	{"service-account", "controller-manager/service-account", "controller-manager", 1, 0},
	{"etcd-ca", "etcd/ca", "etcd", 0, 1},
	{"@etcd", "etcd/member", "etcd", 1, 1},
	{"@etcd-backup", "etcd/backup", "etcd", 1, 1}, /* its own: a receiver takes from it only its snapshots */
	{"@metrics", "metrics", "metrics", 1, 1},       /* the metrics endpoint's server certificate */
	{"@log", "log", "logship", 1, 1},               /* the log forwarder's client certificate */
	{"@log", "logsink/log", "logsink", 1, 1},       /* the same, the log receiver's copy (its server certificate) */
};
static const struct pki_file node_pki[] = {
	{"kubernetes-ca", "ca", "root", 0, 1},
	{"@kubelet", "kubelet", "root", 1, 1},
	{"kube-proxy", "kube-proxy", "root", 1, 1},
	{"@metrics", "metrics", "metrics", 1, 1},
	{"@log", "log", "logship", 1, 1},
};

static int text(struct tree *t, const char *rel, struct buf *b, mode_t mode, const char *owner)
{
	int rc = tree_file(t, rel, b->p ? b->p : "", b->len, mode, owner);
	buf_free(b);
	return rc;
}

static int write_network(struct tree *t, const struct cluster *c, const struct machine *m)
{
	struct buf b = {0};
	char a[16], mac[18], r[24];
	ip_format(m->addr, a, sizeof a);
	mac_format(m->mac, mac, sizeof mac);
	buf_printf(&b, "# kiln: %s (%s)\naddress %s/%d mac %s\n", m->name, m->role == ROLE_MASTER ? "master" : "node",
		   a, c->infra.prefix, mac);
	/* Pods reach pods on other nodes through plain routes: no overlay. */
	for (size_t i = 0; i < c->nmachines; i++) {
		const struct machine *o = &c->machines[i];
		if (o->role != ROLE_NODE || o == m)
			continue;
		cidr_format(&o->pod_subnet, r, sizeof r);
		ip_format(o->addr, a, sizeof a);
		buf_printf(&b, "route %s via %s\n", r, a);
	}
	if (c->has_gateway) {
		ip_format(c->gateway, a, sizeof a);
		buf_printf(&b, "route default via %s\n", a);
	}
	return text(t, "network", &b, 0644, "root");
}

static int write_etcd_env(struct tree *t, const struct cluster *c, const struct machine *m)
{
	struct buf b = {0};
	char a[16], *initial = cluster_etcd_initial(c);
	const char *pki = IDENTITY "/pki/etcd";
	ip_format(m->addr, a, sizeof a);
	buf_printf(&b, "ETCD_NAME=%s\nETCD_DATA_DIR=/data/etcd\n", m->name);
	buf_printf(&b, "ETCD_LISTEN_CLIENT_URLS=https://%s:2379,https://127.0.0.1:2379\n", a);
	buf_printf(&b, "ETCD_ADVERTISE_CLIENT_URLS=https://%s:2379\n", a);
	buf_printf(&b, "ETCD_LISTEN_PEER_URLS=https://%s:2380\n", a);
	buf_printf(&b, "ETCD_INITIAL_ADVERTISE_PEER_URLS=https://%s:2380\n", a);
	buf_printf(&b, "ETCD_INITIAL_CLUSTER=%s\nETCD_INITIAL_CLUSTER_STATE=new\n", initial);
	buf_printf(&b, "ETCD_INITIAL_CLUSTER_TOKEN=kiln-%s\n", c->name);
	buf_printf(&b, "ETCD_CERT_FILE=%s/member.crt\nETCD_KEY_FILE=%s/member.key\n", pki, pki);
	buf_printf(&b, "ETCD_TRUSTED_CA_FILE=%s/ca.crt\nETCD_CLIENT_CERT_AUTH=true\n", pki);
	buf_printf(&b, "ETCD_PEER_CERT_FILE=%s/member.crt\nETCD_PEER_KEY_FILE=%s/member.key\n", pki, pki);
	buf_printf(&b, "ETCD_PEER_TRUSTED_CA_FILE=%s/ca.crt\nETCD_PEER_CLIENT_CERT_AUTH=true\n", pki);
	/* etcdctl (the readiness probe, the backup job) talks to the local member with the backup client cert. */
	buf_printf(&b, "ETCDCTL_ENDPOINTS=https://127.0.0.1:2379\nETCDCTL_CACERT=%s/ca.crt\n", pki);
	buf_printf(&b, "ETCDCTL_CERT=%s/backup.crt\nETCDCTL_KEY=%s/backup.key\n", pki, pki);
	free(initial);
	return text(t, "env/etcd.env", &b, 0644, "root");
}

/* Each master copies its snapshots to another master: the next one, or the one named (which itself
 * copies to the master after it). */
static const struct machine *backup_target(const struct cluster *c, const struct machine *m)
{
	size_t n = c->nmasters, i = (size_t)m->index;
	if (n < 2)
		return NULL;
	if (strcmp(c->backup_copy_to, "next"))
		for (size_t j = 0; j < n; j++)
			if (!strcmp(c->machines[j].name, c->backup_copy_to) && j != i)
				return &c->machines[j];
	return &c->machines[(i + 1) % n];
}

static int write_backup_env(struct tree *t, const struct cluster *c, const struct machine *m)
{
	struct buf b = {0};
	const struct machine *to = backup_target(c, m);
	char a[16] = "";
	if (to)
		ip_format(to->addr, a, sizeof a);
	buf_printf(&b, "BACKUP_INTERVAL=%ld\nBACKUP_KEEP=%ld\nBACKUP_COPY_TO=%s\nBACKUP_COPY_TO_NAME=%s\n",
		   c->backup_interval, c->backup_keep, a, to ? to->name : "");
	return text(t, "env/backup.env", &b, 0644, "root");
}

/* The clock (env/time.env, read by the ntpd service): masters serve time to the cluster (NTP_SERVE) and take it from
 * the cluster file's time.servers, or without any from the first master, whose own clock is then the cluster's
 * reference; nodes take it from every master. */
static int write_time_env(struct tree *t, const struct cluster *c, const struct machine *m)
{
	struct buf b = {0};
	const struct machine *first = cluster_first_master(c);
	char a[16];
	buf_printf(&b, "NTP_SERVE=%s\nNTP_PEERS=", m->role == ROLE_MASTER ? "yes" : "no");
	if (m->role == ROLE_NODE) {
		for (size_t i = 0; i < c->nmasters; i++) {
			ip_format(c->machines[i].addr, a, sizeof a);
			buf_printf(&b, "%s%s", i ? " " : "", a);
		}
	} else if (c->ntime_servers) {
		for (size_t i = 0; i < c->ntime_servers; i++) {
			ip_format(c->time_servers[i], a, sizeof a);
			buf_printf(&b, "%s%s", i ? " " : "", a);
		}
	} else if (first && first != m) {
		ip_format(first->addr, a, sizeof a);
		buf_printf(&b, "%s", a);
	}
	buf_printf(&b, "\n"); /* an env file's value runs to the end of its line, quotes and all */
	return text(t, "env/time.env", &b, 0644, "root");
}

/* Logs (README "Logs"): each machine forwards its logs to two masters (one where there is one), a master to the other
 * masters, never itself (its own logs are on its DATA already); the choice is spread over the masters by the
 * machine's place in the cluster file, so each takes its share (env/logship.env, LOG_TARGETS: name:address ...; not
 * written when there is no other master). A master's receiver accepts the cluster's machines by name (their log
 * certificates) and files each line under the name of the address it came from (env/logsink.env, LOG_PEERS). */
static int write_log_env(struct tree *t, const struct cluster *c, const struct machine *m)
{
	struct buf b = {0};
	size_t k = c->nmasters, self = (size_t)(m - c->machines), n = 0;
	char a[16];
	int rc = 0;
	for (size_t j = 0; j < k && n < 2; j++) {
		const struct machine *to = &c->machines[(self + j) % k];
		if (to == m)
			continue;
		ip_format(to->addr, a, sizeof a);
		buf_printf(&b, "%s%s:%s", n++ ? " " : "LOG_TARGETS=", to->name, a);
	}
	if (n) {
		buf_printf(&b, "\n");
		rc = text(t, "env/logship.env", &b, 0644, "root");
	}
	buf_free(&b);
	if (rc || m->role != ROLE_MASTER)
		return rc;
	buf_printf(&b, "LOG_PEERS=");
	for (size_t i = 0; i < c->nmachines; i++) {
		ip_format(c->machines[i].addr, a, sizeof a);
		buf_printf(&b, "%s%s:%s", i ? " " : "", c->machines[i].name, a);
	}
	buf_printf(&b, "\n");
	return text(t, "env/logsink.env", &b, 0644, "root");
}

/* Every component reaches the API on its own machine: a master's own apiserver, or on a node the local endpoint
 * (apiproxy) that sends each connection to a master whose apiserver answers, so no one master is a node's API. */
#define APISERVER_URL "https://127.0.0.1:6443"

/* Secrets encrypted at rest (DESIGN.md, "Secrets"): the apiservers store Secrets in etcd sealed with the
 * cluster's key (secretbox: XSalsa20 and Poly1305), so neither etcd's data nor a backup snapshot holds them in
 * clear; identity reads what was stored before. The key is the PKI folder's encryption.secret; the file is the
 * apiserver's alone. */
static int write_encryption_config(struct tree *t, const char *pkidir)
{
	struct buf b = {0};
	char path[PATH_MAX], *key;
	size_t len;
	int rc;
	snprintf(path, sizeof path, "%s/encryption.secret", pkidir);
	if (!(key = read_file(path, &len)) || len < 2) {
		fprintf(stderr, "kiln: %s: %s\n", path, key ? "empty" : strerror(errno));
		free(key);
		return -1;
	}
	key[strcspn(key, "\n")] = '\0';
	buf_printf(&b, "# kiln: Secrets encrypted at rest in etcd, read by kube-apiserver alone\n"
		       "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
		       "  - resources: [secrets]\n    providers:\n      - secretbox:\n          keys:\n"
		       "            - name: key1\n              secret: %s\n      - identity: {}\n",
		   key);
	explicit_bzero(key, len);
	free(key);
	rc = tree_file(t, "pki/encryption-config.yaml", b.p, b.len, 0600, "apiserver");
	explicit_bzero(b.p, b.len);
	buf_free(&b);
	return rc;
}

static int write_kubernetes_env(struct tree *t, const struct cluster *c, const struct machine *m)
{
	struct buf b = {0};
	char a[16], r[24];
	buf_printf(&b, "KUBERNETES_VERSION=%s\nCLUSTER_NAME=%s\nCLUSTER_DOMAIN=%s\n", c->version, c->name, c->domain);
	ip_format(c->dns_ip, a, sizeof a);
	buf_printf(&b, "CLUSTER_DNS=%s\n", a);
	ip_format(c->service_ip, a, sizeof a);
	buf_printf(&b, "SERVICE_IP=%s\n", a);
	cidr_format(&c->services, r, sizeof r);
	buf_printf(&b, "SERVICE_CIDR=%s\n", r);
	cidr_format(&c->pods, r, sizeof r);
	buf_printf(&b, "POD_CIDR=%s\n", r);
	ip_format(m->addr, a, sizeof a);
	buf_printf(&b, "NODE_NAME=%s\nNODE_IP=%s\n", m->name, a);
	buf_printf(&b, "APISERVER_URL=" APISERVER_URL "\n");
	if (m->role == ROLE_NODE) {
		cidr_format(&m->pod_subnet, r, sizeof r);
		buf_printf(&b, "NODE_POD_CIDR=%s\n", r);
		buf_printf(&b, "KUBELET_FLAGS=%s\n", kube_wiring(c->version)->kubelet_flags);
	} else {
		/* Each apiserver stores through its own master's etcd member, as kubeadm's stacked masters do: the two
		 * stand and fall together anyway, and one endpoint per storage client is a third of the TLS sessions
		 * (a 1.20 apiserver opens one client per resource) that three would be. */
		buf_printf(&b, "KUBE_ETCD_SERVERS=https://127.0.0.1:2379\nAPISERVER_COUNT=%zu\n", c->nmasters);
		/* an identity from before encryption at rest has no such line: its apiserver runs without */
		buf_printf(&b, "KUBE_ENCRYPTION_FLAGS=--encryption-provider-config=" IDENTITY "/pki/encryption-config.yaml\n");
		buf_printf(&b, "CONTROL_PLANE_FLAGS=%s\n", kube_wiring(c->version)->control_plane_flags);
		/* the release defaults; a QEMU test cluster's emulation file replaces it (scripts/cluster.sh) */
		buf_printf(&b, "LEADER_ELECTION_FLAGS=\n");
		/* every master's address: the cluster DNS's health check writes those that answer (cluster-dns-endpoints) */
		buf_printf(&b, "MASTER_ADDRESSES=");
		for (size_t i = 0, n = 0; i < c->nmachines; i++) {
			if (c->machines[i].role != ROLE_MASTER)
				continue;
			ip_format(c->machines[i].addr, a, sizeof a);
			buf_printf(&b, "%s%s", n++ ? "," : "", a);
		}
		buf_printf(&b, "\n");
	}
	return text(t, "env/kubernetes.env", &b, 0644, "root");
}

/* The pod network: a bridge with the node's own subnet. No masquerading: every machine routes every node's pod
 * subnet (network file), so pods keep their addresses from node to node and to the masters. */
static int write_cni(struct tree *t, const struct machine *m)
{
	struct buf b = {0};
	char r[24];
	cidr_format(&m->pod_subnet, r, sizeof r);
	buf_printf(&b, "{\n  \"cniVersion\": \"1.0.0\",\n  \"name\": \"kiln\",\n  \"plugins\": [\n"
		       "    {\n      \"type\": \"bridge\",\n      \"bridge\": \"cni0\",\n      \"isGateway\": true,\n"
		       "      \"hairpinMode\": true,\n      \"ipMasq\": false,\n      \"ipam\": {\n        \"type\": \"host-local\",\n"
		       "        \"ranges\": [[{\"subnet\": \"%s\"}]],\n        \"routes\": [{\"dst\": \"0.0.0.0/0\"}]\n"
		       "      }\n    },\n    {\"type\": \"portmap\", \"capabilities\": {\"portMappings\": true}}\n  ]\n}\n", r);
	if (text(t, "cni/10-kiln.conflist", &b, 0644, "root"))
		return -1;
	buf_printf(&b, "{\n  \"cniVersion\": \"1.0.0\",\n  \"name\": \"lo\",\n  \"type\": \"loopback\"\n}\n");
	return text(t, "cni/99-loopback.conf", &b, 0644, "root");
}

static int write_kubeconfig(struct tree *t, const struct cluster *c, const struct machine *m, const char *component,
			    const char *user, const char *owner)
{
	struct buf b = {0};
	char cert[128], key[128], rel[96];
	(void)m;
	snprintf(cert, sizeof cert, IDENTITY "/pki/%s.crt", component);
	snprintf(key, sizeof key, IDENTITY "/pki/%s.key", component);
	snprintf(rel, sizeof rel, "kubeconfig/%s.kubeconfig", component);
	kubeconfig_files(&b, c->name, APISERVER_URL, user, IDENTITY "/pki/ca.crt", cert, key);
	return text(t, rel, &b, 0600, owner);
}

/* kubelet's configuration: per node, for its pod subnet and address. The TLS pair is the kubelet cert, which
 * is both its client cert (kubeconfig) and its serving cert (the apiserver calls it, checking the kube CA).
 * cgroupfs: there is no systemd, and containerd's runc runs with SystemdCgroup = false. */
static int write_kubelet_config(struct tree *t, const struct cluster *c, const struct machine *m)
{
	struct buf b = {0};
	char a[16], dns[16], r[24];
	ip_format(m->addr, a, sizeof a);
	ip_format(c->dns_ip, dns, sizeof dns);
	cidr_format(&m->pod_subnet, r, sizeof r);
	buf_printf(&b, "# kiln: kubelet on %s (kiln render)\n", m->name);
	buf_printf(&b, "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n");
	buf_printf(&b, "authentication:\n  anonymous:\n    enabled: false\n  webhook:\n    enabled: true\n"
		       "  x509:\n    clientCAFile: " IDENTITY "/pki/ca.crt\n");
	buf_printf(&b, "authorization:\n  mode: Webhook\n");
	buf_printf(&b, "tlsCertFile: " IDENTITY "/pki/kubelet.crt\ntlsPrivateKeyFile: " IDENTITY "/pki/kubelet.key\n");
	buf_printf(&b, "rotateCertificates: false\nserverTLSBootstrap: false\n");
	buf_printf(&b, "address: %s\nhealthzBindAddress: 127.0.0.1\nhealthzPort: 10248\n", a);
	/* no plain-HTTP port without authentication (the flag's old default, 10255) */
	buf_printf(&b, "readOnlyPort: 0\n");
	buf_printf(&b, "clusterDomain: %s\nclusterDNS:\n- %s\n", c->domain, dns);
	/* The CNI configuration (cni/10-kiln.conflist) is what gives pods their addresses from this subnet. */
	buf_printf(&b, "podCIDR: %s\n", r);
	if (kube_wiring(c->version)->kubelet_endpoint_in_config)
		buf_printf(&b, "containerRuntimeEndpoint: unix:///run/containerd/containerd.sock\n");
	buf_printf(&b, "cgroupDriver: cgroupfs\n");
	/* No upstream resolvers on a kiln node: pods resolve through the cluster DNS only. */
	buf_printf(&b, "resolvConf: \"\"\nfailSwapOn: false\n");
	return text(t, "config/kubelet.yaml", &b, 0644, "root");
}

static int write_kube_proxy_config(struct tree *t, const struct cluster *c, const struct machine *m)
{
	struct buf b = {0};
	char r[24];
	cidr_format(&c->pods, r, sizeof r);
	buf_printf(&b, "# kiln: kube-proxy on %s (kiln render)\n", m->name);
	buf_printf(&b, "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n");
	buf_printf(&b, "clientConnection:\n  kubeconfig: " IDENTITY "/kubeconfig/kube-proxy.kubeconfig\n");
	buf_printf(&b, "hostnameOverride: %s\nmode: iptables\nclusterCIDR: %s\n", m->name, r);
	buf_printf(&b, "healthzBindAddress: 127.0.0.1:10256\nmetricsBindAddress: 127.0.0.1:10249\n");
	return text(t, "config/kube-proxy.yaml", &b, 0644, "root");
}

/* A node's API endpoint (haproxy, as user apiproxy): 127.0.0.1:6443, each connection to the master with the
 * fewest, among those whose apiserver answers /readyz over TLS with a certificate of the kube CA (checked every
 * 5 s, 5 s for the TLS handshake and the answer: a busy master under emulation took over 2 s for the handshake
 * alone; anonymous /readyz is what the apiserver allows everyone). A master is in after one good check and out
 * after two failed ones, its connections cut, so kubelet and kube-proxy reconnect through a live one at once. */
static int write_apiproxy_config(struct tree *t, const struct cluster *c, const struct machine *m)
{
	struct buf b = {0};
	char a[16];
	buf_printf(&b, "# kiln: the API endpoint of %s (kiln render): 127.0.0.1:6443 to every master that is ready\n"
		       "global\n  maxconn 1000\n  nbthread 1\n  log stderr format short local0 notice\n"
		       "defaults\n  mode tcp\n  log global\n  option dontlognull\n  timeout connect 5s\n"
		       "  timeout client 1h\n  timeout server 1h\n  timeout check 5s\n  retries 2\n  option redispatch\n"
		       "frontend api\n  bind 127.0.0.1:6443\n  default_backend masters\n"
		       /* plain HTTP on loopback: the masters' state and last check, for init's readiness probe */
		       "frontend stats\n  mode http\n  bind 127.0.0.1:6444\n  timeout http-request 3s\n"
		       "  stats enable\n  stats uri /stats\n"
		       "backend masters\n  balance leastconn\n  option httpchk GET /readyz\n  http-check expect status 200\n"
		       "  default-server check check-ssl verify required ca-file " IDENTITY "/pki/ca.crt inter 5s fall 2 rise 1"
		       " on-marked-down shutdown-sessions\n", m->name);
	for (size_t i = 0; i < c->nmachines; i++) {
		if (c->machines[i].role != ROLE_MASTER)
			continue;
		ip_format(c->machines[i].addr, a, sizeof a);
		buf_printf(&b, "  server %s %s:6443\n", c->machines[i].name, a);
	}
	return text(t, "config/apiproxy.cfg", &b, 0644, "root");
}

static int cmp_line(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* MANIFEST: every file of the tree with its mode and owner, sorted; the image build and audits read it. */
static int write_manifest(struct tree *t)
{
	char **lines = NULL, *s = t->manifest.p, *save = NULL;
	size_t n = 0;
	struct buf out = {0};
	int rc;
	buf_printf(&out, "# path mode user uid:gid\n");
	for (char *l = s ? strtok_r(s, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save)) {
		char **v = realloc(lines, (n + 1) * sizeof *v);
		if (!v)
			break;
		lines = v;
		lines[n++] = l;
	}
	qsort(lines, n, sizeof *lines, cmp_line);
	for (size_t i = 0; i < n; i++)
		buf_printf(&out, "%s\n", lines[i]);
	free(lines);
	buf_free(&t->manifest);
	rc = tree_file(t, "MANIFEST", out.p, out.len, 0644, "root");
	buf_free(&t->manifest); /* MANIFEST does not list itself */
	buf_free(&out);
	return rc;
}

int identity_write(const struct cluster *c, const struct machine *m, const char *pkidir, struct tree *t)
{
	struct buf b = {0};
	const struct pki_file *files = m->role == ROLE_MASTER ? master_pki : node_pki;
	size_t nfiles = m->role == ROLE_MASTER ? sizeof master_pki / sizeof *master_pki : sizeof node_pki / sizeof *node_pki;
	int rc;

	buf_printf(&b, "%s\n", m->name);
	rc = text(t, "hostname", &b, 0644, "root") || write_network(t, c, m) || write_kubernetes_env(t, c, m) ||
	     write_time_env(t, c, m) || write_log_env(t, c, m);
	for (size_t i = 0; !rc && i < nfiles; i++)
		rc = copy_pki(t, pkidir, m, &files[i]);
	/* own-keys: which key of the machine's own goes where (`x pki-stem`, a line per copy). A PXE machine makes these
	 * keys itself and enrolls (scripts/enroll.sh); the build host never sends them. Public: no key in it. */
	for (size_t i = 0; !rc && i < nfiles; i++)
		if (files[i].src[0] == '@' && files[i].key == 1)
			buf_printf(&b, "%s %s\n", files[i].src + 1, files[i].dst);
	if (!rc)
		rc = text(t, "own-keys", &b, 0644, "root");
	if (!rc && m->role == ROLE_MASTER)
		rc = write_etcd_env(t, c, m) || write_backup_env(t, c, m) || write_encryption_config(t, pkidir) ||
		     write_kubeconfig(t, c, m, "controller-manager", "system:kube-controller-manager", "controller-manager") ||
		     write_kubeconfig(t, c, m, "scheduler", "system:kube-scheduler", "scheduler") ||
		     write_kubeconfig(t, c, m, "coredns", "system:coredns", "dns");
	else if (!rc) {
		char user[96];
		snprintf(user, sizeof user, "system:node:%s", m->name);
		rc = write_cni(t, m) || write_kubeconfig(t, c, m, "kubelet", user, "root") ||
		     write_kubeconfig(t, c, m, "kube-proxy", "system:kube-proxy", "root") ||
		     write_kubelet_config(t, c, m) || write_kube_proxy_config(t, c, m) || write_apiproxy_config(t, c, m);
	}
	return rc || write_manifest(t) ? -1 : 0;
}
