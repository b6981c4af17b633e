"""Recovery variants of kept trajectories: the same analysis, opened by a cell that fails the
way a small model's cells fail, its real error, and a step that reads the error and fixes it.

    python -m train.recovery data/trajectories.jsonl -o data/recovery.jsonl [--share 0.5]

Why: the inspector keeps the analyses that came out right, and those nearly always ran at
once (2 of the 1.5B teacher's 47 kept had a failed cell), so a model trained on them never
sees a way out of one. On held-out questions more than half of the 0.5B's analyses end
rewriting a cell that failed, before training and after.

The failed cell is the trajectory's own first cell with one table or column name wrong: a
near miss (singular or plural, underscores dropped, a part of the name) or, for a table, the
worked example's table, which small models copy; or, for a cell that prints one query, the
query written as the cell itself (SQL in a Python cell, which trained small models write).
It runs in a sandbox over the same files, so its error is the one `da analyze` would show.
The step after it names the wrong and the right name (or says a query runs through `sql()`),
then the original cell and the rest of the analysis follow unchanged. The
failed cell is context, not a lesson: its message has weight 0, so no loss is taken on it
(`train.data`), and only the reading of the error and what follows are trained. Nothing
here uses a label; the variants keep the verified answer of the trajectory they came from.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from da_cli.agent.session import Session
from da_cli.sandbox import Limits
from da_cli.synth.record import write_jsonl

_CODE = re.compile(r"<Code>\n```python\n(.*?)\n```\n*</Code>", re.DOTALL)
_EXAMPLE_TABLE = re.compile(r"(?:A table|Tables) `(\w+)`")
_TABLES = re.compile(r"Your tables are: (.*?)\.(?:\s|$)")
_WORD = r"(?<![\w.]){}(?!\w)"


@dataclass
class Slip:
    """One wrong name in the first cell: what it replaced and what kind of name it is."""

    kind: str  # "table", "column", or "sql" (the query as the cell)
    right: str
    wrong: str
    table: str  # the table the column belongs to (the name itself for a table)


def near_misses(name: str) -> list[str]:
    """Names a model writes for `name` when it does not copy it from the profile."""
    out = [name[:-1] if name.endswith("s") else name + "s"]
    if "_" in name:
        parts = name.split("_")
        out += [name.replace("_", ""), parts[-1] if len(parts[-1]) > 2 else parts[0]]
    return [w for w in dict.fromkeys(out) if w and w != name]


def _rank(key: str, items: list[Any]) -> list[Any]:
    """A fixed shuffle: the same record always gets the same slip."""
    return sorted(items, key=lambda x: hashlib.sha256(f"{key}:{x}".encode()).hexdigest())


def one_query(code: str) -> str | None:
    """The query of a cell that only prints one: `print(sql("SELECT ..."))`, any quotes.
    Read by Python's parser, not a pattern: two such lines, an escaped quote or strings
    written side by side would be cut wrong by one."""
    try:
        body = ast.parse(code).body
    except SyntaxError:
        return None
    match body:
        case [
            ast.Expr(
                ast.Call(
                    ast.Name("print"),
                    [ast.Call(ast.Name("sql"), [ast.Constant(str() as query)], [])],
                    [],
                )
            )
        ]:
            return query.strip() or None
    return None


def slips(code: str, columns: dict[str, list[str]], example_table: str | None) -> list[Slip]:
    """Every wrong name the cell could have, tables first when the cell names one, and the
    cell's one query written as the cell."""
    query = one_query(code)
    out = [Slip("sql", code, query, "")] if query else []
    for table, cols in columns.items():
        if not re.search(_WORD.format(re.escape(table)), code):
            continue
        wrong = [example_table] if example_table and example_table not in columns else []
        out += [Slip("table", table, w, table) for w in wrong + near_misses(table)]
        for col in cols:
            if col != table and re.search(_WORD.format(re.escape(col)), code):
                out += [
                    Slip("column", col, w, table)
                    for w in near_misses(col)
                    if w not in cols and w not in columns
                ]
    return out


def apply(code: str, slip: Slip) -> str:
    if slip.kind == "sql":
        return slip.wrong
    return re.sub(_WORD.format(re.escape(slip.right)), slip.wrong, code)


