"""Layered settings: a flag beats a `DA_*` environment variable, which beats the project's
`./da.toml`, which beats the user's `config.toml` (`$DA_HOME/config.toml`, else the
platform's user config dir), which beats the built-in default.

Every resolved value carries its origin, so `da config show` can say where each one came
from and an error can name the file and line of a bad value. A bad value anywhere is a
`UsageError` (exit 2) in one sentence: a typo in a config file must not silently fall back
to a default. The keys are few and flat on purpose (nanochat: no config framework):
shared ones at the top level, a command's own budgets under its table (`[analyze]`,
`[report]`, `[eval]`). `da eval` reads only `eval.*` budgets, so a user's `analyze`
budgets never change what DABench measures.
"""

import json
import os
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from platformdirs import user_config_dir

from da_cli import paths
from da_cli.agent.vote import VOTE_WHEN
from da_cli.errors import UsageError
from da_cli.models.catalog import DEFAULT_MODEL

PROJECT_FILE = "da.toml"


@dataclass(frozen=True)
class Key:
    """One setting: its dotted name, type, default, bounds and what it does."""

    name: str
    kind: type  # int, float or str
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None
    unset: str = ""  # what a None value means, as `da config show` prints it
    choices: tuple[str, ...] = ()  # a string key's only values, when it has a fixed few

    @property
    def env(self) -> str:
        """Its environment variable: `analyze.max_turns` -> `DA_ANALYZE_MAX_TURNS`."""
        return "DA_" + self.name.upper().replace(".", "_")

    @property
    def attr(self) -> str:
        """Its field in `Settings`: `analyze.max_turns` -> `analyze_max_turns`."""
        return self.name.replace(".", "_")

    def describe(self) -> str:
        """What a valid value is, for error messages."""
        if self.choices:
            return "one of " + ", ".join(f'"{c}"' for c in self.choices)
        what = {int: "a whole number", float: "a number", str: "a string"}[self.kind]
        if self.minimum is not None and self.maximum is not None:
            return f"{what} from {_num(self.minimum)} to {_num(self.maximum)}"
        if self.minimum is not None:
            return f"{what} of at least {_num(self.minimum)}"
        return what

    def convert(self, raw: Any) -> Any:
        """`raw` (a TOML value or an environment string) as this key's type, or ValueError
        with the sentence's tail ("must be … , not …")."""
        value = raw
        if isinstance(raw, str) and self.kind is not str:
            try:
                value = self.kind(raw.strip())
            except ValueError:
                value = None
        elif self.kind is float and isinstance(raw, int) and not isinstance(raw, bool):
            value = float(raw)
        if (
            value is None
            or isinstance(value, bool)
            or not isinstance(value, self.kind)
            or (self.kind is str and not value.strip())
            or (self.choices and value not in self.choices)
            or (self.minimum is not None and value < self.minimum)
            or (self.maximum is not None and value > self.maximum)
        ):
            raise ValueError(f"must be {self.describe()}, not {_show(raw)}")
        return value


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _show(raw: Any) -> str:
    return json.dumps(raw) if isinstance(raw, str) else repr(raw)


# The analyze/report/eval defaults are the commands' own, unchanged; eval's are the budget
# the README's DABench figures were measured with.
KEYS: tuple[Key, ...] = (
    Key("model", str, DEFAULT_MODEL, "embedded name, .gguf path, openai:URL#NAME, replay:PATH"),
    Key("threads", int, None, "llama.cpp threads", 1, unset="auto: physical cores"),
    Key(
        "gpu_layers",
        int,
        None,
        "layers offloaded to the GPU (-1 all, 0 none)",
        -1,
        unset="auto: all on a GPU build",
    ),
    Key("cell_timeout", float, 60.0, "most seconds a code cell (analyze, report)", 1),
    Key("memory", int, 8192, "address-space limit of the code worker in MB (analyze, report)", 16),
    Key("analyze.max_turns", int, 10, "most model steps", 1),
    Key("analyze.max_tokens", int, 6000, "most generated tokens", 64),
    Key("analyze.timeout", float, None, "most seconds in all", 1, unset="none"),
    Key("analyze.samples", int, 1, "analyses decoded together and voted by evidence", 1, 8),
    Key(
        "analyze.vote",
        str,
        "always",
        "when the other samples run: always, or only when the greedy answer is unsure",
        choices=VOTE_WHEN,
    ),
    Key("report.angles", int, 3, "survey findings the model analyses itself", 0, 8),
    Key("report.max_turns", int, 4, "most model steps per angle", 1),
    Key("report.max_tokens", int, 2000, "most generated tokens per angle", 64),
    Key("report.timeout", float, None, "most seconds for all analyses", 1, unset="none"),
    # eval's defaults are analyze's, so the headline figure is what a user gets; cheaper
    # settings are explicit flags, stated beside each figure they produce.
    Key("eval.max_turns", int, 10, "most model steps a question", 1),
    Key("eval.max_tokens", int, 6000, "most generated tokens a question", 64),
    Key("eval.timeout", float, None, "most seconds a question", 1, unset="none"),
    Key("eval.cell_timeout", float, 60.0, "most seconds a cell", 1),
    Key("eval.samples", int, 1, "analyses a question, voted by evidence", 1, 8),
    Key("eval.vote", str, "always", "when the other samples run", choices=VOTE_WHEN),
)
BY_NAME = {k.name: k for k in KEYS}


