"""Typed errors. The library raises these; the CLI prints ``Error: <message>`` and exits with
the error's :attr:`QAError.exit_code`: 2 for a usage or configuration mistake (nothing was
done), 1 otherwise.

Every message says what failed, where (file, line, YAML key) and how to fix it.
"""

from __future__ import annotations


class QAError(Exception):
    """Base class for every error a user can cause and fix."""

    #: The ``qa`` command's exit status for this error (see README "Exit status").
    exit_code: int = 1


class AudioError(QAError):
    """An audio file cannot be read or decoded."""


class TranscriptFormatError(QAError):
    """A transcript file is not in a format we can import."""


class ModelError(QAError):
    """The speech model is missing, incomplete or cannot be loaded."""

    exit_code = 2


class MeaningError(QAError):
    """The meaning layer's sentence encoder is missing or cannot load, or its options are
    invalid (an unknown encoder, a threshold outside [-1, 1]): set-up, not data, so exit 2
    like :class:`ModelError`. Raised by :mod:`qa.meaning`, which re-exports it."""

    exit_code = 2


class MetadataError(QAError):
    """Call metadata (file-name template or manifest CSV) is invalid."""

    exit_code = 2


class ConfigError(QAError):
    """A script or rubric YAML file is invalid."""

    exit_code = 2


class UsageError(QAError):
    """An option value or a combination of options the command cannot use."""

    exit_code = 2


class OptionError(UsageError, ValueError):
    """An options dataclass got an invalid value (a ``ValueError`` too, for library callers).

    Options classes (``MatchOptions``, ``SuggestOptions``, ...) raise this one type, so the
    CLI turns any of them into ``Error: ...`` and exit status 2.
    """


class WorkspaceError(QAError):
    """The workspace database is missing, locked or from an incompatible version."""


class NotFoundError(QAError):
    """A manager, call or period the user named is not in the workspace."""


class CallLogError(QAError):
    """A PBX call log (CDR) cannot be read, or an option about it is invalid."""
