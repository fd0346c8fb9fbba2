#!/usr/bin/env bash
# The whole test suite, as CI runs it: fixtures, formatting, lints, tests.
#
#   scripts/test.sh            everything
#   scripts/test.sh -p NAME    extra arguments go to the test runner
set -euo pipefail
cd "$(dirname "$0")/.."

export MODELGATE_FIXTURES=${MODELGATE_FIXTURES:-$HOME/.cache/modelgate/fixtures}
./scripts/fixtures.sh >/dev/null
# Reference tools some tests run against (model_signing, cyclonedx schemas).
MODELGATE_PYTHON=${MODELGATE_PYTHON:-$(./scripts/venv.sh)}
export MODELGATE_PYTHON

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast "$@"
  cargo test --workspace --locked --doc
else
  cargo test --workspace --locked --no-fail-fast "$@"
fi
./scripts/check-invariants.sh
