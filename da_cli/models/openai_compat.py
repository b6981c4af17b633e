"""OpenAI-compatible endpoint backend (vLLM, llama.cpp's server, SGLang, …): the way to run
a bigger model on many GPUs while `da` stays the same on the laptop.

`--model openai:URL#NAME` (e.g. `openai:http://gpu-box:8000/v1#Qwen/Qwen2.5-Coder-7B-Instruct`)
or `--model openai:NAME` with the URL in `DA_OPENAI_BASE_URL`; a key, if the server wants
one, comes from `DA_OPENAI_API_KEY` (or `OPENAI_API_KEY`).

DeepAnalyze keeps the whole analysis inside one assistant turn, so the text written so far
is sent as a final assistant message with vLLM's `continue_final_message` (the model goes
on from it rather than starting a new turn). Replies are streamed; stop strings are sent
and the one that matched is put back, as every backend must (see base.py). No grammar:
the loop's own checks handle a model that leaves the format.
"""

import json
import os
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from da_cli.errors import ModelError
from da_cli.models.base import Generation, Request, names_deepanalyze

PREFIX = "openai:"
TIMEOUT_S = 600


def parse_spec(spec: str) -> tuple[str, str]:
    """`openai:URL#NAME` or `openai:NAME` (URL from DA_OPENAI_BASE_URL) -> (url, name)."""
    rest = spec[len(PREFIX) :]
    url, _, name = rest.rpartition("#") if "#" in rest else ("", "", rest)
    url = url or os.environ.get("DA_OPENAI_BASE_URL", "")
    if not url or not name:
        raise ModelError(
            f"'{spec}' does not say which endpoint and model to use.",
            hint="Use openai:http://HOST:PORT/v1#MODEL, or set DA_OPENAI_BASE_URL and pass "
            "openai:MODEL.",
        )
    return url.rstrip("/"), name


class OpenAICompatModel:
    supports_grammar = False
    native = False  # a DeepAnalyze model behind vLLM: `#NAME` containing DeepAnalyze

    def __init__(self, url: str, model: str) -> None:
        self.url, self.model = url, model
        self.name = f"openai:{model}"
        self.native = names_deepanalyze(model)
        self.api_key = os.environ.get("DA_OPENAI_API_KEY") or os.environ.get("OPENAI_API_KEY")

    def generate(
        self,
        messages: list[dict[str, str]],
        continuation: str,
        *,
        stop: list[str],
        grammar: str | None,
        max_tokens: int,
        temperature: float = 0.0,
        seed: int | None = None,
    ) -> Generation:
        body: dict = {
            "model": self.model,
            "messages": list(messages),
            "max_tokens": max_tokens,
            "temperature": temperature,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if seed is not None and temperature > 0:
            body["seed"] = seed  # vLLM honours a per-request seed
        if stop:
            body["stop"] = stop
        if continuation:
            body["messages"].append({"role": "assistant", "content": continuation})
            body.update(continue_final_message=True, add_generation_prompt=False)
        start = time.perf_counter()
        text, finish, matched, usage = self._stream(body)
        if finish == "stop":
            text += _matched_stop(text, matched, stop)
        return Generation(
            text=text,
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            seconds=time.perf_counter() - start,
            finish="length" if finish == "length" else "stop",
        )

    def generate_many(self, requests: list[Request]) -> list[Generation]:
        """Several continuations as concurrent requests: the server (vLLM) batches them."""
        with ThreadPoolExecutor(max_workers=len(requests)) as pool:
            futures = [
                pool.submit(self.generate, r.messages, r.continuation, **r.options())
                for r in requests
            ]
            return [f.result() for f in futures]

    def _stream(self, body: dict) -> tuple[str, str, str | None, dict]:
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(
            f"{self.url}/chat/completions", json.dumps(body).encode(), headers, method="POST"
        )
        parts: list[str] = []
        finish, matched, usage = "stop", None, {}
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                for raw in response:
                    line = raw.decode("utf-8", "replace").strip()
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    chunk = json.loads(data)
                    usage = chunk.get("usage") or usage
                    for choice in chunk.get("choices", []):
                        parts.append((choice.get("delta") or {}).get("content") or "")
                        if choice.get("finish_reason"):
                            finish = choice["finish_reason"]
                            # vLLM names the stop string that matched.
                            matched = choice.get("stop_reason") or matched
        except urllib.error.HTTPError as e:
            detail = e.read().decode("utf-8", "replace")[:300].strip()
            raise ModelError(f"The endpoint {self.url} answered HTTP {e.code}: {detail}") from e
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise ModelError(f"The endpoint {self.url} cannot be reached: {reason}.") from e
        except ValueError as e:
            raise ModelError(f"The endpoint {self.url} sent a reply that is not JSON.") from e
        return "".join(parts), finish, matched if isinstance(matched, str) else None, usage

    def close(self) -> None:
        pass


def _matched_stop(text: str, matched: str | None, stop: list[str]) -> str:
    """The stop string the server dropped: the one it names, else the closer of the block
    the text left open (our stops are closing tags)."""
    if matched in stop:
        return matched
    for s in stop:
        opener = s.replace("</", "<", 1)
        if s.startswith("</") and text.rfind(opener) > text.rfind(s):
            return s
    return ""
