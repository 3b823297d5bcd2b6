"""Reading one cell: numbers with separators, exponents, magnitude and memory suffixes; shapes; blanks."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

#: Cells that mean "not answered" (the seeds print "?" in the cells to fill).
BLANK = frozenset({"", "?", "??", "???", "-", "–", "—", "…", "..."})


@dataclass(frozen=True)
class Number:
    """A number as a student wrote it.

    ``value`` is in the column's units unless ``absolute`` (a magnitude or memory suffix was
    written: "35k", "1.1M", "7.5 MB"), when it is a plain count or a byte count. ``half`` is half a
    unit of the last digit shown, in the same units ("1134" → 0.5, "1.1M" → 50,000).
    """

    value: Fraction
    half: Fraction
    absolute: bool = False

    def in_units(self, scale: int) -> tuple[Fraction, Fraction]:
        """(value, half) in units of ``scale`` (1000 for a k column), when the suffix made it absolute."""
        if not self.absolute:
            return self.value, self.half
        return self.value / scale, self.half / scale


_NUM = re.compile(
    r"""^(?P<sign>[-+−]?)\s*
        (?P<int>\d[\d,_'\u00a0\u2009\u202f ]*)?(?:\.(?P<frac>\d*))?
        (?:\s*(?:[eE](?P<exp>[-+−]?\d+)|\s*[x×·*]\s*10\s*\^\s*(?P<exp2>[-+−]?\d+)))?
        \s*(?P<suffix>[A-Za-zµ]*)\s*$""",
    re.VERBOSE,
)
_UNIT_WORDS = frozenset({"", "flop", "flops", "mac", "macs", "op", "ops", "param", "params", "parameters",
                         "elements", "madds", "multadds", "weights", "mults"})
_MAGNITUDES = {"k": 3, "thousand": 3, "m": 6, "mio": 6, "million": 6, "g": 9, "bn": 9, "billion": 9}
#: Memory units: power of the KB base (negative: of 1024, for KiB/MiB/GiB).
_MEMORY = {"b": 0, "byte": 0, "bytes": 0, "kb": 1, "kbytes": 1, "kilobytes": 1, "mb": 2, "mbytes": 2,
           "megabytes": 2, "gb": 3, "gbytes": 3, "kib": -1, "mib": -2, "gib": -3}


#: Longest cell read as a number, and the largest exponent: beyond them a cell is unreadable (for
#: review by hand), never a multi-megabyte integer or a hang (``1e99999999``, 5,000 nines).
MAX_NUMBER_CHARS = 64
MAX_EXPONENT = 30

Decimal = Literal[".", ","]
_HALF = Fraction(1, 2)
_PLAIN = re.compile(r"(\d{1,30})(?:\.(\d{1,30}))?")


def _german(digits: str, frac: str | None) -> tuple[str, str] | None:
    """Digits and fraction of a decimal-comma number ('1.134,375', '253,5', '34,944'); None if malformed."""
    body = digits + ("." + frac if frac is not None else "")
    if body.count(",") > 1:
        return None
    whole, _, fraction = body.partition(",")
    if "." in whole and not re.fullmatch(r"\d{1,3}(\.\d{3})+", whole.strip()):
        return None
    return whole.replace(".", ""), fraction


#: Fraction(x) for values that repeat across a sheet (sizes, powers of ten); Fractions are immutable,
#: and building one costs microseconds: a 30,000-row sheet builds about a million.
cached_fraction = functools.lru_cache(maxsize=4096)(Fraction)


def parse_number(text: str, kb: int = 1024, decimal: Decimal = ".") -> Number | None:
    """Read a number leniently, or None if it is not one.

    Accepts thousands separators (``34,944``, ``34_944``, ``34 944``), exponents (``3.4944e4``,
    ``3.4944×10^4``), magnitude suffixes (``35k``, ``1.1M``, ``105 M``, ``0.6 Mflops``, ``124K``)
    and memory units (``7.5 MB``, ``435600 B``; KB and MB use ``kb`` bytes per KB, KiB/MiB 1024).
    With ``decimal=","`` (a German-locale sheet) the comma is the decimal mark and the dot groups
    thousands: ``253,5`` = 253.5, ``34,944`` = 34.944, ``1.327,488`` = 1327.488.
    """
    s = text.strip().strip("*").strip().lstrip("~≈").strip()
    if len(s) > MAX_NUMBER_CHARS:
        return None
    plain = _PLAIN.fullmatch(s)
    if plain is not None and (decimal == "." or plain[2] is None):  # the common case, without the regex below
        decimals = plain[2] or ""
        if not decimals:
            return Number(cached_fraction(int(plain[1])), _HALF)
        return Number(Fraction(int(plain[1] + decimals), 10 ** len(decimals)),
                      Fraction(1, 2 * 10 ** len(decimals)))
    if decimal == ",":
        m0 = re.fullmatch(r"([-+−]?\s*)([\d.\u00a0\u202f ]*\d(?:,\d*)?|,\d+)(.*)", s)
        if m0 is None:
            return None
        parts = _german(m0[2], None)
        if parts is None:
            return None
        whole, fraction = parts
        s = m0[1] + re.sub(r"[\u00a0\u202f ]", "", whole) + ("." + fraction if fraction else "") + m0[3]
    m = _NUM.match(s)
    if not m or (m["int"] is None and not m["frac"]):
        return None
    digits = m["int"] or "0"
    if "," in digits and not re.fullmatch(r"\d{1,3}(,\d{3})+", digits.strip()):
        return None  # "3,5" is a decimal comma or a typo, not a thousands separator
    digits = re.sub(r"[,_'\u00a0\u2009\u202f ]", "", digits)
    frac = m["frac"] or ""
    exp_txt = (m["exp"] or m["exp2"] or "0").replace("−", "-")
    if len(exp_txt.lstrip("+-").lstrip("0")) > 3 or abs(int(exp_txt)) > MAX_EXPONENT:
        return None
    exp = int(exp_txt)
    value = Fraction(int(digits + frac), 10 ** len(frac)) * Fraction(10) ** exp
    half = Fraction(1, 2) * Fraction(10) ** (exp - len(frac))
    if m["sign"] in ("-", "−"):
        value = -value
    suffix = m["suffix"]
    low = suffix.lower()
    scale: Fraction | None = None
    if low in _MEMORY:
        power = _MEMORY[low]
        scale = Fraction(1024) ** -power if power < 0 else Fraction(kb) ** power
    elif low in _UNIT_WORDS:
        scale = None if not low else Fraction(1)
    elif low in _MAGNITUDES:
        scale = Fraction(10) ** _MAGNITUDES[low]
    elif low[:1] in ("k", "m", "g") and low[1:] in _UNIT_WORDS:
        scale = Fraction(10) ** _MAGNITUDES[low[:1]]
    else:
        return None
    if scale is None:
        return Number(value, half, False)
    return Number(value * scale, half * scale, True)


_SHAPE_SEP = re.compile(r"\s*[x×X*,+]\s*|\s+")


def parse_shape(text: str) -> tuple[Fraction, ...] | None:
    """'96x55x55', '96 × 55 × 55', '[96, 55, 55]', '(55,55)', '256+256' or '55' as a tuple, else None."""
    s = text.strip().strip("*").strip()
    if s[:1] in "[(" and s[-1:] in "])":
        s = s[1:-1].strip()
    if not s:
        return None
    parts = _SHAPE_SEP.split(s)
    out = []
    for p in parts:
        if not re.fullmatch(r"\d+(\.\d+)?", p):
            return None
        out.append(cached_fraction(p))
    return tuple(out)


def is_blank(text: str) -> bool:
    """A cell that holds no answer: empty, '?', or a dash."""
    return text.strip().strip("*").strip().lower() in BLANK
