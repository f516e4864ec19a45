#!/usr/bin/env python3
"""Builds a containers/storage graph root that looks like a busy host's, around one real container.

    synth_store.py --src GRAPHROOT --driver DRIVER --container ID --dest NEWROOT \
                   --containers N --images M [--position end|middle|start] [--seed S]

NEWROOT gets the layout the hook reads, and nothing else:

  <driver>-containers/containers.json   N records: the real container's, verbatim, plus N-1
                                        synthetic ones made from it (new IDs, layer, names and
                                        creation metadata, each naming one of the synthetic images)
  <driver>-containers/containers.lock   copied (or empty)
  <driver>-containers/<ID>/userdata     empty: the bundle path only has to point here
  <driver>-images/images.json           M records: the real image's, verbatim, plus M-1 synthetic
                                        ones made from it (every 64-hex digest and ID replaced,
                                        names rewritten, same keys, metadata and sizes)
  <driver>-images/images.lock           copied (or empty)
  <driver>-images/<real image ID>/      copied: its manifest, signatures and other big-data files

Synthetic images have no big-data directory: the hook only opens the one image it checks.
The real records go last (--position end, where containers/storage appends a new container),
in the middle, or first (--position start).
Prints the bundle path of the real container in NEWROOT.
"""

import argparse
import json
import os
import random
import re
import shutil
import sys

HEX64 = re.compile(r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])")
COMPACT = {"separators": (",", ":"), "ensure_ascii": False}


def load(path):
    with open(path, "rb") as f:
        return json.load(f)


def rewrite_hex(record, rng, fixed=None):
    """A copy of record with every 64-hex string replaced by a random one (consistently
    within the record); `fixed` maps some of them to given values instead."""
    text = json.dumps(record, **COMPACT)
    mapping = dict(fixed or {})

    def sub(m):
        h = m.group()
        if h not in mapping:
            mapping[h] = f"{rng.getrandbits(256):064x}"
        return mapping[h]

    return json.loads(HEX64.sub(sub, text))


def synthetic_name(name, i):
    """127.0.0.1:5000/lab/signed:v1 -> 127.0.0.1:5000/bench/image-0042:v1"""
    if "/" in name:
        host = name.split("/", 1)[0]
        return f"{host}/bench/image-{i:04d}:v1"
    return f"bench/image-{i:04d}:v1"


def synthetic_image(real, i, rng):
    img = rewrite_hex(real, rng)
    for key in ("names", "names-history"):
        if isinstance(img.get(key), list):
            img[key] = [synthetic_name(n, i) for n in img[key]]
    return img


def synthetic_container(real, i, image, rng):
    name = f"bench_{i:05d}"
    c = rewrite_hex(real, rng, {real["image"]: image["id"]})
    c["names"] = [name]
    if c.get("metadata"):
        meta = json.loads(c["metadata"])
        if "name" in meta:
            meta["name"] = name
        if "image-name" in meta:
            names = image.get("names") or []
            meta["image-name"] = names[0] if names else image["id"]
        c["metadata"] = json.dumps(meta, **COMPACT)
    return c


def place(records, real, position):
    i = {"end": len(records), "middle": len(records) // 2, "start": 0}[position]
    return records[:i] + [real] + records[i:]


def copy_or_touch(src, dst):
    if os.path.exists(src):
        shutil.copy2(src, dst)
    else:
        open(dst, "wb").close()


def write_json(path, value):
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
        json.dump(value, f, **COMPACT)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", required=True, help="the real graph root")
    ap.add_argument("--driver", required=True)
    ap.add_argument("--container", required=True, help="ID of the real container to keep")
    ap.add_argument("--dest", required=True, help="new graph root (must not exist)")
    ap.add_argument("--containers", type=int, required=True, help="container records in total")
    ap.add_argument("--images", type=int, required=True, help="image records in total")
    ap.add_argument("--position", choices=("end", "middle", "start"), default="end",
                    help="where the real records go in each list (default end)")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    if a.containers < 1 or a.images < 1:
        ap.error("--containers and --images must be at least 1")

    rng = random.Random(a.seed)
    src_c = os.path.join(a.src, f"{a.driver}-containers")
    src_i = os.path.join(a.src, f"{a.driver}-images")
    dst_c = os.path.join(a.dest, f"{a.driver}-containers")
    dst_i = os.path.join(a.dest, f"{a.driver}-images")

    real_c = [c for c in load(os.path.join(src_c, "containers.json")) if c["id"] == a.container]
    if len(real_c) != 1:
        sys.exit(f"synth_store: container {a.container} is not in {src_c}/containers.json")
    real_c = real_c[0]
    real_i = [i for i in load(os.path.join(src_i, "images.json")) if i["id"] == real_c["image"]]
    if len(real_i) != 1:
        sys.exit(f"synth_store: image {real_c['image']} is not in {src_i}/images.json")
    real_i = real_i[0]

    for d in (a.dest, dst_c, os.path.join(dst_c, a.container),
              os.path.join(dst_c, a.container, "userdata"), dst_i):
        os.mkdir(d, mode=0o700)
    copy_or_touch(os.path.join(src_c, "containers.lock"), os.path.join(dst_c, "containers.lock"))
    copy_or_touch(os.path.join(src_i, "images.lock"), os.path.join(dst_i, "images.lock"))
    shutil.copytree(os.path.join(src_i, real_i["id"]), os.path.join(dst_i, real_i["id"]))

    images = [synthetic_image(real_i, n + 1, rng) for n in range(a.images - 1)]
    pool = images or [real_i]
    containers = [synthetic_container(real_c, n + 1, rng.choice(pool), rng)
                  for n in range(a.containers - 1)]

    ids = [i["id"] for i in images] + [c["id"] for c in containers]
    if len(set(ids)) != len(ids) or real_i["id"] in ids or real_c["id"] in ids:
        sys.exit("synth_store: ID collision (try another --seed)")

    write_json(os.path.join(dst_i, "images.json"), place(images, real_i, a.position))
    write_json(os.path.join(dst_c, "containers.json"), place(containers, real_c, a.position))
    print(os.path.join(dst_c, a.container, "userdata"))


if __name__ == "__main__":
    main()
