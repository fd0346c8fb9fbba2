#!/usr/bin/env bash
# Run every fuzz target briefly on its seed corpus (CI), or one target longer.
#
#   scripts/fuzz.sh               each target for FUZZ_SECONDS (default 20)
#   scripts/fuzz.sh gguf 600      one target for 600 seconds
#
# cargo-fuzz needs nightly-only flags; RUSTC_BOOTSTRAP=1 lets the stable
# toolchain accept them (no nightly can be installed on our machines).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
export RUSTC_BOOTSTRAP=1
seconds=${2:-${FUZZ_SECONDS:-20}}
targets=${1:-$(cargo fuzz list)}
cargo fuzz build
for target in $targets; do
  mkdir -p "corpus/$target" "seeds/$target"
  echo "fuzz: $target for ${seconds}s"
  cargo fuzz run "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 -max_len=1048576 -print_final_stats=1 2>&1 \
    | grep -E '^(stat::number_of_executed_units|==[0-9]+==ERROR|SUMMARY|Done)' || true
  # libFuzzer exits non-zero on a crash; grep above hides the status, so check artifacts.
  if ls "artifacts/$target"/crash-* "artifacts/$target"/oom-* "artifacts/$target"/timeout-* >/dev/null 2>&1; then
    echo "fuzz: $target found a failing input:" >&2
    ls "artifacts/$target" >&2
    exit 1
  fi
done
