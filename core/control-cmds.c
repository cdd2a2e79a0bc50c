// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/control-cmds.c - what the control protocol's commands do, and the
 * table of commands and events that the protocol, query-commands and the
 * documentation share.
 *
 * Commands run on the control thread. Those that change the device world
 * (device-add, device-del) take the device lock inside device.c for as
 * long as the change takes, so the guest sees a device either whole or
 * not at all; stop waits until no vCPU is in the guest.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <modvmm/abi.h>

#include "base/error.h"
#include "base/json-read.h"
#include "control-cmds.h"
#include "device.h"
#include "incoming.h"
#include "inventory.h"
#include "migration.h"
#include "tls.h"
#include "snapshot.h"

static JsonNode *empty_object(void)
{
	JsonNode *n = json_node_new(JSON_NODE_OBJECT);

	json_node_take_object(n, json_object_new());
	return n;
}

static JsonNode *object_node(JsonObject *o)
{
	JsonNode *n = json_node_new(JSON_NODE_OBJECT);

	json_node_take_object(n, o);
	return n;
}

static JsonNode *array_node(JsonArray *a)
{
	JsonNode *n = json_node_new(JSON_NODE_ARRAY);

	json_node_take_array(n, a);
	return n;
}

static int has_kvm(struct control_session *s, GError **error)
{
	if (!s->m->kvm)
		return error_setf(error, EOPNOTSUPP,
				  "no guest runs in this host");
	return 0;
}

/* Run state ------------------------------------------------------------ */

static struct migration *current_migration(struct control_session *s);

static JsonNode *cmd_query_status(struct control_session *s, JsonObject *args,
				  GError **error)
{
	JsonObject *o = json_object_new();
	enum machine_state st;

	(void)args;
	(void)error;
	if (!s->m) {
		json_object_set_string_member(o, "status", "inmigrate");
		json_object_set_boolean_member(o, "running", FALSE);
		return object_node(o);
	}
	st = s->m->kvm ? machine_state(s->m) : MACHINE_ENDED;
	/* Paused after a migration whose end is unknown (user-guide.md). */
	if (st == MACHINE_PAUSED && migration_in_doubt(current_migration(s)))
		json_object_set_string_member(o, "status", "migrate-unknown");
	else
		json_object_set_string_member(o, "status",
					      machine_state_name(st));
	json_object_set_boolean_member(o, "running", st == MACHINE_RUNNING);
	return object_node(o);
}

static JsonNode *cmd_migrate_incoming(struct control_session *s,
				      JsonObject *args, GError **error)
{
	if (control_set_incoming(s->c,
				 json_object_get_string_member(args, "uri"),
				 error) < 0)
		return NULL;
	return empty_object();
}

static JsonNode *cmd_stop(struct control_session *s, JsonObject *args,
			  GError **error)
{
	(void)args;
	if (has_kvm(s, error) < 0)
		return NULL;
	/* Already paused is done, as in QMP: no error, and no STOP event,
	 * for nothing stopped. */
	if (machine_state(s->m) == MACHINE_PAUSED)
		return empty_object();
	if (machine_pause(s->m, error) < 0)
		return NULL;
	control_event(s->c, "STOP", NULL);
	return empty_object();
}

static JsonNode *cmd_cont(struct control_session *s, JsonObject *args,
			  GError **error)
{
	(void)args;
	if (has_kvm(s, error) < 0)
		return NULL;
	/* Already running is done, as in QMP: no error, no RESUME event. */
	if (machine_state(s->m) == MACHINE_RUNNING)
		return empty_object();
	/* After an unknown end, the disks' locks first: the destination
	 * holds them if it runs the guest. */
	if (migration_in_doubt(current_migration(s)) &&
	    devices_lock_files(s->m->devs, error) < 0) {
		g_prefix_error(error, "the destination may run the guest: ");
		return NULL;
	}
	if (machine_resume(s->m, error) < 0)
		return NULL;
	migration_resolve(current_migration(s), "'cont': the guest runs here");
	control_event(s->c, "RESUME", NULL);
	return empty_object();
}

