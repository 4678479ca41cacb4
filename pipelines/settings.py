"""The project configuration, loaded once when Definitions load.

A bad value fails here, at load, with the key at fault, so `dagster definitions
validate` and the UI's code-location error both name it.
"""

from __future__ import annotations

from anchormix.config import load_settings

SETTINGS = load_settings()
