"""Safe integer arithmetic over named variables for size fields (``2*C``, ``C/4``); never ``eval``."""

from __future__ import annotations

import ast
import functools
import math
import re
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any

from .errors import CnncalcError
from .limits import MAX_EXPR_CHARS, MAX_EXPR_DEPTH, MAX_EXPR_EXPONENT, MAX_EXPR_VALUE

#: Results and intermediate values beyond this magnitude are refused (no runaway powers).
LIMIT = MAX_EXPR_VALUE

def make_divisible(v: Any, divisor: Any, min_value: Any = None) -> int:
    """torchvision's ``_make_divisible``: ``v`` rounded to the nearest multiple of ``divisor``
    (halves up), at least ``min_value`` (default ``divisor``), and never below 0.9·v:

        new_v = max(min_value, int(v + d/2) // d · d);  if new_v < 0.9·v: new_v += d

    Computed in floats as torchvision does (0.9·v is a float product there), so the result is
    PyTorch's to the last digit.
    """
    d = float(divisor)
    if d <= 0 or d != int(d):
        raise ValueError("divisor must be a positive whole number")
    lo = d if min_value is None else float(min_value)
    new_v = max(lo, int(float(v) + d / 2) // d * d)
    if new_v < 0.9 * float(v):
        new_v += d
    return int(new_v)


_FUNCS: dict[str, Callable[..., Any]] = {
    "min": min, "max": max, "ceil": math.ceil, "floor": math.floor, "round": round,
    "make_divisible": make_divisible,
}

#: ``in.c``, ``in.h``, ``in.w``: the block's input shape (``in`` is a Python keyword, so the text is
#: rewritten to ``__in__.c`` before parsing; the environment holds them as ``in.c`` …).
SHAPE_NAMES = ("in.c", "in.h", "in.w")
_IN = re.compile(r"(?<![\w.])in\s*\.\s*(?=[A-Za-z_])")


class ExprError(CnncalcError):
    """An expression that cannot be parsed or evaluated."""


def python(text: str) -> str:
    """The text as Python would parse it: ``in.c`` written as ``__in__.c``."""
    return _IN.sub("__in__.", text.strip())


@functools.lru_cache(maxsize=4096)  # a spec repeats its few expressions in every block instance
def parse(text: str) -> ast.expr:
    """Parse ``text`` as an arithmetic expression (``^`` means power), or raise ExprError.

    Besides arithmetic: comparisons, ``and``/``or``/``not``, ``x if cond else y``, the functions
    in ``_FUNCS`` and ``in.c``/``in.h``/``in.w`` (parsed as the attribute ``__in__.c``).
    The tree is shared between callers (parsed once per text): read it, never change it.
    Longer than MAX_EXPR_CHARS or nested deeper than MAX_EXPR_DEPTH is refused (before the
    evaluator, which recurses once per level, could run out of stack).
    """
    if len(text) > MAX_EXPR_CHARS:
        raise ExprError(f"expression '{text[:30]}…' is {len(text):,} characters long; "
                        f"the limit is {MAX_EXPR_CHARS:,} (define a variable under 'vars:' instead)")
    try:
        tree = ast.parse(python(text), mode="eval")
    except (SyntaxError, ValueError):  # ValueError: a NUL byte
        raise ExprError(f"cannot parse expression '{text}'") from None
    except (RecursionError, MemoryError):
        raise ExprError(f"expression '{text[:30]}…' is nested too deeply to parse") from None
    if _depth(tree) > MAX_EXPR_DEPTH:
        raise ExprError(f"expression '{text[:30]}…' is nested more than {MAX_EXPR_DEPTH} levels deep "
                        "(operators, signs and parentheses); split it with variables")
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise ExprError(f"'{text}': only numbers, variables, in.c/in.h/in.w, + - * / // % ^ **, "
                            "comparisons, and/or/not, if-else and "
                            f"{'/'.join(_FUNCS)} are allowed")
        if isinstance(node, ast.Call) and not (
            isinstance(node.func, ast.Name) and node.func.id in _FUNCS and not node.keywords
        ):
            raise ExprError(f"'{text}': unknown function")
        if isinstance(node, ast.Constant) and not isinstance(node.value, int | float):
            raise ExprError(f"'{text}': only numeric constants are allowed")
        if isinstance(node, ast.Constant) and isinstance(node.value, float) and not math.isfinite(node.value):
            raise ExprError(f"'{text}': number too large")
        if isinstance(node, ast.Attribute) and (
            not isinstance(node.value, ast.Name) or node.value.id != "__in__" or f"in.{node.attr}" not in SHAPE_NAMES
        ):
            raise ExprError(f"'{text}': only in.c, in.h and in.w may be written with a dot")
        if isinstance(node, ast.Name) and node.id == "__in__" and not _in_attribute(tree, node):
            raise ExprError(f"'{text}': write in.c, in.h or in.w")
    return tree.body


def _in_attribute(tree: ast.AST, name: ast.Name) -> bool:
    return any(isinstance(n, ast.Attribute) and n.value is name for n in ast.walk(tree))


def _depth(tree: ast.AST) -> int:
    """Deepest nesting of ``tree``, measured without recursion."""
    deepest, todo = 0, [(tree, 1)]
    while todo:
        node, d = todo.pop()
        deepest = max(deepest, d)
        todo.extend((child, d + 1) for child in ast.iter_child_nodes(node))
    return deepest


_ALLOWED = (
    ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant, ast.Name, ast.Load, ast.Call,
    ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.BitXor,
    ast.USub, ast.UAdd, ast.Not, ast.BoolOp, ast.And, ast.Or, ast.Compare, ast.IfExp,
    ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Attribute,
)


def is_expression(text: str) -> bool:
    """Whether ``text`` is meant as arithmetic: it parses as an expression, or is too long or deep to
    try (parse() then says which limit). Other text ('same', 'relu', a sentence) is not."""
    if len(text) > MAX_EXPR_CHARS:
        return True
    try:
        ast.parse(python(text), mode="eval")
    except (SyntaxError, ValueError):
        return False
    except (RecursionError, MemoryError):
        return True
    return True


def names(text: str) -> set[str]:
    """The variable names used in an expression (``in.c`` for the input-shape names)."""
    out = set()
    for n in ast.walk(parse(text)):
        if isinstance(n, ast.Attribute):
            out.add(f"in.{n.attr}")
        elif isinstance(n, ast.Name) and n.id not in _FUNCS and n.id != "__in__":
            out.add(n.id)
    return out


#: What an expression evaluates to: an exact rational, or a truth value (comparisons, and/or/not).
Number = Fraction | bool


def evaluate(text: str, env: Mapping[str, Any]) -> Number:
    """Evaluate ``text`` exactly (rationals, so ``C/4`` is exact), with variables from ``env``.

    Comparisons and ``and``/``or``/``not`` give True/False (Python's meaning: ``a and b`` is
    ``b`` when ``a`` holds); ``in.c`` … are looked up in ``env`` under those names.
    """
    return _eval(parse(text), env, text)


def evaluate_int(text: str, env: Mapping[str, Any]) -> int:
    """Evaluate and require a whole number."""
    value = evaluate(text, env)
    if isinstance(value, bool) or value.denominator != 1:
        raise ExprError(f"'{text}' = {value} is not a whole number")
    return int(value)


def _check(v: Fraction, text: str) -> Fraction:
    if abs(v) > LIMIT:
        raise ExprError(f"'{text}': value too large")
    return v


def _lookup(key: str, env: Mapping[str, Any], text: str) -> Number:
    if key in ("true", "false") and key not in env:  # YAML's spelling, inside an expression
        return key == "true"
    if key not in env:
        if key in SHAPE_NAMES:
            raise ExprError(f"'{text}': {key} is the input shape of a block's instance; "
                            "it is not known here")
        known = ", ".join(sorted(k for k in env if k not in SHAPE_NAMES)) or "none"
        raise ExprError(f"unknown variable '{key}' in '{text}' (known: {known})")
    bound = env[key]
    if isinstance(bound, str):
        raise ExprError(f"'{key}' is the word '{bound}', not a number, in '{text}'")
    if isinstance(bound, bool):
        return bound
    return Fraction(bound)


COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b, ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b, ast.Gt: lambda a, b: a > b, ast.GtE: lambda a, b: a >= b,
}


