"""``qa serve``'s server: bad request paths and many clients at once (localhost only).

Range requests against a real built report are in ``test_reports.py``; here a tiny folder
is enough, since the server only serves files.
"""

from __future__ import annotations

import http.client
import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from qa.reports.serve import ReportServer, make_server


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, int]]:
    (tmp_path / "index.html").write_text("<!doctype html><title>day</title>", encoding="utf-8")
    (tmp_path / "audio").mkdir()
    (tmp_path / "audio" / "call.wav").write_bytes(b"RIFF" + bytes(4000))
    srv = make_server(tmp_path, "127.0.0.1", 0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield "127.0.0.1", srv.server_address[1]
    srv.shutdown()
    srv.server_close()
    thread.join(5)


def _get(host: str, port: int, path: str, timeout: float = 10.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_make_server_is_a_report_server_with_a_real_backlog(served) -> None:
    assert ReportServer.request_queue_size >= 128
    assert ReportServer.daemon_threads


@pytest.mark.parametrize("path", ["/%00", "/index.html%00", "/audio/%00call.wav", "/audio%00/"])
def test_nul_in_the_path_is_a_404_not_a_dropped_connection(served, path, caplog, capsys) -> None:
    host, port = served
    with caplog.at_level(logging.DEBUG, logger="qa"):
        status, body = _get(host, port, path)
        assert _get(host, port, "/index.html")[0] == 200  # and the server is still fine
    assert status == 404
    assert b"File not found" in body
    assert "Traceback" not in capsys.readouterr().err
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_many_clients_at_once_get_every_answer(served) -> None:
    """1,000 requests from 200 concurrent clients: no timeout, no refused connection.

    With socketserver's backlog of 5, connections past it wait for a SYN retry (1 s, then
    3 s): about 40 of these requests ran past 2 s. With a real backlog none takes 0.5 s.
    """
    host, port = served
    paths = ["/index.html", "/audio/call.wav"]

    def fetch(i: int) -> str | None:
        try:
            status, body = _get(host, port, paths[i % 2], timeout=2.0)
        except OSError as e:
            return f"{type(e).__name__}: {e}"
        return None if status == 200 and body else f"status {status}"

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=200) as pool:
        errors = [e for e in pool.map(fetch, range(1000)) if e]
    assert errors == [], f"{len(errors)} of 1000 failed, e.g. {errors[:3]}"
    assert time.monotonic() - started < 60
