"""Reports: the survey's angles, the evidence rules, and every output format end to end
through the real CLI, sandbox and DuckDB with the replay model (seconds, no real model).

One replay survey of warehouse.db renders all formats at once; the assertions then read
each file the way a user's tools would (pdftotext, pdftoppm, pdfimages, nbformat, python).
"""

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, SALES, WAREHOUSE, answer_step, code_step, run_da, sha256

from da_cli.agent import prompts
from da_cli.data.catalog import build_catalog
from da_cli.data.profile import profile
from da_cli.models.replay import ReplayModel
from da_cli.report import templates
from da_cli.research import evidence, survey
from da_cli.research.summary import Point, summarize

# da computes the survey's facts itself; the model analyses the top two. Fact 1 (cancelled
# orders by warehouse): the model draws a figure; its first answer quotes a number no output
# shows and is sent back by the loop; its second still carries one such sentence, which the
# report must leave out. Fact 2 (average order value by customer segment): the model prints a
# table but draws nothing. Then the executive summary.
CANCELLED = (
    "df = sql(\"SELECT w.name, ROUND(100.0 * AVG(CASE WHEN o.status = 'cancelled' THEN 1 "
    "ELSE 0 END), 1) AS cancel_pct FROM orders o JOIN warehouses w USING (warehouse_id) "
    'GROUP BY 1 ORDER BY 2 DESC")\n'
    "print(df)\n"
    "import matplotlib.pyplot as plt\n"
    'df.plot(kind="bar", x="name", y="cancel_pct", legend=False)\n'
    'plt.title("Cancelled orders by warehouse")'
)
PER_SEGMENT = (
    'print(sql("SELECT c.segment, ROUND(SUM(oi.quantity * oi.unit_price) / '
    "COUNT(DISTINCT oi.order_id), 2) AS avg_value FROM order_items oi JOIN orders o "
    'USING (order_id) JOIN customers c USING (customer_id) GROUP BY 1 ORDER BY 2"))'
)
ANSWER_1 = (
    "| warehouse | cancel_pct |\n|---|---:|\n| Lyon South Depot | 14.7 |\n"
    "| Rotterdam Central DC | 3.9 |\n\n"
    "Lyon South Depot cancels 14.7 % of its orders. Audio made 777,777.77 in March."
)
ANSWER_2 = (
    "Average value per order:\n\n- 1377.41 for Small Business, the lowest\n- 4804.61 for Enterprise"
)
SUMMARY = (
    "- Lyon South Depot cancels 14.7 % of its orders.\n- Small Business orders average 1377.41."
)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """One replay survey of warehouse.db, written in every format."""
    tmp = tmp_path_factory.mktemp("report")
    home = tmp / "da-home"
    lines = [
        code_step(CANCELLED),
        answer_step("Audio made 777,777.77."),
        answer_step(ANSWER_1),
        code_step(PER_SEGMENT),
        answer_step(ANSWER_2),
        answer_step(SUMMARY),
    ]
    script = tmp / "script.jsonl"
    script.write_text("".join(json.dumps({"text": x}) + "\n" for x in lines))
    out = {ext: tmp / f"report.{ext}" for ext in ("html", "pdf", "md", "ipynb")}
    args = [sys.executable, "-m", "da_cli", "report", str(WAREHOUSE), "--angles", "2"]
    args += ["--model", f"replay:{script}", "--emit-script", str(tmp / "recompute.py")]
    for path in out.values():
        args += ["-o", str(path)]
    env = {**os.environ, "DA_HOME": str(home), "NO_COLOR": "1"}
    r = subprocess.run(args, capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr
    report = json.loads(next((home / "data" / "runs").glob("*/report.json")).read_text())
    return {"run": r, "tmp": tmp, "home": home, **out, "script": tmp / "recompute.py",
            "report": report}  # fmt: skip


def _profiles(path: Path):
    return profile(build_catalog([str(path)]), cache=False)


def test_a_per_unit_price_is_never_summed_but_quantity_times_price_is():
    products = next(p for p in _profiles(WAREHOUSE) if p.name == "order_items")
    m = survey.measure_of(products)
    assert m.real and "quantity" in m.expr and "unit_price" in m.expr
    only_prices = next(p for p in _profiles(WAREHOUSE) if p.name == "products")
    assert survey.measure_of(only_prices).expr == "COUNT(*)"


def test_unbacked_sentences_are_left_out_and_backed_numbers_name_their_line():
    outputs = ["  region  revenue\n0   West  1387030.72\n1  North  1244125.29"]
    text = (
        "West leads with 1,387,030.72. It grew 45.5 % last year.\n\n"
        "| region | revenue |\n|---|---:|\n| West | 1387030.72 |\n| South | 847097.83 |\n\n"
        "- North: 1,244,125.29\n- East: 999.5"
    )
    kept, dropped = evidence.grounded_only(text, outputs)
    assert "45.5" not in kept and "847097.83" not in kept and "999.5" not in kept
    assert "West leads with 1,387,030.72." in kept and "| West | 1387030.72 |" in kept
    assert len(dropped) == 3
    backing = evidence.backing(kept, outputs)
    assert [b.number for b in backing] == ["1,387,030.72", "1,244,125.29"]  # each value once
    assert backing[0].line == "0 West 1387030.72"
    # Dates and numbers in names label things; they are not claims that need a line.
    found = evidence.backing("Laptop 16 sold 156 in 2025-12", ["Laptop 16 2025-12 156"])
    assert [b.number for b in found] == ["156"]


def test_a_sentence_copying_the_worked_example_is_left_out_unless_the_data_says_it():
    example = prompts.worked_examples()
    answer = (
        "Lyon South Depot handled the most cancelled orders, 84, ahead of Leipzig Hub. "
        "Lyon cancels 14.7 % of its orders."
    )
    kept, copied = evidence.original_only(answer, example, ["Lyon South Depot 84"])
    assert kept == "Lyon cancels 14.7 % of its orders." and len(copied) == 1
    # The same words are the data's own when a question or an output uses them.
    asked = "Which warehouse handled the most cancelled orders?"
    assert evidence.original_only(answer, example, [asked])[0] == answer


def test_a_summary_quoting_unbacked_numbers_twice_is_written_by_da(tmp_path):
    script = tmp_path / "s.jsonl"
    bad = answer_step("- Revenue was 123,456.")
    script.write_text("".join(json.dumps({"text": x}) + "\n" for x in (bad, bad)))
    model = ReplayModel(script)
    points = [Point("Revenue by region", "West leads with 1,387,030.72.")]
    s = summarize(model, "sales.xlsx", points, ["West 1387030.72"])
    assert s.by == "da" and s.attempts == 2
    assert "1,387,030.72" in s.text and "123,456" not in s.text
    # The second attempt was told which number no output showed.
    assert "123,456" in model.history[1]["messages"][1]["content"]


def test_the_pdf_has_pages_text_and_figures(rendered):
    pdf = rendered["pdf"]
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    assert pages >= 2
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    for expected in (
        "What the data in warehouse.db shows",
        "Executive summary",
        "What the data holds",
        "Lyon South Depot",
        "14.7 %",  # the model's finding, and da's
        "made by da",  # da's reading and charts
        "Appendix B. Sources",
        sha256(WAREHOUSE),
    ):
        assert expected in text.replace("\n", " ") or expected in text, expected
    assert "777,777.77" not in text  # the unbacked sentence is not in the report
    images = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, text=True)
    figures = sum(len(c["figures"]) for f in rendered["report"]["findings"] for c in f["cells"])
    assert figures >= 3
    assert sum(" image " in line for line in images.stdout.splitlines()) >= figures


