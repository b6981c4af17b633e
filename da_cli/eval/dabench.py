"""InfiAgent-DABench: its tasks, the instruction `da` builds from one, and the official
scoring rule.

Scoring (the benchmark's README): every `@name[value]` in the response is extracted; a
sub-answer is right when it equals the label as a string or both parse as numbers less than
1e-6 apart; a question counts only when all its sub-answers are right.
"""

import json
import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

from da_cli.errors import UsageError

# One `@name[value]` slot, in a format or in an answer.
ANSWER = re.compile(r"@(\w+)\[([^\[\]]*)\]")
LEVELS = ("easy", "medium", "hard")


@dataclass(frozen=True)
class Task:
    id: int
    question: str
    constraints: str
    format: str
    file: Path
    level: str
    labels: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    @property
    def names(self) -> list[str]:
        """The answer names the format asks for (`@mean_fare[...]` -> mean_fare), in order."""
        return list(dict.fromkeys(m.group(1) for m in re.finditer(r"@(\w+)\[", self.format)))

    @property
    def placeholders(self) -> set[str]:
        """What the format puts inside the brackets (`@mean_fare[mean_fare_value]`)."""
        return {m.group(2).strip() for m in ANSWER.finditer(self.format)} | set(self.names)

    def instruction(self) -> str:
        """The question as the benchmark poses it: question, constraints, answer format."""
        return (
            f"{self.question.strip()}\n\nConstraints: {self.constraints.strip()}\n\n"
            f"Answer format: {self.format.strip()}"
        )


def load_tasks(data: Path, *, level: str | None = None, limit: int | None = None) -> list[Task]:
    questions, labels = data / "questions.jsonl", data / "labels.jsonl"
    if not questions.is_file() or not labels.is_file():
        raise UsageError(
            f"{data} is not a DABench directory (it needs questions.jsonl and labels.jsonl).",
            hint="Point --data at ../shared/eval/dabench-dev, as `make eval` does.",
        )
    answers = {}
    for line in labels.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            answers[row["id"]] = tuple((str(n), str(v)) for n, v in row["common_answers"])
    tasks = []
    for line in questions.read_text().splitlines():
        if not line.strip():
            continue
        q = json.loads(line)
        if level and q["level"] != level:
            continue
        tasks.append(
            Task(
                id=int(q["id"]),
                question=q["question"],
                constraints=q.get("constraints", ""),
                format=q.get("format", ""),
                file=data / "tables" / q["file_name"],
                level=q["level"],
                labels=answers.get(q["id"], ()),
            )
        )
    return tasks[:limit] if limit else tasks


def extract(response: str) -> dict[str, str]:
    """Every `@name[value]` in a response; a name given twice keeps its last value."""
    return {m.group(1): m.group(2).strip() for m in ANSWER.finditer(response or "")}


def matches(value: str, label: str) -> bool:
    if value.strip() == label.strip():
        return True
    try:
        return abs(float(value) - float(label)) < 1e-6
    except ValueError:
        return False


@dataclass
class Score:
    right: int  # sub-answers right
    total: int  # sub-answers asked

    @property
    def correct(self) -> bool:
        return self.total > 0 and self.right == self.total


def score(response: str, labels: tuple[tuple[str, str], ...]) -> Score:
    """The official rule over a response's text."""
    return score_values(extract(response), labels)


def score_values(given: dict[str, str], labels: tuple[tuple[str, str], ...]) -> Score:
    right = sum(1 for name, label in labels if name in given and matches(given[name], label))
    return Score(right, len(labels))


_DIGITS = {"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
_PRECISION = re.compile(
    r"\b(\d|zero|one|two|three|four|five|six)\s+decimal(?:s\b|\s+(?:places?|points?|digits?))",
    re.IGNORECASE,
)


def precisions(task: Task) -> dict[str, int]:
    """How many decimals the format (or the constraints) asks for, per answer name, where it
    says so without ambiguity: one precision for every name, or the one in the sentence
    that describes the name's placeholder (`where "r_value" is …, rounded to two decimal
    places`), shared descriptions (`"mean_a" and "mean_b" are …`) included."""
    text = f"{task.format}\n{task.constraints}"
    found = [
        (m.start(), int(g) if g.isdigit() else _DIGITS[g.lower()])
        for m in _PRECISION.finditer(text)
        for g in [m.group(1)]
    ]
    if not found:
        return {}
    if len({n for _, n in found}) == 1:
        return dict.fromkeys(task.names, found[0][1])
    holders = {m.group(1): m.group(2).strip() for m in ANSWER.finditer(task.format)}
    anchors = {name: _described_at(text, name, holders.get(name, "")) for name in task.names}
    starts = sorted({a for a in anchors.values() if a >= 0})
    out = {}
    for name, at in anchors.items():
        while at >= 0:
            end = next((a for a in starts if a > at), len(text))
            here = [n for i, n in found if at < i < end]
            if here:
                out[name] = here[0]
                break
            # Only a connective before the next description: the two share one sentence.
            gap = _HOLDER_MENTION.sub("", text[at:end], count=1)
            at = end if end < len(text) and re.fullmatch(r"[\s,]*(?:and|or)?[\s,]*", gap) else -1
    return out


_HOLDER_MENTION = re.compile(r"^[\"']?[^\"'\s]+[\"']?")


def _described_at(text: str, name: str, holder: str) -> int:
    """Where the text describes a name: its placeholder mentioned outside the brackets
    (quoted or not), else the `@name[` itself."""
    if holder:
        bare = rf"(?<![\w\[\"'@]){re.escape(holder)}(?![\w\]\"'\[])"
        quoted = rf"[\"']{re.escape(holder)}[\"']"
        m = re.search(f"{quoted}|{bare}", text)
        if m:
            return m.start()
    return text.find(f"@{name}[")


def separators(task: Task) -> dict[str, str]:
    """How the format lays out a list in a name's slot: `@ids[id1,id2,...]` -> ",",
    `@ids[id1, id2, ...]` -> ", "."""
    out = {}
    for m in ANSWER.finditer(task.format):
        commas = re.findall(r",\s*", m.group(2))
        if commas and len(set(commas)) == 1 and commas[0] in (",", ", "):
            out[m.group(1)] = commas[0]
    return out


def conform(given: dict[str, str], task: Task, whole: set[str] = frozenset()) -> dict[str, str]:
    """The format self-check: a list is laid out as the format's own placeholder lays it out
    (`@ids[id1,id2,...]`: no space after a comma); a number with more decimals than the
    format asks for is rounded (half up) to that many, as the question told the analyst to;
    a value the format describes as a whole number (`whole`, "a positive integer") with none
    asked otherwise is rounded to one. Nothing else changes; a value that is not a number
    is left as it is."""
    out = dict(given)
    for name, sep in separators(task).items():
        items = [x.strip() for x in given.get(name, "").split(",")]
        if len(items) > 1 and all(items):
            out[name] = sep.join(items)
    places = dict.fromkeys(whole, 0) | precisions(task)
    for name, n in places.items():
        value = given.get(name)
        if value is None:
            continue
        try:
            d = Decimal(value.strip())
        except InvalidOperation:
            continue
        if d.is_finite() and -d.as_tuple().exponent > n:
            out[name] = str(d.quantize(Decimal(1).scaleb(-n), rounding=ROUND_HALF_UP))
    return out
