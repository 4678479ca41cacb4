"""Errors shared across anchormix."""


class ConfigError(ValueError):
    """A configuration value is missing or invalid.

    ``key`` is the dotted path of the offending key (for example
    ``mix.human_floor``) so the message points the user at the exact line to fix.
    """

    def __init__(self, key: str, message: str):
        self.key = key
        super().__init__(f"{key}: {message}")


class PublishRefused(RuntimeError):
    """A candidate mix may not be published (failed, stale or unchecked gates)."""
