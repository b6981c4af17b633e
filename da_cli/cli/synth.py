"""`da synth SOURCE... -o data.jsonl`: training data grounded in your own tables."""

import json
import os
from collections import Counter
from enum import StrEnum
from pathlib import Path

import typer

from da_cli.agent import loop
from da_cli.cli.console import examples, state
from da_cli.errors import UsageError
from da_cli.models import DEFAULT_MODEL, load_model
from da_cli.models.base import Model
from da_cli.sandbox import Limits
from da_cli.synth import guard, pipeline, record
from da_cli.synth.questions import Question

TASK_SCHEMA = "da.synth.task/1"


class Kind(StrEnum):
    qa = "qa"
    research = "research"
    code = "code"
    understand = "understand"


EXAMPLES = examples(
    "da synth examples/sales.xlsx -o trajectories.jsonl --n 20",
    "da synth examples/warehouse.db --kind research -o research.jsonl",
    "da synth data/ --questions-only -o tasks.jsonl",
    "da synth data/ --questions-only -o more.jsonl --exclude tasks.jsonl --seed 1",
)


def synth(
    sources: list[str] = typer.Argument(
        ..., metavar="SOURCE...", help="Data files (CSV, XLSX, SQLite, Parquet, …) or folders."
    ),
    output: Path = typer.Option(
        ...,
        "--output",
        "-o",
        help="Accepted items, one JSON line each; the held-out split goes beside it "
        "(NAME.heldout.jsonl).",
    ),
    n: int = typer.Option(
        20, "--n", "-n", min=1, help="Questions to try (understand: tables to describe)."
    ),
    kind: Kind = typer.Option(
        Kind.qa,
        "--kind",
        help="qa: closed questions, solved and checked against the label; research: open "
        "questions checked for key facts; code, understand: stage-1 items written without a "
        "model.",
    ),
    model: str = typer.Option(
        None,
        "--model",
        "-m",
        envvar="DA_MODEL",
        help=f"The solver (qa, research): a model as for da analyze. [default: {DEFAULT_MODEL}]",
    ),
    teacher: str = typer.Option(
        None,
        "--teacher",
        help="A model that rewords the template questions (e.g. openai:URL#NAME); a rewording "
        "that drops a name or value is not used.",
    ),
    seed: int = typer.Option(0, "--seed", help="Which questions are tried, and the split."),
    together: bool = typer.Option(
        False,
        "--together",
        help="Treat all sources as one dataset: questions may join across them, and every "
        "prompt shows them all (default: one dataset per source argument).",
    ),
    heldout: float = typer.Option(
        0.1, "--heldout", min=0.0, max=0.9, help="Share of items held out, by question template."
    ),
    max_turns: int = typer.Option(8, "--max-turns", min=1, help="Most model steps a question."),
    max_tokens: int = typer.Option(4000, "--max-tokens", min=64, help="Most tokens a question."),
    timeout: float = typer.Option(180, "--timeout", min=1, help="Most seconds a question."),
    cell_timeout: float = typer.Option(30, "--cell-timeout", min=1, help="Most seconds a cell."),
    attempts: int = typer.Option(
        1,
        "--attempts",
        min=1,
        help="Analyses a question may get (qa, research): the first greedy, the others "
        "sampled, until the inspector accepts one.",
    ),
    questions_only: bool = typer.Option(
        False,
        "--questions-only",
        help="Write the questions with their labels and checklists, unsolved (GRPO tasks).",
    ),
    keep_rejected: bool = typer.Option(
        False, "--keep-rejected", help="Also write rejected items to NAME.rejected.jsonl."
    ),
    exclude: list[Path] = typer.Option(
        None,
        "--exclude",
        metavar="FILE",
        help="Questions written before (tasks or trajectories, repeatable) not to ask again: "
        "the same words or the same reference query on the same data. For a fresh "
        "evaluation set, or GRPO tasks apart from the SFT ones.",
    ),
    allow_eval_data: bool = typer.Option(
        False,
        "--allow-eval-data",
        help="Do not refuse DABench evaluation tables as sources.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON on stdout."),
) -> None:
    """Synthesize training data from the sources: questions from the data profile with
    labels computed by SQL, solved by the agent, kept only if their checklist holds.

    Writes chat-messages JSON Lines that `da train` reads; a summary (accept rate, turns,
    tokens) goes to stderr, or to stdout as JSON with --json.
    """
    if output.is_dir():
        raise UsageError(f"{output} is a directory; give a file name such as data.jsonl.")
    if exclude and kind == Kind.understand:
        raise UsageError("--exclude skips questions; --kind understand asks none.")
    settings = pipeline.Settings(
        kind=kind.value,
        n=n,
        seed=seed,
        together=together,
        check_eval=not allow_eval_data,
        budget=loop.Budget(max_turns=max_turns, max_tokens=max_tokens, timeout_s=timeout),
        limits=Limits(timeout_s=cell_timeout),
        attempts=attempts,
        exclude=guard.excluded(exclude or []),
    )
    if settings.check_eval:
        pipeline.check_sources(sources)  # before any model loads
    needs_solver = kind in (Kind.qa, Kind.research) and not questions_only
    teacher_model = _load(teacher) if teacher and kind != Kind.understand else None
    solver = None
    if needs_solver:
        solver = teacher_model if teacher == (model or DEFAULT_MODEL) else _load(model)
    try:
        if questions_only:
            _questions_only(sources, settings, teacher_model, output, heldout, as_json)
        else:
            _synthesize(sources, settings, solver, teacher_model, output, heldout, as_json,
                        keep_rejected)  # fmt: skip
    finally:
        for m in {id(x): x for x in (solver, teacher_model) if x is not None}.values():
            m.close()


