"""One DABench task through the same analysis session as `da analyze` (catalog, profile,
the model's own prompt layout, agent loop, sandbox), then scored; and the summary over many."""

import json
import re
import statistics
import time

from da_cli.agent import loop
from da_cli.agent.session import Session
from da_cli.agent.transcript import Transcript
from da_cli.errors import DaError
from da_cli.eval.dabench import LEVELS, Task, conform, extract, score_values
from da_cli.models.base import Model
from da_cli.sandbox import Limits

# The benchmark wants `@name[value]` lines. When the Answer lacks some, the model writes
# them once more under a grammar that allows exactly those names: it still chooses every
# value (from the transcript it just wrote); only the layout is forced.
FORMAT_PROMPT = "\nThe final answer, in the required format:\n"


_NUMERIC = re.compile(
    r"float|integer|\bint\b|number|numeric|decimal|rounded|count|coefficient|p-value|percent",
    re.IGNORECASE,
)


def format_grammar(names: list[str], spec: str = "") -> str:
    """One `@name[value]` line per name. Where the format describes a name's value as a
    number, the value must be one: a small model otherwise copies the placeholder."""
    lines = []
    for n in names:
        start = spec.find(f"@{n}[")
        end = spec.find("@", start + 1) if start >= 0 else -1
        described = spec[start : end if end > 0 else None] if start >= 0 else ""
        # Several names often share one placeholder described once ("where mean_fare is a
        # float…"): read every sentence that mentions this name's placeholder too.
        holder = re.search(rf"@{re.escape(n)}\[([^\]]*)\]", spec)
        if holder and holder.group(1).strip():
            described += " ".join(
                part for part in re.split(r"[.\n]", spec) if holder.group(1).strip() in part
            )
        rule = "number" if _NUMERIC.search(described) else "value"
        lines.append(f'"@{n}[" {rule} "]"')
    newline = ' "\\n" '
    return (
        f"root ::= {newline.join(lines)}\n"
        "value ::= [^\\n\\[\\]]{1,60}\n"
        'number ::= "-"? [0-9]{1,15} ("." [0-9]{1,12})? ([eE] [-+]? [0-9]{1,3})?\n'
    )


def run_task(
    task: Task,
    model: Model,
    budget: loop.Budget,
    limits: Limits,
    *,
    grammar: bool = True,
    samples: int = 1,
    vote: str = "always",
) -> dict:
    started = time.perf_counter()
    record = {
        "id": task.id,
        "level": task.level,
        "model": model.name,
        "settings": settings(budget, samples, vote),
    }
    try:
        t, samples_run = analyse(
            [str(task.file)], task.instruction(), model, budget, limits, samples, vote
        )
    except DaError as e:
        record.update(error=str(e), correct=False, right=0, total=len(task.labels))
        record["seconds"] = round(time.perf_counter() - started, 2)
        return record
    response = t.answer or ""
    formatted = ""
    given = extract(response)
    # A value copied from the format's own placeholder (`@mean_fare[mean_fare_value]`) is
    # no answer either.
    missing = [n for n in task.names if given.get(n, "") in ("", *task.placeholders)]
    if missing and grammar and model.supports_grammar:
        gen = model.generate(
            t.messages,
            t.continuation + FORMAT_PROMPT,
            stop=[],
            grammar=format_grammar(task.names, task.format),
            max_tokens=40 * len(task.names),
        )
        t.usage.completion_tokens += gen.completion_tokens
        t.usage.prompt_tokens += gen.prompt_tokens
        formatted = gen.text
    record.update(answer=response, formatted=formatted)
    rescore(record, task)
    record.update(
        transcript_fields(t, samples_run), seconds=round(time.perf_counter() - started, 2)
    )
    return record


def settings(budget: loop.Budget, samples: int, vote: str = "always") -> dict:
    """What a figure was measured with: each row of results states its settings."""
    return {
        "max_turns": budget.max_turns,
        "max_tokens": budget.max_tokens,
        "samples": samples,
        # Older results files lack it: they ran every sample always.
        **({"vote": vote} if vote != "always" else {}),
    }


def analyse(
    files: list[str],
    question: str,
    model: Model,
    budget: loop.Budget,
    limits: Limits,
    samples: int = 1,
    vote: str = "always",
) -> tuple[Transcript, list[Transcript]]:
    """One question through the analysis session `da analyze` uses: the chosen transcript
    (several analyses: the one their vote chose) and every analysis run."""
    forget = getattr(model, "forget", None)  # backends with a cache (llama.cpp)
    if forget is not None:
        forget()  # each question is timed from a cold cache, as a user's first one is
    with Session(files, limits=limits) as session:
        session.start(question, model, samples=samples, vote_when=vote)
        for _ in session.run(budget):
            pass
        t = session.transcript
        assert t is not None
        return t, list(session.samples)


