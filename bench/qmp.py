# SPDX-License-Identifier: LGPL-2.1-or-later
"""The control-socket client the benchmarks share: QMP as both modvmm and
QEMU speak it, one request at a time, events skipped."""
import json
import os
import socket
import time


class Qmp:
    def __init__(self, path, timeout=20):
        deadline = time.time() + timeout
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        while True:
            try:
                self.s.connect(path)
                break
            except (ConnectionRefusedError, FileNotFoundError):
                if time.time() > deadline:
                    raise SystemExit(f"bench: nobody answers on {path}")
                time.sleep(0.01)
        self.f = self.s.makefile("rwb")
        json.loads(self.f.readline())
        self.cmd("qmp_capabilities")

    def cmd(self, name, **args):
        req = {"execute": name}
        if args:
            req["arguments"] = args
        self.f.write((json.dumps(req) + "\n").encode())
        self.f.flush()
        while True:
            line = self.f.readline()
            if not line:
                raise EOFError(name)
            m = json.loads(line)
            if "event" in m:
                continue
            if "error" in m:
                raise RuntimeError(f"{name}: {m['error']}")
            return m["return"]

    def close(self):
        self.f.close()
        self.s.close()
