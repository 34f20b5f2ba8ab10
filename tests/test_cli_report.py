"""``qa report`` and ``qa serve``: exit codes, messages, files written."""

from __future__ import annotations

import re
import threading
import urllib.request
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from test_reports import make_report_workspace
from typer.testing import CliRunner

from qa.cli import app


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_report_workspace(tmp_path_factory.mktemp("cli_report"))


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def test_report_writes_site_and_excel(ws: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = run("report", "-w", str(ws), "-o", str(out), "--day", "2026-11-21", "--lang", "en")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out / "index.html")
    assert "Wrote 5 pages (3 calls, 1 managers, 0 recordings)" in result.stderr
    assert "Warning: 2 recording(s) not found" in result.stderr
    assert (out / "report.xlsx").is_file()
    assert "Calls of 2026-11-21" in (out / "index.html").read_text(encoding="utf-8")


def test_report_period_one_manager_no_excel(ws: Path, tmp_path: Path) -> None:
    result = run("report", "-w", str(ws), "-o", str(tmp_path), "--from", "2026-11-20", "--to",
                 "2026-11-21", "--manager", "Иванов", "--no-excel", "--audio", "link")
    assert result.exit_code == 0, result.output
    assert "Wrote 3 pages (1 calls, 1 managers, 1 recordings)" in result.stderr
    assert not (tmp_path / "report.xlsx").exists()
    assert (tmp_path / "audio/ru-1.wav").is_symlink()
    html = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "Звонки за период 2026-11-20 – 2026-11-21" in html  # the calls are Russian: ru labels


@pytest.mark.parametrize(
    "args, code, message",
    [
        ([], 2, "Error: add --output DIR: the folder to write the report into"),
        (["-o", "{out}", "--day", "2026-11-22"], 1,
         "Error: no calls in 2026-11-22; the workspace has 4 calls from 2026-11-20 to 2026-11-21; "
         "pick --day or --from/--to in that range"),
        (["-o", "{out}", "--day", "21.11.2026"], 1,
         "Error: --day '21.11.2026' is not a date; write it as YYYY-MM-DD, e.g. 2026-11-21"),
        (["-o", "{out}", "--day", "2026-11-21", "--from", "2026-11-20"], 1,
         "Error: give either --day or --from/--to, not both"),
        (["-o", "{out}", "--manager", "petrov"], 1,
         "Error: manager 'petrov' has no calls in the workspace; managers there: smith, Иванов"),
        (["-o", "{out}", "--ui", "de"], 2, "Error: no interface language 'de'; choose one of: en, ru "
         "(or add qa/data/ui/de.yaml)"),
        (["-o", "{out}", "--low-score", "120"], 1, "Error: low score threshold 120.0 is outside 0-100"),
    ],
)
def test_report_errors(ws: Path, tmp_path: Path, args, code, message) -> None:
    args = [a.replace("{out}", str(tmp_path / "out")) for a in args]
    result = run("report", "-w", str(ws), *args)
    assert result.exit_code == code, result.output
    assert result.stderr.strip().splitlines()[-1] == message
    assert not (tmp_path / "out" / "index.html").exists()


def test_report_bad_audio_mode_is_a_usage_error(ws: Path, tmp_path: Path) -> None:
    result = run("report", "-w", str(ws), "-o", str(tmp_path / "out"), "--audio", "embed")
    assert result.exit_code == 2
    assert "'embed' is not one of 'copy', 'link', 'none'." in " ".join(re.sub("[│╭╮╰╯─]", " ", result.stderr).split())


def test_report_without_workspace(tmp_path: Path) -> None:
    result = run("report", "-w", str(tmp_path / "none"), "-o", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert "no workspace here; run 'qa transcribe' or 'qa score' first" in result.stderr


@pytest.mark.parametrize("command", ["report", "serve"])
def test_help_has_example(command: str) -> None:
    result = run(command, "--help")
    assert result.exit_code == 0
    assert f"Example: qa {command}" in result.stdout


def test_serve_builds_and_serves_until_interrupted(ws: Path, tmp_path: Path, monkeypatch) -> None:
    """The real server answers one real request, then Ctrl+C is simulated."""
    fetched: dict[str, object] = {}

    def serve_once(self: ThreadingHTTPServer, poll_interval: float = 0.5) -> None:
        port = self.server_address[1]

        def client() -> None:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/audio/ru-1.wav", timeout=10) as r:
                fetched["status"] = r.status
                fetched["ranges"] = r.headers["Accept-Ranges"]

        thread = threading.Thread(target=client)
        thread.start()
        self.handle_request()
        thread.join(10)
        raise KeyboardInterrupt

    monkeypatch.setattr(ThreadingHTTPServer, "serve_forever", serve_once)
    out = tmp_path / "site"
    result = run("serve", "-w", str(ws), "-o", str(out), "--port", "0", "--day", "2026-11-20")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("http://127.0.0.1:")
    assert "Stopped." in result.stderr
    assert fetched == {"status": 200, "ranges": "bytes"}
    assert (out / "audio/ru-1.wav").is_symlink()  # serve links recordings by default


def test_serve_temporary_folder_is_removed(ws: Path, monkeypatch) -> None:
    seen: list[Path] = []

    def stop(self: ThreadingHTTPServer, poll_interval: float = 0.5) -> None:
        seen.append(Path(self.RequestHandlerClass.keywords["directory"]))  # type: ignore[attr-defined]
        assert (seen[0] / "index.html").is_file()
        raise KeyboardInterrupt

    monkeypatch.setattr(ThreadingHTTPServer, "serve_forever", stop)
    result = run("serve", "-w", str(ws), "--port", "0")
    assert result.exit_code == 0, result.output
    assert seen and not seen[0].exists()


def test_serve_port_in_use(ws: Path, tmp_path: Path) -> None:
    busy = ThreadingHTTPServer(("127.0.0.1", 0), None)  # type: ignore[arg-type]
    try:
        port = busy.server_address[1]
        result = run("serve", "-w", str(ws), "-o", str(tmp_path), "--port", str(port))
        assert result.exit_code == 1
        assert f"Error: cannot listen on 127.0.0.1:{port}:" in result.stderr
        assert "pick another one with --port" in result.stderr
    finally:
        busy.server_close()


def test_serve_for_real_until_sigterm(ws: Path) -> None:
    """'qa serve' as its own process: prints the address, answers HTTP with byte ranges,
    stops on SIGTERM (what a service manager sends) and removes its temporary folder."""
    import os
    import re
    import signal
    import subprocess
    import sys

    env = {**os.environ, "QA_NO_PROGRESS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "qa", "serve", "-w", str(ws), "--port", "0", "--day", "2026-11-20"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        url = proc.stdout.readline().strip()  # type: ignore[union-attr]
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", url), url
        req = urllib.request.Request(url + "audio/ru-1.wav", headers={"Range": "bytes=0-43"})
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 206 and r.read()[:4] == b"RIFF"
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    folder = re.search(r"Serving (\S+) at", err).group(1)  # type: ignore[union-attr]
    assert "Stopped." in err and not Path(folder).exists()
