"""`da history`: the saved runs, newest first (each run's transcript.jsonl header)."""

import json

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from da_cli import paths


def load_runs(limit: int | None = None) -> list[dict]:
    """Headers of saved runs, newest first; unreadable files are skipped, not fatal."""
    runs = []
    root = paths.data_dir() / "runs"
    # Newest first by when the transcript was written; run ids (second resolution) can tie.
    found = sorted(root.glob("*/transcript.jsonl"), key=lambda p: p.stat().st_mtime_ns)
    for path in reversed(found):
        try:
            with path.open(encoding="utf-8") as f:
                header = json.loads(f.readline())
        except (OSError, ValueError):
            continue
        header["id"] = path.parent.name
        header["transcript"] = str(path)
        runs.append(header)
        if limit and len(runs) >= limit:
            break
    return runs


def history(
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="How many runs to show."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
) -> None:
    """List saved analyses, newest first: id, question, answer and where the transcript is."""
    runs = load_runs(limit)
    if as_json:
        for run in runs:
            print(json.dumps(run, ensure_ascii=False))
        return
    table = Table(box=None, pad_edge=False)
    for col in ("id", "question", "answer"):
        table.add_column(col, overflow="fold")
    for run in runs:
        answer = (run.get("answer") or "").strip().replace("\n", " ")
        if run.get("partial"):
            answer = "(partial) " + answer
        table.add_row(run["id"], Text(_clip(run.get("question", ""))), Text(_clip(answer)))
    Console(highlight=False, soft_wrap=True).print(table)


def _clip(text: str, n: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"
