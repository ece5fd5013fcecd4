#!/usr/bin/env bash
# System packages the tests and benchmarks need, installed from Debian's and npm's registries.
# Idempotent: installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v ffmpeg >/dev/null 2>&1 || need_apt+=(ffmpeg)
command -v mogrify >/dev/null 2>&1 || need_apt+=(imagemagick)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v cjpeg >/dev/null 2>&1 || need_apt+=(libjpeg-turbo-progs)  # cjpeg, djpeg: JPEG decoder tests
if [ ${#need_apt[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
