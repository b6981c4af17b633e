"""`da report SOURCE...`: research the data and write a report (HTML, PDF, Markdown or a
notebook, by the output's extension). Also renders `da analyze -o FILE`."""

import json
import os
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import typer
from rich.markup import escape

from da_cli import report as reports
from da_cli.agent import loop
from da_cli.agent.transcript import Transcript
from da_cli.cli.analyze import new_run_dir
from da_cli.cli.console import state
from da_cli.data.catalog import Catalog, build_catalog
from da_cli.data.profile import profile
from da_cli.errors import BudgetExhausted, DataError, UsageError
from da_cli.models import DEFAULT_MODEL, load_model
from da_cli.report import document, markdown, research, script, survey
from da_cli.report.summary import Summary, summarize
from da_cli.sandbox import Limits, Sandbox

TURN_TOKENS = 512  # most tokens one model step of a report may write


def report(
    sources: list[str] = typer.Argument(
        ..., metavar="SOURCE...", help="Data files or folders (CSV, XLSX, SQLite, Parquet, …)."
    ),
    output: list[Path] = typer.Option(
        None,
        "--output",
        "-o",
        help="Write the report to FILE; its extension picks the format: .html, .pdf, .md "
        "(figures in FILE_files/ beside it) or .ipynb. Repeat for several formats. "
        "Without it, Markdown goes to stdout.",
    ),
    question: str = typer.Option(
        None, "--question", help="Answer this question instead of surveying ('-' reads stdin)."
    ),
    angles: int = typer.Option(4, "--angles", min=1, max=8, help="Angles a survey looks at."),
    max_turns: int = typer.Option(
        4, "--max-turns", min=1, help="Most model steps per angle (or for the question)."
    ),
    max_tokens: int = typer.Option(
        2000, "--max-tokens", min=64, help="Most generated tokens per angle."
    ),
    model: str = typer.Option(
        None,
        "--model",
        "-m",
        envvar="DA_MODEL",
        help=f"Embedded model name, a .gguf path, or replay:PATH. [default: {DEFAULT_MODEL}]",
    ),
    timeout: float = typer.Option(
        None, "--timeout", min=1, help="Most seconds for all the analyses together."
    ),
    cell_timeout: float = typer.Option(60, "--cell-timeout", min=1, help="Most seconds a cell."),
    memory: int = typer.Option(
        8192, "--memory", min=16, help="Address-space limit of the code worker, in MB."
    ),
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

    Without --question, da picks angles from the data profile (a measure by its main
    categories, a trend over a date column, the top entities through a join key), the model
    analyses each with figures, and then writes the executive summary. Exit codes as for
    `da analyze`; 6 when the time budget or the question's turns ran out (the report is
    still written, marked partial).
    """
    started = time.perf_counter()
    outputs = list(output or [])
    reports.check(outputs)
    if emit_script is not None and not emit_script.parent.is_dir():
        raise UsageError(f"The folder of {emit_script} does not exist.")
    if question == "-":
        question = sys.stdin.read()
    if question is not None and not question.strip():
        raise UsageError("The question is empty.")

    catalog = build_catalog(sources)
    profiles = profile(catalog)
    if question is not None:
        analyses = [research.Analysis(title=" ".join(question.split()), question=question)]
    else:
        planned = survey.plan(profiles, angles)
        if not planned:
            raise DataError(
                "da found nothing to survey: no table has a category, a date or a join key.",
                hint='Ask a question instead: da report SOURCE --question "…".',
            )
        analyses = [research.Analysis(a.title, a.question, a) for a in planned]
        state.info("Angles: " + escape("; ".join(a.title for a in planned)))

    with (
        state.bytes_progress("Assembling the embedded model") as bar,
        state.console.status("Loading the model…") if not state.quiet else nullcontext(),
    ):
        backend = load_model(model, progress=bar)

    run_dir = new_run_dir()
    workspace = run_dir / "workspace"
    # A survey step needs one short query; a small model that runs past that is rambling, and
    # on a shared CPU every token costs, so steps are cut shorter than `da analyze` cuts them.
    budget = loop.Budget(max_turns, max_tokens, timeout, turn_tokens=TURN_TOKENS)
    summary: Summary | None = None
    try:
        with Sandbox(catalog, workspace, Limits(timeout_s=cell_timeout, memory_mb=memory)) as box:
            files = [Path(s) for s in catalog.sources]
            for event in research.run(
                analyses, backend, sandbox=box, files=files, profiles=profiles, budget=budget
            ):
                if isinstance(event, research.Started):
                    state.info(
                        f"[bold]{'Angle' if question is None else 'Question'} "
                        f"{event.index}/{event.total}[/bold] {escape(event.title)}"
                    )
                else:
                    state.show_step(event)
        if question is not None:
            assert analyses[0].transcript is not None
            doc = document.from_analysis(analyses[0].transcript, catalog, backend.name, workspace)
        else:
            state.info("[bold]Summary[/bold] the model writes the executive summary")
            outputs_seen = [o for a in analyses for o in a.outputs]
            points = document.summary_points(analyses, workspace)
            subject = ", ".join(Path(s).name for s in catalog.sources)
            summary = summarize(backend, subject, points, outputs_seen)
            doc = document.from_survey(
                analyses, summary, catalog, backend.name, workspace, max_turns
            )
    finally:
        backend.close()

    save_run(run_dir, doc, analyses, time.perf_counter() - started, summary)
    for path in outputs:
        written = write(doc, path)
        print(written.path)
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


def write(doc: document.Report, path: Path) -> reports.Written:
    """Render one output and say on stderr what was written."""
    written = reports.write(doc, path)
    detail = [f"{len(doc.figures)} figure(s)"]
    if written.pages is not None:
        detail.insert(0, f"{written.pages} page(s)")
    if written.extra:
        detail.append(f"figures in {written.extra[0].parent.name}/")
    state.info(f"Wrote {escape(str(path))} ({', '.join(detail)})")
    return written


def check_outputs(outputs: list[Path] | None) -> None:
    """For `da analyze -o`: refuse an unusable output before the analysis runs."""
    reports.check(list(outputs or []))


def write_analysis(
    outputs: list[Path] | None, t: Transcript, catalog: Catalog, model: str, run_dir: Path
) -> None:
    """For `da analyze -o`: the single question's result, rendered like a report."""
    if not outputs:
        return
    doc = document.from_analysis(t, catalog, model, run_dir / "workspace")
    _save_json(run_dir, doc)
    for path in outputs:
        write(doc, path)


