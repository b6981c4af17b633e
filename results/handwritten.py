"""What the hand-written question sets (unseen-tables-8, -9) share: reading a corpus
dataset into pandas, and a task of `da synth --questions-only`'s form whose label is a
number to the decimals asked or the value a ranking puts first. A set's `make_tasks.py`
imports it, adds its questions, and calls `write()`."""

import glob
import json
import os
import sqlite3

import pandas as pd

T = "corpus/train/"


def load(path: str) -> dict[str, pd.DataFrame]:
    p = T + path
    if p.endswith(".csv"):
        return {os.path.basename(p)[:-4]: pd.read_csv(p)}
    if p.endswith(".xlsx"):
        return pd.read_excel(p, sheet_name=None)
    if p.endswith(".db"):
        con = sqlite3.connect(p)
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {n: pd.read_sql(f'SELECT * FROM "{n}"', con) for n in names}
    out: dict[str, pd.DataFrame] = {}
    for f in glob.glob(p + "/*.csv"):
        out.update(load(f[len(T) :]))
    return out


tasks = []


def task(question: str, path: str, reference: str, check: dict) -> None:
    tasks.append(
        {
            "schema": "da.synth.task/1",
            "kind": "qa",
            "template": "handwritten",
            "group": "hand:" + question[:30],
            "question": question,
            "files": [T + path],
            "tables": [],
            "params": {},
            "reference": [reference],
            "checklist": [check],
        }
    )


def num(question: str, path: str, value: float, dec: int = 2) -> None:
    """A number, right when the answer gives it to `dec` decimals (or closer)."""
    shown = round(value, dec)
    args = {"value": float(value), "tolerance": 0.5 * 10**-dec + 1e-9}
    task(
        question,
        path,
        str(shown),
        {"kind": "number", "text": f"the answer gives {shown}", "args": args},
    )


def ent(question: str, path: str, value: object, candidates) -> None:
    """A value of a column, right when the answer names it before any other of them."""
    args = {"entity": str(value), "candidates": [str(c) for c in candidates]}
    check = {"kind": "entity_first", "text": f"the answer names {value} first", "args": args}
    task(question, path, str(value), check)


def top(question: str, path: str, g: pd.Series, low: bool = False) -> None:
    ranked = g.sort_values(ascending=low)
    assert len(ranked) < 2 or ranked.iloc[0] != ranked.iloc[1], f"a tie: {question}"
    ent(question, path, g.idxmin() if low else g.idxmax(), g.index)


def yes(s: pd.Series) -> pd.Series:
    return s.astype(str).str.lower().isin(["true", "yes", "1"])


def write(path: str = "tasks.jsonl") -> None:
    with open(path, "w") as out:
        for row in tasks:
            out.write(json.dumps(row) + "\n")
    print(f"{len(tasks)} questions in {path}")
