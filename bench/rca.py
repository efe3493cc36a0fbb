#!/usr/bin/env python3
"""Root-cause localisation benchmark: `canopy explain --slices` on Squeeze's B0 cases.

Each case (TIMESTAMP.csv: real,predict,a,b,c,d; the truth in its setting's
injection_info.csv) becomes a tree of one additive metric and a CSV file with two periods:
the expected values (`predict`) in 2026-01 and the measured ones (`real`) in 2026-02. The
slices `canopy explain --slices` names are the predicted root-cause set, scored as the
papers do: per case TP (a slice equal to a true element), FP, FN; F1 = 2TP / (2TP + FP + FN)
summed over the cases of a setting, and over all.

    python3 bench/rca.py CASES_DIR [--canopy target/release/canopy] [--work DIR]

CASES_DIR holds one folder per setting (B_cuboid_layer_L_n_ele_N). Only the standard
library is used.
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time

TREE = """version: 1
tree: rca
title: Root-cause case
grain: month
root: amount
people:
  owner: { name: Owner, email: owner@example.com }
raci: { accountable: owner }
metrics:
  amount:
    title: Amount
"""


def convert(case_csv, out_csv):
    """Writes the case as long-form data: predict in 2026-01, real in 2026-02."""
    with open(case_csv, newline="") as f, open(out_csv, "w", newline="") as g:
        rows = csv.reader(f)
        header = next(rows)
        dims = header[2:]
        w = csv.writer(g, lineterminator="\n")
        w.writerow(["period", "metric", "value", *dims])
        for row in rows:
            real, predict, values = row[0], row[1], row[2:]
            w.writerow(["2026-01", "amount", predict, *values])
            w.writerow(["2026-02", "amount", real, *values])


def element(where):
    return "&".join(sorted(f"{k}={v}" for k, v in where.items()))


def run_case(canopy, tree, data):
    started = time.perf_counter()
    out = subprocess.run(
        [canopy, "explain", tree, "--data", data, "--from", "2026-01", "--to", "2026-02",
         "--slices", "--format", "json"],
        check=True, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    doc = json.loads(out.stdout)
    return {element(s["where"]) for s in doc.get("slices", [])}, elapsed


def f1(tp, fp, fn):
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cases")
    ap.add_argument("--canopy", default="target/release/canopy")
    ap.add_argument("--work", default=None, help="where converted cases go (default: a temporary folder)")
    ap.add_argument("--verbose", action="store_true", help="print each case that is not exact")
    args = ap.parse_args()
    work = args.work or tempfile.mkdtemp(prefix="canopy-rca-")
    os.makedirs(work, exist_ok=True)
    tree = os.path.join(work, "tree.yaml")
    with open(tree, "w") as f:
        f.write(TREE)
    total, times = [0, 0, 0], []
    print(f"{'setting':<28} {'TP':>4} {'FP':>4} {'FN':>4} {'F1':>6}")
    for setting in sorted(os.listdir(args.cases)):
        folder = os.path.join(args.cases, setting)
        info = os.path.join(folder, "injection_info.csv")
        if not os.path.isfile(info):
            continue
        counts = [0, 0, 0]
        with open(info, newline="") as f:
            for case in csv.DictReader(f):
                stamp = case["timestamp"].split(".")[0]
                data = os.path.join(work, f"{setting}-{stamp}.csv")
                if not os.path.exists(data):
                    convert(os.path.join(folder, f"{stamp}.csv"), data)
                predicted, elapsed = run_case(args.canopy, tree, data)
                times.append(elapsed)
                truth = {"&".join(sorted(e.split("&"))) for e in case["set"].split(";")}
                tp = len(predicted & truth)
                counts[0] += tp
                counts[1] += len(predicted) - tp
                counts[2] += len(truth) - tp
                if args.verbose and predicted != truth:
                    print(f"  {setting}/{stamp}: truth {sorted(truth)} named {sorted(predicted)}")
        print(f"{setting:<28} {counts[0]:>4} {counts[1]:>4} {counts[2]:>4} {f1(*counts):>6.3f}")
        total = [a + b for a, b in zip(total, counts)]
    print(f"{'overall':<28} {total[0]:>4} {total[1]:>4} {total[2]:>4} {f1(*total):>6.3f}")
    times.sort()
    if times:
        print(f"median time per case (whole command, 21,600 leaves): {times[len(times) // 2]:.3f} s")


if __name__ == "__main__":
    sys.exit(main())
