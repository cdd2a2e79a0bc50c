// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/vm.c - one guest's life on this host: its options checked, the
 * signal watcher, the three ways a guest comes (booted, restored from a
 * snapshot, received from a migration source) side by side, the control
 * socket, the run, the snapshot on exit and the exit status. Every line
 * for the operator goes through the config's tell(): nothing prints here.
 */
#define _GNU_SOURCE /* sigabbrev_np */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

#include "base/error.h"
#include "control-cmds.h"
#include "control.h"
#include "fault.h"
#include "incoming.h"
#include "inventory.h"
#include "kvm-cpuid.h"
#include "migration.h"
#include "restore.h"
#include "sandbox.h"
#include "snapshot.h"
#include "tls.h"
#include "vm.h"

/*
 * SIGINT, SIGTERM and SIGHUP, from the start of a run: before the guest
 * is here, they end the wait for it (an incoming migration is cancelled:
 * the source keeps the guest); once it runs, an outgoing migration is
 * cancelled or, past its commit, its end awaited, and then the guest
 * stops as it would without one. SIGUSR2 ends the thread.
 */
struct watcher {
	pthread_t tid;
	sigset_t set;
	GMutex lock; /* guards what follows */
	struct machine *m;
	struct incoming *in;
	struct control *ctl;
	int early; /* the signal that came before the guest, or 0 */
};

/* One run: what vm_run() holds from set-up to the exit status. */
struct vm {
	const struct vm_config *cfg;
	struct watcher w;
	struct tls_creds *tls; /* --migration-tls, loaded */
	struct control *ctl;
	struct incoming *in;
	struct machine *m;
	const char *incoming; /* cfg's URI, or migrate-incoming's */
	char *deferred;	      /* migrate-incoming's URI (--incoming defer) */
	struct kvm_result res;
};

static void vm_tell(const struct vm_config *cfg, const char *fmt, ...)
	G_GNUC_PRINTF(2, 3);

static void vm_tell(const struct vm_config *cfg, const char *fmt, ...)
{
	g_autofree char *line = NULL;
	va_list ap;

	if (!cfg->tell)
		return;
	va_start(ap, fmt);
	line = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	cfg->tell(cfg->opaque, line);
}

void vm_config_init(struct vm_config *cfg)
{
	*cfg = (struct vm_config){
		.cpus = 1,
		.downtime_ms = MIGRATION_DOWNTIME_DEFAULT,
		.control_timeout = CONTROL_TIMEOUT_DEFAULT,
		.control_idle = CONTROL_IDLE_DEFAULT,
		.migration_timeout = MIGRATION_TIMEOUT_DEFAULT,
	};
}

/* What a guest taken from elsewhere brings itself, and one source only. */
static int check_source(const struct vm_config *cfg, GError **error)
{
	const struct machine_config *mc = &cfg->machine;

	if ((cfg->restore || cfg->incoming) &&
	    (mc->kernel || mc->append || cfg->memory || cfg->cpus != 1 ||
	     mc->no_defaults || (cfg->restore && cfg->incoming)))
		return error_setf(error, EINVAL,
				  "--restore and --incoming take the guest, "
				  "its memory, vCPUs and devices from the "
				  "snapshot or the source (only --device "
				  "id=... may change a device), and not both");
	if (cfg->incoming && !strcmp(cfg->incoming, "defer") && !cfg->control)
		return error_setf(error, EINVAL,
				  "--incoming defer needs --control (the URI "
				  "comes with migrate-incoming)");
	return 0;
}

static int check_limits(const struct vm_config *cfg, GError **error)
{
	if (cfg->downtime_ms < 1 || cfg->downtime_ms > 600000)
		return error_setf(error, EINVAL,
				  "--downtime-ms %d: 1 to 600000",
				  cfg->downtime_ms);
	if (cfg->paused && !cfg->control)
		return error_setf(error, EINVAL,
				  "--paused needs --control (nothing else "
				  "could resume the guest)");
	if (cfg->control_timeout < 1)
		return error_setf(error, EINVAL,
				  "--control-timeout %d: at least 1",
				  cfg->control_timeout);
	if (cfg->control_idle &&
	    (cfg->control_idle < CONTROL_IDLE_MIN || cfg->control_idle > 86400))
		return error_setf(error, EINVAL,
				  "--control-idle-timeout %d: 0 (no limit) or "
				  "%d to 86400",
				  cfg->control_idle, CONTROL_IDLE_MIN);
	if (cfg->migration_timeout < 1 ||
	    cfg->migration_timeout > MIGRATION_TIMEOUT_MAX)
		return error_setf(
			error, EINVAL, "--migration-timeout %d: 1 to %d",
			cfg->migration_timeout, MIGRATION_TIMEOUT_MAX);
	return 0;
}

