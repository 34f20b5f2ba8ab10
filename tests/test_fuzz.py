"""Bad input never costs more than its own file, and never a traceback.

The corpus in ``tests/fuzz/`` (rebuilt by ``tests/fuzz/make_corpus.py``) holds broken
recordings, transcripts, script YAML and manifests; the file name says what each must give:
``ok_*`` a valid result, ``bad_*`` a clean failure (a ``QAError`` whose message is one line
and names the file), ``any_*`` either. Cases too big or impossible to commit (names that are
not UTF-8, huge fields) are made here. The property-based tests (hypothesis, a bounded
number of examples so the suite stays short) throw generated text at the importers, the
manifest reader and the file-name templates.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa import pipeline
from qa.errors import MetadataError, QAError, TranscriptFormatError
from qa.importers import load_transcript
from qa.metadata import TEMPLATE_FIELDS, NameTemplate, load_manifest
from qa.store import Workspace
from qa.transcripts import CLIENT, MANAGER, Transcript, Utterance

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).resolve().parent / "fuzz"
SCRIPT = ROOT / "scripts_library" / "real_estate_inbound.en.yaml"
FUZZ = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def cases(folder: str) -> list[Path]:
    return sorted((CORPUS / folder).iterdir())


def expected(path: Path) -> str:
    kind = path.name.split("_", 1)[0]
    assert kind in ("ok", "bad", "any"), f"{path.name}: name a fuzz case ok_*, bad_* or any_*"
    return kind


def assert_clean(message: str, path: Path | str) -> None:
    """A failure a user can act on: one line that names the file, not a traceback."""
    assert "\n" not in message and "Traceback" not in message, message
    assert Path(path).name in message, f"{message!r} does not name {path}"


def test_the_corpus_is_there_and_named() -> None:
    for folder in ("audio", "transcripts", "yaml", "manifests"):
        found = cases(folder)
        assert len(found) >= 10, folder
        kinds = {expected(p) for p in found}
        assert {"ok", "bad"} <= kinds, folder


# ---- transcripts -----------------------------------------------------------------------------
@pytest.mark.parametrize("path", cases("transcripts"), ids=lambda p: p.name)
def test_transcript_files(path: Path) -> None:
    try:
        t = load_transcript(path)
    except TranscriptFormatError as e:
        assert expected(path) in ("bad", "any"), f"{path.name} should load: {e}"
        assert_clean(str(e), path)
    else:
        assert expected(path) in ("ok", "any"), f"{path.name} should fail, got {t}"
        t.to_json().encode("utf-8")  # what the workspace stores
        assert all(u.end >= u.start >= 0 for u in t.utterances)


# ---- script YAML -----------------------------------------------------------------------------
# Each YAML case runs in its own process, time- and memory-limited, so an alias bomb cannot
# take the test machine down with it.
_YAML_PROBE = """
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
from qa.errors import QAError
from qa.scripts import load_script, validate_file
out = {}
try:
    out["issues"] = [[i.level, str(i)] for i in validate_file(sys.argv[1])]
    try:
        load_script(sys.argv[1])
        out["load"] = "ok"
    except QAError as e:
        out["load"] = str(e)
except BaseException as e:
    out["crash"] = f"{type(e).__name__}: {e}"[:300]
