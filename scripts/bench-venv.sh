#!/usr/bin/env bash
# Create (once) the Python virtual environment holding the peer scanners that
# bench/compare_scanners.py compares modelgate with (picklescan, modelscan,
# modelaudit, aisbom-cli), from bench/requirements.txt, and print its bin dir.
# Kept apart from the test venv (scripts/venv.sh): the scanners pull in cloud
# SDKs and telemetry clients the tests have no use for.
#
#   MODELGATE_BENCH_VENV  where to put it (default: ~/.cache/modelgate/bench-venv)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
req="$here/../bench/requirements.txt"
venv=${MODELGATE_BENCH_VENV:-$HOME/.cache/modelgate/bench-venv}
stamp="$venv/.requirements"
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$req" "$stamp"; then
  echo "bench-venv: installing peer scanners into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req" >&2
  cp "$req" "$stamp"
fi
echo "$venv/bin"
