"""Several sequences decoded together in one llama.cpp context.

Decoding on a CPU is bound by memory bandwidth: each step reads every weight once, whether
it computes one token or four. So K analyses of one question cost far less decoded together
than one after another. This module keeps K sequences in one context (a unified KV cache,
sequence i in slot i) and advances them in lockstep, one token each per `llama_decode`.

Prompt tokens that several sequences share (the whole opening prompt, the first time) are
evaluated once, in a batch entry that belongs to all of them; each sequence keeps the KV
cache of what it has evaluated, so its next step costs only the tokens it adds. Each
sequence has its own `TokenPicker` (grammar state, repeat penalty, temperature, random
stream), stop strings and token limit.
"""

import ctypes
import time
from dataclasses import dataclass, field

import numpy as np

from da_cli.models.base import cut_at_stop
from da_cli.models.sampling import TokenPicker


@dataclass
class Sequence:
    """One sequence's part of a `BatchDecoder.decode` call: its input and, after, its output."""

    prompt: list[int]
    picker: TokenPicker
    stop: list[str]
    max_tokens: int
    tokens: list[int] = field(default_factory=list)  # generated
    text: str = ""
    finish: str = "stop"
    evaluated: int = 0  # prompt tokens this call evaluated for it (not already cached)
    seconds: float = 0.0


def common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


