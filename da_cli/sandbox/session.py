"""Parent side of the sandbox: one persistent worker process per analysis session.

What is isolated: the worker runs in Linux namespaces when bubblewrap works (see
`isolation`: no network, own PID namespace, read-only system, sources read-only, one
writable workspace, everything else of the host absent), in its own process group and
session, with an allow-listed environment (no secrets), rlimits on address space, CPU time, file
size and open files, a per-cell timeout (an alarm inside the cell; a worker stuck past it is
killed and restarted), and it dies with its parent. Each source also appears in the
workspace under the name the profile gives it, so relative paths work: bind-mounted
read-only there with bubblewrap (nothing is copied); without it, a read-only copy of a
source up to `COPY_LIMIT`, removed when the sandbox closes. What cells write to the
workspace and temp dir together is capped (`Limits.workspace_mb`); a cell that writes past
it fails and its new files are removed.

Processes: a pids cgroup caps how many the worker may run (RLIMIT_NPROC does not bind
root) where the system lets us create one, else RLIMIT_NPROC; processes a cell leaves
running are stopped after it, and reported to the model as an error.

What is not: without bubblewrap only the rlimits and the allow-listed environment apply
(`Sandbox.isolation` says which), and memory is limited per process (address space), not
for the worker's children together.
"""

import contextlib
import ctypes
import os
import re
import resource
import select
import shutil
import signal
import stat
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from da_cli.data.catalog import Catalog
from da_cli.data.naming import source_names
from da_cli.errors import SandboxError
from da_cli.sandbox import isolation, wire
from da_cli.sandbox.cgroup import PidsCgroup
from da_cli.sandbox.worker import strays_error

COPY_LIMIT = 256 << 20  # without bubblewrap, sources up to this size are copied in
KILL_GRACE_S = 5.0  # past the cell timeout, how long before the worker is killed
# Inherited by the worker (with every LC_*); nothing else of the parent's environment is.
_INHERITED = frozenset(
    {
        "PATH",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TERM",
        "NO_COLOR",
        "LD_LIBRARY_PATH",
        "PYTHONUTF8",
        "PYTHONIOENCODING",
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
    }
)


# Lines that are not the cell showing a result: what `warnings.showwarning` writes
# ("file:line: SomeWarning: message", then the line), and the sandbox's word on a name it
# forgave (forgiving.py: '(no column "wind_speed": used "wind speed")') or the fields it
# gave as named ('(ShapiroResult is ...: gave p its pvalue ..., as the names say)') or the
# names it assigned one after another, which must not hide what a silent cell assigned.
ASIDE_LINES = re.compile(
    r"^[^\n]*:\d+: \w*Warning: [^\n]*\n?(?:[ \t]+[^\n]*\n?)?"
    r'|^\(no (?:(?:file|table|column) "|squared= )[^\n]*\)$\n?'
    r"|^\(\w+ is \([^\n]*\): gave [^\n]*, as the names say\)$\n?"
    r"|^\(assigned [^\n]*: a later value reads an earlier name\)$\n?",
    re.M,
)


@dataclass
class ExecutionResult:
    """What one cell did. `observation()` is the text the model sees in <Execute>."""

    output: str = ""
    value: str | None = None
    # `name = value` of what a last-line assignment set: shown when nothing else is.
    assigned: str | None = None
    # Why a printed nan may be the data's missing values (the worker's `_missing_inputs`).
    note: str | None = None
    # Names the cell set to a statistic that no later line read, each with whether a
    # later line read another of its statistics (`unused_statistics`).
    unused: list[tuple[str, bool]] = field(default_factory=list)
    error: str | None = None
    figures: list[str] = field(default_factory=list)
    seconds: float = 0.0
    timed_out: bool = False
    restarted: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None

    def observation(self) -> str:
        parts = [self.output.rstrip("\n")] if self.output.strip() else []
        if self.value is not None:
            parts.append(self.value)
        parts += [f"[figure saved: {name}]" for name in self.figures]
        if self.note:
            parts.append(self.note)
        if self.error:
            parts.append(self.error)
        # A warning (pandas and scipy print many) is not the cell showing a result.
        silent = self.value is None and not self.figures and not self.error
        shown = ""
        if self.assigned and silent and not ASIDE_LINES.sub("", self.output).strip():
            parts.append(self.assigned)
            shown = self.assigned
        # A statistic neither read nor shown is one the cell's result left out (the mean
        # of "3 standard deviations from the mean"), and so is one shown while the cell
        # went on from its sibling (the deviation); one shown alone is a reported value.
        dropped = [
            name
            for name, beside in self.unused
            if beside or not re.search(rf"^{re.escape(name)} =", shown, re.M)
        ]
        if dropped:
            listed = ", ".join(f"`{n}`" for n in dropped)
            verb, it = ("was", "it") if len(dropped) == 1 else ("were", "them")
            parts.append(f"({listed} {verb} computed, and no later line of the cell reads {it}.)")
        return "\n".join(parts) if parts else "(no output)"


