"""Time `modelgate inspect` against `gguf-dump --no-tensors` (the `gguf`
package's reference dumper) on the same GGUF file, in one run, and print the
ratio. Both are timed as whole processes, the way a user runs them.

Usage: python bench/inspect_vs_gguf_dump.py MODELGATE_BIN GGUF_DUMP_BIN FILE.gguf
"""
import statistics
import subprocess
import sys
import time


def median_seconds(argv, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def main():
    modelgate, gguf_dump, path = sys.argv[1:4]
    # Warm the page cache so both read from memory.
    subprocess.run([modelgate, "inspect", path], check=True, stdout=subprocess.DEVNULL)
    ours_median, ours_min = median_seconds([modelgate, "inspect", "--format", "json", path], 30)
    ref_median, ref_min = median_seconds([gguf_dump, "--no-tensors", path], 5)
    print(f"file: {path}")
    print(f"{'command':<36}{'median':>12}{'min':>12}")
    print(f"{'modelgate inspect --format json':<36}{ours_median * 1e3:>10.1f}ms{ours_min * 1e3:>10.1f}ms")
    print(f"{'gguf-dump --no-tensors':<36}{ref_median * 1e3:>10.1f}ms{ref_min * 1e3:>10.1f}ms")
    ratio = ref_median / ours_median
    print(f"ratio (gguf-dump / modelgate, median): {ratio:.0f}x  (goal: >= 100x)")


if __name__ == "__main__":
    main()
