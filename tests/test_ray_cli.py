"""`qa score` / `qa transcribe` with `--engine ray` from the command line: the Ray runtime the
command starts is shut down at its end (no Ray process outlives it: checked in /proc), the
tables are the local engine's, and the usage errors (Ray missing, an address without the
Ray engine, no cluster at the address) are one line and exit 2.

The tests on a shared Ray runtime (real transcription, a killed worker) are in
tests/test_ray_engine.py, which imports the process helpers from here.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qa.cli import app

ROOT = Path(__file__).resolve().parent.parent
LABELLED = ROOT / "tests/data/labelled"
CALLS = [LABELLED / f"{name}.txt" for name in ("en_re_01", "en_re_02", "ru_re_01", "ru_b2b_01", "en_b2b_01")]
SCRIPTS = [ROOT / f"scripts_library/{name}.{lang}.yaml" for name in ("real_estate_inbound", "b2b_cold_call")
           for lang in ("en", "ru")]
RUBRICS = [ROOT / f"rubrics/objections.{lang}.yaml" for lang in ("en", "ru")]
MARK = "QA_RAY_TEST_MARK"
INSTALL = "pip install 'call-qa[cluster]'"


def _has_ray() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


needs_ray = pytest.mark.skipif(not _has_ray(), reason=f"needs the cluster extra: {INSTALL}")


# ---- processes a Ray runtime started ----------------------------------------------------------
def marked_processes(token: str) -> dict[int, str]:
    """Live processes (not this one) whose environment carries ``MARK=token``: pid -> title.

    The marker is set in the environment of whatever starts Ray; the raylet inherits it and
    passes it on to every worker it starts, so this finds all of a runtime's processes.
    """
    needle = f"{MARK}={token}".encode()
    found = {}
    for env in Path("/proc").glob("[0-9]*/environ"):
        pid = int(env.parent.name)
        if pid == os.getpid():
            continue
        try:
            if needle not in env.read_bytes().split(b"\0"):
                continue
            state = (env.parent / "stat").read_text().rsplit(")", 1)[1].split()[0]
            title = (env.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if state not in ("Z", "X"):  # a zombie is dead, only not yet reaped
            found[pid] = title
    return found


def wait_until_gone(token: str, timeout: float = 20.0) -> dict[int, str]:
    """The marked processes still alive after up to ``timeout`` seconds (empty: all gone)."""
    deadline = time.monotonic() + timeout
    left = marked_processes(token)
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = marked_processes(token)
    return left


def _kill_all(pids) -> None:  # type: ignore[no-untyped-def]
    for pid in pids:  # never leave them behind, even when a check fails
        try:
            os.kill(pid, 9)
        except OSError:
            pass


def _score_args(out: Path, *extra: str) -> list[str]:
    args = ["score", *map(str, CALLS), "-w", str(out / "ws"), "-o", str(out / "tables"), "--no-meaning"]
    for s in SCRIPTS:
        args += ["-s", str(s)]
    for r in RUBRICS:
        args += ["-r", str(r)]
    return [*args, *extra]


# ---- the command's own runtime -----------------------------------------------------------------
@needs_ray
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_qa_score_engine_ray_starts_its_runtime_and_leaves_no_ray_process(tmp_path: Path) -> None:
    token = uuid.uuid4().hex
    ray_tmp = tempfile.mkdtemp(prefix="qa-ray-", dir="/tmp")  # short: Ray's socket paths
    env = {**os.environ, MARK: token, "RAY_TMPDIR": ray_tmp, "QA_NO_PROGRESS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    env.pop("RAY_ADDRESS", None)
    proc = subprocess.Popen([sys.executable, "-m", "qa", *_score_args(tmp_path / "ray", "--engine", "ray", "-j", "2")],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen: dict[int, str] = {}
    try:
        while proc.poll() is None:
            seen.update(marked_processes(token))
            time.sleep(0.2)
        out, err = proc.communicate()
        left = wait_until_gone(token)
    finally:
        if proc.poll() is None:
            proc.kill()
        _kill_all(marked_processes(token))
        shutil.rmtree(ray_tmp, ignore_errors=True)
    assert proc.returncode == 0, err
    assert "Scored 5 calls" in out
    assert any("raylet" in t for t in seen.values()), f"no Ray runtime was seen running: {seen}"
    assert any(t.startswith("ray::ScoreWorker") for t in seen.values()), "no scoring actor was seen"
    assert not left, f"Ray processes outlived the command: {left}"
    # the same tables as the local engine
    local = CliRunner().invoke(app, _score_args(tmp_path / "local"))
    assert local.exit_code == 0, local.output
    for table in ("calls.csv", "items.csv"):
        assert (tmp_path / "ray/tables" / table).read_text() == (tmp_path / "local/tables" / table).read_text()
    # what the actors' scorers noticed reaches this process: the same placeholder warnings
    # (these calls name no company) as with the local engine, in the order the calls finished
    # (the call named first is the first to finish, so it may differ)
    warned = [sorted(re.sub(r"\(first: [^)]*\)", "", line) for line in text.splitlines() if line.startswith("Warning: script"))
              for text in (err, local.stderr)]
    assert warned[0] and warned[0] == warned[1]


@needs_ray
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_kill_9_of_the_command_takes_its_ray_runtime_with_it(tmp_path: Path) -> None:
    """Killed mid-run (no chance to shut anything down), the command's runtime dies with it."""
    token = uuid.uuid4().hex
    ray_tmp = tempfile.mkdtemp(prefix="qa-ray-", dir="/tmp")
    env = {**os.environ, MARK: token, "RAY_TMPDIR": ray_tmp, "QA_NO_PROGRESS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    env.pop("RAY_ADDRESS", None)
    args = _score_args(tmp_path, "--engine", "ray", "-j", "2")
    args[1:1 + len(CALLS)] = [str(LABELLED)]  # every labelled call: the run lasts a while
    proc = subprocess.Popen([sys.executable, "-m", "qa", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seen: dict[int, str] = {}
    try:
        deadline = time.monotonic() + 180
        while proc.poll() is None and time.monotonic() < deadline:
            seen.update(marked_processes(token))
            if any(t.startswith("ray::ScoreWorker") for t in seen.values()):
                break
            time.sleep(0.1)
        assert proc.poll() is None, "the run ended before a scoring actor was seen"
        proc.kill()
        proc.wait()
        # Ray's agents notice their raylet is gone by polling, and may wait on the dead GCS first
        left = wait_until_gone(token, timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
        _kill_all(marked_processes(token))
        shutil.rmtree(ray_tmp, ignore_errors=True)
    assert any("raylet" in t for t in seen.values())
    assert not left, f"Ray processes outlived the killed command: {left}"


# ---- usage errors -------------------------------------------------------------------------------
def _error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.strip()]


@pytest.mark.parametrize("command", ["score", "transcribe"])
def test_engine_ray_without_ray_says_what_to_install(command: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as if not installed
    args = _score_args(tmp_path, "--engine", "ray")
    if command == "transcribe":
        args = ["transcribe", str(CALLS[0]), "-w", str(tmp_path / "ws"), "--engine", "ray"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert _error_lines(result.output) == [f"Error: --engine ray needs Ray, which is not installed: {INSTALL}"]
    assert not (tmp_path / "ws").exists()  # nothing was done


def test_ray_address_needs_engine_ray(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, _score_args(tmp_path, "--ray-address", "auto"))
    assert result.exit_code == 2
    assert _error_lines(result.output) == ["Error: --ray-address auto needs --engine ray"]


def test_unknown_engine_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, _score_args(tmp_path, "--engine", "spark"))
    assert result.exit_code == 2 and "local" in result.output and "ray" in result.output


@needs_ray
def test_ray_address_auto_without_a_cluster_is_one_line(tmp_path: Path) -> None:
    """No cluster started on this machine: one line naming the address and the fix, exit 2."""
    env = {**os.environ, "RAY_TMPDIR": str(tmp_path), "QA_NO_PROGRESS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    env.pop("RAY_ADDRESS", None)
    done = subprocess.run([sys.executable, "-m", "qa", *_score_args(tmp_path, "--engine", "ray",
                                                                    "--ray-address", "auto")],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    lines = _error_lines(done.stderr)
    assert len(lines) == 1 and lines[0].startswith("Error: --ray-address auto: cannot join the Ray cluster")
    assert "ray start --head" in lines[0]