_READINGS = {
    "table": [
        "There is no table `{wrong}`: my tables are {tables}. The data is in `{right}`, so I "
        "use that name.",
        "The error says the table `{wrong}` does not exist. The profile lists {tables}; the "
        "table I need is `{right}`.",
    ],
    "column": [
        "`{table}` has no column `{wrong}`: the profile spells it `{right}`. I fix the name "
        "and run it again.",
        "The error says `{wrong}` is not a column. The column in `{table}` is `{right}`, so I "
        "use that name.",
    ],
    "sql": [
        "That cell was the query itself, and a cell is Python: a query runs through `sql()`, "
        "so I print what `sql()` returns.",
        "The error is Python's: I wrote SQL where Python goes. I run the same query with "
        "`print(sql(...))`.",
    ],
}


def reading(slip: Slip, tables: list[str], key: str) -> str:
    """The Analyze step after the error: what went wrong and which name is right."""
    choices = _READINGS[slip.kind]
    text = choices[int(hashlib.sha256(key.encode()).hexdigest(), 16) % len(choices)]
    listed = ", ".join(f"`{t}`" for t in tables)
    return text.format(wrong=slip.wrong, right=slip.right, table=slip.table, tables=listed)


def variant(record: dict, session: Session) -> dict | None:
    """The recovery variant of one kept trajectory, or None when its first cell has no name
    to get wrong or no wrong name makes it fail."""
    messages = record["messages"]
    turn = messages[-1]["content"]
    first = _CODE.search(turn)
    if messages[-1]["role"] != "assistant" or first is None:
        return None
    code = first.group(1)
    columns = {p.name: [c.name for c in p.columns] for p in session.profiles}
    system = next((m["content"] for m in messages if m["role"] == "system"), "")
    listed = _TABLES.search(system)
    if listed is None or sorted(listed.group(1).split(", ")) != sorted(columns):
        return None  # not the tables the analysis saw: its names would not be the ones here
    example = _EXAMPLE_TABLE.search(system)
    for slip in _rank(record["id"], slips(code, columns, example and example.group(1))):
        broken = apply(code, slip)
        result = session.sandbox.run(broken)
        if result.ok:  # DuckDB matched it anyway (names are case-blind), or pandas did
            continue
        head, rest = turn[: first.start()], turn[first.start() :]
        why = reading(slip, list(columns), record["id"])
        return {
            **record,
            "id": hashlib.sha256(f"recovery:{record['id']}:{broken}".encode()).hexdigest()[:16],
            "messages": [
                *messages[:-1],
                {"role": "assistant", "content": head},
                {
                    "role": "assistant",
                    "content": f"<Code>\n```python\n{broken}\n```\n</Code>",
                    "weight": 0,
                },
                {"role": "execute", "content": result.observation()},
                {"role": "assistant", "content": f"<Analyze>\n{why}\n</Analyze>\n{rest}"},
            ],
            "recovery": {"kind": slip.kind, "wrong": slip.wrong, "right": slip.right},
        }
    return None


def _chosen(record: dict, share: float) -> bool:
    digest = hashlib.sha256(f"share:{record['id']}".encode()).hexdigest()
    return int(digest[:8], 16) / 0xFFFFFFFF < share


def build(source: Path, share: float, out_dir: Path) -> tuple[list[dict], dict]:
    """Every kept trajectory of `source`, a `share` of them replaced by its recovery variant
    (those without one stay as they were), with its files relative to `out_dir`, and counts
    of what was made."""
    rows = [json.loads(line) for line in source.read_text().splitlines() if line.strip()]
    out: list[dict] = []
    made = dict.fromkeys(["chosen", "variants", "table", "column", "sql"], 0)
    made["trajectories"] = len(rows)
    for r in rows:
        files = [(source.parent / f).resolve() for f in r["files"]]
        r["files"] = [os.path.relpath(f, out_dir.resolve()) for f in files]
        if not _chosen(r, share):
            out.append(r)
            continue
        made["chosen"] += 1
        with Session([str(f) for f in files], limits=Limits(timeout_s=30)) as session:
            v = variant(r, session)
        if v is None:
            out.append(r)
            continue
        made["variants"] += 1
        made[v["recovery"]["kind"]] += 1
        out.append(v)
    return out, made


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.recovery", description=__doc__.split("\n")[0])
    p.add_argument("source", type=Path, help="kept trajectories (da synth's output)")
    p.add_argument("-o", "--output", type=Path, required=True)
    p.add_argument(
        "--share", type=float, default=0.5, help="the share of trajectories given a failed cell"
    )
    a = p.parse_args(argv)
    rows, made = build(a.source, a.share, a.output.parent)
    write_jsonl(a.output, rows)
    print(json.dumps(made))
    return 0


if __name__ == "__main__":
    sys.exit(main())
