"""Prompt templates (Jinja2 files beside this module, rendered with StrictUndefined so a
missing variable is an error, not an empty string)."""

import json
import re
from functools import cache
from pathlib import Path

import jinja2

_DIR = Path(__file__).parent / "prompts"


@cache
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(_DIR),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        autoescape=False,
    )


def render(name: str, **values: object) -> str:
    return _env().get_template(name).render(**values).strip() + "\n"


def file_entry(path: Path, *, native: bool = False) -> str:
    """DeepAnalyze's description of one input file: its name and size, as JSON. The
    reference writes every size in KB; for other models MB reads better for big files."""
    size = path.stat().st_size
    kb = native or size < 1 << 20
    human = f"{size / 1024:.1f}KB" if kb else f"{size / (1 << 20):.1f}MB"
    return json.dumps({"name": path.name, "size": human}, indent=4, ensure_ascii=False)


def native_message(question: str, files: list[Path]) -> str:
    """The user message exactly as DeepAnalyze's reference builds it (API/utils.py:
    `prepare_vllm_messages`): the instruction, then each file sorted by name."""
    listing = "".join(
        f"File {i}:\n{file_entry(p, native=True)}\n\n"
        for i, p in enumerate(sorted(files, key=lambda p: p.name), 1)
    )
    if not listing:
        return f"# Instruction\n{question}"
    return f"# Instruction\n{question}\n\n# Data\n{listing}"


# Small models imitate the one worked example they are shown, so it should show the kind of
# analysis the question asks for. Questions about a change over time get the breakdown
# example; everything else the plain aggregate one.
_CHANGE = re.compile(
    r"\b(why|drop(ped|s)?|f[ae]ll|falls|declin\w*|decreas\w*|increas\w*|ris(e|es|en)|rose|"
    r"gr[eo]w\w*|chang\w*|spik\w*|dip\w*)\b",
    re.IGNORECASE,
)


def is_change_question(question: str) -> bool:
    """Whether the question asks about a change over time (so explain_change is offered and
    its example shown), rather than a plain aggregate."""
    return bool(_CHANGE.search(question))
