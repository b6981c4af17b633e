"""`da train`: data masking, rollouts through the real loop and sandbox, the reward, the
multi-GPU launch, and the whole curriculum on a tiny model on CPU (smoke: in `make test`).

The tiny model is a random-init two-layer Qwen2 over the embedded model's real tokenizer
(converted once into the user cache), so every token id, tag token and chat template is the
real one; only the weights are toys.
"""

import json
import math
import os
import re
import shlex
import subprocess
import sys

import pytest
import yaml
from conftest import ROOT, answer_step, code_step, run_da

from da_cli.agent import loop, prompts
from da_cli.errors import DataError, UsageError
from da_cli.models.catalog import EMBEDDED, SMALL_MODEL, is_assembled
from da_cli.sandbox import Limits
from train import config, data, rewards, rollout
from train.policy_model import PolicyModel, Turn

needs_model = pytest.mark.skipif(
    not is_assembled(EMBEDDED[SMALL_MODEL]),
    reason="the embedded model (and so the real tokenizer) is not installed",
)


@pytest.fixture(scope="module")
def tokenizer():
    if not is_assembled(EMBEDDED[SMALL_MODEL]):
        pytest.skip("the embedded model (and so the real tokenizer) is not installed")
    from train.base_model import embedded_tokenizer

    return embedded_tokenizer()


def trained_text(tok, rec) -> str:
    return tok.decode(
        [i for i, lab in zip(rec["input_ids"], rec["labels"], strict=True) if lab != -100]
    )


TRAJECTORY = (
    "<Analyze>\nSort by revenue.\n</Analyze>\n<Code>\n```python\nprint(sales.revenue.max())\n```\n"
    "</Code>\n<Execute>\nSECRET-OUTPUT 250\n</Execute>\n<Answer>\nWest, 250.\n</Answer>"
)


# --- data -------------------------------------------------------------------------------


def test_execute_spans_are_excluded_from_the_loss(tokenizer):
    msgs = [
        {"role": "user", "content": "Which region sells most?"},
        {"role": "assistant", "content": TRAJECTORY},
    ]
    rec = data.tokenize_example(tokenizer, data.render_example(tokenizer, msgs, "t"), 4096)
    trained = trained_text(tokenizer, rec)
    assert (
        "SECRET-OUTPUT" not in trained
        and "<Execute>" not in trained
        and "</Execute>" not in trained
    )
    assert trained.startswith("<Analyze>\nSort by revenue.")
    assert "print(sales.revenue.max())" in trained and "</Code>" in trained
    assert trained.endswith("<Answer>\nWest, 250.\n</Answer><|im_end|>")
    # The tags are single tokens, and the Execute ones carry label -100.
    ids = tokenizer.convert_tokens_to_ids(["<Execute>", "</Execute>", "<Code>"])
    labels = dict(zip(rec["input_ids"], rec["labels"], strict=True))
    assert labels[ids[0]] == -100 and labels[ids[1]] == -100 and labels[ids[2]] == ids[2]
    # Nothing of the prompt is trained.
    first = next(i for i, lab in enumerate(rec["labels"]) if lab != -100)
    prompt = tokenizer.decode(rec["input_ids"][:first])
    assert "Which region" in prompt and prompt.endswith("<|im_start|>assistant\n")


def test_execute_messages_fold_into_one_assistant_turn_as_the_loop_writes_it(tokenizer):
    msgs = [
        {"role": "user", "content": "How many rows?"},
        {"role": "assistant", "content": code_step("print(len(sales))")},
        {"role": "execute", "content": "3"},
        {"role": "assistant", "content": answer_step("3 rows.")},
    ]
    folded = data.fold_turns(msgs)
    assert [m["role"] for m in folded] == ["user", "assistant"]
    assert "</Code>\n<Execute>\n3\n</Execute>\n<Analyze>" in folded[1]["content"]
    rec = data.tokenize_example(tokenizer, data.render_example(tokenizer, msgs, "t"), 4096)
    trained = trained_text(tokenizer, rec)
    assert "print(len(sales))" in trained and "3 rows." in trained and "<Execute>" not in trained


def test_a_weight_0_message_is_context_not_a_lesson(tokenizer):
    msgs = [
        {"role": "user", "content": "How many rows?"},
        {"role": "assistant", "content": "<Analyze>\nCount them.\n</Analyze>\n"},
        {"role": "assistant", "content": code_step("print(len(sales_typo))"), "weight": 0},
        {"role": "execute", "content": "NameError: name 'sales_typo' is not defined"},
        {"role": "assistant", "content": code_step("print(len(sales))") + answer_step("3 rows.")},
    ]
    rendered = data.render_example(tokenizer, data.messages_of({"messages": msgs}, "t"), "t")
    assert "sales_typo" in rendered.text  # in the context the model reads
    trained = trained_text(tokenizer, data.tokenize_example(tokenizer, rendered, 4096))
    assert "sales_typo" not in trained and "NameError" not in trained
    assert trained.startswith("<Analyze>\nCount them.") and "print(len(sales))" in trained
    assert trained.endswith("3 rows.\n</Answer><|im_end|>")
    with pytest.raises(DataError, match="weight"):
        data.messages_of({"messages": [{"role": "user", "content": "x", "weight": 0}]}, "t")


