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
from da_cli.research import chart, evidence
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


def _figures(t: Transcript) -> list[str]:
    return [f for s in t.steps if s.kind == "execute" for f in s.figures]


def why_da_charts(a: Analysis) -> str | None:
    """Why da must add its own cell to an angle, or None when the model's work suffices:
    every angle gets a figure and at least one number an output backs."""
    if a.angle is None or a.transcript is None:
        return None
    if not _figures(a.transcript):
        return "the model's code for this angle drew no figure, so da charts the angle's table"
    answer = a.transcript.answer or ""
    kept, _ = evidence.grounded_only(answer, a.outputs)
    if not evidence.backing(kept, a.outputs):
        return "the model's answer quoted no number an output showed, so da adds its own table"
    return None


def run(
    analyses: list[Analysis], model: Model, session: Session, budget: loop.Budget
) -> Iterator[Started | Step]:
    """Each analysis in turn in `session` (one worker for all), with `budget` per analysis;
    `budget.timeout_s` is the time for all of them together (an analysis that would start
    after it is skipped)."""
    started = time.monotonic()
    for i, a in enumerate(analyses, 1):
        left = None if budget.timeout_s is None else budget.timeout_s - (time.monotonic() - started)
        if left is not None and left <= 0:
            a.skipped = f"the time budget ({budget.timeout_s:g} s) was spent before it started"
            continue
        yield Started(i, len(analyses), a.title)
        a.transcript = session.start(a.question, model, joins=a.angle.joins if a.angle else None)
        each = loop.Budget(budget.max_turns, budget.max_tokens, left, budget.turn_tokens)
        yield from session.run(each)
        why = why_da_charts(a)
        if why and a.angle is not None:
            code = chart.cell(a.angle, why)
            result = session.cell(code)
            step = Step(
                "execute",
                result.observation(),
                error=not result.ok,
                figures=result.figures,
                seconds=result.seconds,
            )
            a.da_cells.append(DaCell(code, step))
            yield Step("notice", f"da: {why}.")
            yield step
