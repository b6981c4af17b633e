"""The Python API: what a notebook or another tool calls instead of the command line.

    from da_cli import analyze
    result = analyze(["sales.xlsx"], "Which region sold the most?")
    print(result.answer, result.partial, result.usage.completion_tokens)

`analyze` runs exactly what `da analyze` runs (the same `Session`), stores the run where
`da history` and `da analyze --continue` find it, and returns a typed `Result`. For finer
control (several questions in one worker, follow-ups, your own cells) open a
`da_cli.Session` yourself.
"""

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from da_cli import config, runs
from da_cli.agent.loop import Budget
from da_cli.agent.session import Session, check_question
from da_cli.agent.transcript import Step, Usage
from da_cli.models import load_model
from da_cli.models.base import Model
from da_cli.sandbox import Limits

if TYPE_CHECKING:  # the report's parts load only when a report is asked
    from da_cli.research import compose


@dataclass
class Result:
    """One analysis's outcome. `record` is the same object `da analyze --json` prints."""

    question: str
    answer: str | None
    partial: bool  # a budget ran out and the model was made to answer from what it had
    stop_reason: str | None
    steps: list[Step]
    code: list[str]
    figures: list[Path]
    usage: Usage
    unverified: list[str]  # numbers of the answer no output showed (it stood unchecked)
    model: str
    run_dir: Path | None
    record: dict = field(repr=False)


def run(
    session: Session,
    budget: Budget,
    run_dir: Path | None,
    *,
    started: float,
    timings: dict | None = None,
    on_step: Callable[[Step], None] | None = None,
) -> Result:
    """Run the analysis `session` has started to its Answer, recorded step by step in
    `run_dir` (None: not stored), so an interrupt or a failure still leaves its transcript
    and `--continue` state, marked with how it ended. `started`: `time.perf_counter()` when
    the whole command began; `timings`: other phases' seconds for the record."""
    t, model = session.transcript, session.model
    assert t is not None and model is not None, "run() needs a started analysis"
    recorder = None
    if run_dir is not None:
        header = {
            "schema": runs.SCHEMA,
            "question": t.question,
            "sources": session.catalog.sources,
            "model": model.name,
        }
        recorder = runs.Recorder(run_dir, header)
    try:
        for step in session.run(budget):
            if recorder is not None:
                recorder.step(step.to_dict())
            if on_step is not None:
                on_step(step)
    except BaseException as e:
        if recorder is not None and run_dir is not None:
            interrupted = isinstance(e, KeyboardInterrupt)
            recorder.end(
                "interrupted" if interrupted else "failed", None if interrupted else str(e)
            )
            runs.save_state(run_dir, t, session.sources)
        raise
    t = session.transcript  # several analyses: the one the vote chose
    assert t is not None
    rec = runs.record(
        t,
        session.catalog,
        model.name,
        session.answer_workspace,
        {"total_s": time.perf_counter() - started, **(timings or {})},
    )
    if recorder is not None and run_dir is not None:
        recorder.finish(rec)
        runs.save_state(run_dir, t, session.sources)
    return Result(
        question=t.question,
        answer=t.answer,
        partial=t.partial,
        stop_reason=t.stop_reason,
        steps=list(t.steps),
        code=t.code,
        figures=[Path(f) for f in rec["figures"]],
        usage=t.usage,
        unverified=list(t.unverified),
        model=model.name,
        run_dir=run_dir,
        record=rec,
    )


def analyze(
    sources: list[str | Path] | str | Path,
    question: str,
    *,
    model: Model | str | None = None,
    budget: Budget | None = None,
    limits: Limits | None = None,
    save: bool = True,
    samples: int = 1,
    vote: str = "always",
    on_step: Callable[[Step], None] | None = None,
) -> Result:
    """Answer `question` from `sources` (files, folders or globs; read-only).

    `model`: a loaded backend (reused, not closed) or a `--model` string (an embedded name,
    a .gguf path, `openai:URL#NAME`, `replay:PATH`; None: the default model), loaded and
    closed here. `budget`/`limits`: as `da analyze`'s flags (its defaults when None).
    `save`: store the run (its figures stay in the run's workspace; unsaved, they are
    removed with the session). `samples`, `vote`: as `--samples` and `--vote`, analyses
    voted by evidence (the record's `agreement` says how many agreed). `on_step` hears each
    step as the loop yields it.
    Raises the `da_cli.errors.DaError` subclasses the CLI maps to exit codes; a spent
    budget is not an error here: the result is marked `partial`."""
    started = time.perf_counter()
    check_question(question)
    paths = [str(s) for s in ([sources] if isinstance(sources, str | Path) else sources)]
    with Session(paths, limits=limits) as session:
        session.profiles  # noqa: B018  (bad data fails before a slow model load)
        backend = model if model is not None and not isinstance(model, str) else load_model(model)
        try:
            run_dir = runs.new() if save else None
            if run_dir is not None:
                session.workspace = run_dir / "workspace"
            session.start(question, backend, samples=samples, vote_when=vote)
            return run(session, budget or Budget(), run_dir, started=started, on_step=on_step)
        finally:
            if backend is not model:
                backend.close()


def build_report(
    sources: list[str | Path] | str | Path,
    question: str | None = None,
    *,
    outputs: Sequence[str | Path] = (),
    model: Model | str | None = None,
    angles: int | None = None,
    budget: Budget | None = None,
    limits: Limits | None = None,
    on_event: "Callable[[compose.Event], None] | None" = None,
) -> "compose.Composed":
    """What `da report` builds: a survey of `sources` (or the answer to `question`) as a
    document, stored as a run, and written to each of `outputs` (.html, .pdf, .md or
    .ipynb, by extension). Returns the document (`.doc`), the analyses, the summary and the
    run's folder.

    `model`: as for `analyze`. `angles`: survey findings the model analyses itself (None:
    `da report`'s default). `budget`: per analysis, its `timeout_s` for all of them (None:
    `da report`'s defaults). `on_event` hears the progress events `da report` shows.
    Raises the `da_cli.errors.DaError` subclasses the CLI maps to exit codes; a spent
    budget is not an error here: the document is marked `partial`."""
    started = time.perf_counter()
    if question is not None:
        check_question(question)
    paths = [str(s) for s in ([sources] if isinstance(sources, str | Path) else sources)]
    import da_cli.report as reports
    from da_cli.research import compose

    written = [Path(o) for o in outputs]
    reports.check(written)  # an unusable output is refused before the analyses run

    def default(name: str) -> Any:
        return config.check_key(name).default

    if budget is None:
        budget = compose.budget(
            default("report.max_turns"), default("report.max_tokens"), default("report.timeout")
        )
    hear = on_event or (lambda e: None)
    with Session(paths, limits=limits) as session:
        n = default("report.angles") if angles is None else angles
        planned = compose.plan(session, question, n, hear)
        backend = model if model is not None and not isinstance(model, str) else load_model(model)
        try:
            done = compose.run(session, planned, backend, budget, started=started, on_event=hear)
        finally:
            if backend is not model:
                backend.close()
    for path in written:
        reports.write(done.doc, path)
    return done
