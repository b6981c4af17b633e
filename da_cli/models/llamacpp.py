"""llama.cpp backend (llama-cpp-python) for any GGUF file.

The prompt is the model's own chat template (stored in the GGUF) rendered over the messages,
with the assistant turn left open and the agent's text so far appended. Because every turn
only appends to that string, llama.cpp's prefix matching keeps the KV cache of everything
already evaluated: a turn costs only its new tokens.
"""

import contextlib
import ctypes
import functools
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

from da_cli import interrupts
from da_cli.errors import ModelError
from da_cli.models import sampling, speculative
from da_cli.models.base import Generation, Request, cut_at_stop, names_deepanalyze
from da_cli.models.batch import common_prefix


def physical_cores() -> int:
    """Physical cores available to us: decode speed is bound by memory bandwidth, and
    hyper-threads only add contention."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = set()
    for cpu in range(os.cpu_count() or 1):
        topo = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            cores.add(((topo / "physical_package_id").read_text(), (topo / "core_id").read_text()))
        except OSError:
            return max(1, usable or 1)
    return max(1, min(len(cores), usable or 1))


def is_deepanalyze(metadata: dict[str, str]) -> bool:
    """A DeepAnalyze checkpoint (trained on the tags, no system prompt) by its GGUF name."""
    return names_deepanalyze(metadata.get("general.name", ""), metadata.get("general.basename", ""))


def speculative_enabled() -> bool:
    """DA_SPECULATIVE=1 turns on prompt-lookup drafting for greedy calls (models/
    speculative.py). Off by default: on a CPU its batched logits differ slightly from
    one-token decoding's, so a near-tie can go the other way and the text differ."""
    return os.environ.get("DA_SPECULATIVE", "").strip() == "1"


def threads() -> int:
    """DA_THREADS, else the physical cores. On a machine shared with other llama.cpp jobs,
    fewer threads than cores avoids threads spin-waiting for a core another job holds."""
    value = os.environ.get("DA_THREADS", "")
    return int(value) if value.isdigit() and int(value) > 0 else physical_cores()


def has_amx_kernels() -> bool:
    """This llama.cpp was built with its AMX matrix kernels (a native build on an Intel CPU
    with AMX). They segfault on Q4_K weights, the default model's, at the first token on
    some such CPUs (ggml_backend_amx_mul_mat; llama.cpp#20824, closed without a fix).
    `make install` builds without them; a wheel from elsewhere may have them."""
    import llama_cpp

    return b"AMX_INT8 = 1" in llama_cpp.llama_print_system_info()


@contextlib.contextmanager
def _extra_buffers(enabled: bool) -> Iterator[None]:
    """Load with llama.cpp's extra weight buffers (AMX, repacked layouts) or without them.
    Without costs some speed where the repacked kernels would run; with AMX kernels in the
    build it is the difference between answering and a crash. llama_cpp.Llama has no
    argument for it, so its source of default parameters is wrapped while it loads."""
    if enabled:
        yield
        return
    import llama_cpp.llama_cpp as low

    defaults = low.llama_model_default_params

    def without() -> object:
        params = defaults()
        params.use_extra_bufts = False
        return params

    low.llama_model_default_params = without
    try:
        yield
    finally:
        low.llama_model_default_params = defaults


