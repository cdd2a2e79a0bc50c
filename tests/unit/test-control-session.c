// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The control protocol without a socket or a guest: one session against
 * an offline machine (modules and devices, no KVM), request line by
 * request line, each with the exact reply a client reads. The socket,
 * events and the commands that need a guest are tests/kvm/control-suite.py's.
 */
#include <sys/stat.h>
#include <unistd.h>

#include "check-tap.h"
#include "core/control-cmds.h"

static char *moddir;
static struct machine *m;

static void copy_fixture(const char *name)
{
	g_autofree char *src = fixture_path(name);
	g_autofree char *dst = g_build_filename(moddir, name, NULL);
	g_autofree char *data = NULL;
	gsize len;

	ck_assert(g_file_get_contents(src, &data, &len, NULL));
	ck_assert(g_file_set_contents(dst, data, (gssize)len, NULL));
}

static void setup(void)
{
	char *dirs[2] = { NULL, NULL };
	struct machine_config cfg = { .no_defaults = 1, .offline = 1 };
	g_autoptr(GError) err = NULL;

	moddir = g_dir_make_tmp("modvmm-control-XXXXXX", NULL);
	ck_assert_ptr_nonnull(moddir);
	chmod(moddir, 0755);
	copy_fixture("fx-slot.so");
	dirs[0] = moddir;
	cfg.modules.dirs = dirs;
	ck_assert_msg(machine_create(&cfg, &m, &err) == 0, "%s",
		      err ? err->message : "");
}

static void teardown(void)
{
	g_autoptr(GDir) d = g_dir_open(moddir, 0, NULL);
	const char *name;

	machine_free(m);
	while (d && (name = g_dir_read_name(d))) {
		g_autofree char *p = g_build_filename(moddir, name, NULL);

		unlink(p);
	}
	rmdir(moddir);
	g_free(moddir);
}

