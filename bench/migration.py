# SPDX-License-Identifier: LGPL-2.1-or-later
"""Live migration and snapshots, modvmm beside QEMU on the same guest.

Both VMMs run the built-in guest (QEMU its PVH build) with the same
command line: it first writes one word into every page of its RAM above
4 MiB (`fill=`, so no page is zero and every page must move), then
rewrites `pages=` pages every `pace=` timer ticks (1 ms each) while it
counts. Both migrate over loopback TCP to a second process on this host,
with the same downtime limit (300 ms) and no bandwidth cap (QEMU's
max-bandwidth raised from its 128 MiB/s default). The figures are each
VMM's own: modvmm's last MIGRATION event (total-time-ms, downtime-ms,
transferred), QEMU's query-migrate (total-time, downtime,
ram.transferred). The dirty rate is the guest's: the counter lines it
printed while the migration ran, times the bytes each line rewrote, over
the live time. Each migration is checked: the destination's guest must
count on.

Snapshots: modvmm's snapshot-save and --restore; QEMU's `migrate
"exec:cat > FILE"` and `-incoming "exec:cat FILE"` (QEMU 7.2 has no file:
URI). Restore is timed from the start of the process to its guest state
being loaded: modvmm's control socket answering (it opens after), QEMU's
status leaving `inmigrate`.

Limits, measured in the same run: memcpy between two resident buffers and
loopback TCP between two threads of one Python process (recv_into a
resident buffer).
"""
import os
import socket
import subprocess
import tempfile
import threading
import time

import lib
from qmp import Qmp

PACE = 20  # ticks between rounds: 50 rounds/s at most
DOWNTIME_MS = 300
RAM_SIZES = ["256M", "512M", "1G", "2G"]
DIRTY_RAM = "1G"
DIRTY_PAGES = [0, 256, 1024, 4096]  # per round: 0, 50, 200, 800 MiB/s
SNAPSHOT_SIZES = ["256M", "1G"]

INTRO = f"""
The same guest on both VMMs (QEMU runs its PVH build), every page of its
RAM above 4 MiB written once before the migration starts (so every page
moves: no zero pages), then rewriting a number of pages every {PACE} ms
while it counts; loopback TCP to a second process on this host; downtime
limit {DOWNTIME_MS} ms on both, no bandwidth cap (QEMU's max-bandwidth
raised from its 128 MiB/s default). Figures are each VMM's own report
(modvmm's MIGRATION event, QEMU's query-migrate); MiB/s is bytes sent over
total time. The dirty rate is what the guest achieved while the migration
ran (its counter lines during the migration, times what each rewrote);
the nominal rate is what it would write at full pace, which it cannot
always keep while its pages are being tracked. Every migration is checked:
the guest counts on at the destination. The limits row is memcpy and
loopback TCP measured by the benchmark itself in the same run.
"""

SNAP_INTRO = """
The same guest, RAM filled as above and idle while saved. modvmm:
`snapshot-save` and `modvmm run --restore`; QEMU: `migrate "exec:cat >
FILE"` and `-incoming "exec:cat FILE"` (QEMU 7.2 has no `file:` URI), with
no bandwidth cap. Save is timed from the request to its end; restore from
starting the process to the guest state being loaded (modvmm: its control
socket answers, which it opens after; QEMU: its status leaves
`inmigrate`); then each guest is resumed and must count on. Files are on
tmpfs (`/dev/shm`), so the figures are the VMMs' and not a disk's; on a
disk, modvmm's save also waits for `fsync` (a saved snapshot survives a
crash of the host), which `cat` does not. modvmm's restore checks every
record's checksum, reading RAM pages straight into guest memory and
checking them there (the guest never runs on the file's own pages).
MiB/s is guest RAM over time.
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def append_for(fill_mib, pages):
    return f"forever pace={PACE} pages={pages} fill={fill_mib}"


def fill_of(mem):
    return lib.mib(mem) - 8  # 4 MiB below (image, tables) and 4 above


def count_lines(path):
    with open(path, "rb") as f:
        return f.read().count(b"\ncount ")


def settle(out, proc, fill):
    """Waits until the guest has filled its RAM and counts."""
    off = lib.wait_line(out, f"fill {fill} MiB", proc, timeout=120)
    lib.wait_line(out, "count 2 ", proc, timeout=60, start=off)


def counts_on(out, proc, peer=False):
    """Whether the guest prints a counter line after the migration or the
    restore. modvmm's must; a peer's guest that does not is reported."""
    n = count_lines(out)
    deadline = time.monotonic() + 15
    while count_lines(out) <= n:
        if proc.poll() is not None or time.monotonic() > deadline:
            if peer:
                return False
            raise lib.Fail(f"{os.path.basename(proc.args[0])}: the guest "
                           f"did not count on after the migration or "
                           f"restore ({os.path.basename(out)}): "
                           f"{lib.tail(out)}")
        time.sleep(0.01)
    return True


class Impossible(lib.Fail):
    """A VMM's report of a completed migration contradicts itself."""