def test_a_recovery_variant_opens_with_a_real_failed_cell_and_keeps_the_analysis(
    tmp_path, monkeypatch
):
    from da_cli.agent.session import Session
    from train import recovery

    csv = tmp_path / "shop_orders.csv"
    csv.write_text("order_id,unit_price\n1,2.5\n2,4.0\n3,1.5\n")
    cell = 'print(sql("SELECT sum(unit_price) AS total FROM shop_orders"))'
    with Session([str(csv)]) as session:
        opening = session.opening("What is the total unit price?")
        shown = session.sandbox.run(cell).observation()
        turn = (
            "<Analyze>\nI sum unit_price.\n</Analyze>\n"
            + f"<Code>\n```python\n{cell}\n```\n</Code>"
            + f"\n<Execute>\n{shown}\n</Execute>\n<Answer>\n8.0\n</Answer>"
        )
        record = {
            "id": "r1",
            "messages": [*opening.messages, {"role": "assistant", "content": turn}],
        }
        v = recovery.variant(record, session)
    assert v is not None and v["id"] != "r1"
    plan, failed, error, fix = v["messages"][-4:]
    assert plan == {"role": "assistant", "content": "<Analyze>\nI sum unit_price.\n</Analyze>\n"}
    assert failed["weight"] == 0 and v["recovery"]["wrong"] in failed["content"]
    assert cell not in failed["content"]
    # The sandbox's own error, naming the wrong name.
    assert error["role"] == "execute" and "Error" in error["content"]
    assert v["recovery"]["wrong"] in error["content"]
    # The step after it names both names, then the original analysis follows unchanged.
    reading, rest = fix["content"].split("</Analyze>\n", 1)
    assert v["recovery"]["wrong"] in reading and v["recovery"]["right"] in reading
    assert rest == turn[turn.index("<Code>") :]
    assert {v["recovery"]["right"]} <= {"shop_orders", "unit_price"}

    # The query written as the cell: Python's error, the sandbox's hint, then sql() again.
    only_sql = [x for x in recovery.slips(cell, {"shop_orders": []}, None) if x.kind == "sql"]
    assert [x.wrong for x in only_sql] == ["SELECT sum(unit_price) AS total FROM shop_orders"]
    # Only a cell that is one printed query: two of them are not one query to write bare.
    two = f"{cell}\nprint(sql('SELECT count(*) FROM shop_orders'))"
    assert [x for x in recovery.slips(two, {"shop_orders": []}, None) if x.kind == "sql"] == []
    assert recovery.one_query("print(sql('SELECT 1 FROM t WHERE r = \\'W\\''))") == (
        "SELECT 1 FROM t WHERE r = 'W'"
    )
    original = recovery.slips
    monkeypatch.setattr(recovery, "slips", lambda *a: [x for x in original(*a) if x.kind == "sql"])
    with Session([str(csv)]) as session:
        v = recovery.variant(record, session)
    assert v is not None and v["recovery"]["kind"] == "sql"
    _, failed, error, fix = v["messages"][-4:]
    assert failed["content"] == (
        "<Code>\n```python\nSELECT sum(unit_price) AS total FROM shop_orders\n```\n</Code>"
    )
    assert error["content"].startswith("SyntaxError") and "This cell is SQL" in error["content"]
    assert "sql()" in fix["content"].split("</Analyze>")[0]
    assert fix["content"].split("</Analyze>\n", 1)[1] == turn[turn.index("<Code>") :]
    # Counted by kind when a file of trajectories is rebuilt.
    source = tmp_path / "kept.jsonl"
    source.write_text(json.dumps({**record, "files": [csv.name]}) + "\n")
    rows, made = recovery.build(source, 1.0, tmp_path)
    assert (made["variants"], made["sql"]) == (1, 1) and rows[0]["recovery"]["kind"] == "sql"


def test_near_misses_are_other_names():
    from train.recovery import near_misses

    assert near_misses("orders") == ["order"]
    assert near_misses("unit_price") == ["unit_prices", "unitprice", "price"]
    assert "amount" not in near_misses("amount")


