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
from da_cli.cli.console import guarded, interrupted, state

app = typer.Typer(
    name="da",
    help="A command-line data analyst that runs a small local language model, offline.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.command("analyze", no_args_is_help=True)(guarded(analyze.analyze))
app.command("report", no_args_is_help=True)(guarded(report.report))
app.command("synth", no_args_is_help=True)(guarded(synth.synth))
app.add_typer(models.app, name="models")
app.add_typer(train.app, name="train")
app.add_typer(evaluate.app, name="eval")
app.add_typer(settings.app, name="config")
app.command("history")(guarded(history.history))
app.command("doctor")(guarded(doctor.doctor))


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
