"""The sample day on the cluster set-up, for real: the three 8 kHz Asterisk calls of
2026-11-24 transcribed (embedded model) and scored with ``--engine ray`` on a local Ray
runtime with two workers, straight into a PostgreSQL workspace; ``qa team``, ``qa
scorecard`` and ``qa report`` then read it and agree, call for call, with the same calls
transcribed and scored by local worker processes into SQLite.

Both runs decode with one OpenMP thread, as Ray runs its actors (``OMP_NUM_THREADS=1``):
CTranslate2's int8 arithmetic sums in another order with more threads and may then hear
another word (measured on the MP3 call: six utterances differ), and the two runs would
differ in what was heard, not in how it was stored and read. The one-machine run is a
subprocess so that its decoder starts with that setting.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_postgres_views import same_pages
from typer.testing import CliRunner

from qa.cli import app
from qa.store import open_workspace

pytest.importorskip("ray")
pytest.importorskip("psycopg")
pytestmark = [pytest.mark.model, pytest.mark.audio]

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
DAY = "2026-11-24"
CALLS = sorted(p for p in SAMPLES.iterdir() if "-20261124-" in p.name)
SCRIPTS = [ROOT / f"scripts_library/{name}.{lang}.yaml"
           for name in ("real_estate_inbound", "b2b_cold_call") for lang in ("en", "ru")]
RUBRICS = [ROOT / f"rubrics/objections.{lang}.yaml" for lang in ("en", "ru")]


def cli(*args: str) -> object:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "250"})


def _score_args(workspace: str, *engine: str) -> list[str]:
    return ["score", *map(str, CALLS), *engine, "--no-meaning", "--manifest", str(SAMPLES / "manifest.csv"),
            *[a for s in SCRIPTS for a in ("-s", str(s))], *[a for r in RUBRICS for a in ("-r", str(r))],
            "--workspace", workspace]


@pytest.fixture(scope="module")
def on_ray(pg_database) -> str:
    """The sample day scored with --engine ray into a fresh PostgreSQL database."""
    url = pg_database()
    r = cli(*_score_args(url, "--engine", "ray", "--workers", "2"))
    assert r.exit_code == 0, r.output  # type: ignore[attr-defined]
    return url


@pytest.fixture(scope="module")
def one_machine(tmp_path_factory) -> str:
    """The same calls on this machine (the default local engine) into a SQLite workspace."""
    ws = str(tmp_path_factory.mktemp("one_machine") / "ws")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "QA_NO_PROGRESS": "1"}
    r = subprocess.run([sys.executable, "-m", "qa", *_score_args(ws)], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return ws


def _scores(spec: object) -> dict[str, tuple[float, list[tuple[str, str, str]]]]:
    """Each call of the day: its score and its items (kind, id, status)."""
    with open_workspace(spec) as ws:
        rows = ws.query("SELECT s.call_id, s.score FROM scores s JOIN calls c USING(call_id) WHERE c.day=?",
                        (DAY,))
        out = {}
        for call_id, score in rows:
            items = ws.query("SELECT kind, item_id, status FROM items WHERE call_id=? ORDER BY kind, item_id, "
                             "status", (call_id,))
            out[call_id] = (round(float(score), 6), [tuple(i) for i in items])
    return out


def test_the_sample_day_on_ray_and_postgres_agrees_with_one_machine(on_ray, one_machine, tmp_path) -> None:
    lite = one_machine
    assert len(_scores(on_ray)) == len(CALLS) == 3
    assert _scores(on_ray) == _scores(lite)  # every call, its score and every item's status

    def agree(*args: str) -> str:
        a, b = cli(*args, "--workspace", str(lite)), cli(*args, "--workspace", on_ray)
        assert a.exit_code == b.exit_code == 0, (args, a.output, b.output)  # type: ignore[attr-defined]
        assert a.stdout == b.stdout, args  # type: ignore[attr-defined]
        return str(a.stdout)  # type: ignore[attr-defined]

    team = agree("team", "--from", DAY, "--to", DAY, "-f", "csv")
    for manager in ("101", "102", "103"):
        assert manager in team
        agree("scorecard", manager, "--from", DAY, "--to", DAY, "-f", "csv")

    sites = []
    for n, spec in enumerate((str(lite), on_ray)):
        out = tmp_path / f"site{n}"
        r = cli("report", "--day", DAY, "-o", str(out), "--no-excel", "--audio", "none", "--workspace", spec)
        assert r.exit_code == 0, r.output  # type: ignore[attr-defined]
        sites.append(out)
    pages = same_pages(*sites)
    assert len(pages) >= 4  # the day page and the three call pages at least