@dataclass(frozen=True)
class Settings:
    """Every setting resolved, with `origins[name]`: "flag", "env DA_X", "FILE:LINE" or
    "default". None means "decided later" (threads by core count, GPU layers by
    backend) or "no limit" (a timeout), as the key's `unset` says."""

    model: str
    threads: int | None
    gpu_layers: int | None
    cell_timeout: float
    memory: int
    analyze_max_turns: int
    analyze_max_tokens: int
    analyze_timeout: float | None
    analyze_samples: int
    analyze_vote: str
    report_angles: int
    report_max_turns: int
    report_max_tokens: int
    report_timeout: float | None
    eval_max_turns: int
    eval_max_tokens: int
    eval_timeout: float | None
    eval_cell_timeout: float
    eval_samples: int
    eval_vote: str
    origins: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> Any:
        return getattr(self, BY_NAME[name].attr)


def user_file() -> Path:
    """The user's config file: `$DA_HOME/config.toml` when DA_HOME is set (tests), else
    the platform's user config dir (`~/.config/da/config.toml` on Linux)."""
    base = paths.home()
    return base / "config.toml" if base else Path(user_config_dir("da")) / "config.toml"


def project_file(cwd: Path | None = None) -> Path:
    return (cwd or Path.cwd()) / PROJECT_FILE


def resolve(
    flags: dict[str, Any] | None = None,
    *,
    cwd: Path | None = None,
    environ: dict[str, str] | None = None,
) -> Settings:
    """The settings for one command. `flags` maps key names to the command line's values,
    None where a flag was not given; flag values are already checked by the CLI's own
    bounds. Raises UsageError naming the variable, or the file and line, of a bad value."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {k.name: k.default for k in KEYS}
    origins: dict[str, str] = {k.name: "default" for k in KEYS}
    for path in (user_file(), project_file(cwd)):  # lowest first: later layers overwrite
        for name, (value, line) in read_file(path).items():
            values[name], origins[name] = value, f"{path}:{line}"
    for key in KEYS:
        raw = environ.get(key.env)
        if raw is None or raw == "":
            continue
        try:
            values[key.name] = key.convert(raw)
        except ValueError as e:
            raise UsageError(f"{key.env} {e}.", hint=f"Fix or unset {key.env}.") from None
        origins[key.name] = f"env {key.env}"
    for name, value in (flags or {}).items():
        if value is not None:
            values[BY_NAME[name].name], origins[name] = value, "flag"
    return Settings(**{BY_NAME[n].attr: v for n, v in values.items()}, origins=origins)


def read_file(path: Path) -> dict[str, tuple[Any, int]]:
    """The settings a TOML file sets, each with its line, or {} when there is no file.
    A syntax error, an unknown key or a bad value is a UsageError naming file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):  # an unusable DA_HOME fails where written
        return {}
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"da cannot read its config file {path}: {e}.") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UsageError(
            f"{path} is not valid TOML: {e}.", hint="Fix the file, or remove it."
        ) from None
    found: dict[str, tuple[Any, int]] = {}
    for name, raw in _flatten(data):
        line = find_line(text, name)
        where = f"{path}, line {line}" if line else str(path)
        key = BY_NAME.get(name)
        if key is None:
            raise UsageError(
                f"{where}: unknown setting '{name}'.",
                hint="The settings are: " + ", ".join(BY_NAME) + ".",
            )
        try:
            found[name] = (key.convert(raw), line)
        except ValueError as e:
            raise UsageError(f"{where}: {name} {e}.") from None
    return found


