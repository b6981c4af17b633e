"""Which numbers of a text an output backs, and the text without the claims none backs.

A report states only numbers that code output showed: `grounded_only` keeps the sentences
(list items, table rows) whose every number an output shows, by the same rule as the agent
loop's check (`agent.grounding`: rounding, a dropped `.0`, a percentage of a fraction), and
`backing` names the output line behind each number, so a reader can check it.
"""

import re
from dataclasses import dataclass

from da_cli.agent import grounding

# A sentence ends at . ! or ? followed by space and a capital, digit or opening mark; "21.7"
# and "e.g. x" do not end one.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"'*])")
_BLOCK_LINE = re.compile(r"^\s*(\||[-*+]\s|\d+[.)]\s|#)")
_PERIOD = re.compile(r"\b\d{4}-(Q[1-4]|\d{2}(-\d{2})?)\b")
_NAMED = re.compile(r"\b([A-Z][\w-]*) \d{1,3}\b(?![.,]\d)")
MAX_LINE = 160


@dataclass
class Backing:
    number: str  # as the text writes it
    line: str  # the output line that shows it
    source: int  # which output (index into the list given to `backing`)


def unbacked(text: str, evidence: list[str]) -> list[str]:
    return grounding.ungrounded(text, evidence)


def _keep(text: str, bad) -> tuple[str, list[str]]:
    """`text` with every sentence, list item or table row for which `bad` holds left out;
    returns the kept text and what was left out."""
    kept_lines: list[str] = []
    dropped: list[str] = []
    for line in text.splitlines():
        if not bad(line):
            kept_lines.append(line)
            continue
        if _BLOCK_LINE.match(line):
            dropped.append(line.strip())  # a list item or table row goes as a whole
            continue
        parts = _SENTENCE_END.split(line)
        kept = [p for p in parts if not bad(p)]
        dropped += [p.strip() for p in parts if bad(p)]
        if kept:
            kept_lines.append(" ".join(kept))
    return "\n".join(kept_lines).strip(), dropped


def grounded_only(text: str, evidence: list[str]) -> tuple[str, list[str]]:
    """`text` with every sentence, list item or table row that quotes a number no evidence
    shows left out; returns the kept text and what was left out."""
    return _keep(text, lambda s: bool(unbacked(s, evidence)))


_WORD = re.compile(r"[a-z]+")
COPY_WORDS = 3  # a run of this many words from a worked example, absent from the data, is copied


def _grams(text: str, n: int = COPY_WORDS) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def original_only(text: str, example: str, context: list[str]) -> tuple[str, list[str]]:
    """`text` with every sentence that copies a run of words from a worked `example` left
    out, unless the question or the outputs (`context`) use those words too: "Computers
    handled the most tickets" is the example's sentence, not a finding about the data."""
    copied = _grams(example) - set().union(*(_grams(c) for c in context))
    return _keep(text, lambda s: bool(_grams(s) & copied))


def backing(text: str, outputs: list[str], limit: int = 8) -> list[Backing]:
    """For each distinct number in `text` that needs evidence (see `agent.grounding`), the
    first output line that shows it."""
    found: list[Backing] = []
    seen: set[float] = set()
    # Dates and periods (2025-07, 2025-Q3) and numbers in names (Laptop 16) label things;
    # they are not claims to back.
    text = _NAMED.sub(r"\1", _PERIOD.sub(" ", text))
    for number in (n.rstrip(",") for n in grounding.numbers(text)):
        value = float(number.replace(",", ""))
        if value in seen or not grounding.ungrounded(number, []):
            continue  # a repeat, or a small count that needs no evidence
        seen.add(value)
        hit = _first_line(number, outputs)
        if hit is not None:
            found.append(Backing(number, *hit))
        if len(found) >= limit:
            break
    return found


def _first_line(number: str, outputs: list[str]) -> tuple[str, int] | None:
    for i, out in enumerate(outputs):
        for line in out.splitlines():
            if line.strip() and not grounding.ungrounded(number, [line]):
                line = " ".join(line.split())
                clipped = line if len(line) <= MAX_LINE else line[: MAX_LINE - 1] + "…"
                return clipped, i
    return None
