"""The whole curriculum in one command, evaluated: corpus, training data, training, export,
and accuracy before and after on questions and datasets training never saw.

    python -m train.recipe --config train/configs/cpu.yaml -o recipe/            # this laptop
    python -m train.recipe --config train/configs/gpu.yaml --gpus 1 -o recipe/   # one GPU
    python -m train.recipe --config train/configs/gpu.yaml --gpus 8 --solver qwen2.5-coder-1.5b \\
        --dabench ../shared/eval/dabench-dev -o recipe/                          # 8 GPUs

Each step is a `da` command (or `python -m train.corpus`), printed before it runs, so the
recipe is the list of what a person would type; `--dry-run` prints the list and runs nothing.
A step whose output exists is skipped, so an interrupted recipe resumes where it stopped.

1. `train.corpus`: seeded datasets over nine domains, whole datasets held out.
2. `da synth` on the training datasets: stage-1 items (`--kind code`, `--kind understand`;
   no model), stage-2 trajectories solved by `--solver` and kept by the inspector (rejection
   sampling; the accept rate is in the step's JSON summary), and GRPO tasks. With
   `--recoveries SHARE`, that share of the kept trajectories is trained with a failed first
   cell before its fix (`train.recovery`).
3. `da synth --questions-only` on the held-out datasets: the evaluation questions, with labels
   computed by code.
4. `da train all`, then `da train export` to a GGUF.
5. `da eval tasks` with the base model and the trained one on the held-out questions (and
   `da eval dabench` on `--dabench DIR` when given), then `da eval compare`: accuracy before
   and after with McNemar's exact test, in `eval/results.json`.
"""

import argparse
import json
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from da_cli.models.catalog import SMALL_MODEL
from da_cli.synth.record import heldout_path


@dataclass
class Step:
    name: str
    argv: list[str]
    output: Path  # the step is done when this exists
    stdout: Path | None = None  # where the command's stdout goes (JSON summaries)


TRAIN_STEP = {
    "all": "train the curriculum",
    "stage1": "train stage 1",
    "stage2-sft": "train stage 2 (cold-start SFT)",
}


def _da(*args: object) -> list[str]:
    return [sys.executable, "-m", "da_cli", *map(str, args)]


def _sources(out: Path, split: str) -> list[str]:
    """The datasets of one split, as `da synth` takes them: a file, or the folder of a
    dataset made of several CSV files."""
    manifest = json.loads((out / "corpus" / "manifest.json").read_text())
    paths = []
    for m in manifest:
        if m["split"] != split:
            continue
        files = [out / "corpus" / f for f in m["files"]]
        paths.append(str(files[0].parent if len(files) > 1 else files[0]))
    return paths


