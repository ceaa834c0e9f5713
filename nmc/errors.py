"""Errors a user can cause. The CLI prints these as one clear line, never a traceback."""


class NmcError(Exception):
    """Base class for user-facing errors (bad file, key, value or option)."""


class ConfigError(NmcError):
    """A model config, architecture preset or spec file is malformed or out of range."""


class ScenarioError(NmcError):
    """A scenario option (phase, batch, lengths, dtype, tp) is invalid."""
