"""`da eval dabench`: accuracy on InfiAgent-DABench through the normal agent loop; `da eval
compare`: two runs of the same questions, paired."""

import json
import re
from contextlib import nullcontext
from pathlib import Path

import typer

from da_cli import config, paths
from da_cli.agent import loop
from da_cli.cli.console import MODEL_OPTION, VoteWhen, examples, guarded, state
from da_cli.errors import UsageError
from da_cli.eval import compare as compare_
from da_cli.eval import results
from da_cli.eval import tasks as tasks_module
from da_cli.eval.dabench import LEVELS, load_tasks
from da_cli.eval.run import Setup, reformat, run_task, summarize
from da_cli.eval.run import rescore as rescore_record
from da_cli.models import load_model
from da_cli.models.base import Model
from da_cli.sandbox import Limits

_EXAMPLES = examples(
    "da eval dabench --data ../shared/eval/dabench-dev",
    "da eval dabench --data DIR -o runs.jsonl --rescore",
    "da eval tasks heldout.jsonl -o before.jsonl",
    "da eval compare before.jsonl after.jsonl",
)
app = typer.Typer(
    help="Measure accuracy on evaluation sets.", no_args_is_help=True, epilog=_EXAMPLES
)


# Options both evaluations take: by default `da analyze`'s budget, samples and model, so a
# score is what a user gets.
MODEL = MODEL_OPTION
OUTPUT = typer.Option(
    None, "--output", "-o", help="Results, one JSON line per question (resumable)."
)
# A tighter token budget (not a timeout) is the way to a cheaper run whose score does not
# depend on how busy the machine is; say which one a figure used.
MAX_TURNS = typer.Option(
    None,
    "--max-turns",
    min=1,
    metavar="N",
    help="Most model steps a question. " + config.default_note("eval.max_turns"),
)
MAX_TOKENS = typer.Option(
    None,
    "--max-tokens",
    min=64,
    metavar="N",
    help="Most tokens a question. " + config.default_note("eval.max_tokens"),
)
TIMEOUT = typer.Option(
    None,
    "--timeout",
    min=1,
    metavar="SECONDS",
    help="Most seconds a question (a safety net). " + config.default_note("eval.timeout"),
)
CELL_TIMEOUT = typer.Option(
    None,
    "--cell-timeout",
    min=1,
    metavar="SECONDS",
    help="Most seconds a cell. " + config.default_note("eval.cell_timeout"),
)
SAMPLES = typer.Option(
    None,
    "--samples",
    "-k",
    min=1,
    max=8,
    metavar="K",
    help="Analyses a question, decoded together and voted by their evidence. "
    + config.default_note("eval.samples"),
)
VOTE = typer.Option(
    None,
    "--vote",
    help="With --samples: run the other analyses always, or only when the greedy answer "
    "is unsure. " + config.default_note("eval.vote"),
)


_DABENCH = examples(
    "da eval dabench --data ../shared/eval/dabench-dev",
    "da eval dabench --data DIR --limit 20 -m qwen2.5-coder-1.5b",
    "da eval dabench --data DIR -o runs.jsonl --rescore",
    "da eval dabench --data DIR -o runs.jsonl --reformat -m qwen2.5-coder-1.5b",
)
_TASKS = examples(
    "da eval tasks heldout.jsonl -o before.jsonl",
    "da eval tasks heldout.jsonl -m my.gguf -o after.jsonl --json",
    "da eval tasks heldout.jsonl -o before.jsonl --rescore",
)
_COMPARE = examples(
    "da eval compare before.jsonl after.jsonl",
    "da eval compare base.jsonl k4.jsonl --json",
)


