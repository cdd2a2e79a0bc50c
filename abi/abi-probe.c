// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Not shipped. Its only job is to carry every public ABI type in its debug
 * info, reachable from one exported function, so that abidiff can compare
 * the SDK against abi/baseline/.
 */
#include <modvmm/module.h>

MODVMM_EXPORT void modvmm_abi_probe(const struct modvmm_module *module,
				    const struct modvmm_host *host,
				    const struct modvmm_device_type *type,
				    const struct modvmm_property *property,
				    const struct modvmm_region *region,
				    modvmm_module_init_fn entry);

MODVMM_EXPORT void modvmm_abi_probe(const struct modvmm_module *module,
				    const struct modvmm_host *host,
				    const struct modvmm_device_type *type,
				    const struct modvmm_property *property,
				    const struct modvmm_region *region,
				    modvmm_module_init_fn entry)
{
	(void)module;
	(void)host;
	(void)type;
	(void)property;
	(void)region;
	(void)entry;
}
