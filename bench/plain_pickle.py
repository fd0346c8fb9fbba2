"""Large plain-data pickles: modelgate scan against Python's own loader.

Writes (once, cached) plain-data pickles of the shape of a large vocabulary
or feature table with CPython's pickle (protocol 4), then for each size runs
`modelgate scan` and, as the baseline in the same run, `pickle.load` in a
fresh interpreter. Prints wall time, peak RSS and peak anonymous memory
(RSS minus the file pages a memory map brings in, which the kernel can drop
at any time), and modelgate's ratios against the baseline.

Goals (issue 9): 50 MiB clean in under 0.5 s and 150 MB; 500 MiB clean in
under 5 s with anonymous memory that does not grow with the file.

    python bench/plain_pickle.py target/release/modelgate [CACHE_DIR]
"""

import json
import os
import pickle
import subprocess
import sys
import time

SIZES = {
    # name: (dict entries, float list, string list)
    "50MiB": (2_000_000, 2_000_000, 500_000),
    "500MiB": (20_000_000, 20_000_000, 5_000_000),
}


def write(path, entries, floats, strings):
    if os.path.exists(path):
        return
    data = {
        "vocab": {f"tok{i}": i for i in range(entries)},
        "scores": [i * 0.5 for i in range(floats)],
        "names": [f"name-{i}" for i in range(strings)],
    }
    with open(path + ".tmp", "wb") as f:
        pickle.dump(data, f, protocol=4)
    os.replace(path + ".tmp", path)


def measure(argv):
    """Wall time, peak RSS and peak anonymous RSS (kB) of a command, and its output."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    peak_rss = peak_anon = 0
    status = f"/proc/{proc.pid}/status"
    while proc.poll() is None:
        try:
            with open(status) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        peak_rss = max(peak_rss, int(line.split()[1]))
                    elif line.startswith("RssAnon:"):
                        peak_anon = max(peak_anon, int(line.split()[1]))
        except (FileNotFoundError, ProcessLookupError):
            pass
        time.sleep(0.002)
    elapsed = time.perf_counter() - start
    output = proc.stdout.read().decode(errors="replace")
    return elapsed, peak_rss, peak_anon, proc.returncode, output


def main():
    modelgate = sys.argv[1]
    cache = sys.argv[2] if len(sys.argv) > 2 else os.path.expanduser("~/.cache/modelgate/bench-pickles")
    os.makedirs(cache, exist_ok=True)
    print(f"{'file':>8} {'tool':>16} {'seconds':>8} {'peak RSS MB':>12} {'anon MB':>8}  result")
    for name, shape in SIZES.items():
        path = os.path.join(cache, f"plain_{name}.pkl")
        write(path, *shape)
        mib = os.path.getsize(path) / 2**20
        ours = measure([modelgate, "scan", "--format", "json", path])
        summary = json.loads(ours[4]).get("summary", {})
        clean = ours[3] == 0 and not any(summary.get(k) for k in ("critical", "high", "medium", "low"))
        base = measure([sys.executable, "-c", f"import pickle; pickle.load(open({path!r}, 'rb'))"])
        for tool, (secs, rss, anon, code, _) in (("modelgate scan", ours), ("pickle.load", base)):
            print(f"{name:>8} {tool:>16} {secs:8.2f} {rss / 1024:12.1f} {anon / 1024:8.1f}  exit {code}")
        print(
            f"{name:>8} ({mib:.0f} MiB) modelgate/pickle.load: time {ours[0] / base[0]:.2f}x, "
            f"anonymous memory {ours[2] / max(base[2], 1):.3f}x; clean: {clean}"
        )


if __name__ == "__main__":
    main()
