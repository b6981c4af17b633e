"""Decode speed through `da`'s llama.cpp backend versus raw llama-cpp-python, same model, same
prompt, same run. Both decode a fixed number of tokens from an already-evaluated prompt, so
only decoding is timed. Prints `decode_ratio: X` last (ours ÷ raw tokens/s); target >= 0.95.

Run: .venv/bin/python bench/decode.py [--model NAME_OR_GGUF] [--tokens 128] [--rounds 3]
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from da_cli.models import load_model  # noqa: E402
from da_cli.models.llamacpp import LlamaCppModel, physical_cores  # noqa: E402

MESSAGES = [{"role": "user", "content": "Write the numbers from 1 to 400, separated by commas."}]


def ours(model: LlamaCppModel, tokens: int) -> float:
    model.generate(MESSAGES, "", stop=[], grammar=None, max_tokens=1)  # evaluate the prompt
    gen = model.generate(MESSAGES, "", stop=[], grammar=None, max_tokens=tokens)
    return gen.completion_tokens / gen.seconds


def raw(llm, prompt: str, tokens: int) -> float:
    llm.create_completion(prompt, max_tokens=1, temperature=0.0)
    start = time.perf_counter()
    out = llm.create_completion(prompt, max_tokens=tokens, temperature=0.0, repeat_penalty=1.1)
    return out["usage"]["completion_tokens"] / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    import llama_cpp

    model = load_model(args.model)
    assert isinstance(model, LlamaCppModel), "decode.py measures the llama.cpp backend"
    prompt = model.render(MESSAGES, "")
    llm = llama_cpp.Llama(
        model_path=str(model.path),
        n_ctx=model.n_ctx,
        n_threads=physical_cores(),
        n_gpu_layers=-1 if llama_cpp.llama_supports_gpu_offload() else 0,
        verbose=False,
    )
    a, b = [], []
    for _ in range(args.rounds):  # interleaved, so machine noise hits both alike
        a.append(ours(model, args.tokens))
        b.append(raw(llm, prompt, args.tokens))
    print(
        f"da backend: {statistics.median(a):.1f} tok/s  raw llama-cpp-python: "
        f"{statistics.median(b):.1f} tok/s  (median of {args.rounds}, {args.tokens} tokens, "
        f"{physical_cores()} threads)"
    )
    print(f"decode_ratio: {statistics.median(a) / statistics.median(b):.3f}")


if __name__ == "__main__":
    main()
