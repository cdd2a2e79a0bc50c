/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef BASE_ERROR_H
#define BASE_ERROR_H

#include <glib.h>

/*
 * Library code returns a negative errno and, through GError, the sentence a
 * user reads. The GError code is the positive errno.
 */
#define MODVMM_ERROR (modvmm_error_quark())
GQuark modvmm_error_quark(void);

/* Sets *error (if error is not NULL) and returns -errnum. */
int error_setf(GError **error, int errnum, const char *fmt, ...)
	G_GNUC_PRINTF(3, 4);

#endif
