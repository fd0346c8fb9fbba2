"""The latency and memory modelgate's gateway adds, against the LiteLLM proxy,
over the same fast mock upstream, in one run.

A mock OpenAI upstream (asyncio, raw HTTP/1.1 keep-alive, one fixed
chat.completion answer) runs for the whole run. The load generator is `oha`
(fixed rate `-q R --latency-correction`, so a late request counts from when it
was due, keep-alive on, `-c CONNECTIONS`, `-w` to let requests running at the
deadline finish). Every request is the same POST /v1/chat/completions whose
prompt carries an email address, so masking has work to do.

  modelgate  `modelgate serve` as a pure gateway (no --models) with every layer
             on: key auth, the route allow-list, RPM and TPM limits (set far
             above the load, so checked but never refusing), masking
             (external = "mask"), the usage log (prompts = true), metrics and a
             price table.
  modelgate-redis
             the same, with the RPM/TPM limits counted in Redis
             (`serve --redis`, a `redis-server` started on loopback for the
             run): what sharing the limits across replicas adds
  litellm    `litellm --config` (`litellm[proxy]` from bench/requirements.txt,
             in the bench venv), master key, no database, --num_workers 1.

Each measured point runs oha straight at the mock ("direct"), then through the
system, seconds apart. What is printed, per system and point:

  p50/p99 added  percentile through the system minus the same percentile
                 direct (ms; a difference of percentiles, not a percentile of
                 differences)
  1 concurrent   one connection, requests back to back, --duration seconds
  N RPS          fixed rate N (--rates), --duration seconds
  sustained      on the ladder 100, 150, 225, ... (x1.5 from --ladder-start, up
                 to --max-rate): the highest rate before the first that fails
                 "p99 added < 5 ms, >= 95% of the due requests answered 2xx, no
                 errors"; the ladder goes on while the system keeps up (>= 95%
                 answered, no errors) and the direct run does too
  keeps up to    the highest ladder rate the system keeps up with at all
  idle RSS       VmRSS of the process tree after a 3 s warm-up and 2 s idle
  soak growth    modelgate only (--soak s at --soak-rate): idle VmRSS 2 s after
                 the soak minus idle VmRSS 2 s before it (after all the other
                 phases); also the peak and the first/last 5 s samples under load
  cores          CPU seconds per second of the system's processes and of oha
                 (2 shared cores: the generator and mock compete with it)

Non-2xx answers and connection errors are counted per point and flagged; a
point with any is never averaged in silently. Goals (issue): p99 added < 1 ms
at 1 concurrent and at 500 RPS (< 1.5 ms at 500 RPS with Redis); >= 20x lower p99 added than LiteLLM at the
highest rate LiteLLM keeps up with; idle RSS < 50 MB; soak growth < 5 MB
(MB = 10^6 bytes). Exit status 1 when modelgate or direct points had errors.

    python3 bench/gateway_vs_litellm.py [--modelgate target/release/modelgate]
        [--litellm PATH] [--oha PATH] [--only modelgate,modelgate-redis,litellm] [--duration 10]
        [--rates 200,500,1000] [--ladder-start 100] [--max-rate 5000] [--connections 64]
        [--soak 600] [--soak-rate 300] [--litellm-workers 1] [--quick] [--json OUT]

--quick: 2 s points, ladder up to 1,000 RPS, no soak (about 2 minutes). The
defaults take about 20 minutes, 10 of them the soak. Without --litellm, scripts/bench-venv.sh makes (once) the bench venv; without
--oha and none on PATH, `cargo install oha --locked` into ~/.cache/modelgate/oha
(about 5 minutes). Everything listens on 127.0.0.1 and is stopped at the end.
"""
import argparse
import asyncio
import http.client
import json
import math
import os
import resource
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROMPT = "Summarise the invoice and send it to jane.doe@example.com by Friday."
BODY = json.dumps({"model": "bench", "max_tokens": 16, "messages": [{"role": "user", "content": PROMPT}]})
MG_KEY_ENV, UPSTREAM_KEY, LITELLM_KEY = "MODELGATE_BENCH_UPSTREAM_KEY", "sk-bench-upstream", "sk-litellm-bench-master"
SUSTAIN_P99_MS, KEEP_UP = 5.0, 0.95
MB = 1e6

# --- the mock upstream (run as `--mock-upstream`, in its own process) ---------

