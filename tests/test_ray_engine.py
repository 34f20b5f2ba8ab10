"""`--engine ray`: transcription and scoring on a real local Ray cluster with 2 worker processes.

One Ray runtime is shared by the tests of this module (Ray starts slowly on a small machine);
every process it starts carries a marker in its environment, so the module can check that
none of them outlives it. Transcription uses the real embedded speech model on bundled
samples; one test kills a worker process in the middle of a file and checks that every call
is still saved, once. The command-line runs (local runtime started and shut down by the
command itself, Ray missing) are in tests/test_ray_cli.py.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="needs the cluster extra: pip install 'call-qa[cluster]'")

from test_ray_cli import MARK, marked_processes, wait_until_gone  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from qa import pipeline  # noqa: E402
from qa.cli import app  # noqa: E402
from qa.engines.ray_engine import WORK_PREFIX, RayEngine  # noqa: E402
from qa.scripts import load_rubric, load_script  # noqa: E402
from qa.store import Workspace  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
LABELLED = ROOT / "tests/data/labelled"
#: Short samples, both languages: 22.6 s en (stereo, 8 kHz), 32.9 s ru, 37.8 s ru mono µ-law
#: named as Asterisk names it (call id 1700000002.102).
SHORT = [
    SAMPLES / "2026-11-21_14-47-30_smith_14155550199_out.wav",
    SAMPLES / "2026-11-21_16-40-11_petrov_79031112233_in.wav",
    SAMPLES / "out-79035550101-102-20261124-101500-1700000002.102.wav",
]
SCRIPTS = [ROOT / f"scripts_library/{name}.{lang}.yaml" for name in ("real_estate_inbound", "b2b_cold_call")
           for lang in ("en", "ru")]
RUBRICS = [ROOT / f"rubrics/objections.{lang}.yaml" for lang in ("en", "ru")]


@pytest.fixture(scope="module")
def ray_runtime():
    """A local Ray cluster of 2 CPUs, no dashboard, its temp folder short (socket paths)."""
    token = uuid.uuid4().hex
    os.environ[MARK] = token  # inherited by the raylet and, through it, by every worker
    temp = tempfile.mkdtemp(prefix="qa-ray-", dir="/tmp")
    try:
        ray.init(address="local", num_cpus=2, include_dashboard=False, _temp_dir=temp,
                 log_to_driver=False, logging_level=logging.ERROR)
        yield token
    finally:
        ray.shutdown()
        del os.environ[MARK]
        left = wait_until_gone(token)
        shutil.rmtree(temp, ignore_errors=True)
        for pid in left:  # never leave them behind, even when the check below fails
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        assert not left, f"Ray processes outlived ray.shutdown(): {left}"


@pytest.fixture
def calls(tmp_path: Path) -> Path:
    folder = tmp_path / "calls"
    folder.mkdir()
    for wav in SHORT:
        shutil.copy(wav, folder / wav.name)
    return folder


class SaveCounter:
    """Counts Workspace.save_call per call id (the driver is this process: it sees every save)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.counts: Counter[str] = Counter()
        real = Workspace.save_call

        def counting(ws, transcript, *args, **kwargs):  # type: ignore[no-untyped-def]
            self.counts[transcript.call_id] += 1
            return real(ws, transcript, *args, **kwargs)

        monkeypatch.setattr(Workspace, "save_call", counting)


class LocalModelForbidden:
    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        raise AssertionError("the driver loaded a speech model: transcription did not run on Ray")


# ---- transcription ----------------------------------------------------------------------------
@pytest.mark.model
@pytest.mark.audio
def test_qa_transcribe_engine_ray_transcribes_on_two_actors(ray_runtime, calls: Path, tmp_path: Path,
                                                              monkeypatch) -> None:
    import qa.transcribe

    monkeypatch.setattr(qa.transcribe, "Transcriber", LocalModelForbidden)  # the actors have their own
    files = sorted(calls.iterdir())[:2]
    result = CliRunner().invoke(app, ["transcribe", *map(str, files), "-w", str(tmp_path / "ws"),
                                      "--engine", "ray", "-j", "2", "--template", "default"])
    assert result.exit_code == 0, result.output
    assert "2 transcribed" in result.output and "0 failed" in result.output
    with Workspace(tmp_path / "ws") as ws:
        texts = {t.call_id: " ".join(u.text for u in t.utterances).lower() for t in ws.transcripts()}
        managers = {t.call_id: t.meta.manager for t in ws.transcripts()}
    assert set(texts) == {f.stem for f in files}
    assert "driving" in texts["2026-11-21_14-47-30_smith_14155550199_out"]  # "I'm driving right now"
    assert managers["2026-11-21_16-40-11_petrov_79031112233_in"] == "petrov"
    assert all(texts.values())


