// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/sandbox.c - one system call allowlist per kind of thread.
 *
 * Each thread installs its kind's filter when it starts (sandbox_enter);
 * the main thread installs its own after set-up, before the guest runs.
 * A thread inherits its creator's filter, and the kernel runs both, so a
 * thread may do only what both lists allow: every list below is a subset
 * of main's. Only main's list has what dlopen() needs (files, executable
 * mappings), so only the main and control threads can load modules.
 *
 * A refused call raises SIGSYS in the thread that made it; the handler
 * names the call and the thread's kind, then ends the process. docs/
 * security.md lists every call and why each kind needs it.
 */
#define _GNU_SOURCE /* REG_RAX */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/error.h"
#include "sandbox.h"

#define K_MAIN (1u << SANDBOX_MAIN)
#define K_MIG (1u << SANDBOX_MIGRATION)
#define K_VCPU (1u << SANDBOX_VCPU)
#define K_IO (1u << SANDBOX_IO)
#define K_ALL (K_MAIN | K_MIG | K_VCPU | K_IO)
#define K_NOT_MAIN (K_MIG | K_VCPU | K_IO)

/* Argument conditions a row may carry. */
enum cond {
	ANY,
	NO_EXEC,   /* mmap, mprotect: arg 2 has no PROT_EXEC */
	KVM_IOCTL, /* ioctl: a KVM request (type 0xAE) */
	IOCTL_IS,  /* ioctl: request `arg` */
	THREAD,	   /* clone: a thread (CLONE_THREAD), never a process */
	OWN_PID,   /* tgkill: a thread of this process */
};

struct rule {
	unsigned int kinds;
	int nr;
	enum cond cond;
	unsigned long arg;
};

/*
 * Device handlers run on vCPU, I/O, migration (pausing runs pending
 * doorbells) and main threads, so every kind has what they use: reads and
 * writes on descriptors opened at realize, fsync, getrandom, KVM ioctls
 * (interrupt lines) and eventfd writes.
 */
