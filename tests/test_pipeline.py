"""The batch intake: discovery, metadata, cache, failures, resume, JSON output.

Unit tests swap the speech model for a fake that still decodes the audio for real (so
corrupt files fail the way they do in production); ``test_pipeline_real_*`` run the real
embedded model.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qa import pipeline
from qa.errors import QAError
from qa.store import Workspace
from qa.transcripts import CLIENT, MANAGER, Transcript, Utterance

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
SAMPLE_WAVS = sorted(SAMPLES.glob("*.wav"))


class FakeTranscriber:
    """Decodes for real, 'recognises' a fixed line per channel; counts calls."""

    calls: list[str] = []
    fail_on: str | None = None
    interrupt_after: int | None = None

    def __init__(self, options) -> None:
        self.options = options

    def transcribe(self, path, meta=None, decoded=None):
        from qa.audio import decode

        path = Path(path)
        if self.interrupt_after is not None and len(self.calls) >= self.interrupt_after:
            raise KeyboardInterrupt
        audio = decode(path)
        type(self).calls.append(path.name)
        return Transcript(
            meta=meta,
            utterances=[
                Utterance(MANAGER, 0.0, 1.0, f"hello from {path.stem}"),
                Utterance(CLIENT, 1.2, 2.0, "hi"),
            ],
            language="en",
            duration=audio.duration,
            model="fake",
        )


@pytest.fixture
def fake_model(monkeypatch):
    import qa.speech_model
    import qa.transcribe

    FakeTranscriber.calls = []
    FakeTranscriber.interrupt_after = None
    monkeypatch.setattr(qa.transcribe, "Transcriber", FakeTranscriber)

    class Ref:
        label = "fake-model"

    monkeypatch.setattr(qa.speech_model, "resolve_model", lambda name: Ref())
    return FakeTranscriber


@pytest.fixture
def day(tmp_path: Path) -> Path:
    """A day's folder: three sample recordings, a corrupt one, an empty one, a note."""
    folder = tmp_path / "day"
    folder.mkdir()
    for wav in SAMPLE_WAVS[:3]:
        shutil.copy(wav, folder / wav.name)
    (folder / "2026-11-21_09-00-00_ivanov_79160000000_in.wav").write_bytes(b"RIFF\x00\x01garbage" * 50)
    (folder / "2026-11-21_09-05-00_ivanov_79160000001_in.mp3").write_bytes(b"")
    (folder / "notes.docx").write_text("not a call")
    return folder


def test_discover_splits_audio_transcripts_and_ignores_other_files(day: Path, tmp_path: Path) -> None:
    (day / "sub").mkdir()
    (day / "sub" / "call_x.txt").write_text("Manager: hello\nClient: hi\n")
    audio, transcripts, failed = pipeline.discover([day, tmp_path / "missing.wav", day / "notes.docx"])
    assert len(audio) == 5
    assert [p.name for p in transcripts] == ["call_x.txt"]
    reasons = dict(failed)
    assert "no such file" in reasons[str(tmp_path / "missing.wav")]
    assert "unsupported file type '.docx'" in reasons[str(day / "notes.docx")]


