"""Small real HTTP upstreams for the gateway tests, on 127.0.0.1.

One server speaks OpenAI's chat completions and embeddings API, one
Anthropic's Messages API. What they do depends on the model name asked for:

    echo      answer with the last user message (so masking can be checked
              on both sides), with usage
    fail500   HTTP 500
    fail429   HTTP 429 with retry-after-ms
    slow      wait 30 s before answering (timeouts)
    cut       stream two chunks, then drop the connection without [DONE]

The OpenAI-shaped server also takes OTLP/HTTP JSON spans (POST /v1/traces).

Every request body received is kept; GET /_received returns them (and
DELETE /_received clears them). The first line on stdout is JSON with the
two ports. The servers stop after --lifetime seconds at the latest.

    python mock_upstreams.py [--lifetime 600]
"""

import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RECEIVED = []
LOCK = threading.Lock()


def last_user_text(body):
    for message in reversed(body.get("messages", [])):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


class Base(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *_):
        pass

    def read_body(self):
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw or b"{}")
        with LOCK:
            RECEIVED.append(
                {
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body,
                }
            )
        return body

    def send_json(self, status, value, extra=None):
        data = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def start_stream(self):
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("connection", "close")
        self.end_headers()
        self.close_connection = True

    def event(self, data, name=None):
        text = ""
        if name:
            text += f"event: {name}\n"
        text += f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n"
        self.wfile.write(text.encode())
        self.wfile.flush()

    def do_GET(self):
        if self.path == "/_received":
            with LOCK:
                self.send_json(200, RECEIVED)
        else:
            self.send_json(404, {"error": {"message": "no such path"}})

    def do_DELETE(self):
        with LOCK:
            RECEIVED.clear()
        self.send_json(200, {"cleared": True})

    def failures(self, model):
        """Answers the failing models; True when it did."""
        if model == "fail500":
            self.send_json(500, {"error": {"message": "upstream exploded", "type": "server_error"}})
            return True
        if model == "fail429":
            self.send_json(
                429,
                {"error": {"message": "slow down", "type": "rate_limit_error"}},
                {"retry-after-ms": "20"},
            )
            return True
        if model == "slow":
            time.sleep(30)
            self.send_json(500, {"error": {"message": "too late"}})
            return True
        return False


class OpenAI(Base):
    def do_POST(self):
        body = self.read_body()
        if self.path == "/v1/traces":  # an OTLP/HTTP collector, JSON encoding
            self.send_json(200, {})
            return
        model = body.get("model", "")
        if self.failures(model):
            return
        if self.path.endswith("/embeddings"):
            inputs = body.get("input")
            inputs = inputs if isinstance(inputs, list) else [inputs]
            self.send_json(
                200,
                {
                    "object": "list",
                    "model": model,
                    "data": [
                        {"object": "embedding", "index": i, "embedding": [0.5, 0.25, float(len(str(x)))]}
                        for i, x in enumerate(inputs)
                    ],
                    "usage": {"prompt_tokens": 3 * len(inputs), "total_tokens": 3 * len(inputs)},
                },
            )
            return
        text = "You said: " + last_user_text(body)
        words = text.split(" ")
        usage = {"prompt_tokens": 11, "completion_tokens": len(words), "total_tokens": 11 + len(words)}
        if not body.get("stream"):
            self.send_json(
                200,
                {
                    "id": "chatcmpl-mock",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": usage,
                },
            )
            return
        self.start_stream()
        base = {"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": int(time.time()), "model": model}
        self.event({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]})
        for i, word in enumerate(words):
            piece = word if i == 0 else " " + word
            self.event({**base, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
            if model == "cut" and i == 1:
                self.wfile.flush()
                self.connection.shutdown(2)
                return
        self.event({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        if (body.get("stream_options") or {}).get("include_usage"):
            self.event({**base, "choices": [], "usage": usage})
        self.event("[DONE]")


class Anthropic(Base):
    def do_POST(self):
        body = self.read_body()
        model = body.get("model", "")
        if self.failures(model):
            return
        text = "Claude heard: " + last_user_text(body)
        pieces = [text[i : i + 7] for i in range(0, len(text), 7)]
        if not body.get("stream"):
            self.send_json(
                200,
                {
                    "id": "msg_mock",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [{"type": "text", "text": text}],
                    "stop_reason": "end_turn",
                    "stop_sequence": None,
                    "usage": {"input_tokens": 13, "output_tokens": len(pieces)},
                },
            )
            return
        self.start_stream()
        self.event(
            {
                "type": "message_start",
                "message": {
                    "id": "msg_mock",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {"input_tokens": 13, "output_tokens": 1},
                },
            },
            "message_start",
        )
        self.event({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}, "content_block_start")
        self.event({"type": "ping"}, "ping")
        for piece in pieces:
            self.event(
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}},
                "content_block_delta",
            )
        self.event({"type": "content_block_stop", "index": 0}, "content_block_stop")
        self.event(
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": len(pieces)},
            },
            "message_delta",
        )
        self.event({"type": "message_stop"}, "message_stop")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--lifetime", type=float, default=600)
    args = p.parse_args()
    servers = {
        "openai": ThreadingHTTPServer(("127.0.0.1", 0), OpenAI),
        "anthropic": ThreadingHTTPServer(("127.0.0.1", 0), Anthropic),
    }
    for server in servers.values():
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print(json.dumps({name: s.server_address[1] for name, s in servers.items()}), flush=True)
    deadline = time.monotonic() + args.lifetime
    try:
        while time.monotonic() < deadline:
            line = sys.stdin.readline()
            if not line:  # the test closed our stdin: stop
                break
    finally:
        for server in servers.values():
            server.shutdown()


if __name__ == "__main__":
    main()
