#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The control socket suite: every command and event over a real socket,
against modvmm running the built-in guest on /dev/kvm. TAP output.

    control-suite.py BUILD_DIR SOURCE_DIR [NAME...]

Each case starts its own modvmm (a fraction of a second) with a private
copy of the in-tree modules, so that modules can be added to its module
directory while it runs. The guest runs with `forever pace=10 hotplug`:
it prints a counter line every 10 ms or so and reports the hot-plug slot.
"""
import concurrent.futures
import contextlib
import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import types

BUILD = os.path.abspath(sys.argv[1])
SRC = os.path.abspath(sys.argv[2])
ONLY = set(sys.argv[3:])
MODVMM = os.path.join(BUILD, "modvmm")
FIXTURES = os.path.join(BUILD, "tests", "fixtures")
with open(os.path.join(SRC, "abi", "include", "modvmm", "abi.h")) as _f:
    ABI = ".".join(re.findall(r"#define MODVMM_ABI_M(?:AJ|IN)OR (\d+)",
                              _f.read()))


class Guest:
    def __init__(self, tmp, append="forever pace=10 hotplug", extra=(),
                 timeout=None, paused=False, netns=None, modules=(),
                 disk=False, rtc="cmos-rtc", drop=(), env=None):
        self.tmp = tmp
        if disk:
            # The guest's virtio devices: a 1 MiB disk, entropy, the RTC.
            self.disk = os.path.join(tmp, "disk.img")
            with open(self.disk, "wb") as f:
                f.truncate(1 << 20)
            extra = list(extra) + [
                "--device", f"virtio-blk,file={self.disk}",
                "--device", "virtio-rng", "--device", rtc]
        self.moddir = os.path.join(tmp, "modules")
        os.makedirs(self.moddir, mode=0o755)
        for so in os.listdir(os.path.join(BUILD, "modules")):
            if so.endswith(".so") and so not in drop:
                shutil.copy(os.path.join(BUILD, "modules", so), self.moddir)
        for so in modules:
            shutil.copy(os.path.join(FIXTURES, so), self.moddir)
        self.sock = os.path.join(tmp, "ctl.sock")
        self.out_path = os.path.join(tmp, "out")
        cmd = [MODVMM, "run", "--module-dir", self.moddir, "--control",
               self.sock, "--append", append] + list(extra)
        if timeout:
            cmd += ["--control-timeout", str(timeout)]
        if paused:
            cmd += ["--paused"]
        if netns:
            netns.create()
            cmd = ["ip", "netns", "exec", netns.a] + cmd
        self.out = open(self.out_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.out,
                                     stderr=subprocess.STDOUT,
                                     env=dict(os.environ, **env) if env
                                     else None)
        deadline = time.time() + 20
        while not os.path.exists(self.sock):
            if self.proc.poll() is not None or time.time() > deadline:
                raise AssertionError("modvmm did not open its socket: " +
                                     self.output())
            time.sleep(0.01)

    def output(self):
        with open(self.out_path, errors="replace") as f:
            return f.read()

    def counts(self):
        return len(re.findall(r"^count \d+ ", self.output(), re.M))

    def wait_for(self, pattern, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if re.search(pattern, self.output(), re.M):
                return
            time.sleep(0.02)
        raise AssertionError(f"guest never printed /{pattern}/; tail: " +
                             self.output()[-500:])

    def assert_running(self):
        """The guest still counts: two new counter lines within 10 s."""
        n = self.counts()
        deadline = time.time() + 10
        while self.counts() < n + 2:
            if time.time() > deadline or self.proc.poll() is not None:
                raise AssertionError("the guest stopped counting")
            time.sleep(0.02)

    def wait_exit(self, timeout=20):
        try:
            return self.proc.wait(timeout)
        finally:
            self.out.close()

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.out.close()


class Client:
    def __init__(self, path, negotiate=True):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(10)
        self.s.connect(path)
        self.buf = b""
        self.events = []
        self.greeting = self.read()
        if negotiate:
            assert self.cmd("qmp_capabilities") == {}, "negotiation failed"

    def send(self, data):
        self.s.sendall(data if isinstance(data, bytes) else data.encode())

    def read(self, timeout=10):
        self.s.settimeout(timeout)
        while b"\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("server closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def reply(self):
        """The next reply; events on the way are kept."""
        while True:
            m = self.read()
            if "event" in m:
                self.events.append(m)
            else:
                return m

    def request(self, name, args=None, **extra):
        req = {"execute": name}
        if args is not None:
            req["arguments"] = args
        req.update(extra)
        self.send(json.dumps(req) + "\n")
        return self.reply()

    def cmd(self, _name, **args):
        r = self.request(_name, args or None)
        assert "return" in r, f"{_name}: {r}"
        return r["return"]

    def error(self, name, args=None, cls="GenericError"):
        r = self.request(name, args)
        assert "error" in r, f"{name}: expected an error, got {r}"
        assert r["error"]["class"] == cls, r
        return r["error"]["desc"]

    def event(self, name, timeout=10):
        deadline = time.time() + timeout
        while True:
            for e in self.events:
                if e["event"] == name:
                    self.events.remove(e)
                    return e
            left = deadline - time.time()
            if left <= 0:
                raise AssertionError(f"no {name} event")
            m = self.read(left)
            assert "event" in m, f"unexpected reply {m}"
            self.events.append(m)

    def close(self):
        self.s.close()


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def ctl(g, *words, check=True):
    r = subprocess.run([MODVMM, "ctl"] + list(words[:1]) + [g.sock] +
                       list(words[1:]), capture_output=True, text=True,
                       timeout=30)
    if check and r.returncode:
        raise AssertionError(f"modvmm ctl {words}: {r.returncode} "
                             f"{r.stderr}")
    return r


def ctl_plain(g, *words, check=True):
    r = subprocess.run([MODVMM, "ctl", g.sock] + list(words),
                       capture_output=True, text=True, timeout=30)
    if check and r.returncode:
        raise AssertionError(f"modvmm ctl {words}: {r.returncode} "
                             f"{r.stderr}")
    return r


# Cases ------------------------------------------------------------------

def greeting_has_version_and_capabilities(g):
    c = Client(g.sock, negotiate=False)
    q = c.greeting["QMP"]
    expect(q["capabilities"] == [], q)
    expect(q["version"]["package"].startswith("modvmm "), q)
    expect(q["version"]["abi"] == ABI, q)
    expect(set(q["version"]["qemu"]) == {"major", "minor", "micro"}, q)


def commands_before_capabilities_refused(g):
    c = Client(g.sock, negotiate=False)
    d = c.error("query-status", cls="CommandNotFound")
    expect(d == "Expecting capabilities negotiation with 'qmp_capabilities'",
           d)
    expect(c.request("qmp_capabilities") == {"return": {}}, "negotiate")
    d = c.error("qmp_capabilities", cls="CommandNotFound")
    expect("already complete" in d, d)
    expect(c.cmd("query-status")["status"] == "running", "status")


def stop_and_cont_pause_the_guest(g):
    c = Client(g.sock)
    other = Client(g.sock)
    expect(c.cmd("query-status") == {"status": "running", "running": True},
           "running")
    expect(c.cmd("stop") == {}, "stop")
    for cl in (c, other):
        e = cl.event("STOP")
        expect(e["data"] == {} and set(e["timestamp"]) ==
               {"seconds", "microseconds"}, e)
        expect(abs(e["timestamp"]["seconds"] - time.time()) < 60, e)
    expect(c.cmd("query-status") == {"status": "paused", "running": False},
           "paused")
    n = g.counts()
    time.sleep(0.5)
    expect(g.counts() == n, "the guest counted while paused")
    # As in QMP: stop on a paused guest and cont on a running one are
    # done, with no event (nothing changed).
    expect(c.cmd("stop") == {}, "stop again")
    expect(c.cmd("query-status")["status"] == "paused", "still paused")
    expect(c.cmd("cont") == {}, "cont")
    c.event("RESUME")
    other.event("RESUME")
    g.assert_running()
    expect(c.cmd("cont") == {}, "cont again")
    expect(c.cmd("query-status")["status"] == "running", "still running")
    time.sleep(0.2)
    c.cmd("query-status")
    expect(not [e for e in c.events if e["event"] in ("STOP", "RESUME")],
           c.events)


def paused_start_waits_for_cont(g):
    c = Client(g.sock)
    expect(c.cmd("query-status")["status"] == "paused", "paused at start")
    time.sleep(0.3)
    expect("modvmm guest: hello" not in g.output(), "guest ran while paused")
    c.cmd("cont")
    g.wait_for("^count 2 ")


def query_machines_lists_types(g):
    c = Client(g.sock)
    ms = c.cmd("query-machines")
    expect(ms and ms[0]["name"] == "microvm-1.0", ms)
    m = ms[0]
    expect(m["alias"] == "microvm" and m["current"] is True, m)
    expect(m["status"] == "supported", m)
    expect(re.fullmatch(r"\d{4}-\d\d-\d\d", m["released"]), m)
    expect(set(m) >= {"deprecated-on", "removed-on", "compat-props"}, m)


def query_modules_shows_version_abi_origin(g):
    c = Client(g.sock)
    mods = {m["name"]: m for m in c.cmd("query-modules")}
    expect(set(mods) == {"cmos-rtc", "debug-exit", "i8042", "pvpanic",
                         "uart16550", "virtio-blk", "virtio-rng"},
           mods.keys())
    u = mods["uart16550"]
    expect(u["version"] == "1.0.0" and u["abi"] == ABI, u)
    expect(u["intree"] is True and u["instances"] == 1, u)
    expect(mods["pvpanic"]["instances"] == 0, mods["pvpanic"])
    expect(u["path"] == os.path.join(os.path.realpath(g.moddir),
                                     "uart16550.so"), u)


def query_devices_shows_properties(g):
    c = Client(g.sock)
    devs = {d["id"]: d for d in c.cmd("query-devices")}
    u = devs["uart165500"]
    expect(u["driver"] == "uart16550" and u["vmstate"] == "uart16550@1", u)
    expect(u["properties"]["iobase"] == str(0x3f8), u)
    expect(u["module"] == "uart16550" and u["module-version"] == "1.0.0", u)


def hot_added_device_seen_by_guest(g):
    c = Client(g.sock)
    watcher = Client(g.sock)
    g.wait_for("^count 3 ")
    expect("hotplug: slot" not in g.output(), "slot busy before the add")
    # The module arrives in the module directory after start-up.
    shutil.copy(os.path.join(FIXTURES, "fx-slot.so"), g.moddir)
    m = c.cmd("module-load", file="fx-slot")
    expect(m["name"] == "fx-slot" and m["version"] == "1.0.0", m)
    expect(m["intree"] is False and m["devices"] == ["fx-slot"], m)
    e = watcher.event("MODULE_LOADED")
    expect(e["data"]["name"] == "fx-slot" and
           e["data"]["path"].endswith("/fx-slot.so"), e)
    r = c.request("device-add", {"driver": "fx-slot", "id": "slot0",
                                 "value": 9})
    expect(r == {"return": {"id": "slot0"}}, r)
    e = watcher.event("DEVICE_ADDED")
    expect(e["data"] == {"device": "slot0", "driver": "fx-slot"}, e)
    g.wait_for(r"^hotplug: slot 0x520 id 66 value 9$")
    devs = [d["id"] for d in c.cmd("query-devices")]
    expect("slot0" in devs, devs)
    d = c.error("module-unload", {"name": "fx-slot"})
    expect(d == "cannot unload module fx-slot: 1 instance of device type "
           "fx-slot exists", d)
    expect(c.cmd("device-del", id="slot0") == {}, "device-del")
    e = watcher.event("DEVICE_DELETED")
    expect(e["data"] == {"device": "slot0"}, e)
    g.wait_for(r"^hotplug: slot 0x520 empty$")
    expect(c.cmd("module-unload", name="fx-slot") == {}, "unload")
    e = watcher.event("MODULE_UNLOADED")
    expect(e["data"] == {"name": "fx-slot"}, e)
    names = [m["name"] for m in c.cmd("query-modules")]
    expect("fx-slot" not in names, names)
    g.assert_running()


def module_load_refusals(g):
    c = Client(g.sock)
    d = c.error("module-load", {"file": "nosuch"})
    expect(d == f"no nosuch.so in the module directories ({g.moddir}): "
           "give the name of a module there, or a path into one of them", d)
    # modvmm ctl names the command once, not twice.
    r = ctl_plain(g, "module-load", "file=nosuch", check=False)
    expect(r.returncode == 1 and r.stderr.startswith(
        "modvmm: ctl: module-load: no nosuch.so in the module "), r.stderr)
    outside = os.path.join(g.tmp, "fx-slot.so")
    shutil.copy(os.path.join(FIXTURES, "fx-slot.so"), outside)
    d = c.error("module-load", {"file": outside})
    expect(d == f"fx-slot.so: refusing module: {outside} is not in a "
           f"module directory ({g.moddir}) (rule: module directory)", d)
    # A bare name is held to the same rule as a path, on the file it
    # resolves to: a link in a module directory leads nowhere else.
    os.symlink(outside, os.path.join(g.moddir, "fx-link.so"))
    for f in ("fx-link", os.path.join(g.moddir, "fx-link.so")):
        d = c.error("module-load", {"file": f})
        expect(d == f"fx-link.so: refusing module: {outside} is not in a "
               f"module directory ({g.moddir}) (rule: module directory)", d)
    os.unlink(os.path.join(g.moddir, "fx-link.so"))
    expect("fx-slot" not in [m["name"] for m in c.cmd("query-modules")],
           "a module outside the directories was loaded")
    shutil.copy(os.path.join(FIXTURES, "fx-not-elf.so"), g.moddir)
    d = c.error("module-load", {"file": "fx-not-elf.so"})
    expect(d.startswith("fx-not-elf.so: "), d)
    shutil.copy(os.path.join(FIXTURES, "fx-abi-minor.so"), g.moddir)
    d = c.error("module-load", {"file": "fx-abi-minor"})
    major, minor = ABI.split(".")
    expect(d == f"fx-abi-minor.so: built for ABI {major}.{int(minor) + 1}, "
           f"this host provides ABI {ABI}", d)
    d = c.error("module-load", {"file": "uart16550"})
    expect("uart16550" in d and "already" in d, d)
    d = c.error("module-unload", {"name": "nosuch"})
    expect(d == "no module named 'nosuch' is loaded", d)
    d = c.error("module-unload", {"name": "uart16550"})
    expect(d.startswith("cannot unload module uart16550: 1 instance"), d)
    g.assert_running()


def thread_filters(pid):
    """{thread name: seccomp mode} of every thread of a process."""
    modes = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/comm") as f:
            name = f.read().strip()
        with open(f"/proc/{pid}/task/{tid}/status") as f:
            mode = re.search(r"^Seccomp:\s+(\d)", f.read(), re.M).group(1)
        modes.setdefault(name, set()).add(int(mode))
    return modes


def every_thread_has_its_filter(g):
    """With a virtio disk (so the I/O thread runs): every thread of the
    running guest has a system call filter (mode 2), modules still load at
    run time, and --seccomp=off installs none."""
    c = Client(g.sock)
    g.wait_for("^count 2 ")
    modes = thread_filters(g.proc.pid)
    for name in ("modvmm", "timers", "control", "modvmm-io", "vcpu0"):
        expect(modes.get(name) == {2}, f"{name}: {modes}")
    shutil.copy(os.path.join(FIXTURES, "fx-slot.so"), g.moddir)
    expect(c.cmd("module-load", file="fx-slot")["name"] == "fx-slot",
           "module-load under the filter")
    c.cmd("device-add", driver="fx-slot")
    g.assert_running()
    sub = os.path.join(g.tmp, "off")
    os.makedirs(sub)
    h = Guest(sub, extra=["--seccomp=off"])
    try:
        h.wait_for("^count 2 ")
        modes = thread_filters(h.proc.pid)
        expect(all(m == {0} for n, m in modes.items()
                   if not n.startswith("kvm-")), modes)
    finally:
        h.close()
    r = subprocess.run([MODVMM, "run", "--seccomp=strict"],
                       capture_output=True, text=True, timeout=30)
    expect(r.returncode == 2 and r.stderr == "modvmm: --seccomp=strict: "
           "expected enforce, log or off\n", r.stderr)


def module_allowlist_refuses_unlisted(g):
    """Its own guest, started with --module-allowlist: sha256sum output of
    the in-tree modules and fx-slot. An unlisted module is refused at run
    time naming the rule, and the guest keeps running; a listed one loads.
    Without a listed uart16550, no guest starts."""
    def sha256sum(*paths):
        r = subprocess.run(["sha256sum"] + list(paths), capture_output=True,
                           text=True, check=True)
        return r.stdout

    intree = sorted(os.path.join(BUILD, "modules", so)
                    for so in os.listdir(os.path.join(BUILD, "modules"))
                    if so.endswith(".so"))
    slot = os.path.join(FIXTURES, "fx-slot.so")
    counter = os.path.join(FIXTURES, "fx-counter-1.0.so")
    sub = os.path.join(g.tmp, "allowlisted")
    os.makedirs(sub, mode=0o700)
    allow = os.path.join(sub, "allow")
    with open(allow, "w") as f:
        f.write("# in-tree modules and the hot-plug fixture\n" +
                sha256sum(*intree, slot))
    os.chmod(allow, 0o644)
    h = Guest(sub, extra=["--module-allowlist", allow])
    try:
        c = Client(h.sock)
        shutil.copy(counter, h.moddir)
        shutil.copy(slot, h.moddir)
        digest = sha256sum(counter).split()[0]
        d = c.error("module-load", {"file": "fx-counter-1.0"})
        expect(d == f"fx-counter-1.0.so: refusing module: sha256 {digest} "
               f"is not in allowlist {allow} (rule: --module-allowlist)", d)
        h.assert_running()
        m = c.cmd("module-load", file="fx-slot")
        expect(m["name"] == "fx-slot", m)
        names = [x["name"] for x in c.cmd("query-modules")]
        expect("fx-slot" in names and "fx-counter" not in names, names)
        # The list is read at every load: a line added admits the module.
        with open(allow, "a") as f:
            f.write(sha256sum(counter))
        m = c.cmd("module-load", file="fx-counter-1.0")
        expect(m["name"] == "fx-counter", m)
        h.assert_running()
    finally:
        h.close()
    # At start-up every module is held to the list.
    short = os.path.join(sub, "allow-short")
    with open(short, "w") as f:
        f.write(sha256sum(*[p for p in intree
                            if not p.endswith("/uart16550.so")]))
    os.chmod(short, 0o644)
    r = subprocess.run([MODVMM, "run", "--module-dir",
                        os.path.join(BUILD, "modules"),
                        "--module-allowlist", short], capture_output=True,
                       text=True, timeout=30)
    expect(r.returncode == 125, f"status {r.returncode}: {r.stderr}")
    expect(re.search(r"^modvmm: uart16550\.so: refusing module: sha256 "
                     r"[0-9a-f]{64} is not in allowlist " + re.escape(short) +
                     r" \(rule: --module-allowlist\)$", r.stderr, re.M),
           r.stderr)


def device_add_and_del_refusals(g):
    c = Client(g.sock)
    d = c.error("device-del", {"id": "nosuch"}, cls="DeviceNotFound")
    expect(d == "device 'nosuch' does not exist", d)
    d = c.error("device-add", {"driver": "nosuch"})
    known = ", ".join(sorted(f[:-3] for f in os.listdir(g.moddir)
                             if f.endswith(".so")))
    expect(d == f"unknown device type 'nosuch' (known: {known})", d)
    d = c.error("device-add", {"driver": "pvpanik"})
    expect(d == f"unknown device type 'pvpanik': did you mean pvpanic? "
           f"(known: {known})", d)
    d = c.error("device-add", {"driver": "pvpanic", "colour": "red"})
    expect(d == "pvpanic0: device type pvpanic has no property 'colour' "
           "(known: iobase)", d)
    d = c.error("device-add", {"driver": "pvpanic", "iobase": 70000})
    expect(d.startswith("pvpanic0: property iobase: '70000' is not a u16"),
           d)
    d = c.error("device-add", {"driver": "pvpanic", "iobase": [1]})
    expect(d == "property 'iobase' must be a string, integer or boolean", d)
    # A device's own message is the reason realize failed, said once.
    d = c.error("device-add", {"driver": "virtio-blk"})
    expect(d == "virtio-blk0: realize of virtio-blk failed: no backing "
           "file: give file=PATH", d)
    d = c.error("device-add", {"driver": "pvpanic", "iobase": "1,id=x"})
    expect("cannot hold ','" in d, d)
    d = c.error("device-add", {"driver": "pvpanic", "id": "uart165500"})
    expect(d == "device id 'uart165500' is in use", d)
    devs = [x["id"] for x in c.cmd("query-devices")]
    expect(devs == ["uart165500", "i80420", "debug-exit0"], devs)
    g.assert_running()


def device_resources_checked_by_the_core(g):
    """device-add and --device: a range in guest RAM, in what KVM
    emulates or past the end of its space, an IRQ the irqchip lacks, and
    a disk image another device or another modvmm writes are refused,
    naming the device and the conflict; the guest runs on."""
    c = Client(g.sock)
    other = os.path.join(g.tmp, "other.img")
    with open(other, "wb") as f:
        f.truncate(1 << 20)
    bad = [({"driver": "virtio-blk", "file": g.disk, "base": "0xd0008000"},
            f"virtio-blk1: realize of virtio-blk failed: {g.disk}: in use: "
            "device virtio-blk0 (virtio-blk) has it open read-write"),
           ({"driver": "virtio-blk", "file": g.disk, "readonly": "on",
             "base": "0xd0008000"},
            f"virtio-blk1: realize of virtio-blk failed: {g.disk}: in use: "
            "device virtio-blk0 (virtio-blk) has it open read-write"),
           ({"driver": "virtio-blk", "file": other, "base": 0},
            "virtio-blk1: realize of virtio-blk failed: mmio region "
            "virtio-mmio 0x0-0x1ff overlaps guest RAM at 0x0-0xfffffff"),
           ({"driver": "virtio-blk", "file": other, "base": "0xfee00000"},
            "virtio-blk1: realize of virtio-blk failed: mmio region "
            "virtio-mmio 0xfee00000-0xfee001ff overlaps the in-kernel local "
            "APIC at 0xfee00000-0xfee00fff"),
           ({"driver": "uart16550", "iobase": "0x2f8", "irq": 9999},
            "uart165501: realize of uart16550 failed: region uart16550: "
            "IRQ 9999 is not a line of the interrupt controller (IOAPIC "
            "pins 0-23)"),
           ({"driver": "uart16550", "iobase": "0xfffc"},
            "uart165501: realize of uart16550 failed: pio region uart16550 "
            "at 0xfffc, length 0x8, goes past the end of the pio space "
            "(0xffff)"),
           ({"driver": "pvpanic", "iobase": "0x20"},
            "pvpanic0: realize of pvpanic failed: pio region pvpanic "
            "0x20-0x20 overlaps the in-kernel PIC (master) at 0x20-0x21")]
    for args, want in bad:
        d = c.error("device-add", args)
        expect(d == want, (args, d))
    devs = [x["id"] for x in c.cmd("query-devices")]
    expect("virtio-blk1" not in devs and "pvpanic0" not in devs, devs)
    # The last port is a port: a one-port device there is fine.
    c.cmd("device-add", driver="debug-exit", id="dx", iobase="0xffff")
    # Another modvmm, the same image: its --device is refused at start.
    r = subprocess.run([MODVMM, "run", "--module-dir", g.moddir, "--device",
                        f"virtio-blk,file={g.disk}"],
                       capture_output=True, text=True, timeout=30)
    expect(r.returncode != 0 and f"{g.disk}: in use: another process holds "
           "a lock on it for reading or writing" in r.stderr, r)
    r = subprocess.run([MODVMM, "run", "--module-dir", g.moddir, "--device",
                        f"virtio-blk,file={other},base=0x1000"],
                       capture_output=True, text=True, timeout=30)
    expect(r.returncode != 0 and "mmio region virtio-mmio 0x1000-0x11ff "
           "overlaps guest RAM at 0x0-" in r.stderr, r)
    g.assert_running()


def manifest_and_inventory(g):
    c = Client(g.sock)
    m = c.cmd("query-manifest")
    expect(m["modvmm-manifest"] == 1 and m["machine"] == "microvm-1.0", m)
    expect([d["id"] for d in m["devices"]] ==
           [d["id"] for d in c.cmd("query-devices")], m)
    inv = c.cmd("query-inventory")
    expect("modvmm-inventory" in inv, inv.keys())
    types = sorted(t["type"] for t in inv["types"])
    expect(types == ["cmos-rtc", "debug-exit", "i8042", "pvpanic",
                     "uart16550", "virtio-blk", "virtio-rng"], types)
    # What ctl prints is the document modvmm compat reads.
    r = ctl_plain(g, "query-manifest")
    path = os.path.join(g.tmp, "guest.json")
    with open(path, "w") as f:
        f.write(r.stdout)
    v = subprocess.run([MODVMM, "compat", "check", "--source", path,
                        "--module-dir", g.moddir], capture_output=True,
                       text=True)
    expect(v.returncode == 0, v.stdout + v.stderr)


def malformed_input_refused(g):
    c = Client(g.sock)
    cases = [
        (b"{\"execute\": \n", "JSON parse error"),
        (b"[1, 2]\n", "QMP input must be a JSON object"),
        (b"\"text\"\n", "QMP input must be a JSON object"),
        (b"{\"arguments\": {}}\n", "QMP input lacks member 'execute'"),
        (b"{\"execute\": 1}\n",
         "QMP input member 'execute' must be a string"),
        (b"{\"execute\": \"stop\", \"arguments\": []}\n",
         "QMP input member 'arguments' must be an object"),
        (b"{\"execute\": \"stop\", \"extra\": 1}\n",
         "QMP input member 'extra' is unexpected"),
        (b"{\"execute\": \"\\udc00x\"}\n", "not valid UTF-8"),
        (b"{\"execute\": \"stop\" /* c */}\n", "unexpected byte 0x2f"),
        (b"[" * 40 + b"]" * 40 + b"\n", "nested deeper than 32 levels"),
        (b"{\"execute\": \"a\\u0000b\"}\n", "\\u0000"),
        (b"\n", "QMP input is an empty line: expected a JSON object"),
        (b" \t \r\n", "QMP input is an empty line: expected a JSON object"),
        (b"{\"execute\": \"query-status\", \"id\": 1e99999}\n",
         "JSON number out of range at offset 34 (member 'id'): 1e99999 is "
         "beyond a double"),
        (b"{\"execute\": \"query-status\", \"id\": [-1e400]}\n",
         "(member 'id'): -1e400 is beyond a double"),
        (b"{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"unix:/x\", "
         b"\"downtime-ms\": 99999999999999999999999}}\n",
         "(member 'downtime-ms'): 99999999999999999999999 is beyond a "
         "64-bit integer"),
        (b"{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"unix:/x\", "
         b"\"timeout-s\": -99999999999999999999}}\n",
         "(member 'timeout-s'): -99999999999999999999 is beyond a 64-bit "
         "integer"),
    ]
    for data, want in cases:
        c.send(data)
        r = c.reply()
        expect(r["error"]["class"] == "GenericError", (data, r))
        expect(want in r["error"]["desc"], (data, r))
        expect("id" not in r, (data, r))
    expect(c.cmd("query-migrate")["status"] == "none", "a migration ran")
    r = c.request("query-status", id=2**63 - 1)
    expect(r["id"] == 2**63 - 1, r)
    g.assert_running()


def long_line_refused_then_next_works(g):
    c = Client(g.sock)
    c.send(b"{\"execute\": \"query-status\", \"id\": \"" + b"x" * 100000 +
           b"\"}\n")
    r = c.reply()
    expect(r["error"]["desc"] == "request line longer than 65536 bytes: "
           "discarded", r)
    r = c.request("query-status", id=7)
    expect(r == {"return": {"status": "running", "running": True},
                 "id": 7}, r)
    g.assert_running()


def unknown_command_and_bad_arguments(g):
    c = Client(g.sock)
    r = c.request("no-such-command", id={"x": [1]})
    expect(r == {"error": {"class": "CommandNotFound",
                           "desc": "The command no-such-command has not "
                           "been found"}, "id": {"x": [1]}}, r)
    d = c.error("device-del", {"id": 5})
    expect(d == "Invalid parameter type for 'id', expected: string", d)
    d = c.error("module-load", {})
    expect(d == "Parameter 'file' is missing", d)
    d = c.error("stop", {"now": True})
    expect(d == "Parameter 'now' is unexpected", d)
    d = c.error("module-unload", {"name": None})
    expect(d == "Invalid parameter type for 'name', expected: string", d)
    g.assert_running()


def several_clients_get_events(g):
    cs = [Client(g.sock) for _ in range(3)]
    late = Client(g.sock, negotiate=False)
    cs[0].cmd("device-add", driver="pvpanic", id="p1")
    for c in cs:
        expect(c.event("DEVICE_ADDED")["data"]["device"] == "p1", c.events)
    late.s.settimeout(0.5)
    try:
        m = late.read(0.5)
        raise AssertionError(f"an event before negotiation: {m}")
    except socket.timeout:
        pass


def slow_client_dropped_others_unaffected(g):
    slow = Client(g.sock)
    slow.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    fast = Client(g.sock)
    # Requests whose replies it never reads: its output backs up.
    req = (json.dumps({"execute": "query-inventory"}) + "\n").encode()
    slow.s.settimeout(5)
    try:
        for _ in range(400):
            slow.s.send(req)
    except (socket.timeout, BlockingIOError, OSError):
        pass
    t0 = time.time()
    for _ in range(20):
        expect(fast.cmd("query-status")["running"], "fast client")
    expect(time.time() - t0 < 5, "the fast client was held up")
    g.assert_running()
    # The timeout is 2 s: past it, the slow client is cut off.
    time.sleep(3.5)
    slow.s.settimeout(5)
    try:
        while slow.s.recv(1 << 20):
            pass
    except ConnectionResetError:
        pass
    expect("client output stalled past the timeout; disconnected" in
           g.output(), g.output()[-400:])
    expect(fast.cmd("query-status")["running"], "fast client after")


def handshake_timeout_closes(g):
    c = Client(g.sock, negotiate=False)
    t0 = time.time()
    c.s.settimeout(10)
    expect(c.s.recv(100) == b"", "still open")
    expect(1.5 < time.time() - t0 < 6, time.time() - t0)
    expect("no qmp_capabilities within the timeout" in g.output(),
           g.output()[-300:])
    g.assert_running()


def too_many_clients_refused(g):
    cs = [Client(g.sock) for _ in range(16)]
    extra = Client(g.sock, negotiate=False)
    expect(extra.greeting == {"error": {"class": "GenericError",
                                        "desc": "too many control clients "
                                        "(at most 16)"}}, extra.greeting)
    cs[0].close()
    time.sleep(0.2)
    Client(g.sock)


def quit_ends_run_with_shutdown(g):
    c = Client(g.sock)
    expect(c.cmd("quit") == {}, "quit")
    e = c.event("SHUTDOWN")
    expect(e["data"]["guest"] is False and
           e["data"]["reason"] == "host-qmp-quit", e)
    st = g.wait_exit()
    expect(st == 0, st)
    expect("stopped by the quit command (exit status 0)" in g.output(),
           g.output()[-200:])
    expect(not os.path.exists(g.sock), "socket left behind")


def guest_reset_emits_reset_and_shutdown(g):
    c = Client(g.sock)
    c.cmd("cont")
    e = c.event("RESET")
    expect(e["data"] == {"guest": True, "reason": "guest-reset"}, e)
    e = c.event("SHUTDOWN")
    expect(e["data"]["reason"] == "guest-reset", e)
    expect(g.wait_exit() == 0, "exit status")


def guest_triple_fault_has_its_own_status(g):
    """A triple fault is not an orderly reset: its own reason in the
    events and its own exit status (README)."""
    c = Client(g.sock)
    c.cmd("cont")
    e = c.event("RESET")
    expect(e["data"] == {"guest": True, "reason": "guest-triple-fault"}, e)
    e = c.event("SHUTDOWN")
    expect(e["data"]["reason"] == "guest-triple-fault" and
           e["data"]["guest"], e)
    expect(g.wait_exit() == 123, "exit status")
    expect("modvmm: guest reset by a triple fault (exit status 123)" in
           g.output(), g.output()[-200:])


def guest_panic_emits_guest_panicked(g):
    c = Client(g.sock)
    c.cmd("cont")
    e = c.event("GUEST_PANICKED")
    expect(e["data"] == {"action": "shutdown"}, e)
    e = c.event("SHUTDOWN")
    expect(e["data"]["reason"] == "guest-panic" and e["data"]["guest"], e)
    expect(g.wait_exit() == 124, "exit status")
    expect("guest panicked" in g.output(), g.output()[-200:])


def guest_exit_emits_shutdown_with_status(g):
    c = Client(g.sock)
    c.cmd("cont")
    e = c.event("SHUTDOWN")
    expect(e["data"]["reason"] == "guest-exit" and e["data"]["status"] == 0,
           e)
    expect(g.wait_exit() == 0, "exit status")


# An event's time as modvmm ctl watch prints it: ISO 8601, UTC, ms.
ISO_MS = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


def watch_prints_iso_8601_utc_times(g):
    """modvmm ctl watch gives each event's time as ISO 8601 in UTC to
    the millisecond, the same instant as the event's timestamp."""
    c = Client(g.sock)
    w = subprocess.Popen([MODVMM, "ctl", g.sock, "watch"],
                         stdout=subprocess.PIPE, text=True)
    time.sleep(0.3)
    c.cmd("stop")
    e = c.event("STOP")
    c.cmd("quit")
    out = w.communicate(timeout=20)[0]
    m = re.search(ISO_MS + r" STOP \{\}$", out, re.M)
    expect(m, out)
    ts = e["timestamp"]
    want = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts["seconds"]))
    want += ".%03dZ" % (ts["microseconds"] // 1000)
    expect(m.group(0).startswith(want), (want, out))


def ctl_confirms_every_change(g):
    """Every command that changes something says what it did in one
    line, as device-add does; stop and cont say it again when there was
    nothing to do."""
    shutil.copy(os.path.join(FIXTURES, "fx-slot.so"), g.moddir)
    steps = [
        (["stop"], "paused\n"),
        (["stop"], "paused\n"),
        (["cont"], "running\n"),
        (["cont"], "running\n"),
        (["module-load", "file=fx-slot"], None),
        (["device-add", "driver=fx-slot", "id=s0"], "added s0\n"),
        (["device-del", "id=s0"], "deleted s0\n"),
        (["module-unload", "name=fx-slot"], "unloaded fx-slot\n"),
    ]
    for words, want in steps:
        r = ctl_plain(g, *words)
        expect(want is None and r.stdout.startswith("loaded fx-slot ") or
               r.stdout == want, (words, r.stdout))
    path = f"{g.tmp}/fake.sock"
    t, out = fake_destination(path, lambda ts: 3 in ts)
    c = Client(g.sock)
    c.cmd("migrate", uri=f"unix:{path}")
    t.join(20)
    r = ctl_plain(g, "migrate-cancel")
    expect(r.stdout == "migration cancelled\n", r.stdout)
    expect(migration_end(c)["status"] == "cancelled", "cancel")
    out["conn"].close()
    g.assert_running()
    r = ctl_plain(g, "quit")
    expect(r.stdout == "quitting: the run ends\n", r.stdout)
    expect(g.wait_exit() == 0, "status")


def ctl_readable_json_and_errors(g):
    r = ctl_plain(g, "query-status")
    expect(r.stdout == "running\n", r.stdout)
    r = ctl(g, "--json", "query-status")
    expect(json.loads(r.stdout) == {"return": {"status": "running",
                                               "running": True}}, r.stdout)
    r = ctl_plain(g, "query-modules")
    expect(re.search(r"^uart16550\s+1\.0\.0\s+" + re.escape(ABI) +
                     r"\s+in-tree\s+1\s+"
                     r"uart16550$", r.stdout, re.M), r.stdout)
    r = ctl_plain(g, "device-add", "driver=pvpanic", "id=p9",
                  "iobase=0x506")
    expect(r.stdout == "added p9\n", r.stdout)
    r = ctl_plain(g, "query-devices")
    expect(re.search(r"^p9\s+pvpanic\s+pvpanic 1\.0\.0\s+pvpanic@1\s+"
                     r"iobase=1286$", r.stdout, re.M), r.stdout)
    r = ctl_plain(g, "device-del", "id=p9")
    expect(r.stdout == "deleted p9\n" and r.returncode == 0, r)
    r = ctl_plain(g, "device-del", "id=p9", check=False)
    expect(r.returncode == 1 and r.stderr == "modvmm: ctl: device-del: "
           "device 'p9' does not exist (DeviceNotFound)\n", r.stderr)
    r = ctl_plain(g, "device-del", "p9", check=False)
    expect(r.returncode == 2 and "'p9' is not key=value" in r.stderr,
           r.stderr)
    r = ctl_plain(g, "bogus", check=False)
    expect(r.returncode == 1 and "The command bogus has not been found" in
           r.stderr, r.stderr)
    r = subprocess.run([MODVMM, "ctl", os.path.join(g.tmp, "nosock"),
                        "query-status"], capture_output=True, text=True)
    expect(r.returncode == 1 and "nosock" in r.stderr, r.stderr)
    r = subprocess.run([MODVMM, "ctl", g.sock], capture_output=True,
                       text=True)
    expect(r.returncode == 2 and "usage" in r.stderr, r.stderr)
    # watch prints events as they come.
    w = subprocess.Popen([MODVMM, "ctl", g.sock, "watch"],
                         stdout=subprocess.PIPE, text=True)
    time.sleep(0.3)
    ctl_plain(g, "stop")
    ctl_plain(g, "cont")
    ctl_plain(g, "quit")
    out = w.communicate(timeout=20)[0]
    expect(re.search(ISO_MS + r" STOP \{\}$", out, re.M), out)
    expect(re.search(ISO_MS + r" SHUTDOWN \{.*host-qmp-quit", out, re.M),
           out)


def ctl_usage_error_sends_nothing(g):
    """A word modvmm ctl refuses is a usage error (status 2), and the
    command does not go out, neither bare nor without its arguments."""
    c = Client(g.sock)
    cases = [
        (["stop", "now"], "modvmm: ctl: stop: 'now' is not key=value\n"),
        (["stop", "=x"], "modvmm: ctl: stop: '=x' is not key=value\n"),
        (["migrate", f"uri=unix:{g.tmp}/m.sock", "downtime-ms=abc"],
         "modvmm: ctl: migrate: downtime-ms=abc: not an integer (or "
         "beyond 64 bits)\n"),
        (["migrate", f"uri=unix:{g.tmp}/m.sock",
          "timeout-s=99999999999999999999"],
         "modvmm: ctl: migrate: timeout-s=99999999999999999999: not an "
         "integer (or beyond 64 bits)\n"),
        (["device-add", "driver=pvpanic", "id=a", "id=b"],
         "modvmm: ctl: device-add: 'id' is given twice\n"),
        (["watch", "x=1"], "modvmm: ctl: watch takes no arguments\n"),
    ]
    for words, want in cases:
        r = ctl_plain(g, *words, check=False)
        expect(r.returncode == 2 and r.stderr == want and r.stdout == "",
               (words, r.returncode, r.stderr, r.stdout))
    # Nothing of it reached the guest.
    expect(c.cmd("query-status")["status"] == "running", "status")
    expect(c.cmd("query-migrate")["status"] == "none", "a migration ran")
    expect(not [d for d in c.cmd("query-devices") if d["id"] in ("a", "b")],
           "device added")
    time.sleep(0.3)
    c.cmd("query-status")
    expect(not [e for e in c.events if e["event"] == "STOP"], c.events)
    g.assert_running()


def idle_clients_closed_operator_gets_in(g):
    """Sixteen clients that ask nothing hold every place; past the idle
    limit (--control-idle-timeout 5) they are closed and the operator
    connects. A client that asks now and then, and modvmm ctl watch, stay."""
    idle = [Client(g.sock) for _ in range(15)]
    busy = Client(g.sock)
    late = Client(g.sock, negotiate=False)
    expect("error" in late.greeting, late.greeting)
    idle[0].close()  # a place for the watcher
    time.sleep(0.5)
    w = subprocess.Popen([MODVMM, "ctl", g.sock, "watch"],
                         stdout=subprocess.PIPE, text=True)
    time.sleep(0.5)
    t0 = time.time()
    for cl in idle[1:]:
        cl.s.settimeout(10)
    while time.time() - t0 < 7:
        expect(busy.cmd("query-status")["running"] is True, "busy")
        time.sleep(1)
    for cl in idle[1:]:
        try:
            data = cl.s.recv(100)
        except OSError:
            data = b""
        expect(data == b"", f"an idle client is still served: {data!r}")
    expect("no request for 5 s (the idle limit); disconnected" in
           g.output(), g.output()[-400:])
    op = Client(g.sock)
    expect(op.cmd("query-status")["running"] is True, "operator")
    ctl_plain(g, "stop")
    ctl_plain(g, "quit")
    out = w.communicate(timeout=20)[0]
    expect(re.search(ISO_MS + r" STOP \{\}$", out, re.M), out)
    expect(re.search(ISO_MS + r" SHUTDOWN ", out, re.M), out)


def docs_match_the_schema(g):
    """docs/control.md documents every command with its arguments and
    every event with its data members, exactly as the server has them."""
    c = Client(g.sock)
    with open(os.path.join(SRC, "docs", "control.md")) as f:
        doc = f.read()
    cmds = {}
    for sec in re.split(r"^### ", doc, flags=re.M)[1:]:
        title = sec.splitlines()[0].strip().strip("`")
        rows = re.findall(r"^\| `([a-z_-]+)` \| (string|int|bool) \| "
                          r"(yes|no) \|", sec, re.M)
        cmds[title] = (rows, "Other members are device properties" in sec)
    events = {}
    for name, members in re.findall(r"^- `([A-Z_]+)`: data `\{([^}]*)\}`",
                                    doc, re.M):
        events[name] = [m.strip() for m in members.split(",") if m.strip()]
    for cm in c.cmd("query-commands"):
        expect(cm["name"] in cmds, f"{cm['name']} is not in docs/control.md")
        rows, open_args = cmds.pop(cm["name"])
        want = [(a["name"], a["type"], "yes" if a["required"] else "no")
                for a in cm["arguments"]]
        expect(rows == want, f"{cm['name']}: docs {rows}, server {want}")
        expect(open_args == cm["open-arguments"], cm["name"])
    expect(not cmds, f"documented but not served: {list(cmds)}")
    for ev in c.cmd("query-events"):
        expect(ev["name"] in events, f"event {ev['name']} not documented")
        expect(events.pop(ev["name"]) == ev["data"], ev)
    expect(not events, f"documented events not sent: {list(events)}")


def socket_path_is_private_and_checked(g):
    import stat
    mode = stat.S_IMODE(os.stat(g.sock).st_mode)
    expect(mode == 0o600, oct(mode))
    base = [MODVMM, "run", "--module-dir", g.moddir, "--control"]
    r = subprocess.run(base + [g.sock], capture_output=True, text=True,
                       timeout=30)
    expect(r.returncode == 125 and r.stderr.strip() ==
           f"modvmm: control socket {g.sock}: another process listens on "
           "it", r.stderr)
    plain = os.path.join(g.tmp, "plain")
    open(plain, "w").close()
    r = subprocess.run(base + [plain], capture_output=True, text=True,
                       timeout=30)
    expect(r.returncode == 125 and r.stderr.strip() ==
           f"modvmm: control socket {plain}: the path exists and is not a "
           "socket", r.stderr)
    nodir = os.path.join(g.tmp, "no-such-dir", "c.sock")
    r = subprocess.run(base + [nodir], capture_output=True, text=True,
                       timeout=30)
    expect(r.returncode == 125 and r.stderr.strip() ==
           f"modvmm: control socket {nodir}: directory "
           f"{os.path.dirname(nodir)} does not exist (create it, or give a "
           "path in one that does)", r.stderr)
    expect("GUnixSocketAddress" not in r.stderr, r.stderr)
    r = subprocess.run([MODVMM, "run", "--paused"], capture_output=True,
                       text=True, timeout=30)
    expect(r.returncode == 2 and "--paused needs --control" in r.stderr,
           r.stderr)
    g.assert_running()
    expect(Client(g.sock).cmd("query-status")["running"], "first host")
    # A socket left by a host that was killed is taken over.
    g.proc.kill()
    g.proc.wait()
    expect(os.path.exists(g.sock), "no stale socket to take over")
    r = ctl_plain(g, "query-status", check=False)
    expect(r.returncode == 1 and r.stderr ==
           f"modvmm: ctl: no modvmm listens on {g.sock} (is it running "
           f"with --control {g.sock}?)\n", r.stderr)
    r = subprocess.run(base + [g.sock, "--append", "count=1"],
                       capture_output=True, text=True, timeout=60)
    expect(r.returncode == 0 and "modvmm guest: PASS" in r.stdout,
           r.stdout + r.stderr)


# Snapshots ----------------------------------------------------------------

K = 0x9e3779b97f4a7c15


def expected_sum(n, pages=64):
    """The sum the guest prints on counter line n (guest/guest.c)."""
    return sum((((n << 32) + i + 1) * K) % (1 << 64)
               for i in range(pages)) % (1 << 64)


def count_lines(text):
    return [(int(a), int(b, 16)) for a, b in
            re.findall(r"^count (\d+) ticks \d+ sum ([0-9a-f]{16})$", text,
                       re.M)]


REC_NAMES = {1: "HELLO", 2: "MANIFEST", 3: "CONFIG", 4: "RAM",
             5: "RAM_ZERO", 6: "CPU", 7: "VM", 8: "DEVICE", 9: "END",
             10: "VERDICT", 11: "COMPLETE", 12: "PAD",
             13: "COMMIT", 14: "RUNNING"}
REC_HDR = 16  # format 2: type, zeros, length, payload CRC, header CRC


def _crc32c_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


CRC32C_TABLE = _crc32c_table()


def crc32c(data, crc=0):
    """CRC-32C as docs/stream-format.md defines it (slow: headers and
    small payloads only)."""
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = (crc >> 8) ^ CRC32C_TABLE[(crc ^ b) & 0xFF]
    return crc ^ 0xFFFFFFFF


def record(t, payload, fmt=2):
    """One record as modvmm writes it, in format 2 or 1."""
    if fmt == 1:
        return struct.pack("<B3xI", t, len(payload)) + payload
    h = struct.pack("<B3xII", t, len(payload), crc32c(payload))
    return h + struct.pack("<I", crc32c(h)) + payload


def source_hello(data, recs):
    """A snapshot's HELLO as a migration source sends it: with "commit"
    (a source that ends a migration with COMMIT)."""
    at, t, ln = recs[0]
    hello = json.loads(data[at + REC_HDR:at + REC_HDR + ln])
    hello["commit"] = 1
    return record(1, json.dumps(hello).encode())


def records(data, hdr=REC_HDR):
    """A snapshot's records: (offset, type, payload length)."""
    out, off = [], 12
    while off < len(data):
        t, ln = struct.unpack_from("<B3xI", data, off)
        out.append((off, t, ln))
        off += hdr + ln
    return out


def format_1(data):
    """The same snapshot as a modvmm before record checksums wrote it:
    8-byte headers, PAD records laid out again for them."""
    out = bytearray(b"MODVMMSS" + struct.pack("<I", 1))
    for at, t, ln in records(data):
        if t == 12:
            continue
        if t == 4 and (len(out) + 16) % 4096:
            n = (4096 - (len(out) + 24) % 4096) % 4096
            out += record(12, bytes(n), 1)
        out += record(t, data[at + REC_HDR:at + REC_HDR + ln], 1)
    return bytes(out)


def restore(g, snap, *extra, timeout=60):
    """Runs the snapshot on a second host with a control socket."""
    sock = os.path.join(g.tmp, "restored.sock")
    out = open(os.path.join(g.tmp, "restored.out"), "w")
    p = subprocess.Popen([MODVMM, "run", "--module-dir", g.moddir,
                          "--restore", snap, "--control", sock] + list(extra),
                         stdout=out, stderr=subprocess.STDOUT)
    return p, sock, out


def restored_client(p, sock):
    """A client of the restored host's control socket, which it opens
    once the guest is built (after the devices' post_load)."""
    deadline = time.time() + 20
    while not os.path.exists(sock):
        expect(p.poll() is None and time.time() < deadline,
               "the restored host opened no control socket")
        time.sleep(0.02)
    return Client(sock)


@contextlib.contextmanager
def restored(g, snap, *extra):
    """The snapshot run on a second host (restore()): its control client,
    then, unless the block failed, `quit` and an exit status of 0."""
    p, sock, out = restore(g, snap, *extra)
    try:
        rc = restored_client(p, sock)
        yield rc
        rc.cmd("quit")
        expect(p.wait(20) == 0, "restored run's status")
    finally:
        if p.poll() is None:
            p.kill()
        out.close()


def snapshot_save_and_restore_continue(g):
    c = Client(g.sock)
    g.wait_for("^count 5 ")
    c.cmd("stop")
    time.sleep(0.1)
    # The guest may be stopped inside a line: the rest of it comes from
    # the restored guest.
    last = int(re.findall(r"^count (\d+) ", g.output(), re.M)[-1])
    snap = os.path.join(g.tmp, "guest.snap")
    r = c.cmd("snapshot-save", file=snap)
    expect(r["file"] == snap and r["bytes"] == os.path.getsize(snap), r)
    expect(not os.path.exists(snap + ".partial"), "partial file left")
    expect(c.cmd("query-status")["status"] == "paused", "still paused")
    c.cmd("quit")
    g.wait_exit()
    source = g.output()
    p, sock, out = restore(g, snap)
    try:
        deadline = time.time() + 20
        path = os.path.join(g.tmp, "restored.out")
        while time.time() < deadline:
            lines = count_lines(open(path).read())
            if len(lines) >= 3:
                break
            time.sleep(0.05)
        text = open(path).read()
        lines = count_lines(text)
        expect(len(lines) >= 3, text[-500:])
        ns = [n for n, _ in count_lines(guest_text(source, text))]
        expect(ns == list(range(1, len(ns) + 1)) and ns[-1] > last, ns)
        for n, sm in lines:
            expect(sm == expected_sum(n), (n, hex(sm)))
        expect("FAIL" not in text, text[-300:])
        Client(sock).cmd("quit")
        expect(p.wait(20) == 0, "restored run's status")
    finally:
        if p.poll() is None:
            p.kill()
        out.close()


def snapshot_on_exit_saves_the_stopped_guest(g):
    """SIGTERM with --snapshot-on-exit: the guest is saved as it stopped,
    and resumes from there, its console going to another file."""
    snap = os.path.join(g.tmp, "exit.snap")
    g.close()
    out = os.path.join(g.tmp, "exit.out")
    with open(out, "w") as f:
        p = subprocess.Popen([MODVMM, "run", "--module-dir", g.moddir,
                              "--append", "forever pace=10",
                              "--snapshot-on-exit", snap],
                             stdout=f, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while "count 3 " not in open(out).read():
            expect(time.time() < deadline, open(out).read())
            time.sleep(0.02)
        p.send_signal(15)
        expect(p.wait(20) == 143, "status")
    text = open(out).read()
    expect(f"modvmm: saved the guest to {snap} ({os.path.getsize(snap)} "
           "bytes)" in text, text[-300:])
    con = os.path.join(g.tmp, "con")
    sock = os.path.join(g.tmp, "r.sock")
    rout = open(os.path.join(g.tmp, "restored.out"), "w")
    p = subprocess.Popen([MODVMM, "run", "--module-dir", g.moddir,
                          "--restore", snap, "--control", sock, "--device",
                          f"uart16550,id=uart165500,console=file:{con}"],
                         stdout=rout, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 20
        while len(count_lines(open(con).read() if os.path.exists(con)
                              else "")) < 2:
            expect(time.time() < deadline and p.poll() is None, "restored")
            time.sleep(0.02)
        ns = [n for n, _ in count_lines(guest_text(text, open(con).read()))]
        expect(ns == list(range(1, len(ns) + 1)), ns)
        Client(sock).cmd("quit")
        st = p.wait(20)
        expect(st == 0, f"restored status {st}: " +
               open(os.path.join(g.tmp, "restored.out")).read()[-1500:])
    finally:
        if p.poll() is None:
            p.kill()
        rout.close()


def snapshot_of_running_guest_resumes_it(g):
    c = Client(g.sock)
    snap = os.path.join(g.tmp, "running.snap")
    c.cmd("snapshot-save", file=snap)
    expect(c.cmd("query-status")["status"] == "running", "not resumed")
    g.assert_running()
    r = ctl_plain(g, "snapshot-save", f"file={snap}")
    expect(r.stdout == f"saved {snap} ({os.path.getsize(snap)} bytes)\n",
           r.stdout)


def snapshot_save_failure_loses_nothing(g):
    c = Client(g.sock)
    bad = os.path.join(g.tmp, "no-such-dir", "x.snap")
    d = c.error("snapshot-save", {"file": bad})
    expect(d == f"{bad}: not saved: directory {os.path.dirname(bad)} does "
           "not exist (create it, or save into one that does)", d)
    # What a killed save left (FILE.partial, as older releases named it,
    # or one of its own) does not block the next, and stays as it was.
    keep = os.path.join(g.tmp, "keep", "keep.snap")
    os.mkdir(os.path.dirname(keep))
    with open(keep, "w") as f:
        f.write("old")
    os.mkdir(keep + ".partial")
    with open(keep + ".partial.Ab12Cd", "w") as f:
        f.write("stale")
    r = c.cmd("snapshot-save", file=keep)
    expect(r["bytes"] == os.path.getsize(keep) > 64 << 10, r)
    expect(sorted(os.listdir(os.path.dirname(keep))) ==
           ["keep.snap", "keep.snap.partial", "keep.snap.partial.Ab12Cd"],
           os.listdir(os.path.dirname(keep)))
    expect(open(keep + ".partial.Ab12Cd").read() == "stale", "stale file")
    expect(c.cmd("query-status")["status"] == "running", "not resumed")
    g.assert_running()


def snapshot_save_never_replaces_the_control_socket(g):
    """snapshot-save to the control socket's own path (however spelt) or
    to another socket is refused: the operator keeps control, and the
    socket is still there to connect to; at the end modvmm removes its
    socket, and only its socket."""
    c = Client(g.sock)
    spelt = os.path.join(g.tmp, ".", os.path.basename(g.sock))
    link = os.path.join(g.tmp, "link.sock")
    os.symlink(g.sock, link)
    for f in (g.sock, spelt, link):
        d = c.error("snapshot-save", {"file": f})
        expect(d == f"{f}: not saved: the path is this modvmm's control "
               "socket", d)
    other = os.path.join(g.tmp, "other.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(other)
    d = c.error("snapshot-save", {"file": other})
    expect(d == f"{other}: not saved: the path exists and is not a regular "
           "file", d)
    s.close()
    expect(not [f for f in os.listdir(g.tmp) if ".partial" in f],
           os.listdir(g.tmp))
    expect(c.cmd("query-status")["status"] == "running", "not resumed")
    Client(g.sock).cmd("query-status")
    # The socket removed by someone: its name is still refused; a file
    # then made in its place is left alone when modvmm ends.
    os.unlink(g.sock)
    d = c.error("snapshot-save", {"file": g.sock})
    expect(d == f"{g.sock}: not saved: the path is this modvmm's control "
           "socket", d)
    with open(g.sock, "w") as f:
        f.write("someone's")
    c.cmd("quit")
    g.wait_exit()
    expect(open(g.sock).read() == "someone's", "the file was removed")


def snapshot_keeps_every_block_written(g):
    """Stopped in the middle of its block writes, saved, restored on a
    second host with the same disk: the guest finds every block it was
    told is written, and the host finds them in the file."""
    c = Client(g.sock)
    g.wait_for("^count 20 ")
    c.cmd("stop")
    snap = os.path.join(g.tmp, "guest.snap")
    c.cmd("snapshot-save", file=snap)
    c.cmd("quit")
    g.wait_exit()
    p, sock, out = restore(g, snap)
    try:
        st = p.wait(60)
        text = open(os.path.join(g.tmp, "restored.out")).read()
        expect(st == 0 and "modvmm guest: PASS" in text, text[-600:])
        guest = guest_text(g.output(), text)
        expect("virtio-blk: 120 writes, 240 reads verified" in guest,
               guest[-400:])
        expect(disk_blocks(g.disk) == {n % 64: n for n in range(57, 121)},
               "blocks on disk")
    finally:
        if p.poll() is None:
            p.kill()
        out.close()


def restore_refusals_name_the_reason(g):
    c = Client(g.sock)
    c.cmd("device-add", driver="pvpanic", id="pp")
    snap = os.path.join(g.tmp, "guest.snap")
    c.cmd("snapshot-save", file=snap)
    # A host without the pvpanic module: the verdict, before KVM opens.
    other = os.path.join(g.tmp, "other")
    os.makedirs(other)
    for so in ("uart16550.so", "i8042.so", "debug-exit.so"):
        shutil.copy(os.path.join(g.moddir, so), other)
    r = subprocess.run([MODVMM, "run", "--module-dir", other, "--restore",
                        snap], capture_output=True, text=True, timeout=30)
    expect(r.returncode == 125, r)
    expect(f"modvmm: {snap}: this host cannot restore the snapshot:\n" in
           r.stderr and "pp (pvpanic): refused: module missing: no module "
           "here provides device type pvpanic (the source has module pvpanic "
           "1.0.0)\n" in r.stderr, r.stderr)
    # Cut short, and a flipped byte in a device's state.
    data = open(snap, "rb").read()
    cut = os.path.join(g.tmp, "cut.snap")
    open(cut, "wb").write(data[:len(data) - 5])
    r = subprocess.run([MODVMM, "run", "--module-dir", g.moddir, "--restore",
                        cut], capture_output=True, text=True, timeout=30)
    expect(r.returncode == 125 and "cut short" in r.stderr, r.stderr)
    expect("modvmm guest" not in r.stdout, "a guest ran")
    r = subprocess.run([MODVMM, "run", "--module-dir", g.moddir, "--restore",
                        os.path.join(g.tmp, "nothing")],
                       capture_output=True, text=True, timeout=30)
    expect(r.returncode == 125 and "nothing" in r.stderr, r.stderr)
    r = subprocess.run([MODVMM, "run", "--module-dir", g.moddir, "--restore",
                        snap, "--kernel", "/boot/x"],
                       capture_output=True, text=True, timeout=30)
    expect(r.returncode == 2 and "--restore and --incoming take" in r.stderr,
           r.stderr)
    g.assert_running()


def restore_judged_by_the_version_saved(g):
    """The in-tree RTC (2.0) saves version 2 into a snapshot, though it
    could save 1: a host with release 1.1, which loads only version 1,
    refuses the snapshot up front for what it holds, with the verdict,
    before any device is made."""
    c = Client(g.sock)
    snap = os.path.join(g.tmp, "guest.snap")
    c.cmd("snapshot-save", file=snap)
    other = host_with(g, "1.1", "fx-rtc", drop=("cmos-rtc.so",))
    r = subprocess.run([MODVMM, "run", "--module-dir", other, "--restore",
                        snap], capture_output=True, text=True, timeout=30)
    expect(r.returncode == 125, r)
    expect(f"modvmm: {snap}: this host cannot restore the snapshot:\n" in
           r.stderr and "cmos-rtc0 (cmos-rtc): refused: cmos-rtc: the state "
           "was saved at version 2, this host loads 1..1" in r.stderr,
           r.stderr)
    expect("modvmm guest" not in r.stdout, "a guest ran")
    g.assert_running()


def cut_refusal(path, recs, c):
    """What modvmm says of the snapshot cut to its first c bytes."""
    if c == 0:
        return f"{path}: empty, not a modvmm snapshot or migration stream"
    if c < 12:
        part = "magic" if c < 8 else "format version"
        return f"{path}: ends at offset {c}, inside its {part} (the file " \
               "is cut short)"
    at, t, ln = [r for r in recs if r[0] <= c][-1]
    if c == at:
        return f"{path}: ends at offset {c}, where a record should begin " \
               "(the file is cut short)"
    if c < at + REC_HDR:
        return f"{path}: ends at offset {c}, inside the record header " \
               f"that starts at offset {at} (the file is cut short)"
    return f"{path}: offset {at}: {REC_NAMES[t]} record of {ln} bytes, " \
           f"but the file ends {c - at - REC_HDR} bytes later (cut short)"


def flip_refusal(path, data, recs, m, o):
    """A pattern for what modvmm says of the snapshot m, which is data
    with a bit of byte o flipped."""
    if o < 8:
        return re.escape(f"{path}: not a modvmm snapshot or migration "
                         f"stream (no MODVMMSS magic)")
    if o < 12:
        fmt = struct.unpack_from("<I", m, 8)[0]
        return re.escape(f"{path}: format {fmt}; this host reads formats "
                         "1 to 2")
    at, t, ln = [r for r in recs if r[0] <= o][-1]
    if o < at + REC_HDR:
        mt, mln, _, carried = struct.unpack_from("<B3xIII", m, at)
        return re.escape(
            f"{path}: offset {at}: record header (as read: "
            f"{REC_NAMES.get(mt, 'unknown')}, {mln} bytes) has checksum "
            f"0x{crc32c(m[at:at + 12]):08x}, but carries 0x{carried:08x} "
            "(corrupt or altered)")
    carried = struct.unpack_from("<I", data, at + 8)[0]
    # The checksum of the changed payload: anything but the one carried.
    return (re.escape(f"{path}: offset {at}: {REC_NAMES[t]} record of {ln} "
                      "bytes has checksum 0x") +
            f"(?!{carried:08x})[0-9a-f]{{8}}" +
            re.escape(f", but its header carries 0x{carried:08x} (corrupt "
                      "or altered)"))


def snapshot_corruption_refused(g):
    """A snapshot of the running guest (its disk, entropy and RTC too),
    cut at every framing boundary and at random offsets, and with single
    bits flipped (in every record's header and payload, and at random
    over the whole file): every restore is refused before a guest
    starts, with status 125 and one line naming the offset, the record
    and what is wrong. MODVMM_CORRUPT_SEED repeats a run's choices."""
    c = Client(g.sock)
    g.wait_for("^count 3 ")
    snap = os.path.join(g.tmp, "guest.snap")
    c.cmd("snapshot-save", file=snap)
    data = open(snap, "rb").read()
    recs = records(data)
    expect(recs[-1][1] == 9 and recs[-1][0] + REC_HDR == len(data), recs)
    seed = int(os.environ.get("MODVMM_CORRUPT_SEED") or
               time.time_ns() % 1000000)
    rnd = random.Random(seed)
    t0 = time.time()

    cuts = {0, 4, 8, 10, 12}
    for at, t, ln in recs:
        cuts |= {at, at + 1, at + REC_HDR // 2, at + REC_HDR - 1,
                 at + REC_HDR}
        if ln:
            cuts |= {at + REC_HDR + ln // 2, at + REC_HDR + ln - 1}
    cuts.discard(len(data))  # just after END: the whole file
    framing = len(cuts)
    while len(cuts) < framing + 50:
        cuts.add(rnd.randrange(len(data)))
    flips = []
    for at, t, ln in recs:
        flips.append(rnd.randrange(at * 8, (at + REC_HDR) * 8))
        if ln:
            flips.append(rnd.randrange((at + REC_HDR) * 8,
                                       (at + REC_HDR + ln) * 8))
    targeted = len(flips)
    flips += [rnd.randrange(len(data) * 8) for _ in range(200)]

    def refused(i, job):
        what, m, pattern = job
        path = os.path.join(g.tmp, f"bad-{i}.snap")
        with open(path, "wb") as f:
            f.write(m)
        r = subprocess.run([MODVMM, "run", "--module-dir", g.moddir,
                            "--restore", path], capture_output=True,
                           text=True, timeout=60)
        os.unlink(path)
        want = "modvmm: " + pattern(path) + "\n"
        expect(r.returncode == 125, f"{what}: status {r.returncode} "
               f"(seed {seed}): {r.stderr[-800:]}")
        expect(re.fullmatch(want, r.stderr),
               f"{what} (seed {seed}): stderr {r.stderr[-800:]!r}, "
               f"expected /{want}/")
        expect(r.stdout == "", f"{what}: a guest ran: {r.stdout[-300:]}")

    def cut_job(cut):
        return (f"cut at {cut}", data[:cut],
                lambda p: re.escape(cut_refusal(p, recs, cut)))

    def flip_job(bit):
        m = bytearray(data)
        m[bit // 8] ^= 1 << (bit % 8)
        return (f"bit {bit % 8} of byte {bit // 8} flipped", bytes(m),
                lambda p: flip_refusal(p, data, recs, m, bit // 8))

    jobs = [cut_job(cut) for cut in sorted(cuts)]
    jobs += [flip_job(bit) for bit in flips]
    # One restore per core at a time: each is a process of its own.
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 2) as ex:
        for f in [ex.submit(refused, i, j) for i, j in enumerate(jobs)]:
            f.result()
    print(f"# {len(data)}-byte snapshot, {len(recs)} records, seed {seed}: "
          f"{len(cuts)} cuts ({framing} at framing boundaries, "
          f"{len(cuts) - framing} at random offsets) and {len(flips)} "
          f"bit flips ({targeted} in each header and payload, "
          f"{len(flips) - targeted} anywhere): all refused in "
          f"{time.time() - t0:.1f} s", flush=True)
    g.assert_running()


def format_1_snapshot_and_stream_still_load(g):
    """What a modvmm before record checksums wrote: the same snapshot in
    format 1 restores and the guest goes on; and a format 1 source
    migrates into this host, which answers it in format 1."""
    g.pages = 64
    c = Client(g.sock)
    g.wait_for("^count 3 ")
    c.cmd("stop")
    snap = os.path.join(g.tmp, "guest.snap")
    c.cmd("snapshot-save", file=snap)
    c.cmd("quit")
    g.wait_exit()
    old = format_1(open(snap, "rb").read())
    old_snap = os.path.join(g.tmp, "format1.snap")
    open(old_snap, "wb").write(old)
    p, sock, out = restore(g, old_snap)
    try:
        deadline = time.time() + 20
        path = os.path.join(g.tmp, "restored.out")
        while len(count_lines(open(path).read())) < 3:
            expect(time.time() < deadline and p.poll() is None,
                   open(path).read()[-600:])
            time.sleep(0.05)
        ns = [n for n, _ in count_lines(guest_text(g.output(),
                                                   open(path).read()))]
        expect(ns == list(range(1, len(ns) + 1)), ns)
        for n, sm in count_lines(open(path).read()):
            expect(sm == expected_sum(n), (n, hex(sm)))
        Client(sock).cmd("quit")
        expect(p.wait(20) == 0, "restored run's status")
    finally:
        if p.poll() is None:
            p.kill()
        out.close()

    # The source's side of a migration, as an older host sends it: one
    # that does not end with COMMIT is refused in the verdict, before
    # anything moves; with "commit" in its HELLO, format 1 still loads.
    recs = records(old, 8)
    at, t, ln = recs[0]
    hello = json.loads(old[at + 8:at + 8 + ln])
    d = Dest(g, f"unix:{g.tmp}/mig.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    try:
        s.connect(f"{g.tmp}/mig.sock")
        s.sendall(old[:12])
        for at, t, ln in recs[:3]:
            s.sendall(old[at:at + 8 + ln])
        f = s.makefile("rb")
        t, ln = struct.unpack("<B3xI", f.read(8))
        verdict = json.loads(f.read(ln))
        expect(t == 10 and verdict["accepted"] is False and
               "does not end a migration with COMMIT" in verdict["verdict"],
               verdict)
        expect(d.proc.wait(20) == 125 and "count" not in d.output(),
               d.output()[-600:])
    finally:
        s.close()
        d.close()
    hello["commit"] = 1
    d = Dest(g, f"unix:{g.tmp}/mig2.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    try:
        s.connect(f"{g.tmp}/mig2.sock")
        s.sendall(old[:12] + record(1, json.dumps(hello).encode(), 1))
        for at, t, ln in recs[1:3]:
            s.sendall(old[at:at + 8 + ln])
        f = s.makefile("rb")
        t, ln = struct.unpack("<B3xI", f.read(8))
        verdict = json.loads(f.read(ln))
        expect(t == 10 and verdict["accepted"] is True and
               verdict["commit"] == 1, verdict)
        for at, t, ln in recs[3:]:
            if t != 12:
                s.sendall(old[at:at + 8 + ln])
        expect(f.read(8) == record(11, b"", 1), "no format 1 COMPLETE")
        s.sendall(record(13, b"", 1))
        expect(f.read(8) == record(14, b"", 1), "no format 1 RUNNING")
        deadline = time.time() + 20
        while len(count_lines(d.output())) < 2:
            expect(time.time() < deadline and d.proc.poll() is None,
                   d.output()[-600:])
            time.sleep(0.05)
        for n, sm in count_lines(d.output()):
            expect(sm == expected_sum(n), (n, hex(sm)))
        Client(d.sock).cmd("quit")
        expect(d.proc.wait(20) == 0, "destination: " + d.output()[-600:])
    finally:
        s.close()
        d.close()


def restored_guest_ignores_its_snapshot_file(g):
    """A restored guest runs on a copy of the snapshot's memory, checked
    once copied: the file cut to nothing, or overwritten in place, while
    the guest runs does not reach it. It counts on with the right sums
    and ends with status 0."""
    c = Client(g.sock)
    g.wait_for("^count 3 ")
    snap = os.path.join(g.tmp, "guest.snap")
    path = os.path.join(g.tmp, "restored.out")
    for change in ("cut", "overwritten"):
        c.cmd("snapshot-save", file=snap)
        size = os.path.getsize(snap)
        p, sock, out = restore(g, snap)
        try:
            rc = restored_client(p, sock)
            deadline = time.time() + 20
            while len(count_lines(open(path).read())) < 2:
                expect(time.time() < deadline and p.poll() is None,
                       open(path).read()[-500:])
                time.sleep(0.02)
            if change == "cut":
                os.truncate(snap, 0)
            else:
                # In place: the same file, every byte of it changed.
                with open(snap, "r+b") as f:
                    f.write(b"\xcc" * size)
            n = len(count_lines(open(path).read()))
            deadline = time.time() + 20
            while len(count_lines(open(path).read())) < n + 10:
                expect(time.time() < deadline and p.poll() is None,
                       f"{change}: the restored guest stopped: " +
                       open(path).read()[-500:])
                time.sleep(0.02)
            text = open(path).read()
            for k, sm in count_lines(text):
                expect(sm == expected_sum(k), (change, k, hex(sm)))
            expect("FAIL" not in text, text[-300:])
            rc.cmd("quit")
            st = p.wait(20)
            expect(st == 0, f"{change}: restored status {st}: " +
                   open(path).read()[-500:])
        finally:
            if p.poll() is None:
                p.kill()
            out.close()
    g.assert_running()


def ram_pages(data, at, t, ln):
    """The guest RAM offset and page count of a RAM or RAM_ZERO record."""
    off = struct.unpack_from("<Q", data, at + REC_HDR)[0]
    if t == 5:
        return off, struct.unpack_from("<Q", data, at + REC_HDR + 8)[0]
    return off, (ln - 8) // 4096


def snapshot_ram_must_cover_memory_once(g):
    """Every page of guest RAM comes from exactly one RAM or RAM_ZERO
    record: a snapshot with a record removed, or a page given twice, is
    refused before a guest runs, naming the first page range missing or
    the record that gives a page again."""
    c = Client(g.sock)
    g.wait_for("^count 3 ")
    snap = os.path.join(g.tmp, "guest.snap")
    c.cmd("snapshot-save", file=snap)
    data = open(snap, "rb").read()
    recs = records(data)
    end = recs[-1][0]

    def refused(name, m, want):
        path = os.path.join(g.tmp, name)
        with open(path, "wb") as f:
            f.write(m)
        r = subprocess.run([MODVMM, "run", "--module-dir", g.moddir,
                            "--restore", path], capture_output=True,
                           text=True, timeout=60)
        expect(r.returncode == 125, f"{name}: status {r.returncode}: "
               f"{r.stderr[-500:]}")
        expect(r.stderr == f"modvmm: {path}: {want}\n",
               f"{name}: {r.stderr[-500:]!r}, expected {want!r}")
        expect(r.stdout == "", f"{name}: a guest ran: {r.stdout[-300:]}")

    for kind in (4, 5):
        at, t, ln = [x for x in recs if x[1] == kind][1]
        off, n = ram_pages(data, at, t, ln)
        refused(f"no-{REC_NAMES[t]}.snap",
                data[:at] + data[at + REC_HDR + ln:],
                f"guest RAM 0x{off:x}-0x{off + n * 4096 - 1:x} ({n} "
                "pages) is in no RAM or RAM_ZERO record (the first such "
                "range; every page must be given)")
        # The same record twice in a row.
        rec = data[at:at + REC_HDR + ln]
        refused(f"twice-{REC_NAMES[t]}.snap",
                data[:at] + rec + data[at:],
                f"offset {at + len(rec)}: {REC_NAMES[t]} record gives the "
                f"page at 0x{off:x} of guest RAM again (an earlier record "
                "gave it; a snapshot gives each page once)")
    # One page inside a RAM record's run, said again to be zero.
    at, t, ln = [x for x in recs if x[1] == 4][0]
    off, n = ram_pages(data, at, t, ln)
    page = off + (n // 2) * 4096
    refused("zero-over-data.snap",
            data[:end] + record(5, struct.pack("<QQ", page, 1)) +
            data[end:],
            f"offset {end}: RAM_ZERO record gives the page at 0x{page:x} "
            "of guest RAM again (an earlier record gave it; a snapshot "
            "gives each page once)")
    g.assert_running()


def migration_stream_missing_ram_refused(g):
    """A source whose stream leaves a page of guest RAM out (its first
    round must give every page; later rounds give pages again): the
    destination refuses it at END, naming the range, and runs nothing."""
    c = Client(g.sock)
    g.wait_for("^count 3 ")
    snap = os.path.join(g.tmp, "guest.snap")
    c.cmd("snapshot-save", file=snap)
    data = open(snap, "rb").read()
    recs = records(data)
    at, t, ln = [x for x in recs if x[1] == 4][0]
    off, n = ram_pages(data, at, t, ln)
    d = Dest(g, f"unix:{g.tmp}/mig.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    try:
        s.connect(f"{g.tmp}/mig.sock")
        # A file's HELLO, with what a source's says: it ends with COMMIT.
        hello = json.loads(data[recs[0][0] + REC_HDR:recs[1][0]])
        hello["commit"] = 1
        s.sendall(data[:12] + record(1, json.dumps(hello).encode()))
        for rat, rt, rln in recs[1:3]:
            s.sendall(data[rat:rat + REC_HDR + rln])
        verdict = s.recv(65536)
        expect(verdict[:1] == b"\x0a", verdict[:20])
        vt, vln = struct.unpack_from("<B3xI", verdict)
        while len(verdict) < REC_HDR + vln:
            verdict += s.recv(65536)
        v = json.loads(verdict[REC_HDR:REC_HDR + vln])
        expect(vt == 10 and v["accepted"] is True, v)
        # Pages sent again are a later round's (a RAM_ZERO run, first
        # and again in its place); the missing ones are not.
        zat, zt, zln = [x for x in recs if x[1] == 5][0]
        body = data[zat:zat + REC_HDR + zln] + b"".join(
            data[rat:rat + REC_HDR + rln] for rat, rt, rln in recs[3:]
            if rt != 12 and rat != at)
        s.sendall(body)
        st = d.proc.wait(20)
        expect(st == 125, f"destination status {st}: {d.output()}")
        expect(f"guest RAM 0x{off:x}-0x{off + n * 4096 - 1:x} ({n} pages) "
               "is in no RAM or RAM_ZERO record" in d.output(), d.output())
        expect("count" not in d.output(), d.output())
    finally:
        s.close()
        d.close()
    g.assert_running()


# Migration ----------------------------------------------------------------

def last_count(text):
    return int(re.findall(r"^count (\d+) ", text, re.M)[-1])


class Dest:
    """A destination host: modvmm run --incoming, its own module dir."""

    def __init__(self, g, uri, moddir=None, netns=None, extra=(), env=None,
                 name="dest"):
        self.out_path = os.path.join(g.tmp, name + ".out")
        self.sock = os.path.join(g.tmp, name + ".sock")
        self.out = open(self.out_path, "w")
        cmd = [MODVMM, "run", "--module-dir", moddir or g.moddir,
               "--incoming", uri, "--control", self.sock] + list(extra)
        if netns:
            cmd = ["ip", "netns", "exec", netns] + cmd
        self.proc = subprocess.Popen(cmd, stdout=self.out,
                                     stderr=subprocess.STDOUT,
                                     env=dict(os.environ, **env) if env
                                     else None)
        deadline = time.time() + 10
        while "waiting for a migration" not in self.output():
            expect(time.time() < deadline and self.proc.poll() is None,
                   "destination did not start: " + self.output())
            time.sleep(0.02)
        time.sleep(0.05)

    def output(self):
        with open(self.out_path, errors="replace") as f:
            return f.read()

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.out.close()


def migration_end(c, timeout=60):
    """The MIGRATION event that ends it."""
    deadline = time.time() + timeout
    while True:
        e = c.event("MIGRATION", max(deadline - time.time(), 0.1))
        if e["data"]["status"] in ("completed", "failed", "cancelled",
                                   "unknown"):
            return e["data"]


def guest_text(*outputs):
    """What the guest printed on the hosts it ran on, in order: modvmm's
    own lines taken out (a line the guest was printing when it moved may
    be split between two hosts, and modvmm's may follow its first part)."""
    return "".join(re.sub(r"modvmm: [^\n]*\n", "", o) for o in outputs)


def check_continues(g, d):
    """The counter lines go on without a gap from the source to the
    destination, with the sums they must have and no failed check."""
    before = len(count_lines(guest_text(g.output())))
    deadline = time.time() + 20
    while len(count_lines(guest_text(g.output(), d.output()))) < before + 3:
        expect(time.time() < deadline, "destination: " + d.output()[-400:])
        time.sleep(0.05)
    ns = [n for n, _ in count_lines(guest_text(g.output(), d.output()))]
    expect(ns == list(range(1, len(ns) + 1)), ns)
    for n, sm in count_lines(guest_text(d.output())):
        expect(sm == expected_sum(n, g.pages), (n, hex(sm)))
    expect("FAIL" not in d.output(), d.output()[-300:])


def migrate_unix_guest_continues_on_destination(g):
    g.pages = 64
    d = Dest(g, f"unix:{g.tmp}/mig.sock")
    try:
        c = Client(g.sock)
        g.wait_for("^count 3 ")
        expect(c.cmd("migrate", uri=f"unix:{g.tmp}/mig.sock") == {}, "migrate")
        end = migration_end(c)
        expect(end["status"] == "completed" and end["transferred"] > 0, end)
        e = c.event("SHUTDOWN")
        expect(e["data"]["reason"] == "migrated", e)
        expect(g.wait_exit() == 0, "source status")
        expect("guest migrated to unix:" in g.output(), g.output()[-200:])
        expect("guest arrived from unix:" in d.output(), d.output())
        check_continues(g, d)
        Client(d.sock).cmd("quit")
        expect(d.proc.wait(20) == 0, "destination status")
    finally:
        d.close()


BLK_MAGIC = 0x6b6c626d6d76646d


def disk_blocks(path):
    """The blocks the built-in guest wrote, checked as it checks them:
    {block: sequence number}."""
    mask = (1 << 64) - 1
    found = {}
    with open(path, "rb") as f:
        data = f.read()
    for b in range(len(data) // 4096):
        w = struct.unpack_from("<512Q", data, b * 4096)
        if w[0] != BLK_MAGIC:
            expect(not any(w), f"block {b}: neither written nor zero")
            continue
        seq = w[1]
        expect(w[2] == b, f"block {b} says it is block {w[2]}")
        for i in range(3, 511):
            want = ((seq * 0x9e3779b97f4a7c15) & mask) ^ (b << 32) ^ i
            expect(w[i] == want, f"block {b} word {i}")
        expect(w[511] == sum(w[i] * (i + 1) for i in range(511)) & mask,
               f"block {b}: checksum")
        found[b] = seq
    return found


def migrate_during_block_writes_loses_nothing(g):
    """Every block the guest was told is written is on disk after a
    migration in the middle of its writes: the guest checks each block
    it overwrites and all of them at the end, on the destination, and
    the host checks the file."""
    d = Dest(g, f"unix:{g.tmp}/mig.sock")
    try:
        c = Client(g.sock)
        g.wait_for("^count 8 ")
        c.cmd("migrate", uri=f"unix:{g.tmp}/mig.sock")
        end = migration_end(c)
        expect(end["status"] == "completed", end)
        expect(g.wait_exit() == 0, "source status")
        expect(d.proc.wait(60) == 0, "destination: " + d.output()[-600:])
        text = guest_text(g.output(), d.output())
        ns = [n for n, _ in count_lines(text)]
        expect(ns == list(range(1, 101)), ns)
        expect(re.search(r"^count \d+ ", d.output(), re.M),
               "the destination wrote no block")
        expect("virtio-blk: 100 writes, 200 reads verified" in text,
               text[-400:])
        expect("modvmm guest: PASS" in d.output(), d.output()[-400:])
        blocks = disk_blocks(g.disk)
        expect(blocks == {n % 64: n for n in range(37, 101)}, blocks)
    finally:
        d.close()


def migrated_disk_lock_goes_with_the_guest(g):
    """The disk image's lock goes with the guest: while the source runs
    it, a destination could not lock it; after the commit the destination
    holds it, so a third host that opens the image is refused, naming
    the lock; once the destination quits, the image is free."""
    d = Dest(g, f"unix:{g.tmp}/mig.sock")
    other = os.path.join(g.tmp, "other")
    os.makedirs(other)

    def third():
        return subprocess.run(
            [MODVMM, "run", "--module-dir", g.moddir, "--device",
             f"virtio-blk,file={g.disk}", "--append", "count=1"],
            capture_output=True, text=True, timeout=30, cwd=other)
    try:
        c = Client(g.sock)
        g.wait_for("^count 3 ")
        r = third()
        expect(r.returncode == 125 and "in use: another process holds a "
               "lock on it" in r.stderr, r.stderr)
        c.cmd("migrate", uri=f"unix:{g.tmp}/mig.sock")
        end = migration_end(c)
        expect(end["status"] == "completed", end)
        expect(g.wait_exit() == 0, "source status")
        d_seen = time.time() + 10
        while "count" not in guest_text(d.output()):
            expect(time.time() < d_seen, d.output()[-300:])
            time.sleep(0.05)
        r = third()
        expect(r.returncode == 125 and "in use: another process holds a "
               "lock on it" in r.stderr, r.stderr)
        Client(d.sock).cmd("quit")
        expect(d.proc.wait(20) == 0, d.output()[-300:])
        r = third()
        expect(r.returncode == 0 and "in use" not in r.stderr, r.stderr)
    finally:
        d.close()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def migrate_tcp_while_guest_rewrites_memory(g):
    g.pages = 2000
    uri = f"tcp:127.0.0.1:{free_port()}"
    d = Dest(g, uri)
    try:
        c = Client(g.sock)
        g.wait_for("^count 3 ")
        c.cmd("migrate", uri=uri, **{"downtime-ms": 50})
        end = migration_end(c)
        expect(end["status"] == "completed", end)
        st = g.wait_exit()
        expect(st == 0, st)
        check_continues(g, d)
    finally:
        d.close()


# Migration over TLS ---------------------------------------------------------

_TLS = {}


def _certtool(*args):
    subprocess.run(["certtool", *args], check=True, capture_output=True)


def _tls_pair(d, name, ca, tmpl):
    """d/NAME-key.pem and d/NAME-cert.pem, signed by ca (its dir)."""
    key, cert = f"{d}/{name}-key.pem", f"{d}/{name}-cert.pem"
    t = f"{d}/{name}.tmpl"
    with open(t, "w") as f:
        f.write(tmpl)
    _certtool("--generate-privkey", "--key-type=ecdsa", "--outfile", key)
    _certtool("--generate-certificate", "--load-privkey", key,
              "--load-ca-certificate", f"{ca}/ca-cert.pem",
              "--load-ca-privkey", f"{ca}/ca-key.pem", "--template", t,
              "--outfile", cert)
    os.unlink(t)


def tls_dirs():
    """Certificate directories, made once per run with certtool:
    good (a CA, a server certificate for 127.0.0.1 and localhost, a
    client certificate), other-ca (the same, signed by another CA, which
    is also its ca-cert.pem), expired, wrong-host (a server certificate
    for another name), and client-other-ca (good's CA, a client signed by
    the other CA). Keys are mode 0600."""
    if _TLS:
        return _TLS
    root = tempfile.mkdtemp(prefix="modvmm-tls-")
    import atexit
    atexit.register(shutil.rmtree, root, True)
    server = ('cn = "destination"\ndns_name = "localhost"\n'
              'ip_address = "127.0.0.1"\ntls_www_server\n'
              'signing_key\nencryption_key\nexpiration_days = 30\n')
    client = ('cn = "source"\ntls_www_client\nsigning_key\n'
              'encryption_key\nexpiration_days = 30\n')
    for ca in ("good", "other-ca"):
        d = os.path.join(root, ca)
        os.makedirs(d)
        with open(f"{d}/ca.tmpl", "w") as f:
            f.write(f'cn = "modvmm test CA {ca}"\nca\ncert_signing_key\n'
                    'expiration_days = 30\n')
        _certtool("--generate-privkey", "--key-type=ecdsa", "--outfile",
                  f"{d}/ca-key.pem")
        _certtool("--generate-self-signed", "--load-privkey",
                  f"{d}/ca-key.pem", "--template", f"{d}/ca.tmpl",
                  "--outfile", f"{d}/ca-cert.pem")
        _tls_pair(d, "server", d, server)
        _tls_pair(d, "client", d, client)
    good = os.path.join(root, "good")
    for name, srv, cli, ca in (
            ("expired", server.replace(
                "expiration_days = 30",
                'activation_date = "2020-01-01 00:00:00"\n'
                'expiration_date = "2021-01-01 00:00:00"'), client, good),
            ("wrong-host", server.replace("localhost", "other.example")
             .replace("127.0.0.1", "10.9.9.9"), client, good),
            ("client-expired", server, client.replace(
                "expiration_days = 30",
                'activation_date = "2020-01-01 00:00:00"\n'
                'expiration_date = "2021-01-01 00:00:00"'), good)):
        d = os.path.join(root, name)
        os.makedirs(d)
        shutil.copy(f"{good}/ca-cert.pem", d)
        _tls_pair(d, "server", ca, srv)
        _tls_pair(d, "client", ca, cli)
    d = os.path.join(root, "client-other-ca")
    os.makedirs(d)
    shutil.copy(f"{good}/ca-cert.pem", d)
    for f in ("client-cert.pem", "client-key.pem"):
        shutil.copy(os.path.join(root, "other-ca", f), d)
    for f in ("server-cert.pem", "server-key.pem"):
        shutil.copy(os.path.join(good, f), d)
    for name in os.listdir(root):
        _TLS[name] = os.path.join(root, name)
        for f in os.listdir(_TLS[name]):
            if f.endswith("-key.pem"):
                os.chmod(os.path.join(_TLS[name], f), 0o600)
    return _TLS


def recording_proxy(port, dest_port):
    """Listens on 127.0.0.1:port, relays one connection to dest_port and
    keeps the bytes each way: {"up": bytearray, "down": bytearray}."""
    seen = {"up": bytearray(), "down": bytearray()}
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(1)

    def pipe(a, b, key):
        try:
            while True:
                data = a.recv(1 << 16)
                if not data:
                    break
                seen[key] += data
                b.sendall(data)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def serve():
        a, _ = ls.accept()
        ls.close()
        b = socket.create_connection(("127.0.0.1", dest_port))
        threading.Thread(target=pipe, args=(b, a, "down"),
                         daemon=True).start()
        pipe(a, b, "up")

    threading.Thread(target=serve, daemon=True).start()
    return seen


def migrate_tls_guest_continues_on_destination(g):
    """Both hosts with --migration-tls: the guest moves over TLS and counts
    on at the destination; what crossed the wire is a TLS handshake and
    records, never the stream's magic nor the guest's pages in clear."""
    certs = tls_dirs()
    sub = os.path.join(g.tmp, "src")
    os.makedirs(sub)
    h = Guest(sub, extra=["--migration-tls", certs["good"]])
    dport, pport = free_port(), free_port()
    d = Dest(g, f"tcp:127.0.0.1:{dport}",
             extra=["--migration-tls", certs["good"]])
    try:
        h.pages = 64
        seen = recording_proxy(pport, dport)
        c = Client(h.sock)
        h.wait_for("^count 3 ")
        c.cmd("migrate", uri=f"tcp:127.0.0.1:{pport}")
        end = migration_end(c)
        expect(end["status"] == "completed", (end, d.output()[-600:]))
        expect(h.wait_exit() == 0, "source status")
        check_continues(h, d)
        up = bytes(seen["up"])
        expect(len(up) > end["transferred"], (len(up), end))
        expect(up[0] == 0x16 and seen["down"][0] == 0x16,
               "not a TLS handshake: " + up[:8].hex())
        expect(b"MODVMMSS" not in up and b"MODVMMSS" not in seen["down"],
               "the stream's magic crossed in clear")
        expect(b"modvmm guest" not in up, "guest memory crossed in clear")
        # GIO's debug lines (loading its TLS module) stay hidden.
        expect("DEBUG" not in h.output() + d.output(), d.output()[:300])
        # The TLS thread and the GLib workers it started run filtered.
        modes = thread_filters(d.proc.pid)
        expect(modes.get("tls") == {2}, modes)
        expect(all(m == {2} for n, m in modes.items()
                   if not n.startswith("kvm-")), modes)
        Client(d.sock).cmd("quit")
        expect(d.proc.wait(20) == 0, "destination status")
    finally:
        d.close()
        h.close()


def migrate_tls_refusals_keep_the_guest(g):
    """Each bad peer is refused in the TLS handshake, before HELLO, with a
    message naming what is wrong; the guest keeps running on the source
    and the destination starts none. The source here has no
    --migration-tls: migrate's tls= gives the directory (tls=off: none)."""
    certs = tls_dirs()
    good = certs["good"]
    c = Client(g.sock)
    g.wait_for("^count 2 ")
    # (case, source's tls=, destination's --migration-tls or None,
    #  the source's error, text in the destination's output). TLS 1.3
    # checks the client's certificate after the client's last handshake
    # message: a source refused for its own certificate sees the
    # connection close; the destination says why.
    refused = "{uri}: TLS handshake with the destination refused; "
    closed = "the destination closed the connection during '"
    cases = [
        ("destination signed by another CA", good, certs["other-ca"],
         refused + "the destination's certificate is not signed by the "
         f"CA of {good}/ca-cert.pem", "TLS handshake with the source"),
        ("source signed by another CA", certs["client-other-ca"], good,
         closed, "{uri}: TLS handshake with the source refused; the "
         f"source's certificate is not signed by the CA of "
         f"{good}/ca-cert.pem"),
        ("expired destination certificate", good, certs["expired"],
         refused + "the destination's certificate has expired",
         "TLS handshake with the source"),
        ("expired source certificate", certs["client-expired"], good,
         closed, "{uri}: TLS handshake with the source refused; the "
         "source's certificate has expired"),
        ("destination certificate for another host", good,
         certs["wrong-host"],
         refused + "the destination's certificate is not issued for "
         "'127.0.0.1'", "TLS handshake with the source"),
        ("plaintext source, TLS destination", "off", good,
         "", "{uri}: TLS handshake with the source failed"),
        ("TLS source, plaintext destination", good, None,
         "{uri}: TLS handshake with the destination failed",
         "not a modvmm snapshot or migration stream"),
    ]
    for i, (what, src, dst, src_says, dst_says) in enumerate(cases):
        sub = os.path.join(g.tmp, f"d{i}")
        os.makedirs(sub)
        port = free_port()
        uri = f"tcp:127.0.0.1:{port}"
        src_says = src_says.format(uri=uri)
        dst_says = dst_says.format(uri=uri)
        d = Dest(types.SimpleNamespace(tmp=sub, moddir=g.moddir), uri,
                 extra=["--migration-tls", dst] if dst else [])
        try:
            c.cmd("migrate", uri=uri, tls=src)
            end = migration_end(c)
            expect(end["status"] == "failed", (what, end))
            expect(src_says in end["error"], (what, end["error"]))
            expect(d.proc.wait(20) == 125, (what, d.output()))
            out = d.output()
            expect(dst_says in out and "no guest started here" in out,
                   (what, out))
            # Refused before HELLO: the destination judged nothing.
            expect("verdict" not in out, (what, out))
            expect(c.cmd("query-status")["status"] == "running", what)
            g.assert_running()
        finally:
            d.close()
    # migrate-check goes through the same handshake.
    port = free_port()
    uri = f"tcp:127.0.0.1:{port}"
    sub = os.path.join(g.tmp, "check")
    os.makedirs(sub)
    d = Dest(types.SimpleNamespace(tmp=sub, moddir=g.moddir), uri,
             extra=["--migration-tls", certs["wrong-host"]])
    try:
        err = c.error("migrate-check", {"uri": uri, "tls": good})
        expect("the destination's certificate is not issued for "
               "'127.0.0.1'" in err, err)
    finally:
        d.close()
    err = c.error("migrate", {"uri": uri, "tls": g.tmp})
    expect(err.startswith(f"migration TLS: {g.tmp}/ca-cert.pem: "), err)
    g.assert_running()


def refused_migration_leaves_source_running(g):
    other = os.path.join(g.tmp, "other")
    os.makedirs(other)
    for so in ("uart16550.so", "i8042.so", "debug-exit.so"):
        shutil.copy(os.path.join(g.moddir, so), other)
    d = Dest(g, f"unix:{g.tmp}/mig.sock", moddir=other)
    try:
        c = Client(g.sock)
        c.cmd("device-add", driver="pvpanic", id="pp")
        c.cmd("migrate", uri=f"unix:{g.tmp}/mig.sock")
        end = migration_end(c)
        expect(end["status"] == "failed", end)
        expect(end["error"].startswith("refused by the destination; the "
                                       "guest keeps running here:\n"), end)
        expect("pp (pvpanic): refused: module missing" in end["error"], end)
        expect(c.cmd("query-status")["status"] == "running", "status")
        g.assert_running()
        expect(d.proc.wait(20) == 125, "destination status")
        expect("no guest started here" in d.output(), d.output())
        expect(c.cmd("query-migrate")["status"] == "failed", "query")
    finally:
        d.close()


def migrate_check_then_migrate(g):
    g.pages = 64
    other = os.path.join(g.tmp, "other")
    os.makedirs(other)
    for so in ("uart16550.so", "i8042.so", "debug-exit.so"):
        shutil.copy(os.path.join(g.moddir, so), other)
    uri = f"unix:{g.tmp}/mig.sock"
    d = Dest(g, uri)
    try:
        c = Client(g.sock)
        r = c.cmd("migrate-check", uri=uri)
        expect(r["accepted"] is True and "verdict: accepted, 3 devices" in
               r["verdict"], r)
        # The destination listens on through the check: a migration that
        # follows at once finds the socket.
        expect(os.path.exists(f"{g.tmp}/mig.sock"), "stopped listening")
        r = ctl_plain(g, "migrate-check", f"uri={uri}")
        expect(r.returncode == 0 and "uart165500 (uart16550): accepted at "
               "version 1" in r.stdout, r.stdout + r.stderr)
        expect(c.cmd("query-status")["status"] == "running", "status")
        expect(d.proc.poll() is None, "the destination stopped waiting")
        expect(c.cmd("query-migrate")["status"] == "none", "a migration ran")
        c.cmd("migrate", uri=uri)
        expect(migration_end(c)["status"] == "completed", "migrate")
        check_continues(g, d)
    finally:
        d.close()


def migrate_incoming_over_control_socket(g):
    """A destination started with --incoming defer: its control socket
    answers before the guest arrives, refuses what needs a guest, and
    takes the URI from migrate-incoming."""
    g.pages = 64
    dsock = f"{g.tmp}/dest.sock"
    out = open(f"{g.tmp}/dest.out", "w")
    d = subprocess.Popen([MODVMM, "run", "--module-dir", g.moddir,
                          "--incoming", "defer", "--control", dsock],
                         stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 10
        while not os.path.exists(dsock):
            expect(time.time() < deadline and d.poll() is None, "no socket")
            time.sleep(0.02)
        dc = Client(dsock)
        expect(dc.cmd("query-status") == {"status": "inmigrate",
                                          "running": False}, "inmigrate")
        err = dc.error("cont")
        expect(err == "cont: the guest has not arrived yet (an incoming "
               "migration is awaited)", err)
        dc.error("query-devices")
        uri = f"unix:{g.tmp}/mig.sock"
        expect(dc.cmd("migrate-incoming", uri=uri) == {}, "incoming")
        err = dc.error("migrate-incoming", {"uri": uri})
        expect(err.startswith("the incoming migration has its URI already"),
               err)
        deadline = time.time() + 10
        while not os.path.exists(f"{g.tmp}/mig.sock"):
            expect(time.time() < deadline, "no listener")
            time.sleep(0.02)
        c = Client(g.sock)
        err = c.error("migrate-incoming", {"uri": uri})
        expect(err.startswith("no incoming migration is awaited"), err)
        c.cmd("migrate", uri=uri)
        expect(migration_end(c)["status"] == "completed", "migrate")
        deadline = time.time() + 10
        while dc.cmd("query-status")["status"] != "running":
            expect(time.time() < deadline, "not running")
            time.sleep(0.05)
        devs = [x["id"] for x in dc.cmd("query-devices")]
        expect("uart165500" in devs, devs)
        dc.cmd("quit")
        st = d.wait(20)
        expect(st == 0, f"destination status {st}: " +
               open(f"{g.tmp}/dest.out").read()[-1500:])
    finally:
        if d.poll() is None:
            d.kill()
        out.close()



def host_names_resolve_under_enforce(g):
    """A tcp: URI with a host name is looked up on the control thread under
    its system call filter: the name works, a name that does not exist is
    an error reply, and the guest runs on through both."""
    g.pages = 64
    dsock = f"{g.tmp}/dest.sock"
    out = open(f"{g.tmp}/dest.out", "w")
    d = subprocess.Popen([MODVMM, "run", "--module-dir", g.moddir,
                          "--incoming", "defer", "--control", dsock],
                         stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 10
        while not os.path.exists(dsock):
            expect(time.time() < deadline and d.poll() is None, "no socket")
            time.sleep(0.02)
        uri = f"tcp:localhost:{free_port()}"
        dc = Client(dsock)
        # The destination looks the name up on its control thread too.
        expect(dc.cmd("migrate-incoming", uri=uri) == {}, "incoming")
        c = Client(g.sock)
        bad = "tcp:nonexistent.invalid:4444"
        for cmd in ("migrate-check", "migrate"):
            err = c.error(cmd, {"uri": bad})
            expect(err.startswith(bad + ": "), err)
            r = ctl_plain(g, cmd, f"uri={bad}", check=False)
            expect(r.returncode == 1 and f"{cmd}: {bad}: " in r.stderr,
                   r.stderr)
        expect(c.cmd("query-status")["status"] == "running", "status")
        g.assert_running()
        deadline = time.time() + 10
        while True:
            r = c.request("migrate-check", {"uri": uri})
            if "return" in r or time.time() > deadline:
                break
            time.sleep(0.1)  # the destination is still setting up
        expect(r.get("return", {}).get("accepted") is True, r)
        c.cmd("migrate", uri=uri)
        expect(migration_end(c)["status"] == "completed", "migrate")
        expect(g.wait_exit() == 0, "source status")
        expect("seccomp" not in g.output() + open(f"{g.tmp}/dest.out").read(),
               g.output()[-500:])
        deadline = time.time() + 10
        while dc.cmd("query-status")["status"] != "running":
            expect(time.time() < deadline, "not running")
            time.sleep(0.05)
        dc.cmd("quit")
        expect(d.wait(20) == 0, "destination status")
    finally:
        if d.poll() is None:
            d.kill()
            d.wait()
        out.close()


def documented_commands():
    with open(os.path.join(SRC, "docs", "control.md")) as f:
        doc = f.read()
    part = doc.split("## Commands", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^### `([a-z_-]+)`$", part, re.M)


HOSTILE_STRINGS = ["", " ", "x" * 20000, "\u00e9\u4e2d\U0001f600",
                   "a\nb", "../../../../../../etc/passwd", "/dev/kvm",
                   "/proc/self/mem", "%s%n%s", "-1", "null"]
HOSTILE_INTS = [0, -1, 2**31, 2**32 + 1, 2**63 - 1, -2**63]
HOSTILE_URIS = ["unix:", "tcp:", "tcp::", "tcp:localhost:", "tcp::4444",
                "tcp:localhost:99999", "tcp:localhost:0", "tcp:[::1]:1",
                "tcp:localhost:1", "tcp:127.0.0.1:1",
                "tcp:nonexistent.invalid:4444",
                "tcp:" + "a" * 300 + ":1", "tcp:" + "a." * 200 + ":1",
                "unix:" + "x" * 200, "fd:", "fd:-1", "fd:x", "fd:99999",
                "fd:99999999999999999999", "ftp:x"] + [
                    f"fd:{n}" for n in range(0, 40)]


def command_calls(g):
    """Every documented command with ordinary and hostile arguments:
    (command, arguments) pairs. quit only with arguments it refuses."""
    tmp = g.tmp
    calls = {
        "qmp_capabilities": [None, {"x": 1}],
        "stop": [None, {"x": 1}],
        "cont": [None, {"x": 1}],
        "quit": [{"x": 1}, {"now": True}],
        "module-load": [{"file": f} for f in
                        ["debug-exit", "debug-exit.so", "nope", ".", "..",
                         g.moddir, tmp] + HOSTILE_STRINGS] +
                       [{"file": 1}, {}],
        "module-unload": [{"name": n} for n in
                          ["uart16550", "nope"] + HOSTILE_STRINGS],
        "device-add": [{"driver": "pvpanic", "id": "sweep0"},
                       {"driver": "pvpanic", "id": "sweep0"},
                       {"driver": "pvpanic", "id": "", "x": 1},
                       {"driver": "debug-exit", "iobase": -1},
                       {"driver": "debug-exit", "iobase": 2**63 - 1},
                       {"driver": "uart16550", "id": "uart165500"},
                       {"driver": "virtio-rng", "x": [1]}] +
                      [{"driver": s} for s in HOSTILE_STRINGS] +
                      [{"driver": "pvpanic", "id": s}
                       for s in HOSTILE_STRINGS[1:]],
        "device-del": [{"id": "sweep0"}, {"id": "sweep0"}] +
                      [{"id": s} for s in HOSTILE_STRINGS],
        "snapshot-save": [{"file": f"{tmp}/snap"}, {"file": tmp},
                          {"file": f"{tmp}/none/snap"},
                          {"file": f"{tmp}/" + "x" * 5000},
                          {"file": ""}, {"file": 5}],
        "migrate": [{"uri": f"unix:{tmp}/nobody.sock"}] +
                   [{"uri": u} for u in HOSTILE_URIS] +
                   [{"uri": f"unix:{tmp}/nobody.sock", k: v}
                    for k in ("downtime-ms", "timeout-s")
                    for v in HOSTILE_INTS],
        "migrate-check": [{"uri": u} for u in
                          [f"unix:{tmp}/nobody.sock"] + HOSTILE_URIS],
        "migrate-incoming": [{"uri": u} for u in
                             [f"unix:{tmp}/in.sock"] + HOSTILE_URIS],
        "migrate-cancel": [None, {"x": 1}],
    }
    for name in documented_commands():
        for args in calls.get(name, [None, {"x": 1}, {"x": "\u00e9"}]):
            yield name, args


def every_command_survives_hostile_arguments(g):
    """Each command of docs/control.md, with ordinary and hostile
    arguments, under the default seccomp enforce mode: each gets one
    reply (a return or an error), and afterwards the guest still runs
    and answers."""
    c = Client(g.sock)
    seen = set()
    n = 0
    for name, args in command_calls(g):
        seen.add(name)
        r = c.request(name, args, id=n)
        n += 1
        expect(r.get("id") == n - 1 and ("return" in r or "error" in r),
               (name, args, r))
        expect(g.proc.poll() is None,
               f"{name} {args}: modvmm ended: " + g.output()[-600:])
        if name == "stop" and "return" in r:
            c.cmd("cont")
        if name == "migrate" and "return" in r:
            deadline = time.time() + 30
            while c.cmd("query-migrate")["status"] not in (
                    "failed", "cancelled", "completed"):
                expect(time.time() < deadline, f"{name} {args}: no end")
                time.sleep(0.02)
    expect(seen == set(documented_commands()), seen)
    expect(c.cmd("query-status") == {"status": "running", "running": True},
           "status")
    g.assert_running()
    expect("seccomp" not in g.output(), g.output()[-600:])
    # A fresh client is served too.
    expect(Client(g.sock).cmd("query-status")["running"] is True, "fresh")

def migrate_check_refused(g):
    other = os.path.join(g.tmp, "other")
    os.makedirs(other)
    for so in ("uart16550.so", "i8042.so", "debug-exit.so"):
        shutil.copy(os.path.join(g.moddir, so), other)
    uri = f"unix:{g.tmp}/mig.sock"
    d = Dest(g, uri, moddir=other)
    try:
        c = Client(g.sock)
        c.cmd("device-add", driver="pvpanic", id="pp")
        r = c.cmd("migrate-check", uri=uri)
        expect(r["accepted"] is False and "pp (pvpanic): refused: module "
               "missing" in r["verdict"], r)
        r = ctl_plain(g, "migrate-check", f"uri={uri}", check=False)
        expect(r.returncode == 1 and "verdict: refused" in r.stdout, r)
        g.assert_running()
        d2 = c.error("migrate-check", {"uri": f"unix:{g.tmp}/nothing"})
        expect("nothing" in d2, d2)
    finally:
        d.close()


def read_records(conn, stop_after=None, known=None, types=None,
                 verdict=None, lens=None):
    """Reads a source's stream: the magic, then records; returns the
    types read, until stop_after(types) says so (with `lens`, the list
    their payloads' lengths go to). The verdict it answers with accepts
    everything, with `known` as its subsections, unless `verdict` gives
    another."""
    def recv(n):
        b = b""
        while len(b) < n:
            chunk = conn.recv(n - len(b))
            if not chunk:
                raise EOFError
            b += chunk
        return b
    recv(12)
    types = [] if types is None else types
    offered = {}
    while True:
        t, ln = struct.unpack("<B3xI8x", recv(REC_HDR))
        data = recv(ln)
        if lens is not None:
            lens.append(ln)
        types.append(t)
        if t == 2:  # MANIFEST: each device's newest state version
            offered = {d["id"]: d["vmstate"]["version"]
                       for d in json.loads(data)["devices"]
                       if d.get("vmstate")}
        if t == 3:  # CONFIG: the verdict is awaited
            v = verdict or {"accepted": True, "verdict": "fake",
                            "versions": offered, "commit": 1}
            if known is not None:
                v["known"] = known
            conn.sendall(record(10, json.dumps(v).encode()))
        if stop_after and stop_after(types):
            return types


def fake_destination(path, stop_after, known=None, verdict=None, lens=None):
    """A destination that accepts, then stops reading where told."""
    l = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    l.bind(path)
    l.listen(1)
    out = {"seen": []}

    def serve():
        conn, _ = l.accept()
        try:
            out["types"] = read_records(conn, stop_after, known,
                                        out["seen"], verdict, lens)
        except EOFError:
            out["types"] = "eof"
        out["conn"] = conn
        l.close()
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return t, out


def destination_gone_mid_transfer_source_resumes(g):
    path = f"{g.tmp}/fake.sock"
    t, out = fake_destination(path, lambda ts: ts.count(4) >= 2)
    c = Client(g.sock)
    c.cmd("migrate", uri=f"unix:{path}")
    t.join(20)
    out["conn"].close()
    end = migration_end(c)
    expect(end["status"] == "failed" and re.fullmatch(
        r"the destination closed the connection during 'ram' "
        r"\((Broken pipe|Connection reset by peer)\)", end["error"]), end)
    expect(c.cmd("query-status")["status"] == "running", "status")
    g.assert_running()


def destination_killed_mid_transfer_source_resumes(g):
    """The real destination process, killed while RAM is moving (a
    guest rewriting 32 MiB and a 1 ms limit keep the rounds going)."""
    d = Dest(g, f"unix:{g.tmp}/mig.sock")
    try:
        c = Client(g.sock)
        g.wait_for("^count 2 ")
        c.cmd("migrate", uri=f"unix:{g.tmp}/mig.sock", **{"downtime-ms": 1})
        while c.event("MIGRATION")["data"]["status"] != "active":
            pass
        d.proc.kill()
        end = migration_end(c)
        expect(end["status"] == "failed" and re.match(
            "the destination closed the connection during "
            "'(ram|device state|complete)'", end["error"]), end)
        expect(c.cmd("query-status")["status"] == "running", "status")
        g.assert_running()
        expect("migration: to unix:" in g.output() and
               "the guest keeps running here" in g.output(),
               g.output()[-300:])
    finally:
        d.close()


def no_complete_source_resumes(g):
    path = f"{g.tmp}/fake.sock"
    t, out = fake_destination(path, lambda ts: ts[-1] == 9)
    c = Client(g.sock)
    c.cmd("migrate", uri=f"unix:{path}")
    t.join(20)
    expect(out["types"][-1] == 9 and 6 in out["types"], out)
    out["conn"].close()  # the state arrived, no COMPLETE goes back
    end = migration_end(c)
    expect(end["status"] == "failed" and end["error"] ==
           "the destination closed the connection during 'complete'", end)
    expect(c.cmd("query-status")["status"] == "running", "status")
    g.assert_running()


def malformed_verdict_refused_source_resumes(g):
    """A destination whose verdict has members of the wrong type: the
    source refuses it, naming what is wrong, and keeps its guest."""
    bad = [({"accepted": "yes"}, "accepted: expected true or false"),
           ({"verdict": "fake"}, "accepted: missing"),
           ({"accepted": True, "verdict": 1}, "verdict: expected a string"),
           ({"accepted": True, "known": {"fx-counter0": [1]}},
            "known.fx-counter0[0]: expected a UTF-8 string of at most 256 "
            "bytes"),
           ({"accepted": True, "known": {"x": "y"}},
            "known.x: expected an array"),
           ({"accepted": True, "versions": []},
            "versions: expected an object or null"),
           ({"accepted": True, "versions": {"u0": "1"}},
            "versions.u0: expected an integer")]
    c = Client(g.sock)
    for n, (verdict, why) in enumerate(bad):
        path = f"{g.tmp}/fake{n}.sock"
        t, out = fake_destination(path, lambda ts: ts[-1] == 3,
                                  verdict=verdict)
        c.cmd("migrate", uri=f"unix:{path}")
        end = migration_end(c)
        t.join(20)
        out.get("conn") and out["conn"].close()
        expect(end["status"] == "failed" and end["error"] ==
               f"unix:{path}: the destination's verdict is not one: {why}",
               end)
    expect(c.cmd("query-status")["status"] == "running", "status")
    g.assert_running()


def verdict_version_not_offered_refused_source_resumes(g):
    """A destination that accepts with a state version the source did not
    offer (0, a device left out, one above what it saves) or names a
    device the guest does not have: the source refuses the verdict,
    naming each device, and its guest runs on."""
    c = Client(g.sock)
    mods = {m["name"]: m for m in c.cmd("query-modules")}
    vs = mods["uart16550"]["vmstates"]
    expect(vs and "@" in vs[0], vs)
    newest = int(vs[0].split("@")[1])
    cases = [({"uart165500": 0}, "versions.uart165500: 0 is out of range"),
             ({}, "uart165500 (uart16550): no agreed state version (0); "
              f"this source saves versions 1-{newest}"),
             ({"uart165500": newest + 1},
              f"uart165500 (uart16550): agreed state version {newest + 1}, "
              f"this source saves versions 1-{newest}"),
             ({"ghost0": 1}, "ghost0: a device this guest does not have")]
    for n, (versions, why) in enumerate(cases):
        path = f"{g.tmp}/fakev{n}.sock"
        t, out = fake_destination(path, lambda ts: ts[-1] == 3,
                                  verdict={"accepted": True,
                                           "verdict": "fake",
                                           "versions": versions})
        c.cmd("migrate", uri=f"unix:{path}")
        end = migration_end(c)
        t.join(20)
        out.get("conn") and out["conn"].close()
        expect(end["status"] == "failed" and why in end["error"], (why, end))
        expect(c.cmd("query-status")["status"] == "running", "status")
    g.assert_running()


def subsection_needed_after_verdict_aborts(g):
    """The destination knew no subsection of fx-counter0 when it gave
    its verdict; at stop time fx-counter/extra is to be sent: the source
    must abort and resume rather than send what cannot load."""
    path = f"{g.tmp}/fake.sock"
    t, out = fake_destination(path, lambda ts: ts[-1] == 9,
                              known={"fx-counter0": []})
    c = Client(g.sock)
    c.cmd("migrate", uri=f"unix:{path}")
    end = migration_end(c)
    expect(end["status"] == "failed" and end["error"] ==
           "fx-counter0 (fx-counter): subsection fx-counter/extra became "
           "needed after the verdict and the destination does not know it; "
           "the guest keeps running here", end)
    expect(c.cmd("query-status")["status"] == "running", "status")
    g.assert_running()
    t.join(5)
    expect(out["types"] == "eof" and 4 in out["seen"] and
           6 not in out["seen"], out)


def gated_destination(path):
    """A destination that accepts, reads one RAM record of 1 MiB or more,
    waits for its gate, reads up to the next such record and then
    nothing: the source's first round stands still twice (a record that
    large does not fit in the socket's buffer), with records of it
    sent."""
    gate = threading.Event()
    lens = []

    def stop_after(ts):
        big = [t for t, ln in zip(ts, lens) if t == 4 and ln >= 1 << 20]
        if len(big) == 1:
            gate.wait(30)
        return len(big) >= 2
    t, out = fake_destination(path, stop_after, lens=lens)
    return gate, t, out


def first_round_figures(c, more_than=0, timeout=20):
    """query-migrate once the first round has sent more than
    `more_than` bytes, and moves no more for 0.3 s."""
    deadline = time.time() + timeout
    last = None
    while True:
        q = c.cmd("query-migrate")
        expect(q["status"] in ("none", "setup", "active") and
               q.get("rounds", 0) == 0, q)
        if q["status"] == "active" and q["transferred"] > more_than and \
                last and q["transferred"] == last.get("transferred"):
            return q
        expect(time.time() < deadline, f"no progress: {q}")
        last = q
        time.sleep(0.3)


def migration_progress_moves_within_first_round(g):
    """While the first RAM round goes out, query-migrate's transferred,
    ram-percent and remaining move with each record, with an estimated
    time left; the terminal line of modvmm ctl migrate shows them."""
    import pty
    import select
    path = f"{g.tmp}/fake.sock"
    gate, t, out = gated_destination(path)
    c = Client(g.sock)
    g.wait_for("^count 2 ")  # the guest has written its 8192 pages
    master, slave = pty.openpty()
    p = subprocess.Popen([MODVMM, "ctl", g.sock, "migrate",
                          f"uri=unix:{path}"], stdout=slave,
                         stderr=subprocess.PIPE, text=True)
    os.close(slave)
    try:
        q1 = first_round_figures(c)
        expect(0 < q1["ram-percent"] < 100, q1)
        expect(0 < q1["remaining"] < q1["ram-bytes"], q1)
        gate.set()
        q2 = first_round_figures(c, q1["transferred"])
        expect(q1["ram-percent"] <= q2["ram-percent"] < 100, (q1, q2))
        expect(q2["remaining"] < q1["remaining"], (q1, q2))
        expect(q2["time-left-ms"] >= 0 and q2["bandwidth"] > 0, q2)
        # The terminal line: sent, percentage of RAM, time to go, round 1.
        text = b""
        deadline = time.time() + 10
        want = (r"\ractive +(\d+\.\d) MiB sent, +(\d+)% of RAM, [^\r]*? MiB "
                r"left, about \d+ (s|min \d+ s|h \d+ min) to go, dirty "
                r"[^\r]*?, round 1, expected downtime \d+ ms\x1b\[K")
        while not [m for m in re.finditer(want, text.decode())
                   if float(m.group(1)) > 0 and 0 < int(m.group(2)) < 100]:
            expect(time.time() < deadline, text[-400:])
            if select.select([master], [], [], 0.5)[0]:
                text += os.read(master, 65536)
        expect(c.cmd("migrate-cancel") == {}, "cancel")
        expect(p.wait(20) == 1 and "migrate: cancelled" in p.stderr.read(),
               "ctl status")
    finally:
        gate.set()
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(master)
    t.join(20)
    out["conn"].close()
    expect(c.cmd("query-status")["status"] == "running", "status")
    g.assert_running()


def ctl_migrate_says_round_and_waiting(g):
    """modvmm ctl's summary says "1 round" (one round is all a quiet
    guest under the largest downtime limit takes), and migrate-incoming
    confirms where the destination waits."""
    dsock = f"{g.tmp}/dest.sock"
    dout = open(f"{g.tmp}/dest.out", "w")
    d = subprocess.Popen([MODVMM, "run", "--module-dir", g.moddir,
                          "--incoming", "defer", "--control", dsock],
                         stdout=dout, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 10
        while not os.path.exists(dsock):
            expect(time.time() < deadline and d.poll() is None, "no socket")
            time.sleep(0.02)
        uri = f"unix:{g.tmp}/mig.sock"
        r = subprocess.run([MODVMM, "ctl", dsock, "migrate-incoming",
                            f"uri={uri}"], capture_output=True, text=True,
                           timeout=30)
        expect(r.returncode == 0 and
               r.stdout == f"waiting for the guest on {uri}\n", r)
        deadline = time.time() + 10
        while not os.path.exists(f"{g.tmp}/mig.sock"):
            expect(time.time() < deadline, "no listener")
            time.sleep(0.02)
        g.wait_for("^count 3 ")
        r = ctl_plain(g, "migrate", f"uri={uri}", "downtime-ms=600000")
        expect(re.fullmatch(r"migrated to " + re.escape(uri) + r": "
                            r"\d+\.\d MiB in \d+ ms, downtime \d+ ms, "
                            r"1 round\n", r.stdout), r.stdout)
        Client(dsock).cmd("quit")
        expect(d.wait(20) == 0, "destination status")
    finally:
        if d.poll() is None:
            d.kill()
            d.wait()
        dout.close()


def cancel_mid_transfer_source_resumes(g):
    path = f"{g.tmp}/fake.sock"
    # It takes the verdict and then reads nothing more: the source blocks.
    t, out = fake_destination(path, lambda ts: 3 in ts)
    c = Client(g.sock)
    c.cmd("migrate", uri=f"unix:{path}")
    t.join(20)
    time.sleep(0.3)
    d = c.error("migrate", {"uri": f"unix:{path}"})
    expect(d == "a migration is already running", d)
    expect(c.cmd("query-migrate")["status"] in ("active", "device"), "active")
    expect(c.cmd("migrate-cancel") == {}, "cancel")
    end = migration_end(c)
    expect(end["status"] == "cancelled", end)
    out["conn"].close()
    expect(c.cmd("query-status")["status"] == "running", "status")
    g.assert_running()
    d = c.error("migrate-cancel")
    expect(d == "no migration is running", d)


def downtime_limit_from_the_command_line(g):
    path = f"{g.tmp}/fake.sock"
    t, out = fake_destination(path, lambda ts: 3 in ts)
    c = Client(g.sock)
    c.cmd("migrate", uri=f"unix:{path}")
    t.join(20)
    expect(c.cmd("query-migrate")["downtime-limit-ms"] == 77, "limit")
    c.cmd("migrate-cancel")
    expect(migration_end(c)["status"] == "cancelled", "cancel")
    out["conn"].close()
    d = c.error("migrate", {"uri": f"unix:{path}", "downtime-ms": 0})
    expect(d == "downtime-ms 0: 1 to 600000", d)
    r = subprocess.run([MODVMM, "run", "--downtime-ms", "0"],
                       capture_output=True, text=True)
    expect(r.returncode == 2 and "--downtime-ms 0: 1 to 600000" in r.stderr,
           r.stderr)
    g.assert_running()


def source_gone_mid_transfer_destination_exits(g):
    c = Client(g.sock)
    g.wait_for("^count 3 ")
    snap = os.path.join(g.tmp, "guest.snap")
    c.cmd("snapshot-save", file=snap)
    data = open(snap, "rb").read()
    d = Dest(g, f"unix:{g.tmp}/mig.sock")
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(f"{g.tmp}/mig.sock")
        # The snapshot's records are the stream's: send the head, take
        # the verdict, send some RAM and vanish.
        recs = records(data)
        s.sendall(data[:12] + source_hello(data, recs))
        for at, t, ln in recs[1:3]:
            s.sendall(data[at:at + REC_HDR + ln])
        verdict = s.recv(65536)
        expect(verdict[:1] == b"\x0a", verdict[:20])
        # (A file's PAD records have no place in a stream.)
        body = b"".join(data[at:at + REC_HDR + ln]
                        for at, t, ln in recs[3:] if t != 12)
        s.sendall(body[:len(body) // 2])
        s.close()
        st = d.proc.wait(20)
        expect(st == 125, f"destination status {st}: {d.output()}")
        expect("the stream ended" in d.output() and
               "no guest started here" in d.output(), d.output())
        expect("count" not in d.output(), d.output())
    finally:
        d.close()
    g.assert_running()


def corrupting_relay(path, dest_path, rec_type, where):
    """Sits between a source (which connects to `path`) and a real
    destination: passes the stream on record by record and flips a bit
    in the first record of `rec_type`, in its header's length ("header")
    or in the middle of its payload ("payload"). Returns the thread and
    what it did."""
    l = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    l.bind(path)
    l.listen(1)
    info = {}

    def back(a, b):
        try:
            while True:
                chunk = a.recv(65536)
                if not chunk:
                    break
                b.sendall(chunk)
        except OSError:
            pass
        # The destination has gone: so has the source's connection.
        for x in (a, b):
            try:
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def serve():
        src, _ = l.accept()
        l.close()
        dst = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        dst.connect(dest_path)
        threading.Thread(target=back, args=(dst, src), daemon=True).start()
        f = src.makefile("rb")
        try:
            dst.sendall(f.read(12))
            off = 12
            while True:
                h = bytearray(f.read(REC_HDR))
                if len(h) < REC_HDR:
                    break
                t, ln = struct.unpack_from("<B3xI", h)
                p = bytearray(f.read(ln))
                if t == rec_type and "at" not in info:
                    info.update(at=off, len=ln,
                                carried=struct.unpack_from("<I", h, 8)[0])
                    if where == "header":
                        h[4] ^= 1
                        info["header"] = bytes(h)
                    else:
                        p[ln // 2] ^= 0x10
                dst.sendall(bytes(h + p))
                off += REC_HDR + ln
        except OSError:
            pass
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return t, info


def corrupted_migration_refused_source_resumes(g):
    """A bit flipped on the way, in a RAM record's length while the guest
    runs, then in a device's state after the source paused it: the
    destination refuses the record, naming it, and starts no guest; the
    source resumes the guest each time."""
    c = Client(g.sock)
    g.wait_for("^count 3 ")
    for n, rec_type, where in ((1, 4, "header"), (2, 8, "payload")):
        uri = f"unix:{g.tmp}/mig{n}.sock"
        d = Dest(g, uri)
        try:
            t, info = corrupting_relay(f"{g.tmp}/relay{n}.sock",
                                       f"{g.tmp}/mig{n}.sock", rec_type,
                                       where)
            c.cmd("migrate", uri=f"unix:{g.tmp}/relay{n}.sock")
            end = migration_end(c)
            expect(end["status"] == "failed", end)
            expect(d.proc.wait(20) == 125, "destination: " + d.output())
            t.join(10)
            at, ln = info["at"], info["len"]
            if where == "header":
                h = info["header"]
                want = re.escape(
                    f"modvmm: {uri}: offset {at}: record header (as read: "
                    f"RAM, {ln ^ 1} bytes) has checksum "
                    f"0x{crc32c(h[:12]):08x}, but carries "
                    f"0x{struct.unpack_from('<I', h, 12)[0]:08x} (corrupt "
                    "or altered)")
            else:
                want = (re.escape(f"modvmm: {uri}: offset {at}: DEVICE "
                                  f"record of {ln} bytes has checksum 0x") +
                        "[0-9a-f]{8}" +
                        re.escape(f", but its header carries "
                                  f"0x{info['carried']:08x} (corrupt or "
                                  "altered)"))
            expect(re.search("^" + want + "$", d.output(), re.M),
                   f"destination said: {d.output()[-600:]!r}; expected "
                   f"/{want}/")
            expect(f"migration from {uri} failed: no guest started here"
                   in d.output(), d.output())
            expect("count" not in guest_text(d.output()), d.output())
            expect(c.cmd("query-status")["status"] == "running", "status")
            g.assert_running()
        finally:
            d.close()


def host_with(g, release, fixture="fx-counter", drop=()):
    """A destination's module directory: the in-tree modules (less those
    in `drop`) and one release of a fixture."""
    d = os.path.join(g.tmp, "dest-modules")
    os.makedirs(d)
    for so in os.listdir(os.path.join(BUILD, "modules")):
        if so.endswith(".so") and so not in drop:
            shutil.copy(os.path.join(BUILD, "modules", so), d)
    if release:
        shutil.copy(os.path.join(FIXTURES, f"{fixture}-{release}.so"), d)
    return d


def rtc_migration(g, dest_release):
    """The guest with its disk, entropy and RTC moves to a host whose
    cmos-rtc is another release (None: the in-tree one)."""
    return migrate_to(g, host_with(g, dest_release, "fx-rtc",
                                   drop=("cmos-rtc.so",) if dest_release
                                   else ()), "^count 5 ")


def migrate_to(g, moddir, after):
    """Migrates g, once it printed `after`, to a destination with the
    modules of `moddir`: (client, destination, the migration's end)."""
    d = Dest(g, f"unix:{g.tmp}/mig.sock", moddir=moddir)
    try:
        c = Client(g.sock)
        g.wait_for(after)
        c.cmd("migrate", uri=f"unix:{g.tmp}/mig.sock")
        return c, d, migration_end(c)
    except Exception:
        d.close()
        raise


def dest_devices(d):
    """query-devices on the destination: its socket opens once the
    guest is in."""
    deadline = time.time() + 10
    while not os.path.exists(d.sock):
        expect(time.time() < deadline, "destination: " + d.output()[-600:])
        time.sleep(0.02)
    return {x["id"]: x for x in Client(d.sock).cmd("query-devices")}


def rtc_moved(g, d, version):
    """The guest ended on the destination with every check passed, its
    RTC's interrupts counted there, the RTC of that release."""
    devs = dest_devices(d)
    expect(devs["cmos-rtc0"]["module-version"] == version, devs)
    expect(d.proc.wait(60) == 0, "destination: " + d.output()[-600:])
    expect("cmos-rtc: periodic interrupts counted" in d.output() and
           "modvmm guest: PASS" in d.output(), d.output()[-600:])


def migrate_rtc_1_0_guest_to_2_0_host(g):
    c, d, end = rtc_migration(g, None)
    try:
        expect(end["status"] == "completed", end)
        rtc_moved(g, d, "2.0.0")
    finally:
        d.close()


def migrate_rtc_2_0_guest_to_1_0_host_refused(g):
    """2.0 sends cmos-rtc/lost-ticks (lost-ticks=on), which 1.0 does not
    know: refused up front, and the guest goes on here."""
    c, d, end = rtc_migration(g, "1.0")
    try:
        expect(end["status"] == "failed", end)
        expect("cmos-rtc0 (cmos-rtc): refused" in end["error"] and
               "cmos-rtc/lost-ticks" in end["error"], end)
        g.assert_running()
        expect(d.proc.wait(20) == 125, "destination")
    finally:
        d.close()


def migrate_rtc_2_0_guest_to_1_1_host_saves_older_version(g):
    c, d, end = rtc_migration(g, "1.1")
    try:
        expect(end["status"] == "completed", end)
        devs = dest_devices(d)
        expect(devs["cmos-rtc0"]["vmstate"] == "cmos-rtc@1", devs)
        rtc_moved(g, d, "1.1.0")
    finally:
        d.close()


def migrate_rtc_property_at_legacy_value_to_older_host(g):
    """lost-ticks came with 1.1; off is how 1.0 behaves (its legacy
    value), and keeps the subsection off the wire: 1.0 takes the guest
    and creates its RTC without the property."""
    c, d, end = rtc_migration(g, "1.0")
    try:
        expect(end["status"] == "completed", end)
        devs = dest_devices(d)
        expect("lost-ticks" not in devs["cmos-rtc0"]["properties"], devs)
        rtc_moved(g, d, "1.0.0")
    finally:
        d.close()


def migrate_rtc_property_off_its_legacy_value_refused(g):
    """Nobody set lost-ticks, but it is on (its default), which 1.0
    cannot do: refused up front, naming the property and the value 1.0
    behaves as, and the guest goes on here."""
    c, d, end = rtc_migration(g, "1.0")
    try:
        expect(end["status"] == "failed", end)
        expect("property lost-ticks is on at the source; module cmos-rtc "
               "1.0.0 here lacks it and behaves as lost-ticks=off"
               in end["error"], end)
        g.assert_running()
    finally:
        d.close()


def mixed_versions(g, dest_release):
    g.pages = 64
    return migrate_to(g, host_with(g, dest_release), "^count 2 ")


def migrate_older_source_to_newer_host(g):
    c, d, end = mixed_versions(g, "2.0")
    try:
        expect(end["status"] == "completed", end)
        check_continues(g, d)
        devs = {x["id"]: x for x in Client(d.sock).cmd("query-devices")}
        expect(devs["fx-counter0"]["module-version"] == "2.0.0", devs)
    finally:
        d.close()


def migrate_newer_source_saves_older_version(g):
    c, d, end = mixed_versions(g, "1.1")
    try:
        expect(end["status"] == "completed", end)
        check_continues(g, d)
        devs = {x["id"]: x for x in Client(d.sock).cmd("query-devices")}
        expect(devs["fx-counter0"]["vmstate"] == "fx-counter@1", devs)
    finally:
        d.close()


def migrate_newer_source_unable_refused(g):
    c, d, end = mixed_versions(g, "2.0")
    try:
        expect(end["status"] == "failed", end)
        expect("fx-counter0 (fx-counter): refused" in end["error"], end)
        expect(c.cmd("query-status")["status"] == "running", "status")
        g.assert_running()
        expect(d.proc.wait(20) == 125, "destination")
    finally:
        d.close()


def migrate_over_inherited_fds(g):
    """Both hosts are handed one end of a socket pair (fd:N), as a
    management layer that opened the connection would do."""
    g.close()
    a, b = socket.socketpair()
    src_out = open(os.path.join(g.tmp, "src.out"), "w")
    dst_out = open(os.path.join(g.tmp, "dst.out"), "w")
    ssock, dsock = f"{g.tmp}/src.sock", f"{g.tmp}/dst.sock"
    d = subprocess.Popen([MODVMM, "run", "--module-dir", g.moddir,
                          "--incoming", f"fd:{b.fileno()}", "--control",
                          dsock], pass_fds=[b.fileno()], stdout=dst_out,
                         stderr=subprocess.STDOUT)
    s = subprocess.Popen([MODVMM, "run", "--module-dir", g.moddir,
                          "--append", "forever pace=10", "--control", ssock],
                         pass_fds=[a.fileno()], stdout=src_out,
                         stderr=subprocess.STDOUT)
    a_fd = a.fileno()
    a.close()
    b.close()
    try:
        deadline = time.time() + 10
        while not os.path.exists(ssock):
            expect(time.time() < deadline, "source did not start")
            time.sleep(0.02)
        c = Client(ssock)
        c.cmd("migrate", uri=f"fd:{a_fd}")
        end = migration_end(c)
        expect(end["status"] == "completed", end)
        expect(s.wait(20) == 0, "source status")
        while not os.path.exists(dsock):
            expect(time.time() < deadline + 10, "destination did not run")
            time.sleep(0.02)
        Client(dsock).cmd("quit")
        expect(d.wait(20) == 0, "destination status")
        text = open(os.path.join(g.tmp, "dst.out")).read()
        expect("guest arrived from fd:" in text and "FAIL" not in text, text)
    finally:
        for p in (s, d):
            if p.poll() is None:
                p.kill()
        src_out.close()
        dst_out.close()


class Netns:
    """Two test hosts in network namespaces of their own, joined by a
    veth pair: A (the source) at 10.231.7.1, B at 10.231.7.2. Made by the
    test and removed after it."""

    def __init__(self):
        tag = str(os.getpid() % 100000)
        self.a, self.b = f"mvA{tag}", f"mvB{tag}"

    def sh(self, *cmds):
        for c in cmds:
            subprocess.run(c.split(), check=True, capture_output=True)

    def create(self):
        self.sh(f"ip netns add {self.a}", f"ip netns add {self.b}",
                f"ip link add va{self.a[3:]} type veth peer name vb{self.a[3:]}",
                f"ip link set va{self.a[3:]} netns {self.a}",
                f"ip link set vb{self.a[3:]} netns {self.b}",
                f"ip -n {self.a} addr add 10.231.7.1/24 dev va{self.a[3:]}",
                f"ip -n {self.b} addr add 10.231.7.2/24 dev vb{self.a[3:]}",
                f"ip -n {self.a} link set va{self.a[3:]} up",
                f"ip -n {self.b} link set vb{self.a[3:]} up",
                f"ip -n {self.a} link set lo up",
                f"ip -n {self.b} link set lo up")

    def remove(self):
        for ns in (self.a, self.b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


NETNS = Netns()


def migrate_tcp_between_network_namespaces(g):
    g.pages = 64
    try:
        uri = "tcp:10.231.7.2:4444"
        d = Dest(g, uri, netns=NETNS.b)
        try:
            c = Client(g.sock)
            g.wait_for("^count 3 ")
            c.cmd("migrate", uri=uri)
            end = migration_end(c)
            expect(end["status"] == "completed", end)
            expect(g.wait_exit() == 0, "source status")
            check_continues(g, d)
        finally:
            d.close()
    finally:
        NETNS.remove()
    r = subprocess.run(["ip", "netns", "list"], capture_output=True,
                       text=True)
    expect(NETNS.a not in r.stdout and NETNS.b not in r.stdout, r.stdout)


# Faults -------------------------------------------------------------------
#
# The disk fills up, the network goes down, a host dies or hangs at each
# phase of a migration: the guest goes on running on one host, whole, and
# every wait ends within its timeout with a message that says what
# stopped, where. A host is killed or stopped at an exact phase by its
# own fault point (MODVMM_FAULT, docs/user-guide.md).

FAULT_TIMEOUT = 2  # s: migrate's timeout-s, the destination's timeout


def fault_env(point):
    return {"MODVMM_FAULT": point}


def wait_stopped(proc, timeout=20):
    """Waits until a host has stopped itself at its fault point
    (MODVMM_FAULT=NAME:stop)."""
    deadline = time.time() + timeout
    while True:
        with open(f"/proc/{proc.pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        if state == "T":
            return
        expect(proc.poll() is None and time.time() < deadline,
               "the host did not stop at its fault point")
        time.sleep(0.01)


def counts_intact(text, pages):
    """The guest's counter lines go 1, 2, 3... with the sums of its
    memory they must have: nothing of the guest was lost."""
    lines = count_lines(guest_text(text))
    ns = [n for n, _ in lines]
    expect(ns and ns == list(range(1, len(ns) + 1)), ns)
    for n, sm in lines:
        expect(sm == expected_sum(n, pages), (n, hex(sm)))


def small_tmpfs(g):
    """A 64 KiB tmpfs: the built-in guest's snapshot (some 340 KiB) does
    not fit. The caller unmounts it."""
    d = os.path.join(g.tmp, "small")
    os.mkdir(d)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700",
                    "modvmm-test", d], check=True, capture_output=True)
    return d


def unmount(d):
    subprocess.run(["umount", d], capture_output=True)


def snapshot_save_to_full_disk_loses_nothing(g):
    """ENOSPC in the middle of snapshot-save: refused naming the file
    and the cause, nothing left under its name or as FILE.partial, and
    the guest runs on with its memory whole (a save elsewhere works)."""
    d = small_tmpfs(g)
    try:
        c = Client(g.sock)
        g.wait_for("^count 2 ")
        snap = os.path.join(d, "guest.snap")
        err = c.error("snapshot-save", {"file": snap})
        expect(err == f"snapshot not saved: {snap}: writing: No space left "
               "on device", err)
        expect(os.listdir(d) == [], os.listdir(d))
        expect(c.cmd("query-status")["status"] == "running", "not resumed")
        g.assert_running()
        ok = os.path.join(g.tmp, "guest.snap")
        r = c.cmd("snapshot-save", file=ok)
        expect(r["bytes"] == os.path.getsize(ok) > 64 << 10, r)
        counts_intact(g.output(), 64)
    finally:
        unmount(d)


def snapshot_on_exit_to_full_disk_reported(g):
    """--snapshot-on-exit to a full disk: SIGTERM still ends the run,
    the failure is printed naming the file and the cause, and nothing is
    left under the file's name or as FILE.partial."""
    g.close()
    d = small_tmpfs(g)
    try:
        snap = os.path.join(d, "exit.snap")
        out = os.path.join(g.tmp, "exit.out")
        with open(out, "w") as f:
            p = subprocess.Popen([MODVMM, "run", "--module-dir", g.moddir,
                                  "--append", "forever pace=10",
                                  "--snapshot-on-exit", snap],
                                 stdout=f, stderr=subprocess.STDOUT)
            try:
                deadline = time.time() + 20
                while "count 3 " not in open(out).read():
                    expect(time.time() < deadline and p.poll() is None,
                           open(out).read())
                    time.sleep(0.02)
                p.send_signal(signal.SIGTERM)
                expect(p.wait(20) == 143, "status")
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        text = open(out).read()
        expect(f"modvmm: snapshot not saved: {snap}: writing: No space "
               "left on device\n" in text and "saved the guest" not in text,
               text[-400:])
        expect(os.listdir(d) == [], os.listdir(d))
    finally:
        unmount(d)


def network_cut_mid_migration_both_ends_give_up(g):
    """The link between the hosts goes down while RAM moves over TCP.
    (The destination stops itself at its first RAM record, so that the
    cut falls in that phase, and runs on once the link is down.) The
    source gives up within its timeout and resumes the guest; the
    destination gives up within its own and starts nothing."""
    t = FAULT_TIMEOUT + 1  # the source's clock runs from before the cut
    uri = "tcp:10.231.7.2:4445"
    d = Dest(g, uri, netns=NETNS.b, extra=["--migration-timeout", str(t)],
             env=fault_env("incoming-ram:stop"))
    try:
        c = Client(g.sock)
        g.wait_for("^count 2 ")
        c.cmd("migrate", uri=uri, **{"timeout-s": t})
        wait_stopped(d.proc)
        NETNS.sh(f"ip -n {NETNS.a} link set va{NETNS.a[3:]} down")
        cut = time.time()
        os.kill(d.proc.pid, signal.SIGCONT)
        ended = []
        reaper = threading.Thread(
            target=lambda: ended.append((d.proc.wait(), time.time())),
            daemon=True)
        reaper.start()
        end = migration_end(c)
        src = time.time() - cut
        expect(end["status"] == "failed" and end["error"] ==
               f"the destination took nothing for {t} s during 'ram'", end)
        expect(c.cmd("query-status")["status"] == "running", "status")
        g.assert_running()
        reaper.join(30)
        expect(ended, "the destination did not give up")
        st, dst = ended[0][0], ended[0][1] - cut
        out = d.output()
        expect(st == 125 and re.search(
            rf"^modvmm: {re.escape(uri)}: offset \d+: the source sent "
            rf"nothing for {t} s during 'ram'$", out, re.M) and
            f"modvmm: migration from {uri} failed: no guest started here\n"
            in out, f"status {st}: {out[-600:]}")
        expect("count" not in out, "a guest ran on the destination")
        expect(src < t + 10 and t - 0.5 < dst < t + 10, (src, dst))
        print(f"# network cut in 'ram', timeouts {t} s: the source gave up "
              f"after {src:.1f} s, the destination after {dst:.1f} s")
        counts_intact(g.output(), 8192)
    finally:
        d.close()


def destination_killed_at(point, want, pages, downtime):
    """A case: the destination kills itself at fault point `point`; the
    source's migrate fails with an error matching `want`, and the guest
    runs on there, whole, and nowhere else."""
    def case(g):
        uri = f"unix:{g.tmp}/mig.sock"
        d = Dest(g, uri, env=fault_env(point))
        try:
            c = Client(g.sock)
            g.wait_for("^count 2 ")
            c.cmd("migrate", uri=uri, **{"downtime-ms": downtime})
            end = migration_end(c)
            expect(end["status"] == "failed" and
                   re.fullmatch(want, end["error"]), end)
            expect(d.proc.wait(20) == -signal.SIGKILL,
                   "not killed at its fault point: " + d.output()[-400:])
            expect("count" not in d.output(), "a guest ran there")
            expect(c.cmd("query-status")["status"] == "running", "status")
            g.assert_running()
            counts_intact(g.output(), pages)
        finally:
            d.close()
    case.__name__ = ("destination_killed_at_" +
                     point.split("-", 1)[1].replace("-", "_"))
    return case


def source_killed_at(point, want):
    """A case: the source kills itself at fault point `point`. Before
    it sent COMMIT, the destination exits with a message matching `want`
    and starts nothing (the guest died with its host); after it, the
    guest runs on the destination, from where it was."""
    def case(g):
        g.pages = 64
        uri = f"unix:{g.tmp}/mig.sock"
        d = Dest(g, uri)
        try:
            c = Client(g.sock)
            g.wait_for("^count 2 ")
            # (It may die before the reply goes out.)
            c.send(json.dumps({"execute": "migrate",
                               "arguments": {"uri": uri}}) + "\n")
            expect(g.proc.wait(30) == -signal.SIGKILL,
                   "not killed at its fault point: " + g.output()[-400:])
            if point in ("migrate-commit", "migrate-running"):
                check_continues(g, d)
                Client(d.sock).cmd("quit")
                expect(d.proc.wait(20) == 0, d.output()[-400:])
                return
            st = d.proc.wait(20)
            out = d.output()
            expect(st == 125 and re.search(
                rf"^modvmm: {re.escape(uri)}: {want}$", out, re.M) and
                f"modvmm: migration from {uri} failed: no guest started "
                "here\n" in out, f"status {st}: {out[-600:]}")
            expect("count" not in out, "a guest ran on the destination")
        finally:
            d.close()
    case.__name__ = ("source_killed_at_" +
                     point.split("-", 1)[1].replace("-", "_"))
    return case


CLOSED = "the destination closed the connection during "
RESET = r"( \((Broken pipe|Connection reset by peer)\))?"
BUSY_GUEST = {"append": "forever pace=1 pages=8192"}
# (A reset: the source died with the verdict unread.)
ENDED = (r"offset \d+: the stream ended before a record header"
         r"(: Connection reset by peer)?")


def closed(*phases):
    """The source's error when the destination went away in one of
    `phases` (a write sees EPIPE, or ECONNRESET when it died with data
    unread; a read the end of the stream)."""
    return CLOSED + "'(" + "|".join(phases) + ")'" + RESET

# One row per phase: the fault point, what the source's migrate must end
# with, and the guest (one rewriting 32 MiB, with a 1 ms downtime limit,
# keeps the RAM rounds going until the destination is gone).
DESTINATION_KILLED = [
    ("incoming-connect", closed("handshake", "verdict"), 64, 300, {}),
    ("incoming-manifest", closed("verdict"), 64, 300, {}),
    ("incoming-verdict", closed("ram"), 8192, 1, BUSY_GUEST),
    ("incoming-ram", closed("ram"), 8192, 1, BUSY_GUEST),
    ("incoming-device-state", closed("device state", "complete"), 64, 300,
     {}),
    ("incoming-complete", closed("complete"), 64, 300, {}),
]
SOURCE_KILLED = [
    ("migrate-connect", "the stream ended before its magic"),
    ("migrate-manifest", ENDED),
    ("migrate-verdict", ENDED),
    ("migrate-ram", ENDED),
    ("migrate-device-state", ENDED),
    ("migrate-complete", "no COMMIT from the source: .*: " + ENDED),
    ("migrate-commit", None),
    ("migrate-running", None),
]


def destination_killed_after_commit(point):
    """A case: the destination dies after COMMIT came (`point`), before
    RUNNING went out: the source cannot know whether the guest runs
    there, so it keeps it paused, in doubt, and says so; `cont`, as
    docs/user-guide.md tells the operator once the destination is seen
    gone, resumes it there, whole."""
    def case(g):
        g.pages = 64
        uri = f"unix:{g.tmp}/mig.sock"
        d = Dest(g, uri, env=fault_env(point))
        try:
            c = Client(g.sock)
            g.wait_for("^count 2 ")
            c.cmd("migrate", uri=uri)
            end = migration_end(c)
            expect(end["status"] == "unknown" and re.fullmatch(
                closed("running") + " after COMMIT: the destination may "
                r"or may not run the guest; it stays paused here until "
                r"'cont' \(it runs here\) or 'quit' \(it runs there\)",
                end["error"]), end)
            expect(d.proc.wait(20) == -signal.SIGKILL, d.output()[-400:])
            expect("count" not in d.output(), "the guest ran there")
            st = c.cmd("query-status")
            expect(st == {"status": "migrate-unknown", "running": False}, st)
            n = g.counts()
            time.sleep(0.3)
            expect(g.counts() == n, "the guest ran on while in doubt")
            err = c.error("migrate", {"uri": uri})
            expect(err.startswith("the last migration's end is unknown"),
                   err)
            c.cmd("cont")
            g.assert_running()
            q = c.cmd("query-migrate")
            expect(q["status"] == "failed" and q["error"] ==
                   "in doubt; resolved by 'cont': the guest runs here", q)
            counts_intact(g.output(), 64)
        finally:
            d.close()
    case.__name__ = ("destination_killed_at_" +
                     point.split("-", 1)[1].replace("-", "_"))
    return case



def source_signalled_in(dest_fault, want_phase, sig):
    """A case: `sig` reaches the source while its destination hangs at
    `dest_fault` (the migration is in `want_phase`): the migration is
    cancelled first (the source's guest resumes), then the guest stops as
    the signal asks, at once: exit 128+sig. The destination, woken, starts
    nothing."""
    def case(g):
        uri = f"unix:{g.tmp}/mig.sock"
        d = Dest(g, uri, env=fault_env(dest_fault + ":stop"))
        try:
            c = Client(g.sock)
            g.wait_for("^count 2 ")
            c.cmd("migrate", uri=uri, **{"downtime-ms": 1, "timeout-s": 60})
            wait_stopped(d.proc)
            seen = set()
            while want_phase not in seen:
                seen.add(c.event("MIGRATION", 20)["data"]["status"])
            t0 = time.time()
            g.proc.send_signal(sig)
            st = g.proc.wait(15)
            out = g.output()
            expect(st == 128 + sig and f"stopped by SIG{signal.Signals(sig).name[3:]} "
                   f"(exit status {128 + sig})" in out, f"{st}: {out[-400:]}")
            expect(f"migration: to {uri}: cancelled" in out, out[-400:])
            expect(time.time() - t0 < 10, "the stop waited")
            os.kill(d.proc.pid, signal.SIGCONT)
            expect(d.proc.wait(20) == 125 and "count" not in d.output(),
                   d.output()[-400:])
        finally:
            d.close()
    case.__name__ = (f"source_sig{signal.Signals(sig).name[3:].lower()}_in_"
                     + want_phase + "_cancels_then_stops")
    return case


def source_signalled_after_commit(g):
    """SIGTERM reaches a source that sent COMMIT (its destination hangs
    with COMMIT read): a commit cannot be cancelled, so the stop waits for
    its end (timeout-s), which is unknown; the guest, paused in doubt, is
    then stopped as asked, and --snapshot-on-exit keeps it: restored, it
    runs on from where it was. The destination never ran it."""
    sub = os.path.join(g.tmp, "src")
    os.makedirs(sub)
    snap = os.path.join(sub, "kept.snap")
    h = Guest(sub, extra=["--snapshot-on-exit", snap])
    uri = f"unix:{g.tmp}/mig.sock"
    d = Dest(g, uri, env=fault_env("incoming-commit:stop"))
    try:
        c = Client(h.sock)
        h.wait_for("^count 2 ")
        c.cmd("migrate", uri=uri, **{"timeout-s": FAULT_TIMEOUT})
        wait_stopped(d.proc)
        h.proc.send_signal(signal.SIGTERM)
        end = migration_end(c)
        expect(end["status"] == "unknown", end)
        st = h.proc.wait(20)
        out = h.output()
        expect(st == 143 and "it stays paused here" in out and
               f"saved the guest to {snap}" in out, f"{st}: {out[-600:]}")
        d.close()
        expect("count" not in d.output(), "the destination ran the guest")
        p, sock, rout = restore(g, snap)
        try:
            restored_client(p, sock)
            deadline = time.time() + 20
            before = len(count_lines(guest_text(h.output())))
            while True:
                text = guest_text(h.output()) + guest_text(
                    open(os.path.join(g.tmp, "restored.out")).read())
                if len(count_lines(text)) >= before + 2:
                    break
                expect(time.time() < deadline, text[-300:])
                time.sleep(0.05)
            ns = [n for n, _ in count_lines(text)]
            expect(ns == list(range(1, len(ns) + 1)), ns)
        finally:
            p.kill()
            p.wait()
            rout.close()
    finally:
        d.close()
        h.close()


def destination_signalled_while_waiting(g):
    """A destination waiting for a source (--incoming unix:PATH) serves
    its control socket (inmigrate, query-migrate, migrate-cancel), and
    SIGTERM or SIGINT ends the wait at once: exit 128+signal."""
    for n, sig in enumerate((signal.SIGTERM, signal.SIGINT)):
        sub = os.path.join(g.tmp, f"w{n}")
        os.makedirs(sub)
        uri = f"unix:{sub}/mig.sock"

        class At:
            tmp = sub
            moddir = g.moddir
        d = Dest(At, uri)
        try:
            c = Client(d.sock)
            st = c.cmd("query-status")
            expect(st == {"status": "inmigrate", "running": False}, st)
            q = c.cmd("query-migrate")
            expect(q["status"] == "setup" and q["uri"] == uri, q)
            d.proc.send_signal(sig)
            st = d.proc.wait(10)
            out = d.output()
            expect(st == 128 + sig and "before the guest ran" in out,
                   f"{st}: {out}")
        finally:
            d.close()
    # And migrate-cancel on its control socket.
    uri = f"unix:{g.tmp}/mig.sock"
    d = Dest(g, uri)
    try:
        c = Client(d.sock)
        expect(c.cmd("migrate-cancel") == {}, "cancel")
        st = d.proc.wait(10)
        out = d.output()
        expect(st == 125 and f"{uri}: cancelled" in out and
               "no guest started here" in out, f"{st}: {out}")
    finally:
        d.close()


def destination_signalled_before_commit(source_fault, sig):
    """A case: `sig` reaches the destination while its source hangs at
    `source_fault` (before COMMIT): the destination drops what came and
    exits 128+sig without running the guest; the source, woken, finds it
    gone and resumes its guest."""
    def case(g):
        uri = f"unix:{g.tmp}/mig.sock"
        sub = os.path.join(g.tmp, "src")
        os.makedirs(sub)
        h = Guest(sub, env=fault_env(source_fault + ":stop"))
        d = Dest(g, uri)
        try:
            c = Client(h.sock)
            h.wait_for("^count 2 ")
            c.cmd("migrate", uri=uri)
            wait_stopped(h.proc)
            dc = Client(d.sock)
            q = dc.cmd("query-migrate")
            expect(q["status"] == "active", q)
            d.proc.send_signal(sig)
            st = d.proc.wait(10)
            out = d.output()
            expect(st == 128 + sig and "cancelled by a signal: no guest "
                   "started here" in out and "count" not in out,
                   f"{st}: {out[-400:]}")
            os.kill(h.proc.pid, signal.SIGCONT)
            end = migration_end(c)
            expect(end["status"] == "failed", end)
            expect(c.cmd("query-status")["status"] == "running", "status")
            h.assert_running()
            counts_intact(h.output(), 64)
        finally:
            d.close()
            h.close()
    case.__name__ = (f"destination_sig{signal.Signals(sig).name[3:].lower()}"
                     f"_at_{source_fault.split('-', 1)[1]}_source_keeps_guest")
    return case


SIGNAL_CASES = [
    (source_signalled_in("incoming-ram", "active", signal.SIGINT),
     BUSY_GUEST),
    (source_signalled_in("incoming-ram", "active", signal.SIGTERM),
     BUSY_GUEST),
    (source_signalled_in("incoming-device-state", "device", signal.SIGTERM),
     {}),
    (source_signalled_after_commit, {}),
    (destination_signalled_while_waiting, {}),
    (destination_signalled_before_commit("migrate-ram", signal.SIGINT), {}),
    (destination_signalled_before_commit("migrate-complete", signal.SIGTERM),
     {}),
]

FAULT_CASES = (
    [(destination_killed_at(p, want, pages, dt), kw)
     for p, want, pages, dt, kw in DESTINATION_KILLED] +
    [(destination_killed_after_commit(p), {})
     for p in ("incoming-commit", "incoming-running")] +
    [(source_killed_at(p, want), {"env": fault_env(p)})
     for p, want in SOURCE_KILLED])


def destination_backlog_full_connect_times_out(g):
    """Destinations that accept no connection (their backlog is full; a
    TCP one then drops the SYNs): connecting ends after timeout-s, and
    the guest never stopped."""
    path = f"{g.tmp}/full.sock"
    ul = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ul.bind(path)
    ul.listen(0)
    tl = socket.socket()
    tl.bind(("127.0.0.1", 0))
    tl.listen(0)
    port = tl.getsockname()[1]
    fillers = [socket.socket(socket.AF_UNIX, socket.SOCK_STREAM),
               socket.socket(), socket.socket()]
    try:
        fillers[0].connect(path)
        fillers[1].connect(("127.0.0.1", port))
        fillers[2].setblocking(False)
        fillers[2].connect_ex(("127.0.0.1", port))
        time.sleep(0.2)
        c = Client(g.sock)
        for uri, want in ((f"unix:{path}", "not accepted within"),
                          (f"tcp:127.0.0.1:{port}", "no connection within")):
            t0 = time.time()
            c.cmd("migrate", uri=uri, **{"timeout-s": FAULT_TIMEOUT})
            end = migration_end(c)
            took = time.time() - t0
            expect(end["status"] == "failed" and end["error"] ==
                   f"{uri}: {want} {FAULT_TIMEOUT} s", end)
            expect(FAULT_TIMEOUT - 0.5 < took < FAULT_TIMEOUT + 10, took)
        expect(not any(e["event"] == "STOP" for e in c.events), c.events)
        g.assert_running()
    finally:
        for s in fillers + [ul, tl]:
            s.close()


def destination_silent_after_accept_source_resumes(g):
    """A destination that accepts and then reads and answers nothing:
    the source's wait for the verdict ends after timeout-s, and the
    guest never stopped."""
    path = f"{g.tmp}/fake.sock"
    l = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    l.bind(path)
    l.listen(1)
    held = []
    t = threading.Thread(target=lambda: held.append(l.accept()[0]),
                         daemon=True)
    t.start()
    try:
        c = Client(g.sock)
        t0 = time.time()
        c.cmd("migrate", uri=f"unix:{path}",
              **{"timeout-s": FAULT_TIMEOUT})
        end = migration_end(c)
        took = time.time() - t0
        expect(end["status"] == "failed" and end["error"] ==
               f"the destination sent nothing for {FAULT_TIMEOUT} s during "
               "'verdict'", end)
        expect(FAULT_TIMEOUT - 0.5 < took < FAULT_TIMEOUT + 10, took)
        expect(not any(e["event"] == "STOP" for e in c.events), c.events)
        expect(c.cmd("query-migrate")["timeout-s"] == FAULT_TIMEOUT, "figure")
        g.assert_running()
        print(f"# silent destination: the source gave up after {took:.1f} s")
    finally:
        t.join(5)
        for s in held + [l]:
            s.close()


def destination_hung_mid_ram_source_resumes(g):
    """The real destination hangs at its first RAM record (stopped): the
    source's writes stall, and it gives up after timeout-s and resumes
    the guest. Woken up, the destination finds the stream ended and
    starts nothing."""
    uri = f"unix:{g.tmp}/mig.sock"
    d = Dest(g, uri, env=fault_env("incoming-ram:stop"))
    try:
        c = Client(g.sock)
        g.wait_for("^count 2 ")
        c.cmd("migrate", uri=uri, **{"timeout-s": FAULT_TIMEOUT})
        wait_stopped(d.proc)
        t0 = time.time()
        end = migration_end(c)
        took = time.time() - t0
        expect(end["status"] == "failed" and end["error"] ==
               f"the destination took nothing for {FAULT_TIMEOUT} s during "
               "'ram'", end)
        # (Its writes stalled a moment before the stop was seen here.)
        expect(FAULT_TIMEOUT - 1 < took < FAULT_TIMEOUT + 10, took)
        expect(c.cmd("query-status")["status"] == "running", "status")
        g.assert_running()
        os.kill(d.proc.pid, signal.SIGCONT)
        st = d.proc.wait(20)
        out = d.output()
        expect(st == 125 and re.search(
            r"the stream ended (before a record header|inside a RAM record)",
            out) and "no guest started here" in out, f"{st}: {out[-600:]}")
        expect("count" not in out, "a guest ran on the destination")
        counts_intact(g.output(), 8192)
        print(f"# destination hung in 'ram': the source gave up after "
              f"{took:.1f} s")
    finally:
        d.close()


def destination_hung_before_complete_never_runs_guest(g):
    """Over TCP, the destination hangs with everything loaded, before it
    sends COMPLETE: the source keeps its guest paused for timeout-s, then
    resumes it. Woken up, the destination finds that the source gave up
    and starts nothing (a write of COMPLETE to the closed connection
    would still succeed): the guest never runs on two hosts."""
    uri = f"tcp:127.0.0.1:{free_port()}"
    d = Dest(g, uri, env=fault_env("incoming-complete:stop"))
    try:
        c = Client(g.sock)
        g.wait_for("^count 2 ")
        c.cmd("migrate", uri=uri, **{"timeout-s": FAULT_TIMEOUT})
        wait_stopped(d.proc)
        seen = []
        while not seen or seen[-1]["data"]["status"] != "failed":
            seen.append(c.event("MIGRATION", 30))
        end = seen[-1]["data"]
        expect(end["error"] == f"the destination sent nothing for "
               f"{FAULT_TIMEOUT} s during 'complete'", end)
        # From the pause ("device") to the resume (then "failed").
        stamps = {e["data"]["status"]: e["timestamp"]["seconds"] +
                  e["timestamp"]["microseconds"] / 1e6 for e in seen}
        paused = stamps["failed"] - stamps["device"]
        expect(FAULT_TIMEOUT - 0.5 < paused < FAULT_TIMEOUT + 10, paused)
        expect(c.cmd("query-status")["status"] == "running", "status")
        g.assert_running()
        os.kill(d.proc.pid, signal.SIGCONT)
        st = d.proc.wait(20)
        out = d.output()
        expect(st == 125 and f"modvmm: {uri}: the source closed the "
               "connection before COMPLETE\n" in out and
               "no guest started here" in out, f"{st}: {out[-600:]}")
        expect("count" not in out, "a guest ran on the destination")
        counts_intact(g.output(), 64)
        print(f"# destination hung before COMPLETE: the guest was paused "
              f"{paused:.1f} s, then resumed on the source")
    finally:
        d.close()


def source_silent_destination_gives_up(g):
    """A source that connects and sends nothing: the destination gives
    up after --migration-timeout, naming the phase, and starts nothing."""
    uri = f"unix:{g.tmp}/mig.sock"
    d = Dest(g, uri, extra=["--migration-timeout", str(FAULT_TIMEOUT)])
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(f"{g.tmp}/mig.sock")
        t0 = time.time()
        st = d.proc.wait(20)
        took = time.time() - t0
        out = d.output()
        expect(st == 125 and f"modvmm: {uri}: the source sent nothing for "
               f"{FAULT_TIMEOUT} s during 'handshake'\n" in out and
               "no guest started here" in out, f"{st}: {out[-600:]}")
        expect(FAULT_TIMEOUT - 0.5 < took < FAULT_TIMEOUT + 10, took)
    finally:
        s.close()
        d.close()


def source_hung_mid_ram_destination_gives_up(g):
    """The real source hangs after its first RAM round (stopped): the
    destination gives up after its timeout, naming the phase, and starts
    nothing. Woken up, the source finds the destination gone, and its
    guest runs on, whole."""
    uri = f"unix:{g.tmp}/mig.sock"
    d = Dest(g, uri, extra=["--migration-timeout", str(FAULT_TIMEOUT)])
    try:
        c = Client(g.sock)
        g.wait_for("^count 2 ")
        c.cmd("migrate", uri=uri)
        wait_stopped(g.proc)
        t0 = time.time()
        st = d.proc.wait(20)
        took = time.time() - t0
        out = d.output()
        expect(st == 125 and re.search(
            rf"^modvmm: {re.escape(uri)}: offset \d+: the source sent "
            rf"nothing for {FAULT_TIMEOUT} s during 'ram'$", out, re.M) and
            "no guest started here" in out, f"{st}: {out[-600:]}")
        expect(FAULT_TIMEOUT - 0.5 < took < FAULT_TIMEOUT + 10, took)
        expect("count" not in out, "a guest ran on the destination")
        os.kill(g.proc.pid, signal.SIGCONT)
        end = migration_end(c)
        expect(end["status"] == "failed" and re.fullmatch(
            closed("ram", "device state", "complete"), end["error"]), end)
        expect(c.cmd("query-status")["status"] == "running", "status")
        g.assert_running()
        counts_intact(g.output(), 64)
        print(f"# source hung in 'ram': the destination gave up after "
              f"{took:.1f} s")
    finally:
        d.close()


def migration_timeouts_and_fault_names_checked(g):
    c = Client(g.sock)
    d = c.error("migrate", {"uri": f"unix:{g.tmp}/x", "timeout-s": 0})
    expect(d == "timeout-s 0: 1 to 3600", d)
    r = subprocess.run([MODVMM, "run", "--migration-timeout", "0"],
                       capture_output=True, text=True)
    expect(r.returncode == 2 and "--migration-timeout 0: 1 to 3600" in
           r.stderr, r.stderr)
    r = subprocess.run([MODVMM, "run"], capture_output=True, text=True,
                       env=dict(os.environ, MODVMM_FAULT="incoming-rma"))
    expect(r.returncode == 2 and r.stderr.startswith(
        "modvmm: MODVMM_FAULT=incoming-rma: no such fault point (known: "
        "migrate-connect, migrate-manifest, "), r.stderr)
    r = subprocess.run([MODVMM, "run"], capture_output=True, text=True,
                       env=dict(os.environ, MODVMM_FAULT="incoming-ram:hang"))
    expect(r.returncode == 2 and "the action 'hang' is not 'stop'" in
           r.stderr, r.stderr)
    # The default of --migration-timeout is migrate's.
    path = f"{g.tmp}/fake.sock"
    t, out = fake_destination(path, lambda ts: 3 in ts)
    c.cmd("migrate", uri=f"unix:{path}")
    t.join(20)
    expect(c.cmd("query-migrate")["timeout-s"] == 7, "timeout-s")
    c.cmd("migrate-cancel")
    expect(migration_end(c)["status"] == "cancelled", "cancel")
    out["conn"].close()
    g.assert_running()


# The end of a migration (docs/stream-format.md, "Live migration"):
# END, COMPLETE, COMMIT, RUNNING. A relay between a real source and a
# real destination, on a shared disk, drops, delays or cuts each of these
# messages, or kills either host just before or just after it passes.
# Whatever happens, the rule holds: at most one host runs the guest; if
# none does, a living host has it paused in doubt, and resolving it as
# docs/user-guide.md says makes it run on exactly one; the counter lines
# go on without a gap or a repeat, and the disk holds the writes of one
# guest. The case does not say which outcome each row must have: every
# one is judged by the rule, and the outcomes are printed in a table.

END_MSGS = {9: "END", 11: "COMPLETE", 13: "COMMIT", 14: "RUNNING"}
END_ACTIONS = ("drop", "delay", "cut", "kill-source-before",
               "kill-source-after", "kill-destination-before",
               "kill-destination-after")
END_TIMEOUT = 3  # s: migrate's timeout-s and --migration-timeout
END_DELAY = 2 * END_TIMEOUT + 1  # a delayed message: after both gave up
END_WORKERS = 7  # cases at once (each is two hosts, mostly waiting)


class EndPhaseRelay:
    """Passes a migration record by record, in both directions, from the
    source (which connects to `path`) to the destination at `dest_path`,
    and applies `action` to the first record of type `msg`."""

    def __init__(self, path, dest_path, msg, action, procs, dest_output):
        self.msg, self.action, self.procs = msg, action, procs
        self.dest_output = dest_output
        self.dest_path = dest_path
        self.forwarded = set()  # end-phase types passed on
        self.killed = None  # "source" or "destination"
        self.fired = threading.Event()  # the action was applied
        self.settled = threading.Event()  # ... and its effects are over
        self.ended = threading.Event()  # both directions are over
        self.conns = []
        self.lock = threading.Lock()
        self.l = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.l.bind(path)
        self.l.listen(1)
        self.l.settimeout(60)
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        try:
            src, _ = self.l.accept()
            src.settimeout(None)
            dst = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            dst.connect(self.dest_path)
        except OSError:
            self.ended.set()
            return
        finally:
            self.l.close()
        self.conns = [src, dst]
        back = threading.Thread(target=self.pump, args=(dst, src, False),
                                daemon=True)
        back.start()
        self.pump(src, dst, True)
        back.join()
        for x in self.conns:
            x.close()
        self.ended.set()

    def cut(self):
        for x in self.conns:
            try:
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def kill(self, who):
        p = self.procs[who]
        p.send_signal(signal.SIGKILL)  # (by its pid, if it has not ended)
        if p.wait(20) == -signal.SIGKILL:
            self.killed = who

    def send(self, b, t, data):
        b.sendall(data)
        if t in END_MSGS:
            with self.lock:
                self.forwarded.add(t)

    def act(self, t, data, b):
        """Applies the action to the record `data` on its way to `b`;
        false when the relay is to stop."""
        a = self.action
        try:
            if a == "drop":
                return True
            if a == "cut":
                self.cut()
                return False
            if a == "kill-destination-lost":
                # RUNNING held until the guest has run there, and lost
                # with its host.
                deadline = time.time() + 10
                while not count_lines(guest_text(self.dest_output())):
                    if time.time() > deadline:
                        break
                    time.sleep(0.01)
                self.kill("destination")
                self.cut()
                return False
            if a == "delay":
                self.fired.set()
                time.sleep(END_DELAY)
                self.send(b, t, data)
                return True
            who = a.split("-")[1]
            if a.endswith("-before"):
                self.kill(who)
                self.send(b, t, data)
            else:
                self.send(b, t, data)
                self.kill(who)
            return True
        finally:
            self.fired.set()
            self.settled.set()

    def pump(self, a, b, magic):
        f = a.makefile("rb")
        try:
            if magic:
                m = f.read(12)
                if len(m) < 12:
                    return
                b.sendall(m)
            while True:
                h = f.read(REC_HDR)
                if len(h) < REC_HDR:
                    break
                t, ln = struct.unpack_from("<B3xI", h)
                p = f.read(ln)
                if len(p) < ln:
                    break
                if t == self.msg and not self.fired.is_set():
                    if not self.act(t, h + p, b):
                        return
                else:
                    self.send(b, t, h + p)
            # The end of the stream from one side goes on to the other.
            b.shutdown(socket.SHUT_WR)
        except OSError:
            # One side has gone: the other's connection goes with it.
            self.cut()


def host_state(proc, sock):
    """("exited", status), or ("alive", query-status, query-migrate's
    status) of one host."""
    if proc.poll() is not None:
        return ("exited", proc.returncode)
    try:
        c = Client(sock)
        try:
            st = c.cmd("query-status")["status"]
            mig = c.cmd("query-migrate")["status"]
        finally:
            c.close()
    except (OSError, EOFError, AssertionError, ValueError):
        return ("gone",) if proc.poll() is None else \
            ("exited", proc.returncode)
    return ("alive", st, mig)


def end_settled(src, dst):
    """Neither host has anything left to do by itself: a source that
    exited, runs after a failed migration or is paused in doubt; a
    destination that exited or runs."""
    return ((src[0] == "exited" or src[0] == "alive" and (
        src[1] == "migrate-unknown" or
        src[1] == "running" and src[2] in ("failed", "cancelled"))) and
        (dst[0] == "exited" or dst[0] == "alive" and dst[1] == "running"))


def guest_counts(text):
    return len(re.findall(r"^count \d+ ", text, re.M))


def who_runs(hosts):
    """{name: True/False}: whether each host runs the guest: it is alive,
    says `running`, and the guest's counter goes on there. A host that
    says one thing while its guest does the other fails."""
    n0 = {h: guest_counts(out()) for h, (proc, sock, out) in hosts.items()}
    st = {h: host_state(proc, sock) for h, (proc, sock, out) in
          hosts.items()}
    says = {h: s[0] == "alive" and s[1] == "running" for h, s in st.items()}
    deadline = time.time() + 10
    while time.time() < deadline:
        grown = {h: guest_counts(hosts[h][2]()) - n0[h] for h in hosts}
        if all(grown[h] >= 2 for h in hosts if says[h]):
            break
        time.sleep(0.05)
    time.sleep(0.3)  # (a host that does not run must not count meanwhile)
    grown = {h: guest_counts(hosts[h][2]()) - n0[h] for h in hosts}
    for h in hosts:
        expect(not says[h] or grown[h] >= 2,
               f"the {h} says it runs the guest, which does not count")
        expect(says[h] or grown[h] == 0,
               f"the {h} says {st[h]}, but its guest counts")
    return says, st


def operator(sock, *words):
    """What an operator types: `modvmm ctl SOCKET WORDS`."""
    r = subprocess.run([MODVMM, "ctl", sock] + list(words),
                       capture_output=True, text=True, timeout=30)
    expect(r.returncode == 0, f"modvmm ctl {sock} {' '.join(words)}: "
           f"status {r.returncode}: {r.stderr}")
    return r


def end_phase_case(tmp, msg, action):
    """One row of the matrix; returns the outcome, or raises with what
    went wrong."""
    g = Guest(tmp, append="forever pace=10", disk=True)
    d = relay = c = None
    resolved = {}
    try:
        uri = f"unix:{tmp}/mig.sock"
        d = Dest(g, uri, extra=["--migration-timeout", str(END_TIMEOUT)])
        procs = {"source": g.proc, "destination": d.proc}
        relay = EndPhaseRelay(f"{tmp}/relay.sock", f"{tmp}/mig.sock", msg,
                              action, procs, d.output)
        c = Client(g.sock)
        g.wait_for("^count 3 ")
        c.cmd("migrate", uri=f"unix:{tmp}/relay.sock",
              **{"timeout-s": END_TIMEOUT})
        deadline = time.time() + 60
        while not relay.fired.wait(0.1):
            expect((relay.fired.is_set() or not relay.ended.is_set()) and
                   time.time() < deadline,
                   f"{END_MSGS[msg]} never came by the relay")
        expect(relay.settled.wait(END_DELAY + 30), "the relay is stuck")

        # Both hosts settle: the same state for a second and a half.
        hosts = {"source": (g.proc, g.sock, g.output),
                 "destination": (d.proc, d.sock, d.output)}
        deadline, last, since = time.time() + 40, None, 0
        while True:
            now = (host_state(g.proc, g.sock), host_state(d.proc, d.sock))
            if now != last:
                last, since = now, time.time()
            elif end_settled(*now) and time.time() - since > 1.5:
                break
            expect(time.time() < deadline,
                   f"the hosts did not settle: source {now[0]}, "
                   f"destination {now[1]}")
            time.sleep(0.1)

        runs, st = who_runs(hosts)
        expect(sum(runs.values()) <= 1, "the guest runs on both hosts")
        outcome = None
        doubt = [h for h, s in st.items()
                 if s[0] == "alive" and s[1] == "migrate-unknown"]
        if doubt:
            outcome = end_resolve(doubt, hosts, st, resolved, c)
            runs, st = who_runs(hosts)
            # Once, unless it died with the destination it ran on.
            if resolved.get("lost"):
                expect(relay.killed == "destination",
                       "the destination ran the guest, and was not killed")
            expect(sum(runs.values()) == (0 if resolved.get("lost") else 1),
                   f"after the resolution the guest runs on "
                   f"{sum(runs.values())} hosts: {st}")
        elif not any(runs.values()):
            outcome = end_lost(relay, g, d)
        else:
            outcome = ("source resumed" if runs["source"] else
                       "migrated" if relay.killed != "source" else
                       "runs on the destination (the source killed)")
        try:
            end_finish(g, d, relay, runs, resolved)
        except AssertionError as e:
            raise AssertionError(f"{e} (outcome: {outcome})") from None
        return outcome
    finally:
        if c:
            c.close()
        if d:
            d.close()
        g.close()


# (The guest may have been in the middle of a line.)
IN_DOUBT = (r"modvmm: migration: to unix:\S+: .+ after COMMIT: the "
            r"destination may or may not run the guest; it stays paused "
            r"here until 'cont' \(it runs here\) or 'quit' \(it runs "
            r"there\)$")


def end_resolve(doubt, hosts, st, resolved, c):
    """The source paused in doubt, resolved step by step as
    docs/user-guide.md ("A migration in doubt") tells an operator."""
    expect(doubt == ["source"], f"in doubt: {doubt}: {st}")
    proc, sock, out = hosts["source"]
    expect(st["source"] == ("alive", "migrate-unknown", "unknown"),
           f"the source in doubt: {st['source']}")
    expect(re.search(IN_DOUBT, out(), re.M), "no line on stderr")
    seen = [e["data"]["status"] for e in c.events
            if e["event"] == "MIGRATION"]
    try:
        while True:
            e = c.read(0.2)
            if e.get("event") == "MIGRATION":
                seen.append(e["data"]["status"])
    except (OSError, EOFError):
        pass
    expect("unknown" in seen, f"no MIGRATION event 'unknown': {seen}")
    # 1. Look at the destination's output: without "the guest runs
    # here" the guest never ran there (step 2); with it, it lives there
    # if the destination still runs, or died with it (step 3 either way).
    dproc, dsock, dout = hosts["destination"]
    if "modvmm: the guest runs here" not in dout():
        expect(dproc.poll() is not None or
               dout().endswith("no guest started here\n"),
               "the destination is neither gone nor without the guest: " +
               dout()[-300:])
        expect("count" not in guest_text(dout()),
               "the guest ran there without saying so")
        # 2. `cont` on the source.
        operator(sock, "cont")
        resolved["source"] = "cont"
        r = Client(sock)
        m = r.cmd("query-migrate")
        r.close()
        expect(m["status"] == "failed" and m["error"] ==
               "in doubt; resolved by 'cont': the guest runs here", m)
        return "paused in doubt at the source -> cont there"
    # 3. `quit` on the source.
    lives = dproc.poll() is None
    if lives:
        said = operator(dsock, "query-status").stdout.strip()
        expect(said in ("running", "paused"), f"the destination: {said}")
        # (A `cont` against the guide is refused: the destination holds
        # the disk's lock.)
        r = Client(sock)
        err = r.error("cont")
        r.close()
        expect(err.startswith("the destination may run the guest: ") and
               "in use: another process holds a lock" in err, err)
    operator(sock, "quit")
    expect(proc.wait(20) == 0,
           f"the source quit with status {proc.returncode}")
    resolved["source"] = "quit"
    if lives:
        return ("paused in doubt at the source -> quit, runs on the "
                "destination")
    resolved["lost"] = "destination"
    return ("paused in doubt at the source -> quit: the guest ran on the "
            "destination and died with it")


def end_lost(relay, g, d):
    """No host runs the guest and none has it: allowed only where the
    host that held the guest was killed. That is the source before the
    destination got COMMIT (the destination refuses the guest), or the
    destination after the source got RUNNING (the migration was over:
    the guest ran there and died with its host)."""
    fw = relay.forwarded
    if relay.killed == "source" and 13 not in fw:
        expect("count" not in guest_text(d.output()),
               "the destination ran the guest without a COMMIT")
        return "killed with its host (the source, before COMMIT passed)"
    if relay.killed == "destination" and 14 in fw:
        expect(re.search(r"^count \d+ ", guest_text(d.output()), re.M) or
               "guest arrived" in d.output(),
               "the destination shows no sign of the guest: " +
               d.output()[-400:])
        return "killed with its host (the destination, after RUNNING)"
    raise AssertionError("the guest runs nowhere, and no living host has "
                         "it paused")


def end_finish(g, d, relay, runs, resolved):
    """The guest that runs is quit; each host ended as it must have; the
    counter lines are those of one guest, and so is the disk."""
    for h, (proc, sock) in {"source": (g.proc, g.sock),
                            "destination": (d.proc, d.sock)}.items():
        if runs.get(h):
            operator(sock, "quit")
            expect(proc.wait(20) == 0,
                   f"the {h} quit with status {proc.returncode}")
            resolved[h] = "quit"
    for p in (g.proc, d.proc):
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            raise AssertionError("a host is still alive at the end")
    src, dst = g.proc.returncode, d.proc.returncode
    if relay.killed != "source" and "source" not in resolved:
        # It ended by itself: only once RUNNING came.
        expect(src == 0 and "guest migrated to" in g.output() and
               14 in relay.forwarded,
               f"the source ended by itself with status {src} "
               f"(RUNNING passed: {14 in relay.forwarded})")
    if relay.killed != "destination" and "destination" not in resolved:
        expect(dst == 125 and "no guest started here" in d.output(),
               f"the destination ended by itself with status {dst}")
        expect("count" not in guest_text(d.output()),
               "the destination ended by itself after running the guest")
    if relay.killed:
        p = g.proc if relay.killed == "source" else d.proc
        expect(p.returncode == -signal.SIGKILL, "not killed")
    both = ({n for n, _ in count_lines(guest_text(g.output()))} &
            {n for n, _ in count_lines(guest_text(d.output()))})
    expect(not both, f"the guest ran twice: counter lines {sorted(both)} "
           "on both hosts")
    text = guest_text(g.output(), d.output())
    lines = count_lines(text)
    ns = [n for n, _ in lines]
    expect(ns == list(range(1, len(ns) + 1)),
           f"the counter lines of both hosts are not one guest's: {ns}")
    for n, sm in lines:
        expect(sm == expected_sum(n, 64), (n, hex(sm)))
    expect("FAIL" not in text, "a check failed in the guest")
    last = ns[-1]
    want = {n % 64: n for n in range(1, last + 1)}
    blocks = disk_blocks(g.disk)
    # (The block of the next line may have been written before the quit.)
    if blocks.get((last + 1) % 64) == last + 1:
        want[(last + 1) % 64] = last + 1
    expect(blocks == want, f"the disk is not that of the guest that "
           f"printed {last} lines: {blocks}")


def migration_end_phase_never_on_two_hosts(g):
    """Every message of the end phase, dropped, delayed, cut at, and
    either host killed just before or just after it passes, and the
    destination killed once the guest ran there with RUNNING lost: 29
    rows, run side by side, each judged by the rule (see above)."""
    g.close()
    rows = ([(m, a) for m in END_MSGS for a in END_ACTIONS] +
            [(14, "kill-destination-lost")])

    def run(i, m, a):
        t0 = time.time()
        tmp = os.path.join(g.tmp, f"e{i}")
        os.makedirs(tmp)
        try:
            return m, a, end_phase_case(tmp, m, a), None, time.time() - t0
        except Exception as e:  # one row failed; the others go on
            def tail(name):
                """The host's output, its runs of counter lines shown
                by their first and last."""
                try:
                    with open(os.path.join(tmp, name),
                              errors="replace") as f:
                        text = f.read()
                except OSError:
                    return ""
                return re.sub(r"^(count (\d+) [^\n]*\n)(?:count \d+ "
                              r"[^\n]*\n)*(count (\d+) [^\n]*\n)",
                              r"\1...\n\3", text, flags=re.M)[-1500:]
            why = f"{type(e).__name__}: {e}"
            if not isinstance(e, AssertionError):
                why += "\n" + traceback.format_exc()
            return (m, a, "FAIL", why + "\nsource:\n" + tail("out") +
                    "\ndestination:\n" + tail("dest.out"),
                    time.time() - t0)
    with concurrent.futures.ThreadPoolExecutor(END_WORKERS) as ex:
        res = list(ex.map(lambda r: run(*r),
                          [(i, m, a) for i, (m, a) in enumerate(rows)]))
    failed = [r for r in res if r[3]]
    print(f"# end phase: {len(res)} cases, {len(res) - len(failed)} "
          "keep the guest on at most one host")
    for m, a, outcome, why, took in res:
        print(f"# {END_MSGS[m]:<9}{a:<25}{outcome} ({took:.1f} s)")
    for m, a, _, why, _ in failed:
        print(f"# --- {END_MSGS[m]} {a}:")
        for line in why.splitlines():
            print(f"#   {line}")
    expect(not failed, f"{len(failed)} of {len(res)} cases broke the rule")


# Device time (abi/include/modvmm/host.h, docs/module-guide.md): the
# fixture fx-clock logs its clock at realize, pre_save, post_load and at
# every tick of a timer it re-arms each 50 ms; modvmm -v prints the log.

CLOCK_PERIOD_NS = 50 * 1000 * 1000
CLOCK_ARGS = {"modules": ["fx-clock.so"],
              "extra": ["-v", "--device", "fx-clock"]}


def clock_log(text):
    """fx-clock0's log, in order: [(event, clock ns)], where event is
    realize, pre_save, post_load or "tick N". A line of it may follow the
    first part of a line of the guest's (stopped or moved inside it)."""
    return [(e, int(ns)) for e, ns in re.findall(
        r"modvmm: fx-clock0: (realize|pre_save|post_load|tick \d+): "
        r"clock (\d+) ns(?:,|$)", text, re.M)]


def clock_at(log, event, nth=-1):
    found = [ns for e, ns in log if e == event]
    expect(found, f"no {event} in the device's log, which ends: {log[-8:]}")
    return found[nth]


def wait_log(path, cond, what, timeout=20):
    """fx-clock0's log in the file at `path`, once cond(log) holds."""
    deadline = time.time() + timeout
    while True:
        with open(path, errors="replace") as f:
            log = clock_log(f.read())
        if cond(log):
            return log
        expect(time.time() < deadline,
               f"{what}; the device's log ends: {log[-8:]}")
        time.sleep(0.02)


def ticks_after(log, event, n):
    """At least n ticks logged after the last `event`."""
    names = [e for e, _ in log]
    if event not in names:
        return False
    last = len(names) - 1 - names[::-1].index(event)
    return sum(e.startswith("tick") for e in names[last:]) >= n


def first_tick_after(log, event):
    names = [e for e, _ in log]
    last = len(names) - 1 - names[::-1].index(event)
    return next((e, ns) for e, ns in log[last:] if e.startswith("tick"))


def snapshot_clock(c, log_path, snap):
    """snapshot-save of a paused guest: the clock its pre_save saw."""
    with open(log_path, errors="replace") as f:
        before = len([e for e, _ in clock_log(f.read()) if e == "pre_save"])
    c.cmd("snapshot-save", file=snap)
    log = wait_log(log_path, lambda lg: len(
        [e for e, _ in lg if e == "pre_save"]) > before, "no pre_save")
    return clock_at(log, "pre_save")


def device_time_across_migration(g):
    """A destination held for a second after the first RAM came (long
    after its devices were created): no timer of it fires and its device
    clock does not move before post_load; post_load sees the clock the
    source saved; the timer goes on from there once the guest runs."""
    d = Dest(g, f"unix:{g.tmp}/mig.sock", extra=["-v"],
             env=fault_env("incoming-ram:stop"))
    try:
        c = Client(g.sock)
        g.wait_for(r"modvmm: fx-clock0: tick 4:")
        c.cmd("migrate", uri=f"unix:{g.tmp}/mig.sock")
        wait_stopped(d.proc)
        time.sleep(1)
        os.kill(d.proc.pid, signal.SIGCONT)
        end = migration_end(c)
        expect(end["status"] == "completed", end)
        expect(g.wait_exit() == 0, "source status")
        src = clock_log(g.output())
        saved = clock_at(src, "pre_save")
        last_tick = [e for e, _ in src if e.startswith("tick")][-1]
        dst = wait_log(d.out_path, lambda lg: ticks_after(lg, "post_load", 2),
                       "no two ticks after post_load on the destination")
        names = [e for e, _ in dst]
        early = [x for x in dst[:names.index("post_load")]
                 if x[0].startswith("tick")]
        expect(not early, f"timer fired before post_load: {early}")
        loaded = clock_at(dst, "post_load")
        expect(loaded == saved, f"post_load saw the clock at {loaded} ns; "
               f"the source saved it at {saved} ns")
        tick, ns = first_tick_after(dst, "post_load")
        expect(tick == f"tick {int(last_tick.split()[1]) + 1}",
               f"{tick} after {last_tick} on the source")
        expect(saved <= ns <= saved + CLOCK_PERIOD_NS + 500000000,
               f"{tick} at clock {ns} ns; saved at {saved} ns")
        Client(d.sock).cmd("quit")
        expect(d.proc.wait(20) == 0, "destination status")
    finally:
        if d.proc.poll() is None:
            os.kill(d.proc.pid, signal.SIGCONT)
        d.close()


def device_time_across_restore_and_pause(g):
    """A restored guest's device clock starts where the snapshot's
    stopped; it stands still and no timer fires while the guest has not
    run (--paused) or is stopped, whether for a second or more. Where
    KVM cannot set a guest's TSC (kvm_pvm, which modvmm says), the clocks
    follow the TSC when the guest runs again: the device clock then goes
    on by the time the guest stood still (docs/user-guide.md, "Guest
    time")."""
    c = Client(g.sock)
    g.wait_for(r"modvmm: fx-clock0: tick 4:")
    c.cmd("stop")
    snap = os.path.join(g.tmp, "guest.snap")
    c.cmd("snapshot-save", file=snap)
    t_saved = time.monotonic()
    c.cmd("quit")
    g.wait_exit()
    saved = clock_at(clock_log(g.output()), "pre_save")
    p, sock, out = restore(g, snap, "-v", "--paused")
    path = os.path.join(g.tmp, "restored.out")
    try:
        wait_log(path, lambda lg: "post_load" in [e for e, _ in lg],
                 "no post_load on the restored host")
        time.sleep(1)
        rc = restored_client(p, sock)
        log = clock_log(open(path).read())
        loaded = clock_at(log, "post_load")
        expect(loaded == saved, f"post_load saw the clock at {loaded} ns; "
               f"the snapshot was saved at {saved} ns")
        ticks = [x for x in log if x[0].startswith("tick")]
        expect(not ticks, f"timer fired before the guest ran: {ticks}")
        ns = snapshot_clock(rc, path, os.path.join(g.tmp, "s1.snap"))
        expect(ns == saved, f"paused, never run: the clock went from "
               f"{saved} ns to {ns} ns")
        stood = int((time.monotonic() - t_saved) * 1e9)
        rc.cmd("cont")
        log = wait_log(path, lambda lg: ticks_after(lg, "pre_save", 2),
                       "no ticks after cont")
        fixed = "does not set it" in open(path).read()
        tick, ns = first_tick_after(log, "pre_save")
        low = saved + (stood if fixed else 0)
        expect(low <= ns <= low + CLOCK_PERIOD_NS + 500000000,
               f"{tick} at clock {ns} ns; saved at {saved} ns"
               + (f", {stood} ns before it ran" if fixed else ""))
        rc.cmd("stop")
        a = snapshot_clock(rc, path, os.path.join(g.tmp, "s2.snap"))
        time.sleep(1)
        b = snapshot_clock(rc, path, os.path.join(g.tmp, "s3.snap"))
        expect(a == b, f"stopped for a second: the clock went from {a} ns "
               f"to {b} ns")
        rc.cmd("cont")
        log = wait_log(path, lambda lg: ticks_after(lg, "pre_save", 1),
                       "no tick after the second cont")
        tick, ns = first_tick_after(log, "pre_save")
        low = b + (1000000000 if fixed else 0)
        expect(low <= ns <= low + CLOCK_PERIOD_NS + 1500000000,
               f"{tick} at clock {ns} ns; stopped at {b} ns")
        rc.cmd("quit")
        expect(p.wait(20) == 0, "restored run's status")
    finally:
        if p.poll() is None:
            p.kill()
        out.close()


def without_device_clock(data):
    """The snapshot as a host before the device clock moved wrote it: its
    VM record's kvm-vm section without the kvm-vm/device-clock
    subsection (docs/stream-format.md)."""
    name = b"kvm-vm/device-clock"
    out = bytearray(data[:12])
    for at, t, ln in records(data):
        payload = data[at + REC_HDR:at + REC_HDR + ln]
        if t == 7:
            sub = b"S\x01" + bytes([len(name)]) + name
            i = payload.index(sub)
            cut = len(sub) + 8 + 8 + 1
            expect(payload[i + len(sub) + 4:i + len(sub) + 8] ==
                   struct.pack("<I", 8) and payload[i + cut - 1] == 0x45,
                   "the device clock subsection's layout")
            length = struct.unpack_from("<I", payload, 13)[0]
            payload = (payload[:13] + struct.pack("<I", length - cut) +
                       payload[17:i] + payload[i + cut:])
        out += record(t, payload)
    return bytes(out)


def device_clock_absent_starts_at_0(g):
    """A snapshot without the device clock (an older host's) restores,
    and the device clock starts from 0 there, standing still until the
    guest runs."""
    c = Client(g.sock)
    g.wait_for(r"modvmm: fx-clock0: tick 4:")
    c.cmd("stop")
    snap = os.path.join(g.tmp, "guest.snap")
    c.cmd("snapshot-save", file=snap)
    c.cmd("quit")
    g.wait_exit()
    old_snap = os.path.join(g.tmp, "old.snap")
    with open(snap, "rb") as f:
        old = without_device_clock(f.read())
    with open(old_snap, "wb") as f:
        f.write(old)
    p, sock, out = restore(g, old_snap, "-v", "--paused")
    path = os.path.join(g.tmp, "restored.out")
    try:
        log = wait_log(path, lambda lg: "post_load" in [e for e, _ in lg],
                       "no post_load on the restored host: " +
                       open(path).read()[-300:])
        expect(clock_at(log, "post_load") == 0,
               f"post_load saw the clock at {clock_at(log, 'post_load')} "
               f"ns; a snapshot without it starts from 0")
        rc = restored_client(p, sock)
        rc.cmd("cont")
        wait_log(path, lambda lg: ticks_after(lg, "post_load", 1),
                 "no tick after cont")
        rc.cmd("quit")
        expect(p.wait(20) == 0, "restored run's status")
    finally:
        if p.poll() is None:
            p.kill()
        out.close()


def socat_example_in_docs_works(g):
    """The socat example of docs/control.md, run as written."""
    with open(os.path.join(SRC, "docs", "control.md")) as f:
        doc = f.read()
    block = re.search(r"```sh\n(socat - UNIX-CONNECT:.*?)```", doc, re.S)
    expect(block, "no socat example in docs/control.md")
    script = block.group(1).replace("/run/vm1.sock", g.sock)
    r = subprocess.run(["sh", "-c", script], capture_output=True,
                       text=True, timeout=30)
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    expect(r.returncode == 0 and "QMP" in lines[0], r.stdout + r.stderr)
    expect({"return": {"status": "running", "running": True}, "id": 1} in
           lines, lines)
    expect({"return": {"id": "p0"}} in lines, lines)
    expect(any(x.get("event") == "DEVICE_ADDED" for x in lines), lines)



# ---- the guest's CPU (docs/compat.md, "The CPU") ----

_SMALL = []


def small_cpu():
    """The baseline model the test hosts are kept to: x86-64-v2 where
    this host's KVM can give it, else x86-64 (a KVM that hides SSE3 and
    the like, such as kvm_pvm: modvmm then refuses to start a guest on
    x86-64-v2, naming the bits, which this checks)."""
    if not _SMALL:
        r = subprocess.run([MODVMM, "run", "--module-dir",
                            os.path.join(BUILD, "modules"), "--cpu",
                            "x86-64-v2", "--append", "count=1"],
                           capture_output=True, text=True, timeout=30)
        if r.returncode == 0:
            _SMALL.append("x86-64-v2")
        else:
            expect(r.returncode == 125 and re.search(
                r"^modvmm: this host cannot give CPU model x86-64-v2: "
                r"(CPUID\.[0-9a-fx.]+:E[A-D]X bit \d+ \(\S+\)(, |"
                r" missing here\n$))+", r.stderr), r.stderr)
            _SMALL.append("x86-64")
    return _SMALL[0]


def cpu_bits(cpu, function, index, reg):
    for l in cpu["leaves"]:
        if l["function"] == function and (l["index"] == index or
                                          not l["flags"] & 1):
            return l[reg]
    return 0


CPU_MISSING = re.compile(r"CPUID\.([0-9a-fx]+)(?:\.(\d+))?:(E[A-D]X) bit "
                         r"(\d+)(?: \(\S+\))? missing here")


def check_missing_named(text, guest, offer):
    """Every bit the refusal names is the guest's and not in the offer;
    at least one is named, none twice."""
    named = CPU_MISSING.findall(text)
    expect(named and len(named) == len(set(named)), text)
    for fn, idx, reg, bit in named:
        f = int(fn, 0)
        i = int(idx or 0)
        b = 1 << int(bit)
        expect(cpu_bits(guest, f, i, reg.lower()) & b and
               not cpu_bits(offer, f, i, reg.lower()) & b, (fn, idx, reg, bit))


def inventory_cpu(g, model):
    r = subprocess.run([MODVMM, "compat", "inventory", "--module-dir",
                        g.moddir, "--cpu", model], capture_output=True,
                       text=True, timeout=30)
    expect(r.returncode == 0, r.stderr)
    return json.loads(r.stdout)["cpu"]


def cpu_refusals_name_what_is_missing(g):
    """A guest's manifest asking for a CPU feature, vendor, TSC rate or
    MSR this host lacks: compat check refuses it, naming each."""
    c = Client(g.sock)
    m = c.cmd("query-manifest")
    cpu = m["cpu"]
    expect(cpu["model"] == "host" and cpu["tsc_khz"] > 0 and cpu["msrs"], cpu)
    inv = c.cmd("query-inventory")["cpu"]
    expect(inv["model"] == "host" and inv["tsc_khz"] == cpu["tsc_khz"], inv)

    def check(doc, *extra):
        path = os.path.join(g.tmp, "guest.json")
        with open(path, "w") as f:
            json.dump(doc, f)
        return subprocess.run([MODVMM, "compat", "check", "--source", path,
                               "--module-dir", g.moddir] + list(extra),
                              capture_output=True, text=True, timeout=30)

    r = check(m)
    expect(r.returncode == 0 and "warning" not in r.stdout, r.stdout)
    # A feature this host does not offer: the first of avx512f, avx2,
    # bmi1 it lacks.
    bad = json.loads(json.dumps(m))
    have = cpu_bits(inv, 7, 0, "ebx")
    bit, name = next((b, n) for b, n in ((16, "avx512f"), (5, "avx2"),
                                         (3, "bmi1"))
                     if not have & (1 << b))
    leaf = next(l for l in bad["cpu"]["leaves"]
                if l["function"] == 7 and l["index"] == 0)
    leaf["ebx"] |= 1 << bit
    bad["cpu"]["msrs"].append(0x12345678)
    for l in bad["cpu"]["leaves"]:
        if l["function"] == 0:
            l["ebx"], l["edx"], l["ecx"] = 0x756E6547, 0x49656E69, 0x6C65746E
            if inv["leaves"][0]["ebx"] == 0x756E6547:  # GenuineIntel here
                l["ebx"], l["edx"], l["ecx"] = (0x68747541, 0x69746E65,
                                                0x444D4163)
    if not inv["tsc_scaling"]:
        bad["cpu"]["tsc_khz"] = cpu["tsc_khz"] * 2
    r = check(bad)
    expect(r.returncode == 1, r.stdout + r.stderr)
    expect(f"refused: CPUID.7.0:EBX bit {bit} ({name}) missing here\n" in
           r.stdout, r.stdout)
    expect("refused: MSR 0x12345678 missing here\n" in r.stdout, r.stdout)
    expect(re.search(r"^refused: CPU vendor (GenuineIntel|AuthenticAMD) at "
                     r"the source, \w+ here$", r.stdout, re.M), r.stdout)
    if not inv["tsc_scaling"]:
        expect(f"refused: TSC rate {cpu['tsc_khz'] * 2} kHz at the source, "
               f"{cpu['tsc_khz']} kHz here (more than 250 ppm apart), and "
               "this host cannot scale a guest's TSC (no KVM_CAP_TSC_CONTROL)"
               "\n" in r.stdout, r.stdout)
    expect(r.stdout.endswith("verdict: refused, 0 of 3 devices refused, and "
                             "the CPU\n"), r.stdout)
    j = json.loads(check(bad, "--json").stdout)
    expect(not j["accepted"] and f"CPUID.7.0:EBX bit {bit} ({name}) missing "
           "here" in j["cpu_reasons"] and j["cpu_reasons"] == j["reasons"], j)
    # Within 250 ppm of this host's rate: the same rate.
    near = json.loads(json.dumps(m))
    near["cpu"]["tsc_khz"] = cpu["tsc_khz"] + cpu["tsc_khz"] // 5000
    r = check(near)
    expect(r.returncode == 0, r.stdout)
    # An older manifest without a CPU: judged as before, with a warning.
    old = dict(m)
    del old["cpu"]
    r = check(old)
    expect(r.returncode == 0 and "warning: the guest's manifest lists no "
           "CPU: its CPU is not checked\n" in r.stdout, r.stdout)
    # An inventory without a CPU cannot take a guest that has one.
    host = os.path.join(g.tmp, "host.json")
    inv_doc = c.cmd("query-inventory")
    del inv_doc["cpu"]
    with open(host, "w") as f:
        json.dump(inv_doc, f)
    path = os.path.join(g.tmp, "guest.json")
    with open(path, "w") as f:
        json.dump(m, f)
    r = subprocess.run([MODVMM, "compat", "hosts", path, host],
                       capture_output=True, text=True, timeout=30)
    expect(r.returncode == 1 and "refused: the guest runs CPU model host, "
           "and this host's inventory lists no CPU\n" in r.stdout, r.stdout)
    # A host kept to the small model cannot take this guest.
    r = check(m, "--cpu", small_cpu())
    expect(r.returncode == 1, r.stdout)
    check_missing_named(r.stdout, cpu, inventory_cpu(g, small_cpu()))
    r = check(m, "--cpu", "x86")
    expect(r.returncode == 2 and r.stderr == "modvmm: --cpu x86: unknown CPU "
           "model (known: host, x86-64, x86-64-v2, x86-64-v3)\n", r.stderr)
    g.assert_running()


def unknown_cpu_model_is_a_usage_error(g):
    r = subprocess.run([MODVMM, "run", "--module-dir", g.moddir, "--cpu",
                        "pentium"], capture_output=True, text=True,
                       timeout=30)
    expect(r.returncode == 2 and r.stderr == "modvmm: --cpu pentium: unknown "
           "CPU model (known: host, x86-64, x86-64-v2, x86-64-v3)\n",
           r.stderr)


def small_cpu_guest(g):
    """A guest started on the small model, its manifest's CPU."""
    sub = os.path.join(g.tmp, "small")
    os.makedirs(sub)
    h = Guest(sub, extra=["--cpu", small_cpu()])
    h.pages = 64
    cpu = Client(h.sock).cmd("query-manifest")["cpu"]
    expect(cpu["model"] == small_cpu(), cpu)
    return h, cpu


def migrate_small_cpu_guest_between_hosts(g):
    """Started on the small model: it moves to a host kept to that
    model, then to a `--cpu host` one, keeping its CPUID there, and on
    again to a host kept to the model, which takes it."""
    h, cpu = small_cpu_guest(g)
    dests = []
    try:
        src = h
        for i, model in enumerate((small_cpu(), "host", small_cpu())):
            uri = f"unix:{h.tmp}/mig{i}.sock"
            d = Dest(h, uri, extra=["--cpu", model], name=f"dest{i}")
            dests.append(d)
            c = Client(src.sock)
            if not i:
                h.wait_for("^count 3 ")
            c.cmd("migrate", uri=uri)
            end = migration_end(c)
            expect(end["status"] == "completed", end)
            got = Client(d.sock).cmd("query-manifest")["cpu"]
            expect(got["model"] == small_cpu() and
                   got["leaves"] == cpu["leaves"], (model, got["model"]))
            src = d
        text = guest_text(h.output(), *(x.output() for x in dests))
        ns = [n for n, _ in count_lines(text)]
        expect(ns == list(range(1, len(ns) + 1)), ns)
        Client(src.sock).cmd("quit")
    finally:
        for d in dests:
            d.close()
        h.close()


def host_cpu_guest_refused_by_small_host(g):
    """A guest on `--cpu host` does not move to a host kept to the small
    model: refused, each missing feature named; it keeps running."""
    c = Client(g.sock)
    cpu = c.cmd("query-manifest")["cpu"]
    uri = f"unix:{g.tmp}/mig.sock"
    d = Dest(g, uri, extra=["--cpu", small_cpu()])
    try:
        g.wait_for("^count 3 ")
        c.cmd("migrate", uri=uri)
        end = migration_end(c)
        expect(end["status"] == "failed" and "refused by the destination; "
               "the guest keeps running here" in end["error"] and
               ", and the CPU\n" in end["error"], end)
        check_missing_named(end["error"], cpu, inventory_cpu(g, small_cpu()))
        expect(c.cmd("query-status")["status"] == "running", "status")
        g.assert_running()
    finally:
        d.close()


def restore_checks_the_cpu(g):
    """A snapshot of a `--cpu host` guest is refused by a host kept to
    the small model, naming what is missing; one of a small-model guest
    restores there with its CPUID."""
    c = Client(g.sock)
    cpu = c.cmd("query-manifest")["cpu"]
    snap = os.path.join(g.tmp, "guest.snap")
    c.cmd("snapshot-save", file=snap)
    r = subprocess.run([MODVMM, "run", "--module-dir", g.moddir, "--restore",
                        snap, "--cpu", small_cpu()], capture_output=True,
                       text=True, timeout=30)
    expect(r.returncode == 125 and f"modvmm: {snap}: this host cannot "
           "restore the snapshot:\n" in r.stderr and ", and the CPU\n" in
           r.stderr, r.stderr)
    check_missing_named(r.stderr, cpu, inventory_cpu(g, small_cpu()))
    expect("modvmm guest" not in r.stdout, "a guest ran")
    h, small = small_cpu_guest(g)
    try:
        hc = Client(h.sock)
        h.wait_for("^count 3 ")
        snap = os.path.join(h.tmp, "small.snap")
        hc.cmd("snapshot-save", file=snap)
        hc.cmd("quit")
        h.wait_exit()
        with restored(h, snap, "--cpu", small_cpu()) as rc:
            got = rc.cmd("query-manifest")["cpu"]
            expect(got["model"] == small_cpu() and
                   got["leaves"] == small["leaves"], got["model"])
    finally:
        h.close()


def with_tsc_khz(data, khz):
    """The snapshot with its manifest's TSC rate set to `khz`."""
    out = bytearray(data[:12])
    for at, t, ln in records(data):
        payload = data[at + REC_HDR:at + REC_HDR + ln]
        if t == 2:
            payload, n = re.subn(rb'("tsc_khz"\s*:\s*)\d+',
                                 rb"\g<1>" + str(khz).encode(), payload)
            expect(n == 1, "one TSC rate in the manifest")
        out += record(t, payload)
    return bytes(out)


def restore_keeps_the_guests_tsc_rate(g):
    """A guest whose TSC rate is within 250 ppm of this host's is taken
    and keeps its own rate in its manifest, which the next host is held
    to, so that hops do not add up; one 2000 ppm off is refused where KVM
    cannot scale it, both rates named."""
    c = Client(g.sock)
    khz = c.cmd("query-manifest")["cpu"]["tsc_khz"]
    snap = os.path.join(g.tmp, "guest.snap")
    c.cmd("snapshot-save", file=snap)
    data = open(snap, "rb").read()
    near, far = khz + khz // 10000, khz + khz // 500
    path = os.path.join(g.tmp, "near.snap")
    with open(path, "wb") as f:
        f.write(with_tsc_khz(data, near))
    with restored(g, path) as rc:
        got = rc.cmd("query-manifest")["cpu"]["tsc_khz"]
        expect(got == near, f"restored with a rate of {near} kHz on a "
               f"{khz} kHz host, its manifest says {got} kHz")
    with open(path, "wb") as f:
        f.write(with_tsc_khz(data, far))
    scaling = json.loads(subprocess.run(
        [MODVMM, "compat", "inventory", "--module-dir", g.moddir],
        capture_output=True, text=True,
        timeout=30).stdout)["cpu"]["tsc_scaling"]
    if scaling:
        with restored(g, path, "--paused") as rc:
            got = rc.cmd("query-manifest")["cpu"]["tsc_khz"]
            expect(got == far, f"scaled to {far} kHz, says {got} kHz")
        return
    r = subprocess.run([MODVMM, "run", "--module-dir", g.moddir, "--restore",
                        path], capture_output=True, text=True, timeout=30)
    expect(r.returncode == 125 and f"TSC rate {far} kHz at the source, "
           f"{khz} kHz" in r.stderr, r.stderr)


def guest_from_config_file(g):
    """modvmm run --config FILE: the guest comes from the file's options
    (strings, a list, a flag), and the command line's --control overrides
    the file's."""
    conf = os.path.join(g.tmp, "guest.conf")
    sock = os.path.join(g.tmp, "conf.sock")
    unused = os.path.join(g.tmp, "from-file.sock")
    with open(conf, "w") as f:
        f.write("# the guest of this case\n[run]\n"
                f"module-dir={g.moddir}\n"
                "memory=64M\ncpus=2\nappend=forever pace=10\n"
                "device=pvpanic,id=panic-from-file;debug-exit\n"
                f"control={unused}\npaused=true\n")
    out_path = os.path.join(g.tmp, "conf.out")
    with open(out_path, "w") as out:
        p = subprocess.Popen([MODVMM, "run", "--config", conf, "--control",
                              sock], stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 20
        while not os.path.exists(sock):
            expect(p.poll() is None and time.time() < deadline,
                   "no socket: " + open(out_path).read())
            time.sleep(0.01)
        expect(not os.path.exists(unused), "the file's control was used")
        c = Client(sock)
        st = c.cmd("query-status")["status"]
        expect(st == "paused", f"paused=true in the file, status {st}")
        devs = {d["id"]: d["driver"] for d in c.cmd("query-devices")}
        expect(devs.get("panic-from-file") == "pvpanic" and
               "debug-exit" in devs.values(), devs)
        c.cmd("cont")
        deadline = time.time() + 10
        while not re.search(r"^count 2 ", open(out_path).read(), re.M):
            expect(time.time() < deadline, "the guest never counted: " +
                   open(out_path).read()[-500:])
            time.sleep(0.02)
        expect(c.cmd("quit") == {}, "quit")
        st = p.wait(20)
        expect(st == 0, f"exit status {st}: " + open(out_path).read())
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


CASES = [
    (greeting_has_version_and_capabilities, {}),
    (commands_before_capabilities_refused, {}),
    (stop_and_cont_pause_the_guest, {}),
    (ctl_confirms_every_change, {}),
    (watch_prints_iso_8601_utc_times, {}),
    (paused_start_waits_for_cont, {"paused": True}),
    (query_machines_lists_types, {}),
    (query_modules_shows_version_abi_origin, {}),
    (query_devices_shows_properties, {}),
    (hot_added_device_seen_by_guest, {}),
    (module_load_refusals, {}),
    (module_allowlist_refuses_unlisted, {}),
    (every_thread_has_its_filter, {"disk": True}),
    (device_add_and_del_refusals, {}),
    (device_resources_checked_by_the_core, {"disk": True}),
    (manifest_and_inventory, {}),
    (malformed_input_refused, {}),
    (long_line_refused_then_next_works, {}),
    (unknown_command_and_bad_arguments, {}),
    (several_clients_get_events, {}),
    (slow_client_dropped_others_unaffected, {"timeout": 2}),
    (handshake_timeout_closes, {"timeout": 2}),
    (too_many_clients_refused, {}),
    (quit_ends_run_with_shutdown, {}),
    (guest_reset_emits_reset_and_shutdown,
     {"append": "count=2 reset", "paused": True}),
    (guest_triple_fault_has_its_own_status,
     {"append": "count=2 triple", "paused": True}),
    (guest_panic_emits_guest_panicked,
     {"append": "count=2 panic", "paused": True,
      "extra": ["--device", "pvpanic"]}),
    (guest_exit_emits_shutdown_with_status,
     {"append": "count=2", "paused": True}),
    (ctl_readable_json_and_errors, {}),
    (ctl_usage_error_sends_nothing, {}),
    (idle_clients_closed_operator_gets_in,
     {"extra": ["--control-idle-timeout", "5"]}),
    (docs_match_the_schema, {}),
    (socat_example_in_docs_works, {}),
    (socket_path_is_private_and_checked, {}),
    (snapshot_save_and_restore_continue, {"append": "forever pace=20"}),
    (snapshot_of_running_guest_resumes_it, {}),
    (snapshot_on_exit_saves_the_stopped_guest, {}),
    (snapshot_save_failure_loses_nothing, {}),
    (snapshot_save_never_replaces_the_control_socket, {}),
    (snapshot_keeps_every_block_written,
     {"append": "count=120 pace=10", "disk": True}),
    (restore_refusals_name_the_reason, {}),
    (restore_judged_by_the_version_saved,
     {"disk": True, "rtc": "cmos-rtc,lost-ticks=off"}),
    (snapshot_corruption_refused, {"disk": True}),
    (format_1_snapshot_and_stream_still_load, {}),
    (restored_guest_ignores_its_snapshot_file, {}),
    (snapshot_ram_must_cover_memory_once, {}),
    (migration_stream_missing_ram_refused, {}),
    (migrate_unix_guest_continues_on_destination, {}),
    (migrate_tls_guest_continues_on_destination, {}),
    (migrate_tls_refusals_keep_the_guest, {}),
    (migrate_tcp_while_guest_rewrites_memory,
     {"append": "forever pace=10 pages=2000"}),
    (refused_migration_leaves_source_running, {}),
    (migrate_during_block_writes_loses_nothing,
     {"append": "count=100 pace=5", "disk": True}),
    (migrated_disk_lock_goes_with_the_guest,
     {"append": "forever pace=10", "disk": True}),
    (migrate_rtc_1_0_guest_to_2_0_host,
     {"append": "count=300 pace=10", "disk": True,
      "drop": ["cmos-rtc.so"], "modules": ["fx-rtc-1.0.so"]}),
    (migrate_rtc_2_0_guest_to_1_0_host_refused,
     {"append": "forever pace=10", "disk": True}),
    (migrate_rtc_2_0_guest_to_1_1_host_saves_older_version,
     {"append": "count=300 pace=10", "disk": True}),
    (migrate_rtc_property_at_legacy_value_to_older_host,
     {"append": "count=300 pace=10", "disk": True,
      "rtc": "cmos-rtc,lost-ticks=off"}),
    (migrate_rtc_property_off_its_legacy_value_refused,
     {"append": "forever pace=10", "disk": True}),
    (destination_gone_mid_transfer_source_resumes,
     {"append": "forever pace=10 pages=4000"}),
    (destination_killed_mid_transfer_source_resumes,
     {"append": "forever pace=1 pages=8192"}),
    (no_complete_source_resumes, {}),
    (malformed_verdict_refused_source_resumes, {}),
    (verdict_version_not_offered_refused_source_resumes, {}),
    (subsection_needed_after_verdict_aborts,
     {"modules": ["fx-counter-1.1.so"], "extra": ["--device", "fx-counter"]}),
    (cancel_mid_transfer_source_resumes,
     {"append": "forever pace=10 pages=4000"}),
    (migration_progress_moves_within_first_round,
     {"append": "forever pace=10 pages=8192"}),
    (ctl_migrate_says_round_and_waiting, {}),
    (downtime_limit_from_the_command_line,
     {"extra": ["--downtime-ms", "77"],
      "append": "forever pace=10 pages=4000"}),
    (source_gone_mid_transfer_destination_exits, {}),
    (corrupted_migration_refused_source_resumes, {}),
    (migrate_tcp_between_network_namespaces, {"netns": NETNS}),
    (migrate_over_inherited_fds, {}),
    (migrate_check_then_migrate, {}),
    (host_names_resolve_under_enforce, {}),
    (every_command_survives_hostile_arguments, {}),
    (migrate_check_refused, {}),
    (migrate_incoming_over_control_socket, {}),
    (cpu_refusals_name_what_is_missing, {}),
    (unknown_cpu_model_is_a_usage_error, {}),
    (migrate_small_cpu_guest_between_hosts, {}),
    (host_cpu_guest_refused_by_small_host, {}),
    (restore_checks_the_cpu, {}),
    (restore_keeps_the_guests_tsc_rate, {}),
    (device_time_across_migration, CLOCK_ARGS),
    (device_time_across_restore_and_pause, CLOCK_ARGS),
    (device_clock_absent_starts_at_0, CLOCK_ARGS),
    (migrate_older_source_to_newer_host,
     {"modules": ["fx-counter-1.0.so"], "extra": ["--device", "fx-counter"]}),
    (migrate_newer_source_saves_older_version,
     {"modules": ["fx-counter-2.0.so"], "extra": ["--device", "fx-counter"]}),
    (migrate_newer_source_unable_refused,
     {"modules": ["fx-counter-3.0.so"], "extra": ["--device", "fx-counter"]}),
    (snapshot_save_to_full_disk_loses_nothing, {}),
    (snapshot_on_exit_to_full_disk_reported, {}),
    (network_cut_mid_migration_both_ends_give_up,
     {"netns": NETNS, "append": "forever pace=10 pages=8192"}),
    *FAULT_CASES,
    *SIGNAL_CASES,
    (destination_backlog_full_connect_times_out, {}),
    (destination_silent_after_accept_source_resumes, {}),
    (destination_hung_mid_ram_source_resumes,
     {"append": "forever pace=10 pages=8192"}),
    (destination_hung_before_complete_never_runs_guest, {}),
    (source_silent_destination_gives_up, {}),
    (source_hung_mid_ram_destination_gives_up,
     {"env": fault_env("migrate-ram:stop")}),
    (migration_end_phase_never_on_two_hosts, {}),
    (migration_timeouts_and_fault_names_checked,
     {"extra": ["--migration-timeout", "7"]}),
    (guest_from_config_file, {"paused": True}),
]


def main():
    cases = [c for c in CASES if not ONLY or c[0].__name__ in ONLY]
    if not os.path.exists("/dev/kvm"):
        print(f"1..0 # SKIP no /dev/kvm on this host: the control suite "
              f"needs a running guest ({len(cases)} cases NOT RUN)")
        print("#" * 70 + "\n# CONTROL SUITE SKIPPED: NO /dev/kvm\n" +
              "#" * 70, file=sys.stderr)
        return 0
    print(f"1..{len(cases)}", flush=True)
    failed = 0
    for n, (fn, kw) in enumerate(cases, 1):
        t0 = time.time()
        why, tail = "", []
        with tempfile.TemporaryDirectory() as tmp:
            g = None
            try:
                g = Guest(tmp, **kw)
                fn(g)
                res = "ok"
            except Exception as e:  # a failed case, reported in TAP
                res = "not ok"
                why = f"{type(e).__name__}: {e}"
                if not isinstance(e, AssertionError):
                    why += "\n" + traceback.format_exc()
            finally:
                if g:
                    g.close()
                    tail = g.output().splitlines()[-10:]
                if kw.get("netns"):
                    kw["netns"].remove()
        print(f"{res} {n} - {fn.__name__} ({time.time() - t0:.1f} s)")
        if res != "ok":
            failed += 1
            for line in why.splitlines()[:20]:
                print(f"#   {line}")
            for line in tail:
                print(f"#   | {line}")
        sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
