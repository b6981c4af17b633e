"""`da eval dabench`: accuracy on InfiAgent-DABench through the normal agent loop; `da eval
compare`: two runs of the same questions, paired."""

import json
import re
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from da_cli import config, paths
from da_cli.agent import loop
from da_cli.cli.console import complete_model, examples, guarded, state
from da_cli.errors import UsageError
from da_cli.eval import compare as compare_
from da_cli.eval.dabench import LEVELS, load_tasks
from da_cli.eval.run import rescore as rescore_record
from da_cli.eval.run import run_task, summarize
from da_cli.models import load_model
from da_cli.sandbox import Limits

_EXAMPLES = examples(
    "da eval dabench --data ../shared/eval/dabench-dev",
    "da eval dabench --data DIR --limit 20 -m qwen2.5-coder-1.5b",
    "da eval dabench --data DIR -o runs.jsonl --rescore",
    "da eval compare before.jsonl after.jsonl",
)
app = typer.Typer(
    help="Measure accuracy on evaluation sets.", no_args_is_help=True, epilog=_EXAMPLES
)


@app.command("dabench", epilog=_EXAMPLES)
@guarded
def dabench(
    data: Path = typer.Option(
        ..., "--data", envvar="DA_DABENCH", help="DABench dir (questions.jsonl, labels.jsonl)."
    ),
    limit: int = typer.Option(None, "--limit", min=1, help="Only the first N questions."),
    level: str = typer.Option(None, "--level", help="Only easy, medium or hard questions."),
    model: str = typer.Option(
        None,
        "--model",
        "-m",
        metavar="NAME",
        help="Model. " + config.default_note("model"),
        autocompletion=complete_model,
    ),
    output: Path = typer.Option(
        None, "--output", "-o", help="Results, one JSON line per question (resumable)."
    ),
    # By default `da analyze`'s budget, so the score is what a user gets. A tighter token
    # budget (not a timeout) is the way to a cheaper run whose score does not depend on
    # how busy the machine is; say which one a figure used.
    max_turns: int = typer.Option(
        None,
        "--max-turns",
        min=1,
        metavar="N",
        help="Most model steps a question. " + config.default_note("eval.max_turns"),
    ),
    max_tokens: int = typer.Option(
        None,
        "--max-tokens",
        min=64,
        metavar="N",
        help="Most tokens a question. " + config.default_note("eval.max_tokens"),
    ),
    timeout: float = typer.Option(
        None,
        "--timeout",
        min=1,
        metavar="SECONDS",
        help="Most seconds a question (a safety net). " + config.default_note("eval.timeout"),
    ),
    cell_timeout: float = typer.Option(
        None,
        "--cell-timeout",
        min=1,
        metavar="SECONDS",
        help="Most seconds a cell. " + config.default_note("eval.cell_timeout"),
    ),
    samples: int = typer.Option(
        None,
        "--samples",
        "-k",
        min=1,
        max=8,
        metavar="K",
        help="Analyses a question, decoded together and voted by their evidence. "
        + config.default_note("eval.samples"),
    ),
    no_grammar: bool = typer.Option(
        False, "--no-grammar", help="Decode without the protocol grammar (to measure it)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON on stdout."),
    rescore: bool = typer.Option(
        False, "--rescore", help="Score the output file's answers again; run no model."
    ),
) -> None:
    """Run the agent on every DABench question and score it by the official rule.

    Questions already in the output file are skipped, so an interrupted run resumes.
    Only the eval.* settings change its budget (not analyze.*), so the score stays
    comparable with the README's."""
    cfg = config.resolve(
        {
            "model": model,
            "eval.max_turns": max_turns,
            "eval.max_tokens": max_tokens,
            "eval.timeout": timeout,
            "eval.cell_timeout": cell_timeout,
            "eval.samples": samples,
        }
    )
    if level and level not in LEVELS:
        raise UsageError(f"--level must be one of {', '.join(LEVELS)}, not '{level}'.")
    tasks = load_tasks(data, level=level, limit=limit)
    if rescore:
        if output is None or not output.is_file():
            raise UsageError("--rescore needs the results file to score again (-o FILE).")
        _report(_rescore(output, tasks), model=model, grammar=None, output=output, as_json=as_json)
        return
    backend = load_model(cfg.model, threads=cfg.threads, gpu_layers=cfg.gpu_layers)
    if no_grammar:
        backend.supports_grammar = False
    name = re.sub(r"[^\w.-]+", "_", backend.name)
    output = output or paths.data_dir() / "evals" / f"dabench-{name}.jsonl"
    paths.ensure(output.parent)
    done = _read(output)
    todo = [t for t in tasks if t.id not in done]
    budget = loop.Budget(
        max_turns=cfg.eval_max_turns, max_tokens=cfg.eval_max_tokens, timeout_s=cfg.eval_timeout
    )
    limits = Limits(timeout_s=cfg.eval_cell_timeout)
    if done and todo:
        state.info(f"Resuming: {len(tasks) - len(todo)} of {len(tasks)} already in {output}.")
    try:
        with (
            Progress(
                TextColumn("[bold]DABench"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=state.console,
                disable=state.quiet,
            ) as bar,
            output.open("a", encoding="utf-8") as out,
        ):
            progress = bar.add_task("", total=len(todo))
            for task in todo:
                record = run_task(
                    task,
                    backend,
                    budget,
                    limits,
                    grammar=not no_grammar,
                    samples=cfg.eval_samples,
                )
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
                out.flush()
                done[task.id] = record
                so_far = [done[t.id] for t in tasks if t.id in done]
                right = sum(r["correct"] for r in so_far)
                bar.update(progress, advance=1, description=f"{right}/{len(so_far)} correct")
    finally:
        backend.close()
    records = [done[t.id] for t in tasks if t.id in done]
    _report(records, model=backend.name, grammar=not no_grammar, output=output, as_json=as_json)


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


def _rescore(output: Path, tasks: list) -> list[dict]:
    """Every record of the file scored again by the current rule, written back in place."""
    done = _read(output)
    by_id = {t.id: t for t in tasks}
    for record in done.values():
        task = by_id.get(record["id"])
        if task is not None and "error" not in record:
            rescore_record(record, task)
    tmp = output.with_name(output.name + ".tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in done.values()))
    tmp.replace(output)
    return [done[t.id] for t in tasks if t.id in done]


def _read(path: Path) -> dict[int, dict]:
    done: dict[int, dict] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
                done[int(row["id"])] = row
            except (ValueError, KeyError, TypeError):
                continue  # a line cut by an interrupted run: that question runs again
    return done


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
            f"--samples {c['samples']}"
        )
    elif s.get("settings") == "mixed":
        print("settings: mixed (the results file holds runs with different settings)")
    print(
        f"questions: {s['correct']}/{s['questions']} correct ({s['accuracy']} %; "
        f"{s['accuracy_raw']} % without the format self-check)"
    )
    print(f"sub-answers: {s['sub_accuracy']} % correct")
    for lv, row in s["by_level"].items():
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


@app.command("compare", epilog=_EXAMPLES)
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
