/* owners.c: who owns each file of an identity tree. Users are resolved by name from the image's own
 * /etc/passwd (--rootfs), never the build host's; every file written is listed in the tree's MANIFEST with its
 * owner. On the build host the files stay root's (a local user with uid 201 reads no kube key there); the owners
 * are applied in the private copy that goes into an archive or a disk image (apply_owners in scripts/lib.sh). */
#include "kilntool.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct owner {
	char name[33];
	uid_t uid;
	gid_t gid;
};
struct owners {
	struct owner *v;
	size_t n;
};

struct owners *owners_load(const char *rootfs)
{
	char path[PATH_MAX], line[1024];
	struct owners *o;
	FILE *f;
	snprintf(path, sizeof path, "%s/etc/passwd", rootfs);
	if (!(f = fopen(path, "r")))
		return NULL;
	if (!(o = calloc(1, sizeof *o))) {
		fclose(f);
		return NULL;
	}
	while (fgets(line, sizeof line, f)) {
		char *name = strtok(line, ":"), *pw = strtok(NULL, ":"), *uid = strtok(NULL, ":"), *gid = strtok(NULL, ":");
		struct owner *v;
		if (!name || !pw || !uid || !gid || strlen(name) >= sizeof v->name)
			continue;
		if (!(v = realloc(o->v, (o->n + 1) * sizeof *v)))
			break;
		o->v = v;
		snprintf(v[o->n].name, sizeof v->name, "%s", name);
		v[o->n].uid = (uid_t)strtoul(uid, NULL, 10);
		v[o->n].gid = (gid_t)strtoul(gid, NULL, 10);
		o->n++;
	}
	fclose(f);
	return o;
}

void owners_free(struct owners *o)
{
	if (o)
		free(o->v);
	free(o);
}

int owners_lookup(const struct owners *o, const char *user, uid_t *uid, gid_t *gid)
{
	for (size_t i = 0; o && i < o->n; i++)
		if (!strcmp(o->v[i].name, user)) {
			*uid = o->v[i].uid;
			*gid = o->v[i].gid;
			return 0;
		}
	return -1;
}

static int parent_dirs(const char *path)
{
	char d[PATH_MAX], *slash;
	snprintf(d, sizeof d, "%s", path);
	if (!(slash = strrchr(d, '/')))
		return 0;
	*slash = '\0';
	return mkdir_p(d, 0755);
}

int tree_file(struct tree *t, const char *rel, const void *data, size_t len, mode_t mode, const char *owner)
{
	char path[PATH_MAX], old[PATH_MAX];
	uid_t uid = 0;
	gid_t gid = 0;
	int known = owners_lookup(t->owners, owner, &uid, &gid) == 0;
	snprintf(path, sizeof path, "%s/%s", t->root, rel);
	snprintf(old, sizeof old, "%s/%s", t->old, rel);
	if (!known && (t->chown || t->owners)) {
		fprintf(stderr, "kiln: render: %s: user '%s' is not in the image's /etc/passwd\n", rel, owner);
		return -1;
	}
	if (parent_dirs(path) ||
	    emit_file(path, t->old[0] ? old : NULL, data, len, mode, t->chown ? 0 : (uid_t)-1, 0)) {
		fprintf(stderr, "kiln: render: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (known)
		buf_printf(&t->manifest, "%s %04o %s %u:%u\n", rel, (unsigned)mode, owner, (unsigned)uid, (unsigned)gid);
	else
		buf_printf(&t->manifest, "%s %04o %s -\n", rel, (unsigned)mode, owner);
	return 0;
}

int tree_copy(struct tree *t, const char *rel, const char *src, mode_t mode, const char *owner)
{
	size_t len;
	char *data = read_file(src, &len);
	int rc;
	if (!data) {
		fprintf(stderr, "kiln: render: %s: %s\n", src, strerror(errno));
		return -1;
	}
	rc = tree_file(t, rel, data, len, mode, owner);
	free(data);
	return rc;
}