def _flatten(data: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for k, v in data.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            out.extend(_flatten(v, name + "."))
        else:
            out.append((name, v))
    return out


_TABLE = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\s\"-]+?)\s*\]\s*(#.*)?$")


def find_line(text: str, name: str) -> int:
    """The 1-based line that sets dotted key `name` in TOML `text` (under its `[table]`
    header or as a dotted key), or 0 when it cannot be told."""
    table = ""
    for number, line in enumerate(text.splitlines(), 1):
        m = _TABLE.match(line)
        if m:
            table = m.group(1).replace(" ", "").replace('"', "")
            continue
        m = re.match(r"^\s*([A-Za-z0-9_.\s\"-]+?)\s*=", line)
        if m:
            key = m.group(1).replace(" ", "").replace('"', "")
            if (f"{table}.{key}" if table else key) == name:
                return number
    return 0


def check_key(name: str) -> Key:
    """The key called `name`, or a UsageError listing the keys there are."""
    key = BY_NAME.get(name)
    if key is None:
        raise UsageError(
            f"Unknown setting '{name}'.", hint="The settings are: " + ", ".join(BY_NAME) + "."
        )
    return key


def parse_value(name: str, raw: str) -> Any:
    """A value typed on the command line (`da config set KEY VALUE`), checked."""
    key = check_key(name)
    try:
        return key.convert(raw)
    except ValueError as e:
        raise UsageError(f"{name} {e}.") from None


def write_user(name: str, value: Any | None) -> Path:
    """Set `name` to `value` in the user file (None removes it), keeping the file's other
    lines and comments; the result is read back, so a file da cannot parse is not written."""
    path = user_file()
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    read_file(path)  # a broken file is reported, not overwritten
    table, _, leaf = name.rpartition(".")
    lines = text.splitlines()
    line = find_line(text, name)
    if value is None:
        if line:
            del lines[line - 1]
    elif line:
        indent = re.match(r"\s*", lines[line - 1]).group(0)  # type: ignore[union-attr]
        leaf_text = lines[line - 1].split("=", 1)[0].strip()
        lines[line - 1] = f"{indent}{leaf_text} = {_toml(value)}"
    else:
        assignment = f"{leaf} = {_toml(value)}"
        if not table:  # top-level keys must come before the first table
            at = next((i for i, s in enumerate(lines) if _TABLE.match(s)), len(lines))
            while at > 0 and not lines[at - 1].strip():  # after the last top-level line
                at -= 1
            lines.insert(at, assignment)
        else:
            header = next(
                (
                    i
                    for i, s in enumerate(lines)
                    if (m := _TABLE.match(s)) and m.group(1).replace(" ", "") == table
                ),
                None,
            )
            if header is None:
                lines += ([""] if lines and lines[-1].strip() else []) + [f"[{table}]", assignment]
            else:
                lines.insert(header + 1, assignment)
    new = "\n".join(lines) + ("\n" if lines else "")
    check = tomllib.loads(new)  # never write what cannot be read back
    del check
    paths.ensure(path.parent)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(new, encoding="utf-8")
    tmp.replace(path)
    return path


def _toml(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a TOML basic string
    return repr(value)


def show_value(name: str, value: Any) -> str:
    """A value as `da config show` prints it."""
    if value is None:
        return f"({BY_NAME[name].unset})"
    return _num(value) if isinstance(value, float) else str(value)


def settings_fields() -> list[str]:
    """The names of Settings' value fields (for the test that KEYS and Settings agree)."""
    return [f.name for f in fields(Settings) if f.name != "origins"]


def default_note(name: str) -> str:
    """The `[default: …]` tail of an option's help: the built-in default, and the setting
    that changes it."""
    key = BY_NAME[name]
    value = (
        key.unset
        if key.default is None
        else _num(key.default)
        if key.kind is float
        else key.default
    )
    return f"[default: {value}; setting {name}]"
