"""Symbolic sizes with sympy (the optional ``[symbolic]`` extra): formulas such as 18·C²·H·W.

The layer formulas are written once, on plain ints; they also run on sympy expressions because
sympy overloads ``+ - * //``. This module holds the few pieces that plain operators cannot do
on symbols: exact division (a window or a channel split is assumed to divide when sympy cannot
tell), relations that may be undecidable, printing, and reading answers such as ``18C²``.
sympy is imported only when one of these functions runs, so the core works without it.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction
from functools import cache
from types import ModuleType
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from . import expr
from .errors import CnncalcError, UsageError

M = TypeVar("M", bound=BaseModel)

#: sympy expressions have no useful static type (sympy ships no stubs); named for readability.
Expr = Any

INSTALL_HINT = "pip install 'cnncalc[symbolic]' (or pip install sympy)"


class SymbolicError(CnncalcError):
    """A symbolic expression or answer that cannot be read."""


def require() -> ModuleType:
    """The sympy module, or a UsageError that says how to install it."""
    try:
        import sympy
    except ImportError:
        raise UsageError(f"symbolic analysis needs sympy: {INSTALL_HINT}") from None
    module: ModuleType = sympy
    return module


def available() -> bool:
    """Whether sympy can be imported."""
    try:
        require()
    except UsageError:
        return False
    return True


@cache
def symbol(name: str) -> Expr:
    """The variable ``name``: a positive integer, as every size in a network is."""
    return require().Symbol(name, integer=True, positive=True)


def is_expr(v: object) -> bool:
    """True for a sympy expression that still has variables (not a plain number).

    Never imports sympy: if it is not loaded, nothing can be a sympy expression.
    """
    sympy = sys.modules.get("sympy")
    return sympy is not None and isinstance(v, sympy.Basic) and not v.is_number


def plain(v: Expr) -> Any:
    """A sympy number as int (whole) or float, as expr.py's numeric path gives; others unchanged."""
    sympy = sys.modules.get("sympy")
    if sympy is not None and isinstance(v, sympy.Basic) and v.is_number:
        if v.is_Integer:
            return int(v)
        if v.is_Rational:
            return float(Fraction(int(v.p), int(v.q)))
        return float(v)
    return v


def symbolize(v: Any) -> Any:
    """A bare word (``C``) as its symbol, element-wise in lists; other values unchanged."""
    if isinstance(v, list):
        return [symbolize(x) for x in v]
    if isinstance(v, str) and v.strip().isidentifier():
        return symbol(v.strip())
    return v


# ----------------------------------------------------------------------------- spec expressions

def evaluate(text: str, env: Mapping[str, Any]) -> Any:
    """Evaluate a size expression (``2*C``, ``C/4``) exactly; names not in ``env`` become symbols.

    The text is parsed by :func:`cnncalc.expr.parse` (no ``eval``; only arithmetic and
    min/max/ceil/floor/round). A result without variables comes back as int or float, as
    :func:`cnncalc.expr.evaluate` would give it.
    """
    return plain(_to_sympy(expr.parse(text), env, text))


