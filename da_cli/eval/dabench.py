"""InfiAgent-DABench: its tasks, the instruction `da` builds from one, and the official
scoring rule.

Scoring (the benchmark's README): every `@name[value]` in the response is extracted; a
sub-answer is right when it equals the label as a string or both parse as numbers less than
1e-6 apart; a question counts only when all its sub-answers are right.
"""

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from da_cli.errors import UsageError

_ANSWER = re.compile(r"@(\w+)\[([^\[\]]*)\]")
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
        return {m.group(2).strip() for m in _ANSWER.finditer(self.format)} | set(self.names)

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
    return {m.group(1): m.group(2).strip() for m in _ANSWER.finditer(response or "")}


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
    given = extract(response)
    right = sum(1 for name, label in labels if name in given and matches(given[name], label))
    return Score(right, len(labels))
