"""Model backends behind one protocol (`base.Model`) and the resolver from a `--model` string."""

import re
from pathlib import Path

from da_cli.errors import ModelError
from da_cli.models.base import Generation, Model
from da_cli.models.catalog import DEFAULT_MODEL, EMBEDDED, Progress, assemble

__all__ = ["DEFAULT_MODEL", "Generation", "Model", "load_model"]


def load_model(
    spec: str | None,
    *,
    progress: Progress | None = None,
    threads: int | None = None,
    gpu_layers: int | None = None,
) -> Model:
    """`spec` is an embedded model name, a path to a .gguf file, `openai:URL#NAME` (an
    OpenAI-compatible endpoint), or `replay:PATH`. `threads` and `gpu_layers` apply to
    llama.cpp models only; None picks them from the machine (`llamacpp.threads`, GPU
    offload when the build has it)."""
    local = {"n_threads": threads, "n_gpu_layers": gpu_layers}
    spec = spec or DEFAULT_MODEL
    if spec.startswith("openai:"):
        from da_cli.models.openai_compat import OpenAICompatModel, parse_spec

        return OpenAICompatModel(*parse_spec(spec))
    if spec.startswith("replay:"):
        from da_cli.models.replay import ReplayModel

        return ReplayModel(Path(spec[len("replay:") :]).expanduser())
    if spec in EMBEDDED:
        from da_cli.models.llamacpp import LlamaCppModel

        return LlamaCppModel(assemble(EMBEDDED[spec], progress), name=spec, **local)
    path = Path(spec).expanduser()
    if path.is_dir():
        path = _gguf_in(path)
    if path.suffix.lower() == ".gguf" or path.exists():
        from da_cli.models.llamacpp import LlamaCppModel

        return LlamaCppModel(path, **local)
    raise ModelError(
        f"Unknown model '{spec}'.",
        hint="Use an embedded name (see `da models list`), a path to a .gguf file, "
        "openai:URL#NAME, or replay:PATH.",
    )


def _gguf_in(folder: Path) -> Path:
    """The model file in a folder given as `--model`: its one .gguf (of a split model, the
    first part, which llama.cpp opens), else a sentence saying what to pass instead."""
    found = sorted(
        f
        for f in folder.glob("*.gguf")
        if f.is_file() and not (_SPLIT.search(f.name) and "-00001-of-" not in f.name)
    )
    if len(found) == 1:
        return found[0]
    if not found:
        raise ModelError(
            f"{folder} is a folder with no .gguf model file in it.",
            hint="Pass the path of a .gguf file, or an embedded model name.",
        )
    names = ", ".join(f.name for f in found[:5])
    raise ModelError(f"{folder} holds {len(found)} .gguf files ({names}); pass the one to use.")


_SPLIT = re.compile(r"-\d{5}-of-\d{5}\.gguf$")
