"""Sales scripts and objection rubrics: YAML files -> validated, frozen dataclasses.

A QA specialist edits these files; this module turns them into :class:`Script` and
:class:`Rubric` values that :mod:`qa.scoring` scores against, and explains every mistake
with the file, the LINE and the fix (``qa validate``). The YAML shapes are fixed in
ARCHITECTURE.md ("Script YAML", "Rubric YAML").

- :func:`load_script` / :func:`load_rubric` raise :class:`qa.errors.ConfigError` on the first
  error (``file:line: message``), with a count of further errors.
- :func:`validate_file` returns every :class:`Issue` (errors and warnings) of one file, and
  detects whether it is a script (has ``stages``) or a rubric (has ``objections``).
- ``hash`` is the first 16 hex digits of the sha256 of the file bytes: a score always says which
  version of the script produced it.

Warnings are things that load but will probably score badly: phrases too short or too common
to match reliably, near-duplicate phrases in different stages (one utterance would count for
both), very low thresholds, a script without a next-step stage, a language without word lists,
``applies_if`` naming objections that no rubric given defines.

Placeholders
------------
A phrase may name the call's company and manager instead of spelling them out:
``"компания {company}"``, ``"меня зовут {manager}"``, ``"this is {manager} from {company}"``
(:data:`PLACEHOLDERS`; any other ``{name}`` is an error). One script then fits every company:
:mod:`qa.scoring` fills them per call -- ``{company}`` from the call's manifest column
``company``, else from :attr:`Script.values` (``qa score --company``, or ``company`` in
``qa.toml``; several names a team goes by separated by ``|``, any of them counts);
``{manager}`` from the call's manager (the managers file's full name when there
is one), where the full name, the first name alone and the surname alone all count
(:func:`name_variants`). A phrase whose placeholder has no value for a call cannot match on
that call; ``qa score`` and ``qa validate`` say so once per script.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml

from . import safe_yaml
from .errors import ConfigError, QAError

#: What a phrase may name in braces: filled per call by :mod:`qa.scoring` (module docstring).
PLACEHOLDERS = ("company", "manager")
_PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}")
#: Words of a manager's name: letters (any alphabet), with inner hyphens and apostrophes.
_NAME_PART_RE = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")

#: Default fuzzy similarity (0-100) a phrase needs when the file sets no threshold.
DEFAULT_THRESHOLD = 85.0
#: Thresholds below this load, with a warning: they match unrelated speech.
LOW_THRESHOLD = 60.0
#: ``applies_if: objection`` means "any objection of the rubric was raised".
ANY_OBJECTION = "objection"
#: Stage ids that mark the closing stage (``next_step`` flag) when ``next_step_stage`` is unset.
NEXT_STEP_IDS = ("next_step", "closing")

ROLES = ("manager", "client", "any")
_ID_RE = re.compile(r"^[a-z0-9_]+$")
_LANG_RE = re.compile(r"^[a-z]{2,3}([-_][A-Za-z0-9]+)?$")


class FieldError(ValueError):
    """A value of one field is invalid (``key`` names the YAML key)."""

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key
        self.message = message


# ---- rules shared by the dataclasses and the loader -------------------------------------------
def _is_number(v: Any) -> bool:
    """A finite int or float (YAML's ``.inf`` and ``.nan`` are not weights or seconds)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v == v and abs(v) != float("inf")


def _threshold_problem(v: Any) -> str | None:
    if v is None:
        return None
    if not _is_number(v) or not 0 < v <= 100:
        return f"threshold must be a number in 1..100 (fuzzy similarity), got {v!r}"
    return None


def _positive_problem(key: str, v: Any, *, allow_none: bool = False) -> str | None:
    if v is None and allow_none:
        return None
    if not _is_number(v) or v <= 0:
        return f"{key} must be a positive number, got {v!r}"
    return None


def _id_problem(v: Any) -> str | None:
    if not isinstance(v, str) or not _ID_RE.match(v):
        return f"id must be lower-case letters, digits and '_' (e.g. 'needs_discovery'), got {v!r}"
    return None


def _first_duplicate(ids: Iterable[Any]) -> Any:
    """The first id that occurs again (linear: ``list.count`` per id took 20 s on 20,000 stages)."""
    counts = Counter(ids)
    return next((i for i, n in counts.items() if n > 1), None)


def _raise_first(problems: Iterable[tuple[str, str]]) -> None:
    for key, message in problems:
        raise FieldError(key, message)


# ---- values ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Phrase:
    """One phrase to look for; ``threshold`` overrides the stage's / script's when set."""

    text: str
    threshold: float | None = None
    line: int | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        _raise_first(self.problems(self.text, self.threshold))

    @staticmethod
    def problems(text: Any, threshold: Any) -> list[tuple[str, str]]:
        out = []
        if not isinstance(text, str) or not text.strip():
            out.append(("text", f"a phrase must be non-empty text, got {text!r}"))
        elif not any(ch.isalnum() for ch in text):
            out.append(
                ("text", f"phrase {text!r} has no letters or digits; a phrase is the words to "
                         "listen for (not a pattern): write them out")
            )
        else:
            bad = _placeholder_problem(text)
            if bad:
                out.append(("text", bad))
        t = _threshold_problem(threshold)
        if t:
            out.append(("threshold", t))
        return out

    @property
    def placeholders(self) -> frozenset[str]:
        """The placeholders this phrase names (``{company}``, ``{manager}``)."""
        return placeholders_in(self.text)


def placeholders_in(text: str) -> frozenset[str]:
    """The placeholder names in a phrase: ``"this is {manager} from {company}"`` ->
    ``{"manager", "company"}``."""
    if "{" not in text:
        return frozenset()
    return frozenset(name.strip() for name in _PLACEHOLDER_RE.findall(text))


def _placeholder_problem(text: str) -> str | None:
    """Why the braces of a phrase are wrong (an unknown name, a brace left open), or None."""
    if "{" not in text and "}" not in text:
        return None
    for name in _PLACEHOLDER_RE.findall(text):
        if name.strip() not in PLACEHOLDERS:
            known = " and ".join(f"{{{p}}}" for p in PLACEHOLDERS)
            return f"phrase {text!r} names {{{name}}}; the placeholders are {known} (write other words without braces)"
    rest = _PLACEHOLDER_RE.sub("", text)
    if "{" in rest or "}" in rest:
        return f"phrase {text!r} has a brace without its pair; write a placeholder as {{company}} or {{manager}}"
    return None


def name_variants(name: str | None) -> tuple[str, ...]:
    """The ways a manager's name may be said, longest first: the full name, then each part
    alone ("Анна Смирнова" -> "Анна Смирнова", "Анна", "Смирнова": managers introduce
    themselves by the first name, the managers file holds the full one). Ids made of
    digits (an extension no managers file names) are no name: ``()``. ``ivan_petrov`` and
    ``a.smirnova`` are split on their separators."""
    parts = [p for p in _NAME_PART_RE.findall(name or "") if len(p) >= 2]
    if not parts:
        return ()
    full = " ".join(parts)
    return tuple(dict.fromkeys([full, *parts]))


def fill(text: str, values: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
    """Every filled form of a phrase: each placeholder replaced by each of its values
    (``values[name]``, several for a manager's name). ``()`` when a placeholder the phrase
    names has no value: the phrase cannot be said on this call."""
    names = sorted(placeholders_in(text))
    forms = [text]
    for name in names:
        options = [v for v in values.get(name, ()) if v and v.strip()]
        if not options:
            return ()
        pattern = re.compile(r"\{\s*" + re.escape(name) + r"\s*\}")
        forms = [pattern.sub(v.strip().replace("\\", "\\\\"), f) for f in forms for v in options]
    return tuple(dict.fromkeys(forms))


def _without_placeholders(text: str) -> str:
    return " ".join(_PLACEHOLDER_RE.sub(" ", text).split())


#: Where in the call a stage may be said (``Stage.position``).
POSITIONS = ("any", "opening", "closing")


@dataclass(frozen=True)
class Stage:
    """One stage of a sales call (see ARCHITECTURE.md "Script YAML")."""

    id: str
    title: str
    weight: float
    phrases: tuple[Phrase, ...]
    required: bool = True
    role: str = "manager"
    within_first_seconds: float | None = None
    within_last_seconds: float | None = None
    min_matches: int = 1
    threshold: float | None = None
    after: tuple[str, ...] = ()
    applies_if: tuple[str, ...] = ()
    description: str | None = None
    #: where in the call the stage is looked for: ``any``, ``opening`` (the first turns of its
    #: role) or ``closing`` (the last ones); see ``qa.scoring.ScoringOptions.position_turns``
    position: str = "any"
    #: sentences that say the stage in other words: the meaning layer's examples only (the
    #: words of ``phrases`` are matched fuzzily; these are not) (ARCHITECTURE.md, "Script YAML")
    examples: tuple[str, ...] = ()
    line: int | None = field(default=None, compare=False)
    #: line of each YAML key (for messages about one key)
    key_lines: Mapping[str, int] = field(default_factory=dict, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        _raise_first(self.problems(self.__dict__))

    @staticmethod
    def problems(v: Mapping[str, Any]) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []

        def add(key: str, msg: str | None) -> None:
            if msg:
                out.append((key, msg))

        add("id", _id_problem(v.get("id")))
        add("weight", _positive_problem("weight", v.get("weight")))
        if not isinstance(v.get("required", True), bool):
            add("required", f"required must be true or false, got {v.get('required')!r}")
        if v.get("role", "manager") not in ROLES:
            add("role", f"role must be one of {', '.join(ROLES)}, got {v.get('role')!r}")
        if v.get("position", "any") not in POSITIONS:
            add("position", f"position must be one of {', '.join(POSITIONS)}, got {v.get('position')!r}")
        for key in ("within_first_seconds", "within_last_seconds"):
            add(key, _positive_problem(key, v.get(key), allow_none=True))
        add("threshold", _threshold_problem(v.get("threshold")))
        phrases = v.get("phrases") or ()
        if not phrases:
            add("phrases", "phrases must list at least one phrase")
        mm = v.get("min_matches", 1)
        if not isinstance(mm, int) or isinstance(mm, bool) or mm < 1:
            add("min_matches", f"min_matches must be a whole number >= 1, got {mm!r}")
        elif phrases and mm > len(phrases):
            add(
                "min_matches",
                f"min_matches is {mm} but only {len(phrases)} phrase(s) are listed; "
                f"add phrases or lower min_matches",
            )
        if v.get("id") in (v.get("after") or ()):
            add("after", "a stage cannot come after itself; remove its own id from after")
        return out

    @property
    def optional(self) -> bool:
        return not self.required


@dataclass(frozen=True)
class ForbiddenPhrase:
    """A phrase the manager must not say: a penalty in points, or ``critical`` (score 0)."""

    id: str
    phrase: Phrase
    penalty: float = 0.0
    critical: bool = False
    role: str = "manager"
    line: int | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        _raise_first(self.problems(self.__dict__))

    @staticmethod
    def problems(v: Mapping[str, Any]) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        penalty, critical = v.get("penalty", 0), v.get("critical", False)
        if not _is_number(penalty) or penalty < 0:
            out.append(("penalty", f"penalty must be a number of points >= 0, got {penalty!r}"))
        elif not isinstance(critical, bool):
            out.append(("critical", f"critical must be true or false, got {critical!r}"))
        elif penalty == 0 and not critical:
            out.append(
                ("penalty", "a forbidden phrase needs a penalty > 0 or critical: true")
            )
        if v.get("role", "manager") not in ROLES:
            out.append(("role", f"role must be one of {', '.join(ROLES)}, got {v.get('role')!r}"))
        return out


def _check_document(name: str, threshold: float, key: str, noun: str, items: Sequence[Any]) -> list[str]:
    """What a script and a rubric both need: a name, a valid threshold, unique item ids."""
    if not name or not str(name).strip():
        raise FieldError("name", "name must be non-empty text")
    t = _threshold_problem(threshold)
    if t:
        raise FieldError("threshold", t)
    if not items:
        raise FieldError(key, f"{key} must list at least one {noun}")
    ids = [item.id for item in items]
    dup = _first_duplicate(ids)
    if dup:
        raise FieldError(key, f"{noun} id {dup!r} is used twice; ids must be unique")
    return ids


@dataclass(frozen=True)
class Script:
    """A sales script: ordered stages with weights and phrases, plus forbidden phrases."""

    name: str
    language: str
    stages: tuple[Stage, ...]
    forbidden: tuple[ForbiddenPhrase, ...] = ()
    threshold: float = DEFAULT_THRESHOLD
    next_step_stage: str | None = None
    description: str | None = None
    hash: str = ""
    path: str | None = None
    #: Placeholder values for every call (``{"company": "Новый дом"}``: ``qa score --company``
    #: or ``company`` in ``qa.toml``); a call's own metadata wins (module docstring). Not
    #: part of the file, so not part of ``hash``.
    values: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        ids = _check_document(self.name, self.threshold, "stages", "stage", self.stages)
        if self.next_step_stage is None:
            found = next((i for i in NEXT_STEP_IDS if i in ids), None)
            object.__setattr__(self, "next_step_stage", found)
        elif self.next_step_stage not in ids:
            raise FieldError(
                "next_step_stage", f"next_step_stage names unknown stage {self.next_step_stage!r}"
            )

    def stage(self, stage_id: str) -> Stage:
        for s in self.stages:
            if s.id == stage_id:
                return s
        raise KeyError(stage_id)

    @property
    def placeholders(self) -> frozenset[str]:
        """Every placeholder the script's phrases name (stages and forbidden phrases)."""
        out: set[str] = set()
        for st in self.stages:
            for ph in st.phrases:
                out |= ph.placeholders
        for fb in self.forbidden:
            out |= fb.phrase.placeholders
        return frozenset(out)

    def with_values(self, **values: str | None) -> Script:
        """This script with placeholder values for every call (``company="Новый дом"``);
        ``None`` or blank values are left out. Raises :class:`~qa.errors.UsageError` for a
        name that is not a placeholder."""
        from .errors import UsageError

        unknown = sorted(set(values) - set(PLACEHOLDERS))
        if unknown:
            raise UsageError(f"unknown placeholder(s) {', '.join(unknown)}; the placeholders are {', '.join(PLACEHOLDERS)}")
        given = {k: " ".join(str(v).split()) for k, v in values.items() if v is not None and str(v).strip()}
        return dataclasses.replace(self, values={**self.values, **given})

    def unfilled_note(self) -> str | None:
        """What ``qa score`` and ``qa validate`` say when the script names ``{company}`` and
        no company is set; None when nothing is missing."""
        if "company" not in self.placeholders or self.values.get("company"):
            return None
        where = f" ({self.path})" if self.path else ""
        return (
            f"script {self.name!r}{where} names {{company}}, and no company is set: those phrases "
            "cannot match (the introduction will be missed) except on calls whose manifest has a "
            "company column; set company in qa.toml or pass --company"
        )

    def threshold_for(self, stage: Stage, phrase: Phrase) -> float:
        """The similarity a phrase of a stage needs: phrase, else stage, else script."""
        if phrase.threshold is not None:
            return float(phrase.threshold)
        if stage.threshold is not None:
            return float(stage.threshold)
        return float(self.threshold)


@dataclass(frozen=True)
class Step:
    """One step of handling an objection (acknowledge, clarify, argue...)."""

    id: str
    weight: float
    phrases: tuple[Phrase, ...]
    title: str | None = None
    threshold: float | None = None
    #: the meaning layer's extra examples of the step (not matched by words)
    examples: tuple[str, ...] = ()
    line: int | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        _raise_first(self.problems(self.__dict__))

    @staticmethod
    def problems(v: Mapping[str, Any]) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for key, msg in (
            ("id", _id_problem(v.get("id"))),
            ("weight", _positive_problem("weight", v.get("weight"))),
            ("threshold", _threshold_problem(v.get("threshold"))),
        ):
            if msg:
                out.append((key, msg))
        if not v.get("phrases"):
            out.append(("phrases", "phrases must list at least one phrase"))
        return out


@dataclass(frozen=True)
class Objection:
    """A client objection: triggers said by the client, handling steps said by the manager."""

    id: str
    title: str
    triggers: tuple[Phrase, ...]
    steps: tuple[Step, ...]
    respond_within_turns: int = 2
    threshold: float | None = None
    description: str | None = None
    #: what clients say when they raise it, in other words than ``triggers``: the meaning
    #: layer's extra trigger examples (not matched by words)
    examples: tuple[str, ...] = ()
    line: int | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        _raise_first(self.problems(self.__dict__))

    @staticmethod
    def problems(v: Mapping[str, Any]) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for key, msg in (
            ("id", _id_problem(v.get("id"))),
            ("threshold", _threshold_problem(v.get("threshold"))),
        ):
            if msg:
                out.append((key, msg))
        if v.get("id") == ANY_OBJECTION:
            out.append(
                ("id", f"id {ANY_OBJECTION!r} is reserved (applies_if: {ANY_OBJECTION} means any "
                       "objection); choose another id")
            )
        if not v.get("triggers"):
            out.append(("triggers", "triggers must list at least one phrase the client says"))
        steps = v.get("steps") or ()
        if not steps:
            out.append(("steps", "steps must list at least one handling step"))
        rt = v.get("respond_within_turns", 2)
        if not isinstance(rt, int) or isinstance(rt, bool) or rt < 1:
            out.append(
                ("respond_within_turns", f"respond_within_turns must be a whole number >= 1, got {rt!r}")
            )
        dup = _first_duplicate(i for i in (getattr(s, "id", None) for s in steps) if i is not None)
        if dup:
            out.append(("steps", f"step id {dup!r} is used twice; ids must be unique"))
        return out

    @property
    def max_points(self) -> float:
        return float(sum(s.weight for s in self.steps))

    def threshold_for(self, rubric: Rubric, phrase: Phrase, step: Step | None = None) -> float:
        """The similarity a trigger / step phrase needs: phrase, step, objection, rubric."""
        for t in (phrase.threshold, step.threshold if step else None, self.threshold):
            if t is not None:
                return float(t)
        return float(rubric.threshold)


@dataclass(frozen=True)
class Rubric:
    """An objection-handling rubric."""

    name: str
    language: str
    objections: tuple[Objection, ...]
    threshold: float = DEFAULT_THRESHOLD
    description: str | None = None
    hash: str = ""
    path: str | None = None

    def __post_init__(self) -> None:
        _check_document(self.name, self.threshold, "objections", "objection", self.objections)

    def objection(self, objection_id: str) -> Objection:
        for o in self.objections:
            if o.id == objection_id:
                return o
        raise KeyError(objection_id)

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(o.id for o in self.objections)


# ---- issues ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Issue:
    """One finding of ``qa validate``: ``file:line: level: message``."""

    path: str
    line: int | None
    #: ``note``: something to know that is not a problem of the file (a placeholder that
    #: ``qa score`` needs a value for); counted neither as an error nor as a warning
    level: Literal["error", "warning", "note"]
    message: str

    def __post_init__(self) -> None:
        if self.level not in ("error", "warning", "note"):
            raise ValueError(f"level must be 'error', 'warning' or 'note', got {self.level!r}")

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.level}: {self.message}"

    @property
    def location(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path


# ---- YAML with line numbers --------------------------------------------------------------------
class _Map(dict):  # type: ignore[type-arg]
    """A YAML mapping that remembers its line and the line of each key."""

    line: int
    key_lines: dict[str, int]


class _List(list):  # type: ignore[type-arg]
    """A YAML sequence that remembers its line and the line of each item."""

    line: int
    item_lines: list[int]


class _YamlError(Exception):
    def __init__(self, line: int | None, message: str):
        super().__init__(message)
        self.line = line
        self.message = message


def _parse_yaml(text: str, source: str = "<yaml>") -> Any:
    try:
        loader, node = safe_yaml.compose(text, source)
    except safe_yaml.YamlLimitError as e:
        raise _YamlError(e.line, e.reason) from e
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else None
        raise _YamlError(line, f"not valid YAML: {e.problem or e}; check indentation and quotes") from e
    except yaml.YAMLError as e:
        raise _YamlError(None, f"not valid YAML: {e}") from e
    try:
        if node is None:
            return None
        return _convert(loader, node)
    finally:
        loader.dispose()


def _convert(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        m = _Map()
        m.line, m.key_lines = line, {}
        loader.flatten_mapping(node)
        for k_node, v_node in node.value:
            key = loader.construct_object(k_node, deep=True)
            if not isinstance(key, str):
                key = str(key)
            if key in m:
                raise _YamlError(
                    k_node.start_mark.line + 1,
                    f"key {key!r} appears twice in one mapping (first on line {m.key_lines[key]}); "
                    "keep one",
                )
            m[key] = _convert(loader, v_node)
            # a scalar value is reported at its key; a nested block at its first line
            m.key_lines[key] = k_node.start_mark.line + 1
        return m
    if isinstance(node, yaml.SequenceNode):
        seq = _List()
        seq.line, seq.item_lines = line, []
        for item in node.value:
            seq.append(_convert(loader, item))
            seq.item_lines.append(item.start_mark.line + 1)
        return seq
    return loader.construct_object(node, deep=True)


# ---- loading -----------------------------------------------------------------------------------
SCRIPT_KEYS = ("name", "language", "threshold", "description", "next_step_stage", "stages", "forbidden")
STAGE_KEYS = (
    "id", "title", "description", "weight", "required", "role", "within_first_seconds",
    "within_last_seconds", "min_matches", "threshold", "after", "applies_if", "phrases",
    "position", "examples",
)
PHRASE_KEYS = ("text", "threshold")
FORBIDDEN_KEYS = ("id", "phrase", "penalty", "critical", "threshold", "role")
RUBRIC_KEYS = ("name", "language", "threshold", "description", "objections")
OBJECTION_KEYS = ("id", "title", "description", "triggers", "examples", "respond_within_turns", "threshold", "steps")
STEP_KEYS = ("id", "title", "weight", "threshold", "phrases", "examples")


class _Checker:
    """Collects issues while turning one parsed YAML document into dataclasses."""

    def __init__(self, path: str):
        self.path = path
        self.issues: list[Issue] = []
        #: the file's language, once its header is read: phrases are checked in it
        self.language = ""

    def error(self, line: int | None, message: str) -> None:
        self.issues.append(Issue(self.path, line, "error", message))

    def warn(self, line: int | None, message: str) -> None:
        self.issues.append(Issue(self.path, line, "warning", message))

    @property
    def failed(self) -> bool:
        return any(i.level == "error" for i in self.issues)

    # -- helpers ---------------------------------------------------------------------------
    def mapping(self, value: Any, line: int | None, what: str) -> _Map | None:
        if isinstance(value, _Map):
            return value
        self.error(line, f"{what} must be a mapping of key: value, got {_kind(value)}")
        return None

    def keys(self, m: _Map, allowed: Sequence[str], what: str) -> None:
        for key in m:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
                hint = f"did you mean {close[0]!r}?" if close else f"valid keys: {', '.join(allowed)}"
                self.error(m.key_lines[key], f"{what}: unknown key {key!r}; {hint}")

    def line_of(self, m: _Map, key: str) -> int:
        return m.key_lines.get(key, m.line)

    def required(self, m: _Map, key: str, what: str, example: str) -> bool:
        if key not in m or m[key] is None:
            self.error(m.line, f"{what}: missing key {key!r} (e.g. {example})")
            return False
        return True

    def text(self, m: _Map, key: str, what: str, *, default: str | None = None) -> str | None:
        v = m.get(key, default)
        if v is None:
            return default
        if isinstance(v, (_Map, _List)) or isinstance(v, bool):
            self.error(self.line_of(m, key), f"{what}: {key} must be text, got {_kind(v)}")
            return default
        return str(v)

    def id_list(self, m: _Map, key: str, what: str) -> tuple[str, ...]:
        v = m.get(key)
        if v is None:
            return ()
        items = v if isinstance(v, _List) else [v]
        out = []
        for item in items:
            if isinstance(item, (_Map, _List)) or item is None:
                self.error(self.line_of(m, key), f"{what}: {key} must be an id or a list of ids, got {_kind(item)}")
                continue
            out.append(str(item))
        return tuple(out)

    def examples(self, m: _Map, what: str) -> tuple[str, ...]:
        """``examples``: sentences for the meaning layer only (ARCHITECTURE.md, "Script YAML")."""
        v = m.get("examples")
        if v is None:
            return ()
        if not isinstance(v, _List):
            self.error(self.line_of(m, "examples"), f"{what}: examples must be a list of sentences, got {_kind(v)}")
            return ()
        out = []
        for item, line in zip(v, v.item_lines):
            if not isinstance(item, str) or not item.strip():
                self.error(line, f"{what}: an example must be a sentence in quotes, got {_kind(item)}")
            elif placeholders_in(item):
                self.error(line, f"{what}: example {item!r} names a placeholder; examples are "
                                 "matched by meaning and cannot be filled per call: write it under phrases")
            else:
                out.append(" ".join(item.split()))
        return tuple(dict.fromkeys(out))

    def apply(self, what: str, m: _Map, problems: list[tuple[str, str]]) -> None:
        for key, message in problems:
            self.error(self.line_of(m, key), f"{what}: {message}")

    def phrases(self, m: _Map, key: str, what: str) -> tuple[Phrase, ...]:
        v = m.get(key)
        if v is None:
            return ()
        if not isinstance(v, _List):
            self.error(self.line_of(m, key), f"{what}: {key} must be a list of phrases, got {_kind(v)}")
            return ()
        out = []
        for item, line in zip(v, v.item_lines):
            ph = self.phrase(item, line, what)
            if ph is not None:
                out.append(ph)
        return tuple(out)

    def phrase(self, item: Any, line: int, what: str) -> Phrase | None:
        if isinstance(item, _Map) and len(item) == 1 and next(iter(item)) in PLACEHOLDERS and next(iter(item.values())) is None:
            name = next(iter(item))
            self.error(line, f'{what}: YAML reads {{{name}}} at the start of a phrase as a mapping; quote the phrase: "{{{name}}}"')
            return None
        if isinstance(item, _Map):
            self.keys(item, PHRASE_KEYS, f"{what}: phrase")
            if "text" not in item:
                self.error(line, f'{what}: phrase: missing key \'text\' (e.g. {{text: "good afternoon", threshold: 80}})')
                return None
            text, threshold = item.get("text"), item.get("threshold")
        elif isinstance(item, _List) or isinstance(item, bool) or item is None:
            self.error(line, f"{what}: a phrase must be text or {{text: ..., threshold: ...}}, got {_kind(item)}")
            return None
        else:
            text, threshold = str(item), None
        problems = Phrase.problems(text, threshold)
        for key, message in problems:
            label = f"{what}: phrase {text!r}" if key == "threshold" else what
            self.error(line, f"{label}: {message}")
        if problems:
            return None
        if not _literal_tokens(str(text), self.language):
            self.error(line, f"{what}: phrase {text!r} has no words left after normalisation (only fillers or punctuation); write the words to look for")
            return None
        if isinstance(threshold, (int, float)) and threshold < LOW_THRESHOLD:
            self.warn(line, f"{what}: phrase {text!r}: threshold {threshold} is low; phrases will match unrelated speech (use >= {LOW_THRESHOLD:g})")
        return Phrase(str(text), None if threshold is None else float(threshold), line=line)

    def threshold(self, m: _Map, what: str) -> Any:
        t = m.get("threshold")
        if isinstance(t, (int, float)) and not isinstance(t, bool) and 0 < t < LOW_THRESHOLD:
            self.warn(self.line_of(m, "threshold"), f"{what}: threshold {t} is low; phrases will match unrelated speech (use >= {LOW_THRESHOLD:g})")
        return t

    def check_language(self, m: _Map, what: str) -> str:
        lang = self.text(m, "language", what) or ""
        if lang and not _LANG_RE.match(lang):
            self.error(self.line_of(m, "language"), f"{what}: language must be a code like ru or en, got {lang!r}")
        elif lang:
            from .normalize import available_languages, language_code

            if language_code(lang) not in available_languages():
                self.warn(
                    self.line_of(m, "language"),
                    f"{what}: no word lists for language {lang!r} (have: {', '.join(available_languages())}); "
                    "matching will not stem words or drop fillers",
                )
        return lang


def _kind(v: Any) -> str:
    if isinstance(v, _Map):
        return "a mapping"
    if isinstance(v, _List):
        return "a list"
    if v is None:
        return "nothing"
    return repr(v)


def _ids_hint(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(sorted(known)) or 'none'}"


def _build_header(
    doc: _Map, c: _Checker, kind: str, keys: Sequence[str], list_key: str, example_name: str
) -> tuple[bool, str, str, Any]:
    """The top of a script or rubric file: known keys, name, language, threshold, its list."""
    c.keys(doc, keys, kind)
    ok = c.required(doc, "name", kind, f"name: {example_name}")
    ok = c.required(doc, "language", kind, "language: ru") and ok
    ok = c.required(doc, list_key, kind, f"{list_key}: [...]") and ok
    name = c.text(doc, "name", kind) or ""
    language = c.language = c.check_language(doc, kind)
    threshold = c.threshold(doc, kind)
    t_problem = _threshold_problem(threshold)
    if t_problem:
        c.error(c.line_of(doc, "threshold"), f"{kind}: {t_problem}")
    return ok, name, language, threshold


def _build_script(doc: _Map, c: _Checker) -> Script | None:
    ok, name, language, threshold = _build_header(doc, c, "script", SCRIPT_KEYS, "stages", "Inbound call")
    raw_stages = doc.get("stages")
    stages: list[Stage] = []
    if raw_stages is not None and not isinstance(raw_stages, _List):
        c.error(c.line_of(doc, "stages"), f"script: stages must be a list of stages, got {_kind(raw_stages)}")
    elif isinstance(raw_stages, _List):
        if not raw_stages:
            c.error(c.line_of(doc, "stages"), "script: stages must list at least one stage")
        for item, line in zip(raw_stages, raw_stages.item_lines):
            m = c.mapping(item, line, "stage")
            if m is None:
                continue
            st = _build_stage(m, c)
            if st is not None:
                stages.append(st)
    # ids, order and references between stages: checked on every stage with a usable id,
    # even one that failed above, so one mistake does not hide the next
    raw_maps = [m for m in (raw_stages if isinstance(raw_stages, _List) else ()) if isinstance(m, _Map)]
    seen: dict[str, int] = {}
    afters: dict[str, tuple[str, ...]] = {}
    after_lines: dict[str, int] = {}
    for m in raw_maps:
        sid = m.get("id")
        if not isinstance(sid, str) or _id_problem(sid):
            continue
        if sid in seen:
            c.error(c.line_of(m, "id"), f"stage '{sid}': id is used twice (first on line {seen[sid]}); ids must be unique")
            continue
        seen[sid] = c.line_of(m, "id")
        raw_after = m.get("after")
        after_items = list(raw_after) if isinstance(raw_after, _List) else [raw_after]
        afters[sid] = tuple(str(a) for a in after_items if a is not None and not isinstance(a, (_Map, _List)))
        after_lines[sid] = c.line_of(m, "after")
    ids = set(seen)
    for sid, after in afters.items():
        for other in after:
            if other not in ids:
                c.error(after_lines[sid], f"stage '{sid}': after names unknown stage {other!r}{_ids_hint(other, ids - {sid})}")
    cycle = _find_cycle(afters)
    if cycle:
        c.error(after_lines[cycle[0]], f"stage '{cycle[0]}': after creates a cycle ({' -> '.join(cycle)}); one of them must not wait for the other")
    next_step = c.text(doc, "next_step_stage", "script")
    if next_step is not None and next_step not in ids:
        c.error(c.line_of(doc, "next_step_stage"), f"script: next_step_stage names unknown stage {next_step!r}{_ids_hint(next_step, ids)}")
        next_step = None
    if next_step is None and not any(i in ids for i in NEXT_STEP_IDS) and ids:
        c.warn(doc.line, f"script: no stage with id {' or '.join(NEXT_STEP_IDS)} and no next_step_stage; calls will have no next-step flag")
    forbidden = _build_forbidden(doc, c)
    if not ok or c.failed:
        return None
    try:
        return Script(
            name=name,
            language=language,
            stages=tuple(stages),
            forbidden=forbidden,
            threshold=float(threshold) if threshold is not None else DEFAULT_THRESHOLD,
            next_step_stage=next_step,
            description=c.text(doc, "description", "script"),
        )
    except FieldError as e:  # rules checked above; kept as a safety net
        c.error(c.line_of(doc, e.key), f"script: {e.message}")
        return None


def _find_cycle(graph: Mapping[str, Sequence[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in graph.get(n, ()):
            if m not in graph or m == n:
                continue
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                found = visit(m)
                if found:
                    return found
        state[n] = 2
        stack.pop()
        return None

    for n in graph:
        if n not in state:
            found = visit(n)
            if found:
                return found
    return None


def _build_stage(m: _Map, c: _Checker) -> Stage | None:
    sid = m.get("id")
    what = f"stage '{sid}'" if isinstance(sid, str) else f"stage on line {m.line}"
    c.keys(m, STAGE_KEYS, what)
    ok = c.required(m, "id", what, "id: greeting")
    ok = c.required(m, "weight", what, "weight: 10") and ok
    ok = c.required(m, "phrases", what, 'phrases: ["good afternoon"]') and ok
    c.threshold(m, what)
    values: dict[str, Any] = {
        "id": sid,
        "title": c.text(m, "title", what, default=str(sid)),
        "description": c.text(m, "description", what),
        "weight": m.get("weight"),
        "required": m.get("required", True),
        "role": m.get("role", "manager"),
        "within_first_seconds": m.get("within_first_seconds"),
        "within_last_seconds": m.get("within_last_seconds"),
        "position": m.get("position", "any"),
        "min_matches": m.get("min_matches", 1),
        "threshold": m.get("threshold"),
        "after": c.id_list(m, "after", what),
        "applies_if": c.id_list(m, "applies_if", what),
        "phrases": c.phrases(m, "phrases", what),
        "examples": c.examples(m, what),
    }
    raw_phrases = m.get("phrases")
    if isinstance(raw_phrases, _List) and len(values["phrases"]) < len(raw_phrases):
        ok = False  # a phrase had an error; reported already
    # rules run on the phrases as written, so a bad phrase does not also break min_matches;
    # missing keys were reported above
    checked = dict(values, phrases=raw_phrases if isinstance(raw_phrases, _List) else values["phrases"])
    problems = [(k, msg) for k, msg in Stage.problems(checked) if k in m]
    c.apply(what, m, problems)
    if not ok or problems:
        return None
    values["weight"] = float(values["weight"])
    for key in ("within_first_seconds", "within_last_seconds", "threshold"):
        if values[key] is not None:
            values[key] = float(values[key])
    return Stage(**values, line=m.line, key_lines=dict(m.key_lines))


def _build_forbidden(doc: _Map, c: _Checker) -> tuple[ForbiddenPhrase, ...]:
    raw = doc.get("forbidden")
    if raw is None:
        return ()
    if not isinstance(raw, _List):
        c.error(c.line_of(doc, "forbidden"), f"script: forbidden must be a list of {{phrase: ..., penalty: ...}}, got {_kind(raw)}")
        return ()
    out: list[ForbiddenPhrase] = []
    seen: dict[str, int] = {}
    for n, (item, line) in enumerate(zip(raw, raw.item_lines), start=1):
        if isinstance(item, str):
            c.error(line, f"forbidden phrase {item!r}: write it as {{phrase: {item!r}, penalty: 5}} or {{phrase: {item!r}, critical: true}}")
            continue
        m = c.mapping(item, line, "forbidden phrase")
        if m is None:
            continue
        fid = m.get("id", f"forbidden_{n}")
        what = f"forbidden phrase {n}" if not isinstance(m.get("phrase"), str) else f"forbidden phrase {m['phrase']!r}"
        c.keys(m, FORBIDDEN_KEYS, what)
        if not c.required(m, "phrase", what, 'phrase: "not my problem"'):
            continue
        id_problem = _id_problem(fid)
        if id_problem:
            c.error(c.line_of(m, "id"), f"{what}: {id_problem}")
            continue
        if fid in seen:
            c.error(c.line_of(m, "id"), f"{what}: id {fid!r} is used twice (first on line {seen[fid]}); ids must be unique")
            continue
        seen[fid] = c.line_of(m, "id")
        phrase = c.phrase(_phrase_map(m), c.line_of(m, "phrase"), what)
        values = {"penalty": m.get("penalty", 0), "critical": m.get("critical", False), "role": m.get("role", "manager")}
        problems = ForbiddenPhrase.problems(values)
        c.apply(what, m, problems)
        if phrase is None or problems:
            continue
        out.append(
            ForbiddenPhrase(
                id=str(fid),
                phrase=phrase,
                penalty=float(values["penalty"]),
                critical=bool(values["critical"]),
                role=str(values["role"]),
                line=line,
            )
        )
    return tuple(out)


def _phrase_map(m: _Map) -> Any:
    """The ``phrase`` / ``threshold`` keys of a forbidden entry as a phrase item."""
    if "threshold" not in m:
        return m["phrase"]
    p = _Map({"text": m["phrase"], "threshold": m["threshold"]})
    p.line, p.key_lines = m.line, {"text": m.key_lines["phrase"], "threshold": m.key_lines["threshold"]}
    return p


def _build_rubric(doc: _Map, c: _Checker) -> Rubric | None:
    ok, name, language, threshold = _build_header(doc, c, "rubric", RUBRIC_KEYS, "objections", "Objection handling")
    raw = doc.get("objections")
    objections: list[Objection] = []
    seen: dict[str, int] = {}
    if raw is not None and not isinstance(raw, _List):
        c.error(c.line_of(doc, "objections"), f"rubric: objections must be a list, got {_kind(raw)}")
    elif isinstance(raw, _List):
        if not raw:
            c.error(c.line_of(doc, "objections"), "rubric: objections must list at least one objection")
        for item, line in zip(raw, raw.item_lines):
            m = c.mapping(item, line, "objection")
            if m is None:
                continue
            ob = _build_objection(m, c)
            if ob is None:
                continue
            if ob.id in seen:
                c.error(c.line_of(m, "id"), f"objection '{ob.id}': id is used twice (first on line {seen[ob.id]}); ids must be unique")
                continue
            seen[ob.id] = c.line_of(m, "id")
            objections.append(ob)
    if not ok or c.failed:
        return None
    return Rubric(
        name=name,
        language=language,
        objections=tuple(objections),
        threshold=float(threshold) if threshold is not None else DEFAULT_THRESHOLD,
        description=c.text(doc, "description", "rubric"),
    )


def _build_objection(m: _Map, c: _Checker) -> Objection | None:
    oid = m.get("id")
    what = f"objection '{oid}'" if isinstance(oid, str) else f"objection on line {m.line}"
    c.keys(m, OBJECTION_KEYS, what)
    ok = c.required(m, "id", what, "id: price")
    ok = c.required(m, "triggers", what, 'triggers: ["too expensive"]') and ok
    ok = c.required(m, "steps", what, 'steps: [{id: acknowledge, weight: 1, phrases: ["i understand"]}]') and ok
    c.threshold(m, what)
    triggers = c.phrases(m, "triggers", f"{what} trigger")
    steps: list[Step] = []
    raw_steps = m.get("steps")
    if raw_steps is not None and not isinstance(raw_steps, _List):
        c.error(c.line_of(m, "steps"), f"{what}: steps must be a list of {{id, weight, phrases}}, got {_kind(raw_steps)}")
        ok = False
    elif isinstance(raw_steps, _List):
        seen: dict[str, int] = {}
        for item, line in zip(raw_steps, raw_steps.item_lines):
            sm = c.mapping(item, line, f"{what} step")
            if sm is None:
                ok = False
                continue
            st = _build_step(sm, c, what)
            if st is None:
                ok = False
                continue
            if st.id in seen:
                c.error(c.line_of(sm, "id"), f"{what}: step id {st.id!r} is used twice (first on line {seen[st.id]}); ids must be unique")
                ok = False
                continue
            seen[st.id] = c.line_of(sm, "id")
            steps.append(st)
    values: dict[str, Any] = {
        "id": oid,
        "title": c.text(m, "title", what, default=str(oid)),
        "description": c.text(m, "description", what),
        "triggers": triggers,
        "steps": tuple(steps),
        "respond_within_turns": m.get("respond_within_turns", 2),
        "threshold": m.get("threshold"),
        "examples": c.examples(m, what),
    }
    problems = Objection.problems(values)
    problems = [(k, msg) for k, msg in problems if k in m or k == "id"] if not ok else problems
    if isinstance(m.get("triggers"), _List) and len(triggers) < len(m["triggers"]):
        ok = False
        problems = [(k, msg) for k, msg in problems if k != "triggers"]
    c.apply(what, m, problems)
    if not ok or problems:
        return None
    if values["threshold"] is not None:
        values["threshold"] = float(values["threshold"])
    return Objection(**values, line=m.line)


def _build_step(m: _Map, c: _Checker, parent: str) -> Step | None:
    sid = m.get("id")
    what = f"{parent} step '{sid}'" if isinstance(sid, str) else f"{parent} step on line {m.line}"
    c.keys(m, STEP_KEYS, what)
    ok = c.required(m, "id", what, "id: acknowledge")
    ok = c.required(m, "weight", what, "weight: 1") and ok
    ok = c.required(m, "phrases", what, 'phrases: ["i understand"]') and ok
    c.threshold(m, what)
    phrases = c.phrases(m, "phrases", what)
    if isinstance(m.get("phrases"), _List) and len(phrases) < len(m["phrases"]):
        ok = False
    values: dict[str, Any] = {
        "id": sid,
        "title": c.text(m, "title", what),
        "weight": m.get("weight"),
        "threshold": m.get("threshold"),
        "phrases": phrases,
        "examples": c.examples(m, what),
    }
    problems = [(k, msg) for k, msg in Step.problems(values) if ok or k in m]
    c.apply(what, m, problems)
    if not ok or problems:
        return None
    values["weight"] = float(values["weight"])
    if values["threshold"] is not None:
        values["threshold"] = float(values["threshold"])
    return Step(**values, line=m.line)


@lru_cache(maxsize=100_000)  # asked once when a phrase is read, again for its warnings
def _literal_tokens(text: str, language: str) -> tuple[str, ...]:
    """The phrase's words as the matcher compares them, synonyms not replaced: "listed twice"
    means the same words, and a phrase that differs by a synonym is harmless to list too.
    Empty: the phrase would match anything (only fillers or punctuation)."""
    from .normalize import PRESETS, tokens

    return tuple(tokens(text, language, tuple(step for step in PRESETS["stems"] if step != "synonyms")))


# ---- warnings on content -----------------------------------------------------------------------
def _phrase_warnings(
    c: _Checker,
    language: str,
    groups: Sequence[tuple[str, Sequence[Phrase], float]],
    *,
    compare_across: bool = True,
) -> None:
    """Short / common-word-only phrases; duplicates inside a group; near-duplicates across groups.

    ``groups`` are (label, phrases, default threshold) -- one per stage, objection or
    forbidden list.
    """
    from .matching import near_duplicates
    from .normalize import load_language, normalize

    lang = load_language(language)
    for label, phrases, _thr in groups:
        seen: dict[str, Phrase] = {}
        for ph in phrases:
            # placeholders are filled per call: judge the words around them
            text = _without_placeholders(ph.text) if ph.placeholders else ph.text
            toks = _literal_tokens(text, language) if text else ()
            words = normalize(text, language).split()
            if not toks:  # an error, reported when the phrase was read; or a bare placeholder
                continue
            if ph.placeholders:
                pass  # the filled-in name is the distinctive word
            elif len(words) == 1 and len(words[0]) <= 3 and not words[0].isdigit():
                c.warn(ph.line, f"{label}: phrase {ph.text!r} is one short word; recognition errors and other words will match it, use a longer phrase")
            elif lang.stop_words and len(words) <= 2 and all(w in lang.stop_words for w in words):
                c.warn(ph.line, f"{label}: phrase {ph.text!r} is only common words; it will match in almost any call, add a distinctive word")
            key = " ".join(toks) + "".join(f" {{{n}}}" for n in sorted(ph.placeholders))
            if key in seen:
                c.warn(ph.line, f"{label}: phrase {ph.text!r} is listed twice (same as {seen[key].text!r} on line {seen[key].line}); remove one")
            else:
                seen[key] = ph
    if not compare_across:
        return
    # near-duplicates across groups: one utterance would count for both. Compared in bulk by
    # matching.near_duplicates (every pair, but in C): a Python loop over the pairs took
    # minutes on a 20,000-stage script.
    flat = [(label, ph, ph.threshold or thr) for label, phrases, thr in groups for ph in phrases]
    pairs = near_duplicates([ph.text for _, ph, _ in flat], [t for _, _, t in flat], language)
    for i, j, sim in pairs:
        la, pa, _ = flat[i]
        lb, pb, _ = flat[j]
        if la == lb:
            continue
        c.warn(
            pb.line,
            f"{lb}: phrase {pb.text!r} is nearly the same as {pa.text!r} of {la} "
            f"(line {pa.line}, similarity {sim:.0f}); one utterance would count for both, "
            "make them distinct",
        )


def _script_warnings(script: Script, c: _Checker, objection_ids: frozenset[str] | None) -> None:
    groups: list[tuple[str, Sequence[Phrase], float]] = [
        (f"stage '{s.id}'", s.phrases, float(s.threshold or script.threshold)) for s in script.stages
    ]
    forbidden: list[tuple[str, Sequence[Phrase], float]] = [
        (f"forbidden phrase {f.id!r}", (f.phrase,), script.threshold) for f in script.forbidden
    ]
    _phrase_warnings(c, script.language, groups + forbidden)
    for s in script.stages:
        for ob in s.applies_if:
            if ob == ANY_OBJECTION:
                continue
            line = s.key_lines.get("applies_if", s.line)
            if objection_ids is None:
                c.warn(line, f"stage '{s.id}': applies_if names objection {ob!r}; no rubric given to check it (qa validate SCRIPT RUBRIC)")
            elif ob not in objection_ids:
                c.error(line, f"stage '{s.id}': applies_if names unknown objection {ob!r}{_ids_hint(ob, objection_ids)}")


def _rubric_warnings(rubric: Rubric, c: _Checker) -> None:
    triggers = [(f"objection '{o.id}' trigger", o.triggers, float(o.threshold or rubric.threshold)) for o in rubric.objections]
    _phrase_warnings(c, rubric.language, triggers)
    for o in rubric.objections:
        steps = [(f"objection '{o.id}' step '{s.id}'", s.phrases, float(s.threshold or o.threshold or rubric.threshold)) for s in o.steps]
        _phrase_warnings(c, rubric.language, steps, compare_across=False)


# ---- public API --------------------------------------------------------------------------------
def file_hash(data: bytes) -> str:
    """First 16 hex digits of the sha256 of a file's bytes (``script_hash`` / ``rubric_hash``)."""
    return hashlib.sha256(data).hexdigest()[:16]


def _read(path: str | Path) -> tuple[str, bytes]:
    p = Path(path)
    try:
        safe_yaml.check_size(b"", str(path), size=p.stat().st_size)
        data = p.read_bytes()
    except FileNotFoundError as e:
        raise ConfigError(f"{path}: file not found; check the path") from e
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from e
    return str(path), data


def _decode(path: str, data: bytes, c: _Checker) -> _Map | None:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        c.error(None, f"not UTF-8 text (byte {e.start}); save the file as UTF-8")
        return None
    try:
        doc = _parse_yaml(text, path)
    except _YamlError as e:
        c.error(e.line, e.message)
        return None
    if not isinstance(doc, _Map):
        c.error(getattr(doc, "line", 1), f"expected a mapping with 'stages' (script) or 'objections' (rubric), got {_kind(doc)}")
        return None
    return doc


def _kind_of(doc: _Map) -> str | None:
    if "stages" in doc and "objections" not in doc:
        return "script"
    if "objections" in doc and "stages" not in doc:
        return "rubric"
    return None


@dataclass(frozen=True)
class ConfigFile:
    """A script or rubric file read and parsed once (:func:`read_config`); :func:`check` builds it.

    ``doc`` is the parsed YAML (``None`` when it could not be read or parsed: ``issues`` say
    why); ``kind`` is ``"script"``, ``"rubric"`` or ``None``.
    """

    path: str
    data: bytes
    doc: Any
    kind: str | None
    issues: tuple[Issue, ...] = ()


@dataclass(frozen=True)
class Checked:
    """What :func:`check` found: the value (``None`` when there are errors) and every issue."""

    path: str
    kind: str | None
    value: Script | Rubric | None
    issues: list[Issue]


def _parse(path: str, data: bytes) -> ConfigFile:
    c = _Checker(path)
    doc = _decode(path, data, c)
    if doc is None:
        return ConfigFile(path, data, None, None, tuple(c.issues))
    kind = _kind_of(doc)
    if kind is None:
        if "stages" in doc:
            c.error(doc.line, "a file has either 'stages' (a script) or 'objections' (a rubric), not both; split it into two files")
        else:
            c.error(doc.line, "not a script or a rubric: a script needs a 'stages' list, a rubric an 'objections' list")
    return ConfigFile(path, data, doc, kind, tuple(c.issues))


def _check(cf: ConfigFile, want: str | None, objection_ids: frozenset[str] | None, warnings: bool) -> Checked:
    c = _Checker(cf.path)
    c.issues.extend(cf.issues)
    doc, kind = cf.doc, cf.kind
    if doc is None or kind is None:
        return Checked(cf.path, kind, None, c.issues)
    if want is not None and kind != want:
        c.error(doc.line, f"expected a {want} but this is a {kind} (it has '{'stages' if kind == 'script' else 'objections'}'); pass it as --{kind}")
        return Checked(cf.path, kind, None, c.issues)
    value = _build_script(doc, c) if kind == "script" else _build_rubric(doc, c)
    if value is not None:
        value = _with_source(value, cf.path, cf.data)
        if warnings:
            if isinstance(value, Script):
                _script_warnings(value, c, objection_ids)
            else:
                _rubric_warnings(value, c)
    issues = sorted(c.issues, key=lambda i: (i.line or 0, i.level != "error"))
    return Checked(cf.path, kind, value if not any(i.level == "error" for i in issues) else None, issues)


def _load(path: str, data: bytes, want: str | None) -> tuple[Any, list[Issue]]:
    checked = _check(_parse(path, data), want, None, warnings=False)
    return checked.value, checked.issues


def _with_source(value: Any, path: str, data: bytes) -> Any:
    from dataclasses import replace

    return replace(value, hash=file_hash(data), path=path)


def _raise(path: str, issues: list[Issue]) -> None:
    errors = [i for i in issues if i.level == "error"]
    if errors:
        more = f" (and {len(errors) - 1} more; run: qa validate {path})" if len(errors) > 1 else ""
        raise ConfigError(f"{errors[0].location}: {errors[0].message}{more}")


def load_script(path: str | Path) -> Script:
    """Load and validate a script YAML file. Raises :class:`ConfigError` (``file:line: ...``)."""
    p, data = _read(path)
    value, issues = _load(p, data, "script")
    _raise(p, issues)
    return value  # type: ignore[no-any-return]


def load_rubric(path: str | Path) -> Rubric:
    """Load and validate a rubric YAML file. Raises :class:`ConfigError` (``file:line: ...``)."""
    p, data = _read(path)
    value, issues = _load(p, data, "rubric")
    _raise(p, issues)
    return value  # type: ignore[no-any-return]


def parse_script(text: str, path: str = "<script>") -> Script:
    """A script from YAML text (tests, notebooks); ``hash`` is of the UTF-8 bytes."""
    value, issues = _load(path, text.encode("utf-8"), "script")
    _raise(path, issues)
    return value  # type: ignore[no-any-return]


def parse_rubric(text: str, path: str = "<rubric>") -> Rubric:
    """A rubric from YAML text (tests, notebooks); ``hash`` is of the UTF-8 bytes."""
    value, issues = _load(path, text.encode("utf-8"), "rubric")
    _raise(path, issues)
    return value  # type: ignore[no-any-return]


def read_config(path: str | Path) -> ConfigFile:
    """Read and parse a script or rubric file once; :func:`check` builds and checks it."""
    try:
        p, data = _read(path)
    except ConfigError as e:
        msg = str(e)
        prefix = f"{path}: "
        issue = Issue(str(path), None, "error", msg[len(prefix):] if msg.startswith(prefix) else msg)
        return ConfigFile(str(path), b"", None, None, (issue,))
    return _parse(p, data)


def check(config: ConfigFile, rubric: Rubric | Iterable[Rubric] | None = None, *, warnings: bool = True) -> Checked:
    """Build a parsed file and find every error (and, with ``warnings``, every warning).

    ``rubric``: rubric(s) whose objection ids a script's ``applies_if`` must name; without it,
    ``applies_if: <id>`` is only a warning.
    """
    if rubric is None:
        ids = None
    elif isinstance(rubric, Rubric):
        ids = rubric.ids
    else:
        ids = frozenset(i for r in rubric for i in r.ids)
    return _check(config, None, ids, warnings)


def detect_kind(path: str | Path) -> str | None:
    """``"script"``, ``"rubric"`` or ``None`` (not readable as either)."""
    return read_config(path).kind


def validate_file(path: str | Path, rubric: Rubric | Iterable[Rubric] | None = None) -> list[Issue]:
    """Every error and warning of one script or rubric file, sorted by line.

    ``rubric``: rubric(s) whose objection ids a script's ``applies_if`` must name; without it,
    ``applies_if: <id>`` is only a warning.
    """
    return check(read_config(path), rubric).issues


# ---- choosing the script per call --------------------------------------------------------------
@dataclass(frozen=True)
class ScriptRule:
    """One ``[[script_rule]]`` of ``qa.toml``: calls whose metadata match get the named scripts.

    ``match`` maps a call field to glob patterns (``*``, ``?``; any pattern may match; every
    field must match; case is ignored). Fields: ``direction``, ``manager``, ``outcome``,
    ``language``, ``call_id``, ``client_phone``, ``file`` (the file name; a pattern with a
    ``/`` is matched against the whole path) and any manifest column (``campaign``,
    ``extension``, ...). An empty ``match`` matches every call (a catch-all, put it last).
    ``script`` / ``rubric`` name files the way a manifest does: a file name
    (``b2b_cold_call.ru.yaml``), a stem (``b2b_cold_call``: every language of it), a
    script's ``name``, or a path (relative to ``base``, the config file's folder).
    """

    match: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    script: tuple[str, ...] = ()
    rubric: tuple[str, ...] = ()
    #: Where the rule is written, for messages: ``/dept/qa.toml: script_rule 2``.
    source: str = "script_rule"
    base: str | None = None

    def matches(self, transcript: Any) -> bool:
        from fnmatch import fnmatchcase

        values = call_fields(transcript)
        for name, patterns in self.match.items():
            if name == "file" and any("/" in p for p in patterns):
                value = (transcript.meta.source or "").replace("\\", "/").lower()
            else:
                value = values.get(name, "")
            if not any(fnmatchcase(value, p.lower()) for p in patterns):
                return False
        return True

    def describe(self) -> str:
        """``direction=out, file=in-*`` (``every call`` for a catch-all)."""
        return ", ".join(f"{k}={'|'.join(v)}" for k, v in self.match.items()) or "every call"

    def names(self, column: str) -> tuple[str, ...]:
        return self.script if column == "script" else self.rubric if column == "rubric" else ()


def call_fields(transcript: Any) -> dict[str, str]:
    """The fields a :class:`ScriptRule` matches, lower case (``""`` when unknown)."""
    m = transcript.meta
    fields = {str(k).lower(): str(v) for k, v in (m.extra or {}).items() if v not in (None, "")}
    fields.update({
        "file": Path(str(m.source or "")).name, "direction": m.direction, "manager": m.manager,
        "outcome": m.outcome, "language": transcript.language, "call_id": m.call_id,
        "client_phone": m.client_phone,
    })
    return {k: str(v).strip().lower() if v not in (None, "") else "" for k, v in fields.items()}


@dataclass(frozen=True)
class Choice:
    """Which script (or rubric) a call gets, and why.

    ``reason`` says how it was narrowed (``manifest script 'b2b_cold_call'``,
    ``/dept/qa.toml: script_rule 2 (direction=out)``, ``language ru``). ``rivals`` are the other
    files that fit the call just as well by its metadata and language: the pick among them
    was made by ``fit`` (how much of each the call says) or, without one, by file name, and
    the caller must say so (:meth:`warning`), never pick quietly.
    """

    config: Any
    reason: str
    rivals: tuple[Any, ...] = ()
    how: str = ""

    def warning(self, call_id: str, column: str = "script") -> str:
        """One line for the batch summary when the choice was not clear, else ``""``."""
        if not self.rivals:
            return ""
        names = ", ".join(_label(c) for c in (self.config, *self.rivals))
        return (f"call {call_id}: {len(self.rivals) + 1} {column}s fit ({names}; {self.reason}); "
                f"scored with {_label(self.config)} ({self.how}); to decide, add a [[script_rule]] "
                f"to qa.toml or a manifest '{column}' column")


class ConfigChooser:
    """Picks the script (or rubric) for each call among several, never silently.

    In order: a manifest column ``script`` (or ``rubric``) narrows the choice to the files it
    names (a file name, a stem such as ``b2b_cold_call`` for every language of it, a path, or
    a script's ``name``); else the first ``rules`` entry (:class:`ScriptRule`, from
    ``qa.toml``) whose ``match`` fits the call's metadata narrows it; with rules and none
    matching, the call is refused with the reason. Then the file in the call's language wins;
    calls imported without a language are matched by alphabet (the config whose phrases
    share the most letters with the transcript: Cyrillic vs Latin, ...), so nothing
    language-specific is hard-coded here. When several files still fit, ``fit(config,
    transcript)`` (how much of each the call says; higher wins) decides and the
    :class:`Choice` lists the rivals so the caller warns. Make one per batch: each config's
    letters are collected once.
    """

    def __init__(
        self, configs: Sequence[Any], column: str = "script", rules: Sequence[ScriptRule] = (),
        fit: Any = None,
    ):
        self.configs = list(configs)
        self.column = column
        self.fit = fit
        self._letters: list[frozenset[str] | None] = [None] * len(self.configs)
        self.rules: list[tuple[ScriptRule, list[int]]] = []
        for rule in rules:
            names = rule.names(column)
            if names:  # a rule naming only rubrics says nothing about scripts
                self.rules.append((rule, self._resolve_rule(rule, names)))

    # -- narrowing --------------------------------------------------------------------------
    def _named(self, wanted: str, base: str | None = None) -> list[int]:
        """Configs a manifest value or rule name means: name, file name, stem, or path."""
        value = wanted.strip()
        if not value:
            return []
        key = value.lower()
        hits = [i for i, cfg in enumerate(self.configs) if key in _config_names(cfg)]
        if hits or not any(sep in value for sep in "/\\"):
            return hits
        # a path: the same file given with --script (any spelling of the path), else by file name
        target = _real(value, base)
        same = [i for i, cfg in enumerate(self.configs) if getattr(cfg, "path", None) and _real(cfg.path) == target]
        if same:
            return same
        file = Path(value.replace("\\", "/")).name.lower()
        return [i for i, cfg in enumerate(self.configs) if file in _config_names(cfg)]

    def _resolve_rule(self, rule: ScriptRule, names: Sequence[str]) -> list[int]:
        found: list[int] = []
        for name in names:
            hits = self._named(name, rule.base)
            if not hits:
                raise ConfigError(
                    f"{rule.source}: {self.column} '{name}' is not among the {self.column}s given "
                    f"({self._known()}); fix the name, or add the file to {self.column}s / --{self.column}"
                )
            found.extend(i for i in hits if i not in found)
        return found

    def _known(self) -> str:
        return ", ".join(sorted({Path(str(c.path)).name if getattr(c, "path", None) else str(c.name)
                                 for c in self.configs})) or "none"

    def _narrow(self, transcript: Any) -> tuple[list[int], str]:
        column = self.column
        wanted = str(transcript.meta.extra.get(column) or "").strip()
        if wanted:
            hits = self._named(wanted)
            if not hits:
                raise QAError(
                    f"call {transcript.call_id}: manifest {column} '{wanted}' is not among the "
                    f"given --{column} files ({self._known()}); add --{column} for it or fix the manifest"
                )
            return hits, f"manifest {column} '{wanted}'"
        if not self.rules:
            return list(range(len(self.configs))), ""
        for rule, hits in self.rules:
            if rule.matches(transcript):
                return hits, f"{rule.source} ({rule.describe()})"
        fields = sorted({k for rule, _ in self.rules for k in rule.match})
        values = call_fields(transcript)
        seen = ", ".join(f"{k}={values.get(k) or '?'}" for k in fields) or "no fields"
        raise QAError(
            f"call {transcript.call_id}: no [[script_rule]] matches it ({seen}); add a rule for "
            f"it, a catch-all rule without 'match', or a manifest '{column}' column"
        )

    # -- choosing ---------------------------------------------------------------------------
    def decide(self, transcript: Any, fit: Any = None) -> Choice:
        """The :class:`Choice` for this call; :class:`~qa.errors.QAError` when its manifest names
        a file not given, or rules are set and none matches it. ``fit`` replaces the chooser's
        own for this call."""
        if not self.configs:
            raise QAError(f"call {transcript.call_id}: no --{self.column} file given")
        candidates, reason = self._narrow(transcript)
        if len(candidates) == 1:
            return Choice(self.configs[candidates[0]], reason or f"the only {self.column}")
        same = [i for i in candidates if transcript.language and self.configs[i].language == transcript.language]
        if same:
            fitting, why = same, f"language {transcript.language}"
        else:
            letters = [ch for ch in transcript.text().lower() if ch.isalpha()]
            shared = {i: sum(ch in self._alphabet(i) for ch in letters) for i in candidates}
            top = max(shared.values())
            fitting, why = [i for i in candidates if shared[i] == top], "alphabet of the transcript"
        reason = f"{reason}, {why}" if reason else why
        if len(fitting) == 1:
            return Choice(self.configs[fitting[0]], reason)
        return self._break_tie(transcript, fitting, reason, fit or self.fit)

    def _break_tie(self, transcript: Any, fitting: list[int], reason: str, fit: Any) -> Choice:
        """Several files fit alike: the one the call says most of (``fit``), else by file name."""
        order = sorted(fitting, key=lambda i: _label(self.configs[i]))
        how = "first by file name"
        if fit is not None:
            scores = {i: float(fit(self.configs[i], transcript)) for i in order}
            order.sort(key=lambda i: -scores[i])  # stable: file name breaks an exact tie
            best, second = scores[order[0]], scores[order[1]]
            how = (f"it fits best: {best:.0f} vs {second:.0f}" if best > second
                   else f"equal fit {best:.0f}: first by file name")
        return Choice(self.configs[order[0]], reason, tuple(self.configs[i] for i in order[1:]), how)

    def choose(self, transcript: Any) -> Any:
        """The config for this call (see :meth:`decide`); an unclear choice is logged as a warning."""
        choice = self.decide(transcript)
        if choice.rivals:
            import logging

            logging.getLogger("qa").warning("%s", choice.warning(transcript.call_id, self.column))
        return choice.config

    def _alphabet(self, index: int) -> frozenset[str]:
        """Letters of a config's phrases (not of its ids and keys, which are ASCII anyway)."""
        got = self._letters[index]
        if got is None:
            letters: set[str] = set()

            def walk(value: Any) -> None:
                if isinstance(value, Phrase):
                    letters.update(ch for ch in value.text.lower() if ch.isalpha())
                elif dataclasses.is_dataclass(value) and not isinstance(value, type):
                    for f in dataclasses.fields(value):
                        walk(getattr(value, f.name))
                elif isinstance(value, (list, tuple)):
                    for v in value:
                        walk(v)

            walk(self.configs[index])
            got = self._letters[index] = frozenset(letters)
        return got


def pick_config(configs: Sequence[Any], transcript: Any, column: str = "script") -> Any:
    """The script (or rubric) for one call; see :class:`ConfigChooser` (reuse one for a batch)."""
    return ConfigChooser(configs, column).choose(transcript)


def _label(cfg: Any) -> str:
    path = getattr(cfg, "path", None)
    return Path(str(path)).name if path else str(getattr(cfg, "name", "") or "?")


def _real(path: Any, base: str | None = None) -> str:
    p = Path(str(path)).expanduser()
    if not p.is_absolute() and base:
        p = Path(base) / p
    try:
        return str(p.resolve())
    except OSError:
        return str(p.absolute())


def _config_names(cfg: Any) -> set[str]:
    names = {str(getattr(cfg, "name", "") or "").lower()}
    path = getattr(cfg, "path", None)
    if path:
        file = Path(str(path)).name.lower()
        names |= {file, file.split(".", 1)[0], file.rsplit(".", 1)[0]}
    return names - {""}
