"""A real check that the sandbox works here: start a worker as an analysis would and run a
trivial cell. Knowing that bubblewrap can create namespaces is not enough: the worker can
still fail to start inside them (an interpreter reached through a symbolic link, a
missing library), and only starting one shows it."""

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from da_cli.data.catalog import Catalog
from da_cli.errors import SandboxError
from da_cli.sandbox.session import Limits, Sandbox


@dataclass(frozen=True)
class SelfCheck:
    ok: bool
    isolation: str  # the containment the worker ran under (`isolation.NAMESPACES`, …)
    detail: str  # one sentence: what ran, or why the worker failed
    seconds: float


def selfcheck(limits: Limits | None = None) -> SelfCheck:
    """Start a worker with no sources in a throwaway workspace, run `print(6 * 7)`, and
    say whether "42" came back. Never raises for a sandbox failure: it is the result."""
    limits = limits or Limits(timeout_s=20)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="da-selfcheck-") as tmp:
        sandbox = Sandbox(Catalog(), Path(tmp) / "workspace", limits)
        try:
            with sandbox:
                result = sandbox.run("print(6 * 7)")
        except SandboxError as e:
            ok, detail = False, str(e)
        else:
            ok = result.ok and result.output.strip() == "42"
            detail = (
                "a worker started and ran a cell."
                if ok
                else f"a worker started but its cell failed: {result.observation()[:200]}"
            )
    return SelfCheck(ok, sandbox.isolation, detail, time.perf_counter() - start)
