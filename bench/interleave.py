#!/usr/bin/env python3
"""Interleaved timing of commands, for A/B comparisons that drift with the machine.

Every round runs each command once (in a fresh random order per round, unless --fixed-order),
so a slow phase of the machine (page cache, CPU frequency, a background job) hits all commands
alike instead of whichever one hyperfine happened to be running at the time. Each run is timed
with time.perf_counter_ns() around subprocess.run(), stdout and stderr going to /dev/null. A
command that exits with another status than expected aborts the whole benchmark, showing the
stderr of a rerun of that command.

The commands come from a JSON spec file:

    {"title": "hook alone",
     "runs": 30, "warmup": 3, "seed": 1,
     "commands": [
        {"name": "skopeo", "argv": ["skopeo", "standalone-verify", "..."],
         "env": {"GNUPGHOME": "/tmp/x"}},
        {"name": "hook", "argv": ["oci-signature-hook", "--policy", "p.json"],
         "stdin": "state.json", "baseline": "skopeo",
         "before": ["rm", "-rf", "/tmp/cache"]}
     ]}

  argv      the command, run without a shell
  stdin     file fed on stdin (opened before the clock starts); default /dev/null
  env       variables added to this process's environment
  before    a command run (untimed) before each timed run, e.g. to empty a cache
  baseline  name of the command this one's ratio (of medians) is taken against
  expect    expected exit status (default 0)

or, for a quick comparison, from the command line (the first command is the baseline of the
others; each COMMAND is split like a shell word list, but run without a shell):

    interleave.py --runs 20 --cmd 'no hook=podman run --rm img true' --cmd 'hook=...'

Prints a table, and writes the results (every sample, in ms) as JSON with --out. As a module:
run(spec) returns the same dictionary.
"""

import argparse
import json
import os
import random
import shlex
import statistics
import subprocess
import sys
import time


class CommandFailed(Exception):
    pass


def _env(cmd):
    if not cmd.get("env"):
        return None
    env = dict(os.environ)
    env.update({k: str(v) for k, v in cmd["env"].items()})
    return env


def _run(cmd, stderr=subprocess.DEVNULL):
    """Runs cmd once; returns (elapsed ns, exit status, completed process)."""
    if cmd.get("before"):
        subprocess.run(cmd["before"], check=True, stdout=subprocess.DEVNULL, env=_env(cmd))
    stdin = open(cmd["stdin"], "rb") if cmd.get("stdin") else subprocess.DEVNULL
    try:
        t0 = time.perf_counter_ns()
        p = subprocess.run(cmd["argv"], stdin=stdin, stdout=subprocess.DEVNULL,
                           stderr=stderr, env=_env(cmd))
        t1 = time.perf_counter_ns()
    finally:
        if stdin is not subprocess.DEVNULL:
            stdin.close()
    return t1 - t0, p.returncode, p


def _timed(cmd, where):
    ns, rc, _ = _run(cmd)
    want = cmd.get("expect", 0)
    if rc != want:
        _, rc2, p = _run(cmd, stderr=subprocess.PIPE)
        err = p.stderr.decode(errors="replace").strip()
        raise CommandFailed(
            f"{cmd['name']!r} exited {rc} (expected {want}) in {where}; "
            f"a rerun exited {rc2}, with stderr:\n{err or '(empty)'}\n"
            f"command: {shlex.join(cmd['argv'])}"
            + (f" < {cmd['stdin']}" if cmd.get("stdin") else ""))
    return ns


def _check_spec(spec):
    names = [c["name"] for c in spec["commands"]]
    if len(set(names)) != len(names):
        raise ValueError(f"command names are not unique: {names}")
    for c in spec["commands"]:
        if not c.get("argv"):
            raise ValueError(f"{c['name']!r} has no argv")
        b = c.get("baseline")
        if b is not None and b not in names:
            raise ValueError(f"{c['name']!r}: unknown baseline {b!r}")


