"""A pids cgroup around the code worker, where the system lets us make one.

RLIMIT_NPROC does not bind root (the usual case in containers and CI), so a fork bomb run
as root would exhaust the host's process table. A cgroup's `pids.max` binds everyone, and
its member list names every process the worker ever started, even daemons that left the
worker's session, so they can all be stopped. Both cgroup v2 and the v1 pids hierarchy
work; where neither is writable `create` returns None and the rlimit is all there is.
"""

import contextlib
import os
import signal
import time
import uuid
from pathlib import Path

_ROOTS = (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup/unified"))


def _own_path(version: str) -> str:
    """This process's cgroup path in the v1 pids hierarchy ("pids") or in v2 ("")."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if controllers.split(",") == [version] or (version == "" and controllers == ""):
                return path.lstrip("/")
    return ""


def _remove_stale(parent: Path) -> None:
    """Groups left by a da that was killed before it could clean up (empty ones only:
    rmdir refuses a group with members)."""
    with contextlib.suppress(OSError):
        for group in parent.glob("da-*-*"):
            owner = group.name.split("-")[1]
            if owner.isdigit() and not Path(f"/proc/{owner}").exists():
                with contextlib.suppress(OSError):
                    group.rmdir()


class PidsCgroup:
    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(cls, max_pids: int) -> "PidsCgroup | None":
        for root in _ROOTS:
            v1 = root.name == "pids"
            if not (root / ("tasks" if v1 else "cgroup.procs")).exists():
                continue
            parent = root / _own_path("pids" if v1 else "")
            _remove_stale(parent)
            path = parent / f"da-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            try:
                path.mkdir()
            except OSError:
                continue
            try:
                (path / "pids.max").write_text(str(max_pids))
            except OSError:  # v2 without the pids controller delegated to us
                with contextlib.suppress(OSError):
                    path.rmdir()
                continue
            return cls(path)
        return None

    def enter(self) -> None:
        """Move the calling process in (its children follow). For a preexec_fn: no
        allocation-heavy work, just one write."""
        fd = os.open(self.path / "cgroup.procs", os.O_WRONLY)
        try:
            os.write(fd, str(os.getpid()).encode())
        finally:
            os.close(fd)

    def pids(self) -> set[int]:
        try:
            return {int(p) for p in (self.path / "cgroup.procs").read_text().split()}
        except OSError:
            return set()

    def stop(self, keep: set[int] = frozenset(), rounds: int = 200) -> int:
        """SIGKILL every member but `keep`, again and again while a fork bomb refills the
        group; returns how many processes were stopped."""
        stopped: set[int] = set()
        for _ in range(rounds):
            strays = self.pids() - keep
            if not strays:
                break
            for pid in strays:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            stopped |= strays
            time.sleep(0.01)
        return len(stopped)

    def remove(self) -> None:
        self.stop()
        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:  # members not yet reaped
                time.sleep(0.02)
