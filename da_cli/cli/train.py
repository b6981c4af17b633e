"""`da train`: the DeepAnalyze curriculum (stage 1 SFT, stage 2 cold-start SFT then GRPO)
and export to GGUF. The work is in the top-level `train` package, imported inside the
commands so `da --help` does not pay for torch."""

import os
import sys
from contextlib import nullcontext, redirect_stdout
from enum import StrEnum
from pathlib import Path

import typer

from da_cli.cli.console import examples, guarded, state
from da_cli.errors import SetupError, UsageError

app = typer.Typer(
    help="Train the model with the DeepAnalyze curriculum and export it as a GGUF.",
    no_args_is_help=True,
    epilog=examples(
        "da train stage1 --data single_ability.jsonl",
        "da train all --config my.yaml",
        "da train export da-train -o my.gguf",
    ),
)


class Phase(StrEnum):
    sft = "sft"
    rl = "rl"
    all = "all"


_CONFIG = typer.Option(
    None, "--config", "-c", exists=True, dir_okay=False, help="YAML or JSON training config."
)
_BASE = typer.Option(
    None, "--base", help="Base model: embedded name, .gguf, HF model folder, or tiny."
)
_OUTPUT = typer.Option(None, "--output", "-o", help="Output directory (checkpoints, finals).")
_GPUS = typer.Option(
    None, "--gpus", min=0, help="GPUs: 0 for CPU; N > 1 launches accelerate + DeepSpeed ZeRO-3."
)
_FULL = typer.Option(False, "--full", help="Full fine-tuning instead of LoRA.")
_STEPS = typer.Option(None, "--max-steps", min=1, help="Stop each phase after this many steps.")
_RESUME = typer.Option(False, "--resume", help="Continue from the last checkpoints.")
_DRY = typer.Option(False, "--dry-run", help="Print the resolved config and launch command.")
_SET = typer.Option(None, "--set", help="Override a setting: key.path=value (repeatable).")


def _data(paths: list[Path] | None) -> list[str] | None:
    return [str(p.resolve()) for p in paths] if paths else None


def _start(
    stage: str,
    phase: str,
    *,
    config: Path | None,
    base: str | None,
    output: Path | None,
    gpus: int | None,
    full: bool,
    max_steps: int | None,
    resume: bool,
    dry_run: bool,
    overrides: list[str] | None,
    data: dict[str, list[str] | None],
) -> None:
    from train import config as config_mod
    from train import launch
    from train.run import phases

    cfg = config_mod.load(config, overrides)
    named = {
        "base_model": base,
        "output_dir": str(output.resolve()) if output else None,
        "gpus": gpus,
        "lora.enabled": False if full else None,
        **data,
    }
    for name in phases(stage, phase):
        key = {"stage1": "stage1", "stage2-sft": "stage2.sft", "stage2-rl": "stage2.rl"}[name]
        named[f"{key}.max_steps"] = max_steps
    for key, value in named.items():
        if value is not None:
            config_mod.set_value(cfg, key, value)
    if not Path(cfg.output_dir).is_absolute():
        cfg.output_dir = str(Path(cfg.output_dir).resolve())
    config_mod.validate(cfg, stage, phase)
    cfg.gpus = launch.resolve_gpus(cfg, check=not dry_run)
    plan = launch.plan(cfg, stage, phase, cfg.gpus, resume=resume)
    if dry_run:
        print(f"# resolved config (written to {plan.config_path} when the run starts)")
        print(cfg.dump(), end="")
        print("# launch command")
        print(plan.shell())
        return
    import importlib.util

    if importlib.util.find_spec("trl") is None:
        raise UsageError(
            "Training needs the train extra, which is not installed.",
            hint="pip install 'da-cli[train]'",
        )
    if state.quiet:
        os.environ["TQDM_DISABLE"] = "1"
    if not plan.in_process:
        state.info(f"Launching {plan.gpus} processes: {plan.shell()}")
        rc = launch.spawn(cfg, plan)
        if rc != 0:
            raise SetupError(f"Training failed in a worker process (exit status {rc}).")
        state.info(f"Done; models under {cfg.output_dir}")
        return
    from train.run import run

    # transformers prints its log lines on stdout, which carries only the result here.
    with (
        open(os.devnull, "w") if state.quiet else nullcontext(sys.stderr) as sink,
        redirect_stdout(sink),
    ):
        final = run(cfg, stage, phase, resume=resume)
    state.info(f"Done; the trained model is in {final}")
    print(final)


