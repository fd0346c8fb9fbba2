"""The real OpenAI Python SDK through `modelgate serve` as a gateway.

Run by crates/cli/tests/cli/gateway.rs, which starts the mock upstreams
(mock_upstreams.py), creates keys, assigns SmolLM2 and grants routes, and
starts the server with tests/gateway's config. Each check prints one line;
any failure raises, and the script exits non-zero.

    python gateway_client.py --base-url http://127.0.0.1:PORT/v1 --keys keys.json \
        --mock-openai http://127.0.0.1:PORT --modelgate BIN --home DIR
"""

import argparse
import concurrent.futures
import json
import os
import signal
import sqlite3
import subprocess
import time

import openai
import requests

p = argparse.ArgumentParser()
p.add_argument("--base-url", required=True)
p.add_argument("--keys", required=True)
p.add_argument("--mock-openai", required=True)
p.add_argument("--modelgate", required=True)
p.add_argument("--home", required=True)
p.add_argument("--config", required=True)
p.add_argument("--server-pid", type=int, required=True)
args = p.parse_args()

KEYS = json.load(open(args.keys))
ROOT = args.base_url.rsplit("/v1", 1)[0]
HI = [{"role": "user", "content": "Say hello."}]


def client(key, retries=0):
    return openai.OpenAI(base_url=args.base_url, api_key=key, max_retries=retries, timeout=120)


def check(name):
    def wrap(f):
        started = time.monotonic()
        f()
        print(f"ok  {name} ({time.monotonic() - started:.2f} s)", flush=True)
        return f

    return wrap


def modelgate(*argv):
    env = dict(os.environ, MODELGATE_HOME=args.home)
    out = subprocess.run([args.modelgate, *argv], env=env, capture_output=True, text=True)
    assert out.returncode == 0, f"modelgate {' '.join(argv)}: {out.returncode}\n{out.stderr}"
    return out.stdout


def received(traces=False):
    got = requests.get(f"{args.mock_openai}/_received", timeout=10).json()
    return [r for r in got if (r["path"] == "/v1/traces") == traces]


def spans():
    out = []
    for export in received(traces=True):
        for rs in export["body"]["resourceSpans"]:
            for ss in rs["scopeSpans"]:
                for span in ss["spans"]:
                    span["attrs"] = {
                        a["key"]: next(iter(a["value"].values())) for a in span["attributes"]
                    }
                    out.append(span)
    return out


def metric(name, **labels):
    text = requests.get(f"{ROOT}/metrics", timeout=10).text
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


@check("no key: 401 (AuthenticationError)")
def _():
    r = requests.post(f"{args.base_url}/chat/completions", json={"model": "mock", "messages": HI}, timeout=30)
    assert r.status_code == 401, r.text
    assert "modelgate keys create" in r.json()["error"]["message"]
    try:
        client("mg-000000000000-nope").chat.completions.create(model="mock", messages=HI)
        raise AssertionError("a wrong key was accepted")
    except openai.AuthenticationError as e:
        assert e.status_code == 401


@check("a granted route answers, names its target and carries x-ratelimit-*")
def _():
    raw = client(KEYS["search"]).chat.completions.with_raw_response.create(model="mock", messages=HI)
    reply = raw.parse()
    assert reply.choices[0].message.content == "You said: Say hello.", reply
    assert raw.headers["x-modelgate-target"] == "mock-openai/echo"
    assert raw.headers["x-ratelimit-limit-requests"] == "1000"
    assert int(raw.headers["x-ratelimit-remaining-requests"]) < 1000
    assert "x-ratelimit-remaining-tokens" in raw.headers
    assert reply.usage.prompt_tokens == 11
    sent = received()[-1]
    assert sent["headers"]["authorization"] == "Bearer sk-mock-upstream-key", sent["headers"]
    assert sent["headers"].get("x-request-id"), sent["headers"]


