"""Everything a workflow needs from the outside world. Idempotent: keyed by workflow id + step."""
