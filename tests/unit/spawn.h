/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef TESTS_SPAWN_H
#define TESTS_SPAWN_H

/*
 * Running the front ends as a user does, for tests: the program comes from
 * an environment variable meson sets (MODVMM, MODVMM_MODINFO, ...), and
 * its output and exit status are kept.
 */
#include <sys/wait.h>

#include <check.h>
#include <glib.h>

struct run {
	char *out;
	char *err;
	int status;
};

/* Runs $env with the NULL-terminated `args`. */
static inline struct run run_env_argv(const char *env, const char *const *args)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	struct run r = { 0 };
	GError *error = NULL;
	int wait;

	g_ptr_array_add(argv, (gpointer)g_getenv(env));
	ck_assert_msg(argv->pdata[0], "%s is not set", env);
	for (; *args; args++)
		g_ptr_array_add(argv, (gpointer)*args);
	g_ptr_array_add(argv, NULL);
	if (!g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_DEFAULT,
			  NULL, NULL, &r.out, &r.err, &wait, &error))
		ck_abort_msg("spawn: %s", error->message);
	ck_assert(WIFEXITED(wait));
	r.status = WEXITSTATUS(wait);
	return r;
}

static inline void run_clear(struct run *r)
{
	g_free(r->out);
	g_free(r->err);
}

/* A test's own directory (g_dir_make_tmp's template), and its removal. */
static inline char *scratch_new(const char *template)
{
	char *dir = g_dir_make_tmp(template, NULL);

	ck_assert_ptr_nonnull(dir);
	return dir;
}

static inline void scratch_remove(char *dir)
{
	g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);

	ck_assert_int_eq(system(cmd), 0);
	g_free(dir);
}

#endif
