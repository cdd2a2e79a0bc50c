/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CORE_COMPAT_CLI_H
#define CORE_COMPAT_CLI_H

/* modvmm compat SUBCOMMAND ...: argv[0] is "compat". */
int cmd_compat(int argc, char **argv);

#endif