def _to_sympy(node: ast.expr, env: Mapping[str, Any], text: str) -> Expr:
    sp = require()
    if isinstance(node, ast.Constant):
        v = node.value
        return sp.Integer(v) if isinstance(v, int) else sp.Rational(str(v))
    if isinstance(node, ast.Name):
        v = env.get(node.id)
        if v is None or (isinstance(v, str) and v.isidentifier()):  # unset, or a block's word argument (c: C)
            return symbol(node.id if v is None else v)
        if isinstance(v, Fraction):
            return sp.Rational(v.numerator, v.denominator)
        if (isinstance(v, int | float) and not isinstance(v, bool)) or isinstance(v, sp.Basic):
            return sp.sympify(v)
        raise expr.ExprError(f"'{text}': '{node.id}' is {v!r}, not a number")
    if isinstance(node, ast.UnaryOp):
        v = _to_sympy(node.operand, env, text)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.Call):
        assert isinstance(node.func, ast.Name)  # expr.parse() allows only named functions
        args = [_to_sympy(a, env, text) for a in node.args]
        return _call(node.func.id, args, text)
    if not isinstance(node, ast.BinOp):  # in.c …, comparisons, and/or/not, if-else
        return _condition(node, env, text)
    a, b = _to_sympy(node.left, env, text), _to_sympy(node.right, env, text)
    op = node.op
    if isinstance(op, ast.Add | ast.Sub | ast.Mult):
        r = a + b if isinstance(op, ast.Add) else a - b if isinstance(op, ast.Sub) else a * b
    elif isinstance(op, ast.Pow | ast.BitXor):  # ``^`` written for power, as in expr.py
        if not (b.is_Integer and abs(int(b)) <= 64):
            raise expr.ExprError(f"'{text}': exponent must be a whole number of at most 64")
        r = a ** b
    else:
        if b == 0:
            raise expr.ExprError(f"'{text}': division by zero")
        r = a / b if isinstance(op, ast.Div) else sp.floor(a / b) if isinstance(op, ast.FloorDiv) else sp.Mod(a, b)
    if r.is_number and abs(r) > expr.LIMIT:
        raise expr.ExprError(f"'{text}': value too large")
    return r


def _condition(node: ast.expr, env: Mapping[str, Any], text: str) -> Expr:
    """The spec language's non-arithmetic nodes; a truth value is 1 or 0 and must be decided."""
    sp = require()
    if isinstance(node, ast.Attribute):  # in.c, in.h, in.w
        return _to_sympy(ast.Name(id=f"in.{node.attr}"), env, text)

    def truth(n: ast.expr) -> bool:
        v = _to_sympy(n, env, text)
        if not v.is_number:
            raise expr.ExprError(f"'{text}': cannot decide {ast.unparse(n)!r} with symbolic sizes; "
                                 "give the variables values with --set")
        return bool(v != 0)

    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return sp.Integer(int(not truth(node.operand)))
    if isinstance(node, ast.IfExp):
        return _to_sympy(node.body if truth(node.test) else node.orelse, env, text)
    if isinstance(node, ast.BoolOp):
        for operand in node.values:
            if truth(operand) == isinstance(node.op, ast.Or):
                return _to_sympy(operand, env, text)
        return _to_sympy(node.values[-1], env, text)
    assert isinstance(node, ast.Compare)  # expr.parse() allows nothing else
    names = [n.id if isinstance(n, ast.Name) else None for n in (node.left, *node.comparators)]
    bound = [env.get(n) if n else None for n in names]
    if any(isinstance(b, str) for b in bound) and all(names):  # words: act != identity
        if not all(isinstance(op, ast.Eq | ast.NotEq) for op in node.ops):
            raise expr.ExprError(f"'{text}': words can only be compared with == or !=")
        words = [b if isinstance(b, str) else n for n, b in zip(names, bound)]
        return sp.Integer(int(all(expr.COMPARE[type(op)](a, b) for op, a, b in zip(node.ops, words, words[1:]))))
    sides = [_to_sympy(n, env, text) for n in (node.left, *node.comparators)]
    for op, a, b in zip(node.ops, sides, sides[1:]):
        if not (a - b).is_number:
            raise expr.ExprError(f"'{text}': cannot decide {ast.unparse(node)!r} with symbolic sizes; "
                                 "give the variables values with --set")
        if not expr.COMPARE[type(op)](a - b, 0):
            return sp.Integer(0)
    return sp.Integer(1)


def _call(name: str, args: list[Expr], text: str) -> Expr:
    sp = require()
    if name == "make_divisible":
        if not (2 <= len(args) <= 3 and all(a.is_Rational for a in args)):
            raise expr.ExprError(f"'{text}': make_divisible() needs numbers; give the variables "
                                 "values with --set")
        try:
            return sp.Integer(expr.make_divisible(*(Fraction(str(a)) for a in args)))
        except ValueError:
            raise expr.ExprError(f"'{text}': bad arguments to make_divisible()") from None
    if not args or (name not in ("min", "max") and len(args) != 1):
        raise expr.ExprError(f"'{text}': bad arguments to {name}()")
    if name == "min":
        return sp.Min(*args)
    if name == "max":
        return sp.Max(*args)
    if name == "ceil":
        return sp.ceiling(args[0])
    if name == "floor":
        return sp.floor(args[0])
    x = args[0]  # round: Python's half-to-even on numbers; half-up on symbols (no better choice)
    return sp.Integer(round(Fraction(str(x)))) if x.is_Rational else sp.floor(x + sp.Rational(1, 2))


