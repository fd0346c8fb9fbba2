#!/usr/bin/env bash
# Install the native tools the build and tests need when they are missing:
# cmake and libclang for llama.cpp (crates/engine builds it from source
# through llama-cpp-sys-2); Chromium and its WebDriver for the console's
# browser test (crates/console/tests/browser.rs); Redis for the shared
# counters of several gateway replicas (crates/gateway/tests/redis.rs,
# tests/replicas); PostgreSQL for the inventory's second backend. Idempotent; quiet when everything is there.
set -euo pipefail

missing=()
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
# libclang itself (libclang.so / libclang-N.so), not libclang-cpp, which an
# interrupted install can leave behind on its own.
if ! ls /usr/lib/llvm-*/lib/libclang.so* /usr/lib/llvm-*/lib/libclang-[0-9]*.so* \
  /usr/lib/x86_64-linux-gnu/libclang-[0-9]*.so* >/dev/null 2>&1; then
  missing+=(libclang-dev)
fi
command -v c++ >/dev/null 2>&1 || missing+=(g++)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
# PostgreSQL's server and client for the inventory on PostgreSQL
# (scripts/postgres.sh starts a throwaway cluster).
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
# openssl makes the test CAs and certificates (TLS to PostgreSQL and Redis).
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "native-deps: installing ${missing[*]} (to build llama.cpp and drive a browser in tests)" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "native-deps: run as root or install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >&2
$sudo apt-get install -y -qq "${missing[@]}" >&2
