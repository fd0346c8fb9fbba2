"""`modelgate serve` against llama.cpp's own `llama-server`, on the same GGUF,
threads, slots and context, one server at a time.

For each concurrency N both servers run with N slots (llama-server: `-np N -c
CTX*N`; modelgate: `--slots N --ctx CTX`, context per slot). The workload is N
concurrent streaming `/v1/completions` requests, temperature 0, `max_tokens`
--tokens, each with its own prompt (so no prompt cache can serve it), started
together; each round waits for all of them. Measured per server and N:

  decode     per stream: (completion tokens - 1) / (last token - first token)
  TTFT       request sent -> first token, per stream (includes queueing)
  aggregate  all completion tokens of a round / the round's wall time
  /v1/models latency over 1000 sequential requests on one keep-alive connection
  RSS        peak VmRSS (kernel high-water mark, and sampled every 20 ms) and
             peak RssAnon, against the model file plus the f16 KV cache of
             slots x ctx tokens (from the GGUF's own hyperparameters)

Latencies are measured by this client (Python, stdlib only), so they include
its own overhead; on 2 cores the client shares the CPU with the server (its CPU
seconds are reported). Medians over all streams of all rounds.

    python bench/serve_vs_llama_server.py --modelgate target/release/modelgate \\
        [--llama-server PATH] [--gguf PATH] [--threads 2] [--ctx-per-slot 1024] \\
        [--concurrency 1,4,8,16] [--tokens 128] [--rounds 3] [--only NAME] [--json OUT]

Without --llama-server, scripts/llama-tools.sh builds (once) or finds it.
"""
import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
START_TIMEOUT = 180.0
REQUEST_TIMEOUT = 300.0
MODELS_REQUESTS = 1000


# --- the KV cache the model needs, from the GGUF header --------------------

GGUF_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}


def gguf_metadata(path):
    """The GGUF's key/value metadata (arrays other than small integer ones are
    skipped); bounded reads, so a damaged file fails instead of looping."""
    with open(path, "rb") as f:
        def read(n):
            data = f.read(n)
            if len(data) != n:
                raise ValueError(f"{path}: truncated GGUF header")
            return data

        def unpack(fmt):
            return struct.unpack(fmt, read(struct.calcsize(fmt)))[0]

        def string():
            n = unpack("<Q")
            if n > 1 << 24:
                raise ValueError(f"{path}: implausible string length {n}")
            return read(n).decode("utf-8", "replace")

        def value(kind):
            if kind in GGUF_SCALARS:
                return unpack(GGUF_SCALARS[kind])
            if kind == 8:
                return string()
            if kind == 9:
                inner, count = unpack("<I"), unpack("<Q")
                if count > 1 << 26:
                    raise ValueError(f"{path}: implausible array length {count}")
                if inner == 8:
                    for _ in range(count):
                        string()
                    return None
                if inner not in GGUF_SCALARS:
                    raise ValueError(f"{path}: bad array type {inner}")
                size = struct.calcsize(GGUF_SCALARS[inner])
                if count > 4096:
                    f.seek(size * count, 1)
                    return None
                return list(struct.unpack(f"<{count}{GGUF_SCALARS[inner][1]}", read(size * count)))
            raise ValueError(f"{path}: bad value type {kind}")

        if read(4) != b"GGUF":
            raise ValueError(f"{path} is not a GGUF file")
        version = unpack("<I")
        if version < 2:
            raise ValueError(f"{path}: GGUF version {version} is not supported")
        unpack("<Q")  # tensor count
        kv_count = unpack("<Q")
        if kv_count > 1 << 20:
            raise ValueError(f"{path}: implausible metadata count {kv_count}")
        meta = {}
        for _ in range(kv_count):
            key = string()
            meta[key] = value(unpack("<I"))
        return meta


