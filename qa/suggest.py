"""Suggest: turn what the best calls say into a reviewable update of the script files.

Takes a sales script and an objection rubric (YAML files) and a :class:`~qa.mining.
MiningResult`, and proposes

- new phrase variants per stage: the strongest wordings mined at that stage that no
  phrase of the script matches yet (nor a phrase of another stage, nor a forbidden one);
- candidate new objections: recurring client wording no trigger covers, raised by several
  distinct clients, with its wordings as triggers and the wording the source calls'
  answers share as the step phrases.

Everything proposed comes from the mining result's source calls (the top quartile by
score or the won deals, never a call with a critical failure or a forbidden phrase): a
weak or rude call is never quoted as an example to follow. With too few calls the
mining result says so and nothing is proposed.

The change is made by inserting lines into the original text, never by re-writing the
YAML, so comments, key order, quoting and blank lines stay exactly as they were and the
unified diff shows only what was added (each addition carries a comment with its
evidence). :meth:`Suggestion.apply` writes the files; :meth:`Suggestion.effect` rescores
the workspace's stored transcripts with the old and the new files in memory (nothing is
re-transcribed or saved) and counts the items found before and after.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from . import yaml_edit
from .errors import ConfigError, OptionError, QAError
from .mining import (
    MiningResult,
    ObjectionCandidate,
    PhraseCover,
    PhraseGroup,
    phrase_thresholds,
    stem_key,
)
from .yaml_edit import unified_diff  # noqa: F401  (public here since 0.1)

if TYPE_CHECKING:
    import pandas as pd

    from .store import Workspace

log = logging.getLogger("qa")


@dataclass(frozen=True)
class SuggestOptions:
    """What is good enough to propose. Every field is a documented default."""

    #: New phrases proposed per stage at most.
    max_per_stage: int = 3
    #: A mined wording needs at least this lift over the worst calls to be proposed
    #: (as :class:`qa.mining.MiningOptions`; a stricter value here proposes less).
    min_lift: float = 2.0
    #: ...and to be said in at least this many source calls (the best cohort).
    min_calls: int = 3
    #: Candidate objections proposed at most, and triggers / answer phrases per objection.
    max_objections: int = 3
    max_triggers: int = 3
    max_answer_phrases: int = 4
    #: ``respond_within_turns`` of a proposed objection.
    respond_within_turns: int = 2
    #: Put a comment with the evidence next to every added line.
    annotate: bool = True

    def __post_init__(self) -> None:
        for name in ("max_per_stage", "max_objections", "max_triggers", "max_answer_phrases"):
            if getattr(self, name) < 0:
                raise OptionError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("min_calls", "respond_within_turns"):
            if getattr(self, name) < 1:
                raise OptionError(f"{name} must be >= 1, got {getattr(self, name)}")


@dataclass(frozen=True)
class Addition:
    """One proposed change: phrases for a stage, or a new objection in the rubric."""

    file: str  # script | rubric
    kind: str  # phrase | objection
    item_id: str
    texts: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class _NewObjection:
    id: str
    candidate: ObjectionCandidate
    triggers: tuple[str, ...]
    phrases: tuple[str, ...]


@dataclass
class Suggestion:
    """The proposed new texts of the script and rubric, with a diff and an effect check."""

    script_path: Path
    rubric_path: Path | None
    old_script: str
    new_script: str
    old_rubric: str | None = None
    new_rubric: str | None = None
    additions: list[Addition] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: The scored (script_hash, rubric_hash) the proposal was mined from.
    version: tuple[str, str] | None = None

    @property
    def changed(self) -> bool:
        return self.old_script != self.new_script or self.old_rubric != self.new_rubric

    @property
    def diff(self) -> str:
        """A unified diff of both files (``patch -p0`` / ``git apply -p0`` applies it)."""
        out = yaml_edit.unified_diff(self.old_script, self.new_script, _display_path(self.script_path))
        if self.rubric_path is not None and self.old_rubric is not None and self.new_rubric is not None:
            out += yaml_edit.unified_diff(self.old_rubric, self.new_rubric, _display_path(self.rubric_path))
        return out

    def apply(self) -> list[Path]:
        """Write the changed files (each atomically). Returns the files written.

        Raises :class:`QAError` when a file changed on disk since the suggestion was made.
        """
        written = []
        for path, old, new in (
            (self.script_path, self.old_script, self.new_script),
            (self.rubric_path, self.old_rubric, self.new_rubric),
        ):
            if path is None or old is None or new is None or old == new:
                continue
            current = _read(path)
            if current != old:
                raise QAError(f"{path}: changed since the suggestion was made; run 'qa suggest' again")
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_text(new, encoding="utf-8", newline="")
            os.replace(tmp, path)
            written.append(path)
        return written

    def configs(self) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
        """((old script, old rubric), (new script, new rubric)) parsed in memory."""
        old = (_parse(self.old_script, self.script_path, "script"),
               _parse(self.old_rubric, self.rubric_path, "rubric") if self.old_rubric is not None else None)
        new = (_parse(self.new_script, self.script_path, "script"),
               _parse(self.new_rubric, self.rubric_path, "rubric") if self.new_rubric is not None else None)
        return old, new

    def effect(
        self,
        ws: Workspace,
        call_ids: Sequence[str] | None = None,
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> pd.DataFrame:
        """Items found before and after, per stage / objection, over the stored calls.

        The calls scored with the mined version (or ``call_ids``; every stored call when the
        version is unknown) are scored in memory with the old and with the new files;
        nothing is saved. One row per stage (calls where it was found), objection (times
        raised, and times handled) and objection step (times found).
        """
        import pandas as pd

        from .scoring import score_call

        (old_s, old_r), (new_s, new_r) = self.configs()
        if call_ids is not None:
            ids = list(call_ids)
        elif self.version is not None:
            ids = sorted(ws.scored_call_ids(*self.version))
        else:
            ids = ws.call_ids()
        counts: dict[tuple[str, str], dict[str, Any]] = {}

        def add(items: Sequence[dict[str, Any]], side: str) -> None:
            for it in items:
                kind = it["kind"]
                if kind not in ("stage", "objection", "step"):
                    continue
                row = counts.setdefault((kind, it["item_id"]), {
                    "kind": kind, "item": it["item_id"], "title": it.get("title"),
                    "before": 0, "after": 0, "handled_before": 0, "handled_after": 0,
                })
                if it["status"] in ("found", "handled", "unhandled"):
                    row[side] += 1
                if it["status"] == "handled":
                    row[f"handled_{side}"] += 1

        for n, cid in enumerate(ids, 1):
            t = ws.transcript(cid)
            if t is not None:
                add(score_call(t, old_s, old_r).to_store()[1], "before")
                add(score_call(t, new_s, new_r).to_store()[1], "after")
            if progress is not None:
                progress(n, len(ids))
        # Keep the order of the new files: stages, then objections with their steps.
        order: dict[tuple[str, str], int] = {}
        for s in new_s.stages:
            order[("stage", s.id)] = len(order)
        for o in (new_r.objections if new_r is not None else ()):
            order[("objection", o.id)] = len(order)
            for st in o.steps:
                order[("step", f"{o.id}.{st.id}")] = len(order)
        rows = sorted(counts.values(), key=lambda r: order.get((r["kind"], r["item"]), len(order)))
        df = pd.DataFrame(rows, columns=["kind", "item", "title", "before", "after",
                                         "handled_before", "handled_after"])
        df["change"] = df["after"] - df["before"]
        df.loc[df["kind"] != "objection", ["handled_before", "handled_after"]] = None
        return df[["kind", "item", "title", "before", "after", "change", "handled_before", "handled_after"]]


# ---- the public entry point -------------------------------------------------------------
def suggest(
    script_path: str | os.PathLike[str],
    rubric_path: str | os.PathLike[str] | None,
    mining_result: MiningResult,
    options: SuggestOptions | None = None,
) -> Suggestion:
    """Propose script / rubric updates from ``mining_result``; nothing is written.

    Phases: read both files; propose stage phrases (:func:`_propose_stage_phrases`) and
    insert them (:func:`_add_stage_phrases`); propose and insert candidate objections
    (:func:`_add_objections`); check that the result loads.

    Raises :class:`ConfigError` when a file cannot be read or parsed, or when the
    insertion point cannot be found (the message says where and how to fix it).
    """
    opts = options or SuggestOptions()
    spath = Path(script_path)
    rpath = Path(rubric_path) if rubric_path is not None else None
    script_text = _read(spath)
    rubric_text = _read(rpath) if rpath is not None else None
    script = _parse(script_text, spath, "script")
    rubric = _parse(rubric_text, rpath, "rubric") if rubric_text is not None and rpath else None
    result = Suggestion(
        spath, rpath, script_text, script_text, rubric_text, rubric_text,
        version=(mining_result.script_hash, mining_result.rubric_hash),
    )
    if mining_result.too_few is not None:
        result.notes.append(f"nothing proposed: {mining_result.too_few.message}")
        return result
    if mining_result.script_name and mining_result.script_name != script.name:
        result.notes.append(
            f"mined with script {mining_result.script_name!r}, proposing for {script.name!r}: "
            "only stage ids present in both are used"
        )
    edits = _propose_stage_phrases(script, mining_result, opts)
    result.new_script = _add_stage_phrases(script_text, spath, script, edits, opts, result)
    result.new_rubric = _add_objections(rubric_text, rpath, rubric, script.language, mining_result, opts, result)
    answered = sorted({g.item_id for g in mining_result.phrases if g.kind == "objection" and g.item_id
                       and g.lift >= opts.min_lift and g.best_calls >= opts.min_calls})
    if answered:
        result.notes.append(
            f"strong answers were mined for objection(s) {', '.join(answered)}; 'qa mine "
            "--objection ID' lists them: add them by hand to the step they belong to"
        )
    # The proposal must load like any script: a broken file is never handed to a reviewer.
    if result.changed:
        result.configs()
    if not result.additions:
        result.notes.append(
            "nothing to propose: no mined wording is both new to the script and strong enough "
            f"(lift >= {opts.min_lift:g} in >= {opts.min_calls} best calls)"
        )
    return result


# ---- stage phrases ------------------------------------------------------------------------
StageEdits = list[tuple[str, list[tuple[str, PhraseGroup]]]]


def _propose_stage_phrases(script: Any, mining_result: MiningResult, opts: SuggestOptions) -> StageEdits:
    """Per stage, in script order: the mined wordings to add, ``(wording, group)``.

    A wording is new when no phrase of the script matches it (its own stage's, another
    stage's or a forbidden one); a wording mined at two stages goes where it is stronger;
    :func:`_cover` then picks the ones that find turns the others do not.
    """
    language = script.language
    known = {
        st.id: phrase_thresholds(st.phrases, float(st.threshold if st.threshold is not None else script.threshold))
        for st in script.stages
    }
    forbidden = phrase_thresholds([f.phrase for f in script.forbidden], float(script.threshold))
    # stem key -> (weight, stage, group, wording): each wording goes to one stage
    proposals: dict[str, tuple[float, str, PhraseGroup, str]] = {}
    order: dict[str, int] = {}
    for st in script.stages:
        own = PhraseCover(language, known[st.id])
        others = PhraseCover(
            language, [p for sid, ps in known.items() if sid != st.id for p in ps] + forbidden
        )
        for g in mining_result.for_item("stage", st.id):
            if g.lift < opts.min_lift or g.best_calls < opts.min_calls:
                continue
            for wording in g.wordings:  # the representative first, then its variants
                if own(wording) or others(wording):
                    continue
                key = stem_key(wording, language)
                order.setdefault(key, len(order))
                # A wording mined at two stages (one turn can serve both) goes where it is
                # stronger.
                if key not in proposals or proposals[key][0] < g.weight:
                    proposals[key] = (g.weight, st.id, g, wording)
    edits: StageEdits = []
    for st in script.stages:
        threshold = float(st.threshold if st.threshold is not None else script.threshold)
        offered = [
            (wording, g) for key, (_, sid, g, wording) in
            sorted(proposals.items(), key=lambda kv: (-kv[1][0], order[kv[0]])) if sid == st.id
        ]
        chosen = _cover(offered, language, threshold, opts.max_per_stage, PhraseCover(language, known[st.id]))
        if chosen:
            edits.append((st.id, chosen))
    return edits


def _add_stage_phrases(
    text: str, path: Path, script: Any, edits: StageEdits, opts: SuggestOptions, result: Suggestion
) -> str:
    """``text`` with the proposed phrases appended to their stages' lists; records additions."""
    # Insert from the bottom of the file up so earlier offsets stay valid.
    located = [(_stage_phrases_node(text, path, sid), sid, chosen) for sid, chosen in edits]
    for node, _sid, chosen in sorted(located, key=lambda e: -e[0].start_mark.index):
        comments = [_evidence(g) if opts.annotate else None for _, g in chosen]
        text = yaml_edit.append_to_sequence(text, node, [w for w, _ in chosen], comments)
    stage_index = {st.id: i for i, st in enumerate(script.stages)}
    for sid, chosen in sorted(edits, key=lambda e: stage_index[e[0]]):
        result.additions.append(Addition(
            "script", "phrase", sid, tuple(w for w, _ in chosen),
            "; ".join(f"{w!r}: {_evidence(g)}" for w, g in chosen),
        ))
    return text


# ---- candidate objections -------------------------------------------------------------------
def _add_objections(
    text: str | None,
    path: Path | None,
    rubric: Any,
    language: str,
    mining_result: MiningResult,
    opts: SuggestOptions,
    result: Suggestion,
) -> str | None:
    """The rubric ``text`` with candidate objections appended (notes say why one was not)."""
    candidates = [c for c in mining_result.uncovered
                  if c.lift >= opts.min_lift and c.bad_calls >= opts.min_calls]
    candidates = candidates[: opts.max_objections]
    if not candidates:
        return text
    if rubric is None or text is None or path is None:
        result.notes.append(
            f"{len(candidates)} candidate objection(s) found; pass --rubric FILE to add them"
        )
        return text
    blocks = _objection_blocks(candidates, rubric, language, opts, result.notes)
    if not blocks:
        return text
    text = _append_objections(text, _objections_node(text, path), blocks, opts)
    for b in blocks:
        result.additions.append(Addition(
            "rubric", "objection", b.id, b.triggers, _candidate_evidence(b.candidate),
        ))
    return text


def _objection_blocks(
    candidates: Sequence[ObjectionCandidate], rubric: Any, language: str, opts: SuggestOptions, notes: list[str]
) -> list[_NewObjection]:
    """One new objection per candidate the rubric does not cover yet and scoring would find."""
    existing = {o.id for o in rubric.objections}
    present = PhraseCover(language, [
        t for o in rubric.objections
        for t in phrase_thresholds(o.triggers, float(o.threshold if o.threshold is not None else rubric.threshold))
    ])
    blocks: list[_NewObjection] = []
    for c in candidates:
        # Mined against an older rubric: what the rubric now covers is not proposed again.
        if any(present(t) for t in c.triggers):
            continue
        if not c.answer_phrases:
            notes.append(
                f"client wording {c.trigger!r} recurs in {c.bad_calls} bad calls but no "
                "answer to it was found: add it to the rubric by hand"
            )
            continue
        oid = c.id
        n = 1
        while oid in existing:
            n += 1
            oid = f"{c.id}_{n}"
        existing.add(oid)
        threshold = float(rubric.threshold)
        triggers = _cover([(t, c) for t in c.triggers], language, threshold, opts.max_triggers)
        phrases: list[str] = []
        for p in c.answer_phrases:
            if len(phrases) < opts.max_answer_phrases and not any(_contain(p, q, language) for q in phrases):
                phrases.append(p)
        if not triggers:
            notes.append(
                f"client wording {c.trigger!r}: as a trigger it would not be found in the calls "
                "it was mined from; add it to the rubric by hand"
            )
            continue
        blocks.append(_NewObjection(oid, c, tuple(t for t, _ in triggers), tuple(phrases)))
    return blocks


# ---- reading and parsing ----------------------------------------------------------------
def _read(path: Path) -> str:
    try:
        with path.open(encoding="utf-8", newline="") as f:
            return f.read()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror or e}") from e
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text ({e.reason}); save it as UTF-8") from e


