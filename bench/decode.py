"""Decode speed through `da`'s llama.cpp backend versus raw llama-cpp-python, same model, same
prompt, same greedy sampling (repeat penalty 1.1, no grammar), same run. Both decode up to a
fixed number of tokens from an already-evaluated prompt, so only decoding is timed. Ours runs
with prompt-lookup drafting on (models/speculative.py; --plain turns it off).

Prompts: `count` (writing numbers: the backend's own overhead, target >= 0.95); `first`, the
agent's first step on examples/sales.xlsx (little to copy but names: drafting's cost); and
`copy`, its second step on the README's question "why did Q3 drop?": the real opening, the
first step that ran explain_change and its output, after which the model's Answer restates
that output (target >= 1.3). Each line says whether both sides decoded the same text (on a
CPU, batched logits differ slightly from one-token ones, so a near-tie can part them).
Prints `decode_ratio: X` last: the copy prompt, ours ÷ raw tokens/s.

Run: .venv/bin/python bench/decode.py [--model NAME_OR_GGUF] [--tokens 160] [--rounds 3]
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import da_cli  # noqa: E402

da_cli.load_cuda_llama_first()  # before numpy: a CUDA build crashes otherwise

from da_cli.agent import protocol  # noqa: E402
from da_cli.agent.session import Session  # noqa: E402
from da_cli.models import load_model  # noqa: E402
from da_cli.models.llamacpp import LlamaCppModel, threads  # noqa: E402

SALES = Path(__file__).resolve().parents[1] / "examples" / "sales.xlsx"
COUNT = [{"role": "user", "content": "Write the numbers from 1 to 400, separated by commas."}]
QUESTION = "why did Q3 drop?"
CODE = 'print(explain_change("orders"))'


def agent_prompts(model: LlamaCppModel) -> tuple[list[dict[str, str]], str]:
    """The agent's opening for QUESTION on examples/sales.xlsx, and the continuation after
    a first step that ran CODE in the sandbox (its real output in the Execute block)."""
    with Session([str(SALES)]) as session:
        t = session.start(QUESTION, model)
        output = session.cell(CODE).output.strip()
    step = (
        "<Analyze>\nTo answer this, I will explain the change the question asks about in the "
        f"table orders.\n</Analyze>\n<Code>\n```python\n{CODE}\n```\n</Code>"
    )
    return t.messages, step + protocol.execute_block(output)


def ours(model: LlamaCppModel, messages, continuation: str, tokens: int) -> tuple[float, str]:
    model.generate(messages, continuation, stop=[], grammar=None, max_tokens=1)  # the prompt
    gen = model.generate(messages, continuation, stop=[], grammar=None, max_tokens=tokens)
    return gen.completion_tokens / gen.seconds, gen.text


def raw(llm, prompt: str, tokens: int) -> tuple[float, str]:
    llm.create_completion(prompt, max_tokens=1, temperature=0.0)
    start = time.perf_counter()
    out = llm.create_completion(prompt, max_tokens=tokens, temperature=0.0, repeat_penalty=1.1)
    speed = out["usage"]["completion_tokens"] / (time.perf_counter() - start)
    return speed, out["choices"][0]["text"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--tokens", type=int, default=160)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--plain", action="store_true", help="ours without drafting")
    args = parser.parse_args()
    import llama_cpp

    model = load_model(args.model)
    assert isinstance(model, LlamaCppModel), "decode.py measures the llama.cpp backend"
    model.speculative = not args.plain
    llm = llama_cpp.Llama(
        model_path=str(model.path),
        n_ctx=model.n_ctx,
        n_threads=threads(),  # as ours: DA_THREADS, else the physical cores
        n_gpu_layers=-1 if llama_cpp.llama_supports_gpu_offload() else 0,
        verbose=False,
    )
    ratios = {}
    opening, after_first_step = agent_prompts(model)
    prompts = {"count": (COUNT, ""), "first": (opening, ""), "copy": (opening, after_first_step)}
    for name, (messages, continuation) in prompts.items():
        prompt = model.render(messages, continuation)
        a, b, same = [], [], True
        for _ in range(args.rounds):  # interleaved, so machine noise hits both alike
            speed, text = ours(model, messages, continuation, args.tokens)
            a.append(speed)
            speed, raw_text = raw(llm, prompt, args.tokens)
            b.append(speed)
            same = same and text == raw_text
        ratios[name] = statistics.median(a) / statistics.median(b)
        print(
            f"{name}: da backend {statistics.median(a):.1f} tok/s  raw llama-cpp-python "
            f"{statistics.median(b):.1f} tok/s  ratio {ratios[name]:.3f}  "
            f"same text: {'yes' if same else 'NO'}  (median of {args.rounds}, {args.tokens} "
            f"tokens, {threads()} threads, speculative {'on' if model.speculative else 'off'})",
            flush=True,
        )
    print(f"decode_ratio: {ratios['copy']:.3f}")


if __name__ == "__main__":
    main()
