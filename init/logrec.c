/* logrec.c: the records PID 1 hands its log writer (logd.c) and the bounded queue that holds them while the writer
 * is behind. A record is one write(2) of at most PIPE_BUF bytes, so it reaches the writer whole; what the queue
 * cannot take is dropped by whole lines, and counted. */
#include "kiln.h"

#include <string.h>

/* The header: total length (2 bytes), name length, keep, max (4 bytes), little-endian; then the name, the data. */
static void put16(unsigned char *p, unsigned v) { p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8); }
static void put32(unsigned char *p, unsigned long v) { put16(p, (unsigned)(v & 0xffff)), put16(p + 2, (unsigned)(v >> 16)); }
static unsigned get16(const unsigned char *p) { return p[0] | (unsigned)p[1] << 8; }
static unsigned long get32(const unsigned char *p) { return get16(p) | (unsigned long)get16(p + 2) << 16; }

size_t logrec_cut(const char *buf, size_t len, size_t room)
{
	const char *nl;
	if (len <= room)
		return len;
	nl = memrchr(buf, '\n', room);
	return nl ? (size_t)(nl - buf) + 1 : room;
}

size_t logrec_pack(char *out, const char *name, long max, int keep, const char *data, size_t len)
{
	size_t nlen = strlen(name), total = LOGREC_HEAD + nlen + len;
	unsigned char *h = (unsigned char *)out;
	if (nlen == 0 || nlen >= KILN_NAME_MAX || total > LOGREC_MAX)
		return 0;
	put16(h, (unsigned)total);
	h[2] = (unsigned char)nlen;
	h[3] = (unsigned char)(keep < 0 ? 0 : keep > 255 ? 255 : keep);
	put32(h + 4, max < 0 ? 0 : (unsigned long)max > 0xffffffffUL ? 0xffffffffUL : (unsigned long)max);
	memcpy(out + LOGREC_HEAD, name, nlen);
	memcpy(out + LOGREC_HEAD + nlen, data, len);
	return total;
}

long logrec_parse(const char *buf, size_t len, struct logrec *r)
{
	const unsigned char *h = (const unsigned char *)buf;
	size_t total, nlen;
	if (len < LOGREC_HEAD)
		return 0;
	total = get16(h);
	nlen = h[2];
	if (total > LOGREC_MAX || nlen == 0 || nlen >= KILN_NAME_MAX || total < LOGREC_HEAD + nlen)
		return -1;
	if (len < total)
		return 0;
	memcpy(r->name, buf + LOGREC_HEAD, nlen);
	r->name[nlen] = '\0';
	r->keep = h[3];
	r->max = (long)get32(h + 4);
	r->data = buf + LOGREC_HEAD + nlen;
	r->len = total - LOGREC_HEAD - nlen;
	return (long)total;
}

size_t logq_used(const struct logq *q) { return q->end - q->start; }

/* Appends a record while the queue would hold at most LIMIT bytes; the free space at the front is reused once the
 * end is reached. */
static int logq_put(struct logq *q, const struct logslot *s, const char *data, size_t len, size_t limit)
{
	size_t n = LOGREC_HEAD + strlen(s->name) + len;
	if (logq_used(q) + n > limit || logq_used(q) + n > q->cap)
		return -1;
	if (q->end + n > q->cap) {
		memmove(q->buf, q->buf + q->start, logq_used(q));
		q->end -= q->start;
		q->start = 0;
	}
	if (!logrec_pack(q->buf + q->end, s->name, s->max, s->keep, data, len))
		return -1;
	q->end += n;
	return 0;
}

const char *logq_front(const struct logq *q, size_t *n)
{
	if (q->start == q->end)
		return NULL;
	*n = get16((const unsigned char *)q->buf + q->start);
	return q->buf + q->start;
}

void logq_pop(struct logq *q)
{
	size_t n;
	if (logq_front(q, &n))
		q->start += n;
	if (q->start == q->end)
		q->start = q->end = 0;
}

/* The part of the queue a record that starts a line may not take: kept for the rest of lines already begun, so that
 * a line cut between two reads of the service's pipe is not left half in the log. */
#define LOGQ_RESERVE(q) ((q)->cap / 16)

unsigned long logq_add(struct logq *q, struct logslot *s, const char *buf, size_t len)
{
	size_t room = LOGREC_MAX - LOGREC_HEAD - strlen(s->name);
	unsigned long dropped = 0;
	while (len > 0) {
		size_t take;
		if (s->skip) { /* the rest of a line whose start was dropped */
			const char *nl = memchr(buf, '\n', len);
			if (!nl)
				break;
			take = (size_t)(nl - buf) + 1;
			s->skip = 0;
		} else {
			take = logrec_cut(buf, len, room);
			if (logq_put(q, s, buf, take, s->open ? q->cap : q->cap - LOGQ_RESERVE(q)) == 0) {
				s->open = buf[take - 1] != '\n';
			} else {
				for (const char *p = buf; (p = memchr(p, '\n', (size_t)(buf + take - p))); p++)
					dropped++;
				if (buf[take - 1] != '\n')
					dropped++, s->skip = 1;
				s->open = 0;
			}
		}
		buf += take;
		len -= take;
	}
	s->dropped += dropped;
	s->unsaid += dropped;
	return dropped;
}
