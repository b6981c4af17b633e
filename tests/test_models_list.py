"""`da models list`: each embedded model's size, whether it is installed and where, and its
measured DABench dev figures, which come from one data file the README must agree with."""

import json
import re

from conftest import ROOT, run_da

from da_cli.models.catalog import EMBEDDED, measured


def readme_results() -> dict[str, tuple[float, float, str]]:
    """The README's DABench dev table, main rows (a bold accuracy) by model name:
    (accuracy, median seconds a question, which questions)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split("### Results on InfiAgent-DABench dev", 1)[1]
    rows = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 7 or not cells[2].startswith("**"):
            continue
        name = re.match(r"[A-Za-z0-9_.-]+", cells[0]).group(0)  # not the footnote mark
        accuracy = float(re.match(r"\*\*([\d.]+) %\*\*", cells[2]).group(1))
        median = float(re.search(r"median ([\d.]+)", cells[6]).group(1))
        rows[name] = (accuracy, median, cells[1])
    return rows


def test_the_readme_table_and_the_data_file_agree():
    data = {n: (m.accuracy, m.median_seconds, m.questions) for n, m in measured().items()}
    assert data == readme_results()
    assert set(data) <= set(EMBEDDED)


def test_models_list_shows_size_install_state_path_and_dabench_figures():
    r = run_da("models", "list", "--json")
    assert r.returncode == 0, r.stderr
    rows = {row["name"]: row for row in json.loads(r.stdout)}
    assert list(rows) == list(EMBEDDED)
    for name, m in measured().items():
        row = rows[name]
        assert (row["dabench_accuracy"], row["median_seconds"]) == (m.accuracy, m.median_seconds)
        assert row["size_bytes"] == EMBEDDED[name].size
        assert row["path"] == str(EMBEDDED[name].path)
        assert isinstance(row["installed"], bool)
    text = run_da("models", "list").stdout
    assert "qwen2.5-coder-1.5b (default)" in text
    m = measured()["qwen2.5-coder-1.5b"]  # the figures move with each measurement
    said = f"DABench dev: {m.accuracy} % ({m.questions}), median {m.median_seconds} s a question"
    assert said in text
    assert f"file: {EMBEDDED['qwen2.5-coder-1.5b'].path}" in text
