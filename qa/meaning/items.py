"""The meaning layer for a script and a rubric: which examples compete, and where.

:func:`script_matchers` builds, once per (script, rubric), the matchers scoring needs:

- ``stages``: every stage judged by its own phrases (not ``applies_if`` stages, which the
  rubric judges), competing with each other;
- ``triggers``: every objection's triggers, competing with each other (client side);
- ``steps[objection id]``: that objection's handling steps, competing with each other.

:func:`stage_eligibility` gives, per stage, the utterances it may be found in: its role (any
role on mono recordings, where roles are unknown) and its time window, as
:mod:`qa.scoring` states them. Hands on :class:`ScriptMatchers`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import MeaningMatcher, MeaningOptions, VectorCache
from .encoders import Encoder

if TYPE_CHECKING:  # pragma: no cover
    from ..scripts import Rubric, Script
    from ..transcripts import Transcript


@dataclass
class ScriptMatchers:
    """Matchers for one (script, rubric); ``None`` where there is nothing to match."""

    stages: MeaningMatcher | None
    triggers: MeaningMatcher | None
    steps: dict[str, MeaningMatcher] = field(default_factory=dict)


def script_matchers(
    script: Script,
    rubric: Rubric | None = None,
    options: MeaningOptions | None = None,
    *,
    cache: VectorCache | None = None,
    enc: Encoder | None = None,
) -> ScriptMatchers:
    """Embed the examples of a script (and rubric) once; see the module docstring."""
    opts = options or MeaningOptions()

    def make(examples: dict[str, list[str]]) -> MeaningMatcher | None:
        examples = {k: v for k, v in examples.items() if v}
        return MeaningMatcher(examples, opts, cache=cache, enc=enc) if examples else None

    stages = make({st.id: [p.text for p in st.phrases] for st in script.stages
                   if not st.applies_if})
    triggers = steps = None
    if rubric is not None:
        triggers = make({ob.id: [p.text for p in ob.triggers] for ob in rubric.objections})
        steps = {ob.id: m for ob in rubric.objections
                 if (m := make({s.id: [p.text for p in s.phrases] for s in ob.steps}))}
    return ScriptMatchers(stages, triggers, steps or {})


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