class LlamaCppModel:
    supports_grammar = True
    native = False  # speaks DeepAnalyze's own protocol (see agent.prompts.native_message)

    def __init__(
        self,
        path: Path,
        *,
        name: str | None = None,
        n_ctx: int = 8192,
        n_threads: int | None = None,
        n_gpu_layers: int | None = None,
        seed: int = 0,
        speculative: bool | None = None,
    ) -> None:
        path = Path(path)
        if not path.is_file():
            raise ModelError(f"Model file {path} does not exist.")
        with path.open("rb") as f:
            if f.read(4) != b"GGUF":
                raise ModelError(f"Model file {path} is not a GGUF file.")
        import llama_cpp  # heavy import: only when a real model is used

        if n_gpu_layers is None:
            n_gpu_layers = -1 if llama_cpp.llama_supports_gpu_offload() else 0
        try:
            with _extra_buffers(not has_amx_kernels()):
                self._llm = llama_cpp.Llama(
                    model_path=str(path),
                    n_ctx=n_ctx,
                    n_threads=n_threads or threads(),
                    n_threads_batch=n_threads or threads(),
                    n_gpu_layers=n_gpu_layers,
                    seed=seed,
                    verbose=False,
                )
        except (ValueError, RuntimeError) as e:
            raise ModelError(f"llama.cpp could not load {path}; the file may be corrupt.") from e
        sampling.install(self._llm)
        self._abort = _abort_flag(self._llm)
        self.name = name or path.stem
        self.path = path
        self.n_ctx = n_ctx
        # Greedy calls draft tokens from the text and verify them in one batch.
        self.speculative = speculative_enabled() if speculative is None else speculative
        self._grammars: dict[str, object] = {}
        self._decoder = None  # the batched context, made on the first generate_many
        self._formatter = self._chat_formatter()
        if is_deepanalyze(self._llm.metadata):
            # The model knows the tags as tokens and was trained without a grammar or a
            # system prompt: give it exactly what it was trained on.
            self.native, self.supports_grammar = True, False

    def _chat_formatter(self):
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        meta = self._llm.metadata
        template = meta.get("tokenizer.chat_template")
        if not template:
            raise ModelError(f"Model {self.path} has no chat template in its GGUF metadata.")

        def token(key: str) -> str:
            tid = meta.get(key)
            if tid is None:
                return ""
            return self._llm.detokenize([int(tid)], special=True).decode("utf-8", "replace")

        return Jinja2ChatFormatter(
            template=template,
            eos_token=token("tokenizer.ggml.eos_token_id"),
            bos_token=token("tokenizer.ggml.bos_token_id"),
            add_generation_prompt=True,
        )

    def render(self, messages: list[dict[str, str]], continuation: str) -> str:
        return self._formatter(messages=messages).prompt + continuation

    def tokenize(self, text: str) -> list[int]:
        return self._llm.tokenize(text.encode("utf-8"), special=True)

    def _grammar(self, gbnf: str):
        if gbnf not in self._grammars:
            from llama_cpp import LlamaGrammar

            self._grammars[gbnf] = LlamaGrammar.from_string(gbnf, verbose=False)
        return self._grammars[gbnf]

    def generate(
        self,
        messages: list[dict[str, str]],
        continuation: str,
        *,
        stop: list[str],
        grammar: str | None,
        max_tokens: int,
        temperature: float = 0.0,
        seed: int = 0,
    ) -> Generation:
        llm = self._llm
        prompt = self.tokenize(self.render(messages, continuation))
        room = self.n_ctx - len(prompt)
        if room < 16:
            raise ModelError(
                f"The transcript ({len(prompt)} tokens) has filled the model's context "
                f"({self.n_ctx} tokens)."
            )
        cached = common_prefix(llm._input_ids[: llm.n_tokens].tolist(), prompt)
        if temperature == 0.0 and self.speculative:
            complete = functools.partial(speculative.complete, llm)
        else:
            # Without a seed llama-cpp-python draws the next from its last one, so a sampled
            # step would depend on how many came before it in the process (the questions an
            # eval ran earlier): the same question, run alone, answered otherwise.
            complete = functools.partial(llm.create_completion, temperature=temperature, seed=seed)
        start = time.perf_counter()
        self._abort.raw = b"\0\0"
        try:
            with interrupts.hook(self._stop):
                out = complete(
                    prompt,
                    max_tokens=min(max_tokens, room),
                    stop=stop,
                    grammar=self._grammar(grammar) if grammar else None,
                    repeat_penalty=1.1,
                )
        except RuntimeError:
            if self._abort.raw[0]:  # llama_decode aborted for a Ctrl-C (it logged why)
                llm.reset()  # the cache may hold part of the aborted batch
                raise KeyboardInterrupt from None
            raise
        seconds = time.perf_counter() - start
        choice = out["choices"][0]
        text = choice["text"]
        finish = choice.get("finish_reason") or "stop"
        if finish == "stop":
            # llama-cpp-python drops the matched stop string; put it back (see base.py).
            tail = llm.detokenize(llm._input_ids[len(prompt) : llm.n_tokens].tolist())
            text = _restore_stop(text, tail.decode("utf-8", "replace"), stop)
        return Generation(
            text=text,
            prompt_tokens=len(prompt) - min(cached, len(prompt) - 1),
            completion_tokens=out["usage"]["completion_tokens"],
            seconds=seconds,
            finish=finish,
        )

    def generate_many(self, requests: list[Request]) -> list[Generation]:
        """Several continuations decoded together (models/batch.py): the prompt tokens they
        share evaluated once, one token of each per llama_decode. Each request samples with
        its own temperature and seed, under its own grammar."""
        import numpy as np

        from da_cli.models.batch import BatchDecoder, Sequence
        from da_cli.models.sampling import TokenPicker

        llm = self._llm
        seqs = []
        for r in requests:
            prompt = self.tokenize(self.render(r.messages, r.continuation))
            room = self.n_ctx - len(prompt)
            if room < 16:
                raise ModelError(
                    f"The transcript ({len(prompt)} tokens) has filled the model's context "
                    f"({self.n_ctx} tokens)."
                )
            grammar = self._grammar(r.grammar) if r.grammar else None
            picker = TokenPicker(
                llm._model.vocab,
                llm.n_vocab(),
                grammar,
                repeat_penalty=1.1,
                last_n=llm.last_n_tokens_size,
                temperature=r.temperature,
                rng=np.random.default_rng(r.seed),
            )
            seqs.append(Sequence(prompt, picker, r.stop, min(r.max_tokens, room)))
        if self._decoder is None or self._decoder.n_seq < len(seqs):
            if self._decoder is not None:
                self._decoder.close()
            self._decoder = BatchDecoder(llm, len(seqs), self.n_ctx, self._abort)
        self._abort.raw = b"\0\0"
        try:
            with interrupts.hook(self._stop):
                self._decoder.decode(seqs)
        finally:
            for s in seqs:
                s.picker.close()
        return [
            Generation(
                text=s.text,
                prompt_tokens=s.evaluated,
                completion_tokens=len(s.tokens),
                seconds=s.seconds,
                finish=s.finish,
            )
            for s in seqs
        ]

    def _stop(self) -> None:
        """From the interrupt watcher thread: make llama.cpp's abort callback say stop."""
        self._abort.raw = b"\1\0"

    def forget(self) -> None:
        """Drop the KV cache: the next prompt is evaluated from its first token. llama.cpp's
        logits differ in the last bits with how a prompt was split into batches, which
        depends on what the cache held, and greedy decoding can flip on such a near-tie.
        `da eval` calls this before each question, so its result depends on it alone."""
        self._llm.reset()
        if self._decoder is not None:
            self._decoder.reset()

    def close(self) -> None:
        if self._decoder is not None:
            self._decoder.close()
            self._decoder = None
        llm, self._llm = self._llm, None
        if llm is not None:
            llm.close()


