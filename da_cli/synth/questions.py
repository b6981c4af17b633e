"""A question as the questioner writes it, and how its label and checklist are settled.

`templates` proposes the questions from the profile; `settle` turns the reference query's
result rows into the label, so every label is what the data says (true by construction),
and drops a question whose answer is ambiguous here (a tie, nothing matched, a null).
`checklist` says what a trajectory must show to be kept; `inspect` checks it.

Closed questions (`qa`) have a number or an entity as the answer; open ones (`research`)
have no single answer, only key facts the answer must name.
"""

import hashlib
import math
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["qa", "research", "understand"]
AnswerKind = Literal["number", "entity"]


@dataclass
class Check:
    """One checklist item: `kind` names the test in `inspect`, `text` says it in words."""

    kind: str
    text: str
    args: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "text": self.text, **({"args": self.args} if self.args else {})}


@dataclass
class Question:
    template: str
    kind: Kind
    text: str
    tables: list[str]
    sql: str  # the reference query: exact values, the answer in the first row
    code_sql: str  # the same query as a reader would write it (rounded), for code items
    code_pandas: str  # the same computation in pandas ("" when names collide)
    answer: AnswerKind
    sentence: str  # the answer in words: "{entity}" and "{value}" are filled in
    plan: str  # "To answer this, I will {plan}."
    anchors: list[list[str]]  # a paraphrase must keep one word of each list
    integer: bool = False  # the number is whole (a count, a sum of integers)
    entity_column: str = ""  # what kind of thing the entity is ("region"), for messages
    # Set by `settle` from the reference query's rows:
    reference: str | None = None  # the label, as text: "West", "4675364.09", "5319"
    value: float | None = None  # the number (the answer, or the entity's figure)
    tolerance: float = 0.0  # how far a number in an answer may be from `value`
    candidates: list[str] = field(default_factory=list)  # entities ranked by the query
    checklist: list[Check] = field(default_factory=list)
    original: str = ""  # the template's wording when a teacher reworded `text`
    # What the template computed, by name (table, agg, measure, by, where, year, join, …):
    # recorded with the item, and what a test recomputes the label from independently.
    params: dict = field(default_factory=dict)
    # The dataset it is about: the source arguments its prompt is built from, and their files.
    sources: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        """Identity for dedupe: two templates that run the same query on the same data ask
        the same thing (`orders` in two datasets are two tables)."""
        text = "\n".join([*self.sources, " ".join(self.sql.split())])
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def group(self) -> str:
        """The unit of the held-out split: rewordings and filter values of one template over
        the same tables stay on one side, so held-out questions are not seen in training."""
        return f"{self.template}:{','.join(self.tables)}"


@dataclass
class Join:
    """A validated join: every (or nearly every) `fact.key` value is a `dim.dim_key`."""

    fact: str
    key: str
    dim: str
    dim_key: str


# --- settling the label --------------------------------------------------------------------


def _number(x: object) -> float | None:
    if isinstance(x, bool) or x is None:
        return None
    if isinstance(x, int | float):
        return None if isinstance(x, float) and not math.isfinite(x) else float(x)
    try:
        v = float(str(x))
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def label_text(v: float, integer: bool) -> str:
    """The label as text, without separators: whole numbers exactly, others at the
    precision an answer is expected to give (2 decimals, or 4 significant digits below 1)."""
    if integer:
        return str(int(round(v)))
    # Half rounds up: 101.585 comes out of one engine as 101.58499999999999 and of another
    # as 101.58500000000001, and the label must not depend on which. The nudge is relative:
    # a fixed 1e-9 turned a slope of 8.667e-09 into the label 9.667e-09.
    v += 1e-9 * v
    if abs(v) >= 1:
        return f"{v:.2f}"
    return f"{v:.4g}"


def shown(v: float, integer: bool) -> str:
    """A number for an answer sentence: thousands separators, the label's precision."""
    text = label_text(v, integer)
    if "e" in text:
        return text
    whole, _, frac = text.partition(".")
    sign = "-" if whole.startswith("-") else ""
    grouped = f"{int(whole.lstrip('-')):,}"
    return sign + grouped + (f".{frac}" if frac else "")