def kv_bytes_per_token(path):
    """f16 K and V bytes per token of context, over all layers."""
    meta = gguf_metadata(path)
    arch = meta["general.architecture"]
    layers = int(meta[f"{arch}.block_count"])
    heads = meta[f"{arch}.attention.head_count"]
    kv_heads = meta.get(f"{arch}.attention.head_count_kv", heads)
    heads = max(heads) if isinstance(heads, list) else heads
    embd = int(meta[f"{arch}.embedding_length"])
    k_len = int(meta.get(f"{arch}.attention.key_length", embd // heads))
    v_len = int(meta.get(f"{arch}.attention.value_length", embd // heads))
    per_layer = kv_heads if isinstance(kv_heads, list) else [kv_heads] * layers
    return sum(int(h) * (k_len + v_len) * 2 for h in per_layer[:layers])


# --- processes ---------------------------------------------------------------

def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_status(pid):
    """VmRSS, VmHWM, RssAnon, RssFile in bytes ({} once the process is gone)."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                    out[key] = int(rest.split()[0]) * 1024
    except OSError:
        pass
    return out


def proc_cpu_seconds(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def busy_cores(seconds=1.0):
    """Cores busy machine-wide over a short window (other work skews a bench)."""
    def sample():
        with open("/proc/stat") as f:
            parts = [int(x) for x in f.readline().split()[1:]]
        return sum(parts), parts[3] + parts[4]
    total0, idle0 = sample()
    time.sleep(seconds)
    total1, idle1 = sample()
    ticks = os.sysconf("SC_CLK_TCK")
    return ((total1 - total0) - (idle1 - idle0)) / ticks / seconds


class Server:
    """A server process bound to 127.0.0.1, its memory sampled while it runs."""

    def __init__(self, name, argv, log_path, env=None):
        self.name = name
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, env=env,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        self.host, self.port = "127.0.0.1", None
        self.peak = {"VmRSS": 0, "RssAnon": 0}
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _sample(self):
        while not self._stop.is_set():
            status = proc_status(self.proc.pid)
            for key in self.peak:
                self.peak[key] = max(self.peak[key], status.get(key, 0))
            self._stop.wait(0.02)

    def memory(self):
        status = proc_status(self.proc.pid)
        return {
            "peak_rss": max(self.peak["VmRSS"], status.get("VmHWM", 0)),
            "peak_rss_anon": self.peak["RssAnon"],
            "rss_file_now": status.get("RssFile", 0),
        }

    def log_tail(self, n=30):
        try:
            with open(self.log_path, "rb") as f:
                return b"\n".join(f.read().splitlines()[-n:]).decode("utf-8", "replace")
        except OSError:
            return ""

    def check_alive(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")

    def stop(self):
        self._stop.set()
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=15)
        self.log.close()


def start_llama_server(binary, gguf, threads, slots, ctx_per_slot, logdir):
    port = free_port()
    # Prompt-cache RAM off (modelgate keeps no copies of idle slots' KV) and
    # no web UI; everything else at llama-server's defaults (continuous
    # batching on, per-slot KV since -np is given).
    argv = [binary, "-m", gguf, "-t", str(threads), "-c", str(ctx_per_slot * slots),
            "-np", str(slots), "-cb", "--cache-ram", "0", "--no-webui",
            "--host", "127.0.0.1", "--port", str(port)]
    server = Server("llama-server", argv, os.path.join(logdir, f"llama-server-{slots}.log"))
    server.port = port
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        server.check_alive()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/health")
            resp = conn.getresponse()
            resp.read()
            conn.close()
            if resp.status == 200:
                return server
        except OSError:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"llama-server did not become ready in {START_TIMEOUT:.0f} s:\n{server.log_tail()}")


def prepare_modelgate_home(binary, gguf, home):
    env = dict(os.environ, MODELGATE_HOME=home)
    added = subprocess.run([binary, "models", "add", gguf, "--name", "bench", "--version", "1",
                            "--by", "bench", "--format", "json"],
                           env=env, capture_output=True, text=True, timeout=600)
    if added.returncode != 0:
        raise RuntimeError(f"modelgate models add failed ({added.returncode}):\n{added.stderr}")
    decision = json.loads(added.stdout).get("decision")
    approve = [binary, "models", "approve", "bench@1", "--by", "bench"]
    if decision != "approved":
        approve += ["--override", "--note", f"serving benchmark (vet verdict: {decision})"]
    approved = subprocess.run(approve, env=env, capture_output=True, text=True, timeout=120)
    if approved.returncode != 0:
        raise RuntimeError(f"modelgate models approve failed ({approved.returncode}):\n{approved.stderr}")
    return decision


def start_modelgate(binary, home, threads, slots, ctx_per_slot, logdir):
    # The engine against the engine: llama-server runs without keys, so the
    # gateway runs without them too (its cost is bench/gateway_vs_litellm.py's).
    config = os.path.join(logdir, "serve.toml")
    with open(config, "w") as f:
        f.write("[auth]\nanonymous = true\n")
    argv = [binary, "serve", "--listen", "127.0.0.1:0", "--models", "bench@1", "--config", config,
            "--slots", str(slots), "--ctx", str(ctx_per_slot), "--threads", str(threads), "--by", "bench"]
    log_path = os.path.join(logdir, f"modelgate-{slots}.log")
    server = Server("modelgate serve", argv, log_path, env=dict(os.environ, MODELGATE_HOME=home))
    marker = "modelgate serve: ready on http://"
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        server.check_alive()
        with open(log_path, "rb") as f:
            for line in f.read().decode("utf-8", "replace").splitlines():
                if marker in line:
                    address = line.split(marker, 1)[1].split("/", 1)[0]
                    host, _, port = address.rpartition(":")
                    server.host, server.port = host, int(port)
                    if server.host != "127.0.0.1":
                        server.stop()
                        raise RuntimeError(f"modelgate serve listens on {address}, not 127.0.0.1")
                    return server
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"modelgate serve did not become ready in {START_TIMEOUT:.0f} s:\n{server.log_tail()}")


# --- the workload ------------------------------------------------------------

def prompt_for(tag):
    """A prompt the model continues without ending: a counting list, unique
    per request from its first token."""
    start = 1000 + (tag * 37) % 8000
    numbers = ", ".join(str(start + i) for i in range(40))
    return f"Run {tag}. Here is a long list of numbers, counting upwards by one:\n{numbers},"


def stream_completion(server, model, prompt, max_tokens):
    """One streaming completion; returns timings and token counts."""
    body = json.dumps({
        "model": model, "prompt": prompt, "max_tokens": max_tokens, "temperature": 0,
        "stream": True, "stream_options": {"include_usage": True},
        # llama-server's own field; modelgate ignores it (the prompt does not end early).
        "ignore_eos": True,
    })
    conn = http.client.HTTPConnection(server.host, server.port, timeout=REQUEST_TIMEOUT)
    try:
        sent = time.perf_counter()
        conn.request("POST", "/v1/completions", body=body, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        if resp.status != 200:
            raise RuntimeError(f"{server.name}: HTTP {resp.status}: {resp.read()[:500]!r}")
        first = last = None
        chunks = 0
        usage = None
        finish = None
        while True:
            line = resp.readline()
            if not line:
                break
            line = line.strip()
            if not line.startswith(b"data:"):
                continue
            data = line[5:].strip()
            if data == b"[DONE]":
                break
            event = json.loads(data)
            if event.get("usage"):
                usage = event["usage"]
            for choice in event.get("choices") or []:
                if choice.get("finish_reason"):
                    finish = choice["finish_reason"]
                if choice.get("text"):
                    now = time.perf_counter()
                    if first is None:
                        first = now
                    last = now
                    chunks += 1
        done = time.perf_counter()
    finally:
        conn.close()
    if first is None:
        raise RuntimeError(f"{server.name}: the stream carried no text")
    tokens = int(usage["completion_tokens"]) if usage and usage.get("completion_tokens") else chunks
    return {
        "sent": sent, "first": first, "last": last, "done": done, "tokens": tokens, "chunks": chunks,
        "prompt_tokens": int(usage["prompt_tokens"]) if usage and usage.get("prompt_tokens") else None,
        "finish": finish,
    }


def run_round(server, model, n, max_tokens, tag0):
    results = [None] * n
    errors = []
    barrier = threading.Barrier(n)

    def worker(i):
        try:
            barrier.wait(timeout=30)
            results[i] = stream_completion(server, model, prompt_for(tag0 + i), max_tokens)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(REQUEST_TIMEOUT + 60)
    if errors:
        raise errors[0]
    if any(r is None for r in results):
        raise RuntimeError(f"{server.name}: a request did not finish in time")
    return results


def models_latency(server, count=MODELS_REQUESTS):
    """Sequential GET /v1/models on one keep-alive connection (reconnecting,
    untimed, when the server closes it); seconds per request."""
    def connect():
        return http.client.HTTPConnection(server.host, server.port, timeout=30)
    conn = connect()
    times = []
    try:
        for i in range(count + 50):
            start = time.perf_counter()
            conn.request("GET", "/v1/models")
            resp = conn.getresponse()
            body = resp.read()
            took = time.perf_counter() - start
            if resp.status != 200:
                raise RuntimeError(f"{server.name}: GET /v1/models: HTTP {resp.status}: {body[:200]!r}")
            if i >= 50:  # the first 50 warm the connection and caches
                times.append(took)
            if resp.will_close:
                conn.close()
                conn = connect()
    finally:
        conn.close()
    times.sort()
    return {"p50": times[len(times) // 2], "p99": times[int(len(times) * 0.99) - 1], "max": times[-1]}


def served_model(server):
    conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
    try:
        conn.request("GET", "/v1/models")
        resp = conn.getresponse()
        data = json.loads(resp.read())
    finally:
        conn.close()
    return data["data"][0]["id"]


def measure(server, n, args, tag0):
    server.check_alive()
    model = served_model(server)
    stream_completion(server, model, prompt_for(10_000 + tag0), min(args.tokens, 32))  # warm-up
    cpu0 = proc_cpu_seconds(server.proc.pid)
    client0 = time.process_time()
    wall0 = time.perf_counter()
    streams, aggregates = [], []
    for r in range(args.rounds):
        results = run_round(server, model, n, args.tokens, tag0 + r * n)
        wall = max(x["done"] for x in results) - min(x["sent"] for x in results)
        aggregates.append(sum(x["tokens"] for x in results) / wall)
        streams.extend(results)
    wall = time.perf_counter() - wall0
    server_cpu = proc_cpu_seconds(server.proc.pid) - cpu0
    client_cpu = time.process_time() - client0
    latency = models_latency(server)
    server.check_alive()
    decode = [(x["tokens"] - 1) / (x["last"] - x["first"]) for x in streams if x["tokens"] > 1 and x["last"] > x["first"]]
    return {
        "model_id": model,
        "decode_tok_s": statistics.median(decode) if decode else None,
        "ttft_s": statistics.median(x["first"] - x["sent"] for x in streams),
        "ttft_p90_s": sorted(x["first"] - x["sent"] for x in streams)[int(0.9 * (len(streams) - 1))],
        "aggregate_tok_s": statistics.median(aggregates),
        "completion_tokens_mean": statistics.mean(x["tokens"] for x in streams),
        "completion_tokens_min": min(x["tokens"] for x in streams),
        "prompt_tokens": streams[0]["prompt_tokens"],
        "finish_reasons": sorted({str(x["finish"]) for x in streams}),
        "models_p50_ms": latency["p50"] * 1000,
        "models_p99_ms": latency["p99"] * 1000,
        "server_cpu_cores": server_cpu / wall,
        "client_cpu_cores": client_cpu / wall,
        **server.memory(),
    }


# --- report ------------------------------------------------------------------

def mib(b):
    return b / (1 << 20)


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def print_table(results, budgets):
    header = (f"{'server':<14}{'N':>3} {'decode tok/s':>12} {'TTFT ms':>8} {'TTFT p90':>9} {'agg tok/s':>10} "
              f"{'tokens':>7} {'/models p99 ms':>15} {'peak RSS MiB':>13} {'anon MiB':>9} {'budget MiB':>11} "
              f"{'srv cores':>10} {'cli cores':>10}")
    print(header)
    print("-" * len(header))
    for (name, n), r in sorted(results.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        print(f"{name:<14}{n:>3} {fmt(r['decode_tok_s'], '12.1f')} {r['ttft_s'] * 1000:8.1f} "
              f"{r['ttft_p90_s'] * 1000:9.1f} {r['aggregate_tok_s']:10.1f} {r['completion_tokens_mean']:7.1f} "
              f"{r['models_p99_ms']:15.3f} {mib(r['peak_rss']):13.1f} {mib(r['peak_rss_anon']):9.1f} "
              f"{mib(budgets[n]):11.1f} {r['server_cpu_cores']:10.2f} {r['client_cpu_cores']:10.2f}")


def ratios(results, concurrency, budgets):
    """The goals: modelgate / llama-server."""
    out = []

    def pair(n):
        return results.get(("modelgate", n)), results.get(("llama-server", n))

    mg, ls = pair(1)
    if mg and ls:
        out.append(("single-stream decode tok/s", mg["decode_tok_s"] / ls["decode_tok_s"], ">= 0.95", mg["decode_tok_s"] / ls["decode_tok_s"] >= 0.95))
        out.append(("single-stream TTFT", mg["ttft_s"] / ls["ttft_s"], "<= 1.10", mg["ttft_s"] / ls["ttft_s"] <= 1.10))
    for n in concurrency:
        if n == 1:
            continue
        mg, ls = pair(n)
        if mg and ls:
            ratio = mg["aggregate_tok_s"] / ls["aggregate_tok_s"]
            out.append((f"aggregate tok/s at {n}", ratio, ">= 0.95", ratio >= 0.95))
    for n in concurrency:
        mg = results.get(("modelgate", n))
        if mg:
            limit = budgets[n] + (100 << 20)
            out.append((f"modelgate peak RSS at {n} (MiB, limit {mib(limit):.0f})", mib(mg["peak_rss"]),
                        "<= file+KV+100 MiB", mg["peak_rss"] <= limit))
    p99 = [results[("modelgate", n)]["models_p99_ms"] for n in concurrency if ("modelgate", n) in results]
    if p99:
        out.append(("modelgate /v1/models p99 (ms, worst run)", max(p99), "< 1 ms", max(p99) < 1.0))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modelgate", default=os.path.join(ROOT, "target/release/modelgate"))
    parser.add_argument("--llama-server", help="default: from scripts/llama-tools.sh (built once)")
    parser.add_argument("--gguf", help="default: the SmolLM2-135M-Instruct Q4_1 fixture")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--ctx-per-slot", type=int, default=1024)
    parser.add_argument("--concurrency", default="1,4,8,16")
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=["llama-server", "modelgate"])
    parser.add_argument("--json", metavar="OUT", help="write the numbers as JSON")
    args = parser.parse_args()
    concurrency = [max(1, int(c)) for c in args.concurrency.split(",") if c.strip()]
    if args.tokens < 2 or args.rounds < 1 or args.threads < 1 or args.ctx_per_slot < 16:
        parser.error("--tokens >= 2, --rounds >= 1, --threads >= 1, --ctx-per-slot >= 16")

    gguf = args.gguf
    if not gguf:
        fixtures = subprocess.run([os.path.join(ROOT, "scripts/fixtures.sh")], capture_output=True,
                                  text=True, check=True).stdout.strip()
        gguf = os.path.join(fixtures, "smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
    gguf = os.path.abspath(gguf)
    servers = ["llama-server", "modelgate"] if args.only is None else [args.only]
    llama_server = args.llama_server
    if "llama-server" in servers and not llama_server:
        bindir = subprocess.run([os.path.join(ROOT, "scripts/llama-tools.sh")], capture_output=True,
                                text=True, check=True).stdout.strip()
        llama_server = os.path.join(bindir, "llama-server")
    modelgate = os.path.abspath(args.modelgate)

    file_size = os.path.getsize(gguf)
    per_token = kv_bytes_per_token(gguf)
    budgets = {n: file_size + per_token * args.ctx_per_slot * n for n in concurrency}
    print(f"model {gguf} ({mib(file_size):.1f} MiB, f16 KV {per_token} bytes/token); "
          f"threads {args.threads}, {args.ctx_per_slot} tokens per slot, {args.tokens} tokens per request, "
          f"{args.rounds} rounds", flush=True)

    results = {}
    meta = {"gguf": gguf, "file_bytes": file_size, "kv_bytes_per_token": per_token, "threads": args.threads,
            "ctx_per_slot": args.ctx_per_slot, "tokens": args.tokens, "rounds": args.rounds,
            "cpus": os.cpu_count(), "busy_cores_before": {}}
    with tempfile.TemporaryDirectory(prefix="mg-serve-bench-") as tmp:
        if "modelgate" in servers:
            home = os.path.join(tmp, "home")
            decision = prepare_modelgate_home(modelgate, gguf, home)
            meta["vet_decision"] = decision
            print(f"modelgate inventory in {home}: bench@1 (vet verdict {decision}), approved", flush=True)
        for n in concurrency:
            for name in servers:
                busy = busy_cores()
                meta["busy_cores_before"][f"{name}/{n}"] = busy
                if busy > 0.3:
                    print(f"warning: {busy:.2f} cores busy with other work before {name} N={n}; "
                          "numbers will be skewed", file=sys.stderr, flush=True)
                server = None
                try:
                    if name == "llama-server":
                        server = start_llama_server(llama_server, gguf, args.threads, n, args.ctx_per_slot, tmp)
                    else:
                        server = start_modelgate(modelgate, home, args.threads, n, args.ctx_per_slot, tmp)
                    r = measure(server, n, args, tag0=n * 1000)
                except Exception:
                    if server is not None:
                        print(f"--- {name} log tail ---\n{server.log_tail()}", file=sys.stderr)
                    raise
                finally:
                    if server is not None:
                        server.stop()
                results[(name, n)] = r
                print(f"{name:<13} N={n:<3} decode {fmt(r['decode_tok_s'], '.1f')} tok/s, TTFT "
                      f"{r['ttft_s'] * 1000:.0f} ms, aggregate {r['aggregate_tok_s']:.1f} tok/s, "
                      f"{r['completion_tokens_mean']:.0f} tokens/request ({r['prompt_tokens']} prompt), "
                      f"/v1/models p99 {r['models_p99_ms']:.3f} ms, peak RSS {mib(r['peak_rss']):.0f} MiB",
                      flush=True)
                if r["completion_tokens_min"] < args.tokens:
                    print(f"warning: {name} N={n}: some streams ended early (min "
                          f"{r['completion_tokens_min']} tokens, finish {r['finish_reasons']})",
                          file=sys.stderr, flush=True)

    print()
    print_table(results, budgets)
    goals = ratios(results, concurrency, budgets)
    if goals:
        print()
        print("modelgate / llama-server (goals from the serving issue):")
        for label, value, goal, ok in goals:
            print(f"  {label:<52} {value:8.3f}   goal {goal:<20} {'met' if ok else 'NOT met'}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({
                "meta": meta,
                "budget_bytes": {str(n): b for n, b in budgets.items()},
                "results": [{"server": name, "concurrency": n, **r} for (name, n), r in results.items()],
                "goals": [{"what": label, "value": value, "goal": goal, "met": ok} for label, value, goal, ok in goals],
            }, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
