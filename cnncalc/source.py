"""YAML loading that keeps line/column of every value, rejects duplicate keys, tags and alias bombs."""

from __future__ import annotations

import functools
import gc
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import yaml
from yaml.constructor import SafeConstructor
from yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

from .errors import Diagnostic, Position, SpecError
from .limits import MAX_YAML_DEPTH, MAX_YAML_NODES, check_text_size

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: Most YAML nodes a document may expand to (kept here for callers; the limit lives in cnncalc.limits).
MAX_NODES = MAX_YAML_NODES

Path = tuple[str | int, ...]

_Y = "tag:yaml.org,2002:"
_STR, _MAP, _SEQ, _MERGE = _Y + "str", _Y + "map", _Y + "seq", _Y + "merge"
#: Scalar tags of YAML's core schema, with how to make each value (the str case is the text itself).
_SCALARS: dict[str, Callable[[SafeConstructor, ScalarNode], Any]] = {
    _Y + t: SafeConstructor.yaml_constructors[_Y + t] for t in ("int", "float", "bool", "null")
}
_SCALAR_TAGS = frozenset({*_SCALARS, _STR})
#: A plain decimal integer (no leading zero: YAML 1.1 reads 010 as octal 8), the common case.
_DECIMAL = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
_CORE = "!!str, !!int, !!float, !!bool, !!null, !!seq, !!map"

# The implicit resolvers of safe_load for plain scalars, minus those outside the core schema
# (timestamps, '=' and the '!&*' yaml tag): such scalars stay strings.
_IMPLICIT: dict[str, list[tuple[str, re.Pattern[str]]]] = {}
for _first, _rules in Resolver.yaml_implicit_resolvers.items():
    _IMPLICIT[_first] = [(t, rx) for t, rx in _rules if t in _SCALARS or t == _MERGE]

