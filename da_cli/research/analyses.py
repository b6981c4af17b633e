"""Running a report's analyses: each angle (or the user's one question) through the normal
analysis session, all in one sandbox worker, then da's own cell where an angle lacks a figure or
a backed number.

`run` is a generator, like the agent loop: it yields an `Started` marker per analysis and
every step, so the CLI shows progress live; the results accumulate in the `Analysis`
objects it was given.
"""

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from da_cli.agent import loop
from da_cli.agent.session import Session
from da_cli.agent.transcript import Step, Transcript
from da_cli.models.base import Model
from da_cli.research import chart
from da_cli.research.survey import Angle


@dataclass
class DaCell:
    """A cell da wrote and ran itself (not the model): its code and its Execute step."""

    code: str
    step: Step


@dataclass
class Analysis:
    title: str
    question: str
    angle: Angle | None = None  # None: the user's own question
    transcript: Transcript | None = None
    da_cells: list[DaCell] = field(default_factory=list)
    skipped: str | None = None  # why it never ran (the time budget was spent)

    @property
    def outputs(self) -> list[str]:
        """Every Execute output of this analysis, the model's and da's."""
        steps = self.transcript.steps if self.transcript else []
        ran = [s.text for s in steps if s.kind == "execute" and not s.repeated]
        return ran + [c.step.text for c in self.da_cells]


@dataclass
class Started:
    index: int  # 1-based
    total: int
    title: str
    eta_s: float | None = None  # seconds the analyses left (this one included) should take
    angle: bool = True  # a survey's angle, not the user's own question


@dataclass
class Computed:
    """da ran its own cell for an analysis (a survey fact): quick, no model."""

    title: str
    seconds: float
    error: bool


def _figures(t: Transcript) -> list[str]:
    return [f for s in t.steps if s.kind == "execute" for f in s.figures]


def _da_cell(a: Analysis, session: Session, code: str) -> Step:
    result = session.cell(code)
    step = Step(
        "execute",
        result.observation(),
        error=not result.ok,
        figures=result.figures,
        seconds=result.seconds,
    )
    a.da_cells.append(DaCell(code, step))
    return step


def run(
    analyses: list[Analysis], model: Model, session: Session, budget: loop.Budget
) -> Iterator[Started | Computed | Step]:
    """Each analysis in `session` (one worker for all), with `budget` per analysis;
    `budget.timeout_s` is the time for all of them together (an analysis that would start
    after it is skipped).

    A survey fact's own cell runs first for every fact (one query each, seconds in all), so
    every finding has its table however the time budget goes; the model then analyses the
    angles it is asked about, in rank order."""
    started = time.monotonic()
    for a in analyses:
        if a.angle is not None and a.angle.fact is not None:
            t0 = time.monotonic()
            step = _da_cell(a, session, chart.fact_cell(a.angle))
            yield Computed(a.title, time.monotonic() - t0, step.error)
    asked = [a for a in analyses if a.angle is None or a.angle.fact is None or a.angle.ask]
    model_started = time.monotonic()
    for i, a in enumerate(asked, 1):
        now = time.monotonic()
        left = None if budget.timeout_s is None else budget.timeout_s - (now - started)
        if left is not None and left <= 0:
            a.skipped = f"the time budget ({budget.timeout_s:g} s) was spent before it started"
            continue
        eta = (now - model_started) / (i - 1) * (len(asked) - i + 1) if i > 1 else None
        yield Started(i, len(asked), a.title, eta, a.angle is not None)
        a.transcript = session.start(a.question, model, joins=a.angle.joins if a.angle else None)
        each = loop.Budget(budget.max_turns, budget.max_tokens, left, budget.turn_tokens)
        yield from session.run(each)