def test_a_bad_training_line_is_a_data_error(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": []}\n')

    with pytest.raises(DataError, match="line 1"):
        data.sft_records([str(bad)], tokenizer=None, max_length=10)


# --- rewards ----------------------------------------------------------------------------


def test_the_format_gate_accepts_a_trajectory_and_rejects_broken_ones():
    good = code_step("print(1)") + "\n<Execute>\n1\n</Execute>\n" + answer_step("1")
    assert rewards.format_ok(good)
    assert not rewards.format_ok(good, format_failures=1)  # the loop had to repair a step
    assert not rewards.format_ok(code_step("print(1)"))  # no Execute, no Answer
    assert not rewards.format_ok("free text " + answer_step("1"))
    assert not rewards.format_ok("<Analyze>\n<Code>x</Code>\n</Analyze>\n" + answer_step("1"))
    rejected = answer_step("9") + "\n<Execute>\nThe answer quotes 9 ...\n</Execute>\n"
    assert rewards.format_ok(rejected + good)  # an Answer the loop sent back is fine


def test_accuracy_matches_numbers_at_the_references_precision_and_dabench_pairs():
    assert rewards.answer_accuracy("The mean is 3.14159.", "3.14") == 1.0
    assert rewards.answer_accuracy("It is 5,319 orders.", "5319") == 1.0
    assert rewards.answer_accuracy("West leads.", "west") == 1.0
    assert rewards.answer_accuracy("r = 0.51, p = 0.2", "@corr[0.51], @p[0.03]") == 0.5
    assert rewards.answer_accuracy(None, "1") == 0.0
    assert rewards.answer_accuracy("anything", None) is None


def test_the_structure_weight_falls_along_a_cosine_and_the_gate_is_minus_one():
    assert rewards.structure_weight(0.0, 0.7, 0.1) == pytest.approx(0.7)
    assert rewards.structure_weight(0.5, 0.7, 0.1) == pytest.approx(0.4)
    assert rewards.structure_weight(1.0, 0.7, 0.1) == pytest.approx(0.1)
    o = rewards.Outcome(format_ok=True, executions=2, failed_executions=1, turns=5, accuracy=1.0)
    early, late = rewards.hybrid_reward(o, 0.0), rewards.hybrid_reward(o, 1.0)
    assert (
        early.structure == pytest.approx(0.5) and late.reward > early.reward
    )  # accuracy counts more
    broken = rewards.Outcome(format_ok=False, accuracy=1.0)
    assert rewards.hybrid_reward(broken, 0.5).reward == -1.0
    open_task = rewards.Outcome(format_ok=True, executions=1, turns=10)
    assert rewards.hybrid_reward(open_task, 0.3).reward == pytest.approx(1.0)


def test_the_judge_scores_through_any_da_backend(replay):
    from da_cli.models import load_model
    from train.judge import Judge

    judge = Judge(load_model(replay("4")))
    assert judge.score("q?", "West, 250.", "West", "<Code>...</Code>") == pytest.approx(0.8)
    assert judge.score("q?", None, "West", "") == 0.0


# --- rollouts ---------------------------------------------------------------------------


def test_model_chars_keep_kept_generations_and_drop_a_repeated_one():
    final = "AAA<E2>CCC"
    turns = [Turn("", "AAA"), Turn("AAA<E1>", "BBB"), Turn("AAA<E2>", "CCC")]
    assert list(rollout.model_chars(final, turns)) == [1, 1, 1, 0, 0, 0, 0, 1, 1, 1]


class ScriptedPolicy(PolicyModel):
    """The policy backend with its sampler replaced by a script, so a rollout runs the real
    loop, sandbox and assembly with known model text."""

    def __init__(self, tokenizer, steps: list[str]) -> None:
        super().__init__(None, tokenizer, max_context=32768)
        self.steps = list(steps)

    def _decode(self, prompt_ids, limit, temperature, stop, grammar=None):
        ids = self.tokenizer(self.steps.pop(0), add_special_tokens=False)["input_ids"]
        return ids, [-0.5] * len(ids), True


def test_a_rollout_runs_code_in_the_sandbox_and_masks_its_output(tmp_path, tokenizer):
    csv = tmp_path / "sales.csv"
    csv.write_text("region,revenue\nEast,100\nWest,250\nNorth,75\n")
    task = data.Task("Which region has the most revenue?", [str(csv)], "West")
    policy = ScriptedPolicy(
        tokenizer, [code_step("print(sales.revenue.max())"), answer_step("West, with 250.")]
    )
    r = rollout.run(task, policy, loop.Budget(max_turns=4), Limits(timeout_s=10))
    assert r.answer == "West, with 250." and r.executions == 1 and r.failed_executions == 0
    model = tokenizer.decode([t for t, m in zip(r.completion_ids, r.env_mask, strict=True) if m])
    env = tokenizer.decode([t for t, m in zip(r.completion_ids, r.env_mask, strict=True) if not m])
    assert model == code_step("print(sales.revenue.max())") + answer_step("West, with 250.")
    assert env == "\n<Execute>\n250\n</Execute>\n<|im_end|>"  # real output, masked; closing eos
    assert all(lp == -0.5 for lp, m in zip(r.logprobs, r.env_mask, strict=True) if m)
    assert all(math.isnan(lp) for lp, m in zip(r.logprobs, r.env_mask, strict=True) if not m)
    prompt = tokenizer.decode(r.prompt_ids)
    assert "# Instruction\nWhich region has the most revenue?" in prompt  # da's own prompt
    assert prompt.endswith("<|im_start|>assistant\n")
    assert rewards.format_ok(r.continuation, r.format_failures)
    assert rewards.answer_accuracy(r.answer, task.reference) == 1.0


def test_a_rollout_gives_a_deepanalyze_policy_its_reference_prompt(tmp_path, tokenizer):
    csv = tmp_path / "sales.csv"
    csv.write_text("region,revenue\nEast,100\nWest,250\n")
    task = data.Task("Which region has the most revenue?", [str(csv)], "West")
    computed = code_step("print(max(['East', 'West']))")
    policy = ScriptedPolicy(tokenizer, [computed, answer_step("West.")])
    policy.native = True  # as for a DeepAnalyze checkpoint
    r = rollout.run(task, policy, loop.Budget(max_turns=2), Limits(timeout_s=10))
    native = [{"role": "user", "content": prompts.native_message(task.question, [csv])}]
    assert tokenizer.decode(r.prompt_ids) == policy.render(native, "")


def _follow(constraint, gbnf: str, text: str, tokenizer) -> bool:
    """Whether the grammar lets `text` through token by token, each token allowed by the
    mask before it is taken, and reaches its end."""
    import torch

    m = constraint.start(gbnf)
    for token in tokenizer(text, add_special_tokens=False)["input_ids"]:
        if m.mask(torch.zeros(constraint.vocab_size))[token] == float("-inf"):
            return False
        m.accept(token)
    return m.done


def test_the_policys_grammar_reads_the_protocol_as_llama_cpp_does(tokenizer):
    from da_cli.agent import protocol
    from train.grammar import Constraint

    c = Constraint(tokenizer, len(tokenizer))
    assert tokenizer.convert_tokens_to_ids("<Analyze>") >= 151643  # the tags are added tokens
    # Text with "<" and backticks in it, code, an answer, the inline path and a fenced answer.
    step = code_step("print(sales.revenue.max())", analyze="Use `revenue`; x <b> y.")
    assert _follow(c, protocol.STEP_GRAMMAR, step, tokenizer)
    assert _follow(c, protocol.STEP_GRAMMAR, answer_step("West, with 250."), tokenizer)
    inline = "<Analyze>\nSum it.\n```python\nprint(1)\n```\n</Code>"
    assert _follow(c, protocol.CODE_GRAMMAR, inline, tokenizer)
    tagged = "<Analyze>\nSum it.\n<Code>\n```python\nprint(1)\n```\n</Code>"
    assert _follow(c, protocol.CODE_GRAMMAR, tagged, tokenizer)
    assert not _follow(c, protocol.CODE_GRAMMAR, tagged.replace("```python\n", ""), tokenizer)
    assert _follow(c, protocol.ANSWER_GRAMMAR, "<Answer>\nWest.\n```\n</Answer>", tokenizer)
    first = code_step("print(1)", analyze="To answer this, I will sum it.")
    assert _follow(c, protocol.FIRST_GRAMMAR, first, tokenizer)
    # What llama.cpp's grammar refuses is refused here too.
    assert not _follow(c, protocol.CODE_GRAMMAR, answer_step("West."), tokenizer)
    assert not _follow(c, protocol.STEP_GRAMMAR, "The answer is West.", tokenizer)
    assert not _follow(c, protocol.STEP_GRAMMAR, step.replace("</Code>", "<Execute>"), tokenizer)


@needs_model
def test_a_policy_under_the_grammar_samples_protocol_steps_where_it_would_not_alone():
    import torch

    from da_cli.agent import protocol
    from train import base_model

    model, tok = base_model.load(base_model.tiny_base(), torch.float32)
    msgs = [{"role": "user", "content": "Which region sells most?"}]
    texts = {}
    for grammar in (False, True):
        torch.manual_seed(0)
        policy = PolicyModel(model, tok, temperature=1.0, grammar=grammar)
        gen = policy.generate(msgs, "", stop=protocol.STOP, grammar=protocol.FIRST_GRAMMAR,
                              max_tokens=40)  # fmt: skip
        texts[grammar] = gen.text
        logprobs = policy.turns[-1].logprobs
        assert len(logprobs) == 40 and all(lp <= 0 for lp in logprobs)
    # A random model writes the protocol's opening only because the grammar allows nothing else.
    assert texts[True].startswith("<Analyze>\nTo answer this, I will ")
    assert not texts[False].startswith("<Analyze>")
    # Its sampling log-probabilities are those of the masked distribution: higher than the
    # whole vocabulary's wherever the grammar forced a token.
    assert policy.turns[-1].logprobs[0] == 0.0


# --- config and launch ------------------------------------------------------------------


@needs_model
def test_only_the_tag_rows_of_the_embedding_and_head_receive_gradient():
    import torch
    from peft import get_peft_model

    from da_cli.agent.protocol import TAG_TOKENS
    from train import base_model, runtime

    model, tok = base_model.load(base_model.tiny_base(), torch.float32)
    cfg = config.TrainConfig()
    peft_model = get_peft_model(model, runtime.peft_config(cfg))
    assert runtime.train_tag_rows_only(cfg, peft_model, tok) == 2  # embedding and head
    tags = tok.convert_tokens_to_ids(list(TAG_TOKENS))
    ids = torch.tensor([tok("print(1)")["input_ids"] + tags[:4]])
    peft_model(input_ids=ids, labels=ids).loss.backward()
    checked = 0
    for name, p in peft_model.named_parameters():
        if "modules_to_save" in name:
            rows = p.grad.abs().sum(dim=1).nonzero().flatten().tolist()
            assert rows and set(rows) <= set(tags), name  # words the data used stay still
            checked += 1
    assert checked == 2

    cfg.lora.tag_rows_only = False  # the whole rows again when asked
    whole = get_peft_model(base_model.load(base_model.tiny_base(), torch.float32)[0],
                           runtime.peft_config(cfg))  # fmt: skip
    assert runtime.train_tag_rows_only(cfg, whole, tok) == 0


@needs_model
def test_over_a_bf16_base_every_trained_weight_is_fp32_and_masked_rows_stay_finite():
    import torch
    from peft import get_peft_model

    from train import base_model, runtime

    model, tok = base_model.load(base_model.tiny_base(), torch.bfloat16)
    cfg = config.TrainConfig()
    peft_model = get_peft_model(model, runtime.peft_config(cfg))
    assert runtime.trainable_in_fp32(peft_model) == 2  # the two copies; PEFT widened LoRA
    dtypes = {p.requires_grad: set() for p in peft_model.parameters()}
    for p in peft_model.parameters():
        dtypes[p.requires_grad].add(p.dtype)
    assert dtypes == {True: {torch.float32}, False: {torch.bfloat16}}
    runtime.train_tag_rows_only(cfg, peft_model, tok)
    head = next(p for n, p in peft_model.named_parameters() if "lm_head.modules_to_save" in n)
    grad = torch.ones_like(head)
    grad[0, 0] = float("inf")  # row 0 is a word's, not a tag's: masked
    head.backward(grad)
    assert torch.isfinite(head.grad).all() and head.grad[0].abs().sum() == 0


def test_config_overrides_are_typed_and_unknown_keys_refused(tmp_path):
    cfg = config.load(None, ["stage2.rl.learning_rate=1e-6", "stage2.rl.group_size=4"])
    assert cfg.stage2.rl.learning_rate == 1e-6 and cfg.stage2.rl.group_size == 4
    with pytest.raises(UsageError, match="Unknown training setting 'stage2.rl.group'"):
        config.load(None, ["stage2.rl.group=4"])
    with pytest.raises(UsageError, match="whole number"):
        config.load(None, ["stage2.rl.group_size=many"])
    f = tmp_path / "c.yaml"
    f.write_text("stage1:\n  data: [d.jsonl]\n")
    assert config.load(f).stage1.data == [str(tmp_path / "d.jsonl")]  # relative to the file


def test_dry_run_prints_a_multi_gpu_deepspeed_zero3_launch(tmp_path):
    sft, tasks = tmp_path / "sft.jsonl", tmp_path / "tasks.jsonl"
    sft.write_text("{}\n")
    tasks.write_text("{}\n")
    out = tmp_path / "run"
    r = run_da(
        "train", "stage2", "--gpus", "8", "--dry-run", "--data", str(sft), "--tasks", str(tasks),
        "-o", str(out), timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    text, command = r.stdout.split("# launch command\n")
    resolved = yaml.safe_load(text)
    assert resolved["gpus"] == 8 and resolved["stage2"]["sft"]["data"] == [str(sft)]
    argv = shlex.split(command.strip())
    assert argv[:3] == [sys.executable, "-m", "accelerate.commands.launch"]
    # accelerate itself parses and validates the command, and sets DeepSpeed up from it.
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils.launch import prepare_deepspeed_cmd_env

    args = launch_command_parser().parse_args(argv[3:])
    args, _, _ = _validate_launch_command(args)
    assert args.num_processes == 8 and args.use_deepspeed and args.module
    assert args.training_script == "train.run"
    assert args.training_script_args == [
        "--stage", "stage2", "--phase", "all", "--config", str(out / "config.yaml"),
    ]  # fmt: skip
    args.deepspeed_fields_from_accelerate_config = []
    _, env = prepare_deepspeed_cmd_env(args)
    assert env["ACCELERATE_USE_DEEPSPEED"] == "true"
    assert env["ACCELERATE_DEEPSPEED_ZERO3_INIT"] == "true"
    ds = json.loads((ROOT / "train" / "configs" / "zero3.json").read_text())
    assert env["ACCELERATE_DEEPSPEED_CONFIG_FILE"] == str(ROOT / "train" / "configs" / "zero3.json")
    assert ds["zero_optimization"]["stage"] == 3
    assert not out.exists()  # a dry run writes nothing


def test_training_without_data_is_a_usage_error(tmp_path):
    r = run_da("train", "stage1", "--dry-run", "-o", str(tmp_path / "x"), timeout=120)
    assert r.returncode == 2 and "Stage 1 needs data" in r.stderr
    (tmp_path / "d.jsonl").write_text("")
    r = run_da("train", "stage1", "--dry-run", "-o", str(tmp_path / "x"), "--data",
               str(tmp_path / "d.jsonl"), "--set", "stage1.eval_data=missing.jsonl",
               timeout=120)  # fmt: skip
    assert r.returncode == 2 and "stage1.eval_data) does not exist" in r.stderr


def test_grpo_that_would_sample_identical_rollouts_is_refused(tmp_path):
    # Temperature 0 plays every rollout of a group alike: zero advantage, nothing learned.
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text('{"question": "q", "files": [], "reference": "1"}\n')
    for setting in ("stage2.rl.temperature=0", "stage2.rl.top_p=0"):
        args = ("train", "stage2", "--phase", "rl", "--dry-run", "--tasks", str(tasks))
        r = run_da(*args, "--set", setting, "-o", str(tmp_path / "x"), timeout=120)
        assert r.returncode == 2 and "would be identical" in r.stderr, r.stderr
        assert "Traceback" not in r.stderr
    r = run_da(*args, "--set", "stage2.rl.temperature=0.7", "-o", str(tmp_path / "x"))
    assert r.returncode == 0, r.stderr


def test_a_micro_batch_that_does_not_divide_a_steps_rollouts_is_refused(tmp_path):
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text('{"question": "q", "files": [], "reference": "1"}\n')
    args = ("train", "stage2", "--phase", "rl", "--dry-run", "--tasks", str(tasks))
    args += ("--set", "stage2.rl.group_size=4", "-o", str(tmp_path / "x"))
    r = run_da(*args, "--set", "stage2.rl.micro_batch=3", timeout=120)
    assert r.returncode == 2 and "micro_batch must divide" in r.stderr, r.stderr
    r = run_da(*args, "--set", "stage2.rl.micro_batch=2", timeout=120)
    assert r.returncode == 0, r.stderr


# --- the whole curriculum on a tiny model -------------------------------------------------

# Stage 1 teaches the toy model to close an Answer at once: `da analyze` decodes under a
# llama.cpp grammar at ~0.2 s a token over the 152k vocabulary on this machine, and a forced
# answer may run to 768 tokens, so a random model would make the last check take minutes.
WORDS = ["West", "East", "North", "South", "three", "forty", "yes", "none"]


def write_curriculum(tmp_path) -> tuple:
    (tmp_path / "sales.csv").write_text("region,revenue\nEast,100\nWest,250\nNorth,75\n")
    stage1 = [
        {
            "messages": [
                {"role": "user", "content": f"One word: item {i}?"},
                {"role": "assistant", "content": f"{w}</Answer>"},
            ]
        }
        for i, w in enumerate(WORDS)
    ]
    trajectories = [
        {
            "messages": [
                {"role": "user", "content": "# Instruction\nWhich region sells most?"},
                {"role": "assistant", "content": TRAJECTORY},
            ]
        }
    ]
    tasks = [
        {
            "question": "Which region has the most revenue?",
            "files": ["sales.csv"],
            "reference": "West",
        }
    ]
    for name, rows in (("stage1", stage1), ("trajectories", trajectories), ("tasks", tasks)):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "run"
    cfg = {
        "base_model": "tiny",
        "output_dir": str(out),
        "gpus": 0,
        "stage1": {
            "data": ["stage1.jsonl"], "learning_rate": 0.03, "max_steps": 5, "batch_size": 8,
            "grad_accum": 1, "warmup_ratio": 0, "max_length": 256, "save_steps": 5,
        },
        "stage2": {
            "sft": {"data": ["trajectories.jsonl"], "max_steps": 1, "grad_accum": 1,
                    "max_length": 1024, "save_steps": 1, "eval_data": ["trajectories.jsonl"]},
            "rl": {"tasks": ["tasks.jsonl"], "max_steps": 1, "group_size": 2, "max_turns": 2,
                   "turn_tokens": 24, "max_tokens": 64, "exec_timeout_s": 5,
                   "learning_rate": 1.0e-4, "micro_batch": 1},
        },
    }  # fmt: skip
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(cfg))
    return tmp_path / "train.yaml", out


@pytest.mark.slow
@pytest.mark.smoke
@needs_model
def test_the_curriculum_runs_on_a_tiny_model_and_exports_a_gguf_da_runs(tmp_path):
    cfg_path, out = write_curriculum(tmp_path)
    r = run_da("-q", "train", "all", "--config", str(cfg_path), timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip() == str(out / "stage2-rl" / "final")
    for stage in ("stage1", "stage2-sft", "stage2-rl"):
        assert (out / stage / "final" / "model.safetensors").is_file()
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    losses = [x["loss"] for x in rows if x["stage"] == "stage1" and "loss" in x]
    assert len(losses) == 5 and losses[-1] < losses[0] - 1  # stage 1 learned something
    rl = [x for x in rows if x["stage"] == "stage2-rl" and "reward" in x]
    assert rl and rl[0]["completions/mean_length"] > 0 and "reward/format_ok" in rl[0]
    assert rl[0]["reward/repaired_steps"] >= 0
    assert (out / "stage2-sft" / "checkpoint-1").is_dir()
    # Its held-out loss was taken at the save, and that checkpoint is the best one.
    assert [x["step"] for x in rows if x["stage"] == "stage2-sft" and "eval_loss" in x] == [1]
    state = json.loads((out / "stage2-sft" / "checkpoint-1" / "trainer_state.json").read_text())
    assert state["best_model_checkpoint"].endswith("checkpoint-1")

    gguf = tmp_path / "tiny.gguf"
    r = run_da("-q", "train", "export", str(out), "-o", str(gguf), timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip() == str(gguf) and gguf.stat().st_size > 1_000_000

    # What GRPO trained on is what da analyze runs: same prompt text, same token ids.
    from transformers import AutoTokenizer

    from da_cli.models.llamacpp import LlamaCppModel

    tok = AutoTokenizer.from_pretrained(out / "stage2-rl" / "final")
    policy = PolicyModel(None, tok, max_context=32768)
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "q?"}]
    cont = code_step("print(1)") + "\n<Execute>\n1\n</Execute>\n"
    llm = LlamaCppModel(gguf, n_ctx=512)
    try:
        text = llm.render(messages, cont)
        assert policy.render(messages, cont) == text
        assert tok(text, add_special_tokens=False)["input_ids"] == llm.tokenize(text)
    finally:
        llm.close()

    r = run_da(
        "analyze", str(tmp_path / "sales.csv"), "which region has the most revenue?",
        "--model", str(gguf), "--max-turns", "1", "--max-tokens", "64", "--json", timeout=600,
    )  # fmt: skip
    assert r.returncode in (0, 6), r.stderr[-3000:]
    assert json.loads(r.stdout)["answer"] is not None


@pytest.mark.slow
@pytest.mark.smoke
@needs_model
def test_lora_layers_learn_under_gradient_checkpointing(tmp_path):
    # Checkpointing recomputes each layer in the backward pass; with reentrant checkpoints
    # and frozen inputs the LoRA weights inside a layer would get no gradient and the run
    # would "train" nothing. The CPU config turns it on to fit GRPO's loss pass in memory.
    from safetensors.torch import load_file

    from train import base_model

    cfg_path, out = write_curriculum(tmp_path)
    # No warm-up: with one step, a warm-up step would run at learning rate 0.
    sets = ["--set", "gradient_checkpointing=true", "--set", "stage2.sft.warmup_ratio=0"]
    r = run_da("-q", "train", "stage2", "--phase", "sft", "--config", str(cfg_path), *sets,
               timeout=600)  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    before = load_file(base_model.tiny_base() / "model.safetensors")
    after = load_file(out / "stage2-sft" / "final" / "model.safetensors")
    moved = [k for k in before if k.endswith("proj.weight") and not before[k].equal(after[k])]
    assert any(".0.self_attn." in k for k in moved) and any(".1.mlp." in k for k in moved)


@pytest.mark.slow
@needs_model
def test_a_phase_resumes_from_its_last_checkpoint(tmp_path):
    cfg_path, out = write_curriculum(tmp_path)
    args = ("-q", "train", "stage2", "--phase", "sft", "--config", str(cfg_path))
    r = run_da(*args, "--max-steps", "1", timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    r = run_da(*args, "--max-steps", "2", "--resume", timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    state = json.loads((out / "stage2-sft" / "checkpoint-2" / "trainer_state.json").read_text())
    assert [h["step"] for h in state["log_history"] if "loss" in h] == [1, 2]
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [x["step"] for x in rows if "loss" in x] == [1, 2]  # step 1 was not run again
    # Each row says the memory the run had reached: a trainer holds at least its model.
    assert all(x["peak_rss_gb"] > 0.1 for x in rows) and "peak_gpu_gb" not in rows[0]


def test_the_recipe_chains_corpus_data_training_and_paired_evaluation(tmp_path):
    out = tmp_path / "recipe"
    base = [sys.executable, "-m", "train.recipe", "-o", str(out), "--datasets", "3"]
    r = subprocess.run([*base, "--dry-run", "--dabench", "DIR"], capture_output=True, text=True,
                       cwd=ROOT)  # fmt: skip
    assert r.returncode == 0, r.stderr
    names = re.findall(r"^# \d+/\d+ (.+)$", r.stdout, re.M)
    assert names[0] == "corpus" and "train the curriculum" in names and len(names) == 14
    assert "eval compare" in r.stdout and "--questions-only --heldout 0" in r.stdout
    assert not out.exists()  # a dry run writes nothing
    # Stage 1 alone: no model makes its data, and its model and figures have their own names.
    r = subprocess.run([*base, "--dry-run", "--stages", "stage1", "--set", "stage1.max_steps=3"],
                       capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    assert r.returncode == 0, r.stderr
    names = re.findall(r"^# \d+/\d+ (.+)$", r.stdout, re.M)
    assert "train stage 1" in names and not any("trajectories" in n for n in names)
    assert "train stage1" in r.stdout and "--set stage1.max_steps=3" in r.stdout
    assert "model-stage1.gguf" in r.stdout and "heldout-compare-stage1.json" in r.stdout
    assert "--set stage1.eval_data=" in r.stdout and "code.heldout.jsonl" in r.stdout
    # Cold-start SFT alone on the solver's verified trajectories: no stage-1 items, no GRPO.
    r = subprocess.run([*base, "--dry-run", "--stages", "stage2-sft", "--attempts", "3"],
                       capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    assert r.returncode == 0, r.stderr
    names = re.findall(r"^# \d+/\d+ (.+)$", r.stdout, re.M)
    assert "train stage 2 (cold-start SFT)" in names and "GRPO tasks" not in names
    assert not any("stage-1" in n for n in names) and "--keep-rejected" in r.stdout
    assert "--attempts 3" in r.stdout  # a rejected question is tried again, sampled
    assert "train stage2 --phase sft" in r.stdout and "trajectories.heldout.jsonl" in r.stdout
    assert "model-stage2-sft.gguf" in r.stdout and "heldout-compare-stage2-sft.json" in r.stdout
    assert "train.recovery" not in r.stdout
    # With recovery variants, training reads them, and the held-out loss the plain ones.
    r = subprocess.run([*base, "--dry-run", "--stages", "stage2-sft", "--recoveries", "0.5"],
                       capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    assert "-m train.recovery" in r.stdout and "--share 0.5" in r.stdout
    train_line = next(x for x in r.stdout.splitlines() if "train stage2" in x)
    assert "--data " + str(out / "data" / "trajectories.recovery.jsonl") in train_line
    assert "trajectories.heldout.jsonl" in train_line
    # The first three steps for real (no model needed): a corpus and stage-1 items.
    r = subprocess.run([*base, "--code-items", "6", "--until", "3"], capture_output=True,
                       text=True, cwd=ROOT, timeout=600)  # fmt: skip
    assert r.returncode == 0, r.stderr
    code = json.loads((out / "data" / "code.summary.json").read_text())
    assert code["accepted"] >= 4 and (out / "data" / "understand.jsonl").stat().st_size
    assert (out / "data" / "code.heldout.jsonl").stat().st_size  # stage 1's held-out loss
    again = subprocess.run([*base, "--until", "3"], capture_output=True, text=True, cwd=ROOT)
    assert again.stdout.count("(done)") == 3  # an interrupted recipe resumes


def test_training_processes_never_reach_for_the_hub():
    """transformers fetches hub kernels when a model enters training on a GPU and `kernels`
    is installed; offline that killed the first step. A training process turns both off,
    and a user's own setting wins."""
    # The variables are what transformers (USE_HUB_KERNELS, read when a model enters
    # training) and huggingface_hub (HF_HUB_OFFLINE) read; the H200 run trained with them.
    probe = (
        "import os, train.run; print(os.environ['USE_HUB_KERNELS'], os.environ['HF_HUB_OFFLINE'])"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "USE_HUB_KERNELS")}
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT,
                       env=env)  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == ["0", "1"]
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT,
                       env={**env, "USE_HUB_KERNELS": "1"})  # fmt: skip
    assert r.stdout.split() == ["1", "1"]
