"""Dagster assets, one module per stage. Each is thin: call a stage, add metadata."""