/*
 * What no host of this build would take, whatever it holds: a usage error
 * (exit status 2), not a guest that could not start (125).
 */
static int check_form(const struct vm_config *cfg, GError **error)
{
	const struct machine_config *mc = &cfg->machine;
	const char *uri = cfg->incoming;

	if (cfg->cpus > KVM_MAX_CPUS)
		return error_setf(error, EINVAL, "--cpus %d: 1 to %d",
				  cfg->cpus, KVM_MAX_CPUS);
	if (mc->memory < (2u << 20) || mc->memory % 4096)
		return error_setf(error, EINVAL,
				  "--memory %s: at least 2M, in whole 4K pages",
				  cfg->memory);
	if (cfg->control && !*cfg->control)
		return error_setf(error, EINVAL,
				  "--control: the socket path is empty");
	if (uri && strcmp(uri, "defer") && !g_str_has_prefix(uri, "unix:") &&
	    !g_str_has_prefix(uri, "tcp:") && !g_str_has_prefix(uri, "fd:"))
		return error_setf(error, EINVAL,
				  "--incoming %s: expected unix:PATH, "
				  "tcp:HOST:PORT, fd:N or defer",
				  uri);
	return 0;
}

int vm_config_check(struct vm_config *cfg, GError **error)
{
	struct machine_config *mc = &cfg->machine;
	enum sandbox_mode seccomp = SANDBOX_ENFORCE;

	if (mc->initrd && !mc->kernel)
		return error_setf(error, EINVAL, "--initrd needs --kernel");
	mc->memory = 256u << 20;
	if (cfg->memory &&
	    machine_parse_size(cfg->memory, &mc->memory, error) < 0)
		return -EINVAL;
	if (cfg->cpus < 1)
		return error_setf(error, EINVAL, "--cpus %d: at least 1",
				  cfg->cpus);
	mc->cpus = (unsigned int)cfg->cpus;
	if (check_form(cfg, error) < 0 || check_source(cfg, error) < 0 ||
	    check_limits(cfg, error) < 0 || fault_init(error) < 0)
		return -EINVAL;
	if (cfg->seccomp &&
	    sandbox_parse_mode(cfg->seccomp, &seccomp, error) < 0)
		return -EINVAL;
	cfg->seccomp_mode = (int)seccomp;
	if (mc->cpu && !cpu_model_known(mc->cpu)) {
		g_autofree char *names = cpu_model_names_text();

		return error_setf(error, EINVAL,
				  "--cpu %s: unknown CPU model (known: %s)",
				  mc->cpu, names);
	}
	return 0;
}

/* The signal watcher ------------------------------------------------- */

static void *watch_signals(void *data)
{
	struct watcher *w = data;
	struct machine *m;
	int sig;

	sandbox_enter_or_die(SANDBOX_MAIN);
	while (!sigwait(&w->set, &sig) && sig != SIGUSR2) {
		g_mutex_lock(&w->lock);
		m = w->m;
		if (!m) {
			w->early = w->early ? w->early : sig;
			if (w->in)
				incoming_cancel(w->in, NULL);
			if (w->ctl)
				control_end_wait(w->ctl);
		}
		g_mutex_unlock(&w->lock);
		if (m) {
			control_settle_migration(w->ctl);
			machine_stop(m, sig);
		}
	}
	return NULL;
}

/* Before any thread exists, so that every thread inherits it. */
static void watcher_block(struct watcher *w)
{
	sigemptyset(&w->set);
	sigaddset(&w->set, SIGINT);
	sigaddset(&w->set, SIGTERM);
	sigaddset(&w->set, SIGHUP);
	sigaddset(&w->set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &w->set, NULL);
}

/* The guest is here: a signal that came meanwhile stops it before it runs. */
static void watcher_attach(struct watcher *w, struct machine *m,
			   struct control *ctl)
{
	int early;

