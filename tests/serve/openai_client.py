"""The real OpenAI Python SDK against a running `modelgate serve`.

Run by crates/cli/tests/cli/serve.rs, which starts the server with a chat
model (SmolLM2, GGUF) and an embedding model (all-MiniLM-L6-v2) on 4 slots,
then runs this script with the test venv's interpreter. Each check prints one
line; any failure raises, and the script exits non-zero.

    python openai_client.py --base-url http://127.0.0.1:PORT/v1 \
        --chat smollm2@1.0 --embed minilm@1.0 --modelgate BIN --home DIR
"""

import argparse
import base64
import concurrent.futures
import json
import os
import subprocess
import sys
import time

import jsonschema
import numpy as np
import openai
import pydantic
import requests

p = argparse.ArgumentParser()
p.add_argument("--base-url", required=True)
p.add_argument("--chat", required=True)
p.add_argument("--embed", required=True)
p.add_argument("--modelgate", required=True)
p.add_argument("--home", required=True)
args = p.parse_args()

client = openai.OpenAI(base_url=args.base_url, api_key="unused", max_retries=0, timeout=120)
CHAT, EMBED = args.chat, args.embed
MESSAGES = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]


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


def model_info(model):
    r = requests.get(f"{args.base_url}/models/{model}", timeout=10)
    r.raise_for_status()
    return r.json()


@check("models list and retrieve")
def _():
    ids = {m.id for m in client.models.list()}
    assert {CHAT, EMBED} <= ids, ids
    m = client.models.retrieve(CHAT)
    assert m.id == CHAT and m.object == "model" and m.owned_by == "modelgate"
    # A bare name resolves to the version in production, else the newest approved.
    assert client.models.retrieve(CHAT.split("@")[0]).id == CHAT


@check("chat completion, greedy output identical run to run")
def _():
    a = client.chat.completions.create(model=CHAT, messages=MESSAGES, temperature=0, max_tokens=24)
    b = client.chat.completions.create(model=CHAT, messages=MESSAGES, temperature=0, max_tokens=24)
    ca, cb = a.choices[0].message.content, b.choices[0].message.content
    assert ca and ca == cb, (ca, cb)
    assert a.choices[0].finish_reason in ("stop", "length")
    assert a.usage.prompt_tokens > 5 and 0 < a.usage.completion_tokens <= 24
    assert a.usage.total_tokens == a.usage.prompt_tokens + a.usage.completion_tokens
    assert "paris" in ca.lower(), ca


@check("streaming with usage equals the non-streamed answer")
def _():
    full = client.chat.completions.create(model=CHAT, messages=MESSAGES, temperature=0, max_tokens=24)
    stream = client.chat.completions.create(
        model=CHAT, messages=MESSAGES, temperature=0, max_tokens=24,
        stream=True, stream_options={"include_usage": True},
    )
    text, finish, usage, chunks = "", None, None, 0
    for chunk in stream:
        chunks += 1
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            finish = chunk.choices[0].finish_reason or finish
        if chunk.usage:
            usage = chunk.usage
    assert text == full.choices[0].message.content, (text, full.choices[0].message.content)
    assert finish == full.choices[0].finish_reason
    assert usage is not None and usage.completion_tokens == full.usage.completion_tokens
    assert usage.prompt_tokens == full.usage.prompt_tokens


@check("text completion, echo and stop strings")
def _():
    r = client.completions.create(model=CHAT, prompt="The first three letters of the alphabet are", max_tokens=12, temperature=0)
    assert r.choices[0].text and r.usage.completion_tokens > 0
    free = client.completions.create(model=CHAT, prompt="1, 2, 3, 4,", max_tokens=16, temperature=0).choices[0].text
    assert " 6" in free, free
    stopped = client.completions.create(model=CHAT, prompt="1, 2, 3, 4,", max_tokens=16, temperature=0, stop=[" 6"])
    assert stopped.choices[0].finish_reason == "stop"
    assert stopped.choices[0].text == free[: free.index(" 6")], (stopped.choices[0].text, free)
    echoed = client.completions.create(model=CHAT, prompt="Hello there", max_tokens=2, temperature=0, echo=True)
    assert echoed.choices[0].text.startswith("Hello there")


