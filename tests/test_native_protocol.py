"""Golden tests: DeepAnalyze checkpoints get the reference protocol byte for byte
(ruc-datalab/DeepAnalyze, API/utils.py `prepare_vllm_messages` and deepanalyze.py)."""

import json
from pathlib import Path

import pytest
from conftest import SALES, answer_step, code_step, run_da

from da_cli import paths
from da_cli.agent import loop, prompts, protocol
from da_cli.data.catalog import build_catalog
from da_cli.eval.dabench import Task
from da_cli.eval.run import Setup, run_task
from da_cli.models.catalog import DEFAULT_MODEL, EMBEDDED
from da_cli.models.llamacpp import LlamaCppModel, is_deepanalyze
from da_cli.models.replay import ReplayModel
from da_cli.sandbox import Limits, Sandbox


@pytest.fixture
def files(tmp_path):
    (tmp_path / "b_sales.csv").write_bytes(b"x" * 2048)
    (tmp_path / "a_big.csv").write_bytes(b"y" * (3 << 19))  # 1.5 MB: still written in KB
    return [tmp_path / "b_sales.csv", tmp_path / "a_big.csv"]


GOLDEN_USER = (
    "# Instruction\nWhich region sold most?\n\n# Data\n"
    'File 1:\n{\n    "name": "a_big.csv",\n    "size": "1536.0KB"\n}\n\n'
    'File 2:\n{\n    "name": "b_sales.csv",\n    "size": "2.0KB"\n}\n\n'
)


def test_the_native_prompt_is_the_reference_one_user_message(files):
    t = loop.new_transcript("Which region sold most?", files, "profile", ["t"], native=True)
    assert t.messages == [{"role": "user", "content": GOLDEN_USER}]
    assert t.native and t.continuation == ""


def test_without_files_only_the_instruction():
    t = loop.new_transcript("q?", [], "", [], native=True)
    assert t.messages[0]["content"] == "# Instruction\nq?"


def test_execute_blocks_continue_the_same_turn_and_errors_are_marked(tmp_path):
    step = code_step("print(1 + 1)\n1 / 0", analyze="Try it.")
    model = ReplayModel(_script(tmp_path, [step]))
    t = loop.new_transcript("q?", [SALES], "", [], native=True)
    with Sandbox(build_catalog([str(SALES)]), tmp_path / "ws", Limits(timeout_s=10)) as sb:
        loop.step(t, model, sb, loop.Budget())
    assert t.continuation == (
        "<Analyze>\nTry it.\n</Analyze>\n<Code>\n```python\nprint(1 + 1)\n1 / 0\n```\n</Code>"
        "\n<Execute>\n[Error]:\n2\nTraceback (most recent call last):\n  line 2: 1 / 0\n"
        "ZeroDivisionError: division by zero\n</Execute>\n"
    )
    # Generation stops where the reference stops it, and the model is never sent a grammar.
    assert model.history[0]["stop"] == protocol.STOP
    assert model.history[0]["grammar"] is None


def test_deepanalyze_checkpoints_are_recognised_by_their_gguf_name():
    assert is_deepanalyze({"general.name": "DeepAnalyze-8B"})
    assert is_deepanalyze({"general.basename": "deepanalyze_8b"})
    assert not is_deepanalyze({"general.name": "Qwen2.5-Coder-0.5B-Instruct"})


def test_the_turn_is_continued_in_the_chat_template_without_a_new_header():
    model = LlamaCppModel(EMBEDDED[DEFAULT_MODEL].path, n_ctx=512)
    try:
        messages = [{"role": "user", "content": GOLDEN_USER}]
        head = model.render(messages, "")
        assert head.endswith(
            "<|im_start|>user\n" + GOLDEN_USER + "<|im_end|>\n<|im_start|>assistant\n"
        )
        assert model.render(messages, "<Analyze>\nx") == head + "<Analyze>\nx"
        assert not model.native  # a generic instruct model keeps the guided protocol
    finally:
        model.close()


def _script(tmp_path, outputs):
    path = tmp_path / "script.jsonl"
    path.write_text("".join(json.dumps({"text": o}) + "\n" for o in outputs))
    return path


# --- every front end sends a DeepAnalyze model its reference prompt ---------------------


def _native_script(tmp_path, outputs) -> Path:
    """A replay script named like a DeepAnalyze checkpoint: it plays a native model."""
    path = tmp_path / "DeepAnalyze-8B.jsonl"
    path.write_text("".join(json.dumps({"text": o}) + "\n" for o in outputs))
    return path


def test_a_replay_script_named_for_deepanalyze_plays_a_native_model(tmp_path):
    assert ReplayModel(_native_script(tmp_path, [])).native
    assert not ReplayModel(_script(tmp_path, [])).native


def test_da_analyze_sends_a_deepanalyze_model_the_reference_prompt(tmp_path):
    script = _native_script(tmp_path, [code_step("print(2 - 1)"), answer_step("It is 1.")])
    r = run_da("analyze", str(SALES), "How many regions?", "--model", f"replay:{script}")
    assert r.returncode == 0, r.stderr
    state = json.loads(next((paths.data_dir() / "runs").glob("*/state.json")).read_text())
    assert state["native"]
    assert state["messages"] == [
        {"role": "user", "content": prompts.native_message("How many regions?", [SALES])}
    ]


def test_da_eval_sends_a_deepanalyze_model_the_reference_prompt(tmp_path):
    data = tmp_path / "t.csv"
    data.write_text("x\n1\n2\n")
    task = Task(1, "Mean of x?", "", "@mean_x[value]", data, "easy")
    model = ReplayModel(_native_script(tmp_path, [answer_step("@mean_x[1.5]")]))
    run_task(task, model, Setup(loop.Budget(max_turns=2), Limits(timeout_s=10)))
    assert model.history[0]["messages"] == [
        {"role": "user", "content": prompts.native_message(task.instruction(), [data])}
    ]
