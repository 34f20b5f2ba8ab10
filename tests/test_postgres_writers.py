"""Several processes writing one PostgreSQL workspace at once lose and duplicate nothing.

Two real processes (not threads) write overlapping sets of calls, in opposite orders, into
the same database on the throwaway server (tests/conftest.py ``pg_server``): once through
the library (each call saved in its own transaction, then its score; scores also in
overlapping batches), once as two ``qa score`` runs over the same folder of transcripts.
Afterwards every call is there once, with one transcript, one score per version, its own
items once and its utterances indexed once.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import trainer_corpus as tc

from qa.store import Workspace

ROOT = Path(__file__).resolve().parent.parent

WRITER = textwrap.dedent('''
    import sys
    from qa.store import Workspace
    from qa.transcripts import CallMeta, Transcript, Utterance

    url, first, last, step, barrier = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    ids = list(range(first, last))[::step]

    def call(n):
        cid = f"c{n:04d}"
        utts = [Utterance(start=i * 3.0, end=i * 3.0 + 2.5, text=f"word{n} phrase {i} цена квартира",
                          role="manager" if i % 2 == 0 else "client") for i in range(4)]
        meta = CallMeta(call_id=cid, source=f"/calls/{cid}.wav", manager=f"m{n % 5}",
                        started_at=f"2024-05-{6 + n % 5:02d}T10:00:00")
        return Transcript(meta=meta, utterances=utts, language="ru", duration=12.0)

    def items(n):
        return [{"kind": "stage", "item_id": f"s{k}", "status": "found" if (n + k) % 2 else "missed",
                 "score": 1.0, "max_score": 1.0} for k in range(3)]

    with Workspace(url) as ws:
        import os, time
        open(barrier + "." + str(first), "w").close()
        while len([p for p in os.listdir(os.path.dirname(barrier)) if p.startswith(os.path.basename(barrier))]) < 2:
            time.sleep(0.01)  # both processes are connected: start together
        for n in ids:
            ws.save_call(call(n), cache_key=f"key-{n}")
            ws.save_score(f"c{n:04d}", script_hash="s1", rubric_hash="none",
                          summary={"score": float(n % 100)}, items=items(n))
        for i in range(0, len(ids), 7):  # a second version, in overlapping batches
            batch = ids[i:i + 7]
            ws.save_scores([(f"c{n:04d}", "s2", "none", {"score": 50.0}, items(n)) for n in batch])
''')


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
            "QA_NO_PROGRESS": "1"}


def test_two_processes_write_overlapping_calls(pg_url, tmp_path) -> None:
    Workspace(pg_url).close()  # schema made once; the writers also race to open it
    barrier = str(tmp_path / "ready")
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, pg_url, "0", "120", "1", barrier], env=_env(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
        subprocess.Popen([sys.executable, "-c", WRITER, pg_url, "60", "180", "-1", barrier], env=_env(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
    ]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    with Workspace(pg_url) as ws:
        assert ws.query("SELECT COUNT(*), COUNT(DISTINCT call_id) FROM calls") == [(180, 180)]
        assert ws.query("SELECT COUNT(*) FROM transcripts") == [(180,)]
        assert ws.query("SELECT script_hash, COUNT(*), COUNT(DISTINCT call_id) FROM scores "
                        "GROUP BY script_hash ORDER BY script_hash") == [("s1", 180, 180), ("s2", 180, 180)]
        # each score has its own three items, once
        assert ws.query("SELECT COUNT(*) FROM items") == [(180 * 3 * 2,)]
        assert ws.query("SELECT call_id, script_hash, COUNT(*) FROM items GROUP BY call_id, script_hash "
                        "HAVING COUNT(*) <> 3") == []
        # tokens agree with the items that stayed
        assert ws.query("SELECT COUNT(*) FROM scores WHERE tokens_stage IS NULL") == [(0,)]
        # the search index: four utterances per call, once
        assert ws.search_stats() == (180, 720)
        hits = ws.search_utterances('"word150"', limit=10)
        assert [h["call_id"] for h in hits] == ["c0150"] * 4


def test_two_qa_score_runs_on_the_same_folder(pg_url, tmp_path) -> None:
    """Two machines told to score the same day: every call once, as one run scores it."""
    corpus = tc.build(tmp_path / "corpus", "en")
    folder = corpus.root / "imported"
    assert len(list(folder.glob("*.json"))) == 10
    args = ["score", str(folder), "-s", str(corpus.script), "-r", str(corpus.rubric)]
    procs = [
        subprocess.Popen([sys.executable, "-m", "qa", *args, "--workspace", pg_url], env=_env(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    alone = tmp_path / "alone"
    r = subprocess.run([sys.executable, "-m", "qa", *args, "--workspace", str(alone)], env=_env(),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    with Workspace(pg_url) as pg, Workspace(alone) as lite:
        for sql in (
            "SELECT call_id, manager, day FROM calls ORDER BY call_id",
            "SELECT call_id, score, tokens_stage, tokens_objection FROM scores ORDER BY call_id",
            "SELECT call_id, kind, item_id, status, start FROM items ORDER BY call_id, kind, item_id, status, start",
            "SELECT call_id, utterance, stems FROM search_utterances ORDER BY call_id, utterance",
        ):
            assert pg.query(sql) == lite.query(sql), sql
        assert pg.query("SELECT COUNT(*) FROM calls") == [(10,)]