@check("sampling parameters are honoured (seeded sampling is reproducible)")
def _():
    kw = dict(model=CHAT, messages=MESSAGES, max_tokens=16, temperature=1.2, top_p=0.95,
              presence_penalty=0.5, frequency_penalty=0.5, seed=1234,
              extra_body={"min_p": 0.05, "top_k": 40, "repeat_penalty": 1.1})
    a = client.chat.completions.create(**kw)
    b = client.chat.completions.create(**kw)
    assert a.choices[0].message.content == b.choices[0].message.content
    r = client.chat.completions.create(model=CHAT, messages=MESSAGES, max_completion_tokens=3, temperature=0)
    assert r.usage.completion_tokens == 3 and r.choices[0].finish_reason == "length"


@check("logprobs and top_logprobs")
def _():
    r = client.chat.completions.create(model=CHAT, messages=MESSAGES, temperature=0, max_tokens=8,
                                       logprobs=True, top_logprobs=3)
    content = r.choices[0].logprobs.content
    assert len(content) == r.usage.completion_tokens - (1 if r.choices[0].finish_reason == "stop" else 0), (len(content), r.usage)
    for item in content:
        assert item.logprob <= 0 and len(item.top_logprobs) == 3
        # Greedy: the chosen token is the most likely one.
        assert abs(item.top_logprobs[0].logprob - item.logprob) < 1e-4, item
        assert bytes(item.bytes).decode("utf-8", "replace") == item.token or item.bytes


class Person(pydantic.BaseModel):
    name: str
    age: int


@check("response_format json_schema, parsed by the SDK; json_object")
def _():
    r = client.chat.completions.parse(
        model=CHAT,
        messages=[{"role": "user", "content": "Invent a person. Reply in JSON with name and age."}],
        response_format=Person, temperature=0.7, seed=7, max_tokens=200,
    )
    person = r.choices[0].message.parsed
    assert isinstance(person, Person) and isinstance(person.age, int), r.choices[0].message.content
    schema = {"type": "object", "properties": {"colors": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 3}},
              "required": ["colors"], "additionalProperties": False}
    r = client.chat.completions.create(
        model=CHAT, messages=[{"role": "user", "content": "Name some colors as JSON."}], max_tokens=200,
        response_format={"type": "json_schema", "json_schema": {"name": "colors", "schema": schema, "strict": True}},
    )
    jsonschema.validate(json.loads(r.choices[0].message.content), schema)
    r = client.chat.completions.create(model=CHAT, messages=[{"role": "user", "content": "Reply with a JSON object holding your name."}],
                                       response_format={"type": "json_object"}, max_tokens=60, temperature=0)
    # The grammar forces an object; a 135M model may not close it within max_tokens.
    text = r.choices[0].message.content
    assert text.startswith("{"), text
    if r.choices[0].finish_reason == "stop":
        assert isinstance(json.loads(text), dict)


@check("embeddings: float and base64 agree, normalised, similar sentences closer")
def _():
    texts = ["A man is eating food.", "A man is eating a piece of bread.", "The new movie is awesome."]
    f = client.embeddings.create(model=EMBED, input=texts, encoding_format="float")
    vecs = np.array([d.embedding for d in f.data])
    assert vecs.shape == (3, 384), vecs.shape
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1, atol=1e-4)
    raw = requests.post(f"{args.base_url}/embeddings", json={"model": EMBED, "input": texts, "encoding_format": "base64"}, timeout=60).json()
    b64 = np.array([np.frombuffer(base64.b64decode(d["embedding"]), dtype="<f4") for d in raw["data"]])
    assert np.array_equal(vecs.astype(np.float32), b64)
    sdk_default = client.embeddings.create(model=EMBED, input=texts)  # the SDK asks for base64 and decodes
    assert np.allclose(np.array([d.embedding for d in sdk_default.data]), vecs, atol=1e-6)
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2] + 0.3
    assert f.usage.prompt_tokens > 10
    one = client.embeddings.create(model=EMBED, input="A man is eating food.", encoding_format="float")
    assert np.allclose(one.data[0].embedding, vecs[0], atol=1e-5)


@check("typed errors: unknown model 404, malformed request 400, wrong kind 400")
def _():
    try:
        client.chat.completions.create(model="no-such-model@9", messages=MESSAGES)
        raise AssertionError("unknown model answered")
    except openai.NotFoundError as e:
        assert e.body["code"] == "model_not_found", e.body
    try:
        client.chat.completions.create(model=CHAT, messages="not a list")
        raise AssertionError("malformed request answered")
    except openai.BadRequestError as e:
        assert "messages" in e.message, e.message
    try:
        client.chat.completions.create(model=CHAT, messages=MESSAGES, temperature=5)
        raise AssertionError("temperature 5 answered")
    except openai.BadRequestError as e:
        assert e.body["param"] == "temperature", e.body
    try:
        client.embeddings.create(model=CHAT, input="x")
        raise AssertionError("embeddings from a chat model answered")
    except openai.BadRequestError:
        pass
    r = requests.post(f"{args.base_url}/chat/completions", data=b"{not json", headers={"content-type": "application/json"}, timeout=10)
    assert r.status_code == 400 and r.headers["x-request-id"], r
    assert r.json()["error"]["type"] == "invalid_request_error"


