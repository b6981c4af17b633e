"""Picking the next token under a grammar, checked one token at a time.

llama-cpp-python puts the grammar in its sampler chain, so every step tests all ~152k
vocabulary entries against the grammar: that halves a 0.5B model's decode speed on a CPU.
llama.cpp's own `common_sampler` avoids this: it picks the token without the grammar and
tests only that one; just when the grammar rejects it are all tokens masked and the pick
made again. Under greedy decoding the result is the same token either way (masking can only
lower other tokens); under sampling it is too in distribution (a rejected draw followed by
a draw from the masked distribution is a draw from the distribution conditioned on what the
grammar allows). `tests/test_real_model.py` checks the greedy texts are identical and
`bench/grammar.py` measures the gain.

`TokenPicker` does this over one sequence's logits (the batched decoder keeps one per
sequence); `install(llm)` makes an existing `llama_cpp.Llama` use it whenever a call is
greedy (temperature 0) with a grammar, and its own sampler chain otherwise.
"""

import ctypes
from collections import Counter, deque
from types import MethodType

import numpy as np

_TOKEN_DATA = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)], align=True)

# llama-cpp-python's defaults for a sampled call, so a sampled analysis draws from the same
# distribution here as through `create_completion`.
TOP_K = 40
TOP_P = 0.95
MIN_P = 0.05


class TokenPicker:
    """One sequence's next-token choice: repeat penalty over the tokens it generated, then
    greedy (temperature 0) or a draw (top-k, top-p, min-p, temperature), then the grammar
    test of the chosen token only."""

    def __init__(
        self,
        vocab,
        n_vocab: int,
        grammar=None,
        *,
        repeat_penalty: float = 1.0,
        last_n: int = 64,
        temperature: float = 0.0,
        rng: np.random.Generator | None = None,
    ) -> None:
        import llama_cpp

        self._c = llama_cpp
        self._n_vocab = n_vocab
        self._grammar = None
        if grammar is not None:
            self._grammar = llama_cpp.llama_sampler_init_grammar(
                vocab, grammar._grammar.encode("utf-8"), grammar._root.encode("utf-8")
            )
            if not self._grammar:
                raise ValueError("llama.cpp could not parse the grammar")
        self.temperature = temperature
        self._rng = rng if rng is not None else np.random.default_rng(0)
        # The repeat penalty of llama.cpp's penalties sampler, over the tokens this call
        # generated (its window is the sampler's last_n accepted tokens).
        self._penalty = repeat_penalty
        self._window: deque[int] = deque(maxlen=max(last_n, 0))
        self._counts: Counter[int] = Counter()
        self._one = (llama_cpp.llama_token_data * 1)()
        self._one_array = llama_cpp.llama_token_data_array(
            data=self._one, size=1, selected=-1, sorted=False
        )
        self._all: np.ndarray | None = None  # built on the first rejection only

    def pick(self, logits: np.ndarray) -> int:
        """The next token from this step's logits (a copy the picker may change)."""
        if self._counts and self._penalty != 1.0:
            seen = np.fromiter(self._counts, dtype=np.int64)
            hit = logits[seen]
            logits[seen] = np.where(hit <= 0, hit * self._penalty, hit / self._penalty)
        token = self._choose(logits)
        if self._grammar is not None:
            if not self._allows(token):
                token = self._choose(self._masked(logits))
            self._c.llama_sampler_accept(self._grammar, token)
        self._accept(token)
        return token

    def _choose(self, logits: np.ndarray) -> int:
        if self.temperature <= 0.0:
            return int(np.argmax(logits))
        finite = int(np.isfinite(logits).sum())
        k = max(1, min(TOP_K, finite))
        top = np.argpartition(logits, -k)[-k:]
        top = top[np.argsort(-logits[top])]
        chosen = logits[top].astype(np.float64)
        p = np.exp(chosen - chosen[0])
        p /= p.sum()
        keep = (np.cumsum(p) - p < TOP_P) & (p >= MIN_P * p[0])
        keep[0] = True
        top, chosen = top[keep], chosen[keep]
        q = np.exp((chosen - chosen[0]) / self.temperature)
        return int(self._rng.choice(top, p=q / q.sum()))

    def _allows(self, token: int) -> bool:
        self._one[0].id, self._one[0].logit, self._one[0].p = token, 0.0, 0.0
        self._c.llama_sampler_apply(self._grammar, ctypes.byref(self._one_array))
        return bool(np.isfinite(self._one[0].logit))

    def _masked(self, logits: np.ndarray) -> np.ndarray:
        """The logits with every token the grammar forbids at -inf."""
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
        return data["logit"].copy()

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


class GreedyGrammarSampler:
    """The sampler `Llama.generate` asks for a token: a greedy `TokenPicker` with the
    grammar. Exposes the `sample(ctx, idx)` and `close()` that llama-cpp-python calls on its
    own sampler chain."""

    def __init__(self, llm, grammar, repeat_penalty: float) -> None:
        self._n_vocab = llm.n_vocab()
        self._picker = TokenPicker(
            llm._model.vocab,
            self._n_vocab,
            grammar,
            repeat_penalty=repeat_penalty,
            last_n=llm.last_n_tokens_size,
        )

    def sample(self, ctx, idx: int) -> int:
        import llama_cpp

        pointer = llama_cpp.llama_get_logits_ith(ctx.ctx, idx)
        logits = np.ctypeslib.as_array(pointer, shape=(self._n_vocab,)).copy()
        return self._picker.pick(logits)

    def close(self) -> None:
        self._picker.close()


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
