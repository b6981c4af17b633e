"""The inspector: a trajectory is kept only if every item of its question's checklist holds.

Pure functions of the question and the finished transcript, so they are tested without a
model. Numbers in an answer are read the way people write them (`1,197,110.25`, `5319`,
`1.19711e+06`) and compared within the question's tolerance; an entity counts as named
when it appears as whole words, case and spacing aside; and for "which …" questions it must
be the first of the ranked candidates the answer names, so an answer that lists every
region does not pass for naming the right one.
"""

import re
from dataclasses import dataclass

from da_cli.agent import grounding
from da_cli.agent.transcript import Transcript
from da_cli.synth.questions import Check, Question

_NUMBER = re.compile(r"(?<![\w.])-?\d(?:[\d,]*\d)?(?:\.\d+)?(?:[eE][-+]?\d+)?")


@dataclass
class Verdict:
    results: list[tuple[Check, bool]]

    @property
    def accepted(self) -> bool:
        return all(ok for _, ok in self.results)

    @property
    def failed(self) -> list[Check]:
        return [c for c, ok in self.results if not ok]

    def to_list(self) -> list[dict]:
        return [{"item": c.text, "kind": c.kind, "ok": ok} for c, ok in self.results]


def numbers(text: str) -> list[float]:
    out = []
    for m in _NUMBER.finditer(text):
        try:
            out.append(float(m.group(0).replace(",", "")))
        except ValueError:
            continue
    return out


def has_number(text: str, value: float, tolerance: float) -> bool:
    slack = tolerance + 1e-9 * abs(value)  # float noise between SQL and pandas sums
    return any(abs(x - value) <= slack for x in numbers(text))


def _pattern(entity: str) -> re.Pattern:
    words = [re.escape(w) for w in entity.split()]
    return re.compile(r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)", re.IGNORECASE)


def mentions(text: str, entity: str) -> int | None:
    """Where `entity` first appears in `text` as whole words, or None."""
    if not entity.strip():
        return None
    m = _pattern(entity).search(text)
    return m.start() if m else None


def first_named(text: str, candidates: list[str]) -> str | None:
    """The candidate the text names first (the longer one when two start at one place:
    "Smart Home" over "Home")."""
    best: tuple[int, int, str] | None = None
    for c in candidates:
        pos = mentions(text, c)
        if pos is not None and (best is None or (pos, -len(c)) < best[:2]):
            best = (pos, -len(c), c)
    return best[2] if best else None


def _outputs(t: Transcript) -> list[str]:
    return [s.text for s in t.steps if s.kind == "execute" and not s.error]


def _evidence(t: Transcript) -> list[str]:
    # What the loop itself counts as grounds (agent.loop._evidence): the question, the
    # prompt (with its profile) and every output, but not the system prompt's example.
    shown = [m["content"] for m in t.messages if m["role"] != "system"]
    return [t.question, *shown, *(s.text for s in t.steps if s.kind == "execute")]


def check(c: Check, t: Transcript) -> bool:
    answer = t.answer or ""
    a = c.args
    if c.kind == "complete":
        return t.answer is not None and not t.partial
    if c.kind == "well_formed":
        # A restated Answer is a repair too: the trajectory has the model's own digits.
        return t.usage.format_failures == 0 and t.rejected_answers == 0 and not t.restated
    if c.kind == "ran":
        runs = [s for s in t.steps if s.kind == "execute"]
        return bool(runs) and not runs[-1].error and any(not s.error for s in runs)
    if c.kind == "uses_tables":
        code = "\n".join(t.code)
        return all(re.search(rf"(?<!\w){re.escape(x)}(?!\w)", code) for x in a["tables"])
    if c.kind == "number":
        return has_number(answer, a["value"], a["tolerance"])
    if c.kind == "number_shown":
        return any(has_number(o, a["value"], a["tolerance"]) for o in _outputs(t))
    if c.kind == "entity":
        return mentions(answer, a["entity"]) is not None
    if c.kind == "entity_first":
        return first_named(answer, a["candidates"]) == a["entity"]
    if c.kind == "entity_shown":
        return any(mentions(o, a["entity"]) is not None for o in _outputs(t))
    if c.kind == "names_some":
        named = sum(mentions(answer, x) is not None for x in a["candidates"])
        return named >= a["at_least"]
    if c.kind == "grounded":
        return bool(answer) and not grounding.ungrounded(answer, _evidence(t))
    raise ValueError(f"unknown checklist item {c.kind!r}")


def inspect(q: Question, t: Transcript) -> Verdict:
    return Verdict([(c, check(c, t)) for c in q.checklist])
