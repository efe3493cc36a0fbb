"""Interleaved timing of several binaries on one command: wall-time medians (p10, p90), the
median paired ratio against the first, and peak RSS (from wait4). Runs alternate between the
binaries, so a busy moment on a shared machine costs each alike. With --between CMD, CMD runs
(untimed) before each timed run: a command that takes memory makes every run start cold. In
CMD, `{bin}` stands for the file name of the binary about to run, so each can start from its
own copy of a database: `--between 'rm -rf /tmp/rb; cp -r /tmp/warm-{bin} /tmp/rb; sync'`.

    python3 bench/compare.py [--between CMD] RUNS OLD_BINARY,NEW_BINARY ARGUMENTS...
"""
import os, statistics, subprocess, sys, time
between = None
if sys.argv[1] == "--between":
    between = sys.argv[2]; sys.argv[1:3] = []
runs = int(sys.argv[1]); bins = sys.argv[2].split(","); args = sys.argv[3:]
walls = {b: [] for b in bins}; rss = {b: [] for b in bins}
for i in range(runs):
    for b in bins:
        if between:
            subprocess.run(between.replace("{bin}", os.path.basename(b)), shell=True)
        t = time.perf_counter()
        p = subprocess.Popen([b] + args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(p.pid, 0)
        walls[b].append(time.perf_counter() - t); rss[b].append(usage.ru_maxrss / 1024)
def q(v, f): v = sorted(v); return v[int(f * (len(v) - 1))]
for b in bins:
    w = walls[b]
    ratio = statistics.median(x / y for x, y in zip(w, walls[bins[0]]))
    print(f"{b}: median {statistics.median(w)*1000:.1f} ms (p10 {q(w,.1)*1000:.1f}, p90 {q(w,.9)*1000:.1f}), ratio to first {ratio:.3f}, peak RSS {statistics.median(rss[b]):.0f} MB")