MOCK_BODY = json.dumps({
    "id": "chatcmpl-bench", "object": "chat.completion", "created": 1700000000, "model": "bench-upstream",
    "choices": [{"index": 0, "finish_reason": "stop",
                 "message": {"role": "assistant", "content": "Done: the summary is on its way."}}],
    "usage": {"prompt_tokens": 21, "completion_tokens": 9, "total_tokens": 30}}).encode()
MOCK_ANSWER = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
               % len(MOCK_BODY)) + MOCK_BODY


class MockUpstream(asyncio.Protocol):
    """Answers every complete HTTP/1.1 request (Content-Length or chunked body)
    with MOCK_ANSWER on the same connection."""

    def connection_made(self, transport):
        self.transport, self.buf = transport, bytearray()

    def data_received(self, data):
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            length, close, chunked = 0, False, False
            for line in bytes(self.buf[:end]).lower().split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name, value = name.strip(), value.strip()
                if name == b"content-length":
                    length = int(value) if value.isdigit() else 0
                elif name == b"connection":
                    close = value == b"close"
                elif name == b"transfer-encoding":
                    chunked = b"chunked" in value
            if chunked:
                stop = self.buf.find(b"\r\n0\r\n\r\n", end + 2)
                if stop < 0:
                    return
                total = stop + 7
            elif len(self.buf) - (end + 4) < length:
                return
            else:
                total = end + 4 + length
            del self.buf[:total]
            self.transport.write(MOCK_ANSWER)
            if close:
                self.transport.close()
                return


def run_mock(lifetime):
    async def main():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(MockUpstream, "127.0.0.1", 0, backlog=1024)
        print(json.dumps({"port": server.sockets[0].getsockname()[1]}), flush=True)
        eof = asyncio.Event()  # the bench closed our stdin (or died): stop
        threading.Thread(target=lambda: (sys.stdin.read(), loop.call_soon_threadsafe(eof.set)), daemon=True).start()
        try:
            await asyncio.wait_for(eof.wait(), lifetime)
        except asyncio.TimeoutError:
            pass
        server.close()
    asyncio.run(main())


# --- processes -----------------------------------------------------------------

def tree(root):
    """root and its descendants (from /proc)."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rpartition(")")[2].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def tree_rss(root):
    total = 0
    for pid in tree(root):
        try:
            with open(f"/proc/{pid}/status") as f:
                total += sum(int(l.split()[1]) * 1024 for l in f if l.startswith("VmRSS:"))
        except (OSError, ValueError, IndexError):
            pass
    return total


def tree_cpu(root):
    total = 0.0
    for pid in tree(root):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            pass
    return total


class Proc:
    """A process in its own session (so its whole group is stopped), output to a log."""

    def __init__(self, name, argv, log_path, **popen):
        self.name, self.log_path = name, log_path
        self.log = open(log_path, "wb")
        popen.setdefault("stdout", self.log)
        popen.setdefault("stdin", subprocess.DEVNULL)
        self.proc = subprocess.Popen(argv, stderr=self.log, start_new_session=True, **popen)
        self.pid, self.port = self.proc.pid, None

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
        if self.proc.stdin:
            self.proc.stdin.close()
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 15)):
            try:
                os.killpg(self.pid, sig)
                self.proc.wait(timeout=wait)
                break
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue
        self.log.close()


def request(port, path, body=None, key=None, timeout=30):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {key}"} if key else {})
        conn.request("POST" if body else "GET", path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def start_mock(tmp, lifetime):
    mock = Proc("mock upstream", [sys.executable, os.path.abspath(__file__), "--mock-upstream", "--lifetime",
                                  str(lifetime)], os.path.join(tmp, "mock.log"),
                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    ready, _, _ = select.select([mock.proc.stdout], [], [], 30)
    line = mock.proc.stdout.readline() if ready else b""
    if not line:
        mock.stop()
        raise RuntimeError(f"the mock upstream did not start:\n{mock.log_tail()}")
    mock.port = json.loads(line)["port"]
    return mock


def wait_ready(proc, key, probe, timeout=180):
    """Poll until probe() gives a port and the port answers a chat completion with 200."""
    deadline, last = time.monotonic() + timeout, "no answer"
    while time.monotonic() < deadline:
        proc.check_alive()
        try:
            proc.port = proc.port or probe()
            if proc.port:
                status, body = request(proc.port, "/v1/chat/completions", BODY, key)
                if status == 200:
                    return proc
                last = f"HTTP {status} to a chat completion: {body[:300]!r}"
        except OSError as e:
            last = str(e)
        time.sleep(0.3)
    raise RuntimeError(f"{proc.name} was not ready in {timeout} s ({last}):\n{proc.log_tail()}")


def start_redis(tmp):
    port = free_port()
    proc = Proc("redis-server", ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                 "--appendonly", "no"], os.path.join(tmp, "redis.log"))
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, f"redis://127.0.0.1:{port}"
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not listen:\n{proc.log_tail()}")
            time.sleep(0.05)


def start_modelgate(binary, tmp, mock_port, redis_url=None):
    os.makedirs(tmp)
    env = dict(os.environ, MODELGATE_HOME=os.path.join(tmp, "home"), **{MG_KEY_ENV: UPSTREAM_KEY})

    def cli(*args):
        done = subprocess.run([binary, *args], env=env, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"modelgate {' '.join(args)}: exit {done.returncode}\n{done.stderr}")
        return done.stdout
    key = json.loads(cli("keys", "create", "--team", "bench", "--rpm", "100000000", "--tpm", "4000000000",
                         "--by", "bench", "--format", "json"))["key"]
    cli("teams", "grant", "bench", "bench", "--by", "bench")
    config = os.path.join(tmp, "serve.toml")
    with open(config, "w") as f:
        f.write(f"""[[providers]]