def tolerance(v: float, integer: bool) -> float:
    """How far a number in an answer may be from the label: none for whole numbers; for
    others, rounding to the label's precision (2 decimals, or 4 significant digits below 1)
    or 0.001 % of the value, whichever is more (so 1,197,110 passes for 1,197,110.25, and
    1,197,000 does not)."""
    if integer:
        return 0.0
    if abs(v) >= 1:
        return max(0.005, 1e-5 * abs(v))  # 2 decimal places
    # 4 significant digits: half a unit of the fourth, so 8.667e-09 is ± 5e-13 (not ± 0.5,
    # which passed an answer of 0.0000) and 0.5 is ± 0.00005. Zero is read as 0.0000.
    size = math.floor(math.log10(abs(float(label_text(v, False))))) if v else -1
    return 0.5 * 10 ** (size - 3)


# A template whose answer's size it cannot know writes this in its question, and `settle`
# says the precision the label is checked at: "0.0345" fails an answer of 0.03 unasked.
PRECISION = "{precision}"


def precision(v: float, integer: bool) -> str:
    """The precision an answer must give, in words, as `label_text` writes the label."""
    if integer:
        return ""
    return " Give it to 2 decimal places." if abs(v) >= 1 else " Give 4 significant digits."


def settle(q: Question, rows: list[list]) -> bool:
    """Fill in the label and the checklist from the reference query's rows; False when the
    question has no clear answer here (no rows, a null, a tie for first place)."""
    if not rows or not rows[0]:
        return False
    if q.answer == "number":
        v = _number(rows[0][-1])
        if v is None:
            return False
        q.value = v
        q.reference = label_text(v, q.integer)
        q.tolerance = tolerance(v, q.integer)
        q.text = q.text.replace(PRECISION, precision(v, q.integer))
    else:
        entity, v = rows[0][0], _number(rows[0][-1])
        if entity is None or v is None or not str(entity).strip():
            return False
        if len(rows) > 1 and rows[1][0] != entity:
            runner_up = _number(rows[1][-1])
            if runner_up is not None and math.isclose(v, runner_up, rel_tol=1e-9, abs_tol=1e-9):
                return False  # a tie: no one right answer
        q.reference = str(entity).strip()
        q.value = v
        q.tolerance = tolerance(v, q.integer)
        q.candidates = [str(r[0]).strip() for r in rows if r and r[0] is not None]
    q.checklist = checklist(q)
    return True


def checklist(q: Question) -> list[Check]:
    """What a trajectory must show to be kept, in the order the inspector reports it."""
    items = [
        Check("complete", "the analysis ends with a complete answer (no budget ran out)"),
        Check("well_formed", "no step had to be repaired or sent back by the loop"),
        Check("ran", "the code ran without error (the last cell, and at least one)"),
        Check(
            "uses_tables",
            "the code reads " + ", ".join(f"`{t}`" for t in q.tables),
            {"tables": q.tables},
        ),
    ]
    if q.kind == "research":
        items.append(Check("grounded", "every number in the answer appears in an output"))
        if q.answer == "entity":
            ref = q.reference
            items.append(Check("entity", f"the answer names {ref}", {"entity": ref}))
            if len(q.candidates) >= 3:
                items.append(
                    Check(
                        "names_some",
                        f"the answer compares at least 2 of the {q.entity_column} values",
                        {"candidates": q.candidates, "at_least": 2},
                    )
                )
        else:
            items.append(_number_check(q))
        return items
    if q.answer == "number":
        items.append(_number_check(q))
        items.append(
            Check(
                "number_shown",
                f"an output shows {shown(q.value, q.integer)}",
                {"value": q.value, "tolerance": q.tolerance},
            )
        )
    else:
        items += [
            Check("entity", f"the answer names {q.reference}", {"entity": q.reference}),
            Check(
                "entity_first",
                f"{q.reference} is the first {q.entity_column} the answer names",
                {"entity": q.reference, "candidates": q.candidates},
            ),
            Check("entity_shown", f"an output shows {q.reference}", {"entity": q.reference}),
            # The right name can come from the wrong computation: "which channel had the
            # most revenue in 2025?" answered over all years still names Retail. The
            # figure the reference query ranked by pins the computation down.
            Check(
                "number_shown",
                f"an output shows {q.reference}'s figure, {shown(q.value, q.integer)}",
                {"value": q.value, "tolerance": q.tolerance},
            ),
        ]
    return items


def _number_check(q: Question) -> Check:
    assert q.value is not None
    tol = f" (± {q.tolerance:.4g})" if q.tolerance else ""
    return Check(
        "number",
        f"the answer gives {shown(q.value, q.integer)}{tol}",
        {"value": q.value, "tolerance": q.tolerance},
    )


def answer_sentence(q: Question) -> str:
    """The label in a sentence (for items written without a model)."""
    assert q.value is not None
    value = shown(q.value, q.integer)
    return q.sentence.format(entity=q.reference, value=value)
