#!/usr/bin/env bash
# Architecture invariants that a compiler cannot check (see ARCHITECTURE.md).
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0

# `unsafe` lives in exactly one module: the memory map.
if grep -rn --include='*.rs' -E 'allow\(unsafe_code\)|unsafe \{|unsafe fn' crates | grep -v '^crates/formats/src/mmap.rs:'; then
  echo "invariant: unsafe code outside crates/formats/src/mmap.rs" >&2; fail=1
fi
# Readers and analysers never reach for the network, a database or a server.
if grep -rn -E '^(reqwest|hyper|axum|sqlx|rusqlite|tokio)\b' crates/{archive,gguf,safetensors,onnx,pickle,numpy,pytorch,keras,hf,inspect,scan,license,card,provenance,policy,bom,signing,vet}/Cargo.toml; then
  echo "invariant: a reader or analyser depends on network/database crates" >&2; fail=1
fi
# Readers are pure: no file system access outside the formats facade.
# (Doc examples, which show callers reading a file, do not count.)
if grep -rn --include='*.rs' -E 'std::fs::|File::open' crates/{archive,gguf,safetensors,onnx,pickle,numpy,pytorch,keras,hf,inspect,scan,license,card,provenance,policy,bom}/src \
  | grep -vE '^[^:]+:[0-9]+:\s*//' | grep -v '^crates/scan/src/engine.rs:'; then
  echo "invariant: a reader or analyser touches the file system" >&2; fail=1
fi
# Only the binary uses anyhow.
if grep -ln -E '^anyhow' crates/*/Cargo.toml | grep -v '^crates/cli/'; then
  echo "invariant: anyhow outside the binary" >&2; fail=1
fi
# Model weights are never committed.
if git ls-files | grep -E '\.(gguf|safetensors|onnx|bin|pt|pth|npz|h5|keras)$' | xargs -r -I{} sh -c 'test -f "{}" && test $(stat -c %s "{}") -gt 1048576 && echo "{}"' | grep .; then
  echo "invariant: a committed model file is larger than 1 MiB" >&2; fail=1
fi
exit $fail
