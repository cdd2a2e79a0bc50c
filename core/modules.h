/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CORE_MODULES_H
#define CORE_MODULES_H

#include <glib.h>

#include <stdint.h>

struct vm_devices;

struct cpu_model;
struct manifest;

/*
 * What a refused module means to the one opening the modules. A host
 * that starts or takes a guest refuses to with any module refused;
 * commands that list or decode go on with the rest.
 */
enum modules_policy {
	MODULES_ALL,  /* any refusal fails modules_open(): nothing stays */
	MODULES_EACH, /* each refusal is reported; the rest load */
};

/*
 * How a VM's module world is opened: the one way every command, tool and
 * benchmark does it, so that each takes the same options and the same
 * trust rules apply to all.
 */
struct modules_config {
	char **dirs;	     /* NULL-terminated; none: MODVMM_MODULE_DIR */
	char **files;	     /* NULL-terminated; loaded after the dirs' */
	int no_default_dir;  /* with no dirs, no directory: `files` alone */
	char *allowlist;     /* sha256sum output, or NULL for none */
	enum modules_policy policy;
	/* Module code's log, while loading and after (devices' messages). */
	void (*log)(void *opaque, const char *id, uint32_t level,
		    const char *msg);
	void *log_opaque;
};

/* The directory modules load from when none is given. */
const char *modules_default_dir(void);

/*
 * The options --module-dir DIR (repeatable) and --module-allowlist FILE,
 * parsed into `cfg`: a NULL-terminated GOptionEntry array for a front
 * end's option context. One set per process: a second call rebinds it.
 */
const GOptionEntry *modules_options(struct modules_config *cfg);

/*
 * A new device world with the modules of `cfg` loaded, in each directory
 * in name order and then `files`. A bad allowlist is an error before
 * anything loads. Each refused module is appended to `errors` (GError *),
 * which may be NULL; under MODULES_ALL a refusal is also the error
 * returned (the first one, saying if there are more), and nothing stays.
 */
int modules_open(const struct modules_config *cfg, struct vm_devices **ret,
		 GPtrArray *errors, GError **error);

/* Frees what modules_open() made: devices, then modules. */
void modules_close(struct vm_devices *devs);

/* Creates a device from a --device spec (TYPE[,id=ID][,PROP=VALUE...]). */
int modules_device_add(struct vm_devices *devs, const char *spec,
		       GError **error);

/*
 * What `devs` holds, as `modvmm modules` lists it: the host's ABI, each
 * module (name, version, ABI, in-tree or not, its device types, its
 * file), then each device. As lines of text (each ending in a newline),
 * or as one pretty-printed JSON object (no newline at the end).
 */
char *modules_to_text(struct vm_devices *devs);
char *modules_to_json(struct vm_devices *devs);

/*
 * This host's inventory: the device types of the modules `devs` holds,
 * this build's machine types, and the CPU it offers (`cpu`, copied; NULL:
 * none listed).
 */
struct manifest *modules_inventory(struct vm_devices *devs,
				   const struct cpu_model *cpu);

#endif
