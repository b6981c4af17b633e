"""One composition of a report, the same for `da report` and the Python API: what to analyse
(the user's question, or the survey da plans from the data), the analyses in one worker, the
executive summary, the document, and the stored run. Progress goes to a callback as events;
nothing here prints.

Planning and running are two calls so that a front end can load the model in between: bad
data, or data with nothing to survey, fails before a slow model load.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from da_cli import interrupts, runs
from da_cli.agent.loop import Budget
from da_cli.agent.session import Session
from da_cli.agent.transcript import Step
from da_cli.errors import DataError
from da_cli.models.base import Model
from da_cli.report.document import Report
from da_cli.research import findings, scan
from da_cli.research.analyses import Analysis, Computed, Started
from da_cli.research.analyses import run as run_analyses
from da_cli.research.summary import Summary, summarize

TURN_TOKENS = 512  # most tokens one model step of a report may write
MAX_FINDINGS = 8  # facts a survey reports (the model analyses the first `angles` of them)
SUMMARY_POINTS = 4  # findings the executive summary is written from


@dataclass(frozen=True)
class Planned:
    """What a survey will hold: how many candidate facts da computed, and which made it."""

    considered: int
    seconds: float
    titles: list[str]  # the findings, in rank order
    asked: int  # how many of them the model analyses itself


@dataclass(frozen=True)
class Summarizing:
    """The analyses are done; the model writes the executive summary."""


Event = Planned | Started | Computed | Summarizing | Step


@dataclass
class Plan:
    analyses: list[Analysis]
    survey: scan.Plan | None  # None: the user's own question


@dataclass
class Composed:
    doc: Report
    analyses: list[Analysis]
    summary: Summary | None
    run_dir: Path


def budget(max_turns: int, max_tokens: int, timeout_s: float | None) -> Budget:
    """A report's budget: `max_turns` and `max_tokens` per analysis, `timeout_s` for all."""
    # A survey step needs one short query; a small model that runs past that is rambling,
    # and on a shared CPU every token costs, so steps are cut shorter than `da analyze`
    # cuts them.
    return Budget(max_turns, max_tokens, timeout_s, turn_tokens=TURN_TOKENS)


def plan(
    session: Session,
    question: str | None,
    angles: int,
    on_event: Callable[[Event], None] = lambda e: None,
) -> Plan:
    """The user's `question`, or (None) a survey: the facts da ranks highest from its own
    queries, the first `angles` of them analysed by the model too. Raises DataError when
    the data holds nothing worth surveying."""
    if question is not None:
        return Plan([Analysis(title=" ".join(question.split()), question=question)], None)
    con = session.catalog.connect()
    try:
        with interrupts.hook(con.interrupt):
            survey = scan.plan(con, session.profiles, MAX_FINDINGS)
    finally:
        con.close()
    if not survey.facts:
        raise DataError(
            "da found nothing to survey: no table has a measure, a category, a date "
            "or a join key worth reporting.",
            hint='Ask a question instead: da report SOURCE --question "…".',
        )
    planned = scan.angles(survey, angles)
    on_event(
        Planned(
            survey.considered,
            survey.seconds,
            [a.title for a in planned[1:]],  # the first is the overview
            sum(a.ask for a in planned),
        )
    )
    return Plan([Analysis(a.title, a.question, a) for a in planned], survey)


def run(
    session: Session,
    planned: Plan,
    model: Model,
    budget: Budget,
    *,
    started: float,
    on_event: Callable[[Event], None] = lambda e: None,
) -> Composed:
    """Run the plan's analyses with `model` in `session`, write the summary (a survey) and
    the document, and store the run where `da history` finds it. `started`:
    `time.perf_counter()` when the whole command began, for the run's record."""
    analyses, survey = planned.analyses, planned.survey
    run_dir = runs.new()
    workspace = session.workspace = run_dir / "workspace"
    catalog = session.catalog
    summary: Summary | None = None
    for event in run_analyses(analyses, model, session, budget):
        on_event(event)
    if survey is None:
        assert analyses[0].transcript is not None
        doc = findings.from_analysis(analyses[0].transcript, catalog, model.name, workspace)
    else:
        on_event(Summarizing())
        outputs_seen = [o for a in analyses for o in a.outputs]
        # The summary says what a reader must know: the top-ranked findings only.
        points = findings.summary_points(analyses, workspace)[:SUMMARY_POINTS]
        subject = ", ".join(Path(s).name for s in catalog.sources)
        summary = summarize(model, subject, points, outputs_seen)
        doc = findings.from_survey(
            analyses,
            summary,
            catalog,
            model.name,
            workspace,
            budget.max_turns,
            considered=survey.considered,
        )
    header, steps = findings.run_record(doc, analyses, time.perf_counter() - started, summary)
    runs.write_transcript(run_dir, header, steps)
    runs.save_json(run_dir, "report.json", doc.to_dict())
    return Composed(doc, analyses, summary, run_dir)
