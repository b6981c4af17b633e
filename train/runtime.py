"""What the SFT and GRPO stages share: device and precision, trainer arguments common to
both, the LoRA config, metrics to JSON Lines (and TensorBoard when installed), resuming
from the last checkpoint, and saving a stage's result as one merged model folder.

A stage always ends in `<stage dir>/final`: a full model folder (adapters merged) with the
tokenizer, which the next stage starts from and `da train export` converts.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from train.config import TrainConfig, deepspeed_config

FINAL = "final"


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def use_cpu(cfg: TrainConfig) -> bool:
    import torch

    return cfg.gpus == 0 or not torch.cuda.is_available()


def model_dtype(cfg: TrainConfig) -> Any:
    """bf16 weights for LoRA on GPU (the frozen base), fp32 otherwise: CPU kernels and full
    fine-tuning's optimizer want fp32 masters (bf16 autocast still applies on GPU)."""
    import torch

    if cfg.dtype != "auto":
        return getattr(torch, cfg.dtype)
    if use_cpu(cfg):
        return torch.float32
    return torch.bfloat16 if cfg.lora.enabled else torch.float32


def trainer_kwargs(cfg: TrainConfig, out: Path, stage: str) -> dict[str, Any]:
    """TrainingArguments shared by every stage."""
    cpu = use_cpu(cfg)
    tensorboard = importlib.util.find_spec("tensorboard") is not None
    kw: dict[str, Any] = {
        "output_dir": str(out),
        "seed": cfg.seed,
        "logging_steps": cfg.logging_steps,
        "save_strategy": "steps",
        "save_total_limit": cfg.save_total_limit,
        "use_cpu": cpu,
        "bf16": not cpu,
        "report_to": ["tensorboard"] if tensorboard else "none",
        "disable_tqdm": False,
        "dataloader_num_workers": 0,
    }
    # transformers 5 renamed gradient_checkpointing (the old name warns, then goes in v6).
    from transformers import TrainingArguments

    renamed = "activation_checkpointing" in TrainingArguments.__dataclass_fields__
    kw["activation_checkpointing" if renamed else "gradient_checkpointing"] = (
        cfg.gradient_checkpointing
    )
    if world_size() > 1:
        kw["deepspeed"] = str(deepspeed_config(cfg))
    return kw


def peft_config(cfg: TrainConfig) -> Any:
    if not cfg.lora.enabled:
        return None
    from peft import LoraConfig

    lc = cfg.lora
    return LoraConfig(
        r=lc.r,
        lora_alpha=lc.alpha,
        lora_dropout=lc.dropout,
        target_modules=lc.target_modules,
        modules_to_save=list(lc.modules_to_save) or None,
        task_type="CAUSAL_LM",
    )


def trainable_in_fp32(model: Any) -> int:
    """Keep every trained weight in fp32 over a bf16 (or fp16) base, as mixed precision
    means: the frozen base stays half-width, autocast still computes in bf16. PEFT already
    does this for LoRA's adapters, but not for the `modules_to_save` copies of the
    embeddings and the head, which Adam would otherwise update in bf16. On the H200 the
    bf16 recipe went to NaN at stage 1's fourth step (loss 2.58, 2.90, 2.37, then NaN).
    Under DeepSpeed the weights are partitioned and its bf16 mode keeps fp32 masters itself.
    Returns how many tensors it widened."""
    import torch

    if world_size() > 1:
        return 0
    widened = 0
    for p in model.parameters():
        if p.requires_grad and p.dtype in (torch.bfloat16, torch.float16):
            p.data = p.data.float()
            widened += 1
    return widened