	g_mutex_lock(&w->lock);
	w->m = m;
	w->ctl = ctl;
	early = w->early;
	g_mutex_unlock(&w->lock);
	if (early)
		machine_stop(m, early);
}

static int watcher_early(struct watcher *w)
{
	int sig;

	g_mutex_lock(&w->lock);
	sig = w->early;
	g_mutex_unlock(&w->lock);
	return sig;
}

/* Three ways the guest comes ----------------------------------------- */

/* A fresh guest: booted from a kernel or the built-in guest. */
static int vm_boot(struct vm *vm, GError **error)
{
	return machine_create(&vm->cfg->machine, &vm->m, error);
}

/*
 * The guest's clocks go on from the moment it was saved: an operator is
 * told how far behind that leaves them, when it is more than a minute.
 */
static void tell_age(const struct vm_config *cfg, const char *path)
{
	struct stat st;
	time_t age;

	if (stat(path, &st) < 0)
		return;
	age = time(NULL) - st.st_mtime;
	if (age > 60)
		vm_tell(cfg,
			"%s was saved %lld s ago: the guest's clocks go on "
			"from then, that far behind the host's (see \"Guest "
			"time\" in the user guide)",
			path, (long long)age);
}

/* --restore FILE: judged, then built; the verdict is the error if refused. */
static int vm_restore(struct vm *vm, GError **error)
{
	const struct vm_config *cfg = vm->cfg;
	struct compat_verdict *v = NULL;
	struct snap_reader *s = NULL;
	struct machine *m = NULL;
	int r = snapshot_open(cfg->restore, &s, error);

	if (!r)
		r = restore_judge(&cfg->machine, s, &m, &v, error);
	if (!r)
		r = restore_build(m, &cfg->machine, s, v, error);
	if (r < 0)
		g_clear_pointer(&m, machine_free);
	else
		tell_age(cfg, cfg->restore);
	compat_verdict_free(v);
	/* The guest's RAM holds it all now. */
	snapshot_free(s);
	vm->m = m;
	return r;
}

/*
 * A migration check gets its verdict, then the next connection is
 * awaited (not on an inherited fd:, which has one). The control socket,
 * if any, shows and may cancel it meanwhile.
 */
static int take_guest(struct vm *vm, GError **error)
{
	const struct vm_config *cfg = vm->cfg;
	struct watcher *w = &vm->w;
	int r = incoming_listen(vm->incoming, (uint32_t)cfg->migration_timeout,
				&vm->in, error);

	if (r < 0)
		return r;
	incoming_set_tls(vm->in, vm->tls);
	if (vm->ctl)
		control_attach_incoming(vm->ctl, vm->in);
	g_mutex_lock(&w->lock);
	w->in = vm->in;
	if (w->early)
		incoming_cancel(vm->in, NULL);
	g_mutex_unlock(&w->lock);
	for (;;) {
		vm_tell(cfg, "waiting for a migration on %s", vm->incoming);
		r = incoming_take(vm->in, &cfg->machine, &vm->m, error);
		if (r < 0 || vm->m)
			break;
		vm_tell(cfg, "%s: a migration check: verdict sent",
			vm->incoming);
		/* An inherited descriptor has one connection. */
		if (g_str_has_prefix(vm->incoming, "fd:")) {
			r = error_setf(error, ECANCELED,
				       "%s: the inherited connection was a "
				       "migration check",
				       vm->incoming);
			break;
		}
	}
	if (vm->m)
		vm_tell(cfg, "guest arrived from %s", vm->incoming);
	return r;
}

/*
 * --incoming URI: a destination's control socket serves while the guest
 * comes; with `defer`, the URI comes from it (migrate-incoming). A
 * failure is told here, with what it means for the guest: `error` is
 * left unset.
 */
