"""Export a trained model as a GGUF that `da analyze --model` loads.

merge adapters (a LoRA checkpoint) → a full Hugging Face folder → llama.cpp's converter
(f16, bf16 or q8_0 directly) → `llama_model_quantize` from the compiled bindings for the
K-quants (the converter has none, and llama-cpp-python does not build `llama-quantize`).
Tensors whose rows do not split into K-quant blocks of 256 (a tiny model's 64-wide ones)
fall back to a compatible type inside llama.cpp, so any size exports. The result is
checked by loading its vocabulary and tokenizing the protocol tags.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from da_cli.agent.protocol import TAG_TOKENS
from da_cli.errors import ModelError, UsageError
from train import converter

# name → (converter --outtype, llama.cpp ftype to quantize to afterwards or None)
QUANTS: dict[str, tuple[str, str | None]] = {
    "f16": ("f16", None),
    "bf16": ("bf16", None),
    "q8_0": ("q8_0", None),
    "q4_k_m": ("f16", "LLAMA_FTYPE_MOSTLY_Q4_K_M"),
    "q5_k_m": ("f16", "LLAMA_FTYPE_MOSTLY_Q5_K_M"),
    "q6_k": ("f16", "LLAMA_FTYPE_MOSTLY_Q6_K"),
}


@dataclass
class Exported:
    path: Path
    size: int
    seconds: float
    source: Path


def find_model(path: Path) -> Path:
    """The model folder to export: `path` itself (a full model or an adapter checkpoint),
    or, for a training output directory, the `final` of its last stage."""
    if (path / "config.json").is_file() or (path / "adapter_config.json").is_file():
        return path
    for stage in ("stage2-rl", "stage2-sft", "stage1"):
        final = path / stage / "final"
        if (final / "config.json").is_file():
            return final
    raise UsageError(
        f"{path} holds no model: give a model folder, a checkpoint, or a training output "
        "directory with a finished stage."
    )


def export(source: Path, out: Path, quant: str = "q4_k_m") -> Exported:
    if quant not in QUANTS:
        raise UsageError(f"Unknown quantization '{quant}'; use one of {', '.join(QUANTS)}.")
    began = time.perf_counter()
    model_dir = find_model(source)
    script = converter.script()
    out.parent.mkdir(parents=True, exist_ok=True)
    outtype, ftype = QUANTS[quant]
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".export-") as tmp:
        work = Path(tmp)
        if (model_dir / "adapter_config.json").is_file():
            from train.runtime import merge_adapter

            model_dir = merge_adapter(model_dir, work / "merged")
        converted = work / f"model-{outtype}.gguf"
        _convert(script, model_dir, converted, outtype)
        staged = work / "model.gguf"
        if ftype is None:
            converted.rename(staged)
        else:
            quantize(converted, staged, ftype)
        check(staged)
        os.replace(staged, out)
    return Exported(out, out.stat().st_size, time.perf_counter() - began, model_dir)


def _convert(script: Path, model_dir: Path, dest: Path, outtype: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "NO_LOCAL_GGUF"}  # use the vendored gguf-py
    cmd = [
        sys.executable,
        str(script),
        str(model_dir),
        "--outfile",
        str(dest),
        "--outtype",
        outtype,
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0 or not dest.is_file():
        lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
        raise ModelError(
            f"llama.cpp's converter failed on {model_dir}: {lines[-1] if lines else 'no output'}"
        )


def quantize(src: Path, dest: Path, ftype: str) -> None:
    import ctypes

    import llama_cpp

    from da_cli.models.llamacpp import physical_cores

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, ftype)
    params.nthread = physical_cores()
    with _quiet():  # llama.cpp logs every tensor to stderr
        rc = llama_cpp.llama_model_quantize(
            str(src).encode(), str(dest).encode(), ctypes.byref(params)
        )
    if rc != 0 or not dest.is_file():
        raise ModelError(f"llama.cpp could not quantize {src} to {ftype} (status {rc}).")


def check(gguf: Path) -> None:
    """The GGUF loads in llama.cpp and every protocol tag is one token in it."""
    import llama_cpp

    try:
        with _quiet():
            llm = llama_cpp.Llama(model_path=str(gguf), vocab_only=True, verbose=False)
    except (ValueError, RuntimeError) as e:
        raise ModelError(f"llama.cpp cannot load the exported {gguf.name}.") from e
    try:
        for tag in TAG_TOKENS:
            if len(llm.tokenize(tag.encode(), add_bos=False, special=True)) != 1:
                raise ModelError(f"The exported model does not have {tag} as one token.")
    finally:
        llm.close()


def _quiet() -> Any:
    """Silence llama.cpp's C-level logging (it writes to fd 2, past Python's sys.stderr)."""
    try:
        from llama_cpp._utils import suppress_stdout_stderr
    except ImportError:  # a future llama-cpp-python without it: just let it talk
        return contextlib.nullcontext()
    return suppress_stdout_stderr(disable=False)
