#!/usr/bin/env python3
"""`modelgate eval` against llama.cpp's own evaluator, `llama-perplexity`, on the
same GGUF, the same items and the same thread count, one process at a time.

Two comparisons, each printed as ratios against a goal:

1. HellaSwag (--only hellaswag)
   The first --tasks documents (by doc_id) of the `hellaswag` suite that
   scripts/eval-data.sh builds (olmo request format) are converted with
   scripts/hellaswag_to_llama.py's functions into llama.cpp's 6-lines-per-task
   file, then
     llama-perplexity -m GGUF -f TASKS.txt --hellaswag --hellaswag-tasks N -t T
     modelgate eval GGUF --suite hellaswag/suite.toml --limit N --threads T --format json
   llama.cpp scores an ending by the MEAN log-probability of its tokens after
   the prefix shared by all four endings (see scripts/hellaswag_to_llama.py's
   header); modelgate reports that as summary.acc_per_token, next to the
   lm-evaluation-harness metrics summary.acc_norm (per byte) and summary.acc.
   Printed: both wall times and the speed ratio llama / modelgate (goal >= 1.0),
   both accuracies side by side, |acc_per_token - llama| in points (goal <=
   0.5) and how many items the two disagree on.
   Per-item correctness of llama.cpp: it prints one line per task, "i<TAB>
   running accuracy %<TAB>[95% CI]"; hits after task i = round(acc_i * i), so
   task i was a hit when that count went up. Its tasks run in a SHUFFLED order
   (std::mt19937 seeded 1 and libstdc++'s uniform_int_distribution draw a task
   from those left, the drawn one is erased); this script replays that draw to
   map line i back to the doc_id (tested in --self-test against values from a
   g++-built reference, and against the real binary with --verify-order).
   modelgate's per-item result is cases[].acc_per_token / correct_per_token if
   the report has such a field, else cases[].passed (the field used is printed).

2. KL divergence (--only kld)
   base = an F16 GGUF, candidate = a quantized GGUF of the same model. Default:
   both made once from the SmolLM2-135M Q4_1 fixture with llama-quantize
   (F16 with --allow-requantize, then Q4_K_M from the F16) into --cache.
     llama-perplexity -m BASE -f CORPUS -c CTX --chunks K -t T --kl-divergence-base BASE.kld
     llama-perplexity -m CAND -c CTX --chunks K -t T --kl-divergence-base BASE.kld --kl-divergence
   (both timed together: that is llama.cpp's whole job), against
     modelgate eval divergence BASE CAND --corpus CORPUS --ctx CTX --chunks K --threads T --format json
   CORPUS is the `shakespeare` suite's corpus. Both score the second half of
   each CTX-token window: K * (CTX - 1 - CTX/2) tokens for llama.cpp.
   Printed: mean KLD, 99th-percentile KLD, same-top-1 agreement, PPL of base
   and candidate from each, relative differences (goal <= 2% for mean KLD and
   same-top-1), the speed ratio llama / modelgate (goal >= 0.9), and each
   process's peak RSS against the budget
       size of the GGUF file(s) the process loads + 2 x vocab x CTX x 4 bytes
   (vocab = length of the GGUF's tokenizer.ggml.tokens, or --vocab; modelgate
   loads base and candidate, so both files count for it).

Measurement. Every process runs alone, started by this script; wall time is
the subprocess's wall clock from spawn to exit, model loading included (the
"setup" column shows how much of it was loading and tokenizing: for llama.cpp
the timestamp of its "calculating ..." log line, for modelgate wall minus the
report's duration_s). Peak RSS and CPU seconds come from os.wait4's rusage of
that one process (ru_maxrss), not from RUSAGE_CHILDREN totals. The GGUF files
are read once before timing so neither side pays for a cold page cache. Every
subprocess has a timeout (--timeout); the script kills the process group and
stops on its own. A warning is printed when other work keeps the CPUs busy.
Fairness notes: llama-perplexity evaluates up to 4 sequences per batch (its
default -b 2048 and n_parallel >= 4 for HellaSwag), and its KL-divergence
pass starts hardware_concurrency - 1 extra threads for the KLD arithmetic
beyond -t; the numbers are its defaults, as a user would run it.

Examples:
    bench/eval_vs_llama_cpp.py                       # both, defaults (about 5 min on 2 cores)
    bench/eval_vs_llama_cpp.py --only hellaswag --tasks 1000 --threads 4
    bench/eval_vs_llama_cpp.py --only kld --base m-f16.gguf --candidate m-q4_k_m.gguf --chunks 40
    bench/eval_vs_llama_cpp.py --skip-modelgate --tasks 20 --chunks 4   # llama.cpp's side only
    bench/eval_vs_llama_cpp.py --verify-order        # replayed task order == llama-perplexity's
    bench/eval_vs_llama_cpp.py --self-test           # the parsers, offline, in a second
    bench/eval_vs_llama_cpp.py --json | tail -n 1    # the last line is the summary as JSON

Without --llama-tools, scripts/llama-tools.sh finds (or builds once, ~8 min)
llama.cpp's tools; without --suites, scripts/eval-data.sh finds (or builds)
the suites. modelgate runs with MODELGATE_HOME in a temporary directory, so the
bench leaves nothing in your inventory. Exit status: 0 when everything ran
(goals missed or not), 1 when a process failed or timed out, 2 on bad usage.
Standard library only.
"""
import argparse
import gzip
import importlib.util
import json
import math
import os
import re
import shlex
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MIB = 1 << 20
HELLASWAG_GOAL_SPEED = 1.0
HELLASWAG_GOAL_POINTS = 0.5
KLD_GOAL_REL = 0.02
KLD_GOAL_SPEED = 0.9


class BenchError(Exception):
    """A process failed, timed out or printed something this script cannot read."""


# --- the GGUF header: the vocabulary size ------------------------------------

GGUF_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
GGUF_STRING, GGUF_ARRAY = 8, 9


class GgufArray:
    """An array value: its element type and length (elements kept only for short numeric arrays)."""

    def __init__(self, kind, count, values=None):
        self.kind, self.count, self.values = kind, count, values