@dataclass
class Limits:
    timeout_s: float = 60.0
    memory_mb: int = 8192
    cpu_s: int = 3600
    file_mb: int = 1024
    open_files: int = 512
    processes: int = 512  # tasks (threads included) the worker and its children may run
    output_chars: int = 4000
    workspace_mb: int = 2048  # what cells may write to the workspace and temp dir together
    isolation: str = "auto"  # "auto": namespaces when bubblewrap works; "none": rlimits only


def scrubbed_env(workspace: Path, scratch: Path) -> dict[str, str]:
    """The worker's whole environment: the few inherited variables Python, locale and time
    handling need (an allow-list: a deny-list of secret-looking names always misses one,
    `GITHUB_PAT` or a password inside `DATABASE_URL`), plus the sandbox's own settings."""
    env = {k: v for k, v in os.environ.items() if k in _INHERITED or k.startswith("LC_")}
    env.update(
        MPLBACKEND="Agg",
        MPLCONFIGDIR=str(scratch / "mpl"),
        HOME=str(workspace),
        TMPDIR=str(scratch / "tmp"),
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONUNBUFFERED="1",
        PYTHONPATH=str(Path(__file__).resolve().parents[2]),
    )
    return env


def _user_tasks() -> int:
    """Tasks this user runs now: RLIMIT_NPROC counts them all, not just the worker's."""
    uid, n = os.getuid(), 0
    for entry in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            if entry.stat().st_uid == uid:
                n += len(os.listdir(entry / "task"))
    return n


def _preexec(limits: Limits, group: PidsCgroup | None):
    rlimits = [
        (resource.RLIMIT_AS, limits.memory_mb << 20),
        (resource.RLIMIT_CPU, limits.cpu_s),
        (resource.RLIMIT_FSIZE, limits.file_mb << 20),
        (resource.RLIMIT_NOFILE, limits.open_files),
    ]
    if os.getuid() != 0 and sys.platform.startswith("linux"):
        rlimits.append((resource.RLIMIT_NPROC, _user_tasks() + limits.processes))

    def setup() -> None:
        if group is not None:
            with contextlib.suppress(OSError):
                group.enter()
        for res, value in rlimits:
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(res, (value, value))
        if sys.platform.startswith("linux"):
            with contextlib.suppress(OSError):
                ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG

    return setup


