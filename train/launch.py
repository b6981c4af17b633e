"""How a training run is started: in this process (CPU or one GPU), or for `--gpus N > 1`
as N processes through `accelerate launch` with DeepSpeed ZeRO-3 (`configs/zero3.json`:
parameters, gradients and optimizer state sharded across the GPUs; its "auto" values are
filled in from the trainer's arguments).

Every process runs `python -m train.run` on the resolved config written to
`<output_dir>/config.yaml`, so what `--dry-run` prints is exactly what runs.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from da_cli.errors import UsageError
from train.config import TrainConfig, deepspeed_config


@dataclass
class Plan:
    gpus: int
    config_path: Path
    command: list[str]

    @property
    def in_process(self) -> bool:
        return self.gpus <= 1

    def shell(self) -> str:
        return shlex.join(self.command)


def resolve_gpus(cfg: TrainConfig, check: bool = True) -> int:
    """The number of GPUs to use: as asked, or 1 with CUDA and 0 without. `check` refuses
    more GPUs than this machine has (a dry run may plan for another machine)."""
    if cfg.gpus is not None and not check:
        return cfg.gpus
    import torch

    have = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if cfg.gpus is None:
        return min(have, 1)
    if cfg.gpus > have:
        raise UsageError(
            f"--gpus {cfg.gpus} asks for more GPUs than this machine has ({have}).",
            hint="Use --gpus 0 to train on the CPU, or --dry-run to print the launch command.",
        )
    return cfg.gpus


def plan(cfg: TrainConfig, stage: str, phase: str, gpus: int, *, resume: bool = False) -> Plan:
    config_path = (cfg.out / "config.yaml").resolve()
    worker = ["--stage", stage, "--phase", phase, "--config", str(config_path)]
    if resume:
        worker.append("--resume")
    if gpus <= 1:
        return Plan(gpus, config_path, [sys.executable, "-m", "train.run", *worker])
    command = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--num_processes",
        str(gpus),
        "--num_machines",
        "1",
        "--machine_rank",
        "0",
        "--mixed_precision",
        "bf16",
        "--dynamo_backend",
        "no",
        "--use_deepspeed",
        "--deepspeed_config_file",
        str(deepspeed_config(cfg)),
        "--zero3_init_flag",
        "true",
        "--module",
        "train.run",
        *worker,
    ]
    return Plan(gpus, config_path, command)


def write_config(cfg: TrainConfig, p: Plan) -> None:
    p.config_path.parent.mkdir(parents=True, exist_ok=True)
    p.config_path.write_text(cfg.dump(), encoding="utf-8")


def spawn(cfg: TrainConfig, p: Plan) -> int:
    """Start the multi-process run and wait for it; returns its exit status."""
    import importlib.util

    if importlib.util.find_spec("deepspeed") is None:
        raise UsageError(
            "Training on several GPUs needs DeepSpeed, which is not installed.",
            hint="pip install 'da-cli[train,train-gpu]' (or pip install deepspeed).",
        )
    write_config(cfg, p)
    return subprocess.call(p.command)