static const struct rule rules[] = {
	/* Memory: glibc's and GLib's allocators, thread stacks. */
	{ K_ALL, SCMP_SYS(brk), ANY },
	{ K_MAIN, SCMP_SYS(mmap), ANY },
	{ K_NOT_MAIN, SCMP_SYS(mmap), NO_EXEC },
	{ K_MAIN, SCMP_SYS(mprotect), ANY },
	{ K_NOT_MAIN, SCMP_SYS(mprotect), NO_EXEC },
	{ K_ALL, SCMP_SYS(munmap), ANY },
	{ K_ALL, SCMP_SYS(mremap), ANY },
	{ K_ALL, SCMP_SYS(madvise), ANY },
	/* Descriptors that are already open. */
	{ K_ALL, SCMP_SYS(read), ANY },
	{ K_ALL, SCMP_SYS(write), ANY },
	{ K_ALL, SCMP_SYS(readv), ANY },
	{ K_ALL, SCMP_SYS(writev), ANY },
	{ K_ALL, SCMP_SYS(pread64), ANY },
	{ K_ALL, SCMP_SYS(pwrite64), ANY },
	{ K_ALL, SCMP_SYS(preadv), ANY },
	{ K_ALL, SCMP_SYS(pwritev), ANY },
	{ K_ALL, SCMP_SYS(lseek), ANY },
	{ K_ALL, SCMP_SYS(fsync), ANY },
	{ K_ALL, SCMP_SYS(fdatasync), ANY },
	{ K_ALL, SCMP_SYS(fstat), ANY },
	/* Also by path: localtime() checks /etc/localtime for changes. */
	{ K_ALL, SCMP_SYS(newfstatat), ANY },
	{ K_ALL, SCMP_SYS(close), ANY },
	{ K_ALL, SCMP_SYS(ioctl), KVM_IOCTL },
	/* GLib's log writer: is stderr a terminal, for colour? */
	{ K_ALL, SCMP_SYS(ioctl), IOCTL_IS, TCGETS },
	/* GIO's sockets on the control thread. */
	{ K_MAIN, SCMP_SYS(ioctl), IOCTL_IS, FIONBIO },
	{ K_MAIN, SCMP_SYS(ioctl), IOCTL_IS, FIONREAD },
	{ K_MAIN, SCMP_SYS(ioctl), IOCTL_IS, FIOCLEX },
	{ K_ALL, SCMP_SYS(poll), ANY },
	{ K_ALL, SCMP_SYS(ppoll), ANY },
	{ K_ALL, SCMP_SYS(getrandom), ANY },
	/* irq_pulse() makes a GSI's irqfd at its first edge. */
	{ K_ALL, SCMP_SYS(eventfd2), ANY },
	/* Threads, locks, time, signals. */
	{ K_ALL, SCMP_SYS(futex), ANY },
	{ K_ALL, SCMP_SYS(clock_gettime), ANY },
	{ K_ALL, SCMP_SYS(clock_nanosleep), ANY },
	{ K_ALL, SCMP_SYS(nanosleep), ANY },
	{ K_ALL, SCMP_SYS(sched_yield), ANY },
	{ K_ALL, SCMP_SYS(getpid), ANY },
	{ K_ALL, SCMP_SYS(gettid), ANY },
	{ K_ALL, SCMP_SYS(tgkill), OWN_PID },
	{ K_ALL, SCMP_SYS(rt_sigprocmask), ANY },
	{ K_ALL, SCMP_SYS(rt_sigreturn), ANY },
	{ K_ALL, SCMP_SYS(sigaltstack), ANY },
	{ K_ALL, SCMP_SYS(restart_syscall), ANY },
	{ K_ALL, SCMP_SYS(exit), ANY },
	{ K_ALL, SCMP_SYS(exit_group), ANY },
	/* The outgoing migration: a socket to the destination. */
	{ K_MAIN | K_MIG, SCMP_SYS(socket), ANY },
	{ K_MAIN | K_MIG, SCMP_SYS(connect), ANY },
	{ K_MAIN | K_MIG, SCMP_SYS(setsockopt), ANY },
	{ K_MAIN | K_MIG, SCMP_SYS(getsockopt), ANY },
	{ K_MAIN | K_MIG, SCMP_SYS(sendto), ANY },
	{ K_MAIN | K_MIG, SCMP_SYS(recvfrom), ANY },
	{ K_MAIN | K_MIG, SCMP_SYS(sendmsg), ANY },
	{ K_MAIN | K_MIG, SCMP_SYS(recvmsg), ANY },
	{ K_MAIN | K_MIG, SCMP_SYS(shutdown), ANY },
	{ K_MAIN | K_MIG, SCMP_SYS(fcntl), ANY },
	/* Main and control: files, modules, the control socket, threads. */
	{ K_MAIN, SCMP_SYS(openat), ANY },
	{ K_MAIN, SCMP_SYS(statx), ANY },
	{ K_MAIN, SCMP_SYS(readlink), ANY },
	{ K_MAIN, SCMP_SYS(getcwd), ANY },
	{ K_MAIN, SCMP_SYS(access), ANY },
	{ K_MAIN, SCMP_SYS(faccessat2), ANY },
	{ K_MAIN, SCMP_SYS(getdents64), ANY },
	{ K_MAIN, SCMP_SYS(rename), ANY },
	{ K_MAIN, SCMP_SYS(unlink), ANY },
	{ K_MAIN, SCMP_SYS(mkdir), ANY },
	{ K_MAIN, SCMP_SYS(fchmod), ANY },
	{ K_MAIN, SCMP_SYS(ftruncate), ANY },
	{ K_MAIN, SCMP_SYS(dup), ANY },
	{ K_MAIN, SCMP_SYS(dup3), ANY },
	{ K_MAIN, SCMP_SYS(pipe2), ANY },
	{ K_MAIN, SCMP_SYS(bind), ANY },
	{ K_MAIN, SCMP_SYS(listen), ANY },
	{ K_MAIN, SCMP_SYS(accept), ANY },
	{ K_MAIN, SCMP_SYS(accept4), ANY },
	{ K_MAIN, SCMP_SYS(getsockname), ANY },
	{ K_MAIN, SCMP_SYS(getpeername), ANY },
	{ K_MAIN, SCMP_SYS(geteuid), ANY },
	{ K_MAIN, SCMP_SYS(getuid), ANY },
	{ K_MAIN, SCMP_SYS(rt_sigaction), ANY },
	{ K_MAIN, SCMP_SYS(rt_sigtimedwait), ANY },
	{ K_MAIN, SCMP_SYS(clone), THREAD },
	/* A new thread adds its own filter, which can only narrow this. */
	{ K_MAIN, SCMP_SYS(seccomp), ANY },
	{ K_MAIN, SCMP_SYS(set_robust_list), ANY },
	{ K_MAIN, SCMP_SYS(rseq), ANY },
	{ K_MAIN, SCMP_SYS(prctl), ANY },
	{ K_MAIN, SCMP_SYS(sched_getaffinity), ANY },
	/*
	 * Migration TLS (core/tls.c): glib-networking runs handshakes on
	 * GLib's worker threads, which GLib starts with the scheduling
	 * settings of the thread that first made one.
	 */
	{ K_MAIN, SCMP_SYS(sched_getattr), ANY },
	{ K_MAIN, SCMP_SYS(sched_setattr), ANY },
	/*
	 * Name lookup (getaddrinfo() for a tcp: URI on the control
	 * thread): the resolver asks uname() for the host's domain and
	 * sends the A and AAAA queries with one sendmmsg(). The rest it
	 * uses (files, sockets, FIONREAD) is above.
	 */
	{ K_MAIN, SCMP_SYS(uname), ANY },
	{ K_MAIN, SCMP_SYS(sendmmsg), ANY },
};

