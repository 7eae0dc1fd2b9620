/* kilntool.h: the host cluster tool's shared types: addresses, the YAML tree, the cluster model, diagnostics,
 * the PKI plan and the output writer. Each .c file owns one concern; this header is their contract. */
#ifndef KILN_TOOL_H
#define KILN_TOOL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* ---- addresses (netaddr.c, pure) ---- */
struct cidr {
	uint32_t net;  /* host byte order */
	int prefix;
};

int ip_parse(const char *s, uint32_t *ip);
void ip_format(uint32_t ip, char *buf, size_t len); /* buf of at least 16 */
/* 0 ok, -1 bad syntax, -2 host bits set (net then holds the masked network) */
int cidr_parse(const char *s, struct cidr *c);
void cidr_format(const struct cidr *c, char *buf, size_t len); /* buf of at least 19 */
uint32_t cidr_mask(int prefix);
uint64_t cidr_size(const struct cidr *c);
uint32_t cidr_last(const struct cidr *c);
int cidr_contains(const struct cidr *c, uint32_t ip);
int cidr_overlap(const struct cidr *a, const struct cidr *b);
int mac_parse(const char *s, uint8_t mac[6]);
void mac_format(const uint8_t mac[6], char *buf, size_t len); /* buf of at least 18 */
int dns_label_valid(const char *s);
int dns_name_valid(const char *s);
/* Derived addresses: service IP (.1), cluster DNS (.10), node n's pod subnet (the n-th /24, n from 1). */
uint32_t derive_service_ip(const struct cidr *services);
uint32_t derive_dns_ip(const struct cidr *services);
int derive_pod_subnet(const struct cidr *pods, int n, struct cidr *out);
long pod_subnet_capacity(const struct cidr *pods);

