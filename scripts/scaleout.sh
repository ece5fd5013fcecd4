#!/usr/bin/env bash
# Start the scale-out set-up from this machine's local services (PostgreSQL, Redis or RabbitMQ):
# 2 API processes on loopback ports, 2 workers. Prints the URLs; Ctrl-C stops everything.
#   scripts/scaleout.sh [--broker redis|rabbitmq] [--storage local|s3] [--apis N] [--workers N]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/services.sh
exec uv run python scripts/scaleout.py "$@"
