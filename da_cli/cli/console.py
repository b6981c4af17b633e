"""Terminal output: progress and errors on stderr (rich honours NO_COLOR), results on stdout."""

import contextlib
import functools
import signal
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.syntax import Syntax

from da_cli import interrupts
from da_cli.agent.transcript import Step
from da_cli.errors import EXIT_INTERRUPTED, DaError
from da_cli.models.catalog import EMBEDDED

if TYPE_CHECKING:
    from da_cli.report import Written

_SHOWN_OUTPUT_LINES = 12


@dataclass
class State:
    verbose: bool = False
    quiet: bool = False
    console: Console = field(default_factory=lambda: Console(stderr=True, highlight=False))

    def info(self, message: str) -> None:
        if not self.quiet:
            self.console.print(message)

    def error(self, err: DaError) -> None:
        if self.verbose:
            self.console.print("".join(traceback.format_exception(err)), markup=False)
        self.console.print(f"[bold red]Error:[/bold red] {escape(str(err))}", soft_wrap=True)
        if err.hint:
            self.console.print(err.hint, markup=False, soft_wrap=True)

    def wrote(self, written: "Written", figures: int) -> None:
        """Say on stderr which report file was written, and what it holds."""
        detail = [f"{figures} figure(s)"]
        if written.pages is not None:
            detail.insert(0, f"{written.pages} page(s)")
        if written.extra:
            detail.append(f"figures in {written.extra[0].parent.name}/")
        self.info(f"Wrote {escape(str(written.path))} ({', '.join(detail)})")

    def show_step(self, s: Step) -> None:
        if self.quiet:
            return
        c = self.console
        if s.kind in ("analyze", "understand"):
            c.print(
                f"[bold cyan]{s.kind.title()}[/bold cyan] [dim]{escape(_oneline(s.text))}[/dim]"
            )
        elif s.kind == "code":
            c.print("[bold yellow]Code[/bold yellow]")
            c.print(Syntax(s.text, "python", theme="ansi_dark", background_color="default"))
        elif s.kind == "execute":
            lines = s.text.splitlines()
            head = "\n".join(lines[:_SHOWN_OUTPUT_LINES])
            more = len(lines) - _SHOWN_OUTPUT_LINES
            style = "red" if s.error else "dim"
            c.print(f"[bold magenta]Execute[/bold magenta] [dim]({s.seconds:.2f} s)[/dim]")
            c.print(
                head + (f"\n… {more} more lines" if more > 0 else ""),
                style=style,
                markup=False,
                highlight=False,
            )
        elif s.kind == "notice":
            c.print(s.text, style="yellow", markup=False)
        elif s.kind == "answer":
            label = "Answer (partial)" if s.partial else "Answer"
            c.print(f"[bold green]{label}[/bold green]")

    def bytes_progress(self, description: str) -> "ByteProgress":
        return ByteProgress(self, description)


class ByteProgress:
    """A progress bar for long byte work (assembling a model), usable as a callback."""

    def __init__(self, state: State, description: str) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=state.console,
            disable=state.quiet,
            transient=True,
        )
        self._description = description
        self._task = None

    def __call__(self, done: int, total: int) -> None:
        if self._task is None:
            self._progress.start()
            self._task = self._progress.add_task(self._description, total=total)
        self._progress.update(self._task, completed=done)

    def __enter__(self) -> "ByteProgress":
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._progress.stop()


def _oneline(text: str, limit: int = 240) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


state = State()


class _Interrupt:
    """Whether SIGINT arrived during the command. Native code that is running when it
    arrives (DuckDB) turns it into an exception of its own ("Query interrupted"), which
    must still end the run as an interrupt: exit 130, no traceback."""

    seen = False

    @classmethod
    def handler(cls, signum: int, frame: FrameType | None) -> None:
        cls.seen = True
        if frame is not None and "llama_cpp" in frame.f_code.co_filename:
            # Inside llama-cpp-python, maybe in a C callback (its logger) where an exception
            # is only printed and lost: its abort flag (set by da_cli.interrupts) stops the
            # decode instead, and the model backend raises KeyboardInterrupt itself.
            return
        signal.default_int_handler(signum, frame)


def guarded(fn: Callable) -> Callable:
    """Every subcommand runs through this: the one place where errors become one sentence
    on stderr and an exit code."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        # Only where Python's own handler is in place: an ignored SIGINT stays ignored.
        ours = signal.getsignal(signal.SIGINT) is signal.default_int_handler
        _Interrupt.seen = False
        if ours:
            signal.signal(signal.SIGINT, _Interrupt.handler)
        try:
            with interrupts.watch() if ours else contextlib.nullcontext():
                return fn(*args, **kwargs)
        except KeyboardInterrupt:
            raise interrupted() from None
        except DaError as e:
            if _Interrupt.seen:
                raise interrupted() from None
            state.error(e)
            raise typer.Exit(e.exit_code) from None
        except Exception:
            if _Interrupt.seen:
                raise interrupted() from None
            raise
        finally:
            if ours:
                signal.signal(signal.SIGINT, signal.default_int_handler)

    return wrapper


def examples(*lines: str) -> str:
    """A help epilog of real command lines, printed as written: click rewraps paragraphs to
    the terminal's width, except one that starts with a `\\b` line."""
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)


def complete_model(incomplete: str) -> list[tuple[str, str]]:
    """Shell completion for `--model`: the embedded model names, each with its
    description (a .gguf path completes as a file name in the shell anyway)."""
    return [(m.name, m.description) for m in EMBEDDED.values() if m.name.startswith(incomplete)]


def interrupted() -> typer.Exit:
    state.console.print("Interrupted.", style="red")
    return typer.Exit(EXIT_INTERRUPTED)