class Result:
    def __init__(self, who, mem, total, down, sent, lines, live_ms, pages):
        if total <= 0 or sent < fill_of(mem) << 20:
            raise Impossible(f"{who} reports {sent} bytes sent in {total} "
                             f"ms for a guest with {fill_of(mem)} MiB "
                             "written")
        self.total, self.down = total, down
        self.stuck = False  # the guest did not count on (peers only)
        self.mibs = sent / (1 << 20) / max(total, 1) * 1000
        self.dirty = lines * pages * 4096 / (1 << 20) / max(live_ms, 1) * 1e3


def tls_certs(ctx):
    """A directory of certificates for --migration-tls (certtool, as
    docs/user-guide.md shows): a CA, a server certificate for 127.0.0.1,
    a client certificate. Made once per run."""
    d = os.path.join(ctx.tmp, "tls")
    if os.path.exists(f"{d}/client-cert.pem"):
        return d
    os.makedirs(d, exist_ok=True)
    tmpl = {"ca": 'cn = "bench CA"\nca\ncert_signing_key\n',
            "server": 'cn = "bench"\nip_address = "127.0.0.1"\n'
                      'tls_www_server\nsigning_key\nencryption_key\n',
            "client": 'cn = "bench"\ntls_www_client\nsigning_key\n'}

    def certtool(*args):
        subprocess.run(["certtool", *args], check=True, capture_output=True)

    for name, text in tmpl.items():
        with open(f"{d}/{name}.tmpl", "w") as f:
            f.write(text + "expiration_days = 7\n")
        certtool("--generate-privkey", "--key-type=ecdsa", "--outfile",
                 f"{d}/{name}-key.pem")
        if name == "ca":
            certtool("--generate-self-signed", "--load-privkey",
                     f"{d}/ca-key.pem", "--template", f"{d}/ca.tmpl",
                     "--outfile", f"{d}/ca-cert.pem")
        else:
            certtool("--generate-certificate", "--load-privkey",
                     f"{d}/{name}-key.pem", "--load-ca-certificate",
                     f"{d}/ca-cert.pem", "--load-ca-privkey",
                     f"{d}/ca-key.pem", "--template", f"{d}/{name}.tmpl",
                     "--outfile", f"{d}/{name}-cert.pem")
    return d


def modvmm_migrate(ctx, mem, pages, tls=False):
    fill = fill_of(mem)
    port = free_port()
    t = ctx.tmp
    opt = ["--migration-tls", tls_certs(ctx)] if tls else []
    d = lib.spawn([ctx.modvmm, "run", "--module-dir", ctx.modules,
                   "--incoming", f"tcp:127.0.0.1:{port}", "--control",
                   f"{t}/d.sock"] + opt, f"{t}/d.out")
    s = lib.spawn([ctx.modvmm, "run", "--module-dir", ctx.modules,
                   "--memory", mem, "--downtime-ms", str(DOWNTIME_MS),
                   "--append", append_for(fill, pages), "--control",
                   f"{t}/s.sock"]
                  + opt, f"{t}/s.out")
    try:
        settle(f"{t}/s.out", s, fill)
        lines = count_lines(f"{t}/s.out")
        r = subprocess.run([ctx.modvmm, "ctl", "--json", "--timeout", "300",
                            f"{t}/s.sock", "migrate",
                            f"uri=tcp:127.0.0.1:{port}"],
                           capture_output=True, text=True, timeout=320)
        end = {}
        for line in r.stdout.splitlines():
            m = lib.json_or_none(line)
            if m and m.get("event") == "MIGRATION":
                end = m["data"]
        if end.get("status") != "completed":
            raise lib.Fail(f"modvmm migration did not complete: {end} "
                           f"{r.stderr.strip()}")
        lib.stop(s, 60)
        lines = count_lines(f"{t}/s.out") - lines
        counts_on(f"{t}/d.out", d)
        Qmp(f"{t}/d.sock").cmd("quit")
        lib.stop(d)
    finally:
        lib.kill(s)
        lib.kill(d)
    total, down = end["total-time-ms"], end["downtime-ms"]
    return Result("modvmm", mem, total, down, end["transferred"], lines,
                  total - down, pages)


