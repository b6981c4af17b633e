"""The cap on what cells write to disk, enforced inside the worker.

RLIMIT_FSIZE bounds each file, not how many a cell makes: a loop could fill the disk with
1 GB files. While a cell runs, a thread measures the writable folders (the workspace and
the temp dir) every `POLL_S` and interrupts the cell once they pass the cap; after the cell,
the files it wrote are removed, largest first, until the folders are back under the cap.
The sources placed in the workspace (read-only mounts or copies) do not count.
"""

import contextlib
import os
import signal
import threading
import time

POLL_S = 0.2


class WorkspaceFull(BaseException):
    """Raised inside a cell that wrote past the cap; a BaseException so generated code's
    `except Exception` does not swallow it."""


class DiskQuota:
    def __init__(self, roots: list[str], exclude: set[str], limit_mb: int) -> None:
        self.roots = roots
        self.exclude = exclude
        self.limit = limit_mb << 20
        self._stop = threading.Event()
        self._armed = False

    def _files(self) -> list[tuple[str, os.stat_result]]:
        found, stack = [], list(self.roots)
        while stack:
            folder = stack.pop()
            with contextlib.suppress(OSError), os.scandir(folder) as entries:
                for e in entries:
                    with contextlib.suppress(OSError):
                        if e.path in self.exclude:
                            continue
                        if e.is_dir(follow_symlinks=False):
                            stack.append(e.path)
                        elif e.is_file(follow_symlinks=False):
                            found.append((e.path, e.stat(follow_symlinks=False)))
        return found

    def used(self) -> int:
        """Bytes on disk under the roots (blocks, so a sparse file counts what it holds)."""
        return sum(st.st_blocks * 512 for _, st in self._files())

    @contextlib.contextmanager
    def watching(self):
        """Interrupt the main thread with WorkspaceFull when the cap is passed."""
        self._stop.clear()
        self._armed = True
        previous = signal.signal(signal.SIGUSR2, self._interrupt)
        main = threading.main_thread().ident

        def poll() -> None:
            while not self._stop.wait(POLL_S):
                if self.used() > self.limit:
                    signal.pthread_kill(main, signal.SIGUSR2)
                    return

        thread = threading.Thread(target=poll, daemon=True)
        thread.start()
        try:
            yield
        finally:
            self._armed = False
            self._stop.set()
            thread.join()
            signal.signal(signal.SIGUSR2, previous)

    def _interrupt(self, signum, frame) -> None:
        if self._armed:
            raise WorkspaceFull

    def enforce(self, since: float) -> str | None:
        """Past the cap: remove the files written since `since` (epoch seconds), largest
        first, until under it; the error for the model, or None when under the cap."""
        files = self._files()
        used = sum(st.st_blocks * 512 for _, st in files)
        if used <= self.limit:
            return None
        written = sorted(
            ((p, st) for p, st in files if st.st_mtime >= since), key=lambda f: -f[1].st_blocks
        )
        removed = []
        for path, st in written:
            if used <= self.limit:
                break
            with contextlib.suppress(OSError):
                os.unlink(path)
                used -= st.st_blocks * 512
                removed.append(os.path.basename(path))
        shown = ", ".join(removed[:5]) + (
            f" and {len(removed) - 5} more" if len(removed) > 5 else ""
        )
        return (
            f"OSError: the cell wrote past the workspace's limit of {self.limit >> 20:,} MB "
            "(workspace and temp files together)"
            + (f"; removed what it wrote: {shown}." if removed else ".")
            + " Write less, or delete files you no longer need."
        )


def cell_clock() -> float:
    """A file time to compare with st_mtime: a second early, for coarse file-system clocks."""
    return time.time() - 1.0
