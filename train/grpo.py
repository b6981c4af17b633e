"""Stage 2b: multi-turn GRPO whose rollouts are `da analyze` runs.

Each step, TRL hands `rollout_func` the tasks of the batch, each repeated `group_size`
times; every copy is played through `da`'s own agent loop and a fresh sandbox with the
policy as the model backend (`train.rollout`), so the policy is trained on exactly the
protocol it will run. Execute output is in the sequence but masked out of the loss
(`env_mask`). The reward (`train.rewards`) is the hybrid DeepAnalyze reward on a Datarus
structure-to-accuracy cosine schedule, with an optional judge model.

Departures from DeepAnalyze's SkyRL runs: TRL's GRPOTrainer on `transformers` generation
(no vLLM), rollouts one after another, and rollouts under the protocol grammar that
`da analyze` runs with (`stage2.rl.grammar`; the format gate still fails a step the token
limit cut). As in the paper: no KL term (beta 0), group size 5, up to 30 turns, 10 s per
code cell. Memory-lean as in Datarus: with beta 0 no reference model is held, and
`gradient_checkpointing: true` trades compute for activations.

    da train stage2 --phase rl --tasks tasks.jsonl                 # 1 GPU or CPU
    da train stage2 --phase rl --tasks tasks.jsonl --gpus 8        # accelerate + ZeRO-3
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from da_cli.agent import loop
from da_cli.models.base import names_deepanalyze
from da_cli.sandbox import Limits
from train import base_model, data, rewards, rollout, runtime
from train.config import RlSettings, TrainConfig
from train.policy_model import PolicyModel


def make_rollout_func(settings: RlSettings) -> Any:
    """TRL's `rollout_func(prompts, trainer)`: one `da` run per prompt (a task key)."""
    budget = loop.Budget(
        max_turns=settings.max_turns,
        max_tokens=settings.max_tokens,
        turn_tokens=settings.turn_tokens,
    )
    limits = Limits(timeout_s=settings.exec_timeout_s, memory_mb=settings.memory_mb)

    def rollout_func(prompts: list[str], trainer: Any) -> dict[str, list]:
        from tqdm.auto import tqdm
        from trl.models.utils import unwrap_model_for_generation

        out: dict[str, list] = {k: [] for k in ROLLOUT_KEYS}
        with unwrap_model_for_generation(
            trainer.model_wrapped,
            trainer.accelerator,
            gather_deepspeed3_params=trainer.args.ds3_gather_for_generation,
        ) as model:
            was_training = model.training
            model.eval()  # no LoRA dropout while sampling
            native = names_deepanalyze(getattr(model.config, "_name_or_path", ""))
            policy = PolicyModel(
                model,
                trainer.processing_class,
                temperature=settings.temperature,
                top_p=settings.top_p,
                turn_tokens=settings.turn_tokens,
                native=native,
                grammar=settings.grammar and not native,
            )
            try:
                bar = tqdm(
                    prompts,
                    desc="rollouts",
                    leave=False,
                    disable=not trainer.accelerator.is_local_main_process,
                )
                for prompt in bar:
                    r = rollout.run(data.Task.from_key(prompt), policy, budget, limits)
                    _append(out, r)
            finally:
                model.train(was_training)
        return out

    return rollout_func


ROLLOUT_KEYS = (
    "prompt_ids",
    "completion_ids",
    "logprobs",
    "env_mask",
    "answer",
    "transcript",
    "executions",
    "failed_executions",
    "generations",
    "format_failures",
)


def _append(out: dict[str, list], r: rollout.Rollout) -> None:
    out["prompt_ids"].append(r.prompt_ids)
    out["completion_ids"].append(r.completion_ids)
    out["logprobs"].append(r.logprobs)
    out["env_mask"].append(r.env_mask)
    out["answer"].append(r.answer)
    out["transcript"].append(r.continuation)
    out["executions"].append(r.executions)
    out["failed_executions"].append(r.failed_executions)
    out["generations"].append(r.generations)
    out["format_failures"].append(r.format_failures)