# ----------------------------------------------------------------------------- arithmetic

def divisible(a: Expr, b: Expr) -> bool | None:
    """Whether b divides a: True / False when sympy can tell, None when it depends on the variables."""
    if b == 1:  # every size is a whole number, even one sympy cannot prove whole ((H + 1)/2)
        return True
    q = require().sympify(a) / b
    return None if q.is_integer is None else bool(q.is_integer)


def quotient(a: Expr, b: Expr) -> Expr:
    """a / b exactly, as a sympy expression."""
    return require().sympify(a) / b


def floor_div(a: Expr, b: Expr) -> Expr:
    """⌊a / b⌋ on symbols: the exact quotient a/b unless it is provably not whole.

    Sizes in a design formula are meant to divide (C/4 channels, a 2H input halved); where sympy
    cannot tell, divisibility is assumed and the window reports the assumption.
    """
    sp = require()
    q = sp.sympify(a) / b
    return sp.floor(q) if q.is_integer is False and b != 1 else q


def ceil_div(a: Expr, b: Expr) -> Expr:
    """⌈a / b⌉ on symbols, with floor_div's assumption."""
    return -floor_div(-a, b)


def maximum(xs: Iterable[Expr]) -> Expr:
    """max() of sizes that may be symbolic: sympy's Max (which simplifies where it can)."""
    return plain(require().Max(*xs))


# ----------------------------------------------------------------------------- presentation

def simplify(e: Expr) -> Expr:
    """A readable form: the shorter of the expanded and the factored polynomial (factored on ties).

    25·C² + C stays expanded; C²·H·W + 9·C·H·W becomes C·H·W·(C + 9).
    """
    sp = require()
    e = sp.sympify(e)
    if e.is_number:
        return e
    expanded = sp.expand(e)
    if any(isinstance(a, sp.floor | sp.ceiling | sp.Max | sp.Min | sp.Mod) for a in sp.preorder_traversal(e)):
        return expanded
    factored = sp.factor(expanded)
    return factored if len(str(factored)) <= len(str(expanded)) else expanded


_SUPER = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def pretty(e: Expr) -> str:
    """One line of Unicode for a terminal: 18·C²·H·W, C·H·W·(C + 9), (C + 9)/(9·C)."""
    s = str(e)
    s = re.sub(r"\*\*(\d+)", lambda m: m.group(1).translate(_SUPER), s)
    s = re.sub(r"\*\*\((-\d+)\)", lambda m: m.group(1).translate(_SUPER), s)
    s = re.sub(r"(?<!\*)\*(?!\*)", "·", s)
    return s.replace(" - ", " − ").replace("oo", "∞")


def latex(e: Expr) -> str:
    """LaTeX of an expression (without dollars): 18 C^{2} H W."""
    return str(require().latex(e))


# ----------------------------------------------------------------------------- ratios

def ratio(a: Expr, b: Expr) -> tuple[Expr, dict[str, Expr]]:
    """b / a simplified, and its limit as each variable it depends on → ∞ (others fixed).

    The seeds' depthwise-separable speed-up 9·C²·H·W / ((9·C + C²)·H·W) = 9·C/(C + 9) → 9.
    """
    sp = require()
    a, b = sp.sympify(a), sp.sympify(b)
    if a == 0:
        return (sp.nan if b == 0 else sp.oo), {}
    r = sp.cancel(sp.factor(b / a))
    lims = {str(s): sp.limit(r, s, sp.oo) for s in sorted(r.free_symbols, key=str)}
    return r, lims


# ----------------------------------------------------------------------------- answers

