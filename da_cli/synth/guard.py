"""Keep the evaluation set out of the training data.

`da eval dabench` measures the model on InfiAgent-DABench, so synthesizing training data
from its tables (or its question files) would leak the test into training. The package
ships the sha256 of every file of the DABench dev set and of every question's normalized
text (`dabench.json`, written once by `python -m da_cli.synth.fingerprints DIR`; no
answers). A source whose bytes match is refused; a generated question whose words match
is dropped. Only files of a matching size are hashed, so big sources cost nothing.

The same concern at the user's scale: `--exclude FILE` names questions `da synth` wrote
before (an evaluation set of your own, SFT trajectories that GRPO tasks must not repeat),
and a question asked of the same data in the same words or by the same reference query is
not asked again.
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


def exclusion_keys(files: list[str], question: str, sql: str) -> tuple[str, str]:
    """What identifies a question on its data: its words, and its reference query (a
    rewording keeps the query). The data is part of the key: `orders` in two datasets are
    two tables, and the same words ask two questions."""
    data = "\n".join(sorted(files))
    return (
        hashlib.sha256(f"{data}\n{normalize_question(question)}".encode()).hexdigest(),
        hashlib.sha256(f"{data}\n{' '.join(sql.split())}".encode()).hexdigest(),
    )


def excluded(paths: list[Path]) -> frozenset[str]:
    """The keys of every question in these `da synth` outputs (tasks or trajectories; the
    files they name are relative to the file, as `da synth` writes them)."""
    keys: set[str] = set()
    for path in paths:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as e:
            raise DataError(f"Cannot read {path}: {e.strerror or e}.") from None
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                files = [str((path.parent / f).resolve()) for f in row["files"]]
                # A reworded question also keeps its template's words.
                texts = {row["question"], row.get("original_question") or row["question"]}
                if not all(isinstance(t, str) for t in texts):
                    raise TypeError("a question that is not text")
                sql = row.get("reference_sql") or ""
            except (ValueError, KeyError, TypeError) as e:
                raise DataError(
                    f"{path}, line {n}: not a question written by `da synth` ({e})."
                ) from None
            for text in texts:
                by_words, by_query = exclusion_keys(files, text, sql)
                keys.add(by_words)
                if sql:
                    keys.add(by_query)
    return frozenset(keys)
