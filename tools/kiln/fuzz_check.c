/* fuzz_check.c: libFuzzer target for the parser and validator (`kiln check` without the file): any input
 * must end in "valid" or "errors reported", never a crash, a leak or undefined behaviour. */
#include "kilntool.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct cluster c;
	struct diag d = {.file = "fuzz", .out = NULL};
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (cluster_load(text, size, &c, &d) == 0) {
		/* a valid cluster must also derive and print without trouble */
		char *env = cluster_env(&c);
		free(env);
	}
	cluster_free(&c);
	free(text);
	return 0;
}
