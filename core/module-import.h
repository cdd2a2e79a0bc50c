/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CORE_MODULE_IMPORT_H
#define CORE_MODULE_IMPORT_H

#include <glib.h>

#include <modvmm/module.h>

#include "loader-types.h"

/*
 * Imports the descriptor a module's entry point returned into m->desc and
 * its device types into m->types, checking each against the bounds, the
 * struct-size rule and the metadata in m->info. Nothing of the module's
 * memory is kept but through these copies; on error m->types may hold the
 * types imported so far, for the caller to free with the module.
 */
int descriptor_import(struct module *m, const struct modvmm_module *src,
		      GError **error);

/* Frees an imported device type (a struct device_type *); the free
 * function of a module's `types`. */
void device_type_free(gpointer p);

#endif
