"""Trajectories as training data: the chat `messages` layout `da train` reads, dedupe, the
held-out split, and the summary.

A line is one analysis exactly as `da analyze` shows it to the model — its system and user
messages, then the whole assistant turn (Analyze, Code, the loop's Execute blocks, Answer)
as one assistant message, the layout of DataScience-Instruct-500K — plus what the line was
made from: the question, its label and checklist, and the data files (relative to the
output file, so a line is also a `da train stage2 --tasks` task).
"""

import hashlib
import json
import os
import statistics
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from da_cli.agent.transcript import Transcript
from da_cli.synth.inspect import Verdict
from da_cli.synth.questions import Question

SCHEMA = "da.synth/1"
STATS_SCHEMA = "da.synth.stats/1"


@dataclass
class Outcome:
    """One attempted item: the question, the transcript that answered it, the verdict."""

    question: Question
    transcript: Transcript
    verdict: Verdict
    seconds: float  # all attempts together
    kind: str  # qa, research, code, understand
    attempts: int = 1  # analyses run: the last one is `transcript`

    @property
    def turns(self) -> int:
        # Model generations when a model wrote it; else the assistant's steps.
        return self.transcript.usage.generations or self.transcript.continuation.count("<Analyze>")


def messages(t: Transcript) -> list[dict[str, str]]:
    """The prompt `da analyze` gave the model, then its whole turn as one assistant message."""
    return [*t.messages, {"role": "assistant", "content": t.continuation}]


def record(o: Outcome, *, out_dir: Path, model: str) -> dict:
    q, t = o.question, o.transcript
    msgs = messages(t)
    rid = hashlib.sha256(json.dumps(msgs, ensure_ascii=False).encode()).hexdigest()[:16]
    closed = q.kind == "qa"
    return {
        "schema": SCHEMA,
        "id": rid,
        "kind": o.kind,
        "template": q.template,
        "group": q.group,
        "question": q.text,
        **({"original_question": q.original} if q.original else {}),
        "files": [os.path.relpath(f, out_dir) for f in q.files],
        "tables": q.tables,
        "params": q.params,
        # A closed question's label, as `da train`'s reward reads it; open ones have none.
        "reference": [q.reference] if closed else None,
        "reference_sql": q.sql,
        "checklist": o.verdict.to_list(),
        "accepted": o.verdict.accepted,
        "messages": msgs,
        "model": model,
        "usage": {
            "turns": o.turns,
            "prompt_tokens": t.usage.prompt_tokens,
            "completion_tokens": t.usage.completion_tokens,
        },
        "seconds": round(o.seconds, 2),
        "attempts": o.attempts,
        # The analysis that was kept: a greedy one (0.0) or a sampled later attempt.
        "temperature": t.temperature,
    }


def _norm(text: str) -> str:
    return " ".join("".join(ch if ch.isalnum() else " " for ch in text.lower()).split())


def dedupe(records: list[dict]) -> tuple[list[dict], int]:
    """Drop repeats: the same question about the same files (in any case or punctuation,
    or asked by the same query), or the same assistant turn."""
    seen: set[str] = set()
    kept = []
    for r in records:
        data = "|".join(sorted(r.get("files", [])))
        keys = {f"q:{data}:{_norm(r['question'])}", f"sql:{data}:{_norm(r['reference_sql'])}"}
        keys.add("a:" + hashlib.sha256(r["messages"][-1]["content"].encode()).hexdigest())
        if keys & seen:
            continue
        seen |= keys
        kept.append(r)
    return kept, len(records) - len(kept)


def split(records: list[dict], fraction: float, seed: int) -> tuple[list[dict], list[dict]]:
    """(train, held-out): whole template groups go to the held-out side, chosen by a hash of
    the seed and the group, until it holds `fraction` of the records; the training side
    always keeps at least one group."""
    if fraction <= 0 or not records:
        return records, []
    groups = sorted(
        {r["group"] for r in records},
        key=lambda g: hashlib.sha256(f"{seed}:{g}".encode()).hexdigest(),
    )
    want = max(1, round(fraction * len(records)))
    held: set[str] = set()
    count = 0
    for g in groups[:-1]:
        if count >= want:
            break
        held.add(g)
        count += sum(r["group"] == g for r in records)
    return [r for r in records if r["group"] not in held], [
        r for r in records if r["group"] in held
    ]


def heldout_path(out: Path) -> Path:
    """`data.jsonl` → `data.heldout.jsonl`."""
    return out.with_name(f"{out.stem}.heldout{out.suffix}")


def rejected_path(out: Path) -> Path:
    return out.with_name(f"{out.stem}.rejected{out.suffix}")


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    tmp.replace(path)


def summary(outcomes: list[Outcome], **extra: object) -> dict:
    """Accept rate, why trajectories were rejected, turns and tokens: the `--json` object."""
    n = len(outcomes)
    kept = [o for o in outcomes if o.verdict.accepted]
    failed = Counter(c.kind for o in outcomes for c in o.verdict.failed)
    by_template: dict[str, dict[str, int]] = {}
    for o in outcomes:
        row = by_template.setdefault(o.question.template, {"tried": 0, "accepted": 0})
        row["tried"] += 1
        row["accepted"] += o.verdict.accepted

    def mean(values: list[float]) -> float | None:
        return round(statistics.mean(values), 1) if values else None

    usage = [o.transcript.usage for o in outcomes]
    return {
        "schema": STATS_SCHEMA,
        "tried": n,
        "accepted": len(kept),
        "accept_rate": round(len(kept) / n, 3) if n else None,
        "rejected_by": dict(failed.most_common()),
        "by_template": dict(sorted(by_template.items())),
        "turns": {
            "mean": mean([o.turns for o in outcomes]),
            "mean_accepted": mean([o.turns for o in kept]),
        },
        "tokens": {
            "prompt": sum(u.prompt_tokens for u in usage),
            "completion": sum(u.completion_tokens for u in usage),
            "mean_completion": mean([u.completion_tokens for u in usage]),
            "mean_completion_accepted": mean([o.transcript.usage.completion_tokens for o in kept]),
        },
        "seconds": {
            "total": round(sum(o.seconds for o in outcomes), 1),
            "mean": mean([o.seconds for o in outcomes]),
        },
        "attempts": {
            "total": sum(o.attempts for o in outcomes),
            "accepted_on_a_later_attempt": sum(o.attempts > 1 for o in kept),
        },
        **extra,
    }
