"""Benchmarks of eaflow: each module runs with one command from the repo root (see bench/README.md)."""