static JsonNode *cmd_quit(struct control_session *s, JsonObject *args,
			  GError **error)
{
	(void)args;
	if (has_kvm(s, error) < 0)
		return NULL;
	/* The reply goes out before the run ends: the main thread only
	 * closes clients after the SHUTDOWN event. */
	machine_quit(s->m);
	return empty_object();
}

static JsonNode *cmd_snapshot_save(struct control_session *s, JsonObject *args,
				   GError **error)
{
	const char *file = json_object_get_string_member(args, "file");
	JsonObject *o;
	uint64_t bytes;
	int running, r;

	if (has_kvm(s, error) < 0)
		return NULL;
	/* Renamed over the socket, the snapshot would leave the operator
	 * without control, and be removed with the socket at the end. */
	if (s->c && control_is_socket_path(s->c, file)) {
		error_setf(error, EEXIST,
			   "%s: not saved: the path is this modvmm's control "
			   "socket",
			   file);
		return NULL;
	}
	/* A running guest is paused for the save and resumed after it. */
	running = machine_state(s->m) == MACHINE_RUNNING;
	if (running && machine_pause(s->m, error) < 0)
		return NULL;
	if (!running && machine_state(s->m) != MACHINE_PAUSED) {
		error_setf(error, ESHUTDOWN, "the guest has shut down");
		return NULL;
	}
	r = snapshot_save(s->m, file, &bytes, error);
	if (running)
		machine_resume(s->m, NULL);
	if (r < 0)
		return NULL;
	o = json_object_new();
	json_object_set_string_member(o, "file", file);
	json_object_set_int_member(o, "bytes", (gint64)bytes);
	return object_node(o);
}

/* Migration ------------------------------------------------------------- */

/* The control's outgoing migration; NULL for a session without a
 * control (as a test or a fuzz target drives one). */
static struct migration *current_migration(struct control_session *s)
{
	return s->c ? *control_migration(s->c) : NULL;
}

static void migration_event(void *opaque, JsonNode *status)
{
	control_event(opaque, "MIGRATION", status);
}

/*
 * The certificates a migration uses: tls=DIR's, none with tls=off, or
 * else --migration-tls's (NULL when there are none).
 */
static int migrate_tls(struct control_session *s, JsonObject *args,
		       struct tls_creds **ret, GError **error)
{
	const char *tls = json_object_get_string_member_with_default(
		args, "tls", NULL);

	*ret = NULL;
	if (!tls) {
		*ret = tls_creds_ref(s->m->migration_tls);
		return 0;
	}
	if (!strcmp(tls, "off"))
		return 0;
	return tls_creds_load(tls, TLS_NEED_CLIENT, ret, error);
}

