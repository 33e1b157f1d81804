"""Deterministic orchestration only: one module per journey."""