def steps(a: argparse.Namespace) -> list[Step]:
    out: Path = a.output
    data, ev = out / "data", out / "eval"
    corpus = [sys.executable, "-m", "train.corpus", out / "corpus", "--n", a.datasets]
    s = [Step("corpus", [str(x) for x in corpus], out / "corpus" / "manifest.json")]
    only1 = a.stages == "stage1"
    # Cold-start SFT alone on the solver's verified trajectories (rejection sampling: with the
    # base model as the solver, it learns from its own answers that checked out).
    only2 = a.stages == "stage2-sft"
    train_src = "{train}"  # filled in once the corpus exists (its manifest names them)
    held_src = "{heldout}"
    s += [] if only2 else [
        Step("stage-1 code items",
             _da("synth", train_src, "--kind", "code", "--n", a.code_items, "-o",
                 data / "code.jsonl", "--json"),
             data / "code.jsonl", data / "code.summary.json"),
        Step("stage-1 understanding items",
             _da("synth", train_src, "--kind", "understand", "-o", data / "understand.jsonl",
                 "--json"),
             data / "understand.jsonl", data / "understand.summary.json"),
    ]  # fmt: skip
    if not only1:  # stage 1 alone needs no model to make its data: a run of an hour or two
        s += [
            Step("stage-2 trajectories (solved, inspected)",
                 _da("synth", train_src, "--n", a.trajectories, "-m", a.solver or a.base,
                     "--attempts", a.attempts, "-o", data / "trajectories.jsonl",
                     "--keep-rejected", "--json"),
                 data / "trajectories.jsonl", data / "trajectories.summary.json"),
        ]  # fmt: skip
    trajectories = data / "trajectories.jsonl"
    if a.recoveries and not only1:
        # Kept analyses nearly always ran at once: show a share of them a failed cell first.
        recovered = data / "trajectories.recovery.jsonl"
        s += [
            Step("recovery variants (a failed first cell, then the fix)",
                 [sys.executable, "-m", "train.recovery", str(trajectories), "-o", str(recovered),
                  "--share", str(a.recoveries)],
                 recovered, data / "recovery.summary.json"),
        ]  # fmt: skip
        trajectories = recovered
    if a.stages == "all":
        s += [
            Step("GRPO tasks",
                 _da("synth", train_src, "--questions-only", "--n", a.tasks, "-o",
                     data / "tasks.jsonl", "--json"),
                 data / "tasks.jsonl", data / "tasks.summary.json"),
        ]  # fmt: skip
    s += [
        Step("evaluation questions (held-out datasets)",
             _da("synth", held_src, "--questions-only", "--heldout", "0", "--n", a.eval_questions,
                 "-o", data / "heldout-tasks.jsonl", "--json"),
             data / "heldout-tasks.jsonl", data / "heldout-tasks.summary.json"),
    ]  # fmt: skip
    # Stage 1 alone trains into its own folder, so its model never passes for the curriculum's.
    tag = {"all": ""}.get(a.stages, f"-{a.stages}")
    model, gguf = out / f"model{tag}", out / f"model{tag}.gguf"
    flag = "--data" if only1 else "--stage1-data"  # `da train stage1` calls its data --data
    stage1_data = [flag, data / "code.jsonl", flag, data / "understand.jsonl"]
    # Stage 1's loss on held-out templates picks its best checkpoint and stops it early: the
    # first measured run, at loss 0.30, had learned its templates' wording.
    held_out = ["--set", f"stage1.eval_data={heldout_path(data / 'code.jsonl')}"]
    if only1:
        train = _da("train", "stage1", "--config", a.config, "--base", a.base, "-o", model,
                    *stage1_data, *held_out)  # fmt: skip
        done = model / "stage1" / "final"
    elif only2:  # its loss on held-out trajectories (whole questions) picks the checkpoint
        held = f"stage2.sft.eval_data={heldout_path(data / 'trajectories.jsonl')}"
        train = _da("train", "stage2", "--phase", "sft", "--config", a.config, "--base", a.base,
                    "-o", model, "--data", trajectories, "--set", held)  # fmt: skip
        done = model / "stage2-sft" / "final"
    else:
        train = _da("train", "all", "--config", a.config, "--base", a.base, "-o", model,
                    *stage1_data, "--data", trajectories,
                    "--tasks", data / "tasks.jsonl", *held_out)  # fmt: skip
        done = model / "stage2-rl" / "final"
    if a.gpus is not None:
        train += ["--gpus", str(a.gpus)]
    for setting in a.set or []:
        train += ["--set", setting]
    s += [
        Step(TRAIN_STEP[a.stages], train, done),
        Step("export", _da("train", "export", model, "-o", gguf), gguf),
    ]
    evals = [("heldout", ["tasks", data / "heldout-tasks.jsonl"])]
    if a.dabench:
        evals.append(("dabench", ["dabench", "--data", a.dabench]))
    for name, args in evals:
        before, after = ev / f"{name}-base.jsonl", ev / f"{name}-trained{tag}.jsonl"
        s += [
            Step(f"{name}: base model", _da("eval", *args, "-m", a.base, "-o", before, "--json"),
                 before.with_suffix(".summary.json"), before.with_suffix(".summary.json")),
            Step(f"{name}: trained model", _da("eval", *args, "-m", gguf, "-o", after, "--json"),
                 after.with_suffix(".summary.json"), after.with_suffix(".summary.json")),
            Step(f"{name}: before and after, paired",
                 _da("eval", "compare", before, after, "--json"),
                 ev / f"{name}-compare{tag}.json", ev / f"{name}-compare{tag}.json"),
        ]  # fmt: skip
    return s