def _parse(text: str | None, path: Path | None, kind: str) -> Any:
    """Parse a script / rubric text as its loader would, naming ``path`` in errors."""
    from .scripts import parse_rubric, parse_script

    if text is None or path is None:
        return None
    return (parse_script if kind == "script" else parse_rubric)(text, str(path))


def _contain(a: str, b: str, language: str | None) -> bool:
    """Does one wording contain the other (by stems)?"""
    ka, kb = f" {stem_key(a, language)} ", f" {stem_key(b, language)} "
    return ka in kb or kb in ka


def _cover(
    offered: Sequence[tuple[str, Any]],
    language: str | None,
    threshold: float,
    limit: int,
    existing: PhraseCover | None = None,
) -> list[tuple[str, Any]]:
    """Pick wordings, strongest first. ``offered`` is ``(wording, group)``; a group's
    representative (``group.phrase`` or ``.trigger``) is picked when scoring would find it
    in the turns it was mined from (``group.said``); another wording of the group only when
    it finds a turn that neither the script's phrases (``existing``) nor the wordings picked
    before find. Wordings containing each other are never both picked (a fragment adds
    nothing, and each distinct phrase found counts toward ``min_matches``).
    """
    chosen: list[tuple[str, Any]] = []
    found: set[tuple[str, float]] = set()
    if existing is not None:
        found = {(e.call_id, e.start) for _, g in offered for e in g.said if existing.finds(e.quote)}
    for wording, g in offered:
        if len(chosen) >= limit:
            break
        if any(_contain(wording, c, language) for c, _ in chosen):
            continue
        finder = PhraseCover(language, [(wording, threshold)])
        hits = {(e.call_id, e.start) for e in g.said if finder.finds(e.quote)}
        representative = wording == getattr(g, "phrase", getattr(g, "trigger", None))
        if hits and (representative or hits - found):
            chosen.append((wording, g))
            found |= hits
    return chosen


