#!/usr/bin/env bash
# Benchmarks that compare modelgate with the reference tools in one run.
# They print ratios; they never gate CI.
#
#   scripts/bench.sh            every benchmark, the scanner comparison last
#   scripts/bench.sh compare    only the scanner comparison, which regenerates
#                               docs/scanner-comparison.md (bench/compare_scanners.py)
set -euo pipefail
cd "$(dirname "$0")/.."
fx=$(./scripts/fixtures.sh)
py=$(./scripts/venv.sh)
cargo build --release --locked --bin modelgate
# modelgate against picklescan, modelscan, modelaudit and aisbom-cli (from
# bench/requirements.txt) on the corpora, the real models and the reference
# packages' own files; 30 to 40 minutes on 2 cores (--budget caps it).
compare() {
  local bench_bin
  bench_bin=$(./scripts/bench-venv.sh)
  "$bench_bin/python" bench/compare_scanners.py --modelgate ./target/release/modelgate \
    --test-venv "$(dirname "$(dirname "$py")")" --fixtures "$fx"
}
if [ "${1:-}" = compare ]; then
  compare
  exit 0
fi
"$py" bench/inspect_vs_gguf_dump.py ./target/release/modelgate "$(dirname "$py")/gguf-dump" \
  "$fx/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
# Scan: a 2 GiB PyTorch checkpoint and a directory of small artifacts.
"$(dirname "$py")/pip" install --quiet picklescan==1.0.5
"$py" bench/scan_vs_picklescan.py ./target/release/modelgate "$(dirname "$py")/picklescan" "${BENCH_CHECKPOINT_BYTES:-2147483648}" 300
"$py" bench/sign_vs_model_signing.py ./target/release/modelgate "${BENCH_SIGN_BYTES:-2147483648}"

"$py" bench/vet_minilm.py ./target/release/modelgate "$fx/minilm"
# Large plain-data pickles (50 MiB and 500 MiB, written once into the cache)
# against pickle.load: time, peak RSS and anonymous memory.
"$py" bench/plain_pickle.py ./target/release/modelgate
# Hostile PyTorch checkpoints against an honest one.
"$py" bench/pytorch_bombs.py ./target/release/modelgate
# Inventory: `models list` and `audit verify` over 10,000 versions and 100,000 events.
cargo bench --locked -p modelgate-inventory --bench inventory
# Serving: `modelgate serve` against llama.cpp's own llama-server (built once
# into the cache by scripts/llama-tools.sh, ~8 min) on SmolLM2, one server at
# a time with the same threads, slots and context; 1, 4, 8, 16 streams.
llama_bin=$(./scripts/llama-tools.sh)
"$py" bench/serve_vs_llama_server.py --modelgate ./target/release/modelgate \
  --llama-server "$llama_bin/llama-server" \
  --gguf "$fx/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" --threads 2 --concurrency 1,4,8,16
compare
