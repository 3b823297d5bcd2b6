"""The course's rules for grading a worksheet (``--rules FILE``): units, conventions, points, tolerance."""

from __future__ import annotations

import difflib
from enum import Enum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..analysis import DType
from ..columns import BY_KEY
from ..errors import Diagnostic, SpecError
from ..source import load_yaml
from ..spec import validation_diagnostics


class Work(str, Enum):
    """What the MACs columns (macs_m, macs) of a course's tables hold."""

    MACS = "macs"            #: conv/deconv/fc multiply-accumulates (the AlexNet table: pools 0)
    FLOPS = "flops"          #: 2 FLOPs per MAC
    MACS_POOL = "macs+pool_ops"  #: MACs plus pooling window ops, outputs × K×K (the GoogLeNet-stem table)
    MACS_OPS = "macs+ops"    #: MACs plus every other op cnncalc counts (bias, activations, BN, pooling…)


class Tolerance(BaseModel):
    """How close a number must be. Unset: half a unit of the answer's last shown digit for rounded
    columns (KB, k, M), exact for shapes and exact counts.

    - ``digits``: PrairieLearn's sigfig mode, |given − expected| ≤ ½·10^(⌊log10|expected|⌋ − digits + 1).
    - ``rtol``/``atol``: PrairieLearn's relabs mode, |given − expected| ≤ atol + rtol·|expected|, with
      ``atol`` in the column's units (KB, k, M, or ones for exact counts).
    Either replaces the default for every numeric column; shapes stay exact.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    rtol: float | None = Field(None, ge=0)
    atol: float | None = Field(None, ge=0)
    digits: int | None = Field(None, ge=1, le=15)

    @property
    def default(self) -> bool:
        return self.rtol is None and self.atol is None and self.digits is None

    def describe(self) -> str:
        """The tolerance in words, printed with every report."""
        if self.digits is not None:
            return (f"{self.digits} significant digit{'s' if self.digits != 1 else ''} "
                    "(± half a unit in the last one) for numbers; shapes exact")
        if not self.default:
            parts = []
            if self.rtol:
                parts.append(f"{self.rtol:g} relative")
            if self.atol:
                parts.append(f"{self.atol:g} absolute (column units)")
            return "± " + (" + ".join(parts) or "0") + " for numbers; shapes exact"
        return ("rounded columns (KB, k, M): ± half a unit of the last digit the answer shows "
                "(1134 → ±0.5, 1.1M → ±0.05M); shapes and exact counts: exact")


class GradescopeRules(BaseModel):
    """Gradescope results.json options: one test per layer row or per cell, and its visibility."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    per: Literal["layer", "cell"] = "layer"
    visibility: Literal["visible", "hidden", "after_due_date", "after_published"] = "visible"


class Rules(BaseModel):
    """A course's conventions for grading a worksheet (``--rules FILE``, YAML)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kb: Literal[1000, 1024] = Field(1024, description="Bytes per KB.")
    work: Work = Field(Work.MACS, description="What the MACs/FLOPs columns hold.")
    dtype: DType = Field(DType.FP32, description="Element type for activation memory.")
    batch: int = Field(1, ge=1)
    bias: bool = Field(True, description="Params include the bias (false: weights only, as the VGG list).")
    shape_order: Literal["chw", "hwc"] = Field("chw", description="Order of full shapes (96×55×55 or 55×55×96).")
    columns: dict[str, float] | list[str] | None = Field(
        None, description="Columns that count, with points per cell (or per column, see points_per); "
                          "other columns are checked but score nothing. Default: every answered column "
                          "except the given hyper-parameters, 1 point per cell.")
    points_per: Literal["cell", "column"] = "cell"
    given: float = Field(0, ge=0, description="Points per given hyper-parameter cell (c_in, kernel, …).")
    totals: float = Field(1, ge=0, description="Points per cell of the totals row, when the sheet has one.")
    slip_credit: float = Field(0, ge=0, le=1, description="Share of a cell's points for a wrong answer whose slip is named.")
    carried_forward: float = Field(0, ge=0, le=1, description=(
        "Error carried forward: share of a cell's points when it is wrong only because of an earlier "
        "slip (a size from a wrong padding, a total of the sheet's own rows)."))
    missing_rows: Literal["unanswered", "ignore"] = "unanswered"
    missing_columns: Literal["unanswered", "ignore"] = Field("unanswered", description=(
        "A column the worksheet asks (the rules' columns, else output size, memory, params, MACs) "
        "left out of the sheet: its cells count as unanswered, or are ignored."))
    missing_total: Literal["unanswered", "ignore"] = Field("unanswered", description=(
        "A sheet without its Total row: the totals count as unanswered, or are ignored."))
    tolerance: Tolerance = Tolerance()
    gradescope: GradescopeRules = GradescopeRules()

    def points(self, key: str) -> float | None:
        """Points per cell of a column by the rules, or None when the rules do not list columns."""
        if self.columns is None:
            return None
        if isinstance(self.columns, list):
            return 1.0 if key in self.columns else 0.0
        return float(self.columns.get(key, 0.0))


def parse_rules(text: str, file: str) -> Rules:
    """Validate rules YAML; SpecError with positions for unknown fields, bad values or column keys."""
    doc = load_yaml(text, file)
    if doc.data is None:
        return Rules()
    if not isinstance(doc.data, dict):
        raise SpecError([Diagnostic(doc.where(()), "rules must be a mapping, e.g. 'kb: 1024' and 'work: macs'")])
    try:
        rules = Rules.model_validate(doc.data)
    except ValidationError as e:
        raise SpecError(validation_diagnostics(e, doc, (), fields=list(Rules.model_fields))) from None
    problems = []
    cols = doc.data.get("columns")
    keys = list(cols) if isinstance(cols, dict | list) else []
    for i, k in enumerate(keys):
        if k not in BY_KEY or k == "layer":
            close = difflib.get_close_matches(str(k), [c for c in BY_KEY if c != "layer"], n=1)
            where = doc.where(("columns", k), key=True) if isinstance(cols, dict) else doc.where(("columns", i))
            problems.append(Diagnostic(where, f"columns: unknown column '{k}'"
                                       + (f"; did you mean '{close[0]}'?" if close else "")))
    if problems:
        raise SpecError(problems)
    return rules


def load_rules(path: str | Path) -> Rules:
    """Read and validate a rules file."""
    from .sheets import read_text

    return parse_rules(read_text(path, "rules file"), str(path))