static int vm_receive(struct vm *vm, GError **error)
{
	const struct vm_config *cfg = vm->cfg;
	g_autoptr(GError) err = NULL;

	if (cfg->control) {
		if (control_new(NULL, cfg->control,
				(unsigned int)cfg->control_timeout,
				(unsigned int)cfg->control_idle,
				control_commands(), &vm->ctl, error) < 0)
			return -1;
		g_mutex_lock(&vm->w.lock);
		vm->w.ctl = vm->ctl;
		g_mutex_unlock(&vm->w.lock);
	}
	vm->incoming = cfg->incoming;
	if (!strcmp(cfg->incoming, "defer")) {
		vm_tell(cfg, "waiting for migrate-incoming on %s",
			cfg->control);
		if (!watcher_early(&vm->w))
			vm->deferred = control_wait_incoming(vm->ctl);
		vm->incoming = vm->deferred;
		if (!vm->incoming)
			return -1;
	} else if (vm->ctl) {
		control_set_incoming(vm->ctl, vm->incoming, NULL);
	}
	if (take_guest(vm, &err) < 0) {
		if (err && !watcher_early(&vm->w))
			vm_tell(cfg, "%s", err->message);
		vm_tell(cfg, "migration from %s %s: no guest started here",
			vm->incoming,
			watcher_early(&vm->w) ? "cancelled by a signal"
					      : "failed");
		return -1;
	}
	return 0;
}

/* The run ------------------------------------------------------------ */

/* Signals blocked and watched, the sandbox set up, the certificates read. */
static int vm_setup(struct vm *vm, GError **error)
{
	const struct vm_config *cfg = vm->cfg;
	unsigned int need =
		cfg->incoming && g_str_has_prefix(cfg->incoming, "tcp:")
			? TLS_NEED_SERVER
			: 0;

	watcher_block(&vm->w);
	if (sandbox_setup((enum sandbox_mode)cfg->seccomp_mode, error) < 0)
		return -1;
	/* The files are read now; a destination on tcp: needs its pair. */
	if (cfg->migration_tls &&
	    tls_creds_load(cfg->migration_tls, need, &vm->tls, error) < 0)
		return -1;
	g_mutex_init(&vm->w.lock);
	pthread_create(&vm->w.tid, NULL, watch_signals, &vm->w);
	return 0;
}

/* One line, for `run --kernel` on kvm_pvm: what the host is, what to do. */
static const char vm_pvm_warning[] =
	"this host's KVM is kvm_pvm, a paravirtualised KVM on which a stock "
	"Linux kernel does not run (it hangs before printing anything): run "
	"this kernel on a host with full KVM (kvm_intel or kvm_amd), or "
	"nested under QEMU (docs/user-guide.md, \"Linux on a paravirtualised "
	"KVM\"); the built-in guest runs here";

/* The guest is here: what it runs with, its control socket, the sandbox. */
static int vm_prepare(struct vm *vm, GError **error)
{
	const struct vm_config *cfg = vm->cfg;
	struct machine *m = vm->m;

	g_autofree char *ram =
		machine_ram_warning(m->kvm->ram_size, "/proc/meminfo");

	if (m->warning)
		vm_tell(cfg, "warning: %s", m->warning);
	/*
	 * On kvm_pvm a stock kernel hangs before its first line, so the
	 * operator would see nothing at all; the built-in guest runs there.
	 */
	if (cfg->machine.kernel && kvm_host_is_pvm("/sys/module"))
		vm_tell(cfg, "warning: %s", vm_pvm_warning);
	/* RAM is reserved as the guest touches it: said, not refused. */
	if (ram)
		vm_tell(cfg, "warning: %s", ram);
	m->downtime_ms = (uint32_t)cfg->downtime_ms;
	m->migration_timeout = (uint32_t)cfg->migration_timeout;
	m->migration_tls = vm->tls;
	/* Paused before a client can ask: its first `cont` finds it so. */
	if (cfg->paused)
		machine_pause(m, NULL);
	if (vm->ctl)
		control_attach(vm->ctl, m);
	else if (cfg->control &&
		 control_new(m, cfg->control,
			     (unsigned int)cfg->control_timeout,
			     (unsigned int)cfg->control_idle,
			     control_commands(), &vm->ctl, error) < 0)
		return -1;
	/* Set-up is over; the vCPUs inherit this. */
	return sandbox_enter(SANDBOX_MAIN, error);
}

/*
 * The guest is about to run here: the source, which waits for that,
 * hears it. The line comes before any guest code runs here, so that an
 * operator resolving a migration in doubt can tell from this host's
 * output whether the guest ran here (docs/user-guide.md).
 */
static void tell_source(void *opaque)
{
	struct vm *vm = opaque;
	g_autoptr(GError) err = NULL;

	if (incoming_confirm(vm->in, &err) < 0)
		vm_tell(vm->cfg,
			"the guest runs here, but the source was not told "
			"(%s): if it still has the guest paused, quit it there",
			err->message);
	else
		vm_tell(vm->cfg,
			"the guest runs here (RUNNING sent to the source)");
}

