/* mbr.c: what makes a disk blank enough to format, and the one-partition MBR that init writes on it for DATA.
 * Pure: the caller reads and writes the disk (data.c). */
#include "kiln.h"

#include <string.h>

int region_is_zero(const unsigned char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i])
			return 0;
	return 1;
}

static void put_le32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8), p[2] = (unsigned char)(v >> 16), p[3] = (unsigned char)(v >> 24);
}

int mbr_build(unsigned char mbr[512], uint64_t disk_sectors, uint32_t disk_id)
{
	unsigned char *e = mbr + 446;
	uint64_t count;
	if (disk_sectors < MBR_FIRST_SECTOR + MBR_MIN_SECTORS)
		return -1;
	count = disk_sectors - MBR_FIRST_SECTOR;
	if (count > 0xffffffffu) /* MBR counts in 32 bits: the rest of a disk over 2 TiB stays unused */
		count = 0xffffffffu;
	memset(mbr, 0, 512);
	put_le32(mbr + 440, disk_id);
	e[0] = 0x00;                                /* not bootable */
	e[1] = 0xfe, e[2] = 0xff, e[3] = 0xff;      /* CHS: "use LBA" */
	e[4] = 0x83;                                /* Linux */
	e[5] = 0xfe, e[6] = 0xff, e[7] = 0xff;
	put_le32(e + 8, MBR_FIRST_SECTOR);
	put_le32(e + 12, (uint32_t)count);
	mbr[510] = 0x55, mbr[511] = 0xaa;
	return 0;
}