_UNICODE = {
    "·": "*", "×": "*", "⋅": "*", "∙": "*", "−": "-", "–": "-", "÷": "/",
    "²": "^2", "³": "^3", "⁴": "^4", "¹": "^1", "⁰": "^0", "⁵": "^5", "⁶": "^6", "⁷": "^7",
    "⁸": "^8", "⁹": "^9",
}
_LATEX = ((r"\cdot", "*"), (r"\times", "*"), (r"\left", ""), (r"\right", ""), ("$", ""),
          ("{", "("), ("}", ")"), (r"\,", " "), (r"\ ", " "))
_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d*)?|\.\d+)|([A-Za-z_][A-Za-z_0-9]*)|(\*\*|\^|[-+*/()]))")


def parse_answer(text: str, symbols: Iterable[Any]) -> Expr:
    """Read a formula as a student writes it: ``18*C^2``, ``18C²``, ``18 C^2 H W``, ``(9C + C²)HW``.

    Implicit multiplication is understood, and a run of letters is split into the known
    variables (``HWC`` = H·W·C) when it is not itself one; ``^``, ``**``, superscripts, ``·``,
    ``×`` and a little LaTeX (``\\cdot``, ``C^{2}``) are accepted. ``symbols`` are the allowed
    variables (names or sympy symbols). Parsed without ``eval``.
    """
    known = {str(s): symbol(str(s)) for s in symbols}
    s = text.strip()
    for a, b in _LATEX:
        s = s.replace(a, b)
    s = "".join(_UNICODE.get(ch, ch) for ch in s)
    s = re.sub(r"(?<=\d),(?=\d{3}\b)", "", s)  # 1,024 as a number
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(s):
        m = _TOKEN.match(s, pos)
        if m is None or m.end() == pos:
            if s[pos:].strip() == "":
                break
            raise SymbolicError(f"cannot read '{text}' at '{s[pos:].strip()[:10]}'")
        pos = m.end()
        num, word, op = m.groups()
        if num is not None:
            tokens.append(("num", num))
        elif word is not None:
            tokens.extend(("name", w) for w in _split_word(word, known, text))
        else:
            tokens.append(("op", "**" if op == "^" else op))
    if not tokens:
        raise SymbolicError("empty answer")
    written, end = _Juxtaposed(tokens).sequence(0)
    if end != len(tokens):  # an unmatched ')'
        raise SymbolicError(f"cannot read '{text}' as a formula")
    try:
        tree = expr.parse(written)
    except expr.ExprError:
        raise SymbolicError(f"cannot read '{text}' as a formula") from None
    try:
        return _to_sympy(tree, known, text)
    except expr.ExprError as e:
        raise SymbolicError(str(e)) from None


def _split_word(word: str, known: Mapping[str, Any], text: str) -> list[str]:
    if word in known:
        return [word]
    names = sorted(known, key=len, reverse=True)
    parts: list[str] = []
    rest = word
    while rest:
        hit = next((n for n in names if rest.startswith(n)), None)
        if hit is None:
            allowed = ", ".join(sorted(known)) or "none"
            raise SymbolicError(f"unknown name '{word}' in '{text}' (variables: {allowed})")
        parts.append(hit)
        rest = rest[len(hit):]
    return parts


class _Juxtaposed:
    """Writes tokens with explicit ``*``; a run of juxtaposed factors is bracketed as one product.

    So ``9C²HW / (9C + C²)HW`` reads as 9·C²·H·W / ((9·C + C²)·H·W), as it is meant on paper:
    juxtaposition binds tighter than an explicit ``/``.
    """

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.t = tokens

    def sequence(self, i: int) -> tuple[str, int]:
        out: list[str] = []
        while i < len(self.t) and self.t[i][1] != ")":
            kind, tok = self.t[i]
            if kind == "op" and tok != "(":
                out.append(tok)
                i += 1
                continue
            factors: list[str] = []
            while i < len(self.t) and self._starts_factor(i, factors):
                f, i = self.factor(i)
                factors.append(f)
            if not factors:  # pragma: no cover - every non-operator token starts a factor
                break
            out.append(factors[0] if len(factors) == 1 else "(" + "*".join(factors) + ")")
        return " ".join(out), i

    def _starts_factor(self, i: int, factors: list[str]) -> bool:
        kind, tok = self.t[i]
        if kind == "num" and factors and self.t[i - 1][0] == "num":
            return False  # "2 3" is not a product; left for the parser to refuse
        return kind in ("num", "name") or tok == "("

    def factor(self, i: int) -> tuple[str, int]:
        tok = self.t[i][1]
        if tok == "(":
            inner, i = self.sequence(i + 1)
            if i >= len(self.t):
                raise SymbolicError("unbalanced '('")
            s, i = f"({inner})", i + 1
        else:
            s, i = tok, i + 1
        if i < len(self.t) and self.t[i][1] == "**":
            sign = ""
            i += 1
            if i < len(self.t) and self.t[i][1] in ("-", "+"):
                sign, i = self.t[i][1], i + 1
            if i >= len(self.t) or not (self.t[i][0] in ("num", "name") or self.t[i][1] == "("):
                raise SymbolicError("an exponent is missing")
            e, i = self.factor(i)
            s = f"{s}**({sign}{e})"
        return s, i


