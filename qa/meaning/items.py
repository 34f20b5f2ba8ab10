"""The meaning layer for a script and a rubric: which examples compete, and where.

:func:`script_matchers` builds, once per (script, rubric), the matchers scoring needs:

- ``stages``: every stage judged by its own phrases (not ``applies_if`` stages, which the
  rubric judges), competing with each other;
- ``triggers``: every objection's triggers, competing with each other and with ordinary
  client sentences (:data:`RIVAL`, never reported; client side);
- ``steps[objection id]``: that objection's handling steps, competing with each other.

:func:`stage_eligibility` gives, per stage, the utterances it may be found in: its role (any
role on mono recordings, where roles are unknown) and its time window, as
:mod:`qa.scoring` states them. Hands on :class:`ScriptMatchers`.

Per-item thresholds (a calibration profile's, :mod:`qa.calibrate`) come in
``MeaningOptions.item_thresholds`` keyed ``<kind>:<id>`` (:data:`KINDS`); each matcher takes
its own kind's (:func:`kind_thresholds`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..scripts import placeholders_in
from . import MeaningMatcher, MeaningOptions, VectorCache
from .encoders import Encoder, encoder

#: Zero-shot thresholds for a script's items, per encoder and kind, used when
#: ``MeaningOptions.threshold`` is None. Chosen on the ``dev`` calls of ``tests/data/labelled``
#: with simulated recognition errors (``asr_noise`` at rate 0.15), never on the held-out
#: calls (docs/meaning.md). Sales-call items sit closer together than CaSiNo's, so they need
#: more similarity than :data:`qa.meaning.DEFAULT_THRESHOLDS`. Triggers compete with ordinary
#: client sentences (:func:`trigger_rivals`); without those rivals they needed 0.80 (USE).
#: e5's were re-tuned on the ``calib`` and ``dev`` calls once the scripts had their examples
#: (the best calib F1 at calib precision >= 0.84; docs/meaning.md, "Fourth pass").
KIND_THRESHOLDS: dict[str, dict[str, float]] = {
    "use": {"stage": 0.60, "trigger": 0.65, "step": 0.70},
    "e5": {"stage": 0.91, "trigger": 0.92, "step": 0.92},
}

if TYPE_CHECKING:  # pragma: no cover
    from ..scripts import Rubric, Script
    from ..transcripts import Transcript


@dataclass
class ScriptMatchers:
    """Matchers for one (script, rubric); ``None`` where there is nothing to match."""

    stages: MeaningMatcher | None
    triggers: MeaningMatcher | None
    steps: dict[str, MeaningMatcher] = field(default_factory=dict)
    #: The tentative trigger bar (:attr:`MeaningOptions.tentative`); None: no tentative raises
    #: (a bar at or above the trigger threshold adds none either).
    tentative: float | None = None

    def any(self) -> MeaningMatcher | None:
        """One of the matchers (they share one encoder and cache), None when all are empty."""
        return self.stages or self.triggers or next(iter(self.steps.values()), None)

    @property
    def encoder_name(self) -> str | None:
        m = self.any()
        return None if m is None else m.options.encoder

    def embed(self, texts: Sequence[str]) -> np.ndarray | None:
        """Vectors of a transcript's utterances, each distinct text embedded once (cached).
        Read-only: the matchers normalise the same read-only vectors once, not each."""
        m = self.any()
        if m is None:
            return None
        vectors = m.embed(texts)
        vectors.flags.writeable = False
        return vectors


def script_matchers(
    script: Script,
    rubric: Rubric | None = None,
    options: MeaningOptions | None = None,
    *,
    cache: VectorCache | None = None,
    enc: Encoder | None = None,
    rivals: bool = True,
) -> ScriptMatchers:
    """Embed the examples of a script (and rubric) once; see the module docstring.
    ``rivals``: let ordinary client sentences (:func:`trigger_rivals`) compete with the
    objection triggers."""
    opts = options or MeaningOptions()
    if enc is None:
        enc = encoder(opts.encoder)

    def make(examples: dict[str, list[str]], kind: str, prefix: str = "") -> MeaningMatcher | None:
        examples = {k: v for k, v in examples.items() if v}
        if not examples:
            return None
        o = opts if opts.threshold is not None else replace(
            opts, threshold=opts.kind_thresholds.get(kind, KIND_THRESHOLDS[opts.encoder][kind]))
        own = kind_thresholds(opts.item_thresholds, kind, prefix)
        if own != dict(opts.item_thresholds):
            o = replace(o, item_thresholds=own)
        return MeaningMatcher(examples, o, cache=cache, enc=enc)

    stages = make({st.id: _fixed(st.phrases, st.examples) for st in script.stages
                   if not st.applies_if}, "stage")
    triggers = steps = None
    if rubric is not None:
        trig = {ob.id: _fixed(ob.triggers, ob.examples) for ob in rubric.objections}
        if trig and rivals:
            trig[RIVAL] = trigger_rivals(rubric.language)
        triggers = make(trig, "trigger")
        steps = {ob.id: m for ob in rubric.objections
                 if (m := make({s.id: _fixed(s.phrases, s.examples) for s in ob.steps}, "step", f"{ob.id}."))}
    tentative = opts.tentative if opts.tentative is not None and opts.tentative < 1.0 else None
    return ScriptMatchers(stages, triggers, steps or {}, tentative)


def _fixed(phrases: Sequence[Any], examples: Sequence[str] = ()) -> list[str]:
    """The examples of an item for the meaning layer: its phrases without placeholders, then
    its ``examples`` (sentences written for this layer alone, never matched by words). A
    ``{company}``/``{manager}`` phrase depends on the call (the fuzzy layer fills it per call);
    its meaning with the name left out would find an introduction that names no company."""
    texts = [p.text for p in phrases if not placeholders_in(p.text)]
    return list(dict.fromkeys([*texts, *examples]))


#: The item id of the rival examples among the triggers (not an id a rubric can use: ids are
#: ``[a-z0-9_]``). Scoring never reports it; it only takes clear finds away from triggers.
RIVAL = "~rival"
RIVALS_FILE = Path(__file__).resolve().parents[1] / "data" / "meaning" / "rivals.yaml"


@cache
def trigger_rivals(language: str) -> list[str]:
    """Ordinary client sentences of ``language`` (``qa/data/meaning/rivals.yaml``) that
    compete with objection triggers: without them a client sentence has no rival, and
    "спасибо, до свидания" is close enough to "спасибо, не надо" to raise an objection.
    Empty for a language without a list."""
    from ..normalize import language_code
    from ..safe_yaml import load_file

    doc = load_file(RIVALS_FILE) or {}
    per = (doc.get("triggers") or {}) if isinstance(doc, dict) else {}
    return [str(x) for x in per.get(language_code(language)) or []]


#: The kinds of item a script's meaning layer decides, as they prefix the keys of
#: ``MeaningOptions.item_thresholds`` (``stage:needs``, ``trigger:price``,
#: ``step:price.clarify``); a key without a prefix applies to that id in every kind.
KINDS = ("stage", "trigger", "step")


def kind_thresholds(item_thresholds: Mapping[str, float], kind: str, prefix: str = "") -> dict[str, float]:
    """The per-item thresholds one matcher of ``kind`` takes (ids without the kind prefix;
    ``prefix``: the objection of a step matcher, ``price.``)."""
    out = {k: v for k, v in item_thresholds.items() if ":" not in k}
    head = f"{kind}:{prefix}"
    out.update({k[len(head):]: v for k, v in item_thresholds.items() if k.startswith(head)})
    return out


def stage_eligibility(script: Script, transcript: Transcript) -> dict[str, list[bool]]:
    """Per stage judged by phrases: may utterance ``i`` find it (role and time window)?"""
    from ..transcripts import UNKNOWN

    utts = transcript.utterances
    end = transcript.duration or max((u.end for u in utts), default=0.0)
    mono = all(u.role == UNKNOWN for u in utts)
    out: dict[str, list[bool]] = {}
    for st in script.stages:
        if st.applies_if:
            continue
        mask = []
        for u in utts:
            ok = mono or st.role == "any" or u.role == st.role
            if st.within_first_seconds is not None:
                ok = ok and u.start <= st.within_first_seconds
            if st.within_last_seconds is not None:
                ok = ok and u.end >= end - st.within_last_seconds
            mask.append(ok)
        out[st.id] = mask
    return out
