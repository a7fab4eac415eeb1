"""Exceptions for bad input: the CLI turns these into one-line errors."""


class NlpiaLstmError(Exception):
    """Base class for every error caused by the user's input rather than by a bug."""


class DataError(NlpiaLstmError, ValueError):
    """A data file or folder is missing, corrupt or not what was expected."""


class ConfigError(NlpiaLstmError, ValueError):
    """An experiment config or an option is malformed or out of range."""