static JsonNode *cmd_migrate(struct control_session *s, JsonObject *args,
			     GError **error)
{
	struct tls_creds *tls;
	int r;
	const struct migration_sink sink = { migration_event, s->c };
	struct machine *m = s->m;
	struct migration **mig;
	gint64 downtime = json_object_get_int_member_with_default(
		args, "downtime-ms", s->m->downtime_ms);
	gint64 timeout = json_object_get_int_member_with_default(
		args, "timeout-s", s->m->migration_timeout);

	if (has_kvm(s, error) < 0)
		return NULL;
	if (!s->c) {
		error_setf(error, ENOTCONN,
			   "migrate: this session has no control socket to "
			   "report the migration on");
		return NULL;
	}
	mig = control_migration(s->c);
	if (migration_running(*mig)) {
		error_setf(error, EBUSY, "a migration is already running");
		return NULL;
	}
	if (migration_in_doubt(*mig)) {
		error_setf(error, EBUSY,
			   "the last migration's end is unknown: 'cont' if "
			   "the guest must live here, 'quit' if it runs on "
			   "the destination");
		return NULL;
	}
	if (machine_state(m) == MACHINE_ENDED) {
		error_setf(error, ESHUTDOWN, "the guest has shut down");
		return NULL;
	}
	if (downtime < 1 || downtime > 600000) {
		error_setf(error, ERANGE,
			   "downtime-ms %" G_GINT64_FORMAT ": 1 to 600000",
			   downtime);
		return NULL;
	}
	if (timeout < 1 || timeout > MIGRATION_TIMEOUT_MAX) {
		error_setf(error, ERANGE,
			   "timeout-s %" G_GINT64_FORMAT ": 1 to %d", timeout,
			   MIGRATION_TIMEOUT_MAX);
		return NULL;
	}
	if (migrate_tls(s, args, &tls, error) < 0)
		return NULL;
	control_migration_lock(s->c);
	g_clear_pointer(mig, migration_free);
	r = migration_start(m, &sink, json_object_get_string_member(args, "uri"),
			    (uint32_t)downtime, (uint32_t)timeout, tls, mig,
			    error);
	control_migration_unlock(s->c);
	tls_creds_unref(tls);
	if (r < 0)
		return NULL;
	return empty_object();
}

static JsonNode *cmd_migrate_check(struct control_session *s, JsonObject *args,
				   GError **error)
{
	struct tls_creds *tls = NULL;
	JsonNode *ret = NULL;
	int r;

	if (has_kvm(s, error) < 0 || migrate_tls(s, args, &tls, error) < 0)
		return NULL;
	r = migration_check(s->m, json_object_get_string_member(args, "uri"),
			    tls, &ret, error);
	tls_creds_unref(tls);
	if (r < 0)
		return NULL;
	return ret;
}

static JsonNode *cmd_query_migrate(struct control_session *s, JsonObject *args,
				   GError **error)
{
	JsonObject *o;

	(void)args;
	(void)error;
	/* A destination, while the guest arrives. */
	if (!s->m && control_incoming(s->c))
		return incoming_status(control_incoming(s->c));
	if (current_migration(s))
		return migration_status(current_migration(s));
	o = json_object_new();
	json_object_set_string_member(o, "status", "none");
	return object_node(o);
}

static JsonNode *cmd_migrate_cancel(struct control_session *s, JsonObject *args,
				    GError **error)
{
	struct migration *mig = current_migration(s);

	(void)args;
	if (!s->m) {
		if (!control_incoming(s->c)) {
			error_setf(error, EALREADY,
				   "no migration is running");
			return NULL;
		}
		if (incoming_cancel(control_incoming(s->c), error) < 0)
			return NULL;
		return empty_object();
	}
	if (!migration_running(mig)) {
		error_setf(error, EALREADY, "no migration is running");
		return NULL;
	}
	if (migration_cancel(mig, error) < 0)
		return NULL;
	return empty_object();
}

/* Machine types --------------------------------------------------------- */

static JsonNode *cmd_query_machines(struct control_session *s, JsonObject *args,
				    GError **error)
{
	const struct machine_registry *r = machine_registry();
	const struct machine_type *alias = machine_lookup(r, r->alias);
	JsonArray *a = json_array_new();

	(void)args;
	(void)error;
	for (size_t i = 0; i < r->n_types; i++) {
		const struct machine_type *t = &r->types[i];
		JsonObject *o = json_object_new();
		char d[MACHINE_DATE_LEN];
		uint32_t dep, rem;
		enum machine_status st = machine_status(r, t, &dep, &rem);

		json_object_set_string_member(o, "name", t->name);
		if (t == alias)
			json_object_set_string_member(o, "alias", r->alias);
		json_object_set_string_member(
			o, "released", machine_date_text(t->released, d));
		json_object_set_string_member(o, "status",
					      machine_status_name(st));
		json_object_set_string_member(o, "deprecated-on",
					      machine_date_text(dep, d));
		json_object_set_string_member(o, "removed-on",
					      machine_date_text(rem, d));
		json_object_set_int_member(o, "compat-props",
					   (gint64)t->n_props);
		json_object_set_boolean_member(o, "current", t == s->m->type);
		json_array_add_object_element(a, o);
	}
	return array_node(a);
}