@check("403: a route not granted to the team, and a version not assigned")
def _():
    try:
        client(KEYS["other"]).chat.completions.create(model="mock", messages=HI)
        raise AssertionError("an ungranted route answered")
    except openai.PermissionDeniedError as e:
        assert "not granted the route `mock`" in e.message, e.message
    try:
        client(KEYS["other"]).chat.completions.create(model="smollm2@1.0", messages=HI, max_tokens=4)
        raise AssertionError("an unassigned version answered")
    except openai.PermissionDeniedError as e:
        assert "not assigned" in e.message, e.message


@check("403: confidential data never leaves for an external target")
def _():
    try:
        client(KEYS["legal"]).chat.completions.create(model="mock", messages=HI)
        raise AssertionError("confidential data left")
    except openai.PermissionDeniedError as e:
        assert "confidential" in e.message, e.message
    # The header raises the class of an internal key too.
    r = requests.post(
        f"{args.base_url}/chat/completions",
        headers={"authorization": f"Bearer {KEYS['search']}", "x-modelgate-data-class": "restricted"},
        json={"model": "mock", "messages": HI},
        timeout=30,
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "data_class", r.text
    # ...and a confidential request on a route with a local target stays local.
    raw = client(KEYS["legal"]).chat.completions.with_raw_response.create(
        model="fallback", messages=HI, max_tokens=8
    )
    assert raw.headers["x-modelgate-target"] == "smollm2@1.0"


@check("fallback: a failing upstream (500) passes the request to the local engine")
def _():
    before = metric("modelgate_fallbacks_total", target="mock-openai/fail500")
    raw = client(KEYS["search"]).chat.completions.with_raw_response.create(
        model="fallback", messages=HI, max_tokens=8
    )
    assert raw.headers["x-modelgate-target"] == "smollm2@1.0", raw.headers
    assert raw.parse().choices[0].message.content
    assert metric("modelgate_fallbacks_total", target="mock-openai/fail500") == before + 1
    # Streaming falls back the same way (nothing was sent yet).
    stream = client(KEYS["search"]).chat.completions.create(
        model="fallback", messages=HI, max_tokens=8, stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text


@check("Anthropic upstream: a Messages stream comes back as OpenAI chunks with usage")
def _():
    stream = client(KEYS["search"]).chat.completions.create(
        model="claude", messages=HI, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Claude heard: Say hello.", text
    usage = [c.usage for c in chunks if c.usage]
    assert usage and usage[-1].prompt_tokens == 13, usage
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finish == ["stop"], finish
    whole = client(KEYS["search"]).chat.completions.create(model="claude", messages=HI)
    assert whole.choices[0].message.content == "Claude heard: Say hello."
    assert whole.usage.prompt_tokens == 13


@check("personal data is masked before it leaves, and restored in the answer")
def _():
    requests.delete(f"{args.mock_openai}/_received", timeout=10)
    secret = "Mail jane.doe@example.com, card 4111 1111 1111 1111, IBAN GB82 WEST 1234 5698 7654 32."
    reply = client(KEYS["search"]).chat.completions.create(
        model="mock", messages=[{"role": "user", "content": secret}]
    )
    sent = json.dumps(received()[-1]["body"])
    for raw in ["jane.doe@example.com", "4111 1111 1111 1111", "GB82 WEST"]:
        assert raw not in sent, sent
    assert "[EMAIL_1]" in sent, sent
    assert reply.choices[0].message.content == "You said: " + secret, reply.choices[0].message.content
    stream = client(KEYS["search"]).chat.completions.create(
        model="mock", messages=[{"role": "user", "content": secret}], stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "You said: " + secret, text


@check("429 with headers when the requests-per-minute limit is reached")
def _():
    c = client(KEYS["tight"])
    for _ in range(2):
        c.chat.completions.create(model="mock", messages=HI)
    try:
        c.chat.completions.create(model="mock", messages=HI)
        raise AssertionError("the third request in a minute passed a 2-RPM key")
    except openai.RateLimitError as e:
        h = e.response.headers
        assert h["x-ratelimit-limit-requests"] == "2", dict(h)
        assert h["x-ratelimit-remaining-requests"] == "0"
        assert int(h["retry-after-ms"]) > 0
        assert e.code == "rate_limit_exceeded"


@check("a spent budget is 429 insufficient_quota, and the SDK does not retry it")
def _():
    c = client(KEYS["budget"], retries=3)
    c.chat.completions.create(model="mock", messages=HI)  # spends more than the budget
    before = metric("modelgate_refusals_total", reason="budget")
    try:
        c.chat.completions.create(model="mock", messages=HI)
        raise AssertionError("a spent budget was not refused")
    except openai.RateLimitError as e:
        assert e.code == "insufficient_quota", e.code
        assert e.response.headers["x-should-retry"] == "false"
    assert metric("modelgate_refusals_total", reason="budget") == before + 1


def concurrently(n, f):
    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        return list(pool.map(f, range(n)))


@check("100 concurrent requests against a 1,000-TPM key use at most the limit plus one reservation")
def _():
    c = client(KEYS["tpm"])

    def one(_):
        try:
            return c.chat.completions.create(model="mock", messages=HI, max_tokens=50).usage.total_tokens
        except openai.RateLimitError:
            return None

    used = concurrently(100, one)
    admitted = [u for u in used if u is not None]
    # The gateway reserves the prompt estimate (10 tokens here) + max_tokens.
    assert admitted and len(admitted) < 100, len(admitted)
    assert sum(admitted) <= 1000 + 60, (len(admitted), sum(admitted))


@check("50 concurrent requests against a nearly spent budget overshoot it by at most one worst case")
def _():
    c = client(KEYS["spend"])

    def one(_):
        try:
            return c.chat.completions.create(model="mock", messages=HI, max_tokens=5).usage.total_tokens
        except openai.RateLimitError as e:
            assert e.code == "insufficient_quota", e.code
            return None

    used = [u for u in concurrently(50, one) if u is not None]
    price = 10_000  # micro-dollars per token (10,000 USD per million)
    spent = sum(used) * price
    worst = (10 + 5) * price  # prompt estimate + max_tokens
    assert used and len(used) < 50, len(used)
    assert spent <= 1_000_000 + worst, (len(used), spent)


@check("SIGHUP reloads the routes; a broken config keeps the running one")
def _():
    original = open(args.config).read()
    modelgate("teams", "grant", "search", "mock-reloaded")
    c = client(KEYS["search"])
    try:
        c.chat.completions.create(model="mock-reloaded", messages=HI)
        raise AssertionError("the route exists before the reload")
    except openai.NotFoundError:
        pass
    open(args.config, "w").write(original + "\n[[routes]]\nname = \"oops\"\n")  # no targets
    os.kill(args.server_pid, signal.SIGHUP)
    time.sleep(0.5)
    assert c.chat.completions.create(model="mock", messages=HI).choices[0].message.content
    reloaded = original + '\n[[routes]]\nname = "mock-reloaded"\n[[routes.targets]]\nprovider = "mock-openai"\nmodel = "echo"\n'
    open(args.config, "w").write(reloaded)
    os.kill(args.server_pid, signal.SIGHUP)
    deadline = time.monotonic() + 5
    while True:
        try:
            raw = c.chat.completions.with_raw_response.create(model="mock-reloaded", messages=HI)
            assert raw.headers["x-modelgate-target"] == "mock-openai/echo"
            break
        except openai.NotFoundError:
            assert time.monotonic() < deadline, "the reload did not take effect"
            time.sleep(0.1)


@check("retries: a route whose every target fails is tried again after a backoff")
def _():
    requests.delete(f"{args.mock_openai}/_received", timeout=10)
    try:
        client(KEYS["search"]).chat.completions.create(model="flaky", messages=HI)
        raise AssertionError("a failing upstream answered")
    except openai.RateLimitError as e:
        assert e.code == "upstream_rate_limited", e.code
    tries = [r for r in received() if r["body"].get("model") == "fail429"]
    assert len(tries) == 2, len(tries)  # [routing] retries = 1


@check("traces: a span per request over OTLP with gen_ai.* attributes, traceparent continued")
def _():
    trace, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    requests.delete(f"{args.mock_openai}/_received", timeout=10)
    r = requests.post(
        f"{args.base_url}/chat/completions",
        headers={"authorization": f"Bearer {KEYS['search']}", "traceparent": f"00-{trace}-{parent}-01"},
        json={"model": "mock", "messages": HI},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    sent = received()[-1]["headers"]["traceparent"]
    _, sent_trace, sent_span, _ = sent.split("-")
    assert sent_trace == trace and sent_span != parent, sent
    deadline = time.monotonic() + 10
    while True:
        mine = [s for s in spans() if s["traceId"] == trace]
        if mine:
            break
        assert time.monotonic() < deadline, "no span reached the OTLP endpoint"
        time.sleep(0.2)
    span = mine[0]
    assert span["parentSpanId"] == parent and span["spanId"] == sent_span, span
    assert span["name"] == "chat mock", span["name"]
    a = span["attrs"]
    assert a["gen_ai.operation.name"] == "chat" and a["gen_ai.request.model"] == "mock", a
    assert a["gen_ai.system"] == "mock-openai" and a["gen_ai.response.model"] == "echo", a
    assert a["gen_ai.usage.input_tokens"] == "11" and a["modelgate.team"] == "search", a


@check("a stream cut by the upstream ends with an error event, never [DONE]")
def _():
    r = requests.post(
        f"{args.base_url}/chat/completions",
        headers={"authorization": f"Bearer {KEYS['search']}"},
        json={"model": "cut", "messages": HI, "stream": True},
        timeout=30,
        stream=True,
    )
    body = r.text
    assert r.status_code == 200
    assert "[DONE]" not in body, body
    assert '"error"' in body, body


@check("metrics move: requests, tokens, latency, refusals")
def _():
    text = requests.get(f"{ROOT}/metrics", timeout=10).text
    assert metric("modelgate_requests_total", target="mock-openai/echo", status="200") >= 3, text
    assert metric("modelgate_tokens_total", direction="in") > 0, text
    assert metric("modelgate_request_duration_seconds_count") > 0, text
    assert metric("modelgate_refusals_total", reason="auth") >= 1, text
    assert "modelgate_gateway_overhead_seconds_bucket" in text


@check("usage records: one per request, the logged prompt masked")
def _():
    db = sqlite3.connect(os.path.join(args.home, "inventory.db"))
    deadline = time.monotonic() + 10
    rows = []
    while time.monotonic() < deadline:
        rows = db.execute("SELECT prompt, status, target, team FROM usage WHERE prompt LIKE '%card%'").fetchall()
        if rows:
            break
        time.sleep(0.3)
    assert rows, "no usage record with the masked prompt"
    for prompt, status, target, team in rows:
        assert "jane.doe@example.com" not in prompt and "[EMAIL_" in prompt, prompt
        assert team == "search"
    out = json.loads(modelgate("usage", "--by", "team", "--format", "json"))
    teams = {row["group"]: row for row in out}
    assert teams["search"]["requests"] >= 5, out


@check("a key revoked while the server runs is refused within 5 s")
def _():
    c = client(KEYS["revoke"])
    c.chat.completions.create(model="mock", messages=HI)
    key_id = KEYS["revoke"].split("-")[1]
    modelgate("keys", "revoke", key_id, "--reason", "test: leaked")
    deadline = time.monotonic() + 5
    while True:
        try:
            c.chat.completions.create(model="mock", messages=HI)
        except openai.AuthenticationError as e:
            assert "revoked" in e.message, e.message
            break
        assert time.monotonic() < deadline, "the revoked key still works after 5 s"
        time.sleep(0.2)


print("all checks passed")
