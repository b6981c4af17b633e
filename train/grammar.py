"""The protocol grammar for the Hugging Face policy: the GBNF `da analyze` gives llama.cpp,
enforced on the policy's sampling with llguidance, so GRPO samples what the product runs.

Without it a lightly trained 0.5B sampled at temperature 1.0 writes markdown and no tags
(three of three rollouts had no protocol block at all), every rollout of a group fails the
format gate, the group's rewards are all -1 and its advantage is zero: nothing is learned.

Two translations keep llguidance's reading of the grammar the same as llama.cpp's:
- llguidance lexes terminals greedily and never backtracks into one, so a block's text
  rule, whose `"<" [^/]` alternative shares a first byte with `"</Analyze>"`, would swallow
  the "<" of the closing tag. Every rule of ours becomes a parser rule (lower case), so
  only single characters and literals are lexemes and the Earley parser does the choosing.
- The protocol's tags are tokens added to the tokenizer. llguidance would read an added
  token that looks like `<...>` as a special token, which no text rule matches; here every
  token is given the bytes it decodes to, and only the chat's own markers stay special.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from da_cli.agent.protocol import TAG_TOKENS

_SPECIAL = b"\xff"  # llguidance's prefix for a token no text rule may produce


@functools.cache
def lark(gbnf: str) -> str:
    """The GBNF grammar in llguidance's Lark dialect, with every rule a parser rule."""
    from llguidance.gbnf_to_lark import gbnf_to_lark

    text = gbnf_to_lark(gbnf)
    for name in re.findall(r"^([A-Z][A-Z0-9_]*)\s*:", text, re.MULTILINE):
        text = re.sub(rf"\b{name}\b", name.lower(), text)
    return text


def _byte_decoder() -> dict[str, int]:
    """Byte-level BPE's printable stand-in for each byte (GPT-2's table), inverted."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    keep += range(ord("®"), ord("ÿ") + 1)
    shown, extra = {b: chr(b) for b in keep}, 0
    for b in range(256):
        if b not in shown:
            shown[b], extra = chr(256 + extra), extra + 1
    return {c: b for b, c in shown.items()}


class _Vocabulary:
    """What llguidance's TokenizerWrapper reads: each token id's bytes and the specials."""

    def __init__(self, tokenizer: Any, size: int) -> None:
        decode = _byte_decoder()
        added = tokenizer.added_tokens_decoder
        tags = set(TAG_TOKENS)
        self.tokens: list[bytes] = []
        for i in range(size):
            piece = added.get(i)
            if piece is not None:
                raw = piece.content.encode()
                self.tokens.append(raw if piece.content in tags else _SPECIAL + raw)
                continue
            token = tokenizer.convert_ids_to_tokens(i)
            # Ids past the tokenizer (an embedding padded to a round size) are never allowed.
            self.tokens.append(bytes(decode[c] for c in token) if token is not None else b"")
        self.special_token_ids = [i for i, a in added.items() if a.content not in tags]
        self.eos_token_id = tokenizer.eos_token_id
        self.bos_token_id = None
        self._tokenizer = tokenizer

    def __call__(self, text: str) -> list[int]:
        return self._tokenizer.encode(text, add_special_tokens=False)


class Constraint:
    """Builds a matcher for each generation; holds what is costly to build (~1 s) once."""

    def __init__(self, tokenizer: Any, vocab_size: int) -> None:
        import llguidance

        self._llg = llguidance
        wrapper = llguidance.TokenizerWrapper(_Vocabulary(tokenizer, vocab_size))
        self.tokenizer = llguidance.LLTokenizer(wrapper, n_vocab=vocab_size)
        self.vocab_size = vocab_size

    def start(self, gbnf: str) -> Matcher:
        grammar = self._llg.LLMatcher.grammar_from_lark(lark(gbnf))
        return Matcher(self, self._llg.LLMatcher(self.tokenizer, grammar, log_level=1))


class Matcher:
    """One generation's grammar state: masks logits, then follows the sampled token."""

    def __init__(self, constraint: Constraint, matcher: Any) -> None:
        import llguidance.torch

        self._torch = llguidance.torch
        self._m = matcher
        error = matcher.get_error()
        if error:
            raise ValueError(f"the protocol grammar did not compile: {error}")
        self._mask = llguidance.torch.allocate_token_bitmask(1, constraint.vocab_size)

    def mask(self, logits: Any) -> Any:
        """`logits` (one row), in place, with every token the grammar forbids at -inf: no
        copy of the 150k-wide row on every sampled token (the caller samples from it once)."""
        self._torch.fill_next_token_bitmask(self._m, self._mask, 0)
        # llguidance fills the mask in host memory; its kernel needs it beside the logits
        # (on a GPU, a host mask fails inside torch.compile: two devices in one op).
        mask = self._mask.to(logits.device, non_blocking=True)
        self._torch.apply_token_bitmask_inplace(logits.unsqueeze(0), mask)
        return logits

    def accept(self, token: int) -> None:
        if not self._m.consume_token(token):
            raise ValueError(f"a token the grammar allowed was refused: {self._m.get_error()}")

    @property
    def done(self) -> bool:
        """The grammar's text is complete: nothing more may follow."""
        return self._m.is_stopped()
