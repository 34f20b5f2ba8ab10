"""qa.safe_yaml: the one YAML reader, with limits on size, aliases and depth."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from qa import safe_yaml
from qa.errors import ConfigError
from qa.safe_yaml import YamlLimitError


def bomb(levels: int = 9, fan: int = 9) -> str:
    lines = [f"a0: &a0 [{', '.join(['lol'] * fan)}]"]
    for n in range(1, levels):
        lines.append(f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * fan)}]")
    return "\n".join(lines) + "\n"


def test_plain_documents_load_like_safe_load() -> None:
    text = "a: 1\nb: [x, {c: 2.5}]\nd: &d {e: true}\nf: *d\n"
    assert safe_yaml.load(text) == {"a": 1, "b": ["x", {"c": 2.5}], "d": {"e": True}, "f": {"e": True}}
    assert safe_yaml.load("") is None


def test_billion_laughs_is_refused_before_expanding() -> None:
    start = time.perf_counter()
    with pytest.raises(YamlLimitError) as e:
        safe_yaml.load(bomb(), "bomb.yaml")
    assert time.perf_counter() - start < 5
    assert str(e.value).startswith("bomb.yaml:")
    assert "expands to more than 2,000,000 values through aliases" in str(e.value)
    assert isinstance(e.value, ConfigError)  # the CLI prints it as Error: ... and exits 1


def test_too_many_aliases() -> None:
    text = "a: &a x\nb: [" + ", ".join(["*a"] * (safe_yaml.MAX_ALIASES + 1)) + "]\n"
    with pytest.raises(YamlLimitError, match=f"more than {safe_yaml.MAX_ALIASES} aliases"):
        safe_yaml.load(text, "many.yaml")
    ok = "a: &a x\nb: [" + ", ".join(["*a"] * 10) + "]\n"
    assert safe_yaml.load(ok)["b"] == ["x"] * 10


def test_self_containing_alias() -> None:
    with pytest.raises(YamlLimitError, match="refers to a block that contains it"):
        safe_yaml.load("a: &a [1, *a]\n", "loop.yaml")


def test_depth_limit() -> None:
    deep = "[" * (safe_yaml.MAX_DEPTH + 5) + "]" * (safe_yaml.MAX_DEPTH + 5)
    with pytest.raises(YamlLimitError, match=f"nested more than {safe_yaml.MAX_DEPTH} levels"):
        safe_yaml.load(deep, "deep.yaml")
    fine = "[" * 10 + "]" * 10
    assert safe_yaml.load(fine) == [[[[[[[[[[]]]]]]]]]]


def test_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(safe_yaml, "MAX_BYTES", 100)
    p = tmp_path / "big.yaml"
    p.write_text("a: " + "x" * 200 + "\n", encoding="utf-8")
    with pytest.raises(YamlLimitError, match=r"more than the 0 MiB a YAML file may have"):
        safe_yaml.load_file(p)
    with pytest.raises(YamlLimitError):
        safe_yaml.load("a: " + "x" * 200)


def test_invalid_yaml_messages_do_not_depend_on_libyaml() -> None:
    import yaml

    with pytest.raises(yaml.YAMLError) as e:
        safe_yaml.load("a: [\n")
    assert "expected the node content, but found '<stream end>'" in str(e.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found; check the path"):
        safe_yaml.load_file(tmp_path / "nope.yaml")