def _expand(argv: list[str], out: Path) -> list[str]:
    """The corpus's datasets in place of the {train} / {heldout} placeholders."""
    expanded: list[str] = []
    for x in argv:
        if x in ("{train}", "{heldout}"):
            expanded += _sources(out, x.strip("{}"))
        else:
            expanded.append(x)
    return expanded


def results(out: Path) -> dict:
    """Every comparison and data summary the recipe wrote, in one object."""
    r: dict = {}
    for p in sorted((out / "eval").glob("*-compare*.json")):
        r[p.stem] = json.loads(p.read_text())
    for p in sorted((out / "data").glob("*.summary.json")):
        r[p.name.removesuffix(".summary.json")] = json.loads(p.read_text())
    return r


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.recipe", description=__doc__.split("\n")[0])
    p.add_argument("-o", "--output", type=Path, default=Path("recipe"))
    p.add_argument("--config", default="train/configs/cpu.yaml", help="training config (YAML)")
    p.add_argument("--base", default=SMALL_MODEL, help="the model to train")
    p.add_argument("--solver", help="who solves the stage-2 trajectories (default: --base)")
    p.add_argument("--gpus", type=int, help="0 for CPU; N > 1: accelerate + DeepSpeed ZeRO-3")
    p.add_argument("--datasets", type=int, default=36)
    p.add_argument("--code-items", type=int, default=1000)
    p.add_argument("--trajectories", type=int, default=300, help="questions tried")
    p.add_argument("--attempts", type=int, default=1, help="analyses a trajectory question may get")
    p.add_argument(
        "--recoveries",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="the share of kept trajectories trained with a failed first cell before the fix "
        "(python -m train.recovery)",
    )
    p.add_argument("--tasks", type=int, default=200, help="GRPO tasks")
    p.add_argument("--eval-questions", type=int, default=120)
    p.add_argument("--dabench", help="also evaluate on this DABench dir (all its questions)")
    p.add_argument(
        "--stages",
        choices=list(TRAIN_STEP),
        default="all",
        help="the whole curriculum; stage 1 alone (no model makes its data); or the cold-start "
        "SFT alone on the solver's verified trajectories (the base model's own: rejection "
        "sampling)",
    )
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="a training setting for `da train` (repeatable), e.g. stage1.max_steps=40",
    )
    p.add_argument("--dry-run", action="store_true", help="print the steps and run nothing")
    p.add_argument("--until", type=int, help="run only the steps up to this number")
    a = p.parse_args(argv)
    a.output = a.output.resolve()
    plan = steps(a)[: a.until]
    for i, step in enumerate(plan, 1):
        shown = " ".join(shlex.quote(x) for x in step.argv)
        if step.stdout:
            shown += f" > {shlex.quote(str(step.stdout))}"
        done = step.output.exists()
        print(f"# {i}/{len(plan)} {step.name}{' (done)' if done else ''}\n{shown}", flush=True)
        if a.dry_run or done:
            continue
        cmd = _expand(step.argv, a.output)
        if step.stdout is None:
            r = subprocess.run(cmd)
        else:
            step.stdout.parent.mkdir(parents=True, exist_ok=True)
            r = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
            if r.returncode in (0, 6):
                step.stdout.write_text(r.stdout)
        if r.returncode not in (0, 6):  # 6: a budget ran out, the result is still written
            print(f"step {i} ({step.name}) failed with exit {r.returncode}", file=sys.stderr)
            return r.returncode
    if not a.dry_run and a.until is None:
        (a.output / "eval").mkdir(parents=True, exist_ok=True)
        summary = results(a.output)
        (a.output / "eval" / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
        print(json.dumps({k: v for k, v in summary.items() if k.endswith("compare")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
