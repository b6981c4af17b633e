"""Every training setting in one tree of dataclasses, read from YAML (or JSON) and flags.

Precedence: flags (`--set stage2.rl.group_size=4` and the named ones) > the `--config`
file > `configs/default.yaml` > the defaults below. The resolved tree is written next to the
checkpoints (`config.yaml`), so a run can be repeated or resumed from what it actually used.
Relative data paths in a config file are relative to that file; on the command line, to the
current directory.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from da_cli.errors import UsageError
from da_cli.models.catalog import SMALL_MODEL

CONFIG_DIR = Path(__file__).parent / "configs"
DEFAULT_CONFIG = CONFIG_DIR / "default.yaml"


@dataclass
class LoraSettings:
    enabled: bool = True
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: str | list[str] = "all-linear"
    # The 10 tag tokens are new rows of the embedding and the head: they must be trained
    # whole. (`trainable_token_indices` would be leaner but crashes in TRL's fused LM head.)
    modules_to_save: list[str] = field(default_factory=lambda: ["embed_tokens", "lm_head"])
    # Of those saved modules' rows, train only the tags' (the rest of the vocabulary keeps the
    # base's weights). Training all 151k rows of a 0.5B's embedding and head on a few hundred
    # items moved words the items never use: the first measured stage-1 run lost 11 of 41
    # held-out questions it had right.
    tag_rows_only: bool = True


@dataclass
class SftSettings:
    data: list[str] = field(default_factory=list)  # chat `messages` JSON Lines files
    learning_rate: float = 5e-5
    epochs: float = 3.0
    max_steps: int = -1  # > 0 overrides epochs
    max_length: int = 8192
    batch_size: int = 1  # per device
    grad_accum: int = 8
    packing: bool = False  # needs a flash-attention kernel to keep sequences apart
    warmup_ratio: float = 0.03
    save_steps: int = 500
    # Held-out items (chat JSON Lines, e.g. synth's NAME.heldout.jsonl): their loss is taken
    # at every save, the best checkpoint becomes the stage's model, and training stops after
    # `patience` saves without a better loss. Only eval_items of them, spread over the files:
    # on a CPU a forward pass over a long item takes seconds.
    eval_data: list[str] = field(default_factory=list)
    eval_items: int = 16
    patience: int = 2  # 0: never stop early (the best checkpoint is still kept)


@dataclass
class RlSettings:
    tasks: list[str] = field(default_factory=list)  # task JSON Lines: question, files, reference
    learning_rate: float = 5e-7
    group_size: int = 5  # rollouts per task (GRPO's group)
    tasks_per_step: int = 1  # per device
    grad_accum: int = 1
    # Rollouts in one forward and backward pass (0: a step's whole group at once). The loss
    # holds each sequence's logits over the whole vocabulary, so on a CPU a group of long
    # rollouts at once outgrows the memory (a 0.5B group of 4 passed 23 GB): 1 keeps it small.
    micro_batch: int = 0
    max_steps: int = 200
    max_turns: int = 30  # model generations per rollout, like the DeepAnalyze RL runs
    turn_tokens: int = 1024  # completion tokens per generation
    max_tokens: int = 8192  # completion tokens per rollout
    exec_timeout_s: float = 10.0  # per code cell
    memory_mb: int = 8192  # address space of the sandbox worker
    temperature: float = 1.0
    top_p: float = 1.0
    # Rollouts under the protocol grammar `da analyze` runs with (not for a DeepAnalyze
    # checkpoint, which runs without one): an untrained policy otherwise writes no tags, and
    # a group whose every rollout fails the format gate has no advantage to learn from.
    grammar: bool = True
    beta: float = 0.0  # KL coefficient; 0 means no reference model in memory
    judge: str | None = None  # a `da` model spec (embedded name, .gguf, replay:PATH)
    # Datarus-style curriculum: the weight of structure (executions that succeed, enough
    # turns) against accuracy falls along a cosine from start to end over the run.
    structure_weight_start: float = 0.7
    structure_weight_end: float = 0.1
    full_turns: int = 10  # turns at which the turn factor reaches 1 (DeepAnalyze: 10)
    save_steps: int = 50


@dataclass
class Stage2Settings:
    sft: SftSettings = field(
        default_factory=lambda: SftSettings(learning_rate=5e-6, max_length=32768)
    )
    rl: RlSettings = field(default_factory=RlSettings)


@dataclass
class TrainConfig:
    # An embedded model name, a .gguf file, a Hugging Face model directory, or "tiny" (a
    # random-init two-layer Qwen2 with the real tokenizer, for smoke runs on CPU).
    base_model: str = SMALL_MODEL
    output_dir: str = "da-train"
    seed: int = 0
    gpus: int | None = None  # None: 1 when CUDA is available, else 0 (CPU)
    dtype: str = "auto"  # auto: bf16 on GPU, fp32 on CPU
    gradient_checkpointing: bool = False
    deepspeed: str = "zero3.json"  # a file in train/configs/, or a path
    logging_steps: int = 1
    save_total_limit: int = 2
    lora: LoraSettings = field(default_factory=LoraSettings)
    stage1: SftSettings = field(default_factory=SftSettings)
    stage2: Stage2Settings = field(default_factory=Stage2Settings)

    @property
    def out(self) -> Path:
        return Path(self.output_dir)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def dump(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)


_PATH_FIELDS = {
    ("stage1", "data"),
    ("stage1", "eval_data"),
    ("stage2", "sft", "data"),
    ("stage2", "sft", "eval_data"),
    ("stage2", "rl", "tasks"),
}


def load(path: Path | None = None, overrides: list[str] | None = None) -> TrainConfig:
    """The default config, then `path` over it, then `key.path=value` overrides."""
    cfg = TrainConfig()
    _apply(cfg, _read(DEFAULT_CONFIG), DEFAULT_CONFIG.parent, ())
    if path is not None:
        _apply(cfg, _read(path), path.resolve().parent, ())
    for item in overrides or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"Override '{item}' is not of the form key.path=value.")
        set_value(cfg, key.strip(), yaml.safe_load(raw) if raw.strip() else None)
    return cfg


def set_value(cfg: TrainConfig, dotted: str, value: Any, base: Path | None = None) -> None:
    """Set one setting by its dotted name, with the type and path checks of a config file."""
    parts = tuple(dotted.split("."))
    tree: dict[str, Any] = value
    for p in reversed(parts):
        tree = {p: tree}
    _apply(cfg, tree, base or Path.cwd(), ())


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))  # JSON is YAML too
    except OSError as e:
        raise UsageError(f"Cannot read config {path}: {e.strerror}.") from e
    except yaml.YAMLError as e:
        raise UsageError(f"Config {path} is not valid YAML or JSON.") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"Config {path} must hold a mapping of settings.")
    return data


def _apply(obj: Any, values: dict[str, Any], base: Path, prefix: tuple[str, ...]) -> None:
    names = {f.name: f for f in dataclasses.fields(obj)}
    for key, value in values.items():
        where = ".".join((*prefix, str(key)))
        if key not in names:
            raise UsageError(f"Unknown training setting '{where}'.")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise UsageError(f"Setting '{where}' must be a mapping.")
            _apply(current, value, base, (*prefix, key))
            continue
        if (*prefix, key) in _PATH_FIELDS:
            value = _paths(value, base, where)
        setattr(obj, key, _coerce(value, current, names[key], where))


def _paths(value: Any, base: Path, where: str) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
        raise UsageError(f"Setting '{where}' must be a path or a list of paths.")
    return [str((base / Path(v).expanduser()).resolve()) for v in items]


def _coerce(value: Any, current: Any, f: dataclasses.Field, where: str) -> Any:
    """Check a value against the setting's type (YAML already parsed numbers and booleans)."""
    if value is None:
        if "None" in str(f.type):
            return None
        raise UsageError(f"Setting '{where}' cannot be empty.")
    if isinstance(current, bool) or f.type == "bool":
        if not isinstance(value, bool):
            raise UsageError(f"Setting '{where}' must be true or false.")
        return value
    if isinstance(current, float) or f.type == "float":
        # YAML 1.1 reads "1e-4" (no dot) as a string: accept any float spelling.
        try:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        except (TypeError, ValueError):
            raise UsageError(f"Setting '{where}' must be a number.") from None
    if isinstance(current, int) or f.type.startswith("int"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise UsageError(f"Setting '{where}' must be a whole number.")
        return value
    if f.type.startswith("str") and "list" not in f.type and not isinstance(value, str):
        raise UsageError(f"Setting '{where}' must be a string.")
    return value


def validate(cfg: TrainConfig, stage: str, phase: str = "all") -> None:
    """Fail before any model loads when a stage cannot run with these settings."""
    s1 = stage in ("stage1", "all")
    sft = stage in ("stage2", "all") and phase in ("sft", "all")
    rl = stage in ("stage2", "all") and phase in ("rl", "all")
    needed = [
        (s1, cfg.stage1.data, "Stage 1 needs data: give --data FILE.jsonl or set stage1.data."),
        (
            sft,
            cfg.stage2.sft.data,
            "Stage 2's cold-start SFT needs data: give --data FILE.jsonl or set stage2.sft.data.",
        ),
        (
            rl,
            cfg.stage2.rl.tasks,
            "Stage 2's GRPO needs tasks: give --tasks FILE.jsonl or set stage2.rl.tasks.",
        ),
    ]
    for wanted, files, missing in needed:
        if not wanted:
            continue
        if not files:
            raise UsageError(missing)
        for path in files:
            if not Path(path).is_file():
                raise UsageError(f"Training data file {path} does not exist.")
    for wanted, name, sft_settings in (
        (s1, "stage1", cfg.stage1),
        (sft, "stage2.sft", cfg.stage2.sft),
    ):
        if not (wanted and sft_settings.eval_data):
            continue
        for path in sft_settings.eval_data:
            if not Path(path).is_file():
                raise UsageError(f"Held-out data file {path} ({name}.eval_data) does not exist.")
        if sft_settings.eval_items < 1:
            raise UsageError(f"{name}.eval_items must be at least 1.")
    if rl and cfg.stage2.rl.group_size < 2:
        raise UsageError(
            "stage2.rl.group_size must be at least 2: GRPO compares rollouts in a group."
        )
    per_step = cfg.stage2.rl.group_size * cfg.stage2.rl.tasks_per_step
    if rl and (cfg.stage2.rl.micro_batch < 0 or per_step % (cfg.stage2.rl.micro_batch or 1)):
        raise UsageError(
            f"stage2.rl.micro_batch must divide the rollouts of a step ({per_step}: group_size "
            "times tasks_per_step), or be 0 for all of them at once."
        )
    if rl and (cfg.stage2.rl.temperature <= 0 or cfg.stage2.rl.top_p <= 0):
        # Greedy decoding plays every rollout of a group the same way: equal rewards, a
        # group advantage of zero, and a run that spends its steps learning nothing (the
        # failure of a peer's published GRPO script, which samples at temperature 0).
        raise UsageError(
            f"stage2.rl.temperature is {cfg.stage2.rl.temperature:g} and top_p "
            f"{cfg.stage2.rl.top_p:g}: every rollout of a GRPO group would be identical, so "
            "their advantage is zero and nothing is learned. Sample: temperature > 0 "
            "(the default is 1.0) and top_p > 0."
        )
    if cfg.gpus is not None and cfg.gpus < 0:
        raise UsageError("--gpus must be 0 (CPU) or more.")


def deepspeed_config(cfg: TrainConfig) -> Path:
    path = Path(cfg.deepspeed).expanduser()
    if not path.is_absolute() and (CONFIG_DIR / path).is_file():
        path = CONFIG_DIR / path
    if not path.is_file():
        raise UsageError(f"DeepSpeed config {cfg.deepspeed} does not exist.")
    return path.resolve()