name = "mock"
kind = "openai"
base_url = "http://127.0.0.1:{mock_port}/v1"
api_key_env = "{MG_KEY_ENV}"
timeout_ms = 30000

[[routes]]
name = "bench"
[[routes.targets]]
provider = "mock"
model = "bench-upstream"

[[prices]]
model = "mock/bench-upstream"
input_per_mtok = 1.0
output_per_mtok = 2.0

[masking]
external = "mask"
restore = true

[logging]
prompts = true
""")
    log = os.path.join(tmp, "modelgate.log")
    shared = ["--redis", redis_url] if redis_url else []
    proc = Proc("modelgate serve", [binary, "serve", "--config", config, "--listen", "127.0.0.1:0", *shared], log,
                env=env)
    marker = "modelgate serve: ready on http://127.0.0.1:"

    def probe():
        with open(log, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        return int(text.split(marker, 1)[1].split("/", 1)[0]) if marker in text else None
    return wait_ready(proc, key, probe), key


def start_litellm(litellm, tmp, mock_port, workers):
    port = free_port()
    os.makedirs(tmp)
    config = os.path.join(tmp, "litellm.yaml")
    with open(config, "w") as f:
        f.write(f"""model_list:
  - model_name: bench
    litellm_params:
      model: openai/bench-upstream
      api_base: http://127.0.0.1:{mock_port}/v1
      api_key: {UPSTREAM_KEY}
general_settings:
  master_key: {LITELLM_KEY}
