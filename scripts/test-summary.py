#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Counts test results across build directories: every TAP line of a TAP
test, one result for any other test. Prints 'tests: N passed, N failed'."""
import json
import os
import re
import sys

passed = failed = skipped = 0
for build in sys.argv[1:]:
    log = os.path.join(build, "meson-logs", "testlog.json")
    if not os.path.exists(log):
        print(f"{build}: no test log: the suite did not run")
        failed += 1
        continue
    for line in open(log):
        t = json.loads(line)
        tap = list(re.finditer(r"^(not ok|ok) \d+\b(.*)$", t.get("stdout") or "",
                               re.M))
        if tap:
            for m in tap:
                if "# SKIP" in m.group(2):
                    skipped += 1
                elif m.group(1) == "ok":
                    passed += 1
                else:
                    failed += 1
            if t["result"] not in ("OK", "SKIP") and not any(
                    m.group(1) == "not ok" for m in tap):
                failed += 1  # died without reporting a failed line
        elif t["result"] == "OK":
            passed += 1
        elif t["result"] == "SKIP":
            skipped += 1
        else:
            failed += 1
print(f"tests: {passed} passed, {failed} failed" +
      (f", {skipped} skipped" if skipped else ""))
sys.exit(1 if failed else 0)
