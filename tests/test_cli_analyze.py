"""`da analyze` end to end through the real CLI, sandbox and DuckDB, with the replay model."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, SALES, answer_step, code_step, run_da

from da_cli import paths

COUNT = 'print(sql("SELECT count(*) AS n FROM orders").n[0])'


def test_answer_goes_to_stdout_and_progress_to_stderr(replay):
    model = replay(code_step(COUNT), answer_step("There are 5319 orders."))
    r = run_da("analyze", str(SALES), "how many orders?", "--model", model)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "There are 5319 orders."
    assert "5319" in r.stderr and "Execute" in r.stderr


def test_json_output_from_stdin_question(replay):
    model = replay(code_step(COUNT), answer_step("There are 5319 orders."))
    r = run_da(
        "analyze", str(SALES), "-", "--json", "--model", model, stdin="how many orders are there?\n"
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["schema"] == "da.analyze/1"
    assert out["question"].strip() == "how many orders are there?"
    assert out["answer"] == "There are 5319 orders."
    assert out["code"] == [COUNT]
    assert [t["kind"] for t in out["turns"]] == ["analyze", "code", "execute", "analyze", "answer"]
    assert out["turns"][2]["text"] == "5319"
    assert out["partial"] is False
    assert set(out["timings"]) >= {"total_s", "model_s", "sandbox_s", "load_s"}


def test_the_model_sees_the_execute_output_and_the_data_profile(replay, tmp_path):
    model = replay(code_step(COUNT), answer_step("There are 5319 orders."))
    r = run_da("analyze", str(SALES), "how many orders?", "--model", model, "--json")
    transcript = json.loads(r.stdout)
    run_dir = tmp_path / "da-home" / "data" / "runs"
    (saved,) = list(run_dir.glob("*/transcript.jsonl"))
    lines = [json.loads(x) for x in saved.read_text().splitlines()]
    assert lines[0]["answer"] == transcript["answer"]
    assert len(lines) == 1 + len(transcript["turns"])


def test_variables_persist_across_turns(replay):
    # Turn 1 defines a DataFrame, turn 2 something else, turn 3 uses the first.
    model = replay(
        code_step('by_region = sql("SELECT region, SUM(revenue) AS r FROM orders GROUP BY 1")'),
        code_step("n = len(load('regions'))\nprint(n)"),
        code_step("print(len(by_region), n)"),
        answer_step("There are 4 regions."),
    )
    r = run_da("analyze", str(SALES), "how many regions?", "--model", model, "--json")
    assert r.returncode == 0, r.stderr
    executes = [t for t in json.loads(r.stdout)["turns"] if t["kind"] == "execute"]
    # The first cell printed nothing: it shows the table it assigned.
    assert executes[0]["text"].startswith("by_region =\n  region ")
    assert [t["text"] for t in executes[1:]] == ["4", "4 4"]
    assert not any(t.get("error") for t in executes)


def test_errors_go_back_to_the_model_and_the_session_goes_on(replay):
    model = replay(
        code_step('print(sql("SELECT count(*) FROM no_such_table"))'),
        code_step(COUNT),
        answer_step("5319 orders."),
    )
    r = run_da("analyze", str(SALES), "how many?", "--model", model, "--json")
    turns = json.loads(r.stdout)["turns"]
    executes = [t for t in turns if t["kind"] == "execute"]
    assert executes[0]["error"] and "no_such_table" in executes[0]["text"]
    assert executes[1]["text"] == "5319"


def test_an_answer_before_any_output_is_not_accepted_unchecked(replay):
    # The model answers with numbers no output shows: it is told so once, then must compute.
    model = replay(
        code_step(COUNT),
        answer_step("There are 1234 orders."),
        answer_step("There are 5319 orders."),
    )
    r = run_da("analyze", str(SALES), "how many?", "--model", model, "--json")
    out = json.loads(r.stdout)
    assert out["answer"] == "There are 5319 orders."
    assert any(t["kind"] == "notice" and "1234" in t["text"] for t in out["turns"])


def test_repeated_code_is_not_run_again_nor_kept(replay):
    model = replay(code_step(COUNT), code_step(COUNT), answer_step("5319."))
    r = run_da("analyze", str(SALES), "how many?", "--model", model, "--json")
    out = json.loads(r.stdout)
    kinds = [t["kind"] for t in out["turns"]]
    assert kinds.count("execute") == 1 and out["code"] == [COUNT]
    assert any(t["kind"] == "notice" and "repeated" in t["text"] for t in out["turns"])
    assert out["answer"] == "5319."


def test_spent_budget_gives_a_partial_answer_and_exit_6(replay):
    model = replay(code_step("print(1)"), code_step("print(2)"), answer_step("Partial: 1 and 2."))
    r = run_da("analyze", str(SALES), "q", "--model", model, "--max-turns", "2", "--json")
    assert r.returncode == 6
    out = json.loads(r.stdout)
    assert out["partial"] is True and out["answer"] == "Partial: 1 and 2."
    assert "partial" in r.stderr


def one_sentence_error(r, code: int) -> None:
    assert r.returncode == code, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr
    # What da was doing when it failed ("loading model …") may come first: progress lines.
    said = [line for line in r.stderr.splitlines() if not line.endswith(" …")]
    assert said[0].startswith("Error: ")
    assert len(said) <= 2  # the sentence, and at most a hint


def test_missing_source_is_a_data_error():
    one_sentence_error(run_da("analyze", "no-such-file.csv", "x"), 3)


def test_unknown_file_type_is_a_data_error(tmp_path):
    (tmp_path / "notes.docx").write_text("hello")
    one_sentence_error(run_da("analyze", str(tmp_path / "notes.docx"), "x"), 3)


def test_missing_model_is_a_model_error(tmp_path):
    r = run_da("analyze", str(SALES), "x", "--model", str(tmp_path / "nope.gguf"))
    one_sentence_error(r, 4)


def test_sandbox_that_cannot_start_is_a_sandbox_error(replay):
    r = run_da("analyze", str(SALES), "x", "--model", replay(answer_step("x")), "--memory", "64")
    one_sentence_error(r, 5)


def test_usage_errors_exit_2():
    r = run_da("analyze", str(SALES))
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_verbose_shows_the_traceback():
    r = run_da("-v", "analyze", "no-such-file.csv", "x")
    assert r.returncode == 3 and "Traceback" in r.stderr


def test_models_list_shows_the_default_and_where_it_lives():
    r = run_da("models", "list")
    assert r.returncode == 0
    assert "qwen2.5-coder-1.5b" in r.stdout and "(default)" in r.stdout


def test_ctrl_c_stops_the_worker_and_exits_130(replay, da_home):
    model = replay(code_step("import time\ntime.sleep(60)"), answer_step("never"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "da_cli", "analyze", str(SALES), "q", "--model", model],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A suite started in the background (`nohup make test &`) passes SIGINT on as
        # ignored, and Python then installs no handler: give da a terminal's Ctrl-C.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list(da_home.glob("data/runs/*/.sandbox")):
        time.sleep(0.2)
    time.sleep(2)  # the worker is now inside the sleeping cell
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err

    def cwd(pid: str) -> str:
        try:
            return os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            return ""

    time.sleep(0.5)
    left = [p for p in os.listdir("/proc") if p.isdigit() and cwd(p).startswith(str(da_home))]
    assert left == [], "a worker process outlived the CLI"
    assert Path(SALES).is_file()
    # The interrupted run is kept: its transcript so far, marked, and listed by da history.
    [transcript] = da_home.glob("data/runs/*/transcript.jsonl")
    header, *steps = [json.loads(line) for line in transcript.read_text().splitlines()]
    assert header["ended"] == "interrupted" and header["question"] == "q"
    assert [s["kind"] for s in steps] == ["analyze", "code"]
    listed = run_da("history")
    assert "(interrupted)" in listed.stdout


def test_a_run_the_model_fails_keeps_its_transcript_and_is_in_history(replay, da_home):
    # The script ends after one step: the backend fails when the loop asks for the next.
    r = run_da("analyze", str(SALES), "how many orders?", "--model", replay(code_step(COUNT)))
    assert r.returncode == 4, r.stderr
    [transcript] = da_home.glob("data/runs/*/transcript.jsonl")
    header, *steps = [json.loads(line) for line in transcript.read_text().splitlines()]
    assert header["ended"] == "failed" and "only 1 outputs" in header["error"]
    assert [s["kind"] for s in steps] == ["analyze", "code", "execute"]
    assert "5319" in steps[-1]["text"]
    listed = json.loads(run_da("history", "--json").stdout.splitlines()[0])
    assert listed["question"] == "how many orders?" and listed["ended"] == "failed"


def test_a_report_that_cannot_be_written_does_not_lose_the_answer(replay, da_home, tmp_path):
    # A folder given as the report, refused before any work is done.
    folder = tmp_path / "out.html"
    folder.mkdir()
    r = run_da("analyze", str(SALES), "q?", "--model", replay(), "-o", str(folder))
    assert r.returncode == 2 and "is a folder" in r.stderr and "Traceback" not in r.stderr
    assert not list(da_home.glob("data/runs/*"))
    # A write that fails only when it happens (here /proc, which even root cannot write
    # into): the answer is printed first, the run is kept, and the failure is one sentence.
    model = replay(code_step(COUNT), answer_step("There are 5319 orders."))
    r = run_da("analyze", str(SALES), "how many orders?", "--model", model, "-o", "/proc/r.html")
    assert r.returncode == 2, r.stderr
    assert r.stdout.strip() == "There are 5319 orders."
    assert "Could not write /proc/r.html" in r.stderr and "Traceback" not in r.stderr
    [transcript] = da_home.glob("data/runs/*/transcript.jsonl")
    assert json.loads(transcript.read_text().splitlines()[0])["ended"] == "answered"


def test_doctor_reports_the_containment_level():
    r = run_da("doctor")
    assert r.returncode == 0, r.stderr
    assert "sandbox" in r.stdout and "namespaces (bubblewrap)" in r.stdout
    assert "qwen2.5-coder-1.5b" in r.stdout


def test_history_lists_saved_runs_newest_first(replay):
    for question in ("first question?", "second question?"):
        run_da(
            "analyze",
            str(SALES),
            question,
            "--model",
            replay(code_step(COUNT), answer_step("5319.")),
        )
    r = run_da("history", "--json")
    assert r.returncode == 0, r.stderr
    runs = [json.loads(line) for line in r.stdout.splitlines()]
    assert [x["question"] for x in runs] == ["second question?", "first question?"]
    assert all(Path(x["transcript"]).is_file() and x["answer"] == "5319." for x in runs)
    assert "second question?" in run_da("history").stdout


def test_continue_asks_a_follow_up_with_the_variables_restored(replay, tmp_path, da_home):
    first = replay(
        code_step('by_region = sql("SELECT region, SUM(revenue) AS r FROM orders GROUP BY 1")'),
        code_step("print(len(by_region))"),
        answer_step("There are 4 regions."),
    )
    r = run_da("analyze", str(SALES), "how many regions?", "--model", first)
    assert r.returncode == 0, r.stderr
    script = tmp_path / "second.jsonl"
    script.write_text(
        "".join(
            json.dumps({"text": o}) + "\n"
            for o in (
                code_step("print(by_region.sort_values('r').region.iloc[-1])"),
                answer_step("West has the most revenue."),
            )
        )
    )
    r = run_da(
        "analyze",
        "--continue",
        "which has the most revenue?",
        "--model",
        f"replay:{script}",
        "--json",
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["sources"] == [str(SALES)]
    (execute,) = [t for t in out["turns"] if t["kind"] == "execute"]
    assert execute == {"kind": "execute", "text": "West", "seconds": execute["seconds"]}
    assert "restore its variables" in r.stderr
    states = sorted(da_home.glob("data/runs/*/state.json"))
    messages = json.loads(states[-1].read_text())["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert "There are 4 regions." in messages[2]["content"]
    assert messages[3]["content"] == "which has the most revenue?"


def test_continue_without_an_earlier_analysis_is_a_usage_error():
    r = run_da("analyze", "--continue", "and then?")
    assert r.returncode == 2 and "no earlier analysis" in r.stderr


@pytest.mark.parametrize("kind", ["a file", "not writable"])
def test_an_unusable_da_home_is_one_sentence_and_a_setup_exit_code(replay, tmp_path, kind):
    if kind == "a file":
        home = tmp_path / "home"
        home.write_text("not a folder")
    else:
        home = Path("/proc/da-home")  # no one, root included, can create a folder in /proc
    env = {**os.environ, "DA_HOME": str(home)}
    r = subprocess.run(
        [sys.executable, "-m", "da_cli", "analyze", str(SALES), "q?", "-m", replay()],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )
    assert r.returncode == 1, r.stderr
    assert "da cannot write to" in r.stderr and "DA_HOME" in r.stderr
    assert "Traceback" not in r.stderr


def test_history_prune_removes_old_runs_and_doctor_shows_the_space(replay, da_home):
    for question in ("one?", "two?", "three?"):
        model = replay(code_step(COUNT), answer_step("5319."))
        assert run_da("analyze", str(SALES), question, "--model", model).returncode == 0
    assert "3 stored" in run_da("doctor").stdout
    r = run_da("history", "--prune", "--keep", "1")
    assert r.returncode == 0 and r.stdout.startswith("Removed 2 run(s)"), r.stderr
    assert [json.loads(x)["question"] for x in run_da("history", "--json").stdout.splitlines()] == [
        "three?"
    ]
    assert run_da("history", "--prune").returncode == 2  # says what to keep
    # A retention setting: only the newest N runs are kept, automatically.
    env_keep = {**os.environ, "DA_KEEP_RUNS": "2"}
    for question in ("four?", "five?"):
        model = replay(code_step(COUNT), answer_step("5319."))
        subprocess.run(
            [sys.executable, "-m", "da_cli", "analyze", str(SALES), question, "-m", model],
            env=env_keep,
            cwd=ROOT,
            capture_output=True,
            timeout=300,
        )
    listed = [json.loads(x)["question"] for x in run_da("history", "--json").stdout.splitlines()]
    assert listed == ["five?", "four?"]


def test_a_partial_answer_from_a_backend_without_grammar_shows_no_protocol_markup(replay):
    # The budget ends after one step; the forced answer is cut off inside a code block.
    model = replay(
        code_step(COUNT),
        "<Analyze>\nThe count is 5319; next I check the years.\n</Analyze>\n<Code>\n```python\n"
        "print(orders.head())",
    )
    r = run_da("analyze", str(SALES), "how many orders?", "--model", model, "--max-turns", "1")
    assert r.returncode == 6, r.stderr
    assert r.stdout.strip() == "The count is 5319; next I check the years."


def test_what_the_catalog_skipped_is_said_on_stderr(replay, tmp_path):
    from openpyxl import Workbook

    Workbook().save(tmp_path / "empty.xlsx")
    (tmp_path / "a.csv").write_text("x\n1\n2\n")
    model = replay(code_step("print(a.x.sum())"), answer_step("The sum is 3."))
    r = run_da("analyze", str(tmp_path), "sum of x?", "--model", model)
    assert r.returncode == 0, r.stderr
    assert "empty.xlsx has no sheet with data. It was skipped." in " ".join(r.stderr.split())


def test_a_question_too_long_for_the_context_is_a_usage_error_before_the_model_loads(tmp_path):
    question = "why " * 25_000  # 100 KB
    # A model path that would fail to load (exit 4) shows the check comes first.
    r = run_da("analyze", str(SALES), "-", "--model", str(tmp_path / "no.gguf"), stdin=question)
    assert r.returncode == 2, r.stderr
    assert "100,000 characters" in r.stderr and "Traceback" not in r.stderr


def test_explain_change_reads_the_period_from_the_question_in_the_sandbox_and_the_script(
    replay, tmp_path
):
    model = replay(
        code_step('print(explain_change("orders"))'),
        answer_step(
            "Revenue fell -136,482.47 (-21.7 %); the cause is region=West, channel=Retail."
        ),
    )
    script = tmp_path / "recompute.py"
    r = run_da(
        "report",
        str(SALES),
        "--question",
        "why did revenue drop in Q3 2025?",
        "-m",
        model,
        "--emit-script",
        str(script),
        "-o",
        str(tmp_path / "r.md"),
    )
    assert r.returncode == 0, r.stderr
    [transcript] = (paths.data_dir() / "runs").glob("*/transcript.jsonl")
    execute = [json.loads(x) for x in transcript.read_text().splitlines()[1:]]
    shown = next(s["text"] for s in execute if s["kind"] == "execute")
    assert "from 627,563.12 in 2025-Q2 to 491,080.65 in 2025-Q3" in shown
    ran = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path
    )
    assert ran.returncode == 0, ran.stderr
    assert "from 627,563.12 in 2025-Q2 to 491,080.65 in 2025-Q3" in ran.stdout