def test_discover_walks_folders_once_each_kind_sorted_hidden_skipped(tmp_path: Path) -> None:
    for rel in ["day/b.wav", "day/a/c.MP3", "day/a/d.ogg", "day/a/notes.txt", "day/.hidden/e.wav",
                "day/a/.f.wav", "day/z.flac", "day/x.json", "day/sub/y.SRT", "day/manifest.csv",
                "day/.cache/e.json", "single.vtt", ".calls/g.wav"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    audio, transcripts, failed = pipeline.discover(
        [tmp_path / "day", tmp_path / "day/b.wav", tmp_path / "single.vtt", tmp_path / ".calls"])
    rel = [p.relative_to(tmp_path).as_posix() for p in audio]
    assert rel == ["day/a/c.MP3", "day/a/d.ogg", "day/b.wav", "day/z.flac", ".calls/g.wav"]
    assert [p.relative_to(tmp_path).as_posix() for p in transcripts] == [
        "day/a/notes.txt", "day/sub/y.SRT", "day/x.json", "single.vtt"]
    assert failed == []


@pytest.mark.audio
def test_bad_files_fail_alone_and_the_batch_completes(fake_model, day: Path, tmp_path: Path) -> None:
    with Workspace(tmp_path / "ws") as ws:
        result = pipeline.transcribe_paths([day], ws)
        failed = dict(result.failed)
        assert len(result.transcribed) == 3
        assert len(failed) == 2
        empty = next(p for p in failed if p.endswith(".mp3"))
        corrupt = next(p for p in failed if p.endswith("09-00-00_ivanov_79160000000_in.wav"))
        assert "empty" in failed[empty]
        assert Path(corrupt).name in failed[corrupt]  # the one-line reason names the file
        assert "\n" not in failed[corrupt]
        assert sorted(ws.failures()) == sorted(result.failed)
        assert len(ws.call_ids()) == 3


@pytest.mark.audio
def test_metadata_from_file_name_template(fake_model, day: Path, tmp_path: Path) -> None:
    with Workspace(tmp_path / "ws") as ws:
        pipeline.transcribe_paths([day / SAMPLE_WAVS[0].name], ws)
        (call_id,) = ws.call_ids()
        row = ws.query("SELECT manager, started_at, day, direction, client_phone FROM calls")[0]
    parts = SAMPLE_WAVS[0].stem.split("_")
    assert call_id == SAMPLE_WAVS[0].stem
    assert row[0] == parts[2]
    assert row[1].startswith(parts[0]) and row[2] == parts[0]
    assert row[3] == parts[4]
    assert row[4] == parts[3]


@pytest.mark.audio
def test_second_run_hits_the_cache(fake_model, day: Path, tmp_path: Path) -> None:
    with Workspace(tmp_path / "ws") as ws:
        first = pipeline.transcribe_paths([day], ws)
        n_calls = len(fake_model.calls)
        second = pipeline.transcribe_paths([day], ws)
    assert n_calls == 3 and len(first.transcribed) == 3
    assert len(fake_model.calls) == 3, "cached calls must not be transcribed again"
    assert len(second.cached) == 3 and not second.transcribed
    # Same content under another name is a cache hit too (cache is keyed on content).
    renamed = tmp_path / "renamed"
    renamed.mkdir()
    shutil.copy(day / SAMPLE_WAVS[0].name, renamed / "another_name.wav")
    with Workspace(tmp_path / "ws") as ws:
        third = pipeline.transcribe_paths([renamed], ws)
        assert ws.transcript("another_name") is not None
    assert third.cached == [str(renamed / "another_name.wav")]


@pytest.mark.audio
def test_force_transcribes_again(fake_model, day: Path, tmp_path: Path) -> None:
    with Workspace(tmp_path / "ws") as ws:
        pipeline.transcribe_paths([day / SAMPLE_WAVS[0].name], ws)
        again = pipeline.transcribe_paths([day / SAMPLE_WAVS[0].name], ws, force=True)
    assert again.transcribed and len(fake_model.calls) == 2


@pytest.mark.audio
def test_interrupted_run_resumes_without_redoing_finished_calls(fake_model, day: Path, tmp_path: Path) -> None:
    fake_model.interrupt_after = 2
    with Workspace(tmp_path / "ws") as ws, pytest.raises(KeyboardInterrupt):
        pipeline.transcribe_paths([day], ws)
    assert len(fake_model.calls) == 2
    fake_model.interrupt_after = None
    with Workspace(tmp_path / "ws") as ws:
        result = pipeline.transcribe_paths([day], ws)
    assert len(result.cached) == 2
    assert len(result.transcribed) == 1
    assert len(fake_model.calls) == 3


@pytest.mark.audio
def test_output_dir_gets_one_json_per_call(fake_model, day: Path, tmp_path: Path) -> None:
    out = tmp_path / "json"
    with Workspace(tmp_path / "ws") as ws:
        result = pipeline.transcribe_paths([day], ws, output_dir=out)
    files = sorted(p.name for p in out.iterdir())
    assert files == sorted(f"{cid}.json" for cid in result.call_ids)
    data = json.loads((out / files[0]).read_text(encoding="utf-8"))
    assert {"role", "start", "end", "text"} <= set(data["utterances"][0])
    assert not list(out.glob("*.tmp"))


def test_imported_transcripts_need_no_model(tmp_path: Path, monkeypatch) -> None:
    import qa.speech_model

    def no_model(name):  # importing text transcripts must never touch the speech model
        raise AssertionError("speech model resolved for a transcript-only batch")

    monkeypatch.setattr(qa.speech_model, "resolve_model", no_model)
    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "2026-11-20_10-00-00_petrova_79990000000_out.txt").write_text(
        "[00:01] Менеджер: Добрый день!\n[00:04] Клиент: Здравствуйте.\n", encoding="utf-8"
    )
    with Workspace(tmp_path / "ws") as ws:
        result = pipeline.transcribe_paths([folder], ws)
        t = ws.transcript("2026-11-20_10-00-00_petrova_79990000000_out")
    assert len(result.imported) == 1
    assert t is not None and t.meta.manager == "petrova"
    assert [u.role for u in t.utterances] == [MANAGER, CLIENT]