@app.command("dabench", epilog=_DABENCH)
@guarded
def dabench(
    data: Path = typer.Option(
        ..., "--data", envvar="DA_DABENCH", help="DABench dir (questions.jsonl, labels.jsonl)."
    ),
    limit: int = typer.Option(None, "--limit", min=1, help="Only the first N questions."),
    level: str = typer.Option(None, "--level", help="Only easy, medium or hard questions."),
    model: str = MODEL,
    output: Path = OUTPUT,
    max_turns: int = MAX_TURNS,
    max_tokens: int = MAX_TOKENS,
    timeout: float = TIMEOUT,
    cell_timeout: float = CELL_TIMEOUT,
    samples: int = SAMPLES,
    vote: VoteWhen = VOTE,
    no_grammar: bool = typer.Option(
        False, "--no-grammar", help="Decode without the protocol grammar (to measure it)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON on stdout."),
    rescore: bool = typer.Option(
        False, "--rescore", help="Score the output file's answers again; run no model."
    ),
    reformat: bool = typer.Option(
        False,
        "--reformat",
        help="Run the format step of the output file's analyses again with this build's "
        "format grammar (the model writes only the @name[value] lines), and score them.",
    ),
) -> None:
    """Run the agent on every DABench question and score it by the official rule.

    Questions already in the output file are skipped, so an interrupted run resumes.
    Only the eval.* settings change its budget (not analyze.*), so the score stays
    comparable with the README's."""
    cfg = _settings(model, max_turns, max_tokens, timeout, cell_timeout, samples, vote)
    if level and level not in LEVELS:
        raise UsageError(f"--level must be one of {', '.join(LEVELS)}, not '{level}'.")
    tasks = load_tasks(data, level=level, limit=limit)
    if rescore and reformat:
        raise UsageError("Give --rescore or --reformat, not both.")
    if reformat and no_grammar:
        raise UsageError("--reformat runs the format step, which needs the grammar.")
    if rescore or reformat:
        flag = "--rescore" if rescore else "--reformat"
        if output is None or not output.is_file():
            raise UsageError(f"{flag} needs the results file to score again (-o FILE).")
    if rescore:
        _report(_rescore(output, tasks), model=model, grammar=None, output=output, as_json=as_json)
        return
    backend = load_model(cfg.model, threads=cfg.threads, gpu_layers=cfg.gpu_layers)
    if reformat:
        try:
            _check_reformat(output, backend)
            records = _rescore(output, tasks, backend)
        finally:
            backend.close()
        _report(records, model=backend.name, grammar=True, output=output, as_json=as_json)
        return
    if no_grammar:
        backend.supports_grammar = False
    name = re.sub(r"[^\w.-]+", "_", backend.name)
    output = output or paths.data_dir() / "evals" / f"dabench-{name}.jsonl"
    setup = _setup(cfg)
    try:
        records = _run_all(
            "DABench",
            [(t.id, t) for t in tasks],
            lambda t: run_task(t, backend, setup, grammar=not no_grammar),
            output,
        )
    finally:
        backend.close()
    _report(records, model=backend.name, grammar=not no_grammar, output=output, as_json=as_json)


def _settings(
    model: str | None,
    max_turns: int | None,
    max_tokens: int | None,
    timeout: float | None,
    cell_timeout: float | None,
    samples: int | None,
    vote: VoteWhen | None = None,
) -> config.Settings:
    """The flags over the eval.* settings (never analyze.*: a score stays comparable)."""
    return config.resolve(
        {
            "model": model,
            "eval.max_turns": max_turns,
            "eval.max_tokens": max_tokens,
            "eval.timeout": timeout,
            "eval.cell_timeout": cell_timeout,
            "eval.samples": samples,
            "eval.vote": vote and vote.value,
        }
    )


def _setup(cfg: config.Settings) -> Setup:
    budget = loop.Budget(
        max_turns=cfg.eval_max_turns, max_tokens=cfg.eval_max_tokens, timeout_s=cfg.eval_timeout
    )
    limits = Limits(timeout_s=cfg.eval_cell_timeout)
    return Setup(budget, limits, cfg.eval_samples, cfg.eval_vote)


