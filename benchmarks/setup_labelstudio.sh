#!/usr/bin/env bash
# Label Studio, the peer benchmarks/labelstudio.py measures, in its own venv (never moorage's).
# Usage: benchmarks/setup_labelstudio.sh [VENV_DIR]   (default .bench/labelstudio-venv)
set -euo pipefail
VERSION="${LABEL_STUDIO_VERSION:-1.23.2}"
VENV="${1:-.bench/labelstudio-venv}"
if [ -x "$VENV/bin/label-studio" ] && "$VENV/bin/python" -c \
    "import importlib.metadata as m, sys; sys.exit(m.version('label-studio') != '$VERSION')"; then
  echo "label-studio $VERSION already in $VENV"
  exit 0
fi
# A real interpreter, not a pyenv shim (uv cannot query a shim whose version is not global).
PY="${LABEL_STUDIO_PYTHON:-}"
if [ -z "$PY" ]; then
  for candidate in "$(pyenv prefix 3.12 2>/dev/null)/bin/python3.12" \
      "$(pyenv prefix 3.11 2>/dev/null)/bin/python3.11" /usr/bin/python3.12 /usr/bin/python3.11; do
    if [ -x "$candidate" ]; then PY="$candidate"; break; fi
  done
fi
uv venv --quiet --python-preference only-system --python "$PY" "$VENV"
VIRTUAL_ENV="$VENV" uv pip install --quiet --python "$VENV/bin/python" "label-studio==$VERSION"
echo "label-studio $VERSION installed in $VENV"
