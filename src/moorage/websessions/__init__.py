"""Browser sessions made from an API key (decision 0028)."""
