"""A small, deterministic supervisor workspace whose aggregates are computed by hand.

Script (weights): greeting 10, needs 40, objection_handling 10 (applies_if: objection),
next_step 40. Rubric: price (acknowledge 1, argue 2), think (acknowledge 1, argue 1).
Forbidden: "i don't know" (penalty 5).

Week 1 (Mon 2024-05-06 .. Wed 2024-05-08); F found, M missed, - na; objections h/u:

| call | manager | day   | score | greet | needs | obj_h | next | objections | forbidden | outcome | talk_share | questions |
|------|---------|-------|-------|-------|-------|-------|------|------------|-----------|---------|------------|-----------|
| a1   | anna    | 05-06 | 100   | F     | F     | -     | F    |            |           | won     | 0.4        | 6         |
| a2   | anna    | 05-07 | 100   | F     | F     | F     | F    | price h    |           | won     | 0.5        | 8         |
| a3   | anna    | 05-08 | 60    | F     | M     | F     | F    | think h    |           | lost    | 0.6        | 4         |
| b1   | boris   | 05-06 | 55    | F     | M     | -     | F    |            |           | won     | 0.7        | 2         |
| b2   | boris   | 05-06 | 10    | F     | M     | M     | M    | price u    |           | lost    | 0.8        | 1         |
| b3   | boris   | 05-07 | 90    | M     | F     | -     | F    |            |           | (none)  | 0.6        | 3         |
| b4   | boris   | 05-08 | 45    | F     | M     | M     | F    | think u    | 1         | lost    | 0.7        | 2         |
| v1   | vera    | 05-07 | 60    | F     | F     | F     | M    | price h    |           | lost    | 0.5        | 5         |
| v2   | vera    | 05-08 | 0     | M     | M     | -     | M    |            |           | lost    | 0.3        | 7         |
| u1   | (none)  | 05-07 | 100   | F     | F     | -     | F    |            |           | won     | 0.5        | 5         |

Week 2 (2024-05-13 .. 2024-05-14):

| b5 | boris | 05-13 | 100 | F | F | F | F | price h | | | 0.5 | 6 |
| b6 | boris | 05-14 | 50  | F | F | M | M | price u | | | 0.6 | 4 |
| a4 | anna  | 05-13 | 100 | F | F | - | F |         | | | 0.5 | 6 |
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qa.scripts import file_hash
from qa.store import Workspace
from qa.transcripts import CallMeta, Transcript, Utterance

SCRIPT_YAML = """\
name: Test inbound script
language: en
stages:
  - id: greeting
    title: Greeting
    weight: 10
    phrases: ["good afternoon thank you for calling"]
  - id: needs
    title: Needs discovery
    weight: 40
    phrases: ["what budget do you have in mind"]
  - id: objection_handling
    title: Objection handling
    weight: 10
    applies_if: objection
    phrases: ["i understand your concern"]
  - id: next_step
    title: Next step
    weight: 40
    phrases: ["let me book you a viewing"]
forbidden:
  - {phrase: "i don't know", penalty: 5}
"""
RUBRIC_YAML = """\
name: Test objections
language: en
objections:
  - id: price
    title: Too expensive
    triggers: ["it is too expensive"]
    steps:
      - {id: acknowledge, weight: 1, phrases: ["i understand your concern"]}
      - {id: argue, weight: 2, phrases: ["the price includes finishing"]}
  - id: think
    title: I'll think about it
    triggers: ["let me think about it"]
    steps:
      - {id: acknowledge, weight: 1, phrases: ["of course take your time"]}
      - {id: argue, weight: 1, phrases: ["the offer is valid until friday"]}