/* Modules --------------------------------------------------------------- */

static JsonNode *module_json(const struct module *mod)
{
	JsonNode *n = modinfo_to_json(mod->info);
	JsonObject *o = json_node_get_object(n);
	unsigned int instances = 0;

	json_object_remove_member(o, "entries");
	json_object_set_string_member(o, "path", mod->path);
	for (guint i = 0; i < mod->types->len; i++)
		instances +=
			((struct device_type *)mod->types->pdata[i])->instances;
	json_object_set_int_member(o, "instances", instances);
	return n;
}

static JsonNode *cmd_query_modules(struct control_session *s, JsonObject *args,
				   GError **error)
{
	const GPtrArray *mods = loader_modules(s->m->devs->loader);
	JsonArray *a = json_array_new();

	(void)args;
	(void)error;
	for (guint i = 0; i < mods->len; i++)
		json_array_add_element(a, module_json(mods->pdata[i]));
	return array_node(a);
}

/*
 * A module file named by the operator: a bare name is looked for in the
 * module directories (".so" may be left off); a path is taken as it is.
 * Either way loader_load() then refuses a file that does not resolve
 * into a module directory, as at start-up.
 */
static char *module_file(struct loader *l, const char *file, GError **error)
{
	const GPtrArray *dirs = loader_dirs(l);
	g_autofree char *name = NULL;
	g_autoptr(GString) list = g_string_new(NULL);

	if (!*file) {
		error_setf(error, EINVAL,
			   "'file' is empty (give a module's name or path)");
		return NULL;
	}
	if (!strchr(file, '/')) {
		name = g_str_has_suffix(file, ".so")
			       ? g_strdup(file)
			       : g_strconcat(file, ".so", NULL);
		for (guint i = 0; i < dirs->len; i++) {
			char *p = g_build_filename(dirs->pdata[i], name, NULL);

			if (g_file_test(p, G_FILE_TEST_EXISTS))
				return p;
			g_free(p);
		}
	}
	if (!name)
		return g_strdup(file);
	for (guint i = 0; i < dirs->len; i++)
		g_string_append_printf(list, "%s%s", i ? ", " : "",
				       (char *)dirs->pdata[i]);
	/* The client names the command: the message does not again. */
	error_setf(error, ENOENT,
		   "no %s in the module directories (%s): give the name of a "
		   "module there, or a path into one of them",
		   name, list->str);
	return NULL;
}

static JsonNode *cmd_module_load(struct control_session *s, JsonObject *args,
				 GError **error)
{
	struct loader *l = s->m->devs->loader;
	g_autofree char *path = NULL;
	struct module *mod;

	path = module_file(l, json_object_get_string_member(args, "file"),
			   error);
	if (!path || loader_load(l, path, &mod, error) < 0)
		return NULL;
	control_event(s->c, "MODULE_LOADED", module_json(mod));
	return module_json(mod);
}

static JsonNode *cmd_module_unload(struct control_session *s, JsonObject *args,
				   GError **error)
{
	struct loader *l = s->m->devs->loader;
	const char *name = json_object_get_string_member(args, "name");
	struct module *mod = loader_find_module(l, name);
	JsonObject *ev;

	if (!mod) {
		error_setf(error, ENOENT, "no module named '%s' is loaded",
			   name);
		return NULL;
	}
	if (loader_unload(l, mod, error) < 0)
		return NULL;
	ev = json_object_new();
	json_object_set_string_member(ev, "name", name);
	control_event(s->c, "MODULE_UNLOADED", object_node(ev));
	return empty_object();
}

