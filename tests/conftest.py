"""Shared fixtures. Every test gets its own DA_HOME, so runs and transcripts never touch
the user's; the model cache (DA_CACHE_DIR or the user cache) is shared on purpose."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from da_cli.models.catalog import DEFAULT_MODEL, SMALL_MODEL

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SALES = EXAMPLES / "sales.xlsx"
WAREHOUSE = EXAMPLES / "warehouse.db"


@pytest.fixture(autouse=True)
def da_home(tmp_path, monkeypatch):
    home = tmp_path / "da-home"
    monkeypatch.setenv("DA_HOME", str(home))
    # Real-model tests run the small model: the pipeline is the same and a 2-core CI machine
    # runs it three times as fast. The ones that check what users get ask for the default
    # (`default_model`).
    monkeypatch.setenv("DA_MODEL", SMALL_MODEL)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "100")
    return home


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(autouse=True)
def examples_untouched():
    """No test may change the shipped example data."""
    before = {p: sha256(p) for p in (SALES, WAREHOUSE)}
    yield
    for p, digest in before.items():
        assert sha256(p) == digest, f"{p.name} was modified"


@pytest.fixture
def default_model(monkeypatch) -> str:
    """The product's default model, as `da` picks it with no setting."""
    monkeypatch.delenv("DA_MODEL")
    return DEFAULT_MODEL


def run_da(
    *args: str, stdin: str | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    """Run the real CLI in a subprocess, the way a user does."""
    return subprocess.run(
        [sys.executable, "-m", "da_cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=os.environ.copy(),
        cwd=ROOT,
    )


@pytest.fixture
def replay(tmp_path):
    """Write a replay script from a list of model outputs; returns the --model value."""

    def make(*outputs: str) -> str:
        path = tmp_path / "script.jsonl"
        path.write_text("".join(json.dumps({"text": o}) + "\n" for o in outputs))
        return f"replay:{path}"

    return make


def code_step(code: str, analyze: str = "Look at the data.") -> str:
    return f"<Analyze>\n{analyze}\n</Analyze>\n<Code>\n```python\n{code}\n```\n</Code>"


def answer_step(answer: str, analyze: str = "The output answers it.") -> str:
    return f"<Analyze>\n{analyze}\n</Analyze>\n<Answer>\n{answer}\n</Answer>"
