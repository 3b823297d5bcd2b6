"""Assignments: several questions (a spec, a layer range, formula items) graded into one results.json.

An assignment file is YAML with ``questions:``; each question names its ``spec``, the ``answers``
file in the submission folder, and optionally ``from``/``to``, ``rules`` (a file or a mapping),
``points`` (the question's weight: its score is scaled to it) and ``title``. Top-level ``rules``
apply to every question that gives none::

    title: Homework 3
    rules: course_rules.yaml
    questions:
      - {title: AlexNet, spec: alexnet_cs231n, answers: alexnet.csv}
      - {title: VGG-16 224→28, spec: vgg16, from: conv1_1, to: pool3, answers: vgg.csv, points: 20}
      - {title: Formulas, spec: two_3x3.yaml, answers: formulas.yaml}
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import SpecError
from ..source import load_yaml
from ..spec import validation_diagnostics
from .outputs import _pts, column_title, failure_results, gradescope_results, human_value
from .results import Report
from .rules import Rules, load_rules, parse_rules
from .sheets import read_text


class Question(BaseModel):
    """One question of an assignment."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    spec: str
    answers: str
    title: str | None = None
    start: str | None = Field(None, alias="from")
    end: str | None = Field(None, alias="to")
    rules: str | dict[str, Any] | None = None
    points: float | None = Field(None, gt=0)


class Assignment(BaseModel):
    """An assignment file: its questions and the rules they share."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str | None = None
    rules: str | dict[str, Any] | None = None
    questions: list[Question] = Field(min_length=1)


def is_assignment(path: str) -> bool:
    """A YAML file whose top level has ``questions:`` (cheap: read only when it is a file)."""
    p = Path(path)
    if p.suffix.lower() not in (".yaml", ".yml") or not p.is_file():
        return False
    try:
        text = read_text(p, "assignment")
        if not re.search(r"^questions\s*:", text, re.MULTILINE):
            return False  # a spec: not parsed twice
        doc = load_yaml(text, str(p))
    except Exception:  # not readable as YAML: let the spec loader report it
        return False
    return isinstance(doc.data, dict) and "questions" in doc.data


def load_assignment(path: str) -> Assignment:
    """Validate an assignment file; SpecError with positions."""
    doc = load_yaml(read_text(path, "assignment"), path)
    try:
        return Assignment.model_validate(doc.data)
    except ValidationError as e:
        raise SpecError(validation_diagnostics(e, doc, (), fields=list(Assignment.model_fields))) from None


def question_rules(q: Question, a: Assignment, base: Path, fallback: Rules) -> Rules:
    """The rules of one question: its own, else the assignment's, else ``fallback``."""
    r = q.rules if q.rules is not None else a.rules
    if r is None:
        return fallback
    if isinstance(r, str):
        return load_rules(base / r)
    import yaml

    return parse_rules(yaml.safe_dump(r), f"{base / 'assignment'} rules")


def resolve(base: Path, name: str) -> str:
    """A spec named in an assignment: a file beside the assignment if one exists, else as given (zoo)."""
    p = base / name
    return str(p) if p.is_file() else name


@dataclass(frozen=True)
class Outcome:
    """One question's result: a report, or the reason it could not be graded."""

    question: Question
    report: Report | None
    error: str = ""

    @property
    def title(self) -> str:
        return self.question.title or f"{self.question.spec}: {self.question.answers}"

    def weight(self) -> float:
        """Points this question is worth in the assignment."""
        if self.question.points is not None:
            return self.question.points
        return self.report.max_points if self.report is not None else 1.0

    def earned(self) -> float:
        if self.report is None:
            return 0.0
        if self.question.points is None:
            return self.report.points
        return self.report.score * self.question.points if self.report.max_points else 0.0


def assignment_results(outcomes: list[Outcome], visibility: str = "visible") -> dict[str, Any]:
    """One Gradescope results.json for all questions: each question's tests, numbered by question,
    its score scaled to its points; a question that could not be graded is one failed test with the reason."""
    tests: list[dict[str, Any]] = []
    lines: list[str] = []
    for qi, o in enumerate(outcomes, 1):
        weight = o.weight()
        if o.report is None:
            tests.append({"name": o.title, "number": str(qi), "score": 0, "max_score": _pts(weight),
                          "status": "failed", "output": f"Could not be graded: {o.error}", "output_format": "md",
                          "visibility": visibility})
            lines.append(f"- {o.title}: 0 / {_pts(weight):g} — could not be graded: {o.error}")
            continue
        res = gradescope_results(o.report)
        scale = weight / o.report.max_points if o.report.max_points and o.question.points is not None else 1.0
        for t in res["tests"]:
            tests.append({**t, "name": f"{o.title} · {t['name']}", "number": f"{qi}.{t['number']}",
                          "score": _pts(t["score"] * scale), "max_score": _pts(t["max_score"] * scale)})
        wrong = [c for c in o.report.wrong][:5]
        detail = "; ".join(f"{c.layer} {column_title(c.column, o.report.rules.kb)} {c.given or '—'} "
                           f"(expected {human_value(c.expected)})" for c in wrong)
        lines.append(f"- {o.title}: {_pts(o.earned()):g} / {_pts(weight):g}" + (f" — {detail}" if detail else ""))
    score = _pts(sum(t["score"] for t in tests))
    top = _pts(sum(t["max_score"] for t in tests))
    return {
        "score": score,
        "output": f"**Score: {score:g} / {top:g}**\n\n" + "\n".join(lines),
        "output_format": "md",
        "visibility": visibility,
        "tests": tests,
    }


__all__ = ["Assignment", "Outcome", "Question", "assignment_results", "failure_results", "is_assignment",
           "load_assignment", "question_rules", "resolve"]
