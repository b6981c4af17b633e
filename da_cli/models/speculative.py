"""Prompt-lookup speculative decoding for greedy llama.cpp calls.

The agent's code and answers copy column names, numbers and whole lines from the prompt and
from earlier outputs, so the next tokens are often already in the text. `PromptLookup` finds
the last few tokens (an n-gram) earlier in the prompt and generated text and drafts what
followed them; `decode` evaluates the current token and the whole draft in one llama_decode
with logits at every position, so each draft token the model agrees with costs one row of a
batch instead of a whole decoding step.

Verification asks the call's own sampler (the one `Llama.generate` builds: the one-token
grammar check of `sampling.py`, or llama-cpp-python's penalties+greedy chain without a
grammar) for the token at each draft position in turn, as plain decoding asks it after each
token, keeps draft tokens while they equal its pick, then takes its first differing pick. So
the sampler sees the same tokens in the same order and picks what plain decoding picks from
the same logits. The KV entries of rejected draft tokens are removed and `llm.input_ids` /
`n_tokens` say what the cache holds, so the next call's prefix reuse works as before; a call
ends in the state plain decoding leaves (its last token not evaluated), with the text, token
count and finish reason `create_completion` gives.

What it does not promise: the same logits. llama.cpp's CPU kernels for a batch of two or
more tokens are not its one-token kernels, and the logits differ by up to about 0.3 (the
activations are quantized to 8 bits, so rounding differences jump). Where plain decoding's
top two tokens are that close, a batch-verified step can pick the other one and the texts
part there. `tests/test_real_model.py` checks they part only at such near-ties;
`bench/decode.py` measures the speed. Off unless DA_SPECULATIVE=1 (see llamacpp.py). Greedy
calls only: a sampled call's tokens depend on the random stream, which this does not replay.
"""

from collections.abc import Callable, Sequence

# A draft is made only when the text's last MIN_NGRAM or more tokens occurred before, and is
# twice as long as the match (up to MAX_DRAFT): a long match predicts a long copy. After a
# draft of which no token was taken, the match must be twice as long, until a draft is
# mostly taken (counting "1, 2, 3" repeats 3-grams that never predict the next number). On
# the 2-core CPU we measured, a batch of r >= 2 tokens costs about 1.4 + 0.55 r one-token
# steps with the 0.5B model and about r with the 1.5B (its one-token kernels are the faster
# ones), so unsure drafts lose time. Replayed on 90 generations of real agent runs (examples
# with planted causes), these settings took 5.7 tokens a batch: 7.5 where an Answer restates
# an Execute output, 2.4 in first steps.
MIN_NGRAM = 3
MAX_NGRAM = 12
MAX_DRAFT = 16


class PromptLookup:
    """Drafts the tokens that followed the most recent earlier occurrence of the text's
    last n tokens, for the longest n from max_ngram down to min_ngram that occurred. An
    index of every n-gram's latest position is kept as tokens are appended, so a draft
    costs a few dictionary lookups."""

    def __init__(
        self,
        tokens: Sequence[int] = (),
        *,
        min_ngram: int = MIN_NGRAM,
        max_ngram: int = MAX_NGRAM,
        max_draft: int = MAX_DRAFT,
    ) -> None:
        self.min_ngram = min_ngram
        self.max_ngram = max_ngram
        self.max_draft = max_draft
        self.need = min_ngram  # the shortest match drafted from now (see `taken`)
        self.tokens: list[int] = []
        # n-gram -> index of the token that followed its latest occurrence.
        self._next: dict[tuple[int, ...], int] = {}
        for token in tokens:
            self.append(token)

    def append(self, token: int) -> None:
        toks = self.tokens
        end = len(toks)  # the new token's index: the n-grams just before it now have a follower
        toks.append(token)
        for n in range(self.min_ngram, min(self.max_ngram, end) + 1):
            self._next[tuple(toks[end - n : end])] = end

    def draft(self, limit: int = MAX_DRAFT) -> list[int]:
        """Up to 2 n tokens (and at most max_draft and `limit`) predicted to come next, n
        being the longest match; [] when the last `need` tokens never occurred before."""
        toks = self.tokens
        for n in range(min(self.max_ngram, len(toks) - 1), self.need - 1, -1):
            start = self._next.get(tuple(toks[-n:]))
            if start is not None:
                return toks[start : start + max(0, min(2 * n, self.max_draft, limit))]
        return []

    def taken(self, accepted: int, drafted: int) -> None:
        """How many of the last draft's tokens the model agreed with."""
        if drafted and not accepted:
            self.need = min(2 * self.need, self.max_ngram)
        elif drafted and 2 * accepted >= drafted:
            self.need = self.min_ngram


