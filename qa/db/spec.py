"""What a workspace value names: a folder (SQLite) or a ``postgresql://`` URL.

``--workspace``, ``QA_WORKSPACE`` and ``Workspace(...)`` all take either. A URL is kept as
text (``pathlib.Path`` would fold its ``//``) and shown without its password.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

#: URL schemes that name a PostgreSQL workspace (libpq accepts both).
SERVER_SCHEMES = ("postgresql://", "postgres://")


def is_server_url(value: object) -> bool:
    """True for ``postgresql://...`` / ``postgres://...`` text (not for a path)."""
    return isinstance(value, str) and value.strip().lower().startswith(SERVER_SCHEMES)


def workspace_spec(value: str | os.PathLike[str]) -> Path | str:
    """A folder as a :class:`Path`, a server URL as the text given."""
    if is_server_url(value):
        return str(value).strip()
    return Path(value)


def location_of(url: str) -> str:
    """The URL as shown in messages: the password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:  # IPv6
        host = f"[{host}]"
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
