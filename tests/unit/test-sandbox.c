// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The system call filters of core/sandbox.c, each tried in a child
 * process: what a kind of thread needs passes, what it must not do ends
 * the process with a report that names the call and the kind.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "check-tap.h"
#include "core/sandbox.h"

struct outcome {
	int status; /* exit status, or 128 + signal */
	char *err;  /* what the child wrote to stderr */
};

/* Runs fn in a child that entered `kind` in `mode`. */
static struct outcome in_child(enum sandbox_mode mode, enum sandbox_kind kind,
			       void (*fn)(void))
{
	struct outcome o = { 0 };
	GString *err = g_string_new(NULL);
	char buf[512];
	int pipefd[2], wstatus;
	ssize_t n;
	pid_t pid;

	ck_assert_int_eq(pipe(pipefd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		g_autoptr(GError) e = NULL;

		dup2(pipefd[1], STDERR_FILENO);
		if (sandbox_setup(mode, &e) < 0 ||
		    sandbox_enter(kind, &e) < 0) {
			dprintf(STDERR_FILENO, "%s\n", e->message);
			_exit(2);
		}
		fn();
		_exit(0);
	}
	close(pipefd[1]);
	while ((n = read(pipefd[0], buf, sizeof(buf))) > 0)
		g_string_append_len(err, buf, n);
	close(pipefd[0]);
	ck_assert_int_eq(waitpid(pid, &wstatus, 0), pid);
	o.status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus)
				      : 128 + WTERMSIG(wstatus);
	o.err = g_string_free(err, FALSE);
	return o;
}

static void assert_refused(struct outcome o, const char *call, int nr,
			   const char *kind)
{
	g_autofree char *want = g_strdup_printf(
		"modvmm: seccomp: system call %s (%d) refused in a thread of "
		"kind %s; ending the process (docs/security.md lists each "
		"kind's calls; --seccomp=log lets it through)\n",
		call, nr, kind);

	ck_assert_int_eq(o.status, SANDBOX_EXIT_STATUS);
	ck_assert_str_eq(o.err, want);
	g_free(o.err);
}

static void assert_ran(struct outcome o)
{
	ck_assert_msg(o.status == 0, "status %d: %s", o.status, o.err);
	ck_assert_str_eq(o.err, "");
	g_free(o.err);
}

/* What every kind does: allocate, lock, write, read the clock. */
static void everyday(void)
{
	g_autofree char *big = g_malloc(64 << 20); /* an mmap of its own */
	struct timespec ts;
	uint64_t one = 1;
	GMutex lock;
	int fd;

	big[0] = 1;
	g_mutex_init(&lock);
	g_mutex_lock(&lock);
	g_mutex_unlock(&lock);
	g_mutex_clear(&lock);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	fd = eventfd(0, 0);
	if (fd < 0 || write(fd, &one, sizeof(one)) != sizeof(one))
		_exit(3);
	close(fd);
}

/* A library's warning must not end the process: GLib's log writer. */
static void glib_warning(void)
{
	g_warning("a warning from a filtered thread");
}

static void open_file(void)
{
	int fd = open("/dev/null", O_RDONLY);

	if (fd < 0)
		_exit(4);
	close(fd);
}

static void make_socket(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	if (fd < 0)
		_exit(4);
	close(fd);
}

static void map_executable(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		_exit(4);
}

static void make_directory(void)
{
	g_autofree char *dir = g_strdup("/tmp/modvmm-sandbox-XXXXXX");

	if (!g_mkdtemp(dir))
		_exit(4);
	rmdir(dir);
}

static void terminal_ioctl(void)
{
	struct termios t;

	/* Not a terminal: ENOTTY, but the call itself went through. */
	if (ioctl(STDERR_FILENO, TCGETS, &t) == 0 || errno != ENOTTY)
		_exit(4);
}

static void terminal_input(void)
{
	char c = 'x';

	/* Typing into the terminal of whoever started modvmm. */
	ioctl(STDERR_FILENO, TIOCSTI, &c);
	_exit(4);
}

static void kvm_ioctl_elsewhere(void)
{
	int fd = eventfd(0, 0);

	/* KVM_GET_API_VERSION on something that is not KVM: ENOTTY. */
	if (fd < 0 || ioctl(fd, 0xae00, 0) == 0 || errno != ENOTTY)
		_exit(4);
}

static void start_process(void)
{
	/* Through clone without CLONE_THREAD, as fork() does. */
	pid_t pid = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);

	if (pid == 0)
		_exit(0);
	if (pid < 0 || waitpid(pid, NULL, 0) != pid)
		_exit(4);
}

