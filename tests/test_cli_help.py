"""Help that teaches: every command's --help fits 80 columns and ends with real examples
(commands and options that exist), and shell completion works for bash, zsh and fish,
completing `--model` with the embedded model names."""

import shlex

import pytest
import typer
from typer.testing import CliRunner

from da_cli.cli import app
from da_cli.models.catalog import EMBEDDED

ROOT_COMMAND = typer.main.get_command(app)


def commands(cmd=ROOT_COMMAND, path: tuple[str, ...] = ()):
    """Every command and group, with its path of names under `da`."""
    yield path, cmd
    if hasattr(cmd, "commands"):  # a group (typer vendors click: no click.Group to test)
        for name, sub in cmd.commands.items():
            yield from commands(sub, (*path, name))


ALL = list(commands())


def help_text(path: tuple[str, ...]) -> str:
    r = CliRunner().invoke(app, [*path, "--help"], prog_name="da", terminal_width=80)
    assert r.exit_code == 0, r.output
    return r.output


def resolve(words: list[str]):
    """The command an example runs, and the options it passes to it."""
    cmd, options = ROOT_COMMAND, []
    for word in words:
        if word in ("|", ">", "<"):
            break
        if word.startswith("-") and word != "-":  # "-" alone is stdin, an argument
            options.append(word.split("=")[0])
        elif word in getattr(cmd, "commands", {}):
            cmd = cmd.commands[word]
    return cmd, options


@pytest.mark.parametrize("path", [p for p, _ in ALL], ids=lambda p: " ".join(("da", *p)))
def test_help_fits_80_columns_and_ends_with_real_examples(path):
    text = help_text(path)
    assert max(len(line) for line in text.splitlines()) <= 80, text
    head, _, tail = text.rpartition("\n  Examples:\n")
    assert head, f"da {' '.join(path)} --help has no examples"
    examples = [line.strip() for line in tail.splitlines() if line.strip()]
    assert 2 <= len(examples) <= 4 if path else len(examples) == 4, examples
    for example in examples:
        words = shlex.split(example)
        while "=" in words[0]:  # an environment assignment before the command
            words.pop(0)
        assert words[0] == "da", example
        cmd, options = resolve(words[1:])
        known = {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)}
        known |= {o for p in ROOT_COMMAND.params for o in p.opts}  # global options
        assert set(options) <= known, f"{example}: {set(options) - known} not options of it"
        if path:  # a command's own help shows that command (or one under it)
            names = [w for w in words[1:] if not w.startswith("-")]
            assert names[: len(path)] == list(path), example


def test_the_examples_checker_can_fail():
    cmd, options = resolve(shlex.split("models list --no-such-flag"))
    assert cmd.name == "list" and options == ["--no-such-flag"]
    assert "--no-such-flag" not in {o for p in cmd.params for o in p.opts}


@pytest.mark.parametrize(
    ("shell", "marker"),
    [
        ("bash", "complete -o default -F _da_completion da"),
        ("zsh", "#compdef da"),
        ("fish", "complete --command da"),
    ],
)
def test_completion_scripts_generate(shell, marker):
    r = CliRunner().invoke(app, [], prog_name="da", env={"_DA_COMPLETE": f"source_{shell}"})
    assert r.exit_code == 0
    assert marker in r.output and "_DA_COMPLETE" in r.output


def test_install_and_show_completion_are_offered():
    text = help_text(())
    assert "--install-completion" in text and "--show-completion" in text


@pytest.mark.parametrize("command", ["analyze", "report", "eval dabench"])
def test_model_completion_lists_the_embedded_names(command):
    words = f"da {command} --model "
    env = {"_DA_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": "3"}
    if command == "eval dabench":
        env["COMP_CWORD"] = "4"
    r = CliRunner().invoke(app, [], prog_name="da", env=env)
    assert r.output.split() == list(EMBEDDED)
    # A prefix narrows it, and fish gets each name's description too.
    fish = {
        "_DA_COMPLETE": "complete_fish",
        "_TYPER_COMPLETE_FISH_ACTION": "get-args",
        "_TYPER_COMPLETE_ARGS": f"da {command} -m qwen2.5-coder-1",
    }
    r = CliRunner().invoke(app, [], prog_name="da", env=fish)
    name = "qwen2.5-coder-1.5b"
    assert r.output.splitlines() == [f"{name}\t{EMBEDDED[name].description}"]
