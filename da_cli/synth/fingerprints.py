"""Write `dabench.json`, the fingerprints `guard` checks sources and questions against.

Run once from a DABench directory (questions.jsonl, tables/):

    python -m da_cli.synth.fingerprints /path/to/dabench-dev

It records the sha256 and size of every data file in the directory (the tables, and the
question and label files, which `da` could read as JSON Lines sources) and the sha256 of
each question's normalized text. It never copies a label: a hash of a whole file or of a
question reveals no answer.
"""

import argparse
import json
import sys
from pathlib import Path

from da_cli.data.catalog import KINDS
from da_cli.synth.guard import DATA, question_hash, sha256_file


def build(root: Path) -> dict:
    files = {}
    data = (p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in KINDS)
    for path in sorted(data):
        files[sha256_file(path)] = {
            "name": str(path.relative_to(root)),
            "bytes": path.stat().st_size,
        }
    questions = set()
    qfile = root / "questions.jsonl"
    for line in qfile.read_text(encoding="utf-8").splitlines():
        if line.strip():
            questions.add(question_hash(json.loads(line)["question"]))
    return {
        "source": "InfiAgent-DABench dev split (Apache-2.0): file and question fingerprints",
        "files": dict(sorted(files.items())),
        "questions": sorted(questions),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m da_cli.synth.fingerprints")
    p.add_argument("root", type=Path, help="the DABench directory (questions.jsonl, tables/)")
    p.add_argument("-o", "--output", type=Path, default=DATA)
    a = p.parse_args(argv)
    if not (a.root / "questions.jsonl").is_file():
        print(f"{a.root} has no questions.jsonl", file=sys.stderr)
        return 2
    d = build(a.root)
    a.output.write_text(json.dumps(d, indent=1) + "\n", encoding="utf-8")
    print(f"{len(d['files'])} files, {len(d['questions'])} questions -> {a.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
