"""One YAML reader with limits, for every YAML file a user (or the package) hands us.

Safe loading alone keeps tags from running code, but not an alias bomb ("billion laughs"):
ten nested anchors of ten aliases each compose in microseconds and expand to 10**10 nodes
as soon as anything walks the document. :func:`compose` parses with the safe loader (libyaml
when installed: the pure-Python parser takes seconds on a 20,000-stage script) and then
checks the node graph *before* anything walks it:

- the file size (:data:`MAX_BYTES`),
- the number of aliases (:data:`MAX_ALIASES`),
- the size of the document with every alias expanded (:data:`MAX_NODES`), counted without
  expanding it, and a document that contains itself through an alias,
- the nesting depth (:data:`MAX_DEPTH`).

A file over a limit raises :class:`YamlLimitError` (a :class:`~qa.errors.ConfigError`) naming
the limit and the line. :func:`load` is ``yaml.safe_load`` behind the same checks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

#: Largest YAML file read, in bytes (a 20,000-stage script is about 2 MB).
MAX_BYTES = 32 * 1024 * 1024
#: Most aliases (``*name``) in one document; real scripts use a handful, if any.
MAX_ALIASES = 1_000
#: Most nodes of the document with every alias expanded.
MAX_NODES = 2_000_000
#: Deepest nesting of mappings and lists.
MAX_DEPTH = 64

_TOO_DEEP = f"nested more than {MAX_DEPTH} levels deep; a script or rubric needs a few"
_Loader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlLimitError(ConfigError):
    """A YAML file is over a size, alias or nesting limit (an alias bomb, or not a config)."""

    def __init__(self, source: str, line: int | None, reason: str):
        super().__init__(f"{source}:{line}: {reason}" if line else f"{source}: {reason}")
        self.line = line
        self.reason = reason


def read_text(path: str | Path) -> str:
    """A UTF-8 text file no larger than :data:`MAX_BYTES` (``ConfigError`` otherwise)."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_BYTES:
            raise YamlLimitError(str(path), None, _too_big(size))
        return p.read_text(encoding="utf-8-sig")
    except FileNotFoundError as e:
        raise ConfigError(f"{path}: file not found; check the path") from e
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text (byte {e.start}); save the file as UTF-8") from e
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from e


def check_size(data: bytes | str, source: str, *, size: int | None = None) -> None:
    """:class:`YamlLimitError` when ``data`` (or ``size`` bytes) is over :data:`MAX_BYTES`."""
    size = len(data) if size is None else size
    if size > MAX_BYTES:
        raise YamlLimitError(source, None, _too_big(size))


def _too_big(size: int) -> str:
    return (
        f"{size / 2**20:.1f} MiB, more than the {MAX_BYTES // 2**20} MiB a YAML file may have; "
        "check that it is the right file"
    )


def compose(text: str, source: str = "<yaml>") -> tuple[Any, yaml.Node | None]:
    """Parse one YAML document into its node graph, within the limits.

    Returns ``(loader, node)``: the loader constructs values from the node
    (``loader.construct_object(node, deep=True)``); call ``loader.dispose()`` when done.
    Raises ``yaml.YAMLError`` for invalid YAML and :class:`YamlLimitError` over a limit.
    """
    check_size(text, source)
    loader = _Loader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.YAMLError:
            if _Loader is yaml.SafeLoader:
                raise
            # the same messages with or without libyaml: the pure-Python parser explains
            # the mistake (only invalid files take this path)
            loader.dispose()
            loader = yaml.SafeLoader(text)
            node = loader.get_single_node()
    except RecursionError as e:  # the pure-Python composer recurses per nesting level
        loader.dispose()
        raise YamlLimitError(source, None, _TOO_DEEP) from e
    except BaseException:
        loader.dispose()
        raise
    if node is not None:
        try:
            check_node(node, source)
        except BaseException:
            loader.dispose()
            raise
    return loader, node


def check_node(root: yaml.Node, source: str = "<yaml>") -> None:
    """Raise :class:`YamlLimitError` when the node graph is over a limit.

    An alias is a second reference to a node already seen. Expanded sizes are counted once
    per node (memoised), so the check itself is linear in the composed graph; the recursion
    stops at :data:`MAX_DEPTH`.
    """
    expanded: dict[int, int] = {}
    on_path: set[int] = set()
    aliases = 0

    def size(node: yaml.Node, depth: int) -> int:
        nonlocal aliases
        key = id(node)
        got = expanded.get(key)
        if got is not None:
            aliases += 1
            if aliases > MAX_ALIASES:
                raise _error(source, node, f"more than {MAX_ALIASES} aliases (*name); write the values out instead")
            return got
        if isinstance(node, yaml.ScalarNode):
            expanded[key] = 1
            return 1
        if key in on_path:
            raise _error(source, node, "an alias (*name) refers to a block that contains it; remove the alias")
        if depth > MAX_DEPTH:
            raise _error(source, node, _TOO_DEEP)
        on_path.add(key)
        total = 1
        for child in _children(node):
            total += size(child, depth + 1)
        if total > MAX_NODES:
            raise _error(
                source, node,
                f"the document expands to more than {MAX_NODES:,} values through aliases "
                "(*name); an alias bomb? write the values out instead",
            )
        on_path.discard(key)
        expanded[key] = total
        return total

    size(root, 1)


def _error(source: str, node: yaml.Node, reason: str) -> YamlLimitError:
    return YamlLimitError(source, node.start_mark.line + 1, reason)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return list(node.value)  # a sequence


def load(text: str, source: str = "<yaml>") -> Any:
    """``yaml.safe_load`` within the limits (``None`` for an empty document)."""
    loader, node = compose(text, source)
    try:
        return None if node is None else loader.construct_document(node)
    finally:
        loader.dispose()


def load_file(path: str | Path) -> Any:
    """:func:`load` of a file (size checked before reading)."""
    return load(read_text(path), str(path))