class HybridReward:
    """The TRL reward function: `rewards.hybrid_reward` over each rollout, with training
    progress from the trainer state; logs each component as its own metric."""

    __name__ = "hybrid"

    def __init__(self, settings: RlSettings, judge: Any | None = None) -> None:
        self.settings = settings
        self.judge = judge

    def __call__(self, prompts: list[str], completions: list[Any], **kw: Any) -> list[float]:
        s = self.settings
        state = kw.get("trainer_state")
        progress = state.global_step / state.max_steps if state and state.max_steps else 0.0
        out, parts_all = [], []
        for i, prompt in enumerate(prompts):
            task = data.Task.from_key(prompt)
            reference = json.loads(kw["reference"][i]) if "reference" in kw else None
            answer = kw["answer"][i]
            judged = None
            if self.judge is not None:
                shown = reference if not isinstance(reference, list) else "; ".join(reference)
                judged = self.judge.score(task.question, answer, shown, kw["transcript"][i])
            o = rewards.Outcome(
                format_ok=rewards.format_ok(kw["transcript"][i], kw["format_failures"][i]),
                executions=kw["executions"][i],
                failed_executions=kw["failed_executions"][i],
                turns=kw["generations"][i],
                accuracy=rewards.answer_accuracy(answer, reference),
                judge=judged,
            )
            parts = rewards.hybrid_reward(
                o,
                progress,
                start=s.structure_weight_start,
                end=s.structure_weight_end,
                full_turns=s.full_turns,
            )
            out.append(parts.reward)
            parts_all.append((o, parts))
        log = kw.get("log_metric")
        if log is not None and parts_all:
            n = len(parts_all)
            log("reward/format_ok", sum(o.format_ok for o, _ in parts_all) / n)
            # Steps the loop had to repair (cut at the step limit, empty answers): with the
            # grammar on, the only way a rollout fails the gate, so this says which it was.
            log("reward/repaired_steps", sum(kw["format_failures"]) / n)
            log("reward/structure", sum(p.structure for _, p in parts_all) / n)
            log("reward/structure_weight", parts_all[0][1].weight)
            acc = [o.accuracy for o, _ in parts_all if o.accuracy is not None]
            if acc:
                log("reward/accuracy", sum(acc) / len(acc))
            if self.judge is not None:
                log("reward/judge", sum(o.judge or 0.0 for o, _ in parts_all) / n)
        return out


def train_grpo(
    cfg: TrainConfig,
    init: Path,
    out: Path,
    *,
    resume: bool = False,
) -> Path:
    """GRPO from the model in `init` on `stage2.rl.tasks`; returns `out/final`."""
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")  # rollout_func is experimental
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    s = cfg.stage2.rl
    per_step = s.group_size * s.tasks_per_step  # rollouts generated for one optimizer step
    micro = s.micro_batch or per_step
    args = GRPOConfig(
        **runtime.trainer_kwargs(cfg, out, "stage2-rl"),
        learning_rate=s.learning_rate,
        max_steps=s.max_steps,
        num_generations=s.group_size,
        # A step's rollouts are generated together and their loss is accumulated over
        # passes of `micro` sequences: the same optimizer step in less memory.
        per_device_train_batch_size=micro,
        gradient_accumulation_steps=s.grad_accum * (per_step // micro),
        save_steps=s.save_steps,
        beta=s.beta,
        temperature=s.temperature,
        top_p=s.top_p,
        max_completion_length=s.max_tokens,
        # Rollouts have different numbers of turns on each rank: every rank must hold the
        # full weights while it samples, or ZeRO-3's collective gathers would deadlock.
        ds3_gather_for_generation=True,
        remove_unused_columns=False,
    )
    model, tok = base_model.load(init, runtime.model_dtype(cfg))
    tasks = data.read_tasks(s.tasks)
    # References are JSON (a string or a list of values) so every row has one column type.
    dataset = Dataset.from_list(
        [{"prompt": t.key(), "reference": json.dumps(t.reference)} for t in tasks]
    )
    judge = None
    if s.judge:
        from da_cli.models import load_model
        from train.judge import Judge

        judge = Judge(load_model(s.judge))
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[HybridReward(s, judge)],
        args=args,
        train_dataset=dataset,
        processing_class=tok,
        peft_config=runtime.peft_config(cfg),
        rollout_func=make_rollout_func(s),
        callbacks=[runtime.metrics_callback(cfg.out / "metrics.jsonl", "stage2-rl")],
    )
    runtime.trainable_in_fp32(trainer.model)
    runtime.train_tag_rows_only(cfg, trainer.model, tok)
    try:
        trainer.train(resume_from_checkpoint=runtime.last_checkpoint(out) if resume else None)
    finally:
        if judge is not None:
            judge.model.close()
    return runtime.save_final(trainer, init, out)
