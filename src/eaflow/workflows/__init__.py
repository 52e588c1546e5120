"""Temporal workflow code only: deterministic, no I/O, no database, no wall clock."""
