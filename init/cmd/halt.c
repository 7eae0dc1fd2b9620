/* kiln-halt: stops a machine that must run nothing (PID 1 of the PXE default entry for an unknown MAC): flushes
 * what is written and halts the CPU with reboot(2). Built static with musl, like the init. */
#include <stdio.h>
#include <sys/reboot.h>
#include <unistd.h>

int main(void)
{
	sync();
	reboot(RB_HALT_SYSTEM);
	perror("kiln-halt: reboot(RB_HALT_SYSTEM)"); /* only PID 1, or CAP_SYS_BOOT, may halt */
	return 1;
}