def qemu_migrate(ctx, mem, pages):
    fill = fill_of(mem)
    port = free_port()
    t = ctx.tmp
    guest = ["-kernel", ctx.guest_pvh, "-append", append_for(fill, pages)]
    d = lib.spawn(lib.qemu_cmd(mem, f"{t}/qd.sock", f"file:{t}/qd.out",
                               guest + ["-incoming",
                                        f"tcp:127.0.0.1:{port}"]),
                  f"{t}/qd.log")
    s = lib.spawn(lib.qemu_cmd(mem, f"{t}/qs.sock", f"file:{t}/qs.out",
                               guest), f"{t}/qs.log")
    try:
        qd, qs = Qmp(f"{t}/qd.sock"), Qmp(f"{t}/qs.sock")
        settle(f"{t}/qs.out", s, fill)
        qs.cmd("migrate-set-parameters", **{"max-bandwidth": 100 << 30,
                                             "downtime-limit": DOWNTIME_MS})
        lines = count_lines(f"{t}/qs.out")
        qs.cmd("migrate", uri=f"tcp:127.0.0.1:{port}")
        st = qemu_wait(qs)
        lines = count_lines(f"{t}/qs.out") - lines
        if st.get("status") != "completed":
            raise lib.Fail(f"QEMU migration: {st}")
        qd.cmd("query-status")
        stuck = not counts_on(f"{t}/qd.out", d, peer=True)
        qs.cmd("quit")
        qd.cmd("quit")
        lib.stop(s)
        lib.stop(d)
    finally:
        lib.kill(s)
        lib.kill(d)
    total, down = st["total-time"], st["downtime"]
    r = Result(f"QEMU ({st})", mem, total, down, st["ram"]["transferred"],
               lines, total - down, pages)
    r.stuck = stuck
    return r


