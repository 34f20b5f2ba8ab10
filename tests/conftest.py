"""Shared fixtures.

``scored_samples`` runs the real pipeline once per test session: the bundled sample
recordings through the embedded speech model, scored with the bundled scripts and rubrics
(English and Russian). Tests that use it are marked ``model``.

PostgreSQL (a real server, never a mock):

``pg_server``     session: a throwaway cluster (``initdb`` in a temp folder, run as the
                  ``postgres`` user when root, on a free local port, socket in the folder),
                  stopped at the end of the session (finalizer and atexit). Skips with the
                  reason when it cannot start; fails instead when ``QA_REQUIRE_POSTGRES=1``
                  (CI). ``QA_TEST_POSTGRES_URL=postgresql://...`` uses a running server.
``pg_url``        a workspace URL of its own for one test (a fresh database).
``pg_database``   session factory: ``pg_database()`` -> a fresh database's URL (module fixtures).
``workspace_spec``  parametrized ``sqlite`` / ``postgresql``: a folder or a URL, for tests
                  that must behave the same on both (``Workspace(workspace_spec)``).
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"

os.environ.setdefault("QA_NO_PROGRESS", "1")


def _importable(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without the audio extra, tests that decode audio (``audio``) or run the speech model
    (``model``) are skipped, not failed: core scoring is tested without it."""
    missing = {"audio": "av", "model": "faster_whisper"}
    skips = {
        mark: pytest.mark.skip(reason=f"needs the audio extra: pip install 'call-qa[audio]' ({module} missing)")
        for mark, module in missing.items()
        if not _importable(module)
    }
    for item in items:
        for mark, skip in skips.items():
            if mark in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def scored_samples(tmp_path_factory: pytest.TempPathFactory):
    """Workspace path and ScoreResult of the sample recordings, real model, real scoring."""
    from qa.pipeline import score_paths
    from qa.scripts import load_rubric, load_script
    from qa.store import Workspace

    ws_path = tmp_path_factory.mktemp("samples_ws")
    scripts = [
        load_script(ROOT / f"scripts_library/{name}.{lang}.yaml")
        for name in ("real_estate_inbound", "b2b_cold_call")
        for lang in ("en", "ru")
    ]
    rubrics = [load_rubric(ROOT / f"rubrics/objections.{lang}.yaml") for lang in ("en", "ru")]
    with Workspace(ws_path) as ws:
        result = score_paths([SAMPLES], ws, scripts, rubrics, manifest=SAMPLES / "manifest.csv")
    return ws_path, result


# ---- PostgreSQL ---------------------------------------------------------------------------
def _pg_bindir() -> Path | None:
    """Where initdb / pg_ctl are: ``pg_config --bindir``, else Debian's versioned folders."""
    candidates: list[Path] = []
    if shutil.which("pg_config"):
        try:
            out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, timeout=10)
            candidates.append(Path(out.stdout.strip()))
        except (OSError, subprocess.SubprocessError):
            pass
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    if shutil.which("initdb"):
        candidates.append(Path(shutil.which("initdb") or "").parent)
    for c in candidates:
        if (c / "initdb").exists() and (c / "pg_ctl").exists():
            return c
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    """A throwaway PostgreSQL cluster; ``url(db)`` names a database on it."""

    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="qa-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.as_postgres = os.geteuid() == 0  # initdb refuses to run as root
        self.started = False

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120)

    def start(self) -> None:
        if self.as_postgres:
            shutil.chown(self.root, "postgres")
        r = self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                      "--locale=C.UTF-8")
        if r.returncode:
            raise RuntimeError(f"initdb failed: {r.stderr.strip() or r.stdout.strip()}")
        opts = (f"-p {self.port} -k {self.root} -h 127.0.0.1 -c fsync=off -c synchronous_commit=off "
                "-c full_page_writes=off -c max_connections=200")
        r = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-w", "-t", "60",
                      "-o", opts, "start")
        if r.returncode:
            log = (self.root / "server.log").read_text(errors="replace")[-2000:] if (self.root / "server.log").exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {r.stderr.strip()} {log}")
        self.started = True

    def stop(self) -> None:
        if self.started:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "-t", "60", "stop")
            self.started = False
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, db: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"


class _External:
    """A server someone else runs (``QA_TEST_POSTGRES_URL``)."""

    def __init__(self, url: str):
        self.base = url

    def url(self, db: str = "postgres") -> str:
        from urllib.parse import urlsplit, urlunsplit

        p = urlsplit(self.base)
        return urlunsplit((p.scheme, p.netloc, "/" + db, p.query, p.fragment))

    def stop(self) -> None:
        pass


def _pg_unavailable(reason: str) -> None:
    if os.environ.get("QA_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PostgreSQL is required (QA_REQUIRE_POSTGRES=1) but {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL tests skipped: {reason}")


@pytest.fixture(scope="session")
def pg_server(request: pytest.FixtureRequest):
    """A running PostgreSQL for this session (see the module docstring)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _pg_unavailable("psycopg is not installed (pip install 'call-qa[cluster]')")
    external = os.environ.get("QA_TEST_POSTGRES_URL")
    if external:
        yield _External(external)
        return
    bindir = _pg_bindir()
    if bindir is None:
        _pg_unavailable("no initdb/pg_ctl found (install Debian's postgresql package: bash run.sh test as root)")
    if os.geteuid() == 0 and subprocess.run(["id", "postgres"], capture_output=True).returncode:
        _pg_unavailable("running as root but there is no 'postgres' user to run the server")
    if os.geteuid() != 0 and not os.access(str(bindir / "initdb"), os.X_OK):
        _pg_unavailable(f"{bindir}/initdb is not executable by this user")
    assert bindir is not None
    server = PgServer(bindir)
    atexit.register(server.stop)  # even when the session is killed between tests
    request.addfinalizer(server.stop)
    try:
        server.start()
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        server.stop()
        _pg_unavailable(f"the throwaway cluster did not start: {e}")
    yield server


def _admin(server) -> object:
    import psycopg

    for attempt in range(50):
        try:
            return psycopg.connect(server.url("postgres"), autocommit=True)
        except psycopg.OperationalError:
            if attempt == 49:
                raise
            time.sleep(0.1)
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def pg_database(pg_server):
    """Factory: ``pg_database()`` -> the URL of a fresh, empty database on :func:`pg_server`
    (for module-scoped workspaces; all are dropped at the end of the session)."""
    admin = _admin(pg_server)
    made: list[str] = []

    def make() -> str:
        name = "qa_" + uuid.uuid4().hex[:12]
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')  # type: ignore[attr-defined]
        made.append(name)
        return pg_server.url(name)

    yield make
    for name in made:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[attr-defined]
    admin.close()  # type: ignore[attr-defined]


@pytest.fixture
def pg_url(pg_server) -> object:
    """A fresh, empty database on :func:`pg_server` for this test (dropped afterwards)."""
    name = "qa_" + uuid.uuid4().hex[:12]
    admin = _admin(pg_server)
    admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')  # type: ignore[attr-defined]
    try:
        yield pg_server.url(name)
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[attr-defined]
        admin.close()  # type: ignore[attr-defined]


@pytest.fixture(params=["sqlite", "postgresql"])
def workspace_spec(request: pytest.FixtureRequest, tmp_path: Path) -> object:
    """A workspace on each backend: a folder (SQLite) or a fresh database's URL."""
    if request.param == "sqlite":
        return tmp_path / "ws"
    return request.getfixturevalue("pg_url")
