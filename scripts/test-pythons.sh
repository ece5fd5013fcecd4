#!/usr/bin/env bash
# The package installs and runs on every Python it supports: 3.11 runs the whole suite
# (scripts/test); 3.12 and 3.13 install from the same lock file into their own environments
# and run the darwin-py compatibility, registration and media tests.
set -euo pipefail
cd "$(dirname "$0")/.."

root="$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"
for version in 3.12 3.13; do
    python="$(ls -d "$root"/versions/"$version".*/bin/python"$version" 2>/dev/null | sort -V | tail -1)"
    if [ -z "$python" ]; then
        echo "Python $version not found under $root/versions: install it (pyenv install $version)" >&2
        exit 1
    fi
    echo "== Python $version ($python)"
    export UV_PROJECT_ENVIRONMENT=".venv-$version"
    uv sync --locked --quiet --python "$python"
    uv run --locked --python "$python" pytest -q -p no:cacheprovider \
        tests/compat tests/registration tests/media
done
