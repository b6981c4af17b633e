"""The cost of several analyses of one question: K analyses decoded together (one llama.cpp
batch, one prompt evaluation) against one analysis, and against the same K analyses run one
after another, same question, model and budget, same run.

Prints `samples_cost_ratio: X` (K batched ÷ 1; target <= 1.6) and last
`samples_batch_speedup: Y` (K one after another ÷ K batched; target >= 2).

Run: .venv/bin/python bench/samples.py [--model NAME_OR_GGUF] [-k 4] [--max-turns 3]
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import da_cli  # noqa: E402

da_cli.load_cuda_llama_first()  # before numpy: a CUDA build crashes otherwise

from da_cli.agent.loop import Budget  # noqa: E402
from da_cli.agent.session import SAMPLE_TEMPERATURE, Session  # noqa: E402
from da_cli.models import load_model  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "examples" / "sales.xlsx"
QUESTION = "Which region had the highest total revenue, and how much was it?"


def batched(session: Session, model, k: int, budget: Budget) -> tuple[float, int]:
    """Wall seconds of `k` analyses run together, and the tokens they generated."""
    model.forget()
    start = time.perf_counter()
    session.start(QUESTION, model, samples=k)
    for _ in session.run(budget):
        pass
    return time.perf_counter() - start, sum(t.usage.completion_tokens for t in session.samples)


def one_by_one(session: Session, model, k: int, budget: Budget) -> tuple[float, int]:
    """The same `k` analyses (greedy, then sampled with the same seeds) one after another."""
    seconds, tokens = 0.0, 0
    for i in range(k):
        model.forget()
        start = time.perf_counter()
        t = session.start(QUESTION, model)
        if i:
            t.temperature, t.seed = SAMPLE_TEMPERATURE, i
        for _ in session.run(budget):
            pass
        seconds += time.perf_counter() - start
        tokens += t.usage.completion_tokens
    return seconds, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("-k", type=int, default=4)
    parser.add_argument("--max-turns", type=int, default=3)
    args = parser.parse_args()
    model = load_model(args.model)
    budget = Budget(max_turns=args.max_turns, max_tokens=2000)
    with Session([str(SOURCE)]) as session:
        session.profiles  # noqa: B018  (profiled once, outside the timings)
        one, one_tokens = batched(session, model, 1, budget)
        many, many_tokens = batched(session, model, args.k, budget)
        apart, apart_tokens = one_by_one(session, model, args.k, budget)
    model.close()
    print(
        f"1 analysis: {one:.1f} s ({one_tokens} tokens); {args.k} batched: {many:.1f} s "
        f"({many_tokens} tokens); {args.k} one after another: {apart:.1f} s "
        f"({apart_tokens} tokens); model {model.name}"
    )
    # Sampled analyses differ in length, and a batch waits for its longest: the generated
    # tokens per second show the decoding itself.
    print(
        f"tokens/s: 1 analysis {one_tokens / one:.1f}; {args.k} batched {many_tokens / many:.1f}; "
        f"{args.k} one after another {apart_tokens / apart:.1f}"
    )
    print(f"samples_cost_ratio: {many / one:.3f}")
    print(f"samples_batch_speedup: {apart / many:.3f}")


if __name__ == "__main__":
    main()
