"""Choosing among several analyses of one question by their executed evidence.

Self-consistency (Wang et al., ICLR 2023) samples several reasoning paths and takes the
most frequent final answer. A data analysis has more to go on than its final text: whether
the numbers it states came out of its own cells, and whether its code worked. So the
answers are grouped by the values they state (numbers at the precision they are written
with, and named values), each analysis is weighed by its evidence, and the best-supported
group wins; its best-evidenced analysis is the answer. How many analyses agree is part of
the result, so a split vote is visible rather than hidden.
"""

import re
from dataclasses import dataclass

from da_cli.agent import grounding
from da_cli.agent.transcript import Transcript

# A value named in an answer: the content of a bracket or quotes (`@name[value]`, "value"),
# a capitalised word that is not the first of its sentence, or a yes/no word.
_FILLED = re.compile(r"@\w+\[([^\[\]\n]{0,80})\]")
_BRACKETED = re.compile(r"\[([^\[\]]{1,80})\]|\"([^\"]{1,80})\"|'([^']{1,80})'")
_WORD = re.compile(r"[A-Za-z][\w\-]*")
_BOOLEAN = {"yes", "no", "true", "false"}

# When the other analyses of a question run (`Session.start(vote=...)`): "always" beside
# the greedy one, in one batch; "unsure" only once the greedy one has ended with weak
# evidence (`doubts`: a failed last cell, a budget-forced answer, a number no output showed),
# so a question the greedy analysis answers cleanly costs one analysis.
VOTE_WHEN = ("always", "unsure")


@dataclass(frozen=True)
class Values:
    numbers: tuple[tuple[float, int], ...]  # (value, decimals written)
    names: frozenset[str]

    @property
    def empty(self) -> bool:
        return not self.numbers and not self.names


def values(answer: str, question: str = "") -> Values:
    """The values `answer` states. When it fills a format (`@name[value]`), the filled
    values alone: the prose around them varies between analyses that agree. Text the
    question already contains (a placeholder, a column name) is not a value."""
    asked = question.lower()
    asked_words = {w.lower() for w in _WORD.findall(question)}
    filled = [m.group(1).strip() for m in _FILLED.finditer(answer)]
    nums, names = set(), set()
    for part in filled or [answer]:
        for tok in grounding.numbers(part):
            v = grounding.value(tok)
            if v is not None:
                nums.add((v, grounding.decimals(tok)))
        if filled:
            if part and not grounding.numbers(part) and part.lower() not in asked:
                names.add(part.lower())
            continue
        for m in _BRACKETED.finditer(part):
            text = next(g for g in m.groups() if g is not None).strip()
            if text and not grounding.numbers(text) and text.lower() not in asked:
                names.add(text.lower())
        for sentence in re.split(r"(?<=[.!?:;])\s+|\n", part):
            words = _WORD.findall(sentence)
            for k, w in enumerate(words):
                low = w.lower()
                if low in _BOOLEAN or (k > 0 and w[0].isupper() and low not in asked_words):
                    names.add(low)
    return Values(tuple(sorted(nums)), frozenset(names))


def _same_number(a: tuple[float, int], b: tuple[float, int]) -> bool:
    (x, dx), (y, dy) = a, b
    return abs(x - y) <= 0.5 * 10 ** -min(dx, dy) + 1e-9 * max(abs(x), abs(y))


def agree(a: Values, b: Values) -> bool:
    """The same values: every number of each matches one of the other's at the coarser
    precision of the two, and the same named values."""
    if a.names != b.names:
        return False
    return all(any(_same_number(x, y) for y in b.numbers) for x in a.numbers) and all(
        any(_same_number(y, x) for x in a.numbers) for y in b.numbers
    )


def _doubts(t: Transcript, stated: Values) -> list[tuple[float, str]]:
    """Each reason to doubt an analysis's answer, with the factor it weighs by."""
    outputs = [s.text for s in t.steps if s.kind == "execute"]
    found: list[tuple[float, str]] = []
    if not outputs:
        found.append((0.3, "no cell ran"))  # nothing was computed: a guess
    elif next(s for s in reversed(t.steps) if s.kind == "execute").error:
        found.append((0.5, "its last cell failed"))
    if t.partial:
        found.append((0.5, "the budget forced the answer"))
    if stated.empty:
        found.append((0.5, "the answer states no value"))
    checked = [tok for tok in grounding.numbers(t.answer or "") if _needs_evidence(tok)]
    if checked:
        missing = grounding.ungrounded(" ".join(checked), [t.question, *outputs])
        if missing:
            found.append(
                (0.5 + 0.5 * (1 - len(missing) / len(checked)), "no output showed " + missing[0])
            )
    return found


def weight(t: Transcript, stated: Values) -> float:
    """How well an analysis backs its answer: its numbers in its own cells' outputs, its
    last cell working, an answer it reached rather than one forced by the budget."""
    w = 1.0
    for factor, _ in _doubts(t, stated):
        w *= factor
    return round(w, 4)


def doubts(t: Transcript) -> list[str]:
    """Why an analysis's answer is not well backed by its own evidence (none: it is)."""
    return [why for _, why in _doubts(t, values(t.answer or "", t.question))]


def _needs_evidence(tok: str) -> bool:
    v = grounding.value(tok)
    return v is not None and abs(v) > 10


@dataclass
class Vote:
    winner: int
    groups: list[list[int]]  # analyses whose answers agree, best-supported group first
    weights: list[float]

    @property
    def agreeing(self) -> int:
        return len(self.groups[0])

    @property
    def samples(self) -> int:
        return len(self.weights)

    @property
    def split(self) -> bool:
        """No group holds a majority of the analyses."""
        return 2 * self.agreeing <= self.samples

    def summary(self) -> str:
        n, k = self.agreeing, self.samples
        if n == k:
            return f"All {k} analyses agree."
        if self.split:
            sizes = " / ".join(str(len(g)) for g in self.groups)
            return (
                f"Split vote: the {k} analyses gave {len(self.groups)} different answers "
                f"({sizes}); showing the best-supported one (analysis {self.winner + 1})."
            )
        return f"{n} of {k} analyses agree (showing analysis {self.winner + 1})."

    def to_dict(self) -> dict:
        return {
            "samples": self.samples,
            "agreeing": self.agreeing,
            "split": self.split,
            "winner": self.winner,
            "groups": self.groups,
            "weights": self.weights,
        }


def choose(ts: list[Transcript]) -> Vote:
    """The best-supported answer among the analyses `ts` of one question."""
    stated = [values(t.answer or "", t.question) for t in ts]
    weights = [weight(t, v) for t, v in zip(ts, stated, strict=True)]
    groups: list[list[int]] = []
    for i, v in enumerate(stated):
        group = next((g for g in groups if agree(stated[g[0]], v)), None)
        if group is None:
            groups.append([i])
        else:
            group.append(i)
    # Most support first; on a tie, the group with the earlier analysis (the greedy one).
    groups.sort(key=lambda g: (-sum(weights[i] for i in g), g[0]))
    best = max(groups[0], key=lambda i: (weights[i], -i))
    return Vote(best, groups, weights)
