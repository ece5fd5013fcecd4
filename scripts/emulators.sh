#!/usr/bin/env bash
# Installs the object-store emulators the storage tests start on loopback; starts nothing.
#   - Azurite (Azure Blob), from npm into the project-local .tools/node_modules
#   - moto (S3) and fake-gcs-server (GCS) come from PyPI through the project's uv.lock
#   - axe-core (the accessibility audit the browser tests inject), from npm into .tools too
# Idempotent: installs only what is missing. Prints the azurite-blob path on success.
set -euo pipefail
cd "$(dirname "$0")/.."

AZURITE_VERSION="${AZURITE_VERSION:-3.35.0}"
TOOLS_DIR=".tools"
AZURITE_BIN="$TOOLS_DIR/node_modules/.bin/azurite-blob"

if [ ! -x "$AZURITE_BIN" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  fi
  mkdir -p "$TOOLS_DIR"
  npm install --prefix "$TOOLS_DIR" --no-audit --no-fund --loglevel=error \
    "azurite@$AZURITE_VERSION" >&2
fi
AXE_VERSION="${AXE_VERSION:-4.14.1}"
if [ ! -f "$TOOLS_DIR/node_modules/axe-core/axe.min.js" ]; then
  npm install --prefix "$TOOLS_DIR" --no-audit --no-fund --loglevel=error \
    "axe-core@$AXE_VERSION" >&2
fi
echo "$(pwd)/$AZURITE_BIN"
