"""The real OpenAI Python SDK against three `modelgate serve` replicas that
share one inventory (PostgreSQL with --database, else the SQLite file in
--home) and one Redis.

Run by crates/cli/tests/cli/replicas.rs, which starts Redis, the mock
upstreams and the three replicas (each with --redis and --replicas 3, and
polling only every 30 s, so a change that arrives within 5 s came by Redis
pub/sub). Each check prints one line; any failure raises, and the script
exits non-zero.

    python replicas_client.py --base-urls URL1,URL2,URL3 --keys keys.json \
        --modelgate BIN --home DIR --config FILE --pids P1,P2,P3 --redis URL \
        [--database postgres://...]
"""

import argparse
import concurrent.futures
import json
import os
import re
import signal
import sqlite3
import subprocess
import time

import openai
import requests

p = argparse.ArgumentParser()
p.add_argument("--base-urls", required=True)
p.add_argument("--keys", required=True)
p.add_argument("--modelgate", required=True)
p.add_argument("--home", required=True)
p.add_argument("--database", help="the inventory's PostgreSQL URL (default: the SQLite file in --home)")
p.add_argument("--config", required=True)
p.add_argument("--pids", required=True)
p.add_argument("--redis", required=True)
args = p.parse_args()

BASES = args.base_urls.split(",")
PIDS = [int(x) for x in args.pids.split(",")]
KEYS = json.load(open(args.keys))
HI = [{"role": "user", "content": "Say hello."}]
assert len(BASES) == 3 and len(PIDS) == 3


def client(base, key, retries=0):
    return openai.OpenAI(base_url=base, api_key=key, max_retries=retries, timeout=120)


def check(name):
    def wrap(f):
        started = time.monotonic()
        f()
        print(f"ok  {name} ({time.monotonic() - started:.2f} s)", flush=True)
        return f

    return wrap


def modelgate(*argv):
    # The CLI tells the replicas about its change through Redis.
    env = dict(os.environ, MODELGATE_HOME=args.home, MODELGATE_REDIS_URL=args.redis)
    if args.database:
        env["MODELGATE_DATABASE_URL"] = args.database
    out = subprocess.run([args.modelgate, *argv], env=env, capture_output=True, text=True)
    assert out.returncode == 0, f"modelgate {' '.join(argv)}: {out.returncode}\n{out.stderr}"
    return out.stdout


def console(base):
    """A requests session signed in to a replica's console as the admin."""
    root = base.rsplit("/v1", 1)[0] + "/ui"
    session = requests.Session()
    page = session.get(f"{root}/login", timeout=30)
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    signed_in = session.post(
        f"{root}/login",
        data={"user": "ada", "password": KEYS["ada_password"], "csrf": token, "next": ""},
        timeout=60,
    )
    assert signed_in.ok and "Sign out" in signed_in.text, signed_in.text[:500]
    return session, root


def form_token(session, url):
    page = session.get(url, timeout=30)
    assert page.ok, page.text[:500]
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def until_every(bases, seen, what, started, limit=5.0):
    """Asks each replica `seen(base)` until all say True, failing `limit`
    seconds after `started`; returns the seconds each took."""
    took = {}
    while len(took) < len(bases):
        late = [i + 1 for i in range(len(bases)) if i not in took]
        assert time.monotonic() - started < limit, f"replicas {late} {what}"
        for i, base in enumerate(bases):
            if i not in took and seen(base):
                took[i] = time.monotonic() - started
        time.sleep(0.05)
    return took


def refuses(key, model, *errors):
    """A `seen` for until_every: the replica answers `model` for `key` with one of `errors`."""
    def seen(base):
        try:
            client(base, key).chat.completions.create(model=model, messages=HI, max_tokens=2)
            return False
        except errors:
            return True
    return seen


def rows(sql, params=()):
    """The rows of a query on the replicas' inventory, every value as text:
    PostgreSQL through psql (--database), else the SQLite file."""
    if args.database:
        names = iter(range(1, len(params) + 1))
        text = "".join(f":'p{next(names)}'" if c == "?" else c for c in sql)
        argv = ["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-d", args.database]
        for i, value in enumerate(params, 1):
            argv += ["-v", f"p{i}={value}"]
        out = subprocess.run(argv, input=text + ";\n", capture_output=True, text=True)
        assert out.returncode == 0, f"psql: {out.stderr}"
        return [tuple(line.split("\t")) for line in out.stdout.splitlines() if line]
    with sqlite3.connect(os.path.join(args.home, "inventory.db"), timeout=30) as conn:
        return [tuple(str(v) for v in r) for r in conn.execute(sql, params)]


