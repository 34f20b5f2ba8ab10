"""The same workspace on SQLite and on PostgreSQL gives the same views, call for call.

Three workspaces are built twice, once per backend, through the library or the CLI:

* the hand-computed supervisor workspace (tests/supervisor_workspace.py, two weeks);
* the trainer corpus (tests/trainer_corpus.py), English and Russian, scored for real;
* the bundled transcript files (tests/fixtures/transcripts) scored by ``qa score``.

Then the supervisor and trainer functions and the commands ``qa team``, ``qa scorecard``,
``qa coach``, ``qa revive``, ``qa mine``, ``qa report``, ``qa search``, ``qa missed`` and
``qa dispute`` run on both and must agree: the same frames, the same JSON, the same pages. PostgreSQL is a real server
(tests/conftest.py ``pg_server``).
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import supervisor_workspace as sw
import trainer_corpus as tc
from typer.testing import CliRunner

from qa import coaching, mining, scorecards
from qa.cli import app
from qa.pipeline import score_calls
from qa.reports.data import Period, load_period
from qa.scripts import load_rubric, load_script
from qa.search import search
from qa.store import Workspace
from qa.versions import versions

ROOT = Path(__file__).resolve().parent.parent
WEEK1 = ("2024-05-06", "2024-05-08")


def same(a: Any, b: Any, where: str = "") -> None:
    """Deep equality of view results: frames (values and dtypes), dataclasses, containers;
    floats to 1e-9 (the two databases sum in different orders)."""
    if isinstance(a, pd.DataFrame):
        assert isinstance(b, pd.DataFrame), where
        pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True), obj=where or "frame")
    elif isinstance(a, pd.Series):
        pd.testing.assert_series_equal(a, b, obj=where or "series")
    elif dataclasses.is_dataclass(a) and not isinstance(a, type):
        assert type(a) is type(b), where
        for f in dataclasses.fields(a):
            same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), f"{where}: keys {list(a)} != {list(b)}"
        for k in a:
            same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), f"{where}: {a!r} != {b!r}"
        for n, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{where}[{n}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-9, abs=1e-12), where
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def cli(spec: Any, *args: str) -> Any:
    r = CliRunner().invoke(app, [*args, "--workspace", str(spec)], env={"COLUMNS": "250"})
    return r


def agree(specs: tuple[Any, Any], *args: str) -> str:
    """Run one command on both workspaces; the exit status, stdout and stderr must match
    (the workspace's own name aside). Returns stdout."""
    lite, pg = (cli(s, *args) for s in specs)
    assert lite.exit_code == pg.exit_code, (args, lite.output, pg.output)
    assert lite.stdout == pg.stdout, args
    assert lite.stderr.replace(str(specs[0]), "WS") == pg.stderr.replace(str(specs[1]), "WS"), args
    return str(lite.stdout)


# ---- the supervisor workspace ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def supervisor(tmp_path_factory, pg_database) -> tuple[Path, str]:
    lite = tmp_path_factory.mktemp("sup") / "ws"
    url = pg_database()
    sw.build(lite, week2=True).close()
    sw.build(url, week2=True).close()  # type: ignore[arg-type]
    return lite, url


def test_the_stored_rows_are_the_same(supervisor) -> None:
    with Workspace(supervisor[0]) as a, Workspace(supervisor[1]) as b:
        for sql in (
            "SELECT call_id, manager, day, started_at, duration, quality_json FROM calls ORDER BY call_id",
            "SELECT call_id, score, critical, next_step, tokens_stage, tokens_objection, tokens_forbidden, "
            "metric_manager_talk_share, metric_manager_questions FROM scores ORDER BY call_id",
            "SELECT call_id, kind, item_id, status, score, max_score, start, end, text, utterance FROM items "
            "ORDER BY rowid",
        ):
            rows = a.query(sql)
            assert rows and rows == b.query(sql), sql
        same(versions(a), versions(b), "versions")


def test_supervisor_functions_agree(supervisor) -> None:
    with Workspace(supervisor[0]) as a, Workspace(supervisor[1]) as b:
        for period in ((None, None), WEEK1):
            same(scorecards.team(a, *period), scorecards.team(b, *period), f"team{period}")
            for manager in ("anna", "boris", "vera"):
                same(scorecards.scorecard(a, manager, *period), scorecards.scorecard(b, manager, *period),
                     f"scorecard({manager}, {period})")
            same(coaching.coach(a, "boris", *period, save=False), coaching.coach(b, "boris", *period, save=False),
                 f"coach{period}")
            same(coaching.revive_list(a, *period), coaching.revive_list(b, *period), f"revive{period}")
        same(scorecards.outcome_link(a), scorecards.outcome_link(b), "outcome_link")
        pa, pb = load_period(a, Period()), load_period(b, Period())
        same(pa.calls.drop(columns=["quality", "metrics"]), pb.calls.drop(columns=["quality", "metrics"]), "calls")
        same(pa.items, pb.items.assign(seq=pa.items["seq"]), "items")  # seq: rowid, numbered per database


@pytest.mark.parametrize("args", [
    ("team",), ("team", "-f", "json"), ("team", "--from", WEEK1[0], "--to", WEEK1[1], "-f", "json"),
    ("scorecard", "anna"), ("scorecard", "boris", "-f", "json"), ("scorecard", "Vera", "-f", "json"),
    ("coach", "boris", "--no-save", "-f", "json"), ("coach", "anna", "--no-save"),
    ("revive", "-f", "json"), ("scorecard", "nobody"), ("team", "--from", "2030-01-01"),
], ids=lambda a: " ".join(a))
def test_supervisor_commands_agree(supervisor, args) -> None:
    agree(supervisor, *args)


def test_a_saved_plan_is_checked_on_both(supervisor) -> None:
    """qa coach saves the plan (plans.id from RETURNING on PostgreSQL) and the next period's
    run checks it, the same on both."""
    for spec in supervisor:
        r = cli(spec, "coach", "boris", "--from", WEEK1[0], "--to", WEEK1[1])
        assert r.exit_code == 0, r.output
    out = agree(supervisor, "coach", "boris", "--from", "2024-05-13", "--to", "2024-05-19", "--no-save", "-f", "json")
    assert json.loads(out)["previous"] is not None


def test_report_pages_agree(supervisor, tmp_path) -> None:
    outs = []
    for n, spec in enumerate(supervisor):
        out = tmp_path / f"site{n}"
        r = cli(spec, "report", "-o", str(out), "--no-excel")
        assert r.exit_code == 0, r.output
        outs.append(out)
    same_pages(*outs)


def same_pages(one: Path, other: Path) -> list[Path]:
    """Two report sites have the same pages, word for word but for the time each was made
    (the footer names it); returns the pages."""
    pages = sorted(p.relative_to(one) for p in one.rglob("*.html"))
    assert pages and pages == sorted(p.relative_to(other) for p in other.rglob("*.html"))
    for page in pages:
        a, b = ((site / page).read_text(encoding="utf-8") for site in (one, other))
        assert _drop_generated(a) == _drop_generated(b), page
    return pages


def _drop_generated(html: str) -> str:
    import re

    return re.sub(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", "T", html)


# ---- the trainer corpus (scored for real), English and Russian ----------------------------------------
def _mirror(corpus: tc.Corpus, url: str) -> None:
    """The corpus's calls into a PostgreSQL workspace, scored there for real."""
    with corpus.open() as lite, Workspace(url) as pg:
        for t in lite.transcripts():
            key = lite.query("SELECT cache_key FROM calls WHERE call_id = ?", [t.call_id])[0][0]
            pg.save_call(t, cache_key=key)
        score_calls(pg, pg.call_ids(), load_script(corpus.script), load_rubric(corpus.rubric))


@pytest.fixture(scope="module", params=["en", "ru"])
def trainer(request, tmp_path_factory, pg_database) -> tuple[tc.Corpus, str]:
    corpus = tc.build(tmp_path_factory.mktemp(f"trainer_{request.param}"), request.param)
    url = pg_database()
    _mirror(corpus, url)
    return corpus, url


def test_trainer_functions_agree(trainer) -> None:
    corpus, url = trainer
    with corpus.open() as a, Workspace(url) as b:
        for top in (0.2, "40%"):
            same(mining.mine(a, top=top), mining.mine(b, top=top), f"mine(top={top})")
        words = {"en": ("garden", "payment", "expensive", "think"), "ru": ("дорого", "ипотека", "подумать", "сад")}
        found = 0
        for word in words[corpus.language]:
            hits_a, hits_b = search(a, word), search(b, word)
            same(hits_a, hits_b, f"search {word}")
            found += len(hits_a)
        assert found, "the search words are in the corpus"


@pytest.mark.parametrize("args", [
    ("mine", "-f", "json"), ("mine", "--top", "40%", "-f", "json"), ("mine", "--top", "40%"),
    ("search", "garden", "-f", "json"), ("search", "дорого", "-f", "json"), ("search", "price", "--role", "client"),
    ("search", "garden", "--min-score", "50", "-f", "json"), ("search", "дорого", "--max-score", "60", "-f", "json"),
    ("search", "garden", "--from", "2024-05-07", "--to", "2024-05-08", "-f", "json"),
    ("team", "-f", "json"),
], ids=lambda a: " ".join(a))
def test_trainer_commands_agree(trainer, args) -> None:
    corpus, url = trainer
    agree((corpus.workspace, url), *args)


# ---- qa score on the bundled transcripts, into each workspace by --workspace ---------------------------
def test_qa_score_into_postgres_agrees(tmp_path, pg_url) -> None:
    scripts = [f"scripts_library/real_estate_inbound.{lang}.yaml" for lang in ("en", "ru")]
    rubrics = [f"rubrics/objections.{lang}.yaml" for lang in ("en", "ru")]
    args = ["score", str(ROOT / "tests/fixtures/transcripts")]
    for s in scripts:
        args += ["-s", str(ROOT / s)]
    for r in rubrics:
        args += ["-r", str(ROOT / r)]
    specs = (tmp_path / "ws", pg_url)
    for n, spec in enumerate(specs):
        r = cli(spec, *args, "-o", str(tmp_path / f"out{n}"))
        assert r.exit_code == 0, r.output
    with Workspace(specs[0]) as a, Workspace(specs[1]) as b:
        assert a.call_ids() == b.call_ids() and len(a.call_ids()) >= 5
        sql = "SELECT call_id, script_hash, score, tokens_stage FROM scores ORDER BY call_id, script_hash"
        assert a.query(sql) == b.query(sql)
    for command in (("team", "-f", "json"), ("search", "price", "-f", "json"), ("search", "квартира", "-f", "json")):
        agree(specs, *command)
    # scoring again resumes: nothing new to do, the same on both
    for spec in specs:
        r = cli(spec, *args)
        assert r.exit_code == 0, r.output
    with Workspace(specs[1]) as b:
        assert b.query("SELECT COUNT(*) FROM calls")[0][0] == len(b.call_ids())


def test_call_log_and_disputes_agree(tmp_path, pg_url) -> None:
    """``qa missed`` (the PBX log: rows, links, new-row counts) and ``qa dispute`` (an
    override the views then apply) on both."""
    specs = (tmp_path / "ws", pg_url)
    for spec in specs:
        sw.build(spec, week2=True).close()  # type: ignore[arg-type]
    log, managers = ROOT / "samples/Master.csv", ROOT / "samples/managers.csv"
    first = agree(specs, "missed", str(log), "--managers", str(managers), "-f", "json")
    assert json.loads(first)
    agree(specs, "missed", str(log), "--managers", str(managers))  # imported again: nothing new
    before = agree(specs, "scorecard", "boris", "-f", "json")
    agree(specs, "dispute", "b2", "needs", "--status", "found", "--note", "said it in other words")
    after = agree(specs, "scorecard", "boris", "-f", "json")
    assert after != before  # the override is applied by the view, on both
    with Workspace(specs[0]) as a, Workspace(specs[1]) as b:
        kept = [(d["call_id"], d["item_id"], d["status"], d["tool_status"], d["note"]) for d in a.disputes()]
        assert kept == [("b2", "needs", "found", "missed", "said it in other words")]
        assert kept == [(d["call_id"], d["item_id"], d["status"], d["tool_status"], d["note"]) for d in b.disputes()]