def _evidence(g: PhraseGroup) -> str:
    return (
        f"mined: {g.best_calls} of {g.best_total} best calls, "
        f"{g.worst_calls} of {g.worst_total} worst (lift {g.lift:.1f})"
    )


def _candidate_evidence(c: ObjectionCandidate) -> str:
    return (
        f"client wording in {c.bad_calls} of {c.bad_total} bad calls, "
        f"{c.good_calls} of {c.good_total} good (lift {c.lift:.1f}), {c.clients} clients"
    )


def _stage_phrases_node(text: str, path: Path, stage_id: str) -> yaml.SequenceNode:
    root = yaml_edit.compose(text, path)
    stages = yaml_edit.get(root, "stages")
    if isinstance(stages, yaml.SequenceNode):
        for item in stages.value:
            sid = yaml_edit.get(item, "id")
            if isinstance(sid, yaml.ScalarNode) and sid.value == stage_id:
                phrases = yaml_edit.get(item, "phrases")
                if isinstance(phrases, yaml.SequenceNode):
                    return phrases
                raise ConfigError(
                    f"{path}:{item.start_mark.line + 1}: stage {stage_id!r} has no 'phrases' list "
                    "to add to; give it one"
                )
    raise ConfigError(f"{path}: stage {stage_id!r} not found under 'stages'")


