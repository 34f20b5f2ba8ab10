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
