/* kubeconfig.c: kubeconfig files, as Kubernetes The Hard Way makes them: the components' name their
 * certificate files by the path they have inside the image; the admin's embeds them (it leaves the cluster). */
#include "kilntool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

static void kubeconfig(struct buf *b, const char *cluster, const char *server, const char *user, const char *ca_k,
		       const char *ca, const char *cert_k, const char *cert, const char *key_k, const char *key)
{
	buf_printf(b, "apiVersion: v1\nkind: Config\nclusters:\n- name: %s\n  cluster:\n    %s: %s\n    server: %s\n",
		   cluster, ca_k, ca, server);
	buf_printf(b, "users:\n- name: %s\n  user:\n    %s: %s\n    %s: %s\n", user, cert_k, cert, key_k, key);
	buf_printf(b, "contexts:\n- name: default\n  context:\n    cluster: %s\n    user: %s\ncurrent-context: default\n",
		   cluster, user);
}

int kubeconfig_files(struct buf *b, const char *cluster, const char *server, const char *user, const char *ca,
		     const char *cert, const char *key)
{
	kubeconfig(b, cluster, server, user, "certificate-authority", ca, "client-certificate", cert, "client-key", key);
	return 0;
}

static char *base64_of_file(const char *path)
{
	size_t len;
	char *data = read_file(path, &len), *out;
	if (!data) {
		fprintf(stderr, "kiln: render: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	if ((out = malloc(4 * ((len + 2) / 3) + 1)))
		EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)data, (int)len);
	free(data);
	return out;
}

int kubeconfig_embedded(struct buf *b, const char *cluster, const char *server, const char *user, const char *ca,
			const char *cert, const char *key)
{
	char *c = base64_of_file(ca), *x = base64_of_file(cert), *k = base64_of_file(key);
	int rc = c && x && k ? 0 : -1;
	if (rc == 0)
		kubeconfig(b, cluster, server, user, "certificate-authority-data", c, "client-certificate-data", x,
			   "client-key-data", k);
	free(c);
	free(x);
	free(k);
	return rc;
}