@app.command(
    "stage1",
    epilog=examples(
        "da train stage1 --data single_ability.jsonl",
        "da train stage1 --base tiny --max-steps 5 -o /tmp/t",
        "da train stage1 --data a.jsonl --gpus 8 --dry-run",
    ),
)
@guarded
def stage1(
    data: list[Path] = typer.Option(None, "--data", help="Messages JSONL (repeatable)."),
    config: Path = _CONFIG,
    base: str = _BASE,
    output: Path = _OUTPUT,
    gpus: int = _GPUS,
    full: bool = _FULL,
    max_steps: int = _STEPS,
    resume: bool = _RESUME,
    dry_run: bool = _DRY,
    set_: list[str] = _SET,
) -> None:
    """Stage 1: single-ability SFT (reasoning, data understanding, code)."""
    _start(
        "stage1", "all", config=config, base=base, output=output, gpus=gpus, full=full,
        max_steps=max_steps, resume=resume, dry_run=dry_run, overrides=set_,
        data={"stage1.data": _data(data)},
    )  # fmt: skip


@app.command(
    "stage2",
    epilog=examples(
        "da train stage2 --data trajectories.jsonl --tasks tasks.jsonl",
        "da train stage2 --phase rl --tasks tasks.jsonl --gpus 8",
        "da train stage2 --phase sft --data t.jsonl --set stage2.sft.epochs=1",
    ),
)
@guarded
def stage2(
    phase: Phase = typer.Option(Phase.all, "--phase", help="sft, rl, or all (sft then rl)."),
    data: list[Path] = typer.Option(None, "--data", help="Trajectory JSONL for cold-start SFT."),
    tasks: list[Path] = typer.Option(None, "--tasks", help="Task JSONL for GRPO."),
    config: Path = _CONFIG,
    base: str = _BASE,
    output: Path = _OUTPUT,
    gpus: int = _GPUS,
    full: bool = _FULL,
    max_steps: int = _STEPS,
    resume: bool = _RESUME,
    dry_run: bool = _DRY,
    set_: list[str] = _SET,
) -> None:
    """Stage 2: cold-start SFT on trajectories, then multi-turn GRPO through da's own loop.

    The SFT phase does not train on <Execute> output; GRPO rollouts run in da's sandbox.
    """
    _start(
        "stage2", phase.value, config=config, base=base, output=output, gpus=gpus, full=full,
        max_steps=max_steps, resume=resume, dry_run=dry_run, overrides=set_,
        data={"stage2.sft.data": _data(data), "stage2.rl.tasks": _data(tasks)},
    )  # fmt: skip


@app.command(
    "all",
    epilog=examples(
        "da train all --config my.yaml",
        "da train all --base tiny --max-steps 1 -o /tmp/t",
    ),
)
@guarded
def all_(
    stage1_data: list[Path] = typer.Option(None, "--stage1-data", help="Stage 1 messages JSONL."),
    data: list[Path] = typer.Option(None, "--data", help="Trajectory JSONL for cold-start SFT."),
    tasks: list[Path] = typer.Option(None, "--tasks", help="Task JSONL for GRPO."),
    config: Path = _CONFIG,
    base: str = _BASE,
    output: Path = _OUTPUT,
    gpus: int = _GPUS,
    full: bool = _FULL,
    max_steps: int = _STEPS,
    resume: bool = _RESUME,
    dry_run: bool = _DRY,
    set_: list[str] = _SET,
) -> None:
    """The whole curriculum from one config: stage 1, then stage 2 (SFT, then GRPO)."""
    _start(
        "all", "all", config=config, base=base, output=output, gpus=gpus, full=full,
        max_steps=max_steps, resume=resume, dry_run=dry_run, overrides=set_,
        data={
            "stage1.data": _data(stage1_data),
            "stage2.sft.data": _data(data),
            "stage2.rl.tasks": _data(tasks),
        },
    )  # fmt: skip


@app.command(
    "export",
    epilog=examples(
        "da train export da-train -o my.gguf",
        "da train export da-train --quant q8_0 -o my-q8.gguf",
    ),
)
@guarded
def export(
    source: Path = typer.Argument(
        ..., help="A trained model folder, a LoRA checkpoint, or a training output directory."
    ),
    output: Path = typer.Option(None, "--output", "-o", help="The .gguf to write."),
    quant: str = typer.Option("q4_k_m", "--quant", help="q4_k_m, q5_k_m, q6_k, q8_0, f16 or bf16."),
) -> None:
    """Merge adapters and write a quantized GGUF that `da analyze --model` loads."""
    from train import export as export_mod

    if not source.exists():
        raise UsageError(f"{source} does not exist.")
    out = output or source / f"model-{quant}.gguf"
    with state.console.status("Exporting…") if not state.quiet else nullcontext():
        result = export_mod.export(source, out, quant)
    state.info(
        f"Wrote {result.path} ({result.size / 1e6:,.1f} MB, {quant}) from {result.source} "
        f"in {result.seconds:.1f} s"
    )
    print(result.path)
