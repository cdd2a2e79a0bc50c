# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the benchmarks share: samples and their summaries, the rows of the
results table, processes and their consoles, QEMU's command line."""
import json
import os
import re
import shutil
import statistics
import subprocess
import time

QEMU = shutil.which("qemu-system-x86_64")


class Fail(Exception):
    """A benchmark could not measure what it set out to; the run stops."""


class Stat:
    """Median and range of samples, as every figure is reported."""

    def __init__(self, samples):
        self.samples = list(samples)
        if not self.samples:
            raise Fail("no samples")
        self.median = statistics.median(self.samples)
        self.min = min(self.samples)
        self.max = max(self.samples)

    @classmethod
    def of(cls, median, lo, hi, n):
        s = cls([median])
        s.min, s.max, s.samples = lo, hi, [median] * n
        return s

    def fmt(self, digits=None):
        if digits is None:
            digits = 0 if self.median >= 100 else 1 if self.median >= 1 else 3
        f = f"{{:.{digits}f}}"
        return (f"{f.format(self.median)} "
                f"({f.format(self.min)}–{f.format(self.max)})")


class Row:
    """One line of a table: our figure beside its peer or limit.

    ratio is ours / peer's medians; lower means better where `lower` is
    true (times, sizes), higher where it is false (throughputs)."""

    def __init__(self, what, unit, ours, peer=None, peer_name="",
                 lower=True, headline=False):
        self.what, self.unit, self.ours = what, unit, ours
        self.peer, self.peer_name, self.lower = peer, peer_name, lower
        self.headline = headline  # also in the summary at the top

    def ratio(self):
        if self.peer is None or not self.peer.median:
            return None
        return self.ours.median / self.peer.median

    def cells(self):
        ratio = self.ratio()
        return (f"{self.what} | {self.unit} | {self.ours.fmt()} | "
                f"{self.peer_name or 'no peer'} | "
                f"{self.peer.fmt() if self.peer else '–'} | "
                f"{f'{ratio:.2f}x' if ratio else '–'} |")


HEAD = ("what | unit | modvmm, median (min–max) | peer or limit | "
        "its median (min–max) | ratio |\n")
ALIGN = "---|---|---:|---|---:|---:|\n"


class Section:
    """A benchmark's results: its rows, and the text that explains them."""

    def __init__(self, key, title, intro):
        self.key, self.title, self.intro = key, title, intro
        self.rows = []
        self.extra = ""  # further Markdown after the table

    def add(self, *args, **kw):
        row = Row(*args, **kw)
        self.rows.append(row)
        return row

    def markdown(self):
        out = f"## {self.title}\n\n{self.intro.strip()}\n\n"
        if self.rows:
            out += "| " + HEAD + "|" + ALIGN
            out += "".join(f"| {r.cells()}\n" for r in self.rows)
        if self.extra:
            out += "\n" + self.extra.strip() + "\n"
        return out


def summary(sections):
    """One table of the rows marked as headlines, section by section."""
    out = "| benchmark | " + HEAD + "|---|" + ALIGN
    for s in sections:
        out += "".join(f"| [{s.key}](#{anchor(s.title)}) | {r.cells()}\n"
                       for r in s.rows if r.headline)
    return out


def anchor(title):
    """The anchor a Markdown renderer gives a heading."""
    return "-".join(re.sub(r"[^\w\- ]", "", title.lower()).split(" "))


class Ctx:
    """Where a benchmark finds the build, how much it repeats, and where it
    may write."""

    def __init__(self, build, reps, smoke, tmp, log):
        self.build, self.reps, self.smoke = build, reps, smoke
        self.tmp, self.log = tmp, log
        self.modvmm = os.path.join(build, "modvmm")
        self.modules = os.path.join(build, "modules")
        self.guest_pvh = os.path.join(build, "guest", "guest-pvh.elf")

    def say(self, msg):
        self.log(msg)


def qemu_cmd(mem, qmp=None, serial="null", extra=()):
    """QEMU 7.2 on this host's KVM, with the devices the built-in guest
    checks: the same UART, PIT, PIC, i8042 and debug-exit port as modvmm's
    default machine, and no others."""
    if not QEMU:
        raise Fail("qemu-system-x86_64 not found (scripts/setup-deps.sh "
                   "installs it)")
    cmd = [QEMU, "-accel", "kvm", "-cpu", "host,-arch-capabilities",
           "-M", "microvm,pic=on,pit=on,rtc=off", "-m", mem,
           "-nodefaults", "-display", "none", "-serial", serial,
           "-device", "i8042",
           "-device", "isa-debug-exit,iobase=0x501,iosize=1"]
    if qmp:
        cmd += ["-qmp", f"unix:{qmp},server=on,wait=off"]
    return cmd + list(extra)


def qemu_version():
    if not QEMU:
        return "none"
    out = subprocess.run([QEMU, "--version"], capture_output=True,
                         text=True).stdout
    return out.splitlines()[0].strip()


def spawn(args, log_path):
    """Starts a process with its output in a file (the guest's console)."""
    return subprocess.Popen(args, stdout=open(log_path, "wb"),
                            stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)


def wait_line(path, text, proc, timeout=60, start=0):
    """Waits until file `path` holds a line containing `text`, after byte
    offset `start`; returns the offset after that line."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(path, "rb") as f:
                f.seek(start)
                data = f.read()
        except FileNotFoundError:
            data = b""
        i = data.find(text.encode())
        if i >= 0:
            j = data.find(b"\n", i)
            if j >= 0:
                return start + j + 1
        if proc.poll() is not None:
            raise Fail(f"{os.path.basename(proc.args[0])} ended (status "
                       f"{proc.returncode}) before printing '{text}': "
                       f"{tail(path)}")
        if time.monotonic() > deadline:
            raise Fail(f"no '{text}' in {path} within {timeout} s: "
                       f"{tail(path)}")
        time.sleep(0.005)


def wait_path(path, proc, timeout=30):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise Fail(f"{os.path.basename(proc.args[0])} did not open "
                       f"{path}")
        time.sleep(0.005)


def tail(path, n=400):
    try:
        with open(path, "rb") as f:
            return f.read()[-n:].decode(errors="replace").strip()
    except OSError:
        return "(no output)"


def stop(proc, timeout=30):
    """Ends a process that should be ending; kills it if it does not."""
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise Fail(f"{os.path.basename(proc.args[0])} did not end within "
                   f"{timeout} s")


def kill(proc):
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def rss_outside(pid, mem_bytes):
    """Resident KiB of a VMM process outside its guest RAM: total Rss minus
    that of the mappings at least as large as guest RAM (the RAM block;
    both VMMs map it anonymously in one piece)."""
    total = guest = 0
    size = rss = 0
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head = line.split()[0]
            if "-" in head and not head.endswith(":"):
                lo, hi = head.split("-")
                size = int(hi, 16) - int(lo, 16)
            elif head == "Rss:":
                rss = int(line.split()[1])
                total += rss
                if size >= mem_bytes:
                    guest += rss
    return total - guest, guest


def mib(s):
    """256M, 1G -> MiB."""
    return int(s[:-1]) * (1024 if s[-1] == "G" else 1)


def json_or_none(line):
    try:
        return json.loads(line)
    except ValueError:
        return None