def _run_all(label: str, items: list[tuple], run_one, output: Path) -> list[dict]:
    """Every (id, item) not yet in `output` through `run_one`, each result appended as it
    comes (so an interrupted run resumes); returns the results of all items, in order."""
    paths.ensure(output.parent)
    done = results.read(output)
    todo = [(i, item) for i, item in items if i not in done]
    if done and todo:
        state.info(f"Resuming: {len(items) - len(todo)} of {len(items)} already in {output}.")
    with (
        state.count_progress(label) as bar,
        results.appender(output) as out,
    ):
        progress = bar.add_task("", total=len(todo))
        for i, item in todo:
            record = run_one(item)
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            out.flush()
            done[i] = record
            so_far = [done[j] for j, _ in items if j in done]
            right = sum(r["correct"] for r in so_far)
            bar.update(progress, advance=1, description=f"{right}/{len(so_far)} correct")
    return [done[i] for i, _ in items if i in done]


@app.command("tasks", epilog=_TASKS)
@guarded
def tasks_(
    file: Path = typer.Argument(
        ..., help="Questions with labels: `da synth --questions-only` output or its held-out split."
    ),
    limit: int = typer.Option(None, "--limit", min=1, help="Only the first N questions."),
    model: str = MODEL,
    output: Path = OUTPUT,
    max_turns: int = MAX_TURNS,
    max_tokens: int = MAX_TOKENS,
    timeout: float = TIMEOUT,
    cell_timeout: float = CELL_TIMEOUT,
    samples: int = SAMPLES,
    vote: VoteWhen = VOTE,
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON on stdout."),
    rescore: bool = typer.Option(
        False,
        "--rescore",
        help="Score the output file's answers again by the tasks file's checks; run no model.",
    ),
) -> None:
    """Run the agent on questions whose labels code computed (`da synth --questions-only`)
    and score each answer by the inspector's checks: the label within its precision, the
    entity named first. How a trained model is measured on datasets it never saw."""
    cfg = _settings(model, max_turns, max_tokens, timeout, cell_timeout, samples, vote)
    if not file.is_file():
        raise UsageError(f"No tasks file {file}.")
    items = tasks_module.load(file, limit)
    if not items:
        raise UsageError(f"{file} has no question with a label to score.")
    if rescore:
        if output is None or not output.is_file():
            raise UsageError("--rescore needs the results file to score again (-o FILE).")
        done = results.read(output)
        by_id = {i.id: i for i in items}
        for record in done.values():
            if record["id"] in by_id and "error" not in record:
                tasks_module.rescore(record, by_id[record["id"]])
        results.write(output, list(done.values()))
        _report(list(done.values()), model=None, grammar=None, output=output, as_json=as_json)
        return
    backend = load_model(cfg.model, threads=cfg.threads, gpu_layers=cfg.gpu_layers)
    name = re.sub(r"[^\w.-]+", "_", backend.name)
    output = output or paths.data_dir() / "evals" / f"tasks-{file.stem}-{name}.jsonl"
    setup = _setup(cfg)
    try:
        records = _run_all(
            "Tasks",
            [(i.id, i) for i in items],
            lambda i: tasks_module.run_item(i, backend, setup),
            output,
        )
    finally:
        backend.close()
    _report(records, model=backend.name, grammar=None, output=output, as_json=as_json)


def _report(
    records: list[dict], *, model: str | None, grammar: bool | None, output: Path, as_json: bool
) -> None:
    summary = summarize(records)
    summary.update(
        model=model or next((r["model"] for r in records if r.get("model")), "unknown"),
        grammar=grammar,
        results=str(output),
    )
    if as_json:
        print(json.dumps(summary, indent=2))
    else:
        _print(summary)


def _check_reformat(output: Path, model: Model) -> None:
    """--reformat continues analyses: only with the model that made them, and one that
    takes a grammar (the format step's)."""
    if not model.supports_grammar:
        raise UsageError(
            f"--reformat needs a model that takes a grammar (llama.cpp); {model.name} does not."
        )
    made_by = {r.get("model") for r in results.read(output).values()} - {None, model.name}
    if made_by:
        raise UsageError(
            f"{output} holds analyses by {', '.join(sorted(made_by))}; --reformat continues "
            f"them, so run it with that model, not {model.name}."
        )


