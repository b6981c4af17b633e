"""The `da` command line: a thin shell over the library. Every subcommand goes through
`console.guarded`, the one place where errors become one sentence and an exit code."""

import typer

from da_cli import __version__
from da_cli.cli import (
    analyze,
    doctor,
    evaluate,
    history,
    models,
    report,
    settings,
    synth,
    train,
)
from da_cli.cli.console import examples, guarded, interrupted, state

app = typer.Typer(
    name="da",
    help="A command-line data analyst that runs a small local language model, offline.",
    epilog=examples(
        'da analyze examples/sales.xlsx "why did Q3 drop?"',
        "da report examples/warehouse.db -o report.pdf",
        "da config set threads 2",
        "da --install-completion",
    ),
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion: bash, zsh, fish
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
# short_help: the one line each gets in `da --help`, which click would cut at 45 characters.
app.command(
    "analyze",
    no_args_is_help=True,
    epilog=analyze.EXAMPLES,
    short_help="Answer a question from the data.",
)(guarded(analyze.analyze))
app.command(
    "report",
    no_args_is_help=True,
    epilog=report.EXAMPLES,
    short_help="Survey the data (or answer a question) as a report.",
)(guarded(report.report))
app.command(
    "synth",
    no_args_is_help=True,
    epilog=synth.EXAMPLES,
    short_help="Make checked training data from your own tables.",
)(guarded(synth.synth))
app.add_typer(models.app, name="models")
app.add_typer(
    train.app, name="train", short_help="Train with DeepAnalyze's curriculum; export GGUF."
)
app.add_typer(evaluate.app, name="eval")
app.add_typer(settings.app, name="config", short_help="Show and change settings.")
app.command("history", epilog=history.EXAMPLES, short_help="List saved analyses, newest first.")(
    guarded(history.history)
)
app.command("doctor", epilog=doctor.EXAMPLES, short_help="Check sandbox, model, GPU and DuckDB.")(
    guarded(doctor.doctor)
)


@app.callback(invoke_without_command=True)
def _global(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show tracebacks and details."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress on stderr."),
    version: bool = typer.Option(False, "--version", help="Print the version and exit."),
) -> None:
    if version:
        print(f"da {__version__}")
        raise typer.Exit(0)
    state.verbose, state.quiet = verbose, quiet


def main() -> None:
    try:
        app(prog_name="da")
    except KeyboardInterrupt:  # outside a subcommand: while parsing, say
        raise SystemExit(interrupted().exit_code) from None
