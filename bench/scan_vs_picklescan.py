"""Time `modelgate scan` against picklescan in one run and print ratios:

1. a PyTorch zip checkpoint of SIZE bytes (default 2 GiB) in torch.save's
   layout: scanners should read the pickle, not the tensor storages;
2. a directory of COUNT small pickles and checkpoints (default 300).

    python bench/scan_vs_picklescan.py MODELGATE PICKLESCAN [SIZE] [COUNT]

Inputs are generated once under ~/.cache/modelgate/bench and reused.
"""
import collections
import os
import pickle
import statistics
import subprocess
import sys
import time
import zipfile

CACHE = os.path.join(os.path.expanduser("~"), ".cache", "modelgate", "bench")


def checkpoint(path, size):
    if os.path.exists(path) and os.path.getsize(path) >= size:
        return
    state = collections.OrderedDict((f"layer.{i}.weight", i) for i in range(64))
    chunk = os.urandom(1 << 20)
    with zipfile.ZipFile(path + ".tmp", "w", zipfile.ZIP_STORED, allowZip64=True) as z:
        z.writestr("model/data.pkl", pickle.dumps(state, protocol=2))
        z.writestr("model/byteorder", "little")
        per = size // 64
        for i in range(64):
            with z.open(f"model/data/{i}", "w", force_zip64=True) as f:
                written = 0
                while written < per:
                    f.write(chunk)
                    written += len(chunk)
        z.writestr("model/version", "3")
    os.replace(path + ".tmp", path)


def small_files(directory, count):
    os.makedirs(directory, exist_ok=True)
    if len(os.listdir(directory)) >= count:
        return
    for i in range(count):
        obj = {"weights": [float(j) for j in range(200)], "name": f"model-{i}", "step": i}
        if i % 3 == 0:
            with zipfile.ZipFile(os.path.join(directory, f"ckpt_{i}.pt"), "w") as z:
                z.writestr("archive/data.pkl", pickle.dumps(obj, protocol=2))
                z.writestr("archive/version", "3")
        else:
            with open(os.path.join(directory, f"model_{i}.pkl"), "wb") as f:
                pickle.dump(obj, f, protocol=4)


def timed(cmd, runs=3):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    modelgate, picklescan = sys.argv[1], sys.argv[2]
    size = int(sys.argv[3]) if len(sys.argv) > 3 else 2 << 30
    count = int(sys.argv[4]) if len(sys.argv) > 4 else 300
    os.makedirs(CACHE, exist_ok=True)
    big = os.path.join(CACHE, f"checkpoint_{size}.pt")
    checkpoint(big, size)
    directory = os.path.join(CACHE, f"small_{count}")
    small_files(directory, count)
    print(f"{'input':<34}{'modelgate':>12}{'picklescan':>12}{'ratio':>9}  goal")
    for label, path, goal in [(f"checkpoint {size / (1 << 30):.2f} GiB", big, 2), (f"directory of {count} files", directory, 10)]:
        ours = timed([modelgate, "scan", path, "--format", "json"])
        theirs = timed([picklescan, "-p", path])
        print(f"{label:<34}{ours * 1000:>10.1f}ms{theirs * 1000:>10.1f}ms{theirs / ours:>8.1f}x  >= {goal}x")


if __name__ == "__main__":
    main()
