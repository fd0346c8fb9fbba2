#!/usr/bin/env bash
# Architecture invariants that a compiler cannot check (see ARCHITECTURE.md).
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0

# `unsafe` lives in exactly two modules: the memory map, and the engine's
# call into llama.cpp's quantizer, which llama-cpp-2 does not wrap.
if grep -rn --include='*.rs' -E 'allow\(unsafe_code\)|unsafe \{|unsafe fn|unsafe extern "' crates \
  | grep -vE '^crates/(formats/src/mmap.rs|engine/src/quantize.rs):'; then
  echo "invariant: unsafe code outside crates/formats/src/mmap.rs and crates/engine/src/quantize.rs" >&2; fail=1
fi
# Readers and analysers never reach for the network, a database or a server.
if grep -rn -E '^(reqwest|hyper|axum|sqlx|rusqlite|tokio)\b' crates/{archive,gguf,safetensors,onnx,pickle,numpy,pytorch,keras,hdf5,hf,inspect,scan,license,card,provenance,policy,bom,signing,vet,vocab,eval,cost,chart}/Cargo.toml; then
  echo "invariant: a reader or analyser depends on network/database crates" >&2; fail=1
fi
# Only modelgate-formats reads the file system; only the edges (the CLI, the
# inventory's store) write it. Every other crate, readers, analysers, signing,
# policy, vet and bom alike, takes bytes from formats, so what is judged is
# what is hashed. No file of those crates is exempt. (modelgate-testdata,
# test support that is never a dependency of anything shipped, reads the
# corpora.) Doc and comment lines, which show callers reading files, do not
# count.
fs_allowed='^crates/(formats|cli|inventory|testdata)/'
fs_pattern='std::fs|\bfs::|\bFile::(open|create)|\bOpenOptions\b|\bread_dir\b|\bmemmap2\b|\.(canonicalize|symlink_metadata|read_link|try_exists|exists|is_file|is_dir)\(\)?|\b(set_)?current_dir\('
if grep -rn --include='*.rs' -E "$fs_pattern" crates/*/src \
  | grep -vE "$fs_allowed" | grep -vE '^[^:]+:[0-9]+:\s*//'; then
  echo "invariant: a crate other than modelgate-formats touches the file system" >&2; fail=1
fi
# The memory map is formats' mmap.rs, and nothing else depends on memmap2.
if grep -rn --include='*.rs' -E '\bmemmap2\b' crates | grep -v '^crates/formats/src/mmap.rs:' \
  | grep -vE '^[^:]+:[0-9]+:\s*//'; then
  echo "invariant: memmap2 used outside crates/formats/src/mmap.rs" >&2; fail=1
fi
if grep -ln -E '^memmap2\b' crates/*/Cargo.toml | grep -v '^crates/formats/'; then
  echo "invariant: a crate other than modelgate-formats depends on memmap2" >&2; fail=1
fi
# Only the binary uses anyhow.
if grep -ln -E '^anyhow' crates/*/Cargo.toml | grep -v '^crates/cli/'; then
  echo "invariant: anyhow outside the binary" >&2; fail=1
fi
# The console reads and writes the inventory; it loads no model and knows
# no engine or gateway (it is mounted beside them by the binary).
if grep -n -E '^(modelgate-(engine|embed|serving|server|gateway|upstream|assess)|llama-cpp)' crates/console/Cargo.toml; then
  echo "invariant: the console depends on an engine, the server or the gateway" >&2; fail=1
fi
# Model weights are never committed.
if git ls-files | grep -E '\.(gguf|safetensors|onnx|bin|pt|pth|npz|h5|keras)$' | xargs -r -I{} sh -c 'test -f "{}" && test $(stat -c %s "{}") -gt 1048576 && echo "{}"' | grep .; then
  echo "invariant: a committed model file is larger than 1 MiB" >&2; fail=1
fi
exit $fail
