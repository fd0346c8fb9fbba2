"""Time `modelgate sign` + `modelgate verify` against model_signing's
`sign key` + `verify key` on one model directory, and print ratios:

    python bench/sign_vs_model_signing.py MODELGATE [SIZE] [SHARD_SIZE]

Run it with the interpreter that has model-signing installed
(scripts/venv.sh); it calls `python -m model_signing` with the same
interpreter. The model is SIZE bytes (default 2 GiB) of random bytes in
safetensors-style shards (45 %, 45 %, 10 %) plus small config files,
generated once under ~/.cache/modelgate/bench and reused. modelgate runs in
files mode (model_signing's only CLI mode) and in shards mode with
SHARD_SIZE-byte shards (default 100,000,000). Every number is the median of
five sign+verify pairs on a warm page cache; each pair includes process
start (about 0.9 s per command for model_signing).
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

CACHE = os.path.join(os.path.expanduser("~"), ".cache", "modelgate", "bench")


def model(directory, size):
    """A Hugging Face style snapshot of about `size` bytes."""
    weights = [int(size * 0.45), int(size * 0.45)]
    weights.append(size - sum(weights))
    names = [f"model-{i:05d}-of-{len(weights):05d}.safetensors" for i in range(1, len(weights) + 1)]
    if all(
        os.path.exists(os.path.join(directory, n)) and os.path.getsize(os.path.join(directory, n)) == s
        for n, s in zip(names, weights)
    ):
        return
    os.makedirs(directory, exist_ok=True)
    chunk = os.urandom(1 << 20)
    for name, length in zip(names, weights):
        with open(os.path.join(directory, name + ".tmp"), "wb") as f:
            written = 0
            while written < length:
                part = chunk[: min(len(chunk), length - written)]
                f.write(part)
                written += len(part)
        os.replace(os.path.join(directory, name + ".tmp"), os.path.join(directory, name))
    for name, text in [
        ("config.json", '{"model_type": "llama", "hidden_size": 4096}\n'),
        ("tokenizer.json", '{"version": "1.0", "model": {"type": "BPE"}}\n'),
        ("README.md", "---\nlicense: apache-2.0\n---\n# bench model\n"),
    ]:
        with open(os.path.join(directory, name), "w") as f:
            f.write(text)


def run(cmd):
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{result.stdout}{result.stderr}")


def timed_pair(sign, verify, runs=5):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run(sign)
        run(verify)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    modelgate = sys.argv[1]
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 2 << 30
    shard_size = int(sys.argv[3]) if len(sys.argv) > 3 else 100_000_000
    directory = os.path.join(CACHE, f"sign_model_{size}")
    model(directory, size)
    signature = os.path.join(directory, "model.sig")

    with tempfile.TemporaryDirectory() as keys:
        key = ec.generate_private_key(ec.SECP256R1())
        private = os.path.join(keys, "key.pem")
        public = os.path.join(keys, "key.pub")
        with open(private, "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        with open(public, "wb") as f:
            f.write(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo))

        py = [sys.executable, "-m", "model_signing"]
        theirs = ([*py, "sign", "key", directory, "--private_key", private, "--signature", signature],
                  [*py, "verify", "key", directory, "--signature", signature, "--public_key", public])
        ours_files = ([modelgate, "sign", directory, "--key", private],
                      [modelgate, "verify", directory, "--public-key", public])
        ours_shards = ([modelgate, "sign", directory, "--key", private, "--serialization", "shards",
                        "--shard-size", str(shard_size)],
                       [modelgate, "verify", directory, "--public-key", public])
        # Warm the page cache and check that both tools accept each other.
        run(ours_files[0])
        run(theirs[1])
        run(theirs[0])
        run(ours_files[1])

        t_theirs = timed_pair(*theirs)
        t_files = timed_pair(*ours_files)
        t_shards = timed_pair(*ours_shards)

    gib = size / (1 << 30)
    print(f"sign + verify, {gib:.2f} GiB in 3 weight files, {os.cpu_count()} cores")
    print(f"{'tool':<44}{'time':>10}{'GB/s':>8}{'ratio':>8}  goal")
    rows = [
        ("model_signing 1.x, files", t_theirs, None),
        ("modelgate, files", t_files, 0.8),
        (f"modelgate, shards of {shard_size:,} bytes", t_shards, 0.5),
    ]
    for label, seconds, goal in rows:
        rate = 2 * size / seconds / 1e9
        ratio = seconds / t_theirs
        target = "" if goal is None else f"<= {goal}x {'ok' if ratio <= goal else 'MISSED'}"
        print(f"{label:<44}{seconds * 1000:>8.0f}ms{rate:>8.2f}{ratio:>7.2f}x  {target}")


if __name__ == "__main__":
    main()
