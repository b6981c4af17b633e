"""The chat prompt, rendered exactly as `da analyze` renders it.

The llama.cpp backend (`da_cli.models.llamacpp`) formats the messages with llama-cpp-python's
`Jinja2ChatFormatter` over the model's own chat template, leaves the assistant turn open and
appends the agent's text. Training renders with the very same formatter and the same
template, so the token sequences a policy learns from are the ones it later runs on.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from da_cli.errors import ModelError


@lru_cache(maxsize=8)
def _formatter(template: str, eos: str, bos: str, generation_prompt: bool) -> Any:
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    return Jinja2ChatFormatter(
        template=template, eos_token=eos, bos_token=bos, add_generation_prompt=generation_prompt
    )


def render(
    tokenizer: Any,
    messages: list[dict[str, str]],
    continuation: str = "",
    *,
    generation_prompt: bool = True,
) -> str:
    """The prompt for `messages` with the assistant turn opened and `continuation` in it."""
    template = tokenizer.chat_template
    if not template:
        raise ModelError("The model's tokenizer has no chat template.")
    fmt = _formatter(
        template, tokenizer.eos_token or "", tokenizer.bos_token or "", generation_prompt
    )
    return fmt(messages=messages).prompt + continuation