def transcript_fields(t: Transcript, samples_run: list[Transcript]) -> dict:
    """What a result line records of an analysis besides its score."""
    u = t.usage
    return {
        "partial": t.partial,
        "stop_reason": t.stop_reason,
        "turns": u.generations,
        "format_failures": u.format_failures,
        "budget_cuts": u.budget_cuts,
        "prompt_tokens": u.prompt_tokens,
        "completion_tokens": u.completion_tokens,
        "code": t.code,
        **({"agreement": t.agreement} if t.agreement else {}),
        # Every analysis's own answer, so a run also tells how often one of them was right
        # where the vote (or the greedy analysis) was not.
        **({"sample_answers": [x.answer for x in samples_run]} if len(samples_run) > 1 else {}),
        # The whole assistant turn, Execute outputs included: what failure analysis reads.
        "turn": t.continuation[-12000:],
    }


def rescore(record: dict, task: Task) -> dict:
    """Score a record from the text the model wrote (its Answer and format step), so a
    results file can be scored again without running anything.

    `correct_raw` is the benchmark's rule on that text as it is. `correct` adds the format
    self-check: numbers with more decimals than the question asked for are rounded to its
    precision (`conformed` lists what changed)."""
    given = extract(record.get("answer", "") + "\n" + record.get("formatted", ""))
    fixed = conform(given, task)
    raw, s = score_values(given, task.labels), score_values(fixed, task.labels)
    record.update(
        correct=s.correct,
        right=s.right,
        total=s.total,
        correct_raw=raw.correct,
        extracted=given,
        conformed={n: v for n, v in fixed.items() if given.get(n) != v},
    )
    if "sample_answers" in record:
        # Each analysis's own Answer by the same rule (without the format step, which only
        # the chosen one gets): how often one of them was right where the choice was not.
        record["samples_correct"] = [
            score_values(conform(extract(a or ""), task), task.labels).correct
            for a in record["sample_answers"]
        ]
    return record


def summarize(records: list[dict]) -> dict:
    n = len(records)
    if not n:
        return {"questions": 0}

    def accuracy(rows: list[dict]) -> float | None:
        return round(100 * sum(r["correct"] for r in rows) / len(rows), 1) if rows else None

    total_subs = sum(r["total"] for r in records)
    settings = [
        json.loads(s) for s in {json.dumps(r.get("settings"), sort_keys=True) for r in records}
    ]
    return {
        "questions": n,
        "correct": sum(r["correct"] for r in records),
        "accuracy": accuracy(records),
        # The benchmark's rule on the text as written, without the format self-check.
        "accuracy_raw": round(
            100 * sum(r.get("correct_raw", r["correct"]) for r in records) / n, 1
        ),
        "sub_accuracy": round(100 * sum(r["right"] for r in records) / total_subs, 1)
        if total_subs
        else None,
        "by_level": {
            lv: {"questions": len(rows), "accuracy": accuracy(rows)}
            for lv in LEVELS
            if (rows := [r for r in records if r.get("level") == lv])
        },
        # Synthesized questions: accuracy by question family (template group).
        "by_group": {
            g: {"questions": len(rows), "accuracy": accuracy(rows)}
            for g in sorted({r["group"] for r in records if r.get("group")})
            if (rows := [r for r in records if r.get("group") == g])
        },
        "format_failures": sum(r.get("format_failures", 0) for r in records),
        "tasks_with_format_failures": sum(1 for r in records if r.get("format_failures")),
        "budget_cuts": sum(r.get("budget_cuts", 0) for r in records),
        "errors": sum(1 for r in records if r.get("error")),
        "partial": sum(1 for r in records if r.get("partial")),
        "mean_seconds": round(statistics.mean(r["seconds"] for r in records), 1),
        "median_seconds": round(statistics.median(r["seconds"] for r in records), 1),
        # One settings object when every record shares it; a mixed file says so.
        "settings": settings[0] if len(settings) == 1 else "mixed",
        "mean_completion_tokens": round(
            statistics.mean(r.get("completion_tokens", 0) for r in records)
        ),
        "mean_prompt_tokens": round(statistics.mean(r.get("prompt_tokens", 0) for r in records)),
        **_votes(records),
    }


def _votes(records: list[dict]) -> dict:
    """With several analyses a question: how many questions were voted on, how many votes
    split, and in how many one analysis was right where the chosen answer was wrong (what
    a better vote could still gain)."""
    voted = [r for r in records if r.get("agreement")]
    if not voted:
        return {}
    return {
        "voted": len(voted),
        "split_votes": sum(1 for r in voted if r["agreement"].get("split")),
        "missed_by_vote": sum(
            1 for r in voted if not r["correct"] and any(r.get("samples_correct", []))
        ),
    }