class BatchDecoder:
    """A context of `n_seq` sequences of up to `n_ctx_seq` tokens each, on `llm`'s weights.

    `abort`: the one-byte flag llama.cpp's abort callback reads (set on Ctrl-C)."""

    def __init__(self, llm, n_seq: int, n_ctx_seq: int, abort: ctypes.Array) -> None:
        import llama_cpp
        from llama_cpp import _internals

        self._c = llama_cpp
        params = type(llm.context_params).from_buffer_copy(llm.context_params)
        params.n_ctx = n_ctx_seq * n_seq
        params.n_seq_max = n_seq
        # One buffer for all sequences: a shared prefix is one set of cells, and any
        # sequence may use as much of the cache as it needs.
        params.kv_unified = True
        # Flash attention: without it a batch's attention scores are materialised over the
        # whole cache (K times one sequence's), and the first decode took seconds.
        params.flash_attn_type = 1
        self._ctx = _internals.LlamaContext(model=llm._model, params=params, verbose=False)
        self.n_batch = int(params.n_batch)
        self._batch = _internals.LlamaBatch(n_tokens=self.n_batch, embd=0, n_seq_max=n_seq)
        strlen = ctypes.cast(ctypes.CDLL(None).strlen, ctypes.c_void_p).value
        self._abort_callback = llama_cpp.ggml_abort_callback(strlen)  # kept alive here
        llama_cpp.llama_set_abort_callback(
            self._ctx.ctx, self._abort_callback, ctypes.cast(abort, ctypes.c_void_p)
        )
        self._abort = abort
        self._llm = llm
        self._vocab = llm._model.vocab
        self._n_vocab = llm.n_vocab()
        self.n_seq, self.n_ctx_seq = n_seq, n_ctx_seq
        self._cached: list[list[int]] = [[] for _ in range(n_seq)]

    # --- one call --------------------------------------------------------------------------

    def decode(self, seqs: list[Sequence]) -> None:
        """Continue every sequence (sequence i in slot i) until its stop string, an
        end-of-generation token, its token limit or the end of its context."""
        if len(seqs) > self.n_seq:
            raise ValueError(f"{len(seqs)} sequences for a context of {self.n_seq}")
        start = time.perf_counter()
        try:
            logits = self._prompts(seqs)
            self._generate(seqs, logits, start)
        except RuntimeError:
            self.reset()  # the cache may hold part of an aborted or failed batch
            if self._abort.raw[0]:
                raise KeyboardInterrupt from None
            raise

    def _prompts(self, seqs: list[Sequence]) -> dict[int, np.ndarray]:
        """Evaluate what each prompt adds to its cache, shared entries once; the logits of
        each prompt's last token."""
        starts = []
        for i, s in enumerate(seqs):
            # Keep at least the last prompt token to evaluate: its logits start decoding.
            keep = min(common_prefix(self._cached[i], s.prompt), len(s.prompt) - 1)
            self._ctx.kv_cache_seq_rm(i, keep, -1)
            self._cached[i] = s.prompt[:keep]
            s.evaluated = len(s.prompt) - keep
            starts.append(keep)
        shared = [[common_prefix(a.prompt, b.prompt) for b in seqs] for a in seqs]
        # (token, position, sequences, sequences whose last prompt token this is)
        entries: list[tuple[int, int, list[int], list[int]]] = []
        for pos in range(min(starts), max(len(s.prompt) for s in seqs)):
            groups: list[list[int]] = []
            for i, s in enumerate(seqs):
                if not starts[i] <= pos < len(s.prompt):
                    continue
                # Same token after the same prefix: the same cell serves both sequences.
                group = next((g for g in groups if shared[g[0]][i] > pos), None)
                if group is None:
                    groups.append([i])
                else:
                    group.append(i)
            for g in groups:
                last = [i for i in g if pos == len(seqs[i].prompt) - 1]
                entries.append((seqs[g[0]].prompt[pos], pos, g, last))
        logits: dict[int, np.ndarray] = {}
        for first in range(0, len(entries), self.n_batch):
            chunk = entries[first : first + self.n_batch]
            self._fill([(tok, pos, ids, bool(last)) for tok, pos, ids, last in chunk])
            self._ctx.decode(self._batch)
            for j, (_, _, _, last) in enumerate(chunk):
                if last:
                    row = self._logits(j)
                    for i in last:
                        logits[i] = row.copy()
        for i, s in enumerate(seqs):
            self._cached[i] = list(s.prompt)
        return logits

    def _generate(self, seqs: list[Sequence], logits: dict[int, np.ndarray], start: float) -> None:
        pieces: list[bytearray] = [bytearray() for _ in seqs]
        live = list(range(len(seqs)))
        while live:
            fed = []
            for i in live:
                s = seqs[i]
                token = s.picker.pick(logits[i])
                if self._c.llama_vocab_is_eog(self._vocab, token):
                    s.finish = "stop"
                    continue
                s.tokens.append(token)
                pieces[i] += self._llm.detokenize([token])
                text = pieces[i].decode("utf-8", "replace")
                s.text, found = cut_at_stop(text, s.stop)
                if found:
                    s.finish = "stop"
                elif len(s.tokens) >= s.max_tokens or len(s.prompt) + len(s.tokens) >= (
                    self.n_ctx_seq
                ):
                    s.finish = "length"
                else:
                    fed.append(i)
                if i not in fed:
                    s.seconds = time.perf_counter() - start
            if not fed:
                break
            self._fill([(seqs[i].tokens[-1], len(self._cached[i]), [i], True) for i in fed])
            self._ctx.decode(self._batch)
            for j, i in enumerate(fed):
                self._cached[i].append(seqs[i].tokens[-1])
                logits[i] = self._logits(j).copy()
            live = fed
        for s in seqs:
            s.seconds = s.seconds or time.perf_counter() - start

    # --- the batch -------------------------------------------------------------------------

    def _fill(self, entries: list[tuple[int, int, list[int], bool]]) -> None:
        b = self._batch.batch
        b.n_tokens = len(entries)
        for j, (token, pos, ids, want) in enumerate(entries):
            b.token[j] = token
            b.pos[j] = pos
            b.n_seq_id[j] = len(ids)
            for k, i in enumerate(ids):
                b.seq_id[j][k] = i
            b.logits[j] = want

    def _logits(self, j: int) -> np.ndarray:
        pointer = self._c.llama_get_logits_ith(self._ctx.ctx, j)
        return np.ctypeslib.as_array(pointer, shape=(self._n_vocab,))

    def reset(self) -> None:
        self._ctx.kv_cache_clear()
        self._cached = [[] for _ in range(self.n_seq)]

    def close(self) -> None:
        self._batch.close()
        self._ctx.close()
