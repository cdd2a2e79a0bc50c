// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * modvmm run --config FILE, as a user runs it: every refusal names
 * FILE:key, the command line overrides the file, and the example file of
 * systemd/ is one modvmm reads. Each case stops before KVM (a usage error,
 * exit status 2); the control suite starts a guest from a file.
 */
#include <string.h>

#include "check-tap.h"
#include "spawn.h"

#define run(env, ...) run_env_argv(env, (const char *const[]){ __VA_ARGS__ })

/* The CPU model no host has: the check that ends a run that parsed. */
#define NO_CPU "--cpu=no-such-cpu"
#define NO_CPU_ERR "modvmm: --cpu no-such-cpu: unknown CPU model"

static const struct {
	const char *text;     /* the file */
	const char *extra[3]; /* more arguments, NULL-terminated */
	const char *err;      /* the start of stderr; @ is the file's path */
	int whole;	      /* err is the whole of stderr */
} cases[] = {
	/* Keys, groups and values. */
	{ "[run]\nmemroy=1G\n",
	  { NULL },
	  "modvmm: @:memroy: unknown key: did you mean memory? (known: "
	  "append, control, ",
	  0 },
	{ "[run]\nfrobnicate=1\n",
	  { NULL },
	  "modvmm: @:frobnicate: unknown key (known: append, control, ",
	  0 },
	{ "[run]\ncpus=2\n[disk]\nfile=a\n",
	  { NULL },
	  "modvmm: @: [disk]: unknown group (the options are in [run])\n",
	  1 },
	{ "# nothing yet\n",
	  { NULL },
	  "modvmm: @: no [run] group: the options go in it\n",
	  1 },
	{ "[run]\ncpus=two\n",
	  { NULL },
	  "modvmm: @:cpus: 'two' is not a whole number\n",
	  1 },
	{ "[run]\ncpus=99999999999\n",
	  { NULL },
	  "modvmm: @:cpus: '99999999999' is not a whole number\n",
	  1 },
	{ "[run]\npaused=yes\n",
	  { NULL },
	  "modvmm: @:paused: 'yes' is not true or false\n",
	  1 },
	{ "[run]\nkernel=\n", { NULL }, "modvmm: @:kernel: no value\n", 1 },
	{ "[run]\nconfig=other.conf\n",
	  { NULL },
	  "modvmm: @:config: a file cannot name another (give --config on "
	  "the command line)\n",
	  1 },
	{ "memory=1G\n", { NULL }, "modvmm: @: ", 0 },
	/* The machine type from the file is checked as the option is. */
	{ "[run]\nmachine=microvm-0.1\n",
	  { NULL },
	  "modvmm: unknown machine type 'microvm-0.1' (known: ",
	  0 },
	/* A value the run refuses names the line it came from... */
	{ "[run]\nmemory=lots\n",
	  { NULL },
	  "modvmm: @:memory: --memory lots: ",
	  0 },
	{ "[run]\npaused=true\n",
	  { NULL },
	  "modvmm: @:paused: --paused needs --control (nothing else could "
	  "resume the guest)\n",
	  1 },
	/* ...and one from the command line does not. */
	{ "[run]\ncpus=2\n",
	  { "--memory=lots" },
	  "modvmm: --memory lots: ",
	  0 },
	/* The command line overrides, in either spelling... */
	{ "[run]\nmemory=lots\n", { "-m", "64M" }, NO_CPU_ERR, 0 },
	{ "[run]\nmemory=lots\n", { "--memory=64M" }, NO_CPU_ERR, 0 },
	/* ...but a value of the wrong type is wrong even when overridden. */
	{ "[run]\ncpus=two\n",
	  { "--cpus=1" },
	  "modvmm: @:cpus: 'two' is not a whole number\n",
	  1 },
	/* What the command line gives is read as GOption reads it. */
	{ "[run]\nmemory=lots\n",
	  { "--append", "--memory=64M" },
	  "modvmm: @:memory: --memory lots: ",
	  0 },
	/* Every type of option: strings, lists, numbers, flags. */
	{ "[run]\nmemory=64M\ncpus=2\nappend=count=1\ndevice=pvpanic;"
	  "debug-exit\nmodule-dir=/a;/b\nno-defaults=true\ndowntime-ms=50\n"
	  "control=/nonexistent/c.sock\npaused=false\n",
	  { NULL },
	  NO_CPU_ERR,
	  0 },
};

START_TEST(test_config_file_refusals_name_file_and_key)
{
	g_autofree char *dir = scratch_new("config-XXXXXX");
	g_autofree char *path = g_build_filename(dir, "guest.conf", NULL);
	g_auto(GStrv) parts = g_strsplit(cases[_i].err, "@", -1);
	g_autofree char *want = g_strjoinv(path, parts);
	const char *argv[8] = { "run", "--config", path };
	size_t n = 3;
	struct run r;

	for (size_t i = 0; cases[_i].extra[i]; i++)
		argv[n++] = cases[_i].extra[i];
	argv[n] = NO_CPU;
	ck_assert(g_file_set_contents(path, cases[_i].text, -1, NULL));
	r = run_env_argv("MODVMM", argv);
	ck_assert_int_eq(r.status, 2);
	ck_assert_str_eq(r.out, "");
	if (cases[_i].whole)
		ck_assert_str_eq(r.err, want);
	else
		ck_assert_msg(g_str_has_prefix(r.err, want), "stderr: %s",
			      r.err);
	run_clear(&r);
	scratch_remove(g_steal_pointer(&dir));
}
END_TEST

START_TEST(test_config_file_missing)
{
	struct run r =
		run("MODVMM", "run", "--config", "/nonexistent/a.conf", NULL);

	ck_assert_int_eq(r.status, 2);
	ck_assert_str_eq(r.err, "modvmm: --config /nonexistent/a.conf: No "
				"such file or directory\n");
	run_clear(&r);
}
END_TEST

/* The example of the user guide and systemd/: every key is one modvmm
 * knows, with a value of its type (the run ends at the CPU check). */
START_TEST(test_config_file_example_reads)
{
	g_autofree char *path = g_build_filename(
		g_getenv("SOURCE_ROOT"), "systemd", "example.conf", NULL);
	struct run r = run("MODVMM", "run", "--config", path, NO_CPU, NULL);

	ck_assert_int_eq(r.status, 2);
	ck_assert_msg(g_str_has_prefix(r.err, NO_CPU_ERR), "stderr: %s", r.err);
	run_clear(&r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("config-file");
	TCase *tc = tcase_create("config-file");

	tcase_add_loop_test(tc, test_config_file_refusals_name_file_and_key, 0,
			    G_N_ELEMENTS(cases));
	tcase_add_test(tc, test_config_file_missing);
	tcase_add_test(tc, test_config_file_example_reads);
	suite_add_tcase(s, tc);
	return check_run(s);
}