print(json.dumps(out))
"""


@pytest.mark.parametrize(
    "path",
    cases("yaml"),
    ids=lambda p: p.name,
)
def test_script_yaml_files(path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    try:
        run = subprocess.run([sys.executable, "-c", _YAML_PROBE, str(path)], capture_output=True,
                             text=True, timeout=10, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{path.name}: validating took more than 10 s")
    assert run.returncode == 0 and run.stdout.strip(), run.stderr[-2000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert "crash" not in out, out.get("crash")
    errors = [text for level, text in out["issues"] if level == "error"]
    if expected(path) == "ok":
        assert out["load"] == "ok" and not errors
    elif expected(path) == "bad":
        assert errors and out["load"] != "ok", f"{path.name} was accepted"
    for text in [*errors, *([out["load"]] if out["load"] != "ok" else [])]:
        assert "Traceback" not in text
        assert path.name in text.splitlines()[0]
    assert (out["load"] == "ok") == (not errors)  # validate and load agree


# ---- manifests --------------------------------------------------------------------------------
@pytest.mark.parametrize("path", cases("manifests"), ids=lambda p: p.name)
def test_manifest_files(path: Path) -> None:
    try:
        manifest = load_manifest(path)
    except MetadataError as e:
        assert expected(path) in ("bad", "any"), f"{path.name} should load: {e}"
        assert_clean(str(e), path)
        return
    assert expected(path) in ("ok", "any"), f"{path.name} should fail"
    for meta in manifest:
        assert meta.call_id.strip()
    for warning in manifest.warnings:
        assert_clean(warning, path)


def test_a_manifest_field_past_the_csv_limit_fails_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    path.write_text("file,note\na.wav," + "x" * 140_000 + "\n", encoding="utf-8")
    with pytest.raises(MetadataError) as e:
        load_manifest(path)
    assert_clean(str(e.value), path)


def test_bad_manifest_rows_are_named_in_warnings(tmp_path: Path) -> None:
    for name in ("ok_missing_cells.csv", "ok_extra_cells.csv"):
        (warning,) = load_manifest(CORPUS / "manifests" / name).warnings
        assert warning.startswith(f"{CORPUS / 'manifests' / name}:2: ")


# ---- the whole intake at once --------------------------------------------------------------
class _Fake:
    """Decodes for real (so broken audio fails as in production); 'recognises' one line."""

    def __init__(self, options) -> None:
        pass

    def transcribe(self, path, meta=None, decoded=None):
        from qa.audio import decode

        audio = decode(path)
        return Transcript(meta=meta, utterances=[
            Utterance(MANAGER, 0.0, 1.0, "good afternoon, thank you for calling"),
            Utterance(CLIENT, 1.0, 2.0, "hi")], language="en", duration=audio.duration, model="fake")


# Names a PBX or a person could give a file (the content is an ordinary transcript).
ODD_NAMES = [
    "пробел в имени.txt", " leading space.txt", "-starts-with-dash.txt", "hash#and%20percent.txt",
    "semi;colon,comma.txt", "new\nline.txt", "tab\there.txt", "back\\slash.txt", "CON.txt",
    "dots...txt", "trailing dot..txt", "quote'\"s.txt", "emoji_\U0001f4de.txt", "rtl_\u202ename.txt",
    " .txt", "x" * 240 + ".txt",
]  # names starting with "." are hidden files: discover() skips them on purpose


def test_the_whole_corpus_through_intake_and_scoring(tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("av")
    import qa.speech_model
    import qa.transcribe
    from qa.scripts import load_script

    class Ref:
        label = "fake"

    monkeypatch.setattr(qa.transcribe, "Transcriber", _Fake)
    monkeypatch.setattr(qa.speech_model, "resolve_model", lambda name: Ref())
    day = tmp_path / "day"
    for folder in ("audio", "transcripts"):
        shutil.copytree(CORPUS / folder, day / folder)
    names = day / "names"
    names.mkdir()
    for name in ODD_NAMES:
        (names / name).write_text("Manager: good afternoon\nClient: hi\n", encoding="utf-8")
    raw = os.fsencode(names)
    for bad in (b"cp1251_\xc7\xe2\xee\xed\xee\xea.txt", b"latin1_caf\xe9.txt"):
        with open(raw + b"/" + bad, "wb") as f:
            f.write(b"Manager: hello\n")
    files = [p for p in day.rglob("*") if p.is_file()]
    out = tmp_path / "json"
    with Workspace(tmp_path / "ws") as ws:
        result = pipeline.transcribe_paths([day], ws, output_dir=out, workers=1)
        calls, items = pipeline.score_calls(ws, result.call_ids, load_script(SCRIPT))
        stored = ws.call_ids()
        scored = ws.query("SELECT COUNT(*) FROM scores")[0][0]

    # Every file is accounted for exactly once.
    done = result.transcribed + result.cached + result.imported
    assert result.total == len(files) == len(done) + len(result.failed)
    for path, reason in result.failed:
        assert_clean(reason, path)
        assert expected(Path(path)) in ("bad", "any"), reason
    for path in done:
        assert not Path(path).name.startswith("bad_"), f"{path} should have failed"
    for p in files:
        if p.name.startswith("ok_") or p.parent == names:
            assert str(p) in done or os.fsdecode(os.fsencode(p)) in done, f"{p.name} was lost"
    # Each call stored, scored and written once, inside the output folder.
    assert sorted(stored) == sorted(result.call_ids) and scored == len(stored) == len(calls)
    written = list(out.iterdir())
    assert len(written) == len(stored) and all(p.parent == out for p in written)
    assert not [p for p in tmp_path.rglob("*.json") if out not in p.parents and "day" not in p.parts]


# ---- property-based ------------------------------------------------------------------------
_TEXT = st.text(alphabet=st.characters(codec=None, exclude_categories=("Cs",)), max_size=400)
_LINES = st.lists(
    st.one_of(
        st.sampled_from(["Manager:", "Client:", "M:", "Менеджер:", "Клиент:", "Boss:", "#", "", "WEBVTT",
                         "00:00:01,000 --> 00:00:02,000", "00:01.000 --> 00:00.500", "[00:10]",
                         "[00:75]", "(01:02:03)", "10:30", "<v Manager>", "-->", "1"]),
        st.text(alphabet="abc абв:[]()<>-0123456789 .,\t&;", max_size=30),
    ).map(str),
    max_size=15,
).map(lambda parts: "\n".join(" ".join(parts[i:i + 2]) for i in range(0, len(parts), 2)))

_JSON_KEYS = st.sampled_from(["utterances", "segments", "start", "end", "text", "role", "words", "speaker",
                              "channel", "meta", "call_id", "word", "probability", "score", "language",
                              "duration", "extra", "manager", "avg_logprob"])
_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10, 10**6), st.floats(allow_nan=True),
              _TEXT.map(lambda s: s[:20]), st.sampled_from(["manager", "client", "SPEAKER_00", "left"])),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_JSON_KEYS, inner, max_size=5)),
    max_leaves=25,
)


@pytest.fixture(scope="module")
def scratch() -> Path:
    with tempfile.TemporaryDirectory(prefix="qa-fuzz-") as d:
        yield Path(d)


def _load_or_clean_failure(path: Path) -> None:
    try:
        t = load_transcript(path)
    except TranscriptFormatError as e:
        assert_clean(str(e), path)
        return
    t.to_json().encode("utf-8")
    assert all(u.role in (MANAGER, CLIENT, "unknown") for u in t.utterances)


@FUZZ
@given(text=st.one_of(_TEXT, _LINES), ext=st.sampled_from([".txt", ".srt", ".vtt", ".json"]))
def test_importers_take_any_text(scratch: Path, text: str, ext: str) -> None:
    path = scratch / f"call{ext}"
    path.write_text(text, encoding="utf-8")
    _load_or_clean_failure(path)


@FUZZ
@given(data=st.binary(max_size=300), ext=st.sampled_from([".txt", ".srt", ".vtt", ".json"]))
def test_importers_take_any_bytes(scratch: Path, data: bytes, ext: str) -> None:
    path = scratch / f"bytes{ext}"
    path.write_bytes(data)
    _load_or_clean_failure(path)


@FUZZ
@given(value=_JSON)
def test_importers_take_any_json(scratch: Path, value: object) -> None:
    path = scratch / "call.json"
    path.write_text(json.dumps(value), encoding="utf-8")
    _load_or_clean_failure(path)


_HEADER = st.lists(st.sampled_from(["file", "call_id", "manager", "date", "time", "started_at", "direction",
                                    "outcome", "duration", "Файл", "Менеджер", "note", "", "file"]),
                   min_size=1, max_size=6)
_CELL = st.one_of(st.text(alphabet='ab.wav/\\ "01:-;,\tфы\r', max_size=12),
                  st.sampled_from(["in", "out", "вх", "2026-11-21 10:00", "1:35", "-5", "won"]))


@FUZZ
@given(header=_HEADER, rows=st.lists(st.lists(_CELL, max_size=8), max_size=6),
       delimiter=st.sampled_from([",", ";", "\t"]), encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1251"]))
def test_manifest_reader_takes_any_table(scratch: Path, header: list[str], rows: list[list[str]],
                                         delimiter: str, encoding: str) -> None:
    text = "\n".join(delimiter.join(r) for r in [header, *rows]) + "\n"
    path = scratch / "manifest.csv"
    path.write_bytes(text.encode(encoding, "replace"))
    try:
        manifest = load_manifest(path)
    except MetadataError as e:
        assert_clean(str(e), path)
        return
    for meta in manifest:
        assert meta.call_id.strip()
        if meta.direction is not None:
            assert meta.direction in ("in", "out")
    for warning in manifest.warnings:
        assert_clean(warning, path)


_TEMPLATE = st.lists(
    st.one_of(st.sampled_from(["{" + f + "}" for f in TEMPLATE_FIELDS]),
              st.text(alphabet="_-. {}/a1", max_size=3)),
    max_size=6,
).map("".join)
_FILE_NAME = st.one_of(
    _TEXT.map(lambda s: s.replace("/", "_").replace("\x00", "")),
    st.lists(st.sampled_from(["2026-11-21", "20261121", "10-32-15", "103215", "ivanov", "79161234567",
                              "in", "out", "вх", "_", "-", ".", "2026-13-45", "+7916"]), max_size=8).map("".join),
)


@FUZZ
@given(pattern=_TEMPLATE, names=st.lists(_FILE_NAME, min_size=1, max_size=5))
def test_name_templates_take_any_pattern_and_name(pattern: str, names: list[str]) -> None:
    try:
        template = NameTemplate(pattern)
    except MetadataError as e:
        assert "\n" not in str(e) and "invalid file-name template" in str(e)
        return
    for name in names:
        meta = template.parse(f"{name}.wav")
        assert meta.call_id.strip()
        if meta.direction is not None:
            assert meta.direction in ("in", "out")
        if meta.started_at is not None:
            assert meta.started_at[:4].isdigit()


def test_qa_errors_are_what_the_corpus_failures_raise() -> None:
    # The failures above are typed errors the CLI prints as one line, not bare exceptions.
    assert issubclass(TranscriptFormatError, QAError) and issubclass(MetadataError, QAError)
