"""An optional LLM judge for the GRPO reward: any `da` model backend (an embedded model, a
.gguf file, `replay:PATH` in tests) scores an answer 1-5 against the question, the reference
(when there is one) and the work that led to it. The score enters the reward as score / 5,
as in DeepAnalyze. With a grammar-capable backend the reply is forced to one digit."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import jinja2

from da_cli.models.base import Model

GRAMMAR = "root ::= [1-5]\n"
MAX_WORK_CHARS = 6000  # the transcript shown to the judge, from its end


@cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "prompts"),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )
    return env.get_template("judge.j2")


class Judge:
    def __init__(self, model: Model) -> None:
        self.model = model
        self._scores: dict[tuple[str, str, str], float] = {}

    def score(self, question: str, answer: str | None, reference: str | None, work: str) -> float:
        """The judge's score in [0, 1]; 0 for no answer or a reply without a digit."""
        if not answer:
            return 0.0
        key = (question, answer, work)
        if key not in self._scores:
            prompt = _template().render(
                question=question,
                reference=reference or "",
                work=work[-MAX_WORK_CHARS:],
                answer=answer,
            )
            gen = self.model.generate(
                [{"role": "user", "content": prompt}],
                "",
                stop=[],
                grammar=GRAMMAR if self.model.supports_grammar else None,
                max_tokens=4,
                temperature=0.0,
            )
            m = re.search(r"[1-5]", gen.text)
            self._scores[key] = int(m.group(0)) / 5 if m else 0.0
        return self._scores[key]
