"""Helpers of the spec language's newer parts: stage tables, flow mappings split at a comma, and
errors of block instances merged into one report (the graph builder uses them)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from . import expr
from .errors import Diagnostic, Position

#: Keys of a stage-table entry besides ENTRY_KEYS: the table and how its instances are named.
TABLE_KEYS = ("rows", "columns", "names", "rest")

#: Most instances listed by name when one error inside a block affects several.
MAX_LISTED = 8

_FIELD = re.compile(r"\{([^{}]*)\}")


def split_flow(entry: Mapping[Any, Any]) -> tuple[str, str] | None:
    """A ``{key: f(a, b)}`` that YAML split at the comma into ``key: 'f(a'`` and ``'b)': null``.

    Returns (key, the expression as written) or None. The split leaves a value with more ``(``
    than ``)`` followed by keys without values that close the parentheses.
    """
    if None not in entry.values():  # (a split leaves keys without values)
        return None
    items = list(entry.items())
    for i, (key, value) in enumerate(items):
        if not isinstance(value, str) or value.count("(") <= value.count(")"):
            continue
        text, depth = value, value.count("(") - value.count(")")
        for k2, v2 in items[i + 1:]:
            if v2 is not None or not isinstance(k2, str | int):
                break
            text += f", {k2}"
            depth += str(k2).count("(") - str(k2).count(")")
            if depth <= 0:
                return str(key), text
    return None


def split_cells(row: list[Any]) -> str | None:
    """A flow-sequence row whose expression cell YAML split at a comma (``[3, max(8, c), 1]``)."""
    for i, cell in enumerate(row):
        if isinstance(cell, str) and cell.count("(") > cell.count(")"):
            text, depth = cell, cell.count("(") - cell.count(")")
            for nxt in row[i + 1:]:
                text += f", {nxt}"
                depth += str(nxt).count("(") - str(nxt).count(")")
                if depth <= 0:
                    return text
    return None


def show(v: object) -> str:
    """A bound value as the user wrote it (3, not Fraction(3, 1))."""
    if isinstance(v, Fraction):
        return str(v.numerator) if v.denominator == 1 else str(float(v))
    return repr(v)


def instance_name(pattern: str, i: int, row: int, j: int) -> str:
    """An instance name from a ``names:`` pattern: ``{…}`` fields are expressions over ``i`` (the
    instance's number in the table), ``row`` (its row) and ``j`` (its repeat within the row),
    all counted from 0: ``features.{i+1}``, ``layers.{row+8}.{j}``. Raises ExprError."""
    env = {"i": i, "row": row, "j": j}
    return _FIELD.sub(lambda m: str(expr.evaluate_int(m.group(1), env)), pattern)


def check_pattern(pattern: str) -> None:
    """Raise ExprError if a ``names:`` pattern's fields are not expressions over i, row and j."""
    for m in _FIELD.finditer(pattern):
        bad = expr.names(m.group(1)) - {"i", "row", "j"}
        if bad:
            raise expr.ExprError(f"names: '{{{m.group(1)}}}' may use i, row and j only, not "
                                 f"{', '.join(sorted(bad))}")
    if "{" in _FIELD.sub("", pattern) or "}" in _FIELD.sub("", pattern):
        raise expr.ExprError(f"names: unbalanced braces in '{pattern}'")


@dataclass(frozen=True)
class Tagged:
    """A diagnostic and the block instance (and stage-table row) it arose in, if any."""

    diagnostic: Diagnostic
    instance: str | None = None
    row: Position | None = None


def merge_instances(problems: Iterable[Tagged]) -> list[Diagnostic]:
    """One diagnostic per problem of a block definition, listing the instances it affects.

    Problems at the same place whose messages agree once the instance's name is taken out are
    merged: ``add: …  (in features.4, features.5, features.6)``. A problem of a single instance
    made by a stage-table row is moved to that row, where its values were written.
    """
    groups: dict[tuple[Position | None, str], list[Tagged]] = {}
    plain: list[Diagnostic] = []
    for t in problems:
        if t.instance is None:
            plain.append(t.diagnostic)
            continue
        msg = t.diagnostic.message.replace(t.instance + ".", "")
        groups.setdefault((t.diagnostic.position, msg), []).append(t)
    out = plain
    for (pos, msg), ts in groups.items():
        d = ts[0].diagnostic
        names = list(dict.fromkeys(t.instance for t in ts if t.instance))
        if len(names) == 1:
            row = ts[0].row
            named = names[0] in d.message.replace(names[0] + ".", "")
            msg = d.message if named and not row else f"{d.message} (in {names[0]})"
            out.append(Diagnostic(row or d.position, msg, d.severity))
            continue
        listed = ", ".join(names[:MAX_LISTED]) + (f", … ({len(names)} in all)" if len(names) > MAX_LISTED else "")
        out.append(Diagnostic(pos, f"{msg} (in {listed})", d.severity))
    return out
