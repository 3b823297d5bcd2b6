"""YAML loading that keeps line/column of every value, rejects duplicate keys and alias bombs."""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import Diagnostic, Position, SpecError

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: Most YAML nodes a document may expand to; a "billion laughs" alias bomb hits this first.
MAX_NODES = 2_000_000

Path = tuple[str | int, ...]

_STR = "tag:yaml.org,2002:str"
_SCALARS: dict[str, Callable[[SafeConstructor, ScalarNode], Any]] = {
    tag: SafeConstructor.yaml_constructors[tag]
    for tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool",
                "tag:yaml.org,2002:null")
}


@dataclass(frozen=True)
class Document:
    """Plain data from a YAML file plus where each value (and each mapping key) was written."""

    data: Any
    file: str
    text: str
    values: dict[Path, Position] = field(default_factory=dict)
    keys: dict[Path, Position] = field(default_factory=dict)

    def where(self, path: Path, *, key: bool = False) -> Position:
        """Position of ``path``, or of its nearest written ancestor."""
        table = self.keys if key else self.values
        p = tuple(path)
        while p:
            if p in table:
                return table[p]
            if key and p in self.values:
                return self.values[p]
            p = p[:-1]
        return self.values.get((), Position(self.file, 1, 1))


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small acyclic objects.

    Its generation-2 passes over a growing heap make parsing a 10,000-layer spec superlinear.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


F = TypeVar("F", bound=Callable[..., Any])


def without_gc(fn: F) -> F:
    """Decorator: run ``fn`` inside paused_gc()."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with paused_gc():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def load_yaml(text: str, file: str) -> Document:
    """Parse ``text`` with ``yaml.safe_load`` semantics, recording positions.

    Raises SpecError for syntax errors, duplicate keys, merge keys, non-scalar keys,
    recursive aliases and documents that expand to more than MAX_NODES nodes.
    """
    with paused_gc():
        return _load(text, file)


def _load(text: str, file: str) -> Document:
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        pos = Position(file, mark.line + 1, mark.column + 1) if mark else Position(file, 1, 1)
        problem = e.problem or e.context or "invalid YAML"
        raise SpecError([Diagnostic(pos, f"YAML syntax: {problem}")]) from None
    except yaml.YAMLError as e:
        raise SpecError([Diagnostic(Position(file, 1, 1), f"YAML: {e}")]) from None
    builder = _Builder(file)
    data = builder.build(root, ()) if root is not None else None
    if builder.problems:
        raise SpecError(builder.problems)
    return Document(data, file, text, builder.values, builder.keys)


class _Builder:
    def __init__(self, file: str) -> None:
        self.file = file
        self.values: dict[Path, Position] = {}
        self.keys: dict[Path, Position] = {}
        self.problems: list[Diagnostic] = []
        self.count = 0
        self.active: set[int] = set()
        self.scalars = SafeConstructor()

    def pos(self, node: Node) -> Position:
        return Position(self.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def build(self, node: Node, path: Path) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise SpecError(
                [Diagnostic(self.pos(node), f"document expands to more than {MAX_NODES:,} values "
                            "(an alias bomb?); write it out or use blocks and repeat")]
            )
        self.values[path] = self.pos(node)
        if isinstance(node, ScalarNode):
            if node.tag == _STR:
                return node.value  # the common case, without the constructor's bookkeeping
            try:
                make = _SCALARS.get(node.tag)
                return make(self.scalars, node) if make else self.scalars.construct_object(node, deep=True)
            except yaml.YAMLError as e:
                self.problems.append(Diagnostic(self.pos(node), f"bad scalar: {e}"))
                return None
        if id(node) in self.active:
            raise SpecError([Diagnostic(self.pos(node), "recursive YAML alias")])
        self.active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return [self.build(child, (*path, i)) for i, child in enumerate(node.value)]
            assert isinstance(node, MappingNode)
            out: dict[Any, Any] = {}
            for knode, vnode in node.value:
                if knode.tag == "tag:yaml.org,2002:merge":
                    self.problems.append(Diagnostic(
                        self.pos(knode), "YAML merge keys ('<<') are not supported; use blocks"))
                    continue
                if not isinstance(knode, ScalarNode):
                    self.problems.append(Diagnostic(self.pos(knode), "mapping keys must be plain scalars"))
                    continue
                key = self.scalars.construct_object(knode)
                if not isinstance(key, str | int):
                    key = str(key)
                if key in out:
                    first = self.keys.get((*path, key))
                    self.problems.append(Diagnostic(
                        self.pos(knode),
                        f"duplicate key '{key}'" + (f" (first at line {first.line})" if first else ""),
                    ))
                    continue
                kpath = (*path, key)
                self.keys[kpath] = self.pos(knode)
                out[key] = self.build(vnode, kpath)
            return out
        finally:
            self.active.discard(id(node))
