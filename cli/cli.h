/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CLI_CLI_H
#define CLI_CLI_H

#include <stdint.h>

#include <glib.h>

/*
 * What the commands of modvmm share: the exit statuses every command
 * uses, how an error and a device's message are printed, and the device
 * options of `run` and `modules`. One command per file (cli/run.c ...),
 * each `argv[0]` its own name; cli/main.c holds the table of them.
 */

#define STATUS_OK 0
#define STATUS_FAILED 1 /* the command did not do what it was asked */
#define STATUS_USAGE 2	/* bad options or input */

int cmd_run(int argc, char **argv);
int cmd_modules(int argc, char **argv);
int cmd_machines(int argc, char **argv);
int cmd_compat(int argc, char **argv);
int cmd_ctl(int argc, char **argv);

/* --device (repeatable), --json and --verbose, as run and modules take. */
extern char **cli_devices;
extern gboolean cli_json;
extern gboolean cli_verbose;
extern const GOptionEntry cli_device_options[];

/*
 * 0 when `name` (NULL: the default) is a machine type of this build, even
 * a removed one (that is refused when the guest is made, with the type to
 * use instead); -1, said, when it is unknown: a usage error in every
 * command, since no host of this build would take it.
 */
int cli_check_machine(const char *name);

/* "modvmm: MESSAGE" on standard error. */
void print_error(const GError *err);

/* The same for a line of the library's (struct vm_config's tell). */
void print_line(void *opaque, const char *line);

/* Device messages: warnings and errors always, the rest with --verbose. */
void print_device_log(void *opaque, const char *id, uint32_t level,
		      const char *msg);

#endif
