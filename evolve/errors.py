"""Project exceptions: each carries a message a person can act on (no traceback for user mistakes)."""

from __future__ import annotations


class EvolveError(Exception):
    """A user-facing error: the message names the file, key or program and says what to do."""


class ConfigError(EvolveError):
    """A bad configuration value or an unknown key."""


class ProblemError(EvolveError):
    """A problem plugin that cannot be found, loaded, or that breaks the contract."""


class ArchiveError(EvolveError):
    """The archive database cannot be opened, is inconsistent, or an id does not exist."""


class LLMError(EvolveError):
    """An LLM provider is misconfigured or unreachable."""
