"""Layered settings: flag > DA_* env > ./da.toml > user config.toml > default, each value with
its origin; a bad value in any layer is one sentence naming where it is, exit 2."""

import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT, SALES, answer_step, code_step
from test_eval import bench  # noqa: F401  (the fixture)

from da_cli import config
from da_cli.errors import UsageError


def da(*args: str, cwd, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The real CLI run from `cwd` (where ./da.toml is looked for)."""
    full = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "da_cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=full,
        cwd=cwd,
    )


@pytest.fixture
def project(tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


def write_user(da_home, text: str):
    da_home.mkdir(parents=True, exist_ok=True)
    (da_home / "config.toml").write_text(text)
    return da_home / "config.toml"


def test_settings_has_one_field_per_key():
    assert config.settings_fields() == [k.attr for k in config.KEYS]


def test_defaults_are_the_commands_own(project):
    s = config.resolve(cwd=project, environ={})
    assert (s.analyze_max_turns, s.analyze_max_tokens, s.cell_timeout, s.memory) == (
        10,
        6000,
        60.0,
        8192,
    )
    # eval measures what a user runs: analyze's budget unless told otherwise.
    assert (s.eval_max_turns, s.eval_max_tokens, s.eval_timeout, s.eval_cell_timeout) == (
        s.analyze_max_turns,
        s.analyze_max_tokens,
        s.analyze_timeout,
        s.cell_timeout,
    )
    assert (s.eval_samples, s.eval_vote) == (s.analyze_samples, s.analyze_vote)
    assert (s.threads, s.gpu_layers, s.analyze_timeout) == (None, None, None)
    assert set(s.origins.values()) == {"default"}


def test_each_layer_beats_the_one_below(project, da_home):
    user = write_user(
        da_home, "threads = 1\nmemory = 1000\ncell_timeout = 5\n[analyze]\nmax_turns = 3\n"
    )
    (project / "da.toml").write_text(
        "memory = 2000\ncell_timeout = 6\n\n[analyze]\nmax_turns = 4\n"
    )
    env = {"DA_CELL_TIMEOUT": "7", "DA_ANALYZE_MAX_TURNS": "5"}
    s = config.resolve({"analyze.max_turns": 9, "memory": None}, cwd=project, environ=env)
    assert (s.threads, s.origins["threads"]) == (1, f"{user}:1")
    assert (s.memory, s.origins["memory"]) == (2000, f"{project / 'da.toml'}:1")
    assert (s.cell_timeout, s.origins["cell_timeout"]) == (7.0, "env DA_CELL_TIMEOUT")
    assert (s.analyze_max_turns, s.origins["analyze.max_turns"]) == (9, "flag")
    # Without the flag, the environment wins; without that, the project file.
    assert config.resolve(cwd=project, environ=env).analyze_max_turns == 5
    assert config.resolve(cwd=project, environ={}).analyze_max_turns == 4
    (project / "da.toml").unlink()
    assert config.resolve(cwd=project, environ={}).analyze_max_turns == 3


def test_dotted_keys_and_tables_are_the_same_setting(project):
    (project / "da.toml").write_text('model = "m"\nreport.angles = 2\n')
    s = config.resolve(cwd=project, environ={})
    assert (s.model, s.report_angles, s.origins["report.angles"]) == (
        "m",
        2,
        f"{project / 'da.toml'}:2",
    )


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        (
            "threads = 2\n[report]\nangles = 9\n",
            3,
            "report.angles must be a whole number from 0 to 8, not 9",
        ),
        ("memory = 'lots'\n", 1, 'memory must be a whole number of at least 16, not "lots"'),
        ("\n[analyze]\nmax_turn = 3\n", 3, "unknown setting 'analyze.max_turn'"),
        ("threads = true\n", 1, "threads must be a whole number of at least 1, not True"),
        (
            "[analyze]\nvote = 'often'\n",
            2,
            'analyze.vote must be one of "always", "unsure", not "often"',
        ),
    ],
)
def test_a_bad_value_in_a_file_names_the_file_and_line(project, da_home, text, line, says):
    for path in (project / "da.toml", da_home / "config.toml"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        with pytest.raises(UsageError) as e:
            config.resolve(cwd=project, environ={})
        assert str(e.value) == f"{path}, line {line}: {says}."
        path.unlink()


def test_a_toml_syntax_error_names_the_file_and_line(project):
    (project / "da.toml").write_text("threads = 2\nmodel = \n")
    with pytest.raises(UsageError, match=r"da\.toml is not valid TOML: .*line 2"):
        config.resolve(cwd=project, environ={})


def test_a_bad_environment_value_names_the_variable(project):
    with pytest.raises(
        UsageError, match=r"^DA_THREADS must be a whole number of at least 1, not \"0\"\.$"
    ):
        config.resolve(cwd=project, environ={"DA_THREADS": "0"})
    assert config.resolve(cwd=project, environ={"DA_THREADS": ""}).threads is None


def test_bad_values_in_each_layer_exit_2_in_one_sentence(project, da_home):
    write_user(da_home, "[eval]\nmax_tokens = 10\n")
    r = da("config", "show", cwd=project)
    assert r.returncode == 2
    assert r.stderr.startswith(f"Error: {da_home / 'config.toml'}, line 2: eval.max_tokens must")
    assert "Traceback" not in r.stderr
    (da_home / "config.toml").unlink()
    (project / "da.toml").write_text("gpu_layers = -2\n")
    r = da("analyze", str(SALES), "q", cwd=project)
    assert r.returncode == 2 and f"{project / 'da.toml'}, line 1: gpu_layers" in r.stderr
    (project / "da.toml").unlink()
    r = da("report", str(SALES), cwd=project, env={"DA_REPORT_ANGLES": "x"})
    assert r.returncode == 2 and "DA_REPORT_ANGLES must be a whole number from 0 to 8" in r.stderr


def test_show_prints_every_setting_with_its_origin(project, da_home):
    user = write_user(da_home, "# mine\nthreads = 2\n")
    (project / "da.toml").write_text("[report]\nangles = 3\n")
    r = da("config", "show", cwd=project, env={"DA_MODEL": "replay:x.jsonl"})
    assert r.returncode == 0, r.stderr
    rows = {line.split()[0]: line.split(None, 2)[1:] for line in r.stdout.splitlines()[:-1]}
    assert list(rows) == [k.name for k in config.KEYS]
    assert rows["threads"] == ["2", f"{user}:2"]
    assert rows["report.angles"] == ["3", f"{project / 'da.toml'}:2"]
    assert rows["model"] == ["replay:x.jsonl", "env DA_MODEL"]
    assert rows["eval.max_tokens"] == ["6000", "default"]
    out = json.loads(da("config", "show", "--json", cwd=project).stdout)
    assert out["threads"] == {"value": 2, "origin": f"{user}:2"}


def test_set_writes_the_user_file_keeping_its_comments(project, da_home):
    write_user(da_home, "# my settings\nthreads = 2\n\n[eval]\nmax_turns = 5\n")
    for key, value in [
        ("threads", "3"),
        ("memory", "4096"),
        ("eval.max_tokens", "900"),
        ("report.angles", "2"),
        ("model", 'odd "name"'),
    ]:
        r = da("config", "set", key, value, cwd=project)
        assert r.returncode == 0, r.stderr
    text = (da_home / "config.toml").read_text()
    assert text.startswith("# my settings\nthreads = 3\nmemory = 4096\n")
    s = config.resolve(cwd=project, environ={})
    assert (s.threads, s.memory, s.eval_max_turns, s.eval_max_tokens, s.report_angles) == (
        3,
        4096,
        5,
        900,
        2,
    )
    assert s.model == 'odd "name"'
    assert da("config", "unset", "eval.max_tokens", cwd=project).returncode == 0
    assert config.resolve(cwd=project, environ={}).eval_max_tokens == 6000


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("threads", "many", 'threads must be a whole number of at least 1, not "many"'),
        ("max_turns", "3", "Unknown setting 'max_turns'"),
    ],
)
def test_set_refuses_a_bad_key_or_value_and_writes_nothing(project, da_home, key, value, says):
    r = da("config", "set", key, value, cwd=project)
    assert r.returncode == 2 and r.stderr.startswith(f"Error: {says}.")
    assert not (da_home / "config.toml").exists()


def test_analyze_takes_its_model_and_budget_from_the_project_file(project, replay, monkeypatch):
    monkeypatch.delenv("DA_MODEL")  # conftest's choice of a real model would beat the file
    model = replay(code_step("print(1)"), code_step("print(2)"), answer_step("Partial: 1 and 2."))
    (project / "da.toml").write_text(f"model = {json.dumps(model)}\n[analyze]\nmax_turns = 2\n")
    r = da("analyze", str(SALES), "q", "--json", cwd=project)
    assert r.returncode == 6, r.stderr  # the file's 2 turns ran out
    assert json.loads(r.stdout)["partial"] is True
    # A flag beats the file: three turns reach the answer.
    r = da("analyze", str(SALES), "q", "--json", "--max-turns", "3", cwd=project)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["answer"] == "Partial: 1 and 2."


def test_eval_ignores_analyze_budgets_but_takes_its_own(project, bench, replay, tmp_path):  # noqa: F811
    steps = [code_step('print(sql("SELECT max(x) FROM t"))'), answer_step("@max_x[3]")]
    args = ["eval", "dabench", "--data", str(bench), "--level", "hard", "--json"]
    (project / "da.toml").write_text("[analyze]\nmax_turns = 1\n")
    r = da(*args, "--model", replay(*steps), "-o", str(tmp_path / "a.jsonl"), cwd=project)
    assert r.returncode == 0, r.stderr
    first = json.loads(r.stdout)
    assert (first["correct"], first["partial"]) == (1, 0)  # eval's own 10 turns, not analyze's 1
    (project / "da.toml").write_text("[eval]\nmax_turns = 1\n")
    r = da(*args, "--model", replay(*steps), "-o", str(tmp_path / "b.jsonl"), cwd=project)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["partial"] == 1  # one turn: the budget ran out