def run(spec, progress=None):
    """Runs the spec's commands interleaved; returns the results as a dictionary."""
    _check_spec(spec)
    cmds = spec["commands"]
    runs = int(spec.get("runs", 30))
    warmup = int(spec.get("warmup", 3))
    seed = spec.get("seed")
    if seed is None:
        seed = random.SystemRandom().randrange(1 << 32)
    shuffle = spec.get("shuffle", True)
    rng = random.Random(seed)
    samples = {c["name"]: [] for c in cmds}

    for r in range(warmup + runs):
        order = list(cmds)
        if shuffle:
            rng.shuffle(order)
        for c in order:
            where = f"warmup round {r + 1}" if r < warmup else f"round {r - warmup + 1}"
            ns = _timed(c, where)
            if r >= warmup:
                samples[c["name"]].append(ns / 1e6)
        if progress:
            progress(r + 1, warmup + runs)

    out = []
    for c in cmds:
        s = samples[c["name"]]
        out.append({
            "name": c["name"],
            "argv": c["argv"],
            "stdin": c.get("stdin"),
            "baseline": c.get("baseline"),
            "runs": len(s),
            "median_ms": statistics.median(s),
            "min_ms": min(s),
            "max_ms": max(s),
            "mean_ms": statistics.fmean(s),
            "stdev_ms": statistics.stdev(s) if len(s) > 1 else 0.0,
            "samples_ms": s,
        })
    med = {o["name"]: o["median_ms"] for o in out}
    for o in out:
        b = o["baseline"]
        o["ratio"] = med[o["name"]] / med[b] if b else None
        o["diff_ms"] = med[o["name"]] - med[b] if b else None
    return {
        "title": spec.get("title", ""),
        "runs": runs,
        "warmup": warmup,
        "order": "random per round" if shuffle else "fixed",
        "seed": seed,
        "commands": out,
    }


def table(result):
    lines = []
    if result.get("title"):
        lines.append(f"{result['title']}  ({result['runs']} interleaved rounds, "
                     f"{result['warmup']} warmup, order {result['order']})")
    w = max(len("command"), *(len(c["name"]) for c in result["commands"])) + 2
    lines.append(f"{'command':{w}} {'median':>10}  {'min–max':>19}  {'ratio':>7}")
    for c in result["commands"]:
        rng = f"{c['min_ms']:.1f}–{c['max_ms']:.1f} ms"
        ratio = f"{c['ratio']:.3f}" if c["ratio"] is not None else "base"
        lines.append(f"{c['name']:{w}} {c['median_ms']:7.1f} ms  {rng:>19}  {ratio:>7}")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Interleaved A/B timing of commands.")
    ap.add_argument("spec", nargs="?", help="JSON spec file (see the module docstring)")
    ap.add_argument("--cmd", action="append", default=[], metavar="NAME=COMMAND",
                    help="a command to time (instead of a spec); the first is the baseline")
    ap.add_argument("--runs", type=int, help="timed rounds (overrides the spec)")
    ap.add_argument("--warmup", type=int, help="untimed rounds first (overrides the spec)")
    ap.add_argument("--seed", type=int, help="seed of the per-round order")
    ap.add_argument("--fixed-order", action="store_true", help="A,B,A,B… instead of shuffling")
    ap.add_argument("--out", help="write the results as JSON to this file")
    ap.add_argument("--quiet", action="store_true", help="no table, no progress")
    a = ap.parse_args(argv)

    if a.spec and a.cmd:
        ap.error("give a spec file or --cmd, not both")
    if a.spec:
        with open(a.spec) as f:
            spec = json.load(f)
    elif a.cmd:
        cmds = []
        for i, c in enumerate(a.cmd):
            name, sep, line = c.partition("=")
            if not sep or not name or not line.strip():
                ap.error(f"--cmd wants NAME=COMMAND: {c!r}")
            cmds.append({"name": name, "argv": shlex.split(line),
                         "baseline": cmds[0]["name"] if i else None})
        spec = {"commands": cmds}
    else:
        ap.error("nothing to run: give a spec file or --cmd")
    for key in ("runs", "warmup", "seed"):
        if getattr(a, key) is not None:
            spec[key] = getattr(a, key)
    if a.fixed_order:
        spec["shuffle"] = False
    if int(spec.get("runs", 30)) < 1:
        ap.error("runs must be at least 1")

    def progress(done, total):
        print(f"\r  round {done}/{total}", end="" if done < total else "\n",
              file=sys.stderr, flush=True)

    try:
        result = run(spec, progress=None if a.quiet or not sys.stderr.isatty() else progress)
    except CommandFailed as e:
        print(f"interleave: {e}", file=sys.stderr)
        return 1
    except (ValueError, KeyError, OSError, subprocess.CalledProcessError) as e:
        print(f"interleave: {e}", file=sys.stderr)
        return 2
    if a.out:
        with open(a.out, "w") as f:
            json.dump(result, f, indent=1)
    if not a.quiet:
        print(table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
