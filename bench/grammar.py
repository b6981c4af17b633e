"""Grammar-constrained decode speed: da's one-token grammar check (models/sampling.py)
versus llama-cpp-python's sampler chain, which tests the whole vocabulary every step. Same
model, same prompt, same grammar (the protocol's), greedy, interleaved rounds in one run;
the prompt is evaluated before timing, so only decoding is timed. Both must produce the same
text. Prints `grammar_decode_speedup: X` last (ours ÷ chain tokens/s).

Run: .venv/bin/python bench/grammar.py [--model NAME_OR_GGUF] [--tokens 160] [--rounds 3]
"""

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from da_cli.agent import protocol  # noqa: E402
from da_cli.models import load_model, sampling  # noqa: E402
from da_cli.models.llamacpp import LlamaCppModel  # noqa: E402

MESSAGES = [
    {"role": "system", "content": protocol.__doc__ or "You are a data analyst."},
    {
        "role": "user",
        "content": "Table `trips` has columns city, distance_km and fare. Which city has the "
        "highest mean fare per km? Start with <Analyze>, then write <Code>.",
    },
]


def decode(model: LlamaCppModel, tokens: int) -> tuple[float, str]:
    model.generate(MESSAGES, "", stop=[], grammar=None, max_tokens=1)  # evaluate the prompt
    gen = model.generate(MESSAGES, "", stop=[], grammar=protocol.FIRST_GRAMMAR, max_tokens=tokens)
    return gen.completion_tokens / gen.seconds, gen.text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--tokens", type=int, default=160)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    model = load_model(args.model)
    assert isinstance(model, LlamaCppModel), "grammar.py measures the llama.cpp backend"
    llm = model._llm
    ours, chain = [], []
    for _ in range(args.rounds):  # interleaved, so machine noise hits both alike
        sampling.install(llm)
        speed, fast_text = decode(model, args.tokens)
        ours.append(speed)
        del llm._init_sampler  # back to llama-cpp-python's own chain
        speed, chain_text = decode(model, args.tokens)
        chain.append(speed)
        assert fast_text == chain_text, "the two samplers decoded different text"
    a, b = statistics.median(ours), statistics.median(chain)
    print(
        f"one-token check: {a:.1f} tok/s  sampler chain: {b:.1f} tok/s  "
        f"(median of {args.rounds}, {args.tokens} tokens, same text)"
    )
    print(f"grammar_decode_speedup: {a / b:.3f}")


if __name__ == "__main__":
    main()
