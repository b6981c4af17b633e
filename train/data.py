"""Training data: chat `messages` JSON Lines (the DataScience-Instruct-500K layout) for SFT,
and task JSON Lines for GRPO.

An SFT example is rendered the way `da analyze` runs it (see `chat`): the messages up to
an assistant turn with the turn opened, then the turn's text. DeepAnalyze keeps a whole
analysis in one assistant turn, with the environment's `<Execute>` output inside it;
messages with role `execute` are folded into the assistant turn around them the same way
`da`'s loop appends them. Only the model's own text is trained: prompts and every
`<Execute>…</Execute>` span get label -100, since the model never writes them. An assistant
message with `"weight": 0` (OpenAI's fine-tuning layout) stays in the context but is not
trained either: a failed cell shown so that the model learns the way out of it, not the way in.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from da_cli.agent import protocol
from da_cli.errors import DataError
from train import chat

IGNORE = -100
# The Execute block as the loop appends it (`protocol.execute_block`), newlines included;
# an unclosed one (a truncated example) runs to the end of the turn.
_EXECUTE = re.compile(r"\n?<Execute>.*?(?:</Execute>\n?|\Z)", re.DOTALL)


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line; a bad line is a DataError."""
    try:
        f = path.open(encoding="utf-8")
    except OSError as e:
        raise DataError(f"Cannot read training data {path}: {e.strerror}.") from e
    with f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError as e:
                raise DataError(f"{path} line {n} is not valid JSON.") from e
            if not isinstance(obj, dict):
                raise DataError(f"{path} line {n} is not a JSON object.")
            yield n, obj


def messages_of(obj: dict[str, Any], where: str) -> list[dict[str, Any]]:
    msgs = obj.get("messages")
    if not isinstance(msgs, list) or not msgs:
        raise DataError(f"{where} has no 'messages' list.")
    out: list[dict[str, Any]] = []
    for m in msgs:
        if not isinstance(m, dict) or not isinstance(m.get("content"), str) or "role" not in m:
            raise DataError(f"{where} has a message without a string 'role' and 'content'.")
        message: dict[str, Any] = {"role": str(m["role"]), "content": m["content"]}
        if "weight" in m:
            if m["weight"] not in (0, 1) or m["role"] != "assistant":
                raise DataError(f"{where}: 'weight' is 0 or 1, on assistant messages only.")
            message["weight"] = m["weight"]
        out.append(message)
    return out