/* One session, in order: what the client sends, what it reads back. */
static const struct {
	const char *line;
	const char *reply; /* NULL: no reply; ending in '*': a prefix */
} session[] = {
	{ "{\"execute\":\"query-status\"}",
	  "{\"error\":{\"class\":\"CommandNotFound\",\"desc\":\"Expecting "
	  "capabilities negotiation with 'qmp_capabilities'\"}}" },
	{ "{\"execute\":\"qmp_capabilities\",\"id\":1}",
	  "{\"return\":{},\"id\":1}" },
	{ "{\"execute\":\"qmp_capabilities\"}",
	  "{\"error\":{\"class\":\"CommandNotFound\",\"desc\":\"Capabilities "
	  "negotiation is already complete, command ignored\"}}" },
	/* Every line gets a reply: a client waits for one. */
	{ "", "{\"error\":{\"class\":\"GenericError\",\"desc\":\"QMP input "
	      "is an empty line: expected a JSON object\"}}" },
	{ "   \r", "{\"error\":{\"class\":\"GenericError\",\"desc\":\"QMP "
		 "input is an empty line: expected a JSON object\"}}" },
	/* json-glib would echo `inf.0` (not JSON) and read -1. */
	{ "{\"execute\":\"query-status\",\"id\":1e99999}",
	  "{\"error\":{\"class\":\"GenericError\",\"desc\":\"JSON number out "
	  "of range at offset 31 (member 'id'): 1e99999 is beyond a "
	  "double\"}}" },
	{ "{\"execute\":\"query-status\",\"id\":99999999999999999999}",
	  "{\"error\":{\"class\":\"GenericError\",\"desc\":\"JSON number out "
	  "of range at offset 31 (member 'id'): 99999999999999999999 is "
	  "beyond a 64-bit integer\"}}" },
	{ "{\"execute\":\"query-status\",\"id\":[1,{\"a\":\"1e999\"},-1e999]}",
	  "{\"error\":{\"class\":\"GenericError\",\"desc\":\"JSON number out "
	  "of range at offset 48 (member 'id'): -1e999 is beyond a "
	  "double\"}}" },
	{ "{\"execute\":\"query-status\",\"id\":-9223372036854775808}",
	  "{\"return\":{\"status\":\"shutdown\",\"running\":false},\"id\":"
	  "-9223372036854775808}" },
	{ "{\"execute\":\"query-status\",\"id\":\"a\"}",
	  "{\"return\":{\"status\":\"shutdown\",\"running\":false},\"id\":"
	  "\"a\"}" },
	{ "{\"execute\":\"stop\"}",
	  "{\"error\":{\"class\":\"GenericError\",\"desc\":\"no guest runs in "
	  "this host\"}}" },
	{ "{\"execute\":\"device-add\",\"arguments\":{\"driver\":\"fx-slot\","
	  "\"id\":\"s0\",\"value\":3}}",
	  "{\"return\":{\"id\":\"s0\"}}" },
	{ "{\"execute\":\"query-devices\"}",
	  "{\"return\":[{\"id\":\"s0\",\"driver\":\"fx-slot\",\"module\":"
	  "\"fx-slot\",\"module-version\":\"1.0.0\",\"vmstate\":\"fx-slot@1\","
	  "\"properties\":{\"id\":\"66\",\"value\":\"3\"}}]}" },
	{ "{\"execute\":\"device-add\",\"arguments\":{\"driver\":\"fx-slot\","
	  "\"value\":true}}",
	  "{\"error\":{\"class\":\"GenericError\",\"desc\":\"fx-slot0: "
	  "property "
	  "value: 'on' is not a u8 (0..255)\"}}" },
	{ "{\"execute\":\"module-unload\",\"arguments\":{\"name\":\"fx-slot\"}"
	  "}",
	  "{\"error\":{\"class\":\"GenericError\",\"desc\":\"cannot unload "
	  "module fx-slot: 1 instance of device type fx-slot exists\"}}" },
	{ "{\"execute\":\"device-del\",\"arguments\":{\"id\":\"s0\"}}",
	  "{\"return\":{}}" },
	{ "{\"execute\":\"device-del\",\"arguments\":{\"id\":\"s0\"}}",
	  "{\"error\":{\"class\":\"DeviceNotFound\",\"desc\":\"device 's0' "
	  "does not exist\"}}" },
	{ "{\"execute\":\"module-unload\",\"arguments\":{\"name\":\"fx-slot\"}"
	  "}",
	  "{\"return\":{}}" },
	{ "{\"execute\":\"query-modules\"}", "{\"return\":[]}" },
	{ "{\"execute\":\"module-load\",\"arguments\":{\"file\":\"fx-slot\"}}",
	  "{\"return\":{\"file\":\"fx-slot.so\",\"name\":\"fx-slot\","
	  "\"version\":\"1.0.0\",\"abi\":\"" MODVMM_ABI_STRING "\",*" },
	{ "{\"execute\":\"module-load\",\"arguments\":{\"file\":\"/etc/"
	  "passwd\"}}",
	  "{\"error\":{\"class\":\"GenericError\",\"desc\":\"passwd: "
	  "refusing module: /etc/passwd is not in a module directory (*" },
	{ "{\"execute\":\"query-machines\"}",
	  "{\"return\":[{\"name\":\"microvm-1.0\",\"alias\":\"microvm\","
	  "\"released\":*" },
	{ "{\"execute\":\"query-manifest\"}",
	  "{\"return\":{\"modvmm-manifest\":1,\"abi\":\"" MODVMM_ABI_STRING
	  "\",\"machine\":"
	  "\"microvm-1.0\",\"machine_alias\":true,\"devices\":[]}}" },
	{ "{\"execute\":\"query-inventory\"}",
	  "{\"return\":{\"modvmm-inventory\":1,*" },
	{ "{\"execute\":\"nope\",\"id\":[1,{\"a\":null}]}",
	  "{\"error\":{\"class\":\"CommandNotFound\",\"desc\":\"The command "
	  "nope has not been found\"},\"id\":[1,{\"a\":null}]}" },
	{ "{\"execute\":\"device-del\",\"arguments\":{\"id\":1.5}}",
	  "{\"error\":{\"class\":\"GenericError\",\"desc\":\"Invalid parameter "
	  "type for 'id', expected: string\"}}" },
	{ "{\"execute\":\"device-add\",\"arguments\":{}}",
	  "{\"error\":{\"class\":\"GenericError\",\"desc\":\"Parameter "
	  "'driver' is missing\"}}" },
	{ "{\"execute\":\"quit\",\"arguments\":{\"now\":1}}",
	  "{\"error\":{\"class\":\"GenericError\",\"desc\":\"Parameter 'now' "
	  "is unexpected\"}}" },
	{ "{\"execute\":\"quit\"", "{\"error\":{\"class\":\"GenericError\","
				   "\"desc\":\"JSON parse error: *" },
	{ "null", "{\"error\":{\"class\":\"GenericError\",\"desc\":\"QMP input "
		  "must be a JSON object\"}}" },
	{ "{\"execute\":\"\\udc00x\"}",
	  "{\"error\":{\"class\":\"GenericError\",\"desc\":\"JSON parse error: "
	  "a string is not valid UTF-8\"}}" },
	{ "{\"execute\":'stop'}",
	  "{\"error\":{\"class\":\"GenericError\",\"desc\":\"JSON parse error: "
	  "unexpected byte 0x27 at offset 11\"}}" },
	/* json-glib would leak the string it was reading. */
	{ "{\"execute\":\"\\ud800\\ud800\"}",
	  "{\"error\":{\"class\":\"GenericError\",\"desc\":\"JSON parse error: "
	  "unexpected byte 0x5c at offset 12\"}}" },
	/* json-glib would take the '"' after it as part of the string. */
	{ "{\"execute\":\"query-status\",\"id\":[\"\\udccc\",\",[[\"]}",
	  "{\"error\":{\"class\":\"GenericError\",\"desc\":\"JSON parse error: "
	  "unexpected byte 0x5c at offset 33\"}}" },
	/* json-glib would run the second and leak the first. */
	{ "{\"execute\":\"query-status\"}{\"execute\":\"stop\"}",
	  "{\"error\":{\"class\":\"GenericError\",\"desc\":\"JSON parse error: "
	  "unexpected byte 0x7b at offset 26\"}}" },
	{ "{\"execute\":\"query-status\",\"id\":\"x\",\"execute2\":1}",
	  "{\"error\":{\"class\":\"GenericError\",\"desc\":\"QMP input member "
	  "'execute2' is unexpected\"},\"id\":\"x\"}" },
};