/* ---- diagnostics (diag.c) ---- */
struct diag {
	const char *file;
	FILE *out; /* NULL: count only (fuzzing) */
	int errors, warnings;
};
void diag_error(struct diag *d, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void diag_warn(struct diag *d, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- YAML tree (yamltree.c) ---- */
enum ynode_kind { Y_SCALAR, Y_MAP, Y_SEQ };
struct ynode {
	enum ynode_kind kind;
	int line;
	int plain;     /* scalar written without quotes */
	char *value;   /* scalar text */
	struct ynode **kids; /* map: key, value, key, value...; seq: items */
	size_t nkids;
};
struct ynode *yaml_load(const char *text, size_t len, struct diag *d);
void ynode_free(struct ynode *n);

/* ---- the cluster (schema.c reads, validate.c checks, derive in cluster.c) ---- */
#define NAME_MAX_LEN 64
#define MAX_TIME_SERVERS 4
enum role { ROLE_MASTER, ROLE_NODE };
enum { M_NAME_OK = 1, M_MAC_OK = 2, M_ADDR_OK = 4 };
enum { NET_INFRA_OK = 1, NET_SERVICES_OK = 2, NET_PODS_OK = 4, NET_GATEWAY_OK = 8 };
struct machine {
	char name[NAME_MAX_LEN];
	enum role role;
	uint8_t mac[6];
	uint32_t addr;
	int line, name_line, mac_line, addr_line;
	int index;              /* position among its role, from 0 */
	int ok;                 /* M_*_OK: which fields parsed, so later checks skip the broken ones */
	struct cidr pod_subnet; /* nodes only */
};

struct cluster {
	char name[NAME_MAX_LEN];
	char domain[254];
	char version[64];
	int name_line, domain_line, version_line;
	struct cidr infra, services, pods;
	int infra_line, services_line, pods_line;
	int nets_ok; /* NET_*_OK */
	uint32_t gateway;
	int has_gateway, gateway_line;
	struct machine *machines; /* masters first, then nodes, each in file order */
	size_t nmachines, nmasters, nnodes;
	int masters_line, nodes_line;
	int masters_bad; /* masters given but unreadable: "no masters" would only repeat it */
	long backup_interval, backup_keep;
	char backup_copy_to[NAME_MAX_LEN]; /* "next" or a master's name */
	int backup_copy_line;
	long ca_days, leaf_days;
	int console_shell;
	long boot_mib, slot_mib, data_mib;
	int data_format_blank; /* a diskless (PXE) machine may make DATA on a disk that is entirely blank */
	int diskless_masters;  /* masters may keep etcd on a tmpfs (no DATA disk): kiln.data=disk is left out */
	long data_wait;        /* seconds a master's boot waits for its DATA disk (kiln.data_wait) */
	uint32_t time_servers[MAX_TIME_SERVERS]; /* the masters' upstream NTP servers (time.servers), none: m1's clock */
	size_t ntime_servers;
	/* derived */
	uint32_t service_ip, dns_ip;
};

/* Parse and validate a cluster file's text; 0 when usable (warnings allowed), -1 with errors reported. */
int cluster_load(const char *text, size_t len, struct cluster *c, struct diag *d);
int cluster_load_file(const char *path, struct cluster *c, struct diag *d);
void cluster_free(struct cluster *c);
int schema_read(const struct ynode *root, struct cluster *c, struct diag *d);
void cluster_validate(struct cluster *c, struct diag *d);
void cluster_derive(struct cluster *c);
const struct machine *cluster_first_master(const struct cluster *c);
/* etcd's initial cluster, "m1=https://A:2380,..." (malloc'd) */
char *cluster_etcd_initial(const struct cluster *c);
char *cluster_etcd_servers(const struct cluster *c);

/* ---- system image signatures (imgsig.c: libcrypto; kiln-verify in the images) ---- */
#define IMGSIG_MAX 4096    /* a whole .sig file, bytes */
#define IMGSIG_B64_MAX 128 /* the signature line's base64 (a DER ECDSA P-256 signature is at most 72 bytes) */
struct evp_pkey_st;
struct imgsig {
	char role[16], cluster[64], version[65], serial[13], size[16], sha256[65];
};
/* BUF (LEN bytes, a whole .sig file) signed by KEY: 0 with S filled, or -1 with WHY. */
int imgsig_check(const char *buf, size_t len, struct evp_pkey_st *key, struct imgsig *s, char *why, size_t whylen);

/* ---- PKI (pki.c: libcrypto; pkiplan.c: which identities a cluster needs) ---- */
enum ca_id { CA_NONE = -1, CA_KUBE = 0, CA_ETCD = 1 };
enum { EKU_SERVER = 1, EKU_CLIENT = 2 };
#define SANS_MAX 16
struct cert_spec {
	char id[96];          /* file stem in the PKI folder */
	enum ca_id ca;
	char cn[128], org[64];
	char *sans[SANS_MAX]; /* "DNS:x" / "IP:a.b.c.d", malloc'd */
	int nsans;
	int eku;              /* EKU_*; 0: no extended key usage */
	int key_agreement;    /* keyUsage keyAgreement instead of digitalSignature (an ECDH recipient) */
};
struct pki {
	char dir[4096];
	long ca_days, leaf_days;
	void *ca_cert[2], *ca_key[2]; /* X509 *, EVP_PKEY * */
	int issued, reused;
};
int pki_open(struct pki *p, const char *dir, long ca_days, long leaf_days);
/* pki_open for a folder render made already: no CA is created, their absence is an error. */
int pki_open_existing(struct pki *p, const char *dir, long ca_days, long leaf_days);
void pki_close(struct pki *p);
/* Reuse the spec's cert when it still certifies the same thing and has 30 days left; issue it otherwise.
 * 1 issued, 0 reused, -1 error (message on stderr). */
int pki_ensure(struct pki *p, const struct cert_spec *s);
int pki_ensure_keypair(struct pki *p, const char *id); /* service-account key: id.key, id.pub */
#define PKI_SECRET_BYTES 32
int pki_ensure_secret(struct pki *p, const char *id); /* encryption at rest: id.secret, base64 */
int pki_status(const char *dir, FILE *out);
/* The same checks pki_ensure makes, for tests: 1 when the cert on disk matches the spec. */
int pki_cert_matches(struct pki *p, const struct cert_spec *s, char *why, size_t whylen);
/* Issue S for a key held elsewhere (PUB, public half only) and save it to PATH (0644); nothing is written into the
 * PKI folder. 0 or -1 (message on stderr). */
int pki_issue_for_key(struct pki *p, const struct cert_spec *s, struct evp_pkey_st *pub, const char *path);
void cert_spec_add_san(struct cert_spec *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cert_spec_free(struct cert_spec *s);
/* Every identity the cluster needs, in a stable order. */
struct cert_spec *pkiplan_build(const struct cluster *c, size_t *n);
void pkiplan_free(struct cert_spec *specs, size_t n);
int pkiplan_ensure(struct pki *p, const struct cluster *c);

/* ---- PXE enrollment (enroll.c: the request, shared with kiln-enroll; enrollcerts.c: the host's answer) ---- */
#define ENROLL_MAX 16384 /* a whole request, bytes */
#define ENROLL_KEYS_MAX 8
#define ENROLL_ID_MAX 32
struct enroll_key {
	char id[ENROLL_ID_MAX + 1];
	struct evp_pkey_st *key; /* EC P-256, public half (or the whole key when written by the machine) */
};
struct enroll_req {
	char name[64];
	enum role role;
	uint8_t mac[6];
	struct enroll_key keys[ENROLL_KEYS_MAX]; /* keys[0] is "enroll" */
	size_t nkeys;
};
int enroll_name_valid(const char *s); /* [a-z0-9-], 1..63, a letter or digit first */
int enroll_id_valid(const char *s);   /* [a-z-], 1..32 */
int enroll_mac_parse(const char *s, uint8_t mac[6]); /* lowercase "xx:xx:xx:xx:xx:xx" only; 0 or -1 */
int enroll_key_p256(struct evp_pkey_st *k); /* 1 when K is an EC key on P-256 */
/* The request's text, the same bytes for the same fields and keys: malloc'd, or NULL (WHY says why). */
char *enroll_format(const struct enroll_req *r, size_t *len, char *why, size_t whylen);
/* BUF (LEN bytes, a whole request): 0 with R filled (free with enroll_req_free), or -1 with WHY. */
int enroll_parse(const char *buf, size_t len, struct enroll_req *r, char *why, size_t whylen);
void enroll_req_free(struct enroll_req *r);
/* R against machine NAME of C and its own certificates in the PKI plan: the number of problems, one line each on
 * ERR. */
int enroll_match(const struct cluster *c, const char *name, const struct enroll_req *r, FILE *err);
int enroll_certs(const struct cluster *c, const char *pkidir, const char *name, const char *reqfile,
		 const char *outdir);

/* ---- files (files.c) ---- */
int mkdir_p(const char *path, mode_t mode);
int rm_rf(const char *path);
char *read_file(const char *path, size_t *len);
int write_file(const char *path, const void *data, size_t len, mode_t mode);
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* Write PATH, or hard-link OLD there when OLD already holds exactly this (bytes, mode, owner): an
 * unchanged file keeps its inode and times, and costs no write. uid -1: no chown. */
int emit_file(const char *path, const char *old, const void *data, size_t len, mode_t mode, uid_t uid, gid_t gid);
/* Put NEW where DIR was (atomic exchange when DIR exists) and remove the old tree. */
int swap_into_place(const char *newdir, const char *dir);

/* A growable string. */
struct buf {
	char *p;
	size_t len, cap;
};
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_free(struct buf *b);

/* ---- rendering (render.c, identity.c, kubeconfig.c) ---- */
struct owners; /* users from the rootfs passwd file */
struct owners *owners_load(const char *rootfs);
void owners_free(struct owners *o);
int owners_lookup(const struct owners *o, const char *user, uid_t *uid, gid_t *gid);

struct tree {           /* a tree being written, and its MANIFEST */
	char root[4096];
	char old[4096];     /* the same tree in the previous output, reused file by file */
	const struct owners *owners;
	int chown;          /* running as root: every file made root's (owners go in MANIFEST only) */
	struct buf manifest;
};
int tree_file(struct tree *t, const char *rel, const void *data, size_t len, mode_t mode, const char *owner);
int tree_copy(struct tree *t, const char *rel, const char *src, mode_t mode, const char *owner);

int identity_write(const struct cluster *c, const struct machine *m, const char *pkidir, struct tree *t);
int kubeconfig_files(struct buf *b, const char *cluster, const char *server, const char *user,
		     const char *ca, const char *cert, const char *key);
int kubeconfig_embedded(struct buf *b, const char *cluster, const char *server, const char *user,
			const char *ca, const char *cert, const char *key); /* paths read now, embedded */
int render(const struct cluster *c, const char *outdir, const char *pkidir, const char *rootfs);
char *cluster_env(const struct cluster *c);
char *addons_coredns(const struct cluster *c); /* addons/coredns.yaml: DNS RBAC, Service, Endpoints */
char *addons_apiserver_kubelet(const struct cluster *c); /* addons/apiserver-kubelet.yaml: kubelet API for the apiservers */

/* ---- per-release wiring (kubever.c) ---- */
struct kube_wiring {
	int from_minor;                /* the first 1.x release the row holds for */
	const char *kubelet_flags;     /* kubelet's command-line flags for the CRI endpoint */
	int kubelet_endpoint_in_config; /* containerRuntimeEndpoint in KubeletConfiguration */
	const char *control_plane_flags; /* the controller-manager's and scheduler's flags of the release */
};
int kube_minor(const char *version);
const struct kube_wiring *kube_wiring(const char *version);

#define IDENTITY "/etc/kiln/identity"
#define RENEW_DAYS 30

#endif
