"""Benchmark: supervisor views (scorecard, team, coach, revive list) over a large stored workspace.

Builds a realistic workspace of ``--calls`` scored calls (default 100,000: ~20 managers,
90 days, an 8-stage script, 7 objection types with 3 handling steps each, forbidden
phrases, ~20 items per call) straight into SQLite with ``executemany``, caches it under
``--cache DIR`` (rebuilt only when the parameters change), then times each view on it and
prints a Markdown table. Target: each view in under 1 s on 2 cores. To compare with an
older version, run its own copy of this file from a checkout of it (each version keeps its
own cached workspace: the cache key names the layout), or time the older code on its
workspace with ``--workspace`` (``PYTHONPATH=<old checkout> python benchmarks/bench_supervisor.py
--workspace <its cache>/calls100000_m20_d90_v5``), alternating the two (a workspace made
before the current schema is migrated in place when the newer code opens it, and the older
code refuses it afterwards: copy it first). The table shows wall and CPU seconds; on a shared
machine compare the CPU column.

Run: ``python benchmarks/bench_supervisor.py --cache /tmp/qa_bench`` (first run builds the
workspace, about two minutes on 2 loaded cores; later runs reuse it).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from machine import cpu_model  # benchmarks/machine.py (the script's folder is on sys.path)

from qa.store import ITEM_COLUMNS, KEY_METRICS, Workspace, unhandled_objections

SCRIPT_HASH = "benchscript00001"
RUBRIC_HASH = "benchrubric00001"

# (id, title, weight, base probability of being done)
STAGES = [
    ("greeting", "Greeting", 10, 0.95),
    ("introduction", "Introduction", 10, 0.85),
    ("permission", "Is it a good time", 5, 0.6),
    ("needs", "Needs discovery", 25, 0.65),
    ("presentation", "Presentation", 15, 0.75),
    ("objection_handling", "Objection handling", 10, 0.6),
    ("next_step", "Next step", 20, 0.6),
    ("farewell", "Farewell", 5, 0.9),
]
OBJECTIONS = [
    ("price", "Too expensive", "it is too expensive for us"),
    ("think", "I'll think about it", "let me think about it"),
    ("no_time", "No time", "I have no time right now"),
    ("send_offer", "Send me an offer", "just send me an offer by e-mail"),
    ("supplier", "We already have a supplier", "we already have a supplier"),
    ("not_interested", "Not interested", "I am not interested"),
    ("consult", "I need to consult", "I need to consult my wife"),
]
STEPS = [("acknowledge", 1), ("clarify", 1), ("argue", 2), ("check", 1)]
FORBIDDEN = [("forbidden_1", "i don't know", 5), ("forbidden_2", "that's not my problem", 0)]
QUOTES = {
    "greeting": "Good afternoon, thank you for calling Riverside Homes",
    "introduction": "my name is Anna, I am your personal manager",
    "permission": "is it a good time to talk for a couple of minutes?",
    "needs": "who are you looking for the apartment for and what budget do you have in mind?",
    "presentation": "this complex has a park, a school and parking right in the yard",
    "objection_handling": "I understand, let me explain what the price includes",
    "next_step": "let me book you a viewing on Saturday at eleven",
    "farewell": "thank you, have a nice day, goodbye",
    "acknowledge": "I understand you, that is an important question",
    "clarify": "what are you comparing it with?",
    "argue": "the price includes finishing and there is an instalment plan",
    "check": "does that answer your question?",
}


TAILS = ("", ", right?", ", then", " for you", ", okay?", " today", ", of course", " as agreed")


def _items_for_call(rng: random.Random, skill: float) -> tuple[list[tuple[Any, ...]], dict[str, Any]]:
    """One call's items (in ITEM_COLUMNS order) and its summary."""
    items: list[tuple[Any, ...]] = []
    t = rng.uniform(1.0, 4.0)
    raised = [o for o in OBJECTIONS if rng.random() < 0.3]
    points = 0.0
    max_points = 0.0
    next_step = False
    stage_rows: list[tuple[Any, ...]] = []
    for sid, title, weight, p in STAGES:
        if sid == "objection_handling" and not raised:
            stage_rows.append(("stage", sid, title, "na", 0.0, 0.0, None, None, None, None, None, None, None, "no objection raised"))
            continue
        max_points += weight
        if rng.random() < min(0.99, p * skill):
            quote = QUOTES[sid] + rng.choice(TAILS)  # managers word it a little differently
            stage_rows.append(("stage", sid, title, "found", float(weight), float(weight), round(t, 2), round(t + 4.0, 2), "manager", quote, quote[:30], quote[:30], round(rng.uniform(86, 100), 1), None))
            points += weight
            next_step = next_step or sid == "next_step"
        else:
            stage_rows.append(("stage", sid, title, "missed", 0.0, float(weight), None, None, None, None, None, None, None, None))
        t += rng.uniform(10, 40)
    items.extend(stage_rows)
    for oid, otitle, trigger in raised:
        start = round(rng.uniform(30, 200), 2)
        got = 0.0
        step_rows = []
        for stid, w in STEPS:
            if rng.random() < min(0.97, 0.55 * skill):
                q = QUOTES[stid] + rng.choice(TAILS)
                step_rows.append(("step", f"{oid}.{stid}", stid, "found", float(w), float(w), start + 5, start + 9, "manager", q, q[:25], q[:25], round(rng.uniform(85, 100), 1), None))
                got += w
            else:
                step_rows.append(("step", f"{oid}.{stid}", stid, "missed", 0.0, float(w), None, None, None, None, None, None, None, None))
        total = float(sum(w for _, w in STEPS))
        status = "handled" if got >= total / 2 else "unhandled"
        items.append(("objection", oid, otitle, status, got, total, start, start + 3, "client", trigger, trigger, trigger, 95.0, None))
        items.extend(step_rows)
    critical = False
    for fid, phrase, penalty in FORBIDDEN:
        if rng.random() < 0.08 / skill:
            items.append(("forbidden", fid, phrase, "found", -float(penalty), 0.0, round(rng.uniform(20, 300), 2), None, "manager", f"well, {phrase}, really", phrase, phrase, 92.0, "critical" if not penalty else None))
            points -= penalty
            critical = critical or not penalty
    if rng.random() < 0.05:
        items.append(("order", "presentation.after.needs", None, "missed", 0.0, 0.0, None, None, None, None, None, None, None, None))
    score = 0.0 if critical else max(0.0, 100.0 * points / max_points)
    duration = rng.uniform(60, 600)
    manager_s = duration * rng.uniform(0.3, 0.6)
    client_s = duration * rng.uniform(0.2, 0.5)
    # the keys of qa.metrics.call_metrics
    metrics = {
        "duration_s": round(duration, 1),
        "speech_s": round(manager_s + client_s, 1),
        "manager_talk_s": round(manager_s, 1),
        "client_talk_s": round(client_s, 1),
        "manager_talk_share": round(manager_s / (manager_s + client_s), 3),
        "client_talk_share": round(client_s / (manager_s + client_s), 3),
        "talk_listen_ratio": round(manager_s / client_s, 3),
        "longest_monologue_s": round(rng.uniform(10, 120), 1),
        "manager_questions": rng.randint(0, 15),
        "manager_interruptions": rng.randint(0, 6),
        "client_interruptions": rng.randint(0, 4),
        "long_silences": rng.randint(0, 4),
        "long_silence_s": round(rng.uniform(0, 30), 1),
        "manager_wpm": round(rng.uniform(110, 190), 1),
    }
    summary = {
        "score": round(score, 1), "points": points, "max_points": max_points,
        "critical": critical, "critical_reason": "forbidden phrase" if critical else None,
        "next_step": next_step, "metrics": metrics,
    }
    return items, summary


