"""`da analyze SOURCE... QUESTION`: answer a question from the data."""

import json
import os
import sys
import time
import uuid
from contextlib import nullcontext
from pathlib import Path

import typer

from da_cli import paths
from da_cli.agent import analysis, loop
from da_cli.agent.transcript import Transcript
from da_cli.cli.console import state
from da_cli.data.catalog import Catalog
from da_cli.errors import BudgetExhausted, UsageError
from da_cli.models import DEFAULT_MODEL, load_model
from da_cli.sandbox import Limits, Sandbox

SCHEMA = "da.analyze/1"


def analyze(
    args: list[str] = typer.Argument(
        ...,
        metavar="SOURCE... QUESTION",
        help="Data files (CSV, XLSX, SQLite, Parquet, …), then the question ('-' reads stdin).",
    ),
    model: str = typer.Option(
        None,
        "--model",
        "-m",
        envvar="DA_MODEL",
        help=f"Embedded model name, a .gguf path, or replay:PATH. [default: {DEFAULT_MODEL}]",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
    max_turns: int = typer.Option(10, "--max-turns", min=1, help="Most model steps."),
    max_tokens: int = typer.Option(6000, "--max-tokens", min=64, help="Most generated tokens."),
    timeout: float = typer.Option(None, "--timeout", min=1, help="Most seconds in all."),
    cell_timeout: float = typer.Option(60, "--cell-timeout", min=1, help="Most seconds a cell."),
    memory: int = typer.Option(
        8192, "--memory", min=16, help="Address-space limit of the code worker, in MB."
    ),
    follow_up: bool = typer.Option(
        False,
        "--continue",
        help="Ask a follow-up in the last analysis: its sources, transcript and variables.",
    ),
    output: list[Path] = typer.Option(
        None,
        "--output",
        "-o",
        help="Also write the result as a report; the extension picks the format: .html, .pdf, "
        ".md or .ipynb (repeat for several).",
    ),
) -> None:
    """Answer QUESTION from the data: the Answer goes to stdout, progress to stderr.

    Exit codes: 0 answered, 2 usage, 3 data, 4 model, 5 sandbox, 6 budget spent (a partial
    answer is still printed), 130 interrupted.
    """
    started = time.perf_counter()
    previous = None
    if follow_up:
        if len(args) != 1:
            raise UsageError("With --continue, give only the follow-up question.")
        previous = last_state()
        sources, question = previous["sources"], args[0]
    elif len(args) < 2:
        raise UsageError("Give at least one data source and a question.")
    else:
        *sources, question = args
    if question == "-":
        question = sys.stdin.read()
    if not question.strip():
        raise UsageError("The question is empty.")
    if output:
        from da_cli.cli import report  # the renderers load only when a report is asked for

        report.check_outputs(output)

    t0 = time.perf_counter()
    catalog, transcript = analysis.prepare(sources, question)
    profile_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    with (
        state.bytes_progress("Assembling the embedded model") as bar,
        state.console.status("Loading the model…") if not state.quiet else nullcontext(),
    ):
        backend = load_model(model, progress=bar)
    load_s = time.perf_counter() - t0

    if backend.native:
        catalog, transcript = analysis.prepare(sources, question, native=True)
    if previous is not None:
        transcript = loop.follow_up(previous, question)
    run_dir = new_run_dir()
    budget = loop.Budget(max_turns=max_turns, max_tokens=max_tokens, timeout_s=timeout)
    try:
        with Sandbox(
            catalog, run_dir / "workspace", Limits(timeout_s=cell_timeout, memory_mb=memory)
        ) as sandbox:
            if previous is not None:
                restore(sandbox, previous["cells"])
            for step in loop.run(transcript, backend, sandbox, budget):
                state.show_step(step)
    finally:
        backend.close()
    total_s = time.perf_counter() - started
    record = result_record(
        transcript,
        catalog,
        backend.name,
        run_dir,
        {"total_s": total_s, "profile_s": profile_s, "load_s": load_s},
    )
    save_transcript(run_dir, record)
    save_state(run_dir, transcript, sources)
    if output:
        report.write_analysis(output, transcript, catalog, backend.name, run_dir)
    if as_json:
        print(json.dumps(record, indent=2, ensure_ascii=False))
    else:
        print(transcript.answer)
    if transcript.unverified:
        state.console.print(
            "Warning: the partial answer quotes numbers that no output showed: "
            + ", ".join(transcript.unverified[:8]),
            style="yellow",
            markup=False,
        )
    if transcript.partial:
        raise BudgetExhausted(
            f"The budget ran out ({transcript.stop_reason}); the answer above is partial.",
            hint="Raise --max-turns, --max-tokens or --timeout for a complete answer.",
        )


def save_state(run_dir: Path, t: Transcript, sources: list[str]) -> None:
    """What `--continue` needs: the sources as given (a directory or glob is expanded again),
    the conversation, and the cells that ran cleanly, to rebuild the variables."""
    cells = []
    for code, result in zip(t.steps, t.steps[1:], strict=False):
        if code.kind == "code" and result.kind == "execute" and not result.error:
            cells.append(code.text)
    state_ = {
        "sources": [str(Path(s).expanduser().resolve()) for s in sources],
        "question": t.question,
        "messages": t.messages,
        "continuation": t.continuation,
        "native": t.native,
        "cells": cells,
    }
    (run_dir / "state.json").write_text(json.dumps(state_, ensure_ascii=False), encoding="utf-8")


def last_state() -> dict:
    runs = sorted((paths.data_dir() / "runs").glob("*/state.json"))
    if not runs:
        raise UsageError("There is no earlier analysis to continue.")
    return json.loads(runs[-1].read_text(encoding="utf-8"))


def restore(sandbox: Sandbox, cells: list[str]) -> None:
    """Run the last analysis's clean cells again, so its variables exist in this worker."""
    failed = sum(not sandbox.run(code).ok for code in cells)
    state.info(
        f"Continuing the last analysis: {len(cells)} cells run again to restore its variables"
        + (f" ({failed} failed)." if failed else ".")
    )


def new_run_dir() -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_dir = paths.data_dir() / "runs" / f"{stamp}-{uuid.uuid4().hex[:6]}"
    run_dir.mkdir(parents=True)
    return run_dir


def result_record(
    t: Transcript, catalog: Catalog, model_name: str, run_dir: Path, timings: dict
) -> dict:
    u = t.usage
    workspace = run_dir / "workspace"
    figures = [str(workspace / f) for s in t.steps for f in s.figures]
    return {
        "schema": SCHEMA,
        "question": t.question,
        "sources": catalog.sources,
        "model": model_name,
        "answer": t.answer,
        "partial": t.partial,
        "stop_reason": t.stop_reason,
        "unverified_numbers": t.unverified,
        "turns": [s.to_dict() for s in t.steps],
        "code": t.code,
        "figures": figures,
        "workspace": str(workspace),
        "usage": {
            "generations": u.generations,
            "prompt_tokens": u.prompt_tokens,
            "completion_tokens": u.completion_tokens,
            "format_failures": u.format_failures,
            "budget_cuts": u.budget_cuts,
        },
        "timings": {
            **{k: round(v, 3) for k, v in timings.items()},
            "model_s": round(u.model_seconds, 3),
            "sandbox_s": round(u.sandbox_seconds, 3),
        },
    }


def save_transcript(run_dir: Path, record: dict) -> None:
    """The run as JSON Lines: a header object, then one line per step."""
    header = {k: v for k, v in record.items() if k != "turns"}
    with (run_dir / "transcript.jsonl").open("w", encoding="utf-8") as f:
        f.write(json.dumps(header, ensure_ascii=False) + "\n")
        for turn in record["turns"]:
            f.write(json.dumps(turn, ensure_ascii=False) + "\n")
    os.chmod(run_dir / "transcript.jsonl", 0o600)
