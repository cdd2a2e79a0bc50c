// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * base/error.c - the one error idiom: a negative errno returned, and the
 * sentence for the user in a GError of the modvmm domain (base/error.h).
 */
#include <errno.h>

#include "base/error.h"

G_DEFINE_QUARK(modvmm - error - quark, modvmm_error)

int error_setf(GError **error, int errnum, const char *fmt, ...)
{
	va_list ap;

	if (errnum <= 0)
		errnum = EINVAL;
	if (error) {
		va_start(ap, fmt);
		*error = g_error_new_valist(MODVMM_ERROR, errnum, fmt, ap);
		va_end(ap);
	}
	return -errnum;
}
