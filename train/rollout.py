"""One GRPO rollout: a task run through `da`'s own agent loop and sandbox, then turned into
the token ids, environment mask and log-probabilities GRPO trains on.

The rollout is what `da analyze` does (the same analysis session: catalog, profile, the
opening prompt in the policy's layout, the agent loop in a fresh sandbox), with the policy
as the model backend. The loop edits the assistant turn as
it goes (it appends Execute output, closes a block the token limit cut, drops a repeated
step, amends an Execute with a don't-repeat note), so the trained sequence is the final
transcript, re-tokenized the way the model saw it. A token counts as the model's own
(`env_mask` 1) only if all of its characters came from a generation still in the transcript;
everything the loop wrote — Execute output above all — is 0 and never trained.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from da_cli.agent import loop
from da_cli.agent.session import Session
from da_cli.errors import ModelError
from da_cli.sandbox import Limits
from train.data import Task
from train.policy_model import PolicyModel, Turn


@dataclass
class Rollout:
    prompt_ids: list[int]
    completion_ids: list[int]
    env_mask: list[int]
    logprobs: list[float]  # NaN where no sampling log-prob matches the token
    answer: str | None = None
    partial: bool = False
    continuation: str = ""
    executions: int = 0
    failed_executions: int = 0
    generations: int = 0
    format_failures: int = 0
    error: str | None = None  # the rollout stopped early (the context filled up)
    seconds: float = 0.0


def run(task: Task, policy: PolicyModel, budget: loop.Budget, limits: Limits) -> Rollout:
    """Play one task to its Answer (or its budget) and assemble the sequence to train."""
    import time

    began = time.perf_counter()
    policy.turns = []
    error = None
    with Session(task.files, limits=limits) as session:
        t = session.start(task.question, policy)
        try:
            for _ in session.run(budget):
                pass
        except ModelError as e:  # the context is full: the rollout ends where it is
            error = str(e)
    prompt = policy.render(t.messages, "")
    eos = policy.tokenizer.eos_token if t.done and error is None else None
    ids, cids, mask, logps = assemble(policy.tokenizer, prompt, t.continuation, policy.turns, eos)
    executes = [s for s in t.steps if s.kind == "execute"]
    return Rollout(
        prompt_ids=ids,
        completion_ids=cids,
        env_mask=mask,
        logprobs=logps,
        answer=t.answer,
        partial=t.partial,
        continuation=t.continuation,
        executions=len(executes),
        failed_executions=sum(s.error for s in executes),
        generations=t.usage.generations,
        format_failures=t.usage.format_failures + (error is not None),
        error=error,
        seconds=time.perf_counter() - began,
    )


def model_chars(continuation: str, turns: list[Turn]) -> bytearray:
    """1 for each character of the final assistant turn that a generation wrote and the
    loop kept; 0 for what the loop added. A generation the loop dropped (a repeat) has no
    place in the final text: the text it continued no longer prefixes it."""
    mask = bytearray(len(continuation))
    for turn in turns:
        base = turn.continuation
        if not continuation.startswith(base):
            continue
        rest, n = continuation[len(base) :], 0
        limit = min(len(rest), len(turn.text))
        while n < limit and rest[n] == turn.text[n]:
            n += 1
        mask[len(base) : len(base) + n] = b"\x01" * n
    return mask


def assemble(
    tokenizer: Any,
    prompt: str,
    continuation: str,
    turns: list[Turn],
    eos: str | None = None,
) -> tuple[list[int], list[int], list[int], list[float]]:
    """(prompt_ids, completion_ids, env_mask, logprobs) of prompt + continuation, tokenized
    as one string (as the policy saw it). `eos`, when given, is appended as a closing token
    with mask 0: it marks a finished rollout for GRPO but was never sampled."""
    chars = model_chars(continuation, turns)
    text = prompt + continuation + (eos or "")
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    prompt_ids: list[int] = []
    completion: list[int] = []
    env_mask: list[int] = []
    spans: list[tuple[int, int]] = []
    cut = len(prompt)
    for tid, (a, b) in zip(enc["input_ids"], enc["offset_mapping"], strict=True):
        if b <= cut and not completion:
            prompt_ids.append(tid)
            continue
        completion.append(tid)
        lo, hi = a - cut, min(b - cut, len(continuation))
        own = lo >= 0 and hi > lo and all(chars[lo:hi])
        env_mask.append(1 if own else 0)
        spans.append((lo, hi))
    return (
        prompt_ids,
        completion,
        env_mask,
        _logprobs(tokenizer, completion, spans, env_mask, turns, continuation),
    )


def _logprobs(
    tokenizer: Any,
    completion: list[int],
    spans: list[tuple[int, int]],
    env_mask: list[int],
    turns: list[Turn],
    continuation: str,
) -> list[float]:
    """The sampling log-prob of each model token where re-tokenization reproduced the
    sampled ids; NaN elsewhere (TRL ignores NaN in its importance-sampling correction)."""
    out = [math.nan] * len(completion)
    for turn in turns:
        base = len(turn.continuation)
        if not continuation.startswith(turn.continuation):
            continue
        end = base + len(turn.text)
        idx = [i for i, (lo, _) in enumerate(spans) if base <= lo < end and env_mask[i]]
        for i, sampled, logp in zip(idx, turn.completion_ids, turn.logprobs, strict=False):
            if completion[i] != sampled:
                break
            out[i] = logp
    return out
