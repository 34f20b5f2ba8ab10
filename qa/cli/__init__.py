"""The ``qa`` command: a thin shell over the library.

Each command lives in its own module here and registers itself on :data:`app`; it parses,
calls ``qa.pipeline`` (or the module for its step) and renders. Library errors
(:class:`qa.errors.QAError`) become ``Error: ...`` on stderr and exit code 1; usage
errors exit 2 (typer's default).
"""

from __future__ import annotations

import importlib

from .common import app, main

# Command modules register themselves on import. Add a module name here to add commands.
COMMAND_MODULES = (
    "transcribe",
    "score",
    "validate",
    "supervisor",
    "trainer",
    "report",
    "calibrate",
    "calls",  # qa missed (PBX call log)
    "disputes",  # qa dispute
    "search",  # qa search (issue 15)
    "setup",  # qa init, qa config (qa.toml, issue 13)
)

for _name in COMMAND_MODULES:
    try:
        importlib.import_module(f"{__name__}.{_name}")
    except ModuleNotFoundError as _e:  # a command module not written yet
        if _e.name != f"{__name__}.{_name}":
            raise

__all__ = ["app", "main"]