def _abort_flag(llm) -> ctypes.Array:
    """A one-byte flag llama.cpp checks between the nodes of every graph it computes, so a
    prompt evaluation stops within milliseconds of a Ctrl-C instead of after the batch.
    The callback is libc's strlen over the flag (true once it is non-zero): C, so the
    check costs nothing per node and needs no Python (whose handlers cannot run while the
    main thread is inside llama_decode)."""
    import llama_cpp

    # An aborted decode logs an error line ("decode: removing memory module entries …"):
    # the user pressed Ctrl-C and should see "Interrupted." alone.
    logging.getLogger("llama-cpp-python").setLevel(logging.CRITICAL)
    flag = ctypes.create_string_buffer(2)
    strlen = ctypes.cast(ctypes.CDLL(None).strlen, ctypes.c_void_p).value
    callback = llama_cpp.ggml_abort_callback(strlen)
    llama_cpp.llama_set_abort_callback(llm.ctx, callback, ctypes.cast(flag, ctypes.c_void_p))
    llm._da_abort_callback = callback  # keep the function object alive with the context
    return flag


def _restore_stop(text: str, generated: str, stop: list[str]) -> str:
    """Append the stop string llama.cpp matched (visible in the raw generated tokens)."""
    raw, found = cut_at_stop(generated, stop)
    if found and raw.startswith(text):
        return raw
    for s in stop:
        if generated[len(text) :].startswith(s):
            return text + s
    return text
