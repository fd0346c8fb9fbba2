"""End-to-end `modelgate vet` of the all-MiniLM-L6-v2 snapshot: median wall
time of N runs, against a baseline measured in the same run: `sha256sum` of
the same files (the floor any vetting that records digests pays).

    python bench/vet_minilm.py ./target/release/modelgate FIXTURES/minilm [RUNS]
"""
import os
import statistics
import subprocess
import sys
import time


def median_seconds(command, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    binary, snapshot = sys.argv[1], sys.argv[2]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    files = sorted(
        os.path.join(root, name)
        for root, _, names in os.walk(snapshot)
        for name in names
    )
    total = sum(os.path.getsize(f) for f in files)
    vet = median_seconds([binary, "vet", snapshot, "--format", "json"], runs)
    baseline = median_seconds(["sha256sum", *files], runs)
    print(f"vet of {snapshot} ({len(files)} files, {total / 1e6:.1f} MB): "
          f"modelgate vet {vet * 1000:.1f} ms (inspect, scan, license, card, "
          f"provenance, digests, policy), sha256sum alone {baseline * 1000:.1f} ms, "
          f"ratio {vet / baseline:.2f}x (median of {runs})")


if __name__ == "__main__":
    main()