/* Devices --------------------------------------------------------------- */

static JsonNode *device_json(const struct modvmm_device *dev)
{
	const struct device_type *dt = dev->type;
	JsonObject *o = json_object_new();
	JsonObject *props = json_object_new();

	json_object_set_string_member(o, "id", dev->id);
	json_object_set_string_member(o, "driver", dt->t.name);
	json_object_set_string_member(o, "module", dt->module->info->name);
	json_object_set_string_member(o, "module-version",
				      dt->module->info->version);
	if (dt->vms) {
		g_autofree char *v = g_strdup_printf("%s@%u", dt->vms->name,
						     dt->vms->d.version);

		json_object_set_string_member(o, "vmstate", v);
	} else {
		json_object_set_null_member(o, "vmstate");
	}
	for (uint32_t i = 0; i < dt->t.n_properties; i++) {
		g_autofree char *v = device_prop_text(dev, &dt->props[i]);

		json_object_set_string_member(props, dt->props[i].name, v);
	}
	json_object_set_object_member(o, "properties", props);
	return object_node(o);
}

static JsonNode *cmd_query_devices(struct control_session *s, JsonObject *args,
				   GError **error)
{
	struct vm_devices *devs = s->m->devs;
	JsonArray *a = json_array_new();

	(void)args;
	(void)error;
	for (guint i = 0; i < devs->devices->len; i++)
		json_array_add_element(a, device_json(devs->devices->pdata[i]));
	return array_node(a);
}

/* A property value as device_create() parses it; NULL if not a scalar. */
static char *scalar_text(JsonNode *n)
{
	switch (json_read_type(n)) {
	case G_TYPE_STRING:
		return g_strdup(json_node_get_string(n));
	case G_TYPE_INT64:
		return g_strdup_printf("%" G_GINT64_FORMAT,
				       json_node_get_int(n));
	case G_TYPE_BOOLEAN:
		return g_strdup(json_node_get_boolean(n) ? "on" : "off");
	}
	return NULL;
}

static JsonNode *cmd_device_add(struct control_session *s, JsonObject *args,
				GError **error)
{
	g_autoptr(GString) spec =
		g_string_new(json_object_get_string_member(args, "driver"));
	g_autoptr(GList) members = json_object_get_members(args);
	struct modvmm_device *dev;
	JsonObject *ev, *ret;

	if (strchr(spec->str, ',')) {
		error_setf(error, EINVAL, "driver '%s' has a ','", spec->str);
		return NULL;
	}
	for (GList *l = members; l; l = l->next) {
		const char *key = l->data;
		g_autofree char *v = NULL;

		if (!strcmp(key, "driver"))
			continue;
		v = scalar_text(json_object_get_member(args, key));
		if (!v) {
			error_setf(error, EINVAL,
				   "property '%s' must be a "
				   "string, integer or boolean",
				   key);
			return NULL;
		}
		if (strchr(v, ',') || strchr(key, ',') || strchr(key, '=')) {
			error_setf(error, EINVAL,
				   "property '%s': names and "
				   "values cannot hold ',' (or '=' in names)",
				   key);
			return NULL;
		}
		g_string_append_printf(spec, ",%s=%s", key, v);
	}
	if (machine_device_add(s->m, spec->str, &dev, error) < 0)
		return NULL;
	ev = json_object_new();
	json_object_set_string_member(ev, "device", dev->id);
	json_object_set_string_member(ev, "driver", dev->type->t.name);
	control_event(s->c, "DEVICE_ADDED", object_node(ev));
	ret = json_object_new();
	json_object_set_string_member(ret, "id", dev->id);
	return object_node(ret);
}