class Ending:
    """Where `Llama.create_completion` (not streaming) ends a call, fed one sampled token at
    a time: at an end-of-generation token, at a stop string in the text (the first of `stop`
    that occurs; the text is cut before it), or after `max_tokens` tokens. A token that
    leaves a UTF-8 character incomplete defers the last two checks, as there."""

    def __init__(
        self,
        detokenize: Callable[[list[int]], bytes],
        is_eog: Callable[[int], bool],
        stop: list[str],
        max_tokens: int,
    ) -> None:
        self._detokenize = detokenize
        self._is_eog = is_eog
        self._stop = [s.encode("utf-8") for s in stop]
        self.max_tokens = max_tokens
        self._multibyte = 0
        self.tokens: list[int] = []  # the completion's tokens (an end-of-generation one not)
        self.text = b""
        self.finish = "length"

    def add(self, token: int) -> bool:
        """Take the next sampled token; True when the completion ends with it."""
        if self._is_eog(token):
            self.text = self._detokenize(self.tokens)
            self.finish = "stop"
            return True
        self.tokens.append(token)
        text = self._detokenize(self.tokens)
        for k, char in enumerate(text[-3:]):
            k = 3 - k
            for num, pattern in ((2, 192), (3, 224), (4, 240)):
                if num > k and pattern & char == pattern:
                    self._multibyte = num - k
        if self._multibyte > 0:
            self._multibyte -= 1
            return False
        found = [s for s in self._stop if s in text]
        if found:
            self.text = text[: text.index(found[0])]
            self.finish = "stop"
            return True
        if len(self.tokens) >= self.max_tokens:
            self.text = text
            self.finish = "length"
            return True
        return False


def complete(
    llm,
    prompt: list[int],
    *,
    max_tokens: int,
    stop: list[str],
    grammar=None,
    repeat_penalty: float = 1.0,
    lookup: PromptLookup | None = None,
) -> dict:
    """What `llm.create_completion(prompt, max_tokens=…, stop=…, grammar=…,
    temperature=0.0, repeat_penalty=…)` returns (its text, finish_reason and usage's
    completion_tokens), decoded with drafts from `lookup` (default: over the prompt)."""
    import llama_cpp  # heavy import: only when a real model is used

    n_ctx = llm.n_ctx()
    if max_tokens <= 0 or max_tokens + len(prompt) >= n_ctx:
        max_tokens = n_ctx - len(prompt)  # create_completion's own clamp
    # llama-cpp-python evaluates the prompt (reusing the cached prefix its way) and samples
    # the first token; its sampler, left in llm._sampler, then verifies every draft.
    first = llm.generate(prompt, temp=0.0, repeat_penalty=repeat_penalty, grammar=grammar)
    token = next(first)
    first.close()
    vocab = llm._model.vocab
    ending = Ending(
        lambda tokens: llm.detokenize(tokens, prev_tokens=prompt),
        lambda t: llama_cpp.llama_vocab_is_eog(vocab, t),
        stop,
        max_tokens,
    )
    # Verification batches are decoding steps: give them the decoding thread count, not the
    # prompt's (llama.cpp takes n_threads_batch for any batch of two or more tokens).
    llm._ctx.set_n_threads(llm.n_threads, llm.n_threads)
    try:
        decode(llm, llm._sampler, token, ending, lookup or PromptLookup(prompt))
    finally:
        llm._ctx.set_n_threads(llm.n_threads, llm.n_threads_batch)
    text = ending.text.decode("utf-8", errors="ignore")
    return {
        "choices": [{"text": text, "finish_reason": ending.finish}],
        "usage": {"completion_tokens": len(ending.tokens)},
    }


def decode(llm, sampler, token: int, ending: Ending, lookup: PromptLookup) -> None:
    """Feed `token` (sampled, not yet evaluated) and the tokens after it to `ending` until it
    ends the completion. `lookup` holds the text before `token`. Leaves the KV cache holding
    the prompt and every completion token but the last, as plain decoding does."""
    n_ctx = llm.n_ctx()
    done = ending.add(token)
    while not done:
        lookup.append(token)
        room = min(ending.max_tokens - len(ending.tokens) - 1, n_ctx - llm.n_tokens - 1)
        draft = lookup.draft(room)
        n_past = llm.n_tokens
        _evaluate(llm, [token, *draft])
        # Row i's logits follow batch token i; draft[i] is batch token i + 1.
        for i in range(len(draft) + 1):
            token = sampler.sample(llm._ctx, i)
            done = ending.add(token)
            if done or i == len(draft) or token != draft[i]:
                break
            lookup.append(token)
        lookup.taken(i, len(draft))
        kept = n_past + i + 1  # the batch up to row i; the drafts after it were not taken
        if kept < llm.n_tokens:
            llm._ctx.kv_cache_seq_rm(-1, kept, -1)
            llm.n_tokens = kept
            llm._requires_eval = True  # the last logits are no longer the last token's


def _evaluate(llm, tokens: list[int]) -> None:
    """`Llama.eval` of one batch, with logits at every position."""
    n_past = llm.n_tokens
    llm._batch.set_batch(batch=tokens, n_past=n_past, logits_all=True)
    llm._ctx.decode(llm._batch)
    llm.input_ids[n_past : n_past + len(tokens)] = tokens
    llm.n_tokens = n_past + len(tokens)
    llm._requires_eval = False