@pytest.mark.model
@pytest.mark.audio
def test_a_worker_killed_mid_file_loses_and_duplicates_nothing(ray_runtime, calls: Path, tmp_path: Path,
                                                                monkeypatch) -> None:
    saves = SaveCounter(monkeypatch)
    killed: list[int] = []

    def kill_one_busy_worker() -> None:
        """SIGKILL the first actor process seen transcribing a file (os.kill of its pid)."""
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not killed:
            for pid, title in marked_processes(ray_runtime).items():
                if title.startswith("ray::TranscribeWorker.transcribe"):
                    time.sleep(0.5)  # well inside the file, past decoding
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_one_busy_worker, daemon=True)
    killer.start()
    events = []
    with Workspace(tmp_path / "ws") as ws:
        result = pipeline.transcribe_paths([calls], ws, workers=2, engine="ray", progress=events.append)
        stored = ws.call_ids()
    killer.join(timeout=5)

    assert killed, "no worker was seen transcribing"
    assert not result.failed, result.failed
    expected = sorted(f.stem if not f.stem.startswith("out-") else "1700000002.102" for f in SHORT)
    assert sorted(stored) == expected
    assert sorted(saves.counts) == expected and set(saves.counts.values()) == {1}  # each saved once
    assert sorted(result.call_ids) == expected and len(result.transcribed) == len(SHORT)
    retried = [w for w in result.warnings if "a Ray worker died while transcribing it" in w]
    assert len(retried) == 1, result.warnings
    # progress as with local workers: one event per file, counting up to the total
    assert [(e.done, e.total, e.status) for e in events] == [(n, 3, "transcribed") for n in range(1, 4)]
    assert events[-1].audio_seconds == pytest.approx(result.audio_seconds)
    # the killed worker's copy of its recording was removed by a worker that came after it
    left_behind = [f for f in Path(tempfile.gettempdir()).glob(f"{WORK_PREFIX}{killed[0]}-*")]
    assert not left_behind
    # the pool's actors are gone once the run is over (the runtime itself stays: this module's);
    # Ray ends an actor's process asynchronously, so a loaded machine may take a moment
    deadline = time.monotonic() + 60
    while True:
        busy = [t for t in marked_processes(ray_runtime).values() if t.startswith("ray::TranscribeWorker")]
        if not busy or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert not busy


# ---- scoring ------------------------------------------------------------------------------------
def test_scoring_on_ray_gives_the_local_tables_call_for_call(ray_runtime, tmp_path: Path, monkeypatch) -> None:
    """The labelled text calls (ru and en, two scripts each, two rubrics): same tables, each
    call's score saved once, imported without Ray and scored on 2 actors."""
    scripts = [load_script(p) for p in SCRIPTS]
    rubrics = [load_rubric(p) for p in RUBRICS]
    with Workspace(tmp_path / "local") as ws:
        local = pipeline.score_paths([LABELLED], ws, scripts, rubrics)

    saved: Counter[str] = Counter()
    real = Workspace.save_scores

    def counting(ws, rows):  # type: ignore[no-untyped-def]
        rows = list(rows)
        saved.update(row[0] for row in rows)
        return real(ws, rows)

    monkeypatch.setattr(Workspace, "save_scores", counting)
    with RayEngine(workers=2) as engine, Workspace(tmp_path / "ray") as ws:
        on_ray = pipeline.score_paths([LABELLED], ws, scripts, rubrics, engine=engine)
        stored = ws.scored_call_ids(scripts[0].hash, rubrics[0].hash)

    import pandas as pd

    assert len(on_ray.calls) == len(list(LABELLED.glob("*.txt"))) > 100 and not on_ray.batch.failed
    pd.testing.assert_frame_equal(on_ray.calls, local.calls)
    pd.testing.assert_frame_equal(on_ray.items, local.items)
    assert sorted(saved) == sorted(on_ray.calls["call_id"]) and set(saved.values()) == {1}
    assert stored == set(local.calls[local.calls["script"] == scripts[0].name]["call_id"])


def test_engine_ray_inside_a_running_ray_uses_it_and_leaves_it_running(ray_runtime, tmp_path: Path) -> None:
    """A notebook (or this module) that started Ray keeps it: the run neither starts another
    runtime nor shuts this one down."""
    folder = tmp_path / "calls"
    folder.mkdir()
    for name in ("en_re_01.txt", "en_re_02.txt", "ru_re_01.txt"):
        shutil.copy(LABELLED / name, folder / name)
    before = ray.get_runtime_context().get_node_id()
    with Workspace(tmp_path / "ws") as ws:
        result = pipeline.score_paths([folder], ws, [load_script(SCRIPTS[0])], engine="ray", workers=2)
    assert ray.is_initialized() and ray.get_runtime_context().get_node_id() == before
    assert sorted(result.calls["call_id"]) == ["en_re_01", "en_re_02", "ru_re_01"]
    assert not result.batch.failed


def test_meaning_layer_on_ray_agrees_with_local_and_its_vectors_are_saved(ray_runtime, tmp_path: Path) -> None:
    """With the meaning layer, each actor embeds what its calls need; the driver saves the
    vectors in the workspace's cache, so a later local run embeds nothing again."""
    meaning = pytest.importorskip("qa.meaning")
    if not meaning.available():
        pytest.skip("needs the meaning extra: pip install 'call-qa[meaning]'")
    import pandas as pd

    folder = tmp_path / "calls"
    folder.mkdir()
    for name in ("en_re_03.txt", "ru_re_03.txt"):
        shutil.copy(LABELLED / name, folder / name)
    scripts = [load_script(p) for p in SCRIPTS[:2]]
    rubrics = [load_rubric(p) for p in RUBRICS]
    with Workspace(tmp_path / "local") as ws:
        local = pipeline.score_paths([folder], ws, scripts, rubrics, meaning=meaning.MeaningOptions())
    with Workspace(tmp_path / "ray") as ws:
        on_ray = pipeline.score_paths([folder], ws, scripts, rubrics, meaning=meaning.MeaningOptions(),
                                      engine="ray", workers=2)
        saved = ws.conn.execute("SELECT count(*) FROM vectors").fetchone()[0]
    assert (local.items["layer"] == "meaning").any()  # the layer found something the words did not
    pd.testing.assert_frame_equal(on_ray.calls, local.calls, check_exact=False, rtol=1e-4)
    pd.testing.assert_frame_equal(on_ray.items, local.items, check_exact=False, rtol=1e-4)
    assert saved > 0
