"""Hostile PyTorch checkpoints cost no more than an honest one: median wall
time of `modelgate inspect` on the shared-list bomb (2^60 paths through
shared lists) and the fuzzer's cyclic lists, against the same command on a
well-formed zip checkpoint in the same run (the baseline). Replaces a timed
assertion that used to sit in crates/pytorch/tests/data.rs; it prints, it
never fails.

    python bench/pytorch_bombs.py ./target/release/modelgate [RUNS]
"""
import os
import statistics
import subprocess
import sys
import time

DATA = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "pytorch")


def median_seconds(command, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    binary = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    inspect = lambda name: [binary, "inspect", "--format", "json", os.path.join(DATA, name)]
    baseline = median_seconds(inspect("ok/archive.pt"), runs)
    print(f"modelgate inspect ok/archive.pt (baseline): {baseline * 1000:.1f} ms (median of {runs})")
    for name in ["malicious/shared_bomb.pt", "malicious/fuzz_cyclic_lists.pt"]:
        seconds = median_seconds(inspect(name), runs)
        print(f"modelgate inspect {name}: {seconds * 1000:.1f} ms, "
              f"{seconds / baseline:.2f}x the baseline")


if __name__ == "__main__":
    main()