""")
    env = dict(os.environ, LITELLM_LOCAL_MODEL_COST_MAP="True")
    argv = [litellm, "--config", config, "--host", "127.0.0.1", "--port", str(port), "--num_workers", str(workers)]
    proc = Proc("litellm", argv, os.path.join(tmp, "litellm.log"), env=env, cwd=tmp)

    def probe():
        return port if request(port, "/health/liveliness", timeout=5)[0] == 200 else None
    return wait_ready(proc, LITELLM_KEY, probe, timeout=300), LITELLM_KEY


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the load generator ------------------------------------------------------------

def version(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=60).stdout.strip()
    except OSError:
        return ""


def find_oha(given):
    oha = given or shutil.which("oha") or os.path.expanduser("~/.cache/modelgate/oha/bin/oha")
    if not given and not os.path.exists(oha):
        print("oha not found: cargo install oha --locked into ~/.cache/modelgate/oha (about 5 minutes)", flush=True)
        subprocess.run(["cargo", "install", "oha", "--locked", "--root", os.path.expanduser("~/.cache/modelgate/oha")],
                       check=True, timeout=3600)
    helptext = subprocess.run([oha, "--help"], capture_output=True, text=True, timeout=30).stdout
    if "--output-format" not in helptext or "--wait-ongoing-requests-after-deadline" not in helptext:
        raise SystemExit(f"{oha} is too old (no --output-format / -w): cargo install oha --locked --force")
    return oha


def parse_oha(text):
    """oha's --output-format json: 2xx / other status counts, connection errors,
    latency percentiles (ms; None when there were no answers)."""
    data = json.loads(text)
    codes = {int(k): int(v) for k, v in (data.get("statusCodeDistribution") or {}).items()}
    errors = {str(k): int(v) for k, v in (data.get("errorDistribution") or {}).items()}
    pct = data.get("latencyPercentiles") or {}

    def ms(key):
        v = pct.get(key)
        return v * 1000 if isinstance(v, (int, float)) and math.isfinite(v) else None
    return {"ok": sum(v for k, v in codes.items() if 200 <= k < 300),
            "non_2xx": sum(v for k, v in codes.items() if not 200 <= k < 300), "status": codes,
            "errors": errors, "p50_ms": ms("p50"), "p99_ms": ms("p99"), "p999_ms": ms("p99.9"),
            "rps": (data.get("summary") or {}).get("requestsPerSec")}


def run_oha(ctx, port, key, duration, rate, watch):
    argv = [ctx.oha, "--no-tui", "--output-format", "json", "-m", "POST", "-T", "application/json", "-d", BODY,
            "-H", f"Authorization: Bearer {key}", "-z", f"{int(duration * 1000)}ms", "-w", "-t", "30s"]
    argv += ["-q", str(rate), "--latency-correction", "-c", str(ctx.connections)] if rate else ["-c", "1"]
    argv.append(f"http://127.0.0.1:{port}/v1/chat/completions")
    cpu0 = {name: tree_cpu(pid) for name, pid in watch.items()}
    ru0, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 120)
    wall, ru1 = time.monotonic() - t0, resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"oha exited with {done.returncode}: {done.stderr[-1000:]}")
    out = parse_oha(done.stdout)
    out["cores"] = {name: round((tree_cpu(pid) - cpu0[name]) / wall, 3) for name, pid in watch.items()}
    out["cores"]["oha"] = round((ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime) / wall, 3)
    out["kept_up"] = not out["errors"] and not out["non_2xx"] and (
        not rate or out["ok"] >= KEEP_UP * rate * duration)
    return out


def point(ctx, system, rate, label):
    """Direct to the mock, then through the system, at one rate (None: 1 concurrent)."""
    direct = run_oha(ctx, ctx.mock.port, UPSTREAM_KEY, ctx.duration, rate, {"mock": ctx.mock.pid})
    through = run_oha(ctx, system["proc"].port, system["key"], ctx.duration, rate,
                      {"system": system["proc"].pid, "mock": ctx.mock.pid})
    system["proc"].check_alive()
    r = {"label": label, "rate": rate, "direct": direct, "through": through}
    for q in ("p50", "p99"):
        a, b = through[f"{q}_ms"], direct[f"{q}_ms"]
        r[f"{q}_added_ms"] = None if a is None or b is None else a - b
    r["sustains"] = through["kept_up"] and r["p99_added_ms"] is not None and r["p99_added_ms"] < SUSTAIN_P99_MS
    flag = "" if through["kept_up"] else "  NOT KEPT UP"
    flag += f"  ERRORS {through['non_2xx']} non-2xx {through['errors']}" if through["non_2xx"] or through["errors"] else ""
    flag += "" if direct["kept_up"] else "  (direct did not keep up: the bench is the limit)"
    print(f"  {system['name']:<9} {label:<14} p50 added {fmt(r['p50_added_ms'])} ms, p99 added "
          f"{fmt(r['p99_added_ms'])} ms (direct p99 {fmt(direct['p99_ms'])}), {through['ok']} ok, "
          f"cores {through['cores']}{flag}", flush=True)
    return r


def fmt(v, spec="8.3f"):
    return "       -" if v is None else format(v, spec)


def idle_rss(proc):
    time.sleep(2)
    return tree_rss(proc.pid)


def measure(ctx, system):
    proc = system["proc"]
    run_oha(ctx, proc.port, system["key"], 3, 100, {})  # warm-up
    system["idle_rss"] = idle_rss(proc)
    print(f"  {system['name']:<9} idle RSS {system['idle_rss'] / MB:.1f} MB", flush=True)
    system["points"] = [point(ctx, system, None, "1 concurrent")]
    system["points"] += [point(ctx, system, rate, f"{rate} RPS") for rate in ctx.rates]
    ladder, rate = [], float(ctx.ladder_start)
    while round(rate) <= ctx.max_rate:
        r = point(ctx, system, round(rate), f"ladder {round(rate)}")
        ladder.append(r)
        if not r["through"]["kept_up"] or not r["direct"]["kept_up"]:
            break
        rate *= 1.5
    system["ladder"] = ladder
    system["bench_limited"] = any(not r["direct"]["kept_up"] for r in ladder)
    passing = [r["rate"] for r in ladder[:next((i for i, r in enumerate(ladder) if not r["sustains"]), len(ladder))]]
    system["sustained_rps"] = passing[-1] if passing else None
    kept = [r["rate"] for r in ladder if r["through"]["kept_up"]]
    system["keeps_up_rps"] = kept[-1] if kept else None
    system["idle_rss_after_load"] = idle_rss(proc)


def soak(ctx, system):
    proc, samples, stop = system["proc"], [], threading.Event()
    before = idle_rss(proc)

    def sample():
        while not stop.wait(5):
            samples.append(tree_rss(proc.pid))
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        r = run_oha(ctx, proc.port, system["key"], ctx.soak, ctx.soak_rate, {"system": proc.pid})
    finally:
        stop.set()
        sampler.join()
    after = idle_rss(proc)
    system["soak"] = {"seconds": ctx.soak, "rate": ctx.soak_rate, "rss_before": before, "rss_after": after,
                      "rss_peak": max(samples + [before, after]), "growth": after - before, "load": r,
                      "rss_under_load": samples}
    print(f"  soak {ctx.soak:.0f} s at {ctx.soak_rate} RPS: idle RSS {before / MB:.1f} -> {after / MB:.1f} MB "
          f"(peak {system['soak']['rss_peak'] / MB:.1f}), {r['ok']} ok, p99 {fmt(r['p99_ms'])} ms"
          f"{'' if r['kept_up'] else '  NOT KEPT UP / ERRORS'}", flush=True)


def scrape_metrics(port):
    """modelgate's own counters: answered 2xx, refusals, usage records dropped."""
    status, body = request(port, "/metrics")
    out = {"requests_2xx": 0, "refusals": 0, "usage_records_dropped": 0}
    for line in body.decode("utf-8", "replace").splitlines():
        name, _, value = line.rpartition(" ")
        try:
            v = float(value)
        except ValueError:
            continue
        if name.startswith("modelgate_requests_total") and 'status="2' in name:
            out["requests_2xx"] += v
        elif name.startswith("modelgate_refusals_total"):
            out["refusals"] += v
        elif name.startswith("modelgate_usage_records_dropped"):
            out["usage_records_dropped"] += v
    return out if status == 200 else {"http_status": status}


