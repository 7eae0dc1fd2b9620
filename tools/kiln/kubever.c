/* kubever.c: what changes with the Kubernetes release. One table decides, per minor version, the flags and
 * configuration fields kiln gives the components (kubeadm's habit), so a new release is a row here, not edits
 * across service files. The rows are what each release accepts and requires. */
#include "kilntool.h"

#include <stdlib.h>

#define CRI_SOCKET "unix:///run/containerd/containerd.sock"

#define CRI_FLAGS "--container-runtime=remote --container-runtime-endpoint=" CRI_SOCKET

static const struct kube_wiring rows[] = {
	/* before 1.24: the controller-manager and the scheduler also serve plain HTTP (metrics, profiling, health) on
	 * every address (ports 10252, 10251) unless told --port=0; a no-op from 1.22, gone in 1.24 */
	{0, CRI_FLAGS, 0, "--port=0"},
	/* before 1.27: kubelet is told the CRI endpoint by flags (--container-runtime=remote is the only value from
	 * 1.24 on, refused from 1.27); its configuration has no field for it */
	{24, CRI_FLAGS, 0, ""},
	/* 1.27 and later: the flags are gone, containerRuntimeEndpoint is a configuration field */
	{27, "", 1, ""},
};

/* "v1.20.2" -> 20; -1 when it is not a 1.x release. */
int kube_minor(const char *version)
{
	char *end;
	long minor;
	if (version[0] != 'v' || version[1] != '1' || version[2] != '.')
		return -1;
	minor = strtol(version + 3, &end, 10);
	if (end == version + 3 || (*end != '.' && *end != '\0' && *end != '-') || minor < 0 || minor > 999)
		return -1;
	return (int)minor;
}

const struct kube_wiring *kube_wiring(const char *version)
{
	int minor = kube_minor(version);
	const struct kube_wiring *w = &rows[0];
	for (size_t i = 0; i < sizeof rows / sizeof *rows; i++)
		if (minor >= rows[i].from_minor)
			w = &rows[i];
	return w;
}