def test_duplicate_call_ids_in_one_batch_fail_clearly(tmp_path: Path) -> None:
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "call1.txt").write_text("Manager: hello\n", encoding="utf-8")
    with Workspace(tmp_path / "ws") as ws:
        result = pipeline.transcribe_paths([tmp_path / "a", tmp_path / "b"], ws)
    assert len(result.imported) == 1
    ((path, reason),) = result.failed
    assert "call_id 'call1' is also used by" in reason


def test_pick_config_by_language_then_alphabet() -> None:
    from qa.scripts import load_script

    en = load_script(ROOT / "scripts_library/real_estate_inbound.en.yaml")
    ru = load_script(ROOT / "scripts_library/real_estate_inbound.ru.yaml")
    t_en = Transcript(meta=_meta("x"), utterances=[Utterance(MANAGER, 0, 1, "hello")], language="en")
    t_unknown_ru = Transcript(meta=_meta("y"), utterances=[Utterance(MANAGER, 0, 1, "здравствуйте, меня зовут")])
    t_unknown_en = Transcript(meta=_meta("z"), utterances=[Utterance(MANAGER, 0, 1, "Hello, I don't know the prices")])
    assert pipeline.pick_config([ru, en], t_en) is en
    assert pipeline.pick_config([en, ru], t_unknown_ru) is ru
    assert pipeline.pick_config([ru, en], t_unknown_en) is en  # ids and keys are ASCII: phrases decide
    assert pipeline.pick_config([en], t_unknown_ru) is en


def _meta(call_id: str):
    from qa.transcripts import CallMeta

    return CallMeta(call_id=call_id)


def test_workspace_refuses_newer_schema(tmp_path: Path) -> None:
    Workspace(tmp_path).close()
    conn = sqlite3.connect(tmp_path / "qa.sqlite")
    conn.execute("UPDATE meta SET value='999' WHERE key='schema_version'")
    conn.commit()
    conn.close()
    with pytest.raises(QAError, match="newer version"):
        Workspace(tmp_path)


# ---- real model ---------------------------------------------------------------------
@pytest.mark.model
@pytest.mark.audio
def test_pipeline_real_kill_and_resume(tmp_path: Path) -> None:
    """Kill a real `qa transcribe` mid-batch (``kill -9``); no worker process outlives it, and
    the rerun keeps finished calls and does the rest."""
    day = tmp_path / "day"
    day.mkdir()
    for wav in SAMPLE_WAVS[:3]:
        shutil.copy(wav, day / wav.name)
    ws = tmp_path / "ws"
    cmd = [sys.executable, "-m", "qa", "transcribe", str(day), "-w", str(ws)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    done = 0
    workers: set[int] = set()
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.5)
        if (ws / "qa.sqlite").exists():
            try:
                con = sqlite3.connect(ws / "qa.sqlite", timeout=1)
                done = con.execute("SELECT COUNT(*) FROM calls").fetchone()[0]
                con.close()
            except sqlite3.Error:
                continue
            if done >= 1:
                workers = _children(proc.pid) if sys.platform.startswith("linux") else set()
                proc.kill()
                break
    proc.wait()
    assert 1 <= done <= 3
    _assert_no_orphans(workers)  # the worker processes (one per core) died with it
    with Workspace(ws) as w:
        before = set(w.call_ids())
        result = pipeline.transcribe_paths([day], w)
        after = set(w.call_ids())
    assert before <= after and len(after) == 3
    assert len(result.cached) >= len(before)
    assert len(result.transcribed) == 3 - len(result.cached)