class Sandbox:
    def __init__(self, catalog: Catalog, workspace: Path, limits: Limits | None = None) -> None:
        self.catalog = catalog
        self.workspace = Path(workspace)
        # Names set in the worker's namespace before each cell (the session's question).
        self.context: dict[str, str] = {}
        self.limits = limits or Limits()
        self._proc: subprocess.Popen | None = None
        self._to_worker = self._from_worker = -1
        self._dead = False
        self._group: PidsCgroup | None = None
        self._worker_pids: set[int] = set()  # the cgroup's members once the worker is up
        self.scratch = self.workspace.parent / ".sandbox"
        self.isolation = isolation.level(self.limits.isolation)
        # workspace name -> source, for the sources a cell can open by a relative path
        self._placed: dict[str, str] = {}
        self._made: list[Path] = []  # files and folders made in the workspace to place them

    def __enter__(self) -> "Sandbox":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        self.workspace.mkdir(parents=True, exist_ok=True)
        (self.scratch / "tmp").mkdir(parents=True, exist_ok=True)
        self._place_sources()
        self._group = PidsCgroup.create(self.limits.processes)
        self._spawn()

    def _place_sources(self) -> None:
        """Decide where each source appears in the workspace. With bubblewrap it is bound
        there read-only (bubblewrap makes an empty file to mount on, removed at close);
        without it, a small source is copied, read-only, since a link would let a cell
        write through to the user's file."""
        bound = self.isolation == isolation.NAMESPACES
        for src, name in source_names(self.catalog.sources).items():
            dst = self.workspace / name
            if dst.exists() or dst.is_symlink():
                continue  # the workspace's own file of that name wins (and is never lost)
            if bound:
                self._made += [dst, *_new_parents(dst, self.workspace)]
                self._placed[name] = src
            elif Path(src).is_file() and Path(src).stat().st_size <= COPY_LIMIT:
                self._made += [dst, *_new_parents(dst, self.workspace)]
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dst)
                dst.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
                self._placed[name] = src

    def _unplace_sources(self) -> None:
        """Remove the mount points and copies `_place_sources` made (folders once empty)."""
        for made in self._made:
            with contextlib.suppress(OSError):
                if made.is_dir() and not made.is_symlink():
                    made.rmdir()
                else:
                    made.unlink()
        self._made = []

    def _spawn(self) -> None:
        c_read, p_write = os.pipe()
        p_read, c_write = os.pipe()
        log = (self.scratch / "worker.log").open("ab")
        command = isolation.wrap(
            [sys.executable, "-m", "da_cli.sandbox.worker", str(c_read), str(c_write)],
            workspace=self.workspace.resolve(),
            scratch=self.scratch.resolve(),
            sources=self.catalog.sources + self.catalog.derived,
            placed={str(self.workspace.resolve() / n): src for n, src in self._placed.items()},
            mode=self.limits.isolation,
        )
        try:
            self._proc = subprocess.Popen(
                command,
                pass_fds=(c_read, c_write),
                cwd=self.workspace,
                env=scrubbed_env(self.workspace, self.scratch),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
                preexec_fn=_preexec(self.limits, self._group),
            )
        except OSError as e:
            raise SandboxError(f"The code worker could not start: {e.strerror}.") from e
        finally:
            os.close(c_read)
            os.close(c_write)
            log.close()
        self._to_worker, self._from_worker = p_write, p_read
        wire.send(
            self._to_worker,
            {
                "workspace": str(self.workspace),
                "capture": str(self.scratch / "cell-output"),
                "catalog": self.catalog.to_dict(),
                "placed": sorted(self._placed),
                "writable": [str(self.workspace), str(self.scratch / "tmp")],
                "workspace_mb": self.limits.workspace_mb,
                "own_pid_namespace": command[0] != sys.executable,
            },
        )
        reply = self._wait(timeout=120)
        if reply is None or "error" in reply:
            detail = reply["error"] if reply else self._log_tail()
            self._kill()
            raise SandboxError(f"The code worker failed to start: {detail}")
        if self._group is not None:
            self._worker_pids = self._group.pids()

    def _log_tail(self) -> str:
        try:
            text = (self.scratch / "worker.log").read_text(errors="replace").strip()
        except OSError:
            return "it exited without a message."
        return text.splitlines()[-1] if text else "it exited without a message."

    def _wait(self, timeout: float) -> dict | None:
        """The worker's next frame, or None if it died (`self._dead`) or the timeout passed."""
        self._dead = False
        ready, _, _ = select.select([self._from_worker], [], [], timeout)
        if not ready:
            return None
        try:
            return wire.recv(self._from_worker)
        except (EOFError, OSError, ValueError):
            self._dead = True
            return None

    def run(self, code: str) -> ExecutionResult:
        if self._proc is None:
            raise SandboxError("The sandbox is not running.")
        start = time.perf_counter()
        try:
            wire.send(
                self._to_worker,
                {
                    "op": "run",
                    "code": code,
                    "limit": self.limits.output_chars,
                    "timeout": self.limits.timeout_s,
                    "context": self.context,
                },
            )
        except OSError:
            reply, self._dead = None, True
        else:
            reply = self._wait(self.limits.timeout_s + KILL_GRACE_S)
        if reply is not None:
            error = reply.get("error")
            # The worker stops what a cell left behind in its own session or namespace; the
            # cgroup also catches daemons that escaped both.
            left = self._group.stop(keep=self._worker_pids) if self._group else 0
            if left and not reply.get("strays"):
                error = (error + "\n" if error else "") + strays_error(left)
            return ExecutionResult(
                output=reply["output"],
                value=_clip(reply.get("value"), self.limits.output_chars),
                assigned=_clip(reply.get("assigned"), self.limits.output_chars),
                note=reply.get("note"),
                unused=[(str(n), bool(b)) for n, b in reply.get("unused") or []],
                error=error,
                figures=reply.get("figures", []),
                seconds=time.perf_counter() - start,
                timed_out=bool(error and error.startswith("TimeoutError:")),
            )
        # The worker stops a slow cell itself (an alarm inside the cell); getting here means
        # it died, or is stuck in native code that ignores the alarm.
        timed_out = not self._dead
        if self._dead:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=2)
        code_desc = self._describe_exit()
        self._kill()
        self._spawn()
        why = (
            f"the cell ran longer than {self.limits.timeout_s:g} s and would not stop"
            if timed_out
            else f"the worker process died ({code_desc})"
        )
        return ExecutionResult(
            error=f"RuntimeError: {why}; it was restarted and all variables were lost.",
            seconds=time.perf_counter() - start,
            timed_out=timed_out,
            restarted=True,
        )

    def _describe_exit(self) -> str:
        rc = self._proc.poll() if self._proc else None
        if rc is None:
            return "still running"
        if rc < 0:
            return f"killed by {signal.Signals(-rc).name}"
        return f"exit code {rc}"

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        for fd in (self._to_worker, self._from_worker):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._to_worker = self._from_worker = -1
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        if self._group is not None:
            self._group.stop()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)

    def close(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            with contextlib.suppress(OSError):
                wire.send(self._to_worker, {"op": "shutdown"})
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=2)
        self._kill()
        if self._group is not None:
            self._group.remove()
            self._group = None
        self._unplace_sources()


def _new_parents(path: Path, root: Path) -> list[Path]:
    """The folders between `root` and `path` that do not exist yet, deepest first."""
    missing = []
    for parent in path.parents:
        if parent == root or parent.exists():
            break
        missing.append(parent)
    return missing


def _clip(text: str | None, limit: int) -> str | None:
    if text is None or len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n… [{len(text) - limit:,} characters cut] …\n{text[-half:]}"
