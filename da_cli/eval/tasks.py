"""Questions with labels computed by code (`da synth --questions-only`, or its held-out
split) as an evaluation set: each through the same analysis session as `da analyze`, scored
by the inspector's own checks of the answer. This is how a trained model is measured on
datasets and question templates it never saw in training."""

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

from da_cli.agent.transcript import Transcript
from da_cli.errors import DaError, DataError
from da_cli.eval.run import Setup, analyse, transcript_fields
from da_cli.models.base import Model
from da_cli.synth.inspect import check
from da_cli.synth.questions import Check

# The checks about what the answer says (the label, the entity first); the others (the code
# ran, no step was sent back) describe the trajectory, which an evaluation does not score.
# Each reads the Answer alone, so a results file can be scored again (`rescore`).
ANSWER_CHECKS = {"number", "entity", "entity_first"}


@dataclass(frozen=True)
class Item:
    id: str
    question: str
    files: tuple[str, ...]  # absolute
    group: str  # the question template's family
    checks: tuple[Check, ...]


def load(path: Path, limit: int | None = None) -> list[Item]:
    items = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            files = tuple(str((path.parent / f).resolve()) for f in row["files"])
            checks = tuple(
                Check(c["kind"], c.get("text", ""), c.get("args", {}))
                for c in row["checklist"]
                if c["kind"] in ANSWER_CHECKS
            )
            question = row["question"]
        except (ValueError, KeyError, TypeError) as e:
            raise DataError(
                f"{path}, line {n}: not a task of `da synth --questions-only` ({e})."
            ) from None
        if not checks:
            continue  # an open research question: nothing to score by code
        key = json.dumps([question, [Path(f).name for f in files]], ensure_ascii=False)
        items.append(
            Item(
                hashlib.sha256(key.encode()).hexdigest()[:12],
                question,
                files,
                row.get("group", row.get("template", "")),
                checks,
            )
        )
    return items[:limit] if limit else items


def _score(item: Item, t: Transcript) -> list[tuple[Check, bool]]:
    return [(c, check(c, t)) for c in item.checks]


def rescore(record: dict, item: Item) -> dict:
    """Score a record's Answer again by the item's checks (as the tasks file has them now),
    running nothing: every answer check reads the Answer alone."""
    t = Transcript(item.question, [], answer=record.get("answer", ""))
    results = _score(item, t)
    record.update(
        checks=[{"kind": c.kind, "item": c.text, "ok": ok} for c, ok in results],
        correct=all(ok for _, ok in results),
        right=sum(ok for _, ok in results),
        total=len(results),
    )
    if "sample_answers" in record:
        record["samples_correct"] = [
            all(ok for _, ok in _score(item, Transcript(item.question, [], answer=a or "")))
            for a in record["sample_answers"]
        ]
    return record


def run_item(item: Item, model: Model, setup: Setup) -> dict:
    started = time.perf_counter()
    record: dict = {
        "id": item.id,
        "question": item.question,
        "group": item.group,
        "model": model.name,
        "settings": setup.record(),
    }
    try:
        t, samples_run = analyse(list(item.files), item.question, model, setup)
    except DaError as e:
        record.update(error=str(e), correct=False, right=0, total=len(item.checks))
        record["seconds"] = round(time.perf_counter() - started, 2)
        return record
    results = _score(item, t)
    record.update(
        answer=t.answer or "",
        checks=[{"kind": c.kind, "item": c.text, "ok": ok} for c, ok in results],
        correct=all(ok for _, ok in results),
        right=sum(ok for _, ok in results),
        total=len(results),
        **transcript_fields(t, samples_run),
        seconds=round(time.perf_counter() - started, 2),
    )
    if len(samples_run) > 1:
        record["samples_correct"] = [all(ok for _, ok in _score(item, s)) for s in samples_run]
    return record