static JsonNode *cmd_device_del(struct control_session *s, JsonObject *args,
				GError **error)
{
	const char *id = json_object_get_string_member(args, "id");
	struct modvmm_device *dev = device_find(s->m->devs, id);
	JsonObject *ev;

	if (!dev) {
		error_setf(error, ENODEV, "device '%s' does not exist", id);
		return NULL;
	}
	device_destroy(dev);
	ev = json_object_new();
	json_object_set_string_member(ev, "device", id);
	control_event(s->c, "DEVICE_DELETED", object_node(ev));
	return empty_object();
}

/* Compatibility --------------------------------------------------------- */

static JsonNode *manifest_node(struct manifest *mf, GError **error)
{
	g_autofree char *text = manifest_to_json(mf);
	JsonNode *n = json_from_string(text, error);

	manifest_free(mf);
	return n;
}

static JsonNode *cmd_query_manifest(struct control_session *s, JsonObject *args,
				    GError **error)
{
	(void)args;
	return manifest_node(inventory_guest(s->m->devs, s->m->type,
					     s->m->alias, s->m->cpu, 0),
			     error);
}

static JsonNode *cmd_query_inventory(struct control_session *s,
				     JsonObject *args, GError **error)
{
	(void)args;
	return manifest_node(
		inventory_host(s->m->devs->loader, machine_registry(),
			       s->m->cpu_offer), error);
}

/* The tables ------------------------------------------------------------ */

static JsonNode *cmd_query_commands(struct control_session *s, JsonObject *args,
				    GError **error);
static JsonNode *cmd_query_events(struct control_session *s, JsonObject *args,
				  GError **error);

static JsonNode *cmd_qmp_capabilities(struct control_session *s,
				      JsonObject *args, GError **error)
{
	(void)args;
	(void)error;
	s->negotiated = 1;
	return empty_object();
}

static const struct control_arg no_args[] = { { NULL } };
static const struct control_arg module_load_args[] = {
	{ "file", "string", 1 },
	{ NULL },
};
static const struct control_arg module_unload_args[] = {
	{ "name", "string", 1 },
	{ NULL },
};
static const struct control_arg device_add_args[] = {
	{ "driver", "string", 1 },
	{ "id", "string", 0 },
	{ NULL },
};
static const struct control_arg snapshot_save_args[] = {
	{ "file", "string", 1 },
	{ NULL },
};
static const struct control_arg migrate_args[] = {
	{ "uri", "string", 1 },
	{ "downtime-ms", "int", 0 },
	{ "timeout-s", "int", 0 },
	{ "tls", "string", 0 },
	{ NULL },
};
static const struct control_arg migrate_check_args[] = {
	{ "uri", "string", 1 },
	{ "tls", "string", 0 },
	{ NULL },
};
static const struct control_arg uri_args[] = {
	{ "uri", "string", 1 },
	{ NULL },
};
static const struct control_arg device_del_args[] = {
	{ "id", "string", 1 },
	{ NULL },
};

/* clang-format off */
static const struct control_cmd cmds[] = {
	{ "qmp_capabilities", no_args,            0, cmd_qmp_capabilities, 1 },
	{ "query-commands",   no_args,            0, cmd_query_commands,   1 },
	{ "query-events",     no_args,            0, cmd_query_events,     1 },
	{ "query-status",     no_args,            0, cmd_query_status,     1 },
	{ "migrate-incoming", uri_args,           0, cmd_migrate_incoming, 1 },
	{ "stop",             no_args,            0, cmd_stop },
	{ "cont",             no_args,            0, cmd_cont },
	{ "quit",             no_args,            0, cmd_quit },
	{ "query-machines",   no_args,            0, cmd_query_machines },
	{ "query-modules",    no_args,            0, cmd_query_modules },
	{ "module-load",      module_load_args,   0, cmd_module_load },
	{ "module-unload",    module_unload_args, 0, cmd_module_unload },
	{ "query-devices",    no_args,            0, cmd_query_devices },
	{ "device-add",       device_add_args,    1, cmd_device_add },
	{ "device-del",       device_del_args,    0, cmd_device_del },
	{ "query-manifest",   no_args,            0, cmd_query_manifest },
	{ "query-inventory",  no_args,            0, cmd_query_inventory },
	{ "snapshot-save",    snapshot_save_args, 0, cmd_snapshot_save },
	{ "migrate",          migrate_args,       0, cmd_migrate },
	{ "migrate-check",    migrate_check_args, 0, cmd_migrate_check },
	{ "query-migrate",    no_args,            0, cmd_query_migrate,    1 },
	{ "migrate-cancel",   no_args,            0, cmd_migrate_cancel,   1 },
};