def _save_json(run_dir: Path, doc: document.Report) -> None:
    """The report model itself, kept with the run so it can be rendered again."""
    path = run_dir / "report.json"
    path.write_text(json.dumps(doc.to_dict(), indent=1, ensure_ascii=False), encoding="utf-8")
    os.chmod(path, 0o600)


def usage(analyses: list[research.Analysis]) -> dict:
    """Model and sandbox use over all the analyses (the summary's generation not included)."""
    ts = [a.transcript.usage for a in analyses if a.transcript]
    return {
        "generations": sum(u.generations for u in ts),
        "prompt_tokens": sum(u.prompt_tokens for u in ts),
        "completion_tokens": sum(u.completion_tokens for u in ts),
        "model_s": round(sum(u.model_seconds for u in ts), 3),
        "sandbox_s": round(sum(u.sandbox_seconds for u in ts), 3),
    }


def save_run(
    run_dir: Path,
    doc: document.Report,
    analyses: list[research.Analysis],
    seconds: float,
    summary: Summary | None,
) -> None:
    """Like `da analyze`: transcript.jsonl (a header, then every step, tagged with its
    analysis) so `da history` lists reports too; and report.json."""
    header = {
        "schema": doc.schema,
        "question": doc.question or doc.title,
        "sources": [s.path for s in doc.sources],
        "model": doc.model,
        "answer": doc.summary,
        "partial": doc.partial,
        "angles": [a.title for a in analyses],
        "figures": [f.path for f in doc.figures],
        "usage": usage(analyses),
        "timings": {"total_s": round(seconds, 3)},
    }
    if summary is not None:
        header["summary"] = {
            "by": summary.by,
            "attempts": summary.attempts,
            "completion_tokens": summary.completion_tokens,
            "seconds": round(summary.seconds, 3),
        }
    with (run_dir / "transcript.jsonl").open("w", encoding="utf-8") as f:
        f.write(json.dumps(header, ensure_ascii=False) + "\n")
        for i, a in enumerate(analyses, 1):
            steps = [s.to_dict() for s in (a.transcript.steps if a.transcript else [])]
            for c in a.da_cells:  # da's own cells, marked as such
                steps += [{"kind": "code", "text": c.code, "by": "da"}, c.step.to_dict()]
            for s in steps:
                f.write(json.dumps({"analysis": i, **s}, ensure_ascii=False) + "\n")
    os.chmod(run_dir / "transcript.jsonl", 0o600)
    _save_json(run_dir, doc)
