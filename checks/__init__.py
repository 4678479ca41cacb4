"""Blocking asset checks on ``mix_candidate``: GX Core suites and diversity / health gates."""

