"""Terminal output: progress and errors on stderr (rich honours NO_COLOR), results on stdout."""

import contextlib
import functools
import signal
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from types import FrameType
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.status import Status
from rich.syntax import Syntax
from rich.text import Text

from da_cli import config, interrupts
from da_cli.agent.transcript import Step, Transcript
from da_cli.agent.vote import VOTE_WHEN
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

    def show_step(self, s: Step, samples: int = 1) -> None:
        """One step of the analysis; with several analyses, each marked with its number."""
        if self.quiet:
            return
        c = self.console
        tag = f"[dim]\\[{s.sample + 1}/{samples}][/dim] " if samples > 1 else ""
        if s.kind in ("analyze", "understand"):
            c.print(
                f"{tag}[bold cyan]{s.kind.title()}[/bold cyan] "
                f"[dim]{escape(_oneline(s.text))}[/dim]"
            )
        elif s.kind == "code":
            c.print(f"{tag}[bold yellow]Code[/bold yellow]")
            c.print(Syntax(s.text, "python", theme="ansi_dark", background_color="default"))
        elif s.kind == "execute":
            lines = s.text.splitlines()
            head = "\n".join(lines[:_SHOWN_OUTPUT_LINES])
            more = len(lines) - _SHOWN_OUTPUT_LINES
            style = "red" if s.error else "dim"
            c.print(f"{tag}[bold magenta]Execute[/bold magenta] [dim]({s.seconds:.2f} s)[/dim]")
            c.print(
                head + (f"\n… {more} more lines" if more > 0 else ""),
                style=style,
                markup=False,
                highlight=False,
            )
        elif s.kind == "notice":
            c.print(f"{tag}[yellow]{escape(s.text)}[/yellow]")
        elif s.kind == "answer":
            label = "Answer (partial)" if s.partial else "Answer"
            c.print(f"{tag}[bold green]{label}[/bold green]")

    def bytes_progress(self, description: str) -> "ByteProgress":
        return ByteProgress(self, description)

    def count_progress(self, label: str) -> Progress:
        """A bar over items (questions, synthesized items) on stderr: done of total, a
        description the caller updates ("12/40 correct"), time elapsed; hidden with -q."""
        return Progress(
            TextColumn(f"[bold]{label}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=self.console,
            disable=self.quiet,
        )

    def activity(self) -> "Activity":
        return Activity(self)


class Activity:
    """The status line of long work on stderr: what `da` is doing now ("loading model …",
    "step 2 of 10 · 38 tok/s", "running cell · 4 s").

    On a terminal it is one live line under the step display, with a spinner, that
    vanishes when the work ends. Elsewhere (a log file, a pipe) each new activity is one
    plain line, with no carriage returns or cursor moves to garble the log. With -q,
    nothing. Use it as a context manager, so the live line is gone before stdout is
    written or an error is said."""

    def __init__(self, state: State) -> None:
        self._state = state
        console = state.console
        self._live = console.is_terminal and not console.is_dumb_terminal
        self._text = ""
        self._since = 0.0
        self._clock = False
        self._status: Status | None = None

    def show(self, text: str, *, clock: bool = False) -> None:
        """Say what `da` does now. `clock`: count its seconds on the live line."""
        if self._state.quiet:
            return
        self._text, self._since, self._clock = text, time.monotonic(), clock
        if not self._live:
            self._state.console.print(f"{text} …", markup=False, highlight=False, soft_wrap=True)
        elif self._status is None:
            self._status = Status(self, console=self._state.console)
            self._status.start()

    def __rich__(self) -> Text:
        # Rendered again at every refresh of the live line, so the seconds count up.
        if self._clock:
            return Text(f"{self._text} · {time.monotonic() - self._since:.0f} s")
        return Text(f"{self._text} …")

    def steps(
        self, transcript: Transcript, max_turns: int, samples: int = 1
    ) -> Callable[[Step], None]:
        """The `on_step` of an analysis: shows each step, then what the loop does until the
        next one: a cell runs after Code; the model writes after Execute or a notice."""
        self._generating(transcript, max_turns)

        def on_step(step: Step) -> None:
            self._state.show_step(step, samples)
            if step.kind == "code":
                self.show("running cell", clock=True)
            elif step.kind in ("execute", "notice"):
                self._generating(transcript, max_turns)
            elif step.kind == "answer":
                self.close()

        return on_step

    def _generating(self, t: Transcript, max_turns: int) -> None:
        u = t.usage
        k = u.generations + 1
        # Past the turns, the loop makes the model write its (partial) answer.
        text = f"step {k} of {max_turns}" if k <= max_turns else "final answer"
        if u.model_seconds > 0 and u.completion_tokens:
            rate = u.completion_tokens / u.model_seconds  # so far, prompt reading included
            text += f" · {rate:.1f} tok/s" if rate < 10 else f" · {rate:.0f} tok/s"
        self.show(text)

    def close(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def __enter__(self) -> "Activity":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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


# `--vote`'s values, as the choices typer checks and lists.
VoteWhen = StrEnum("VoteWhen", {w: w for w in VOTE_WHEN})


def complete_model(incomplete: str) -> list[tuple[str, str]]:
    """Shell completion for `--model`: the embedded model names, each with its
    description (a .gguf path completes as a file name in the shell anyway)."""
    return [(m.name, m.description) for m in EMBEDDED.values() if m.name.startswith(incomplete)]


# Options several commands take with the same meaning and the same default, declared once
# (typer only reads an option's declaration, so one can serve every command).
MODEL_OPTION = typer.Option(
    None,
    "--model",
    "-m",
    metavar="NAME",
    help="Embedded model name, a .gguf path, openai:URL#NAME or replay:PATH. "
    + config.default_note("model"),
    autocompletion=complete_model,
)
CELL_TIMEOUT_OPTION = typer.Option(
    None,
    "--cell-timeout",
    min=1,
    metavar="SECONDS",
    help="Most seconds a cell. " + config.default_note("cell_timeout"),
)
MEMORY_OPTION = typer.Option(
    None,
    "--memory",
    min=16,
    metavar="MB",
    help="Address-space limit of the code worker. " + config.default_note("memory"),
)


def interrupted() -> typer.Exit:
    state.console.print("Interrupted.", style="red")
    return typer.Exit(EXIT_INTERRUPTED)
