"""Named exceptions. Every user mistake raises one of these; the CLI prints the message and exits 2."""

from __future__ import annotations


class HubtuneError(Exception):
    """Base class for errors caused by user input or environment, not by a bug in hubtune."""

    exit_code = 2


class DataError(HubtuneError):
    """A data file, column, label or sequence cannot be used (the message names file, line and field)."""


class ModelError(HubtuneError):
    """A model name, folder or checkpoint cannot be loaded or does not fit the requested method."""


class ConfigError(HubtuneError):
    """A training, evaluation or CLI setting is invalid (negative lr, r=0, unknown method, ...)."""


class RunFolderError(HubtuneError):
    """A run folder is missing, incomplete or was written by an incompatible version."""


class HubError(HubtuneError):
    """Talking to a Hub (or the local hub server) failed: bad repo id, token, network, missing files."""
