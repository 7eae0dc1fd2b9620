/* test_boot.c: early-boot parsing: kernel command line, the identity's network file, modules.dep
 * resolution order; the blank-disk check and DATA's partition table; log rotation in a temporary folder; the
 * bounded wait for a device (poll_until). */
#include <setjmp.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "kiln.h"

static char err[256];

static void cmdline(void **state)
{
	struct cmdline c;
	(void)state;
	cmdline_parse("console=ttyS0 quiet kiln.root=kiln-sys-a kiln.ip=192.168.0.11/24,192.168.0.1 kiln.shell\n", &c);
	assert_string_equal(c.root, "kiln-sys-a");
	assert_string_equal(c.ip, "192.168.0.11/24,192.168.0.1");
	assert_int_equal(c.shell, 1);
	assert_int_equal(c.data_format_blank, 0);
	cmdline_parse("quiet", &c);
	assert_string_equal(c.root, "");
	assert_int_equal(c.shell, 0);
	cmdline_parse("console=ttyS0 kiln.data_format_blank", &c);
	assert_int_equal(c.data_format_blank, 1);
	cmdline_parse("kiln.data_format_blank=no kiln.data_format_blankx", &c); /* only the exact word */
	assert_int_equal(c.data_format_blank, 0);
	assert_int_equal(c.data_disk, 0);
	assert_int_equal(c.data_wait, DATA_WAIT_DEFAULT);
	cmdline_parse("kiln.data=disk kiln.data_wait=5", &c);
	assert_int_equal(c.data_disk, 1);
	assert_int_equal(c.data_wait, 5);
	cmdline_parse("kiln.data=tmpfs kiln.data_wait=3600", &c);
	assert_int_equal(c.data_disk, 0);
	assert_int_equal(c.data_wait, 3600);
	/* out of bounds, not digits, past an int: the default, never a wrapped short wait */
	static const char *bad_waits[] = {"kiln.data_wait=0", "kiln.data_wait=3601", "kiln.data_wait=-5", "kiln.data_wait=5s",
					  "kiln.data_wait=4294967297", "kiln.data_wait=", NULL};
	for (const char **w = bad_waits; *w; w++) {
		cmdline_parse(*w, &c);
		assert_int_equal(c.data_wait, DATA_WAIT_DEFAULT);
	}
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void blank_region(void **state)
{
	static unsigned char buf[BLANK_HEAD];
	(void)state;
	assert_true(region_is_zero(buf, sizeof buf));
	buf[sizeof buf - 1] = 1; /* one byte anywhere, even the last, and the disk is not blank */
	assert_false(region_is_zero(buf, sizeof buf));
	buf[sizeof buf - 1] = 0;
	buf[1024 + 0x38] = 0x53; /* half an ext4 magic */
	assert_false(region_is_zero(buf, sizeof buf));
	assert_true(region_is_zero(buf, 1024));
}

static void data_mbr(void **state)
{
	unsigned char m[512];
	const unsigned char *e = m + 446;
	(void)state;
	memset(m, 0xaa, sizeof m);
	assert_int_equal(mbr_build(m, 1048576, 0x12345678), 0); /* 512 MiB */
	assert_int_equal(le32(m + 440), 0x12345678);
	assert_int_equal(e[0], 0);    /* not bootable */
	assert_int_equal(e[4], 0x83); /* Linux */
	assert_int_equal(le32(e + 8), 2048);
	assert_int_equal(le32(e + 12), 1048576 - 2048);
	assert_true(region_is_zero(m + 462, 48)); /* partitions 2-4 empty */
	assert_true(region_is_zero(m, 440));      /* no boot code */
	assert_int_equal(m[510], 0x55);
	assert_int_equal(m[511], 0xaa);
	/* over 2 TiB: the partition stops at what 32 bits count */
	assert_int_equal(mbr_build(m, 10ull << 31, 1), 0);
	assert_int_equal(le32(e + 12), 0xffffffffu);
	/* under 1 MiB + 64 MiB: refused */
	assert_int_equal(mbr_build(m, 2048 + 131072 - 1, 1), -1);
	assert_int_equal(mbr_build(m, 2048 + 131072, 1), 0);
	assert_int_equal(le32(e + 12), 131072);
}

static void network_file(void **state)
{
	struct netconf nc;
	char a[32];
	(void)state;
	assert_int_equal(netconf_parse("# m1\naddress 192.168.0.11/24 mac 52:54:00:AB:00:11\n"
				       "route 10.200.2.0/24 via 192.168.0.22\nroute default via 192.168.0.1\n"
				       "address 10.0.0.2/8 dev eth1\n", &nc, err, sizeof err), 0);
	assert_int_equal(nc.naddrs, 2);
	assert_string_equal(nc.addrs[0].mac, "52:54:00:ab:00:11");
	assert_int_equal(nc.addrs[0].prefix, 24);
	inet_ntop(AF_INET, &nc.addrs[0].addr, a, sizeof a);
	assert_string_equal(a, "192.168.0.11");
	assert_string_equal(nc.addrs[1].dev, "eth1");
	assert_int_equal(nc.nroutes, 2);
	assert_int_equal(nc.routes[1].prefix, 0);
	inet_ntop(AF_INET, &nc.routes[0].via, a, sizeof a);
	assert_string_equal(a, "192.168.0.22");
	assert_int_equal(netconf_parse("address 192.168.0.300/24 dev eth0\n", &nc, err, sizeof err), -1);
	assert_non_null(strstr(err, "line 1"));
	assert_int_equal(netconf_parse("\naddress 1.2.3.4/24 mac 52:54:00\n", &nc, err, sizeof err), -1);
	assert_non_null(strstr(err, "line 2"));
	assert_int_equal(netconf_parse("route 10.0.0.0/33 via 1.2.3.4\n", &nc, err, sizeof err), -1);
	assert_int_equal(netconf_parse("gateway 1.2.3.4\n", &nc, err, sizeof err), -1);
	assert_non_null(strstr(err, "unknown keyword"));
}

static void kernel_ip(void **state)
{
	struct netconf nc;
	char a[32];
	(void)state;
	assert_int_equal(netconf_from_ip("192.168.0.11/24,192.168.0.1", &nc), 0);
	assert_int_equal(nc.naddrs, 1);
	assert_int_equal(nc.addrs[0].prefix, 24);
	assert_string_equal(nc.addrs[0].dev, ""); /* the first ethernet interface */
	inet_ntop(AF_INET, &nc.addrs[0].addr, a, sizeof a);
	assert_string_equal(a, "192.168.0.11");
	assert_int_equal(nc.nroutes, 1);
	assert_int_equal(nc.routes[0].prefix, 0); /* the gateway is the default route */
	inet_ntop(AF_INET, &nc.routes[0].via, a, sizeof a);
	assert_string_equal(a, "192.168.0.1");
	assert_int_equal(netconf_from_ip("10.0.0.5/8", &nc), 0);
	assert_int_equal(nc.nroutes, 0);
	assert_int_equal(netconf_from_ip("10.0.0.5", &nc), -1);
	assert_int_equal(netconf_from_ip("10.0.0.5/24,gateway", &nc), -1);
	assert_int_equal(nc.naddrs, 0);
}

static void modules_order(void **state)
{
	const char *dep = "kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko kernel/fs/mbcache.ko kernel/fs/jbd2/jbd2.ko\n"
			  "kernel/lib/crc16.ko:\n"
			  "kernel/fs/mbcache.ko:\n"
			  "kernel/fs/jbd2/jbd2.ko:\n"
			  "kernel/crypto/crc32c_generic.ko:\n"
			  "kernel/fs/nls/nls_iso8859-1.ko:\n"
			  "kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko\n"
			  "kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko\n"
			  "kernel/drivers/virtio/virtio_ring.ko:\n";
	const char *soft = "softdep ext4 pre: crc32c_generic\n";
	const char *builtin = "kernel/drivers/tty/serial/8250/8250.ko\n";
	char *out[32];
	int n = 0;
	(void)state;
	assert_int_equal(modules_resolve(dep, soft, builtin, "ext4", out, &n, 32), 5);
	assert_string_equal(out[0], "kernel/crypto/crc32c_generic.ko"); /* softdep first */
	assert_string_equal(out[4], "kernel/fs/ext4/ext4.ko");          /* the module last */
	assert_int_equal(modules_resolve(dep, soft, builtin, "virtio_blk", out, &n, 32), 3);
	assert_string_equal(out[5], "kernel/drivers/virtio/virtio_ring.ko");
	assert_string_equal(out[6], "kernel/drivers/virtio/virtio.ko");
	assert_int_equal(modules_resolve(dep, soft, builtin, "ext4", out, &n, 32), 0); /* already listed */
	assert_int_equal(modules_resolve(dep, soft, builtin, "nls-iso8859_1", out, &n, 32), 1);
	assert_int_equal(modules_resolve(dep, soft, builtin, "8250", out, &n, 32), 0); /* built in */
	assert_int_equal(modules_resolve(dep, soft, builtin, "nonexistent", out, &n, 32), -1);
	assert_int_equal(n, 9);
	for (int i = 0; i < n; i++)
		free(out[i]);
}

/* A softdep cycle (each module wanting the other first) and a dependency chain deeper than any kernel's: both end. */
static void modules_cycles(void **state)
{
	const char *dep = "a.ko:\nb.ko:\nc.ko: b.ko\n";
	const char *soft = "softdep a pre: b\nsoftdep b pre: a\n";
	char deep[4096], *out[64];
	int n = 0, len = 0;
	(void)state;
	assert_int_equal(modules_resolve(dep, soft, NULL, "a", out, &n, 64), 2);
	assert_string_equal(out[0], "b.ko");
	assert_string_equal(out[1], "a.ko");
	assert_int_equal(modules_resolve(dep, soft, NULL, "c", out, &n, 64), 1);
	/* m0 needs m1 ... m39 needs m40 */
	for (int i = 0; i < 40; i++)
		len += snprintf(deep + len, sizeof deep - (size_t)len, "m%d.ko: m%d.ko\n", i, i + 1);
	snprintf(deep + len, sizeof deep - (size_t)len, "m40.ko:\n");
	errno = 0;
	assert_int_equal(modules_resolve(deep, NULL, NULL, "m0", out, &n, 64), -1);
	assert_int_equal(errno, ELOOP);
	assert_int_equal(modules_resolve(deep, NULL, NULL, "m20", out, &n, 64), 21);
	for (int i = 0; i < n; i++)
		free(out[i]);
}

/* disks_may_come_later: a bound NVMe controller, or any USB or MMC device, in a sysfs tree made here. */
static void late_disks(void **state)
{
	char dir[] = "/tmp/kiln-sys.XXXXXX", p[300];
	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(disks_may_come_later(dir), 0); /* no bus at all */
	snprintf(p, sizeof p, "mkdir -p %s/bus/pci/drivers/nvme %s/bus/usb/devices %s/bus/mmc/devices", dir, dir, dir);
	assert_int_equal(system(p), 0);
	snprintf(p, sizeof p, "%s/bus/pci/drivers/nvme/new_id", dir);
	fclose(fopen(p, "w"));
	assert_int_equal(disks_may_come_later(dir), 0); /* the driver, no device bound */
	snprintf(p, sizeof p, "%s/bus/pci/drivers/nvme/0000:00:04.0", dir);
	assert_int_equal(mkdir(p, 0755), 0);
	assert_int_equal(disks_may_come_later(dir), 1);
	rmdir(p);
	snprintf(p, sizeof p, "%s/bus/usb/devices/usb1", dir);
	assert_int_equal(mkdir(p, 0755), 0);
	assert_int_equal(disks_may_come_later(dir), 1);
	rmdir(p);
	snprintf(p, sizeof p, "%s/bus/mmc/devices/mmc0:0001", dir);
	assert_int_equal(mkdir(p, 0755), 0);
	assert_int_equal(disks_may_come_later(dir), 1);
	snprintf(p, sizeof p, "rm -rf %s", dir);
	assert_int_equal(system(p), 0);
}

static void put(const char *dir, const char *rel, const char *text)
{
	char p[400];
	FILE *f;
	snprintf(p, sizeof p, "mkdir -p '%s/%s' && rmdir '%s/%s'", dir, rel, dir, rel); /* the parents */
	assert_int_equal(system(p), 0);
	snprintf(p, sizeof p, "%s/%s", dir, rel);
	assert_non_null(f = fopen(p, "w"));
	fputs(text, f);
	fclose(f);
}

/* Drivers load for a device that is there: modalias against modules.alias's globs, bus by bus, in rounds. */
static void alias_match(void **state)
{
	char dir[] = "/tmp/kiln-sys.XXXXXX", p[300];
	char *drivers[] = {"virtio_pci", "virtio_net", "sd_mod", "ahci", "e1000e"};
	unsigned char want[5] = {0};
	const char *alias = "# a comment\n"
			    "alias pci:v00001AF4d*sv*sd*bc*sc*i* virtio_pci\n"
			    "alias virtio:d00000001v* virtio_net\n"
			    "alias scsi:t-0x00* sd_mod\n"
			    "alias pci:v*d*sv*sd*bc01sc06i01* ahci\n"
			    "alias pci:v00008086d000010D3sv*sd*bc*sc*i* e1000e\n"
			    "alias pci:v00001AF4d*sv*sd*bc*sc*i* not_a_driver_of_the_image\n"
			    "alias pci:v00001AF4d* \n"
			    "alias nocolon e1000e\n";
	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(drivers_wanted(dir, alias, drivers, 5, want), 0); /* no bus at all */
	put(dir, "bus/pci/devices/0000:00:02.0/modalias", "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00\n");
	put(dir, "bus/pci/devices/0000:00:00.0/vendor", "0x8086\n"); /* no modalias */
	put(dir, "bus/scsi/devices/0:0:0:0/modalias", "scsi:t-0x00\n");
	put(dir, "bus/scsi/devices/host0/uevent", "");
	snprintf(p, sizeof p, "mkdir -p %s/bus/virtio/devices", dir);
	assert_int_equal(system(p), 0);
	assert_int_equal(drivers_wanted(dir, alias, drivers, 5, want), 2);
	assert_int_equal(want[0], 1);
	assert_int_equal(want[1], 0);
	assert_int_equal(want[2], 1);
	assert_int_equal(want[3], 0); /* class 02 (network), not 0106 (AHCI) */
	assert_int_equal(want[4], 0);
	/* virtio_pci loaded: its devices come on the virtio bus, wanting virtio_net; nothing is marked twice. */
	put(dir, "bus/virtio/devices/virtio0/modalias", "virtio:d00000001v00001AF4\n");
	assert_int_equal(drivers_wanted(dir, alias, drivers, 5, want), 1);
	assert_int_equal(want[1], 1);
	assert_int_equal(drivers_wanted(dir, alias, drivers, 5, want), 0);
	/* A SATA controller (class 0106, AHCI interface 01) on another vendor's device. */
	put(dir, "bus/pci/devices/0000:00:1f.2/modalias", "pci:v00001B21d00000612sv00001B21sd00001060bc01sc06i01");
	assert_int_equal(drivers_wanted(dir, alias, drivers, 5, want), 1);
	assert_int_equal(want[3], 1);
	assert_int_equal(want[4], 0);
	assert_int_equal(drivers_wanted(dir, NULL, drivers, 5, want), 0); /* no modules.alias */
	snprintf(p, sizeof p, "rm -rf %s", dir);
	assert_int_equal(system(p), 0);
}

static long fsize(const char *p)
{
	struct stat st;
	return stat(p, &st) ? -1 : (long)st.st_size;
}

static void log_rotation(void **state)
{
	char dir[] = "/tmp/kiln-log.XXXXXX", p[256], line[100];
	struct logfile l;
	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(logfile_open(&l, dir, "svc", 1000, 2), 0);
	memset(line, 'x', 99);
	line[99] = '\n';
	for (int i = 0; i < 35; i++) /* 3500 bytes through a 1000-byte cap */
		assert_int_equal(logfile_write(&l, line, 100), 0);
	logfile_close(&l);
	snprintf(p, sizeof p, "%s/svc.log", dir);
	assert_int_equal(fsize(p), 500);
	snprintf(p, sizeof p, "%s/svc.log.1", dir);
	assert_int_equal(fsize(p), 1000);
	snprintf(p, sizeof p, "%s/svc.log.2", dir);
	assert_int_equal(fsize(p), 1000);
	snprintf(p, sizeof p, "%s/svc.log.3", dir);
	assert_int_equal(fsize(p), -1); /* only log_keep rotated files */
	/* reopening appends to what is there */
	assert_int_equal(logfile_open(&l, dir, "svc", 1000, 2), 0);
	assert_int_equal(l.size, 500);
	logfile_close(&l);
	for (const char *f = "svc.log\0svc.log.1\0svc.log.2\0"; *f; f += strlen(f) + 1) {
		snprintf(p, sizeof p, "%s/%s", dir, f);
		unlink(p);
	}
	rmdir(dir);
}

/* A node's network file routes to every other node's pod subnet: hundreds of lines for a large cluster. */
/* poll_until: asks until yes (the third call here), or gives up after the wait, having asked at least once. */
static int third_time(void *arg)
{
	return ++*(int *)arg >= 3;
}

static int never(void *arg)
{
	++*(int *)arg;
	return 0;
}

static void polling(void **state)
{
	int calls = 0;
	int64_t t0;
	(void)state;
	assert_int_equal(poll_until(third_time, &calls, 2000, 1), 1);
	assert_int_equal(calls, 3);
	calls = 0;
	t0 = now_ms();
	assert_int_equal(poll_until(never, &calls, 50, 10), 0);
	assert_true(now_ms() - t0 >= 50 && now_ms() - t0 < 1000);
	assert_true(calls >= 2 && calls <= 7);
	calls = 0;
	assert_int_equal(poll_until(never, &calls, 0, 10), 0); /* no wait: asked once */
	assert_int_equal(calls, 1);
}

static void network_file_many_routes(void **state)
{
	static struct netconf nc;
	char *text = malloc(300 * 48), *p = text;
	(void)state;
	p += sprintf(p, "address 192.168.0.21/24 mac 52:54:00:00:00:21\n");
	for (int i = 1; i < 300; i++)
		p += sprintf(p, "route 10.%d.%d.0/24 via 192.168.%d.%d\n", 200 + i / 256, i % 256, i / 250, 1 + i % 250);
	assert_int_equal(netconf_parse(text, &nc, err, sizeof err), 0);
	assert_int_equal(nc.nroutes, 299);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cmdline),
		cmocka_unit_test(network_file),
		cmocka_unit_test(network_file_many_routes),
		cmocka_unit_test(kernel_ip),
		cmocka_unit_test(blank_region),
		cmocka_unit_test(data_mbr),
		cmocka_unit_test(modules_order), cmocka_unit_test(modules_cycles), cmocka_unit_test(late_disks), cmocka_unit_test(alias_match),
		cmocka_unit_test(log_rotation), cmocka_unit_test(polling),
	};
	return cmocka_run_group_tests_name("boot", tests, NULL, NULL);
}