# --- report ------------------------------------------------------------------------

def print_system(s):
    print(f"\n{s['name']}: {s['what']}")
    print(f"  {'point':<14} {'p50 added':>9} {'p99 added':>9} {'direct p99':>10} {'through p99':>11} "
          f"{'2xx':>7} {'errors':>6} {'sys cores':>9} {'oha cores':>9}")
    for r in s["points"] + s["ladder"]:
        t = r["through"]
        print(f"  {r['label']:<14} {fmt(r['p50_added_ms'], '9.3f')} {fmt(r['p99_added_ms'], '9.3f')} "
              f"{fmt(r['direct']['p99_ms'], '10.3f')} {fmt(t['p99_ms'], '11.3f')} {t['ok']:>7} "
              f"{t['non_2xx'] + sum(t['errors'].values()):>6} {t['cores'].get('system', 0):>9.2f} "
              f"{t['cores']['oha']:>9.2f}{'' if t['kept_up'] else '  not kept up'}")
    limit = "  (the mock/oha ran out first)" if s["bench_limited"] else ""
    low = f"< {s['ladder'][0]['rate']}" if s["ladder"] else "-"
    print(f"  sustained (p99 added < {SUSTAIN_P99_MS:g} ms): {s['sustained_rps'] or low} RPS; keeps up to "
          f"{s['keeps_up_rps'] or low} RPS{limit}")
    print(f"  idle RSS {s['idle_rss'] / MB:.1f} MB (after the load phases {s['idle_rss_after_load'] / MB:.1f} MB)")
    if s.get("soak"):
        k = s["soak"]
        load = k["rss_under_load"]
        drift = f", under load {load[0] / MB:.1f} -> {load[-1] / MB:.1f} MB" if load else ""
        print(f"  soak {k['seconds']:.0f} s at {k['rate']} RPS: idle-to-idle growth {k['growth'] / MB:+.2f} MB, "
              f"peak {k['rss_peak'] / MB:.1f} MB{drift}")
    if s.get("metrics"):
        print(f"  /metrics: {s['metrics']}")


