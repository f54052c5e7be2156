"""Errors a user can cause. The CLI prints them as one line and exits with code 2."""

from __future__ import annotations


class ProtegeError(Exception):
    """Base class for user-facing errors: the message names what is wrong and the fix."""


class DatasetError(ProtegeError):
    """A demonstrations file is missing, unreadable or does not match its environment."""


class EnvError(ProtegeError):
    """An environment id is unknown or cannot be built."""


class ExpertError(ProtegeError):
    """An expert specification cannot be resolved to a policy."""


class ConfigError(ProtegeError):
    """A configuration value (flag, `--set key=value`, config file) is invalid."""


class RunDirError(ProtegeError):
    """A run directory is missing, incomplete or would be overwritten."""