@check("300 requests round-robin over 3 replicas against a 100-RPM key admit at most 101")
def _():
    clients = [client(b, KEYS["rpm"]) for b in BASES]
    admitted, refused = 0, 0
    for i in range(300):
        try:
            clients[i % 3].chat.completions.create(model="mock", messages=HI, max_tokens=4)
            admitted += 1
        except openai.RateLimitError as e:
            assert e.code == "rate_limit_exceeded", e
            assert int(e.response.headers["retry-after-ms"]) > 0
            refused += 1
    assert 100 <= admitted <= 101, admitted
    assert admitted + refused == 300


@check("the same 300 requests sent concurrently admit at most 101")
def _():
    def one(i):
        try:
            client(BASES[i % 3], KEYS["rpm2"]).chat.completions.create(
                model="mock", messages=HI, max_tokens=4
            )
            return 1
        except openai.RateLimitError:
            return 0

    with concurrent.futures.ThreadPoolExecutor(24) as pool:
        admitted = sum(pool.map(one, range(300)))
    assert 100 <= admitted <= 101, admitted


@check("a budget across replicas is overshot by at most one request's worst case")
def _():
    def one(i):
        try:
            client(BASES[i % 3], KEYS["budget"]).chat.completions.create(
                model="mock", messages=HI, max_tokens=8
            )
            return "ok"
        except openai.RateLimitError as e:
            assert e.code == "insufficient_quota", e
            return "quota"

    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        outcomes = list(pool.map(one, range(36)))
    assert "ok" in outcomes and "quota" in outcomes, outcomes
    key_id = KEYS["budget"].split("-")[1]
    # Every admitted request is recorded; their total against the budget.
    deadline = time.monotonic() + 10
    while True:
        n, cost = map(int, rows(
            "SELECT COUNT(*), COALESCE(SUM(cost_micro_usd), 0) FROM usage "
            "WHERE key_id = ? AND status = 200",
            (key_id,),
        )[0])
        if n == outcomes.count("ok") or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert n == outcomes.count("ok"), (n, outcomes)
    budget = 20_000  # $0.02
    # The worst case of one request: its prompt estimate plus max_tokens,
    # at $100 per million tokens each way, is well under $0.01.
    worst = 10_000
    assert cost < budget + worst, (cost, n)


@check("a key revoked with the CLI is refused on every replica within 5 s")
def _():
    for base in BASES:
        client(base, KEYS["revoked"]).chat.completions.create(model="mock", messages=HI, max_tokens=4)
    key_id = KEYS["revoked"].split("-")[1]
    started = time.monotonic()
    modelgate("keys", "revoke", key_id, "--reason", "replica test")
    until_every(BASES, refuses(KEYS["revoked"], "mock", openai.AuthenticationError),
                "still accept the key", started)
    print(f"    refused everywhere {time.monotonic() - started:.2f} s after the CLI was started", flush=True)


@check("a config reload on one replica reaches the others")
def _():
    text = open(args.config).read()
    assert 'name = "mock2"' not in text
    with open(args.config, "a") as f:
        f.write('\n[[routes]]\nname = "mock2"\n[[routes.targets]]\nprovider = "mock-openai"\nmodel = "echo"\n')
    modelgate("teams", "grant", "search", "mock2")
    os.kill(PIDS[0], signal.SIGHUP)
    started = time.monotonic()

    def knows(base):
        try:
            client(base, KEYS["plain"]).chat.completions.create(model="mock2", messages=HI, max_tokens=4)
            return True
        except (openai.NotFoundError, openai.PermissionDeniedError):
            return False
    until_every(BASES, knows, "do not know route mock2", started)


@check("a console session signed in on one replica is used on the others")
def _():
    session, _ = console(BASES[0])
    for base in BASES[1:]:
        root = base.rsplit("/v1", 1)[0] + "/ui"
        page = session.get(f"{root}/keys", timeout=30, allow_redirects=False)
        assert page.status_code == 200 and "Sign out" in page.text, (page.status_code, page.text[:300])
    # Signed out on the last one: the same cookie is refused everywhere.
    cookie = session.cookies.get("mg_session")
    assert cookie
    root = BASES[2].rsplit("/v1", 1)[0] + "/ui"
    out = session.post(f"{root}/logout", data={"csrf": form_token(session, f"{root}/keys")}, timeout=30)
    assert out.ok, out.text[:300]
    first = BASES[0].rsplit("/v1", 1)[0] + "/ui"
    page = requests.get(f"{first}/keys", cookies={"mg_session": cookie}, timeout=30, allow_redirects=False)
    assert page.status_code in (302, 303, 307), page.status_code


