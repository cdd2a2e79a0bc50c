/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CORE_CTL_CLI_H
#define CORE_CTL_CLI_H

/* modvmm ctl SOCKET COMMAND [KEY=VALUE...]: argv[0] is "ctl". */
int cmd_ctl(int argc, char **argv);

#endif
