"""The run store: every analysis and report `da` runs, under `data_dir()/runs/<id>/`.

A run directory holds `transcript.jsonl` (a header object with the result, then one line per
step), `state.json` (what `--continue` needs: the sources, the conversation and the cells
that ran cleanly), `report.json` (a report's document model, when one was rendered) and the
cells' `workspace/`. The CLI, `da history` and the Python API all read and write runs here,
so a notebook user's analyses show up in `da history` like the terminal's.
"""

import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from da_cli import paths
from da_cli.agent.session import clean_cells, conversation
from da_cli.agent.transcript import Transcript
from da_cli.data.catalog import Catalog
from da_cli.errors import UsageError

SCHEMA = "da.analyze/1"
TRANSCRIPT = "transcript.jsonl"
STATE = "state.json"


def root() -> Path:
    return paths.data_dir() / "runs"


def new() -> Path:
    """A new, empty run directory (named by time, so they sort by when they started).
    With `DA_KEEP_RUNS=N` set, only the newest N runs are kept: older ones are removed
    first."""
    keep = os.environ.get("DA_KEEP_RUNS", "")
    if keep.isdigit() and int(keep) > 0:
        prune(keep=int(keep) - 1)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_dir = paths.ensure(root()) / f"{stamp}-{uuid.uuid4().hex[:6]}"
    run_dir.mkdir()
    return run_dir


def _size(folder: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                continue
    return total


@dataclass
class Usage:
    runs: int
    bytes: int


def usage() -> Usage:
    """How many runs are stored and the disk space they take."""
    found = [p for p in root().glob("*") if p.is_dir()] if root().is_dir() else []
    return Usage(len(found), sum(_size(p) for p in found))


def prune(*, keep: int | None = None, older_than_days: float | None = None) -> Usage:
    """Remove stored runs: all but the newest `keep`, and/or those older than
    `older_than_days`. Returns what was removed (runs and bytes freed)."""
    if not root().is_dir():
        return Usage(0, 0)
    found = sorted((p for p in root().iterdir() if p.is_dir()), key=lambda p: p.name)
    doomed: set[Path] = set()
    if keep is not None:
        doomed.update(found[: max(len(found) - keep, 0)])
    if older_than_days is not None:
        cutoff = time.time() - older_than_days * 86400
        doomed.update(p for p in found if p.stat().st_mtime < cutoff)
    freed = 0
    for p in doomed:
        freed += _size(p)
        shutil.rmtree(p, ignore_errors=True)
    return Usage(len(doomed), freed)


def record(
    t: Transcript, catalog: Catalog, model_name: str, workspace: Path, timings: dict
) -> dict:
    """The result of one analysis as `--json` prints it and the transcript's header keeps."""
    u = t.usage
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
        # Several analyses voted: how many agreed with this one (a split vote says so).
        **({"agreement": t.agreement} if t.agreement else {}),
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


def write_transcript(run_dir: Path, header: dict, steps: list[dict]) -> None:
    """`transcript.jsonl`: `header` (what `da history` lists), then each step; private to
    the user, since outputs quote their data."""
    path = run_dir / TRANSCRIPT
    with path.open("w", encoding="utf-8") as f:
        f.write(json.dumps(header, ensure_ascii=False) + "\n")
        for step in steps:
            f.write(json.dumps(step, ensure_ascii=False) + "\n")
    os.chmod(path, 0o600)


class Recorder:
    """A run's transcript written as it grows, so an interrupted or failed run is not lost:
    a header that says the run is under way, each step appended as the loop yields it, and
    at the end the header of the finished run (`finish`) or a mark of how it ended (`end`).
    `da history` reads the header line either way."""

    def __init__(self, run_dir: Path, header: dict) -> None:
        self.run_dir = run_dir
        self.path = run_dir / TRANSCRIPT
        self.header = {**header, "ended": "running"}
        write_transcript(run_dir, self.header, [])

    def step(self, step: dict) -> None:
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(step, ensure_ascii=False) + "\n")

    def end(self, how: str, error: str | None = None) -> None:
        """Mark an unfinished run: "interrupted" or "failed" (with the error's sentence)."""
        self.header.update(ended=how, **({"error": error} if error else {}))
        lines = self.path.read_text(encoding="utf-8").splitlines(keepends=True)
        lines[:1] = [json.dumps(self.header, ensure_ascii=False) + "\n"]
        tmp = self.path.with_name(TRANSCRIPT + ".tmp")
        tmp.write_text("".join(lines), encoding="utf-8")
        os.chmod(tmp, 0o600)
        tmp.replace(self.path)

    def finish(self, record: dict) -> None:
        """The finished run: its whole record as the header, then every step."""
        ended = "partial" if record.get("partial") else "answered"
        header = {k: v for k, v in record.items() if k != "turns"}
        write_transcript(self.run_dir, {**header, "ended": ended}, record["turns"])


def save_json(run_dir: Path, name: str, obj: dict) -> None:
    path = run_dir / name
    path.write_text(json.dumps(obj, indent=1, ensure_ascii=False), encoding="utf-8")
    os.chmod(path, 0o600)


def save_state(run_dir: Path, t: Transcript, sources: list[str]) -> None:
    """What `--continue` needs: the sources as given (a directory or glob is expanded again),
    the conversation, and the cells that ran cleanly, to rebuild the variables."""
    state = {
        "sources": [str(Path(s).expanduser().resolve()) for s in sources],
        "question": t.question,
        **conversation(t),
        "cells": clean_cells(t),
    }
    (run_dir / STATE).write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")


def last_state() -> dict:
    """The newest run's `state.json`: the conversation `--continue` goes on with."""
    found = sorted(root().glob(f"*/{STATE}"))
    if not found:
        raise UsageError("There is no earlier analysis to continue.")
    return json.loads(found[-1].read_text(encoding="utf-8"))


def listing(limit: int | None = None) -> list[dict]:
    """Headers of saved runs, newest first; unreadable files are skipped, not fatal."""
    runs = []
    # Newest first by when the transcript was written; run ids (second resolution) can tie.
    found = sorted(root().glob(f"*/{TRANSCRIPT}"), key=lambda p: p.stat().st_mtime_ns)
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
