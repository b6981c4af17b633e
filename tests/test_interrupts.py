"""Ctrl-C ends a run at once with exit 130, whatever is running: a DuckDB scan (which turns
the interrupt into an exception of its own), llama.cpp's prompt evaluation, or the CLI's
start-up."""

import os
import signal
import threading
import time

import duckdb
import pytest
import typer

from da_cli import interrupts
from da_cli.cli.console import guarded
from da_cli.errors import EXIT_INTERRUPTED, DataError
from da_cli.models.catalog import EMBEDDED, SMALL_MODEL, is_assembled

LONG_QUERY = "SELECT sum(hash(i)) FROM range(20000000000) t(i)"  # minutes, uninterrupted


@pytest.fixture
def python_sigint():
    # A suite run in the background inherits SIGINT as ignored: give it Python's handler.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def _sigint_in(seconds: float) -> None:
    threading.Timer(seconds, os.kill, (os.getpid(), signal.SIGINT)).start()


def test_ctrl_c_reaches_the_hooks_of_native_calls_at_once():
    # Python's handler cannot run while the main thread is inside native code. Here it does
    # nothing when it does run, so DuckDB's own signal check never stops the query: only the
    # watcher's hook (con.interrupt from another thread, at the signal) can end it.
    previous = signal.signal(signal.SIGINT, lambda *_: None)
    con = duckdb.connect()
    fired: list[float] = []

    def stop() -> None:
        fired.append(time.monotonic())
        con.interrupt()

    try:
        started = time.monotonic()
        _sigint_in(0.5)
        with (
            pytest.raises((duckdb.Error, RuntimeError)),
            interrupts.watch(),
            interrupts.hook(stop),
        ):
            con.execute(LONG_QUERY).fetchall()  # minutes, uninterrupted
        assert len(fired) == 1 and fired[0] - started < 1.5
        assert time.monotonic() - started < 2.5
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.parametrize(
    "raised", [RuntimeError("Query interrupted"), DataError("Table t cannot be read: INTERRUPT")]
)
def test_an_interrupt_a_library_reports_as_its_own_error_exits_130(python_sigint, raised):
    def command() -> None:
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
        except KeyboardInterrupt:
            raise raised from None  # what DuckDB does with an interrupt mid-query

    with pytest.raises(typer.Exit) as e:
        guarded(command)()
    assert e.value.exit_code == EXIT_INTERRUPTED


def test_other_errors_keep_their_own_exit_code(python_sigint):
    def command() -> None:
        raise DataError("No such file.")

    with pytest.raises(typer.Exit) as e:
        guarded(command)()
    assert e.value.exit_code == DataError.exit_code


@pytest.mark.slow
@pytest.mark.skipif(
    not is_assembled(EMBEDDED[SMALL_MODEL]), reason="the embedded model is not installed"
)
def test_ctrl_c_stops_a_prompt_evaluation_within_a_second(python_sigint):
    from da_cli.models.llamacpp import LlamaCppModel

    model = LlamaCppModel(EMBEDDED[SMALL_MODEL].path, n_ctx=8192)
    try:
        # A 6,000-token prompt: seconds of evaluation in 512-token batches on a CPU.
        long = [{"role": "user", "content": "word " * 6000}]
        started = time.monotonic()
        _sigint_in(1.0)
        with pytest.raises(KeyboardInterrupt), interrupts.watch():
            model.generate(long, "", stop=[], grammar=None, max_tokens=8)
        assert time.monotonic() - started < 2.5
        # The model still works afterwards.
        out = model.generate(
            [{"role": "user", "content": "Say hi."}], "", stop=[], grammar=None, max_tokens=4
        )
        assert out.completion_tokens > 0
    finally:
        model.close()