def goals(systems):
    mg, ll = systems.get("modelgate"), systems.get("litellm")
    out = []

    def at(s, label):
        return next((r for r in s["points"] if r["label"] == label), None)

    def ok_point(r):
        return r is not None and r["through"]["kept_up"] and r["p99_added_ms"] is not None
    shared = systems.get("modelgate-redis")
    if shared:
        r = at(shared, "500 RPS")
        out.append(("modelgate-redis p99 added at 500 RPS (ms)", r and r["p99_added_ms"], "< 1.5",
                    None if r is None else ok_point(r) and r["p99_added_ms"] < 1.5))
    if mg:
        for label in ("1 concurrent", "500 RPS"):
            r = at(mg, label)
            out.append((f"modelgate p99 added at {label} (ms)", r and r["p99_added_ms"], "< 1",
                        None if r is None else ok_point(r) and r["p99_added_ms"] < 1.0))
        out.append(("modelgate idle RSS (MB)", mg["idle_rss"] / MB, "< 50", mg["idle_rss"] < 50 * MB))
        if mg.get("soak"):
            k = mg["soak"]
            out.append((f"modelgate RSS growth, {k['seconds']:.0f} s soak (MB)", k["growth"] / MB, "< 5",
                        None if k["seconds"] < 600 else k["growth"] < 5 * MB and k["load"]["kept_up"]))
    if mg and ll:
        rate = ll["keeps_up_rps"]
        pick = (lambda s: next((r for r in s["ladder"] if r["rate"] == rate), None)) if rate else (
            lambda s: at(s, "1 concurrent"))
        m, l = pick(mg), pick(ll)
        where = f"{rate} RPS" if rate else "1 concurrent (LiteLLM keeps up with no ladder rate)"
        ratio = l["p99_added_ms"] / max(m["p99_added_ms"], 1e-3) if ok_point(m) and l and l["p99_added_ms"] else None
        out.append((f"LiteLLM / modelgate p99 added at {where}", ratio, ">= 20", ratio is not None and ratio >= 20))
    return out


