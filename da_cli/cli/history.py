"""`da history`: the saved runs, newest first (each run's transcript.jsonl header)."""

import json

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from da_cli import runs


def history(
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="How many runs to show."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
) -> None:
    """List saved analyses, newest first: id, question, answer and where the transcript is."""
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


def _clip(text: str, n: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"