#: Characters YAML allows in a stream (YAML 1.1 §5.1 "c-printable"); anything else is refused up front.
_NOT_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class Document:
    """Plain data from a YAML file plus where each value (and each mapping key) was written.

    A value reached through an alias (``*name``) is positioned at the alias, not at its anchor.
    """

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

    Raises SpecError (each problem at its line:column) for syntax errors, characters YAML does not
    allow (NUL, control characters), tabs used as indentation, tags outside YAML's core schema
    (``!!python/object:…`` on a key, a value or the root), duplicate keys and anchors, merge keys,
    non-scalar keys, unknown and recursive aliases, more than one document, nesting deeper than
    MAX_YAML_DEPTH and documents that expand to more than MAX_YAML_NODES values. The document is
    built from the parser's events in one pass without recursion; an alias adds its anchor's size
    to the count at once, so an alias bomb is refused after reading a few lines of it.
    """
    check_text_size(text, f"YAML text {file}")
    bad = _NOT_PRINTABLE.search(text)
    if bad:
        i = bad.start()
        ch = ord(text[i])
        name = " (NUL: is this a binary file?)" if ch == 0 else ""
        raise SpecError([Diagnostic(_offset_position(text, i, file),
                                    f"character U+{ch:04X} is not allowed in YAML text{name}")])
    with paused_gc():
        return _Builder(text, file).run()


def _offset_position(text: str, i: int, file: str) -> Position:
    line = text.count("\n", 0, i) + 1
    return Position(file, line, i - (text.rfind("\n", 0, i) + 1) + 1)


def _short(tag: str) -> str:
    return "!!" + tag[len(_Y):] if tag.startswith(_Y) else tag


class _Frame:
    """An open collection: its container, path (None: not recorded, e.g. inside a key) and state."""

    __slots__ = ("anchor", "container", "key", "key_pos", "kpath", "path", "start")

    def __init__(self, container: Any, path: Path | None, anchor: str | None, start: int) -> None:
        self.container = container
        self.path = path
        self.anchor = anchor
        self.start = start
        self.key: Any = _NO_KEY  # a mapping waiting for its next key
        self.key_pos: Position | None = None
        self.kpath: Path | None = None  # the path of the value under ``key`` (None: not recorded)


_SCALAR, _FRAME, _ALIASED = "scalar", "frame", "aliased"  # what attach() receives (or _MERGE)
_NO_KEY = object()  # the frame waits for a key
_DROP = object()  # the value that follows belongs to a refused key


class _Builder:
    def __init__(self, text: str, file: str) -> None:
        self.text = text
        self.file = file
        self.values: dict[Path, Position] = {}
        self.keys: dict[Path, Position] = {}
        self.problems: list[Diagnostic] = []
        self.count = 0
        self.anchors: dict[str, tuple[Any, int, Position]] = {}
        self.open: dict[str, Position] = {}
        self.scalars = SafeConstructor()
        self.plain: dict[str, tuple[Any, str]] = {}
        self.stack: list[_Frame] = []
        self.root: Any = None

    def pos(self, mark: Any) -> Position:
        return Position(self.file, mark.line + 1, mark.column + 1)

    def fail(self, pos: Position, msg: str) -> None:
        self.problems.append(Diagnostic(pos, msg))

    def run(self) -> Document:
        loader = _Loader(self.text)
        try:
            self.events(loader)
        except yaml.MarkedYAMLError as e:
            raise SpecError([self.syntax(e)]) from None
        except yaml.YAMLError as e:
            raise SpecError([Diagnostic(Position(self.file, 1, 1), f"YAML: {e}")]) from None
        finally:
            loader.dispose()
        if self.problems:
            raise SpecError(self.problems)
        return Document(self.root, self.file, self.text, self.values, self.keys)

    def syntax(self, e: yaml.MarkedYAMLError) -> Diagnostic:
        mark = e.problem_mark or e.context_mark
        if mark is None:
            return Diagnostic(Position(self.file, 1, 1), f"YAML syntax: {e.problem or e.context or 'invalid YAML'}")
        pos = self.pos(mark)
        problem = e.problem or e.context or "invalid YAML"
        lines = self.text.split("\n", mark.line + 1)
        line = lines[mark.line] if 0 <= mark.line < len(lines) else ""
        if re.search(r"\btab\b", problem) or line[mark.column:mark.column + 1] == "\t":
            return Diagnostic(pos, "tab character: YAML indents with spaces, not tabs")
        return Diagnostic(pos, f"YAML syntax: {problem}")

    # -- the event loop ----------------------------------------------------------------------

    def events(self, loader: Any) -> None:
        """Build the document from the parser's events.

        The common case, a plain untagged unanchored scalar that is a mapping key, a mapping value
        or a list item, is handled inline (most events of a spec are); everything else goes through
        scalar(), begin(), alias() and attach().
        """
        documents = 0
        get = loader.get_event
        stack = self.stack
        values, keys, plain, file = self.values, self.keys, self.plain, self.file
        limit = MAX_YAML_NODES
        new_pos = tuple.__new__  # Position(file, line, col) without the named tuple's __new__ frame
        while True:
            ev = get()
            kind = ev.__class__
            if kind is ScalarEvent:
                tag = ev.tag
                if stack and ev.anchor is None and (tag is None or tag == "!") and ev.implicit[0]:
                    mark = ev.start_mark
                    pos = new_pos(Position, (file, mark.line + 1, mark.column + 1))
                    text = ev.value
                    found = plain.get(text)
                    if found is None:
                        found = plain[text] = self.resolve(text, pos)
                    value, what = found
                    self.count += 1
                    if self.count > limit:
                        self.new_node(pos)
                    top = stack[-1]
                    c = top.container
                    if c.__class__ is list:
                        if top.path is not None:
                            item = (*top.path, len(c))
                            values[item] = pos
                        c.append(value)
                        continue
                    key = top.key
                    if what is _SCALAR:
                        if key is _NO_KEY:
                            if value.__class__ is not str:
                                value = text if value is None or value.__class__ is bool else value
                                if not isinstance(value, str | int):
                                    value = str(value)
                            if value not in c:
                                top.key = value
                                if top.path is not None:
                                    kp = top.kpath = (*top.path, value)
                                    keys[kp] = pos
                                else:
                                    top.kpath = None
                                continue
                        elif key is not _DROP:
                            if top.kpath is not None:
                                values[top.kpath] = pos
                            c[key] = value
                            top.key = _NO_KEY
                            continue
                    self.count -= 1
                    self.new_node(pos)
                    self.attach(value, pos, what)
                else:
                    self.scalar(ev)
            elif kind is MappingStartEvent or kind is SequenceStartEvent:
                # inline: an untagged, unanchored collection that is a list item or a mapping's value
                parent = stack[-1] if stack else None
                if parent is not None and ev.anchor is None and ev.tag is None and len(stack) < MAX_YAML_DEPTH \
                        and (parent.container.__class__ is list or parent.key is not _NO_KEY):
                    mark = ev.start_mark
                    pos = new_pos(Position, (file, mark.line + 1, mark.column + 1))
                    self.count += 1
                    if self.count > limit:
                        self.new_node(pos)
                    path: Path | None = None
                    if parent.path is not None:
                        if parent.container.__class__ is list:
                            path = (*parent.path, len(parent.container))
                        elif parent.key is not _DROP:
                            path = parent.kpath
                    if path is not None:
                        values[path] = pos
                    stack.append(_Frame({} if kind is MappingStartEvent else [], path, None, self.count - 1))
                else:
                    self.begin(ev, kind is MappingStartEvent)
            elif kind is MappingEndEvent or kind is SequenceEndEvent:
                frame = stack.pop()
                if frame.anchor is not None:
                    where = self.open.pop(frame.anchor, Position(file, 1, 1))
                    self.anchors[frame.anchor] = (frame.container, self.count - frame.start, where)
                elif stack:  # inline: into a list, or as the value of a mapping's key
                    outer = stack[-1]
                    if outer.container.__class__ is list:
                        outer.container.append(frame.container)
                        continue
                    if outer.key is not _NO_KEY and outer.key is not _DROP:
                        outer.container[outer.key] = frame.container
                        outer.key = _NO_KEY
                        continue
                self.attach(frame.container, self.pos(ev.start_mark), _FRAME)
            elif kind is AliasEvent:
                self.alias(ev)
            elif kind is DocumentStartEvent:
                documents += 1
                if documents > 1:
                    self.fail(self.pos(ev.start_mark),
                              "a second YAML document ('---'); a file holds one document")
                    return
            elif kind is StreamEndEvent:
                return

    def path(self) -> Path | None:
        """Where the next value goes (None: inside a key, not recorded)."""
        if not self.stack:
            return ()
        top = self.stack[-1]
        if top.path is None:
            return None
        if isinstance(top.container, list):
            return (*top.path, len(top.container))
        if top.key is _NO_KEY or top.key is _DROP:
            return None
        return (*top.path, top.key)

    def new_node(self, pos: Position) -> Path | None:
        self.count += 1
        if self.count > MAX_YAML_NODES:
            raise SpecError([Diagnostic(pos, f"document expands to more than {MAX_YAML_NODES:,} values "
                                        "(an alias bomb?); write it out or use blocks and repeat")])
        path = self.path()
        if path is not None:
            self.values[path] = pos
        return path

    def tag_ok(self, tag: str | None, allowed: Any, pos: Position) -> bool:
        if tag is None or tag == "!" or tag in allowed:
            return True
        self.fail(pos, f"YAML tag '{_short(tag)}' is not allowed: cnncalc reads plain data "
                       f"(the tags of YAML's core schema: {_CORE})")
        return False

    def anchor(self, name: str | None, pos: Position) -> None:
        if name is None:
            return
        first = self.anchors.get(name, (None, 0, None))[2] or self.open.get(name)
        if first is not None:
            self.fail(pos, f"duplicate anchor '&{name}' (first at line {first.line}); give each anchor its own name")

    def scalar(self, ev: ScalarEvent) -> None:
        mark: Any = ev.start_mark
        pos = Position(self.file, mark.line + 1, mark.column + 1)
        if ev.anchor is not None:
            self.anchor(ev.anchor, pos)
        tag = ev.tag
        if tag is None or tag == "!":
            if ev.implicit[0]:  # plain: resolved like safe_load, each distinct text once
                text = ev.value
                found = self.plain.get(text)
                if found is None:
                    found = self.plain[text] = self.resolve(text, pos)
                value, what = found
            else:
                value, what = ev.value, _SCALAR
        else:
            what = _SCALAR
            value = self.construct(tag, ev.value, pos) if self.tag_ok(tag, _SCALAR_TAGS, pos) else None
        if ev.anchor is not None:
            self.anchors[ev.anchor] = (value, 1, pos)
        # new_node() and attach() inlined for the common cases: this runs for most events
        self.count += 1
        if self.count > MAX_YAML_NODES:
            self.new_node(pos)
        stack = self.stack
        if not stack:
            self.values[()] = pos
            self.root = value
            return
        top = stack[-1]
        c = top.container
        if c.__class__ is list:
            if top.path is not None:
                where = (*top.path, len(c))
                self.values[where] = pos
            c.append(value)
            return
        key = top.key
        if key is _NO_KEY or key is _DROP or what is not _SCALAR:
            self.count -= 1
            self.new_node(pos)
            self.attach(value, pos, what)
            return
        if top.path is not None:
            where = (*top.path, key)
            self.values[where] = pos
        c[key] = value
        top.key = _NO_KEY

    def resolve(self, text: str, pos: Position) -> tuple[Any, str]:
        """A plain scalar's value by safe_load's implicit rules (core schema only)."""
        if _DECIMAL.fullmatch(text):
            try:
                return int(text), _SCALAR
            except ValueError:  # more digits than Python converts
                self.fail(pos, f"a number of {len(text.lstrip('+-')):,} digits is too long")
                return None, _SCALAR
        for t, rx in _IMPLICIT.get(text[:1], ()):
            if rx.match(text):
                if t == _MERGE:
                    return text, _MERGE
                return self.construct(t, text, pos), _SCALAR
        return text, _SCALAR

    def construct(self, tag: str, text: str, pos: Position) -> Any:
        """The value of a scalar with a core-schema tag (``!!int "8"`` is 8)."""
        make = _SCALARS.get(tag)
        if make is None:  # !!str
            return text
        try:
            return make(self.scalars, ScalarNode(tag, text))
        except (yaml.YAMLError, ValueError) as e:
            msg = str(e).split("\n")[0]
            if "digits" in msg:
                msg = f"a number of {len(text.lstrip('+-')):,} digits is too long"
            self.fail(pos, f"bad {_short(tag)[2:]} '{text[:40]}': {msg}")
            return None

    def begin(self, ev: Any, mapping: bool) -> None:
        pos = self.pos(ev.start_mark)
        if len(self.stack) >= MAX_YAML_DEPTH:
            raise SpecError([Diagnostic(pos, f"YAML nested deeper than {MAX_YAML_DEPTH} levels "
                                        "(the limit of cnncalc; a spec needs about 6)")])
        self.anchor(ev.anchor, pos)
        self.tag_ok(ev.tag, {_MAP} if mapping else {_SEQ}, pos)
        path = self.new_node(pos)
        if self.stack and self.stack[-1].key is _NO_KEY and not isinstance(self.stack[-1].container, list):
            self.fail(pos, "mapping keys must be plain scalars")
            path = None
        frame = _Frame({} if mapping else [], path, ev.anchor, self.count - 1)
        if ev.anchor is not None:
            self.open[ev.anchor] = pos
        self.stack.append(frame)

    def alias(self, ev: AliasEvent) -> None:
        pos = self.pos(ev.start_mark)
        name = ev.anchor or ""
        if name in self.open:
            raise SpecError([Diagnostic(pos, f"recursive YAML alias '*{name}' (inside its own anchor)")])
        found = self.anchors.get(name)
        if found is None:
            self.fail(pos, f"unknown alias '*{name}' (no anchor '&{name}' before it)")
            value: Any = None
            size = 1
        else:
            value, size, _ = found
        self.count += size - 1
        self.new_node(pos)
        self.attach(value, pos, _ALIASED if isinstance(value, dict | list) else _SCALAR)

    def attach(self, value: Any, pos: Position, what: str) -> None:
        """Put a finished value into the open collection (or make it the root).

        ``what``: _SCALAR, _MERGE (a plain '<<'), _FRAME (a collection just closed) or _ALIASED (a
        collection reached through an alias).
        """
        if not self.stack:
            self.root = value
            return
        top = self.stack[-1]
        c = top.container
        if isinstance(c, list):
            c.append(value)
            return
        if top.key is _NO_KEY:  # this value is a key
            if what in (_FRAME, _ALIASED):
                if what == _ALIASED:  # (a collection written out as a key was reported where it began)
                    self.fail(pos, "mapping keys must be plain scalars")
                top.key = _DROP
                return
            if what == _MERGE:
                self.fail(pos, "YAML merge keys ('<<') are not supported; use blocks")
                top.key = _DROP
                return
            key = value if isinstance(value, str | int) else str(value)
            if key in c:
                first = self.keys.get((*top.path, key)) if top.path is not None else None
                self.fail(pos, f"duplicate key '{key}'" + (f" (first at line {first.line})" if first else ""))
                top.key = _DROP
                return
            top.key = key
            top.kpath = None
            if top.path is not None:
                top.kpath = (*top.path, key)
                self.keys[top.kpath] = pos
            return
        if top.key is not _DROP:
            c[top.key] = value
        top.key = _NO_KEY