def test_every_pdf_page_renders_with_ink(rendered, tmp_path):
    subprocess.run(["pdftoppm", "-gray", "-r", "30", str(rendered["pdf"]), str(tmp_path / "p")])
    pages = sorted(tmp_path.glob("p-*.pgm"))
    assert len(pages) >= 2
    for page in pages:
        data = page.read_bytes()
        # PGM: "P5\n<w> <h>\n255\n" then one byte per pixel.
        head = re.match(rb"P5\s+(\d+)\s+(\d+)\s+255\s", data)
        pixels = data[head.end() :]
        ink = sum(b < 200 for b in pixels) / len(pixels)
        # Measured at 30 dpi: a page with only its footer has 0.00002; a heading and one
        # line of text 0.001; a page of this report 0.004 to 0.07.
        assert ink > 0.0005, f"{page.name} is blank"


def _figures(rendered) -> int:
    return sum(len(c["figures"]) for f in rendered["report"]["findings"] for c in f["cells"])


def test_the_html_is_self_contained_with_its_markdown_rendered(rendered):
    html = rendered["html"].read_text()
    images = re.findall(r'<img src="([^"]+)"', html)
    assert len(images) == _figures(rendered)
    assert all(s.startswith("data:image/png;base64,") for s in images)
    assert not re.search(r'(src|href)="(https?:|file:|/)', html), "an external reference"
    assert "<table>" in html and "<td>Lyon South Depot</td>" in html  # the answer's table
    assert "<li>1377.41 for Small Business, the lowest</li>" in html  # and its list
    assert "777,777.77" not in html
    assert "made by da" in html and sha256(WAREHOUSE) in html
    assert "<script" not in html


