#!/usr/bin/env python3
"""conformance/check_runner.py: the weft-conformance command line.

Usage: check_runner.py RUNNER SHIM_MODULE [LIBRARY_MODULE]

Checks what docs/conformance.md promises about the installed runner:
--list and --filter and --area select by full name <area>.<clause>.<test>;
--backend NAME and --backend-module PATH pick the backend; the exit status
is 0 only when every test that ran passed, 1 when one failed (or the
backend cannot be loaded), 2 on a usage error or an empty selection, and
77 when every selected test was skipped. A failing run is produced for
real: the shim module (a module loaded by path, as a third-party backend
is) with every fd registration failing.
"""
import os
import re
import subprocess
import sys

AREAS = ["waker", "spawn", "timers", "io", "wake", "signals", "shutdown",
         "blocking", "attach"]
failures = []


def run(args, env=None):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([RUNNER] + args, capture_output=True, text=True,
                       env=e, timeout=300)
    return p.returncode, p.stdout + p.stderr


def check(cond, what, out=""):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)
        if out:
            print(out[-2000:])


RUNNER = sys.argv[1]
SHIM = sys.argv[2]
LIBMOD = sys.argv[3] if len(sys.argv) > 3 else None

# --list: every test, named <area>.<clause>.test_<area>_<behaviour>.
rc, out = run(["--list"])
names = out.split()
check(rc == 0, "--list exits 0", out)
check(len(names) >= 80, "--list names at least 80 tests (%d)" % len(names))
check(len(set(names)) == len(names), "test names are unique")
pat = re.compile(r"^(%s)\.[A-Z][0-9]+\.test_\1_[a-z0-9_]+$" % "|".join(AREAS))
bad = [n for n in names if not pat.match(n)]
check(not bad, "every name is <area>.<clause>.test_<area>_...", str(bad))
for a in AREAS:
    check(any(n.startswith(a + ".") for n in names), "area %s has tests" % a)

# --filter and --area select by full name.
rc, out = run(["--list", "--filter", "timers.*"])
sel = out.split()
check(rc == 0 and sel and all(n.startswith("timers.") for n in sel) and
      len(sel) == len([n for n in names if n.startswith("timers.")]),
      "--filter 'timers.*' selects exactly the timers area", out)
rc, out = run(["--list", "--area", "io,wake"])
sel = out.split()
check(rc == 0 and sel and all(n.split(".")[0] in ("io", "wake") for n in sel),
      "--area io,wake selects those two areas", out)
rc, out = run(["--list", "--filter", "*.T2.*"])
check(rc == 0 and out.split() == ["timers.T2.test_timers_zero_ms_fires"],
      "--filter matches the clause part", out)

# Running: one passing test on a built-in backend.
rc, out = run(["--backend", "epoll", "--filter", "timers.*zero_ms*"])
check(rc == 0 and "backend epoll, 1 tests" in out and "PASSED" in out,
      "--backend epoll --filter 'timers.*zero_ms*' runs one test, exits 0", out)

# An empty selection is an error, not a pass.
rc, out = run(["--backend", "epoll", "--filter", "no-such-test*"])
check(rc == 2 and "no test selected" in out,
      "a filter that matches nothing exits 2", out)
# Usage errors.
rc, out = run(["--bogus"])
check(rc == 2 and "usage:" in out, "an unknown option exits 2 with usage")
rc, out = run(["--backend", "epoll", "--backend-module", SHIM])
check(rc == 2, "--backend and --backend-module together exit 2", out)
# A backend that cannot be loaded fails the run.
rc, out = run(["--backend", "no-such-backend", "--area", "timers"])
check(rc == 1 and "cannot build a runtime" in out,
      "an unknown backend exits 1 with a message", out)
rc, out = run(["--backend-module", "/nonexistent/libweft-backend-x.so"])
check(rc == 1, "a missing module path exits 1", out)

# Everything skipped (real I/O on sim): 77, each skip named with a reason.
rc, out = run(["--backend", "sim", "--area", "io"])
check(rc == 77 and "test_io_tcp_loopback: the backend has no real I/O" in out,
      "io on sim exits 77 and names every skipped test", out)

# A module given by path, the way a third-party backend is run: a library
# backend's module, and the shim module wrapping one.
if LIBMOD:
    rc, out = run(["--backend-module", LIBMOD, "--area", "io,timers"])
    check(rc == 0, "--backend-module LIBRARY-MODULE runs io and timers", out)
    env = {"WEFT_SHIM_INNER": LIBMOD}
    rc, out = run(["--backend-module", SHIM, "--area", "timers,wake,spawn"],
                  env)
    check(rc == 0 and "backend shim" in out,
          "--backend-module SHIM runs three areas and exits 0", out)

    # A backend that breaks the contract fails the run: every registration
    # refused, so the readiness tests cannot pass.
    env = {"WEFT_SHIM_INNER": LIBMOD, "WEFT_SHIM_FAIL_REGISTER": "-1"}
    rc, out = run(["--backend-module", SHIM, "--filter",
                   "io.I1.test_io_readable_edges_reach_task"], env)
    check(rc == 1 and "FAILED" in out,
          "a failing test makes the run exit 1", out)
else:
    print("skip the module checks: no library backend module was built")

print("%d check(s) failed" % len(failures) if failures else "all passed")
sys.exit(1 if failures else 0)
