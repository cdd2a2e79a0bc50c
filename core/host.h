/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CORE_HOST_H
#define CORE_HOST_H

#include <modvmm/host.h>

/* The table every module gets; one for the whole process. */
const struct modvmm_host *host_services(void);

#endif
