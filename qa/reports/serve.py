"""Serve a built report folder over HTTP on this machine (``qa serve``).

Python's ``SimpleHTTPRequestHandler`` answers every request with the whole file, and
Chromium will not seek in an ``<audio>`` whose server ignores ``Range`` (clicking an
evidence time stamp would restart the recording from zero). :class:`RangeRequestHandler`
adds single-range ``Range: bytes=...`` support (``206 Partial Content`` / ``416``), the
right content types for recordings, and keeps its request log in the ``qa`` logger.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Callable
from email.utils import formatdate
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import QAError

log = logging.getLogger("qa")

__all__ = ["RangeRequestHandler", "ReportServer", "make_server", "parse_range", "serve"]

_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)

#: Types the standard table lacks or gets wrong on some systems.
EXTRA_TYPES = {
    ".opus": "audio/ogg",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".m4a": "audio/mp4",
    ".flac": "audio/flac",
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".weba": "audio/webm",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """``Range`` header -> inclusive ``(first, last)`` byte positions within ``size``.

    Returns ``None`` for a header this server answers with the whole file (several
    ranges, another unit, or garbage: RFC 9110 lets a server ignore ``Range``).
    Raises ``ValueError`` when the range cannot be satisfied (answered with 416).
    """
    m = _RANGE.match(header or "")
    if not m:
        return None
    first_s, last_s = m.groups()
    if not first_s and not last_s:
        return None
    if not first_s:  # "bytes=-N": the last N bytes
        n = int(last_s)
        if n == 0 or size == 0:
            raise ValueError("empty suffix range")
        return max(0, size - n), size - 1
    first = int(first_s)
    last = int(last_s) if last_s else size - 1
    if first >= size or (last_s and last < first):
        raise ValueError("range outside the file")
    return first, min(last, size - 1)


class RangeRequestHandler(SimpleHTTPRequestHandler):
    """Static files from ``directory`` with byte ranges; quiet (logs at DEBUG)."""

    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, **EXTRA_TYPES}
    _range: tuple[int, int] | None = None

    def guess_type(self, path: str | os.PathLike[str]) -> str:
        ctype = super().guess_type(path)
        if ctype.startswith("text/") or ctype == "image/svg+xml":
            ctype += "; charset=utf-8"
        return ctype

    def send_head(self) -> BinaryIO | None:  # type: ignore[override]
        self._range = None
        path = self.translate_path(self.path)
        if os.path.isdir(path):
            return super().send_head()  # type: ignore[return-value]
        try:
            f = open(path, "rb")  # noqa: SIM115 - handed to copyfile and closed by the base class
        except (OSError, ValueError):  # ValueError: a NUL byte (%00) in the requested path
            self.send_error(HTTPStatus.NOT_FOUND, "File not found")
            return None
        try:
            size = os.fstat(f.fileno()).st_size
            header = self.headers.get("Range")
            rng = None
            if header:
                try:
                    rng = parse_range(header, size)
                except ValueError:
                    f.close()
                    self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
                    self.send_header("Content-Range", f"bytes */{size}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
            if rng is None:
                self.send_response(HTTPStatus.OK)
                self.send_header("Content-Length", str(size))
            else:
                first, last = rng
                self.send_response(HTTPStatus.PARTIAL_CONTENT)
                self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
                self.send_header("Content-Length", str(last - first + 1))
                f.seek(first)
                self._range = rng
            self.send_header("Content-Type", self.guess_type(path))
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Last-Modified", formatdate(os.fstat(f.fileno()).st_mtime, usegmt=True))
            # Reports are rebuilt in place; make the browser ask again every time.
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            return f  # type: ignore[return-value]
        except BaseException:
            f.close()
            raise

    def copyfile(self, source: Any, outputfile: Any) -> None:
        first, last = self._range if self._range is not None else (0, None)
        remaining = None if last is None else last - first + 1
        while remaining is None or remaining > 0:
            chunk = source.read(64 * 1024 if remaining is None else min(64 * 1024, remaining))
            if not chunk:
                break
            try:
                outputfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                return  # the player moved on (it seeks with a new request): not an error
            if remaining is not None:
                remaining -= len(chunk)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("serve: %s - %s", self.address_string(), format % args)

    #: The workspace ``/api/search`` reads (set by :func:`make_server`); None: no endpoint.
    workspace: Path | None = None

    def do_GET(self) -> None:  # noqa: N802 - the base class's name
        if self.workspace is not None and self.path.split("?", 1)[0] == "/api/search":
            self._search()
            return
        super().do_GET()

    def _search(self) -> None:
        """``/api/search?q=...`` -> ``{"hits": [...]}`` over every call of the workspace
        (:func:`qa.search.search`); a bad query answers 400 with ``{"error": ...}``."""
        import json
        from urllib.parse import parse_qs, urlsplit

        from ..search import search
        from ..store import Workspace
        from .html import slug

        params = parse_qs(urlsplit(self.path).query)
        status = HTTPStatus.OK
        body: dict[str, Any] = {}
        try:
            with Workspace(self.workspace, create=False) as ws:
                hits = search(ws, (params.get("q") or [""])[0],
                              limit=int((params.get("limit") or ["200"])[0]))
            body = {"hits": [{**h.to_dict(), "href": f"calls/{slug(h.call_id)}.html#t={h.start:.2f}"} for h in hits]}
        except (QAError, ValueError) as e:
            status, body = HTTPStatus.BAD_REQUEST, {"error": str(e)}
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        self.wfile.write(data)


class ReportServer(ThreadingHTTPServer):
    """One thread per connection, a listen backlog that a browser's burst of requests
    (a call page asks for its audio, charts and styles at once) does not overflow, and
    connection errors logged as one line instead of a traceback on stderr."""

    #: socketserver's default backlog is 5: with many clients at once, connections beyond
    #: it wait for a SYN retry (1 s, 3 s, ...) or time out. The kernel caps this at somaxconn.
    request_queue_size = 1024
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            log.debug("serve: %s: %s", client_address, exc)
            return
        log.warning("serve: request from %s failed: %s: %s", client_address, type(exc).__name__, exc)
        log.debug("serve: traceback", exc_info=True)


def make_server(
    root: str | os.PathLike[str],
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    workspace: str | os.PathLike[str] | None = None,
) -> ThreadingHTTPServer:
    """A threading HTTP server for ``root`` (not started: call ``serve_forever``).
    ``port=0`` picks a free port (``server.server_address[1]``). With ``workspace``, it
    answers ``/api/search?q=`` over every call there (the report's search box)."""
    folder = Path(root)
    if not (folder / "index.html").is_file():
        raise QAError(f"{folder}: no index.html here; build the report first with 'qa report -o {folder}'")
    handler_class: type[RangeRequestHandler] = RangeRequestHandler
    if workspace is not None:
        from ..db import workspace_spec  # a folder or a postgresql:// URL

        handler_class = type("SearchRequestHandler", (RangeRequestHandler,), {"workspace": workspace_spec(workspace)})
    handler = partial(handler_class, directory=str(folder.resolve()))
    try:
        server = ReportServer((host, port), handler)
    except OSError as e:
        raise QAError(
            f"cannot listen on {host}:{port}: {e.strerror or e}; pick another one with --port"
        ) from e
    return server


def serve(
    root: str | os.PathLike[str],
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve ``root`` until interrupted; ``on_ready(url)`` is called once listening."""
    server = make_server(root, host, port)
    url = f"http://{host}:{server.server_address[1]}/"
    if on_ready is not None:
        on_ready(url)
    try:
        server.serve_forever()
    finally:
        server.server_close()
