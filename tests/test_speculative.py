"""Prompt-lookup drafting (models/speculative.py) without a model: the n-gram lookup, and the
decode loop against a scripted model whose logits depend only on the text before a position
(as exact arithmetic would give), so drafting must not change a single token."""

import numpy as np
import pytest

from da_cli.models.speculative import Ending, PromptLookup, decode

EOG = 0


def test_lookup_drafts_what_followed_the_latest_occurrence_of_the_longest_match():
    # "7 8 9" occurred twice; the later occurrence (followed by 50 51 ...) wins. The match
    # is 3 tokens long, so the draft is 6 tokens: a long match predicts a long copy.
    text = [7, 8, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 50, 51, 52, 53, 54, 55, 56, 4, 7, 8, 9]
    assert PromptLookup(text).draft() == [50, 51, 52, 53, 54, 55]
    # A longer match elsewhere beats a more recent shorter one.
    text = [1, 2, 3, 4, 40, 41, 42, 9, 2, 3, 4, 60, 61, 1, 2, 3, 4]
    assert PromptLookup(text).draft()[:3] == [40, 41, 42]


def test_lookup_drafts_nothing_without_a_repeated_ngram_and_respects_the_limits():
    assert PromptLookup([1, 2, 3, 4, 5, 6]).draft() == []
    assert PromptLookup([1, 2, 3, 9, 2, 3]).draft() == []  # a 2-token match is too short
    text = list(range(40)) + list(range(10))  # a 10-token match: up to 20 tokens follow
    assert PromptLookup(text).draft() == list(range(10, 26))  # max_draft 16
    assert PromptLookup(text).draft(limit=3) == [10, 11, 12]
    assert PromptLookup(text, max_draft=0).draft() == []


def test_lookup_indexes_tokens_as_they_are_appended():
    lookup = PromptLookup([5, 6, 7, 8])
    for token in (1, 5, 6, 7):
        lookup.append(token)
    assert lookup.draft() == [8, 1, 5, 6, 7]  # the copy runs into the appended text


def test_a_refused_draft_makes_the_next_one_wait_for_a_longer_match():
    text = [1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 3]
    lookup = PromptLookup(text)
    assert lookup.draft() == [4, 5, 6, 7, 8, 9]
    lookup.taken(0, 6)  # the model wanted something else: a 3-token match no longer drafts
    assert lookup.draft() == []
    for token in (4, 5, 6):  # a 6-token match does
        lookup.append(token)
    assert lookup.draft() == [7, 8, 9, 1, 2, 3, 4, 5, 6]
    lookup.taken(5, 9)  # mostly taken: short matches draft again
    assert lookup.need == lookup.min_ngram


class ScriptedLlm:
    """The parts of `llama_cpp.Llama` the loop uses (itself, its _ctx and _batch) and its
    sampler: the model continues `script` and checks that the KV cache it is asked about
    holds the prompt and the script so far, that batches continue the cache, and that the
    sampler is asked about each position once, in order."""

    def __init__(self, prompt: list[int], script: list[int]) -> None:
        self.prompt, self.script = prompt, script
        self.input_ids = np.zeros(512, dtype=np.intc)
        self.input_ids[: len(prompt)] = prompt
        self.n_tokens = len(prompt)
        self.kv = list(prompt)
        self._ctx = self._batch = self
        self.asked: list[int] = []
        self.batches: list[int] = []

    def n_ctx(self) -> int:
        return 512

    def set_batch(self, batch, n_past: int, logits_all: bool) -> None:
        assert logits_all and n_past == len(self.kv), "a batch must continue the cache"
        self.pending = list(batch)

    def decode(self, _batch) -> None:
        self.start = len(self.kv)
        self.kv += self.pending
        self.batches.append(len(self.pending))

    def kv_cache_seq_rm(self, seq_id: int, p0: int, p1: int) -> bool:
        assert p1 == -1
        del self.kv[p0:]
        return True

    def sample(self, ctx, i: int) -> int:
        generated = self.kv[len(self.prompt) : self.start + i + 1]
        assert generated == self.script[: len(generated)], "logits of a rejected draft"
        self.asked.append(len(generated))
        return self.script[len(generated)]


def detokenize(tokens: list[int]) -> bytes:
    return b"".join(f"<{t}>".encode() for t in tokens)


PROMPT = list(range(1, 21)) + [5, 6, 7, 8, 30, 31, 32, 33]
# Copies from the prompt, breaks off, copies itself: drafts are taken, cut short and refused.
SCRIPT = [5, 6, 7, 8, 9, 10, 11, 12, 13, 40, 41, 5, 6, 7, 8, 30, 31, 32, 33, 34, 35, 5, 6, 7, 8]
SCRIPT += [9, 10, 11, 12, 13, 40, 41, 42, EOG]


@pytest.mark.parametrize("max_tokens", [100, 20])
def test_drafting_decodes_the_tokens_plain_decoding_does(max_tokens):
    runs = []
    for lookup in (PromptLookup(PROMPT), PromptLookup(PROMPT, max_draft=0)):
        llm = ScriptedLlm(PROMPT, SCRIPT)
        ending = Ending(detokenize, lambda t: t == EOG, [], max_tokens)
        decode(llm, llm, SCRIPT[0], ending, lookup)
        n = len(ending.tokens)
        expected = SCRIPT[:-1] if max_tokens == 100 else SCRIPT[:max_tokens]
        assert ending.tokens == expected
        assert ending.finish == ("stop" if max_tokens == 100 else "length")
        assert ending.text == detokenize(expected)
        assert llm.asked == list(range(1, len(SCRIPT) if max_tokens == 100 else n))
        # The cache holds what plain decoding leaves: the prompt and all tokens but the last
        # sampled one, and the bookkeeping llama-cpp-python's prefix reuse reads says so.
        evaluated = PROMPT + (SCRIPT[:-1] if max_tokens == 100 else SCRIPT[: n - 1])
        assert llm.kv == llm.input_ids[: llm.n_tokens].tolist() == evaluated
        runs.append(llm.batches)
    drafted, plain = runs
    assert set(plain) == {1} and max(drafted) > 1 and len(drafted) < len(plain)


def test_ending_follows_create_completion():
    pieces = {1: b"a", 2: b"xy", 3: "é".encode()[:1], 4: "é".encode()[1:], 5: b"bc"}

    def text(tokens: list[int]) -> bytes:
        return b"".join(pieces[t] for t in tokens)

    # The first string of `stop` found cuts the text before it, wherever the others are.
    ending = Ending(text, lambda t: t == EOG, ["y", "x"], 10)
    assert not ending.add(1) and ending.add(2)
    assert (ending.text, ending.finish, ending.tokens) == (b"ax", "stop", [1, 2])
    # An end-of-generation token ends the text and is not counted.
    ending = Ending(text, lambda t: t == EOG, [], 10)
    assert not ending.add(1) and ending.add(EOG)
    assert (ending.text, ending.finish, ending.tokens) == (b"a", "stop", [1])
    # A token that leaves a UTF-8 character open defers the checks, even past max_tokens.
    ending = Ending(text, lambda t: t == EOG, [], 2)
    assert not ending.add(5) and not ending.add(3) and ending.add(4)
    assert (ending.text.decode(), ending.finish, len(ending.tokens)) == ("bcé", "length", 3)