@pytest.mark.audio
def test_manifest_manager_channel_is_part_of_the_cache_key(fake_model, day: Path, tmp_path: Path) -> None:
    wav = day / SAMPLE_WAVS[0].name
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(f"file,manager_channel\n{wav.name},right\n", encoding="utf-8")
    with Workspace(tmp_path / "ws") as ws:
        first = pipeline.transcribe_paths([wav], ws)
        same = pipeline.transcribe_paths([wav], ws)
        swapped = pipeline.transcribe_paths([wav], ws, manifest=manifest)
    assert (len(first.transcribed), len(same.cached), len(swapped.transcribed)) == (1, 1, 1)


@pytest.mark.audio
def test_workers_process_pool_keeps_going_after_a_bad_file(day: Path, tmp_path: Path, monkeypatch) -> None:
    """Two worker processes (the default on 2 cores) with the real decoder and a stub model."""
    import qa.speech_model

    class Ref:
        label = "stub"

    monkeypatch.setattr(qa.speech_model, "resolve_model", lambda name: Ref())
    monkeypatch.setattr(pipeline, "_worker_init", _stub_worker_init)
    with Workspace(tmp_path / "ws") as ws:
        result = pipeline.transcribe_paths([day], ws, workers=2)
    assert len(result.transcribed) == 3 and len(result.failed) == 2


def test_workers_save_copies_of_the_same_recording_as_their_own_calls(day: Path, tmp_path: Path, monkeypatch) -> None:
    import qa.speech_model

    class Ref:
        label = "stub"

    monkeypatch.setattr(qa.speech_model, "resolve_model", lambda name: Ref())
    monkeypatch.setattr(pipeline, "_worker_init", _stub_worker_init)
    folder = tmp_path / "calls"
    folder.mkdir()
    for name in ("x1", "x2", "x3"):
        shutil.copy(SAMPLE_WAVS[0], folder / f"{name}.wav")
    shutil.copy(SAMPLE_WAVS[1], folder / "y.wav")
    with Workspace(tmp_path / "ws") as ws:
        result = pipeline.transcribe_paths([folder], ws, workers=2)
        sources = {t.call_id: Path(t.meta.source).name for t in ws.transcripts()}
    assert (len(result.transcribed), len(result.cached)) == (2, 2)
    assert sources == {"x1": "x1.wav", "x2": "x2.wav", "x3": "x3.wav", "y": "y.wav"}


def _stub_worker_init(options) -> None:
    pipeline._worker_transcriber = FakeTranscriber(options)