def _load(spec: str | None) -> Model:
    with state.console.status("Loading the model…") if not state.quiet else _nothing():
        return load_model(spec)


def _nothing():
    from contextlib import nullcontext

    return nullcontext()


def _synthesize(
    sources: list[str],
    settings: pipeline.Settings,
    solver: Model | None,
    teacher: Model | None,
    output: Path,
    heldout: float,
    as_json: bool,
    keep_rejected: bool,
) -> None:
    outcomes: list[record.Outcome] = []
    plans: list[pipeline.Plan] = []
    bar = state.count_progress("Synth")
    task = bar.add_task("", total=None)

    def on_plan(plan: pipeline.Plan) -> None:
        plans.append(plan)
        _say_plan(plan, settings)
        bar.update(task, total=sum(len(p.questions) for p in plans))

    interrupted = False
    with bar:
        try:
            for o in pipeline.run(
                sources, settings, model=solver, teacher=teacher, on_plan=on_plan
            ):
                outcomes.append(o)
                kept = sum(x.verdict.accepted for x in outcomes)
                bar.update(task, advance=1, description=f"{kept} accepted")
        except KeyboardInterrupt:
            interrupted = True  # keep what was done, then stop with 130
    name = solver.name if solver is not None else "none (written from the data)"
    written, duplicates = _write(outcomes, name, output, heldout, settings.seed, keep_rejected)
    dropped: Counter = Counter()
    for p in plans:
        dropped.update(p.dropped)
    stats = record.summary(
        outcomes,
        kind=settings.kind,
        model=name,
        teacher=teacher.name if teacher is not None else None,
        seed=settings.seed,
        candidates=sum(p.candidates for p in plans),
        dropped=dict(dropped),
        reworded=sum(p.reworded for p in plans),
        duplicates=duplicates,
        written=written,
    )
    _say_summary(stats)
    if as_json:
        print(json.dumps(stats, indent=2, ensure_ascii=False))
    else:
        print(output)
    if interrupted:
        raise KeyboardInterrupt


def _write(
    outcomes: list[record.Outcome],
    model: str,
    output: Path,
    heldout: float,
    seed: int,
    keep_rejected: bool,
) -> tuple[dict, int]:
    """The accepted records, deduped and split, (and the rejected ones); what went where."""
    rows = [record.record(o, out_dir=output.resolve().parent, model=model) for o in outcomes]
    accepted, duplicates = record.dedupe([r for r in rows if r["accepted"]])
    train, held = record.split(accepted, heldout, seed)
    record.write_jsonl(output, train)
    written: dict = {"train": len(train), "heldout": len(held), "output": str(output)}
    held_path = record.heldout_path(output)
    if held or held_path.exists():  # never leave an older run's held-out file beside this one
        record.write_jsonl(held_path, held)
        written["heldout_output"] = str(held_path)
    if keep_rejected:
        record.write_jsonl(record.rejected_path(output), [r for r in rows if not r["accepted"]])
        written["rejected_output"] = str(record.rejected_path(output))
    return written, duplicates


