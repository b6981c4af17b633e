"""The hybrid GRPO reward, as pure functions of a finished rollout.

DeepAnalyze (DESIGN.md §7): -1 when the tag format is broken; otherwise, for QA tasks the
mean of exact accuracy and the judge's score / 5, for open tasks the mean of the judge's
scores, the fraction of code executions that succeeded and min(turns / 10, 1).
Datarus-R1 adds a curriculum: structure first, depth later. Here both are one formula:

    reward = -1                                   if the format is broken
           = w(p) * structure + (1 - w(p)) * semantic
    structure = mean(execution success, turn factor)
    semantic  = mean(accuracy, judge) over those available (structure alone if neither)
    w(p) = end + (start - end) * (1 + cos(pi * p)) / 2,  p = step / max_steps

Departure: the paper picks one formula per task kind; this one weighs structure against
semantics on a schedule; at w = 2/3 it is the paper's open-task mean, at w = 0 its QA mean.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

_BLOCK = re.compile(r"<(Analyze|Understand|Code|Execute|Answer)>(.*?)</\1>", re.DOTALL)
_ANY_TAG = re.compile(r"</?(?:Analyze|Understand|Code|Execute|Answer)>")


def format_ok(continuation: str, format_failures: int = 0) -> bool:
    """Whether the assistant turn is a well-formed DeepAnalyze trajectory: only tagged
    blocks (whitespace between), none nested, every Code answered by an Execute, an
    Execute only after a Code (or after an Answer the loop sent back), and a final Answer.
    A step the loop had to repair (`format_failures`, e.g. a block the token limit cut)
    breaks the format too: the model did not write it that way."""
    if format_failures:
        return False
    pos, prev = 0, None
    for m in _BLOCK.finditer(continuation):
        if continuation[pos : m.start()].strip() or _ANY_TAG.search(m.group(2)):
            return False
        tag = m.group(1)
        if tag == "Execute" and prev not in ("Code", "Answer"):
            return False
        if prev == "Code" and tag != "Execute":
            return False
        prev, pos = tag, m.end()
    return prev == "Answer" and not continuation[pos:].strip()


_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:[eE]-?\d+)?")
_DABENCH = re.compile(r"@(\w+)\[(.*?)\]")


def reference_items(reference: str | Sequence[str]) -> list[str]:
    """The values an answer must contain: a list as given, DABench's `@name[value]` pairs
    by value, or the whole string."""
    if not isinstance(reference, str):
        return [str(r) for r in reference]
    pairs = _DABENCH.findall(reference)
    return [v for _, v in pairs] if pairs else [reference]


def _numbers(text: str) -> list[float]:
    out = []
    for m in _NUMBER.findall(text):
        try:
            out.append(float(m.replace(",", "")))
        except ValueError:
            continue
    return out


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w.%-]+", " ", text.lower()).split())


def item_matches(answer: str, item: str) -> bool:
    """A numeric item matches a number in the answer equal at the item's precision (so
    3.14 matches 3.14159) or within 0.1 %; text matches as a normalized substring."""
    item = item.strip()
    if _NUMBER.fullmatch(item.replace(" ", "")):
        want = float(item.replace(",", "").replace(" ", ""))
        decimals = len(item.split(".")[1]) if "." in item else 0
        for got in _numbers(answer):
            if round(got, decimals) == round(want, decimals):
                return True
            if math.isclose(got, want, rel_tol=1e-3, abs_tol=1e-9):
                return True
        return False
    return bool(_norm(item)) and _norm(item) in _norm(answer)


def answer_accuracy(answer: str | None, reference: str | Sequence[str] | None) -> float | None:
    """Fraction of the reference's items the answer contains; None without a reference."""
    if reference is None or (isinstance(reference, str) and not reference.strip()):
        return None
    items = reference_items(reference)
    if not answer or not items:
        return 0.0
    return sum(item_matches(answer, i) for i in items) / len(items)


def execution_success(executions: int, failed: int) -> float:
    return (executions - failed) / executions if executions else 0.0


def turn_factor(turns: int, full_turns: int = 10) -> float:
    return min(turns / full_turns, 1.0) if full_turns > 0 else 1.0


def structure_weight(progress: float, start: float = 0.7, end: float = 0.1) -> float:
    """Cosine from `start` at the first step to `end` at the last (Datarus-R1's curriculum)."""
    p = min(max(progress, 0.0), 1.0)
    return end + (start - end) * 0.5 * (1.0 + math.cos(math.pi * p))


@dataclass(frozen=True)
class Outcome:
    """What the reward looks at in a finished rollout."""

    format_ok: bool
    executions: int = 0
    failed_executions: int = 0
    turns: int = 0
    accuracy: float | None = None  # None: no reference
    judge: float | None = None  # in [0, 1]; None: no judge


@dataclass(frozen=True)
class Parts:
    reward: float
    structure: float
    semantic: float | None
    weight: float


def hybrid_reward(
    o: Outcome,
    progress: float,
    *,
    start: float = 0.7,
    end: float = 0.1,
    full_turns: int = 10,
) -> Parts:
    structure = (
        execution_success(o.executions, o.failed_executions) + turn_factor(o.turns, full_turns)
    ) / 2
    known = [x for x in (o.accuracy, o.judge) if x is not None]
    semantic = sum(known) / len(known) if known else None
    w = structure_weight(progress, start, end)
    if not o.format_ok:
        return Parts(-1.0, structure, semantic, w)
    reward = structure if semantic is None else w * structure + (1 - w) * semantic
    return Parts(reward, structure, semantic, w)