def test_markdown_has_its_figures_beside_it(rendered):
    md = rendered["md"].read_text()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert len(links) == _figures(rendered)
    assert all((rendered["md"].parent / link).is_file() for link in links)
    assert links[0].startswith("report_files/")
    assert "## Executive summary" in md and "| Lyon South Depot | 14.7 |" in md
    # A finding da alone made carries no "asked" line and no note about a model answer.
    overview = md.split("### 1. What the data holds")[1].split("### 2.")[0]
    assert "Asked" not in overview and "left out" not in overview


def test_the_notebook_validates_and_has_code_with_outputs(rendered):
    nb = nbformat.read(str(rendered["ipynb"]), as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[0].source.startswith("import hashlib")  # the preamble: sql() and load()
    assert "def sql(" in code[0].source and "def survey_fact(" in code[0].source
    ran = code[1:]
    sources = [c.source for c in ran]
    assert CANCELLED in sources and PER_SEGMENT in sources
    assert re.search(r"Lyon South Depot\s+14.7", ran[sources.index(CANCELLED)].outputs[0]["text"])
    assert sum("survey_fact(" in s for s in sources) == len(rendered["report"]["findings"])
    pngs = [o for c in ran for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(pngs) == _figures(rendered)


def test_the_emitted_script_recomputes_the_numbers_without_da(rendered, tmp_path):
    script = rendered["script"]
    assert not re.search(r"^\s*(import|from) da_cli", script.read_text(), re.M)
    r = subprocess.run(
        [sys.executable, "-I", str(script)], capture_output=True, text=True, cwd=tmp_path
    )
    assert r.returncode == 0, r.stderr
    assert re.search(r"Lyon South Depot\s+14.7", r.stdout)  # the model's cell, recomputed
    assert "Reading: In orders, 14.7 % of rows for warehouse Lyon South Depot" in r.stdout  # da's
    assert len(list((tmp_path / "figures").iterdir())) == _figures(rendered)


def test_progress_names_each_fact_and_the_time_left(rendered):
    err = " ".join(rendered["run"].stderr.split())  # lines wrap at the terminal's width
    assert "da computed" in err and "candidate facts" in err and "the model analyses 2" in err
    assert re.search(r"da: What the data holds \(\d+\.\d s\)", err)
    assert "Angle 1/2" in err and re.search(r"Angle 2/2 [^\n]*?\(about \d+ s left\)", err)


def test_the_report_is_kept_in_history(rendered):
    r = subprocess.run(
        [sys.executable, "-m", "da_cli", "history", "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, "DA_HOME": str(rendered["home"])},
        cwd=ROOT,
    )
    (run,) = [json.loads(x) for x in r.stdout.splitlines()]
    assert run["schema"] == "da.report/1" and "Lyon South Depot" in run["answer"]
    titles = [f["title"] for f in rendered["report"]["findings"]]
    assert titles[0] == "What the data holds" and titles[1].startswith("Warehouse Lyon South")
    assert rendered["run"].stdout.split() == [
        str(rendered[k]) for k in ("html", "pdf", "md", "ipynb", "script")
    ]


def test_analyze_writes_its_answer_as_a_report_too(replay, tmp_path):
    model = replay(
        code_step(
            'df = sql("SELECT region, SUM(revenue) AS revenue FROM orders GROUP BY 1 '
            'ORDER BY 2 DESC")\nprint(df)\ndf.plot.bar(x="region", y="revenue")'
        ),
        answer_step("| region | revenue |\n|---|---:|\n| West | 1387030.72 |\n\n- West leads"),
    )
    html, nb = tmp_path / "a.html", tmp_path / "a.ipynb"
    r = run_da("analyze", str(SALES), "which region sells most?", "-m", model, "-o", str(html))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("| region | revenue |")  # the answer still goes to stdout
    page = html.read_text()
    assert "<td>West</td>" in page and "<li>West leads</li>" in page
    assert page.count('<img src="data:image/png;base64,') == 1
    model = replay(
        code_step("print(sql('SELECT count(*) AS n FROM orders').n[0])"),
        answer_step("There are 5319 orders."),
    )
    r = run_da("analyze", str(SALES), "how many?", "-m", model, "-o", str(nb), "--max-turns", "1")
    assert r.returncode == 6  # the budget ran out: the partial answer is still written
    nbformat.validate(nbformat.read(str(nb), as_version=4))


def test_an_unknown_output_format_is_refused_before_any_work(tmp_path, da_home):
    r = run_da("report", str(WAREHOUSE), "-o", str(tmp_path / "report.docx"))
    assert r.returncode == 2 and "report.docx" in r.stderr and "Traceback" not in r.stderr
    r = run_da("analyze", str(SALES), "q", "-o", str(tmp_path / "a.txt"))
    assert r.returncode == 2
    assert not (da_home / "data" / "runs").exists()  # nothing ran


def test_pdf_without_pango_is_one_sentence_exit_1_before_any_work(tmp_path, da_home):
    # A weasyprint that fails to import the way it does when Pango is absent (OSError).
    fake = tmp_path / "site"
    fake.mkdir()
    (fake / "weasyprint.py").write_text("raise OSError('cannot load library libpango-1.0-0')\n")
    env = {**os.environ, "PYTHONPATH": f"{fake}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    out = tmp_path / "report.pdf"
    r = subprocess.run(
        [sys.executable, "-m", "da_cli", "report", str(WAREHOUSE), "-o", str(out)],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert r.returncode == 1, r.stderr
    assert "Pango" in r.stderr and "Traceback" not in r.stderr
    assert not out.exists() and not (da_home / "data" / "runs").exists()  # nothing ran


def test_data_with_nothing_to_survey_asks_for_a_question(tmp_path):
    notes = tmp_path / "notes.csv"
    notes.write_text("id,text\n" + "".join(f"{i},note number {i}\n" for i in range(50)))
    r = run_da("report", str(notes), "-m", "replay:/nonexistent")
    assert r.returncode == 3 and "--question" in r.stderr and "Traceback" not in r.stderr


def test_templates_are_found_in_the_checkout_and_ship_in_a_wheel(tmp_path):
    assert templates.directory() == ROOT / "templates"
    assert any(str(p).endswith("share/da/templates") for p in templates.candidates())
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for name in ("da_cli", "templates"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    r = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
        + ["-w", str(tmp_path / "dist"), str(src)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {Path(n).name for n in names if "/data/share/da/templates/" in n}
    assert shipped == {p.name for p in (ROOT / "templates").iterdir()}
    assert "da_cli/research/prompts/summary_system.j2" in names


def test_a_question_report_goes_to_stdout_as_markdown(replay):
    model = replay(
        code_step(
            'df = sql("SELECT channel, SUM(revenue) AS revenue FROM orders GROUP BY 1 '
            'ORDER BY 2 DESC")\nprint(df)\ndf.plot.bar(x="channel", y="revenue")'
        ),
        answer_step("Retail sells most: 2210448.92."),
    )
    r = run_da("report", str(SALES), "--question", "which channel sells most?", "-m", model)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("# Which channel sells most?")
    assert "## Answer" in r.stdout and "Retail sells most: 2210448.92." in r.stdout
    (figure,) = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", r.stdout)
    assert Path(figure).is_absolute() and Path(figure).is_file()  # in the run's workspace


def test_the_script_forgives_what_the_sandbox_forgave(replay, tmp_path):
    # One table is `df` too, and a guessed file name reads the data file: a script that did
    # not do the same would fail where the cells ran.
    data = tmp_path / "Taxi Trips.csv"
    # A zoned timestamp: DuckDB's conversion to pandas warns, and neither the sandbox nor
    # the script shows it.
    rows = "Oslo,3.5,2024-01-01 08:00:00+00\nParis,4.5,2024-01-02 09:00:00+00\n"
    data.write_text("city,fare,at\n" + rows)
    code = (
        "print(df.fare.sum())\nprint(pd.read_csv('taxi_trips.csv').fare.max())\n"
        "print(load('Taxi Trips.csv').fare.min())\n"  # the file's name for its table's
        "print(df['Fare'].sum() * 2)"  # the question's spelling of a column
    )
    model = replay(code_step(code), answer_step("Fares add up to 8.0; the top one is 4.5."))
    script = tmp_path / "recompute.py"
    args = ("report", str(data), "--question", "fares?", "-m", model, "--emit-script")
    r = run_da(*args, str(script), "-o", str(tmp_path / "r.md"))
    assert r.returncode == 0, r.stderr
    run = tmp_path / "elsewhere"
    run.mkdir()
    r = subprocess.run([sys.executable, "-I", str(script)], capture_output=True, text=True, cwd=run)
    assert r.returncode == 0, r.stderr
    assert "8.0\n" in r.stdout and "4.5\n" in r.stdout and "3.5\n" in r.stdout
    assert '(no file "taxi_trips.csv": read "Taxi Trips.csv", the data file here)' in r.stderr
    assert '(no table "Taxi Trips.csv": loaded "taxi_trips")' in r.stderr
    assert '(no column "Fare": used "fare")' in r.stderr and "16.0\n" in r.stdout
    assert "Warning" not in r.stderr


def test_the_script_and_notebook_forgive_fields_and_arguments_as_the_sandbox_did(replay, tmp_path):
    # The sandbox gives `p_value, _ = pearsonr(...)` the p-value (forgiving.fields_meant)
    # and `squared=False` the root, and assigns `low, high = x, low + 10` one after another;
    # plain Python would give p_value the correlation and fail on squared= and low, and the
    # rerun would disagree with the report.
    data = tmp_path / "trips.csv"
    data.write_text("fare,km\n" + "".join(f"{3 + k * 1.5 + (k % 3)},{k}\n" for k in range(1, 9)))
    code = (
        "from scipy.stats import pearsonr\n"
        "p_value, _ = pearsonr(df.fare, df.km)\n"
        "print(f'p = {p_value:.6f}')\n"
        "from sklearn.metrics import mean_squared_error\n"
        "print(f'rmse = {mean_squared_error(df.km, df.km + 3, squared=False):.3f}')\n"
        "low, high = df.km.min(), low + 10\n"
        "print(f'range {low}-{high}')"
    )
    model = replay(code_step(code), answer_step("Fare grows with distance (p = 0.000032)."))
    script, nb = tmp_path / "recompute.py", tmp_path / "r.ipynb"
    args = ("report", str(data), "--question", "fare vs km?", "-m", model, "--emit-script")
    r = run_da(*args, str(script), "-o", str(nb))
    assert r.returncode == 0, r.stderr
    cells = [c.source for c in nbformat.read(str(nb), as_version=4).cells if c.cell_type == "code"]
    assert "p_value, _ = fields_meant(pearsonr(df.fare, df.km), ('p_value', '_'))" in cells[1]
    (tmp_path / "nb.py").write_text("\n\n".join(cells))
    for path in (script, tmp_path / "nb.py"):
        r = subprocess.run([sys.executable, "-I", str(path)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert "p = 0.000032\n" in r.stdout, r.stdout
        assert "gave p_value its pvalue and _ its statistic, as the names say)" in r.stderr
        assert "rmse = 3.000\n" in r.stdout  # squared= is gone from scikit-learn 1.6
        assert "(no squared= since scikit-learn 1.6: ran root_mean_squared_error)" in r.stderr
        assert "range 1-11\n" in r.stdout  # one value after another, as the sandbox ran it


@pytest.mark.slow
@pytest.mark.timeout(3600)  # minutes on an idle machine; far more on a shared one
def test_embedded_model_writes_a_survey_pdf_with_figures(tmp_path):
    # The acceptance run: the real model surveys warehouse.db into a PDF of >= 2 pages with
    # >= 2 figures (da charts an angle whose code drew none, so figures do not depend on luck).
    pdf = tmp_path / "report.pdf"
    r = run_da("report", str(WAREHOUSE), "-o", str(pdf), timeout=3600)
    assert r.returncode == 0, r.stderr
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    assert int(re.search(r"Pages:\s+(\d+)", info).group(1)) >= 2
    images = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, text=True)
    assert sum(" image " in line for line in images.stdout.splitlines()) >= 2
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    assert "Executive summary" in text and sha256(WAREHOUSE) in text


def test_a_report_of_several_analyses_states_their_agreement(replay, tmp_path):
    # Three analyses, two agreeing: the second's figure is the one the vote chose, found in
    # that analysis's own workspace.
    model = replay(
        code_step("print(10 + 7)"),
        code_step("import matplotlib.pyplot as plt\nplt.bar(['a'], [42])\nprint(40 + 2)"),
        code_step("print(6 * 7)"),
        answer_step("It is 17."),
        answer_step("It is 42."),
        answer_step("The value is 42."),
    )
    md = tmp_path / "a.md"
    r = run_da("analyze", str(SALES), "what is the value?", "-m", model, "-k", "3", "-o", str(md))
    assert r.returncode == 0, r.stderr
    assert "2 of 3 analyses agree (showing analysis 2)." in r.stderr
    text = md.read_text()
    assert "ran 3 analyses of the question" in text and "The analysis shown is number 2" in text
    assert "![" in text  # the chosen analysis's figure, found in its own folder


def test_the_script_shows_what_a_silent_cell_assigned_as_the_sandbox_did():
    from da_cli.report.script import show_last_expression

    code = "import numpy as np\nr, p = np.float64(0.25), 2"
    shown = show_last_expression(code, "r = 0.25\np = 2")
    assert shown == code + "\n_show_names(r=r, p=p)"
    assert show_last_expression(code, "(no output)") == code  # the sandbox showed nothing
    assert show_last_expression("x = 1\nx + 1", "2") == "x = 1\n_show(x + 1)"
    # What shares the expression's line stays, names with non-ASCII letters included.
    assert show_last_expression("a = 1; a + 1", "2") == "a = 1; _show(a + 1)"
    assert show_last_expression("für = 1; für + 1  # ok", "2") == "für = 1; _show(für + 1)  # ok"
    assert show_last_expression("if True:\n    x = 2\nx * (\n  3)", "6") == (
        "if True:\n    x = 2\n_show(x * (\n  3))"
    )
    # Short values earlier lines assigned, in the order the sandbox showed them; a cell
    # that ends in a call returning None showed them too.
    code = "m = 10.5\nt = load('orders')\nsd = 2.34"
    assert show_last_expression(code, "m = 10.5\nsd = 2.34") == code + "\n_show_names(m=m, sd=sd)"
    series = "c\n1    20.0\n2    14.0\nName: f, dtype: float64"
    blocks = show_last_expression(code, f"m =\n{series}\nsd =\n{series}")
    assert blocks == code + "\n_show_names(m=m, sd=sd)"  # values of a few lines
    blocks = show_last_expression("m = 1\nsd = 2\n[].clear()", f"m =\n{series}\nsd = 2")
    assert blocks.endswith("\n_show_names(m=m, sd=sd)")
    ends_in_call = show_last_expression("q = 3\n[].clear()", "q = 3")
    assert ends_in_call == "q = 3\n_show([].clear())\n_show_names(q=q)"
    # After warnings too; but what the cell printed itself is not what the sandbox showed.
    warned = "<cell 2>:1: FutureWarning: old\n  x()\nm = 10.5\nsd = 2.34"
    assert show_last_expression(code, warned) == code + "\n_show_names(m=m, sd=sd)"
    printed = "m = 10.5\nprint(f'm = {m}')\nsd = 2.34"
    assert show_last_expression(printed, "m = 10.5") == printed
    printed = "m = 10.5\nprint('m =', m)\nt.head()"
    assert show_last_expression(printed, "m = 10.5\n   city\n0  Oslo") == printed.replace(
        "t.head()", "_show(t.head())"
    )
    # The script's helper prints what the sandbox printed.
    helper = (ROOT / "templates" / "script.py.j2").read_text()
    start = helper.index("def _show_names")
    ns: dict = {}
    exec(helper[start : helper.index("\n\n\n", start)], ns)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(shown, ns)
    assert out.getvalue() == "r = 0.25\np = 2\n"
