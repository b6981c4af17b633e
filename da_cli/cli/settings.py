"""`da config`: the resolved settings with where each came from, and setting them."""

import json

import typer
from rich.markup import escape

from da_cli import config
from da_cli.cli.console import examples, guarded, state

app = typer.Typer(
    help="Show and change settings (flags > DA_* env > ./da.toml > user config > defaults).",
    no_args_is_help=True,
    epilog=examples("da config show", "da config set threads 2", "da config unset threads"),
)

_KEYS_HELP = "One of: " + ", ".join(config.BY_NAME) + "."


@app.command(
    "show",
    epilog=examples(
        "da config show",
        "DA_THREADS=1 da config show",
        "da config show --json | jq .threads",
    ),
)
@guarded
def show(
    as_json: bool = typer.Option(False, "--json", help="One JSON object: key -> value, origin."),
) -> None:
    """Print every setting, its value and where it came from: "default", "env DA_X",
    or the FILE:LINE that set it (./da.toml, then the user config file)."""
    cfg = config.resolve()
    if as_json:
        out = {
            k.name: {"value": cfg.get(k.name), "origin": cfg.origins[k.name]} for k in config.KEYS
        }
        print(json.dumps(out, indent=2))
        return
    rows = [
        (k.name, config.show_value(k.name, cfg.get(k.name)), cfg.origins[k.name])
        for k in config.KEYS
    ]
    wk = max(len(r[0]) for r in rows)
    wv = max(len(r[1]) for r in rows)
    for name, value, origin in rows:
        print(f"{name:<{wk}}  {value:<{wv}}  {origin}".rstrip())
    print(f"# user config: {config.user_file()}; project config: {config.project_file()}")


@app.command(
    "set",
    epilog=examples(
        "da config set threads 2",
        "da config set model qwen2.5-coder-1.5b",
        "da config set analyze.max_turns 6",
    ),
)
@guarded
def set_(
    key: str = typer.Argument(..., help=_KEYS_HELP),
    value: str = typer.Argument(..., help="Its value (checked before the file is written)."),
) -> None:
    """Write KEY = VALUE into the user config file (other lines and comments are kept)."""
    parsed = config.parse_value(key, value)
    path = config.write_user(key, parsed)
    state.info(f"{escape(key)} = {escape(str(parsed))} in {escape(str(path))}")


@app.command(
    "unset",
    epilog=examples("da config unset threads", "da config unset eval.max_tokens"),
)
@guarded
def unset(key: str = typer.Argument(..., help=_KEYS_HELP)) -> None:
    """Remove KEY from the user config file, so the layers below it apply again."""
    config.check_key(key)
    path = config.write_user(key, None)
    state.info(f"{escape(key)} removed from {escape(str(path))}")
