"""Installed as a tool: the wheel, installed into a fresh venv outside the checkout, runs
`da doctor`, an analysis and an HTML report from another directory, finding its prompts
(package data) and report layouts (data files) where the wheel put them.

The fresh venv gets the project's dependencies through a .pth file naming this
environment's site-packages (a plain path line: the editable install of the checkout in
there is not activated), so nothing is downloaded or compiled. The real model is not run
(a replay script stands in); README's Development section gives that command.
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from conftest import ROOT, SALES, answer_step, code_step

from da_cli.sandbox import isolation

pytestmark = pytest.mark.wheel


def sh(*args: str | Path, cwd: Path | None = None, env: dict | None = None) -> str:
    r = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300
    )
    assert r.returncode == 0, f"{args} exited {r.returncode}:\n{r.stdout}\n{r.stderr}"
    return r.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The venv with da installed from its wheel (and the dependencies borrowed)."""
    tmp = tmp_path_factory.mktemp("install")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for name in ("da_cli", "train", "templates"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    pip = [sys.executable, "-m", "pip"]
    sh(*pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index", "-w", tmp, src)
    (wheel,) = tmp.glob("da_cli-*.whl")
    venv = tmp / "venv"
    sh(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    sh(*pip, "--python", python, "install", "-q", "--no-index", "--no-deps", wheel)
    purelib = sh(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").strip()
    (Path(purelib) / "_da_test_deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return venv


@pytest.fixture
def outside(tmp_path, da_home):
    """A working directory outside the checkout, and an environment without PYTHONPATH."""
    cwd = tmp_path / "work"
    cwd.mkdir()
    shutil.copy(SALES, cwd / "sales.xlsx")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return cwd, env


def test_the_wheel_runs_from_its_own_venv(installed, outside, replay):
    cwd, env = outside
    da = installed / "bin" / "da"
    where = sh(
        installed / "bin" / "python",
        "-c",
        "import da_cli; print(da_cli.__file__)",
        cwd=cwd,
        env=env,
    )
    assert where.startswith(str(installed)), where  # the wheel's copy, not the checkout

    doctor = sh(da, "doctor", cwd=cwd, env=env)
    assert "worker         ok" in doctor, doctor

    model = replay(
        code_step('print(sql("SELECT count(*) AS n FROM orders"))'),
        answer_step("There are 5319 orders."),
    )
    out = json.loads(
        sh(da, "analyze", "sales.xlsx", "how many orders?", "-m", model, "--json", cwd=cwd, env=env)
    )
    assert out["answer"] == "There are 5319 orders." and not out["partial"]

    model = replay(
        code_step(
            'df = sql("SELECT channel, SUM(revenue) AS r FROM orders GROUP BY 1")\n'
            'print(df)\ndf.plot.bar(x="channel", y="r")'
        ),
        answer_step("Retail sells most."),
    )
    sh(
        da,
        "report",
        "sales.xlsx",
        "--question",
        "which channel?",
        "-m",
        model,
        "-o",
        "r.html",
        cwd=cwd,
        env=env,
    )
    html = (cwd / "r.html").read_text()
    assert "Retail sells most." in html and "<style>" in html and "data:image/png" in html


def test_install_locations_on_sys_path_are_bound_into_the_sandbox(tmp_path, monkeypatch):
    site = tmp_path / "site"
    (site / "pandas-2.0.dist-info").mkdir(parents=True)
    home = tmp_path / "home"  # what `python -m` puts first: the current directory
    home.mkdir()
    monkeypatch.setattr(sys, "path", [str(home), "", str(site), str(tmp_path / "gone")])
    assert isolation.install_dirs() == [site]
    assert site.resolve() in isolation.readable_roots()