"""
SCRIPT_HASH = file_hash(SCRIPT_YAML.encode("utf-8"))
RUBRIC_HASH = file_hash(RUBRIC_YAML.encode("utf-8"))

WEIGHTS = {"greeting": 10.0, "needs": 40.0, "objection_handling": 10.0, "next_step": 40.0}
TITLES = {
    "greeting": "Greeting", "needs": "Needs discovery", "objection_handling": "Objection handling",
    "next_step": "Next step", "price": "Too expensive", "think": "I'll think about it",
}
STEPS = {"price": [("acknowledge", 1.0), ("argue", 2.0)], "think": [("acknowledge", 1.0), ("argue", 1.0)]}
TRIGGERS = {"price": "it is too expensive for us", "think": "let me think about it"}

# call: (manager, started_at, score, stages "GNON" as F/M/-, objections [(id, handled)],
#        forbidden count, outcome, talk_share, questions)
CALLS: dict[str, tuple[Any, ...]] = {
    "a1": ("anna", "2024-05-06T10:00:00", 100, "FF-F", [], 0, "won", 0.4, 6),
    "a2": ("anna", "2024-05-07T10:00:00", 100, "FFFF", [("price", True)], 0, "won", 0.5, 8),
    "a3": ("anna", "2024-05-08T10:00:00", 60, "FMFF", [("think", True)], 0, "lost", 0.6, 4),
    "b1": ("boris", "2024-05-06T11:00:00", 55, "FM-F", [], 0, "won", 0.7, 2),
    "b2": ("boris", "2024-05-06T12:00:00", 10, "FMMM", [("price", False)], 0, "lost", 0.8, 1),
    "b3": ("boris", "2024-05-07T11:00:00", 90, "MF-F", [], 0, None, 0.6, 3),
    "b4": ("boris", "2024-05-08T11:00:00", 45, "FMMF", [("think", False)], 1, "lost", 0.7, 2),
    "v1": ("vera", "2024-05-07T12:00:00", 60, "FFFM", [("price", True)], 0, "lost", 0.5, 5),
    "v2": ("vera", "2024-05-08T12:00:00", 0, "MM-M", [], 0, "lost", 0.3, 7),
    "u1": (None, "2024-05-07T13:00:00", 100, "FF-F", [], 0, "won", 0.5, 5),
}
WEEK2: dict[str, tuple[Any, ...]] = {
    "b5": ("boris", "2024-05-13T11:00:00", 100, "FFFF", [("price", True)], 0, None, 0.5, 6),
    "b6": ("boris", "2024-05-14T11:00:00", 50, "FFMM", [("price", False)], 0, None, 0.6, 4),
    "a4": ("anna", "2024-05-13T10:00:00", 100, "FF-F", [], 0, None, 0.5, 6),
}
STAGE_IDS = ("greeting", "needs", "objection_handling", "next_step")
# when each stage is said, seconds from the start (objection triggers at 60, 90)
STAGE_AT = {"greeting": 1.0, "needs": 30.0, "objection_handling": 75.0, "next_step": 120.0}


def quote(call_id: str, stage: str) -> str:
    """The words the manager said for a stage in a call (unique per call for the tests)."""
    base = {
        "greeting": "good afternoon thank you for calling",
        "needs": "what budget do you have in mind",
        "objection_handling": "i understand your concern",
        "next_step": "let me book you a viewing",
    }[stage]
    return f"{base}, {call_id} here"


def _call(call_id: str, spec: tuple[Any, ...]) -> tuple[Transcript, dict[str, Any], list[dict[str, Any]]]:
    manager, started, score, stages, objections, forbidden, outcome, talk, questions = spec
    utts: list[Utterance] = []
    items: list[dict[str, Any]] = []
    for sid, flag in zip(STAGE_IDS, stages):
        w = WEIGHTS[sid]
        if flag == "-":
            items.append({"kind": "stage", "item_id": sid, "title": TITLES[sid], "status": "na",
                          "score": 0.0, "max_score": 0.0, "detail": "no objection raised"})
            continue
        if flag == "F":
            at = STAGE_AT[sid]
            text = quote(call_id, sid)
            utts.append(Utterance("manager", at, at + 3.0, text))
            items.append({"kind": "stage", "item_id": sid, "title": TITLES[sid], "status": "found",
                          "score": w, "max_score": w, "start": at, "end": at + 3.0, "role": "manager",
                          "text": text, "matched": text, "phrase": text, "similarity": 97.0})
        else:
            items.append({"kind": "stage", "item_id": sid, "title": TITLES[sid], "status": "missed",
                          "score": 0.0, "max_score": w})
    for n, (oid, handled) in enumerate(objections):
        at = 60.0 + 30.0 * n
        utts.append(Utterance("client", at, at + 2.0, TRIGGERS[oid]))
        total = sum(w for _, w in STEPS[oid])
        got = total if handled else 0.0
        items.append({"kind": "objection", "item_id": oid, "title": TITLES[oid],
                      "status": "handled" if handled else "unhandled", "score": got, "max_score": total,
                      "start": at, "end": at + 2.0, "role": "client", "text": TRIGGERS[oid],
                      "matched": TRIGGERS[oid], "phrase": TRIGGERS[oid], "similarity": 95.0})
        for k, (step, w) in enumerate(STEPS[oid]):
            if handled:
                st = at + 5.0 + k * 4.0
                text = f"{oid} {step} words of {call_id}"
                utts.append(Utterance("manager", st, st + 3.0, text))
                items.append({"kind": "step", "item_id": f"{oid}.{step}", "title": step, "status": "found",
                              "score": w, "max_score": w, "start": st, "end": st + 3.0, "role": "manager",
                              "text": text, "matched": text, "phrase": text, "similarity": 93.0})
            else:
                items.append({"kind": "step", "item_id": f"{oid}.{step}", "title": step, "status": "missed",
                              "score": 0.0, "max_score": w})
    for k in range(forbidden):
        at = 100.0 + k
        text = f"well, i don't know ({call_id})"
        utts.append(Utterance("manager", at, at + 2.0, text))
        items.append({"kind": "forbidden", "item_id": "forbidden_1", "title": "i don't know", "status": "found",
                      "score": -5.0, "max_score": 0.0, "start": at, "end": at + 2.0, "role": "manager",
                      "text": text, "matched": "i don't know", "phrase": "i don't know", "similarity": 100.0})
    next_step = "next_step" in [s for s, f in zip(STAGE_IDS, stages) if f == "F"]
    summary = {
        "score": float(score), "points": None, "max_points": None, "critical": False,
        "critical_reason": None, "next_step": next_step,
        "metrics": {"talk_share": talk, "questions": questions, "nested": {"silences": 1}},
        "script_name": "Test inbound script", "rubric_name": "Test objections",
    }
    meta = CallMeta(call_id=call_id, source=f"recordings/{call_id}.wav", manager=manager,
                    started_at=started, direction="in", client_phone=f"+1555000{call_id}", outcome=outcome)
    return Transcript(meta=meta, utterances=utts, language="en", duration=150.0), summary, items


def add_calls(ws: Workspace, calls: dict[str, tuple[Any, ...]], *, script_hash: str = SCRIPT_HASH,
              rubric_hash: str = RUBRIC_HASH) -> None:
    rows = []
    for call_id, spec in calls.items():
        transcript, summary, items = _call(call_id, spec)
        ws.save_call(transcript, cache_key=f"key-{call_id}")
        rows.append((call_id, script_hash, rubric_hash, summary, items))
    ws.save_scores(rows)


def build(path: Path, *, week2: bool = False, configs: bool = True) -> Workspace:
    """The week-1 workspace (plus week 2 when asked); ``configs=False`` leaves the script
    texts out so the views fall back to item titles and max scores."""
    ws = Workspace(path)
    if configs:
        ws.save_config(hash=SCRIPT_HASH, kind="script", name="Test inbound script", path=None, text=SCRIPT_YAML)
        ws.save_config(hash=RUBRIC_HASH, kind="rubric", name="Test objections", path=None, text=RUBRIC_YAML)
    add_calls(ws, CALLS)
    if week2:
        add_calls(ws, WEEK2)
    return ws
