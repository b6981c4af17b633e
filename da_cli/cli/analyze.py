"""`da analyze SOURCE... QUESTION`: answer a question from the data."""

import json
import sys
import time
from pathlib import Path

import typer
from rich.markup import escape

from da_cli import api, config, runs
from da_cli.agent.loop import Budget
from da_cli.agent.session import Session, check_question
from da_cli.cli.console import (
    CELL_TIMEOUT_OPTION,
    MEMORY_OPTION,
    MODEL_OPTION,
    VoteWhen,
    examples,
    state,
)
from da_cli.errors import BudgetExhausted, UsageError
from da_cli.models import load_model
from da_cli.sandbox import Limits

EXAMPLES = examples(
    'da analyze examples/sales.xlsx "why did Q3 drop?"',
    'da analyze sales.xlsx "which region grew most?" --json | jq .answer',
    "da analyze warehouse.db - -m ~/models/my.gguf < question.txt",
    'da analyze --continue "and by channel?"',
)


def analyze(
    args: list[str] = typer.Argument(
        ...,
        metavar="SOURCE... QUESTION",
        help="Data files (CSV, XLSX, SQLite, Parquet, …), then the question ('-' reads stdin).",
    ),
    model: str = MODEL_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
    max_turns: int = typer.Option(
        None,
        "--max-turns",
        min=1,
        metavar="N",
        help="Most model steps. " + config.default_note("analyze.max_turns"),
    ),
    max_tokens: int = typer.Option(
        None,
        "--max-tokens",
        min=64,
        metavar="N",
        help="Most generated tokens. " + config.default_note("analyze.max_tokens"),
    ),
    timeout: float = typer.Option(
        None,
        "--timeout",
        min=1,
        metavar="SECONDS",
        help="Most seconds in all. " + config.default_note("analyze.timeout"),
    ),
    cell_timeout: float = CELL_TIMEOUT_OPTION,
    memory: int = MEMORY_OPTION,
    samples: int = typer.Option(
        None,
        "--samples",
        "-k",
        min=1,
        max=8,
        metavar="K",
        help="Analyses run together (one greedy, the rest sampled); the answer is the one "
        "their executed evidence supports best. " + config.default_note("analyze.samples"),
    ),
    vote: VoteWhen = typer.Option(
        None,
        "--vote",
        help="With --samples: run the other analyses always, or only when the greedy "
        "answer is unsure (its last cell failed, the budget forced it, or no output showed "
        "a number it states). " + config.default_note("analyze.vote"),
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
        metavar="FILE",
        help="Also write the result as a report; the extension picks the format: .html, .pdf, "
        ".md or .ipynb (repeat for several).",
    ),
) -> None:
    """Answer QUESTION from the data: the Answer goes to stdout, progress to stderr.

    Exit codes: 0 answered, 2 usage, 3 data, 4 model, 5 sandbox, 6 budget spent (a partial
    answer is still printed), 130 interrupted.
    """
    started = time.perf_counter()
    cfg = config.resolve(
        {
            "model": model,
            "analyze.max_turns": max_turns,
            "analyze.max_tokens": max_tokens,
            "analyze.timeout": timeout,
            "cell_timeout": cell_timeout,
            "memory": memory,
            "analyze.samples": samples,
            "analyze.vote": vote and vote.value,
        }
    )
    previous = None
    if follow_up:
        if len(args) != 1:
            raise UsageError("With --continue, give only the follow-up question.")
        previous = runs.last_state()
        sources, question = previous["sources"], args[0]
    elif len(args) < 2:
        raise UsageError("Give at least one data source and a question.")
    else:
        *sources, question = args
    if question == "-":
        question = sys.stdin.read()
    check_question(question)
    if output:
        from da_cli import report as reports  # the renderers load only when a report is asked

        reports.check(output)  # an unusable output is refused before the analysis runs

    t0 = time.perf_counter()
    limits = Limits(timeout_s=cfg.cell_timeout, memory_mb=cfg.memory)
    session = Session(sources, limits=limits)
    with session, state.activity() as activity:
        for note in session.catalog.notes:  # what was skipped or read with care, and why
            state.info(f"Note: {escape(note)}")
        tables = len(session.catalog.views)
        activity.show(f"profiling {tables} table{'s' if tables != 1 else ''}")
        session.profiles  # noqa: B018  (profile now: bad data fails before the model loads)
        profile_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        activity.show(f"loading model {cfg.model}")
        with state.bytes_progress("Assembling the embedded model") as bar:
            backend = load_model(
                cfg.model, progress=bar, threads=cfg.threads, gpu_layers=cfg.gpu_layers
            )
        load_s = time.perf_counter() - t0

        run_dir = runs.new()
        session.workspace = run_dir / "workspace"
        budget = Budget(
            max_turns=cfg.analyze_max_turns,
            max_tokens=cfg.analyze_max_tokens,
            timeout_s=cfg.analyze_timeout,
        )
        try:
            if previous is not None:
                cells = previous["cells"]
                activity.show(f"running {len(cells)} earlier cells again")
                failed = session.resume(previous, question, backend)
                state.info(
                    f"Continuing the last analysis: {len(cells)} cells run again to restore "
                    "its variables" + (f" ({failed} failed)." if failed else ".")
                )
            else:
                session.start(
                    question, backend, samples=cfg.analyze_samples, vote_when=cfg.analyze_vote
                )
            timings = {"profile_s": profile_s, "load_s": load_s}
            on_step = activity.steps(
                session.transcript, budget.max_turns, samples=len(session.samples)
            )
            result = api.run(
                session, budget, run_dir, started=started, timings=timings, on_step=on_step
            )
        finally:
            backend.close()
    transcript = session.transcript
    assert transcript is not None
    # The answer first: a report that cannot be written must not take the answer with it.
    if as_json:
        print(json.dumps(result.record, indent=2, ensure_ascii=False), flush=True)
    else:
        print(transcript.answer, flush=True)
    if output:
        from da_cli.research import findings

        doc = findings.from_analysis(
            transcript, session.catalog, backend.name, session.answer_workspace
        )
        runs.save_json(run_dir, "report.json", doc.to_dict())
        for path in output:
            state.wrote(reports.write(doc, path), len(doc.figures))
    if transcript.unverified:
        state.console.print(
            f"Warning: the {'partial ' if transcript.partial else ''}answer quotes numbers "
            "that no output showed: " + ", ".join(transcript.unverified[:8]),
            style="yellow",
            markup=False,
        )
    if transcript.partial:
        raise BudgetExhausted(
            f"The budget ran out ({transcript.stop_reason}); the answer above is partial.",
            hint="Raise --max-turns, --max-tokens or --timeout for a complete answer.",
        )
