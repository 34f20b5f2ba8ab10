"""Database backends of the workspace: embedded SQLite (the default) and PostgreSQL.

The workspace (:class:`qa.store.Workspace`) and every view write one SQL dialect, SQLite's
(``?`` placeholders, ``INSERT OR REPLACE``, ``COLLATE NOCASE``, ``json_extract``). This
package is where that dialect meets a server:

``spec``      what a ``--workspace`` / ``QA_WORKSPACE`` value names: a folder (SQLite) or a
              ``postgresql://`` URL, and how it is shown without its password;
``dialect``   the SQLite dialect translated to PostgreSQL, statement by statement (cached);
``postgres``  the PostgreSQL connection (a DB-API look-alike of :mod:`sqlite3`'s, so code
              written for one runs on both), the schema, full-text search, parallel readers.

Nothing outside :mod:`qa.store` and this package knows which database it talks to.
"""

from __future__ import annotations

from .spec import is_server_url, location_of, workspace_spec

__all__ = ["is_server_url", "location_of", "workspace_spec"]
