"""Shared fixtures.

``scored_samples`` runs the real pipeline once per test session: the bundled sample
recordings through the embedded speech model, scored with the bundled scripts and rubrics
(English and Russian). Tests that use it are marked ``model``.
"""

from __future__ import annotations

import os
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
