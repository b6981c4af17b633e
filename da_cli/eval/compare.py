"""Two evaluation runs of the same questions, compared pair by pair: how many each got right,
how many only one of them did, and McNemar's exact test of whether that difference is more
than chance. Every before/after figure (a prompt rule, a trained model) is read this way."""

import json
from dataclasses import asdict, dataclass
from math import comb
from pathlib import Path

from da_cli.eval import results


@dataclass
class Comparison:
    questions: int  # answered in both runs
    before_right: int
    after_right: int
    only_before: int  # right before, wrong after
    only_after: int  # wrong before, right after
    p_value: float  # McNemar's exact two-sided test on the discordant pairs

    def to_dict(self) -> dict:
        return asdict(self)


def mcnemar(only_before: int, only_after: int) -> float:
    """The exact (binomial) McNemar test: under "no difference" each discordant pair falls
    either way with probability 1/2."""
    n = only_before + only_after
    if n == 0:
        return 1.0
    k = min(only_before, only_after)
    tail = sum(comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def read(path: Path) -> dict[str, bool]:
    """id -> correct, from a results file of `da eval` (one JSON object a line; a line cut
    by an interrupted run is skipped, as the run itself skips it)."""
    out: dict[str, bool] = {}
    for line in results.text(path).splitlines():
        try:
            row = json.loads(line)
            out[str(row["id"])] = bool(row["correct"])
        except (ValueError, KeyError, TypeError):
            continue
    return out


def compare(before: dict[str, bool], after: dict[str, bool]) -> Comparison:
    ids = sorted(before.keys() & after.keys())
    only_before = sum(before[i] and not after[i] for i in ids)
    only_after = sum(after[i] and not before[i] for i in ids)
    return Comparison(
        len(ids),
        sum(before[i] for i in ids),
        sum(after[i] for i in ids),
        only_before,
        only_after,
        mcnemar(only_before, only_after),
    )