@check("16 concurrent streams on 4 slots all complete, each with its own usage")
def _():
    def one(i):
        prompt = f"Count from {i} to {i + 40}:"
        expected_prompt = client.completions.create(model=CHAT, prompt=prompt, max_tokens=1, temperature=0).usage.prompt_tokens
        stream = client.completions.create(model=CHAT, prompt=prompt, max_tokens=10 + i, temperature=0,
                                           stream=True, stream_options={"include_usage": True})
        finish, usage = None, None
        for chunk in stream:
            if chunk.choices:
                finish = chunk.choices[0].finish_reason or finish
            if chunk.usage:
                usage = chunk.usage
        assert usage is not None and finish in ("stop", "length"), (finish, usage)
        assert usage.prompt_tokens == expected_prompt, (usage, expected_prompt)
        if finish == "length":
            assert usage.completion_tokens == 10 + i, (i, usage)
        assert usage.completion_tokens <= 10 + i
        return usage.completion_tokens
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, range(16)))
    assert len(results) == 16


@check("a client disconnecting mid-stream frees its slot")
def _():
    # Greedy counting goes on for thousands of tokens: the stream is still
    # running when we leave. A stream the engine already ended (an early end
    # of text) proves nothing about a disconnect, so that is tried again.
    seen = []
    for _attempt in range(3):
        with requests.post(f"{args.base_url}/completions", stream=True, timeout=60,
                           json={"model": CHAT, "prompt": "1, 2, 3, 4, 5, 6, 7,", "max_tokens": 2000,
                                 "stream": True, "temperature": 0}) as r:
            lines = 0
            for line in r.iter_lines():
                if line.startswith(b"data: "):
                    lines += 1
                if lines >= 3:
                    break
            busy = model_info(CHAT)["slots"]
            seen.append((busy, lines))
        if busy["running"] + busy["waiting"] >= 1:
            break
    assert busy["running"] + busy["waiting"] >= 1, seen
    deadline = time.monotonic() + 5
    while model_info(CHAT)["slots"]["running"] != 0:
        assert time.monotonic() < deadline, "slot still busy 5 s after the client left"
        time.sleep(0.05)


@check("deprecated: still served, with a Deprecation header")
def _():
    modelgate("models", "deprecate", EMBED, "--by", "test", "--note", "superseded")
    deadline = time.monotonic() + 5
    while True:
        raw = client.embeddings.with_raw_response.create(model=EMBED, input="hello", encoding_format="float")
        if raw.headers.get("deprecation"):
            break
        assert time.monotonic() < deadline, "no Deprecation header 5 s after the change"
        time.sleep(0.1)
    assert len(raw.parse().data[0].embedding) == 384


@check("revoked while serving: unloaded within 5 s, 403 naming the reason")
def _():
    client.chat.completions.create(model=CHAT, messages=MESSAGES, max_tokens=2)
    modelgate("models", "revoke", CHAT, "--by", "test", "--reason", "license withdrawn by publisher")
    started = time.monotonic()
    while True:
        try:
            client.chat.completions.create(model=CHAT, messages=MESSAGES, max_tokens=2)
        except openai.PermissionDeniedError as e:
            assert "license withdrawn by publisher" in e.message, e.message
            assert e.body["code"] == "model_revoked"
            break
        assert time.monotonic() - started < 5, "still served 5 s after revocation"
        time.sleep(0.1)
    assert CHAT not in {m.id for m in client.models.list()}

@check("the web console is mounted under /ui beside the API")
def _():
    root = args.base_url.rsplit("/v1", 1)[0]
    r = requests.get(f"{root}/ui/catalogue", allow_redirects=False, timeout=10)
    assert r.status_code == 303 and r.headers["location"].startswith("/ui/login"), r.status_code
    r = requests.get(f"{root}/ui/login", timeout=10)
    assert r.status_code == 200 and "Sign in" in r.text, r.status_code
    assert "default-src 'none'" in r.headers["content-security-policy"]


print("all checks passed")