def train_tag_rows_only(cfg: TrainConfig, model: Any, tokenizer: Any) -> int:
    """With `lora.tag_rows_only`, zero the gradient of every row of the trained copies of the
    embedding and the head except the protocol tags' rows, so only those rows move (Adam
    leaves a weight whose gradient is always zero where it is; weight decay is off).
    Returns how many weights it masked. Under DeepSpeed the weights are partitioned and the
    hook would see a shard, so a multi-GPU run trains the rows whole (and says so)."""
    if not (cfg.lora.enabled and cfg.lora.tag_rows_only and cfg.lora.modules_to_save):
        return 0
    if world_size() > 1:
        import warnings

        warnings.warn(
            "lora.tag_rows_only is not applied under DeepSpeed: all rows train.", stacklevel=2
        )
        return 0
    import torch
    from peft.utils import ModulesToSaveWrapper

    from da_cli.agent.protocol import TAG_TOKENS

    ids = tokenizer.convert_tokens_to_ids(list(TAG_TOKENS))
    masked = 0
    for module in model.modules():
        if not isinstance(module, ModulesToSaveWrapper):
            continue
        for copy in module.modules_to_save.values():
            w = copy.weight
            keep = torch.zeros(w.shape[0], 1, dtype=torch.bool, device=w.device)
            keep[ids] = True
            # where, not a product: an inf in a frozen row times 0 would be NaN.
            w.register_hook(lambda grad, keep=keep: torch.where(keep, grad, 0))
            masked += 1
    return masked


def last_checkpoint(out: Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(out)) if out.is_dir() else None


def save_final(trainer: Any, init: Path, out: Path) -> Path:
    """Save the trained model as `out/final`, a full folder: ZeRO-3 shards are gathered by
    `trainer.save_model`; LoRA adapters are then merged into the model they started from."""
    final = out / FINAL
    staged = out / ".adapter" if _is_peft(trainer.model) else out / ".final"
    trainer.save_model(str(staged))
    trainer.accelerator.wait_for_everyone()
    if trainer.accelerator.is_main_process:
        if _is_peft(trainer.model):
            merge_adapter(staged, final)
            shutil.rmtree(staged, ignore_errors=True)
        else:
            trainer.processing_class.save_pretrained(str(staged))
            shutil.rmtree(final, ignore_errors=True)
            staged.rename(final)
    trainer.accelerator.wait_for_everyone()
    return final


def _is_peft(model: Any) -> bool:
    try:
        from peft import PeftModel
    except ImportError:
        return False
    return isinstance(model, PeftModel)


def merge_adapter(adapter: Path, dest: Path) -> Path:
    """Load the adapter's base, apply and merge the adapter, save a full folder at `dest`."""
    import torch
    from peft import AutoPeftModelForCausalLM
    from transformers import AutoTokenizer

    model = AutoPeftModelForCausalLM.from_pretrained(str(adapter), dtype=torch.float32)
    merged = model.merge_and_unload()
    base = Path(model.peft_config["default"].base_model_name_or_path)
    tok = AutoTokenizer.from_pretrained(adapter if (adapter / "tokenizer.json").is_file() else base)
    tmp = dest.with_name(f".{dest.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    merged.to(_saved_dtype(base)).save_pretrained(str(tmp))
    tok.save_pretrained(str(tmp))
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    return dest


def _saved_dtype(folder: Path) -> Any:
    """Keep the dtype the base was stored in (bf16 for a converted GGUF)."""
    import torch

    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return torch.float32
    name = config.get("dtype") or config.get("torch_dtype") or "float32"
    return getattr(torch, str(name), torch.float32)


def peak_memory() -> dict[str, float]:
    """The run's peak memory so far in GB: the process's resident set, and on a GPU what
    torch allocated there, so a recipe's figures need no profiler beside it."""
    import resource

    import torch

    # ru_maxrss is in KiB on Linux.
    peak = {"peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3)}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        peak["peak_gpu_gb"] = round(torch.cuda.max_memory_allocated() / 2**30, 3)
    return peak


def metrics_callback(path: Path, stage: str) -> Any:
    """A TrainerCallback appending every log line to `path` (JSON Lines), tagged with the
    stage, so one file holds the whole curriculum."""
    from transformers import TrainerCallback

    class JsonlMetrics(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001
            if not state.is_world_process_zero or not logs:
                return
            path.parent.mkdir(parents=True, exist_ok=True)
            row = {"stage": stage, "step": state.global_step, "time": round(time.time(), 3)}
            row.update({k: v for k, v in logs.items() if isinstance(v, int | float | str)})
            row.update(peak_memory())
            with path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")

    return JsonlMetrics()
