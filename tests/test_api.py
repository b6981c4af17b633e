"""The Python API: the README's examples run as written (here with a scripted model; the
slow test runs the first with the real embedded model), and `analyze` is what `da analyze`
does: the same record, a stored run that `da history` lists and `--continue` follows."""

import json
import re

import pytest
from conftest import ROOT, SALES, WAREHOUSE, answer_step, code_step, run_da

import da_cli
from da_cli import api, models, runs
from da_cli.errors import DataError
from da_cli.models.catalog import EMBEDDED, SMALL_MODEL, is_assembled
from da_cli.models.replay import ReplayModel


def readme_examples() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("### From Python") :]
    section = section[: section.index("\n## ")]
    return re.findall(r"```python\n(.*?)```", section, re.DOTALL)


def _scripted(monkeypatch, tmp_path, outputs: list[str]) -> None:
    path = tmp_path / "script.jsonl"
    path.write_text("".join(json.dumps({"text": o}) + "\n" for o in outputs))
    monkeypatch.setattr(api, "load_model", lambda spec=None, **_: ReplayModel(path))
    monkeypatch.setattr(models, "load_model", lambda spec=None, **_: ReplayModel(path))


def test_the_readme_python_examples_run(monkeypatch, tmp_path, capsys):
    first, second = readme_examples()
    monkeypatch.chdir(ROOT)
    _scripted(
        monkeypatch,
        tmp_path,
        [
            # The question names 2025: code that never selects it would be sent back.
            code_step(
                'print(sql("SELECT region, sum(revenue) r FROM orders '
                'WHERE year(order_date) = 2025 GROUP BY 1"))'
            ),
            # North leads 2025 (643,806.20): an answer naming a lower row goes back.
            answer_step("North had the most revenue."),
        ],
    )
    exec(compile(first, "README-example-1", "exec"), {})
    out = capsys.readouterr().out
    assert out.startswith("North had the most revenue.\nFalse ")
    assert "code " in out and "answer North" in out

    _scripted(
        monkeypatch,
        tmp_path,
        [
            code_step('print(sql("SELECT region, sum(revenue) r FROM orders GROUP BY 1"))'),
            answer_step("West leads."),
            code_step("print(orders.channel.mode()[0])"),
            answer_step("Online."),
        ],
    )
    scope: dict = {}
    exec(compile(second, "README-example-2", "exec"), scope)
    assert scope["answer"] == "Online."
    assert capsys.readouterr().out.strip().splitlines()[-1].isdigit()  # da's own cell ran


def test_analyze_returns_the_cli_record_and_stores_a_run(monkeypatch, tmp_path):
    _scripted(
        monkeypatch,
        tmp_path,
        [code_step("print('plenty' if len(orders) > 100 else 'few')"), answer_step("Plenty.")],
    )
    result = da_cli.analyze(SALES, "How many orders?")
    assert isinstance(result, da_cli.Result)
    assert (result.answer, result.partial, result.model) == (
        "Plenty.",
        False,
        result.record["model"],
    )
    assert [s.kind for s in result.steps] == ["analyze", "code", "execute", "analyze", "answer"]
    assert result.record["schema"] == runs.SCHEMA and result.record["answer"] == "Plenty."
    assert runs.listing()[0]["id"] == result.run_dir.name  # da history lists it
    assert runs.last_state()["question"] == "How many orders?"  # --continue follows it
    listed = run_da("history", "--json")
    assert json.loads(listed.stdout.splitlines()[0])["id"] == result.run_dir.name


def test_a_spent_budget_is_a_partial_result_not_an_error(monkeypatch, tmp_path):
    _scripted(monkeypatch, tmp_path, [code_step("print(1)"), answer_step("It is 1.")])
    result = da_cli.analyze(SALES, "q?", budget=da_cli.Budget(max_turns=1), save=False)
    assert result.partial and result.stop_reason == "max turns (1)" and result.run_dir is None
    assert runs.listing() == []


def test_bad_input_raises_the_error_the_cli_maps_to_its_exit_code(monkeypatch, tmp_path):
    loaded = []
    monkeypatch.setattr(api, "load_model", lambda *a, **k: loaded.append(1))
    with pytest.raises(DataError):
        da_cli.analyze(tmp_path / "missing.csv", "q?")
    assert loaded == []  # bad data fails before a (slow) model load


def test_build_report_builds_stores_and_writes_what_da_report_does(monkeypatch, tmp_path):
    # No angles: da's own cells make the findings, and the model writes only the summary.
    _scripted(
        monkeypatch, tmp_path, [answer_step("- Lyon South Depot cancels 14.7 % of its orders.")]
    )
    heard: list = []
    out = tmp_path / "survey.md"
    done = da_cli.build_report(WAREHOUSE, outputs=[out], angles=0, on_event=heard.append)
    assert len(done.doc.findings) >= 5 and not done.doc.partial
    assert done.doc.summary_by == "model" and "cancels 14.7 %" in done.doc.summary
    assert out.read_text(encoding="utf-8").startswith(f"# {done.doc.title}")
    assert {type(e).__name__ for e in heard} >= {"Planned", "Computed", "Summarizing"}
    assert runs.listing()[0]["id"] == done.run_dir.name  # da history lists it
    assert (done.run_dir / "report.json").is_file()

    _scripted(
        monkeypatch,
        tmp_path,
        [code_step('print(sql("SELECT count(*) FROM orders"))'), answer_step("5319 orders.")],
    )
    done = da_cli.build_report(SALES, "How many orders?")
    assert done.doc.question == "How many orders?" and "5319 orders." in done.doc.summary


@pytest.mark.slow
@pytest.mark.smoke
@pytest.mark.skipif(
    not is_assembled(EMBEDDED[SMALL_MODEL]), reason="the embedded model is not installed"
)
def test_the_first_readme_example_runs_with_the_real_model(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    exec(compile(readme_examples()[0], "README-example-1", "exec"), {})
    answer = capsys.readouterr().out.splitlines()[0]
    assert answer.strip() and "<" not in answer
