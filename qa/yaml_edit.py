"""Editing YAML text without re-writing it: insert lines, keep everything else.

:mod:`qa.suggest` proposes additions to script and rubric files that a QA specialist wrote
by hand. Loading and dumping the YAML would lose comments, key order, quoting and blank
lines, so this module locates nodes in the original text (``yaml`` node marks) and inserts
new lines at the right place, in the file's own style (indentation, flow or block lists,
quoting, line endings). :func:`unified_diff` shows the change for review.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from pathlib import Path

import yaml

from . import safe_yaml
from .errors import ConfigError


def compose(text: str, path: Path) -> yaml.MappingNode:
    """The node tree of a YAML document whose top level is a mapping (with the reader's limits)."""
    try:
        loader, node = safe_yaml.compose(text, str(path))
        loader.dispose()
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from e
    if not isinstance(node, yaml.MappingNode):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return node


def get(node: yaml.Node, key: str) -> yaml.Node | None:
    """The value node of ``key`` in a mapping node (``None`` when absent or not a mapping)."""
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return v
    return None


def scalar(text: str, *, flow: bool, quoted: bool) -> str:
    """``text`` as a YAML scalar: plain when that reads back as the same string."""
    special = ",[]{}" if flow else ""
    plain_ok = (
        not quoted
        and text == text.strip()
        and not any(ch in text for ch in special)
        and ": " not in text and " #" not in text
        and not text.startswith(("-", "?", ":", "!", "&", "*", "|", ">", "'", '"', "%", "@", "`", "#", "{", "["))
    )
    if plain_ok:
        try:
            if yaml.safe_load(text) == text:
                return text
        except yaml.YAMLError:
            pass
    return json.dumps(text, ensure_ascii=False)


def line_of_end(lines: list[str], node: yaml.Node) -> int:
    """The last line (0-based) holding ``node``'s own text, not the comments after it."""
    line = node.end_mark.line
    if node.end_mark.column == 0 and line > node.start_mark.line:
        line -= 1
    while line > node.start_mark.line and (not lines[line].strip() or lines[line].lstrip().startswith("#")):
        line -= 1
    return line


def dash_column(lines: list[str], item: yaml.Node) -> int:
    head = lines[item.start_mark.line][: item.start_mark.column].rstrip()
    if not head.endswith("-"):
        raise ConfigError(f"line {item.start_mark.line + 1}: cannot find the '-' of this list item")
    return len(head) - 1


def insert_lines(text: str, after_line: int, new_lines: Sequence[str]) -> str:
    lines = text.splitlines(keepends=True)
    eol = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    if after_line < len(lines) and not lines[after_line].endswith(("\n", "\r")):
        lines[after_line] += eol
    block = [ln + eol for ln in new_lines]
    return "".join(lines[: after_line + 1] + block + lines[after_line + 1:])


def append_to_sequence(
    text: str, node: yaml.SequenceNode, values: Sequence[str], comments: Sequence[str | None]
) -> str:
    """Add scalar ``values`` at the end of a list, in the list's own style."""
    quoted = bool(node.value) and all(
        isinstance(v, yaml.ScalarNode) and v.style in ('"', "'") for v in node.value
    )
    if node.flow_style:
        # "phrases: [a, b]" -> "phrases: [a, b, c]"; flow lists keep no comments.
        open_ = node.start_mark.index
        close = text.rfind("]", open_, node.end_mark.index)
        if close < 0:
            raise ConfigError(f"line {node.start_mark.line + 1}: cannot find the end of this list")
        added = ", ".join(scalar(v, flow=True, quoted=quoted) for v in values)
        inner = text[open_ + 1:close]
        if not inner.strip():
            return text[: open_ + 1] + added + text[close:]
        at = open_ + 1 + len(inner.rstrip())
        return text[:at] + ", " + added + text[at:]
    lines = text.splitlines(keepends=True)
    if not node.value:
        raise ConfigError(f"line {node.start_mark.line + 1}: empty block list; write it as []")
    indent = " " * dash_column(lines, node.value[0])
    new_lines = []
    for v, c in zip(values, comments):
        line = f"{indent}- {scalar(v, flow=False, quoted=quoted)}"
        new_lines.append(f"{line}  # {c}" if c else line)
    return insert_lines(text, line_of_end(lines, node.value[-1]), new_lines)


def nested_offset(lines: list[str], items: Sequence[yaml.Node]) -> int:
    """How far this file indents a block list under its key (2 or 0, usually)."""
    for item in items:
        if isinstance(item, yaml.MappingNode):
            for k, v in item.value:
                if isinstance(v, yaml.SequenceNode) and not v.flow_style and v.value:
                    return dash_column(lines, v.value[0]) - k.start_mark.column
    return 2


def unified_diff(old: str, new: str, name: str) -> str:
    """A unified diff that ``patch`` accepts, including files without a final newline."""
    if old == new:
        return ""
    out = []
    for line in difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), fromfile=name, tofile=name
    ):
        if not line.endswith("\n"):
            line += "\n\\ No newline at end of file\n"
        out.append(line)
    return "".join(out)
