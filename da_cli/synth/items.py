"""Stage-1 single-ability items, written without a model from the same tables.

- Code items (`--kind code`): a closed question and the code that answers it — the
  reference query through `sql()`, or the same computation in pandas — run in the sandbox;
  its real output, then the label in a sentence. The pandas variant is an independent
  second computation, so the inspector also catches a template whose two versions disagree.
- Data-understanding items (`--kind understand`): "what does this table hold?", answered
  by an `<Understand>` block that reads the profile the prompt shows (types, ranges,
  frequent values, join keys), one query that checks the size and keys, and an answer
  built from that query's output.

Both use `da analyze`'s prompt and protocol layout, so stage 1 teaches the format that
stage 2 and inference use; the inspector checks them like any trajectory.
"""

import ast
from collections.abc import Callable

from da_cli.agent import protocol
from da_cli.agent.transcript import Step, Transcript
from da_cli.data.profile import ViewProfile
from da_cli.sandbox import Sandbox
from da_cli.synth.questions import Check, Join, Question, answer_sentence, shown
from da_cli.synth.templates import human, ident, roles, singular

MAX_DESCRIBED_COLUMNS = 12
MAX_CHECKED = 5  # columns whose exact statistics the understanding query prints


def _python_sql(query: str) -> str:
    """`sql("...")` as a person writes it: double quotes unless the query has some."""
    if '"' not in query and "\\" not in query:
        return f'sql("{query}")'
    return f"sql({query!r})"


def _gold(
    messages: list[dict],
    q: Question,
    first: list[tuple[str, str]],
    code: str,
    sandbox: Sandbox,
    close: Callable[[str], tuple[str, str]],
) -> Transcript:
    """A transcript laid out exactly as the loop writes one: the first step (Analyze, maybe
    Understand, then Code), the code's real output in an Execute block, then the Analyze
    and Answer that `close` writes from that output."""
    t = Transcript(q.text, messages)
    for kind, text in first:
        tag = kind.title()
        t.continuation += f"<{tag}>\n{text}\n</{tag}>\n"
        t.steps.append(Step(kind, text))  # type: ignore[arg-type]
    t.continuation += f"<Code>\n```python\n{code}\n```\n</Code>"
    t.steps.append(Step("code", code))
    result = sandbox.run(code)
    observation = result.observation()
    t.steps.append(Step("execute", observation, error=not result.ok, seconds=result.seconds))
    t.usage.sandbox_seconds += result.seconds
    t.continuation += protocol.execute_block(observation)
    reading, answer = close(observation)
    t.continuation += f"<Analyze>\n{reading}\n</Analyze>\n<Answer>\n{answer}\n</Answer>"
    t.steps += [Step("analyze", reading), Step("answer", answer)]
    t.answer = answer
    return t


def code_item(q: Question, messages: list[dict], sandbox: Sandbox, pandas: bool) -> Transcript:
    """Question → code → its output → the label in words."""
    code = q.code_pandas if pandas and q.code_pandas else f"print({_python_sql(q.code_sql)})"
    assert q.value is not None
    if q.answer == "entity":
        reading = f"{q.reference} comes first in the output, with {shown(q.value, q.integer)}."
    else:
        reading = f"The output gives {shown(q.value, q.integer)}."
    plan = [("analyze", f"To answer this, I will {q.plan}.")]
    return _gold(messages, q, plan, code, sandbox, lambda _: (reading, answer_sentence(q)))


def understand_question(p: ViewProfile) -> Question:
    """The understanding item's question for one table: a closed number (its row count)
    stands in for the label, so the inspector can check the answer is grounded."""
    t = p.name
    return Question(
        "understand_table",
        "understand",
        f"What does the `{t}` table hold? Describe its columns and what one row stands for.",
        [t],
        sql=f"SELECT count(*) AS rows FROM {ident(t)}",
        code_sql="",
        code_pandas="",
        answer="number",
        integer=True,
        sentence="",
        plan=f"read the profile of `{t}` and check its size and keys with one query",
        anchors=[[t]],
    )


def facts_query(p: ViewProfile) -> str:
    """One query for the exact figures the profile only estimates: rows, distinct values of
    the keys and categories, and the averages of the numbers."""
    r = roles(p)
    parts = ["count(*) AS rows"]
    for c in (r.identifiers[:1] + r.keys + r.categories)[:MAX_CHECKED]:
        parts.append(f"count(DISTINCT {ident(c.name)}) AS {ident(c.name + '_values')}")
    for m in r.measures[:MAX_CHECKED]:
        parts.append(f"round(avg({ident(m.name)}), 2) AS {ident(m.name + '_mean')}")
    return f"SELECT {', '.join(parts)} FROM {ident(p.name)}"