def _rescore(output: Path, tasks: list, model: Model | None = None) -> list[dict]:
    """Every record of the file scored again by the current rule, written back in place;
    with a model, after its format step ran again (`reformat`), the file written after
    each record so an interrupted run keeps what it did."""
    done = results.read(output)
    by_id = {t.id: t for t in tasks}

    def save() -> None:
        results.write(output, list(done.values()))

    with state.count_progress("Reformat") if model is not None else nullcontext() as bar:
        progress = bar.add_task("", total=len(done)) if bar is not None else None
        for record in done.values():
            task = by_id.get(record["id"])
            if task is not None and "error" not in record:
                if model is not None:
                    reformat(record, task, model)
                    save()
                else:
                    rescore_record(record, task)
            if bar is not None:
                bar.update(progress, advance=1)
    save()
    return [done[t.id] for t in tasks if t.id in done]


def _print(s: dict) -> None:
    if not s["questions"]:
        print("No questions were run.")
        return
    grammar = "" if s["grammar"] is None else f" (grammar {'on' if s['grammar'] else 'off'})"
    print(f"model: {s['model']}{grammar}")
    if isinstance(s.get("settings"), dict):
        c = s["settings"]
        print(
            f"settings: --max-turns {c['max_turns']} --max-tokens {c['max_tokens']} "
            f"--samples {c['samples']}" + (f" --vote {c['vote']}" if "vote" in c else "")
        )
    elif s.get("settings") == "mixed":
        print("settings: mixed (the results file holds runs with different settings)")
    print(
        f"questions: {s['correct']}/{s['questions']} correct ({s['accuracy']} %; "
        f"{s['accuracy_raw']} % without the format self-check)"
    )
    if "voted" in s:
        print(
            f"vote: {s['voted']} questions voted on ({s['split_votes']} split); one analysis "
            f"was right where the chosen answer was wrong in {s['missed_by_vote']}"
        )
    print(f"sub-answers: {s['sub_accuracy']} % correct")
    for lv, row in {**s["by_level"], **s.get("by_group", {})}.items():
        print(f"  {lv}: {row['accuracy']} % of {row['questions']}")
    print(
        f"format failures: {s['format_failures']} "
        f"(in {s['tasks_with_format_failures']} questions); "
        f"steps cut by --max-tokens: {s['budget_cuts']}; "
        f"partial answers: {s['partial']}; errors: {s['errors']}"
    )
    print(
        f"per question: {s['mean_seconds']} s (median {s['median_seconds']}), "
        f"{s['mean_completion_tokens']} generated tokens, "
        f"{s['mean_prompt_tokens']} prompt tokens evaluated"
    )
    print(f"results: {s['results']}")


@app.command("compare", epilog=_COMPARE)
@guarded
def compare(
    before: Path = typer.Argument(..., help="Results of one run (`da eval ... -o FILE`)."),
    after: Path = typer.Argument(..., help="Results of another run of the same questions."),
    as_json: bool = typer.Option(False, "--json", help="Print the comparison as JSON."),
) -> None:
    """Compare two runs question by question: accuracy of each on the questions both
    answered, how many only one got right, and McNemar's exact test of the difference."""
    runs = []
    for path in (before, after):
        if not path.is_file():
            raise UsageError(f"No results file {path}.")
        runs.append(compare_.read(path))
    c = compare_.compare(*runs)
    if not c.questions:
        raise UsageError(f"{before} and {after} have no question in common.")
    if as_json:
        print(json.dumps(c.to_dict(), indent=2))
        return
    pct = lambda k: f"{100 * k / c.questions:.1f} %"  # noqa: E731
    print(f"questions in both: {c.questions}")
    print(f"before: {c.before_right} right ({pct(c.before_right)})  {before}")
    print(f"after:  {c.after_right} right ({pct(c.after_right)})  {after}")
    print(f"right only before: {c.only_before}; right only after: {c.only_after}")
    verdict = "a difference beyond chance" if c.p_value < 0.05 else "no significant difference"
    print(f"McNemar exact p = {c.p_value:.3g} ({verdict} at 0.05)")
