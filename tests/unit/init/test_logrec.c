/* test_logrec.c: records to the log writer (cut, pack, parse) and the bounded queue that drops whole lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kiln.h"

static void cut_keeps_lines_whole(void **state)
{
	const char *s = "one\ntwo\nthree\n";
	(void)state;
	assert_int_equal(logrec_cut(s, strlen(s), 100), strlen(s)); /* all fits */
	assert_int_equal(logrec_cut(s, strlen(s), 10), 8);         /* "one\ntwo\n": three would not fit */
	assert_int_equal(logrec_cut(s, strlen(s), 4), 4);          /* exactly "one\n" */
	assert_int_equal(logrec_cut("abcdefgh", 8, 3), 3);         /* a line longer than a record is cut */
}

static void pack_and_parse(void **state)
{
	char rec[LOGREC_MAX], big[LOGREC_MAX];
	struct logrec r;
	size_t n;
	(void)state;
	n = logrec_pack(rec, "etcd", 1048576, 3, "hello\n", 6);
	assert_int_equal(n, LOGREC_HEAD + 4 + 6);
	assert_int_equal(logrec_parse(rec, n, &r), (long)n);
	assert_string_equal(r.name, "etcd");
	assert_int_equal(r.max, 1048576);
	assert_int_equal(r.keep, 3);
	assert_int_equal(r.len, 6);
	assert_memory_equal(r.data, "hello\n", 6);
	/* a record read in pieces: nothing until it is whole */
	assert_int_equal(logrec_parse(rec, 3, &r), 0);
	assert_int_equal(logrec_parse(rec, n - 1, &r), 0);
	/* at most PIPE_BUF bytes, so that one write(2) carries it whole */
	memset(big, 'x', sizeof big);
	assert_int_equal(logrec_pack(rec, "etcd", 1, 1, big, LOGREC_MAX - LOGREC_HEAD - 4), LOGREC_MAX);
	assert_int_equal(logrec_pack(rec, "etcd", 1, 1, big, LOGREC_MAX - LOGREC_HEAD - 3), 0);
	assert_int_equal(logrec_pack(rec, "", 1, 1, "x", 1), 0);
	/* a length shorter than its own header and name is refused */
	n = logrec_pack(rec, "etcd", 1, 1, "x", 1);
	rec[0] = 5, rec[1] = 0;
	assert_int_equal(logrec_parse(rec, n, &r), -1);
}

/* Everything the queue holds, parsed back into TEXT (appended), records popped. */
static void drain(struct logq *q, const char *name, char *text, size_t *len)
{
	const char *p;
	size_t n;
	struct logrec r;
	while ((p = logq_front(q, &n))) {
		assert_int_equal(logrec_parse(p, n, &r), (long)n);
		assert_string_equal(r.name, name);
		memcpy(text + *len, r.data, r.len);
		*len += r.len;
		logq_pop(q);
	}
}

static void queue_drops_whole_lines_and_counts_them(void **state)
{
	static char buf[16384];
	struct logq q = {buf, sizeof buf, 0, 0};
	struct logslot s = {.name = "svc", .max = 1000, .keep = 1};
	char line[200], *out = malloc(1 << 20);
	size_t olen = 0;
	unsigned long kept = 0, dropped = 0, last = 0;
	(void)state;
	/* 3000 lines of 100 bytes, sent in 1000-byte pieces (lines cut between pieces), the queue drained by 4 KiB only
	 * every 20 pieces: it fills, and the rest is dropped */
	static char stream[3000 * 100];
	for (int i = 0; i < 3000; i++) {
		snprintf(line, sizeof line, "line %05d %088d\n", i, 0);
		memcpy(stream + i * 100, line, 100);
	}
	for (size_t off = 0, piece = 0; off < sizeof stream; off += 1000, piece++) {
		dropped += logq_add(&q, &s, stream + off, 1000);
		if (piece % 20 == 19) {
			const char *p;
			size_t n, got = 0;
			while (got < 4096 && (p = logq_front(&q, &n))) {
				struct logrec r;
				assert_int_equal(logrec_parse(p, n, &r), (long)n);
				memcpy(out + olen, r.data, r.len);
				olen += r.len;
				got += n;
				logq_pop(&q);
			}
		}
		assert_true(logq_used(&q) <= q.cap);
	}
	drain(&q, "svc", out, &olen);
	assert_true(dropped > 0);
	assert_int_equal(s.dropped, dropped);
	assert_int_equal(s.unsaid, dropped);
	/* what was kept is whole lines, in order; kept + dropped is every line */
	for (size_t b = 0; b < olen; b += 100) {
		unsigned long n = strtoul(out + b + 5, NULL, 10);
		assert_true(olen - b >= 100);
		assert_int_equal(out[b + 99], '\n');
		assert_memory_equal(out + b, "line ", 5);
		assert_true(kept == 0 || n > last);
		last = n;
		kept++;
	}
	assert_int_equal(kept + dropped, 3000);
	free(out);
}

static void queue_long_line_split_and_dropped_whole(void **state)
{
	static char buf[8192];
	struct logq q = {buf, sizeof buf, 0, 0};
	struct logslot s = {.name = "svc", .max = 1000, .keep = 1};
	static char big[10000], other[7000];
	char out[16384];
	size_t olen = 0;
	(void)state;
	memset(big, 'a', sizeof big);
	big[sizeof big - 1] = '\n';
	/* a line longer than a record goes in pieces, as long as the queue has room */
	assert_int_equal(logq_add(&q, &s, big, 6000), 0);
	assert_true(s.open);
	drain(&q, "svc", out, &olen);
	assert_int_equal(olen, 6000);
	/* past cap - cap/16 a new line is refused, but the rest of a line already begun takes the reserve */
	olen = 0;
	big[2999] = big[7999] = '\n';
	assert_int_equal(logq_add(&q, &s, big, 3000), 0);         /* 3011 bytes queued */
	assert_int_equal(logq_add(&q, &s, big + 3000, 4000), 0);  /* 7022: a line begun */
	assert_true(s.open);
	assert_int_equal(logq_add(&q, &s, big + 7000, 1000), 0);  /* its end: 8033, in the reserve */
	assert_false(s.open);
	assert_int_equal(logq_add(&q, &s, "next\n", 5), 1);     /* a new line: no room for it */
	/* a new line dropped at its start is dropped whole: its continuation in a later piece too, not counted again */
	memset(other, 'b', sizeof other);
	other[sizeof other - 1] = '\n';
	assert_int_equal(logq_add(&q, &s, other, 5000), 1);
	assert_true(s.skip);
	assert_int_equal(logq_add(&q, &s, other + 5000, 2000), 0);
	assert_false(s.skip);
	drain(&q, "svc", out, &olen);
	assert_int_equal(olen, 8000);
	assert_int_equal(out[2999], '\n');
	assert_int_equal(out[7999], '\n');
	assert_int_equal(logq_add(&q, &s, "next\n", 5), 0);
	olen = 0;
	drain(&q, "svc", out, &olen);
	assert_int_equal(olen, 5);
	assert_memory_equal(out, "next\n", 5);
	assert_int_equal(s.dropped, 2);
	assert_int_equal(s.unsaid, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cut_keeps_lines_whole),
		cmocka_unit_test(pack_and_parse),
		cmocka_unit_test(queue_drops_whole_lines_and_counts_them),
		cmocka_unit_test(queue_long_line_split_and_dropped_whole),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
