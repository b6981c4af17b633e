"""KV-cache reuse across turns: a 6-turn session through `da`'s llama.cpp backend, the way the
agent loop drives it (the transcript only grows: model text, then an Execute block).
Prints `prefill_ratio: X` last: prompt tokens llama.cpp evaluated over the whole session ÷
tokens in the final transcript. 1.0 means every token was evaluated once; re-reading the
transcript each turn would give about turns/2. Target <= 1.1.

Run: .venv/bin/python bench/kv.py [--model NAME_OR_GGUF] [--turns 6]
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from da_cli.agent import loop, protocol  # noqa: E402
from da_cli.models import load_model  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--turns", type=int, default=6)
    args = parser.parse_args()
    model = load_model(args.model)
    t = loop.new_transcript(
        "How do the regions compare?",
        [EXAMPLES / "sales.xlsx"],
        "Table `orders` (5,319 rows)",
        ["orders"],
    )
    evaluated = 0
    for turn in range(args.turns):
        gen = model.generate(
            t.messages,
            t.continuation,
            stop=protocol.STOP,
            grammar=protocol.STEP_GRAMMAR,
            max_tokens=48,
        )
        evaluated += gen.prompt_tokens + gen.completion_tokens
        t.continuation += gen.text
        if not gen.text.rstrip().endswith("</Code>"):
            t.continuation += "\n</Code>"
        t.continuation += protocol.execute_block(f"region  revenue\nWest  {1000 + turn}")
        print(
            f"turn {turn + 1}: evaluated {gen.prompt_tokens} prompt tokens, "
            f"generated {gen.completion_tokens}"
        )
    final = len(model.tokenize(model.render(t.messages, t.continuation)))
    print(f"final transcript: {final} tokens; evaluated in all: {evaluated}")
    print(f"prefill_ratio: {evaluated / final:.3f}")


if __name__ == "__main__":
    main()
