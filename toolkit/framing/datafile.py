"""Reading reporter-editable YAML data files with errors that name the file and the line.

PyYAML's ``compose`` keeps the position of every node; the helpers below validate the node tree
directly (instead of the plain Python objects ``safe_load`` returns) so that each complaint can
point at the exact line a reporter has to fix. Used by the frame codebook and the naming list.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml


class DataFileError(ValueError):
    """A reporter data file is malformed; the message starts with ``<file>, line <n>:``."""


def fail(path: Path | str, node: yaml.Node | None, message: str) -> DataFileError:
    """An error for ``node`` of ``path`` (line numbers are 1-based; no node → line 1)."""
    line = node.start_mark.line + 1 if node is not None else 1
    return DataFileError(f"{path}, line {line}: {message}")


def compose(path: Path | str) -> yaml.Node:
    """The YAML node tree of ``path``; syntax errors and empty files raise :class:`DataFileError`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataFileError(f"{path}: cannot read ({exc.strerror})") from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise DataFileError(f"{path}, line {line}: YAML syntax error: {exc.problem}") from exc
    if node is None:
        raise DataFileError(f"{path}, line 1: the file is empty")
    return node


def mapping(path: Path | str, node: yaml.Node, what: str, *, required: tuple[str, ...] = (),
            allowed: tuple[str, ...] | None = None) -> dict[str, yaml.Node]:
    """The key → value-node dict of a mapping node, checking required and allowed keys."""
    if not isinstance(node, yaml.MappingNode):
        raise fail(path, node, f"{what} must be a mapping (key: value lines)")
    out: dict[str, yaml.Node] = {}
    for key_node, value_node in node.value:
        key = str(key_node.value)
        if key in out:
            raise fail(path, key_node, f"{what}: key '{key}' appears twice")
        if allowed is not None and key not in allowed:
            raise fail(path, key_node, f"{what}: unknown key '{key}' (allowed: {', '.join(allowed)})")
        out[key] = value_node
    for key in required:
        if key not in out:
            raise fail(path, node, f"{what}: missing key '{key}'")
    return out


def sequence(path: Path | str, node: yaml.Node, what: str, *, min_len: int = 0) -> list[yaml.Node]:
    """The item nodes of a sequence node with at least ``min_len`` items."""
    if not isinstance(node, yaml.SequenceNode):
        raise fail(path, node, f"{what} must be a list ('- item' lines)")
    if len(node.value) < min_len:
        raise fail(path, node, f"{what} needs at least {min_len} item(s), found {len(node.value)}")
    return list(node.value)


def text(path: Path | str, node: yaml.Node, what: str) -> str:
    """A non-empty string scalar (surrounding whitespace removed)."""
    if not isinstance(node, yaml.ScalarNode) or not str(node.value).strip():
        raise fail(path, node, f"{what} must be a non-empty text")
    return str(node.value).strip()


def number(path: Path | str, node: yaml.Node, what: str, *, low: float, high: float) -> float:
    """A number scalar with ``low < value <= high``."""
    try:
        value = float(node.value) if isinstance(node, yaml.ScalarNode) else None
    except ValueError:
        value = None
    if value is None or not low < value <= high:
        raise fail(path, node, f"{what} must be a number above {low:g} and at most {high:g}, "
                               f"got {getattr(node, 'value', '?')!r}")
    return value


def flag(path: Path | str, node: yaml.Node, what: str) -> bool:
    """A boolean scalar (``true`` / ``false``)."""
    value = str(node.value).strip().lower() if isinstance(node, yaml.ScalarNode) else ""
    if value not in {"true", "false", "yes", "no"}:
        raise fail(path, node, f"{what} must be true or false, got {getattr(node, 'value', '?')!r}")
    return value in {"true", "yes"}


def regex(path: Path | str, node: yaml.Node, what: str, flags: int = 0) -> re.Pattern[str]:
    """A compiled regular expression from a string scalar."""
    pattern = text(path, node, what)
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise fail(path, node, f"{what} is not a valid regular expression: {exc}") from exc