@check("concurrent approvals and key creations leave one verified audit chain")
def _():
    names = [f"extra{i}@1.0" for i in range(3)]

    def approve(name):
        modelgate("models", "approve", name, "--by", "tester", "--override", "--note", "replica test")

    def create(i):
        out = json.loads(modelgate("keys", "create", "--team", f"team{i % 3}", "--format", "json"))
        return out["key"]

    sessions = [console(base) for base in BASES]

    def create_in_console(i):
        session, root = sessions[i]
        token = form_token(session, f"{root}/keys")
        made = session.post(
            f"{root}/keys/create",
            data={"csrf": token, "team": f"console{i}", "name": f"from replica {i}", "data_class": "internal"},
            timeout=60,
        )
        assert made.status_code == 201, made.text[:500]

    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        jobs = (
            [pool.submit(approve, n) for n in names]
            + [pool.submit(create, i) for i in range(6)]
            + [pool.submit(create_in_console, i) for i in range(3)]
        )
        for job in jobs:
            job.result()
    made = int(rows("SELECT COUNT(*) FROM api_keys WHERE team LIKE 'console%'")[0][0])
    assert made == 3, made
    # Exits non-zero (and modelgate() raises) unless the chain verifies.
    modelgate("audit", "verify")
    seqs = [int(r[0]) for r in rows("SELECT seq FROM events ORDER BY seq")]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "the chain has a gap"


@check("killing a replica mid-stream loses no usage record of a completed request")
def _():
    victim = client(BASES[2], KEYS["stream"])
    ids = []
    for _ in range(5):
        raw = victim.chat.completions.with_raw_response.create(
            model="smollm2@1.0", messages=HI, max_tokens=4
        )
        ids.append(raw.headers["x-request-id"])
    stream = victim.chat.completions.create(
        model="smollm2@1.0", messages=HI, max_tokens=400, stream=True
    )
    chunks = 0
    try:
        for _ in stream:
            chunks += 1
            if chunks == 3:
                os.kill(PIDS[2], signal.SIGKILL)
    except (openai.APIConnectionError, openai.APIError, Exception):
        pass
    assert chunks >= 3
    found = {
        r[0]
        for r in rows(f"SELECT request_id FROM usage WHERE request_id IN ({','.join('?' * len(ids))})", ids)
    }
    assert found == set(ids), f"lost {set(ids) - found}"


@check("a version revoked in one replica's console stops on the others within 5 s")
def _():
    live = BASES[:2]
    for base in live:
        client(base, KEYS["plain"]).chat.completions.create(
            model="smollm2@1.0", messages=HI, max_tokens=2
        )
    session, root = console(live[0])
    token = form_token(session, f"{root}/revoke?ref=smollm2@1.0")
    started = time.monotonic()
    revoked = session.post(
        f"{root}/revoke", data={"csrf": token, "ref": "smollm2@1.0", "reason": "replica test"}, timeout=60
    )
    assert revoked.ok, revoked.text[:500]
    posted = time.monotonic() - started
    # A revoked version is refused (403); any other error fails the check.
    stopped = until_every(live, refuses(KEYS["plain"], "smollm2@1.0", openai.PermissionDeniedError,
                                        openai.NotFoundError), "still serve smollm2@1.0", started)
    print(f"    revoke answered in {posted:.2f} s; stopped: "
          + ", ".join(f"replica {i + 1} at {t:.2f} s" for i, t in sorted(stopped.items())), flush=True)


@check("Redis stopped: 503 with x-should-retry (fail-closed); restarted: served again without a restart")
def _():
    port = args.redis.rsplit(":", 1)[1]
    subprocess.run(["redis-cli", "-p", port, "shutdown", "nosave"], capture_output=True)
    limited = client(BASES[0], KEYS["limited"])
    deadline = time.monotonic() + 5
    while True:
        try:
            limited.chat.completions.create(model="mock", messages=HI, max_tokens=4)
            assert time.monotonic() < deadline, "still admitted without redis"
            time.sleep(0.1)
        except openai.InternalServerError as e:
            assert e.status_code == 503, e
            assert e.response.headers["x-should-retry"] == "true"
            break
    # A key with no limits needs no counting, and is still served.
    client(BASES[0], KEYS["plain"]).chat.completions.create(model="mock", messages=HI, max_tokens=4)
    metrics = requests.get(BASES[0].rsplit("/v1", 1)[0] + "/metrics", timeout=10).text
    assert "modelgate_limiter_degraded 1" in metrics, metrics
    redis = subprocess.Popen(["redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                limited.chat.completions.create(model="mock", messages=HI, max_tokens=4)
                break
            except openai.InternalServerError:
                assert time.monotonic() < deadline, "never served again after redis came back"
                time.sleep(0.1)
    finally:
        redis.terminate()
        redis.wait()


print("all checks passed", flush=True)