def _word(node: ast.expr, env: Mapping[str, Any]) -> str | None:
    """In a comparison, a name bound to a word (``act``), or a word itself when the name is no
    variable (``relu`` in ``act == relu``); None for anything numeric."""
    if not isinstance(node, ast.Name):
        return None
    if node.id not in env:
        return node.id
    bound = env[node.id]
    return bound if isinstance(bound, str) else None


def _eval(node: ast.expr, env: Mapping[str, Any], text: str) -> Number:
    if isinstance(node, ast.Constant):
        v = node.value
        if isinstance(v, bool):
            return v
        if isinstance(v, float):  # a decimal as written: 0.2 is 1/5, not the nearest binary float
            return _check(Fraction(repr(v)), text)
        return _check(Fraction(v), text)  # type: ignore[arg-type]  # parse(): int/float
    if isinstance(node, ast.Name):
        return _lookup(node.id, env, text)
    if isinstance(node, ast.Attribute):
        return _lookup(f"in.{node.attr}", env, text)
    if isinstance(node, ast.BoolOp):  # short-circuit, as Python: the deciding operand's value
        result: Number = False
        for operand in node.values:
            result = _eval(operand, env, text)
            if bool(result) == isinstance(node.op, ast.Or):
                break
        return result
    if isinstance(node, ast.Compare):
        sides = [node.left, *node.comparators]
        words = [_word(n, env) for n in sides]
        bound = [w is not None and isinstance(n, ast.Name) and n.id in env for w, n in zip(words, sides)]
        for k in range(len(sides)):  # a free name is a word only beside a word argument
            if words[k] is not None and not bound[k] and not any(bound[max(k - 1, 0):k + 2]):
                words[k] = None
        left: str | Number = words[0] if words[0] is not None else _eval(node.left, env, text)
        for k, (cmp, right_node) in enumerate(zip(node.ops, node.comparators)):
            w = words[k + 1]
            right: str | Number = w if w is not None else _eval(right_node, env, text)
            if isinstance(left, str) != isinstance(right, str) or (
                isinstance(left, str) and not isinstance(cmp, ast.Eq | ast.NotEq)
            ):
                raise ExprError(f"'{text}': words (a block's word argument such as act) can only be "
                                "compared with == or != to other words")
            if not COMPARE[type(cmp)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.IfExp):
        return _eval(node.body if _eval(node.test, env, text) else node.orelse, env, text)
    if isinstance(node, ast.UnaryOp):
        value = _eval(node.operand, env, text)
        if isinstance(node.op, ast.Not):
            return not value
        return -Fraction(value) if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.Call):
        assert isinstance(node.func, ast.Name)
        args = [_eval(a, env, text) for a in node.args]
        try:
            return _check(Fraction(_FUNCS[node.func.id](*args)), text)
        except (TypeError, ValueError, OverflowError):
            raise ExprError(f"'{text}': bad arguments to {node.func.id}()") from None
    if isinstance(node, ast.BinOp):
        a, b = Fraction(_eval(node.left, env, text)), Fraction(_eval(node.right, env, text))
        op = node.op
        try:
            if isinstance(op, ast.Add):
                r = a + b
            elif isinstance(op, ast.Sub):
                r = a - b
            elif isinstance(op, ast.Mult):
                r = a * b
            elif isinstance(op, ast.Div):
                r = a / b
            elif isinstance(op, ast.FloorDiv):
                r = Fraction(a // b)
            elif isinstance(op, ast.Mod):
                r = a % b
            else:  # Pow or BitXor (``^`` written for power)
                if b.denominator != 1 or abs(b) > MAX_EXPR_EXPONENT:
                    raise ExprError(f"'{text}': exponent must be a whole number of at most {MAX_EXPR_EXPONENT}")
                r = a ** int(b)
        except ZeroDivisionError:
            raise ExprError(f"'{text}': division by zero") from None
        return _check(r, text)
    raise ExprError(f"cannot evaluate '{text}'")  # pragma: no cover - parse() filters nodes
