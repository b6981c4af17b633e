"""A `da` model backend over the Hugging Face policy being trained.

It satisfies `da_cli.models.base.Model`, so GRPO rollouts run through the same agent loop,
protocol grammar, step parsing and sandbox as `da analyze`. Like the llama.cpp backend it renders
the chat with the model's template (`train.chat`), re-tokenizes the whole prompt every turn,
and returns text ending with the stop string that ended it. Each call is also recorded as a
`Turn` (prompt and sampled token ids, their sampling log-probabilities), from which a rollout
is assembled into token ids with Execute output masked out (`rollout.assemble`).

The grammar is enforced with llguidance (`train.grammar`), and each sampling log-probability
is the masked distribution's, the one the token was drawn from. `grammar=False` leaves the
policy to learn the format itself, as in DeepAnalyze, with the reward's format gate alone.

Departure from `da analyze`: sampling at the training temperature even where the loop asks
for greedy decoding, since GRPO needs different rollouts within a group.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from da_cli.errors import ModelError
from da_cli.models.base import Generation, cut_at_stop
from train import chat
from train import grammar as grammar_lib

_TAIL_TOKENS = 16  # tokens decoded to look for a stop string at each step


@dataclass
class Turn:
    continuation: str  # the assistant text the model was given
    text: str  # what it returned (cut after the stop string)
    prompt_ids: list[int] = field(default_factory=list)
    completion_ids: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)  # sampling log-probs of completion_ids


class PolicyModel:
    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        temperature: float = 1.0,
        top_p: float = 1.0,
        max_context: int | None = None,
        turn_tokens: int | None = None,
        name: str = "policy",
        native: bool = False,
        grammar: bool = False,
    ) -> None:
        self.model = model
        # The loop asks for its protocol grammar only from a backend that supports one.
        self.supports_grammar = grammar
        self._constraint: grammar_lib.Constraint | None = None
        self.tokenizer = tokenizer
        self.temperature = temperature
        self.top_p = top_p
        self.max_context = max_context or getattr(model.config, "max_position_embeddings", 32768)
        # The loop asks at least 256 tokens for a forced answer; a rollout caps every turn.
        self.turn_tokens = turn_tokens
        self.name = name
        # A DeepAnalyze checkpoint trains on the reference prompt it was trained on, as
        # `da analyze` would give it (the session picks the layout from this flag).
        self.native = native
        self.turns: list[Turn] = []
        ends = {tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|endoftext|>")}
        self._eos = sorted(i for i in ends if isinstance(i, int) and i >= 0)

    def render(self, messages: list[dict[str, str]], continuation: str) -> str:
        return chat.render(self.tokenizer, messages, continuation)

    def generate(
        self,
        messages: list[dict[str, str]],
        continuation: str,
        *,
        stop: list[str],
        grammar: str | None,
        max_tokens: int,
        temperature: float = 0.0,
        seed: int = 0,  # unused: a GRPO group's rollouts must differ, so torch's stream runs on
    ) -> Generation:
        tok = self.tokenizer
        prompt_ids = tok(self.render(messages, continuation), add_special_tokens=False)["input_ids"]
        room = self.max_context - len(prompt_ids)
        if room < 16:
            raise ModelError(
                f"The transcript ({len(prompt_ids)} tokens) has filled the policy's context "
                f"({self.max_context} tokens)."
            )
        began = time.perf_counter()
        limit = min(max_tokens, room, self.turn_tokens or max_tokens)
        new, logprobs, stopped = self._decode(
            prompt_ids,
            limit,
            max(temperature, self.temperature),
            stop,
            grammar if self.supports_grammar else None,
        )
        ended_by_eos = bool(new) and new[-1] in self._eos
        text, found = cut_at_stop(tok.decode(new[:-1] if ended_by_eos else new), stop)
        finish = "stop" if found or ended_by_eos or stopped or len(new) < limit else "length"
        self.turns.append(Turn(continuation, text, prompt_ids, new, logprobs))
        return Generation(
            text=text,
            prompt_tokens=len(prompt_ids),
            completion_tokens=len(new),
            seconds=time.perf_counter() - began,
            finish=finish,
        )

    def _matcher(self, gbnf: str, vocab_size: int) -> grammar_lib.Matcher:
        # Sized by the logits (the embedding may be padded past the tokenizer), and built
        # once: reading the vocabulary takes about a second.
        if self._constraint is None or self._constraint.vocab_size != vocab_size:
            self._constraint = grammar_lib.Constraint(self.tokenizer, vocab_size)
        return self._constraint.start(gbnf)

    def _decode(
        self,
        prompt_ids: list[int],
        limit: int,
        temperature: float,
        stop: list[str],
        grammar: str | None = None,
    ) -> tuple[list[int], list[float], bool]:
        """Sample up to `limit` tokens with a KV cache; returns (ids, log-probs, stopped).
        With a `grammar`, only tokens it allows are drawn, and its end ends the generation.

        A plain loop rather than `model.generate`: it samples with the exponential race
        (argmax of p / Exp(1), an exact categorical draw) which on CPU is ~20x faster than
        torch.multinomial over a 150k vocabulary, and yields the sampling log-probs as it goes.
        """
        import torch

        tok = self.tokenizer
        device = next(self.model.parameters()).device
        new: list[int] = []
        logprobs: list[float] = []
        matcher: grammar_lib.Matcher | None = None
        with torch.inference_mode():
            out = self.model(
                input_ids=torch.tensor([prompt_ids], device=device),
                use_cache=True,
                logits_to_keep=1,
            )
            for _ in range(limit):
                logits = out.logits[0, -1].float()
                if grammar is not None and matcher is None:
                    matcher = self._matcher(grammar, logits.shape[-1])
                if matcher is not None:
                    logits = matcher.mask(logits)
                if temperature > 0:
                    logp = torch.log_softmax(logits / temperature, dim=-1)
                    if self.top_p < 1.0:
                        logp = _nucleus(logp, self.top_p)
                    race = logp - torch.empty_like(logp).exponential_().log()
                    token = int(race.argmax())
                else:
                    logp = torch.log_softmax(logits, dim=-1)
                    token = int(logp.argmax())
                new.append(token)
                logprobs.append(float(logp[token]))
                if token in self._eos:
                    return new, logprobs, True
                if matcher is not None:
                    matcher.accept(token)
                    if matcher.done:
                        return new, logprobs, True
                # Tags are single tokens, but an untrained policy can spell one piecewise.
                if stop and any(s in tok.decode(new[-_TAIL_TOKENS:]) for s in stop):
                    return new, logprobs, True
                out = self.model(
                    input_ids=torch.tensor([[token]], device=device),
                    past_key_values=out.past_key_values,
                    use_cache=True,
                )
        return new, logprobs, False

    def close(self) -> None:
        pass


def _nucleus(logp: Any, top_p: float) -> Any:
    """Keep the smallest set of tokens whose probability reaches `top_p`, renormalized."""
    import torch

    sorted_logp, order = torch.sort(logp, descending=True)
    cum = sorted_logp.exp().cumsum(-1)
    drop = cum - sorted_logp.exp() > top_p
    sorted_logp = sorted_logp.masked_fill(drop, float("-inf"))
    kept = torch.full_like(logp, float("-inf")).scatter(0, order, sorted_logp)
    return torch.log_softmax(kept, dim=-1)