def _objections_node(text: str, path: Path) -> yaml.SequenceNode:
    node = yaml_edit.get(yaml_edit.compose(text, path), "objections")
    if not isinstance(node, yaml.SequenceNode):
        raise ConfigError(f"{path}: no 'objections' list to add to; add 'objections: []'")
    return node


def _append_objections(
    text: str, node: yaml.SequenceNode, blocks: Sequence[_NewObjection], opts: SuggestOptions
) -> str:
    lines = text.splitlines(keepends=True)
    if node.flow_style or not node.value:
        raise ConfigError(
            f"line {node.start_mark.line + 1}: 'objections' must be a block list with at least "
            "one objection to add to"
        )
    offset = yaml_edit.nested_offset(lines, node.value)
    dash = " " * yaml_edit.dash_column(lines, node.value[0])
    key = dash + "  "
    sub = key + " " * offset  # the '-' of a list under a key
    step_key = sub + "  "
    step_sub = step_key + " " * offset
    new_lines: list[str] = []
    for b in blocks:
        c = b.candidate
        new_lines.append("")
        if opts.annotate:
            new_lines.append(f"{dash}# Proposed by qa suggest: {_candidate_evidence(c)}.")
            for a in c.answers[:2]:
                quote = " ".join(a.quote.split())
                quote = quote if len(quote) <= 160 else quote[:157] + "..."
                new_lines.append(f"{dash}# Answer in call {a.call_id} at {a.at} ({a.cohort} call): {quote}")
        new_lines += [
            f"{dash}- id: {b.id}",
            f"{key}title: {yaml_edit.scalar(c.trigger, flow=False, quoted=False)}",
            f"{key}triggers:",
            *(f"{sub}- {yaml_edit.scalar(t, flow=False, quoted=False)}" for t in b.triggers),
            f"{key}respond_within_turns: {opts.respond_within_turns}",
            f"{key}steps:",
            f"{sub}- id: answer",
            f"{step_key}weight: 1",
            f"{step_key}phrases:",
            *(f"{step_sub}- {yaml_edit.scalar(p, flow=False, quoted=False)}" for p in b.phrases),
        ]
    return yaml_edit.insert_lines(text, yaml_edit.line_of_end(lines, node.value[-1]), new_lines)


def _display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
