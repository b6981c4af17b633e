"""The trainable base model: a Hugging Face folder with the 10 protocol tags as tokens.

No model hub is reachable, so the embedded GGUF is the usual base. transformers can load a
GGUF (dequantized), but a model loaded that way carries its GGUF quantizer and can be neither
saved nor trained; it is converted once into a plain bf16 folder in the cache and trained
from there. Every prepared base has the tags `<Analyze>` … `</Answer>` as single tokens, the
new embedding and head rows set to the mean of the existing ones, so a tag starts out as an
average token instead of noise. "tiny" is a random-init two-layer Qwen2 with the real
tokenizer: the curriculum end to end on a CPU in seconds, for tests and smoke runs.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Any

from da_cli import paths
from da_cli.agent.protocol import TAG_TOKENS
from da_cli.errors import ModelError, UsageError
from da_cli.models.catalog import EMBEDDED, SMALL_MODEL, assemble

TINY = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 32768,
}
PAD_TO = 64  # embedding rows rounded up to a multiple of this (GPU-friendly matmuls)


def cache_root() -> Path:
    return paths.cache_dir() / "train"


def prepare(spec: str) -> Path:
    """A model folder to train from, with the tag tokens, for a base spec: "tiny", an
    embedded model name, a .gguf file or a Hugging Face model folder."""
    if spec == "tiny":
        return tiny_base()
    if spec in EMBEDDED:
        return from_gguf(assemble(EMBEDDED[spec]))
    path = Path(spec).expanduser()
    if path.is_file():
        with path.open("rb") as f:
            if f.read(4) == b"GGUF":
                return from_gguf(path)
        raise UsageError(f"Base model {path} is neither a GGUF file nor a model folder.")
    if path.is_dir() and (path / "config.json").is_file():
        return with_tags(path)
    raise UsageError(
        f"Unknown base model '{spec}'.",
        hint="Use an embedded name (see `da models list`), a .gguf file, a Hugging Face model "
        "folder, or tiny.",
    )


def _key(path: Path) -> str:
    st = path.stat()
    digest = hashlib.sha256(f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()
    return f"{path.stem}-{digest[:10]}"


def _publish(tmp: Path, dest: Path) -> Path:
    """Move a finished folder into place; a concurrent process may have won the race."""
    try:
        tmp.rename(dest)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not (dest / "config.json").is_file() and not (dest / "tokenizer.json").is_file():
            raise
    return dest


def _scratch(dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    return tmp


def add_tags(tokenizer: Any, model: Any | None = None) -> list[int]:
    """Add the protocol tags as tokens (no-op for those present); grow the model's
    embeddings to fit, with the new rows at the mean of the old. Returns the tag ids."""
    tokenizer.add_tokens([t for t in TAG_TOKENS if t not in tokenizer.get_vocab()])
    ids = tokenizer.convert_tokens_to_ids(list(TAG_TOKENS))
    if model is not None:
        import torch

        old = model.get_input_embeddings().weight.shape[0]
        if max(ids) >= old:
            model.resize_token_embeddings(
                len(tokenizer), pad_to_multiple_of=PAD_TO, mean_resizing=False
            )
            with torch.no_grad():
                for emb in (model.get_input_embeddings(), model.get_output_embeddings()):
                    if emb is not None:
                        emb.weight[old:] = emb.weight[:old].mean(dim=0, keepdim=True)
    return ids


def tokenizer_from_gguf(gguf: Path) -> Any:
    """The GGUF's tokenizer with the tags, converted once into the cache (about 14 s)."""
    from transformers import AutoTokenizer

    dest = cache_root() / "tokenizers" / _key(gguf)
    if not (dest / "tokenizer.json").is_file():
        try:
            tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        except Exception as e:  # transformers raises many kinds for a foreign GGUF
            raise ModelError(f"Cannot read the tokenizer of {gguf}: {e}") from e
        add_tags(tok)
        tmp = _scratch(dest)
        tok.save_pretrained(tmp)
        _publish(tmp, dest)
    return AutoTokenizer.from_pretrained(dest)


def embedded_tokenizer() -> Any:
    """The embedded models' real tokenizer (they share it), with the tags: read from the
    smallest, whose file is quickest to open."""
    return tokenizer_from_gguf(assemble(EMBEDDED[SMALL_MODEL]))


def tiny_base(seed: int = 0) -> Path:
    """A random-init Qwen2 (hidden 64, 2 layers, untied head like the converted base) over
    the embedded model's tokenizer; built once into the cache."""
    tok = embedded_tokenizer()
    name = f"tiny-qwen2-h{TINY['hidden_size']}-l{TINY['num_hidden_layers']}-s{seed}"
    dest = cache_root() / "base" / name
    if (dest / "config.json").is_file():
        return dest
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    vocab = -(-len(tok) // PAD_TO) * PAD_TO
    config = Qwen2Config(
        vocab_size=vocab,
        tie_word_embeddings=False,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        **TINY,
    )
    model = Qwen2ForCausalLM(config)
    tmp = _scratch(dest)
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    return _publish(tmp, dest)


def from_gguf(gguf: Path) -> Path:
    """Convert a GGUF into a trainable bf16 folder with the tags, once (0.5B: ~90 s, 3.8 GB)."""
    dest = cache_root() / "base" / _key(gguf)
    if (dest / "config.json").is_file():
        return dest
    import torch
    from transformers import AutoModelForCausalLM

    tok = tokenizer_from_gguf(gguf)
    try:
        model = AutoModelForCausalLM.from_pretrained(
            gguf.parent, gguf_file=gguf.name, dtype=torch.bfloat16
        )
    except Exception as e:
        raise ModelError(f"transformers cannot load {gguf} for training: {e}") from e
    # A GGUF-loaded model keeps its quantizer, which forbids saving and training; the
    # weights themselves are already dequantized.
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    add_tags(tok, model)
    tmp = _scratch(dest)
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    return _publish(tmp, dest)


def with_tags(folder: Path) -> Path:
    """`folder` itself when its tokenizer already has the tags, else a tagged copy."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    if all(t in tok.get_vocab() for t in TAG_TOKENS):
        return folder
    dest = cache_root() / "base" / _key(folder)
    if (dest / "config.json").is_file():
        return dest
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder, dtype="auto")
    add_tags(tok, model)
    tmp = _scratch(dest)
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    return _publish(tmp, dest)


def load(folder: Path, dtype: Any) -> tuple[Any, Any]:
    """(model, tokenizer) from a prepared folder."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype)
    return model, tok
