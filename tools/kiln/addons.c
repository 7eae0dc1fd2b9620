/* addons.c: the cluster objects kiln's host services need but cannot create themselves, as one manifest the
 * operator applies with the admin kubeconfig (it never leaves the build host). CoreDNS runs on every master
 * as a host service, not a pod, so the cluster DNS address reaches it through a selector-less Service and the
 * Endpoints naming the masters (core v1, which every release serves; the controller-manager mirrors them into
 * EndpointSlices); kube-proxy on the nodes turns that ClusterIP into a master's address. */
#include "kilntool.h"

char *addons_coredns(const struct cluster *c)
{
	struct buf b = {0};
	char a[16];
	ip_format(c->dns_ip, a, sizeof a);
	buf_printf(&b, "# kiln: cluster DNS for %s (kiln render). Apply once the control plane answers:\n"
		       "#   kubectl --kubeconfig admin.kubeconfig apply -f addons/coredns.yaml\n", c->name);
	/* What CoreDNS's kubernetes plugin lists and watches, for the user of its client cert. */
	buf_printf(&b, "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: kiln:coredns\n"
		       "rules:\n- apiGroups: [\"\"]\n  resources: [endpoints, services, pods, namespaces]\n"
		       "  verbs: [list, watch]\n- apiGroups: [discovery.k8s.io]\n  resources: [endpointslices]\n"
		       "  verbs: [list, watch]\n");
	buf_printf(&b, "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n"
		       "  name: kiln:coredns\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n"
		       "  name: kiln:coredns\nsubjects:\n- apiGroup: rbac.authorization.k8s.io\n  kind: User\n"
		       "  name: system:coredns\n");
	buf_printf(&b, "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: kube-dns\n  namespace: kube-system\n"
		       "  labels:\n    k8s-app: kube-dns\n    kubernetes.io/name: CoreDNS\nspec:\n  clusterIP: %s\n"
		       "  ports:\n  - {name: dns, port: 53, protocol: UDP, targetPort: 53}\n"
		       "  - {name: dns-tcp, port: 53, protocol: TCP, targetPort: 53}\n", a);
	/* The masters' health check (cluster-dns-endpoints) keeps the Endpoints below to the masters whose DNS answers:
	 * it may read and replace that one object, nothing else. */
	buf_printf(&b, "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: kiln:dns-endpoints\n"
		       "  namespace: kube-system\nrules:\n- apiGroups: [\"\"]\n  resources: [endpoints]\n"
		       "  resourceNames: [kube-dns]\n  verbs: [get, update]\n");
	buf_printf(&b, "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n"
		       "  name: kiln:dns-endpoints\n  namespace: kube-system\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n"
		       "  kind: Role\n  name: kiln:dns-endpoints\nsubjects:\n- apiGroup: rbac.authorization.k8s.io\n"
		       "  kind: User\n  name: system:coredns\n");
	/* No selector above: these Endpoints, kept by kiln and not by the endpoints controller, are the backend: every
	 * master at first, then those whose DNS answers. */
	buf_printf(&b, "---\napiVersion: v1\nkind: Endpoints\nmetadata:\n  name: kube-dns\n  namespace: kube-system\n"
		       "  labels:\n    k8s-app: kube-dns\nsubsets:\n- addresses:\n");
	for (size_t i = 0; i < c->nmachines; i++) {
		if (c->machines[i].role != ROLE_MASTER)
			continue;
		ip_format(c->machines[i].addr, a, sizeof a);
		buf_printf(&b, "  - ip: \"%s\"\n", a);
	}
	buf_printf(&b, "  ports:\n  - {name: dns, port: 53, protocol: UDP}\n  - {name: dns-tcp, port: 53, protocol: TCP}\n");
	return b.p;
}

/* The apiservers' shared kubelet client certificate is in no group: this binding gives its user the kubelet API
 * (exec, logs, port-forward, stats: the built-in ClusterRole system:kubelet-api-admin) and nothing of the cluster's
 * own API, which a system:masters certificate on every master would hand out whole. */
char *addons_apiserver_kubelet(const struct cluster *c)
{
	struct buf b = {0};
	buf_printf(&b, "# kiln: the apiservers' access to the kubelets for %s (kiln render). Apply once the control plane\n"
		       "# answers, with the other addons: kubectl exec and logs need it.\n", c->name);
	buf_printf(&b, "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n"
		       "  name: kiln:apiserver-kubelet\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n"
		       "  name: system:kubelet-api-admin\nsubjects:\n- apiGroup: rbac.authorization.k8s.io\n  kind: User\n"
		       "  name: kube-apiserver-kubelet-client\n");
	return b.p;
}
