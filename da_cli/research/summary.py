"""The executive summary: written by the model from the findings, then held to the outputs.

The model sees only the findings (each already cut to what outputs back) and writes a few
bullets as an Answer. Every number it quotes must appear in an Execute output: a draft that
quotes others is sent back once with the numbers named, and whatever still is not backed is
left out. If nothing is left, da writes the summary itself from the findings' first
sentences, and says so.
"""

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Literal

import jinja2

from da_cli.agent import protocol
from da_cli.models.base import Model
from da_cli.research import evidence

MAX_TOKENS = 400
RETRIES = 1
_PROMPTS = Path(__file__).parent / "prompts"
_FIRST_SENTENCE = re.compile(r"^(.+?[.!?])(\s|$)", re.DOTALL)


@dataclass
class Summary:
    text: str  # Markdown
    by: Literal["model", "da"]
    dropped: list[str] = field(default_factory=list)  # left out: numbers no output showed
    attempts: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0


@cache
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(_PROMPTS), undefined=jinja2.StrictUndefined
    )


def _render(name: str, **values: object) -> str:
    return _env().get_template(name).render(**values).strip() + "\n"


@dataclass
class Point:
    """One finding as the summary sees it."""

    title: str
    text: str


def summarize(model: Model, subject: str, points: list[Point], outputs: list[str]) -> Summary:
    """The summary of `points`, every number backed by one of `outputs`."""
    points = [p for p in points if p.text.strip()]
    if not points:
        return Summary("No finding could be backed by the outputs of the analysis.", "da")
    summary = Summary("", "model")
    hint = ""
    answer = ""
    for _ in range(1 + RETRIES):
        messages = [
            {"role": "system", "content": _render("summary_system.j2")},
            {
                "role": "user",
                "content": _render("summary_user.j2", subject=subject, findings=points, hint=hint),
            },
        ]
        gen = model.generate(
            messages,
            "",
            stop=["</Answer>"],
            grammar=protocol.ANSWER_GRAMMAR if model.supports_grammar else None,
            max_tokens=MAX_TOKENS,
            temperature=0.0,
        )
        summary.attempts += 1
        summary.completion_tokens += gen.completion_tokens
        summary.seconds += gen.seconds
        parsed = protocol.parse_step(gen.text).answer
        answer = (parsed if parsed is not None else gen.text).strip()
        missing = evidence.unbacked(answer, outputs)
        if answer and not missing:
            break
        hint = (
            f"A draft quoted {', '.join(missing[:5])}, which no finding shows. "
            "Copy numbers exactly as the findings write them."
            if missing
            else "A draft was empty. Write the bullet points."
        )
    kept, summary.dropped = evidence.grounded_only(answer, outputs)
    if evidence.backing(kept, outputs):
        summary.text = kept
        return summary
    summary.text, summary.by = fallback(points), "da"
    return summary


def fallback(points: list[Point]) -> str:
    """da's own summary: the first sentence of each finding, as bullets."""
    bullets = []
    for p in points:
        text = " ".join(p.text.split())
        m = _FIRST_SENTENCE.match(text)
        bullets.append(f"- **{p.title}.** {m.group(1) if m else text}")
    return "\n".join(bullets)
