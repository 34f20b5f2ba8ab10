"""Typed errors. The library raises these; the CLI prints ``Error: <message>`` and exits 1.

Every message says what failed, where (file, line, YAML key) and how to fix it.
"""

from __future__ import annotations


class QAError(Exception):
    """Base class for every error a user can cause and fix."""


class AudioError(QAError):
    """An audio file cannot be read or decoded."""


class TranscriptFormatError(QAError):
    """A transcript file is not in a format we can import."""


class ModelError(QAError):
    """The speech model is missing, incomplete or cannot be loaded."""


class MetadataError(QAError):
    """Call metadata (file-name template or manifest CSV) is invalid."""


class ConfigError(QAError):
    """A script or rubric YAML file is invalid."""


class WorkspaceError(QAError):
    """The workspace database is missing, locked or from an incompatible version."""


class NotFoundError(QAError):
    """A manager, call or period the user named is not in the workspace."""


class CallLogError(QAError):
    """A PBX call log (CDR) cannot be read, or an option about it is invalid."""
