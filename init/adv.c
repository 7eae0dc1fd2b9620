/* adv.c: syslinux's auxiliary data vector (the last 1 KiB of ldlinux.sys: two copies of a 512-byte block, magic,
 * checksum, tag-length-value records): read and set the boot-once command, as `extlinux --once` does. */
#include "kiln.h"

#include <stdio.h>
#include <string.h>

#define ADV_MAGIC1 0x5a2d2fa5u /* head */
#define ADV_MAGIC2 0xa3041767u /* the checksum makes the sum of the words this */
#define ADV_MAGIC3 0xdd28bf64u /* tail */

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8), p[2] = (unsigned char)(v >> 16), p[3] = (unsigned char)(v >> 24);
}

static int adv_copy_valid(const unsigned char *a)
{
	uint32_t csum = 0;
	if (get32(a) != ADV_MAGIC1 || get32(a + ADV_SIZE - 4) != ADV_MAGIC3)
		return 0;
	for (int i = 4; i < ADV_SIZE - 4; i += 4)
		csum += get32(a + i);
	return csum == ADV_MAGIC2;
}

/* Syslinux keeps two copies and uses the first good one; a vector with neither is unusable. */
int adv_valid(const unsigned char adv[2 * ADV_SIZE])
{
	return adv_copy_valid(adv) || adv_copy_valid(adv + ADV_SIZE);
}

static const unsigned char *good_copy(const unsigned char adv[2 * ADV_SIZE])
{
	return adv_copy_valid(adv) ? adv : adv_copy_valid(adv + ADV_SIZE) ? adv + ADV_SIZE : NULL;
}

int adv_get(const unsigned char adv[2 * ADV_SIZE], int tag, char *val, size_t len)
{
	const unsigned char *a = good_copy(adv), *p, *end;
	if (!a)
		return -1;
	for (p = a + 8, end = a + ADV_SIZE - 4; p + 2 <= end && *p != ADV_END; p += 2 + p[1]) {
		if (p + 2 + p[1] > end)
			return -1;
		if (*p == tag) {
			snprintf(val, len, "%.*s", (int)p[1], (const char *)p + 2);
			return 0;
		}
	}
	val[0] = '\0';
	return 1; /* absent */
}

/* Sets TAG to VAL (NULL or "" deletes it), keeping every other record; rewrites both copies. */
int adv_set(unsigned char adv[2 * ADV_SIZE], int tag, const char *val)
{
	unsigned char data[ADV_SIZE - 12];
	const unsigned char *a = good_copy(adv), *p, *end;
	size_t n = 0, vlen = val ? strlen(val) : 0;
	uint32_t csum = ADV_MAGIC2;
	if (tag <= 0 || tag > 255 || vlen > 255)
		return -1;
	memset(data, 0, sizeof data);
	for (p = a ? a + 8 : NULL, end = a ? a + ADV_SIZE - 4 : NULL; p && p + 2 <= end && *p != ADV_END; p += 2 + p[1]) {
		if (p + 2 + p[1] > end)
			return -1;
		if (*p == tag)
			continue;
		memcpy(data + n, p, 2 + (size_t)p[1]);
		n += 2 + (size_t)p[1];
	}
	if (vlen) {
		if (n + 2 + vlen > sizeof data)
			return -1;
		data[n] = (unsigned char)tag, data[n + 1] = (unsigned char)vlen;
		memcpy(data + n + 2, val, vlen);
	}
	memset(adv, 0, ADV_SIZE);
	put32(adv, ADV_MAGIC1);
	memcpy(adv + 8, data, sizeof data);
	for (int i = 8; i < ADV_SIZE - 4; i += 4)
		csum -= get32(adv + i);
	put32(adv + 4, csum);
	put32(adv + ADV_SIZE - 4, ADV_MAGIC3);
	memcpy(adv + ADV_SIZE, adv, ADV_SIZE);
	return 0;
}