static const char *const no_data[] = { NULL };
static const char *const module_data[] = {
	"name", "version", "abi", "intree", "path", "devices", NULL,
};
static const char *const name_data[] = { "name", NULL };
static const char *const device_added_data[] = { "device", "driver", NULL };
static const char *const device_data[] = { "device", NULL };
static const char *const panic_data[] = { "action", NULL };
static const char *const shutdown_data[] = { "guest", "reason", NULL };
static const char *const migration_data[] = {
	"status", "uri", "transferred", "remaining", NULL,
};

static const struct control_event_desc events[] = {
	{ "STOP",            no_data },
	{ "RESUME",          no_data },
	{ "MODULE_LOADED",   module_data },
	{ "MODULE_UNLOADED", name_data },
	{ "DEVICE_ADDED",    device_added_data },
	{ "DEVICE_DELETED",  device_data },
	{ "GUEST_PANICKED",  panic_data },
	{ "RESET",           shutdown_data },
	{ "SHUTDOWN",        shutdown_data },
	{ "MIGRATION",       migration_data },
};
/* clang-format on */

static JsonNode *cmd_query_commands(struct control_session *s, JsonObject *args,
				    GError **error)
{
	JsonArray *a = json_array_new();

	(void)s;
	(void)args;
	(void)error;
	for (size_t i = 0; i < G_N_ELEMENTS(cmds); i++) {
		JsonObject *o = json_object_new();
		JsonArray *as = json_array_new();

		json_object_set_string_member(o, "name", cmds[i].name);
		for (const struct control_arg *ca = cmds[i].args; ca->name;
		     ca++) {
			JsonObject *ao = json_object_new();

			json_object_set_string_member(ao, "name", ca->name);
			json_object_set_string_member(ao, "type", ca->type);
			json_object_set_boolean_member(ao, "required",
						       ca->required);
			json_array_add_object_element(as, ao);
		}
		json_object_set_array_member(o, "arguments", as);
		json_object_set_boolean_member(o, "open-arguments",
					       cmds[i].open_args);
		json_array_add_object_element(a, o);
	}
	return array_node(a);
}

static JsonNode *cmd_query_events(struct control_session *s, JsonObject *args,
				  GError **error)
{
	JsonArray *a = json_array_new();

	(void)s;
	(void)args;
	(void)error;
	for (size_t i = 0; i < G_N_ELEMENTS(events); i++) {
		JsonObject *o = json_object_new();
		JsonArray *d = json_array_new();

		json_object_set_string_member(o, "name", events[i].name);
		for (const char *const *m = events[i].data; *m; m++)
			json_array_add_string_element(d, *m);
		json_object_set_array_member(o, "data", d);
		json_array_add_object_element(a, o);
	}
	return array_node(a);
}

static const struct control_cmd *cmd_find(const char *name)
{
	for (size_t i = 0; i < G_N_ELEMENTS(cmds); i++)
		if (!strcmp(cmds[i].name, name))
			return &cmds[i];
	return NULL;
}

static const char *error_class(const GError *err)
{
	return err->domain == MODVMM_ERROR && err->code == ENODEV
		       ? "DeviceNotFound"
		       : "GenericError";
}

const struct control_commands *control_commands(void)
{
	static const struct control_commands table = { cmd_find,
						       error_class };

	return &table;
}
