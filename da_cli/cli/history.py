"""`da history`: the saved runs, newest first (each run's transcript.jsonl header)."""

import json

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from da_cli import runs
from da_cli.cli.console import examples
from da_cli.errors import UsageError

EXAMPLES = examples(
    "da history -n 5",
    "da history --json | jq -r .answer",
    "da history --prune --keep 50",
)


def history(
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="How many runs to show."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
    prune: bool = typer.Option(
        False, "--prune", help="Remove stored runs (with --keep and/or --older-than)."
    ),
    keep: int = typer.Option(None, "--keep", min=0, help="With --prune: keep the newest N."),
    older_than: float = typer.Option(
        None, "--older-than", min=0, help="With --prune: remove runs older than DAYS."
    ),
) -> None:
    """List saved analyses, newest first: id, question, answer and where the transcript is.

    Runs (transcripts and the files their code wrote) stay until you prune them:
    `da history --prune --keep 50`, `da history --prune --older-than 30`, or set
    DA_KEEP_RUNS=N to keep only the newest N automatically."""
    if prune:
        if keep is None and older_than is None:
            raise UsageError("--prune needs --keep N or --older-than DAYS.")
        removed = runs.prune(keep=keep, older_than_days=older_than)
        left = runs.usage()
        print(
            f"Removed {removed.runs} run(s), {_mb(removed.bytes)} freed; "
            f"{left.runs} run(s) kept, {_mb(left.bytes)}."
        )
        return
    if keep is not None or older_than is not None:
        raise UsageError("--keep and --older-than go with --prune.")
    found = runs.listing(limit)
    if as_json:
        for run in found:
            print(json.dumps(run, ensure_ascii=False))
        return
    table = Table(box=None, pad_edge=False)
    for col in ("id", "question", "answer"):
        table.add_column(col, overflow="fold")
    for run in found:
        answer = (run.get("answer") or "").strip().replace("\n", " ")
        ended = run.get("ended")
        if ended in ("interrupted", "failed", "running"):
            # "running" that is not: the process was killed before it could say how it ended.
            answer = f"({ended}) " + answer
        elif run.get("partial"):
            answer = "(partial) " + answer
        table.add_row(run["id"], Text(_clip(run.get("question", ""))), Text(_clip(answer)))
    Console(highlight=False, soft_wrap=True).print(table)


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def _clip(text: str, n: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"
