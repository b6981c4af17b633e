"""Greedy decoding under a grammar, checked one token at a time.

llama-cpp-python puts the grammar in its sampler chain, so every step tests all ~152k
vocabulary entries against the grammar: that halves a 0.5B model's decode speed on a CPU.
llama.cpp's own `common_sampler` avoids this: it picks the token without the grammar and
tests only that one; just when the grammar rejects it are all tokens masked and the pick
made again. Under greedy decoding the result is the same token either way (masking can only
lower other tokens), so this is a pure speed-up; `tests/test_real_model.py` checks the texts
are identical and `bench/grammar.py` measures the gain.

`install(llm)` makes an existing `llama_cpp.Llama` use this path whenever a call is greedy
(temperature 0) with a grammar, and its own sampler chain otherwise.
"""

import ctypes
from collections import Counter, deque
from types import MethodType

import numpy as np

_TOKEN_DATA = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)], align=True)


class GreedyGrammarSampler:
    """The sampler `Llama.generate` asks for a token: penalties, then greedy, then the
    grammar test of the chosen token only. Exposes the `sample(ctx, idx)` and `close()`
    that llama-cpp-python calls on its own sampler chain."""

    def __init__(self, llm, grammar, repeat_penalty: float) -> None:
        import llama_cpp

        self._c = llama_cpp
        self._n_vocab = llm.n_vocab()
        self._grammar = llama_cpp.llama_sampler_init_grammar(
            llm._model.vocab, grammar._grammar.encode("utf-8"), grammar._root.encode("utf-8")
        )
        if not self._grammar:
            raise ValueError("llama.cpp could not parse the grammar")
        # The repeat penalty of llama.cpp's penalties sampler, over the tokens this call
        # generated (its window is the sampler's last_n accepted tokens).
        self._penalty = repeat_penalty
        self._window: deque[int] = deque(maxlen=max(llm.last_n_tokens_size, 0))
        self._counts: Counter[int] = Counter()
        self._one = (llama_cpp.llama_token_data * 1)()
        self._one_array = llama_cpp.llama_token_data_array(
            data=self._one, size=1, selected=-1, sorted=False
        )
        self._all: np.ndarray | None = None  # built on the first rejection only

    def sample(self, ctx, idx: int) -> int:
        c = self._c
        pointer = c.llama_get_logits_ith(ctx.ctx, idx)
        logits = np.ctypeslib.as_array(pointer, shape=(self._n_vocab,)).copy()
        if self._counts and self._penalty != 1.0:
            seen = np.fromiter(self._counts, dtype=np.int64)
            hit = logits[seen]
            logits[seen] = np.where(hit <= 0, hit * self._penalty, hit / self._penalty)
        token = int(np.argmax(logits))
        if not self._allows(token):
            token = self._masked_argmax(logits)
        c.llama_sampler_accept(self._grammar, token)
        self._accept(token)
        return token

    def _allows(self, token: int) -> bool:
        self._one[0].id, self._one[0].logit, self._one[0].p = token, 0.0, 0.0
        self._c.llama_sampler_apply(self._grammar, ctypes.byref(self._one_array))
        return bool(np.isfinite(self._one[0].logit))

    def _masked_argmax(self, logits: np.ndarray) -> int:
        c = self._c
        if self._all is None:
            self._all = np.zeros(self._n_vocab, dtype=_TOKEN_DATA)
        data = self._all
        data["id"] = np.arange(self._n_vocab, dtype=np.int32)
        data["logit"] = logits
        array = c.llama_token_data_array(
            data=data.ctypes.data_as(ctypes.POINTER(c.llama_token_data)),
            size=self._n_vocab,
            selected=-1,
            sorted=False,
        )
        c.llama_sampler_apply(self._grammar, ctypes.byref(array))
        return int(data["id"][int(np.argmax(data["logit"]))])

    def _accept(self, token: int) -> None:
        if self._window.maxlen == 0:
            return
        if len(self._window) == self._window.maxlen:
            old = self._window[0]
            self._counts[old] -= 1
            if not self._counts[old]:
                del self._counts[old]
        self._window.append(token)
        self._counts[token] += 1

    def close(self) -> None:
        if self._grammar:
            self._c.llama_sampler_free(self._grammar)
            self._grammar = None

    def __del__(self) -> None:
        self.close()


def install(llm) -> None:
    """Route this Llama's greedy, grammar-constrained calls through GreedyGrammarSampler."""
    chain = type(llm)._init_sampler

    def init_sampler(self, *args, grammar=None, temp: float = 0.8, **kwargs):
        simple = (
            not args
            and kwargs.get("logits_processor") is None
            and not kwargs.get("mirostat_mode")
            and not kwargs.get("frequency_penalty")
            and not kwargs.get("presence_penalty")
        )
        if grammar is not None and temp == 0.0 and simple:
            return GreedyGrammarSampler(self, grammar, kwargs.get("repeat_penalty", 1.0))
        return chain(self, *args, grammar=grammar, temp=temp, **kwargs)

    llm._init_sampler = MethodType(init_sampler, llm)
