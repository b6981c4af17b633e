"""Progress people can read: while `da analyze` works, stderr says what it is doing
(profiling, loading the model, which step, a running cell). On a terminal that is one live
line; in a log or a pipe it is one plain line per activity; `-q` silences it; stdout (the
answer, `--json`) is the same either way."""

import io
import json
import time

from conftest import SALES, answer_step, code_step, run_da
from rich.console import Console

from da_cli.agent.transcript import Step, Transcript
from da_cli.cli.console import State

COUNT = 'print(sql("SELECT count(*) AS n FROM orders").n[0])'


def comparable(record: dict) -> dict:
    """An --json record without what differs from run to run (seconds, the run's folder)."""
    turns = [{k: v for k, v in t.items() if k != "seconds"} for t in record["turns"]]
    drop = {"timings", "workspace"}
    return {**{k: v for k, v in record.items() if k not in drop}, "turns": turns}


def test_a_log_gets_one_plain_line_per_activity_and_quiet_gets_none(replay):
    model = replay(code_step(COUNT), answer_step("There are 5319 orders."))
    r = run_da("analyze", str(SALES), "how many orders?", "--model", model, "--json")
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    progress = [line for line in lines if line.endswith(" …")]
    assert progress == [
        "profiling 3 tables …",
        f"loading model {model} …",
        "step 1 of 10 …",
        "running cell …",
        "step 2 of 10 …",
    ]
    # Each where it happens among the steps: the cell runs between its Code and Execute.
    execute = next(i for i, line in enumerate(lines) if line.startswith("Execute ("))
    assert lines.index("Code") < lines.index("running cell …") < execute
    assert "\r" not in r.stderr and "\x1b" not in r.stderr  # no live line in a log

    quiet = run_da("-q", "analyze", str(SALES), "how many orders?", "--model", model, "--json")
    assert quiet.returncode == 0 and quiet.stderr == ""
    assert comparable(json.loads(quiet.stdout)) == comparable(json.loads(r.stdout))
    assert json.loads(r.stdout)["answer"] == "There are 5319 orders."


def test_the_plain_answer_on_stdout_is_only_the_answer(replay):
    model = replay(code_step(COUNT), answer_step("There are 5319 orders."))
    r = run_da("analyze", str(SALES), "how many orders?", "--model", model)
    assert r.stdout == "There are 5319 orders.\n"
    assert "step 1 of 10 …" in r.stderr.splitlines()


def console(tty: bool) -> tuple[State, io.StringIO]:
    out = io.StringIO()
    return State(console=Console(file=out, force_terminal=tty, width=80, color_system=None)), out


def test_a_terminal_gets_one_live_line_that_counts_a_cells_seconds_and_is_gone_at_the_end():
    state, out = console(tty=True)
    t = Transcript(question="q", messages=[])
    with state.activity() as activity:
        on_step = activity.steps(t, max_turns=3)
        on_step(Step("code", "print(1)"))
        time.sleep(0.3)  # the live line redraws itself 12.5 times a second
        t.usage.generations, t.usage.completion_tokens, t.usage.model_seconds = 1, 76, 2.0
        on_step(Step("execute", "1", seconds=0.1))
        time.sleep(0.3)
    shown = out.getvalue()
    assert "step 1 of 3 …" in shown and "running cell · 0 s" in shown
    assert "step 2 of 3 · 38 tok/s …" in shown
    assert "\r" in shown  # drawn over itself, not one line per refresh
    assert shown.endswith("\x1b[2K")  # at the end the live line is erased (transient)


def test_a_slow_rate_keeps_a_decimal_and_past_the_turns_comes_the_final_answer():
    state, out = console(tty=False)
    t = Transcript(question="q", messages=[])
    on_step = state.activity().steps(t, max_turns=2)
    t.usage.generations, t.usage.completion_tokens, t.usage.model_seconds = 2, 5, 2.0
    on_step(Step("notice", "Budget reached: max turns (2); asking for a final answer."))
    assert out.getvalue().splitlines() == [
        "step 1 of 2 …",
        "Budget reached: max turns (2); asking for a final answer.",
        "final answer · 2.5 tok/s …",
    ]
