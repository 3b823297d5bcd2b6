"""Enums that CLI options choose from, kept apart from the modules that act on them: typer needs
an option's type when it builds the command, and importing it must not import its machinery
(``cnncalc table`` without ``--convention`` never imports cnncalc.conventions)."""

from __future__ import annotations

from .compat import StrEnum


class ConventionName(StrEnum):
    """The tools whose counts ``--convention`` reproduces."""

    torchinfo = "torchinfo"
    fvcore = "fvcore"
    ptflops = "ptflops"
    thop = "thop"
    torch = "torch"
