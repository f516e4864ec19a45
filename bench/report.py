#!/usr/bin/env python3
"""Prints the table of a bench/run.sh run and writes its raw numbers as one JSON document.

    report.py --meta META.json --group KEY=RESULT.json... [--memory MEM.json]
              [--hyperfine KEY=HYPERFINE.json...] [--json OUT.json]

RESULT.json are bench/interleave.py results; their commands are numbered KEY1, KEY2, ... in
the table, and each ratio (of medians) names the line it is taken against. META.json holds the
machine and tool versions, rows that could not be measured ("unavailable") and notes.
MEM.json is a list of {"label", "kib": [peak RSS of each run]}.
"""

import argparse
import json
import sys



def load(path):
    with open(path) as f:
        return json.load(f)


def ms(v):
    return f"{v:.1f} ms" if v < 1000 else f"{v / 1000:.2f} s"


def keyed(items):
    out = []
    for item in items:
        key, sep, path = item.partition("=")
        if not sep:
            sys.exit(f"report: expected KEY=FILE, got {item!r}")
        out.append((key, load(path)))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--meta", required=True)
    ap.add_argument("--group", action="append", default=[])
    ap.add_argument("--memory")
    ap.add_argument("--hyperfine", action="append", default=[])
    ap.add_argument("--json")
    a = ap.parse_args(argv)

    meta = load(a.meta)
    groups = keyed(a.group)
    memory = load(a.memory) if a.memory else []
    hyperfine = keyed(a.hyperfine)
    unavailable = meta.get("unavailable", [])

    p = print
    p(f"oci-signature-hook benchmark, {meta.get('date', '')}")
    for k in ("machine", "tools", "hook", "source"):
        if meta.get(k):
            p(f"  {k + ':':9} {meta[k]}")
    if groups:
        g = groups[0][1]
        p(f"  timing:   {g['runs']} interleaved rounds per group after {g['warmup']} warmup "
          f"rounds, order {g['order']}; wall-clock time of each command")
    labels = [f" {'c12':4}{c['name']} (baseline)" for _, g in groups for c in g["commands"]]
    labels += [f" {'d1':4}{m['label']}" for m in memory]
    labels += [f"  {k}: {r['command']}" for k, hf in hyperfine for r in hf["results"]]
    w = max(map(len, labels), default=40) + 1
    p()
    p(f"{'case':{w}} {'median':>10}  {'min–max':>21}  ratio")

    doc = {"meta": meta, "groups": {}, "memory": [], "hyperfine": {}}
    for key, res in groups:
        p(res["title"])
        ids = {}
        for n, c in enumerate(res["commands"], 1):
            ids[c["name"]] = f"{key}{n}"
        for c in res["commands"]:
            cid = ids[c["name"]]
            c["id"] = cid
            label = f" {cid:4}{c['name']}" + (" (baseline)" if any(
                o.get("baseline") == c["name"] for o in res["commands"]) and not c["baseline"]
                else "")
            rng = f"{c['min_ms']:.1f}–{ms(c['max_ms'])}"
            ratio = ""
            if c["baseline"]:
                ratio = f"{c['ratio']:.3f} vs {ids[c['baseline']]}  ({c['diff_ms']:+.1f} ms)"
            p(f"{label:{w}} {ms(c['median_ms']):>10}  {rng:>21}  {ratio}")
        for u in unavailable:
            if u.get("group") == key:
                p(f" {'--':4}{u['label']:{w - 5}} not measured: {u['why']}")
        doc["groups"][key] = res

    if memory:
        p("(d) peak memory, max over runs: the hook process (/usr/bin/time %M) | the largest of "
          "the gpg processes gpgme starts for it (detached by a double fork, so not in %M)")
        for n, m in enumerate(memory, 1):
            m["id"] = f"d{n}"
            m["peak_mib"] = max(m["kib"]) / 1024
            m["gpg_peak_mib"] = max(m.get("gpg_kib") or [0]) / 1024
            procs = sorted(set(m.get("gpg_processes") or [0]))
            gpg = (f"gpg {m['gpg_peak_mib']:.1f} MiB ({'/'.join(map(str, procs))} processes "
                   f"a run)" if m["gpg_peak_mib"] else "no gpg process")
            label = f" d{n:<3}{m['label']}"
            p(f"{label:{w}} {m['peak_mib']:6.1f} MiB  {'max of ' + str(len(m['kib'])) + ' runs':>21}"
              f"  {gpg}")
            doc["memory"].append(m)
        for u in unavailable:
            if u.get("group") == "d":
                p(f" {'--':4}{u['label']:{w - 5}} not measured: {u['why']}")

    if hyperfine:
        p()
        p("hyperfine cross-check (same commands, one after another rather than interleaved; "
          "through a shell, which hyperfine subtracts):")
        for key, hf in hyperfine:
            res = hf["results"]
            base = res[0]["median"]
            for r in res:
                ratio = "" if r is res[0] else f"{r['median'] / base:.3f} vs the first"
                rng = f"{r['min'] * 1000:.1f}–{ms(r['max'] * 1000)}"
                p(f"{'  ' + key + ': ' + r['command']:{w}} {ms(r['median'] * 1000):>10}  "
                  f"{rng:>21}  {ratio}")
            doc["hyperfine"][key] = hf

    notes = meta.get("notes", [])
    if notes:
        p()
        for n in notes:
            p(f"note: {n}")

    if a.json:
        with open(a.json, "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
