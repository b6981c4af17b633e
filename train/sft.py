"""Supervised fine-tuning: stage 1 (single-ability data: reasoning, data understanding,
code) and stage 2's cold start (whole interaction trajectories), one function for both.

Departure from DeepAnalyze's ms-swift runs: the data is tokenized here, not by the trainer,
so the labels can exclude every `<Execute>…</Execute>` span (TRL's `assistant_only_loss`
would still train them) and prompts are rendered exactly as `da analyze` renders them.
Packing is off by default: without a flash-attention kernel packed sequences see each other.

    da train stage1 --data single_ability.jsonl                 # 1 GPU or CPU
    da train stage2 --phase sft --data trajectories.jsonl --gpus 8   # accelerate + ZeRO-3
"""

from __future__ import annotations

from pathlib import Path

from train import base_model, data, runtime
from train.config import SftSettings, TrainConfig


def train_sft(
    cfg: TrainConfig,
    settings: SftSettings,
    init: Path,
    out: Path,
    stage: str,
    *,
    resume: bool = False,
) -> Path:
    """Fine-tune the model in `init` on `settings.data`; returns `out/final`."""
    from datasets import Dataset
    from transformers import EarlyStoppingCallback
    from trl import SFTConfig, SFTTrainer

    held_out = bool(settings.eval_data)
    # The arguments come before the model: under ZeRO-3 they make from_pretrained shard it.
    args = SFTConfig(
        **runtime.trainer_kwargs(cfg, out, stage),
        **(_held_out_kwargs(settings) if held_out else {}),
        learning_rate=settings.learning_rate,
        num_train_epochs=settings.epochs,
        max_steps=settings.max_steps,
        per_device_train_batch_size=settings.batch_size,
        gradient_accumulation_steps=settings.grad_accum,
        warmup_steps=settings.warmup_ratio,  # below 1: a fraction of the steps
        save_steps=settings.save_steps,
        max_length=settings.max_length,
        packing=settings.packing,
    )
    model, tok = base_model.load(init, runtime.model_dtype(cfg))
    records = data.sft_records(settings.data, tok, settings.max_length)
    callbacks = [runtime.metrics_callback(cfg.out / "metrics.jsonl", stage)]
    held = None
    if held_out:
        items = data.sft_records(settings.eval_data, tok, settings.max_length)
        # Spread over the file (synth writes a template's items together), not its head.
        n = min(settings.eval_items, len(items))
        held = Dataset.from_list([items[i * len(items) // n] for i in range(n)])
        if settings.patience > 0:
            callbacks.append(EarlyStoppingCallback(early_stopping_patience=settings.patience))
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(records),
        eval_dataset=held,
        processing_class=tok,
        peft_config=runtime.peft_config(cfg),
        callbacks=callbacks,
    )
    runtime.trainable_in_fp32(trainer.model)
    runtime.train_tag_rows_only(cfg, trainer.model, tok)
    trainer.train(resume_from_checkpoint=runtime.last_checkpoint(out) if resume else None)
    return runtime.save_final(trainer, init, out)


def _held_out_kwargs(settings: SftSettings) -> dict:
    """Evaluate the held-out loss at every save and end with the best checkpoint's weights."""
    return {
        "eval_strategy": "steps",
        "eval_steps": settings.save_steps,
        "per_device_eval_batch_size": 1,
        "load_best_model_at_end": True,
        "metric_for_best_model": "eval_loss",
        "greater_is_better": False,
    }