def _script_yaml() -> str:
    lines = ["name: Benchmark inbound script", "language: en", "stages:"]
    for sid, title, weight, _ in STAGES:
        lines += [f"  - id: {sid}", f"    title: {title}", f"    weight: {weight}"]
        if sid == "objection_handling":
            lines.append("    applies_if: objection")
        lines.append(f"    phrases: [\"{QUOTES[sid][:30]}\"]")
    lines.append("forbidden:")
    for _, phrase, penalty in FORBIDDEN:
        lines.append(f"  - {{phrase: \"{phrase}\", penalty: {penalty}}}" if penalty else f"  - {{phrase: \"{phrase}\", critical: true}}")
    return "\n".join(lines) + "\n"


def build_workspace(path: Path, *, calls: int, managers: int = 20, days: int = 90, seed: int = 7) -> Workspace:
    """Write ``calls`` scored calls into a fresh workspace at ``path`` (fast: executemany)."""
    if path.exists():
        shutil.rmtree(path)
    ws = Workspace(path)
    rng = random.Random(seed)
    names = [f"manager_{i:02d}" for i in range(managers)]
    skill = {m: rng.uniform(0.75, 1.3) for m in names}
    first = date(2024, 1, 1)
    now = time.time()
    ws.save_config(hash=SCRIPT_HASH, kind="script", name="Benchmark inbound script", path=None, text=_script_yaml())
    ws.save_config(hash=RUBRIC_HASH, kind="rubric", name="Benchmark objections", path=None, text="name: bench\n")
    item_sql = (
        f"INSERT INTO items(call_id, script_hash, rubric_hash, {', '.join(ITEM_COLUMNS)}) "
        f"VALUES (?,?,?,{','.join('?' * len(ITEM_COLUMNS))})"
    )
    batch = 5000
    with ws.transaction() as c:
        call_rows, score_rows, item_rows = [], [], []
        for n in range(calls):
            manager = names[n % managers] if rng.random() > 0.002 else None
            day = first + timedelta(days=n * days // calls)
            started = datetime(day.year, day.month, day.day, 9 + rng.randint(0, 9), rng.randint(0, 59), rng.randint(0, 59))
            call_id = f"call_{n:06d}"
            items, summary = _items_for_call(rng, skill.get(manager or "", 1.0))
            outcome = rng.choice(("won", "lost", "lost", None)) if n % 3 == 0 else None
            if outcome is not None and summary["next_step"] and rng.random() < 0.4:
                outcome = "won"
            call_rows.append((
                call_id, f"/recordings/{day.isoformat()}/{call_id}.wav", None, None, manager,
                started.isoformat(), day.isoformat(), rng.choice(("in", "out")),
                f"+7900{rng.randint(1000000, 9999999)}", summary["metrics"]["duration_s"], outcome, "en", "bench",
                "{}", "{}", now,
            ))
            rest = {"script_name": "Benchmark inbound script", "rubric_name": "Benchmark objections"}
            score_rows.append((
                call_id, SCRIPT_HASH, RUBRIC_HASH, summary["score"], summary["points"], summary["max_points"],
                int(summary["critical"]), summary["critical_reason"], int(summary["next_step"]),
                json.dumps(summary["metrics"]), json.dumps(rest), now + n * 1e-6,
            ))
            # the generated evidence has no transcript: its utterance column stays NULL; every
            # found item was found by the words (layer fuzzy), missed ones have no layer
            item_rows.extend(
                (call_id, SCRIPT_HASH, RUBRIC_HASH, *it, None, "fuzzy" if it[6] is not None else None)
                for it in items
            )
            if len(call_rows) >= batch or n == calls - 1:
                c.executemany("INSERT INTO calls VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", call_rows)
                c.executemany(
                    "INSERT INTO scores(call_id, script_hash, rubric_hash, score, points, max_points, critical, "
                    "critical_reason, next_step, metrics_json, summary_json, scored_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    score_rows,
                )
                c.executemany(item_sql, item_rows)
                call_rows, score_rows, item_rows = [], [], []
    # the per-score item tokens that Workspace.save_scores writes along with the items
    ws.refresh_derived()
    # no ANALYZE: the views must be fast on a workspace as 'qa score' leaves it
    return ws


def cached_workspace(cache: Path, *, calls: int, managers: int, days: int) -> tuple[Workspace, float | None]:
    """Reuse the workspace under ``cache`` when built with the same parameters."""
    # v6: the workspace keeps score totals (schema 5); v7: each score its unhandled objections
    # (schema 6). An older cache is left to the older code.
    key = f"calls{calls}_m{managers}_d{days}_v7"
    path = cache / key
    stamp = path / "built.json"
    if stamp.exists():
        return Workspace(path, create=False), None
    t0 = time.perf_counter()
    ws = build_workspace(path, calls=calls, managers=managers, days=days)
    took = time.perf_counter() - t0
    stamp.write_text(json.dumps({"calls": calls, "managers": managers, "days": days, "seconds": took}))
    return ws, took


def _time(fn: Callable[[], Any], repeat: int) -> tuple[float, float, float, Any]:
    """Best and median wall time, and median CPU time of this process (all threads): on a
    shared machine the CPU seconds move much less with the other users' load."""
    times, cpu = [], []
    result = None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return min(times), statistics.median(times), statistics.median(cpu), result


def _views(ws: Workspace) -> Iterator[tuple[str, Callable[[], Any]]]:
    from qa import coaching, scorecards

    manager = "manager_03"
    yield "scorecard (one manager, 90 days, by week)", lambda: scorecards.scorecard(ws, manager, period="week")
    yield "scorecard (one manager, last 7 days)", lambda: scorecards.scorecard(ws, manager, date_from="2024-03-24", date_to="2024-03-30")
    yield "team leaderboard (90 days)", lambda: scorecards.team(ws)
    yield "outcome link (90 days)", lambda: scorecards.outcome_link(ws)
    yield "coach (one manager, 90 days, no save)", lambda: coaching.coach(ws, manager, save=False)
    yield "revive list (90 days)", lambda: coaching.revive_list(ws)


_JOIN = "FROM calls c JOIN scores s ON s.call_id = c.call_id"
_SUMS = ", ".join(["COUNT(*)", "SUM(s.score)", "SUM(s.next_step)", "COUNT(s.next_step)", "SUM(s.critical)"]
                  + [f"SUM(s.metric_{m})" for m in KEY_METRICS])


def _queries(ws: Workspace) -> Iterator[tuple[str, str]]:
    """Candidate reads for the views, to see what SQLite itself costs (``--queries``)."""
    metrics = ", ".join(f"s.metric_{m}" for m in KEY_METRICS)
    yield "per-call read (the 13 columns the views use)", (
        f"SELECT c.call_id, c.manager, c.day, c.started_at, s.score, s.critical, s.next_step, {metrics} {_JOIN}")
    yield "join, SUM(score), no grouping", f"SELECT SUM(s.score) {_JOIN}"
    yield "GROUP BY manager, day: counts and sums", f"SELECT c.manager, c.day, {_SUMS} {_JOIN} GROUP BY c.manager, c.day"
    yield "the same, index order off (+c.manager, +c.day)", (
        f"SELECT c.manager, c.day, {_SUMS} {_JOIN} GROUP BY +c.manager, +c.day")
    yield "score histogram: GROUP BY manager, score", f"SELECT c.manager, s.score, COUNT(*) {_JOIN} GROUP BY c.manager, s.score"
    yield "score histogram per day", f"SELECT c.manager, c.day, s.score, COUNT(*) {_JOIN} GROUP BY c.manager, c.day, s.score"
    yield "stage tokens: GROUP BY manager, tokens_stage", (
        f"SELECT c.manager, s.tokens_stage, COUNT(*) {_JOIN} GROUP BY c.manager, s.tokens_stage")
    yield "one manager's per-call rows", (
        f"SELECT c.call_id, c.day, c.started_at, s.score {_JOIN} WHERE c.manager = 'manager_03'")


def _save_overhead(ws: Workspace, calls: int = 200) -> tuple[float, float, float]:
    """CPU seconds per score that keeping the totals adds to a save (``Workspace.save_scores``
    takes a rescored call's old totals out and adds the new ones), and the save itself
    without it, on ``calls`` calls; rolled back, the workspace is unchanged. Third: what
    writing the score's unhandled objections (``scores.unhandled_objections``) adds."""
    ids = [r[0] for r in ws.query(f"SELECT call_id FROM scores ORDER BY call_id LIMIT {calls}")]
    c = ws.conn
    c.execute("BEGIN IMMEDIATE")
    try:
        t0 = time.process_time()
        for call_id in ids:
            row = ws._totals_row(c, call_id, SCRIPT_HASH, RUBRIC_HASH)
            bucket = ws._totals_bucket(c, call_id)
            ws._totals_add(c, SCRIPT_HASH, RUBRIC_HASH, bucket, row, -1)
            ws._totals_add(c, SCRIPT_HASH, RUBRIC_HASH, bucket, row, 1)
        totals = (time.process_time() - t0) / len(ids)
        items = {cid: ws.frame("SELECT * FROM items WHERE call_id = ?", [cid]) for cid in ids}
        t0 = time.process_time()
        for call_id in ids:  # what save_scores writes besides the totals
            c.execute("DELETE FROM items WHERE call_id = ?", (call_id,))
            df = items[call_id]
            c.executemany(f"INSERT INTO items({', '.join(df.columns)}) VALUES ({','.join('?' * len(df.columns))})",
                          df.itertuples(index=False, name=None))
            c.execute("UPDATE scores SET scored_at = scored_at WHERE call_id = ?", (call_id,))
        plain = (time.process_time() - t0) / len(ids)
        records = [items[call_id].to_dict("records") for call_id in ids]
        t0 = time.process_time()
        for rows in records:
            unhandled_objections(rows)
        objections = (time.process_time() - t0) / len(ids)
    finally:
        c.execute("ROLLBACK")
    return totals, plain, objections


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=Path("/tmp/qa_bench_supervisor"), help="where the built workspace is cached")
    ap.add_argument("--workspace", type=Path, default=None,
                    help="time the views on this stored workspace as it is (e.g. one an older version built)")
    ap.add_argument("--calls", type=int, default=100_000)
    ap.add_argument("--managers", type=int, default=20)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--repeat", type=int, default=3, help="runs per view; the table shows best and median")
    ap.add_argument("--target", type=float, default=1.0, help="seconds each view must stay under")
    ap.add_argument("--save", action="store_true",
                    help="also time what keeping the score totals adds to saving a score (CPU ms per call)")
    ap.add_argument("--queries", action="store_true",
                    help="also time candidate SQLite reads and aggregates (rows returned, CPU s)")
    args = ap.parse_args(argv)

    if args.workspace is not None:
        ws, built = Workspace(args.workspace, create=False), None
    else:
        ws, built = cached_workspace(args.cache, calls=args.calls, managers=args.managers, days=args.days)
    n_items = ws.query("SELECT COUNT(*) FROM items")[0][0]
    print(f"Workspace: {args.calls:,} calls, {n_items:,} items, {args.managers} managers, {args.days} days "
          f"({f'built in {built:.1f} s' if built is not None else 'cached'}) at {ws.path}")
    print(f"CPU: {cpu_model()}; Python {sys.version.split()[0]}\n")
    print("| view | best (s) | median (s) | CPU median (s) | target (s) | ok |")
    print("|---|---:|---:|---:|---:|---|")
    ok = True
    for name, fn in _views(ws):
        best, median, cpu, _ = _time(fn, args.repeat)
        good = median < args.target
        ok = ok and good
        print(f"| {name} | {best:.2f} | {median:.2f} | {cpu:.2f} | {args.target:g} | {'yes' if good else 'NO'} |")
    if args.save:
        totals, plain, objections = _save_overhead(ws)
        print(f"\nSaving a score: the totals add {totals * 1000:.2f} CPU ms per call, its unhandled "
              f"objections {objections * 1000:.3f} ms (rewriting its items and score row: {plain * 1000:.2f} ms)")
    if args.queries:
        print("\n| query | rows | best CPU (s) |\n|---|---:|---:|")
        for name, sql in _queries(ws):
            cpu_s = []
            for _ in range(args.repeat):
                c0 = time.process_time()
                rows = ws.query(sql)
                cpu_s.append(time.process_time() - c0)
            print(f"| {name} | {len(rows):,} | {min(cpu_s):.3f} |")
    ws.close()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
