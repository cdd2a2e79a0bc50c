# SPDX-License-Identifier: LGPL-2.1-or-later
"""Control socket round trips, modvmm beside QEMU's QMP in the same run.

Both servers are driven by the same client code (qmp.py), over a unix
socket, each running the built-in guest idle. Per operation, each sample
is the mean over many operations:
  handshake      connect, read the greeting, qmp_capabilities, close
                 (with no other client: QEMU's QMP serves one at a time)
  query-status   one request and its reply
  stop+cont      pause the vCPUs and resume them (both wait for the
                 vCPUs to leave the guest)
  device add+del modvmm only (QEMU's microvm ISA bus takes no hot-plug):
                 a pvpanic device added and deleted while the guest runs
"""
import time

import lib
from qmp import Qmp

INTRO = """
Both servers answer the same client code (Python: its own cost is in both
columns) over a unix socket while the built-in guest idles (`forever
pace=50`); QEMU runs the same guest from its PVH build. Each sample is the
mean over {ops} operations. QEMU's handshake is measured alone because its
QMP serves one client at a time; modvmm serves up to 16. QEMU's `microvm`
ISA bus takes no hot-plugged device, so device add+del has no peer.
"""


def measure(ctx, ops, fn):
    samples = []
    for _ in range(ctx.reps):
        t0 = time.perf_counter()
        for _ in range(ops):
            fn()
        samples.append((time.perf_counter() - t0) / ops * 1e6)
    return lib.Stat(samples)


def session(ctx, ops, path, with_devices):
    res = {"handshake": measure(ctx, ops, lambda: Qmp(path).close())}
    c = Qmp(path)
    res["query-status"] = measure(ctx, ops, lambda: c.cmd("query-status"))
    res["stop+cont"] = measure(ctx, ops,
                               lambda: (c.cmd("stop"), c.cmd("cont")))
    if with_devices:
        res["device add+del (pvpanic, guest running)"] = measure(
            ctx, ops, lambda: (c.cmd("device-add", driver="pvpanic",
                                     id="b0"),
                               c.cmd("device-del", id="b0")))
    c.cmd("quit")
    c.close()
    return res


def serve(ctx, cmd, sock, name, with_devices, ops):
    p = lib.spawn(cmd, f"{ctx.tmp}/{name}.out")
    try:
        lib.wait_path(sock, p)
        return session(ctx, ops, sock, with_devices)
    finally:
        try:
            lib.stop(p)
        finally:
            lib.kill(p)


def run(ctx):
    ops = 20 if ctx.smoke else 300
    sec = lib.Section("control", "Control socket against QEMU's QMP",
                      INTRO.format(ops=ops))
    append = "forever pace=50"
    ours = serve(ctx, [ctx.modvmm, "run", "--module-dir", ctx.modules,
                       "--control", f"{ctx.tmp}/m.sock", "--append", append],
                 f"{ctx.tmp}/m.sock", "control-modvmm", True, ops)
    peer = serve(ctx, lib.qemu_cmd("256M", f"{ctx.tmp}/q.sock", extra=[
        "-kernel", ctx.guest_pvh, "-append", append]),
        f"{ctx.tmp}/q.sock", "control-qemu", False, ops)
    for op, s in ours.items():
        sec.add(op, "µs", s, peer.get(op), "QEMU QMP" if op in peer else "",
                headline=op == "query-status")
    return sec