# ---- bad input and faults lose nothing (issue 10) -----------------------------------------
def test_identical_contents_stay_separate_calls(fake_model, day: Path, tmp_path: Path) -> None:
    """Same bytes, different calls: one cached transcript, each call keeps its own identity."""
    from qa.scripts import load_script

    calls = tmp_path / "calls"
    calls.mkdir()
    text = "Manager: Good afternoon, thank you for calling.\nClient: Hi, how much is it?\n"
    for name in ("t1", "t2", "t3"):
        (calls / f"{name}.txt").write_text(text, encoding="utf-8")
    wav = day / SAMPLE_WAVS[0].name
    for name in ("a1", "a2"):  # a duplicate export in one batch
        shutil.copy(wav, calls / f"{name}.wav")
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("file,manager\nt1.txt,ann\nt2.txt,bob\nt3.txt,cid\na1.wav,dan\na2.wav,eve\n"
                        "a3.wav,fay\n", encoding="utf-8")
    script = load_script(ROOT / "scripts_library/real_estate_inbound.en.yaml")
    with Workspace(tmp_path / "ws") as ws:
        first = pipeline.transcribe_paths([calls], ws, manifest=manifest)
        assert len(fake_model.calls) == 1, "the same recording twice in a batch is recognised once"
        assert (len(first.imported), len(first.transcribed), len(first.cached)) == (3, 1, 1)
        shutil.copy(wav, calls / "a3.wav")  # and again in a later run: a cache hit
        second = pipeline.transcribe_paths([calls / "a3.wav"], ws, manifest=manifest)
        assert second.cached == [str(calls / "a3.wav")]
        managers = {cid: ws.transcript(cid).meta.manager for cid in ws.call_ids()}
        sources = {t.call_id: Path(t.meta.source).name for t in ws.transcripts()}
        calls_table, _ = pipeline.score_calls(ws, ws.call_ids(), script)
        scored = ws.query("SELECT call_id FROM scores ORDER BY call_id")
    expected = {"t1": "ann", "t2": "bob", "t3": "cid", "a1": "dan", "a2": "eve", "a3": "fay"}
    assert managers == expected
    assert sources == {cid: f"{cid}.{'txt' if cid.startswith('t') else 'wav'}" for cid in expected}
    assert dict(zip(calls_table.call_id, calls_table.manager)) == expected
    assert [r[0] for r in scored] == sorted(expected)


def test_rerun_of_the_same_call_keeps_what_an_earlier_manifest_said(fake_model, day: Path, tmp_path: Path) -> None:
    wav = day / SAMPLE_WAVS[0].name
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(f"file,outcome\n{wav.name},won\n", encoding="utf-8")
    with Workspace(tmp_path / "ws") as ws:
        pipeline.transcribe_paths([wav], ws, manifest=manifest)
        again = pipeline.transcribe_paths([wav], ws)
        t = ws.transcript(wav.stem)
    assert again.cached and t.meta.outcome == "won" and t.meta.manager == wav.stem.split("_")[2]


BAD_IDS = ["../../escaped", "/tmp/absolute_call", "sub/missing/folder/x", "..", ".", "a\\b",
           "CON", "nul\x00byte", "new\nline", "x" * 400, "ok_id"]


