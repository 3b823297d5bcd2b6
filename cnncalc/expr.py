"""Safe integer arithmetic over named variables for size fields (``2*C``, ``C/4``); never ``eval``."""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any

from .errors import CnncalcError
from .limits import MAX_EXPR_CHARS, MAX_EXPR_DEPTH, MAX_EXPR_EXPONENT, MAX_EXPR_VALUE

#: Results and intermediate values beyond this magnitude are refused (no runaway powers).
LIMIT = MAX_EXPR_VALUE

_FUNCS: dict[str, Callable[..., Any]] = {"min": min, "max": max, "ceil": math.ceil, "floor": math.floor, "round": round}


class ExprError(CnncalcError):
    """An expression that cannot be parsed or evaluated."""


def parse(text: str) -> ast.expr:
    """Parse ``text`` as an arithmetic expression (``^`` means power), or raise ExprError.

    Longer than MAX_EXPR_CHARS or nested deeper than MAX_EXPR_DEPTH is refused (before the
    evaluator, which recurses once per level, could run out of stack).
    """
    if len(text) > MAX_EXPR_CHARS:
        raise ExprError(f"expression '{text[:30]}…' is {len(text):,} characters long; "
                        f"the limit is {MAX_EXPR_CHARS:,} (define a variable under 'vars:' instead)")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError):  # ValueError: a NUL byte
        raise ExprError(f"cannot parse expression '{text}'") from None
    except (RecursionError, MemoryError):
        raise ExprError(f"expression '{text[:30]}…' is nested too deeply to parse") from None
    if _depth(tree) > MAX_EXPR_DEPTH:
        raise ExprError(f"expression '{text[:30]}…' is nested more than {MAX_EXPR_DEPTH} levels deep "
                        "(operators, signs and parentheses); split it with variables")
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise ExprError(f"'{text}': only numbers, variables, + - * / // % ^ ** and "
                            "min/max/ceil/floor/round are allowed")
        if isinstance(node, ast.Call) and not (
            isinstance(node.func, ast.Name) and node.func.id in _FUNCS and not node.keywords
        ):
            raise ExprError(f"'{text}': unknown function")
        if isinstance(node, ast.Constant) and (
            isinstance(node.value, bool) or not isinstance(node.value, int | float)
        ):
            raise ExprError(f"'{text}': only numeric constants are allowed")
        if isinstance(node, ast.Constant) and isinstance(node.value, float) and not math.isfinite(node.value):
            raise ExprError(f"'{text}': number too large")
    return tree.body


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
    ast.USub, ast.UAdd,
)


def is_expression(text: str) -> bool:
    """Whether ``text`` is meant as arithmetic: it parses as an expression, or is too long or deep to
    try (parse() then says which limit). Other text ('same', 'relu', a sentence) is not."""
    if len(text) > MAX_EXPR_CHARS:
        return True
    try:
        ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError):
        return False
    except (RecursionError, MemoryError):
        return True
    return True


def names(text: str) -> set[str]:
    """The variable names used in an expression."""
    return {
        n.id for n in ast.walk(parse(text))
        if isinstance(n, ast.Name) and n.id not in _FUNCS
    }


def evaluate(text: str, env: Mapping[str, int | Fraction]) -> Fraction:
    """Evaluate ``text`` exactly (rationals, so ``C/4`` is exact), with variables from ``env``."""
    return _eval(parse(text), env, text)


def evaluate_int(text: str, env: Mapping[str, int | Fraction]) -> int:
    """Evaluate and require a whole number."""
    value = evaluate(text, env)
    if value.denominator != 1:
        raise ExprError(f"'{text}' = {value} is not a whole number")
    return int(value)


def _check(v: Fraction, text: str) -> Fraction:
    if abs(v) > LIMIT:
        raise ExprError(f"'{text}': value too large")
    return v


def _eval(node: ast.expr, env: Mapping[str, int | Fraction], text: str) -> Fraction:
    if isinstance(node, ast.Constant):
        return _check(Fraction(node.value), text)  # type: ignore[arg-type]  # parse() admits int/float only
    if isinstance(node, ast.Name):
        if node.id not in env:
            known = ", ".join(sorted(env)) or "none"
            raise ExprError(f"unknown variable '{node.id}' in '{text}' (known: {known})")
        bound = env[node.id]
        if isinstance(bound, str):
            raise ExprError(f"'{node.id}' is the word '{bound}', not a number, in '{text}'")
        return Fraction(bound)
    if isinstance(node, ast.UnaryOp):
        v = _eval(node.operand, env, text)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.Call):
        assert isinstance(node.func, ast.Name)
        args = [_eval(a, env, text) for a in node.args]
        try:
            return _check(Fraction(_FUNCS[node.func.id](*args)), text)
        except (TypeError, ValueError):
            raise ExprError(f"'{text}': bad arguments to {node.func.id}()") from None
    if isinstance(node, ast.BinOp):
        a, b = _eval(node.left, env, text), _eval(node.right, env, text)
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