static void run_program(void)
{
	char *const argv[] = { (char *)"true", NULL };

	execve("/bin/true", argv, NULL);
	_exit(4);
}

static void clone3_is_enosys(void)
{
	if (syscall(SYS_clone3, NULL, 0) != -1 || errno != ENOSYS)
		_exit(4);
}

static void signal_other_process(void)
{
	syscall(SYS_tgkill, 1, 1, 0);
	_exit(4);
}

static void *vcpu_makes_directory(void *arg)
{
	(void)arg;
	sandbox_enter_or_die(SANDBOX_VCPU);
	make_directory();
	return NULL;
}

/* A thread made by a filtered main thread has both filters. */
static void thread_of_main(void)
{
	pthread_t t;

	if (pthread_create(&t, NULL, vcpu_makes_directory, NULL))
		_exit(4);
	pthread_join(t, NULL);
}

static void seccomp_status_is(const char *want)
{
	g_autofree char *status = NULL;

	if (!g_file_get_contents("/proc/self/status", &status, NULL, NULL) ||
	    !strstr(status, want))
		_exit(5);
}

static void filtered(void)
{
	seccomp_status_is("\nSeccomp:\t2\n");
}

static void unfiltered(void)
{
	seccomp_status_is("\nSeccomp:\t0\n");
}

START_TEST(modes_parse)
{
	g_autoptr(GError) err = NULL;
	enum sandbox_mode m;

	ck_assert_int_eq(sandbox_parse_mode("enforce", &m, NULL), 0);
	ck_assert_int_eq(m, SANDBOX_ENFORCE);
	ck_assert_int_eq(sandbox_parse_mode("log", &m, NULL), 0);
	ck_assert_int_eq(m, SANDBOX_LOG);
	ck_assert_int_eq(sandbox_parse_mode("off", &m, NULL), 0);
	ck_assert_int_eq(m, SANDBOX_OFF);
	ck_assert_int_eq(sandbox_parse_mode("strict", &m, &err), -EINVAL);
	ck_assert_error(err, "--seccomp=strict: expected enforce, log or off");
}
END_TEST

START_TEST(every_kind_runs_everyday_work)
{
	for (int k = 0; k < SANDBOX_N_KINDS; k++)
		assert_ran(in_child(SANDBOX_ENFORCE, k, everyday));
}
END_TEST

START_TEST(every_kind_can_log_a_warning)
{
	for (int k = 0; k < SANDBOX_N_KINDS; k++) {
		struct outcome o = in_child(SANDBOX_ENFORCE, k, glib_warning);

		ck_assert_msg(o.status == 0, "kind %s: status %d: %s",
			      sandbox_kind_name(k), o.status, o.err);
		ck_assert_ptr_nonnull(
			strstr(o.err, "a warning from a filtered thread"));
		g_free(o.err);
	}
}
END_TEST

START_TEST(vcpu_cannot_open_or_map_code)
{
	assert_refused(in_child(SANDBOX_ENFORCE, SANDBOX_VCPU, make_socket),
		       "socket", SYS_socket, "vcpu");
	assert_refused(in_child(SANDBOX_ENFORCE, SANDBOX_VCPU, map_executable),
		       "mmap", SYS_mmap, "vcpu");
	assert_refused(in_child(SANDBOX_ENFORCE, SANDBOX_VCPU, make_directory),
		       "mkdir", SYS_mkdir, "vcpu");
	assert_ran(in_child(SANDBOX_ENFORCE, SANDBOX_VCPU, terminal_ioctl));
	assert_ran(
		in_child(SANDBOX_ENFORCE, SANDBOX_VCPU, kvm_ioctl_elsewhere));
}
END_TEST

START_TEST(io_and_migration_lists)
{
	assert_refused(in_child(SANDBOX_ENFORCE, SANDBOX_IO, make_socket),
		       "socket", SYS_socket, "io");
	assert_refused(in_child(SANDBOX_ENFORCE, SANDBOX_IO, map_executable),
		       "mmap", SYS_mmap, "io");
	assert_ran(in_child(SANDBOX_ENFORCE, SANDBOX_MIGRATION, make_socket));
	assert_refused(
		in_child(SANDBOX_ENFORCE, SANDBOX_MIGRATION, make_directory),
		"mkdir", SYS_mkdir, "migration");
}
END_TEST