def main():
    if "--mock-upstream" in sys.argv:
        run_mock(float(sys.argv[sys.argv.index("--lifetime") + 1]))
        return
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--modelgate", default=os.path.join(ROOT, "target/release/modelgate"))
    p.add_argument("--litellm", help="the litellm executable (default: from scripts/bench-venv.sh)")
    p.add_argument("--litellm-workers", type=int, default=1)
    p.add_argument("--oha", help="the oha executable (default: on PATH, else installed once)")
    systems_known = ["modelgate", "modelgate-redis", "litellm"]
    p.add_argument("--only", help=f"comma-separated, of {', '.join(systems_known)}")
    p.add_argument("--duration", type=float, default=10.0, help="seconds per measured point")
    p.add_argument("--rates", default="200,500,1000")
    p.add_argument("--ladder-start", type=int, default=100, help="first rate of the x1.5 ladder")
    p.add_argument("--max-rate", type=int, default=5000, help="top of the ladder")
    p.add_argument("--connections", type=int, default=64, help="oha -c at fixed rates")
    p.add_argument("--soak", type=float, default=600.0, help="seconds; 0 skips the soak")
    p.add_argument("--soak-rate", type=int, default=300)
    p.add_argument("--quick", action="store_true", help="2 s points, ladder to 1000, no soak")
    p.add_argument("--json", metavar="OUT")
    ctx = p.parse_args()
    ctx.rates = [int(r) for r in ctx.rates.split(",") if r.strip()]
    if ctx.quick:
        ctx.duration, ctx.soak, ctx.max_rate = 2.0, 0.0, min(ctx.max_rate, 1000)
    if ctx.duration < 1 or not 1 <= ctx.ladder_start <= ctx.max_rate or ctx.connections < 1 or min(ctx.rates) < 1:
        p.error("--duration >= 1, 1 <= --ladder-start <= --max-rate, --connections >= 1, rates >= 1")
    names = [n.strip() for n in ctx.only.split(",")] if ctx.only else systems_known
    if any(n not in systems_known for n in names):
        p.error(f"--only: choose from {', '.join(systems_known)}")
    ctx.modelgate = os.path.abspath(ctx.modelgate)
    if any(n.startswith("modelgate") for n in names) and not os.access(ctx.modelgate, os.X_OK):
        p.error(f"{ctx.modelgate} is not an executable: build it (cargo build --release) or pass --modelgate")
    ctx.oha = find_oha(ctx.oha)
    if "litellm" in names and not ctx.litellm:
        bindir = subprocess.run([os.path.join(ROOT, "scripts/bench-venv.sh")], capture_output=True, text=True,
                                check=True).stdout.strip()
        ctx.litellm = os.path.join(bindir, "litellm")
    meta = {"cpus": os.cpu_count(), "duration": ctx.duration, "connections": ctx.connections, "rates": ctx.rates,
            "oha": version([ctx.oha, "--version"])}
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the finally below stops everything
    systems, started = {}, []
    with tempfile.TemporaryDirectory(prefix="mg-gw-bench-") as tmp:
        try:
            ctx.mock = start_mock(tmp, lifetime=4 * 3600 + 2 * ctx.soak)
            started.append(ctx.mock)
            for name in names:
                print(f"{name}: starting", flush=True)
                if name == "modelgate":
                    proc, key = start_modelgate(ctx.modelgate, os.path.join(tmp, "mg"), ctx.mock.port)
                    what = "every layer on (key auth, route allow-list, RPM/TPM, masking, usage log, metrics, prices)"
                    meta["modelgate"] = version([ctx.modelgate, "--version"])
                elif name == "modelgate-redis":
                    redis_dir = os.path.join(tmp, "redis")
                    os.makedirs(redis_dir)
                    redis, url = start_redis(redis_dir)
                    started.append(redis)
                    proc, key = start_modelgate(ctx.modelgate, os.path.join(tmp, "mg-redis"), ctx.mock.port, url)
                    what = "the same, with the limits counted in Redis (serve --redis)"
                    meta["redis"] = version(["redis-server", "--version"])
                else:
                    proc, key = start_litellm(ctx.litellm, os.path.join(tmp, "ll"), ctx.mock.port, ctx.litellm_workers)
                    what = f"LiteLLM proxy, master key, no database, {ctx.litellm_workers} worker(s)"
                    meta["litellm"] = version([os.path.join(os.path.dirname(ctx.litellm), "python"), "-c",
                                               "import importlib.metadata as m; print(m.version('litellm'))"])
                started.append(proc)
                system = systems[name] = {"name": name, "what": what, "proc": proc, "key": key}
                measure(ctx, system)
                if name == "modelgate" and ctx.soak > 0:
                    soak(ctx, system)
                if name.startswith("modelgate"):
                    system["metrics"] = scrape_metrics(proc.port)
                proc.stop()
                started.remove(proc)
        except Exception:
            for proc in started:
                print(f"--- {proc.name} log tail ---\n{proc.log_tail()}", file=sys.stderr)
            raise
        finally:
            for proc in reversed(started):
                proc.stop()
    for s in systems.values():
        print_system(s)
    checks = goals(systems)
    print("\ngoals (issue):")
    for label, value, goal, ok in checks:
        verdict = "n/a (not measured, or soak under 600 s)" if ok is None else "PASS" if ok else "FAIL"
        print(f"  {label:<62} {fmt(value, '9.3f')}   goal {goal:<6} {verdict}")
    flagged = [f"{n} {r['label']}" for n, s in systems.items() for r in s["points"] + s["ladder"]
               if r["through"]["non_2xx"] or r["through"]["errors"] or r["direct"]["non_2xx"] or r["direct"]["errors"]]
    if flagged:
        print(f"\nFLAGGED: points with non-2xx answers or errors: {', '.join(flagged)}")
    if ctx.json:
        for s in systems.values():
            s.pop("proc")
            s.pop("key")
        with open(ctx.json, "w") as f:
            json.dump({"meta": meta, "systems": systems, "goals": [
                {"what": label, "value": value, "goal": goal, "pass": ok} for label, value, goal, ok in checks]}, f,
                indent=2)
            f.write("\n")
    return 1 if any(not f.startswith("litellm ") for f in flagged) else 0


if __name__ == "__main__":
    sys.exit(main())
