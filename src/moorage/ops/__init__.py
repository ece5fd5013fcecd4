"""Operating moorage: health and readiness, Prometheus metrics, request logs, rate limits."""