def equivalent(a: Expr, b: Expr) -> bool:
    """True when two formulas are algebraically equal (sympy: simplify(a − b) == 0)."""
    sp = require()
    d = sp.sympify(a) - sp.sympify(b)
    return bool(sp.expand(d) == 0 or sp.simplify(d) == 0)


def judge(text: str, accepted: Iterable[Any], symbols: Iterable[Any]) -> bool | None:
    """A formula answer against the accepted formulas, for the homework checker.

    True / False by algebraic equivalence to any of ``accepted``; None when ``text`` is not a
    formula in ``symbols`` (a number such as ``35k`` then goes to the numeric reader).
    """
    try:
        given = parse_answer(text, symbols)
    except SymbolicError:
        return None
    return any(equivalent(given, e) for e in accepted)


# ----------------------------------------------------------------------------- layers

_PLACEHOLDER = 10**15  # far above any real size; stands in for a symbol during validation


def build_layer(cls: type[M], args: dict[str, Any]) -> M:
    """Validate a layer whose size fields may hold symbols.

    A bare word stays a word where the field takes it (``pad: same``) and is a variable
    otherwise (``filters: C``). pydantic checks each symbol as a stand-in whole number, then the
    validated model gets the symbols back, so the layer's own validators and types are reused.
    """
    stand_in: dict[int, Any] = {}

    def hide(v: Any) -> Any:
        if isinstance(v, list):
            return [hide(x) for x in v]
        if is_expr(v):
            n = _PLACEHOLDER + len(stand_in)
            stand_in[n] = v
            return n
        return v

    def show(v: Any) -> Any:
        if isinstance(v, tuple | list):
            return type(v)(show(x) for x in v)
        return stand_in.get(v, v) if isinstance(v, int) and not isinstance(v, bool) else v

    ready = {k: hide(v if _takes_word(cls, k, v) else symbolize(v)) for k, v in args.items()}
    layer = cls.model_validate(ready)
    if not stand_in:
        return layer
    update = {k: show(getattr(layer, k)) for k in type(layer).model_fields}
    return layer.model_copy(update={k: v for k, v in update.items() if v != getattr(layer, k)})


def _takes_word(cls: type[BaseModel], key: str, v: Any) -> bool:
    """True when ``v`` has no bare word, or the field accepts it as written (pad: same)."""
    words = v if isinstance(v, list) else [v]
    if not any(isinstance(w, str) and w.strip().isidentifier() for w in words):
        return True
    info = cls.model_fields.get(key)
    if info is None:
        return True  # an unknown field: let validation name it
    try:
        _adapter(cls, key).validate_python(v)
    except ValidationError:
        return False
    return True


@cache
def _adapter(cls: type[BaseModel], key: str) -> TypeAdapter[Any]:
    info = cls.model_fields[key]
    parts = (info.annotation, *info.metadata)  # Annotated[parts] = Annotated[T, m1, m2…]
    typ: Any = Annotated[parts] if info.metadata else info.annotation
    return TypeAdapter(typ)


def free_names(values: Sequence[Any]) -> list[str]:
    """Sorted names of the variables in some values (numbers contribute none)."""
    names: set[str] = set()
    for v in values:
        if is_expr(v):
            names.update(str(s) for s in v.free_symbols)
    return sorted(names)