def understanding(p: ViewProfile, joins: list[Join]) -> str:
    """The <Understand> text: what the profile in the prompt says, in sentences."""
    r = roles(p)
    lines = [f"`{p.name}` has {p.rows:,} rows and {p.total_columns} columns."]
    for c in p.columns[:MAX_DESCRIBED_COLUMNS]:
        if c in r.measures:
            what = f"a number from {c.min} to {c.max}"
        elif c in r.categories:
            if c.top:
                more = ", …" if c.distinct > len(c.top) else ""
                what = f"a category: {', '.join(c.top)}{more}"
            else:
                what = f"a category with about {c.distinct} values"
        elif c in r.labels:
            what = "text, a different value in nearly every row"
        elif c in r.dates:
            what = f"dates from {c.min} to {c.max}"
        elif c in r.keys:
            target = next((j.dim for j in joins if j.fact == p.name and j.key == c.name), None)
            what = f"a key into `{target}`" if target else "a code that repeats across rows"
        elif c in r.identifiers:
            what = "an identifier, one per row"
        else:
            what = "values of its own"
        empty = f", {c.nulls:.0%} empty" if c.nulls else ""
        lines.append(f"- {c.name} ({c.type}): {what}{empty}.")
    if p.total_columns > MAX_DESCRIBED_COLUMNS:
        lines.append(f"- … and {p.total_columns - MAX_DESCRIBED_COLUMNS} more columns.")
    for j in joins:
        if j.fact == p.name:
            lines.append(f"It links to `{j.dim}` through {j.key}.")
        elif j.dim == p.name:
            lines.append(f"`{j.fact}` links to it through {j.key}.")
    return "\n".join(lines)


def _facts(observation: str) -> dict:
    """The dict the understanding query printed, or {} if it did not print one."""
    try:
        facts = ast.literal_eval(observation.strip())
    except (ValueError, SyntaxError):
        return {}
    return facts if isinstance(facts, dict) else {}


def understand_item(
    p: ViewProfile, joins: list[Join], messages: list[dict], sandbox: Sandbox, q: Question
) -> Transcript:
    """Question → Understand (the profile) → one checking query → an answer from its output."""
    r = roles(p)

    def close(observation: str) -> tuple[str, str]:
        facts = _facts(observation)
        rows = facts.get("rows", p.rows)
        unit = r.identifiers[0].name if r.identifiers else human(singular(p.name))
        answer = [f"`{p.name}` holds {rows:,} rows, one per {unit}."]
        counted = [
            f"{facts[c.name + '_values']} {human(c.name)} values"
            for c in r.keys + r.categories
            if isinstance(facts.get(c.name + "_values"), int)
        ]
        if counted:
            answer.append("It has " + ", ".join(counted) + ".")
        means = [
            f"{human(m.name)} averages {facts[m.name + '_mean']}"
            for m in r.measures
            if isinstance(facts.get(m.name + "_mean"), int | float)
        ]
        if means:
            answer.append(", ".join(means).capitalize() + ".")
        if r.dates:
            answer.append("Its dates are in " + ", ".join(human(d.name) for d in r.dates) + ".")
        links = sorted({j.dim for j in joins if j.fact == p.name})
        if links:
            answer.append("It links to " + ", ".join(f"`{x}`" for x in links) + ".")
        return "The output gives the exact row count and the distinct values.", " ".join(answer)

    first = [
        ("analyze", f"To answer this, I will {q.plan}."),
        ("understand", understanding(p, joins)),
    ]
    code = f"print({_python_sql(facts_query(p))}.to_dict('records')[0])"
    t = _gold(messages, q, first, code, sandbox, close)
    q.value, q.reference = float(p.rows), str(p.rows)
    exact = {"value": q.value, "tolerance": 0.0}
    q.checklist = [
        Check("complete", "the analysis ends with a complete answer"),
        Check("ran", "the code ran without error"),
        Check("uses_tables", f"the code reads `{p.name}`", {"tables": [p.name]}),
        Check("number", f"the answer gives the row count {p.rows:,}", exact),
        Check("number_shown", f"an output shows the row count {p.rows}", exact),
        Check("grounded", "every number in the answer appears in an output or the profile"),
    ]
    return t
