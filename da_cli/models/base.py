"""The one narrow interface every model backend implements.

A backend continues a conversation: the chat `messages` plus the assistant turn written so
far (`continuation`: the agent's Analyze/Code/Execute text, which DeepAnalyze keeps inside
one assistant turn). It returns the new text, ending with the stop string that ended it, if
any, so callers never need to know whether a backend strips stops.
"""

from dataclasses import dataclass
from typing import Protocol


@dataclass
class Generation:
    text: str
    prompt_tokens: int = 0  # prompt tokens actually evaluated (after KV-cache reuse)
    completion_tokens: int = 0
    seconds: float = 0.0
    finish: str = "stop"  # "stop" (stop string, grammar end or end-of-turn) or "length"


@dataclass
class Request:
    """One continuation of a batch (`Model.generate`'s arguments, plus the sampling seed)."""

    messages: list[dict[str, str]]
    continuation: str
    stop: list[str]
    grammar: str | None
    max_tokens: int
    temperature: float = 0.0
    seed: int = 0

    def options(self) -> dict:
        """`generate`'s keyword arguments."""
        return {
            "stop": self.stop,
            "grammar": self.grammar,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "seed": self.seed,
        }


class Model(Protocol):
    name: str
    supports_grammar: bool
    # True for DeepAnalyze checkpoints: they get the reference prompt, byte for byte.
    native: bool

    def generate(
        self,
        messages: list[dict[str, str]],
        continuation: str,
        *,
        stop: list[str],
        grammar: str | None,
        max_tokens: int,
        temperature: float = 0.0,
        # Sampling's random stream (temperature > 0), fixed by the request alone: a sampled
        # step must not depend on what the process sampled before it.
        seed: int = 0,
    ) -> Generation: ...

    def close(self) -> None: ...


def generate_all(model: Model, requests: list[Request]) -> list[Generation]:
    """Every request's continuation: decoded together by a backend that can (llama.cpp
    keeps several sequences in one batch; an endpoint takes concurrent requests), else one
    after another. One request is always a plain `generate` (its KV-cache reuse intact)."""
    many = getattr(model, "generate_many", None)
    if len(requests) > 1 and many is not None:
        return many(requests)
    return [model.generate(r.messages, r.continuation, **r.options()) for r in requests]


def cut_at_stop(text: str, stop: list[str]) -> tuple[str, bool]:
    """Cut `text` just after the earliest stop string; report whether one was found."""
    best = None
    for s in stop:
        i = text.find(s)
        if i >= 0 and (best is None or i + len(s) < best):
            best = i + len(s)
    return (text[:best], True) if best is not None else (text, False)


def names_deepanalyze(*names: str) -> bool:
    """Whether a model's name (a GGUF's metadata name, a served model's id, a checkpoint's
    path) says it is a DeepAnalyze checkpoint: trained on the tags with no system prompt, so
    it gets DeepAnalyze's reference prompt (`native`)."""
    return any("deepanalyze" in n.lower().replace("-", "").replace("_", "") for n in names)
