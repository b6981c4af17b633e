"""Keep the evaluation set out of the training data.

`da eval dabench` measures the model on InfiAgent-DABench, so synthesizing training data
from its tables (or its question files) would leak the test into training. The package
ships the sha256 of every file of the DABench dev set and of every question's normalized
text (`dabench.json`, written once by `python -m da_cli.synth.fingerprints DIR`; no
answers). A source whose bytes match is refused; a generated question whose words match
is dropped. Only files of a matching size are hashed, so big sources cost nothing.
"""

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from da_cli.errors import DataError

DATA = Path(__file__).with_name("dabench.json")


@dataclass(frozen=True)
class Fingerprints:
    files: dict[str, tuple[str, int]]  # sha256 -> (file name, size in bytes)
    questions: frozenset[str]  # sha256 of normalized question texts

    @property
    def sizes(self) -> set[int]:
        return {size for _, size in self.files.values()}


@cache
def fingerprints() -> Fingerprints:
    try:
        d = json.loads(DATA.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        # Without the list nothing can be checked: refuse rather than silently let the
        # evaluation set through.
        raise DataError(
            f"The DABench fingerprints ({DATA.name}) are missing from this installation.",
            hint="Reinstall da, or pass --allow-eval-data to synthesize without the check.",
        ) from e
    files = {h: (v["name"], int(v["bytes"])) for h, v in d["files"].items()}
    return Fingerprints(files, frozenset(d["questions"]))


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def normalize_question(text: str) -> str:
    """A question's words, lower case: rewording the punctuation or case does not hide it."""
    return " ".join("".join(ch if ch.isalnum() else " " for ch in text.lower()).split())


def question_hash(text: str) -> str:
    return hashlib.sha256(normalize_question(text).encode()).hexdigest()


def check_sources(files: list[Path]) -> None:
    """DataError for the first file that is part of the DABench evaluation set."""
    fp = fingerprints()
    sizes = fp.sizes
    for path in files:
        try:
            size = path.stat().st_size
        except OSError:
            continue  # the catalog reports unreadable sources in its own words
        if size not in sizes:
            continue
        match = fp.files.get(sha256_file(path))
        if match:
            raise DataError(
                f"Source {path} is {match[0]} from the DABench evaluation set, which must "
                "not become training data.",
                hint="Synthesize from other tables, or pass --allow-eval-data if the "
                "result will never be evaluated on DABench.",
            )


def is_eval_question(text: str) -> bool:
    return question_hash(text) in fingerprints().questions
