#!/usr/bin/env bash
# Benchmarks that compare modelgate with the reference tools in one run.
# They print ratios; they never gate CI.
set -euo pipefail
cd "$(dirname "$0")/.."
fx=$(./scripts/fixtures.sh)
py=$(./scripts/venv.sh)
cargo build --release --locked --bin modelgate
"$py" bench/inspect_vs_gguf_dump.py ./target/release/modelgate "$(dirname "$py")/gguf-dump" \
  "$fx/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
# Scan: a 2 GiB PyTorch checkpoint and a directory of small artifacts.
"$(dirname "$py")/pip" install --quiet picklescan==1.0.5
"$py" bench/scan_vs_picklescan.py ./target/release/modelgate "$(dirname "$py")/picklescan" "${BENCH_CHECKPOINT_BYTES:-2147483648}" 300
"$py" bench/sign_vs_model_signing.py ./target/release/modelgate "${BENCH_SIGN_BYTES:-2147483648}"

"$py" bench/vet_minilm.py ./target/release/modelgate "$fx/minilm"
# Inventory: `models list` and `audit verify` over 10,000 versions and 100,000 events.
cargo bench --locked -p modelgate-inventory --bench inventory
