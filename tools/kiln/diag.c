/* diag.c: errors and warnings as `FILE:LINE: reason`, the form editors and CI logs jump to. */
#include "kilntool.h"

#include <stdarg.h>

static void report(struct diag *d, int line, const char *kind, const char *fmt, va_list ap)
{
	if (!d->out)
		return;
	if (line > 0)
		fprintf(d->out, "%s:%d: %s", d->file, line, kind);
	else
		fprintf(d->out, "%s: %s", d->file, kind);
	vfprintf(d->out, fmt, ap);
	fputc('\n', d->out);
}

void diag_error(struct diag *d, int line, const char *fmt, ...)
{
	va_list ap;
	d->errors++;
	va_start(ap, fmt);
	report(d, line, "", fmt, ap);
	va_end(ap);
}

void diag_warn(struct diag *d, int line, const char *fmt, ...)
{
	va_list ap;
	d->warnings++;
	va_start(ap, fmt);
	report(d, line, "warning: ", fmt, ap);
	va_end(ap);
}
