"""Ctrl-C that takes effect within a second, even while native code runs.

Python runs a signal handler only when the main thread returns to bytecode, so a Ctrl-C
during a long DuckDB scan or a llama.cpp prompt evaluation used to wait for that call to
end (seconds, or tens of seconds). With `watch()` active, the C-level signal handler also
writes to a pipe (`signal.set_wakeup_fd`); a thread blocked on that pipe wakes at once and
runs the hooks that long native calls registered (`hook`): DuckDB's `interrupt()`,
llama.cpp's abort flag. The native call then returns, and Python's own handler raises
KeyboardInterrupt as usual. Without `watch()` (a notebook, a library user) hooks cost
nothing and nothing changes.
"""

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator

_hooks: list[Callable[[], None]] = []
_lock = threading.Lock()


@contextlib.contextmanager
def hook(fn: Callable[[], None]) -> Iterator[None]:
    """Run `fn` from the watcher thread if SIGINT arrives while the block runs."""
    with _lock:
        _hooks.append(fn)
    try:
        yield
    finally:
        with _lock:
            _hooks.remove(fn)


def _fire() -> None:
    with _lock:
        hooks = list(_hooks)
    for fn in hooks:
        with contextlib.suppress(Exception):  # a hook's object may be closing: no matter
            fn()


@contextlib.contextmanager
def watch() -> Iterator[None]:
    """Make SIGINT reach the registered hooks at once for the duration of the block.
    Main thread only (where signal handlers live); elsewhere it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    r, w = os.pipe()
    os.set_blocking(w, False)
    try:
        previous = signal.set_wakeup_fd(w, warn_on_full_buffer=False)
    except ValueError:
        os.close(r)
        os.close(w)
        yield
        return

    def run() -> None:
        while True:
            try:
                data = os.read(r, 64)
            except OSError:
                return
            if not data:
                return
            if signal.SIGINT in data:
                _fire()

    thread = threading.Thread(target=run, name="da-interrupts", daemon=True)
    thread.start()
    try:
        yield
    finally:
        signal.set_wakeup_fd(previous)
        os.close(w)  # the thread reads end-of-file and ends
        thread.join(timeout=1)
        os.close(r)
