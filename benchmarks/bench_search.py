"""Benchmark: ``qa search`` over a large workspace.

Builds a workspace of ``--calls`` calls (default 100,000; 20 managers, 90 days, about 12
utterances per call, Russian and English sales talk in which a client says «дорого» /
«дороговато» / «дорогая» in some calls) through the real index path
(:meth:`qa.store.Workspace._index_call`, the one :meth:`save_call` runs) in a few large
transactions, caches it under ``--cache DIR`` (rebuilt when the parameters change), then
times :func:`qa.search.search` for several queries and filters and prints a Markdown table.
Target: under 0.5 s per query at 100,000 calls.

Run: ``python benchmarks/bench_search.py --cache /tmp/qa_bench_search`` (the first run
builds the workspace, a few minutes on 2 cores; later runs reuse it).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from machine import cpu_model  # benchmarks/machine.py (the script's folder is on sys.path)

from qa.search import search
from qa.store import Workspace
from qa.transcripts import CallMeta, Transcript, Utterance

MANAGER_LINES_RU = [
    "Добрый день, компания Новый дом, меня зовут {m}.", "Вам удобно сейчас говорить?",
    "Для кого вы подбираете квартиру?", "Какой бюджет вы рассматриваете?",
    "В этом корпусе есть двухкомнатные квартиры с отделкой.", "Понимаю вас, давайте посчитаем.",
    "Могу предложить скидку при полной оплате.", "Давайте встретимся в офисе в субботу.",
    "Отправлю вам предложение на почту.", "Спасибо за звонок, до свидания.",
]
CLIENT_LINES_RU = [
    "Здравствуйте, я по поводу квартиры.", "Да, удобно.", "Для себя и жены.",
    "Около десяти миллионов.", "А какая площадь?", "Хорошо, я подумаю.", "Суббота подходит.",
    "Спасибо.",
]
PRICE_RU = ["Это дорого для нас.", "Дороговато, честно говоря.", "Какая дорогая квартира!"]
MANAGER_LINES_EN = [
    "Good afternoon, Sunrise Homes, this is {m}.", "Is now a good time to talk?",
    "Who are you buying for?", "What budget do you have in mind?",
    "The price includes the parking space.", "I understand, let's look at the numbers.",
    "Shall we meet on Saturday at the office?", "Thank you for calling, goodbye.",
]
CLIENT_LINES_EN = [
    "Hi, I'm calling about the flat.", "Yes, go ahead.", "For my family.", "Around half a million.",
    "Let me think about it.", "Saturday works.", "Thanks.",
]
PRICE_EN = ["That's too expensive for us.", "It is rather expensive."]


def _transcript(rng: random.Random, i: int, managers: list[str], days: int, per_call: int) -> Transcript:
    manager = managers[i % len(managers)]
    day = date(2026, 9, 1) + timedelta(days=rng.randrange(days))
    ru = rng.random() < 0.7
    m_lines, c_lines, price = (
        (MANAGER_LINES_RU, CLIENT_LINES_RU, PRICE_RU) if ru else (MANAGER_LINES_EN, CLIENT_LINES_EN, PRICE_EN)
    )
    utts = []
    t = 0.0
    objection_at = rng.randrange(per_call) if rng.random() < 0.3 else -1
    for k in range(per_call):
        if k % 2 == 0:
            role, text = "manager", rng.choice(m_lines).format(m=manager)
        else:
            role, text = "client", rng.choice(c_lines)
        if k == objection_at:
            role, text = "client", rng.choice(price)
        dur = 2.0 + rng.random() * 6
        utts.append(Utterance(role, t, t + dur, text))
        t += dur + 0.5
    meta = CallMeta(f"call{i:06d}", manager=manager, started_at=f"{day.isoformat()}T{9 + i % 9:02d}:00:00")
    return Transcript(meta, utts, language="ru" if ru else "en", duration=t)


def build(path: Path, calls: int, per_call: int, seed: int) -> None:
    rng = random.Random(seed)
    managers = [f"manager{k:02d}" for k in range(20)]
    started = time.perf_counter()
    with Workspace(path) as ws:
        batch = 5000
        for lo in range(0, calls, batch):
            with ws.transaction() as c:
                for i in range(lo, min(calls, lo + batch)):
                    t = _transcript(rng, i, managers, 90, per_call)
                    c.execute(
                        "INSERT INTO transcripts(cache_key, json, created_at) VALUES (?,?,?)",
                        (f"k{i}", t.to_json(), 0.0),
                    )
                    c.execute(
                        "INSERT INTO calls(call_id, cache_key, manager, started_at, day, language, updated_at) "
                        "VALUES (?,?,?,?,?,?,0)",
                        (t.call_id, f"k{i}", t.meta.manager, t.meta.started_at, t.meta.started_at[:10], t.language),
                    )
                    ws._index_call(c, t)
            print(f"  {min(calls, lo + batch):,} calls indexed ({time.perf_counter() - started:.0f} s)",
                  file=sys.stderr)
        ws.conn.execute("INSERT INTO search_fts(search_fts) VALUES ('optimize')")
        ws.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    print(f"built in {time.perf_counter() - started:.0f} s", file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=100_000)
    ap.add_argument("--per-call", type=int, default=12)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/qa_bench_search"))
    ap.add_argument("--seed", type=int, default=15)
    args = ap.parse_args()
    params = {"calls": args.calls, "per_call": args.per_call, "seed": args.seed, "layout": 1}
    stamp = args.cache / "params.json"
    if not stamp.exists() or json.loads(stamp.read_text()) != params:
        shutil.rmtree(args.cache, ignore_errors=True)
        args.cache.mkdir(parents=True)
        build(args.cache / "ws", args.calls, args.per_call, args.seed)
        stamp.write_text(json.dumps(params))
    cases = [
        ("дорого (all calls, 100 newest hits)", "дорого", {}),
        ("дорого --role client --limit 1000", "дорого", {"role": "client", "limit": 1000}),
        ("дорого --manager, one week", "дорого", {"manager": "manager03", "date_from": "2026-10-01",
                                                  "date_to": "2026-10-07"}),
        ("скидку предложить (two words)", "скидку предложить", {}),
        ("expensive", "expensive", {}),
        ("rare word (no hits)", "ипотека", {}),
    ]
    with Workspace(args.cache / "ws", create=False) as ws:
        n_calls, n_utts = ws.search_stats()
        print(f"Workspace: {n_calls:,} calls, {n_utts:,} indexed utterances")
        print(f"CPU: {cpu_model()}; Python {sys.version.split()[0]}\n")
        print("| query | hits | best (s) | median (s) |\n|---|---:|---:|---:|")
        for label, query, kw in cases:
            times = []
            hits = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                hits = search(ws, query, **kw)  # type: ignore[arg-type]
                times.append(time.perf_counter() - t0)
            print(f"| {label} | {len(hits)} | {min(times):.3f} | {statistics.median(times):.3f} |")


if __name__ == "__main__":
    main()