#ifdef ASAN_BUILD
/*
 * AddressSanitizer builds only: what its runtime needs to report. Any
 * thread reads /proc/self/maps and the binaries to name a fault's place;
 * at exit, LeakSanitizer stops the threads from a ptrace()ing task.
 */
static const struct rule sanitizer_rules[] = {
	/* Symbolising a report: the maps, the binaries. */
	{ K_ALL, SCMP_SYS(open), ANY },
	{ K_ALL, SCMP_SYS(openat), ANY },
	{ K_ALL, SCMP_SYS(readlink), ANY },
	/* LeakSanitizer's tracer task. */
	{ K_MAIN, SCMP_SYS(getdents), ANY },
	{ K_MAIN, SCMP_SYS(clone), ANY },
	{ K_MAIN, SCMP_SYS(ptrace), ANY },
	{ K_MAIN, SCMP_SYS(wait4), ANY },
	{ K_MAIN, SCMP_SYS(getppid), ANY },
};
#endif

static enum sandbox_mode mode;
static const char *syscall_names[512];
static __thread const char *thread_kind;
/* Inside sandbox_lookup_begin/end: a refused call fails, with ENOSYS. */
static __thread volatile sig_atomic_t in_lookup;

static const char *const kind_names[SANDBOX_N_KINDS] = {
	[SANDBOX_MAIN] = "main",
	[SANDBOX_MIGRATION] = "migration",
	[SANDBOX_VCPU] = "vcpu",
	[SANDBOX_IO] = "io",
};

const char *sandbox_kind_name(enum sandbox_kind kind)
{
	return kind_names[kind];
}

int sandbox_parse_mode(const char *text, enum sandbox_mode *ret, GError **error)
{
	static const char *const names[] = { "off", "log", "enforce" };

	for (unsigned int i = 0; i < G_N_ELEMENTS(names); i++) {
		if (!strcmp(text, names[i])) {
			*ret = (enum sandbox_mode)i;
			return 0;
		}
	}
	return error_setf(error, EINVAL,
			  "--seccomp=%s: expected enforce, log or off", text);
}

enum sandbox_mode sandbox_mode(void)
{
	return mode;
}

static void write_stderr(const char *s)
{
	ssize_t n = write(STDERR_FILENO, s, strlen(s));

	(void)n;
}

/* Async-signal-safe: the names were resolved in sandbox_setup(). */
static void report_refused(int sig, siginfo_t *info, void *uctx)
{
	char num[16], *p = num + sizeof(num);
	unsigned int nr = (unsigned int)info->si_syscall;
	const char *name =
		nr < G_N_ELEMENTS(syscall_names) ? syscall_names[nr] : NULL;

	(void)sig;
	*--p = '\0';
	do
		*--p = (char)('0' + nr % 10);
	while (nr /= 10);
	write_stderr("modvmm: seccomp: system call ");
	write_stderr(name ? name : "?");
	write_stderr(" (");
	write_stderr(p);
	write_stderr(") refused in a thread of kind ");
	write_stderr(thread_kind ? thread_kind : "main");
#if defined(__x86_64__)
	/*
	 * A name lookup runs code this project does not own (the NSS
	 * modules the host configures): a call it makes that the list
	 * lacks fails the lookup, not the guest. The kernel skipped the
	 * call; its result is what the handler leaves in rax.
	 */
	if (in_lookup) {
		((ucontext_t *)uctx)->uc_mcontext.gregs[REG_RAX] = -ENOSYS;
		write_stderr(
			" during a name lookup; the call fails with ENOSYS\n");
		return;
	}
#else
	(void)uctx;
#endif
	write_stderr("; ending the process (docs/security.md lists each kind's "
		     "calls; --seccomp=log lets it through)\n");
	_exit(SANDBOX_EXIT_STATUS);
}

void sandbox_lookup_begin(void)
{
	in_lookup = 1;
}

void sandbox_lookup_end(void)
{
	in_lookup = 0;
}

/*
 * GLib's standard-streams writer prints debug and info messages too
 * (GIO's, loading the TLS module): those stay hidden, as with GLib's
 * default writer, unless G_MESSAGES_DEBUG asks for them.
 */
