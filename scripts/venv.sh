#!/usr/bin/env bash
# Create (once) the Python virtual environment holding the reference tools
# modelgate is tested against, and print the path of its interpreter.
#
#   MODELGATE_VENV  where to put it (default: ~/.cache/modelgate/venv)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
venv=${MODELGATE_VENV:-$HOME/.cache/modelgate/venv}
stamp="$venv/.requirements"
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$here/requirements.txt" "$stamp"; then
  echo "venv: installing reference tools into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt" >&2
  cp "$here/requirements.txt" "$stamp"
fi
echo "$venv/bin/python"
