/* yamltree.c: YAML text to a small tree of maps, sequences and scalars, each with its line, built from
 * libyaml's events. One document only; aliases are refused (a cluster file has no need of them). */
#include "kilntool.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define DEPTH_MAX 32

static struct ynode *node_new(enum ynode_kind kind, const yaml_mark_t *mark)
{
	struct ynode *n = calloc(1, sizeof *n);
	if (n) {
		n->kind = kind;
		n->line = (int)mark->line + 1;
	}
	return n;
}

void ynode_free(struct ynode *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->nkids; i++)
		ynode_free(n->kids[i]);
	free(n->kids);
	free(n->value);
	free(n);
}

static int add_kid(struct ynode *parent, struct ynode *kid)
{
	struct ynode **k = realloc(parent->kids, (parent->nkids + 1) * sizeof *k);
	if (!k)
		return -1;
	parent->kids = k;
	k[parent->nkids++] = kid;
	return 0;
}

struct loader {
	struct ynode *stack[DEPTH_MAX];
	int depth;
	struct ynode *root;
	int docs;
};

/* Attach a new node to the open collection (or make it the root); collections are then pushed. */
static int attach(struct loader *l, struct ynode *n, struct diag *d)
{
	if (l->depth > 0) {
		if (add_kid(l->stack[l->depth - 1], n))
			return -1;
	} else if (l->root) {
		ynode_free(n);
		diag_error(d, n->line, "YAML: more than one document");
		return -1;
	} else {
		l->root = n;
	}
	if (n->kind != Y_SCALAR) {
		if (l->depth == DEPTH_MAX) {
			diag_error(d, n->line, "YAML: nested too deeply");
			return -1;
		}
		l->stack[l->depth++] = n;
	}
	return 0;
}

static int on_event(struct loader *l, const yaml_event_t *e, struct diag *d)
{
	struct ynode *n;
	switch (e->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++l->docs > 1) {
			diag_error(d, (int)e->start_mark.line + 1, "YAML: more than one document");
			return -1;
		}
		return 0;
	case YAML_ALIAS_EVENT:
		diag_error(d, (int)e->start_mark.line + 1, "YAML: aliases are not supported");
		return -1;
	case YAML_SCALAR_EVENT:
		if (!(n = node_new(Y_SCALAR, &e->start_mark)))
			return -1;
		n->plain = e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		n->value = malloc(e->data.scalar.length + 1);
		if (!n->value) {
			free(n);
			return -1;
		}
		memcpy(n->value, e->data.scalar.value, e->data.scalar.length);
		n->value[e->data.scalar.length] = '\0';
		if (strlen(n->value) != e->data.scalar.length) {
			diag_error(d, n->line, "YAML: NUL character in a value");
			ynode_free(n);
			return -1;
		}
		return attach(l, n, d);
	case YAML_MAPPING_START_EVENT:
	case YAML_SEQUENCE_START_EVENT:
		n = node_new(e->type == YAML_MAPPING_START_EVENT ? Y_MAP : Y_SEQ, &e->start_mark);
		return n ? attach(l, n, d) : -1;
	case YAML_MAPPING_END_EVENT:
	case YAML_SEQUENCE_END_EVENT:
		if (l->depth > 0)
			l->depth--;
		return 0;
	default:
		return 0;
	}
}

struct ynode *yaml_load(const char *text, size_t len, struct diag *d)
{
	yaml_parser_t parser;
	yaml_event_t event;
	struct loader l = {0};
	int done = 0, failed = 0;

	if (!yaml_parser_initialize(&parser)) {
		diag_error(d, 0, "YAML: out of memory");
		return NULL;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	while (!done && !failed) {
		if (!yaml_parser_parse(&parser, &event)) {
			diag_error(d, (int)parser.problem_mark.line + 1, "YAML: %s%s%s",
				   parser.problem ? parser.problem : "syntax error",
				   parser.context ? " " : "", parser.context ? parser.context : "");
			failed = 1;
			break;
		}
		done = event.type == YAML_STREAM_END_EVENT;
		if (on_event(&l, &event, d))
			failed = 1;
		yaml_event_delete(&event);
	}
	yaml_parser_delete(&parser);
	if (failed) {
		if (d->errors == 0)
			diag_error(d, 0, "YAML: out of memory");
		ynode_free(l.root);
		return NULL;
	}
	if (!l.root || (l.root->kind == Y_SCALAR && l.root->plain && !*l.root->value)) {
		diag_error(d, 1, "empty cluster file");
		ynode_free(l.root);
		return NULL;
	}
	return l.root;
}