static int end_status(const struct kvm_result *res)
{
	switch (res->end) {
	case KVM_END_EXIT:
		return (int)(res->arg & 0xff);
	case KVM_END_POWEROFF:
	case KVM_END_RESET:
	case KVM_END_QUIT:
	case KVM_END_MIGRATED:
		return 0;
	case KVM_END_PANIC:
		return VM_STATUS_PANIC;
	case KVM_END_TRIPLE_FAULT:
		return VM_STATUS_TRIPLE_FAULT;
	case KVM_END_STOPPED:
		return 128 + (int)res->arg;
	default:
		return VM_STATUS_GUEST_ERROR;
	}
}

/* Runs the guest to its end; the host stopping it may save it first. */
static int vm_go(struct vm *vm)
{
	const struct vm_config *cfg = vm->cfg;
	struct kvm_result *res = &vm->res;
	int status;

	watcher_attach(&vm->w, vm->m, vm->ctl);
	machine_run(vm->m, vm->in ? tell_source : NULL, vm, res);
	/* The host stopped it: its state is whole, and can be kept. */
	if (cfg->snapshot_on_exit &&
	    (res->end == KVM_END_STOPPED || res->end == KVM_END_QUIT)) {
		const char *path = cfg->snapshot_on_exit;
		g_autoptr(GError) err = NULL;
		uint64_t bytes;

		if (snapshot_save(vm->m, path, &bytes, &err) < 0)
			vm_tell(cfg, "%s", err->message);
		else
			vm_tell(cfg,
				"saved the guest to %s (%" G_GUINT64_FORMAT
				" bytes)",
				path, (guint64)bytes);
	}
	if (vm->ctl)
		control_run_ended(vm->ctl, res);
	status = end_status(res);
	vm_tell(cfg, "%s (exit status %d)",
		res->message ? res->message : "guest stopped", status);
	return status;
}

static void vm_teardown(struct vm *vm)
{
	pthread_kill(vm->w.tid, SIGUSR2);
	pthread_join(vm->w.tid, NULL);
	control_free(vm->ctl);
	machine_free(vm->m);
	incoming_free(vm->in);
	tls_creds_unref(vm->tls);
	tls_shutdown();
	kvm_result_clear(&vm->res);
	g_mutex_clear(&vm->w.lock);
	g_free(vm->deferred);
}

int vm_run(const struct vm_config *cfg)
{
	g_autoptr(GError) err = NULL;
	struct vm vm = { .cfg = cfg };
	int status = VM_STATUS_SETUP;
	int r;

	if (vm_setup(&vm, &err) < 0) {
		vm_tell(cfg, "%s", err->message);
		return VM_STATUS_SETUP;
	}
	if (cfg->restore)
		r = vm_restore(&vm, &err);
	else if (cfg->incoming)
		r = vm_receive(&vm, &err);
	else
		r = vm_boot(&vm, &err);
	if (r >= 0)
		r = vm_prepare(&vm, &err);
	if (r >= 0)
		status = vm_go(&vm);
	if (err)
		vm_tell(cfg, "%s", err->message);
	/* A signal ended the wait for the guest: the status says which. */
	if (status == VM_STATUS_SETUP && watcher_early(&vm.w)) {
		status = 128 + watcher_early(&vm.w);
		vm_tell(cfg,
			"stopped by SIG%s before the guest ran (exit status "
			"%d)",
			sigabbrev_np(watcher_early(&vm.w)), status);
	}
	vm_teardown(&vm);
	return status;
}

/* For front ends that describe a guest without running it ------------ */

int vm_cpu_offer(const char *limit, struct cpu_model **ret, GError **error)
{
	return kvm_cpu_offer(NULL, limit, ret, error);
}

int vm_offline_open(const struct machine_config *cfg, struct machine **ret,
		    GError **error)
{
	struct machine_config offline = *cfg;

	offline.offline = 1;
	return machine_create(&offline, ret, error);
}

const char *vm_offline_warning(const struct machine *m)
{
	return m->warning;
}

struct manifest *vm_offline_manifest(struct machine *m,
				     const struct cpu_model *cpu)
{
	return inventory_guest(m->devs, m->type, m->alias, cpu, 0);
}

void vm_offline_close(struct machine *m)
{
	machine_free(m);
}