def _questions_only(
    sources: list[str],
    settings: pipeline.Settings,
    teacher: Model | None,
    output: Path,
    heldout: float,
    as_json: bool,
) -> None:
    if settings.kind == Kind.understand:
        raise UsageError("--questions-only needs --kind qa, research or code.")
    plan = pipeline.plan_questions(sources, settings, teacher=teacher)
    _say_plan(plan, settings)
    out_dir = output.resolve().parent
    rows = [_task(q, out_dir) for q in plan.questions]
    train, held = record.split(rows, heldout, settings.seed)
    record.write_jsonl(output, train)
    if held:
        record.write_jsonl(record.heldout_path(output), held)
    stats = {
        "schema": record.STATS_SCHEMA,
        "kind": settings.kind,
        "questions": len(rows),
        "candidates": plan.candidates,
        "dropped": dict(plan.dropped),
        "reworded": plan.reworded,
        "written": {"train": len(train), "heldout": len(held), "output": str(output)},
    }
    state.info(f"Wrote {len(train)} questions to {output} and {len(held)} held out.")
    print(json.dumps(stats, indent=2) if as_json else output)


def _task(q: Question, out_dir: Path) -> dict:
    """A question as `da train stage2 --tasks` reads it, with its checklist."""
    return {
        "schema": TASK_SCHEMA,
        "kind": q.kind,
        "template": q.template,
        "group": q.group,
        "question": q.text,
        **({"original_question": q.original} if q.original else {}),
        "files": [os.path.relpath(f, out_dir) for f in q.files],
        "tables": q.tables,
        "params": q.params,
        "reference": [q.reference] if q.kind == "qa" else None,
        "reference_sql": q.sql,
        "checklist": [c.to_dict() for c in q.checklist],
    }


def _say_plan(plan: pipeline.Plan, settings: pipeline.Settings) -> None:
    dropped = sum(plan.dropped.values())
    parts = [f"{len(plan.questions)} {settings.kind} items to try"]
    if plan.candidates:
        parts.append(f"from {plan.candidates} candidates")
    if dropped:
        why = "; ".join(f"{k}: {v}" for k, v in plan.dropped.items())
        parts.append(f"({dropped} dropped: {why})")
    if plan.reworded:
        parts.append(f"{plan.reworded} reworded by the teacher")
    state.info(" ".join(parts) + ".")


def _say_summary(s: dict) -> None:
    if state.quiet:
        return
    rate = f"{100 * s['accept_rate']:.0f} %" if s["accept_rate"] is not None else "n/a"
    w = s["written"]
    lines = [
        f"accepted: {s['accepted']}/{s['tried']} ({rate}); written: {w['train']} to "
        f"{w['output']}, {w['heldout']} held out"
        + (f", {s['duplicates']} duplicates dropped" if s["duplicates"] else ""),
        f"turns: {s['turns']['mean']} mean ({s['turns']['mean_accepted']} when accepted); "
        f"tokens: {s['tokens']['completion']:,} generated, {s['tokens']['prompt']:,} prompt "
        "evaluated",
        f"time: {s['seconds']['total']} s ({s['seconds']['mean']} s an item)",
    ]
    a = s["attempts"]
    if a["total"] > s["tried"]:
        lines.append(
            f"attempts: {a['total']} analyses; {a['accepted_on_a_later_attempt']} accepted "
            "after the first"
        )
    if s["rejected_by"]:
        lines.append("rejected by: " + ", ".join(f"{k} {v}" for k, v in s["rejected_by"].items()))
    if s["tried"] and not s["accepted"]:
        lines.append("Nothing was accepted; --keep-rejected writes the rejected items, with why.")
    for line in lines:
        state.console.print(line, markup=False, highlight=False, soft_wrap=True)