def fold_turns(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Merge each run of assistant and `execute` messages into one assistant turn, with
    every execution output in the Execute block `da`'s loop would append. A merged turn's
    `frozen` lists the character spans of its weight-0 messages."""
    out: list[dict[str, Any]] = []
    for m in messages:
        role, content = m["role"], m["content"]
        if role == "execute":
            body = content.strip("\n")
            if body.startswith("<Execute>"):
                body = body.removeprefix("<Execute>").removesuffix("</Execute>").strip("\n")
            content, role = protocol.execute_block(body), "assistant"
        if role == "assistant" and out and out[-1]["role"] == "assistant":
            turn = out[-1]
        else:
            turn = {"role": role, "content": ""}
            out.append(turn)
        if m.get("weight") == 0:
            start = len(turn["content"])
            turn.setdefault("frozen", []).append((start, start + len(content)))
        turn["content"] += content
    return out


def _without(spans: list[tuple[int, int]], holes: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The spans with every hole cut out of them."""
    for ha, hb in holes:
        cut = []
        for a, b in spans:
            cut += [(a, min(b, ha)), (max(a, hb), b)]
        spans = [(a, b) for a, b in cut if b > a]
    return spans


@dataclass
class Rendered:
    text: str
    trained: list[tuple[int, int]] = field(default_factory=list)  # char spans with loss


def render_example(tokenizer: Any, messages: list[dict[str, Any]], where: str) -> Rendered:
    """The conversation as one string and the character spans the model is trained on:
    each assistant turn's text minus its Execute blocks and weight-0 messages, plus the
    end-of-turn token."""
    turns = fold_turns(messages)
    if not any(m["role"] == "assistant" for m in turns):
        raise DataError(f"{where} has no assistant message to learn from.")
    eos = tokenizer.eos_token or ""
    out = Rendered("")
    for i, m in enumerate(turns):
        if m["role"] != "assistant":
            continue
        prompt = chat.render(
            tokenizer, [{"role": t["role"], "content": t["content"]} for t in turns[:i]]
        )
        if not prompt.startswith(out.text):
            raise DataError(
                f"{where}: the chat template rewrites earlier turns, so it cannot be trained "
                "turn by turn."
            )
        start = len(prompt)
        body = m["content"]
        out.text = prompt + body + eos
        pos, spans = 0, []
        for e in _EXECUTE.finditer(body):
            spans.append((start + pos, start + e.start()))
            pos = e.end()
        spans.append((start + pos, len(out.text)))
        frozen = [(start + a, start + b) for a, b in m.get("frozen", [])]
        out.trained += _without(spans, frozen)
    out.trained = [(a, b) for a, b in out.trained if b > a]
    return out


def tokenize_example(tokenizer: Any, rendered: Rendered, max_length: int) -> dict[str, list[int]]:
    """input_ids and labels: a token is trained only if every character of it is."""
    enc = tokenizer(
        rendered.text, add_special_tokens=False, return_offsets_mapping=True, truncation=False
    )
    mask = bytearray(len(rendered.text))
    for a, b in rendered.trained:
        mask[a:b] = b"\x01" * (b - a)
    ids, labels = [], []
    for tid, (a, b) in zip(enc["input_ids"], enc["offset_mapping"], strict=True):
        ids.append(tid)
        trained = b > a and all(mask[a:b])
        labels.append(tid if trained else IGNORE)
    return {"input_ids": ids[:max_length], "labels": labels[:max_length]}


def sft_records(paths: list[str], tokenizer: Any, max_length: int) -> list[dict[str, list[int]]]:
    """Every example of every file, tokenized; examples left with nothing to learn (all
    prompt after truncation) are dropped."""
    records = []
    for p in paths:
        path = Path(p)
        for n, obj in read_jsonl(path):
            where = f"{path} line {n}"
            rendered = render_example(tokenizer, messages_of(obj, where), where)
            rec = tokenize_example(tokenizer, rendered, max_length)
            if any(x != IGNORE for x in rec["labels"]):
                records.append(rec)
    if not records:
        raise DataError(f"No trainable examples in {', '.join(paths)}.")
    return records


@dataclass
class Task:
    """One GRPO task: a question about data files, with a reference answer when it has one
    (QA tasks) or none (open-ended analysis, scored by structure and the judge)."""

    question: str
    files: list[str]
    reference: str | list[str] | None = None

    def key(self) -> str:
        """The prompt string TRL carries through a step; the rollout reads the task back."""
        return json.dumps({"question": self.question, "files": self.files}, ensure_ascii=False)

    @staticmethod
    def from_key(key: str) -> Task:
        d = json.loads(key)
        return Task(question=d["question"], files=d["files"])


def read_tasks(paths: list[str]) -> list[Task]:
    """Task lines: {"question": str, "files": [paths relative to the file], "reference": ...}."""
    tasks = []
    for p in paths:
        path = Path(p)
        for n, obj in read_jsonl(path):
            where = f"{path} line {n}"
            q, files, ref = obj.get("question"), obj.get("files"), obj.get("reference")
            if isinstance(files, str):
                files = [files]
            if not isinstance(q, str) or not q.strip():
                raise DataError(f"{where} has no 'question'.")
            if (
                not isinstance(files, list)
                or not files
                or not all(isinstance(f, str) for f in files)
            ):
                raise DataError(f"{where} needs 'files': the data files the question is about.")
            if ref is not None and not isinstance(ref, str | list):
                ref = json.dumps(ref)
            resolved = [str((path.parent / f).resolve()) for f in files]
            for f in resolved:
                if not Path(f).exists():
                    raise DataError(f"{where} names data file {f}, which does not exist.")
            tasks.append(Task(question=q.strip(), files=resolved, reference=ref))
    if not tasks:
        raise DataError(f"No tasks in {', '.join(paths)}.")
    return tasks