def test_call_ids_cannot_write_outside_the_output_folder(tmp_path: Path) -> None:
    calls = tmp_path / "in"
    calls.mkdir()
    rows = []
    for i, call_id in enumerate(BAD_IDS):
        (calls / f"c{i}.txt").write_text(f"Manager: hello {i}\nClient: hi\n", encoding="utf-8")
        quoted = '"' + call_id.replace('"', '""') + '"'
        rows.append(f"c{i}.txt,{quoted}")
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("file,call_id\n" + "\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "deep" / "out"
    before = {p for p in Path("/tmp").glob("*")}
    with Workspace(tmp_path / "ws") as ws:
        result = pipeline.transcribe_paths([calls], ws, manifest=manifest, output_dir=out)
    assert result.failed == []
    assert sorted(result.call_ids) == sorted(BAD_IDS)
    written = sorted(p for p in tmp_path.rglob("*.json"))
    assert len(written) == len(BAD_IDS)
    assert all(p.parent == out for p in written), written
    assert (out / "ok_id.json").is_file()  # ordinary ids keep their plain name
    assert {json.loads(p.read_text(encoding="utf-8"))["call_id"] for p in written} == set(BAD_IDS)
    assert {p for p in Path("/tmp").glob("*")} - before == set()


def test_a_file_name_that_is_not_utf8_is_imported_and_reported(day: Path, tmp_path: Path) -> None:
    import os

    folder = tmp_path / "in"
    folder.mkdir()
    raw = os.fsencode(folder)
    with open(raw + b"/call_\xff\xfe.txt", "wb") as f:
        f.write(b"Manager: hello\nClient: hi\n")
    with open(raw + b"/broken_\xff.json", "wb") as f:
        f.write(b"{not json")
    (folder / "fine.txt").write_text("Manager: hi\n", encoding="utf-8")
    for _ in range(2):  # a rerun must not trip over it either
        with Workspace(tmp_path / "ws") as ws:
            result = pipeline.transcribe_paths([folder], ws, output_dir=tmp_path / "out")
            ids = ws.call_ids()
            failures = ws.failures()
        assert len(result.imported) == 2 and len(result.failed) == 1
        assert sorted(ids) == ["call_\ufffd\ufffd", "fine"]
        assert any("not valid UTF-8" in w for w in result.warnings)
        ((source, reason),) = failures
        assert source.endswith("broken_\ufffd.json") and "not valid JSON" in reason
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["call_\ufffd\ufffd.json", "fine.json"]


def test_a_deeply_nested_json_transcript_fails_alone(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "deep.json").write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    (folder / "deep2.txt").write_text('{"a":' * 50_000 + "1" + "}" * 50_000, encoding="utf-8")
    (folder / "fine.txt").write_text("Manager: hi\n", encoding="utf-8")
    with Workspace(tmp_path / "ws") as ws:
        result = pipeline.transcribe_paths([folder], ws)
    assert result.imported == [str(folder / "fine.txt")]
    assert {Path(p).name: r for p, r in result.failed} == {
        "deep.json": f"{folder / 'deep.json'}: the JSON is nested too deeply to be a transcript; export it again",
        "deep2.txt": f"{folder / 'deep2.txt'}: the JSON is nested too deeply to be a transcript; export it again",
    }


def test_manifest_row_warnings_reach_the_batch(fake_model, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text("Manager: hi\n", encoding="utf-8")
    manifest = tmp_path / "m.csv"
    manifest.write_text("file,manager,outcome\na.txt,ann\n", encoding="utf-8")
    with Workspace(tmp_path / "ws") as ws:
        result = pipeline.transcribe_paths([folder], ws, manifest=manifest)
    assert f"{manifest}:2: 2 cells but the header has 3 columns" in result.warnings[0]


def test_json_output_that_cannot_be_written_is_a_warning_not_a_lost_call(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text("Manager: hi\n", encoding="utf-8")
    blocker = tmp_path / "out"
    blocker.write_text("a file where the output folder should be")
    with Workspace(tmp_path / "ws") as ws:
        result = pipeline.transcribe_paths([folder], ws, output_dir=blocker)
        assert ws.call_ids() == ["a"]
    assert result.imported and not result.failed
    assert any("saved, but cannot write its JSON into" in w for w in result.warnings)


# A `qa transcribe`-like run whose worker processes hang in "transcription" (decoding is
# not needed): the parent is killed with SIGKILL while they wait.
_HANGING_RUN = """
import os, sys, time
from pathlib import Path
import qa.speech_model
from qa import pipeline
from qa.store import Workspace

class Ref:
    label = "stub"

class Hang:
    def transcribe(self, path, meta):
        Path(sys.argv[1], f"started-{os.getpid()}").write_text("")
        time.sleep(600)

def init(options):
    pipeline._worker_transcriber = Hang()

qa.speech_model.resolve_model = lambda name: Ref()
pipeline._worker_init = init
with Workspace(Path(sys.argv[1]) / "ws") as ws:
    pipeline.transcribe_paths(sys.argv[2:], ws, workers=2)
"""


def _children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")  # a zombie is dead, only not yet reaped


def _assert_no_orphans(pids: set[int], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    alive = set(pids)
    while alive and time.monotonic() < deadline:
        alive = {p for p in alive if _running(p)}
        time.sleep(0.1)
    for pid in alive:  # do not leave them behind, even when the test fails
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    assert not alive, f"worker processes {sorted(alive)} outlived their killed parent"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_kill_9_of_the_run_leaves_no_worker_behind(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen([sys.executable, "-c", _HANGING_RUN, str(tmp_path), *map(str, SAMPLE_WAVS[:3])],
                            env=env, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while len(list(tmp_path.glob("started-*"))) < 2 and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.1)
        workers = _children(proc.pid)
        assert len(workers) == 2, "expected two workers in transcription"
    finally:
        proc.kill()
        proc.wait()
    _assert_no_orphans(workers)
