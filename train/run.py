"""Run curriculum stages in this process: the entry point every training process runs.

`da train` calls `run` directly for one process (CPU, or one GPU); for `--gpus N` it starts
N copies of `python -m train.run --stage ... --config <output>/config.yaml` through
accelerate (see `launch`). Stages chain through their `final` folders:

    base (prepared, with tag tokens) → stage1/final → stage2-sft/final → stage2-rl/final

A phase starts from the latest earlier phase's `final` in the output directory, or from the
base when there is none (so `da train stage2` after `da train stage1` continues from it).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from da_cli.errors import DaError, UsageError
from train import config as config_mod
from train.config import TrainConfig

ORDER = ("stage1", "stage2-sft", "stage2-rl")

# Training runs offline like the rest of da. With the `kernels` package installed (it comes
# with transformers 5.25), transformers fetches compute kernels from the Hugging Face hub when
# a model enters training on a GPU: on the H200 the first stage-1 step died on a name lookup.
# The base model is always the local GGUF's conversion, so nothing needs the hub. A user's
# own setting of either variable wins.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("USE_HUB_KERNELS", "0")


def phases(stage: str, phase: str = "all") -> list[str]:
    if stage == "stage1":
        return ["stage1"]
    if stage == "stage2":
        return ["stage2-sft", "stage2-rl"] if phase == "all" else [f"stage2-{phase}"]
    if stage == "all":
        return list(ORDER)
    raise UsageError(f"Unknown stage '{stage}'.")


def start_model(cfg: TrainConfig, name: str, base: Path) -> Path:
    from train.runtime import FINAL

    earlier = ORDER[: ORDER.index(name)]
    for prev in reversed(earlier):
        final = cfg.out / prev / FINAL
        if (final / "config.json").is_file():
            return final
    return base


def run(cfg: TrainConfig, stage: str, phase: str = "all", *, resume: bool = False) -> Path:
    """Train the phases of `stage` in order; returns the last `final` folder."""
    from accelerate import PartialState

    from train import base_model, runtime

    state = PartialState()
    if state.is_main_process:
        cfg.out.mkdir(parents=True, exist_ok=True)
        (cfg.out / "config.yaml").write_text(cfg.dump(), encoding="utf-8")
    with state.main_process_first():  # one process converts the base, the others reuse it
        base = base_model.prepare(cfg.base_model)
    current: Path | None = None
    for name in phases(stage, phase):
        init = current or start_model(cfg, name, base)
        out = cfg.out / name
        if name == "stage2-rl":
            from train.grpo import train_grpo

            current = train_grpo(cfg, init, out, resume=resume)
        else:
            from train.sft import train_sft

            settings = cfg.stage1 if name == "stage1" else cfg.stage2.sft
            current = train_sft(cfg, settings, init, out, name, resume=resume)
        if runtime.is_main():
            (out / "config.yaml").write_text(cfg.dump(), encoding="utf-8")
    assert current is not None
    return current


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.run", description=__doc__.split("\n")[0])
    p.add_argument("--stage", required=True, choices=["stage1", "stage2", "all"])
    p.add_argument("--phase", default="all", choices=["sft", "rl", "all"])
    p.add_argument("--config", required=True, type=Path, help="a resolved config (config.yaml)")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoints")
    a = p.parse_args(argv)
    try:
        cfg = config_mod.load(a.config)
        config_mod.validate(cfg, a.stage, a.phase)
        final = run(cfg, a.stage, a.phase, resume=a.resume)
    except DaError as e:
        print(f"Error: {e}", file=sys.stderr)
        if e.hint:
            print(e.hint, file=sys.stderr)
        return e.exit_code
    if int(os.environ.get("RANK", "0")) == 0:
        print(final)
    return 0


if __name__ == "__main__":
    sys.exit(main())
