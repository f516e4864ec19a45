#!/usr/bin/env python3
"""Peak memory of a command and of the processes it leaves to be reaped by someone else.

    peakrss.py [--stdin FILE] [--timeout SECONDS] -- COMMAND [ARG...]

Runs `/usr/bin/time -f %M COMMAND` (stdout to /dev/null), which gives the command's own peak RSS
(and that of the children it waits for itself). gpgme starts gpg with a double fork, so gpg is
not one of those: its processes are orphaned, and reparented to the nearest "child subreaper".
This script makes itself one (prctl PR_SET_CHILD_SUBREAPER), reaps them once the command has
exited, and reports the largest of their peak RSS. Every process the command leaves behind
must be gone within --timeout seconds (default 10), or the measurement fails.

Prints one JSON object: {"rc", "kib" (the command), "orphans" (how many were reaped),
"orphans_max_kib"}. Exits 1, showing the command's stderr, if the command fails.
"""

import argparse
import ctypes
import json
import os
import subprocess
import sys
import tempfile
import time

PR_SET_CHILD_SUBREAPER = 36


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--stdin")
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("command", nargs=argparse.REMAINDER)
    a = ap.parse_args(argv)
    cmd = a.command[1:] if a.command[:1] == ["--"] else a.command
    if not cmd:
        ap.error("no command")

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit(f"peakrss: prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(ctypes.get_errno())}")

    with tempfile.TemporaryDirectory(prefix="peakrss.") as tmp:
        out = os.path.join(tmp, "time")
        err = os.path.join(tmp, "stderr")
        with open(a.stdin or os.devnull, "rb") as stdin, open(err, "wb") as stderr:
            p = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", out, *cmd],
                                 stdin=stdin, stdout=subprocess.DEVNULL, stderr=stderr)
            rc = p.wait()
        if rc != 0:
            with open(err, "rb") as f:
                msg = f.read().decode(errors="replace").strip()
            print(f"peakrss: {' '.join(cmd)} exited {rc}: {msg}", file=sys.stderr)
            return 1
        with open(out) as f:
            kib = int(f.read().split()[-1])

    orphans = []
    deadline = time.monotonic() + a.timeout
    while True:
        try:
            pid, _, ru = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid:
            orphans.append(ru.ru_maxrss)
        elif time.monotonic() > deadline:
            print(f"peakrss: {' '.join(cmd)} left processes running after {a.timeout} s",
                  file=sys.stderr)
            return 1
        else:
            time.sleep(0.01)

    print(json.dumps({"rc": rc, "kib": kib, "orphans": len(orphans),
                      "orphans_max_kib": max(orphans, default=0)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
