"""`da report SOURCE...`: research the data and write a report (HTML, PDF, Markdown or a
notebook, by the output's extension)."""

import sys
import time
from contextlib import nullcontext
from pathlib import Path

import typer
from rich.markup import escape

from da_cli import config
from da_cli import report as reports
from da_cli.agent.session import Session, check_question
from da_cli.cli.console import CELL_TIMEOUT_OPTION, MEMORY_OPTION, MODEL_OPTION, examples, state
from da_cli.errors import BudgetExhausted, UsageError
from da_cli.models import load_model
from da_cli.report import markdown, script
from da_cli.research import compose
from da_cli.research.analyses import Computed, Started
from da_cli.sandbox import Limits


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def show(event: compose.Event) -> None:
    """A report's progress on stderr."""
    if isinstance(event, compose.Planned):
        state.info(
            f"da computed {event.considered} candidate facts in {event.seconds:.1f} s; "
            f"{len(event.titles)} made the report, the model analyses {event.asked}: "
            + escape("; ".join(event.titles))
        )
    elif isinstance(event, Started):
        eta = f" (about {_minutes(event.eta_s)} left)" if event.eta_s else ""
        kind = "Angle" if event.angle else "Question"
        state.info(f"[bold]{kind} {event.index}/{event.total}[/bold] {escape(event.title)}{eta}")
    elif isinstance(event, Computed):
        failed = " [red]failed[/red]" if event.error else ""
        state.info(f"da: {escape(event.title)} ({event.seconds:.1f} s){failed}")
    elif isinstance(event, compose.Summarizing):
        state.info("[bold]Summary[/bold] the model writes the executive summary")
    else:
        state.show_step(event)


EXAMPLES = examples(
    "da report examples/warehouse.db -o report.pdf",
    "da report sales.xlsx -o r.html -o r.ipynb --angles 2",
    'da report sales.xlsx --question "why did Q3 drop?" > answer.md',
)


def report(
    sources: list[str] = typer.Argument(
        ..., metavar="SOURCE...", help="Data files or folders (CSV, XLSX, SQLite, Parquet, …)."
    ),
    output: list[Path] = typer.Option(
        None,
        "--output",
        "-o",
        metavar="FILE",
        help="Write the report to FILE; its extension picks the format: .html, .pdf, .md "
        "(figures in FILE_files/ beside it) or .ipynb. Repeat for several formats. "
        "Without it, Markdown goes to stdout.",
    ),
    question: str = typer.Option(
        None,
        "--question",
        metavar="TEXT",
        help="Answer this question instead of surveying ('-' reads stdin).",
    ),
    angles: int = typer.Option(
        None,
        "--angles",
        min=0,
        max=8,
        metavar="N",
        help="Findings of a survey the model analyses itself, besides da's own query for "
        "each. " + config.default_note("report.angles"),
    ),
    max_turns: int = typer.Option(
        None,
        "--max-turns",
        min=1,
        metavar="N",
        help="Most model steps per angle (or for the question). "
        + config.default_note("report.max_turns"),
    ),
    max_tokens: int = typer.Option(
        None,
        "--max-tokens",
        min=64,
        metavar="N",
        help="Most generated tokens per angle. " + config.default_note("report.max_tokens"),
    ),
    model: str = MODEL_OPTION,
    timeout: float = typer.Option(
        None,
        "--timeout",
        min=1,
        metavar="SECONDS",
        help="Most seconds for all the analyses together. " + config.default_note("report.timeout"),
    ),
    cell_timeout: float = CELL_TIMEOUT_OPTION,
    memory: int = MEMORY_OPTION,
    emit_script: Path = typer.Option(
        None,
        "--emit-script",
        metavar="FILE",
        help="Also write a standalone Python script that recomputes the report's numbers.",
    ),
) -> None:
    """Survey the data (or answer --question) and write a report: summary, findings backed
    by numbers, figures, method and limitations, the code that ran and the sources'
    sha256 fingerprints.

    Without --question, da computes candidate facts with its own queries (the main
    measure's trend and the periods that break from it, shares, leading entities, averages
    and rates that differ across segments, growth, correlations, data quality), reports the
    ones that matter most with a chart each, has the model analyse the top ones with its
    own code, and has it write the executive summary. Exit codes as for
    `da analyze`; 6 when the time budget or the question's turns ran out (the report is
    still written, marked partial).
    """
    started = time.perf_counter()
    cfg = config.resolve(
        {
            "model": model,
            "report.angles": angles,
            "report.max_turns": max_turns,
            "report.max_tokens": max_tokens,
            "report.timeout": timeout,
            "cell_timeout": cell_timeout,
            "memory": memory,
        }
    )
    outputs = list(output or [])
    reports.check(outputs)
    if emit_script is not None and not emit_script.parent.is_dir():
        raise UsageError(f"The folder of {emit_script} does not exist.")
    if question == "-":
        question = sys.stdin.read()
    if question is not None:
        check_question(question)

    limits = Limits(timeout_s=cfg.cell_timeout, memory_mb=cfg.memory)
    with Session(sources, limits=limits) as session:
        for note in session.catalog.notes:  # what was skipped or read with care, and why
            state.info(f"Note: {escape(note)}")
        planned = compose.plan(session, question, cfg.report_angles, show)
        with (
            state.bytes_progress("Assembling the embedded model") as bar,
            state.console.status("Loading the model…") if not state.quiet else nullcontext(),
        ):
            backend = load_model(
                cfg.model, progress=bar, threads=cfg.threads, gpu_layers=cfg.gpu_layers
            )
        budget = compose.budget(cfg.report_max_turns, cfg.report_max_tokens, cfg.report_timeout)
        try:
            done = compose.run(session, planned, backend, budget, started=started, on_event=show)
        finally:
            backend.close()

    doc, run_dir = done.doc, done.run_dir
    for path in outputs:
        state.wrote(reports.write(doc, path), len(doc.figures))
        print(path)
    if emit_script is not None:
        script.write(doc, emit_script)
        state.info(f"Wrote {escape(str(emit_script))} (python {escape(emit_script.name)})")
        print(emit_script)
    if not outputs:
        print(markdown.text(doc), end="")
    state.info(
        f"{len(doc.findings)} finding(s), {len(doc.figures)} figure(s), {len(doc.cells)} "
        f"cell(s) in {time.perf_counter() - started:.0f} s; run {run_dir.name}"
    )
    if doc.partial:
        raise BudgetExhausted(
            "The budget ran out before the analysis was complete; the report is partial.",
            hint="Raise --timeout or --max-turns for a complete report.",
        )
