"""A teacher model rewords the template questions, so the solver (and the model trained on
its trajectories) meets questions as people write them, not one template's phrasing.

Any `--model`-style backend can be the teacher (usually a big model behind the
OpenAI-compatible backend). A rewording is kept only if it still asks the same thing as far
as text can tell: every anchor of the template (the table, the column's words, each filter
value and year, the direction "highest"/"lowest") is still there, no number was added (the
answer must not leak in, nor a new filter), it groups by nothing the template did not, and
it is one line ending in a question mark that asks no more questions than the template
did. Otherwise the template's own wording stays.
"""

import re
from functools import cache
from pathlib import Path

import jinja2

from da_cli.models.base import Model
from da_cli.synth import guard
from da_cli.synth.inspect import mentions, numbers
from da_cli.synth.questions import Question

MAX_CHARS = 300
_GROUPING = re.compile(r"\b(?:grouped|group by|for each|per each|broken down)\b", re.IGNORECASE)
GRAMMAR = 'root ::= [^\\n]{8,300} "\\n"\n'


@cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).with_name("prompts")),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )
    return env.get_template("paraphrase.j2")


def clean(text: str) -> str:
    """The question in what the teacher wrote: first line, no label or quotes around it."""
    line = text.strip().splitlines()[0].strip() if text.strip() else ""
    line = re.sub(r"^(rewritten question|question)\s*:\s*", "", line, flags=re.IGNORECASE)
    if len(line) > 1 and line[0] == line[-1] and line[0] in "\"'":
        line = line[1:-1].strip()
    return line


def acceptable(q: Question, text: str) -> bool:
    """Whether `text` may replace the template's wording of `q`."""
    if not (8 <= len(text) <= MAX_CHARS) or "\n" in text or not text.endswith("?"):
        return False
    # Questions added after it ("How many were hired after that date? What was their
    # average salary? …", from the 1.5B teacher) ask for what the label is not.
    if text.count("?") > q.text.count("?"):
        return False
    # A grouping the template did not ask for ("the total for 2024, grouped by the date of
    # reading", twice from the 1.5B teacher) asks for many values, not the label's one.
    if _GROUPING.search(text) and not _GROUPING.search(q.text):
        return False
    if " ".join(text.lower().split()) == " ".join(q.text.lower().split()):
        return False
    for group in q.anchors:
        if not any(mentions(text, word) is not None for word in group):
            return False
    allowed = set(numbers(q.text))
    if any(x not in allowed for x in numbers(text)):
        return False
    ref = q.reference if q.answer == "entity" else None
    if ref and mentions(text, ref) is not None and mentions(q.text, ref) is None:
        return False  # the answer leaked into the question
    return not guard.is_eval_question(text)


def reword(q: Question, teacher: Model) -> bool:
    """Ask the teacher for a rewording of `q`; keep it if acceptable. Returns whether kept."""
    prompt = _template().render(question=q.text).strip()
    gen = teacher.generate(
        [{"role": "user", "content": prompt}],
        "",
        stop=["\n"],
        grammar=GRAMMAR if teacher.supports_grammar else None,
        max_tokens=120,
        temperature=0.0,
    )
    text = clean(gen.text)
    if not acceptable(q, text):
        return False
    q.original, q.text = q.text, text
    return True
