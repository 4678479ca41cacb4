"""Dagster wiring: Definitions, jobs, schedules, sensors, resources, run config."""