START_TEST(test_control_session_replies)
{
	struct control_session s = { .m = m, .cmds = control_commands() };

	for (size_t i = 0; i < G_N_ELEMENTS(session); i++) {
		const char *want = session[i].reply;
		g_autofree char *got = control_session_line(
			&s, session[i].line, strlen(session[i].line));
		size_t n;

		if (!want) {
			ck_assert_msg(!got, "%s: replied %s", session[i].line,
				      got);
			continue;
		}
		ck_assert_msg(got, "%s: no reply", session[i].line);
		n = strlen(want);
		if (want[n - 1] == '*')
			ck_assert_msg(!strncmp(got, want, n - 1),
				      "%s:\n got  %s\n want %s",
				      session[i].line, got, want);
		else
			ck_assert_msg(!strcmp(got, want),
				      "%s:\n got  %s\n want %s",
				      session[i].line, got, want);
	}
}
END_TEST

START_TEST(test_control_greeting)
{
	g_autofree char *g = control_greeting();

	ck_assert_str_eq(g, "{\"QMP\":{\"version\":{\"qemu\":{\"major\":0,"
			    "\"minor\":1,\"micro\":0},\"package\":\"modvmm "
			    "0.1.0\",\"abi\":\"" MODVMM_ABI_STRING "\"},"
			    "\"capabilities\":[]}}");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("control");
	TCase *tc = tcase_create("control");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_control_session_replies);
	tcase_add_test(tc, test_control_greeting);
	suite_add_tcase(s, tc);
	return check_run(s);
}