START_TEST(main_loads_modules_but_starts_no_process)
{
	assert_ran(in_child(SANDBOX_ENFORCE, SANDBOX_MAIN, open_file));
	assert_ran(in_child(SANDBOX_ENFORCE, SANDBOX_MAIN, map_executable));
	assert_ran(in_child(SANDBOX_ENFORCE, SANDBOX_MAIN, terminal_ioctl));
	assert_refused(in_child(SANDBOX_ENFORCE, SANDBOX_MAIN, terminal_input),
		       "ioctl", SYS_ioctl, "main");
	assert_ran(in_child(SANDBOX_ENFORCE, SANDBOX_MAIN, clone3_is_enosys));
	assert_refused(in_child(SANDBOX_ENFORCE, SANDBOX_MAIN, run_program),
		       "execve", SYS_execve, "main");
#ifdef ASAN_BUILD /* LeakSanitizer's tracer is such a process */
	assert_ran(in_child(SANDBOX_ENFORCE, SANDBOX_MAIN, start_process));
#else
	assert_refused(in_child(SANDBOX_ENFORCE, SANDBOX_MAIN, start_process),
		       "clone", SYS_clone, "main");
#endif
	assert_refused(
		in_child(SANDBOX_ENFORCE, SANDBOX_MAIN, signal_other_process),
		"tgkill", SYS_tgkill, "main");
}
END_TEST

/* What getaddrinfo() does for tcp:localhost and for a DNS name. */
static void resolve_names(void)
{
	static const char *const names[] = { "localhost",
					     "nonexistent.invalid" };
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;

	for (size_t i = 0; i < G_N_ELEMENTS(names); i++)
		if (!getaddrinfo(names[i], "4444", &hints, &ai))
			freeaddrinfo(ai);
}

/* A call no list has, made by a name lookup's NSS module. */
static void refused_in_lookup(void)
{
	long r;

	sandbox_lookup_begin();
	r = syscall(SYS_execve, "/bin/true", NULL, NULL);
	sandbox_lookup_end();
	if (r != -1 || errno != ENOSYS)
		_exit(5);
	/* Once the lookup is over, the same call ends the process. */
	syscall(SYS_execve, "/bin/true", NULL, NULL);
}

START_TEST(main_resolves_host_names)
{
	assert_ran(in_child(SANDBOX_ENFORCE, SANDBOX_MAIN, resolve_names));
}
END_TEST

START_TEST(refused_call_in_a_lookup_fails_it)
{
	struct outcome o =
		in_child(SANDBOX_ENFORCE, SANDBOX_MAIN, refused_in_lookup);
	g_autofree char *want = g_strdup_printf(
		"modvmm: seccomp: system call execve (%d) refused in a thread "
		"of kind main during a name lookup; the call fails with "
		"ENOSYS\n"
		"modvmm: seccomp: system call execve (%d) refused in a thread "
		"of kind main; ending the process (docs/security.md lists "
		"each kind's calls; --seccomp=log lets it through)\n",
		SYS_execve, SYS_execve);

	ck_assert_int_eq(o.status, SANDBOX_EXIT_STATUS);
	ck_assert_str_eq(o.err, want);
	g_free(o.err);
}
END_TEST

START_TEST(thread_of_main_has_both_filters)
{
	assert_refused(in_child(SANDBOX_ENFORCE, SANDBOX_MAIN, thread_of_main),
		       "mkdir", SYS_mkdir, "vcpu");
}
END_TEST

START_TEST(log_mode_lets_calls_through)
{
	assert_ran(in_child(SANDBOX_LOG, SANDBOX_VCPU, make_socket));
	assert_ran(in_child(SANDBOX_LOG, SANDBOX_VCPU, filtered));
	assert_ran(in_child(SANDBOX_ENFORCE, SANDBOX_MAIN, filtered));
}
END_TEST

START_TEST(off_mode_installs_nothing)
{
	assert_ran(in_child(SANDBOX_OFF, SANDBOX_VCPU, unfiltered));
	assert_ran(in_child(SANDBOX_OFF, SANDBOX_VCPU, make_socket));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sandbox");
	TCase *tc = tcase_create("sandbox");

	tcase_add_test(tc, modes_parse);
	tcase_add_test(tc, every_kind_runs_everyday_work);
	tcase_add_test(tc, every_kind_can_log_a_warning);
	tcase_add_test(tc, vcpu_cannot_open_or_map_code);
	tcase_add_test(tc, io_and_migration_lists);
	tcase_add_test(tc, main_loads_modules_but_starts_no_process);
	tcase_add_test(tc, main_resolves_host_names);
	tcase_add_test(tc, refused_call_in_a_lookup_fails_it);
	tcase_add_test(tc, thread_of_main_has_both_filters);
	tcase_add_test(tc, log_mode_lets_calls_through);
	tcase_add_test(tc, off_mode_installs_nothing);
	suite_add_tcase(s, tc);
	return check_run(s);
}
