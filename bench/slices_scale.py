#!/usr/bin/env python3
"""How long `canopy explain --slices` takes, and its peak memory, on generated data.

Writes a tree of one additive metric and a CSV of LEAVES segments over DIMS dimensions
(every combination of the dimensions' values, cut to LEAVES), two months, ±1% noise, and
one slice over two dimensions moved by -40%; runs the command RUNS times under
`/usr/bin/time -v` and prints the median wall time, the peak RSS, and whether the slice was
found.

    python3 bench/slices_scale.py --leaves 21600 --cards 6 36 10 10
    python3 bench/slices_scale.py --leaves 100000 --cards 5 5 8 10 10 5
"""
import argparse
import itertools
import json
import os
import random
import re
import statistics
import subprocess
import tempfile

TREE = """version: 1
tree: scale
title: Scale
grain: month
root: amount
people:
  owner: { name: Owner, email: owner@example.com }
raci: { accountable: owner }
metrics:
  amount:
    title: Amount
"""


def write(work, leaves, cards, seed):
    rng = random.Random(seed)
    dims = [chr(ord("a") + d) for d in range(len(cards))]
    path = os.path.join(work, "data.csv")
    with open(path, "w") as f:
        f.write("period,metric,value," + ",".join(dims) + "\n")
        for key in itertools.islice(itertools.product(*[range(c) for c in cards]), leaves):
            values = [f"{d}{v}" for d, v in zip(dims, key)]
            before = rng.uniform(10, 1000)
            after = before * (1 + rng.uniform(-0.01, 0.01))
            if key[0] == 1 and key[1] == 2:
                after *= 0.6
            f.write(f"2026-01,amount,{before:.4f},{','.join(values)}\n")
            f.write(f"2026-02,amount,{after:.4f},{','.join(values)}\n")
    with open(os.path.join(work, "tree.yaml"), "w") as f:
        f.write(TREE)
    return {dims[0]: f"{dims[0]}1", dims[1]: f"{dims[1]}2"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--leaves", type=int, required=True)
    ap.add_argument("--cards", type=int, nargs="+", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--canopy", default="target/release/canopy")
    ap.add_argument("--without-slices", action="store_true", help="the same explain without --slices, for comparison")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="canopy-scale-")
    truth = write(work, args.leaves, args.cards, 7)
    cmd = ["/usr/bin/time", "-v", os.path.abspath(args.canopy), "explain", "tree.yaml", "--data",
           "data.csv", "--from", "2026-01", "--to", "2026-02", "--slices", "--format", "json"]
    if args.without_slices:
        cmd.remove("--slices")
    times, peaks = [], []
    for _ in range(args.runs):
        out = subprocess.run(cmd, cwd=work, capture_output=True, text=True, check=True)
        wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", out.stderr)
        h, m, s = wall.groups()
        times.append(int(h or 0) * 3600 + int(m) * 60 + float(s))
        peaks.append(int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr).group(1)))
        slices = [s["where"] for s in json.loads(out.stdout).get("slices", [])]
    print(f"leaves {args.leaves}, cards {args.cards}: median {statistics.median(times):.3f} s, "
          f"peak RSS {max(peaks) / 1024:.0f} MiB, slices {slices} (injected {truth})")
    print("command:", " ".join(cmd[2:]))


if __name__ == "__main__":
    main()