def gguf_metadata(path):
    """The GGUF's key/value metadata. Every length is checked against the
    file's size before anything is read or skipped, so a damaged or hostile
    file raises ValueError instead of allocating or looping."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        def read(n):
            if n > size - f.tell():
                raise ValueError(f"{path}: truncated GGUF header at offset {f.tell()} (wants {n} bytes)")
            return f.read(n)

        def unpack(fmt):
            return struct.unpack(fmt, read(struct.calcsize(fmt)))[0]

        def skip(n):
            if n > size - f.tell():
                raise ValueError(f"{path}: truncated GGUF header at offset {f.tell()} (skips {n} bytes)")
            f.seek(n, 1)

        def string():
            return read(unpack("<Q")).decode("utf-8", "replace")

        def value(kind):
            if kind in GGUF_SCALARS:
                return unpack(GGUF_SCALARS[kind])
            if kind == GGUF_STRING:
                return string()
            if kind == GGUF_ARRAY:
                inner, count = unpack("<I"), unpack("<Q")
                if inner == GGUF_STRING:
                    if count > (size - f.tell()) // 8:
                        raise ValueError(f"{path}: string array of {count} entries at offset {f.tell()} "
                                         "is longer than the file")
                    for _ in range(count):
                        skip(unpack("<Q"))
                    return GgufArray(inner, count)
                if inner not in GGUF_SCALARS:
                    raise ValueError(f"{path}: array of value type {inner} at offset {f.tell()} is not supported")
                item = struct.calcsize(GGUF_SCALARS[inner])
                if count > 4096:
                    skip(item * count)
                    return GgufArray(inner, count)
                return GgufArray(inner, count, list(struct.unpack(f"<{count}{GGUF_SCALARS[inner][1]}",
                                                                  read(item * count))))
            raise ValueError(f"{path}: unknown value type {kind} at offset {f.tell()}")

        if read(4) != b"GGUF":
            raise ValueError(f"{path} is not a GGUF file (no GGUF magic)")
        version = unpack("<I")
        if version not in (2, 3):
            raise ValueError(f"{path}: GGUF version {version} is not supported (2 or 3)")
        unpack("<Q")  # tensor count
        kv_count = unpack("<Q")
        if kv_count > (size - f.tell()) // 12:
            raise ValueError(f"{path}: {kv_count} metadata entries cannot fit in the file")
        meta = {}
        for _ in range(kv_count):
            key = string()
            meta[key] = value(unpack("<I"))
        return meta


def gguf_vocab(path):
    tokens = gguf_metadata(path).get("tokenizer.ggml.tokens")
    if not isinstance(tokens, GgufArray) or tokens.count == 0:
        raise ValueError(f"{path}: no tokenizer.ggml.tokens array; pass --vocab")
    return tokens.count


# --- llama-perplexity's HellaSwag task order ----------------------------------

class MT19937:
    """std::mt19937 (32-bit Mersenne Twister, std::seed_seq-free integer seed)."""

    def __init__(self, seed):
        self.mt = [0] * 624
        self.mt[0] = seed & 0xFFFFFFFF
        for i in range(1, 624):
            self.mt[i] = (1812433253 * (self.mt[i - 1] ^ (self.mt[i - 1] >> 30)) + i) & 0xFFFFFFFF
        self.index = 624

    def __call__(self):
        if self.index >= 624:
            mt = self.mt
            for i in range(624):
                y = (mt[i] & 0x80000000) | (mt[(i + 1) % 624] & 0x7FFFFFFF)
                mt[i] = mt[(i + 397) % 624] ^ (y >> 1) ^ (0x9908B0DF if y & 1 else 0)
            self.index = 0
        y = self.mt[self.index]
        self.index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C5680
        y ^= (y << 15) & 0xEFC60000
        y ^= y >> 18
        return y


def uniform_below(rng, n):
    """libstdc++'s std::uniform_int_distribution<size_t>(0, n - 1)(rng) for a
    32-bit engine and n <= 2^32 (GCC >= 11, bits/uniform_int_dist.h): Lemire's
    nearly-divisionless method on a 64-bit product."""
    if not 1 <= n <= 1 << 32:
        raise ValueError(f"range {n} out of what a 32-bit engine covers")
    if n == 1 << 32:
        return rng()
    product = rng() * n
    low = product & 0xFFFFFFFF
    if low < n:
        threshold = ((1 << 32) - n) % n
        while low < threshold:
            product = rng() * n
            low = product & 0xFFFFFFFF
    return product >> 32


def llama_hellaswag_order(n_file, n_tasks):
    """The file positions (0-based) of the tasks llama-perplexity --hellaswag
    scores, in the order it prints them (perplexity.cpp hellaswag_score: mt19937
    seeded 1, a task drawn uniformly from those left, then erased)."""
    left = list(range(n_file))
    rng = MT19937(1)
    order = []
    for _ in range(min(n_file, n_tasks)):
        order.append(left.pop(uniform_below(rng, len(left))))
    return order


# --- parsers for llama-perplexity's output ------------------------------------

HS_HEADER = "task\tacc_norm\t95% confidence interval"
HS_LINE = re.compile(r"^(\d+)\t(\d+(?:\.\d+)?)%\t\[(\d+(?:\.\d+)?)%, (\d+(?:\.\d+)?)%\]\s*$")
LOG_STAMP = re.compile(r"^(\d+)\.(\d{2})\.(\d{3})\.(\d{3}) [A-Z] ")
NUM = r"([-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|nan|inf))"


def parse_hellaswag(stdout):
    """llama-perplexity --hellaswag stdout -> per-position hits and the final
    accuracy. Raises BenchError when the lines are missing or inconsistent."""
    lines = stdout.splitlines()
    try:
        start = lines.index(HS_HEADER) + 1
    except ValueError:
        raise BenchError(f"no {HS_HEADER!r} header in llama-perplexity's output") from None
    hits, running, previous = [], [], 0
    for line in lines[start:]:
        m = HS_LINE.match(line)
        if not m:
            if line.strip():
                raise BenchError(f"unexpected line in the HellaSwag results: {line!r}")
            continue
        i, pct = int(m.group(1)), float(m.group(2))
        if i != len(hits) + 1:
            raise BenchError(f"HellaSwag result lines out of order: line {i} after {len(hits)}")
        count = pct / 100.0 * i
        correct = round(count)
        if abs(count - correct) > 1e-4 or correct - previous not in (0, 1):
            raise BenchError(f"HellaSwag line {i}: {pct}% of {i} tasks is not {previous} or {previous + 1} hits")
        hits.append(correct > previous)
        running.append(pct)
        previous = correct
    if not hits:
        raise BenchError("llama-perplexity printed the HellaSwag header but no task lines")
    ci = HS_LINE.match([ln for ln in lines[start:] if HS_LINE.match(ln)][-1])
    return {"tasks": len(hits), "hits": hits, "correct": previous, "acc": previous / len(hits),
            "acc_pct_printed": running[-1], "ci_pct": [float(ci.group(3)), float(ci.group(4))]}


def log_seconds(stderr, needle):
    """Seconds since llama.cpp's log clock started (about process start) at the
    first stamped line containing `needle`; None when absent."""
    for line in stderr.splitlines():
        if needle in line:
            m = LOG_STAMP.match(line)
            if m:
                mins, secs, ms, us = (int(g) for g in m.groups())
                return mins * 60 + secs + ms / 1e3 + us / 1e6
    return None


def _field(text, pattern, what):
    m = re.search(pattern, text, re.MULTILINE)
    if not m:
        raise BenchError(f"llama-perplexity's output has no {what} line")
    return m


def parse_kld(stdout, stderr=""):
    """llama-perplexity --kl-divergence output -> its statistics (same_top1 as a
    fraction 0..1, like modelgate's report)."""
    out = {
        "ppl_candidate": float(_field(stdout, r"^Mean PPL\(Q\)\s*:\s*" + NUM, "Mean PPL(Q)").group(1)),
        "ppl_base": float(_field(stdout, r"^Mean PPL\(base\)\s*:\s*" + NUM, "Mean PPL(base)").group(1)),
        "kld_mean": float(_field(stdout, r"^Mean\s+KLD:\s*" + NUM, "Mean KLD").group(1)),
        "kld_p99": float(_field(stdout, r"^99\.0%\s+KLD:\s*" + NUM, "99.0% KLD").group(1)),
        "kld_median": float(_field(stdout, r"^Median\s+KLD:\s*" + NUM, "Median KLD").group(1)),
        "kld_max": float(_field(stdout, r"^Maximum KLD:\s*" + NUM, "Maximum KLD").group(1)),
        "same_top1": float(_field(stdout, r"^Same top p:\s*" + NUM + r"\s*±", "Same top p").group(1)) / 100.0,
    }
    header = stdout.find("Same top p\n")
    chunk_rows = re.findall(r"^\s*\d+\s+" + NUM + r" ± ", stdout[header:] if header >= 0 else "", re.MULTILINE)
    out["chunk_rows"] = len(chunk_rows)
    m = re.search(r"computing over (\d+) chunks, n_ctx=(\d+)", stderr)
    if m:
        out["chunks"], out["ctx"] = int(m.group(1)), int(m.group(2))
        out["tokens"] = out["chunks"] * (out["ctx"] - 1 - out["ctx"] // 2)
    return out


def parse_ppl_base(stderr):
    """The base pass (--kl-divergence-base without --kl-divergence): final PPL, chunks, ctx."""
    m = _field(stderr, r"Final estimate: PPL = " + NUM + r" \+/- " + NUM, "Final estimate: PPL")
    out = {"ppl": float(m.group(1)), "ppl_err": float(m.group(2))}
    m = re.search(r"calculating perplexity over (\d+) chunks, n_ctx=(\d+)", stderr)
    if m:
        out["chunks"], out["ctx"] = int(m.group(1)), int(m.group(2))
    m = re.search(r"tokenization took " + NUM + " ms", stderr)
    if m:
        out["tokenize_s"] = float(m.group(1)) / 1e3
    return out


# --- processes -----------------------------------------------------------------

def busy_cores(seconds=0.5):
    """Cores busy machine-wide over a short window (other work skews a bench)."""
    def sample():
        with open("/proc/stat") as f:
            parts = [int(x) for x in f.readline().split()[1:]]
        return sum(parts), parts[3] + parts[4]
    total0, idle0 = sample()
    time.sleep(seconds)
    total1, idle1 = sample()
    return ((total1 - total0) - (idle1 - idle0)) / os.sysconf("SC_CLK_TCK") / seconds


def warm_page_cache(paths):
    for path in paths:
        with open(path, "rb") as f:
            while f.read(16 * MIB):
                pass


def tail(text, n=25):
    return "\n".join(text.splitlines()[-n:])


def run_measured(label, argv, logdir, timeout, nice=0, env=None):
    """Run one process alone; its wall clock (spawn to exit), its own peak RSS
    and CPU seconds from os.wait4, and its stdout/stderr (also kept in logdir)."""
    if nice:
        argv = ["nice", "-n", str(nice)] + argv
    print(f"$ {shlex.join(argv)}", flush=True)
    busy = busy_cores()
    if busy > 0.3:
        print(f"warning: {busy:.2f} cores busy with other work before {label}; its time will be skewed",
              file=sys.stderr, flush=True)
    out_path, err_path = os.path.join(logdir, f"{label}.stdout"), os.path.join(logdir, f"{label}.stderr")
    waited = []
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env,
                                start_new_session=True)
        waiter = threading.Thread(target=lambda: waited.append((os.wait4(proc.pid, 0), time.perf_counter())),
                                  daemon=True)
        waiter.start()
        waiter.join(timeout)
        timed_out = waiter.is_alive()
        if timed_out:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(proc.pid, sig)
                except ProcessLookupError:
                    break
                waiter.join(10)
                if not waiter.is_alive():
                    break
            waiter.join()
    (_, status, usage), end = waited[0]
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4, so Popen must not wait again
    with open(out_path, "rb") as f:
        stdout = f.read().decode("utf-8", "replace")
    with open(err_path, "rb") as f:
        stderr = f.read().decode("utf-8", "replace")
    result = {"label": label, "argv": argv, "rc": proc.returncode, "wall_s": end - start,
              "peak_rss": usage.ru_maxrss * 1024, "cpu_s": usage.ru_utime + usage.ru_stime,
              "busy_cores_before": busy, "stdout": stdout, "stderr": stderr}
    if timed_out:
        raise BenchError(f"{label} did not finish in {timeout:.0f} s (killed; raise --timeout); "
                         f"log tail:\n{tail(stderr)}")
    return result


def require_rc(result, ok=(0,)):
    if result["rc"] not in ok:
        raise BenchError(f"{result['label']} exited with {result['rc']}: {shlex.join(result['argv'])}\n"
                         f"--- stderr tail ---\n{tail(result['stderr'])}\n--- stdout tail ---\n{tail(result['stdout'], 10)}")


def modelgate_json(result):
    """modelgate's --format json report on stdout; exit 1 (a suite threshold
    missed) still carries a report."""
    require_rc(result, ok=(0, 1))
    try:
        report = json.loads(result["stdout"])
    except json.JSONDecodeError as e:
        raise BenchError(f"{result['label']}: stdout is not a JSON report ({e}); rc {result['rc']}\n"
                         f"{tail(result['stdout'], 10)}\n{tail(result['stderr'])}") from None
    if not isinstance(report, dict):
        raise BenchError(f"{result['label']}: the JSON report is not an object")
    return report


def number(obj, *path):
    cur = obj
    for key in path:
        if not isinstance(cur, dict) or key not in cur:
            raise BenchError(f"modelgate's report has no {'.'.join(path)}")
        cur = cur[key]
    if isinstance(cur, bool) or not isinstance(cur, (int, float)):
        raise BenchError(f"modelgate's report: {'.'.join(path)} is {cur!r}, not a number")
    return float(cur)


# --- tools and inputs ------------------------------------------------------------

def script_output(name):
    run = subprocess.run([os.path.join(ROOT, "scripts", name)], capture_output=True, text=True, timeout=3600)
    if run.returncode != 0:
        raise BenchError(f"scripts/{name} failed ({run.returncode}):\n{tail(run.stderr)}")
    return run.stdout.strip().splitlines()[-1]


def find_modelgate(arg):
    if arg:
        candidates = [arg]
    else:
        candidates = [os.path.join(ROOT, "target/release/modelgate"), os.path.join(ROOT, "target/debug/modelgate")]
    for c in candidates:
        if os.path.isfile(c) and os.access(c, os.X_OK):
            return os.path.abspath(c)
    raise BenchError(
        "no modelgate binary at " + " or ".join(candidates) + ".\n"
        "Build it with `cargo build --release --bin modelgate` (or pass --modelgate PATH, e.g. under your "
        "CARGO_TARGET_DIR), or run llama.cpp's side only with --skip-modelgate.")


def check_modelgate_command(binary, words):
    """Refuse early (before llama.cpp's side runs) when this modelgate lacks the command."""
    try:
        run = subprocess.run([binary] + words + ["--help"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise BenchError(f"{binary} {' '.join(words)} --help failed: {e}") from None
    if run.returncode != 0:
        said = next((ln.strip() for ln in run.stderr.splitlines() if ln.strip()), f"exit {run.returncode}")
        raise BenchError(f"{binary} has no `{' '.join(words)}` command ({said}); "
                         "rebuild it from this checkout, pass --modelgate PATH, or use --skip-modelgate")


def tool(bindir, name):
    path = os.path.join(bindir, name)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise BenchError(f"{path} is missing; run scripts/llama-tools.sh or pass --llama-tools DIR")
    return path


def default_fixture():
    fx = os.environ.get("MODELGATE_FIXTURES", os.path.expanduser("~/.cache/modelgate/fixtures"))
    path = os.path.join(fx, "smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
    if not os.path.isfile(path):
        path = os.path.join(script_output("fixtures.sh"), "smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
    return path


def is_gguf(path):
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"GGUF"
    except OSError:
        return False


def quantized(quantize, source, dest, qtype, timeout, nice=0):
    """llama-quantize SOURCE -> DEST once (atomically: a temporary name, then rename)."""
    if is_gguf(dest):
        print(f"using {dest} (made earlier)", flush=True)
        return dest
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    part = dest + ".part"
    argv = (["nice", "-n", str(nice)] if nice else []) + [quantize, "--allow-requantize", source, part, qtype]
    print(f"$ {shlex.join(argv)}", flush=True)
    run = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if run.returncode != 0 or not is_gguf(part):
        raise BenchError(f"llama-quantize {qtype} failed ({run.returncode}):\n{tail(run.stderr)}")
    os.replace(part, dest)
    return dest


def load_converter():
    path = os.path.join(ROOT, "scripts/hellaswag_to_llama.py")
    spec = importlib.util.spec_from_file_location("hellaswag_to_llama", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def suite_file(suites, name):
    path = os.path.join(suites, name, "suite.toml")
    if not os.path.isfile(path):
        raise BenchError(f"{path} is missing; run scripts/eval-data.sh or pass --suites DIR")
    return path


def olmo_native_ids(cases_path):
    """doc_id -> native_id of an olmo requests file (for matching report ids)."""
    opener = gzip.open if cases_path.endswith(".gz") else open
    ids = {}
    with opener(cases_path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                ids.setdefault(int(r["doc_id"]), r.get("native_id"))
    return ids


def case_verdicts(report, doc_ids, native_ids):
    """modelgate's per-item correctness keyed by doc_id, and the field it came
    from. Case ids are matched to doc_id, then native_id, then a trailing
    integer; by position (the first N by doc_id) when none of those match."""
    cases = report.get("cases")
    if not isinstance(cases, list) or not cases:
        raise BenchError("modelgate's report has no cases[]")
    field = next((k for k in ("acc_per_token", "correct_per_token", "passed_per_token") if k in cases[0]), "passed")
    verdicts = []
    for c in cases:
        v = c.get(field) if isinstance(c, dict) else None
        if not isinstance(v, bool):
            raise BenchError(f"modelgate's report: a case's {field} is {v!r}, not true/false")
        verdicts.append((str(c.get("id")), v))
    wanted = set(doc_ids)

    def trailing(i):
        m = re.search(r"(\d+)$", i)
        return m.group(1) if m else None
    by_doc = {str(d): d for d in doc_ids}
    by_native = {str(native_ids.get(d)): d for d in doc_ids}
    for name, table, pick in (("doc_id", by_doc, lambda i: i),
                              ("native_id", by_native, lambda i: i),
                              ("trailing integer = doc_id", by_doc, trailing)):
        got = {table[pick(i)]: v for i, v in verdicts if pick(i) in table}
        if len(got) == len(verdicts) and set(got) <= wanted:
            return got, field, name
    if len(verdicts) == len(doc_ids):
        return dict(zip(doc_ids, (v for _, v in verdicts))), field, "position (ids did not match doc_ids)"
    raise BenchError(f"modelgate reported {len(verdicts)} cases for {len(doc_ids)} items, and their ids "
                     f"(e.g. {verdicts[0][0]!r}) match neither doc_id nor native_id")


# --- the two comparisons -----------------------------------------------------------

def rel(a, b):
    return abs(a - b) / abs(b) if b else (0.0 if a == b else math.inf)


def goal(what, value, target, ok, unit=""):
    return {"what": what, "value": value, "goal": target, "met": bool(ok), "unit": unit}


def bench_hellaswag(args, bins, logdir):
    conv = load_converter()
    suite = suite_file(args.suites, "hellaswag")
    cases_path = conv.resolve_input(suite)
    docs = conv.load_docs(cases_path)
    doc_ids = sorted(docs)[: args.tasks]
    if len(doc_ids) < args.tasks:
        print(f"note: the suite has only {len(doc_ids)} documents", flush=True)
    tasks_path = os.path.join(logdir, f"hellaswag-{len(doc_ids)}.txt")
    lines = []
    for d in doc_ids:
        lines += conv.task_lines(d, docs[d])
    with open(tasks_path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    n = len(doc_ids)
    print(f"\n== HellaSwag: {n} tasks (doc_id {doc_ids[0]}..{doc_ids[-1]}), {args.threads} threads, "
          f"{os.path.basename(args.gguf)} ==", flush=True)
    warm_page_cache([args.gguf])

    llama = run_measured("llama-hellaswag", [bins["llama-perplexity"], "-m", args.gguf, "-f", tasks_path,
                                             "--hellaswag", "--hellaswag-tasks", str(n), "-t", str(args.threads)],
                         logdir, args.timeout, args.nice)
    require_rc(llama)
    parsed = parse_hellaswag(llama["stdout"])
    if parsed["tasks"] != n:
        raise BenchError(f"llama-perplexity scored {parsed['tasks']} tasks, not {n}")
    order = llama_hellaswag_order(n, n)
    llama_hit = {doc_ids[pos]: hit for pos, hit in zip(order, parsed["hits"])}
    llama_setup = log_seconds(llama["stderr"], "calculating hellaswag score")
    out = {"tasks": n, "threads": args.threads, "gguf": args.gguf,
           "llama": {"wall_s": llama["wall_s"], "setup_s": llama_setup, "peak_rss": llama["peak_rss"],
                     "cpu_s": llama["cpu_s"], "acc_per_token": parsed["acc"], "correct": parsed["correct"],
                     "ci_pct": parsed["ci_pct"], "argv": llama["argv"]}}
    print(f"llama-perplexity: {parsed['correct']}/{n} = {100 * parsed['acc']:.2f}% "
          f"(95% CI {parsed['ci_pct'][0]:.2f}..{parsed['ci_pct'][1]:.2f}%) in {llama['wall_s']:.2f} s", flush=True)
    if args.skip_modelgate:
        out["llama"]["hits_by_doc_id"] = {str(k): v for k, v in sorted(llama_hit.items())}
        return out, []

    env = dict(os.environ, MODELGATE_HOME=os.path.join(logdir, "modelgate-home"))
    mg = run_measured("modelgate-hellaswag", [bins["modelgate"], "eval", args.gguf, "--suite", suite,
                                              "--limit", str(n), "--threads", str(args.threads), "--format", "json"],
                      logdir, args.timeout, args.nice, env)
    report = modelgate_json(mg)
    acc = {k: number(report, "summary", k) for k in ("acc_per_token", "acc_norm", "acc")}
    duration = number(report, "duration_s")
    verdicts, field, matched = case_verdicts(report, doc_ids, olmo_native_ids(cases_path))
    shared = sorted(set(verdicts) & set(llama_hit))
    disagree = [d for d in shared if verdicts[d] != llama_hit[d]]
    points = 100 * abs(acc["acc_per_token"] - parsed["acc"])
    speed = llama["wall_s"] / mg["wall_s"]
    out["modelgate"] = {"wall_s": mg["wall_s"], "duration_s": duration, "setup_s": mg["wall_s"] - duration,
                        "peak_rss": mg["peak_rss"], "cpu_s": mg["cpu_s"], **acc, "argv": mg["argv"],
                        "cases": len(verdicts), "per_item_field": field, "matched_by": matched}
    out["disagreements"] = {"count": len(disagree), "of": len(shared), "doc_ids": disagree}
    out["speed_ratio"], out["abs_diff_points"] = speed, points

    def ms(v):
        return "-" if v is None else f"{v:.2f}"
    print(f"\n{'':<18}{'wall s':>9}{'setup s':>9}{'peak RSS MiB':>13}{'CPU s':>8}   accuracy")
    print(f"{'llama-perplexity':<18}{llama['wall_s']:9.2f}{ms(llama_setup):>9}{llama['peak_rss'] / MIB:13.0f}"
          f"{llama['cpu_s']:8.1f}   {100 * parsed['acc']:.2f}% (token-mean; printed as \"acc_norm\")")
    print(f"{'modelgate eval':<18}{mg['wall_s']:9.2f}{ms(mg['wall_s'] - duration):>9}{mg['peak_rss'] / MIB:13.0f}"
          f"{mg['cpu_s']:8.1f}   acc_per_token {100 * acc['acc_per_token']:.2f}%, acc_norm "
          f"{100 * acc['acc_norm']:.2f}%, acc {100 * acc['acc']:.2f}%")
    print("(setup: llama.cpp = log time of its first task, i.e. model load + tokenizing; "
          "modelgate = wall - duration_s)")
    print(f"per-item: {len(disagree)} of {len(shared)} items disagree (llama hit vs modelgate cases[].{field}, "
          f"matched by {matched})" + (f": doc_id {', '.join(map(str, disagree[:20]))}"
                                      + (" ..." if len(disagree) > 20 else "") if disagree else ""))
    if len(shared) != n:
        print(f"warning: only {len(shared)} of {n} items were found in both", file=sys.stderr)
    goals = [goal("HellaSwag speed, llama wall / modelgate wall", speed, f">= {HELLASWAG_GOAL_SPEED}",
                  speed >= HELLASWAG_GOAL_SPEED),
             goal("HellaSwag |acc_per_token - llama| (points)", points, f"<= {HELLASWAG_GOAL_POINTS}",
                  points <= HELLASWAG_GOAL_POINTS),
             goal("HellaSwag |acc_norm - llama| (points, other metric)", 100 * abs(acc["acc_norm"] - parsed["acc"]),
                  "informative", True)]
    return out, goals


def kld_inputs(args, bins):
    if args.base and args.candidate:
        return os.path.abspath(args.base), os.path.abspath(args.candidate)
    if args.base or args.candidate:
        raise BenchError("pass both --base and --candidate, or neither (then they are made from the fixture)")
    fixture = default_fixture()
    stem = os.path.join(args.cache, "SmolLM2-135M-Instruct")
    base = quantized(bins["llama-quantize"], fixture, stem + ".F16.gguf", "F16", args.timeout, args.nice)
    cand = quantized(bins["llama-quantize"], base, stem + ".Q4_K_M.gguf", "Q4_K_M", args.timeout, args.nice)
    return base, cand


def bench_kld(args, bins, logdir):
    base, cand = kld_inputs(args, bins)
    with open(suite_file(args.suites, "shakespeare"), "rb") as f:
        corpus = os.path.join(args.suites, "shakespeare", tomllib.load(f)["corpus"])
    vocab = args.vocab or gguf_vocab(base)
    if not args.vocab and gguf_vocab(cand) != vocab:
        raise BenchError(f"{base} and {cand} have different vocabularies; not the same model")
    logits = 2 * vocab * args.ctx * 4
    sizes = {"base": os.path.getsize(base), "candidate": os.path.getsize(cand)}
    print(f"\n== KL divergence: {os.path.basename(cand)} against {os.path.basename(base)}, ctx {args.ctx}, "
          f"{args.chunks} chunks, {args.threads} threads, vocab {vocab}, corpus {corpus} ==", flush=True)
    warm_page_cache([base, cand])
    kld_file = os.path.join(logdir, "base.kld")
    common = ["-c", str(args.ctx), "--chunks", str(args.chunks), "-t", str(args.threads)]
    lb = run_measured("llama-kld-base", [bins["llama-perplexity"], "-m", base, "-f", corpus] + common
                      + ["--kl-divergence-base", kld_file], logdir, args.timeout, args.nice)
    require_rc(lb)
    base_info = parse_ppl_base(lb["stderr"])
    kld_bytes = os.path.getsize(kld_file) if os.path.exists(kld_file) else 0
    lc = run_measured("llama-kld-candidate", [bins["llama-perplexity"], "-m", cand] + common
                      + ["--kl-divergence-base", kld_file, "--kl-divergence"], logdir, args.timeout, args.nice)
    require_rc(lc)
    os.remove(kld_file)
    ll = parse_kld(lc["stdout"], lc["stderr"])
    llama_wall = lb["wall_s"] + lc["wall_s"]
    budget = {"llama-base": sizes["base"] + logits, "llama-candidate": sizes["candidate"] + logits,
              "modelgate": sizes["base"] + sizes["candidate"] + logits}
    out = {"base": base, "candidate": cand, "corpus": corpus, "ctx": args.ctx, "chunks": args.chunks,
           "threads": args.threads, "vocab": vocab, "file_bytes": sizes, "budget_bytes": budget,
           "llama": {"wall_s": llama_wall, "base_wall_s": lb["wall_s"], "candidate_wall_s": lc["wall_s"],
                     "base_setup_s": log_seconds(lb["stderr"], "calculating perplexity over"),
                     "candidate_setup_s": log_seconds(lc["stderr"], "kl_divergence: computing over"),
                     "base_peak_rss": lb["peak_rss"], "candidate_peak_rss": lc["peak_rss"],
                     "cpu_s": lb["cpu_s"] + lc["cpu_s"], "kld_file_bytes": kld_bytes,
                     "base_ppl_final_estimate": base_info["ppl"], "tokenize_s": base_info.get("tokenize_s"),
                     **ll, "argv": [lb["argv"], lc["argv"]]}}
    print(f"llama-perplexity: mean KLD {ll['kld_mean']:.6f}, p99 {ll['kld_p99']:.6f}, same top-1 "
          f"{100 * ll['same_top1']:.3f}%, PPL base {ll['ppl_base']:.4f} / candidate {ll['ppl_candidate']:.4f}, "
          f"{ll.get('tokens', '?')} tokens, {llama_wall:.2f} s (base {lb['wall_s']:.2f} + candidate "
          f"{lc['wall_s']:.2f}; base.kld {kld_bytes / MIB:.0f} MiB)", flush=True)
    if args.skip_modelgate:
        return out, []

    env = dict(os.environ, MODELGATE_HOME=os.path.join(logdir, "modelgate-home"))
    mg = run_measured("modelgate-divergence", [bins["modelgate"], "eval", "divergence", base, cand,
                                               "--corpus", corpus, "--ctx", str(args.ctx), "--chunks",
                                               str(args.chunks), "--threads", str(args.threads), "--format", "json"],
                      logdir, args.timeout, args.nice, env)
    require_rc(mg)
    report = modelgate_json(mg)
    m = {k: number(report, k) for k in ("tokens", "kld_mean", "kld_p99", "same_top1", "ppl_base",
                                         "ppl_candidate", "duration_s")}
    if not 0.0 <= m["same_top1"] <= 1.0:
        raise BenchError(f"modelgate's same_top1 is {m['same_top1']}, not a fraction 0..1")
    speed = llama_wall / mg["wall_s"]
    out["modelgate"] = {"wall_s": mg["wall_s"], "setup_s": mg["wall_s"] - m["duration_s"],
                        "peak_rss": mg["peak_rss"], "cpu_s": mg["cpu_s"], **m, "argv": mg["argv"]}
    out["speed_ratio"] = speed
    diffs = {k: rel(m[k], ll[k]) for k in ("kld_mean", "kld_p99", "same_top1", "ppl_base", "ppl_candidate")}
    out["relative_diff"] = diffs

    print(f"\n{'':<14}{'llama.cpp':>14}{'modelgate':>14}{'rel. diff':>11}")
    for key, spec in (("kld_mean", ".6f"), ("kld_p99", ".6f"), ("same_top1", ".5f"), ("ppl_base", ".4f"),
                      ("ppl_candidate", ".4f")):
        print(f"{key:<14}{format(ll[key], spec):>14}{format(m[key], spec):>14}{100 * diffs[key]:10.2f}%")
    print(f"{'tokens':<14}{str(ll.get('tokens', '?')):>14}{m['tokens']:14.0f}")
    if ll.get("tokens") is not None and int(m["tokens"]) != ll["tokens"]:
        print(f"warning: the two scored different token counts ({ll['tokens']} vs {int(m['tokens'])})",
              file=sys.stderr)
    print(f"\n{'process':<22}{'wall s':>9}{'setup s':>9}{'CPU s':>8}{'peak RSS MiB':>14}{'budget MiB':>12}")
    rows = [("llama base pass", lb, out["llama"]["base_setup_s"], budget["llama-base"]),
            ("llama candidate pass", lc, out["llama"]["candidate_setup_s"], budget["llama-candidate"]),
            ("modelgate divergence", mg, mg["wall_s"] - m["duration_s"], budget["modelgate"])]
    for name, r, setup, b in rows:
        setup_s = "-" if setup is None else f"{setup:.2f}"
        print(f"{name:<22}{r['wall_s']:9.2f}{setup_s:>9}{r['cpu_s']:8.1f}{r['peak_rss'] / MIB:14.1f}{b / MIB:12.1f}")
    print(f"(budget = the GGUF file(s) the process loads + 2 x {vocab} x {args.ctx} x 4 bytes "
          f"= +{logits / MIB:.1f} MiB)")
    goals = [goal("KLD speed, llama wall (both passes) / modelgate wall", speed, f">= {KLD_GOAL_SPEED}",
                  speed >= KLD_GOAL_SPEED),
             goal("KLD mean, relative difference", diffs["kld_mean"], f"<= {KLD_GOAL_REL}", diffs["kld_mean"] <= KLD_GOAL_REL),
             goal("KLD same top-1, relative difference", diffs["same_top1"], f"<= {KLD_GOAL_REL}",
                  diffs["same_top1"] <= KLD_GOAL_REL),
             goal("modelgate divergence peak RSS (MiB)", mg["peak_rss"] / MIB,
                  f"<= {budget['modelgate'] / MIB:.1f}", mg["peak_rss"] <= budget["modelgate"])]
    return out, goals


def verify_order(args, bins, logdir, n=64):
    """Run llama-perplexity --hellaswag on n copies of one task whose gold
    labels follow a known pattern: its per-line hits must equal the ones the
    replayed draw predicts (for the ending the model prefers), and must not
    equal the file order's."""
    context = "The capital of France is the city of"
    endings = ["Paris, which is famous for the Eiffel Tower.", "purple elephant dancing gravel seventeen.",
               "nine nine nine nine nine nine nine.", "banana spoon window of yesterday's tomorrow."]
    golds = [(7 * i * i + 3 * i + 1) % 13 % 4 for i in range(n)]
    path = os.path.join(logdir, "order-check.txt")
    with open(path, "w", encoding="utf-8") as f:
        for g in golds:
            f.write("\n".join([context, str(g)] + endings) + "\n")
    r = run_measured("llama-order-check", [bins["llama-perplexity"], "-m", args.gguf, "-f", path, "--hellaswag",
                                           "--hellaswag-tasks", str(n), "-t", str(args.threads)],
                     logdir, args.timeout, args.nice)
    require_rc(r)
    hits = parse_hellaswag(r["stdout"])["hits"]
    order = llama_hellaswag_order(n, n)
    fits = [p for p in range(4) if hits == [golds[pos] == p for pos in order]]
    file_order_fits = [p for p in range(4) if hits == [golds[pos] == p for pos in range(n)]]
    if len(fits) != 1 or file_order_fits:
        raise BenchError(f"the replayed task order does not explain llama-perplexity's lines (fits {fits}, "
                         f"file order fits {file_order_fits}); per-item disagreements would be wrong")
    print(f"order check: llama-perplexity's {n} lines match the replayed draw (the model picks ending {fits[0]}; "
          f"{sum(hits)} hits), and not the file order", flush=True)
    return {"tasks": n, "preferred_ending": fits[0], "hits": sum(hits)}


# --- self-test ------------------------------------------------------------------------

SAMPLE_HELLASWAG = """
task\tacc_norm\t95% confidence interval
1\t0.00000000%\t[0.0000%, 79.3451%]
2\t0.00000000%\t[0.0000%, 65.7620%]
3\t0.00000000%\t[0.0000%, 56.1497%]
4\t0.00000000%\t[0.0000%, 48.9891%]
5\t0.00000000%\t[0.0000%, 43.4482%]
6\t16.66666667%\t[3.0053%, 56.3503%]
7\t14.28571429%\t[2.5680%, 51.3128%]
8\t12.50000000%\t[2.2417%, 47.0888%]
9\t11.11111111%\t[1.9891%, 43.5000%]
10\t10.00000000%\t[1.7876%, 40.4150%]
11\t9.09090909%\t[1.6232%, 37.7358%]
12\t16.66666667%\t[4.6965%, 44.8031%]
13\t15.38461538%\t[4.3258%, 42.2346%]
14\t14.28571429%\t[4.0094%, 39.9414%]
15\t13.33333333%\t[3.7361%, 37.8820%]
16\t18.75000000%\t[6.5916%, 43.0089%]
17\t17.64705882%\t[6.1911%, 41.0295%]
18\t16.66666667%\t[5.8366%, 39.2220%]
19\t15.78947368%\t[5.5205%, 37.5655%]
20\t15.00000000%\t[5.2369%, 36.0419%]

"""

SAMPLE_HELLASWAG_STDERR = """0.00.431.927 I cmn          init: llama threadpool init, n_threads = 2
0.00.460.010 I hellaswag_score : selecting 20 randomized tasks.
0.00.472.578 I hellaswag_score : calculating hellaswag score over selected tasks.
"""

SAMPLE_KLD = """0.08 minutes

chunk             PPL               ln(PPL(Q)/PPL(base))          KL Divergence              Δp RMS            Same top p
   1      21.2706 ±    4.6130       0.08625 ±    0.02533       0.05546 ±    0.00568     7.097 ±  0.847 %    85.882 ±  2.185 %
   2      24.2876 ±    3.4921       0.07036 ±    0.01678       0.05180 ±    0.00321     5.755 ±  0.546 %    85.098 ±  1.578 %
   3      31.2499 ±    3.7616       0.05106 ±    0.01333       0.05310 ±    0.00241     5.348 ±  0.407 %    85.359 ±  1.279 %
   4      38.8336 ±    4.1085       0.04998 ±    0.01221       0.06133 ±    0.00282     5.089 ±  0.335 %    85.490 ±  1.103 %

====== Perplexity statistics ======
Mean PPL(Q)                   :  38.833589 ±   4.108478
Mean PPL(base)                :  36.940334 ±   3.853162
Cor(ln(PPL(Q)), ln(PPL(base))):  99.33%
Mean ln(PPL(Q)/PPL(base))     :   0.049982 ±   0.012206

====== KL divergence statistics ======
Mean    KLD:   0.061328 ±   0.002815
Maximum KLD:   1.548171
99.9%   KLD:   1.075210
99.0%   KLD:   0.373479
95.0%   KLD:   0.162307
Median  KLD:   0.042617
Minimum KLD:   0.000004

====== Token probability statistics ======
Mean    Δp: -0.349 ± 0.159 %
99.0%   Δp: 15.042%
RMS Δp    :  5.089 ± 0.335 %
Same top p: 85.490 ± 1.103 %

"""

SAMPLE_KLD_STDERR = """0.00.359.490 I kl_divergence: computing over 4 chunks, n_ctx=512, batch_size=2048, n_seq=4
0.06.174.494 I kl_divergence: 5.81 seconds per pass - ETA """

SAMPLE_BASE_STDERR = """0.00.339.192 I perplexity: tokenizing the input ..
0.01.271.325 I perplexity: tokenization took 932.118 ms
0.01.272.048 I perplexity: calculating perplexity over 4 chunks, n_ctx=512, batch_size=2048, n_seq=4
0.05.503.440 I perplexity: 4.19 seconds per pass - ETA 0.05.960.679 I Final estimate: PPL = 36.9404 +/- 3.85317
"""

# From a g++ 12 (libstdc++) build of the same loop as perplexity.cpp's
# hellaswag_score: std::mt19937 rng(1); per draw
# std::uniform_int_distribution<size_t>(0, left - 1), then erase.
CPP_ORDERS = {
    (20, 20): [8, 19, 13, 17, 0, 2, 6, 18, 3, 5, 1, 10, 7, 11, 12, 15, 9, 16, 14, 4],
    (10, 10): [4, 9, 6, 8, 0, 1, 3, 7, 2, 5],
    (1000, 12): [417, 997, 719, 931, 0, 128, 302, 999, 147, 236, 92, 398],
    (10042, 8): [4187, 10013, 7233, 9363, 1, 1286, 3036, 10032],
    (3, 3): [1, 2, 0],
}


def tiny_gguf(tokens, extra=b""):
    def s(text):
        b = text.encode()
        return struct.pack("<Q", len(b)) + b
    kv = s("general.architecture") + struct.pack("<I", GGUF_STRING) + s("llama")
    kv += s("tokenizer.ggml.tokens") + struct.pack("<IIQ", GGUF_ARRAY, GGUF_STRING, len(tokens))
    kv += b"".join(s(t) for t in tokens)
    kv += s("tokenizer.ggml.scores") + struct.pack("<IIQ", GGUF_ARRAY, 6, 2) + struct.pack("<2f", 0.5, -1.0)
    return b"GGUF" + struct.pack("<IQQ", 3, 0, 3) + kv + extra


class SelfTest(unittest.TestCase):
    def test_mt19937(self):
        rng = MT19937(1)
        self.assertEqual([rng() for _ in range(3)], [1791095845, 4282876139, 3093770124])
        rng = MT19937(5489)
        for _ in range(9999):
            rng()
        self.assertEqual(rng(), 4123659995)  # the C++ standard's check value for std::mt19937

    def test_order_matches_libstdcxx(self):
        for (n_file, n), want in CPP_ORDERS.items():
            self.assertEqual(llama_hellaswag_order(n_file, n), want, (n_file, n))
        order = llama_hellaswag_order(200, 200)
        self.assertEqual(sorted(order), list(range(200)))
        self.assertEqual(llama_hellaswag_order(5, 9), llama_hellaswag_order(5, 5))

    def test_uniform_below_bounds(self):
        rng = MT19937(7)
        for n in (1, 2, 3, 7, 1000, (1 << 32) - 1, 1 << 32):
            self.assertTrue(0 <= uniform_below(rng, n) < n)
        self.assertRaises(ValueError, uniform_below, rng, 0)

    def test_parse_hellaswag(self):
        r = parse_hellaswag(SAMPLE_HELLASWAG)
        self.assertEqual(r["tasks"], 20)
        self.assertEqual(r["correct"], 3)
        self.assertEqual([i + 1 for i, h in enumerate(r["hits"]) if h], [6, 12, 16])
        self.assertAlmostEqual(r["acc"], 0.15)
        self.assertEqual(r["ci_pct"], [5.2369, 36.0419])

    def test_parse_hellaswag_rejects_bad_output(self):
        self.assertRaises(BenchError, parse_hellaswag, "no header here\n")
        self.assertRaises(BenchError, parse_hellaswag, "task\tacc_norm\t95% confidence interval\n\n")
        jump = "task\tacc_norm\t95% confidence interval\n1\t0.00000000%\t[0%, 1%]\n2\t100.00000000%\t[0%, 1%]\n"
        self.assertRaises(BenchError, parse_hellaswag, jump)
        skipped = "task\tacc_norm\t95% confidence interval\n1\t0.00000000%\t[0%, 1%]\n3\t0.00000000%\t[0%, 1%]\n"
        self.assertRaises(BenchError, parse_hellaswag, skipped)
        odd = "task\tacc_norm\t95% confidence interval\n1\t40.00000000%\t[0%, 1%]\n"
        self.assertRaises(BenchError, parse_hellaswag, odd)
        garbage = "task\tacc_norm\t95% confidence interval\n1\t0.00000000%\t[0%, 1%]\nsegfault\n"
        self.assertRaises(BenchError, parse_hellaswag, garbage)

    def test_log_seconds(self):
        self.assertAlmostEqual(log_seconds(SAMPLE_HELLASWAG_STDERR, "calculating hellaswag score"), 0.472578)
        self.assertAlmostEqual(log_seconds("1.02.003.004 I x: marker\n", "marker"), 62.003004)
        self.assertIsNone(log_seconds(SAMPLE_HELLASWAG_STDERR, "not there"))

    def test_parse_kld(self):
        r = parse_kld(SAMPLE_KLD, SAMPLE_KLD_STDERR)
        self.assertEqual((r["kld_mean"], r["kld_p99"], r["kld_median"], r["kld_max"]),
                         (0.061328, 0.373479, 0.042617, 1.548171))
        self.assertAlmostEqual(r["same_top1"], 0.85490)
        self.assertEqual((r["ppl_candidate"], r["ppl_base"]), (38.833589, 36.940334))
        self.assertEqual((r["chunks"], r["ctx"], r["tokens"], r["chunk_rows"]), (4, 512, 1020, 4))
        self.assertRaises(BenchError, parse_kld, SAMPLE_KLD.replace("Same top p", "Same top q"))
        self.assertRaises(BenchError, parse_kld, SAMPLE_KLD.replace("Mean    KLD", "Mean KL"))

    def test_parse_ppl_base(self):
        r = parse_ppl_base(SAMPLE_BASE_STDERR)
        self.assertEqual((r["ppl"], r["ppl_err"], r["chunks"], r["ctx"]), (36.9404, 3.85317, 4, 512))
        self.assertAlmostEqual(r["tokenize_s"], 0.932118)
        self.assertRaises(BenchError, parse_ppl_base, "nothing\n")

    def test_gguf_vocab(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "t.gguf")
            with open(path, "wb") as f:
                f.write(tiny_gguf(["<s>", "a", "bb", "ccc"]))
            self.assertEqual(gguf_vocab(path), 4)
            self.assertEqual(gguf_metadata(path)["tokenizer.ggml.scores"].values, [0.5, -1.0])
            whole = tiny_gguf(["<s>", "a", "bb", "ccc"])
            for cut in (3, 10, 30, len(whole) - 5):
                with open(path, "wb") as f:
                    f.write(whole[:cut])
                self.assertRaises(ValueError, gguf_metadata, path)
            huge = whole.replace(struct.pack("<IIQ", GGUF_ARRAY, GGUF_STRING, 4),
                                 struct.pack("<IIQ", GGUF_ARRAY, GGUF_STRING, 1 << 60))
            with open(path, "wb") as f:
                f.write(huge)
            self.assertRaises(ValueError, gguf_metadata, path)
            with open(path, "wb") as f:
                f.write(b"GGUF" + struct.pack("<IQQ", 3, 0, 1 << 40))
            self.assertRaises(ValueError, gguf_metadata, path)

    def test_case_verdicts(self):
        report = {"cases": [{"id": "0", "passed": True}, {"id": "1", "passed": False}]}
        self.assertEqual(case_verdicts(report, [0, 1], {0: 24, 1: 92})[0], {0: True, 1: False})
        report = {"cases": [{"id": "24", "passed": True, "acc_per_token": False}, {"id": "92", "passed": False,
                                                                                   "acc_per_token": True}]}
        got, field, how = case_verdicts(report, [0, 1], {0: 24, 1: 92})
        self.assertEqual((got, field, how), ({0: False, 1: True}, "acc_per_token", "native_id"))
        report = {"cases": [{"id": "hellaswag-1", "passed": True}]}
        self.assertEqual(case_verdicts(report, [1], {1: 5})[2], "trailing integer = doc_id")
        report = {"cases": [{"id": "q-a", "passed": True}]}
        self.assertEqual(case_verdicts(report, [1], {1: 5})[2], "position (ids did not match doc_ids)")
        self.assertRaises(BenchError, case_verdicts, {"cases": [{"id": "x", "passed": "yes"}]}, [1], {})
        self.assertRaises(BenchError, case_verdicts, {"cases": []}, [1], {})

    def test_run_measured(self):
        with tempfile.TemporaryDirectory() as tmp:
            r = run_measured("t", [sys.executable, "-c", "b = bytearray(64 << 20); print('hi')"], tmp, 60)
            self.assertEqual((r["rc"], r["stdout"].strip()), (0, "hi"))
            self.assertGreater(r["peak_rss"], 64 << 20)
            started = time.perf_counter()
            self.assertRaises(BenchError, run_measured, "sleepy", ["sleep", "30"], tmp, 0.5)
            self.assertLess(time.perf_counter() - started, 10)


def self_test():
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(SelfTest)
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    return 0 if result.wasSuccessful() else 1


# --- main ---------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modelgate", help="the modelgate binary (default: target/release/modelgate, "
                        "else target/debug/modelgate)")
    parser.add_argument("--llama-tools", metavar="DIR", help="dir with llama-perplexity and llama-quantize "
                        "(default: scripts/llama-tools.sh's output)")
    parser.add_argument("--suites", metavar="DIR", help="the suites dir (default: scripts/eval-data.sh's output)")
    parser.add_argument("--gguf", help="model for HellaSwag (default: the SmolLM2-135M-Instruct Q4_1 fixture)")
    parser.add_argument("--tasks", type=int, default=200, help="HellaSwag documents, the first N by doc_id (200)")
    parser.add_argument("--threads", type=int, default=2, help="threads for both sides (2)")
    parser.add_argument("--ctx", type=int, default=512, help="KLD window in tokens (512)")
    parser.add_argument("--chunks", type=int, default=20, help="KLD windows (20)")
    parser.add_argument("--base", help="KLD base GGUF (F16); with --candidate")
    parser.add_argument("--candidate", help="KLD candidate GGUF (quantized); with --base")
    parser.add_argument("--vocab", type=int, help="vocabulary size for the RSS budget (default: from the GGUF)")
    parser.add_argument("--cache", default=os.path.expanduser("~/.cache/modelgate/eval-bench"),
                        help="where the default F16 / Q4_K_M GGUFs are made once (%(default)s)")
    parser.add_argument("--only", choices=["hellaswag", "kld"], help="run one comparison")
    parser.add_argument("--skip-modelgate", action="store_true", help="run llama.cpp's side only (no modelgate "
                        "needed): checks the set-up and the parsers on real output")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per subprocess (1800)")
    parser.add_argument("--nice", type=int, default=0, help="run both sides under `nice -n N` (0)")
    parser.add_argument("--logs", metavar="DIR", help="keep the processes' stdout/stderr and the task file here "
                        "(default: a temporary dir, removed)")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON line at the end")
    parser.add_argument("--verify-order", action="store_true", help="check the replayed HellaSwag task order "
                        "against the real llama-perplexity (a few seconds) and exit")
    parser.add_argument("--self-test", action="store_true", help="test the parsers offline and exit")
    args = parser.parse_args()
    if args.self_test:
        return self_test()
    if args.tasks < 1 or args.threads < 1 or args.chunks < 1 or args.ctx < 16 or args.timeout <= 0:
        parser.error("--tasks, --threads, --chunks >= 1, --ctx >= 16, --timeout > 0")
    if args.vocab is not None and args.vocab < 1:
        parser.error("--vocab >= 1")

    try:
        bins = {}
        if not (args.skip_modelgate or args.verify_order):
            bins["modelgate"] = find_modelgate(args.modelgate)
            if args.only in (None, "hellaswag"):
                check_modelgate_command(bins["modelgate"], ["eval"])
            if args.only in (None, "kld"):
                check_modelgate_command(bins["modelgate"], ["eval", "divergence"])
        tools = args.llama_tools or script_output("llama-tools.sh")
        bins["llama-perplexity"] = tool(tools, "llama-perplexity")
        bins["llama-quantize"] = tool(tools, "llama-quantize")
        args.gguf = os.path.abspath(args.gguf or default_fixture())
        if not args.verify_order:
            args.suites = os.path.abspath(args.suites or script_output("eval-data.sh"))
        print(f"modelgate: {bins.get('modelgate', '(skipped)')}\nllama.cpp tools: {tools}\n"
              f"threads {args.threads}, {os.cpu_count()} CPUs", flush=True)
        if args.logs:
            os.makedirs(args.logs, exist_ok=True)
            logdir, cleanup = os.path.abspath(args.logs), None
        else:
            cleanup = tempfile.TemporaryDirectory(prefix="mg-eval-bench-")
            logdir = cleanup.name
        try:
            if args.verify_order:
                verify_order(args, bins, logdir)
                return 0
            summary = {"meta": {"threads": args.threads, "cpus": os.cpu_count(), "nice": args.nice,
                                "modelgate": bins.get("modelgate"), "llama_tools": tools}}
            goals = []
            if args.only in (None, "hellaswag"):
                summary["hellaswag"], g = bench_hellaswag(args, bins, logdir)
                goals += g
            if args.only in (None, "kld"):
                summary["kld"], g = bench_kld(args, bins, logdir)
                goals += g
        finally:
            if cleanup is not None:
                cleanup.cleanup()
    except (BenchError, ValueError, OSError, subprocess.TimeoutExpired) as e:
        print(f"eval_vs_llama_cpp: {e}", file=sys.stderr)
        return 1

    if goals:
        print("\nmodelgate against llama.cpp (goals):")
        for g in goals:
            print(f"  {g['what']:<54} {g['value']:10.4f}   goal {g['goal']:<12} "
                  f"{'' if g['goal'] == 'informative' else ('met' if g['met'] else 'NOT met')}")
    summary["goals"] = goals
    if args.json:
        print(json.dumps(summary, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