def qemu_wait(q, timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = q.cmd("query-migrate")
        if st.get("status") in ("completed", "failed", "cancelled"):
            return st
        time.sleep(0.005)
    raise lib.Fail(f"QEMU migration still running after {timeout} s")


def limits(ctx):
    n = (16 if ctx.smoke else 256) << 20
    src = bytearray(os.urandom(1 << 20)) * (n >> 20)
    dst = bytearray(n)
    dst[:] = src  # resident before timing
    mv = memoryview(dst)
    memcpy, tcp = [], []
    for _ in range(ctx.reps):
        t0 = time.perf_counter()
        mv[:] = src
        memcpy.append(n / (1 << 20) / (time.perf_counter() - t0))
        srv = socket.create_server(("127.0.0.1", 0))
        a = socket.create_connection(srv.getsockname())
        b, _ = srv.accept()
        srv.close()

        def drain(b=b):
            got = 0
            while got < n:
                k = b.recv_into(mv[got:], min(n - got, 4 << 20))
                if not k:
                    break
                got += k
        th = threading.Thread(target=drain)
        th.start()
        t0 = time.perf_counter()
        a.sendall(src)
        th.join()
        tcp.append(n / (1 << 20) / (time.perf_counter() - t0))
        a.close()
        b.close()
    return lib.Stat(memcpy), lib.Stat(tcp)


def series(ctx, runs):
    """Runs each (label, mem, pages) on both VMMs, alternating, so that a
    busy moment of the host falls on both alike; returns their stats."""
    out = []
    for label, mem, pages in runs:
        ctx.say(f"migration: {mem}, {pages} pages a round")
        rs = {"modvmm": [], "QEMU": []}
        redone = 0
        for _ in range(ctx.reps):
            rs["modvmm"].append(modvmm_migrate(ctx, mem, pages))
            rs["QEMU"].append(peer_migrate(ctx, mem, pages))
            redone += rs["QEMU"][-1].redone
        res = {name: {k: lib.Stat(getattr(r, k) for r in v)
                      for k in ("total", "down", "mibs", "dirty")}
               for name, v in rs.items()}
        res["QEMU"]["stuck"] = sum(r.stuck for r in rs["QEMU"])
        res["QEMU"]["redone"] = redone
        out.append((label, mem, pages, res))
    return out


def peer_migrate(ctx, mem, pages, tries=3):
    """QEMU 7.2 here sometimes reports a completed migration of a gigabyte
    with a total time and downtime of 0 ms; such a run is discarded and
    run again (and counted: the note under the table says how often)."""
    for i in range(tries):
        try:
            r = qemu_migrate(ctx, mem, pages)
            r.redone = i
            return r
        except Impossible as e:
            ctx.say(f"migration: discarded: {e}")
            err = e
    raise lib.Fail(f"{tries} times: {err}")


def stuck_note(what, counts, reps):
    """Says where a peer's guest stopped after arriving; its figures, which
    are its own report of a completed migration, are kept."""
    bad = [f"{n} of {reps} at {label}" for label, n in counts if n]
    if not bad:
        return ""
    return (f"QEMU's guest did not count on within 15 s after {what} in "
            f"{', '.join(bad)}; QEMU reported those as completed, and "
            "their figures are in the table.")


def run(ctx):
    sec = lib.Section("migration", "Live migration against QEMU", INTRO)
    sizes = ["128M", "256M"] if ctx.smoke else RAM_SIZES
    dmem = sizes[-1] if ctx.smoke else DIRTY_RAM
    rates = DIRTY_PAGES[:2] if ctx.smoke else DIRTY_PAGES
    ram = series(ctx, [(f"{m}, idle", m, 0) for m in sizes])
    busy = series(ctx, [(f"{dmem}, rewriting {p} pages a round", dmem, p)
                        for p in rates if p])
    sec.ram = ram
    sec.dirty = [x for x in ram if x[1] == dmem] + busy
    for label, mem, pages, res in ram + busy:
        o, q = res["modvmm"], res["QEMU"]
        nominal = pages * 4096 * (1000 // PACE) / (1 << 20)
        top = mem == sizes[-1] and not pages or pages == rates[-1]
        sec.add(f"{label}: total time", "ms", o["total"], q["total"], "QEMU",
                headline=top)
        sec.add(f"{label}: downtime", "ms", o["down"], q["down"], "QEMU",
                headline=top)
        sec.add(f"{label}: throughput", "MiB/s", o["mibs"], q["mibs"],
                "QEMU", lower=False)
        if pages:
            sec.add(f"{label}: guest dirty rate (nominal {nominal:.0f})",
                    "MiB/s", o["dirty"], q["dirty"], "QEMU", lower=False)
    sec.extra = stuck_note("arriving", [(x[0], x[3]["QEMU"]["stuck"])
                                        for x in ram + busy], ctx.reps)
    redone = [f"{x[3]['QEMU']['redone']} at {x[0]}" for x in ram + busy
              if x[3]["QEMU"]["redone"]]
    if redone:
        sec.extra += ("\n\nQEMU reported a completed migration with a "
                      "total time of 0 ms, impossible for the bytes it "
                      f"sent, in {', '.join(redone)}; those runs were "
                      "discarded and run again.")
    # The largest idle guest's migration against what the host can move.
    best = ram[-1][3]["modvmm"]["mibs"]
    memcpy, tcp = limits(ctx)
    sec.add(f"{ram[-1][0]}: throughput", "MiB/s", best, memcpy,
            "memcpy (limit)", lower=False)
    sec.add(f"{ram[-1][0]}: throughput", "MiB/s", best, tcp,
            "loopback TCP (limit)", lower=False, headline=True)
    tls_series(ctx, sec, sizes[-1])
    return sec


def tls_series(ctx, sec, mem):
    """The same idle migration over TLS (--migration-tls on both hosts)
    beside plaintext, alternating, on this host's two processes: both
    ends' encryption share its CPUs with the copy."""
    ctx.say(f"migration: {mem}, idle, TLS and plaintext")
    rs = {"tls": [], "plain": []}
    for _ in range(ctx.reps):
        rs["tls"].append(modvmm_migrate(ctx, mem, 0, tls=True))
        rs["plain"].append(modvmm_migrate(ctx, mem, 0))
    st = {k: {f: lib.Stat(getattr(r, f) for r in v)
              for f in ("total", "down", "mibs")} for k, v in rs.items()}
    sec.add(f"{mem}, idle, TLS: total time", "ms", st["tls"]["total"],
            st["plain"]["total"], "modvmm, plaintext")
    sec.add(f"{mem}, idle, TLS: throughput", "MiB/s", st["tls"]["mibs"],
            st["plain"]["mibs"], "modvmm, plaintext", lower=False,
            headline=True)


def modvmm_snapshot(ctx, mem, snap):
    fill = fill_of(mem)
    t = ctx.tmp
    s = lib.spawn([ctx.modvmm, "run", "--module-dir", ctx.modules,
                   "--memory", mem, "--append", append_for(fill, 0),
                   "--control", f"{t}/s.sock"], f"{t}/s.out")
    try:
        settle(f"{t}/s.out", s, fill)
        q = Qmp(f"{t}/s.sock")
        t0 = time.perf_counter()
        q.cmd("snapshot-save", file=snap)
        save = (time.perf_counter() - t0) * 1e3
        q.cmd("quit")
        lib.stop(s)
    finally:
        lib.kill(s)
    t0 = time.perf_counter()
    r = lib.spawn([ctx.modvmm, "run", "--module-dir", ctx.modules,
                   "--restore", snap, "--control", f"{t}/r.sock",
                   "--paused"], f"{t}/r.out")
    try:
        q = Qmp(f"{t}/r.sock", timeout=120)
        restore = (time.perf_counter() - t0) * 1e3
        q.cmd("cont")
        counts_on(f"{t}/r.out", r)
        q.cmd("quit")
        lib.stop(r)
    finally:
        lib.kill(r)
        size = os.path.getsize(snap)
        os.unlink(snap)
    return save, restore, size, False


def qemu_snapshot(ctx, mem, snap):
    fill = fill_of(mem)
    t = ctx.tmp
    guest = ["-kernel", ctx.guest_pvh, "-append", append_for(fill, 0)]
    s = lib.spawn(lib.qemu_cmd(mem, f"{t}/qs.sock", f"file:{t}/qs.out",
                               guest), f"{t}/qs.log")
    try:
        q = Qmp(f"{t}/qs.sock")
        settle(f"{t}/qs.out", s, fill)
        q.cmd("migrate-set-parameters", **{"max-bandwidth": 100 << 30})
        t0 = time.perf_counter()
        q.cmd("migrate", uri=f"exec:cat > {snap}")
        st = qemu_wait(q)
        save = (time.perf_counter() - t0) * 1e3
        if st.get("status") != "completed":
            raise lib.Fail(f"QEMU snapshot save: {st}")
        q.cmd("quit")
        lib.stop(s)
    finally:
        lib.kill(s)
    t0 = time.perf_counter()
    r = lib.spawn(lib.qemu_cmd(mem, f"{t}/qr.sock", f"file:{t}/qr.out",
                               guest + ["-incoming", f"exec:cat {snap}"]),
                  f"{t}/qr.log")
    try:
        q = Qmp(f"{t}/qr.sock", timeout=120)
        while q.cmd("query-status")["status"] == "inmigrate":
            time.sleep(0.002)
        restore = (time.perf_counter() - t0) * 1e3
        q.cmd("cont")
        stuck = not counts_on(f"{t}/qr.out", r, peer=True)
        q.cmd("quit")
        lib.stop(r)
    finally:
        lib.kill(r)
        size = os.path.getsize(snap)
        os.unlink(snap)
    return save, restore, size, stuck


def snapshots(ctx):
    sec = lib.Section("snapshot", "Snapshots against QEMU", SNAP_INTRO)
    stuck = []
    for mem in (["128M"] if ctx.smoke else SNAPSHOT_SIZES):
        ctx.say(f"snapshot: {mem}")
        res = {"modvmm": [], "QEMU": []}
        with tempfile.TemporaryDirectory(dir="/dev/shm") as shm:
            for _ in range(ctx.reps):
                res["modvmm"].append(modvmm_snapshot(ctx, mem,
                                                     f"{shm}/snap"))
                res["QEMU"].append(qemu_snapshot(ctx, mem, f"{shm}/snap"))
        o, q = res["modvmm"], res["QEMU"]
        stuck.append((mem, sum(r[3] for r in q)))
        m = lib.mib(mem)
        top = mem == SNAPSHOT_SIZES[-1] or ctx.smoke
        sec.add(f"{mem}: save", "ms", lib.Stat(r[0] for r in o),
                lib.Stat(r[0] for r in q), "QEMU", headline=top)
        sec.add(f"{mem}: restore", "ms", lib.Stat(r[1] for r in o),
                lib.Stat(r[1] for r in q), "QEMU", headline=top)
        sec.add(f"{mem}: save throughput", "MiB/s",
                lib.Stat(m / r[0] * 1e3 for r in o),
                lib.Stat(m / r[0] * 1e3 for r in q), "QEMU", lower=False)
        sec.add(f"{mem}: restore throughput", "MiB/s",
                lib.Stat(m / r[1] * 1e3 for r in o),
                lib.Stat(m / r[1] * 1e3 for r in q), "QEMU", lower=False)
        sec.add(f"{mem}: file size", "MiB",
                lib.Stat(r[2] / (1 << 20) for r in o),
                lib.Stat(r[2] / (1 << 20) for r in q), "QEMU")
    sec.extra = stuck_note("a restore", stuck, ctx.reps)
    return sec


PLOT = r"""
set terminal pngcairo size 1200,800 font ",10"
set output "{png}"
set datafile separator "\t"
set multiplot layout 2,2 title "Live migration of the same guest over loopback TCP: modvmm and QEMU 7.2 ({date}; medians, bars min-max, {reps} runs)"
set grid
set key top left
set xlabel "guest RAM, MiB (all of it written; idle guest)"
set ylabel "total time, ms"
plot "{ram}" using 1:2:3:4 with yerrorlines lw 2 title "modvmm", \
     "" using 1:5:6:7 with yerrorlines lw 2 title "QEMU"
set xlabel "guest dirty rate while migrating, MiB/s ({dmem} guest)"
plot "{dirty}" using 1:2:3:4 with yerrorlines lw 2 title "modvmm", \
     "" using 8:5:6:7 with yerrorlines lw 2 title "QEMU"
set ylabel "downtime, ms"
set xlabel "guest RAM, MiB (all of it written; idle guest)"
plot "{ram}" using 1:9:10:11 with yerrorlines lw 2 title "modvmm", \
     "" using 1:12:13:14 with yerrorlines lw 2 title "QEMU"
set xlabel "guest dirty rate while migrating, MiB/s ({dmem} guest)"
plot "{dirty}" using 1:9:10:11 with yerrorlines lw 2 title "modvmm", \
     "" using 8:12:13:14 with yerrorlines lw 2 title "QEMU"
unset multiplot
"""


def _dat(path, series_, xkey):
    """One line a point: x, modvmm total (med min max), QEMU total, QEMU's
    x, modvmm downtime, QEMU downtime."""
    with open(path, "w") as f:
        f.write("# x\tmodvmm total ms med\tmin\tmax\tQEMU total ms med\t"
                "min\tmax\tQEMU x\tmodvmm downtime ms med\tmin\tmax\t"
                "QEMU downtime ms med\tmin\tmax\n")
        for _, mem, _, res in series_:
            o, q = res["modvmm"], res["QEMU"]
            x = xkey(mem, o)
            cols = [x]
            for s in (o["total"], q["total"]):
                cols += [s.median, s.min, s.max]
            cols.append(xkey(mem, q))
            for s in (o["down"], q["down"]):
                cols += [s.median, s.min, s.max]
            f.write("\t".join(f"{c:.3f}" for c in cols) + "\n")


def plot(ctx, sec, out):
    """Writes the plot's data beside it and draws it with gnuplot; returns
    the PNG's name."""
    ram, dirty = f"{out}/results-ram.tsv", f"{out}/results-dirty.tsv"
    _dat(ram, sec.ram, lambda mem, r: lib.mib(mem))
    _dat(dirty, sec.dirty, lambda mem, r: r["dirty"].median)
    script = PLOT.format(png=f"{out}/results.png", ram=ram, dirty=dirty,
                         dmem=sec.dirty[0][1] if sec.dirty else "",
                         reps=ctx.reps,
                         date=time.strftime("%Y-%m-%d"))
    r = subprocess.run(["gnuplot"], input=script, text=True,
                       capture_output=True)
    if r.returncode:
        raise lib.Fail(f"gnuplot: {r.stderr.strip()}")
    return "results.png"
