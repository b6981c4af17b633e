"""Replay backend: plays scripted model outputs, for tests and demos of the pipeline.

`replay:PATH` names a JSON Lines file (named for a DeepAnalyze model, it plays a native one);
line i is `{"text": "..."}`, the output of the i-th
generation call (`"finish": "length"` plays one the token limit cut). It runs through the
same loop, sandbox and rendering as a real model; `history` records every call so tests can
check what the model was shown.
"""

import json
from pathlib import Path

from da_cli.errors import ModelError
from da_cli.models.base import Generation, cut_at_stop, names_deepanalyze


class ReplayModel:
    supports_grammar = False

    def __init__(self, path: Path) -> None:
        self.name = f"replay:{path}"
        # A script named for a DeepAnalyze model plays one: the loop gives it the reference
        # prompt, as it would the real checkpoint (tests check what each front end sends).
        self.native = names_deepanalyze(path.stem)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as e:
            raise ModelError(f"Cannot read replay script {path}: {e.strerror}.") from e
        self._outputs: list[str] = []
        self._finish: list[str] = []
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                self._outputs.append(row["text"])
                self._finish.append(row.get("finish", "stop"))
            except (ValueError, KeyError, TypeError) as e:
                raise ModelError(
                    f'Replay script {path} line {n} is not a JSON object with a "text" field.'
                ) from e
        self.history: list[dict] = []

    def generate(
        self,
        messages: list[dict[str, str]],
        continuation: str,
        *,
        stop: list[str],
        grammar: str | None,
        max_tokens: int,
        temperature: float = 0.0,
        seed: int = 0,
    ) -> Generation:
        i = len(self.history)
        self.history.append(
            {
                "messages": messages,
                "continuation": continuation,
                "stop": stop,
                "grammar": grammar,
                "temperature": temperature,
            }
        )
        if i >= len(self._outputs):
            raise ModelError(
                f"Replay script {self.name[7:]} has only {len(self._outputs)} outputs; "
                f"the loop asked for output {i + 1}."
            )
        text, _ = cut_at_stop(self._outputs[i], stop)
        return Generation(text=text, completion_tokens=len(text.split()), finish=self._finish[i])

    def close(self) -> None:
        pass