static GLogWriterOutput log_writer(GLogLevelFlags level,
				   const GLogField *fields, gsize n,
				   gpointer data)
{
	if ((level & (G_LOG_LEVEL_DEBUG | G_LOG_LEVEL_INFO)) &&
	    !g_getenv("G_MESSAGES_DEBUG"))
		return G_LOG_WRITER_HANDLED;
	return g_log_writer_standard_streams(level, fields, n, data);
}

int sandbox_setup(enum sandbox_mode m, GError **error)
{
	struct sigaction sa = { .sa_sigaction = report_refused,
				.sa_flags = SA_SIGINFO };

	mode = m;
	if (m == SANDBOX_OFF)
		return 0;
	/*
	 * A library's warning on any thread goes to stderr, never through
	 * a socket to the journal, which only main may open. What it needs
	 * the first time is done here once for every thread: the time zone
	 * (its time stamp) and the character set converter (when the
	 * locale's is not UTF-8).
	 */
	g_log_set_writer_func(log_writer, NULL, NULL);
	tzset();
	g_free(g_locale_from_utf8("-", -1, NULL, NULL, NULL));
	if (m != SANDBOX_ENFORCE)
		return 0;
	for (int nr = 0; nr < (int)G_N_ELEMENTS(syscall_names); nr++)
		syscall_names[nr] =
			seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0)
		return error_setf(error, errno, "seccomp: SIGSYS handler: %s",
				  g_strerror(errno));
	return 0;
}

static int add_rule(scmp_filter_ctx ctx, const struct rule *r)
{
	switch (r->cond) {
	case ANY:
		return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, r->nr, 0);
	case NO_EXEC:
		return seccomp_rule_add(
			ctx, SCMP_ACT_ALLOW, r->nr, 1,
			SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	case KVM_IOCTL:
		return seccomp_rule_add(
			ctx, SCMP_ACT_ALLOW, r->nr, 1,
			SCMP_A1(SCMP_CMP_MASKED_EQ, 0xff00, 0xae00));
	case IOCTL_IS:
		return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, r->nr, 1,
					SCMP_A1(SCMP_CMP_EQ, r->arg));
	case THREAD:
		return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, r->nr, 1,
					SCMP_A0(SCMP_CMP_MASKED_EQ,
						CLONE_THREAD, CLONE_THREAD));
	case OWN_PID:
		return seccomp_rule_add(
			ctx, SCMP_ACT_ALLOW, r->nr, 1,
			SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()));
	}
	return -EINVAL;
}

int sandbox_enter(enum sandbox_kind kind, GError **error)
{
	scmp_filter_ctx ctx;
	sigset_t sys;
	int r = 0;

	if (mode == SANDBOX_OFF)
		return 0;
	/* A blocked SIGSYS would kill without the report. */
	sigemptyset(&sys);
	sigaddset(&sys, SIGSYS);
	pthread_sigmask(SIG_UNBLOCK, &sys, NULL);
	ctx = seccomp_init(mode == SANDBOX_ENFORCE ? SCMP_ACT_TRAP
						   : SCMP_ACT_LOG);
	if (!ctx)
		return error_setf(error, ENOMEM,
				  "seccomp: cannot set up the "
				  "%s thread's filter",
				  kind_names[kind]);
	/* A binary tree: KVM_RUN is not the first call the filter tests. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	/* glibc falls back to clone(), whose flags a filter can read. */
	if (!r)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS),
				     SCMP_SYS(clone3), 0);
	for (size_t i = 0; !r && i < G_N_ELEMENTS(rules); i++)
		if (rules[i].kinds & (1u << kind))
			r = add_rule(ctx, &rules[i]);
#ifdef ASAN_BUILD
	for (size_t i = 0; !r && i < G_N_ELEMENTS(sanitizer_rules); i++)
		if (sanitizer_rules[i].kinds & (1u << kind))
			r = add_rule(ctx, &sanitizer_rules[i]);
#endif
	if (!r)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	if (r < 0)
		return error_setf(error, -r,
				  "seccomp: cannot install the %s thread's "
				  "filter: %s",
				  kind_names[kind], g_strerror(-r));
	thread_kind = kind_names[kind];
	return 0;
}

void sandbox_enter_or_die(enum sandbox_kind kind)
{
	g_autoptr(GError) err = NULL;

	if (sandbox_enter(kind, &err) < 0) {
		write_stderr("modvmm: ");
		write_stderr(err->message);
		write_stderr("\n");
		_exit(SANDBOX_EXIT_STATUS);
	}
}
